"""Levers whose direction the literature does not dispute never make outcomes significantly worse.

For the default scenario and every bundled case, on paired seeds (common random numbers): more
support capacity, longer funding, assurance, lower turnover, more champions, better fit and higher
legitimacy must not lower final adoption, benefit or per-site fidelity by more than 3.5 standard
errors of the paired difference (and more than 1% of its level). With about 150 checks, 3.5 SE
keeps the chance of a false alarm from noise alone near 7% for the whole suite, while a reversal of
the size issue 10 measured (capacity 20 -> 40 lowering adoption by 3.6 points, SE 0.5) is far past it.
The last test shows the check fails when a lever does harm.
"""

import pytest

from simulation import patterns as P
from simulation.scenario import default_scenario, load_scenario

CASES = sorted((P.SCENARIOS / "cases").glob("*.yaml"))


@pytest.mark.parametrize("path", [None, *CASES], ids=lambda p: "defaults" if p is None else p.stem)
def test_undisputed_levers_never_make_outcomes_significantly_worse(path):
    sc = default_scenario() if path is None else load_scenario(path)
    df = P.check_directions(sc, replicates=16, seed=101)
    assert len(df) >= 6  # at least a few levers apply to every scenario
    worse = df[df["worse"]]
    assert worse.empty, "\n" + worse.to_string()


def test_the_direction_check_flags_a_lever_that_does_harm():
    sc = default_scenario(**{"months": 60})
    harmful = {"higher turnover": P._trait_lever(sc, "turnover", lambda d: P._scaled_down(d, 2.5)),
               "less capacity": {"strategy.support.capacity": 2}}
    df = P.check_directions(sc, replicates=16, seed=101, levers_=harmful).set_index(["lever", "outcome"])
    assert df.loc[("less capacity", "final adoption"), "worse"]
    assert df.loc[("higher turnover", "benefit"), "worse"]
