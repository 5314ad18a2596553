"""Phase 1, the programme: who is seeded, invited, supported and trained, and what it costs.

The implementation-science side of scale-up (Greenhalgh & Papoutsi 2019, source 004; NIRN, source
000): a central programme with limited support capacity invites sites in the order of its seeding
rule, in rollout waves, and supports those engaged through exploration, installation and initial
implementation (coaching and training: :mod:`.workforce`, :mod:`.delivery`). Support slots come in
pools: the central capacity (part of which may be reserved for a group, for equity), and the slots
of trainer sites (a train-the-trainer cascade: Action Schools! BC's 225 regional trainers, source
004; NSPCC, source 001). A site trained by a trainer is one generation further from the developers
than its trainer; each generation dilutes the training (the "voltage drop" of Chambers, Glasgow &
Stange, "The dynamic sustainability framework", Implementation Science 2013, cited in source 000).

Funding: the central capacity exists while the programme is funded (``funding_months``); a funding
cut shock removes a share of it. Intake: by default the programme takes in new sites until its last
funded month; with ``intake_months`` it stops taking in new sites after that month and only sees
through those it already supports. Implementation takes two to four years (NSPCC, source 001; NIRN,
source 000), so a site taken in during the last funded year is cut off part-way through it, and
such sites rarely keep delivering (docs/validation.md, Scheirer). Grant-funded programmes, whose
sites are funded from the start of the grant, are written with a short intake. Trainers may keep
training after funding ends; their support is then a local cost, counted apart from the
programme's cost. Breakthrough collaboratives link
cohorts of sites by new lateral ties (THIS Institute guide, source 003).

Two tiers of support, usable together: the *intensive* tier is the support slots above (coaching,
one site per slot, until full implementation); the *light-touch* tier (``strategy.light_touch``)
registers many sites at once, each month up to its capacity, with a one-day workshop and a resource
kit (Action Schools! BC's workshops for teachers, source 004; McKay et al. 2015). A registered site
is trained, but less well (``quality``: lower entry competence and fidelity; Fixsen et al. 2005:
information and one-off training alone rarely produce faithful use), gets a modest push through the
stages while the tier runs, and no coaching; it may later take a free intensive slot.

Every lever costs something, in the programme's budget (``support_used``) or the local one
(``local_cost``): support slots, trainers while funded, light-touch registrations, audits and
collaboratives are the programme's; trainers after funding and onboarding with the replication
package are local. Costs are in support units (1 unit = one site supported for a month).

Pilot sites (the seeds) are trained like every other site: they start with the competence and
fidelity of a site the programme trained (a seed that starts in full implementation has, by the
definition of that stage, at least the competence and fidelity full implementation needs).

The counterfactual arm (:mod:`.outcomes`) runs the same sites and random numbers with no programme
at all: its blocks get no seeds, support, invitations, trainers, light-touch tier, assurance or
collaboratives.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field, model_validator

from ..blocks import per_block
from ..errors import fail
from ..rng import Streams
from ..schema import Section, param
from .stages import EXPLORATION, FULL, INITIAL, INSTALLATION, NOT_ENGAGED, DECLINED

#: a site's support: none, a central slot, a trainer's slot
NONE, CENTRAL, TRAINER = 0, 1, 2


class Seeding(Section):
    """Which sites start (the seeds, at month 0) and the order in which the programme invites the rest."""

    rule: Literal["random", "most_ready", "most_central", "opinion_leaders", "by_group", "sites"] = param(
        "random", "order in which sites are seeded and invited by the programme")
    n: int = param(5, "number of seed sites at month 0 (the pilot sites)", ge=0, unit="sites")
    stage: Literal["exploration", "installation", "initial", "full"] = param("full", "stage the seeds start in")
    group: str | None = param(None, "by_group: the group seeded and invited first")
    sites: list[str | int] = Field(default_factory=list, description="sites: site ids seeded first (in order)")


class Support(Section):
    """The central programme's support: how many sites at once, for how long, at what cost."""

    capacity: int | None = param(20, "sites the programme can support at once (null = unlimited)", ge=0, unit="sites")
    funding_months: int | None = param(60, "months the central programme is funded (null = throughout)", ge=0, unit="months")
    cost: float = param(1.0, "support units per supported site-month (1 unit = one site supported for a month)", ge=0, unit="units")
    intake_months: int | None = param(
        None, "months during which the central programme takes in new sites (null = while it is funded); afterwards "
        "it only sees through the sites it already supports", ge=0, unit="months",
        source="direction: NIRN (000), implementation takes 2-4 years, so sites taken in late are cut off part-way; "
               "value per case")
    aftercare: int = param(0, "months a site keeps its support into full implementation (0: support ends when it gets there)",
                           ge=0, unit="months", source="direction: NIRN (000), coaching continues into full implementation; value per case")
    reserve: dict[str, int] = Field(
        default_factory=dict,
        description="central slots reserved for a group's sites ({group: slots}); the rest serve any site")

    @model_validator(mode="after")
    def _reserve(self) -> "Support":
        bad = [g for g, k in self.reserve.items() if k < 0]
        if bad:
            raise ValueError(f"reserved slots must not be negative ({', '.join(bad)})")
        if self.reserve and self.capacity is not None and sum(self.reserve.values()) > self.capacity:
            raise ValueError(f"reserved slots ({sum(self.reserve.values())}) exceed the capacity ({self.capacity})")
        if self.reserve and self.capacity is None:
            raise ValueError("reserve needs a limited capacity: with capacity null every site is supported")
        return self


class Waves(Section):
    """Rollout in waves: sites become eligible for support in batches, in seeding order or group by group."""

    every: int = param(0, "months between rollout waves (0 = no waves: everyone eligible at once)", ge=0, unit="months")
    size: int | None = param(50, "sites made eligible per wave (null with `order`: one group per wave)", ge=1, unit="sites")
    order: list[str] = Field(default_factory=list,
                             description="groups in rollout order (every group, each once): waves go group by group")

    @model_validator(mode="after")
    def _order(self) -> "Waves":
        if len(set(self.order)) != len(self.order):
            raise ValueError("order lists a group twice")
        if self.size is None and not self.order:
            raise ValueError("size null means one group per wave: give the groups' order too")
        return self


class TrainTheTrainer(Section):
    """A train-the-trainer cascade: experienced sites become trainers who add support slots."""

    enabled: bool = param(False, "experienced sites become trainers (Action Schools! BC, source 004)")
    after: int = param(12, "months in full implementation before a site can train others", ge=0, unit="months",
                       source="direction: NSPCC (001), trainers need experience; value assumed")
    trainees: int = param(3, "support slots each trainer adds", ge=0, unit="sites",
                          source="direction: Action Schools! BC (004); value assumed")
    max_trainers: int | None = param(None, "cap on trainers (null = none)", ge=0)
    after_funding: bool = param(True, "trainers keep training after central funding ends (then a local cost)")
    dilution: float = param(0.1, "share of training quality lost per generation away from the developers", ge=0, le=1,
                            source="direction: voltage drop (Chambers et al. 2013, in 000); value assumed")


class LightTouch(Section):
    """The light-touch tier: registration, a one-day workshop and a resource kit, many sites at once."""

    enabled: bool = param(False, "a light-touch tier beside the support slots (Action Schools! BC workshops, source 004)")
    capacity: int = param(50, "sites the tier can register a month (workshop places)", ge=0, unit="sites/month")
    months: int | None = param(None, "months the tier registers sites (null = while the programme is funded)", ge=0,
                               unit="months")
    quality: float = param(0.6, "training quality of a workshop and kit, as a share of the programme's full training "
                           "(entry competence and fidelity)", ge=0, le=1,
                           source="direction: Fixsen et al. 2005 (000), one-off training alone rarely produces faithful use; "
                                  "value assumed")
    progress: float = param(0.1, "monthly pressure to move on a stage of a registered site in the pipeline (kit, workshop)",
                            ge=0, le=1, unit="/month", source="direction: NIRN (000), installation needs resources; value assumed")
    cost: float = param(0.25, "support units per site registered (a workshop place and a kit)", ge=0, unit="units",
                        source="direction: McKay et al. 2015 (in 004), a one-day workshop and a kit, less than a month of coaching (1 unit); value assumed")


class Collaborative(Section):
    """Breakthrough collaboratives: cohorts of sites linked by new lateral ties, learning together."""

    enabled: bool = param(False, "breakthrough collaboratives: new lateral ties and shared learning (source 003)")
    start: int = param(12, "month the collaboratives form", ge=0, unit="months")
    size: int = param(10, "sites per collaborative", ge=2)
    members: Literal["engaged", "all"] = param("engaged", "who joins: sites engaged at the start, or all")
    learning: float = param(0.03, "extra monthly competence gain of members", ge=0, le=1, unit="/month",
                            source="direction: THIS Institute (003); value assumed")
    cost: float = param(0.05, "support units per member-month", ge=0, unit="units",
                       source="direction: THIS Institute (003), a collaborative needs a facilitator's time; value assumed")


# ------------------------------------------------------------------------------------ set-up
def init(m, sc) -> None:
    """Support state, the programme's order of sites, waves and the seeds (month 0)."""
    n, R = m.n, m.R
    m.supported = np.zeros(n, bool)
    m.support_kind = np.zeros(n, np.int8)  # NONE, CENTRAL or TRAINER this month
    m._pools = None  # per pool: its sites' mask (None = any) and its supported set
    m.ever_supported = np.zeros(n, bool)
    m.dep_fade = np.zeros(n)  # exp(-months since support ended / dependency_fade); 0 while supported or never
    m.invited = np.zeros(n, bool)
    m.trainer = np.zeros(n, bool)
    m.member = np.zeros(n, bool)
    m.generation = np.zeros(n, np.int16)  # 0 untrained, 1 trained centrally, g + 1 by a generation-g trainer
    m.support_used_b = np.zeros(R)
    m.local_cost_b = np.zeros(R)
    m.cut_b = np.zeros(R)  # share of central capacity removed by funding-cut shocks
    m.funded_b = m.programme_b.copy()
    m.funded = bool(m.funded_b[0])
    m.funded_site = np.repeat(m.funded_b, m.N)
    m.audited = None
    m.last_audit = np.full(m.n, -1, np.int32)
    m.dilution = 1.0  # training quality per site: (1 - dilution) per generation beyond the first
    m.light = np.zeros(n, bool)  # registered by the light-touch tier
    m.light_invited = np.zeros(n, bool)
    m.light_push = None  # per site, the light-touch tier's progress pressure this month (None: none)
    configure(m, sc)
    _seed_sites(m, sc)


def configure(m, sc) -> None:
    """What the programme derives from the scenario: the order of sites and the waves (also on switch)."""
    _priority(m, sc)
    _waves(m, sc)
    groups = set(m.group_labels.tolist())
    for g in sc.strategy.support.reserve:
        if g not in groups:
            raise fail(sc.source, "strategy.support.reserve", f"no group '{g}'; groups are: {', '.join(sorted(groups))}")


def _priority(m, sc) -> None:
    """Order in which the programme seeds and invites sites (the seeding rule); ties broken at random."""
    rule = sc.strategy.seeding.rule
    N = m.N
    listed = _listed_seeds(m, sc)
    m.rank = np.empty(m.n, np.int64)
    m._order = np.empty(m.n, np.int64)
    for b in range(m.R):
        sl = slice(b * N, (b + 1) * N)
        # a fresh ``seeding`` stream each time, so that deriving the order again (on switch) gives the same ties
        tie = Streams(m.block_seeds[b])["seeding"].random(N)
        if rule == "most_ready":
            score = (m.capacity0[sl] + m.leadership[sl] + m.fit[sl]) / 3.0
        elif rule == "most_central":
            score = m.degree[sl].astype(float)
        elif rule == "opinion_leaders":
            score = m.prestige[sl]
        elif rule == "by_group":
            g = sc.strategy.seeding.group
            groups = set(m.group[sl].tolist())
            if g is None or g not in groups:
                raise fail(sc.source, "strategy.seeding.group",
                           f"by_group needs a group that exists; groups are: {', '.join(sorted(map(str, groups)))}")
            score = (m.group[sl] == g).astype(float)
        else:
            score = np.zeros(N)
        if len(listed):
            score = score.copy()
            score[listed] = np.inf  # listed sites first, in the order given (via tie below)
            tie[listed] = -1.0 + np.arange(len(listed)) / (len(listed) + 1)
        order = np.lexsort((tie, -score))
        m.rank[b * N + order] = np.arange(N)
        m._order[sl] = b * N + order


def _waves(m, sc) -> None:
    """Month from which each site is eligible for the programme's invitation (rollout waves)."""
    w = sc.strategy.waves
    if w.every == 0:
        m.eligible_from = np.zeros(m.n, np.int64)
        return
    if not w.order:
        m.eligible_from = (m.rank // w.size) * w.every
        return
    labels = m.group_labels.tolist()
    unknown = [g for g in w.order if g not in labels]
    if unknown:
        raise fail(sc.source, "strategy.waves.order", f"no group {', '.join(map(repr, unknown))}; groups are: {', '.join(labels)}")
    missing = [g for g in labels if g not in w.order]
    if missing:
        raise fail(sc.source, "strategy.waves.order", f"list every group once; missing: {', '.join(missing)}")
    position = np.array([w.order.index(g) for g in labels])[m.group_index]
    if w.size is None:
        m.eligible_from = position.astype(np.int64) * w.every
        return
    N = m.N
    m.eligible_from = np.empty(m.n, np.int64)
    for b in range(m.R):
        sl = slice(b * N, (b + 1) * N)
        order = np.lexsort((m.rank[sl], position[sl]))  # groups in rollout order, then the seeding order
        wave_rank = np.empty(N, np.int64)
        wave_rank[order] = np.arange(N)
        m.eligible_from[sl] = (wave_rank // w.size) * w.every


def _listed_seeds(m, sc) -> np.ndarray:
    listed = sc.strategy.seeding.sites
    if not listed:
        return np.zeros(0, np.int64)
    lookup = {str(s): i for i, s in enumerate(m.ids.tolist())}
    missing = [str(s) for s in listed if str(s) not in lookup]
    if missing:
        raise fail(sc.source, "strategy.seeding.sites", f"not sites of this network: {', '.join(missing[:5])}")
    idx = [lookup[str(s)] for s in listed]
    if len(set(idx)) != len(idx):
        raise fail(sc.source, "strategy.seeding.sites", "a site is listed twice")
    return np.array(idx, np.int64)


def _seed_sites(m, sc) -> None:
    """The pilot sites: the first ``seeding.n`` in the programme's order start in ``seeding.stage``.

    Pilot sites are trained like every other site the programme trains (generation 1): they start
    with fidelity ``delivery.entry_fidelity`` and competence ``workforce.training``; a pilot site
    that starts in full implementation has at least what that stage means
    (``stages.competence_for_full``, ``stages.fidelity_for_full``). The counterfactual arms have no
    pilot sites (no programme at all).
    """
    seeding = sc.strategy.seeding
    k = len(seeding.sites) if seeding.sites else seeding.n
    if k > m.N:
        raise fail(sc.source, "strategy.seeding.n", f"cannot seed {k} sites: the network has {m.N}")
    seeds = m._order.reshape(m.R, m.N)[: m.replicates, :k].ravel()
    stage = {"exploration": EXPLORATION, "installation": INSTALLATION, "initial": INITIAL, "full": FULL}[seeding.stage]
    if sc.pipeline == "instant":
        stage = FULL
    m.stage[seeds] = stage
    m.months_in_stage[seeds] = m._min_months[stage]  # they have spent their stage's minimum before month 0
    fid, comp = sc.delivery.entry_fidelity, sc.workforce.training
    if stage == FULL:
        fid, comp = max(fid, sc.stages.fidelity_for_full), max(comp, sc.stages.competence_for_full)
    m.fidelity[seeds] = fid
    m.competence[seeds] = comp
    m.generation[seeds] = 1
    m.seed_site = np.zeros(m.n, bool)
    m.seed_site[seeds] = True
    if stage >= INITIAL:
        m.adopted_month[seeds] = 0
    if stage == FULL:
        m.full_month[seeds] = 0


# ------------------------------------------------------------------------------------- phase 1
def allocate(m, sc) -> None:
    """Funding, collaboratives, trainers, support slots and invitations for this month.

    Each pool of slots keeps the sites it supports while they are in exploration, installation or
    initial implementation, and for ``aftercare`` months of full implementation (support ends when
    a site gets there, declines or discontinues), then fills free slots with engaged sites in the programme's order, then invites
    the best-ranked eligible sites not yet engaged into the slots still free. After ``intake_months``
    the central pools neither fill nor invite (trainers' slots still do: the cascade is not the
    central programme's intake).
    """
    st = sc.strategy
    month = m.month
    f = per_block(m, st.support.funding_months)  # per block in a batch (simulation.blocks)
    m.funded_b = m.programme_b & (f is None or month <= f)
    m.funded = bool(m.funded_b[0])
    m.funded_site = np.repeat(m.funded_b, m.N) if m.R > 1 else np.full(m.n, m.funded)
    if st.collaborative.enabled and month == st.collaborative.start:
        _form_collaboratives(m, sc)
    _audits(m, sc)
    _package_cost(m, sc)
    if not m._mech_on:
        return
    stage = m.stage
    pipeline = (stage >= EXPLORATION) & (stage <= INITIAL)
    ttt = st.train_the_trainer
    if ttt.enabled:
        cand = ((stage == FULL) & (m.months_in_stage >= ttt.after) & (m.competence >= 0.5)
                & (m.fidelity >= sc.stages.fidelity_for_full) & m.prog_site)
        m.trainer[:] = False
        m.trainer[m._top_k(cand, m.N if ttt.max_trainers is None else ttt.max_trainers)] = True
        active = m.funded_b | (m.programme_b & ttt.after_funding)
        trainer_slots = ttt.trainees * m._per_block(m.trainer) * active
    else:
        trainer_slots = None
    if m._pools is None:
        m._pools = _make_pools(m, sc)
    cap = per_block(m, st.support.capacity)  # per block in a batch (simulation.blocks)
    base = np.where(m.funded_b, (m.N if cap is None else cap) * (1.0 - m.cut_b), 0.0).astype(np.int64)
    general = base - sum(st.support.reserve.values())
    taken = np.zeros(m.n, bool)
    intake_b = _intake_open(m, st)  # per block; after its intake a block's central slots only keep their sites
    take_in = pipeline if intake_b is None else pipeline & np.repeat(intake_b, m.N)
    keep = pipeline
    if st.support.aftercare > 0:
        keep = pipeline | ((stage == FULL) & (m.months_in_stage < st.support.aftercare))
    free = []
    for pool in m._pools:
        if pool["kind"] == TRAINER:
            k = trainer_slots if trainer_slots is not None else np.zeros(m.R, np.int64)
        elif pool["mask"] is None:
            k = np.maximum(general, 0)
        else:
            k = np.where(m.funded_b, np.minimum(pool["slots"], base), 0)
        if pool["kind"] == TRAINER:  # the cascade is not the central programme's intake
            free.append(_fill(m, pool, keep, pipeline, taken, k))
        else:  # a closed intake: the slots neither fill from the pipeline nor invite
            free_k = _fill(m, pool, keep, take_in, taken, k)
            free.append(free_k if intake_b is None else np.where(intake_b, free_k, 0))
    # invitations into the slots still free, each pool among the sites it may serve
    reentry = (stage >= DECLINED) & (m.months_in_stage >= sc.stages.reentry_delay)
    candidates = ((stage == NOT_ENGAGED) | reentry) & (m.eligible_from <= month) & m.prog_site
    m.invited[:] = False
    for pool, k in zip(m._pools, free):
        if (k > 0).any():
            c = candidates & ~m.invited if pool["mask"] is None else candidates & ~m.invited & pool["mask"]
            m.invited[m._top_k(c, k)] = True
    prev = m.support_kind
    kind = np.zeros(m.n, np.int8)
    for pool in m._pools:
        kind += pool["set"].view(np.int8) * np.int8(pool["kind"])  # the pools' sets do not overlap
    new_central = (kind == CENTRAL) & (prev != CENTRAL)
    m.generation[new_central] = 1
    new_trainee = (kind == TRAINER) & (prev != TRAINER)
    if new_trainee.any():
        _trainer_generation(m, new_trainee, ttt.trainees)
    if (ttt.enabled and ttt.dilution > 0) or not np.isscalar(m.dilution):
        changed = np.flatnonzero(new_central | new_trainee)
        if len(changed):
            if np.isscalar(m.dilution):
                m.dilution = np.ones(m.n)
            d = ttt.dilution if ttt.enabled else 0.0
            m.dilution[changed] = (1.0 - d) ** np.maximum(m.generation[changed] - 1, 0).astype(np.float64)
    m.support_kind = kind
    was = m.supported
    m.supported = kind > 0
    m.ever_supported |= m.supported
    now = np.flatnonzero(m.supported)
    # dependency on ended support fades by a factor e every dependency_fade months (mechanical logic)
    f1 = math.exp(-1.0 / sc.logics.mechanical.dependency_fade)
    m.dep_fade *= f1
    m.dep_fade[np.flatnonzero(was & ~m.supported)] = f1
    m.dep_fade[now] = 0.0
    if st.light_touch.enabled:
        _light_touch(m, sc, candidates)
    central = m._per_block(kind == CENTRAL)
    trained = m._per_block(kind == TRAINER)
    m.support_used_b += st.support.cost * (central + trained * m.funded_b)
    m.local_cost_b += st.support.cost * trained * ~m.funded_b


def _intake_open(m, st) -> np.ndarray | None:
    """Per block, whether the programme still takes in new sites this month (``support.intake_months``,
    per block in a batch: :mod:`simulation.blocks`); None when it does until its funding ends."""
    intake = per_block(m, st.support.intake_months)
    if intake is None:
        return None
    return np.broadcast_to(m.month <= np.asarray(intake), (m.R,))


def _light_touch(m, sc, candidates: np.ndarray) -> None:
    """The light-touch tier: sites that engaged after last month's registration invitation are
    registered (trained at the tier's quality, generation 1, one cost each); this month's invitations
    go to the best-ranked candidates the support slots did not invite, up to the tier's capacity
    (none after the programme's intake closes, ``support.intake_months``: registering a site is
    taking it in; the sites already registered keep the tier's push while it runs)."""
    lt = sc.strategy.light_touch
    new = m.light_invited & (m.stage == EXPLORATION) & ~m.light
    if new.any():
        idx = np.flatnonzero(new)
        m.light[idx] = True
        fresh = idx[m.generation[idx] == 0]
        if len(fresh):
            if np.isscalar(m.dilution):
                m.dilution = np.full(m.n, float(m.dilution))
            m.generation[fresh] = 1
            m.dilution[fresh] = lt.quality
        m.support_used_b += lt.cost * m._per_block(new)
    open_ = m.funded_b if lt.months is None else m.programme_b & (m.month <= lt.months)
    intake_b = _intake_open(m, sc.strategy)
    registering = open_ if intake_b is None else open_ & intake_b  # a closed intake registers no one either
    m.light_invited[:] = False
    if lt.capacity > 0 and registering.any():
        k = np.where(registering, lt.capacity, 0)
        m.light_invited[m._top_k(candidates & ~m.invited & ~m.light, k)] = True
        m.invited |= m.light_invited
    if lt.progress > 0 and open_.any():
        pipeline = (m.stage >= EXPLORATION) & (m.stage <= INITIAL)
        push = m.light & pipeline & ~m.supported
        if m.R > 1:
            push &= np.repeat(open_, m.N)
        m.light_push = push * lt.progress
    else:
        m.light_push = None


def _package_cost(m, sc) -> None:
    """Onboarding with the replication package: a local cost per delivering site the programme trained."""
    st = sc.strategy
    c = st.package_cost * per_block(m, st.replication_package)  # per block in a batch (simulation.blocks)
    if np.any(c > 0):
        trained = (m.stage >= INSTALLATION) & (m.stage <= FULL) & (m.generation >= 1) & m.prog_site
        m.local_cost_b += c * m._per_block(trained)


def _audits(m, sc) -> None:
    """Assurance rounds: every ``interval`` months the funded programme audits and coaches sites
    in initial or full implementation, at most ``capacity`` per round, those audited longest ago
    first (then in the programme's order); each audit costs ``cost`` support units (source 002)."""
    a = sc.strategy.assurance
    m.audited = None
    if a.interval <= 0 or m.month % a.interval != 0 or not m.funded_b.any():
        return
    due = (m.stage >= INITIAL) & (m.stage <= FULL) & m.funded_site
    if a.capacity is not None:
        # longest since the last audit first; the programme's order among equals
        key = m.last_audit.astype(np.float64) * m.N + m.rank
        order = np.lexsort((key, m.block))
        d = due[order].reshape(m.R, m.N)
        pick = d & (np.cumsum(d, axis=1) <= a.capacity)
        due = np.zeros(m.n, bool)
        due[order[pick.ravel()]] = True
    m.audited = due
    m.last_audit[due] = m.month
    m.support_used_b += a.cost * m._per_block(due)


def _make_pools(m, sc) -> list[dict]:
    m._pools_reserve = dict(sc.strategy.support.reserve)
    pools = []
    for g, slots in sc.strategy.support.reserve.items():
        pools.append({"kind": CENTRAL, "mask": m.group == g, "slots": slots, "set": np.zeros(m.n, bool)})
    pools.append({"kind": CENTRAL, "mask": None, "slots": None, "set": np.zeros(m.n, bool)})
    pools.append({"kind": TRAINER, "mask": None, "slots": None, "set": np.zeros(m.n, bool)})
    return pools


def _fill(m, pool: dict, keep: np.ndarray, pipeline: np.ndarray, taken: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Keep a pool's sites while ``keep`` (in the pipeline, or in aftercare), trim it to ``k`` per
    block, fill free slots from the pipeline; returns the slots still free per block. ``taken``
    (sites supported by an earlier pool) is updated."""
    s = pool["set"]
    s &= keep
    s &= ~taken
    if (m._per_block(s) > k).any():
        kept = m._top_k(s, k)
        s[:] = False
        s[kept] = True
    free = k - m._per_block(s)
    if (free > 0).any():
        c = pipeline & ~taken & ~s if pool["mask"] is None else pipeline & ~taken & ~s & pool["mask"]
        s[m._top_k(c, np.maximum(free, 0))] = True
        free = k - m._per_block(s)
    taken |= s
    return np.maximum(free, 0)


def _trainer_generation(m, new: np.ndarray, per_trainer: int) -> None:
    """Sites newly trained by a trainer are one generation further from the developers than it.

    New trainees are matched with the block's trainers in turn (in site order, wrapping round).
    """
    N = m.N
    fresh = np.flatnonzero(new)  # all blocks at once: a block's sites are one contiguous range
    if not len(fresh):
        return
    block = fresh // N
    rank = np.arange(len(fresh)) - np.searchsorted(block, block)  # place among its block's new trainees
    tr = np.flatnonzero(m.trainer)
    per_block = np.bincount(tr // N, minlength=m.R)
    count = per_block[block]  # trainers in each new trainee's block, and where they start in tr
    first = (np.cumsum(per_block) - per_block)[block]
    has = count > 0
    gen = np.ones(len(fresh), dtype=m.generation.dtype)
    j = (rank[has] // max(per_trainer, 1)) % count[has]
    gen[has] = m.generation[tr[first[has] + j]] + 1
    m.generation[fresh] = gen


def _form_collaboratives(m, sc) -> None:
    """Breakthrough collaboratives: cohorts get lateral ties to each other (source 003)."""
    col = sc.strategy.collaborative
    src, dst = [], []
    for b in range(m.R):
        if not m.programme_b[b]:
            continue
        rng = m._block_streams[b]["collaborative"]
        lo = b * m.N
        if col.members == "all":
            members = np.arange(m.N)
        else:
            stage = m.stage[lo:lo + m.N]
            members = np.flatnonzero((stage >= EXPLORATION) & (stage <= FULL))
        members = rng.permutation(members) + lo
        m.member[members] = True
        cohort = np.arange(len(members)) // col.size
        for c in range(int(cohort.max()) + 1 if len(members) else 0):
            ids = members[cohort == c]
            if len(ids) < 2:
                continue
            a, bb = np.meshgrid(ids, ids)
            keep = a != bb
            src.append(a[keep])
            dst.append(bb[keep])
    if src:
        C = sp.csr_array((np.ones(sum(len(s) for s in src)), (np.concatenate(src), np.concatenate(dst))), shape=(m.n, m.n))
        C.data[:] = 1.0
        m._set_network(m.W.maximum(C))


def collaborative_costs(m, sc) -> None:
    """Members' learning in a collaborative costs the programme while it is funded."""
    col = sc.strategy.collaborative
    if col.enabled and m.month >= col.start:
        active = m.member & (m.stage >= EXPLORATION) & (m.stage <= FULL)
        m.support_used_b += col.cost * m._per_block(active) * m.funded_b
