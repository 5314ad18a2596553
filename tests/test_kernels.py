"""The compiled monthly kernels (simulation/kernels.py) against the numpy code they replace.

A model run with the kernels must equal the same run in numpy bit for bit: every site array and
every monthly series, after every month, on scenarios that between them switch on every branch the
kernels have (each logic and rule, both combinations, the instant pipeline, turnover and champions,
assurance, aftercare, shocks, collaboratives, train-the-trainer, free and strict adaptation,
routine, feedback, re-entry, the norm, replicates in blocks and the counterfactual arm). The draws
stay numpy's, so equal arithmetic means equal runs; a last-bit difference anywhere fails here.
"""

import numpy as np
import pytest

from simulation import kernels
from simulation.golden import ROOT
from simulation.model import SpreadModel
from simulation.processes import transitions
from simulation.processes.stages import EXPLORATION, FULL
from simulation.scenario import load_scenario

EVERYTHING = {
    "months": 72, "strategy.assurance.interval": 3, "strategy.assurance.capacity": 8, "strategy.support.aftercare": 3,
    "shocks.rate": 0.03, "shocks.months": [30], "shocks.severity": 0.3, "shocks.funding_cut": 0.2,
    "strategy.collaborative.enabled": True, "strategy.train_the_trainer.enabled": True,
    "strategy.train_the_trainer.after": 6, "strategy.adaptation": "free", "strategy.replication_package": 0.3,
    "workforce.concurrent_initiatives": 2, "outcomes.counterfactual": True}

CASES = {
    "demo_everything_2_replicates_counterfactual": ("scenarios/demo.yaml", EVERYTHING, [4, 5]),
    "demo_bass_additive_instant": ("scenarios/demo.yaml", {
        "months": 60, "logics.social.rule": "bass", "logics.combine": "additive", "pipeline": "instant"}, [3]),
    "demo_norm_routine_feedback_reentry_strict": ("scenarios/demo.yaml", {
        "months": 90, "logics.social.bandwagon": 0.2, "logics.social.bandwagon_at": 0.1,
        "logics.social.lateral_support": 0.3, "logics.social.norm_keep": 0.3, "stages.routinisation": 12,
        "stages.feedback": 0.5, "stages.reentry": 0.3, "outcomes.expected": 0.3, "strategy.adaptation": "strict"}, [2]),
    "threshold_classic": ("scenarios/classic/threshold.yaml", {}, [1, 2]),
    "matching_michigan": ("scenarios/cases/matching_michigan.yaml", {}, [2]),
}


def state(m) -> dict:
    names = SpreadModel.SITE_ARRAYS + ("stage", "champions", "p_lose_champion", "nb_share", "nb_adaptation",
                                       "nb_prestige", "engaged_month", "share_site", "adopted_share_b")
    d = {k: np.array(getattr(m, k)) for k in names if getattr(m, k, None) is not None}
    d.update({"series_" + k: np.array(v) for k, v in m.series_b.items()})
    d["counts"] = np.array(m.counts_b)
    return d


def step_equal(ref, kern) -> None:
    """Step both models to the end, checking after every month that every site array and series of
    the kernel run equals the numpy run's bit for bit."""
    while ref.running:
        ref.step()
        kern.step()
        a, b = state(ref), state(kern)
        for key in a:
            assert a[key].shape == b[key].shape and np.array_equal(a[key], b[key], equal_nan=True), (
                f"{key} differs in month {ref.month}")
    assert not kern.running


def run_both(file, overrides, seeds, monkeypatch):
    sc = load_scenario(ROOT / file)
    if overrides:
        sc = sc.with_overrides(overrides, "test")
    monkeypatch.setattr(kernels, "MIN_SITES", 0)  # the bundled scenarios are small: force the kernels
    models = []
    for off in ("1", "0"):
        monkeypatch.setenv("SPREADSIM_NO_NUMBA", off)
        models.append(SpreadModel(sc, seeds, agents=False))
    ref, kern = models
    assert not ref._kern and kern._kern
    return ref, kern


@pytest.mark.parametrize("case", list(CASES))
def test_kernel_months_equal_the_numpy_months_bit_for_bit(case, monkeypatch):
    pytest.importorskip("numba")
    ref, kern = run_both(*CASES[case], monkeypatch)
    step_equal(ref, kern)
    assert (ref.stage != 0).any()  # something happened


@pytest.mark.parametrize("case", list(CASES)[:3])
def test_kernel_pressures_equal_transitions_pressures_bit_for_bit(case, monkeypatch):
    """The pressures the fused kernel moves sites on equal transitions.pressures on the same state,
    every month (a change of a pressure in its last bits seldom changes a move, so the moves alone
    would not show it): engage for every site, progress and abandon for the sites that use them."""
    pytest.importorskip("numba")
    ref, kern = run_both(*CASES[case], monkeypatch)
    seen = {}
    numpy_pressures, month = transitions.pressures, transitions.month

    def capture(m, sc):
        seen["stage"] = m.stage.copy()
        seen["numpy"] = numpy_pressures(m, sc)
        return seen["numpy"]

    used = np.empty((3, kern.n))
    monkeypatch.setattr(transitions, "pressures", capture)
    monkeypatch.setattr(transitions, "month", lambda m, sc: month(m, sc, record=used if m is kern else None))
    while ref.running:
        ref.step()
        kern.step()
        engage, progress, abandon = seen["numpy"]
        st = seen["stage"]
        moving = (st >= EXPLORATION) & (st <= FULL)
        assert np.array_equal(used[0], engage), f"engage differs in month {ref.month}"
        assert np.array_equal(used[1][moving], progress[moving]), f"progress differs in month {ref.month}"
        assert np.array_equal(used[2][moving], abandon[moving]), f"abandon differs in month {ref.month}"
    assert (used[2] > 0).any() and (used[1] > 0).any()


def test_no_numba_in_the_environment_runs_the_numpy_code(monkeypatch):
    monkeypatch.setattr(kernels, "MIN_SITES", 0)
    monkeypatch.setenv("SPREADSIM_NO_NUMBA", "1")
    assert not kernels.available()
    m = SpreadModel(load_scenario(ROOT / "scenarios/demo.yaml"), 1, agents=False)
    assert not m._kern
    m.step()


def test_small_models_run_the_numpy_code(monkeypatch):
    """Below kernels.MIN_SITES sites the numpy passes are cheaper than the kernels' calls."""
    monkeypatch.delenv("SPREADSIM_NO_NUMBA", raising=False)
    m = SpreadModel(load_scenario(ROOT / "scenarios/demo.yaml"), 1, agents=False)
    assert m.n < kernels.MIN_SITES and not m._kern


def test_parameters_enter_the_kernels_as_per_site_float_arrays():
    """kernels.P: a scalar becomes a zero-stride float64 array of n sites (-0.0 kept apart from 0.0, as
    x * -0.0 and x * 0.0 differ in sign); a per-site array (per-block parameters) passes unchanged."""
    a = kernels.P(0.25, 5)
    assert a.shape == (5,) and a.dtype == np.float64 and a.strides == (0,) and (a == 0.25).all()
    assert np.signbit(kernels.P(-0.0, 3)).all() and not np.signbit(kernels.P(0.0, 3)).any()
    assert kernels.P(2, 4).dtype == np.float64
    per_site = np.linspace(0, 1, 6)
    assert kernels.P(per_site, 6) is per_site


def test_the_bare_threshold_kernel_of_the_bench_does_the_same_work(monkeypatch):
    """bench threshold_vs_bare_100k compares like with like: on the model's own network, thresholds
    and seeds, the bare scipy.sparse cascade ends with the very adopted set the model ends with
    (here small, with the kernels forced on)."""
    from simulation import bench
    from simulation.processes.stages import FULL
    from simulation.scenario import default_scenario

    monkeypatch.setattr(kernels, "MIN_SITES", 0)
    case = {**bench.THRESHOLD_CASE, "sites.n": 3000,
            "sites.traits.threshold": {"dist": "uniform", "low": 0.15, "high": 0.45}}
    sc = default_scenario(**case, months=30)
    m = SpreadModel(sc, seed=3, agents=False)
    seeds = m.stage == FULL
    m.run_model()
    final = bench.bare_threshold(m.W, m.threshold, seeds, 30)
    assert np.array_equal(final, m.stage == FULL)
    assert seeds.sum() < final.sum() < len(final)  # a cascade that spread, and not to every site


def test_the_1m_side_by_side_is_run_only_when_asked_for():
    from simulation import bench

    bench._load_all()
    assert "demo_1m_vs_2c25cf2" in bench.OPTIONAL and "demo_100k_vs_2c25cf2" not in bench.OPTIONAL
    assert {"threshold_vs_bare_100k", "demo_100k_vs_2c25cf2", "demo_1m_vs_2c25cf2"} <= set(bench.CONFIGS)


@pytest.mark.parametrize("weights", ["whole", "fractional"])
def test_kernel_months_equal_the_numpy_months_on_weighted_ties(weights, monkeypatch):
    """Tie weights other than 1: whole numbers (neighbour counts kept current incrementally) and
    fractions (taken in full each month); the bundled scenarios' networks all weigh 1."""
    pytest.importorskip("numba")
    ref, kern = run_both("scenarios/demo.yaml", {"months": 40, "strategy.adaptation": "free"}, [6], monkeypatch)
    W = ref.W.copy()
    rng = np.random.default_rng(0)
    w = rng.integers(1, 4, W.nnz).astype(float) if weights == "whole" else rng.uniform(0.2, 2.0, W.nnz)
    W.data = w
    W = (W + W.T) * 0.5 if weights == "fractional" else W.maximum(W.T)
    for m in (ref, kern):
        m._set_network(W.copy())
    assert ref._exact_weights == (weights == "whole") and (ref.W.data != 1.0).any()
    step_equal(ref, kern)
