"""Experiments: run identity and seeds, common random numbers, identical results from every executor,
resuming, refusing other folders, intervals, ensemble bands, figures and the ``ensemble`` and
``compare`` commands. Runs are kept small (60-120 sites, 24-30 months, a few replicates)."""

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal
from scipy import stats

from simulation.cli import main
from simulation.errors import InputError
from simulation.experiments import (
    RunSpec,
    compare,
    execute,
    load_results,
    overrides_hash,
    replicate_seed,
    run_many,
    t_interval,
)
from simulation.experiments.core import shared_network, simulate
from simulation.runner import SUMMARY_KEYS, run
from simulation.scenario import load_scenario

from .conftest import SCENARIOS

STRATEGIES = SCENARIOS / "strategies" / "demo_strategies.yaml"
SMALL = {"sites.n": 80, "months": 24, "strategy.seeding.n": 5, "strategy.support.capacity": 10}


@pytest.fixture(scope="module")
def small():
    return load_scenario(STRATEGIES, SMALL)


def same(a, b):
    """Two results are identical, bit for bit: per-run rows, per-month rows and ensemble table."""
    assert_frame_equal(a.runs, b.runs, check_exact=True)
    assert_frame_equal(a.timeseries, b.timeseries, check_exact=True)
    assert_frame_equal(a.ensemble(), b.ensemble(), check_exact=True)


# ---------------------------------------------------------------------------------- identity
@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**63 - 1), st.integers(0, 10**6))
def test_replicate_seed_depends_on_base_and_replicate_only(base, r):
    s = replicate_seed(base, r)
    assert 0 <= s < 2**63 and s == replicate_seed(base, r)


def test_replicate_seeds_are_distinct():
    seeds = [replicate_seed(7, r) for r in range(2000)]
    assert len(set(seeds)) == 2000
    assert not set(seeds) & {replicate_seed(8, r) for r in range(2000)}


def test_overrides_hash_is_canonical():
    a = overrides_hash({"strategy.support.capacity": 40, "logics.social.q": 0.2})
    b = overrides_hash({"logics.social.q": np.float64(0.2), "strategy.support.capacity": np.int64(40)})
    assert a == b
    assert a != overrides_hash({"strategy.support.capacity": 41, "logics.social.q": 0.2})


# ------------------------------------------------------------------------ runs and sharing
def test_batches_match_single_runs(small):
    """Replicates run side by side in one batch give exactly what ``run(...)`` gives for each seed,
    for every strategy (collaboratives add ties), and with a network every replicate shares."""
    seeds = [replicate_seed(3, r) for r in range(3)]
    complete = small.with_overrides({"network.type": "complete", "sites.n": 40})
    for sc in [small, small.with_overrides(small.strategies["collaborative"]),
               small.with_overrides(small.strategies["top_down_fast"]), complete]:
        built = shared_network(sc)
        assert (built is not None) == (sc is complete)
        for seed, (summary, t, counts, series) in zip(seeds, simulate(sc, seeds, built), strict=True):
            ref = run(sc, seed=seed, agents=False)
            assert t == len(ref.timeseries)
            assert np.array_equal(counts, ref.timeseries[["not_engaged", "exploration", "installation", "initial",
                                                          "full", "declined", "discontinued"]].to_numpy())
            for k, v in series.items():
                assert np.array_equal(v, ref.timeseries[k].to_numpy()), k
            for k in SUMMARY_KEYS:
                assert summary[k] == ref.summary[k] or (math.isnan(summary[k]) and math.isnan(ref.summary[k])), k


def test_common_random_numbers(small):
    """Replicate r of every strategy runs on the same seed; a strategy that changes nothing gives
    exactly the baseline, and one that leaves the network alone shares it."""
    res = compare(small, {"same": {}, "more_support": {"strategy.support.capacity": 30}}, replicates=6,
                  seed=11, executor="serial", progress=False)
    runs = res.runs
    seeds = runs.pivot(index="replicate", columns="strategy", values="seed")
    assert (seeds.nunique(axis=1) == 1).all()
    assert seeds["baseline"].tolist() == [replicate_seed(11, r) for r in range(6)]
    base = runs[runs.strategy == "baseline"].reset_index(drop=True)
    same_ = runs[runs.strategy == "same"].reset_index(drop=True)
    assert_frame_equal(base.drop(columns="strategy"), same_.drop(columns="strategy"), check_exact=True)
    d = res.differences(metrics=["adopted_share"]).set_index("strategy")
    assert d.loc["same", "mean_diff"] == 0 and d.loc["same", "ci_low"] == 0 and d.loc["same", "ci_high"] == 0
    # replicate r of a strategy that does not touch them has the same network and traits
    seed = replicate_seed(11, 2)
    a = run(small, seed=seed, agents=False).sites
    b = run(small.with_overrides(small.strategies["top_down_fast"]), seed=seed, agents=False).sites
    for col in ("degree", "capacity", "leadership", "fit", "size", "turnover", "threshold", "group"):
        assert a[col].equals(b[col]), col


def test_paired_differences_are_less_noisy_than_unpaired(small):
    """Common random numbers make paired differences less variable than differences between
    independent ensembles (deterministic for these seeds: 12 pairs of the same seed vs 12 pairs
    where the strategy runs on other seeds). Attributable benefit over the run, the main benefit
    outcome (a sum over every site and month, each arm against its own no-programme arm), rather
    than the adopted share of 80 sites at two years, whose coarse counts blur the comparison. (In
    model v3 the end-of-run benefit, whose paired spread was 0.6 of the unpaired in v2, is at 0.83:
    more sites move both ways, so paths part sooner.)"""
    ov = {"strategy.support.capacity": 20}
    paired = compare(small, {"more": ov}, 12, seed=1, executor="serial", progress=False).runs
    other = run_many(small.with_overrides(ov), 12, seed=2, executor="serial", progress=False).runs
    key = "attributable_benefit_years"
    base = paired[paired.strategy == "baseline"][key].to_numpy()
    more = paired[paired.strategy == "more"][key].to_numpy()
    indep = other[key].to_numpy()
    assert np.std(more - base, ddof=1) < 0.7 * np.std(indep - base, ddof=1)


# ------------------------------------------------------------------------------- executors
def test_same_results_from_every_executor_and_chunking(small, tmp_path):
    strategies = ["collaborative", "top_down_fast"]
    ref = compare(small, strategies, 3, seed=5, executor="serial", progress=False)
    assert ref.runs["strategy"].tolist() == ["baseline"] * 3 + ["collaborative"] * 3 + ["top_down_fast"] * 3
    assert ref.runs["replicate"].tolist() == [0, 1, 2] * 3
    assert list(ref.runs.columns) == ["strategy", "replicate", "seed", *SUMMARY_KEYS]
    assert ref.timeseries.groupby(["strategy", "replicate"], sort=False).size().eq(25).all()
    same(ref, compare(small, strategies, 3, seed=5, executor="processes", workers=2, progress=False))
    same(ref, compare(small, strategies, 3, seed=5, executor="processes", workers=2, chunk_size=1, progress=False,
                      out=tmp_path / "a"))
    same(ref, compare(small, strategies, 3, seed=5, executor="serial", chunk_size=4, progress=False,
                      out=tmp_path / "b"))
    same(ref, load_results(tmp_path / "a"))


def test_specs_given_directly(small):
    """execute() with hand-made specs (as sensitivity analysis makes them): rows follow the
    strategy order given, then replicate."""
    specs = [RunSpec(f"p/{i}", r, replicate_seed(1, r), {"logics.social.q": q})
             for r in range(2) for i, q in enumerate([0.3, 0.1])]
    res = execute(small, specs, executor="serial", progress=False)
    assert res.runs["strategy"].tolist() == ["p/0", "p/0", "p/1", "p/1"]
    assert res.runs["replicate"].tolist() == [0, 1, 0, 1]


def test_bad_specs_and_overrides_are_input_errors(small):
    with pytest.raises(InputError) as e:
        execute(small, [RunSpec("x", 0, 1, {"strategy.support.capcity": 3})], executor="serial", progress=False)
    assert "strategy 'x'" in str(e.value) and "capacity" in str(e.value)
    with pytest.raises(InputError, match="listed twice"):
        execute(small, [RunSpec("x", 0, 1, {}), RunSpec("x", 0, 1, {})], executor="serial", progress=False)
    with pytest.raises(InputError, match=r"specs\[0\].seed"):
        execute(small, [RunSpec("x", 0, -1, {})], executor="serial", progress=False)
    with pytest.raises(InputError, match="unknown executor"):
        execute(small, [RunSpec("x", 0, 1, {})], executor="threads", progress=False)
    # a problem only the model finds (more seeds than sites), raised in a worker process
    with pytest.raises(InputError) as e:
        execute(small, [RunSpec("many_seeds", 0, 1, {"strategy.seeding.n": 500})], executor="processes", workers=2,
                progress=False)
    assert "many_seeds" in str(e.value) and "replicate 0" in str(e.value)


# --------------------------------------------------------------------------------- folders
def test_resume_runs_only_what_is_missing(small, tmp_path):
    out = tmp_path / "r"
    full = [RunSpec(s, r, replicate_seed(2, r), small.strategies.get(s, {}))
            for s in ("baseline", "collaborative") for r in range(4)]
    first = execute(small, full[:3] + full[5:6], executor="serial", out=out, progress=False)
    assert first.info["ran"] == 4
    res = execute(small, full, executor="processes", workers=2, out=out, progress=False)
    assert res.info["reused"] == 4 and res.info["ran"] == 4
    ref = execute(small, full, executor="serial", progress=False)
    same(ref, res)
    again = execute(small, full, executor="serial", out=out, progress=False)
    assert again.info["ran"] == 0
    same(ref, again)
    fresh = execute(small, full, executor="serial", out=out, resume=False, progress=False)
    assert fresh.info["ran"] == 8
    same(ref, fresh)
    man = json.loads((out / "manifest.json").read_text())
    assert man["scenario_hash"] == small.digest() and [s["status"] for s in man["sessions"]] == ["complete"]
    assert {"numpy", "pyarrow", "spreadsim"} <= set(man["versions"])


def test_leftovers_of_a_killed_session_are_ignored(small, tmp_path):
    """Hidden temporary files, a timeseries chunk without its runs file and a chunk stored twice
    change nothing: no run lost, none counted twice. Leftovers named with a recorded session token
    are removed; files a user put there (whatever their names) are ignored and kept."""
    from simulation.safe_io import Record, temp_name

    out = tmp_path / "k"
    ref = run_many(small, 6, executor="serial", chunk_size=2, out=out, progress=False)
    chunks = sorted((out / "runs").glob("*.parquet"))
    tok = Record.read(out).data["sessions"][-1]
    (out / "runs" / temp_name("x.parquet", tok)).write_bytes(b"half a file")
    orphan = f"20260101T000000-{tok}-999999.parquet"
    shutil.copy(out / "timeseries" / chunks[0].name, out / "timeseries" / orphan)
    for sub in ("timeseries", "runs"):  # a whole chunk stored twice (two writers, say)
        shutil.copy(out / sub / chunks[1].name, out / sub / f"20991231T000000-{tok}-999998.parquet")
    (out / "runs" / ".tmp-zzz.parquet").write_bytes(b"mine")  # the user's files
    shutil.copy(out / "runs" / chunks[1].name, out / "runs" / "mine.parquet")
    same(ref, load_results(out))
    again = run_many(small, 6, executor="serial", out=out, progress=False)
    assert again.info["ran"] == 0
    same(ref, again)
    assert not (out / "timeseries" / orphan).exists()
    assert not list((out / "runs").glob(f"*.{tok}.tmp"))
    assert (out / "runs" / ".tmp-zzz.parquet").read_bytes() == b"mine" and (out / "runs" / "mine.parquet").exists()


def test_folders_of_other_scenarios_are_refused(small, tmp_path):
    out = tmp_path / "x"
    run_many(small, 2, executor="serial", out=out, progress=False)
    other = small.with_overrides({"sites.n": 90})
    with pytest.raises(InputError) as e:
        run_many(other, 2, executor="serial", out=out, progress=False)
    (p,) = e.value.problems
    assert p.source.endswith("manifest.json") and p.field == "scenario_hash" and "different scenario" in p.message
    res = run_many(other, 2, executor="serial", out=out, resume=False, progress=False)  # --fresh: replace them
    assert res.info["ran"] == 2 and len(load_results(out).runs) == 2
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "mine.txt").write_text("keep me")
    with pytest.raises(InputError, match="not a spreadsim experiment folder"):
        run_many(small, 2, executor="serial", out=tmp_path / "notes", progress=False)
    assert (tmp_path / "notes" / "mine.txt").read_text() == "keep me"
    (tmp_path / "file").write_text("")
    with pytest.raises(InputError, match="is a file"):
        run_many(small, 2, executor="serial", out=tmp_path / "file", progress=False)


# ------------------------------------------------------------------------------- statistics
def test_t_interval_matches_scipy():
    x = np.array([0.2, 0.5, 0.4, 0.35, 0.61, 0.28, np.nan])
    r = t_interval(x)
    lo, hi = stats.t.interval(0.95, 5, loc=np.nanmean(x), scale=stats.sem(x[:-1]))
    assert r["n"] == 6 and r["ci_low"] == pytest.approx(lo, rel=1e-12) and r["ci_high"] == pytest.approx(hi, rel=1e-12)
    assert math.isnan(t_interval([1.0])["ci_low"]) and t_interval([])["n"] == 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=40), st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_t_interval_contains_the_mean_and_widens_with_level(xs, level):
    r = t_interval(xs, level)
    tol = 1e-9 * (1 + abs(r["mean"]))
    assert r["ci_low"] - tol <= r["mean"] <= r["ci_high"] + tol
    wider = t_interval(xs, min(0.999, level + 0.009))
    assert wider["ci_high"] - wider["ci_low"] >= r["ci_high"] - r["ci_low"] - tol


def test_tables_and_paired_differences(small):
    res = compare(small, ["top_down_fast"], 5, seed=3, executor="serial", progress=False)
    tab = res.table()
    assert list(tab.columns) == ["strategy", "metric", "n", "mean", "sd", "ci_low", "ci_high"]
    assert set(tab.metric) == {"adopted_share", "reach", "mean_fidelity", "attributable_benefit",
                               "attributable_benefit_years", "sustained_delivering_24", "sustained_full_24",
                               "sustained_startup", "abandonment", "equity_gap", "total_cost", "cost_per_sustained_site"}
    runs = res.runs
    a = runs[runs.strategy == "baseline"]["reach"].to_numpy()
    b = runs[runs.strategy == "top_down_fast"]["reach"].to_numpy()
    row = res.differences().set_index(["strategy", "metric"]).loc[("top_down_fast", "reach")]
    expect = t_interval(b - a)
    assert row["n"] == 5 and row["mean_diff"] == pytest.approx(expect["mean"])
    assert row["ci_low"] == pytest.approx(expect["ci_low"]) and row["relative"] == pytest.approx((b - a).mean() / a.mean())
    text = res.report()
    assert "95% CI" in text and "Paired difference from baseline" in text and "top_down_fast" in text
    with pytest.raises(InputError):
        res.differences(baseline="nope")
    # cost-effectiveness per strategy: attributable benefit over the run per support unit of total cost
    ce = res.cost_effectiveness().set_index("strategy")
    for name in ("baseline", "top_down_fast"):
        sub = runs[runs.strategy == name]
        assert ce.loc[name, "per_unit"] == pytest.approx(sub["attributable_benefit_years"].mean() / sub["total_cost"].mean())
    base, other = runs[runs.strategy == "baseline"], runs[runs.strategy == "top_down_fast"]
    inc = (other["attributable_benefit_years"].mean() - base["attributable_benefit_years"].mean()) / (
        other["total_cost"].mean() - base["total_cost"].mean())
    assert ce.loc["top_down_fast", "incremental_per_unit"] == pytest.approx(inc)
    assert np.isnan(ce.loc["baseline", "incremental_per_unit"])
    assert "Cost-effectiveness" in text and "per unit" in text


def test_ensemble_bands_are_exact_in_any_number_of_passes(small, tmp_path):
    res = compare(small, ["collaborative"], 6, seed=4, executor="serial", out=tmp_path / "e", chunk_size=5,
                  progress=False)
    ens = res.ensemble()
    assert_frame_equal(ens, res.ensemble(budget_mb=0.0005), check_exact=True)  # one month per pass
    ts = res.timeseries
    for s in ("baseline", "collaborative"):
        m = ts[ts.strategy == s].pivot(index="replicate", columns="month", values="adopted_share").to_numpy()
        sub = ens[ens.strategy == s]
        assert np.array_equal(sub["adopted_share_mean"].to_numpy(), m.mean(axis=0))
        assert np.array_equal(sub["adopted_share_p5"].to_numpy(), np.quantile(m, 0.05, axis=0))
        assert np.array_equal(sub["adopted_share_p95"].to_numpy(), np.quantile(m, 0.95, axis=0))
        assert (sub["runs"] == 6).all() and sub["month"].tolist() == list(range(25))


def test_timeseries_at_some_months(small, tmp_path):
    res = compare(small, ["collaborative"], 3, seed=4, executor="serial", out=tmp_path / "m", chunk_size=2,
                  progress=False)
    ts = res.timeseries
    expect = ts[ts.month.isin([0, 12, 24])][["strategy", "replicate", "month", "adopted_share", "full"]]
    got = res.timeseries_at([24, 0, 12], ["adopted_share", "full"])
    assert_frame_equal(got, expect.reset_index(drop=True), check_exact=True)


def test_figures_and_files(small, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    res = compare(small, ["collaborative", "opinion_leaders_first"], 3, executor="serial", out=tmp_path / "f",
                  progress=False)
    ax = res.plot()
    assert "band" in ax.get_title() and ax.get_xlabel() == "month" and ax.get_ylabel()
    assert len(ax.get_legend().get_texts()) == 3
    fig = res.plot_differences()
    assert "paired difference from baseline" in fig._suptitle.get_text()
    assert all(a.get_xlabel() for a in fig.axes if a.get_visible())
    written = res.save()
    assert written == ["runs.csv", "summary.csv", "differences.csv", "ensemble.csv", "groups.csv", "adoption.png",
                       "differences.png"]
    groups = pd.read_csv(tmp_path / "f" / "groups.csv")  # per-group outcomes with intervals, per strategy
    assert set(groups["group"]) == {"rural", "urban"} and set(groups["strategy"]) == set(res.strategies)
    # a group's fidelity is measured among its sites still delivering: a run where none is has no value
    counted = groups[groups["metric"] != "mean_fidelity"]
    assert (counted["n"] == 3).all() and (groups["n"] <= 3).all()
    assert (groups["ci_low"] <= groups["mean"] + 1e-12).all()
    for name in written:
        assert (tmp_path / "f" / name).stat().st_size > 100
    assert len(pd.read_csv(tmp_path / "f" / "runs.csv")) == 9
    assert not [p for p in (tmp_path / "f").iterdir() if p.name.startswith(".tmp")]


def test_progress_bar_shows_runs_rate_and_time_left(small, capsys):
    run_many(small, 3, executor="serial", progress=True)
    err = capsys.readouterr().err
    assert "3/3" in err and "run/s" in err and "<" in err


# -------------------------------------------------------------------------------- commands
def test_demo_strategies_scenario():
    sc = load_scenario(STRATEGIES)
    assert {"train_the_trainer", "collaborative", "opinion_leaders_first", "top_down_fast"} <= set(sc.strategies)
    for name, ov in sc.strategies.items():
        changed = sc.with_overrides(ov)
        assert changed.digest() != sc.digest(), name


def test_compare_command(tmp_path, capsys):
    out = tmp_path / "cmp"
    args = ["compare", str(STRATEGIES), "--set", "sites.n=80", "--months", "24", "--replicates", "3", "--seed", "9",
            "--executor", "serial", "--strategies", "collaborative", "--strategy", "more:strategy.support.capacity=60",
            "--out", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    # the paired differences first, briefly; the full tables in report.txt
    assert printed.index("Paired difference from baseline over 3 replicates") < printed.index("Counted over all")
    assert "Outcomes: mean" not in printed and "report.txt" in printed
    assert "more" in printed and "9 run now" in " ".join(printed.split())  # however the paths wrap the line
    full = (out / "report.txt").read_text()
    assert "Outcomes: mean [95% CI] over 3 replicates" in full and "Paired difference from baseline" in full
    for name in ("runs.csv", "summary.csv", "differences.csv", "ensemble.csv", "adoption.png", "differences.png",
                 "manifest.json", "report.txt"):
        assert (out / name).exists(), name
    runs = pd.read_csv(out / "runs.csv")
    assert runs["strategy"].unique().tolist() == ["baseline", "collaborative", "more"]
    ens = pd.read_csv(out / "ensemble.csv")
    assert {"adopted_share_mean", "adopted_share_p5", "adopted_share_p95"} <= set(ens.columns)
    man = json.loads((out / "manifest.json").read_text())
    assert man["seed"] == 9 and man["strategies"]["more"] == {"strategy.support.capacity": 60}
    assert man["sessions"][-1]["executor"] == "serial"
    assert main(args + ["-q"]) == 0  # again: everything is reused
    assert man["scenario_hash"] == json.loads((out / "manifest.json").read_text())["scenario_hash"]
    assert load_results(out).info["requested"] == 9


def test_compare_prints_at_most_40_lines_for_the_five_strategy_demo(tmp_path, capsys, monkeypatch):
    """The 5-strategy demo used to print 116 lines and the paired differences scrolled away. (The
    output folder is given as a short relative path, as a user would: a long path takes more lines.)"""
    from simulation.experiments.report import BRIEF_LINES

    monkeypatch.chdir(tmp_path)
    out = Path("cmp5")
    assert main(["compare", str(STRATEGIES), "--months", "12", "--replicates", "2", "--executor", "serial",
                 "--out", str(out), "--no-plot"]) == 0
    lines = capsys.readouterr().out.rstrip("\n").splitlines()
    assert len(lines) <= BRIEF_LINES, "\n".join(lines)
    assert all(len(line) <= 100 for line in lines)
    text = "\n".join(lines)
    assert text.index("Paired difference") < text.index("Among some of the sites")
    # conditional measures are never called better or worse
    among = text[text.index("Among some of the sites"):text.index("Adopted share at the end")]
    assert " better" not in among and " worse" not in among


def test_ensemble_command(tmp_path, capsys):
    out = tmp_path / "ens"
    assert main(["ensemble", str(SCENARIOS / "demo.yaml"), "--set", "sites.n=60", "--months", "24",
                 "--replicates", "4", "--executor", "serial", "--out", str(out), "--no-plot"]) == 0
    printed = capsys.readouterr().out
    assert "over 4 replicates" in printed and "Paired" not in printed
    assert (out / "ensemble.csv").exists() and not (out / "differences.csv").exists()
    assert not (out / "adoption.png").exists()


@pytest.mark.parametrize("extra, field", [
    (["--replicates", "0"], "--replicates"),
    (["--strategies", "colaborative"], "strategies.colaborative"),
    (["--strategy", "fast:strategy.support.capacity=-3"], "strategy.support.capacity"),
    (["--strategy", "nonsense"], "--strategy"),
    (["--executor", "dask", "--workers", "0"], "--workers"),
])
def test_compare_command_input_errors(tmp_path, capsys, extra, field):
    code = main(["compare", str(STRATEGIES), "--months", "12", "--executor", "serial", "--out",
                 str(tmp_path / "o"), *extra])
    err = capsys.readouterr().err
    assert code == 2 and field in err and "Traceback" not in err
    assert all(line.startswith("error: ") for line in err.strip().splitlines())


def test_compare_command_refuses_other_scenarios_folder(tmp_path, capsys):
    out = tmp_path / "o"
    base = ["compare", str(STRATEGIES), "--set", "sites.n=60", "--months", "12", "--replicates", "2", "--executor",
            "serial", "--out", str(out), "-q", "--no-plot"]
    assert main(base) == 0
    assert main([*base, "--set", "sites.n=70"]) == 2
    err = capsys.readouterr().err
    assert "manifest.json: scenario_hash" in err and "different scenario" in err
