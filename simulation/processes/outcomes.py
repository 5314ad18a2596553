"""Phase 6, outcomes: benefit to the people served, the secular trend, the counterfactual arm,
reach, sustainment, and the month's outputs.

**Effect per site.** What a site's delivery does for the people it serves, as a share of the
programme's efficacy (the effect under perfect delivery):

    effect = efficacy x coverage x fidelity x effective fit x competence,

(for a simple intervention, ``1 - 0.5 x (1 - competence)`` in place of competence: a checklist
needs less tacit know-how; ``transitions.SKILL_DEMAND``, NASSS, source 003),

with coverage 1 in full implementation, ``initial_reach`` in initial implementation (a site still
learning reaches part of its people) and 0 otherwise. Every way a programme's "voltage" drops on
its way from the trial to routine use acts through it: diluted training per train-the-trainer
generation, poor fit to the context, drift from fidelity, lost competence (Chambers, Glasgow &
Stange, "The dynamic sustainability framework: addressing the paradox of sustainment amid ongoing
change", Implementation Science 2013; Action Schools! BC's year-2 drop, Nettlefold et al. 2021).

**Benefit** (people-equivalents): the improvement in the outcome against its level at month 0, for
the people all sites serve, where the outcome also improves by itself with a background secular
trend (share per year): at month ``t`` a site's people have ``tau(t) x (1 - effect)`` of the
month-0 burden, ``tau(t) = (1 - trend) ** (t / 12)``, so

    benefit(t) = sum over sites of size x (1 - tau(t) x (1 - effect)).

**Counterfactual.** With ``outcomes.counterfactual`` the model also runs, side by side and on the
same random numbers (the same seed, network, traits and draws), the same sites with no programme:
no support, invitations, trainers, assurance or collaboratives (the pilot sites and any spread by
peers or by the sites' own initiative remain). ``attributable_benefit = benefit - benefit in the
counterfactual``: what the programme adds beyond the trend and beyond unaided spread. That is how
"the improvement was no better than the background trend" of Matching Michigan (Bion et al. 2013,
in Greenhalgh & Papoutsi 2019, source 004) shows in the model.

**Visible results against expectations.** Each month a site that has adopted (initial or full
implementation) sees its effect, smoothed over ``lag`` months (``seen``), and compares it with what
it was promised: the programme's promised effect ``efficacy x expected``, smoothed the same way from
the month it adopted (``expect``), so that ``relative = seen / expect`` compares like with like from
its first month of results. ``relative`` above 1 means results better than expected (they sustain:
:mod:`.transitions`, :mod:`.workforce` routine), below 1 worse (they erode). Scheirer, "Is
sustainability possible? A review and commentary on empirical studies of program sustainability",
American Journal of Evaluation 2005: programmes whose benefits are visible are the ones kept.

**Reach**: people served by sites delivering, weighted by coverage (full 1, initial
``initial_reach``). **Sustainment after funding ends**: the programme's cohort is the sites it
trained or supported (pilot sites included) that are delivering in the month its central funding
ends (``strategy.support.funding_months``); ``sustained_delivering_12``/``_24`` are the shares of
that cohort delivering 12 and 24 months later, ``sustained_full_12``/``_24`` the shares in full
implementation, and ``funding_end_cohort`` its size. Each strategy is measured from its own funding
end (a strategy that funds longer is not compared at a month where it is still funded). When funding
never ends, or the run ends too soon, they are not applicable (NaN), with the reason given by
:func:`sustain_note` (printed by ``spreadsim run`` and written to the manifest). The cohort measures
of Wong, Schaper & Saldana ("Rates of sustainment in the Universal Stages of Implementation
Completion", Implementation Science Communications 2022): of the sites that started up (first
entered initial implementation), the share that reached competence (full implementation), the share
still delivering two years after start-up, and two years after competence.
"""

from __future__ import annotations

import numpy as np

from ..blocks import per_block
from ..schema import CALIBRATED, Section, param
from .stages import FULL, INITIAL, INSTALLATION, STAGES
from .stages import SKILL_DEMAND

#: the counterfactual arm as a scenario of its own: the same world with no programme (a test checks
#: that the arm run beside a scenario equals the scenario with these overrides, run alone)
NO_PROGRAMME = {"strategy.support.capacity": 0, "strategy.support.reserve": {}, "strategy.train_the_trainer.enabled": False,
                "strategy.assurance.interval": 0, "strategy.collaborative.enabled": False,
                "strategy.light_touch.enabled": False, "strategy.seeding.n": 0, "strategy.seeding.sites": [],
                "outcomes.counterfactual": False}

SERIES = ("adopted", "adopted_share", "reach", "mean_fidelity", "benefit", "benefit_counterfactual",
          "attributable_benefit", "outcome", "support_used", "local_cost", "supported", "trainers")


class Outcomes(Section):
    """What the programme does for people, and how outcomes are measured."""

    efficacy: float = param(0.3, "effect on the people a site serves under perfect delivery (share of the outcome burden removed)",
                            ge=0, le=1, source="direction: typical evidence-based programme; value assumed")
    initial_reach: float = param(0.5, "share of its people a site in initial implementation reaches", ge=0, le=1,
                                 source="direction: NIRN (000), initial implementation is partial use; value assumed")
    trend: float = param(0.0, "background secular improvement of the outcome, share of the burden per year", ge=0, le=1,
                         unit="/year", source="direction: Matching Michigan (004); value per case")
    lag: float = param(6.0, "months over which a site sees its results (smoothing of what it sees)", ge=1, unit="months",
                       source="direction: Scheirer 2005, visible benefit; value assumed")
    expected: float = param(0.39, "effect a site expects from the programme's promise, as a share of efficacy", gt=0, le=1,
                            source=CALIBRATED)
    prior_practice: float = param(0.0, "share of the outcome burden the same practices, spread by other routes, had already "
                                  "removed before month 0 (relative to the burden without them)", ge=0, le=0.99,
                                  source="number: per case; Matching Michigan 1 - 3.7/7.7 (England's baseline rate over "
                                         "Michigan's; Bion et al. 2013, Pronovost et al. 2006); 0 = none")
    trend_practice: float = param(0.0, "share of the secular trend that is the same practices spreading by other routes "
                                  "(their effect and the programme's overlap instead of multiplying)", ge=0, le=1,
                                  source="direction: Bion et al. 2013 (in source 004), England's fall came with national "
                                         "campaigns for the same bundle; value assumed per case")
    counterfactual: bool = param(True, "also run the no-programme arm on the same random numbers (attributable benefit)")
    sustain_window: int = param(24, "months after start-up and after competence over which the Wong cohort rates are measured",
                                ge=1, unit="months", source="number: Wong, Schaper & Saldana 2022 measure it two years on")


def overlaps(oc) -> bool:
    """Whether the programme's practices overlap those the secular trend (or earlier campaigns) spread."""
    return oc.trend_practice > 0 or oc.prior_practice > 0


def burden(oc, t, effect):
    """Each site's outcome burden at month ``t`` (a number or an array broadcasting against
    ``effect``) relative to its month-0 burden, given its delivery's ``effect``.

    Without overlap (the default) this is ``tau(t) x (1 - effect)``: the trend and the programme
    multiply. When the trend is, for a share ``trend_practice`` (phi), the *same practices* spreading
    by other routes (national campaigns, guidelines), and those routes had already removed a share
    ``prior_practice`` (p0) of the burden before month 0, a site's practice removes the larger of
    what the other routes have brought it and what its own delivery does, not both (doing the
    checklist twice does not halve infections twice):

        practice(t) = 1 - (1 - p0) x tau(t) ** phi
        burden(t)   = tau(t) ** (1 - phi) x (1 - max(practice(t), effect)) / (1 - p0)

    Effects and practice are shares of the burden without the practices. Bion et al., "Matching
    Michigan" (BMJ Quality & Safety 2013; in Greenhalgh & Papoutsi 2019, source 004): England's rates
    fell with a secular trend, no faster after the programme, in a country where national campaigns
    had spread the same bundle before and during it; its baseline rate (3.7 per 1,000 catheter-days)
    was about half Michigan's before Keystone (7.7, Pronovost et al. 2006), and both programmes
    ended near the same rate (1.48 and 1.4).
    """
    tau = (1.0 - oc.trend) ** (np.asarray(t, dtype=float) / 12.0)
    if not overlaps(oc):
        return tau * (1.0 - effect)
    phi, p0 = oc.trend_practice, oc.prior_practice
    practice = 1.0 - (1.0 - p0) * tau ** phi
    return tau ** (1.0 - phi) * (1.0 - np.maximum(practice, effect)) / (1.0 - p0)


def init(m, sc) -> None:
    """Outputs per block, the visible-benefit memory and the sustainment cohorts."""
    T = m.months + 1
    R = m.R
    m.counts_b = np.zeros((R, T, len(STAGES)), np.int64)
    m.series_b = {k: np.zeros((R, T)) for k in SERIES}
    m.seen = np.zeros(m.n)
    m.expect = np.zeros(m.n)
    m.effect = np.zeros(m.n)
    m.sustain_start = np.full(m.n, -1, np.int8)  # delivering sustain_window months after start-up (-1 not yet)
    m.sustain_competent = np.full(m.n, -1, np.int8)  # ... after reaching full implementation
    m._started: dict[int, np.ndarray] = {}  # month -> sites that first started up then
    m._competent: dict[int, np.ndarray] = {}  # month -> sites that first reached full implementation then
    m._block7 = m.block * len(STAGES)
    m._size_total = m.size.reshape(R, m.N).sum(axis=1)
    m.sustain = _sustain_months(m, sc)
    m.sustain_cohort = None  # the programme's sites delivering when funding ended
    m.sustain_b = {k: np.full(R, np.nan) for k in SUSTAIN_KEYS}


#: sustainment after the programme's funding ends (``runner.SUMMARY_KEYS``)
SUSTAIN_KEYS = ("sustained_delivering_12", "sustained_delivering_24", "sustained_full_12", "sustained_full_24",
                "funding_end_cohort")


def sustain_plan(sc) -> int | None:
    """The month the programme's central funding ends (its last funded month), or None when it never does."""
    f = sc.strategy.support.funding_months
    if f is None or not sc.logics.mechanical.enabled:
        return None
    return int(f)


def _sustain_months(m, sc) -> int | np.ndarray | None:
    """:func:`sustain_plan`, or in a batch whose blocks differ in ``funding_months``
    (:mod:`simulation.blocks`) each block's own funding end (an int per block)."""
    f = sc.strategy.support.funding_months
    if isinstance(f, np.ndarray) and sc.logics.mechanical.enabled:
        return per_block(m, f).astype(np.int64)
    return sustain_plan(sc)


def sustain_note(sc, months: int | None = None) -> str | None:
    """Why sustainment after funding ends is not applicable (NaN) in a run of ``sc``, or None when it is."""
    months = sc.months if months is None else months
    f = sc.strategy.support.funding_months
    if not sc.logics.mechanical.enabled:
        return "sustainment after funding ends: not applicable, there is no programme (mechanical logic off)"
    if f is None:
        return "sustainment after funding ends: not applicable, central funding never ends (support.funding_months is null)"
    if f >= months:
        return f"sustainment after funding ends: not applicable, funding ends at month {f}, not before the run's end ({months})"
    if f + 12 > months:
        return f"sustainment after funding ends: not applicable, the run ends {months - f} months after funding ends (12 needed)"
    if f + 24 > months:
        return f"sustained_*_24: not applicable, the run ends {months - f} months after funding ends (24 needed)"
    return None


def collect(m, sc) -> None:
    """Record month ``m.month``: stage counts, reach, fidelity, effect and benefit, costs, cohorts."""
    t = m.month
    R, N = m.R, m.N
    oc = sc.outcomes
    s = m.series_b
    (_sites_kernel if m._kern else _sites)(m, sc, t)
    if overlaps(oc):  # the programme's practices overlap the trend's: per site (see burden)
        left = (m.size * burden(oc, t, m.effect)).reshape(R, N).sum(axis=1)
        benefit = m._size_total - left
        s["outcome"][:, t] = left / np.maximum(m._size_total, 1e-300)
    else:
        effect_people = (m.size * m.effect).reshape(R, N).sum(axis=1)
        tau = (1.0 - oc.trend) ** (t / 12.0)
        benefit = (1.0 - tau) * m._size_total + tau * effect_people
        s["outcome"][:, t] = tau * (1.0 - effect_people / np.maximum(m._size_total, 1e-300))
    s["benefit"][:, t] = benefit
    if m.counterfactual:
        r = m.replicates
        s["benefit_counterfactual"][:r, t] = benefit[r:]
        s["attributable_benefit"][:r, t] = benefit[:r] - benefit[r:]
        s["benefit_counterfactual"][r:, t] = benefit[r:]
        s["attributable_benefit"][r:, t] = 0.0
    else:
        s["benefit_counterfactual"][:, t] = np.nan
        s["attributable_benefit"][:, t] = np.nan
    s["support_used"][:, t] = m.support_used_b
    s["local_cost"][:, t] = m.local_cost_b
    s["supported"][:, t] = m._per_block(m.supported)
    s["trainers"][:, t] = m._per_block(m.trainer)
    _cohorts(m, sc, t)
    if m.sustain is not None:
        _sustainment(m, t, m.stage == FULL)
    if m.history is not None:
        m.history.record(m)


def _sites(m, sc, t: int) -> None:
    """:func:`collect`'s per-site part for month ``t``: stage counts, adopted, reach and fidelity;
    each site's effect, what it has seen and expected."""
    R, N = m.R, m.N
    oc = sc.outcomes
    stage = m.stage
    if R == 1:  # seven flat counts beat bincount's conversion of the stage codes
        counts = np.array([[np.count_nonzero(stage == k) for k in range(len(STAGES))]])
    else:
        counts = np.bincount(m._block7 + stage, minlength=R * len(STAGES)).reshape(R, len(STAGES))
    m.counts_b[:, t] = counts
    full = stage == FULL
    initial = stage == INITIAL
    adopted = counts[:, INITIAL] + counts[:, FULL]
    s = m.series_b
    s["adopted"][:, t] = adopted
    s["adopted_share"][:, t] = adopted / N
    # masked products summed per block (np.sum(where=) is several times slower; BLAS dots start
    # threads): the same code for one block or many, so batches stay bit-identical
    coverage = initial * oc.initial_reach
    coverage += full
    reached = m.size * coverage
    s["reach"][:, t] = reached.reshape(R, N).sum(axis=1)
    fid = (m.fidelity * (initial | full)).reshape(R, N).sum(axis=1)
    s["mean_fidelity"][:, t] = np.divide(fid, adopted, out=np.full(R, np.nan), where=adopted > 0)
    eff = coverage * m.fidelity
    eff *= m.fit_eff
    demand = SKILL_DEMAND[sc.stages.complexity]
    if demand == 1.0:
        eff *= m.competence
    else:  # a simple intervention depends less on tacit know-how (NASSS, source 003)
        eff *= 1.0 - demand * (1.0 - m.competence)
    eff *= oc.efficacy
    m.effect = eff
    gap = eff - m.seen
    gap *= 1.0 / oc.lag
    m.seen += gap  # what a site has seen its delivery do lately
    if oc.expected > 0:
        # what it expected over the same months: the programme's promise, smoothed the same way
        adopted_now = initial | full
        np.multiply(adopted_now, oc.efficacy * oc.expected, out=gap)
        gap -= m.expect
        gap *= 1.0 / oc.lag
        m.expect += gap
        np.divide(m.seen, m.expect, out=m.relative, where=m.expect > 1e-12)
        m.relative[m.expect <= 1e-12] = 1.0


def _sites_kernel(m, sc, t: int) -> None:
    """:func:`_sites` with the compiled kernel (:func:`simulation.kernels.collect_sites`): the same
    formulas site by site in one pass; the sums over sites stay numpy's, over the same terms."""
    from .. import kernels

    R, N, n = m.R, m.N, m.n
    oc = sc.outcomes
    P = kernels.P
    counts = np.zeros((R, len(STAGES)), np.int64)
    reached, fid = np.empty(n), np.empty(n)
    m.effect = np.empty(n)
    kernels.collect_sites(N, m.stage, m.size, m.fidelity, m.fit_eff, m.competence, P(oc.initial_reach, n),
                          P(SKILL_DEMAND[sc.stages.complexity], n), P(oc.efficacy, n), P(oc.lag, n),
                          P(oc.expected, n), oc.expected > 0, counts, reached, fid, m.effect, m.seen, m.expect,
                          m.relative)
    m.counts_b[:, t] = counts
    adopted = counts[:, INITIAL] + counts[:, FULL]
    s = m.series_b
    s["adopted"][:, t] = adopted
    s["adopted_share"][:, t] = adopted / N
    s["reach"][:, t] = reached.reshape(R, N).sum(axis=1)
    fid = fid.reshape(R, N).sum(axis=1)
    s["mean_fidelity"][:, t] = np.divide(fid, adopted, out=np.full(R, np.nan), where=adopted > 0)


def _sustainment(m, t: int, full: np.ndarray) -> None:
    """The programme's cohort at its funding end and the shares still delivering / in full 12 and
    24 months later (per block; the counterfactual arms have no programme and stay NaN). In a batch
    whose blocks differ in ``funding_months`` (:mod:`simulation.blocks`) each block's cohort is taken
    at its own funding end and followed from there: the same operations as a run alone, block by
    block."""
    f = np.broadcast_to(m.sustain, (m.R,))
    ends = f == t
    if ends.any():
        if m.sustain_cohort is None:
            m.sustain_cohort = np.zeros(m.n, bool)
        now = np.repeat(ends, m.N)
        cohort = _funding_end_cohort(m)
        m.sustain_cohort[now] = cohort[now]
        n = m._per_block(cohort).astype(np.float64)
        m.sustain_b["funding_end_cohort"] = np.where(ends, np.where(m.programme_b, n, np.nan),
                                                     m.sustain_b["funding_end_cohort"])
    if m.sustain_cohort is None:
        return
    for lag in (12, 24):
        due = f + lag == t
        if due.any():
            for key, value in _sustained_shares(m, lag, full).items():
                m.sustain_b[key] = np.where(due, value, m.sustain_b[key])


def _funding_end_cohort(m) -> np.ndarray:
    """The programme's sites (trained, supported or pilot) delivering now."""
    delivering = (m.stage >= INSTALLATION) & (m.stage <= FULL)
    return delivering & (m.ever_supported | m.seed_site | (m.generation >= 1)) & m.prog_site


def _sustained_shares(m, lag: int, full: np.ndarray) -> dict[str, np.ndarray]:
    """Per block, the share of the funding-end cohort delivering and in full ``lag`` months on."""
    c = m.sustain_cohort
    base = m._per_block(c)
    delivering = (m.stage >= INSTALLATION) & (m.stage <= FULL)
    ok = base > 0
    return {key: np.divide(m._per_block(mask & c), base, out=np.full(m.R, np.nan), where=ok)
            for key, mask in ((f"sustained_delivering_{lag}", delivering), (f"sustained_full_{lag}", full))}


def _cohorts(m, sc, t: int) -> None:
    """Wong, Schaper & Saldana's measures: delivering ``sustain_window`` months after start-up and
    after competence, recorded once per site as each site's month comes (the sites that started up
    or reached full implementation in a month are listed by :func:`note_milestones`)."""
    w = sc.outcomes.sustain_window
    for events, out in ((m._started, m.sustain_start), (m._competent, m.sustain_competent)):
        due = events.pop(t - w, None)
        if due is not None and len(due):
            st = m.stage[due]
            out[due] = (st >= INSTALLATION) & (st <= FULL)


def note_milestones(m, month: int, started: np.ndarray, competent: np.ndarray) -> None:
    """Remember the sites that first started up (``started``) or first reached full implementation
    (``competent``) this month, for the sustainment cohorts."""
    if len(started):
        m._started[month] = started
    if len(competent):
        m._competent[month] = competent


class History:
    """Per-month, per-site state for ``result.site_history`` (asked for with ``history=True``).

    Stores stage, fidelity, competence, capacity, support and benefit (people-equivalents of effect)
    of every site every month, as compact arrays (14 bytes per site-month).
    """

    FIELDS = {"stage": np.int8, "fidelity": np.float32, "competence": np.float32, "capacity": np.float32,
              "supported": np.bool_, "benefit": np.float32}

    def __init__(self, m):
        T = m.months + 1
        self.data = {k: np.zeros((T, m.n), dt) for k, dt in self.FIELDS.items()}
        self.months = 0

    def record(self, m) -> None:
        t = m.month
        d = self.data
        d["stage"][t] = m.stage
        d["fidelity"][t] = m.fidelity
        d["competence"][t] = m.competence
        d["capacity"][t] = m.capacity
        d["supported"][t] = m.supported
        d["benefit"][t] = m.size * m.effect
        self.months = t + 1
