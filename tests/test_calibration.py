"""Calibration and forecasts: specification, data, distance, part-way strategy switch, recovery, CLI.

The statistical test (parameter recovery) uses fixed seeds and the serial executor, so it gives the
same answer every time; its thresholds are explained beside it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulation import InputError, SpreadModel, load_scenario, run
from simulation.calibration import (
    Distance,
    calibrate,
    calibration_spec,
    forecast,
    load_observed,
    switch_strategy,
    weighted_quantile,
)
from simulation.calibration.simulate import particle_seed
from simulation.cli import main

ROOT = Path(__file__).resolve().parent.parent
BASS = ROOT / "scenarios" / "classic" / "bass.yaml"
DEMO = ROOT / "scenarios" / "demo.yaml"
CKM = ROOT / "data" / "ckm_physicians"
CKM_BASS = ROOT / "scenarios" / "cases" / "ckm_bass.yaml"
CKM_THRESHOLD = ROOT / "scenarios" / "cases" / "ckm_threshold.yaml"
BASS_PRIORS = {"logics.mechanical.push": {"low": 0.0, "high": 0.05}, "logics.social.q": {"low": 0.0, "high": 0.6}}


def small_bass(**ov):
    return load_scenario(BASS).with_overrides({"sites.n": 300, "months": 24, **ov})


def write_yaml(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


# ----------------------------------------------------------------------------------- specification
def test_spec_reads_priors_and_budgets():
    sc = load_scenario(CKM_THRESHOLD)
    spec = calibration_spec(sc)
    assert spec.paths == ["logics.mechanical.push", "sites.traits.threshold.high"]
    assert spec.targets == ("ever_adopted",)
    assert Path(spec.data).resolve() == (CKM / "sites.csv").resolve()
    assert spec.abc.population == 300
    # command-line values win over the section
    spec2 = calibration_spec(sc, population=50, holdout=3, method="optimize")
    assert (spec2.abc.population, spec2.holdout, spec2.method) == (50, 3, "optimize")


@pytest.mark.parametrize("params, field, words", [
    ({"logics.social.qq": {"low": 0, "high": 1}}, "calibration.parameters.logics.social.qq", "did you mean 'q'"),
    ({"logics.social.rule": {"low": 0, "high": 1}}, "calibration.parameters.logics.social.rule", "not a number"),
    ({"sites.n": {"low": 10, "high": 100}}, "calibration.parameters.sites.n", "cannot be calibrated"),
    ({"logics.social.q": {"low": 0.5, "high": 0.1}}, "calibration.parameters.logics.social.q.high", "above low"),
    ({"logics.social.q": {"low": 0.0, "high": 2.0}}, "calibration.parameters.logics.social.q.high", "does not accept"),
    ({"logics.social.q": {"dist": "gamma", "low": 0, "high": 1}}, "calibration.parameters.logics.social.q.dist", "unknown prior"),
    ({"logics.social.q": {"dist": "normal", "low": 0, "high": 1}}, "calibration.parameters.logics.social.q.mean", "needs 'mean'"),
    ({"logics.social.q": {"low": 0, "hi": 1}}, "calibration.parameters.logics.social.q.hi", "did you mean 'high'"),
])
def test_spec_problems_name_file_and_key(tmp_path, params, field, words):
    import yaml

    text = yaml.safe_dump({"calibration": {"parameters": params}})
    path = write_yaml(tmp_path, "s.yaml", text)
    with pytest.raises(InputError) as err:
        calibration_spec(load_scenario(path))
    fields = [p.field for p in err.value.problems]
    assert field in fields, fields
    assert all(p.source == str(path) for p in err.value.problems)
    assert words in str(err.value)


def test_spec_unknown_section_key_and_no_parameters(tmp_path):
    path = write_yaml(tmp_path, "s.yaml", "calibration:\n  parameter: {}\n  abc: {populaton: 3}\n")
    with pytest.raises(InputError) as err:
        calibration_spec(load_scenario(path))
    fields = {p.field for p in err.value.problems}
    assert {"calibration.parameter", "calibration.abc.populaton", "calibration.parameters"} <= fields
    assert "did you mean 'parameters'" in str(err.value)


def test_integer_parameters_are_rounded():
    sc = load_scenario(DEMO)
    spec = calibration_spec(sc, params={"strategy.seeding.n": {"low": 1, "high": 20}})
    assert spec.parameters[0].integer and spec.parameters[0].value(3.6) == 4


# --------------------------------------------------------------------------------------------- data
def test_site_table_becomes_cumulative_adopters():
    obs = load_observed(CKM / "sites.csv")
    sites = pd.read_csv(CKM / "sites.csv")
    assert obs.kind == "sites" and obs.n_sites == 125
    assert obs.last_month == 17
    t = obs.table.set_index("month")["ever_adopted"]
    assert t[0] == 0 and t[1] == 11 and t[17] == 125 - 16
    for m in (3, 9, 14):
        assert t[m] == (sites["adoption_month"] <= m).sum()
    assert (np.diff(t.to_numpy()) >= 0).all()


def test_counts_with_gaps(tmp_path):
    p = tmp_path / "obs.csv"
    p.write_text("month,adopted,note\n0,5,start\n3,9,\n6,,missing\n12,30,x\n")
    obs = load_observed(p)
    assert obs.last_month == 12 and "note" not in obs.columns
    a = obs.table["adopted"].to_numpy()
    assert a[3] == 9 and np.isnan(a[6]) and np.isnan(a[1])


@pytest.mark.parametrize("text, field, words", [
    ("when,adopted\n0,1\n", "month", "no 'month' column"),
    ("month,adopted\n0,1\n0,2\n", "month", "repeat"),
    ("month,adopted\n0,1\n1.5,2\n", "month", "whole numbers"),
    ("month,adopted\n0,1\n1,lots\n", "adopted", "not a number"),
    ("site,adoption_month\na,1\nb,two\n", "adoption_month", "whole numbers"),
])
def test_bad_data_names_file_and_column(tmp_path, text, field, words):
    p = tmp_path / "obs.csv"
    p.write_text(text)
    with pytest.raises(InputError) as err:
        load_observed(p)
    assert err.value.problems[0].source == str(p) and err.value.problems[0].field == field
    assert words in str(err.value)


def test_missing_data_file(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        load_observed(tmp_path / "nope.csv")


def test_targets_must_be_model_series_and_in_data(tmp_path):
    p = tmp_path / "obs.csv"
    p.write_text("month,adopted\n0,1\n1,2\n")
    with pytest.raises(InputError) as err:
        calibrate(small_bass(), p, params=BASS_PRIORS, targets=["full", "adoptd"], executor="serial", progress=False)
    text = str(err.value)
    assert "no column 'full'" in text and "'adoptd' is not a series" in text


def test_distance_is_rms_share_of_sites():
    obs = np.array([[0.0], [10.0], [np.nan], [30.0]])
    d = Distance(obs, np.array([100.0]))
    assert d.of(np.array([[0.0], [10.0], [99.0], [30.0]])) == 0.0  # the unobserved month is ignored
    # gaps of 10 and 20 sites out of 100 over 3 observed months
    assert d.of(np.array([[0.0], [20.0], [0.0], [10.0]])) == pytest.approx(np.sqrt((0.1**2 + 0.2**2) / 3))
    assert d.of(np.full((4, 1), np.nan)) == float("inf")


def test_weighted_quantile_matches_repeated_sample():
    x = np.array([1.0, 2.0, 3.0, 4.0])
    w = np.array([1, 3, 1, 5])
    rep = np.repeat(x, w)
    assert weighted_quantile(x, w, 0.5) == pytest.approx(np.quantile(rep, 0.5), abs=0.5)
    assert weighted_quantile(x, np.ones(4), [0.0, 1.0]).tolist() == [1.0, 4.0]


# --------------------------------------------------------------------------- part-way strategy switch
def _run_switched(sc_from, sc_to, seed=4, at=24, future=None):
    m = SpreadModel(sc_from, seed, agents=False)
    while m.month < at:
        m.step()
    switch_strategy(m, sc_to, None, future)
    return m.run_model()


def test_switch_to_same_scenario_changes_nothing():
    sc = load_scenario(DEMO)
    a = SpreadModel(sc, 4, agents=False).run_model()
    b = _run_switched(sc, sc)
    assert np.array_equal(a.counts, b.counts)
    assert all(np.array_equal(a.sustain_b[k], b.sustain_b[k], equal_nan=True) for k in a.sustain_b)


def test_switch_equals_a_change_that_only_matters_later():
    # extending funding from month 60 to 96 changes nothing before month 24: switching at 24 must
    # give exactly the run that had the longer funding from the start
    sc = load_scenario(DEMO)
    longer = sc.with_overrides({"strategy.support.funding_months": 96})
    a = SpreadModel(longer, 4, agents=False).run_model()
    b = _run_switched(sc, longer)
    assert np.array_equal(a.counts, b.counts)
    assert np.array_equal(a.series["support_used"], b.series["support_used"])


def test_switch_keeps_the_past_and_changes_the_future():
    sc = load_scenario(DEMO)
    other = sc.with_overrides({"workforce.concurrent_initiatives": 3, "strategy.seeding.rule": "most_central"})
    a = SpreadModel(sc, 4, agents=False).run_model()
    b = _run_switched(sc, other)
    assert np.array_equal(a.counts[:25], b.counts[:25])
    assert not np.array_equal(a.counts, b.counts)
    assert b.fatigue_target.max() > 0 and b.scenario_obj is other


def test_switch_with_future_seed_renews_randomness_only_after():
    sc = load_scenario(DEMO)
    a = _run_switched(sc, sc, future=1)
    b = _run_switched(sc, sc, future=1)
    c = _run_switched(sc, sc, future=2)
    assert np.array_equal(a.counts, b.counts)  # the future seed decides the future
    assert np.array_equal(a.counts[:25], c.counts[:25]) and not np.array_equal(a.counts, c.counts)


def test_forecast_refuses_strategies_that_change_the_world(tmp_path):
    from simulation.calibration.forecast import select_strategies

    text = CKM_BASS.read_text().replace("  no_detailing: {logics.mechanical.push: 0.0}", "  bigger: {sites.n: 500}")
    path = write_yaml(tmp_path, "ckm_world.yaml", text.replace("../../data", str(ROOT / "data")))
    with pytest.raises(InputError, match="cannot change part-way") as err:
        select_strategies(load_scenario(path), None)
    assert err.value.problems[0].field == "strategies.bigger.sites.n"
    assert err.value.problems[0].source == str(path)


def test_strategy_events_in_the_past_start_after_the_switch():
    from simulation.calibration.forecast import shift_past_events

    sc = load_scenario(DEMO)
    ov, notes = shift_past_events(sc, "collab", {"strategy.collaborative.enabled": True}, 24)
    assert ov["strategy.collaborative.start"] == 25 and "month 25" in notes[0]
    ov, notes = shift_past_events(sc, "later", {"strategy.collaborative.enabled": True,
                                                "strategy.collaborative.start": 40}, 24)
    assert ov["strategy.collaborative.start"] == 40 and notes == []


# ---------------------------------------------------------------------------------- recovery (ABC)
def test_parameter_recovery_bass():
    """True (p, q) fall inside the 90% credible intervals in >= 80% of repeated recoveries.

    Six data sets from the Bass special case (300 sites, 24 months, seeds 100-105) at true values
    spread over the prior, each calibrated by ABC-SMC (60 particles, 3 generations, serial, fixed
    seeds). A coverage test alone would pass with the prior as the answer, so the posteriors must
    also be informative: on average the 90% interval is at least 20% narrower than the prior's.
    With 6 recoveries, >= 80% means at most one miss per parameter.
    """
    base = small_bass()
    truth = [(0.01, 0.2), (0.02, 0.3), (0.005, 0.4), (0.03, 0.1), (0.015, 0.25), (0.025, 0.35)]
    state = np.random.get_state()
    inside = np.zeros(2)
    shrink = []
    for i, (p, q) in enumerate(truth):
        sc = base.with_overrides({"logics.mechanical.push": p, "logics.social.q": q})
        obs = run(sc, seed=100 + i, agents=False).timeseries[["month", "adopted"]]
        cal = calibrate(base, obs, params=BASS_PRIORS, executor="serial", population=60, generations=3,
                        progress=False, seed=i)
        iv = cal.intervals().set_index("parameter")
        for j, (path, true) in enumerate((("logics.mechanical.push", p), ("logics.social.q", q))):
            inside[j] += iv.loc[path, "low"] <= true <= iv.loc[path, "high"]
        shrink.append(iv["shrinkage"].to_numpy())
        assert cal.n_simulations >= 3 * 60
    coverage = inside / len(truth)
    assert (coverage >= 0.8).all(), coverage
    assert (np.mean(shrink, axis=0) >= 0.2).all(), np.mean(shrink, axis=0)
    # pyabc's use of numpy's global generator was scoped: the caller's state is untouched
    after = np.random.get_state()
    assert after[0] == state[0] and np.array_equal(after[1], state[1]) and after[2:] == state[2:]


def test_serial_abc_is_reproducible_and_particles_replay():
    base = small_bass()
    obs = run(base.with_overrides({"logics.mechanical.push": 0.02, "logics.social.q": 0.3}), seed=7,
              agents=False).timeseries[["month", "adopted"]]
    kw = {"params": BASS_PRIORS, "executor": "serial", "population": 30, "generations": 2, "progress": False, "seed": 3}
    a = calibrate(base, obs, **kw)
    b = calibrate(base, obs, **kw)
    pd.testing.assert_frame_equal(a.posterior, b.posterior)
    assert a.n_simulations == b.n_simulations
    # each particle's seed comes from its values and replays to its recorded distance
    row = a.posterior.iloc[0]
    values = [row[p] for p in a.paths]
    assert int(row["seed"]) == particle_seed(3, values)
    curve = a.simulator().curve(values, int(row["seed"]))
    assert a.distance().of(curve) == pytest.approx(row["distance"], rel=1e-12)


def test_optimize_point_estimate_near_truth():
    base = small_bass()
    obs = run(base.with_overrides({"logics.mechanical.push": 0.02, "logics.social.q": 0.3}), seed=11,
              agents=False).timeseries[["month", "adopted"]]
    cal = calibrate(base, obs, params=BASS_PRIORS, method="optimize", executor="serial", trials=40, replicates=3,
                    progress=False, seed=0)
    est = cal.estimate()
    assert cal.n_simulations == 40 * 3 and len(cal.populations) == 40
    assert abs(est["logics.mechanical.push"] - 0.02) < 0.012
    assert abs(est["logics.social.q"] - 0.3) < 0.15
    assert cal.posterior["distance"].iloc[0] < 0.03  # within 3% of the sites on average


# ------------------------------------------------------------------------------ forecast, end to end
def test_forecast_from_fitted_state_is_paired_and_replays(tmp_path):
    cal = calibrate(CKM_BASS, executor="serial", population=30, generations=2, holdout=4, draws=20, progress=False)
    assert cal.fit_months == 13 and cal.observed.last_month == 17
    chk = cal.check()
    assert 0 <= chk["fit_coverage90"] <= 1 and np.isfinite(chk["holdout_distance"])
    fc = forecast(CKM_BASS, cal, months=30, draws=12, progress=False)
    assert fc.replay_mismatch == 0  # the baseline's past is exactly the accepted runs
    assert list(fc.strategies) == ["baseline", "no_detailing"]
    b = fc.bands[fc.bands["series"] == "ever_adopted"].pivot(index="month", columns="strategy", values="mean")
    assert np.allclose(b.loc[:13, "baseline"], b.loc[:13, "no_detailing"])  # shared past
    assert (b.loc[14:, "no_detailing"] <= b.loc[14:, "baseline"]).all()  # no push: never more adopters
    assert b.loc[30, "no_detailing"] < b.loc[30, "baseline"]
    t = fc.table()
    assert set(t["strategy"]) == {"baseline", "no_detailing"}
    # save and reload the calibration: the forecast from the folder is the same
    cal.save(tmp_path / "cal", plots=False)
    fc2 = forecast(CKM_BASS, tmp_path / "cal", months=30, draws=12, progress=False)
    pd.testing.assert_frame_equal(fc.bands, fc2.bands)


def test_cli_calibrate_and_forecast_end_to_end(tmp_path, capsys):
    out = tmp_path / "ckm"
    rc = main(["calibrate", str(CKM_THRESHOLD), "--out", str(out), "--population", "30", "--generations", "2",
               "--draws", "10", "--executor", "serial", "--holdout", "3", "-q"])
    assert rc == 0
    for f in ("posterior.csv", "posterior.parquet", "intervals.csv", "populations.csv", "predictive.csv",
              "check.json", "calibration.json", "summary.txt", "fit.png", "marginals.png"):
        assert (out / f).exists(), f
    man = json.loads((out / "calibration.json").read_text())
    assert man["n_simulations"] > 0 and man["fit_months"] == 14 and man["method"] == "abc"
    post = pd.read_csv(out / "posterior.csv")
    assert len(post) == 30 and post["weight"].sum() == pytest.approx(1.0)
    iv = pd.read_csv(out / "intervals.csv")
    assert (iv["low"] <= iv["median"]).all() and (iv["median"] <= iv["high"]).all()
    rc = main(["forecast", str(CKM_THRESHOLD), "--posterior", str(out), "--months", "24", "--draws", "6",
               "--executor", "serial", "--out", str(tmp_path / "fc")])
    assert rc == 0
    text = capsys.readouterr().out
    assert "no_detailing" in text and "baseline" in text
    bands = pd.read_csv(tmp_path / "fc" / "bands.csv")
    assert set(bands["strategy"]) == {"baseline", "no_detailing"} and bands["month"].max() == 24
    assert (tmp_path / "fc" / "forecast_ever_adopted.png").exists()


def test_cli_optimize(tmp_path):
    rc = main(["calibrate", str(CKM_BASS), "--method", "optimize", "--trials", "8", "--replicates", "2",
               "--draws", "5", "--executor", "serial", "--out", str(tmp_path / "o"), "-q", "--no-plot"])
    assert rc == 0
    trials = pd.read_csv(tmp_path / "o" / "populations.csv")
    assert len(trials) == 8 and "logics.social.q" in trials


@pytest.mark.parametrize("args, words", [
    (["--data", "{tmp}/missing.csv"], "file not found"),
    (["--data", "{tmp}/nomonth.csv"], "no 'month' column"),
    (["--param", "logics.social.qq=0:1"], "did you mean 'q'"),
    (["--param", "logics.social.q=zero:1"], "bounds must be numbers"),
    (["--population", "0"], "must be at least 1"),
])
def test_cli_bad_input_exits_2(tmp_path, capsys, args, words):
    (tmp_path / "nomonth.csv").write_text("when,adopted\n0,1\n")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    out = tmp_path / "out"
    rc = main(["calibrate", str(CKM_BASS), "--out", str(out), "--executor", "serial", "-q", *args])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert words in err and "Traceback" not in err
    assert not out.exists()  # nothing half-written


def test_cli_forecast_bad_input_exits_2(tmp_path, capsys):
    rc = main(["forecast", str(CKM_BASS), "--posterior", str(tmp_path / "none"), "--executor", "serial"])
    assert rc == 2 and "no such calibration folder" in capsys.readouterr().err
    cal = calibrate(CKM_BASS, executor="serial", population=10, generations=1, draws=3, progress=False)
    cal.save(tmp_path / "cal", plots=False)
    rc = main(["forecast", str(CKM_BASS), "--posterior", str(tmp_path / "cal"), "--strategies", "nope",
               "--executor", "serial"])
    assert rc == 2 and "no strategy 'nope'" in capsys.readouterr().err
    rc = main(["forecast", str(CKM_THRESHOLD), "--posterior", str(tmp_path / "cal"), "--executor", "serial"])
    assert rc == 2 and "different world" in capsys.readouterr().err
    rc = main(["forecast", str(CKM_BASS), "--posterior", str(tmp_path / "cal"), "--months", "10", "--executor", "serial"])
    assert rc == 2 and "beyond the last fitted month" in capsys.readouterr().err


def test_executors_agree_and_dask_sampler_runs():
    """Forecasts are the same from serial, processes and Dask (every run carries its seeds); pyabc's
    Dask sampler runs on a real (threaded) LocalCluster."""
    from dask.distributed import Client, LocalCluster

    cal = calibrate(CKM_BASS, executor="serial", population=20, generations=1, draws=4, progress=False)
    kw = {"months": 20, "draws": 6, "progress": False}
    serial = forecast(CKM_BASS, cal, executor="serial", **kw)
    procs = forecast(CKM_BASS, cal, executor="processes", workers=2, **kw)
    pd.testing.assert_frame_equal(serial.bands, procs.bands)
    pd.testing.assert_frame_equal(serial.runs, procs.runs)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        dask_fc = forecast(CKM_BASS, cal, executor="dask", client=client, **kw)
        pd.testing.assert_frame_equal(serial.bands, dask_fc.bands)
        dcal = calibrate(CKM_BASS, executor="dask", client=client, population=20, generations=2, draws=4,
                         progress=False)
    assert len(dcal.posterior) == 20 and dcal.n_simulations >= 40 and dcal.info["executor"] == "dask"
    assert dcal.posterior["weight"].sum() == pytest.approx(1.0)


# ------------------------------------------------------------------------------------- invariants
from hypothesis import given, settings
from hypothesis import strategies as st


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(0, 40)), min_size=1, max_size=60))
def test_site_table_counts_invariants(tmp_path_factory, months):
    p = tmp_path_factory.mktemp("obs") / "sites.csv"
    rows = "\n".join(f"s{i},{'' if m is None else m}" for i, m in enumerate(months))
    p.write_text("site,adoption_month\n" + rows + "\n")
    obs = load_observed(p)
    ever = obs.table["ever_adopted"].to_numpy()
    adopted = [m for m in months if m is not None]
    assert obs.n_sites == len(months)
    assert (np.diff(ever) >= 0).all() and ever[-1] == len(adopted)
    assert obs.last_month == (max(adopted) if adopted else 0)
    for m in set(adopted):
        assert ever[m] == sum(a <= m for a in adopted)


@settings(max_examples=80, deadline=None)
@given(st.integers(2, 30), st.integers(1, 3), st.integers(0, 10_000), st.floats(1.0, 500.0))
def test_distance_invariants(months, k, seed, scale):
    rng = np.random.default_rng(seed)
    obs = rng.uniform(0, scale, (months, k))
    obs[rng.random((months, k)) < 0.2] = np.nan
    d = Distance(obs, np.full(k, scale))
    sim = rng.uniform(0, scale, (months, k))
    filled = np.where(np.isfinite(obs), obs, sim)
    assert d.of(filled) == 0.0  # only observed cells count
    v = d.of(sim)
    assert v >= 0 and np.isfinite(v)
    assert d.of(sim + scale) >= 0
    # scaling data and curves together leaves the distance unchanged
    d2 = Distance(obs * 3, np.full(k, scale * 3))
    assert d2.of(sim * 3) == pytest.approx(v, rel=1e-9, abs=1e-12)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.floats(-100, 100), min_size=1, max_size=40), st.integers(0, 1000))
def test_weighted_quantile_is_monotone_and_bounded(xs, seed):
    w = np.random.default_rng(seed).uniform(0.01, 1.0, len(xs))
    q = weighted_quantile(np.array(xs), w, np.linspace(0, 1, 11))
    assert (np.diff(q) >= -1e-9).all()
    assert q[0] >= min(xs) - 1e-9 and q[-1] <= max(xs) + 1e-9
