"""Compiled monthly kernels (numba): the processes' per-site rules fused into one pass over memory each.

The model's rules are written, documented and sourced in numpy in :mod:`simulation.processes` and
:mod:`simulation.logics` (the reference). At 100,000 sites and more a month's cost is the number of
passes over the site arrays, not Python: the numpy code makes one per operation. The kernels here do
the same arithmetic site by site in a few fused loops:

* :func:`workforce_delivery`: phases 2-3, turnover and champions, learning and coaching, routine,
  capacity, fatigue (:mod:`.processes.workforce`), then adaptation, effective fit and fidelity
  (:mod:`.processes.delivery`, :func:`.logics.ecological.update`);
* :func:`adopted_pass`, :func:`send_changes`, :func:`matvec`, :func:`neighbour_shares`: phase 4,
  neighbours' adoption and adaptation (:meth:`.model.SpreadModel._neighbours`);
* :func:`transitions_month`: phases 4-5, every logic's pressures and the site's own
  (:mod:`.logics.mechanical`, :mod:`.logics.ecological`, :mod:`.logics.social`), combined
  (:func:`.logics.combine`), sustainment's modifiers (:func:`.processes.transitions.sustain_modifier`)
  and the stage moves (:func:`.processes.transitions.apply`);
* :func:`collect_sites`: phase 6, stage counts, effect, what sites have seen and expected
  (:func:`.processes.outcomes.collect`; the sums over sites stay numpy's).

Every formula is the one of the numpy code, operation for operation in the same order (no fused
multiply-add, no reassociation: numba's default, ``fastmath`` off), so the results are
bit-identical; sums over sites stay in numpy (its pairwise summation), and so do functions whose
last bit differs between numpy and the C library (``expm1``: the chance of losing a champion is
recomputed by numpy for the sites whose champions changed). Random draws are not made here: they
stay in numpy, from the same named streams in the same order (:mod:`simulation.rng`), and are
passed in. ``tests/test_kernels.py`` runs scenarios that switch on every branch both ways and
checks every site array, every series and every pressure for equality, bit for bit, each month.

Every scenario parameter a kernel reads is a 1-D float64 array indexed per site (a scenario's
value for all sites, or per block of sites in batches across samples): :func:`P` makes the
zero-stride array for a scalar.

Models of at least :data:`MIN_SITES` sites use the kernels when numba is installed; they compile
on first use and are cached on disk by numba (``cache=True``, in ``simulation/__pycache__``).
``SPREADSIM_NO_NUMBA=1`` in the environment (or no numba) runs the numpy code instead.
"""

from __future__ import annotations

import importlib.util
import math
import os

import numpy as np

#: stage codes (simulation.processes.stages)
NOT_ENGAGED, EXPLORATION, INSTALLATION, INITIAL, FULL, DECLINED, DISCONTINUED = range(7)


#: the smallest model (sites in all its blocks) run with the kernels. Importing numba and loading
#: the compiled kernels costs about 0.4 s of CPU once per process; on the demo with its
#: counterfactual arm the kernels save about 35 ns per site-month from 10,000 sites on (93 against
#: 128 ns at 30,000; equal at 2,000, where each call's fixed cost dominates), so a single
#: 120-month run gains from about 50,000 sites (measured on a 2-core AMD EPYC, CPU time).
MIN_SITES = 50_000

_HAVE_NUMBA: bool | None = None


def available() -> bool:
    """Whether the compiled kernels can be used: numba is installed and ``SPREADSIM_NO_NUMBA`` is
    not set to 1 in the environment (read when a model is made)."""
    global _HAVE_NUMBA
    if os.environ.get("SPREADSIM_NO_NUMBA", "0") == "1":
        return False
    if _HAVE_NUMBA is None:
        _HAVE_NUMBA = importlib.util.find_spec("numba") is not None
    return _HAVE_NUMBA


def use(n: int) -> bool:
    """Whether a model of ``n`` sites runs its months with the kernels (:func:`available` and at
    least :data:`MIN_SITES` sites); if so they are compiled (or loaded from numba's disk cache)."""
    if n < MIN_SITES or not available():
        return False
    compile_all()
    return True


#: the kernels, compiled in this order (helpers before their callers)
_KERNELS = ("_part", "_combined", "workforce_delivery", "adopted_pass", "matvec", "send_changes", "neighbour_shares",
            "transitions_month", "collect_sites")
_COMPILED = False


def compile_all() -> None:
    """Replace this module's kernels by their numba-compiled versions (once; numba is imported
    here, not when spreadsim starts). Until then they are plain Python: the same code, slowly."""
    global _COMPILED
    if _COMPILED:
        return
    from numba import njit

    g = globals()
    for name in _KERNELS:
        g[name] = njit(cache=True, nogil=True)(g[name])
    _COMPILED = True


_SCALARS: dict = {}


def P(value, n: int) -> np.ndarray:
    """A scenario parameter as a 1-D float64 array of ``n`` sites (zero-stride for a scalar; the
    same read-only array each time for the same value, as ``np.broadcast_to`` costs microseconds
    and a month passes some fifty)."""
    if isinstance(value, (float, int, np.floating, np.integer)):
        v = float(value)
        key = (v, math.copysign(1.0, v), n)  # -0.0 is kept apart from 0.0
        a = _SCALARS.get(key)
        if a is None:
            if len(_SCALARS) > 4096:
                _SCALARS.clear()
            a = _SCALARS[key] = np.broadcast_to(np.float64(v), (n,))
        return a
    a = np.asarray(value, dtype=np.float64)
    if a.ndim == 1 and a.shape[0] == n:
        return a
    return np.broadcast_to(a, (n,))


# ----------------------------------------------------------------------------- phases 2-3
def workforce_delivery(flags, u0, u1, stage, mis, champions, p_lose, moved, keep, competence, capacity, capacity0,
                       leadership, fidelity, using, member, funded, supported, audited, dilution, routine, relative,
                       fatigue, fatigue_target, adaptation, misfit, fit, fit_eff, nb_adaptation, nb_share,
                       fallback, package, recruit_p, refresh, entry_fidelity, learning, col_learning, mech_w, skill,
                       routine_build, routine_loss, fidelity_for_full, capacity_build, capacity_decay,
                       eco_w, adapt, neighbour_learning, partners, ceiling_cap, core, drift, coach, repair, target):
    """workforce.step then delivery.step (and ecological.update), site by site.

    ``flags``: turnover, staged pipeline, champion refresh, collaborative learning, coaching of
    competence, audited this month, routine on, routine build, routine loss, capacity on, fatigue
    on, ecological logic, adaptation allowed, partners, core adaptation, drift, coaching of fidelity.
    Writes the state in place and ``using`` (delivering after turnover), and the sites whose
    champions changed to ``moved``; returns whether any site built routine (faithful full
    implementation) this month and how many sites' champions changed. Their chance of losing a
    champion (``p_lose``) is left to the caller: numpy's ``expm1`` and the C library's differ in
    the last bit.
    """
    turnover, staged, refresh_on, col_on, skill_on, aud_on, routine_on, rb_on, rl_on, cap_on, fat_on = (
        flags[0], flags[1], flags[2], flags[3], flags[4], flags[5], flags[6], flags[7], flags[8], flags[9], flags[10])
    eco_on, ceil_on, partners_on, core_on, drift_on, coach_on = flags[11], flags[12], flags[13], flags[14], flags[15], flags[16]
    any_routine = False
    k = 0
    n = stage.shape[0]
    for i in range(n):
        st = stage[i]
        c = competence[i]
        f = fidelity[i]
        # --- workforce: turnover and champions (NSPCC, source 001)
        if turnover:
            c = c * keep[i]
            ch = champions[i]
            has = ch > 0
            changed = False
            if has and u0[i] < p_lose[i]:
                ch -= 1
                changed = True
                if ch == 0 and st >= INITIAL and st <= FULL:
                    if u1[i] < fallback[i] * (1.0 - package[i]) and staged:
                        st = st - 1
                        stage[i] = st
                        mis[i] = 0
            if not has and u1[i] < recruit_p[i] * leadership[i]:
                ch = 1
                changed = True
                if refresh_on and st >= INSTALLATION and st <= FULL:
                    f = f + refresh[i] * max(entry_fidelity[i] - f, 0.0)
            if changed:
                champions[i] = ch
                moved[k] = i  # p_lose is recomputed for these by numpy (its expm1, not libm's)
                k += 1
        use = st >= INSTALLATION and st <= FULL
        using[i] = use
        # learning by doing up to the site's capacity; the collaborative; coaching; audits
        if use:
            c += ((capacity[i] - c) * 1.0) * learning[i]
            if col_on and member[i] and funded[i]:
                c += (col_learning[i] * (1.0 - c)) * 1.0
            if skill_on and supported[i]:
                c += ((mech_w[i] * skill[i]) * dilution[i]) * (1.0 - c)
        if aud_on and audited[i]:
            c += (skill[i] * dilution[i]) * (1.0 - c)
        c = max(min(c, 1.0), 0.0)
        competence[i] = c
        # routine (durable local capacity): built by faithful full use, lost while not delivering
        r = routine[i]
        if routine_on:
            if rb_on and st == FULL and f >= fidelity_for_full[i]:
                r += (routine_build[i] * min(relative[i], 1.0)) * (1.0 - r)
                any_routine = True
            elif rl_on and not use and r > 0:
                r *= 1.0 - routine_loss[i]
            routine[i] = r
        # capacity: built while supported or audited, back towards the site's own floor otherwise
        if cap_on:
            cap = capacity[i]
            if supported[i] or (aud_on and audited[i]):
                cap = cap + capacity_build[i] * (1.0 - cap)
            else:
                c0 = capacity0[i]
                cap += ((1.0 - c0) * r + c0 - cap) * capacity_decay[i]
            capacity[i] = cap
        if fat_on:
            fatigue[i] += 0.1 * (fatigue_target[i] - fatigue[i])
        # --- delivery: adaptation and effective fit (ecological logic), fidelity
        a = adaptation[i]
        if eco_on:
            cc = ceiling_cap[i]
            if ceil_on and use and a < cc:
                drive = adapt[i] * misfit[i] + neighbour_learning[i] * nb_adaptation[i]
                a = a + (eco_w[i] * min(drive, 1.0)) * (cc - a)
                adaptation[i] = a
            fe = misfit[i] * a + fit[i]
            if partners_on:
                fe += (partners[i] * eco_w[i]) * nb_share[i]
            fit_eff[i] = min(fe, 1.0)
        ceiling = 1.0 - core[i] * a if core_on else 1.0
        if drift_on and use:
            eq = capacity[i] * 0.5 + 0.5
            eq *= c
            if core_on:
                eq *= ceiling
            f += ((eq - f) * 1.0) * drift[i]
        if coach_on and supported[i] and use:
            f += ((mech_w[i] * coach[i]) * dilution[i]) * (ceiling - f)
        if aud_on and audited[i]:
            f += (repair[i] * max(target[i] * ceiling - f, 0.0)) * 1.0
        if core_on:
            f = min(f, ceiling)
        fidelity[i] = max(min(f, 1.0), 0.0)
    return any_routine, k


# ----------------------------------------------------------------------------------- phase 4
def adopted_pass(stage, prev, has_prev, N, counts, adopted, changed):
    """Adopted (initial or full) per site, its count per block, and the sites whose adoption
    changed since ``prev`` (written to ``changed``; returns how many)."""
    k = 0
    n = stage.shape[0]
    for b in range(n // N):
        cnt = 0
        for i in range(b * N, (b + 1) * N):
            s = stage[i]
            a = s == INITIAL or s == FULL
            adopted[i] = a
            if a:
                cnt += 1
            if has_prev and a != prev[i]:
                changed[k] = i
                k += 1
        counts[b] = cnt
    return k


def matvec(indptr, indices, data, unit, x, out):
    """``out = W @ x`` for a CSR matrix, each row summed in its stored order (as scipy does);
    ``unit``: every tie weighs 1, so the weights are not read (1 x v is v, bit for bit)."""
    n = indptr.shape[0] - 1
    for i in range(n):
        s = 0.0
        if unit:
            for jj in range(indptr[i], indptr[i + 1]):
                s += x[indices[jj]]
        else:
            for jj in range(indptr[i], indptr[i + 1]):
                s += data[jj] * x[indices[jj]]
        out[i] = s


def send_changes(indptr, indices, data, J, adopted, weight, use_weight, acc, touched, target):
    """Add, along the ties of the sites ``J`` whose adoption changed, +-tie weight (times
    ``weight[j]`` when ``use_weight``) to ``target``: the sums of each receiving row are formed
    first, in the order of ``J`` and the ties (as ``np.bincount`` forms them), then added."""
    for jx in range(J.shape[0]):
        j = J[jx]
        sign = 1.0 if adopted[j] else -1.0
        for jj in range(indptr[j], indptr[j + 1]):
            r = indices[jj]
            c = data[jj] * sign
            if use_weight:
                c = c * weight[j]
            if not touched[r]:
                touched[r] = True
                acc[r] = 0.0
            acc[r] += c
    # add each receiving row's sum once, and clear the marks
    for jx in range(J.shape[0]):
        j = J[jx]
        for jj in range(indptr[j], indptr[j + 1]):
            r = indices[jj]
            if touched[r]:
                target[r] += acc[r]
                touched[r] = False


def neighbour_shares(indptr, indices, data, unit, adopted, adaptation, nb_count, inv_degree, min_weight, want_adapt,
                     nb_share, nb_adaptation):
    """Share of adopted neighbours and, when ``want_adapt``, adopted neighbours' mean adaptation
    (``W @ (adopted x adaptation) / adopted neighbours``), in one pass over the ties (``unit``: as
    in :func:`matvec`)."""
    n = nb_count.shape[0]
    half = 0.5 * min_weight
    for i in range(n):
        cnt = nb_count[i]
        nb_share[i] = cnt * inv_degree[i]
        if want_adapt:
            if cnt > half:  # else 0, whatever the sum: a site with no adopted neighbour skips its ties
                s = 0.0
                for jj in range(indptr[i], indptr[i + 1]):
                    j = indices[jj]
                    v = adaptation[j] if adopted[j] else 0.0
                    s += v if unit else data[jj] * v
                nb_adaptation[i] = s / cnt
            else:
                nb_adaptation[i] = 0.0


# ------------------------------------------------------------------------------ phases 4-5
def _part(k, first, acc, p, additive):
    """Add one pressure ``p`` to a combination (``logics.combine``): the count, the first part,
    and the running sum (additive) or product of ``1 - p`` (independent)."""
    if k == 0:
        return 1, p, (p if additive else 1.0 - p)
    if additive:
        return k + 1, first, acc + p
    return k + 1, first, acc * (1.0 - p)


def _combined(k, first, acc, additive):
    if k == 0:
        return 0.0
    if k == 1:
        return max(min(first, 1.0), 0.0)
    if additive:
        return min(acc, 1.0)
    return 1.0 - acc


def transitions_month(flags, N, u, changed, old, pr, stage, mis, champions, invited, supported, light_push,
                      fit_eff, capacity, leadership, adaptation, competence, fidelity, fatigue, using, dep_fade,
                      nb_share, nb_prestige, threshold, has_ties, relative, share_b, shock,
                      m_w, push, train, dependency, e_w, explore, learn, e_abandon,
                      s_w, legitimacy, q, bandwagon, bandwagon_at, s_progress, s_abandon, lateral, norm_keep,
                      st_progress, st_abandon, fragility, pace, no_champion_risk, routinisation, feedback,
                      min_exploration, min_installation, min_initial, competence_for_full, fidelity_for_full,
                      reentry, reentry_delay):
    """transitions.pressures and transitions.apply, site by site: each site's pressures, then its
    move (at most one stage) on its draw ``u``. Sites that moved are written to ``changed`` (in site
    order) with their stage before (``old``); ``stage`` and ``months_in_stage`` are updated. Returns
    how many sites moved. (A site's pressures read only its own state and the neighbour sums of the
    month, which no move changes, so pressures and moves fuse without changing either.) When ``pr``
    has ``n`` columns, each site's pressures are also written to it (rows engage, progress and
    abandon; progress and abandon only for sites in the pipeline or in full implementation, the
    only ones that use them): :func:`.processes.transitions.month` with ``record``.
    """
    mech_on, eco_on, soc_on, rule, additive, light_on, mech_ab, soc_prog, soc_ab = (
        flags[0], flags[1], flags[2], flags[3], flags[4], flags[5], flags[6], flags[7], flags[8])
    own_prog, own_ab, shock_on, norm_engage, lateral_on, nk_on, rout_on, fb_on, pace_on = (
        flags[9], flags[10], flags[11], flags[12], flags[13], flags[14], flags[15], flags[16], flags[17])
    instant, slip_on, reentry_on = flags[18], flags[19], flags[20]
    n = stage.shape[0]
    record = pr.shape[1] == n
    k = 0
    for b in range(n // N):
        share = share_b[b]
        for i in range(b * N, (b + 1) * N):
            st = stage[i]
            full = st == FULL
            pipe = st >= EXPLORATION and st <= INITIAL
            # engage: the programme's invitation, fit, peers (logics), in that order
            ke, fe_, ae = 0, 0.0, 0.0
            if mech_on:
                ke, fe_, ae = _part(ke, fe_, ae, (m_w[i] * push[i]) * (1.0 if invited[i] else 0.0), additive)
            if eco_on:
                ke, fe_, ae = _part(ke, fe_, ae, (e_w[i] * explore[i]) * fit_eff[i], additive)
            if soc_on:
                scale = (s_w[i] * legitimacy[i]) * (1.0 - fatigue[i])
                if rule == 2:
                    e = (q[i] * share) * scale
                elif rule == 1:
                    e = scale * (1.0 if (nb_share[i] >= threshold[i] and has_ties[i]) else 0.0)
                else:
                    e = (q[i] * nb_prestige[i]) * scale
                if norm_engage:
                    e = min(e + (bandwagon[i] * scale) * (1.0 if share >= bandwagon_at[i] else 0.0), 1.0)
                ke, fe_, ae = _part(ke, fe_, ae, e, additive)
            engage = _combined(ke, fe_, ae, additive)
            progress = 0.0
            abandon = 0.0
            if full or pipe:
                kp, fp, ap = 0, 0.0, 0.0
                ka, fa, aa = 0, 0.0, 0.0
                if mech_on:
                    p = (m_w[i] * train[i]) * (1.0 if supported[i] else 0.0)
                    if light_on:
                        p = 1.0 - (1.0 - p) * (1.0 - m_w[i] * light_push[i])
                    kp, fp, ap = _part(kp, fp, ap, p, additive)
                    if mech_ab:
                        a = (1.0 - competence[i] * capacity[i]) * dep_fade[i]
                        ka, fa, aa = _part(ka, fa, aa, a * (m_w[i] * dependency[i]), additive)
                if eco_on:
                    kp, fp, ap = _part(kp, fp, ap, ((e_w[i] * learn[i]) * fit_eff[i]) * capacity[i], additive)
                    a = 3.0 - ((capacity[i] + leadership[i]) + adaptation[i])
                    a *= 1.0 - fit_eff[i]
                    ka, fa, aa = _part(ka, fa, aa, a * ((e_w[i] * e_abandon[i]) / 3.0), additive)
                if soc_on:
                    if soc_prog:
                        kp, fp, ap = _part(kp, fp, ap, (s_w[i] * s_progress[i]) * nb_share[i], additive)
                    if soc_ab:
                        c = (s_w[i] * s_abandon[i]) * (2.0 - legitimacy[i])
                        a = c * (1.0 + fatigue[i])
                        if c * 2.0 > 1.0:
                            a = min(a, 1.0)
                        ka, fa, aa = _part(ka, fa, aa, a, additive)
                # the site's own capacity and internal risks (NASSS, source 003)
                if own_prog:
                    kp, fp, ap = _part(kp, fp, ap, st_progress[i] * capacity[i], additive)
                if own_ab:
                    uf = 1.0 if using[i] else 0.0
                    risk = uf - fidelity[i] * uf
                    risk += fatigue[i]
                    risk -= fit_eff[i]
                    risk -= competence[i]
                    risk += 2.0
                    risk *= (st_abandon[i] * fragility[i]) / 4.0
                    ka, fa, aa = _part(ka, fa, aa, risk, additive)
                if shock_on:
                    cap = ((capacity[i] + leadership[i]) + adaptation[i]) / 3.0
                    ka, fa, aa = _part(ka, fa, aa, shock[i] * (1.0 - cap), additive)
                progress = _combined(kp, fp, ap, additive)
                if pace_on:
                    progress = min(progress * pace[i], 1.0)
                if ka > 0:
                    # sustainment's modifiers (transitions.sustain_modifier)
                    mod = (1.0 if champions[i] == 0 else 0.0) * (no_champion_risk[i] - 1.0) + 1.0
                    if lateral_on:
                        mod *= 1.0 - (s_w[i] * lateral[i]) * nb_share[i]
                    if nk_on:
                        mod *= 1.0 - ((s_w[i] * legitimacy[i]) * norm_keep[i]) * (1.0 if share >= bandwagon_at[i] else 0.0)
                    if rout_on:
                        mod /= float(mis[i] if full else 0) * (1.0 / routinisation[i]) + 1.0
                    if fb_on:
                        t = max(min(1.0 - relative[i], 1.0), -1.0) * feedback[i]
                        mod *= t * (1.0 if (st == INITIAL or full) else 0.0) + 1.0
                    abandon = min(_combined(ka, fa, aa, additive) * mod, 1.0)
            if record:
                pr[0, i] = engage
                pr[1, i] = progress
                pr[2, i] = abandon
            # the stage moves (transitions.apply): one draw, competing risks
            uu = u[i]
            dest = -1
            if full and slip_on and fidelity[i] < fidelity_for_full[i]:
                dest = INITIAL  # no longer faithful: back to initial implementation
            elif st == NOT_ENGAGED:
                if uu < engage:
                    dest = FULL if instant else EXPLORATION
            elif st >= DECLINED:
                if reentry_on and mis[i] >= reentry_delay[i] and uu < engage * reentry[i]:
                    dest = FULL if instant else EXPLORATION
            elif pipe:
                if st == EXPLORATION:
                    ready = mis[i] >= min_exploration[i]
                elif st == INSTALLATION:
                    ready = mis[i] >= min_installation[i]
                else:
                    ready = (mis[i] >= min_initial[i] and competence[i] >= competence_for_full[i]
                             and fidelity[i] >= fidelity_for_full[i])
                p = progress * (1.0 if ready else 0.0)
                a = abandon
                total = a + p
                if total > 1.0:
                    a = a / total
                    p = p / total
                if uu < a:
                    dest = DECLINED if st <= INSTALLATION else DISCONTINUED
                elif uu < a + p:
                    dest = st + 1
            elif full:
                if uu < abandon:
                    dest = DISCONTINUED
            if dest >= 0:
                stage[i] = dest
                changed[k] = i
                old[k] = st
                k += 1
                mis[i] = 0
            else:
                mis[i] += 1
    return k


# ----------------------------------------------------------------------------------- phase 6
def collect_sites(N, stage, size, fidelity, fit_eff, competence, initial_reach, demand, efficacy, lag, expected,
                  expect_on, counts, reached, fid, effect, seen, expect, relative):
    """outcomes.collect's per-site part, site by site: stage counts per block (``counts``, zeroed
    by the caller), each site's people reached and fidelity if adopted (``reached``, ``fid``: summed
    per block by numpy, as the numpy code sums them), its effect, what it has seen and expected."""
    n = stage.shape[0]
    for b in range(n // N):
        for i in range(b * N, (b + 1) * N):
            st = stage[i]
            counts[b, st] += 1
            full = st == FULL
            initial = st == INITIAL
            cov = initial_reach[i] if initial else 0.0
            cov += 1.0 if full else 0.0
            reached[i] = size[i] * cov
            on = 1.0 if (initial or full) else 0.0
            fid[i] = fidelity[i] * on
            e = cov * fidelity[i]
            e *= fit_eff[i]
            d = demand[i]
            if d == 1.0:
                e *= competence[i]
            else:
                e *= 1.0 - d * (1.0 - competence[i])
            e *= efficacy[i]
            effect[i] = e
            inv = 1.0 / lag[i]
            gap = e - seen[i]
            gap *= inv
            s = seen[i] + gap
            seen[i] = s
            if expect_on:
                g = on * (efficacy[i] * expected[i])
                g -= expect[i]
                g *= inv
                x = expect[i] + g
                expect[i] = x
                relative[i] = s / x if x > 1e-12 else 1.0
