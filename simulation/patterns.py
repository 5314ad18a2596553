"""The pattern suite: published patterns the model must reproduce, checked with replicates.

Pattern-oriented modelling (Grimm et al., "Pattern-oriented modeling of agent-based complex
systems", Science 2005): a model is credible when one set of parameters reproduces several patterns
observed at different levels at once. Each :class:`Pattern` names its source, the published value,
the published denominator and the tolerance that follows from it, the scenario it is measured in and
how the statistic is computed from runs. ``spreadsim patterns`` prints, per pattern, the model's
mean +- standard error over replicates against the published value and tolerance; the same
statistics are the targets of ``spreadsim calibrate`` on ``scenarios/calibration/defaults.yaml``
(see docs/validation.md).

Tolerances: for a published proportion p from n units, +- 2 binomial standard errors
(``2 sqrt(p(1 - p) / n)``); for the Action Schools! BC ratio, one standard error of the ratio from
the published confidence intervals (delta method): with 16 intervention schools, two would admit
almost any value; for a range from a guide (2-4 years), the range itself; for a direction, the
threshold stated with it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .model import FULL, INITIAL, INSTALLATION, SpreadModel
from .scenario import Scenario, default_scenario, load_scenario

#: where the bundled scenarios live in a checkout
SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


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

    def passes(self, value: float) -> bool:
        return bool(np.isfinite(value) and self.low <= value <= self.high)

    @property
    def scale(self) -> float:
        """Half the tolerance interval (a finite one): the unit of the calibration distance."""
        lo = self.low if np.isfinite(self.low) else self.published - (self.high - self.published)
        hi = self.high if np.isfinite(self.high) else self.published + (self.published - self.low)
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


@dataclass(frozen=True)
class delivering_throughout:
    """Share of all sites delivering (installation to full) in every month from ``first`` to ``last``."""

    first: int
    last: int

    def __call__(self, m: SpreadModel, b: int) -> float:
        st = m.history.data["stage"][self.first:self.last + 1, m.block_slice(b)]
        return _mean(((st >= INSTALLATION) & (st <= FULL)).all(axis=0))


@dataclass(frozen=True)
class adopted_at:
    """Share of sites in initial or full implementation at ``month``."""

    month: int

    def __call__(self, m: SpreadModel, b: int) -> float:
        st = m.history.data["stage"][self.month, m.block_slice(b)]
        return _mean((st == INITIAL) | (st == FULL))


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


@dataclass(frozen=True)
class attributable_share:
    """Attributable benefit over benefit at ``month`` (what the programme adds to the observed improvement)."""

    month: int

    def __call__(self, m: SpreadModel, b: int) -> float:
        s = m.series_b
        total = s["benefit"][b, self.month] - s["benefit"][b, 0]
        cf = s["benefit_counterfactual"][b, self.month] - s["benefit_counterfactual"][b, 0]
        return float((total - cf) / total) if total > 0 else float("nan")


def _mean(x: np.ndarray) -> float:
    return float(np.mean(x)) if len(x) else float("nan")


# ---------------------------------------------------------------------------------- the suite
WONG = "Wong, Schaper & Saldana (2022), Rates of sustainment in the Universal Stages of Implementation Completion"
KEYSTONE = "Pronovost et al. (2006, NEJM; 2010, BMJ), Keystone ICU"

PATTERNS: tuple[Pattern, ...] = (
    Pattern("competence", "starters reaching competence (full implementation)", WONG, None,
            0.585, 208, 0.585 - binomial_tolerance(0.585, 208), 0.585 + binomial_tolerance(0.585, 208),
            wong_competence, "2 binomial SE, n = 208 sites"),
    Pattern("sustained_startup", "starters still delivering 2 years after start-up", WONG, None,
            0.371, 208, 0.371 - binomial_tolerance(0.371, 208), 0.371 + binomial_tolerance(0.371, 208),
            wong_sustained_startup, "2 binomial SE, n = 208 sites"),
    Pattern("sustained_competent", "starters still delivering 2 years after competence", WONG, None,
            0.251, 208, 0.251 - binomial_tolerance(0.251, 208), 0.251 + binomial_tolerance(0.251, 208),
            wong_sustained_competent, "2 binomial SE, n = 208 sites"),
    Pattern("months_to_full", "median months from exploration to full implementation",
            "NSPCC Scale-up Unit (source 001): two to four years", None, 36.0, None, 24.0, 48.0,
            months_to_full, "the published range, 24-48 months"),
    Pattern("keystone_sustained", "ICUs still delivering in every month 19-36", KEYSTONE, "cases/keystone_michigan.yaml",
            90 / 103, 103, 90 / 103 - binomial_tolerance(90 / 103, 103), 90 / 103 + binomial_tolerance(90 / 103, 103),
            delivering_throughout(19, 36), "2 binomial SE, n = 103 ICUs"),
    Pattern("keystone_uptake", "ICUs using the checklist (initial or full) at month 3", KEYSTONE,
            "cases/keystone_michigan.yaml", 0.5, 103, 0.5, 1.0, adopted_at(3),
            "at least half: the median ICU's infection rate had fallen to zero by month 3"),
    Pattern("voltage_drop", "effect per school, year 2 over year 1",
            "Nettlefold et al. (2021), Scaling up Action Schools! BC: how does voltage drop at scale affect "
            "student level outcomes?", "cases/action_schools_bc.yaml", AS_BC_RATIO, 16,
            AS_BC_RATIO - AS_BC_RATIO_SE, AS_BC_RATIO + AS_BC_RATIO_SE, year2_over_year1,
            "1 SE of the published ratio (delta method, 16 intervention schools)"),
)

PATTERN_NAMES = tuple(p.name for p in PATTERNS)


def pattern(name: str) -> Pattern:
    for p in PATTERNS:
        if p.name == name:
            return p
    raise KeyError(name)


def scenario_of(p: Pattern, root: Path = SCENARIOS) -> Scenario:
    return default_scenario() if p.scenario is None else load_scenario(root / p.scenario)


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
        reps = replicates.get(path, 20) if isinstance(replicates, dict) else int(replicates)
        seeds = [seed + r for r in range(reps)]
        m = SpreadModel(sc, seeds, agents=False, history=True).run_model()
        for p in group:
            out[p.name] = np.array([p.statistic(m, b) for b in range(reps)])
    return out


def report(values: dict[str, np.ndarray], patterns: tuple[Pattern, ...] = PATTERNS) -> pd.DataFrame:
    """One row per pattern: source, published value, tolerance, model mean +- SE (n), passed or not."""
    rows = []
    for p in patterns:
        v = values[p.name]
        v = v[np.isfinite(v)]
        mean = float(v.mean()) if len(v) else float("nan")
        se = float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else float("nan")
        rows.append({"pattern": p.name, "label": p.label, "source": p.source, "published": p.published,
                     "n_published": p.n, "low": p.low, "high": p.high, "tolerance": p.tolerance,
                     "model_mean": mean, "model_se": se, "replicates": len(v), "passed": p.passes(mean)})
    return pd.DataFrame(rows)


def format_report(df: pd.DataFrame) -> str:
    """The report as text lines that fit 100 columns."""
    lines = []
    for r in df.itertuples():
        ok = "pass" if r.passed else "FAIL"
        hi = "" if not math.isfinite(r.high) else f"{r.high:.3g}"
        lines.append(f"{ok}  {r.label}")
        lines.append(f"      published {r.published:.3g} (tolerance {r.low:.3g} to {hi or 'any'}: {r.tolerance})")
        lines.append(f"      model     {r.model_mean:.3g} +- {r.model_se:.2g} (SE, {r.replicates} replicates)")
        lines.append(f"      source    {r.source}")
    passed = int(df["passed"].sum())
    lines.append(f"{passed} of {len(df)} patterns within tolerance")
    return "\n".join(lines)


def deviations(values: dict[str, np.ndarray], patterns: tuple[Pattern, ...] = PATTERNS) -> np.ndarray:
    """Each pattern's deviation from its published value in units of its tolerance (0 = exact; |d| <= 1
    within tolerance); a one-sided pattern (at least, or at most, the published value) is 0 on its
    right side and beyond 1 on its wrong side."""
    out = []
    for p in patterns:
        v = values[p.name]
        v = v[np.isfinite(v)]
        if not len(v):
            out.append(np.inf)
            continue
        mean = float(v.mean())
        if p.low == p.published:  # at least the published value: 0 inside, beyond 1 below it
            out.append(0.0 if mean >= p.low else -1.0 - (p.low - mean) / p.scale)
        elif p.high == p.published:  # at most
            out.append(0.0 if mean <= p.high else 1.0 + (mean - p.high) / p.scale)
        else:
            out.append((mean - p.published) / p.scale)
    return np.array(out)


def distance(values: dict[str, np.ndarray], patterns: tuple[Pattern, ...] = PATTERNS) -> float:
    """The largest deviation (the calibration distance): below 1 when every pattern is within its tolerance."""
    return float(np.max(np.abs(deviations(values, patterns))))


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


def levers(sc: Scenario) -> dict[str, dict]:
    """The levers whose direction the literature does not dispute, as overrides of ``sc`` (a lever
    that does not apply to a scenario, such as more capacity when it is unlimited, is left out)."""
    st = sc.strategy
    out: dict[str, dict | None] = {}
    mech = sc.logics.mechanical.enabled
    if mech and st.support.capacity is not None:
        out["more support capacity"] = {"strategy.support.capacity": max(2 * st.support.capacity, st.support.capacity + 10)}
    f = st.support.funding_months
    if mech and f is not None and f < sc.months:
        out["longer funding"] = {"strategy.support.funding_months": f + 36}
    if mech:
        out["assurance"] = {"strategy.assurance.interval": 6 if st.assurance.interval == 0 else max(1, st.assurance.interval // 2)}
    if sc.workforce.turnover:
        out["lower turnover"] = _trait_lever(sc, "turnover", lambda d: _scaled_down(d, 0.5))
        out["more champions"] = _trait_lever(sc, "champions", lambda d: _more(d, 1.0))
    out["better fit"] = _trait_lever(sc, "fit", lambda d: _closer_to_one(d, 0.5))
    if sc.logics.social.enabled and sc.logics.social.legitimacy < 0.95:
        out["higher legitimacy"] = {"logics.social.legitimacy": min(1.0, sc.logics.social.legitimacy + 0.2)}
    return {k: v for k, v in out.items() if v}


DIRECTION_OUTCOMES = ("final adoption", "benefit", "per-site fidelity")


def _outcomes(m: SpreadModel) -> np.ndarray:
    """Per replicate: final adopted share, final benefit, and the fidelity of each site at the end
    (NaN where the site is not delivering), shape (replicates, 2 + sites)."""
    r = m.replicates
    adopted = m.series_b["adopted_share"][:r, -1]
    benefit = m.series_b["benefit"][:r, -1]
    stage = m.stage.reshape(m.R, m.N)[:r]
    fid = np.where((stage >= INSTALLATION) & (stage <= FULL), m.fidelity.reshape(m.R, m.N)[:r], np.nan)
    return np.column_stack([adopted, benefit, fid])


def check_directions(sc: Scenario, replicates: int = 20, seed: int = 1, levers_: dict | None = None,
                     z: float = 3.5) -> pd.DataFrame:
    """For each lever and outcome, the paired difference (lever minus as written) over replicates on
    common random numbers, its standard error, and whether it is significantly worse: below zero by
    more than ``z`` standard errors and by more than 1% of the outcome's level. Per-site fidelity is
    compared site by site, over the sites delivering in both runs of a replicate."""
    sc = sc.with_overrides({"outcomes.counterfactual": False}, label="directions")
    seeds = [seed + i for i in range(replicates)]
    base = _outcomes(SpreadModel(sc, seeds, agents=False).run_model())
    rows = []
    for name, ov in (levers(sc) if levers_ is None else levers_).items():
        alt = _outcomes(SpreadModel(sc.with_overrides(ov, label=f"lever {name!r}"), seeds, agents=False).run_model())
        for j, outcome in enumerate(DIRECTION_OUTCOMES):
            if j < 2:
                d, level = alt[:, j] - base[:, j], float(np.mean(np.abs(base[:, j])))
            else:
                both = np.isfinite(alt[:, 2:]) & np.isfinite(base[:, 2:])
                diff = np.where(both, alt[:, 2:] - base[:, 2:], 0.0)
                counts = both.sum(axis=1)
                d = np.divide(diff.sum(axis=1), counts, out=np.full(len(counts), np.nan), where=counts > 0)
                d = d[np.isfinite(d)]
                level = float(np.nanmean(base[:, 2:])) if np.isfinite(base[:, 2:]).any() else 0.0
            mean = float(np.mean(d)) if len(d) else float("nan")
            se = float(np.std(d, ddof=1) / math.sqrt(len(d))) if len(d) > 1 else float("nan")
            worse = bool(len(d) > 1 and mean < -z * se and mean < -0.01 * level)
            rows.append({"scenario": sc.name, "lever": name, "outcome": outcome, "difference": mean, "se": se,
                         "replicates": len(d), "worse": worse})
    return pd.DataFrame(rows)
