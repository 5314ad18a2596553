"""The published patterns: the defaults reproduce them, with tolerances from the published
denominators, and the check can fail.

A small version of ``spreadsim patterns`` (fewer replicates than docs/validation.md reports): the
model's mean over replicates must fall inside each pattern's tolerance. The tolerances are wide
compared with the model's own standard error at these replicate counts (e.g. +-0.067 for Wong's
37.1% of 208 sites, against a model SE of about 0.01 with 16 replicates of ~40 starters each).
"""

import math

import numpy as np
import pytest

from simulation import patterns as P
from simulation.cli import main

REPS = {None: 16, "cases/keystone_michigan.yaml": 16, "cases/action_schools_bc.yaml": 3}


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


@pytest.mark.parametrize("name", P.PATTERN_NAMES)
def test_the_defaults_reproduce_each_published_pattern(suite, name):
    row = suite.set_index("pattern").loc[name]
    assert row["passed"], (f"{row['label']}: model {row['model_mean']:.3f} +- {row['model_se']:.3f}, published "
                           f"{row['published']:.3f} (tolerance {row['low']:.3f} to {row['high']:.3f})")


def test_the_pattern_check_fails_for_a_model_without_sustainment_losses():
    """With nothing ever pushing a site to stop, sustainment is far above what Wong et al. found."""
    ov = {"stages.abandon": 0.0, "logics.mechanical.dependency": 0.0, "logics.ecological.abandon": 0.0,
          "logics.social.abandon": 0.0}
    pats = (P.pattern("sustained_startup"), P.pattern("keystone_uptake"))
    rep = P.report(P.simulate(pats, replicates=6, overrides=ov), pats).set_index("pattern")
    assert not rep.loc["sustained_startup", "passed"] and rep.loc["sustained_startup", "model_mean"] > 0.6


def test_deviations_are_one_sided_for_at_least_patterns():
    up = P.pattern("keystone_uptake")
    assert P.deviations({up.name: np.array([0.9])}, (up,))[0] == 0.0
    assert P.deviations({up.name: np.array([0.49])}, (up,))[0] < -1.0  # below the bound is outside tolerance


def test_patterns_command_prints_the_table_and_writes_it(tmp_path, capsys):
    out = tmp_path / "pat"
    code = main(["patterns", "--only", "keystone_uptake,months_to_full", "--replicates", "4", "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0 and "published" in text and "model" in text and "Pronovost" in text
    import pandas as pd

    df = pd.read_csv(out / "patterns.csv")
    assert list(df["pattern"]) == ["keystone_uptake", "months_to_full"] and df["replicates"].min() >= 3
