"""The three logics of spread (simulation/logics/), one documented formula or direction per test.

Each test calls a logic's ``pressures`` (or ``update``) on hand-set arrays in a bare namespace, so
it reads exactly the state the formula names and nothing else; the docstring names the mechanism,
the formula and its source. When model v3 changes a formula, the failing test names it: update the
test together with the docstring in the logic's module and docs/ODD.md.
"""

from types import SimpleNamespace

import numpy as np
import pytest

from simulation.logics import Pressures, combine, ecological, mechanical, social


def state(n=4, **arrays):
    """A bare model state: every array the logics read, zero unless given."""
    names = ("invited", "supported", "ever_supported", "competence", "capacity", "dep_fade", "fit", "fit_eff",
             "leadership", "adaptation", "nb_share", "nb_prestige", "nb_adaptation", "share_site", "fatigue",
             "threshold", "has_ties", "_using", "_misfit")
    m = SimpleNamespace(n=n, light_push=arrays.pop("light_push", None))  # model v3: the light-touch tier
    for k in names:
        v = arrays.pop(k, 0.0)
        a = np.array(np.broadcast_to(np.asarray(v, dtype=float), (n,)), dtype=float)
        if k in ("invited", "supported", "ever_supported", "has_ties", "_using"):
            a = a.astype(bool)
        setattr(m, k, a)
    assert not arrays, f"unknown arrays {sorted(arrays)}"
    return m


# ------------------------------------------------------------------------------------- combine
def test_combine_independent_is_one_minus_the_product_of_staying():
    """logics.combine, rule 'independent': 1 - prod(1 - p_i) (MODEL.md)."""
    a, b, c = np.array([0.2, 0.0, 1.0]), np.array([0.5, 0.3, 0.4]), np.array([0.1, 0.0, 0.0])
    got = combine([a, b, c], "independent", 3)
    assert np.allclose(got, 1 - (1 - a) * (1 - b) * (1 - c), rtol=0, atol=1e-15)
    assert got[0] == pytest.approx(1 - 0.8 * 0.5 * 0.9)


def test_combine_additive_is_the_capped_sum():
    """logics.combine, rule 'additive': min(1, sum p_i), the Bass hazard p + qF (Bass 1969)."""
    got = combine([np.array([0.2, 0.6]), np.array([0.3, 0.7]), np.array([0.1, 0.0])], "additive", 2)
    assert got.tolist() == pytest.approx([0.6, 1.0])


def test_combine_one_part_is_clipped_and_none_is_zero():
    """logics.combine: a single pressure is clipped to [0, 1]; no pressure at all is 0."""
    assert combine([np.array([-0.5, 0.3, 1.5])], "independent", 3).tolist() == [0.0, 0.3, 1.0]
    assert combine([], "independent", 2).tolist() == [0.0, 0.0]


# ------------------------------------------------------------------------------------ mechanical
def par_mech(**kw):
    return mechanical.Mechanical(**{"weight": 1.0, **kw})


def test_mechanical_engage_is_push_times_weight_for_invited_sites_only():
    """Mechanical logic: engage = weight x push for sites the programme invited, 0 otherwise (NIRN, 000)."""
    m = state(invited=[1, 0, 1, 0])
    p = mechanical.pressures(m, par_mech(push=0.3, weight=0.5))
    assert p.engage.tolist() == pytest.approx([0.15, 0.0, 0.15, 0.0])


def test_mechanical_light_touch_adds_its_push_to_progress_as_an_independent_chance():
    """Mechanical logic, model v3's light-touch tier (workshop and kit): progress = 1 - (1 - weight x
    train x supported) x (1 - weight x light_push), so a site with only the light tier moves on with
    weight x light_push and a coached one with both."""
    m = state(supported=[1, 0, 1, 0], light_push=np.array([0.0, 0.4, 0.4, 0.0]))
    p = mechanical.pressures(m, par_mech(train=0.2, weight=0.5))
    assert p.progress.tolist() == pytest.approx([0.1, 0.2, 1 - 0.9 * 0.8, 0.0])


def test_mechanical_progress_is_train_times_weight_for_supported_sites_only():
    """Mechanical logic: progress = weight x train for supported sites, 0 otherwise."""
    m = state(supported=[1, 0, 0, 1])
    p = mechanical.pressures(m, par_mech(train=0.2, weight=0.5))
    assert p.progress.tolist() == pytest.approx([0.1, 0.0, 0.0, 0.1])


def test_mechanical_dependency_is_its_maximum_at_zero_competence_and_zero_when_fully_built():
    """Mechanical logic, dependency: abandon = weight x dependency x (1 - competence x capacity) x
    exp(-months since support ended / fade); at the extremes: all of it when the site built nothing
    and its support just ended, none when it built full competence and capacity or is supported."""
    m = state(ever_supported=1, competence=[0.0, 1.0, 0.5, 0.0], capacity=[0.3, 1.0, 0.4, 1.0],
              dep_fade=[1.0, 1.0, np.exp(-1.0), 0.0])
    p = mechanical.pressures(m, par_mech(dependency=0.13, weight=0.5))
    want = 0.5 * 0.13 * (1 - np.array([0.0, 1.0, 0.2, 0.0])) * np.array([1.0, 1.0, np.exp(-1.0), 0.0])
    assert p.abandon == pytest.approx(want, abs=1e-15)
    assert p.abandon[0] == pytest.approx(0.065) and p.abandon[1] == 0.0 and p.abandon[3] == 0.0


def test_mechanical_no_dependency_without_ever_being_supported_or_when_switched_off():
    """Mechanical logic: no dependency pressure for a programme that never supported anyone, or dependency 0."""
    m = state(ever_supported=0, dep_fade=1.0)
    assert mechanical.pressures(m, par_mech()).abandon is None
    m = state(ever_supported=1, dep_fade=1.0)
    assert mechanical.pressures(m, par_mech(dependency=0.0)).abandon is None


# ------------------------------------------------------------------------------------ ecological
def par_eco(**kw):
    return ecological.Ecological(**{"weight": 1.0, **kw})


def test_ecological_engage_and_progress_grow_with_fit_and_capacity():
    """Ecological logic: engage = weight x explore x fit_eff; progress = weight x learn x fit_eff x
    capacity (Greenhalgh & Papoutsi 2019, 004: self-organisation in proportion to fit)."""
    m = state(fit_eff=[0.0, 1.0, 0.5, 1.0], capacity=[1.0, 1.0, 0.5, 0.0])
    p = ecological.pressures(m, par_eco(explore=0.02, learn=0.04, weight=0.5))
    assert p.engage.tolist() == pytest.approx([0.0, 0.01, 0.005, 0.01])
    assert p.progress.tolist() == pytest.approx([0.0, 0.02, 0.005, 0.0])


def test_ecological_abandonment_is_its_maximum_at_zero_fit_and_capability_and_zero_at_perfect_fit():
    """Ecological logic: abandon = weight x abandon x (1 - adaptive capability) x (1 - fit_eff), adaptive
    capability = mean(capacity, leadership, adaptation) (NASSS, 003)."""
    m = state(fit_eff=[0.0, 1.0, 0.0, 0.4], capacity=[0.0, 0.0, 1.0, 0.3], leadership=[0.0, 0.0, 1.0, 0.6],
              adaptation=[0.0, 0.0, 1.0, 0.0])
    p = ecological.pressures(m, par_eco(abandon=0.03, weight=0.5))
    assert p.abandon[0] == pytest.approx(0.015, abs=1e-16)  # the worst site: all of it
    assert p.abandon[1] == 0.0 and p.abandon[2] == pytest.approx(0.0, abs=1e-17)
    assert p.abandon[3] == pytest.approx(0.5 * 0.03 * (1 - 0.3) * (1 - 0.4))


def test_ecological_abandonment_falls_with_fit():
    """Ecological logic, direction: the better an innovation fits a site, the less it abandons it."""
    fit = np.linspace(0, 1, 11)
    m = state(11, fit_eff=fit, capacity=0.4, leadership=0.5, adaptation=0.1)
    a = ecological.pressures(m, par_eco()).abandon
    assert (np.diff(a) < 0).all()


def test_adaptive_capability_is_the_mean_of_capacity_leadership_and_adaptation():
    """ecological.adaptive_capability = (capacity + leadership + adaptation) / 3 (DSF, in 003)."""
    m = state(3, capacity=[0.3, 1, 0], leadership=[0.6, 1, 0], adaptation=[0.0, 1, 0])
    assert ecological.adaptive_capability(m).tolist() == pytest.approx([0.3, 1.0, 0.0])


def test_ecological_update_adapts_delivering_sites_towards_the_ceiling_and_sets_effective_fit():
    """Ecological logic, adaptation: a += weight x min(1, adapt x misfit + neighbour_learning x
    neighbours' adaptation) x (ceiling - a) for delivering sites below the ceiling; then
    fit_eff = min(1, fit + misfit x adaptation + weight x partners x share of adopted neighbours)."""
    fit = np.array([0.4, 0.4, 0.4, 0.9])
    m = state(fit=fit, _misfit=1 - fit, _using=[1, 0, 1, 1], adaptation=[0.0, 0.0, 0.5, 0.0],
              nb_adaptation=[0.5, 0.5, 0.0, 0.0], nb_share=[0.0, 1.0, 0.0, 1.0])
    par = par_eco(adapt=0.05, neighbour_learning=0.2, partners=0.3, weight=0.5)
    ecological.update(m, par, ceiling=0.5)
    drive0 = 0.05 * 0.6 + 0.2 * 0.5
    assert m.adaptation[0] == pytest.approx(0.5 * drive0 * 0.5)
    assert m.adaptation[1] == 0.0  # not delivering: no adaptation
    assert m.adaptation[2] == 0.5  # already at the ceiling
    assert m.fit_eff[0] == pytest.approx(0.4 + 0.6 * m.adaptation[0])
    assert m.fit_eff[1] == pytest.approx(0.4 + 0.5 * 0.3 * 1.0)  # partners' adoption adds fit
    assert m.fit_eff[2] == pytest.approx(0.4 + 0.6 * 0.5)
    assert m.fit_eff[3] == 1.0  # capped


def test_ecological_adaptation_drive_is_capped_at_one_and_moves_part_way_from_the_current_level():
    """Ecological logic, adaptation: the drive min(1, adapt x misfit + neighbour_learning x neighbours'
    adaptation) is capped at 1 (a site cannot overshoot its ceiling), and the step is a share of the
    remaining room (ceiling - a), from the site's current adaptation."""
    fit = np.array([0.0, 0.5])
    m = state(2, fit=fit, _misfit=1 - fit, _using=1, adaptation=[0.0, 0.2], nb_adaptation=[0.8, 0.0])
    ecological.update(m, par_eco(adapt=1.0, neighbour_learning=1.0, weight=0.5), ceiling=1.0)
    assert m.adaptation[0] == pytest.approx(0.5 * 1.0 * 1.0)  # drive 1.8, capped at 1
    assert m.adaptation[1] == pytest.approx(0.2 + 0.5 * 0.5 * (1.0 - 0.2))


def test_ecological_update_under_strict_adaptation_changes_no_adaptation():
    """Ecological logic: with a ceiling of 0 ('strict') sites do not adapt; fit_eff is fit plus partners."""
    fit = np.array([0.4, 0.7])
    m = state(2, fit=fit, _misfit=1 - fit, _using=1, nb_adaptation=1.0, nb_share=[0.0, 0.5])
    ecological.update(m, par_eco(partners=0.2), ceiling=0.0)
    assert m.adaptation.tolist() == [0.0, 0.0]
    assert m.fit_eff.tolist() == pytest.approx([0.4, 0.8])


# ---------------------------------------------------------------------------------------- social
def par_soc(**kw):
    return social.Social(**{"weight": 1.0, "bandwagon": 0.0, **kw})


def test_social_influence_is_q_times_prestige_weighted_share_scaled_by_legitimacy_and_fatigue():
    """Social logic, 'influence': engage = q x prestige-weighted adopted share x weight x legitimacy x
    (1 - fatigue) (Rogers; Keystone vs Matching Michigan, 004)."""
    m = state(nb_prestige=[1.0, 0.5, 1.0, 0.0], fatigue=[0.0, 0.0, 0.5, 0.0])
    p = social.pressures(m, par_soc(q=0.2, legitimacy=0.8, weight=0.5))
    assert p.engage.tolist() == pytest.approx([0.08, 0.04, 0.04, 0.0])


def test_social_threshold_rule_engages_for_certain_at_the_threshold_and_never_without_ties():
    """Social logic, 'threshold': engage = scale when the adopted share of neighbours >= the site's
    threshold and it has ties, else 0 (Granovetter 1978; Watts 2002)."""
    m = state(nb_share=[0.5, 0.49, 0.5, 1.0], threshold=[0.5, 0.5, 0.2, 0.0], has_ties=[1, 1, 0, 1])
    p = social.pressures(m, par_soc(rule="threshold", legitimacy=1.0))
    assert p.engage.tolist() == [1.0, 0.0, 0.0, 1.0]


def test_social_bass_rule_uses_the_adopted_share_of_the_whole_system():
    """Social logic, 'bass': engage = q x adopted share of the system x scale (Bass 1969)."""
    m = state(share_site=0.25, nb_prestige=1.0, fatigue=0.5)
    p = social.pressures(m, par_soc(rule="bass", q=0.4, legitimacy=0.5))
    assert p.engage.tolist() == pytest.approx([0.4 * 0.25 * 0.5 * 0.5] * 4)


def test_social_bandwagon_adds_its_pressure_once_the_norm_is_reached():
    """Social logic, norm: + bandwagon x scale once the system's adopted share >= bandwagon_at (Keystone, 004)."""
    m = state(share_site=[0.49, 0.5, 0.9, 0.0], nb_prestige=0.0)
    p = social.pressures(m, par_soc(bandwagon=0.02, bandwagon_at=0.5, legitimacy=0.5))
    assert p.engage.tolist() == pytest.approx([0.0, 0.01, 0.01, 0.0])


def test_social_engagement_with_the_norm_stays_a_probability():
    """Social logic: the threshold rule's certain engagement plus the norm's pressure is capped at 1."""
    m = state(2, nb_share=1.0, threshold=0.5, has_ties=1, share_site=[0.9, 0.1])
    p = social.pressures(m, par_soc(rule="threshold", legitimacy=1.0, bandwagon=0.5, bandwagon_at=0.5))
    assert p.engage.tolist() == [1.0, 1.0]


def test_social_progress_is_weight_times_progress_times_share_of_user_neighbours():
    """Social logic: progress = weight x progress x share of adopted neighbours."""
    m = state(nb_share=[0.0, 1.0, 0.5, 0.25])
    p = social.pressures(m, par_soc(progress=0.06, weight=0.5))
    assert p.progress.tolist() == pytest.approx([0.0, 0.03, 0.015, 0.0075])


def test_social_abandonment_is_doubled_by_top_down_framing_and_by_fatigue():
    """Social logic: abandon = weight x abandon x (2 - legitimacy) x (1 + fatigue) (Matching Michigan, 004)."""
    m = state(fatigue=[0.0, 1.0, 0.5, 0.0])
    p = social.pressures(m, par_soc(abandon=0.01, legitimacy=0.0, weight=0.5))
    assert p.abandon.tolist() == pytest.approx([0.01, 0.02, 0.015, 0.01])
    p = social.pressures(m, par_soc(abandon=0.01, legitimacy=1.0, weight=1.0))
    assert p.abandon.tolist() == pytest.approx([0.01, 0.02, 0.015, 0.01])


def test_social_abandonment_doubled_by_fatigue_stays_a_probability():
    """Social logic: (2 - legitimacy) x (1 + fatigue) can take the pressure above 1; it is capped at 1."""
    m = state(3, fatigue=[0.0, 1.0, 0.2])
    p = social.pressures(m, par_soc(abandon=0.4, legitimacy=0.0))
    assert p.abandon.tolist() == pytest.approx([0.8, 1.0, 0.96])


def test_social_no_pressure_of_a_kind_whose_rate_is_zero():
    """Social logic: a rate of 0 gives no pressure of that kind (None), not an array."""
    p = social.pressures(state(fatigue=0.3, nb_share=0.5), par_soc(abandon=0.0, progress=0.0))
    assert p.abandon is None and p.progress is None


def test_social_legitimacy_lowers_social_abandonment():
    """Social logic, direction: a programme seen as professionally led is dropped less than a top-down one."""
    m = state(fatigue=0.2)
    a = [social.pressures(m, par_soc(legitimacy=L)).abandon[0] for L in (0.0, 0.3, 0.6, 1.0)]
    assert a == sorted(a, reverse=True) and a[0] > a[-1]


def test_social_engagement_rises_with_legitimacy_and_falls_with_fatigue():
    """Social logic, direction: legitimacy scales peer influence up, change fatigue damps it."""
    m = state(2, nb_prestige=1.0, fatigue=[0.0, 0.6])
    lo = social.pressures(m, par_soc(legitimacy=0.2)).engage
    hi = social.pressures(m, par_soc(legitimacy=0.9)).engage
    assert (hi > lo).all() and hi[1] < hi[0]


def test_pressures_type_is_a_plain_record():
    """logics.Pressures: each field defaults to None (no pressure of that kind)."""
    p = Pressures()
    assert p.engage is None and p.progress is None and p.abandon is None
