"""The processes of a month (simulation/processes/, simulation/runner.py), one documented formula or
direction per test, on hand-set arrays.

Each test builds a small bare model (no network, no seeds, no counterfactual arm), sets the arrays
its formula reads by hand, calls one process function, and compares with the value computed from
the formula in the docstring of the process (docs/ODD.md). Where a draw decides, ``_draw`` is
replaced by hand-set uniforms, so the boundary of each probability is tested exactly. When model v3
changes a formula, the failing test names it: update the test together with the docstring.
"""

import math

import numpy as np
import pytest

from simulation import SpreadModel
from simulation.model import DECLINED, DISCONTINUED, EXPLORATION, FULL, INITIAL, INSTALLATION, NOT_ENGAGED
from simulation.processes import delivery, outcomes, support, transitions, workforce
from simulation.runner import summarise
from simulation.scenario import default_scenario

LOGICS_OFF = {"logics.mechanical.enabled": False, "logics.ecological.enabled": False, "logics.social.enabled": False}
#: sustainment's modifiers all 1: champions do not matter, no routinisation, no visible-benefit feedback
NEUTRAL = {"stages.feedback": 0.0, "stages.routinisation": None, "workforce.no_champion_risk": 1.0}


def bare(n=6, months=30, **ov):
    """A model of ``n`` unconnected sites, none seeded, no counterfactual arm; ``ov`` are scenario overrides."""
    s = default_scenario(**{"sites.n": n, "months": months, "network.type": "none", "strategy.seeding.n": 0,
                            "outcomes.counterfactual": False, **ov})
    m = SpreadModel(s, 1, agents=False)
    m.month = 1
    return m, s


def fix_draws(m, monkeypatch, u):
    """Make the model's next draws the hand-set uniforms ``u`` (rows for a 2-D ``u``)."""
    u = np.asarray(u, float)
    monkeypatch.setattr(m, "_draw", lambda name, rows=0: u.copy())


def using(m):
    m._using = m.using


# ============================================================================ transitions: pressures
def test_internal_abandonment_is_its_maximum_at_the_worst_risk_and_zero_at_the_best():
    """transitions.pressures, the site's own risk (NASSS, 003): abandon = stages.abandon x fragility x mean of
    (1 - fit_eff), (1 - competence), fatigue and, for delivering sites, (1 - fidelity)."""
    m, s = bare(4, **LOGICS_OFF, **NEUTRAL)
    m.stage[:] = [INITIAL, FULL, NOT_ENGAGED, INSTALLATION]
    m.champions[:] = 1
    m.fit_eff[:] = [0.0, 1.0, 0.0, 0.5]
    m.competence[:] = [0.0, 1.0, 0.0, 0.5]
    m.fatigue[:] = [1.0, 0.0, 0.0, 0.5]
    m.fidelity[:] = [0.0, 1.0, 0.0, 0.5]
    using(m)
    _, _, a = transitions.pressures(m, s)
    assert a[0] == pytest.approx(s.stages.abandon, rel=1e-12)  # the worst: all of it
    assert a[1] == pytest.approx(0.0, abs=1e-15)  # the best: none
    assert a[2] == pytest.approx(s.stages.abandon * 2 / 4, rel=1e-12)  # not delivering: fidelity does not count
    assert a[3] == pytest.approx(s.stages.abandon * 2 / 4, rel=1e-12)


def test_complexity_speeds_progress_and_lowers_abandonment_of_simple_interventions():
    """transitions.COMPLEXITY (NASSS, 003): progress x 1.5 and abandonment x 2/3 for simple, x 2/3 and x 1.5 for complex."""
    got = {}
    for c in ("simple", "complicated", "complex"):
        m, s = bare(2, **LOGICS_OFF, **NEUTRAL, **{"stages.complexity": c})
        m.champions[:] = 1
        m.capacity[:] = 0.5
        using(m)
        _, p, a = transitions.pressures(m, s)
        got[c] = (p[0], a[0])
    base_p, base_a = got["complicated"]
    assert base_p == pytest.approx(s.stages.progress * 0.5)  # own progress = stages.progress x capacity
    assert got["simple"][0] == pytest.approx(1.5 * base_p) and got["simple"][1] == pytest.approx(base_a * 2 / 3)
    assert got["complex"][0] == pytest.approx(base_p * 2 / 3) and got["complex"][1] == pytest.approx(1.5 * base_a)


def test_logic_pressures_are_combined_as_independent_chances():
    """transitions.pressures: the pressures of one kind from every logic and the site's own are combined
    by logics.combine ('independent': 1 - prod(1 - p))."""
    m, s = bare(3, **NEUTRAL, **{"logics.ecological.enabled": False, "logics.social.enabled": False,
                                 "stages.progress": 0.1})
    m.invited[:] = [True, False, True]
    m.supported[:] = [True, True, False]
    m.capacity[:] = 1.0
    m.champions[:] = 1
    using(m)
    e, p, _ = transitions.pressures(m, s)
    mech = s.logics.mechanical
    assert e.tolist() == pytest.approx([mech.push, 0.0, mech.push])
    assert p.tolist() == pytest.approx([1 - (1 - mech.train) * 0.9, 1 - (1 - mech.train) * 0.9, 0.1])


def test_pressures_follow_the_scenarios_combination_rule():
    """transitions.pressures: with logics.combine 'additive' the pressures of each kind (engage, progress,
    abandon) add up, capped at 1 (Bass 1969), instead of combining as independent chances."""
    m, s = bare(2, **NEUTRAL, **{"logics.social.enabled": False, "logics.combine": "additive", "stages.progress": 0.3,
                                 "stages.abandon": 0.04, "logics.ecological.explore": 0.1, "logics.ecological.learn": 0.0,
                                 "logics.ecological.abandon": 0.03})
    m.invited[:] = True
    m.supported[:] = True
    m.capacity[:] = [1.0, 0.0]
    m.leadership[:] = 0.0
    m.fit_eff[:] = 0.0
    m.champions[:] = 1
    using(m)
    e, p, a = transitions.pressures(m, s)
    mech = s.logics.mechanical
    assert e.tolist() == pytest.approx([mech.push, mech.push])  # fit 0: no self-started exploration
    assert p.tolist() == pytest.approx([mech.train + 0.3, mech.train])
    own = 0.04 * np.array([2.0, 2.0]) / 4  # (1 - fit) + (1 - competence), not delivering
    eco = 0.03 * (3 - m.capacity) / 3
    assert a.tolist() == pytest.approx((own + eco).tolist())
    m.fit_eff[:] = 1.0
    e, _, a = transitions.pressures(m, s)
    assert e.tolist() == pytest.approx([mech.push + 0.1] * 2)


def test_a_simple_interventions_faster_progress_stays_a_probability():
    """transitions.pressures: progress x 1.5 for a simple intervention is capped at 1."""
    m, s = bare(1, **LOGICS_OFF, **NEUTRAL, **{"stages.complexity": "simple", "stages.progress": 0.9})
    m.capacity[:] = 1.0
    m.champions[:] = 1
    using(m)
    _, p, _ = transitions.pressures(m, s)
    assert p[0] == 1.0


def test_a_shock_adds_severity_times_lack_of_adaptive_capability_to_abandonment():
    """transitions.shock_pressure: a shock's abandonment pressure = severity x (1 - adaptive capability)
    (Dynamic Sustainability Framework, 003), combined with the others."""
    m, s = bare(3, **LOGICS_OFF, **NEUTRAL, **{"stages.abandon": 0.0, "shocks.months": [1], "shocks.severity": 0.5})
    m.capacity[:] = [0.0, 1.0, 0.3]
    m.leadership[:] = [0.0, 1.0, 0.6]
    m.adaptation[:] = [0.0, 1.0, 0.0]
    m.champions[:] = 1
    using(m)
    _, _, a = transitions.pressures(m, s)
    assert a.tolist() == pytest.approx([0.5, 0.0, 0.5 * (1 - 0.3)])
    m.month = 2  # not listed, rate 0: no shock
    _, _, a = transitions.pressures(m, s)
    assert not a.any()


def test_a_funding_cut_shock_compounds_on_the_remaining_capacity():
    """transitions.shock_pressure: each shock's funding_cut removes that share of the remaining central capacity."""
    m, s = bare(3, **{"shocks.months": [1, 2], "shocks.severity": 0.0, "shocks.funding_cut": 0.4})
    transitions.shock_pressure(m, s)
    assert m.cut_b[0] == pytest.approx(0.4)
    m.month = 2
    transitions.shock_pressure(m, s)
    assert m.cut_b[0] == pytest.approx(1 - 0.6 * 0.6)


def test_a_shock_and_its_funding_cut_hit_only_the_blocks_it_hits():
    """transitions.shock_pressure, in a batch: each replicate draws its own shock; the funding cut and the
    severity apply to the replicates hit only (the others get no pressure and keep their capacity)."""
    s = default_scenario(**{"sites.n": 10, "months": 5, "network.type": "none", "strategy.seeding.n": 0,
                            "outcomes.counterfactual": False, "shocks.rate": 0.5, "shocks.severity": 0.4,
                            "shocks.funding_cut": 0.25})
    m = SpreadModel(s, [1, 2], agents=False)
    m.month = 1

    class Fixed:
        def __init__(self, u):
            self.u = u

        def random(self):
            return self.u

    m._gens["shocks"] = [Fixed(0.1), Fixed(0.9)]  # replicate 0 hit, replicate 1 not
    got = transitions.shock_pressure(m, s)
    assert got.tolist() == [0.4] * 10 + [0.0] * 10
    assert m.cut_b.tolist() == [0.25, 0.0]


def test_abandonment_after_the_modifiers_stays_a_probability():
    """transitions.pressures: the modifiers (x no_champion_risk, x visible benefit) can take the pressure
    to abandon above 1; it is capped at 1."""
    m, s = bare(1, **LOGICS_OFF, **{"stages.abandon": 1.0, "stages.feedback": 0.0, "stages.routinisation": None,
                                    "workforce.no_champion_risk": 3.0})
    m.champions[:] = 0
    m.stage[:] = INITIAL
    m.fatigue[:] = 1.0
    using(m)
    _, _, a = transitions.pressures(m, s)
    assert a[0] == 1.0


# ==================================================================== transitions: sustainment's modifiers
def test_no_champion_multiplies_the_pressure_to_abandon_by_its_risk():
    """transitions.sustain_modifier: x workforce.no_champion_risk for a site with no champion (NSPCC, 001)."""
    m, s = bare(2, **LOGICS_OFF, **{"stages.feedback": 0.0, "stages.routinisation": None, "workforce.no_champion_risk": 2.5})
    m.champions[:] = [0, 1]
    using(m)
    assert transitions.sustain_modifier(m, s).tolist() == pytest.approx([2.5, 1.0])


def test_visible_benefit_against_expectation_multiplies_abandonment():
    """transitions.sustain_modifier, model v3: x (1 + feedback x clip(1 - relative, -1, 1)) for sites
    in initial or full implementation, where ``relative`` is the benefit a site has seen over what it
    expected (Scheirer 2005: results a site can see, against what it expected, keep it going): no
    results raise the pressure by feedback, results at the promise leave it, better results lower it
    (at most by feedback); sites not using it are untouched."""
    m, s = bare(5, **LOGICS_OFF, **{"stages.feedback": 0.6, "stages.routinisation": None, "workforce.no_champion_risk": 1.0})
    m.champions[:] = 1
    m.stage[:] = [INITIAL, FULL, INITIAL, EXPLORATION, FULL]
    m.relative[:] = [0.0, 2.5, 0.75, 0.0, 1.0]
    using(m)
    assert transitions.sustain_modifier(m, s).tolist() == pytest.approx([1.6, 0.4, 1.15, 1.0, 1.0])


def test_routinisation_divides_abandonment_by_one_plus_months_in_full_use_over_routinisation():
    """transitions.sustain_modifier: / (1 + months in full implementation / routinisation), full sites only."""
    m, s = bare(3, **LOGICS_OFF, **{"stages.feedback": 0.0, "stages.routinisation": 6.0, "workforce.no_champion_risk": 1.0})
    m.champions[:] = 1
    m.stage[:] = [FULL, FULL, INITIAL]
    m.months_in_stage[:] = [0, 12, 12]
    using(m)
    assert transitions.sustain_modifier(m, s).tolist() == pytest.approx([1.0, 1 / 3, 1.0])


def test_peers_and_the_norm_lower_abandonment_as_the_social_logic_says():
    """transitions.sustain_modifier, social logic: x (1 - weight x lateral_support x share of adopted
    neighbours) and, once the system's adopted share reaches bandwagon_at, x (1 - weight x legitimacy x norm_keep)."""
    m, s = bare(3, **NEUTRAL, **{"logics.social.lateral_support": 0.6, "logics.social.norm_keep": 0.5,
                                 "logics.social.legitimacy": 0.8, "logics.social.bandwagon_at": 0.5})
    m.champions[:] = 1
    m.nb_share[:] = [0.0, 1.0, 0.5]
    m.share_site = np.array([0.2, 0.2, 0.5])
    using(m)
    assert transitions.sustain_modifier(m, s).tolist() == pytest.approx([1.0, 0.4, 0.7 * (1 - 0.8 * 0.5)])


def test_peers_and_the_norm_do_not_act_with_the_social_logic_off():
    """transitions.sustain_modifier: lateral support and the norm are the social logic's; switched off, neither acts."""
    m, s = bare(2, **NEUTRAL, **{"logics.social.enabled": False, "logics.social.lateral_support": 0.6,
                                 "logics.social.norm_keep": 0.5, "logics.social.bandwagon_at": 0.5})
    m.champions[:] = 1
    m.nb_share[:] = [1.0, 0.0]
    m.share_site = np.array([0.0, 0.9])
    using(m)
    assert transitions.sustain_modifier(m, s).tolist() == [1.0, 1.0]


# ====================================================================== transitions: the moves
def pipeline_model(stage, a, p, u, monkeypatch, **ov):
    """Sites in ``stage`` past their minimum months, ready to move on, with abandonment ``a``,
    progress ``p`` and draws ``u``; returns the stages after transitions.apply."""
    n = len(u)
    m, s = bare(n, **ov)
    m.stage[:] = stage
    m.months_in_stage[:] = 99
    m.competence[:] = 1.0
    m.fidelity[:] = 1.0
    fix_draws(m, monkeypatch, u)
    transitions.apply(m, s, np.zeros(n), np.full(n, p), np.full(n, a))
    return m


def test_competing_risks_abandon_below_a_and_move_on_between_a_and_a_plus_p(monkeypatch):
    """transitions.apply, competing risks with one draw: abandon if u < a, move on if a <= u < a + p, stay otherwise."""
    u = [0.0, 0.199, 0.2, 0.35, 0.499, 0.5, 0.9]
    m = pipeline_model(EXPLORATION, 0.2, 0.3, u, monkeypatch)
    assert m.stage.tolist() == [DECLINED, DECLINED, INSTALLATION, INSTALLATION, INSTALLATION, EXPLORATION, EXPLORATION]


def test_competing_risks_scale_both_down_when_they_exceed_one(monkeypatch):
    """transitions.apply: when a + p > 1 both are divided by a + p (a = 0.8, p = 0.6: a' = 4/7, p' = 3/7)."""
    u = [0.5, 4 / 7 - 1e-9, 4 / 7 + 1e-9, 0.999]
    m = pipeline_model(INSTALLATION, 0.8, 0.6, u, monkeypatch)
    assert m.stage.tolist() == [DECLINED, DECLINED, INITIAL, INITIAL]


def test_abandoning_before_delivery_is_declining_and_after_it_discontinuing(monkeypatch):
    """transitions.apply: a site leaving from exploration or installation declines; from initial or full it discontinues."""
    m = pipeline_model([EXPLORATION, INSTALLATION, INITIAL, FULL], 1.0, 0.0, [0.5] * 4, monkeypatch)
    assert m.stage.tolist() == [DECLINED, DECLINED, DISCONTINUED, DISCONTINUED]


def test_a_site_moves_on_only_after_its_stages_minimum_months(monkeypatch):
    """transitions.apply: move on only when months_in_stage >= the stage's minimum (NIRN, 000); before that p = 0."""
    m, s = bare(4)
    m.stage[:] = [EXPLORATION, EXPLORATION, INSTALLATION, INSTALLATION]
    m.months_in_stage[:] = [s.stages.exploration - 1, s.stages.exploration, s.stages.installation - 1, s.stages.installation]
    fix_draws(m, monkeypatch, [0.5] * 4)
    transitions.apply(m, s, np.zeros(4), np.ones(4), np.zeros(4))
    assert m.stage.tolist() == [EXPLORATION, INSTALLATION, INSTALLATION, INITIAL]


def test_full_implementation_needs_competence_and_fidelity(monkeypatch):
    """transitions.apply: initial -> full only with competence >= competence_for_full and fidelity >= fidelity_for_full."""
    m, s = bare(4)
    m.stage[:] = INITIAL
    m.months_in_stage[:] = 99
    c, f = s.stages.competence_for_full, s.stages.fidelity_for_full
    m.competence[:] = [c, c - 1e-6, c, 1.0]
    m.fidelity[:] = [f, 1.0, f - 1e-6, 1.0]
    fix_draws(m, monkeypatch, [0.5] * 4)
    transitions.apply(m, s, np.zeros(4), np.ones(4), np.zeros(4))
    assert m.stage.tolist() == [FULL, INITIAL, INITIAL, FULL]
    assert m.full_month.tolist() == [1, -1, -1, 1] and m.adopted_month.tolist() == [1, -1, -1, 1]


def test_engagement_and_the_milestone_months(monkeypatch):
    """transitions.apply: a site not engaged engages (-> exploration) if u < engage; the first month in
    exploration, in initial implementation (start-up) and in full implementation are recorded once."""
    m, s = bare(4)
    m.month = 5
    m.stage[:] = [NOT_ENGAGED, NOT_ENGAGED, INSTALLATION, INITIAL]
    m.months_in_stage[:] = 99
    m.competence[:] = 1.0
    m.fidelity[:] = 1.0
    m.adopted_month[3] = 2
    m.adaptation[:] = 0.3
    fix_draws(m, monkeypatch, [0.29, 0.31, 0.0, 0.0])
    transitions.apply(m, s, np.full(4, 0.3), np.ones(4), np.zeros(4))
    assert m.stage.tolist() == [EXPLORATION, NOT_ENGAGED, INITIAL, FULL]
    assert m.engaged_month.tolist() == [5, -1, -1, -1]
    assert m.adaptation[0] == 0.0  # a site starts exploring with nothing adapted yet
    assert m.adopted_month.tolist() == [-1, -1, 5, 2]  # start-up recorded once
    assert m.full_month.tolist() == [-1, -1, -1, 5]
    assert m.months_in_stage.tolist() == [0, 100, 0, 0]


def test_reentry_waits_exactly_reentry_delay_months_and_is_damped(monkeypatch):
    """transitions.apply, re-entry (NIRN, 000): a declined or discontinued site may engage again once
    months_in_stage >= reentry_delay, if u < engage x reentry."""
    m, s = bare(5, **{"stages.reentry_delay": 12, "stages.reentry": 0.2})
    m.stage[:] = [DECLINED, DECLINED, DISCONTINUED, DECLINED, DISCONTINUED]
    m.months_in_stage[:] = [11, 12, 12, 40, 12]
    fix_draws(m, monkeypatch, [0.0, 0.0, 0.19, 0.21, 0.1])
    transitions.apply(m, s, np.ones(5), np.zeros(5), np.zeros(5))
    assert m.stage.tolist() == [DECLINED, EXPLORATION, EXPLORATION, DECLINED, EXPLORATION]


def test_a_site_that_declines_in_month_t_re_engages_in_month_t_plus_delay_plus_one(monkeypatch):
    """Re-entry timing, month by month: a site declining in month t has months_in_stage 0 at the end of
    that month, so it may engage again from month t + reentry_delay + 1 (after reentry_delay whole
    months declined), not a month sooner or later."""
    delay = 5
    m, s = bare(1, **{"stages.reentry_delay": delay, "stages.reentry": 1.0})
    m.stage[:] = EXPLORATION
    m.month = 10
    fix_draws(m, monkeypatch, [0.0])
    transitions.apply(m, s, np.ones(1), np.zeros(1), np.ones(1))  # declines in month 10
    assert m.stage[0] == DECLINED
    back = None
    for month in range(11, 30):
        m.month = month
        transitions.apply(m, s, np.ones(1), np.zeros(1), np.zeros(1))
        if m.stage[0] == EXPLORATION:
            back = month
            break
    assert back == 10 + delay + 1


def test_a_pilot_sites_milestones_stay_at_month_zero_when_it_falls_back_and_returns(monkeypatch):
    """transitions.apply: start-up and competence months are the first ones; a pilot site (month 0) that
    slips back to initial and returns to full keeps them."""
    m, s = bare(1)
    m.stage[:] = FULL
    m.adopted_month[:] = 0
    m.full_month[:] = 0
    m.fidelity[:] = 0.0
    m.month = 7
    fix_draws(m, monkeypatch, [0.9])
    transitions.apply(m, s, np.zeros(1), np.zeros(1), np.zeros(1))
    assert m.stage[0] == INITIAL
    m.fidelity[:] = 1.0
    m.competence[:] = 1.0
    m.months_in_stage[:] = 99
    m.month = 8
    transitions.apply(m, s, np.zeros(1), np.ones(1), np.zeros(1))
    assert m.stage[0] == FULL and m.adopted_month[0] == 0 and m.full_month[0] == 0


def test_an_instant_pipeline_starts_engaging_sites_in_full_use_with_nothing_adapted(monkeypatch):
    """transitions.apply, pipeline 'instant': a site that engages goes straight to full implementation,
    with its entry fidelity and no adaptation yet."""
    m, s = bare(1, **{"pipeline": "instant", "delivery.entry_fidelity": 0.8, "delivery.self_taught": 0.5})
    m.adaptation[:] = 0.4
    fix_draws(m, monkeypatch, [0.0])
    transitions.apply(m, s, np.ones(1), np.zeros(1), np.zeros(1))
    assert m.stage[0] == FULL and m.adaptation[0] == 0.0 and m.fidelity[0] == pytest.approx(0.4)
    assert m.adopted_month[0] == 1 and m.full_month[0] == 1


def test_full_implementation_below_the_fidelity_threshold_falls_back_without_a_draw(monkeypatch):
    """transitions.apply: a full site whose fidelity < fidelity_for_full falls back to initial, and cannot also discontinue."""
    m, s = bare(3)
    m.stage[:] = FULL
    m.fidelity[:] = [s.stages.fidelity_for_full - 0.01, s.stages.fidelity_for_full, s.stages.fidelity_for_full]
    fix_draws(m, monkeypatch, [0.0, 0.0, 0.9])
    transitions.apply(m, s, np.zeros(3), np.zeros(3), np.full(3, 0.5))
    assert m.stage.tolist() == [INITIAL, DISCONTINUED, FULL]


# ========================================================================== delivery: entry fidelity
def test_trained_sites_start_at_entry_fidelity_and_self_taught_at_a_share_of_it():
    """delivery.entry_fidelity (Fixsen et al. 2005): entry_fidelity x training quality for trained sites
    (generation >= 1; 1 from the programme, diluted per generation), entry_fidelity x self_taught otherwise."""
    m, s = bare(3, **{"delivery.entry_fidelity": 0.8, "delivery.self_taught": 0.5})
    m.generation[:] = [1, 0, 2]
    m.dilution = np.array([1.0, 1.0, 0.9])
    got = delivery.entry_fidelity(m, s, np.arange(3))
    assert got.tolist() == pytest.approx([0.8, 0.4, 0.72])


def test_starting_to_deliver_sets_entry_fidelity_and_training_competence(monkeypatch):
    """transitions.apply: a site entering installation gets its entry fidelity, and a trained one at least
    workforce.training x training quality of competence; a self-taught one keeps its competence."""
    m, s = bare(2, **{"delivery.entry_fidelity": 0.8, "delivery.self_taught": 0.5, "workforce.training": 0.3})
    m.stage[:] = EXPLORATION
    m.months_in_stage[:] = 99
    m.generation[:] = [1, 0]
    m.competence[:] = [0.1, 0.1]
    fix_draws(m, monkeypatch, [0.5, 0.5])
    transitions.apply(m, s, np.zeros(2), np.ones(2), np.zeros(2))
    assert m.stage.tolist() == [INSTALLATION, INSTALLATION]
    assert m.fidelity.tolist() == pytest.approx([0.8, 0.4])
    assert m.competence.tolist() == pytest.approx([0.3, 0.1])


# ============================================================================= delivery: drift and repair
def delivery_model(n, **ov):
    m, s = bare(n, **{"strategy.adaptation": "strict", **ov})
    m.stage[:] = FULL
    using(m)
    return m, s


def test_fidelity_drifts_a_share_drift_of_the_way_to_its_equilibrium():
    """delivery.step: f += drift x (competence x (0.5 + 0.5 x capacity) - f) for delivering sites (NIRN, 000; 002)."""
    m, s = delivery_model(3, **{"delivery.drift": 0.1, "logics.mechanical.enabled": False})
    m.stage[2] = NOT_ENGAGED
    using(m)
    m.fidelity[:] = [1.0, 0.1, 0.5]
    m.competence[:] = [0.6, 0.8, 0.6]
    m.capacity[:] = [0.2, 1.0, 0.2]
    delivery.step(m, s)
    eq = np.array([0.6 * 0.6, 0.8, 0.0])
    assert m.fidelity[:2].tolist() == pytest.approx((np.array([1.0, 0.1]) + 0.1 * (eq[:2] - [1.0, 0.1])).tolist())
    assert m.fidelity[2] == 0.5  # not delivering: no drift


def test_coaching_closes_a_share_of_the_gap_to_full_fidelity_for_supported_sites():
    """delivery.step, mechanical logic: f += weight x coach x training quality x (1 - f) for supported delivering sites."""
    m, s = delivery_model(2, **{"delivery.drift": 0.0, "logics.mechanical.coach": 0.2, "logics.mechanical.weight": 0.5})
    m.fidelity[:] = [0.5, 0.5]
    m.supported[:] = [True, False]
    delivery.step(m, s)
    assert m.fidelity.tolist() == pytest.approx([0.5 + 0.1 * 0.5, 0.5])


def test_no_coaching_when_the_mechanical_logic_is_off():
    """delivery.step: coaching is the mechanical logic's; switched off, a site marked supported is not coached."""
    m, s = delivery_model(1, **{"delivery.drift": 0.0, "logics.mechanical.enabled": False, "logics.mechanical.coach": 0.5})
    m.fidelity[:] = 0.5
    m.supported[:] = True
    delivery.step(m, s)
    assert m.fidelity[0] == 0.5


def test_coaching_is_diluted_one_step_per_train_the_trainer_generation():
    """delivery.step and workforce.step: coaching's gains are times the training quality of the
    site's trainer, (1 - dilution)^(generation - 1) (the voltage drop, Chambers et al. 2013)."""
    m, s = delivery_model(2, **{"delivery.drift": 0.0, "logics.mechanical.coach": 0.2, "logics.mechanical.weight": 1.0})
    m.fidelity[:] = 0.5
    m.supported[:] = True
    m.dilution = np.array([1.0, 0.81])
    delivery.step(m, s)
    assert m.fidelity.tolist() == pytest.approx([0.5 + 0.2 * 0.5, 0.5 + 0.2 * 0.81 * 0.5])
    m, s = workforce_model(2, **{"workforce.turnover": False, "logics.mechanical.enabled": True,
                                 "logics.mechanical.skill": 0.1})
    m.stage[:] = INITIAL
    m.supported[:] = True
    m.competence[:] = 0.2
    m.dilution = np.array([1.0, 0.81])
    workforce.step(m, s)
    assert m.competence.tolist() == pytest.approx([0.2 + 0.1 * 0.8, 0.2 + 0.1 * 0.81 * 0.8])


def test_an_audit_repairs_a_share_of_the_gap_below_target_and_never_lowers_fidelity_above_it():
    """delivery.step, assurance (Scaling What Works, 002): f += repair x max(target - f, 0) for audited sites:
    it pulls fidelity up towards the target from below, and leaves fidelity above the target alone."""
    m, s = delivery_model(4, **{"delivery.drift": 0.0, "logics.mechanical.enabled": False,
                                "strategy.assurance.target": 0.9, "strategy.assurance.repair": 0.5})
    m.fidelity[:] = [0.5, 0.95, 0.9, 0.5]
    m.audited = np.array([True, True, True, False])
    delivery.step(m, s)
    assert m.fidelity.tolist() == pytest.approx([0.7, 0.95, 0.9, 0.5])


def test_adapting_core_components_caps_fidelity_below_one():
    """delivery.step: with 'free' adaptation (core share 0.6) fidelity is capped at 1 - 0.6 x adaptation (002)."""
    m, s = bare(2, **{"strategy.adaptation": "free", "delivery.drift": 0.0, "logics.ecological.enabled": False})
    m.stage[:] = FULL
    using(m)
    m.fidelity[:] = [1.0, 0.3]
    m.adaptation[:] = [0.5, 0.5]
    delivery.step(m, s)
    assert m.fidelity.tolist() == pytest.approx([0.7, 0.3])


# ======================================================================================= audits
def audit_model(n, capacity, interval=3, **ov):
    m, s = bare(n, **{"strategy.assurance.interval": interval, "strategy.assurance.capacity": capacity,
                      "strategy.assurance.cost": 0.1, **ov})
    m.stage[:] = INITIAL
    return m, s


def test_audits_take_exactly_their_capacity_longest_unaudited_first():
    """support._audits (002): every interval months at most capacity sites in initial or full
    implementation are audited, those audited longest ago first; each costs assurance.cost."""
    m, s = audit_model(10, capacity=4)
    m.month = 3
    m.last_audit[:] = [0, -1, 0, 0, -1, 0, 0, -1, 0, 0]
    m.stage[9] = EXPLORATION  # not due
    before = m.support_used_b.copy()
    support._audits(m, s)
    assert m.audited.sum() == 4
    assert set(np.flatnonzero(m.audited)) >= {1, 4, 7}  # never audited: first
    assert not m.audited[9]
    assert m.last_audit[m.audited].tolist() == [3] * 4
    assert m.support_used_b - before == pytest.approx([0.4])


def test_audits_take_every_due_site_when_capacity_allows_and_none_off_round_or_unfunded():
    """support._audits: all due sites when they are fewer than capacity; none between rounds or once funding ended."""
    m, s = audit_model(5, capacity=10)
    m.month = 6
    support._audits(m, s)
    assert m.audited.sum() == 5
    m.month = 7
    support._audits(m, s)
    assert m.audited is None
    m.month = 9
    m.funded_b[:] = False
    support._audits(m, s)
    assert m.audited is None


def test_monthly_assurance_audits_every_month():
    """support._audits with interval 1: a round every month (every month is a multiple of 1)."""
    m, s = audit_model(3, capacity=None, interval=1)
    for month in (1, 2, 3):
        m.month = month
        support._audits(m, s)
        assert m.audited is not None and m.audited.all(), month


def test_monthly_rounds_with_a_capacity_take_the_never_audited_before_last_months():
    """support._audits: sites never audited come before those audited last month (last_audit starts
    at -1, before any month)."""
    m, s = audit_model(4, capacity=2, interval=1)
    m.month = 1
    support._audits(m, s)
    first = m.audited.copy()
    m.month = 2
    support._audits(m, s)
    assert first.sum() == 2 and m.audited.sum() == 2 and not (first & m.audited).any()


def test_audits_with_capacity_are_exactly_capacity_in_a_whole_run():
    """support._audits in a run: while funded, each round audits min(capacity, due sites) exactly."""
    s = default_scenario(**{"sites.n": 120, "months": 40, "strategy.assurance.interval": 4,
                            "strategy.assurance.capacity": 3, "outcomes.counterfactual": False})
    m = SpreadModel(s, 2, agents=False)
    rounds = []
    for _ in range(40):
        due_before = None
        m.step()
        if m.audited is not None:
            rounds.append(int(m.audited.sum()))
    assert rounds and all(r == 3 for r in rounds[2:])  # once 3 sites have started up
    assert max(rounds) == 3


# ========================================================================== support: aftercare, fade
def test_aftercare_keeps_support_for_exactly_its_months_of_full_implementation():
    """support.allocate: a site keeps its slot in the pipeline and for `aftercare` months of full
    implementation (months_in_stage < aftercare); then its support ends (NIRN, 000)."""
    m, s = bare(3, **{"strategy.support.aftercare": 3, "strategy.support.capacity": 5})
    m.stage[:] = [INITIAL, INITIAL, NOT_ENGAGED]
    m.eligible_from[:] = 10**6  # no invitations
    support.allocate(m, s)
    assert m.supported.tolist() == [True, True, False]
    m.stage[:2] = FULL
    m.months_in_stage[:2] = [2, 3]
    m.month = 2
    support.allocate(m, s)
    assert m.supported.tolist() == [True, False, False]


def test_one_month_of_aftercare_keeps_support_in_the_first_month_of_full_implementation():
    """support.allocate: aftercare 1 keeps the slot while months_in_stage < 1, then it ends."""
    m, s = bare(1, **{"strategy.support.aftercare": 1})
    m.stage[:] = INITIAL
    m.eligible_from[:] = 10**6
    support.allocate(m, s)
    m.stage[:] = FULL
    m.months_in_stage[:] = 0
    support.allocate(m, s)
    assert m.supported[0]
    m.months_in_stage[:] = 1
    support.allocate(m, s)
    assert not m.supported[0]


def test_without_aftercare_support_ends_on_reaching_full_implementation():
    """support.allocate: aftercare 0 - support ends the month a site is in full implementation."""
    m, s = bare(2, **{"strategy.support.aftercare": 0})
    m.stage[:] = INITIAL
    m.eligible_from[:] = 10**6
    support.allocate(m, s)
    assert m.supported.all()
    m.stage[0] = FULL
    m.months_in_stage[0] = 0
    support.allocate(m, s)
    assert m.supported.tolist() == [False, True]


def test_after_intake_closes_central_slots_keep_their_sites_but_take_in_none():
    """support.allocate with intake_months: until that month free central slots are filled from the
    pipeline and by invitation; after it a site keeps its slot while in the pipeline, but a freed
    slot is neither refilled nor offered to a new site (NIRN 000: seeing sites through)."""
    m, s = bare(5, **{"strategy.support.intake_months": 3, "strategy.support.capacity": 2})
    m.stage[:] = [INITIAL, INITIAL, EXPLORATION, NOT_ENGAGED, NOT_ENGAGED]
    m.month = 3  # the last month of intake: the two slots go to the first two in the pipeline
    support.allocate(m, s)
    held = m.supported.copy()
    assert held.sum() == 2 and not held[3:].any() and not m.invited.any()  # no slot free to invite into
    waiting = int(np.flatnonzero(~held[:3])[0])  # the pipeline site the slots did not take
    m.month = 4
    m.stage[np.flatnonzero(held)[0]] = FULL  # one supported site reaches full: its slot frees
    support.allocate(m, s)
    assert m.supported.tolist() == (held & (m.stage != FULL)).tolist()  # the other keeps its slot
    assert not m.supported[waiting] and not m.invited.any()  # the freed slot takes in nobody
    m.month = 3  # the same state inside the intake: the free slot goes to the waiting site
    support.allocate(m, s)
    assert m.supported[waiting]


def test_intake_null_takes_in_until_funding_ends_and_intake_never_adds_support():
    """A whole run: with intake_months the central programme's supported sites after intake are
    always a subset of those it held the month before (it only sees sites through), and no site is
    first supported after it; with the default (null) sites are still taken in after that month."""
    ov = {"sites.n": 150, "months": 40, "strategy.support.capacity": 10, "outcomes.counterfactual": False}
    first = {}
    for intake in (None, 12):
        m = SpreadModel(default_scenario(**ov, **{"strategy.support.intake_months": intake}), 3, agents=False)
        firsts, prev = np.full(m.n, -1), None
        for _ in range(40):
            m.step()
            new = m.supported & (firsts < 0)
            firsts[new] = m.month
            if intake is not None and m.month > intake:
                assert not (m.supported & ~prev).any()
            prev = m.supported.copy()
        first[intake] = firsts
    assert (first[12] > 12).sum() == 0 and (first[None] > 12).sum() > 5


def test_the_programme_invites_sites_while_its_intake_is_open_and_none_after():
    """support.allocate: up to intake_months free central slots go to invited sites (not engaged,
    eligible), after it to none."""
    m, s = bare(4, **{"strategy.support.intake_months": 5, "strategy.support.capacity": 2})
    m.month = 5
    support.allocate(m, s)
    assert m.invited.sum() == 2
    m.month = 6
    support.allocate(m, s)
    assert not m.invited.any()


def test_a_closed_intake_leaves_the_trainers_slots_taking_in_sites():
    """support.allocate: the intake is the central programme's; a trainer's slots still fill from
    the pipeline and invite after it (the cascade, source 004)."""
    m, s = bare(4, **{"strategy.train_the_trainer.enabled": True, "strategy.train_the_trainer.after": 2,
                      "strategy.train_the_trainer.trainees": 2, "strategy.support.capacity": 0,
                      "strategy.support.intake_months": 0})
    m.stage[:] = [FULL, EXPLORATION, NOT_ENGAGED, NOT_ENGAGED]
    m.months_in_stage[0] = 5
    m.competence[0], m.fidelity[0] = 0.9, 1.0
    m.month = 3
    support.allocate(m, s)
    assert m.trainer[0] and m.supported.tolist() == [False, True, False, False]
    assert m.invited.sum() == 1  # the trainer's second slot invites a site


def test_in_a_batch_each_block_closes_its_own_intake():
    """support._intake_open per block (simulation.blocks): in one batch, a block whose intake has
    closed takes in no new site while a block whose intake is still open does."""
    ov = {"sites.n": 120, "months": 30, "strategy.support.capacity": 8, "outcomes.counterfactual": False}
    scs = [default_scenario(**ov, **{"strategy.support.intake_months": k}) for k in (4, 30)]
    m = SpreadModel(scs[0], [5, 5], agents=False, scenarios=scs)
    assert isinstance(m.scenario_obj.strategy.support.intake_months, np.ndarray)
    first = np.full(m.n, -1)
    for _ in range(30):
        m.step()
        first[m.supported & (first < 0)] = m.month
    late = (first > 4).reshape(2, m.N).sum(axis=1)
    assert late[0] == 0 and late[1] > 5, late


def test_a_closed_intake_stops_light_touch_registration_too():
    """support._light_touch: registering a site is taking it in, so after intake_months the tier
    invites no one (it invites every month before); a site invited in the last open month may
    still register the month after."""
    ov = {"sites.n": 200, "months": 14, "strategy.support.intake_months": 6, "outcomes.counterfactual": False,
          "strategy.light_touch.enabled": True, "strategy.light_touch.capacity": 5}
    m = SpreadModel(default_scenario(**ov), 4, agents=False)
    invited, registered = [], []
    for _ in range(14):
        before = m.light.copy()
        m.step()
        invited.append(int(m.light_invited.sum()))
        registered.append(int((m.light & ~before).sum()))
    assert all(k > 0 for k in invited[:6]) and not any(invited[6:]), invited
    assert sum(registered[7:]) == 0, registered  # month 7 may register month 6's invitations


def test_dependency_fade_starts_at_exp_minus_one_over_fade_and_decays_each_month():
    """support.allocate: dep_fade = exp(-months since support ended / dependency_fade), 0 while supported."""
    m, s = bare(1, **{"logics.mechanical.dependency_fade": 4.0})
    m.stage[:] = INITIAL
    m.eligible_from[:] = 10**6
    support.allocate(m, s)
    assert m.supported[0] and m.dep_fade[0] == 0.0
    m.stage[:] = DECLINED
    fades = []
    for month in range(2, 5):
        m.month = month
        support.allocate(m, s)
        fades.append(m.dep_fade[0])
    assert fades == pytest.approx([math.exp(-k / 4.0) for k in (1, 2, 3)])


def test_support_costs_one_unit_per_supported_site_month():
    """support.allocate: support_used += cost x central slots in use."""
    m, s = bare(4, **{"strategy.support.cost": 2.0, "strategy.support.capacity": 3})
    m.stage[:] = INITIAL
    m.eligible_from[:] = 10**6
    support.allocate(m, s)
    assert m.supported.sum() == 3 and m.support_used_b[0] == pytest.approx(6.0)


# ===================================================================================== workforce
def workforce_model(n=3, turnover=0.3, **ov):
    m, s = bare(n, **{"sites.traits.turnover": {"dist": "constant", "value": turnover},
                      "logics.mechanical.enabled": False, "workforce.learning": 0.0,
                      "workforce.capacity_build": 0.0, "workforce.capacity_decay": 0.0, **ov})
    return m, s


@pytest.mark.parametrize("pkg", [0.0, 0.5, 1.0])
def test_turnover_takes_competence_except_what_the_replication_package_passes_on(monkeypatch, pkg):
    """workforce.step (NSPCC, 001; Scaling What Works, 002): competence x (1 - monthly turnover x (1 -
    replication_package)), monthly turnover = 1 - (1 - annual)^(1/12)."""
    m, s = workforce_model(**{"strategy.replication_package": pkg})
    m.competence[:] = 0.8
    m.champions[:] = 3
    fix_draws(m, monkeypatch, np.ones((2, 3)))
    workforce.step(m, s)
    monthly = 1 - 0.7 ** (1 / 12)
    assert m.competence == pytest.approx(np.full(3, 0.8 * (1 - monthly * (1 - pkg))), rel=1e-12)


def test_the_replication_package_protects_against_turnover():
    """Direction: the larger the replication package, the less competence a year of turnover takes."""
    kept = []
    for pkg in (0.0, 0.3, 0.7, 1.0):
        m, s = workforce_model(1, turnover=0.5, **{"strategy.replication_package": pkg, "workforce.champion_recruit": 0.0})
        m.competence[:] = 1.0
        m.champions[:] = 0
        for _ in range(12):
            workforce.step(m, s)
        kept.append(m.competence[0])
    assert kept == sorted(kept) and kept[0] < kept[-1] == 1.0


def test_losing_the_last_champion_falls_back_with_probability_fallback_times_lack_of_package(monkeypatch):
    """workforce.step (NSPCC, 001): a site in initial or full implementation losing its last champion
    falls back a stage if u < fallback x (1 - replication_package)."""
    for pkg, u1, back in ((0.0, 0.29, True), (0.0, 0.31, False), (0.5, 0.14, True), (0.5, 0.16, False)):
        m, s = workforce_model(2, **{"strategy.replication_package": pkg, "workforce.fallback": 0.3,
                                     "workforce.champion_recruit": 0.0})
        m.stage[:] = [FULL, INITIAL]
        m.champions[:] = 1
        fix_draws(m, monkeypatch, np.array([[0.0, 0.0], [u1, u1]]))
        workforce.step(m, s)
        assert m.champions.tolist() == [0, 0]
        assert m.stage.tolist() == ([INITIAL, INSTALLATION] if back else [FULL, INITIAL]), (pkg, u1)


def test_a_champion_leaves_with_the_chance_that_one_of_them_turns_over(monkeypatch):
    """workforce: a site with c champions loses one if u < 1 - (1 - monthly turnover)^c."""
    m, s = workforce_model(2, **{"workforce.champion_recruit": 0.0})
    m.champions[:] = [2, 2]
    m.p_lose_champion = -np.expm1(m.champions * m._log_stay)
    monthly = 1 - 0.7 ** (1 / 12)
    p = 1 - (1 - monthly) ** 2
    assert m.p_lose_champion[:2] == pytest.approx([p, p])
    fix_draws(m, monkeypatch, np.array([[p - 1e-9, p + 1e-9], [1.0, 1.0]]))
    workforce.step(m, s)
    assert m.champions.tolist() == [1, 2]
    assert m.p_lose_champion[0] == pytest.approx(monthly)


def test_a_site_with_no_champion_recruits_one_with_probability_recruit_times_leadership(monkeypatch):
    """workforce.step: u < champion_recruit x leadership gives a site without a champion one."""
    m, s = workforce_model(3, **{"workforce.champion_recruit": 0.5})
    m.champions[:] = 0
    m.leadership[:] = [1.0, 0.4, 0.4]
    fix_draws(m, monkeypatch, np.array([[1.0] * 3, [0.49, 0.19, 0.21]]))
    workforce.step(m, s)
    assert m.champions.tolist() == [1, 1, 0]


def test_competence_is_learned_by_doing_up_to_capacity():
    """workforce.step: competence += learning x (capacity - competence) for delivering sites (NIRN, 000)."""
    m, s = workforce_model(3, **{"workforce.turnover": False, "workforce.learning": 0.2})
    m.stage[:] = [INITIAL, INITIAL, EXPLORATION]
    m.capacity[:] = [0.5, 0.5, 0.5]
    m.competence[:] = [0.0, 0.9, 0.0]
    workforce.step(m, s)
    assert m.competence.tolist() == pytest.approx([0.1, 0.82, 0.0])


def test_coaching_lifts_competence_of_supported_delivering_sites():
    """workforce.step, mechanical logic: competence += weight x skill x quality x (1 - competence)."""
    m, s = workforce_model(2, **{"workforce.turnover": False, "logics.mechanical.enabled": True,
                                 "logics.mechanical.skill": 0.1, "logics.mechanical.weight": 0.5})
    m.stage[:] = INITIAL
    m.supported[:] = [True, False]
    m.competence[:] = 0.2
    workforce.step(m, s)
    assert m.competence.tolist() == pytest.approx([0.2 + 0.05 * 0.8, 0.2])


def test_capacity_builds_while_supported_and_decays_to_the_sites_own_otherwise():
    """workforce.step (NIRN, 000): capacity += build x (1 - capacity) when supported or audited;
    otherwise capacity += decay x (own capacity - capacity)."""
    m, s = workforce_model(2, **{"workforce.turnover": False, "workforce.capacity_build": 0.1,
                                 "workforce.capacity_decay": 0.2})
    m.capacity0[:] = 0.3
    m.capacity[:] = [0.5, 0.5]
    m.supported[:] = [True, False]
    workforce.step(m, s)
    assert m.capacity.tolist() == pytest.approx([0.55, 0.5 + 0.2 * (0.3 - 0.5)])


def test_capacity_builds_without_decay_and_decays_without_building():
    """workforce.step: building and decay each act on their own (either rate may be 0)."""
    m, s = workforce_model(2, **{"workforce.turnover": False, "workforce.capacity_build": 0.1,
                                 "workforce.capacity_decay": 0.0})
    m.capacity0[:] = 0.3
    m.capacity[:] = 0.5
    m.supported[:] = [True, False]
    workforce.step(m, s)
    assert m.capacity.tolist() == pytest.approx([0.55, 0.5])
    m, s = workforce_model(2, **{"workforce.turnover": False, "workforce.capacity_build": 0.0,
                                 "workforce.capacity_decay": 0.2})
    m.capacity0[:] = 0.3
    m.capacity[:] = 0.5
    m.supported[:] = [True, False]
    workforce.step(m, s)
    assert m.capacity.tolist() == pytest.approx([0.5, 0.46])


def test_no_skill_coaching_when_the_mechanical_logic_is_off():
    """workforce.step: the programme's skill coaching is the mechanical logic's; off, a site marked supported gains none."""
    m, s = workforce_model(1, **{"workforce.turnover": False, "logics.mechanical.enabled": False,
                                 "logics.mechanical.skill": 0.5})
    m.stage[:] = INITIAL
    m.supported[:] = True
    m.competence[:] = 0.2
    workforce.step(m, s)
    assert m.competence[0] == 0.2


def test_an_instant_pipeline_has_no_stage_to_fall_back_to(monkeypatch):
    """workforce.step: losing the last champion never moves a site of an instant pipeline out of full implementation."""
    m, s = workforce_model(1, **{"pipeline": "instant", "workforce.fallback": 1.0, "workforce.champion_recruit": 0.0})
    m.stage[:] = FULL
    m.champions[:] = 1
    fix_draws(m, monkeypatch, np.zeros((2, 1)))
    workforce.step(m, s)
    assert m.champions[0] == 0 and m.stage[0] == FULL


def test_delivering_is_installation_to_full_implementation():
    """workforce.delivering: installation, initial or full implementation."""
    stages = np.arange(7)
    assert workforce.delivering(stages).tolist() == [False, False, True, True, True, False, False]


def test_change_fatigue_targets_stay_below_one_and_one_initiative_counts():
    """workforce.configure: fatigue target = min(1, ...) however many initiatives; even one initiative tires staff."""
    m, s = workforce_model(2, **{"workforce.turnover": False, "workforce.concurrent_initiatives": 20,
                                 "workforce.fatigue_per_initiative": 0.5})
    assert (m.fatigue_target == 1.0).all()
    m, s = workforce_model(1, **{"workforce.turnover": False, "workforce.concurrent_initiatives": 1,
                                 "workforce.fatigue_per_initiative": 0.2})
    workforce.step(m, s)
    assert m.fatigue[0] == pytest.approx(0.1 * 0.2 * (1.5 - 0.5 * m.capacity0[0]))


def test_change_fatigue_moves_a_tenth_of_the_way_to_its_target():
    """workforce.step (Matching Michigan, 004): fatigue += 0.1 x (target - fatigue), target =
    min(1, initiatives x fatigue_per_initiative x (1.5 - 0.5 x own capacity))."""
    m, s = workforce_model(2, **{"workforce.turnover": False, "workforce.concurrent_initiatives": 2,
                                 "workforce.fatigue_per_initiative": 0.2})
    target = np.minimum(1.0, 2 * 0.2 * (1.5 - 0.5 * m.capacity0))
    assert m.fatigue_target == pytest.approx(target)
    workforce.step(m, s)
    assert m.fatigue == pytest.approx(0.1 * target)


# ====================================================================================== outcomes
def test_effect_benefit_and_reach_follow_their_formulas():
    """outcomes.collect: effect = efficacy x coverage x fidelity x fit_eff x competence (coverage 1 full,
    initial_reach initial, 0 otherwise); benefit = sum size x (1 - tau (1 - effect)), tau = (1 - trend)^(t/12);
    reach = sum size x coverage (Chambers et al. 2013)."""
    m, s = bare(3, **{"outcomes.efficacy": 0.5, "outcomes.initial_reach": 0.4, "outcomes.trend": 0.1})
    m.month = 6
    m.stage[:] = [FULL, INITIAL, INSTALLATION]
    m.size[:] = [100.0, 200.0, 300.0]
    m._size_total = np.array([600.0])
    m.fidelity[:] = 0.8
    m.fit_eff[:] = 0.5
    m.competence[:] = 0.5
    outcomes.collect(m, s)
    eff = 0.5 * np.array([1.0, 0.4, 0.0]) * 0.8 * 0.5 * 0.5
    assert m.effect == pytest.approx(eff)
    tau = 0.9 ** 0.5
    size = np.array([100.0, 200.0, 300.0])
    assert m.series_b["benefit"][0, 6] == pytest.approx(float((size * (1 - tau * (1 - eff))).sum()))
    assert m.series_b["reach"][0, 6] == pytest.approx(100 + 0.4 * 200)
    assert m.series_b["mean_fidelity"][0, 6] == pytest.approx(0.8)
    assert m.seen == pytest.approx(eff / s.outcomes.lag)  # what a site has seen: smoothed over `lag` months


# ======================================================================= the run summary's cohort
def test_wong_cohort_holds_only_sites_followed_for_the_whole_window():
    """runner.summarise (Wong, Schaper & Saldana 2022): competence_rate, sustained_startup and
    sustained_competent are over the sites that started up in month 1 .. (last month - sustain_window),
    pilot sites excluded; sites that started up later cannot be followed for the whole window."""
    s = default_scenario(**{"sites.n": 6, "months": 30, "network.type": "none", "strategy.seeding.n": 1,
                            "outcomes.counterfactual": False, "outcomes.sustain_window": 24})
    m = SpreadModel(s, 1, agents=False).run_model()
    seed = int(np.flatnonzero(m.seed_site)[0])
    others = [i for i in range(6) if i != seed]
    m.adopted_month[:] = -1
    m.full_month[:] = -1
    m.sustain_start[:] = -1
    m.sustain_competent[:] = -1
    m.adopted_month[seed] = 0
    m.full_month[seed] = 0
    a, b, c, d, e = others
    m.adopted_month[[a, b, c, d]] = [1, 6, 7, 20]  # a, b followed 24 months; c, d not; e never started
    m.full_month[[a, c, d]] = [5, 10, 25]
    m.sustain_start[[a, b]] = [1, 0]
    m.sustain_competent[[a]] = [1]
    out = summarise(m)
    assert out["competence_rate"] == pytest.approx(0.5)  # a of {a, b}
    assert out["sustained_startup"] == pytest.approx(0.5)
    assert out["sustained_competent"] == pytest.approx(0.5)
    m.adopted_month[[a, b]] = [8, 9]  # nobody can be followed: no cohort
    assert np.isnan(summarise(m)["competence_rate"])


def test_wong_cohort_marks_sites_still_delivering_window_months_after_start_up():
    """outcomes._cohorts: sustain_start = 1 if a site that started up in month t is delivering (installation
    to full) at month t + sustain_window, 0 otherwise."""
    m, s = bare(3, **{"outcomes.sustain_window": 4})
    m._started[2] = np.array([0, 1, 2])
    m.stage[:] = [INSTALLATION, DISCONTINUED, FULL]
    m.month = 6
    outcomes.collect(m, s)
    assert m.sustain_start.tolist() == [1, 0, 1]


def test_outcome_series_counterfactual_and_mean_fidelity_of_one_adopter():
    """outcomes.collect: outcome = tau x (1 - effect people / people); the programme arm's
    benefit_counterfactual is the no-programme arm's benefit; mean fidelity over adopters, even one."""
    s = default_scenario(**{"sites.n": 2, "months": 3, "network.type": "none", "strategy.seeding.n": 0,
                            "outcomes.trend": 0.12, "outcomes.efficacy": 1.0})
    m = SpreadModel(s, 1, agents=False)
    m.month = 1
    m.stage[:] = [FULL, NOT_ENGAGED, NOT_ENGAGED, NOT_ENGAGED]  # programme block, then its counterfactual arm
    m.size[:] = [10.0, 30.0, 10.0, 30.0]
    m._size_total = np.array([40.0, 40.0])
    m.fidelity[:] = 0.7
    m.fit_eff[:] = 1.0
    m.competence[:] = 1.0
    outcomes.collect(m, s)
    tau = 0.88 ** (1 / 12)
    assert m.series_b["outcome"][0, 1] == pytest.approx(tau * (1 - 10 * 0.7 / 40))
    assert m.series_b["mean_fidelity"][0, 1] == pytest.approx(0.7)
    cf = (1 - tau) * 40
    assert m.series_b["benefit_counterfactual"][0, 1] == pytest.approx(cf)
    assert m.series_b["attributable_benefit"][0, 1] == pytest.approx(tau * 7.0)


def test_sustainment_from_funding_end_plan_and_its_reasons():
    """Model v3, outcomes.sustain_plan / sustain_note: sustainment is measured from the month central
    funding ends (None when it never does or there is no programme); each way it cannot be measured
    has its own reason (never ends, ends at or after the run's end, fewer than 12 or 24 months left)."""
    def sc(months, funding, mechanical=True):
        return default_scenario(**{"months": months, "strategy.support.funding_months": funding,
                                   "logics.mechanical.enabled": mechanical})

    assert outcomes.sustain_plan(sc(60, 24)) == 24 and outcomes.sustain_plan(sc(60, None)) is None
    assert outcomes.sustain_plan(sc(60, 24, mechanical=False)) is None
    assert outcomes.sustain_note(sc(60, 24)) is None  # 36 months left: both windows measured
    assert "never ends" in outcomes.sustain_note(sc(60, None))
    assert "no programme" in outcomes.sustain_note(sc(60, 24, mechanical=False))
    assert "not before the run's end" in outcomes.sustain_note(sc(24, 24))
    assert "12 needed" in outcomes.sustain_note(sc(35, 24))
    note = outcomes.sustain_note(sc(47, 24))
    assert note.startswith("sustained_*_24") and "24 needed" in note


def test_practices_that_overlap_the_trend_take_the_larger_of_the_two_not_both():
    """outcomes.burden: without overlap, tau x (1 - effect); with trend_practice phi and prior_practice
    p0, tau ** (1 - phi) x (1 - max(practice, effect)) / (1 - p0), practice = 1 - (1 - p0) tau ** phi
    (Bion et al. 2013: England's trend was the same practices spreading by other routes)."""
    from types import SimpleNamespace as NS
    eff = np.array([0.0, 0.3, 0.6, 0.9])
    plain = NS(trend=0.42, trend_practice=0.0, prior_practice=0.0)
    tau = 0.58 ** (18 / 12)
    assert not outcomes.overlaps(plain)
    np.testing.assert_allclose(outcomes.burden(plain, 18, eff), tau * (1 - eff))
    # the whole trend is the practices, and they had removed half the burden before month 0
    full = NS(trend=0.42, trend_practice=1.0, prior_practice=0.5)
    assert outcomes.overlaps(full)
    practice0 = 0.5
    # month 0: a site whose own effect is below what the practices had already removed gains nothing
    np.testing.assert_allclose(outcomes.burden(full, 0, eff), (1 - np.maximum(practice0, eff)) / 0.5)
    assert outcomes.burden(full, 0, eff)[:2].tolist() == [1.0, 1.0]
    practice = 1 - 0.5 * tau
    np.testing.assert_allclose(outcomes.burden(full, 18, eff), (1 - np.maximum(practice, eff)) / 0.5)
    # a site with no delivery follows the trend exactly, as in the plain model
    assert outcomes.burden(full, 18, np.array([0.0]))[0] == pytest.approx(tau)
    # half the trend is the practices: the other half multiplies whatever the site does
    half = NS(trend=0.42, trend_practice=0.5, prior_practice=0.0)
    p = 1 - tau ** 0.5
    np.testing.assert_allclose(outcomes.burden(half, 18, eff), tau ** 0.5 * (1 - np.maximum(p, eff)))
    # the programme never makes the burden larger than the counterfactual's (effect 0)
    assert np.all(outcomes.burden(full, 18, eff) <= outcomes.burden(full, 18, np.zeros(4)) + 1e-15)


def test_with_overlapping_practices_the_outcome_is_the_size_weighted_burden_left():
    """outcomes.collect with overlap: outcome = sum(size x burden) / people, benefit = people - that sum."""
    m, s = bare(2, **{"outcomes.trend": 0.3, "outcomes.trend_practice": 1.0, "outcomes.prior_practice": 0.4,
                      "outcomes.efficacy": 1.0})
    m.size[:] = [10.0, 30.0]
    m._size_total = np.array([40.0])
    m.stage[:] = FULL
    m.fidelity[:] = [0.9, 0.2]
    m.fit_eff[:] = 1.0
    m.competence[:] = 1.0
    outcomes.collect(m, s)
    left = m.size * outcomes.burden(s.outcomes, 1, m.effect)
    assert m.series_b["outcome"][0, 1] == pytest.approx(left.sum() / 40)
    assert m.series_b["benefit"][0, 1] == pytest.approx(40 - left.sum())


# ============================================================================= support: light-touch tier
LIGHT = {"strategy.light_touch.enabled": True, "strategy.light_touch.quality": 0.6, "strategy.light_touch.cost": 0.25,
         "strategy.light_touch.progress": 0.1}


def test_light_touch_registers_last_months_invited_sites_once_at_its_quality_and_cost():
    """support._light_touch (Action Schools! BC, 004): a site invited last month and now exploring is
    registered, trained at the tier's quality (generation 1, unless trainers already reached it),
    for light_touch.cost each; a site invited but not exploring, or already registered, is not."""
    m, s = bare(5, **LIGHT, **{"strategy.light_touch.capacity": 0})
    m.stage[:] = [EXPLORATION, EXPLORATION, NOT_ENGAGED, EXPLORATION, EXPLORATION]
    m.light_invited[:] = [True, True, True, True, False]
    m.light[3] = True  # registered earlier
    m.generation[1] = 2  # reached by a trainer's trainee
    assert np.isscalar(m.dilution)
    before = m.support_used_b.copy()
    support._light_touch(m, s, np.zeros(5, bool))
    assert m.light.tolist() == [True, True, False, True, False]
    assert m.generation.tolist() == [1, 2, 0, 0, 0]
    assert np.asarray(m.dilution).tolist() == [0.6, 1.0, 1.0, 1.0, 1.0]
    assert m.support_used_b - before == pytest.approx([2 * 0.25])
    assert not m.light_invited.any()  # this month's invitations: none (capacity 0)


@pytest.mark.parametrize("capacity", [1, 2])
def test_light_touch_invites_up_to_its_capacity_of_sites_not_otherwise_invited(capacity):
    """support._light_touch: this month's invitations go to at most light_touch.capacity candidates the
    support slots did not invite and the tier has not registered; they count as invited."""
    m, s = bare(6, **LIGHT, **{"strategy.light_touch.capacity": capacity})
    cand = np.array([True, True, True, True, True, False])
    m.invited[0] = True
    m.light[1] = True
    support._light_touch(m, s, cand)
    got = np.flatnonzero(m.light_invited)
    assert len(got) == capacity and set(got) <= {2, 3, 4}
    assert m.invited[got].all() and m.invited[0]


def test_light_touch_pushes_registered_unsupported_sites_in_the_pipeline_while_open():
    """support._light_touch: while the tier is open (funded, or for light_touch.months), each registered
    site from exploration to initial implementation without a support slot gets light_touch.progress;
    none in full implementation or discontinued, none with a slot; no push at all once it closes."""
    m, s = bare(6, **LIGHT)
    m.light[:] = True
    m.stage[:] = [EXPLORATION, INSTALLATION, INITIAL, FULL, DISCONTINUED, INITIAL]
    m.supported[5] = True
    support._light_touch(m, s, np.zeros(6, bool))
    assert m.light_push.tolist() == pytest.approx([0.1, 0.1, 0.1, 0.0, 0.0, 0.0])
    m.funded_b[:] = False  # funding ended, no months of its own: closed
    support._light_touch(m, s, np.ones(6, bool))
    assert m.light_push is None and not m.light_invited.any()
    m, s = bare(6, **LIGHT, **{"strategy.light_touch.months": 4})
    m.light[:] = True
    m.stage[:] = INITIAL
    m.funded_b[:] = False  # open for its own 4 months, funded or not
    m.month = 4
    support._light_touch(m, s, np.zeros(6, bool))
    assert m.light_push.tolist() == pytest.approx([0.1] * 6)
    m.month = 5
    support._light_touch(m, s, np.zeros(6, bool))
    assert m.light_push is None


def test_light_touch_is_closed_only_in_the_blocks_whose_funding_ended():
    """support._light_touch in a batch (per-block funding): a block whose funding ended gets no
    invitations and no push, the others as usual."""
    s = default_scenario(**{"sites.n": 4, "months": 10, "network.type": "none", "strategy.seeding.n": 0,
                            "outcomes.counterfactual": False, **LIGHT, "strategy.light_touch.capacity": 2})
    m = SpreadModel(s, [1, 2], agents=False)
    m.month = 1
    m.funded_b[:] = [True, False]
    m.light[[0, 4]] = True
    m.stage[:] = INITIAL
    support._light_touch(m, s, ~m.light)
    assert m.light_invited[:4].sum() == 2 and not m.light_invited[4:].any()
    assert m.light_push.tolist() == pytest.approx([0.1, 0, 0, 0, 0, 0, 0, 0])


# ============================================================================ support: reserved slots
def test_reserved_slots_serve_only_their_groups_sites_and_the_rest_any_site():
    """support.allocate with strategy.support.reserve: a group's reserved slots are kept free for its
    own sites (none of another group takes them); the other slots serve any site."""
    m, s = bare(5, **{"sites.groups": {"a": {"n": 2}, "b": {"n": 3}}, "strategy.support.capacity": 2,
                      "strategy.support.reserve": {"a": 1}})
    a = np.flatnonzero(m.group == "a")
    b = np.flatnonzero(m.group == "b")
    m.stage[:] = NOT_ENGAGED
    m.stage[b] = EXPLORATION  # only b's sites are in the pipeline
    m.eligible_from[:] = 10**6
    support.allocate(m, s)
    assert m.supported[b].sum() == 1 and not m.supported[a].any()  # a's slot stays a's
    m.stage[a[0]] = EXPLORATION
    support.allocate(m, s)
    assert m.supported[a[0]] and m.supported[b].sum() == 1


def test_reserved_slots_invite_only_their_groups_eligible_sites_and_nothing_once_funding_ends():
    """support.allocate: a free reserved slot invites one of its group's sites not yet engaged (never
    another group's, nor one already engaged); after funding ends the reserve has no slots."""
    m, s = bare(6, **{"sites.groups": {"a": {"n": 3}, "b": {"n": 3}}, "strategy.support.capacity": 1,
                      "strategy.support.reserve": {"a": 1}, "strategy.support.funding_months": 2})
    a = np.flatnonzero(m.group == "a")
    m.stage[:] = NOT_ENGAGED
    m.stage[a[0]] = DECLINED  # engaged once, and not yet allowed back
    m.months_in_stage[a[0]] = 0
    support.allocate(m, s)
    assert m.invited.sum() == 1 and m.invited[a[1:]].any()
    m.month = 3  # funding has ended
    m.stage[m.invited] = EXPLORATION
    support.allocate(m, s)
    assert not m.supported.any() and not m.invited.any()


@pytest.mark.filterwarnings("ignore:.*has no effect")
def test_a_reserve_for_a_group_the_site_table_does_not_have_names_its_groups(tmp_path):
    """support.configure: the groups of a site table are known only once it is read."""
    from simulation.errors import InputError

    table = tmp_path / "sites.csv"
    table.write_text("site,group\n1,b\n2,a\n3,b\n")
    with pytest.raises(InputError) as err:
        bare(3, **{"sites.file": str(table), "strategy.support.capacity": 2, "strategy.support.reserve": {"c": 1}})
    p = err.value.problems[0]
    assert (p.source, p.field, p.message) == ("<python>", "strategy.support.reserve", "no group 'c'; groups are: a, b")


# ====================================================================================== support: waves
def test_waves_group_by_group_make_size_sites_eligible_every_months_in_the_groups_order():
    """support._waves with strategy.waves.order and size: the groups' sites in rollout order (within a
    group, the seeding order) become eligible size at a time, one wave every `every` months."""
    m, s = bare(5, **{"sites.groups": {"a": {"n": 2}, "b": {"n": 3}}, "strategy.waves.every": 6,
                      "strategy.waves.size": 2, "strategy.waves.order": ["b", "a"]})
    a = np.flatnonzero(m.group == "a")
    b = np.flatnonzero(m.group == "b")
    assert sorted(m.eligible_from[b]) == [0, 0, 6] and sorted(m.eligible_from[a]) == [6, 12]
    assert m.eligible_from[b][np.argmax(m.rank[b])] == 6  # the last of b in the seeding order waits


@pytest.mark.filterwarnings("ignore:.*has no effect")
@pytest.mark.parametrize("every", [1, 6])
def test_waves_without_an_order_make_size_sites_eligible_every_months_in_the_seeding_order(every):
    """support._waves without groups: the k-th site in the programme's order becomes eligible at
    month (k // size) x every."""
    m, s = bare(7, **{"strategy.waves.every": every, "strategy.waves.size": 3})
    assert m.eligible_from.dtype == np.int64
    assert m.eligible_from.tolist() == ((m.rank // 3) * every).tolist()
    assert sorted(m.eligible_from.tolist()) == [0, 0, 0, every, every, every, 2 * every]


@pytest.mark.filterwarnings("ignore:.*has no effect")
def test_waves_of_whole_groups_make_each_group_eligible_in_its_turn():
    """support._waves with size null: one group per wave, in the order given."""
    m, s = bare(5, **{"sites.groups": {"a": {"n": 2}, "b": {"n": 3}}, "strategy.waves.every": 12,
                      "strategy.waves.size": None, "strategy.waves.order": ["b", "a"]})
    assert m.eligible_from.dtype == np.int64
    assert m.eligible_from[m.group == "b"].tolist() == [0, 0, 0] and m.eligible_from[m.group == "a"].tolist() == [12, 12]


@pytest.mark.filterwarnings("ignore:.*has no effect")
@pytest.mark.parametrize("order,message", [(["b", "c", "d"], "no group 'c', 'd'; groups are: a, b, e"),
                                           (["b"], "list every group once; missing: a, e")])
def test_waves_naming_groups_a_site_table_lacks_or_leaving_one_out_are_refused(tmp_path, order, message):
    from simulation.errors import InputError

    table = tmp_path / "sites.csv"
    table.write_text("site,group\n1,b\n2,a\n3,b\n4,e\n")
    with pytest.raises(InputError) as err:
        bare(4, **{"sites.file": str(table), "strategy.waves.every": 6, "strategy.waves.size": None,
                   "strategy.waves.order": order})
    p = err.value.problems[0]
    assert (p.source, p.field, p.message) == ("<python>", "strategy.waves.order", message)


# ============================================================================= support: seeding order
@pytest.mark.filterwarnings("ignore:.*has no effect")
def test_most_central_seeding_orders_sites_by_degree_and_listed_sites_come_first_in_their_order():
    """support._priority: the programme's order of sites (seeding and invitations): most_central by
    degree, highest first; sites listed in strategy.seeding.sites before all others, in the order given."""
    m, s = bare(4, **{"strategy.seeding.rule": "most_central"})
    m.degree[:] = [1, 5, 3, 0]
    support._priority(m, s)
    assert m.rank.tolist() == [2, 0, 1, 3]
    m, s = bare(4, **{"strategy.seeding.rule": "most_central", "strategy.seeding.sites": [3, 0]})
    m.degree[:] = [1, 5, 3, 0]
    support._priority(m, s)
    assert m.rank.tolist() == [1, 2, 3, 0]


@pytest.mark.filterwarnings("ignore:.*has no effect")
def test_opinion_leaders_seeding_orders_sites_by_prestige():
    """support._priority, opinion_leaders: the sites of highest prestige first (Rogers' opinion
    leaders; ties broken by the seeding stream)."""
    m, s = bare(4, **{"strategy.seeding.rule": "opinion_leaders"})
    m.prestige[:] = [0.2, 0.9, 0.5, 0.1]
    support._priority(m, s)
    assert m.rank.tolist() == [2, 0, 1, 3]


def test_a_seed_site_listed_twice_is_refused_by_name():
    from simulation.errors import InputError

    with pytest.raises(InputError) as err:
        bare(4, **{"strategy.seeding.rule": "sites", "strategy.seeding.sites": [1, 2, 1]})
    p = err.value.problems[0]
    assert (p.source, p.field, p.message) == ("<python>", "strategy.seeding.sites", "a site is listed twice")


def test_seeding_more_sites_than_the_network_has_is_refused_by_name():
    from simulation.errors import InputError

    with pytest.raises(InputError) as err:
        bare(4, **{"strategy.seeding.n": 6})
    p = err.value.problems[0]
    assert (p.source, p.field, p.message) == ("<python>", "strategy.seeding.n", "cannot seed 6 sites: the network has 4")


def test_collaboratives_form_in_every_block_of_the_programme_and_none_outside_it():
    """support._form_collaboratives (003): engaged sites of each programme block join cohorts of
    collaborative.size linked to each other; a block without the programme (here the first) has none."""
    s = default_scenario(**{"sites.n": 4, "months": 10, "network.type": "none", "strategy.seeding.n": 0,
                            "outcomes.counterfactual": False, "strategy.collaborative.enabled": True,
                            "strategy.collaborative.size": 2})
    m = SpreadModel(s, [1, 2], agents=False)
    m.stage[:] = EXPLORATION
    m.programme_b[:] = [False, True]
    support._form_collaboratives(m, s)
    assert m.member.tolist() == [False] * 4 + [True] * 4
    W = m.W.toarray()
    assert W[:4].sum() == 0 and (W[4:, 4:] > 0).sum() == 4  # two cohorts of two, linked both ways


def test_a_collaborative_formed_when_no_site_is_engaged_has_no_members_and_no_ties():
    """support._form_collaboratives: no engaged site at its start month makes no cohort (and no error)."""
    s = default_scenario(**{"sites.n": 4, "months": 10, "network.type": "none", "strategy.seeding.n": 0,
                            "outcomes.counterfactual": False, "strategy.collaborative.enabled": True})
    m = SpreadModel(s, 1, agents=False)
    support._form_collaboratives(m, s)
    assert not m.member.any() and m.W.nnz == 0


def test_trainees_are_matched_with_their_own_blocks_trainers_in_turn():
    """support._trainer_generation: new trainees are matched with the trainers of their own block in
    turn, `trainees` each (here 1), so each takes its own trainer's generation + 1; in a batch the
    turn is counted within the block, not across the batch."""
    s = default_scenario(**{"sites.n": 6, "months": 10, "network.type": "none", "strategy.seeding.n": 0,
                            "outcomes.counterfactual": False})
    m = SpreadModel(s, [1, 2], agents=False)
    m.trainer[:] = False
    m.trainer[[0, 6, 7, 8]] = True  # block 0: one trainer; block 1: three, of generations 1, 3, 5
    m.generation[[0, 6, 7, 8]] = [2, 1, 3, 5]
    new = np.zeros(m.n, bool)
    new[[3, 10, 11]] = True  # one new trainee in block 0, two in block 1
    support._trainer_generation(m, new, 1)
    assert m.generation[[3, 10, 11]].tolist() == [3, 2, 4]


def test_collaboratives_cost_per_member_month_only_while_funded():
    """support.collaborative_costs: collaborative.cost per engaged member-month while the programme is funded."""
    m, s = bare(4, **{"strategy.collaborative.enabled": True, "strategy.collaborative.start": 1,
                      "strategy.collaborative.cost": 0.5})
    m.member[:] = [True, True, True, False]
    m.stage[:] = [EXPLORATION, FULL, DECLINED, EXPLORATION]
    support.collaborative_costs(m, s)
    assert m.support_used_b.tolist() == pytest.approx([1.0])
    m.funded_b[:] = False
    support.collaborative_costs(m, s)
    assert m.support_used_b.tolist() == pytest.approx([1.0])


def test_a_site_exactly_at_the_trainer_thresholds_becomes_a_trainer():
    """support.allocate: a trainer needs competence of at least 0.5 and fidelity of at least
    fidelity_for_full (both inclusive)."""
    m, s = bare(2, **{"strategy.train_the_trainer.enabled": True, "strategy.train_the_trainer.after": 2,
                      "strategy.support.capacity": 0})
    m.stage[:] = FULL
    m.months_in_stage[:] = 5
    m.competence[:] = [0.5, 0.9]
    m.fidelity[:] = [0.9, s.stages.fidelity_for_full]
    m.eligible_from[:] = 10**6
    support.allocate(m, s)
    assert m.trainer.tolist() == [True, True]


def test_a_funding_cut_leaves_the_whole_slots_of_the_capacity_that_remains():
    """support.allocate: capacity x (1 - cut) slots, rounded down (5 x 0.5 = 2.5: two sites)."""
    m, s = bare(4, **{"strategy.support.capacity": 5})
    m.stage[:] = EXPLORATION
    m.eligible_from[:] = 10**6
    m.cut_b[:] = 0.5
    support.allocate(m, s)
    assert m.supported.sum() == 2


def test_a_site_is_invited_in_the_month_it_becomes_eligible():
    """support.allocate: a site eligible from month t (its wave) may be invited in month t."""
    m, s = bare(2, **{"strategy.support.capacity": 2})
    m.eligible_from[:] = [3, 4]
    m.month = 3
    support.allocate(m, s)
    assert m.invited.tolist() == [True, False]


def test_a_light_touch_site_taking_a_coaching_slot_is_coached_at_full_quality():
    """support.allocate: a site registered by the light-touch tier (trained at its quality) that
    takes a central slot is trained again by the programme: generation 1, dilution 1."""
    m, s = bare(3, **LIGHT, **{"strategy.support.capacity": 1})
    m.dilution = np.array([0.6, 1.0, 1.0])
    m.generation[0], m.light[0] = 1, True
    m.stage[:] = [EXPLORATION, NOT_ENGAGED, NOT_ENGAGED]
    m.eligible_from[:] = 10**6
    support.allocate(m, s)
    assert m.support_kind[0] == support.CENTRAL and m.dilution[0] == 1.0


@pytest.mark.parametrize("after_funding", [True, False])
def test_trainers_keep_training_after_funding_only_when_the_scenario_says_so(after_funding):
    """support.allocate with train_the_trainer: a site long enough in full implementation, competent and
    faithful becomes a trainer with `trainees` slots; once central funding has ended its slots stay only
    with train_the_trainer.after_funding (then a local cost)."""
    m, s = bare(4, **{"strategy.train_the_trainer.enabled": True, "strategy.train_the_trainer.after": 2,
                      "strategy.train_the_trainer.trainees": 2, "strategy.train_the_trainer.after_funding": after_funding,
                      "strategy.support.funding_months": 0, "strategy.support.capacity": 0})
    m.stage[:] = [FULL, EXPLORATION, EXPLORATION, NOT_ENGAGED]
    m.months_in_stage[0] = 5
    m.competence[0], m.fidelity[0] = 0.9, 1.0
    m.eligible_from[:] = 10**6
    support.allocate(m, s)
    assert m.trainer.tolist() == [True, False, False, False]
    assert m.supported.tolist() == [False, after_funding, after_funding, False]


@pytest.mark.parametrize("stage", ["exploration", "installation", "initial", "full"])
def test_pilot_sites_start_in_their_stage_trained_by_the_programme(stage):
    """support._seed_sites: the first seeding.n sites in the programme's order start in seeding.stage,
    generation 1, at entry fidelity and training competence (in full implementation at least what that
    stage means), adopted (and in full implementation) at month 0 only from initial implementation on."""
    m, s = bare(5, **{"strategy.seeding.n": 2, "strategy.seeding.stage": stage, "delivery.entry_fidelity": 0.5,
                      "workforce.training": 0.3})
    seeds = np.flatnonzero(m.seed_site)
    assert sorted(m.rank[seeds]) == [0, 1]
    code = {"exploration": EXPLORATION, "installation": INSTALLATION, "initial": INITIAL, "full": FULL}[stage]
    assert (m.stage[seeds] == code).all() and (m.generation[seeds] == 1).all()
    if stage == "full":
        assert m.fidelity[seeds].tolist() == [max(0.5, s.stages.fidelity_for_full)] * 2
        assert m.competence[seeds].tolist() == [max(0.3, s.stages.competence_for_full)] * 2
        assert m.adopted_month[seeds].tolist() == [0, 0] and m.full_month[seeds].tolist() == [0, 0]
    else:
        assert m.fidelity[seeds].tolist() == [0.5, 0.5] and m.competence[seeds].tolist() == [0.3, 0.3]
        assert m.adopted_month[seeds].tolist() == ([0, 0] if stage == "initial" else [-1, -1])
        assert m.full_month[seeds].tolist() == [-1, -1]
    assert m.months_in_stage[seeds].tolist() == [m._min_months[code]] * 2  # their stage's minimum, already spent


def test_listed_pilot_sites_are_the_seeds_however_many_seeding_n_says():
    """support._seed_sites with seeding.sites: exactly the listed sites start (seeding.n is for the
    other rules), in the order given."""
    m, s = bare(6, **{"strategy.seeding.sites": [4, 2], "strategy.seeding.n": 5})
    assert np.flatnonzero(m.seed_site).tolist() == [2, 4]  # generated sites: id i is site i
    assert m.rank[4] == 0 and m.rank[2] == 1


def test_an_instant_pipeline_seeds_its_pilot_sites_in_full_implementation():
    """support._seed_sites: with pipeline instant there are no stages to start in but full."""
    m, s = bare(4, **{"pipeline": "instant", "strategy.seeding.n": 2, "strategy.seeding.stage": "exploration"})
    assert (m.stage[m.seed_site] == FULL).all() and (m.full_month[m.seed_site] == 0).all()


def test_waves_group_by_group_in_each_block_of_a_batch():
    s = default_scenario(**{"sites.n": 5, "months": 10, "network.type": "none", "strategy.seeding.n": 0,
                            "outcomes.counterfactual": False, "sites.groups": {"a": {"n": 2}, "b": {"n": 3}},
                            "strategy.waves.every": 6, "strategy.waves.size": 2, "strategy.waves.order": ["b", "a"]})
    m = SpreadModel(s, [1, 2], agents=False)
    for blk in range(2):
        sl = m.block_slice(blk)
        g, e = m.group[sl], m.eligible_from[sl]
        assert sorted(e[g == "b"]) == [0, 0, 6] and sorted(e[g == "a"]) == [6, 12]


@pytest.mark.filterwarnings("ignore:.*has no effect")
def test_seeding_by_group_puts_the_groups_sites_first_and_needs_a_group_that_exists(tmp_path):
    from simulation.errors import InputError

    m, s = bare(5, **{"sites.groups": {"a": {"n": 2}, "b": {"n": 3}}, "strategy.seeding.rule": "by_group",
                      "strategy.seeding.group": "a"})
    assert sorted(m.rank[m.group == "a"]) == [0, 1]
    table = tmp_path / "sites.csv"
    table.write_text("site,group\n1,b\n2,a\n3,b\n")
    with pytest.raises(InputError) as err:
        bare(3, **{"sites.file": str(table), "strategy.seeding.rule": "by_group", "strategy.seeding.group": "c"})
    p = err.value.problems[0]
    assert (p.source, p.field, p.message) == ("<python>", "strategy.seeding.group",
                                              "by_group needs a group that exists; groups are: a, b")


@pytest.mark.filterwarnings("ignore:.*has no effect")
def test_listed_seed_sites_must_be_sites_of_the_network():
    from simulation.errors import InputError

    with pytest.raises(InputError) as err:
        bare(4, **{"strategy.seeding.sites": [1, 99, 98, 97, 96, 95, 94]})
    p = err.value.problems[0]
    assert (p.source, p.field, p.message) == ("<python>", "strategy.seeding.sites",
                                              "not sites of this network: 99, 98, 97, 96, 95")


# ============================================================================= compiled kernels, batches
def test_the_compiled_months_equal_the_numpy_months(monkeypatch):
    """workforce.fused_step and outcomes._sites_kernel (the compiled path of runs from 50,000 sites,
    forced here on a small run with every mechanism on): each month's site arrays and series equal
    the numpy code's bit for bit (tests/test_kernels.py has more cases)."""
    pytest.importorskip("numba")
    from .test_kernels import EVERYTHING, run_both, step_equal

    step_equal(*run_both("scenarios/demo.yaml", {**EVERYTHING, "months": 24}, [4, 5], monkeypatch))


def test_blocks_ending_their_funding_in_different_months_each_take_their_own_cohort():
    """outcomes._sustainment: in a batch whose blocks end their funding at months 6 and 10,
    each block's cohort, and its shares 12 and 24 months on, are those of its run alone."""
    base = default_scenario(**{"sites.n": 40, "months": 36, "strategy.seeding.n": 4, "strategy.support.capacity": 8,
                               "outcomes.counterfactual": False})
    scs = [base.with_overrides({"strategy.support.funding_months": f}, warn=False) for f in (6, 10)]
    batch = SpreadModel(scs[0], [3, 4], agents=False, scenarios=scs).run_model()
    assert batch.sustain.tolist() == [6, 10]
    keys = ("funding_end_cohort", "sustained_delivering_12", "sustained_full_12", "sustained_delivering_24",
            "sustained_full_24")
    for b, (sc, seed) in enumerate(zip(scs, (3, 4))):
        alone = summarise(SpreadModel(sc, [seed], agents=False).run_model(), 0)
        got = summarise(batch, b)
        assert [got[k] for k in keys] == [alone[k] for k in keys]
        assert got["funding_end_cohort"] > 0
