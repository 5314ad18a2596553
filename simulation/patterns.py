"""The pattern suite: published patterns the model must reproduce, checked with replicates.

Pattern-oriented modelling (Grimm et al., "Pattern-oriented modeling of agent-based complex
systems", Science 2005): a model is credible when one set of parameters reproduces several patterns
observed at different levels at once. Each :class:`Pattern` names its source, the published value,
the published denominator and the tolerance that follows from it, the scenario it is measured in,
the *construct* (how the source measured it, and how the statistic computes the same thing from
runs: an outcome the source reports is computed as that outcome, not as a stage share) and its
*set*: ``calibration`` (the targets of ``spreadsim calibrate``) or ``validation`` (never tuned on:
evidence the model was not fitted to). ``spreadsim patterns`` prints, per pattern, the model's
mean +- standard error over replicates against the published value and tolerance (docs/validation.md).

Tolerances: for a published proportion p from n units, +- 2 binomial standard errors
(``2 sqrt(p(1 - p) / n)``); for a published rate ratio, its 95% confidence interval; for the Action
Schools! BC ratio, one standard error of the ratio from the published confidence intervals (delta
method): with 16 intervention schools, two would admit almost any value; for a range from a guide
(2-4 years), the range itself; for a threshold ("at least 60%"), the threshold.

Also here: :func:`profile` (identifiability: which patterns each calibrated rate moves) and
:func:`check_directions` (every summary output a strategy comparison shows, per lever, against the
direction the literature expects).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .model import FULL, INITIAL, INSTALLATION, SpreadModel
from .processes import outcomes
from .scenario import Scenario, default_scenario, load_scenario

#: where the bundled scenarios live in a checkout
SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"

KEYSTONE_CASE = "cases/keystone_michigan.yaml"
MATCHING_CASE = "cases/matching_michigan.yaml"
AS_BC_CASE = "cases/action_schools_bc.yaml"

CALIBRATION, VALIDATION = "calibration", "validation"


def binomial_tolerance(p: float, n: int, k: float = 2.0) -> float:
    """``k`` binomial standard errors of a proportion ``p`` observed in ``n`` units."""
    return k * math.sqrt(p * (1.0 - p) / n)


def ratio_se(a: float, a_low: float, a_high: float, b: float, b_low: float, b_high: float) -> float:
    """Standard error of ``b / a`` from the 95% intervals of ``a`` and ``b`` (delta method, independent)."""
    se_a = (a_high - a_low) / (2 * 1.96)
    se_b = (b_high - b_low) / (2 * 1.96)
    return (b / a) * math.sqrt((se_a / a) ** 2 + (se_b / b) ** 2)


#: Nettlefold et al. 2021: extra physical activity delivered per week, intervention minus usual practice
AS_BC_YEAR1, AS_BC_YEAR1_CI = 33.8, (12.7, 54.9)
AS_BC_YEAR2, AS_BC_YEAR2_CI = 18.8, (-0.8, 38.3)
AS_BC_RATIO = AS_BC_YEAR2 / AS_BC_YEAR1
AS_BC_RATIO_SE = ratio_se(AS_BC_YEAR1, *AS_BC_YEAR1_CI, AS_BC_YEAR2, *AS_BC_YEAR2_CI)

#: Pronovost et al. 2006 (NEJM): median baseline rate per 1,000 catheter-days; catheter-days per ICU-month
#: (375,757 catheter-days over 1,981 ICU-months); Pronovost et al. 2010 (BMJ): 300,310 over 1,532
KEYSTONE_BASELINE_RATE = 2.7
KEYSTONE_CATHETER_DAYS_2006 = 375_757 / 1_981
KEYSTONE_CATHETER_DAYS_2010 = 300_310 / 1_532

#: Action Schools! BC's first roll-out year: 306 schools mobilised were 19% of the province's (so ~1,611)
AS_BC_SCHOOLS = round(306 / 0.19)

#: Matching Michigan (Bion et al. 2013): 1,092 infections over the 20 months. No step change beyond the
#: secular trend was found; the smallest step those counts could show (two periods of ~546 each):
#: a rate ratio of exp(-1.96 x sqrt(2 / 546)), i.e. ~0.89
MATCHING_INFECTIONS = 1_092
MATCHING_DETECTABLE = math.exp(-1.96 * math.sqrt(2.0 / (MATCHING_INFECTIONS / 2)))


@dataclass(frozen=True)
class Pattern:
    """One published pattern.

    Attributes:
        name: short identifier (used as a calibration target).
        label: what it is, in words.
        source: the work it comes from.
        scenario: the bundled scenario it is measured in (``None``: the default scenario).
        published: the published value.
        n: the published denominator (units behind the value), if any.
        low, high: the tolerance interval the model's mean must fall in.
        statistic: per replicate, the model's value from a run (the model after its run, block ``b``).
        tolerance: how the interval was set, in words.
        construct: what the source measured and how the statistic computes it from runs.
        set: ``calibration`` (fitted by ``spreadsim calibrate``) or ``validation`` (never tuned on).
        side: ``both``, ``at least`` (only the low bound binds) or ``at most``.
    """

    name: str
    label: str
    source: str
    scenario: str | None
    published: float
    n: int | None
    low: float
    high: float
    statistic: Callable[[SpreadModel, int], float]
    tolerance: str
    needs_counterfactual: bool = False
    construct: str = ""
    set: str = CALIBRATION
    side: str = "both"

    def passes(self, value: float) -> bool:
        return bool(np.isfinite(value) and self.low <= value <= self.high)

    @property
    def scale(self) -> float:
        """Half the tolerance interval (a finite one): the unit of the calibration distance."""
        lo = self.low if np.isfinite(self.low) else self.published - (self.high - self.published)
        hi = self.high if np.isfinite(self.high) else self.published + (self.published - self.low)
        if lo == hi:  # a bare threshold: a tenth of the published value (at least 0.01)
            return max(0.1 * abs(self.published), 0.01)
        return max((hi - lo) / 2.0, 1e-9)


# ------------------------------------------------------------------------------- statistics
def _starters(m: SpreadModel, b: int, last_start: int) -> np.ndarray:
    """Sites of block ``b`` (pilot sites excluded) that started up (entered initial implementation)
    between month 1 and ``last_start``."""
    sl = m.block_slice(b)
    am = m.adopted_month[sl]
    return (am >= 1) & (am <= last_start) & ~m.seed_site[sl]


def wong_competence(m: SpreadModel, b: int) -> float:
    """Share of starters that reached full implementation (competence)."""
    cohort = _starters(m, b, m.months - 2 * m.scenario_obj.outcomes.sustain_window)
    return _mean(m.full_month[m.block_slice(b)][cohort] >= 0)


def wong_sustained_startup(m: SpreadModel, b: int) -> float:
    """Share of starters still delivering two years after start-up."""
    cohort = _starters(m, b, m.months - 2 * m.scenario_obj.outcomes.sustain_window)
    return _mean(m.sustain_start[m.block_slice(b)][cohort] == 1)


def wong_sustained_competent(m: SpreadModel, b: int) -> float:
    """Share of starters that reached competence and still delivered two years after it."""
    cohort = _starters(m, b, m.months - 2 * m.scenario_obj.outcomes.sustain_window)
    return _mean(m.sustain_competent[m.block_slice(b)][cohort] == 1)


def months_to_full(m: SpreadModel, b: int) -> float:
    """Median months from first exploration to full implementation, among sites that got there."""
    sl = m.block_slice(b)
    start, full = m.engaged_month[sl], m.full_month[sl]
    ok = (start >= 1) & (full >= 0) & ~m.seed_site[sl]
    return float(np.median(full[ok] - start[ok])) if ok.any() else float("nan")


def _delivering(stage: np.ndarray) -> np.ndarray:
    return (stage >= INSTALLATION) & (stage <= FULL)


@dataclass(frozen=True)
class delivering_throughout:
    """Share of all sites delivering (installation to full) in every month from ``first`` to ``last``."""

    first: int
    last: int

    def __call__(self, m: SpreadModel, b: int) -> float:
        st = m.history.data["stage"][self.first:self.last + 1, m.block_slice(b)]
        return _mean(_delivering(st).all(axis=0))


def _unit_rate_ratio(m: SpreadModel, b: int, months: range) -> np.ndarray:
    """Each site's outcome rate over ``months`` relative to its month-0 burden, shape (months, sites):
    :func:`simulation.processes.outcomes.burden` (``tau(t) x (1 - effect)`` unless the programme's
    practices overlap the trend's), effect = benefit / size."""
    sl = m.block_slice(b)
    t = np.asarray(list(months))
    effect = m.history.data["benefit"][t, sl] / m.size[sl][None, :]
    return outcomes.burden(m.scenario_obj.outcomes, t[:, None], effect)


@dataclass(frozen=True)
class rate_ratio:
    """Infection rate over months ``first``-``last`` relative to the baseline (month 0, before any
    effect), pooled over the sites (weighted by size: catheter-days in an ICU case), as a
    before-after incidence rate ratio. ``cohort_first``/``cohort_last``: only the sites delivering in
    every month of that window (the units still taking part), else all sites."""

    first: int
    last: int
    cohort_first: int | None = None
    cohort_last: int | None = None

    def __call__(self, m: SpreadModel, b: int) -> float:
        sl = m.block_slice(b)
        keep = np.ones(m.N, bool)
        if self.cohort_first is not None:
            st = m.history.data["stage"][self.cohort_first:self.cohort_last + 1, sl]
            keep = _delivering(st).all(axis=0)
        if not keep.any():
            return float("nan")
        rr = _unit_rate_ratio(m, b, range(self.first, self.last + 1))[:, keep]
        size = m.size[sl][keep]
        return float((rr * size).sum() / (size.sum() * rr.shape[0]))


@dataclass(frozen=True)
class zero_infection_share:
    """Expected share of units with no infection at all in months ``first``-``last`` (a quarter), so
    that the median unit's rate is zero when this exceeds one half. A unit at the published median
    baseline rate (2.7 per 1,000 catheter-days) with ``d`` catheter-days a month has, in a month with
    rate ratio ``r``, Poisson ``2.7 / 1000 x d x r`` infections. ``d`` is the unit's share of the
    catheter-days: ``catheter_days`` (the published mean per ICU-month) times its size over the mean
    size of the units counted, the same reading of size as :class:`rate_ratio`'s weights (units
    differ in beds and catheter use; model v3 first gave every unit the mean, which ignored the
    size weights the rate ratio uses, and with which the source's own rate ratio of 0.62 at 0-3
    months would imply only 39% of units at zero, contradicting its median of zero).
    Cohort as :class:`rate_ratio`."""

    first: int
    last: int
    catheter_days: float
    cohort_first: int | None = None
    cohort_last: int | None = None

    def __call__(self, m: SpreadModel, b: int) -> float:
        sl = m.block_slice(b)
        keep = np.ones(m.N, bool)
        if self.cohort_first is not None:
            st = m.history.data["stage"][self.cohort_first:self.cohort_last + 1, sl]
            keep = _delivering(st).all(axis=0)
        if not keep.any():
            return float("nan")
        rr = _unit_rate_ratio(m, b, range(self.first, self.last + 1))[:, keep]
        size = m.size[sl][keep]
        days = self.catheter_days * size / size.mean()
        expected = KEYSTONE_BASELINE_RATE / 1000.0 * days * rr.sum(axis=0)
        return float(np.mean(np.exp(-expected)))


@dataclass(frozen=True)
class rate_ratio_vs_counterfactual:
    """The outcome rate over months ``first``-``last`` against the counterfactual arm's on the same
    random numbers (a step change beyond the secular trend: the trend is in both arms)."""

    first: int
    last: int

    def __call__(self, m: SpreadModel, b: int) -> float:
        cf = m.counterfactual_block(b)
        if cf is None:
            return float("nan")
        s = m.series_b["outcome"]
        months = slice(self.first, self.last + 1)
        base = s[cf, months].sum()
        return float(s[b, months].sum() / base) if base > 0 else float("nan")


@dataclass(frozen=True)
class delivering_after_funding:
    """Among the sites supported by the programme at some month before its funding ended and
    delivering (installation to full) when it ended, the share still delivering ``after`` months later
    (NaN when funding never ends or the run ends too soon)."""

    after: int

    def __call__(self, m: SpreadModel, b: int) -> float:
        f = m.scenario_obj.strategy.support.funding_months
        if f is None or f < 1 or f + self.after > m.months:
            return float("nan")
        sl = m.block_slice(b)
        h = m.history.data
        cohort = h["supported"][:f, sl].any(axis=0) & _delivering(h["stage"][f, sl])
        return _mean(_delivering(h["stage"][f + self.after, sl])[cohort])


@dataclass(frozen=True)
class started_by:
    """Share of all sites that had started delivering (initial or full implementation) by ``month``."""

    month: int

    def __call__(self, m: SpreadModel, b: int) -> float:
        am = m.adopted_month[m.block_slice(b)]
        return _mean((am >= 0) & (am <= self.month))


@dataclass(frozen=True)
class engaged_by:
    """Share of all sites that had signed up (entered exploration or later) by ``month``."""

    month: int

    def __call__(self, m: SpreadModel, b: int) -> float:
        em = m.engaged_month[m.block_slice(b)]
        am = m.adopted_month[m.block_slice(b)]
        return _mean(((em >= 0) & (em <= self.month)) | ((am >= 0) & (am <= self.month)))


@dataclass(frozen=True)
class after_full:
    """Of the sites (pilot sites excluded) that first reached full implementation early enough to be
    followed ``years`` years, the share that delivered (installation to full) in every month of those
    years (``kind='sustained'``), or that stopped at some month and were delivering again at the end
    (``kind='restarted'``)."""

    years: int
    kind: str

    def __call__(self, m: SpreadModel, b: int) -> float:
        sl = m.block_slice(b)
        span = 12 * self.years
        fm = m.full_month[sl]
        idx = np.flatnonzero((fm >= 1) & (fm + span <= m.months) & ~m.seed_site[sl])
        if not len(idx):
            return float("nan")
        t = fm[idx][:, None] + np.arange(span + 1)[None, :]
        st = m.history.data["stage"][:, sl][t, idx[:, None]]
        on = _delivering(st)
        if self.kind == "sustained":
            return _mean(on.all(axis=1))
        return _mean(~on.all(axis=1) & on[:, -1])


def year2_over_year1(m: SpreadModel, b: int) -> float:
    """Mean effect per site in its second year of delivery over its first (sites that started up
    with two years still to run; a site that stops counts as no effect)."""
    sl = m.block_slice(b)
    benefit = m.history.data["benefit"][:, sl]
    size = m.size[sl]
    am = m.adopted_month[sl]
    ok = (am >= 1) & (am + 24 <= m.months) & ~m.seed_site[sl]
    if not ok.any():
        return float("nan")
    idx = np.flatnonzero(ok)
    t = am[idx][:, None] + np.arange(24)[None, :]
    eff = benefit[t, idx[:, None]] / size[idx][:, None]  # effect per person: benefit / size
    y1, y2 = eff[:, :12].mean(), eff[:, 12:].mean()
    return float(y2 / y1) if y1 > 0 else float("nan")


def _mean(x: np.ndarray) -> float:
    return float(np.mean(x)) if len(x) else float("nan")


# ---------------------------------------------------------------------------------- the suite
WONG = "Wong, Schaper & Saldana (2022), Rates of sustainment in the Universal Stages of Implementation Completion"
KEYSTONE_2006 = ("Pronovost et al. (2006, NEJM), An intervention to decrease catheter-related bloodstream "
                 "infections in the ICU")
KEYSTONE_2010 = ("Pronovost et al. (2010, BMJ), Sustaining reductions in catheter related bloodstream infections "
                 "in Michigan intensive care units")
MATCHING = ("Bion et al. (2013, BMJ Qual Saf), 'Matching Michigan': a 2-year stepped interventional programme to "
            "minimise central venous catheter-blood stream infections in intensive care units in England")
SCHEIRER = ("Scheirer (2005, Am J Eval), Is sustainability possible? A review and commentary on empirical studies "
            "of program sustainability")
BOND = ("Bond et al. (2014, Adm Policy Ment Health), Long-term sustainability of evidence-based practices in "
        "community mental health agencies")
AS_BC_ROLLOUT = ("ActNow BC / Action Schools! BC roll-out report (PHABC presentation, 2005); McKay et al. (2015, "
                 "BJSM), Action Schools! BC implementation: from efficacy to effectiveness to scale-up")
NETTLEFOLD = ("Nettlefold et al. (2021), Scaling up Action Schools! BC: how does voltage drop at scale affect "
              "student level outcomes?")


def _binomial(p: float, n: int) -> tuple[float, float]:
    t = binomial_tolerance(p, n)
    return max(0.0, p - t), min(1.0, p + t)


PATTERNS: tuple[Pattern, ...] = (
    Pattern("competence", "starters reaching competence (full implementation)", WONG, None,
            0.585, 208, *_binomial(0.585, 208), wong_competence, "2 binomial SE, n = 208 sites",
            construct="of the sites that started up (pilot sites excluded, started by month T-48), the share that "
                      "reached full implementation"),
    Pattern("sustained_startup", "starters still delivering 2 years after start-up", WONG, None,
            0.371, 208, *_binomial(0.371, 208), wong_sustained_startup, "2 binomial SE, n = 208 sites",
            construct="of the same starters, the share delivering (installation to full) 24 months after start-up"),
    Pattern("sustained_competent", "starters still delivering 2 years after competence", WONG, None,
            0.251, 208, *_binomial(0.251, 208), wong_sustained_competent, "2 binomial SE, n = 208 sites",
            construct="of the same starters, the share that reached full implementation and delivered 24 months "
                      "after it (denominator read as the starters)"),
    Pattern("months_to_full", "median months from exploration to full implementation",
            "NSPCC Scale-up Unit (source 001): two to four years", None, 36.0, None, 24.0, 48.0,
            months_to_full, "the published range, 24-48 months",
            construct="median over the sites that reached full implementation of the months from first exploration"),
    Pattern("keystone_sustained", "ICUs still taking part (delivering) in every month 19-36", KEYSTONE_2010,
            KEYSTONE_CASE, 90 / 103, 103, *_binomial(90 / 103, 103), delivering_throughout(19, 36),
            "2 binomial SE, n = 103 ICUs",
            construct="90 of the 103 ICUs reported data through the sustainability period (months 19-36): the share "
                      "of units delivering (installation to full) in every one of those months"),
    Pattern("keystone_zero_m3", "ICUs with no infection in months 1-3 (median rate zero)", KEYSTONE_2006,
            KEYSTONE_CASE, 0.5, 103, 0.5, 1.0,
            zero_infection_share(1, 3, KEYSTONE_CATHETER_DAYS_2006),
            "one-sided: the median is zero when at least half the units had no infection",
            construct="median rate 2.7 -> 0 per 1,000 catheter-days by month 3: the expected share of units with no "
                      "infection in months 1-3, each at the median baseline rate and its share of 190 catheter-days a "
                      "month (proportional to its size, as the rate ratio's weights), its rate scaled by its modelled "
                      "rate ratio (1 - effect)", side="at least"),
    Pattern("keystone_irr_m3", "infection rate ratio, months 0-3 vs baseline", KEYSTONE_2006, KEYSTONE_CASE,
            0.62, 103, 0.47, 0.81, rate_ratio(1, 3), "the published 95% CI, 0.47-0.81",
            construct="incidence rate ratio 0.62 at 0-3 months: the size-weighted infection rate of all units in "
                      "months 1-3 over the baseline burden (no trend in Michigan)"),
    Pattern("keystone_irr_m18", "infection rate ratio, months 16-18 vs baseline", KEYSTONE_2006, KEYSTONE_CASE,
            0.34, 103, 0.23, 0.50, rate_ratio(16, 18), "the published 95% CI, 0.23-0.50",
            construct="incidence rate ratio 0.34 at 16-18 months: the size-weighted rate of all units in months "
                      "16-18 over the baseline burden"),
    Pattern("keystone_irr_m36", "infection rate ratio, months 34-36 vs baseline (units still taking part)",
            KEYSTONE_2010, KEYSTONE_CASE, 0.34, 90, 0.24, 0.48, rate_ratio(34, 36, 19, 36),
            "the published 95% CI, 0.24-0.48",
            construct="incidence rate ratio 0.34 at 34-36 months among the 90 units still reporting: the "
                      "size-weighted rate in months 34-36 of the units delivering in every month 19-36, over "
                      "the baseline burden", set=VALIDATION),
    Pattern("keystone_zero_m36", "ICUs still taking part with no infection in months 34-36", KEYSTONE_2010,
            KEYSTONE_CASE, 0.5, 90, 0.5, 1.0,
            zero_infection_share(34, 36, KEYSTONE_CATHETER_DAYS_2010, 19, 36),
            "one-sided: the median is zero when at least half the units had no infection",
            construct="median rate 0 (IQR 0-1.2) per 1,000 catheter-days at 34-36 months: as for month 3, over the "
                      "units delivering in every month 19-36, 196 catheter-days a month on average (by size)", set=VALIDATION,
            side="at least"),
    Pattern("matching_step", "infection rate ratio against the counterfactual, months 1-20", MATCHING,
            MATCHING_CASE, 1.0, 215, MATCHING_DETECTABLE, 2.0 - MATCHING_DETECTABLE, rate_ratio_vs_counterfactual(1, 20),
            f"no step change found; {MATCHING_DETECTABLE:.3f}: the smallest step 1,092 infections could show "
            "(2 SE of a log rate ratio of two halves); derived from the counts, no CI was published in the abstract",
            needs_counterfactual=True, set=VALIDATION,
            construct="the trend did not accelerate after the interventions training: the rate of all units in "
                      "months 1-20 over the counterfactual arm's (same random numbers, same secular trend)"),
    Pattern("scheirer_after_funding", "sites still delivering 2 years after funding ended", SCHEIRER, None,
            0.6, 17, 0.6, 1.0, delivering_after_funding(24),
            "one-sided: in 14 of 17 studies at least 60% of sites sustained at least one component",
            construct="continuation of programme activities after funding: among the sites supported before funding "
                      "ended and delivering when it ended, the share delivering (any stage of use) 24 months later",
            set=VALIDATION, side="at least"),
    Pattern("bond_sustained_6y", "sites delivering throughout the 6 years after full implementation", BOND, None,
            0.47, 49, *_binomial(0.47, 49), after_full(6, "sustained"), "2 binomial SE, n = 49 sites",
            construct="47% of 49 sites sustained the practice for 6 years after full implementation: of the sites "
                      "(pilot sites excluded) that first reached full implementation by month T-72, the share "
                      "delivering (installation to full) in every month of the 72 after it", set=VALIDATION),
    Pattern("bond_restarted_6y", "sites that stopped and restarted within 6 years of full implementation", BOND, None,
            0.16, 49, *_binomial(0.16, 49), after_full(6, "restarted"), "2 binomial SE, n = 49 sites",
            construct="16% of 49 sites restarted the practice after a period of discontinuation (37% stopped for "
                      "good): of the same cohort, the share that stopped delivering in some month of the 72 and "
                      "delivered again at the end"),
    Pattern("asbc_started_y1", "schools delivering by the end of the first roll-out year", AS_BC_ROLLOUT,
            AS_BC_CASE, 0.19, AS_BC_SCHOOLS, *_binomial(0.19, AS_BC_SCHOOLS), started_by(12),
            f"2 binomial SE, n = {AS_BC_SCHOOLS} schools",
            construct="306 schools (19%) 'mobilised' at the end of the 2004/05 school year: the share of schools that "
                      "had started delivering (initial or full implementation) by month 12"),
    Pattern("asbc_registered_y1", "schools signed up by the end of the first roll-out year", AS_BC_ROLLOUT,
            AS_BC_CASE, 0.38, AS_BC_SCHOOLS, 0.38 - binomial_tolerance(0.38, AS_BC_SCHOOLS), 1.0, engaged_by(12),
            f"one-sided ('over 600'), less 2 binomial SE, n = {AS_BC_SCHOOLS} schools",
            construct="over 600 schools (38%) registered in the first roll-out year: the share of schools that had "
                      "entered exploration or later by month 12", set=VALIDATION, side="at least"),
    Pattern("voltage_drop", "effect per school, year 2 over year 1", NETTLEFOLD, AS_BC_CASE, AS_BC_RATIO, 16,
            AS_BC_RATIO - AS_BC_RATIO_SE, AS_BC_RATIO + AS_BC_RATIO_SE, year2_over_year1,
            "1 SE of the published ratio (delta method, 16 intervention schools)",
            construct="physical activity delivered per week, intervention minus usual practice, year 2 over year 1: "
                      "the mean effect per school in its second year of delivery over its first"),
)

PATTERN_NAMES = tuple(p.name for p in PATTERNS)
CALIBRATION_NAMES = tuple(p.name for p in PATTERNS if p.set == CALIBRATION)
VALIDATION_NAMES = tuple(p.name for p in PATTERNS if p.set == VALIDATION)
CALIBRATION_PATTERNS = tuple(p for p in PATTERNS if p.set == CALIBRATION)
VALIDATION_PATTERNS = tuple(p for p in PATTERNS if p.set == VALIDATION)


def pattern(name: str) -> Pattern:
    for p in PATTERNS:
        if p.name == name:
            return p
    raise KeyError(name)


def patterns_of(which: str = "all") -> tuple[Pattern, ...]:
    """The patterns of a set: ``all``, ``calibration`` or ``validation``."""
    if which == "all":
        return PATTERNS
    if which in (CALIBRATION, VALIDATION):
        return tuple(p for p in PATTERNS if p.set == which)
    raise ValueError(f"unknown pattern set {which!r}: all, calibration or validation")


def scenario_of(p: Pattern, root: Path = SCENARIOS) -> Scenario:
    return default_scenario() if p.scenario is None else load_scenario(root / p.scenario)


#: replicates per scenario in ``spreadsim patterns`` relative to the default's (Action Schools! BC
#: has 1,400 schools and 144 months: its runs are several times dearer and its patterns' SEs small)
def replicates_for(n: int) -> dict[str | None, int]:
    return {None: n, KEYSTONE_CASE: n, MATCHING_CASE: n, AS_BC_CASE: max(2, n // 8)}


def simulate(patterns: tuple[Pattern, ...] = PATTERNS, *, replicates: int | dict[str | None, int] = 20,
             seed: int = 1, overrides: dict | None = None, root: Path = SCENARIOS) -> dict[str, np.ndarray]:
    """Each pattern's statistic per replicate: ``{name: array of replicates}``.

    Args:
        patterns: the patterns to measure; scenarios shared by several are run once.
        replicates: replicates per scenario (or per scenario path, ``None`` for the default).
        seed: replicate ``r`` runs with seed ``seed + r``.
        overrides: dotted-path values applied to every scenario (the calibrated parameters).
        root: the folder of the bundled scenarios.
    """
    by_scenario: dict[str | None, list[Pattern]] = {}
    for p in patterns:
        by_scenario.setdefault(p.scenario, []).append(p)
    out: dict[str, np.ndarray] = {}
    for path, group in by_scenario.items():
        sc = scenario_of(group[0], root)
        if overrides:
            sc = sc.with_overrides(overrides, label="patterns", warn=False)
        if not any(p.needs_counterfactual for p in group):
            sc = sc.with_overrides({"outcomes.counterfactual": False}, label="patterns", warn=False)  # not measured: half the work
        else:
            sc = sc.with_overrides({"outcomes.counterfactual": True}, label="patterns", warn=False)
        reps = replicates.get(path, 20) if isinstance(replicates, dict) else int(replicates)
        seeds = [seed + r for r in range(reps)]
        m = SpreadModel(sc, seeds, agents=False, history=True).run_model()
        for p in group:
            out[p.name] = np.array([p.statistic(m, b) for b in range(reps)])
    return out


def report(values: dict[str, np.ndarray], patterns: tuple[Pattern, ...] = PATTERNS) -> pd.DataFrame:
    """One row per pattern: set, source, published value, tolerance, construct, model mean +- SE (n),
    passed or not."""
    rows = []
    for p in patterns:
        v = values[p.name]
        v = v[np.isfinite(v)]
        mean = float(v.mean()) if len(v) else float("nan")
        se = float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else float("nan")
        rows.append({"pattern": p.name, "set": p.set, "label": p.label, "source": p.source,
                     "published": p.published, "n_published": p.n, "low": p.low, "high": p.high, "side": p.side,
                     "tolerance": p.tolerance, "construct": p.construct, "model_mean": mean, "model_se": se,
                     "replicates": len(v), "passed": p.passes(mean)})
    return pd.DataFrame(rows)


def format_report(df: pd.DataFrame) -> str:
    """The report as text lines that fit 100 columns: a table (pattern, set, published, tolerance,
    model, within), then each pattern's source and construct."""
    import textwrap

    lines = [f"{'pattern':<24}{'set':<12}{'published':>10}  {'tolerance':<14}{'model mean +- SE (n)':<26}{'within'}"]
    for r in df.itertuples():
        lo = f"{r.low:.3g}"
        hi = "" if not math.isfinite(r.high) else f"{r.high:.3g}"
        tol = f">= {lo}" if r.side == "at least" else (f"<= {hi}" if r.side == "at most" else f"{lo}-{hi}")
        model = f"{r.model_mean:.3g} +- {r.model_se:.2g} ({r.replicates})"
        lines.append(f"{r.pattern:<24}{r.set:<12}{r.published:>10.3g}  {tol:<14}{model:<26}{'yes' if r.passed else 'NO'}")
    lines.append("")
    for r in df.itertuples():
        lines.append(f"{r.pattern}: {r.label}")
        for key in ("source", "construct", "tolerance"):
            lines.append(textwrap.fill(str(getattr(r, key)), 100, initial_indent=f"    {key:<10}",
                                       subsequent_indent=" " * 14))
    for which in (CALIBRATION, VALIDATION):
        part = df[df["set"] == which]
        if len(part):
            lines.append(f"{which}: {int(part['passed'].sum())} of {len(part)} patterns within tolerance")
    return "\n".join(lines)


def deviations(values: dict[str, np.ndarray], patterns: tuple[Pattern, ...] = PATTERNS) -> np.ndarray:
    """Each pattern's deviation from its published value in units of its tolerance (0 = exact; |d| <= 1
    within tolerance); a one-sided pattern (at least, or at most, a value) is 0 on its right side and
    beyond 1 on its wrong side."""
    out = []
    for p in patterns:
        v = values[p.name]
        v = v[np.isfinite(v)]
        if not len(v):
            out.append(np.inf)
            continue
        mean = float(v.mean())
        side = p.side
        if side == "both" and p.low == p.published:  # (older definitions) at least the published value
            side = "at least"
        elif side == "both" and p.high == p.published:
            side = "at most"
        if side == "at least":  # 0 inside, beyond 1 below the bound
            out.append(0.0 if mean >= p.low else -1.0 - (p.low - mean) / p.scale)
        elif side == "at most":
            out.append(0.0 if mean <= p.high else 1.0 + (mean - p.high) / p.scale)
        else:  # piecewise, so that |d| <= 1 exactly inside an asymmetric interval
            half = (p.published - p.low) if mean < p.published else (p.high - p.published)
            out.append((mean - p.published) / half if half > 0 and math.isfinite(half) else (mean - p.published) / p.scale)
    return np.array(out)


def distance(values: dict[str, np.ndarray], patterns: tuple[Pattern, ...] = CALIBRATION_PATTERNS) -> float:
    """The largest deviation (the calibration distance) over ``patterns`` (by default the calibration
    set only: validation patterns are never tuned on): below 1 when every pattern is within tolerance."""
    return float(np.max(np.abs(deviations(values, patterns))))


# ------------------------------------------------------------------------------ identifiability
#: the calibration files whose priors give each calibrated rate its range (later files win)
PROFILE_SPECS = ("calibration/defaults_search.yaml", "calibration/defaults.yaml")


def calibrated_rates() -> list[str]:
    """Dotted paths of every schema parameter whose source says ``calibrated`` (simulation/schema.py)."""
    from pydantic import BaseModel

    from .scenario import Dist, Scenario

    def sections(model, prefix: str = "") -> list:  # depth first, in field order (as docs/scenario-reference.md)
        out = [(prefix, model)]
        for name, field in model.model_fields.items():
            sub = field.annotation
            if isinstance(sub, type) and issubclass(sub, BaseModel) and sub is not Dist:
                out.extend(sections(sub, f"{prefix}.{name}" if prefix else name))
        return out

    out = []
    for prefix, model in sections(Scenario):
        for name, field in model.model_fields.items():
            extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
            if str(extra.get("source", "") or "").startswith("calibrated"):
                out.append(f"{prefix}.{name}" if prefix else name)
    return out


def prior_ranges(root: Path = SCENARIOS, specs: tuple[str, ...] = PROFILE_SPECS) -> dict[str, tuple[float, float, str, str]]:
    """``path -> (low, high, dist, file)`` from the ``calibration.parameters`` of the calibration files."""
    import yaml

    out: dict[str, tuple[float, float, str, str]] = {}
    for name in specs:
        f = root / name
        if not f.exists():
            continue
        raw = yaml.safe_load(f.read_text()) or {}
        params = ((raw.get("calibration") or {}).get("parameters")) or {}
        for path, pr in params.items():
            if isinstance(pr, dict) and "low" in pr and "high" in pr:
                out[path] = (float(pr["low"]), float(pr["high"]), str(pr.get("dist", "uniform")), name)
    return out


def _get(sc: Scenario, path: str):
    obj = sc
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def profile(rates: list[str] | None = None, *, points: int = 3, replicates: dict | int | None = None, seed: int = 1,
            patterns: tuple[Pattern, ...] = PATTERNS, root: Path = SCENARIOS, progress=None) -> pd.DataFrame:
    """Identifiability: each calibrated rate varied over its prior range (``points`` values, the other
    rates at their defaults, the same seeds at every value), and how far each pattern's mean moves.

    Returns one row per rate and pattern: the rate's range and where it came from, the pattern's
    mean at each value, ``move`` (largest minus smallest mean), ``move_tol`` (the move in units of
    the pattern's tolerance: half its interval), the SE of the mean at the default, and
    ``identifies``: the move exceeds half the tolerance. A rate that identifies no pattern is one
    the patterns cannot pin down ("assumed", see :func:`identifiability`).
    """
    reps = replicates_for(16) if replicates is None else replicates
    rates = calibrated_rates() if rates is None else list(rates)
    ranges = prior_ranges(root)
    base_sc = default_scenario()
    base = simulate(patterns, replicates=reps, seed=seed, root=root)
    rows = []
    for i, path in enumerate(rates):
        default = _get(base_sc, path)
        if path in ranges:
            lo, hi, dist, src = ranges[path]
        else:
            lo, hi, dist, src = default / 2.0, default * 2.0, "uniform", "assumed: default / 2 to x 2 (no prior)"
        grid = np.geomspace(lo, hi, points) if dist == "loguniform" and lo > 0 else np.linspace(lo, hi, points)
        if isinstance(default, int) and not isinstance(default, bool):
            grid = np.unique(np.round(grid).astype(int))
        means: dict[str, list[float]] = {p.name: [] for p in patterns}
        used = []
        for x in grid:
            value = x.item()
            try:
                vals = simulate(patterns, replicates=reps, seed=seed, overrides={path: value}, root=root)
            except Exception as e:  # a value outside the schema's range: skip it, say so
                from .errors import InputError

                if not isinstance(e, InputError):
                    raise
                continue
            used.append(value)
            for p in patterns:
                v = vals[p.name][np.isfinite(vals[p.name])]
                means[p.name].append(float(v.mean()) if len(v) else float("nan"))
        for p in patterns:
            b = base[p.name][np.isfinite(base[p.name])]
            se = float(b.std(ddof=1) / math.sqrt(len(b))) if len(b) > 1 else float("nan")
            m = np.array(means[p.name], float)
            move = float(np.nanmax(m) - np.nanmin(m)) if np.isfinite(m).any() else float("nan")
            rows.append({"rate": path, "default": default, "low": lo, "high": hi, "range_from": src,
                         "values": ", ".join(f"{u:.4g}" for u in used), "pattern": p.name, "set": p.set,
                         "means": ", ".join(f"{u:.3g}" for u in m), "move": move,
                         "move_tol": move / p.scale if np.isfinite(move) else float("nan"), "se_at_default": se,
                         "identifies": bool(np.isfinite(move) and move > p.scale / 2)})
        if progress is not None:
            progress(i + 1, len(rates), path)
    return pd.DataFrame(rows)


def identifiability(prof: pd.DataFrame) -> pd.DataFrame:
    """Per rate: the patterns it moves by more than half their tolerance (largest first, with the move
    in tolerances), and the verdict: ``identified`` or ``assumed`` (no pattern moves)."""
    rows = []
    for rate, g in prof.groupby("rate", sort=False):
        hit = g[g["identifies"]].sort_values("move_tol", ascending=False)
        rows.append({"rate": rate, "default": g["default"].iloc[0], "range": f"{g['low'].iloc[0]:.4g}-{g['high'].iloc[0]:.4g}",
                     "range_from": g["range_from"].iloc[0],
                     "patterns": ", ".join(f"{r.pattern} ({r.move_tol:.2g})" for r in hit.itertuples()) or "-",
                     "calibration_patterns": int((hit["set"] == CALIBRATION).sum()),
                     "verdict": "identified" if (hit["set"] == CALIBRATION).any() else "assumed"})
    return pd.DataFrame(rows)


def unmoved_patterns(prof: pd.DataFrame) -> list[str]:
    """The patterns no calibrated rate moves by more than half their tolerance: the rates cannot
    fit them (a mechanism is missing or the construct is out of the model's reach)."""
    moved = prof.groupby("pattern", sort=False)["identifies"].any()
    return [name for name, hit in moved.items() if not hit]


def format_identifiability(df: pd.DataFrame, prof: pd.DataFrame | None = None) -> str:
    lines = ["rate                               range            verdict     patterns moved > tolerance/2 "
             "(move in tolerances)"]
    for r in df.itertuples():
        lines.append(f"{r.rate:<35}{r.range:<17}{r.verdict:<12}{r.patterns}")
    assumed = [r.rate for r in df.itertuples() if r.verdict == "assumed"]
    lines.append(f"{len(df) - len(assumed)} of {len(df)} calibrated rates move a calibration pattern; "
                 f"assumed: {', '.join(assumed) or 'none'}")
    if prof is not None:
        lines.append(f"patterns no rate moves by half their tolerance: {', '.join(unmoved_patterns(prof)) or 'none'}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------ levers' directions
def _scaled_down(d, factor: float):
    """A distribution like ``d`` with its mean (roughly) multiplied by ``factor``; None if it cannot say."""
    from .schema import Dist

    k = d.dist
    if k == "constant":
        return Dist(dist="constant", value=d.value * factor)
    if k == "uniform":
        return Dist(dist="uniform", low=d.low * factor, high=d.high * factor)
    if k == "normal":
        return Dist(dist="normal", mean=d.mean * factor, sd=d.sd * factor)
    if k == "lognormal":
        return Dist(dist="lognormal", mean=d.mean + math.log(factor), sigma=d.sigma)
    if k == "beta":
        mean = d.a / (d.a + d.b) * factor
        return Dist(dist="beta", a=d.a, b=d.a * (1 - mean) / mean)
    return None


def _closer_to_one(d, factor: float):
    """``d`` with ``1 - value`` multiplied by ``factor`` (better fit: the gap to a perfect fit shrinks)."""
    from .schema import Dist

    k = d.dist
    if k == "constant":
        return Dist(dist="constant", value=1 - (1 - d.value) * factor)
    if k == "uniform":
        return Dist(dist="uniform", low=1 - (1 - d.low) * factor, high=1 - (1 - d.high) * factor)
    if k == "beta":
        return Dist(dist="beta", a=d.a, b=d.b * factor)
    if k == "normal":
        return Dist(dist="normal", mean=1 - (1 - d.mean) * factor, sd=d.sd * factor)
    return None


def _more(d, extra: float):
    from .schema import Dist

    if d.dist == "poisson":
        return Dist(dist="poisson", lam=d.lam + extra)
    if d.dist == "constant":
        return Dist(dist="constant", value=d.value + extra)
    if d.dist == "uniform":
        return Dist(dist="uniform", low=d.low + extra, high=d.high + extra)
    return None


def _trait_lever(sc: Scenario, trait: str, change) -> dict | None:
    """Overrides changing one trait's distribution for every site (and each group's own)."""
    base = change(getattr(sc.sites.traits, trait))
    if base is None:
        return None
    ov: dict = {f"sites.traits.{trait}": base.model_dump(exclude_none=True)}
    groups = {}
    for g, spec in sc.sites.group_specs().items():
        own = getattr(spec.traits, trait)
        if own is not None:
            new = change(own)
            if new is None:
                return None
            groups[g] = {**spec.model_dump(exclude_none=True), "traits": {**spec.traits.model_dump(exclude_none=True),
                                                                         trait: new.model_dump(exclude_none=True)}}
    if groups:
        ov["sites.groups"] = {g: (groups[g] if g in groups else spec.model_dump(exclude_none=True))
                              for g, spec in sc.sites.group_specs().items()}
    return ov


#: the levers, programme levers first, then the context ones
CAPACITY, FUNDING, ASSURANCE = "more support capacity", "longer funding", "assurance"
TURNOVER, CHAMPIONS, FIT, LEGITIMACY = "lower turnover", "more champions", "better fit", "higher legitimacy"
PROGRAMME = "the programme (vs none)"
LEVERS = (CAPACITY, FUNDING, ASSURANCE, PROGRAMME, TURNOVER, CHAMPIONS, FIT, LEGITIMACY)
CONTEXT_LEVERS = (TURNOVER, CHAMPIONS, FIT, LEGITIMACY)


def levers(sc: Scenario) -> dict[str, dict]:
    """The levers whose direction the literature does not dispute, as overrides of ``sc`` (a lever
    that does not apply to a scenario, such as more capacity when it is unlimited, is left out).
    "The programme (vs none)" is not here: :func:`check_directions` compares the scenario as written
    with :func:`no_programme` of it."""
    st = sc.strategy
    out: dict[str, dict | None] = {}
    mech = sc.logics.mechanical.enabled
    if mech and st.support.capacity is not None:
        out[CAPACITY] = {"strategy.support.capacity": max(2 * st.support.capacity, st.support.capacity + 10)}
    f = st.support.funding_months
    if mech and f is not None and f < sc.months:
        out[FUNDING] = {"strategy.support.funding_months": f + 36}
    if mech:
        out[ASSURANCE] = {"strategy.assurance.interval": 6 if st.assurance.interval == 0 else max(1, st.assurance.interval // 2)}
    if sc.workforce.turnover:
        out[TURNOVER] = _trait_lever(sc, "turnover", lambda d: _scaled_down(d, 0.5))
        out[CHAMPIONS] = _trait_lever(sc, "champions", lambda d: _more(d, 1.0))
    out[FIT] = _trait_lever(sc, "fit", lambda d: _closer_to_one(d, 0.5))
    if sc.logics.social.enabled and sc.logics.social.legitimacy < 0.95:
        out[LEGITIMACY] = {"logics.social.legitimacy": min(1.0, sc.logics.social.legitimacy + 0.2)}
    return {k: v for k, v in out.items() if v}


def no_programme(sc: Scenario) -> Scenario:
    """``sc`` with no programme at all: no support (capacity 0), no seeds, invitations, trainers,
    assurance or collaboratives (the counterfactual's overrides, plus no pilot sites)."""
    from .processes import outcomes

    ov = {k: v for k, v in outcomes.NO_PROGRAMME.items() if k != "outcomes.counterfactual"}
    ov.update({"strategy.support.capacity": 0, "strategy.seeding.n": 0, "strategy.seeding.sites": []})
    return sc.with_overrides(ov, label="no programme", warn=False)


UP, DOWN = 1, -1
_SELECT = ("no expectation: conditional on the sites in its denominator, and this lever changes who they are "
           "(more, weaker sites come in)")
_CONTEXT_ATTR = ("no expectation: a better context also lifts the no-programme arm; the literature does not say "
                 "which gains more")
_NO_END = "not defined: with no programme there is no funding end"
_EQUITY = "no expectation: the gap depends on which groups a lever reaches first; the evidence is silent"
_LOCAL = ("no expectation: local costs follow the trainers and support kept after funding, which a lever can "
          "raise or lower")
_COST_CONTEXT = ("no expectation: a better context can release supported sites sooner (less spent) or bring more "
                 "into support (more spent)")
_CPS_PROG = "no expectation: the lever adds both cost and sustained sites; their ratio is an empirical question"
_ASSURANCE_COST = ("no expectation: audits cost, but faithful sites leave coaching sooner, so the programme's "
                   "spending can fall")
_NONE_COST = "not defined: no programme has no cost, so no cost per sustained site"
_COMPETENCE_CONTEXT = ("no expectation: champions and legitimacy keep sites going (Scheirer 2005); the evidence "
                       "says nothing of their reaching competence")
_COHORT = "no expectation: a later funding end counts a different cohort (more sites have come, and gone)"
_COHORT_OTHER = ("no expectation: it counts the sites in support and delivering when funding ends; the lever can "
                 "bring more sites in or release them from support sooner")


def _row(prog, context=None, **each) -> dict[str, int | str]:
    """Expectations per lever: ``prog`` for the programme levers and the programme itself,
    ``context`` for the context levers (default the same), ``each`` for single levers by keyword."""
    context = prog if context is None else context
    out = {lv: prog for lv in (CAPACITY, FUNDING, ASSURANCE, PROGRAMME)}
    out.update({lv: context for lv in CONTEXT_LEVERS})
    names = {"capacity": CAPACITY, "funding": FUNDING, "assurance": ASSURANCE, "programme": PROGRAMME,
             "turnover": TURNOVER, "champions": CHAMPIONS, "fit": FIT, "legitimacy": LEGITIMACY}
    out.update({names[k]: v for k, v in each.items()})
    return out


#: The expected direction of every summary output under every lever (UP: the lever should not lower
#: it; DOWN: should not raise it), or why there is none. Sources: more support, funding and fidelity
#: assurance help sites reach and keep competent use (NIRN implementation drivers, source 000; Wong et
#: al. 2022); lower turnover, champions, fit and legitimacy help sustainment (Scheirer 2005: champion,
#: fit, perceived benefit; Dynamic Sustainability Framework, source 003; Greenhalgh & Papoutsi 2019,
#: source 004); a programme at all beats none on what it reaches and delivers.
EXPECTED: dict[str, dict[str, int | str]] = {
    "adopted_share": _row(UP),
    "reach": _row(UP),
    "reach_share": _row(UP),
    "benefit": _row(UP),
    "time_to_50": _row(DOWN),
    "attributable_benefit": _row(UP, _CONTEXT_ATTR),
    "attributable_benefit_years": _row(UP, _CONTEXT_ATTR),
    # (fit: no expectation in v3: a better fit brings in about twice as many untrained self-starters,
    # whose entry fidelity is lower, while the trained adopters' fidelity rises: docs/validation.md)
    "mean_fidelity": _row(_SELECT, _SELECT, assurance=UP, turnover=UP),
    "sustainment": _row(UP, UP, capacity=_SELECT),
    "sustained_delivering_12": _row(UP, UP, capacity=_SELECT, programme=_NO_END),
    "sustained_delivering_24": _row(UP, UP, capacity=_SELECT, programme=_NO_END),
    "sustained_full_12": _row(UP, UP, capacity=_SELECT, programme=_NO_END),
    "sustained_full_24": _row(UP, UP, capacity=_SELECT, programme=_NO_END),
    "funding_end_cohort": _row(_COHORT_OTHER, _COHORT_OTHER, capacity=UP, funding=_COHORT, programme=_NO_END),
    "sustained_startup": _row(UP, UP, capacity=_SELECT),
    "sustained_competent": _row(UP, UP, capacity=_SELECT),
    "competence_rate": _row(UP, UP, champions=_COMPETENCE_CONTEXT, legitimacy=_COMPETENCE_CONTEXT),
    "abandonment": _row(DOWN, DOWN, capacity=_SELECT, programme=_SELECT),
    "equity_gap": _row(_EQUITY),
    "support_used": _row(UP, _COST_CONTEXT, assurance=_ASSURANCE_COST),
    "total_cost": _row(UP, _COST_CONTEXT, assurance=_ASSURANCE_COST),
    "local_cost": _row(_LOCAL),
    "cost_per_sustained_site": _row(_CPS_PROG, DOWN, programme=_NONE_COST),
}


def summary_outputs() -> tuple[str, ...]:
    """The summary outputs a strategy comparison shows (simulation/runner.py SUMMARY_KEYS)."""
    from .runner import SUMMARY_KEYS

    return tuple(SUMMARY_KEYS)


def _summaries(sc: Scenario, seeds: list[int]) -> pd.DataFrame:
    """Per replicate, the summary outputs (with the counterfactual arm, for the attributable ones)."""
    from .runner import summarise

    sc = sc.with_overrides({"outcomes.counterfactual": True}, label="directions", warn=False)
    m = SpreadModel(sc, seeds, agents=False).run_model()
    df = pd.DataFrame([summarise(m, b) for b in range(len(seeds))])
    if "time_to_50" in df:  # never reached half: censored at one month past the run
        df["time_to_50"] = df["time_to_50"].fillna(sc.months + 1)
    return df


#: Reversals a limit of the programme explains, checked each time they occur: (scenario, lever,
#: output) -> (why, overrides that lift the limit). When the output moves the wrong way, the lever
#: is compared again with the limit lifted in both arms; the reversal counts as explained (and says
#: so, with both differences) only if the output then moves the expected way by more than ``z``
#: standard errors; otherwise it stays wrong.
EXPLAINED: dict[tuple[str, str, str], tuple[str, dict]] = {
    ("action_schools_bc", LEGITIMACY, "abandonment"): (
        "congestion: higher legitimacy brings more schools forward than the finite support tiers can carry "
        "(20 coaching slots, 170 light-touch registrations a month, 225 trainers), so more adopters go without "
        "support and stop; each school's own pressure to abandon falls with legitimacy (logics.social). Lifting the "
        "intensive tier's capacity (strategy.support.capacity 2000) turns the lever the expected way",
        {"strategy.support.capacity": 2000}),
}


def _paired(before: pd.DataFrame, after: pd.DataFrame, out: str) -> tuple[np.ndarray, np.ndarray]:
    """Per replicate ``after - before`` of one output (pairs with a NaN left out), and ``before``."""
    a = pd.to_numeric(after[out], errors="coerce").to_numpy(float)  # a reason instead of a number: NaN
    b = pd.to_numeric(before[out], errors="coerce").to_numpy(float)
    d = a - b
    return d[np.isfinite(d)], b


def _mean_se(d: np.ndarray) -> tuple[float, float]:
    mean = float(np.mean(d)) if len(d) else float("nan")
    se = float(np.std(d, ddof=1) / math.sqrt(len(d))) if len(d) > 1 else float("nan")
    return mean, se


def check_directions(sc: Scenario, replicates: int = 20, seed: int = 1, levers_: dict | None = None,
                     z: float = 3.0, margin: float = 0.01, programme: bool = True) -> pd.DataFrame:
    """Every summary output under every lever, against its expected direction (:data:`EXPECTED`).

    For each lever (:func:`levers`, and the programme against :func:`no_programme`), the paired
    difference (lever minus as written; programme minus none) per replicate on common random numbers,
    its mean, standard error and z. ``wrong``: the output moved against its expected direction by
    more than ``z`` standard errors and by more than ``margin`` of its level (mean absolute value as
    written). Outputs with no expectation are reported with the reason and never ``wrong``. Pairs
    where either run has no value (a NaN: no cohort, no funding end) are left out and counted. A
    reversal listed in :data:`EXPLAINED` is re-checked with its limit lifted: ``explained`` holds the
    reason and ``relieved`` the difference then, and it is not ``wrong`` only if that difference
    goes the expected way by more than ``z`` standard errors.
    """
    seeds = [seed + i for i in range(replicates)]
    outputs = summary_outputs()
    base = _summaries(sc, seeds)
    arms: dict[str, tuple[pd.DataFrame, pd.DataFrame]] = {}
    lever_ov = levers(sc) if levers_ is None else levers_
    for name, ov in lever_ov.items():
        arms[name] = (base, _summaries(sc.with_overrides(ov, label=f"lever {name!r}", warn=False), seeds))
    if programme and levers_ is None:
        arms[PROGRAMME] = (_summaries(no_programme(sc), seeds), base)
    rows = []
    for name, (before, after) in arms.items():
        for out in outputs:
            exp = EXPECTED.get(out, {}).get(name, "no expectation: not in the table of expected directions")
            d, b = _paired(before, after, out)
            mean, se = _mean_se(d)
            level = float(np.nanmean(np.abs(b))) if np.isfinite(b).any() else 0.0
            zval = mean / se if se and np.isfinite(se) and se > 0 else (0.0 if mean == 0 else float("nan"))
            wrong = False
            if isinstance(exp, int) and len(d) > 1:
                against = -exp * mean  # > 0 when the output moved against the expectation
                wrong = bool(against > 0 and (se == 0 or against > z * se) and against > margin * level)
            explained, relieved = "", float("nan")
            if wrong and (sc.name, name, out) in EXPLAINED and name in lever_ov:
                why, lift = EXPLAINED[(sc.name, name, out)]
                free = sc.with_overrides(lift, label="the limit lifted", warn=False)
                rd, _ = _paired(_summaries(free, seeds), _summaries(free.with_overrides(lever_ov[name], warn=False), seeds), out)
                relieved, rse = _mean_se(rd)
                if exp * relieved > 0 and exp * relieved > z * rse:
                    wrong, explained = False, why
            rows.append({"scenario": sc.name, "lever": name, "output": out,
                         "expected": {UP: "up", DOWN: "down"}.get(exp, "none") if isinstance(exp, int) else "none",
                         "reason": "" if isinstance(exp, int) else exp, "difference": mean, "se": se, "z": zval,
                         "level": level, "replicates": len(d), "wrong": wrong, "explained": explained,
                         "relieved": relieved})
    return pd.DataFrame(rows)


def format_directions(df: pd.DataFrame) -> str:
    """The checks that went the wrong way, and a count."""
    checked = df[df["expected"] != "none"]
    wrong = df[df["wrong"]]
    lines = [f"directions: {len(checked)} checks with an expected direction (lever x output x scenario), "
             f"{len(wrong)} significantly the wrong way; {len(df) - len(checked)} with no expectation (reasons in "
             "directions.csv)"]
    for r in wrong.itertuples():
        lines.append(f"  WRONG  {r.scenario}: {r.lever} moves {r.output} {'down' if r.difference < 0 else 'up'} by "
                     f"{abs(r.difference):.3g} (SE {r.se:.2g}, z {r.z:+.1f}; expected {r.expected})")
    for r in df[df["explained"].astype(bool)].itertuples() if "explained" in df else ():
        lines.append(f"  EXPLAINED  {r.scenario}: {r.lever} moves {r.output} {'down' if r.difference < 0 else 'up'} by "
                     f"{abs(r.difference):.3g} (SE {r.se:.2g}, z {r.z:+.1f}; expected {r.expected}); with the limit "
                     f"lifted {r.relieved:+.3g}: {r.explained}")
    return "\n".join(lines)
