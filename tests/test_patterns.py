"""The published patterns: tolerances from the published denominators, constructs that compute what
the source measured, a validation set that calibration never sees, identifiability, and the check
can fail.

A small version of ``spreadsim patterns`` (fewer replicates than docs/validation.md reports): the
model's mean over replicates must fall inside each pattern's tolerance. The tolerances are wide
compared with the model's own standard error at these replicate counts (e.g. +-0.067 for Wong's
37.1% of 208 sites, against a model SE of about 0.015 with 12 replicates of ~40 starters each).

The model misses some patterns (model v2 missed ten; model v3 at its calibrated defaults misses
four: two near misses of Keystone's zero-infection medians, Matching Michigan's step and Scheirer's
sustainment after funding): those are listed in ``V2_MISSES`` (the name kept from v2) with what the
model gives, and marked expected failures (xfail) while they miss; a pattern that misses and is not
listed fails the test.
"""

import math

import numpy as np
import pandas as pd
import pytest

from simulation import patterns as P
from simulation.cli import main
from simulation.errors import InputError

REPS = P.replicates_for(12)

#: patterns model v2 misses (issue 16, "Defects measured"), with its value at 40 replicates; remove an
#: entry once the model reproduces the pattern
V2_MISSES = {
    # model v3 at its calibrated defaults (docs/validation.md says what each miss means)
    "scheirer_after_funding": "v3: 0.41 still delivering 2 years after funding (needs >= 0.6; v2 0.31)",
}


@pytest.fixture(scope="module")
def suite():
    return P.report(P.simulate(replicates=REPS, seed=1))


def test_tolerances_come_from_the_published_denominators():
    wong = P.pattern("sustained_startup")
    assert wong.n == 208 and wong.high - wong.published == pytest.approx(2 * math.sqrt(0.371 * 0.629 / 208))
    keystone = P.pattern("keystone_sustained")
    assert keystone.published == pytest.approx(90 / 103) and keystone.n == 103
    drop = P.pattern("voltage_drop")
    # 33.8 (12.7 to 54.9) and 18.8 (-0.8 to 38.3) minutes a week: ratio 0.556, SE 0.34 by the delta method
    assert drop.published == pytest.approx(18.8 / 33.8) and P.AS_BC_RATIO_SE == pytest.approx(0.344, abs=0.002)
    assert (drop.low, drop.high) == pytest.approx((drop.published - P.AS_BC_RATIO_SE, drop.published + P.AS_BC_RATIO_SE))
    # rate ratios: the published 95% intervals (Pronovost 2006: 0.62 (0.47-0.81), 0.34 (0.23-0.50); 2010: 0.34 (0.24-0.48))
    assert (P.pattern("keystone_irr_m3").low, P.pattern("keystone_irr_m3").high) == (0.47, 0.81)
    assert (P.pattern("keystone_irr_m36").low, P.pattern("keystone_irr_m36").high) == (0.24, 0.48)
    # the roll-out: 306 schools were 19%, so ~1,611 schools; 2 binomial SE
    started = P.pattern("asbc_started_y1")
    assert started.n == 1611 and started.high - 0.19 == pytest.approx(2 * math.sqrt(0.19 * 0.81 / 1611))
    # Matching Michigan: the smallest step 1,092 infections (two halves of 546) could show
    assert P.MATCHING_DETECTABLE == pytest.approx(math.exp(-1.96 * math.sqrt(2 / 546)))


def test_about_a_third_of_the_patterns_are_held_out_for_validation():
    n_val, n_all = len(P.VALIDATION_NAMES), len(P.PATTERN_NAMES)
    assert 0.25 <= n_val / n_all <= 0.4 and len(P.CALIBRATION_NAMES) + n_val == n_all
    assert {p.set for p in P.PATTERNS} == {"calibration", "validation"}
    assert all(p.construct and p.source and p.tolerance for p in P.PATTERNS)


@pytest.mark.parametrize("name", P.PATTERN_NAMES)
def test_the_defaults_reproduce_each_published_pattern(suite, name):
    row = suite.set_index("pattern").loc[name]
    msg = (f"{row['label']}: model {row['model_mean']:.3f} +- {row['model_se']:.3f}, published "
           f"{row['published']:.3f} (tolerance {row['low']:.3f} to {row['high']:.3f})")
    if not row["passed"] and name in V2_MISSES:
        pytest.xfail(f"the model misses it (issue 16): {V2_MISSES[name]}; now {msg}")
    assert row["passed"], msg


def test_rate_constructs_compute_the_published_outcome():
    """The Keystone and Matching constructs are outcome rates, not stage shares: with no effect at
    all the rate ratio is 1 and the share of units with no infection in a quarter is the mean over
    units of the Poisson chance of none at the median baseline rate (2.7 per 1,000 x the unit's
    catheter-days, 190 a month on average, in proportion to its size, x 3 months): above the chance
    of a unit of average size (Jensen), and below one half, as the published baseline median of 2.7 says."""
    vals = P.simulate((P.pattern("keystone_irr_m3"), P.pattern("keystone_zero_m3")), replicates=2,
                      overrides={"outcomes.efficacy": 0.0})
    assert vals["keystone_irr_m3"] == pytest.approx(1.0)
    from simulation.model import SpreadModel

    sc = P.scenario_of(P.pattern("keystone_zero_m3"))
    for r, seed in enumerate((1, 2)):
        size = SpreadModel(sc, seed, agents=False).size
        days = 375_757 / 1_981 * size / size.mean()
        expected = np.mean(np.exp(-2.7 / 1000 * days * 3))
        assert vals["keystone_zero_m3"][r] == pytest.approx(expected)
        assert math.exp(-2.7 / 1000 * 375_757 / 1_981 * 3) < expected < 0.5
    # a perfect checklist everywhere from month 0 (efficacy 1, all in full with full fidelity) would
    # make the rate ratio 1 - the mean effect; with the case as written it lies strictly between
    full = P.simulate((P.pattern("keystone_irr_m18"),), replicates=2)["keystone_irr_m18"]
    assert ((full > 0.34) & (full < 1.0)).all()
    # against the counterfactual: a programme that does nothing is no step beyond the trend
    step = P.pattern("matching_step")
    none = P.simulate((step,), replicates=2, overrides={"outcomes.efficacy": 0.0})["matching_step"]
    assert none == pytest.approx(1.0)


def test_the_pattern_check_fails_for_a_model_without_sustainment_losses():
    """With nothing ever pushing a site to stop, sustainment is far above what Wong et al. found."""
    ov = {"stages.abandon": 0.0, "logics.mechanical.dependency": 0.0, "logics.ecological.abandon": 0.0,
          "logics.social.abandon": 0.0}
    pats = (P.pattern("sustained_startup"), P.pattern("competence"))
    rep = P.report(P.simulate(pats, replicates=6, overrides=ov), pats).set_index("pattern")
    assert not rep.loc["sustained_startup", "passed"] and rep.loc["sustained_startup", "model_mean"] > 0.6


def test_deviations_are_one_sided_for_at_least_patterns_and_exact_at_interval_ends():
    zero = P.pattern("keystone_zero_m3")
    assert P.deviations({zero.name: np.array([0.9])}, (zero,))[0] == 0.0
    assert P.deviations({zero.name: np.array([0.49])}, (zero,))[0] < -1.0  # below the bound is outside tolerance
    irr = P.pattern("keystone_irr_m3")  # 0.62 in 0.47-0.81: asymmetric, each end is exactly 1 tolerance
    assert P.deviations({irr.name: np.array([0.81])}, (irr,))[0] == pytest.approx(1.0)
    assert P.deviations({irr.name: np.array([0.47])}, (irr,))[0] == pytest.approx(-1.0)


def test_calibration_never_sees_the_validation_patterns(tmp_path):
    """`calibration.patterns: all` means the calibration set; the distance is the same whatever the
    validation patterns do; naming a validation pattern is refused."""
    from simulation.calibration.patterns import PatternSimulator, pattern_names

    assert pattern_names("all", "x.yaml") == P.CALIBRATION_NAMES
    with pytest.raises(InputError, match="validation set"):
        pattern_names(["competence", "keystone_irr_m36"], "x.yaml")

    class Spec:
        parameters, seed = [], 1

    sim = PatternSimulator(Spec(), pattern_names("all", "x.yaml"), {}, P.SCENARIOS)
    assert {p.set for p in sim.patterns} == {"calibration"}
    values = {p.name: np.array([p.published]) for p in P.PATTERNS}
    assert P.distance(values) == pytest.approx(0.0, abs=1e-12)
    wild = {**values, **{n: np.array([1e6]) for n in P.VALIDATION_NAMES}}
    assert P.distance(wild) == pytest.approx(0.0, abs=1e-12)  # validation values do not enter
    wild_cal = {**values, "competence": np.array([1e6])}
    assert P.distance(wild_cal) > 1.0


def test_profile_finds_the_rate_that_carries_a_pattern():
    """`stages.competence_for_full` carries Wong's competence rate (issue 16, defect 9); over its
    v3 prior (0.62-0.78) the share of starters reaching competence moves by over half a tolerance."""
    pats = (P.pattern("competence"),)
    prof = P.profile(["stages.competence_for_full"], points=2, replicates={None: 6}, patterns=pats)
    row = prof.iloc[0]
    assert (row["low"], row["high"]) == (0.62, 0.78) and row["range_from"] == "calibration/defaults.yaml"
    assert row["identifies"] and row["move_tol"] > 0.5
    ident = P.identifiability(prof)
    assert ident.iloc[0]["verdict"] == "identified"
    # a rate that no measured pattern responds to is "assumed"
    flat = prof.assign(identifies=False, move_tol=0.0)
    assert P.identifiability(flat).iloc[0]["verdict"] == "assumed"


def test_patterns_command_prints_the_table_with_its_set_and_writes_it(tmp_path, capsys):
    out = tmp_path / "pat"
    code = main(["patterns", "--only", "keystone_irr_m3,months_to_full", "--replicates", "4", "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0 and "published" in text and "calibration" in text and "Pronovost" in text and "construct" in text
    df = pd.read_csv(out / "patterns.csv")
    assert list(df["pattern"]) == ["keystone_irr_m3", "months_to_full"] and df["replicates"].min() >= 3
    assert list(df["set"]) == ["calibration", "calibration"]


def test_patterns_command_profiles_and_refuses_bad_names(tmp_path, capsys):
    out = tmp_path / "prof"
    code = main(["patterns", "--only", "competence", "--replicates", "3", "--profile", "--profile-points", "2",
                 "--profile-replicates", "3", "--profile-rates", "stages.competence_for_full", "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0 and "stages.competence_for_full" in text and "identified" in text
    assert (out / "profile.csv").exists() and (out / "identifiability.csv").exists()
    assert main(["patterns", "--profile", "--profile-rates", "outcomes.efficacy"]) == 2
    assert main(["patterns", "--which", "validation", "--only", "competence"]) == 2
    assert "not in the validation set" in capsys.readouterr().err
