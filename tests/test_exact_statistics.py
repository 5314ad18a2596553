"""Exact values for the calibration's weighted statistics (hand-computed) and Sobol indices by value
on the Ishigami function (analytic values, a tolerance set by the sample size)."""

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from SALib.test_functions import Ishigami

from simulation.calibration.core import Calibration, weighted_mean_sd, weighted_quantile
from simulation.sensitivity import Sensitivity


# ------------------------------------------------------------------- weighted quantile (midpoint rule)
def test_weighted_quantile_with_equal_weights_puts_each_point_at_the_middle_of_its_mass():
    """Midpoint rule: with n equal weights the i-th smallest value sits at cumulative weight (i - 1/2)/n:
    x = 1, 2, 3, 4 at 1/8, 3/8, 5/8, 7/8; the median is 2.5 and the 25% quantile 1.5 (without the
    midpoint correction they would be 2 and 1)."""
    x = np.array([4.0, 1.0, 3.0, 2.0])
    got = weighted_quantile(x, np.ones(4), [0.0, 0.1, 0.125, 0.25, 0.5, 0.875, 0.95, 1.0])
    assert got.tolist() == pytest.approx([1.0, 1.0, 1.0, 1.5, 2.5, 4.0, 4.0, 4.0], abs=1e-15)


def test_weighted_quantile_by_hand_with_unequal_weights():
    """x = 10, 20, 30 with weights 1, 2, 1: cumulative midpoints (0.5, 2, 3.5) / 4 = 0.125, 0.5, 0.875;
    q = 0.5 -> 20; q = 0.3125 -> 15 (halfway from 0.125 to 0.5); q = 0.75 -> 20 + 10 x 0.25/0.375."""
    x = np.array([30.0, 10.0, 20.0])  # order does not matter
    w = np.array([1.0, 1.0, 2.0])
    got = weighted_quantile(x, w, [0.5, 0.3125, 0.75])
    assert got.tolist() == pytest.approx([20.0, 15.0, 20.0 + 10.0 * 0.25 / 0.375], abs=1e-12)
    # scaling the weights changes nothing
    assert weighted_quantile(x, 7 * w, [0.5, 0.3125, 0.75]).tolist() == pytest.approx(got.tolist(), abs=1e-12)


# ------------------------------------------------------------------------ weighted mean and sd
def test_weighted_sd_by_hand():
    """x = 0, 10 with weights 3, 1: mean 2.5; variance (3 x 2.5^2 + 1 x 7.5^2) / 4 = 18.75; sd 4.3301...
    (an sd ignoring the weights would be 5)."""
    mean, sd = weighted_mean_sd(np.array([0.0, 10.0]), np.array([3.0, 1.0]))
    assert mean == pytest.approx(2.5, abs=1e-15)
    assert sd == pytest.approx(math.sqrt(18.75), abs=1e-12)


def test_posterior_intervals_use_the_particles_weights():
    """Calibration.intervals: posterior mean, sd and equal-tailed interval from the weighted particles
    (hand-computed for particles 0, 10 with weights 3, 1), shrinkage against the prior's interval."""
    post = pd.DataFrame({"p": [0.0, 10.0], "weight": [0.75, 0.25]})
    par = SimpleNamespace(path="p", scipy=lambda: scipy.stats.uniform(0, 100))
    fake = SimpleNamespace(posterior=post, spec=SimpleNamespace(parameters=[par]), method="abc")
    row = Calibration.intervals(fake, level=0.5).iloc[0]
    assert row["mean"] == pytest.approx(2.5) and row["sd"] == pytest.approx(math.sqrt(18.75))
    # cumulative midpoints 0.375, 0.875: the 25% quantile is 0, the median 10 x 0.125 / 0.5, the 75% 10 x 0.375 / 0.5
    assert row["low"] == pytest.approx(0.0) and row["median"] == pytest.approx(2.5)
    assert row["high"] == pytest.approx(7.5)
    assert row["prior_low"] == pytest.approx(25.0) and row["prior_high"] == pytest.approx(75.0)
    assert row["shrinkage"] == pytest.approx(1 - 7.5 / 50)


# --------------------------------------------------------------------------- Sobol on Ishigami
A, B = 7.0, 0.1
_V1 = 0.5 * (1 + B * math.pi ** 4 / 5) ** 2
_V2 = A ** 2 / 8
_V13 = B ** 2 * math.pi ** 8 * 8 / 225
_V = _V1 + _V2 + _V13


def test_ishigami_sobol_indices_by_value():
    """Sobol indices of Ishigami (a = 7, b = 0.1; Ishigami & Homma 1990): S1 = (0.3139, 0.4424, 0),
    ST = (0.5576, 0.4424, 0.2437). Tolerance 1/sqrt(N) (0.0156 at N = 4096), the Monte Carlo rate,
    conservative for the scrambled Sobol sequence used: over seeds 1-8 the largest error of any of
    the six indices was 0.0062."""
    N = 4096
    spec = {"parameters": [{"path": f"x{i}", "bounds": [-math.pi, math.pi]} for i in (1, 2, 3)], "outputs": ["Y"],
            "replicates": 1, "seed": 3, "samples": N, "second_order": False, "resamples": 100}

    def evaluate(X, seeds, strategy):
        return np.stack([Ishigami.evaluate(X)] * len(seeds), axis=1)

    d = Sensitivity(spec=spec, evaluator=evaluate).run().indices.set_index("parameter").loc[["x1", "x2", "x3"]]
    tol = 1 / math.sqrt(N)
    assert d["S1"].to_numpy() == pytest.approx([_V1 / _V, _V2 / _V, 0.0], abs=tol)
    assert d["ST"].to_numpy() == pytest.approx([(_V1 + _V13) / _V, _V2 / _V, _V13 / _V], abs=tol)
