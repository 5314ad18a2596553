"""Per-block parameters (simulation.blocks): runs of different scenarios in one batch model give
each run's outputs exactly as it alone; the rule for what may differ within a batch; the fast
validation of overrides that differ only in such values. Small runs (60-80 sites, 24-36 months)."""

import json

import numpy as np
import pytest
from pandas.testing import assert_frame_equal

from simulation import blocks
from simulation.errors import InputError
from simulation.experiments import RunSpec, execute
from simulation.experiments.core import Variants, simulate
from simulation.model import SpreadModel
from simulation.runner import summarise
from simulation.scenario import load_scenario

from .conftest import SCENARIOS

SMALL = {"sites.n": 60, "months": 36, "strategy.seeding.n": 4, "strategy.support.capacity": 10,
         "outcomes.counterfactual": True}
#: a range for every batchable parameter, and two trait distributions' bounds
RANGES = {"logics.social.q": (0.05, 0.3), "logics.social.legitimacy": (0.4, 1.0), "logics.mechanical.push": (0.1, 0.5),
          "logics.ecological.adapt": (0.01, 0.1), "delivery.drift": (0.02, 0.2), "strategy.replication_package": (0.1, 0.9),
          "strategy.support.capacity": (2, 30), "strategy.support.funding_months": (6, 25),
          "strategy.support.intake_months": (3, 20),
          "sites.traits.turnover.high": (0.15, 0.4),
          "sites.traits.threshold.low": (0.0, 0.05)}


@pytest.fixture(scope="module")
def base():
    return load_scenario(SCENARIOS / "strategies" / "demo_sensitivity.yaml", SMALL)


def _random_overrides(rng, keys=RANGES):
    return {k: (int(rng.integers(*RANGES[k])) if k.endswith(("capacity", "months")) else float(rng.uniform(*RANGES[k]))) for k in keys}


def test_every_batchable_parameter_is_in_the_ranges_tested():
    assert set(blocks.BATCHABLE) <= set(RANGES)


def _same_run(model, b, alone):
    a, c = summarise(model, b), summarise(alone, 0)
    assert json.dumps(a, sort_keys=True) == json.dumps(c, sort_keys=True)
    for k, v in model.series_b.items():
        np.testing.assert_array_equal(v[b], alone.series_b[k][0], err_msg=k)
    np.testing.assert_array_equal(model.counts_b[b], alone.counts_b[0])
    for mine, its in ((b, 0), (model.counterfactual_block(b), alone.counterfactual_block(0))):
        if mine is None:
            continue
        sl, sl1 = model.block_slice(mine), alone.block_slice(its)
        for name in ("stage", "fidelity", "competence", "adaptation", "capacity", "turnover"):
            np.testing.assert_array_equal(getattr(model, name)[sl], getattr(alone, name)[sl1], err_msg=name)
    assert model.group_outcomes(b) == alone.group_outcomes(0) or json.dumps(model.group_outcomes(b)) == json.dumps(alone.group_outcomes(0))


@pytest.mark.parametrize("seed", [1, 2])
def test_a_batch_of_different_scenarios_equals_each_run_alone(base, seed):
    rng = np.random.default_rng(seed)
    variants = Variants(base)
    scs = [variants.get(_random_overrides(rng), "test") for _ in range(5)]
    seeds = [11, 12, 11, 13, 12]  # repeated seeds: each block still draws its own traits
    model = SpreadModel(scs[0], seeds, agents=False, scenarios=scs).run_model()
    assert model.R == 10 and model.counterfactual
    assert isinstance(model.scenario_obj.logics.social.q, np.ndarray)
    for b, (sc, s) in enumerate(zip(scs, seeds)):
        _same_run(model, b, SpreadModel(sc, [s], agents=False).run_model())


def test_a_batch_of_different_scenarios_with_the_compiled_kernels_equals_each_run_alone(base, monkeypatch):
    """The compiled kernels (simulation.kernels) take the per-site arrays of a batch as they take a
    scalar broadcast: forced on for the batch, each block equals its run alone with the numpy code."""
    from simulation import kernels

    if not kernels.available():
        pytest.skip("numba is not installed")
    rng = np.random.default_rng(3)
    variants = Variants(base)
    scs = [variants.get(_random_overrides(rng), "test") for _ in range(3)]
    monkeypatch.setattr(kernels, "MIN_SITES", 0)
    model = SpreadModel(scs[0], [21, 22, 23], agents=False, scenarios=scs)
    assert model._kern
    model.run_model()
    monkeypatch.setattr(kernels, "MIN_SITES", 10**9)
    for b, (sc, s) in enumerate(zip(scs, [21, 22, 23])):
        alone = SpreadModel(sc, [s], agents=False)
        assert not alone._kern
        _same_run(model, b, alone.run_model())


def test_one_parameter_varying_alone(base):
    """Each parameter on its own (the others the same in every block)."""
    rng = np.random.default_rng(5)
    for key in RANGES:
        scs = [base.with_overrides(_random_overrides(rng, [key]), warn=False) for _ in range(3)]
        model = SpreadModel(scs[0], [3, 4, 5], agents=False, scenarios=scs).run_model()
        for b, sc in enumerate(scs):
            _same_run(model, b, SpreadModel(sc, [3 + b], agents=False).run_model())


def test_scenarios_that_differ_in_structure_are_refused(base):
    other = base.with_overrides({"strategy.seeding.rule": "random"}, warn=False)
    with pytest.raises(ValueError, match="BATCHABLE"):
        SpreadModel(base, [1, 2], agents=False, scenarios=[base, other])
    zero = base.with_overrides({"delivery.drift": 0.0}, warn=False)  # a step switched off: another kind
    with pytest.raises(ValueError, match="BATCHABLE"):
        SpreadModel(base, [1, 2], agents=False, scenarios=[base, zero])


def test_batch_key_rule():
    key = blocks.batch_key
    assert key({"logics.social.q": 0.1, "strategy.seeding.n": 5}) == key({"logics.social.q": 0.2, "strategy.seeding.n": 5})
    assert key({"logics.social.q": 0.1}) != key({"logics.social.q": 0.0})  # zero switches a step off
    assert key({"strategy.support.capacity": 10}) != key({"strategy.support.capacity": None})
    assert key({"strategy.seeding.n": 5}) != key({"strategy.seeding.n": 6})  # not batchable: structure
    assert key({"sites.traits.turnover.high": 0.2}) == key({"sites.traits.turnover.high": 0.3})
    assert key({}) != key({"logics.social.q": 0.1})  # another set of keys: another batch
    # funding length: each block ends its funding (and takes its sustainment cohort) in its own month;
    # funded throughout (null) is another kind
    assert key({"strategy.support.funding_months": 36}) == key({"strategy.support.funding_months": 48})
    assert key({"strategy.support.funding_months": 36}) != key({"strategy.support.funding_months": None})
    assert key({"strategy.waves.every": 6}) != key({"strategy.waves.every": 12})  # structure


def test_blocks_ending_their_funding_in_different_months_follow_their_own_cohorts(base):
    """Sustainment after funding is measured from each block's own funding end: one batch of three
    funding lengths (one too late to follow 24 months) gives each run's sustainment as alone."""
    scs = [base.with_overrides({"strategy.support.funding_months": f}, warn=False) for f in (6, 12, 20)]
    model = SpreadModel(scs[0], [7, 8, 9], agents=False, scenarios=scs).run_model()
    assert list(model.sustain) == [6, 12, 20, 6, 12, 20]  # counterfactual arms take their replicate's
    for b, sc in enumerate(scs):
        alone = SpreadModel(sc, [7 + b], agents=False).run_model()
        _same_run(model, b, alone)
        got, its = summarise(model, b), summarise(alone, 0)
        for k in ("funding_end_cohort", "sustained_delivering_12", "sustained_full_24"):
            assert json.dumps(got[k]) == json.dumps(its[k])
    assert np.isnan(summarise(model, 2)["sustained_delivering_24"])  # 20 + 24 > 36 months
    assert np.isfinite(summarise(model, 0)["sustained_delivering_24"])


def test_fast_validation_equals_full_validation(base):
    rng = np.random.default_rng(9)
    variants = Variants(base)
    fixed = {"strategy.train_the_trainer.enabled": False}
    for _ in range(6):
        ov = {**fixed, **_random_overrides(rng)}
        fast = variants.get(ov, "test")
        full = base.with_overrides(ov, warn=False)
        assert fast.model_dump() == full.model_dump() and fast.digest() == full.digest()
        assert fast.source == full.source and fast.base_dir == full.base_dir
    assert len(variants.templates) == 1  # one full validation, the rest field by field


def test_fast_validation_refuses_what_full_validation_refuses(base):
    variants = Variants(base)
    variants.get({"logics.social.q": 0.1, "sites.traits.turnover.high": 0.3}, "test")
    for bad in ({"logics.social.q": 1.5, "sites.traits.turnover.high": 0.3},  # out of range
                {"logics.social.q": 0.1, "sites.traits.turnover.high": 0.05}):  # high below the low of 0.1
        with pytest.raises(InputError) as err:
            variants.get(bad, "strategy 'x'")
        assert "strategy 'x'" in str(err.value)
    with pytest.raises(InputError):
        variants.get({"logics.social.q": 0.1, "sites.traits.turnover.high": 1.5}, "test")  # beyond the trait's range


def test_execute_batches_across_samples_with_the_results_of_runs_alone(base, monkeypatch):
    """A sensitivity-like experiment: the same results whether each task holds one run (no batch)
    or many samples (batched across samples)."""
    rng = np.random.default_rng(4)
    specs = []
    for i in range(8):
        ov = _random_overrides(rng)
        specs += [RunSpec(f"s/{i}", r, 100 + r, ov) for r in range(2)]
    specs += [RunSpec("other", r, 100 + r, {"strategy.seeding.n": 6}) for r in range(2)]  # another batch
    one = execute(base, specs, executor="serial", chunk_size=1, progress=False)
    from simulation.experiments import core

    batches = []
    real = core.simulate
    monkeypatch.setattr(core, "simulate", lambda sc, seeds, built=None, scenarios=None: (
        batches.append(len(seeds)), real(sc, seeds, built, scenarios))[1])
    many = execute(base, specs, executor="serial", chunk_size=len(specs), progress=False)
    assert sorted(batches) == [2, 16]  # the 8 samples x 2 replicates in one model; the other strategy apart
    assert_frame_equal(one.runs, many.runs, check_exact=True)
    assert_frame_equal(one.timeseries, many.timeseries, check_exact=True)


def test_simulate_with_scenarios(base):
    rng = np.random.default_rng(2)
    scs = [base.with_overrides(_random_overrides(rng), warn=False) for _ in range(3)]
    batched = simulate(scs[0], [7, 8, 9], None, scs)
    for sc, s, got in zip(scs, [7, 8, 9], batched):
        alone = simulate(sc, [s])[0]
        assert json.dumps(got[0], sort_keys=True) == json.dumps(alone[0], sort_keys=True)
        np.testing.assert_array_equal(got[2], alone[2])


def test_calibration_trials_batched_equal_each_alone(monkeypatch):
    """The optimiser's trials run side by side (Simulator.curves_many): each trial's curves are those
    of its replicates alone; an invalid value set gives NaN and leaves the others alone; a value set
    whose parameter is zero (a step switched off) runs in its own batch."""
    from simulation.calibration.simulate import Simulator
    from simulation.calibration.spec import Prior

    sc = load_scenario(SCENARIOS / "strategies" / "demo_sensitivity.yaml", {**SMALL, "outcomes.counterfactual": False})
    priors = (Prior("logics.social.q", low=0.0, high=0.5), Prior("delivery.drift", low=0.0, high=0.3))
    sim = Simulator(sc, priors, ["adopted", "full"], months=24)
    values = [[0.1, 0.05], [0.3, 0.2], [1.5, 0.1], [0.2, 0.0], [0.25, 0.12]]  # 1.5: q out of range
    seeds = [5, 6]
    from simulation.calibration import simulate as calsim

    made = []
    real = calsim.SpreadModel
    monkeypatch.setattr(calsim, "SpreadModel", lambda sc, seeds, **kw: (made.append(len(seeds)), real(sc, seeds, **kw))[1])
    got = sim.curves_many(values, seeds)
    monkeypatch.setattr(calsim, "SpreadModel", real)
    assert sorted(made) == [2, 6]  # three trials of the same kinds in one model, the zero drift apart
    assert got.shape == (5, 2, 25, 2)
    assert np.isnan(got[2]).all()
    for i in (0, 1, 3, 4):
        np.testing.assert_array_equal(got[i], sim.curves(values[i], seeds))
