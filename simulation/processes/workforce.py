"""Phase 2, the workforce: turnover, champions, competence, site capacity and change fatigue.

People carry an innovation (NSPCC, source 001: "evidence on outcomes does not help you implement
programmes, people do"). Each month:

* **Turnover** (annual share of staff leaving, a site trait): leavers take competence with them,
  except what the replication package passes to their successors (manuals, onboarding, shadowing:
  Scaling What Works, source 002). Champions leave too; losing the last one can push a site back a
  stage, the "single point of failure" of source 001. A site with no champion may gain one, the
  more likely the stronger its leadership.
* **Competence** (staff's tacit know-how, 0-1) starts, for a site the programme trained, at
  ``training`` times the quality of its training when it starts delivering (NIRN's training
  driver, source 000). By doing, it moves towards the level the site's own capacity can hold
  (supervision, staff time, data: NIRN's organisational drivers); the programme's coaching of
  supported sites (diluted one step per train-the-trainer generation), audits and collaboratives
  (source 003) lift it above that level, and once they stop it erodes back towards it (NIRN: skilled
  practice needs continuing coaching; the "voltage drop" of the Dynamic Sustainability Framework).
* **Capacity** (resources, staff time, data systems; NIRN's implementation drivers, source 000) is
  state: coaching and fidelity assessment build it while a site is supported or audited; without
  them it decays back towards the site's own *floor*.
* **Routine** (0-1) is the durable local capacity that sustained faithful use builds: the
  supervision, data systems, policies and job descriptions that make the programme part of how the
  site works (NIRN's organisation drivers becoming the site's own, source 000; the Dynamic
  Sustainability Framework of Chambers, Glasgow & Stange 2013, in source 003: sustainment is built
  into the setting, not a property of the intervention). Each month a site in full implementation
  with fidelity at least ``stages.fidelity_for_full`` closes ``routine_build`` of the gap to 1,
  scaled by how its results compare with what it expected (``m.relative``, at most 1: results that
  fall short are not worth building into routine, Scheirer 2005); a site that is not delivering
  loses ``routine_loss`` of it a month (policies lapse, the data system is switched off). The floor
  capacity decays to is ``capacity + routine x (1 - capacity)``: a routinised site's own
  equilibrium can hold competent, faithful delivery without support. Which sites get there is an
  emergent result of how long they stay faithful, not a cut-off on a trait.
* **Change fatigue** moves towards a level set by the number of concurrent initiatives, higher in
  low-capacity sites (Matching Michigan, in Greenhalgh & Papoutsi 2019, source 004).
"""

from __future__ import annotations

import numpy as np

from ..schema import CALIBRATED, Section, param
from .stages import FULL, INITIAL, INSTALLATION
from ..blocks import positive


class Workforce(Section):
    """Staff turnover, champions, competence, site capacity and change fatigue."""

    turnover: bool = param(True, "staff turnover removes competence and champions")
    training: float = param(0.597, "competence a site trained by the programme has when it starts delivering (installation)",
                            ge=0, le=1, source="direction: Fixsen et al. 2005 (000), training gives a start on competence; value "
                                               "assumed (the v3 search's value: no pattern identifies it, docs/validation.md)")
    learning: float = param(0.186, "monthly share of the gap between competence and the site's capacity closed by doing",
                            ge=0, le=1, unit="/month", source=CALIBRATED)
    champion_recruit: float = param(0.05, "monthly probability (times leadership) that a site with no champion gains one",
                                    ge=0, le=1, unit="/month", source="direction: NSPCC (001); value assumed")
    no_champion_risk: float = param(2.0, "multiplier on the pressure to abandon of a site with no champion", ge=0, le=10,
                                    source="direction: NSPCC (001), single point of failure; value assumed")
    fallback: float = param(0.3, "probability of falling back a stage when the last champion leaves", ge=0, le=1,
                            source="direction: NSPCC (001); value assumed")
    capacity_build: float = param(0.03, "monthly share of the gap to full capacity that support or an audit builds",
                                  ge=0, le=1, unit="/month", source="direction: NIRN implementation drivers (000); value assumed")
    capacity_decay: float = param(0.11, "monthly share of built capacity lost without support (back towards the site's own)",
                                  ge=0, le=1, unit="/month", source=CALIBRATED)
    routine_build: float = param(0.0078, "monthly share of the gap to a fully routinised site built by faithful full implementation",
                                 ge=0, le=1, unit="/month", source=CALIBRATED)
    routine_loss: float = param(0.03, "monthly share of routine (durable local capacity) lost while a site is not delivering",
                                ge=0, le=1, unit="/month",
                                source="direction: Dynamic Sustainability Framework (003), routines lapse when use stops; value assumed")
    champion_refresh: float = param(0.3, "share of the gap to a trained site's entry fidelity a new champion restores",
                                    ge=0, le=1, source="direction: NSPCC (001), a champion re-commits staff; value assumed")
    concurrent_initiatives: int = param(0, "other initiatives competing for the same staff", ge=0, le=100,
                                        source="direction: Matching Michigan (004); value assumed")
    fatigue_per_initiative: float = param(0.15, "change fatigue each concurrent initiative adds", ge=0, le=1,
                                          source="direction: Matching Michigan (004); value assumed")


def init(m, sc) -> None:
    """Competence, capacity (from the trait), fatigue and the turnover rates."""
    m.monthly_turnover = 1.0 - (1.0 - m.turnover) ** (1.0 / 12.0)
    m._log_stay = np.log1p(-np.minimum(m.monthly_turnover, 1.0 - 1e-12))
    m._cache = {}
    m.p_lose_champion = -np.expm1(m.champions * m._log_stay)  # kept current as champions come and go
    m.competence = np.zeros(m.n)
    m.capacity = m.capacity0.copy()
    m.routine = np.zeros(m.n)
    m.relative = np.ones(m.n)  # results seen over results expected (outcomes.collect); 1 until a site has results
    m.fatigue = np.zeros(m.n)
    m._routine_any = False  # no site has any routine yet (skip the floor's arithmetic)
    configure(m, sc)


def configure(m, sc) -> None:
    """Fatigue targets from the scenario's concurrent initiatives (also on switch)."""
    wf = sc.workforce
    m.fatigue_target = np.minimum(1.0, wf.concurrent_initiatives * wf.fatigue_per_initiative * (1.5 - 0.5 * m.capacity0))


def step(m, sc) -> None:
    """Turnover and champions, learning and coaching, capacity, fatigue (sources 000-004).

    With the compiled kernels (:mod:`simulation.kernels`) this phase and :func:`.delivery.step`
    run fused, site by site, in :func:`fused_step`; the numpy code below is the reference.
    """
    wf = sc.workforce
    pkg = sc.strategy.replication_package
    if wf.turnover:
        u = m._draw("turnover", rows=2)
        # competence walks out with leavers; the replication package onboards their successors
        m.competence *= _keep(m, pkg)
        has = m.champions > 0
        lose = has & (u[0] < m.p_lose_champion)
        m.champions[lose] -= 1
        last = lose & (m.champions == 0) & (m.stage >= INITIAL) & (m.stage <= FULL)
        back = last & (u[1] < wf.fallback * (1.0 - pkg))
        if back.any() and sc.pipeline == "staged":  # an instant pipeline has no stage to fall back to
            m.stage[back] -= 1  # full -> initial, initial -> installation
            m.months_in_stage[back] = 0
        recruit = ~has & (u[1] < wf.champion_recruit * m.leadership)
        m.champions[recruit] = 1
        if wf.champion_refresh > 0 and recruit.any():
            # a new champion in a delivering site re-commits its staff to the core components
            r = np.flatnonzero(recruit & (m.stage >= INSTALLATION) & (m.stage <= FULL))
            if len(r):
                target = sc.delivery.entry_fidelity
                m.fidelity[r] += wf.champion_refresh * np.maximum(target - m.fidelity[r], 0.0)
        changed = np.flatnonzero(lose | recruit)
        if len(changed):  # chance of losing one of c champions this month: 1 - (1 - m)^c
            m.p_lose_champion[changed] = -np.expm1(m.champions[changed] * m._log_stay[changed])
    using = m._using_now()
    c = m.competence
    # learning by doing, up to what the site's own capacity (supervision, time, data) can hold; skill
    # above that level, lifted by coaching, erodes back towards it once coaching stops
    gap = m.capacity - c
    gap *= using
    gap *= wf.learning
    c += gap
    col = sc.strategy.collaborative
    if col.enabled and m.month >= col.start:
        # facilitated shared learning while the programme is funded; the ties themselves stay
        c += col.learning * (1.0 - c) * (m.member & m.funded_site & using)
    mech = sc.logics.mechanical
    built = m.supported
    if m._mech_on and mech.skill > 0:
        # the programme's coaching, one step of dilution per train-the-trainer generation
        idx = np.flatnonzero(m.supported & using)
        if len(idx):
            q = m.dilution if np.isscalar(m.dilution) else m.dilution[idx]
            c[idx] += (mech.weight * mech.skill) * q * (1.0 - c[idx])
    if m.audited is not None:
        idx = np.flatnonzero(m.audited)
        q = m.dilution if np.isscalar(m.dilution) else m.dilution[idx]
        c[idx] += (mech.skill * q) * (1.0 - c[idx])
        built = built | m.audited
    np.minimum(c, 1.0, out=c)
    np.maximum(c, 0.0, out=c)
    cap = m.capacity
    if wf.routine_build > 0 or m._routine_any:
        routine_step(m, sc, using)
    if wf.capacity_build > 0 or wf.capacity_decay > 0:
        # built up while supported or audited; back towards the site's own floor otherwise
        idx = np.flatnonzero(built)
        before = cap[idx]
        if m._routine_any:
            tmp = 1.0 - m.capacity0
            tmp *= m.routine
            tmp += m.capacity0
            tmp -= cap
        else:
            tmp = m.capacity0 - cap
        tmp *= wf.capacity_decay
        cap += tmp
        cap[idx] = before + wf.capacity_build * (1.0 - before)
    if wf.concurrent_initiatives > 0 or m.fatigue.any():
        m.fatigue += 0.1 * (m.fatigue_target - m.fatigue)


def routine_step(m, sc, using: np.ndarray) -> None:
    """Routine (durable local capacity): built by faithful full implementation, scaled by results
    against expectations; lost while not delivering (source 000 organisation drivers; DSF, 003)."""
    wf = sc.workforce
    r = m.routine
    if wf.routine_build > 0:
        faithful = (m.stage == FULL) & (m.fidelity >= sc.stages.fidelity_for_full)
        idx = np.flatnonzero(faithful)
        if len(idx):
            r[idx] += wf.routine_build * np.minimum(m.relative[idx], 1.0) * (1.0 - r[idx])
            m._routine_any = True
    if wf.routine_loss > 0 and m._routine_any:
        idx = np.flatnonzero(~using & (r > 0))
        if len(idx):
            r[idx] *= 1.0 - wf.routine_loss


def delivering(stage: np.ndarray) -> np.ndarray:
    """Sites delivering the programme in some form: installation, initial or full implementation."""
    return (stage >= INSTALLATION) & (stage <= FULL)


def _keep(m, pkg) -> np.ndarray:
    """Each site's share of competence kept through a month's turnover, ``1 - monthly turnover x (1 -
    package)``, cached while the package is the same (a number, or per site in a batch:
    simulation.blocks)."""
    key = ("keep", pkg if not isinstance(pkg, np.ndarray) else id(pkg))
    if m._cache.get("keep_key") != key:
        m._cache["keep"] = 1.0 - m.monthly_turnover * (1.0 - pkg)
        m._cache["keep_key"] = key
    return m._cache["keep"]


def fused_step(m, sc) -> None:
    """This phase and :func:`.delivery.step` in one compiled pass (:func:`simulation.kernels.workforce_delivery`):
    the same formulas and draws as the numpy code, bit for bit."""
    from .. import kernels
    from ..logics import ecological

    wf = sc.workforce
    pkg = sc.strategy.replication_package
    n = m.n
    P = kernels.P
    if wf.turnover:
        u = m._draw("turnover", rows=2)
        keep, u0, u1 = _keep(m, pkg), u[0], u[1]
    else:
        keep = u0 = u1 = P(0.0, n)
    col = sc.strategy.collaborative
    mech = sc.logics.mechanical
    eco = sc.logics.ecological
    dv = sc.delivery
    a = sc.strategy.assurance
    ceiling_cap, core = ecological.ADAPTATION_POLICY[sc.strategy.adaptation]
    audited = m.audited
    flags = np.array([wf.turnover, sc.pipeline == "staged", wf.champion_refresh > 0, col.enabled and m.month >= col.start,
                      m._mech_on and mech.skill > 0, audited is not None, wf.routine_build > 0 or m._routine_any,
                      wf.routine_build > 0, wf.routine_loss > 0, wf.capacity_build > 0 or wf.capacity_decay > 0,
                      wf.concurrent_initiatives > 0 or m.fatigue.any(), m._eco_on, ceiling_cap > 0,
                      eco.partners > 0, core > 0, positive(dv.drift), m._mech_on and mech.coach > 0], np.int64)
    using = np.empty(n, bool)
    moved = np.empty(n if wf.turnover else 0, np.int64)
    built, k = kernels.workforce_delivery(
        flags, u0, u1, m.stage, m.months_in_stage, m.champions, m.p_lose_champion, moved, P(keep, n), m.competence,
        m.capacity, m.capacity0, m.leadership, m.fidelity, using, m.member, m.funded_site, m.supported,
        m.supported if audited is None else audited, P(m.dilution, n), m.routine, m.relative, m.fatigue,
        m.fatigue_target, m.adaptation, m._misfit, m.fit, m.fit_eff, m.nb_adaptation, m.nb_share,
        P(wf.fallback, n), P(pkg, n), P(wf.champion_recruit, n), P(wf.champion_refresh, n),
        P(dv.entry_fidelity, n), P(wf.learning, n), P(col.learning, n), P(mech.weight, n), P(mech.skill, n),
        P(wf.routine_build, n), P(wf.routine_loss, n), P(sc.stages.fidelity_for_full, n), P(wf.capacity_build, n),
        P(wf.capacity_decay, n), P(eco.weight, n), P(eco.adapt, n), P(eco.neighbour_learning, n), P(eco.partners, n),
        P(ceiling_cap, n), P(core, n), P(dv.drift, n), P(mech.coach, n), P(a.repair, n), P(a.target, n))
    m._using = using
    if k:
        changed = moved[:k]
        m.p_lose_champion[changed] = -np.expm1(m.champions[changed] * m._log_stay[changed])
    if built:
        m._routine_any = True
