"""Phases 4-5, transitions: the logics' pressures, sustainment's modifiers, and the stage moves.

Pressures (monthly probabilities) to *engage*, to *progress* a stage and to *abandon* come from each
logic that is switched on (:mod:`simulation.logics`: mechanical, ecological, social; Greenhalgh &
Papoutsi 2019, source 004), from the site's own capacity and internal risks (NASSS, source 003) and
from shocks; pressures of one kind are combined (``logics.combine``).

Sustainment is a process, not a cliff (Dynamic Sustainability Framework, in source 003; NIRN,
source 000). The combined pressure to abandon of a site that has started is then multiplied by:

* **routinisation**: ``1 / (1 + months in full implementation / routinisation)``, the longer a
  site has used the programme in full, the more it is part of routine and the less likely it stops;
* **visible benefit against expectations**: for a site that has adopted, ``1 + feedback x
  clip(1 - relative, -1, 1)``, where ``relative`` is what the site has seen the programme do for
  the people it serves lately over what it was promised (:mod:`.outcomes`): results better than
  expected sustain a programme (down to ``1 - feedback``), results that fall short erode it (up to
  ``1 + feedback``; Scheirer, "Is sustainability possible? A review and commentary on empirical
  studies of program sustainability", American Journal of Evaluation 2005). So raising
  ``feedback`` raises sustainment where results are good and lowers it where they are poor;
* **no champion**: ``workforce.no_champion_risk`` for a site with no champion (NSPCC, source 001);
* **lateral support** (social logic): ``1 - weight x lateral_support x share of neighbours who
  have adopted``: peers who use the programme keep a site going (Keystone's network of units, in
  Greenhalgh & Papoutsi 2019, source 004; collaboratives, source 003);
* **the norm** (social logic): once the system's adopted share reaches ``bandwagon_at``, using the
  programme is "what a good unit does": ``1 - weight x legitimacy x norm_keep`` (Dixon-Woods et
  al. 2011, in source 004).

Stages (NIRN, source 000; Fixsen et al. 2005): a site moves on only after a short minimum time in
its stage; from initial to full implementation it must also deliver competently
(``competence_for_full``) and with fidelity (``fidelity_for_full``). Full implementation *means*
faithful, competent delivery: a site in full implementation whose fidelity falls below the
threshold falls back to initial implementation. How long the road to full implementation takes
(2-4 years, NSPCC source 001) is not imposed: it emerges from the rates, and from how complex the
intervention is (``complexity``: NASSS, source 003; a simple checklist moves faster and is dropped
less than a complicated programme).

Every site moves at most one stage a month, all decided from the state at the start of the
month (synchronous update), with one uniform draw per site (competing risks).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from .. import logics
from ..logics import ecological, mechanical, social
from ..schema import CALIBRATED, Section, param

#: (progress, abandonment) multipliers by the intervention's complexity: direction from NASSS
#: (THIS Institute guide, source 003: the more complex a domain, the slower and less sustained);
#: values assumed
COMPLEXITY = {"simple": (1.5, 2 / 3), "complicated": (1.0, 1.0), "complex": (2 / 3, 1.5)}
#: how much of a site's effect depends on its staff's competence (:mod:`.outcomes`): the effect is
#: multiplied by ``1 - demand x (1 - competence)``. Direction from NASSS (source 003): a simple
#: intervention (a checklist) needs little tacit know-how to deliver well; values assumed
from .stages import SKILL_DEMAND  # noqa: E402  (re-exported: transitions.SKILL_DEMAND)
from .stages import DECLINED, DISCONTINUED, EXPLORATION, FULL, INITIAL, INSTALLATION, NOT_ENGAGED


class Stages(Section):
    """Implementation stages (NIRN): minimum months in each, what full implementation needs, and
    the forces that move a site on, keep it going or make it stop."""

    exploration: int = param(3, "minimum months in exploration", ge=0, unit="months",
                             source="direction: NIRN (000), exploration takes months of assessing fit and readiness; value assumed")
    installation: int = param(4, "minimum months in installation", ge=0, unit="months",
                              source="direction: NIRN (000), installation builds the infrastructure; value assumed")
    initial: int = param(2, "minimum months in initial implementation", ge=0, unit="months",
                         source="direction: NIRN (000); value assumed")
    competence_for_full: float = param(0.758, "competence needed for full implementation", ge=0, le=1,
                                       source=CALIBRATED)
    fidelity_for_full: float = param(0.6, "fidelity needed for full implementation (below it a site falls back to initial)",
                                     ge=0, le=1, source="direction: NIRN (000), full implementation is faithful use; value assumed")
    progress: float = param(0.0293, "monthly progress pressure from a site's own capacity (times capacity)", ge=0, le=1,
                            unit="/month", source=CALIBRATED)
    abandon: float = param(0.0622, "monthly pressure to abandon at the worst internal risk (low fit, competence, "
                           "fidelity; fatigue)", ge=0, le=1, unit="/month", source=CALIBRATED)
    routinisation: float | None = param(5.9, "months of full use that halve the pressure to abandon (null = no routinisation)",
                                        gt=0, unit="months", source=CALIBRATED)
    feedback: float = param(0.264, "how much visible results (or their absence) move the pressure to abandon", ge=0, le=1,
                            source=CALIBRATED)
    complexity: Literal["simple", "complicated", "complex"] = param(
        "complicated", "how complex the intervention is (NASSS, source 003): simple ones move through the stages faster "
        "and are abandoned less, complex ones the opposite; a typical evidence-based programme is complicated")
    reentry: float = param(1.0, "engagement pressure multiplier for declined or discontinued sites", ge=0, le=1,
                           source="direction: NIRN (000), stages are revisited: a site that stopped is engaged like any "
                                  "other once the reason has passed; value assumed")
    reentry_delay: int = param(6, "months before a declined or discontinued site may re-engage", ge=0, unit="months",
                               source="direction: NIRN (000), re-exploration follows a pause; value assumed")


def init(m, sc) -> None:
    m.stage = np.zeros(m.n, np.int8)
    m.months_in_stage = np.zeros(m.n, np.int32)
    m.adopted_month = np.full(m.n, -1, np.int32)  # first month in initial or full implementation (start-up)
    m.full_month = np.full(m.n, -1, np.int32)  # first month in full implementation (competence)
    m.engaged_month = np.full(m.n, -1, np.int32)  # first month in exploration
    configure(m, sc)


def configure(m, sc) -> None:
    s = sc.stages
    m._min_months = np.array([0, s.exploration, s.installation, s.initial, 0, 0, 0])


# ------------------------------------------------------------------------------------- phase 4
def pressures(m, sc) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each logic's pressures, the site's own and shocks, combined; then sustainment's modifiers."""
    lg = sc.logics
    s = sc.stages
    parts = []
    if m._mech_on:
        parts.append(mechanical.pressures(m, lg.mechanical))
    if m._eco_on:
        parts.append(ecological.pressures(m, lg.ecological))
    if m._soc_on:
        parts.append(social.pressures(m, lg.social))
    # the site's own capacity moves it on; internal risks push it out (NASSS, source 003)
    pace, fragility = COMPLEXITY[s.complexity]
    own_progress = s.progress * m.capacity if s.progress > 0 else None
    own_abandon = None
    if s.abandon > 0:
        # mean of (1 - fit_eff), (1 - competence), fatigue and, for sites delivering, (1 - fidelity)
        risk = m.fidelity * m._using
        np.subtract(m._using, risk, out=risk)
        risk += m.fatigue
        risk -= m.fit_eff
        risk -= m.competence
        risk += 2.0
        risk *= s.abandon * fragility / 4.0
        own_abandon = risk
    parts.append(logics.Pressures(None, own_progress, own_abandon))
    shock = shock_pressure(m, sc)
    if shock is not None:
        parts.append(logics.Pressures(None, None, shock * (1.0 - ecological.adaptive_capability(m))))
    rule = lg.combine
    engage = logics.combine([p.engage for p in parts if p.engage is not None], rule, m.n)
    progress = logics.combine([p.progress for p in parts if p.progress is not None], rule, m.n)
    if pace != 1.0:
        progress *= pace
        np.minimum(progress, 1.0, out=progress)
    abandon = logics.combine([p.abandon for p in parts if p.abandon is not None], rule, m.n)
    if abandon.any():
        abandon *= sustain_modifier(m, sc)
        np.minimum(abandon, 1.0, out=abandon)
    return engage, progress, abandon


def sustain_modifier(m, sc) -> np.ndarray:
    """Routinisation, visible benefit, champions and peers' support, multiplying the pressure to abandon."""
    s = sc.stages
    mod = (m.champions == 0).astype(np.float64)
    mod *= sc.workforce.no_champion_risk - 1.0
    mod += 1.0
    soc = sc.logics.social
    if m._soc_on and soc.lateral_support > 0:
        mod *= 1.0 - (soc.weight * soc.lateral_support) * m.nb_share
    if m._soc_on and soc.norm_keep > 0:
        norm = m.share_site >= soc.bandwagon_at  # per block: its own system's adopted share
        if norm.any():
            mod *= 1.0 - (soc.weight * soc.legitimacy * soc.norm_keep) * norm
    tmp = np.empty_like(mod)
    if s.routinisation is not None:
        np.multiply(m.months_in_stage, m.stage == FULL, out=tmp)
        tmp *= 1.0 / s.routinisation
        tmp += 1.0
        mod /= tmp
    if s.feedback > 0:
        # 1 + feedback x clip(1 - relative, -1, 1) for adopted sites (results against expectations)
        np.subtract(1.0, m.relative, out=tmp)
        np.clip(tmp, -1.0, 1.0, out=tmp)
        tmp *= s.feedback
        tmp *= (m.stage == INITIAL) | (m.stage == FULL)
        tmp += 1.0
        mod *= tmp
    return mod


def shock_pressure(m, sc) -> np.ndarray | None:
    """System-wide shocks this month (funding cut, policy change): abandonment pressure per site, or None.

    Each block draws its monthly shock whether or not the month is listed (so a listed month does
    not shift the stream: common random numbers). A shock's ``funding_cut`` removes that share of
    the programme's remaining central capacity from then on.
    """
    sh = sc.shocks
    if sh.rate <= 0 and not sh.months:
        return None
    listed = m.month in sh.months
    hit = np.array([(g.random() < sh.rate) or listed for g in m._gens["shocks"]])
    if not hit.any():
        return None
    if sh.funding_cut > 0:
        m.cut_b = np.where(hit & m.programme_b, 1.0 - (1.0 - m.cut_b) * (1.0 - sh.funding_cut), m.cut_b)
    if sh.severity <= 0:
        return None
    return np.repeat(np.where(hit, sh.severity, 0.0), m.N)


# ------------------------------------------------------------------------------------- phase 5
def apply(m, sc, engage: np.ndarray, progress: np.ndarray, abandon: np.ndarray) -> None:
    """Every site moves at most one stage, decided from the state at the start of the month.

    Full implementation that is no longer faithful falls back to initial implementation first (no
    draw). Then one uniform draw per site decides: engagement for sites outside the pipeline; for
    sites in it, abandonment or moving on as competing risks (abandon if ``u < a``, move on if
    ``a <= u < a + p``, both scaled down when ``a + p > 1``); for sites in full implementation,
    discontinuing.
    """
    u = m._draw("transitions")
    st = m.stage
    mis = m.months_in_stage
    s = sc.stages
    instant = sc.pipeline == "instant"
    moved = []  # (indices, new stage)
    full_mask = st == FULL
    slipped_mask = None
    if not instant and s.fidelity_for_full > 0:
        slipped_mask = full_mask & (m.fidelity < s.fidelity_for_full)
        if slipped_mask.any():
            moved.append((np.flatnonzero(slipped_mask), INITIAL))
        else:
            slipped_mask = None
    # engagement (first time, or re-entry after declining or discontinuing)
    go = (st == NOT_ENGAGED) & (u < engage)
    if s.reentry > 0:
        go |= (st >= DECLINED) & (mis >= s.reentry_delay) & (u < engage * s.reentry)
    go_idx = np.flatnonzero(go)
    moved.append((go_idx, FULL if instant else EXPLORATION))
    # in the pipeline: abandon or move on (competing risks, one draw)
    pipe = np.flatnonzero((st >= EXPLORATION) & (st <= INITIAL))
    if len(pipe):
        s_ = st[pipe]
        ready = mis[pipe] >= m._min_months[s_]
        at_initial = s_ == INITIAL
        if at_initial.any():
            ip = pipe[at_initial]
            ready[at_initial] &= (m.competence[ip] >= s.competence_for_full) & (m.fidelity[ip] >= s.fidelity_for_full)
        p = progress[pipe] * ready
        a = abandon[pipe]
        total = a + p
        over = total > 1.0
        if over.any():
            a = np.where(over, a / total, a)
            p = np.where(over, p / total, p)
        uu = u[pipe]
        quit_ = uu < a
        move = ~quit_ & (uu < a + p)
        moved.append((pipe[quit_], np.where(s_[quit_] <= INSTALLATION, DECLINED, DISCONTINUED)))
        moved.append((pipe[move], s_[move] + 1))
    stop = full_mask & (u < abandon)
    if slipped_mask is not None:
        stop &= ~slipped_mask
    moved.append((np.flatnonzero(stop), DISCONTINUED))
    changed = np.concatenate([idx for idx, _ in moved])
    if len(changed):
        for idx, dest in moved:
            st[idx] = dest
        _moved(m, sc, changed, go_idx)
        mis[changed] = -1
    mis += 1


def _moved(m, sc, changed: np.ndarray, go_idx: np.ndarray) -> None:
    """What follows the moves of the sites ``changed`` (their new stages set; ``go_idx`` those that
    engaged): adaptation, fidelity and competence of sites starting to deliver, milestones."""
    from . import delivery, outcomes

    instant = sc.pipeline == "instant"
    st = m.stage
    month = m.month
    new_stage = st[changed]
    engaged = changed[new_stage == EXPLORATION]
    m.adaptation[engaged] = 0.0
    m.engaged_month[engaged[m.engaged_month[engaged] < 0]] = month
    # starting to deliver: installation (or straight to full in an instant pipeline)
    starting = go_idx if instant else changed[new_stage == INSTALLATION]
    if len(starting):
        m.fidelity[starting] = delivery.entry_fidelity(m, sc, starting)
        trained = delivery.training_quality(m, starting) * (m.generation[starting] >= 1)
        m.competence[starting] = np.maximum(m.competence[starting], sc.workforce.training * trained)
        if instant:
            m.adaptation[starting] = 0.0
    up = changed[(new_stage >= INITIAL) & (new_stage <= FULL)]
    started = up[m.adopted_month[up] < 0]
    m.adopted_month[started] = month
    full_now = changed[new_stage == FULL]
    competent = full_now[m.full_month[full_now] < 0]
    m.full_month[competent] = month
    outcomes.note_milestones(m, month, started, competent)


def month(m, sc, record: np.ndarray | None = None) -> None:
    """Phases 4-5 of a month: :func:`pressures` then :func:`apply`, or, with the compiled kernels
    (:mod:`simulation.kernels`), both fused site by site (:func:`simulation.kernels.transitions_month`:
    the same formulas and the same draw, bit for bit). ``record``, an array of shape (3, sites),
    receives the pressures the kernel used (engage, progress, abandon), for checking them against
    :func:`pressures`."""
    if not m._kern:
        engage, progress, abandon = pressures(m, sc)
        apply(m, sc, engage, progress, abandon)
        return
    from .. import kernels

    shock = shock_pressure(m, sc)  # the shocks stream's draws, then the moves', in the numpy code's order
    u = m._draw("transitions")

    P = kernels.P
    n = m.n
    lg = sc.logics
    s = sc.stages
    me, ec, so = lg.mechanical, lg.ecological, lg.social
    pace, fragility = COMPLEXITY[s.complexity]
    instant = sc.pipeline == "instant"
    soc_on = m._soc_on
    light = m.light_push
    norm_any = bool(np.any(m.share_site >= so.bandwagon_at))  # as social.pressures asks
    flags = np.array([
        m._mech_on, m._eco_on, soc_on, {"influence": 0, "threshold": 1, "bass": 2}[so.rule], lg.combine == "additive",
        m._mech_on and light is not None, m._mech_on and me.dependency > 0 and bool(m.ever_supported.any()),
        so.progress > 0, so.abandon > 0, s.progress > 0, s.abandon > 0, shock is not None,
        soc_on and so.bandwagon > 0 and norm_any, soc_on and so.lateral_support > 0, soc_on and so.norm_keep > 0,
        s.routinisation is not None, s.feedback > 0, pace != 1.0, instant,
        not instant and s.fidelity_for_full > 0, s.reentry > 0], np.int64)
    changed = np.empty(n, np.int64)
    old = np.empty(n, np.int8)
    pr = np.empty((3, 0)) if record is None else record
    zero = P(0.0, n)
    k = kernels.transitions_month(
        flags, m.N, u, changed, old, pr, m.stage, m.months_in_stage, m.champions, m.invited, m.supported,
        zero if light is None else P(light, n), m.fit_eff, m.capacity, m.leadership, m.adaptation, m.competence,
        m.fidelity, m.fatigue, m._using, m.dep_fade, m.nb_share, P(m.nb_prestige, n), m.threshold, m.has_ties,
        m.relative, m.adopted_share_b, zero if shock is None else shock,
        P(me.weight, n), P(me.push, n), P(me.train, n), P(me.dependency, n),
        P(ec.weight, n), P(ec.explore, n), P(ec.learn, n), P(ec.abandon, n),
        P(so.weight, n), P(so.legitimacy, n), P(so.q, n), P(so.bandwagon, n), P(so.bandwagon_at, n), P(so.progress, n),
        P(so.abandon, n), P(so.lateral_support, n), P(so.norm_keep, n),
        P(s.progress, n), P(s.abandon, n), P(fragility, n), P(pace, n), P(sc.workforce.no_champion_risk, n),
        P(1.0 if s.routinisation is None else s.routinisation, n), P(s.feedback, n),
        P(m._min_months[EXPLORATION], n), P(m._min_months[INSTALLATION], n), P(m._min_months[INITIAL], n),
        P(s.competence_for_full, n), P(s.fidelity_for_full, n), P(s.reentry, n), P(s.reentry_delay, n))
    if k:
        changed = changed[:k]
        old = old[:k]
        _moved(m, sc, changed, changed[(old == NOT_ENGAGED) | (old >= DECLINED)])
