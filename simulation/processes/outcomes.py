"""Phase 6, outcomes: benefit to the people served, the secular trend, the counterfactual arm,
reach, sustainment, and the month's outputs.

**Effect per site.** What a site's delivery does for the people it serves, as a share of the
programme's efficacy (the effect under perfect delivery):

    effect = efficacy x coverage x fidelity x effective fit x competence,

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

**Reach**: people served by sites delivering, weighted by coverage (full 1, initial
``initial_reach``). **Sustainment** (the share of sites in full implementation at the reference
month still there ``sustain_window`` months later; the reference month is fixed for a scenario, so
strategies with different funding are compared at the same month) and the cohort measures of Wong,
Schaper & Saldana ("Rates of sustainment in the Universal Stages of Implementation Completion",
Implementation Science Communications 2022): of the sites that started up (first entered initial
implementation), the share that reached competence (full implementation), the share still
delivering two years after start-up, and two years after competence.
"""

from __future__ import annotations

import numpy as np

from ..schema import Section, param
from .stages import FULL, INITIAL, INSTALLATION, STAGES

#: the counterfactual arm as a scenario of its own: the same world with no programme (a test checks
#: that the arm run beside a scenario equals the scenario with these overrides, run alone)
NO_PROGRAMME = {"strategy.support.capacity": 0, "strategy.support.reserve": {}, "strategy.train_the_trainer.enabled": False,
                "strategy.assurance.interval": 0, "strategy.collaborative.enabled": False, "outcomes.counterfactual": False}

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
    counterfactual: bool = param(True, "also run the no-programme arm on the same random numbers (attributable benefit)")
    sustain_window: int = param(24, "months over which sustainment is measured", ge=1, unit="months",
                                source="number: Wong, Schaper & Saldana 2022 measure it two years on")
    sustain_reference: int | None = param(None, "reference month for sustainment (null = months - sustain_window)", ge=0,
                                          unit="months")


def init(m, sc) -> None:
    """Outputs per block, the visible-benefit memory and the sustainment cohorts."""
    T = m.months + 1
    R = m.R
    m.counts_b = np.zeros((R, T, len(STAGES)), np.int64)
    m.series_b = {k: np.zeros((R, T)) for k in SERIES}
    m.seen = np.zeros(m.n)
    m.effect = np.zeros(m.n)
    m.sustain_start = np.full(m.n, -1, np.int8)  # delivering sustain_window months after start-up (-1 not yet)
    m.sustain_competent = np.full(m.n, -1, np.int8)  # ... after reaching full implementation
    m._started: dict[int, np.ndarray] = {}  # month -> sites that first started up then
    m._competent: dict[int, np.ndarray] = {}  # month -> sites that first reached full implementation then
    m._block7 = m.block * len(STAGES)
    m._size_total = m.size.reshape(R, m.N).sum(axis=1)
    configure(m, sc)
    m._full_at_ref = None
    m.sustainment_b = np.full(R, np.nan)


def configure(m, sc) -> None:
    m.sustain = sustain_plan(sc, m.months)


def sustain_plan(sc, months: int) -> tuple[int, int] | None:
    """(reference month, measurement month) for sustainment, the same for every strategy of a scenario."""
    window = sc.outcomes.sustain_window
    ref = sc.outcomes.sustain_reference
    ref = months - window if ref is None else ref
    return (ref, ref + window) if 0 <= ref and ref + window <= months else None


def collect(m, sc) -> None:
    """Record month ``m.month``: stage counts, reach, fidelity, effect and benefit, costs, cohorts."""
    t = m.month
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
    eff *= m.competence
    eff *= oc.efficacy
    m.effect = eff
    gap = eff - m.seen
    gap *= 1.0 / oc.lag
    m.seen += gap  # what a site has seen its delivery do lately
    effect_people = (m.size * m.effect).reshape(R, N).sum(axis=1)
    tau = (1.0 - oc.trend) ** (t / 12.0)
    benefit = (1.0 - tau) * m._size_total + tau * effect_people
    s["benefit"][:, t] = benefit
    s["outcome"][:, t] = tau * (1.0 - effect_people / np.maximum(m._size_total, 1e-300))
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
        ref, end = m.sustain
        if t == ref:
            m._full_at_ref = full.copy()
        if t == end and m._full_at_ref is not None:
            base = m._per_block(m._full_at_ref)
            kept = m._per_block(full & m._full_at_ref)
            m.sustainment_b = np.divide(kept, base, out=np.full(R, np.nan), where=base > 0)
    if m.history is not None:
        m.history.record(m)


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
