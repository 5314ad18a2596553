"""The decision lab: explore, robust, discover, voi (and their inputs), against known answers.

The analyses are tested on synthetic explorations whose answer is known by construction (no model
numbers are hard-coded: the model changes); explore itself is tested for its table, its common
random numbers and its survival of SIGKILL.
"""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from simulation.cli import main
from simulation.decision import discover, from_frame, load, robust, voi
from simulation.decision.expr import parse
from simulation.decision.robustness import statistics
from simulation.errors import InputError

from .conftest import SCENARIOS, write

STRATEGIES = SCENARIOS / "strategies" / "demo_strategies.yaml"


# ------------------------------------------------------------------------------ the grammar
def test_expressions_are_parsed_never_evaluated():
    e = parse("adopted_share >= 0.5 and not (support_used > 10 or x.a < -1)", ["adopted_share", "support_used", "x.a"])
    t = {"adopted_share": np.array([0.6, 0.6, 0.4, np.nan]), "support_used": np.array([5, 20, 5, 5]),
         "x.a": np.array([0, 0, 0, 0])}
    assert e.evaluate(t).tolist() == [True, False, False, False]  # NaN compares false
    assert parse("adopted_share < 50%", ["adopted_share"]).evaluate({"adopted_share": np.array([0.4, 0.6])}).tolist() == [True, False]
    for bad in ("__import__('os').system('true')", "adopted_share >", "adopted_share < 0.5 and", "(adopted_share < 1",
                "adoptedshare < 1", "1 < 2", "adopted_share < 0.5 < 1"):
        with pytest.raises(InputError) as err:
            parse(bad, ["adopted_share"], "--where")
        assert err.value.problems[0].source == "--where"
    with pytest.raises(InputError, match="did you mean 'adopted_share'"):
        parse("adopted_shar < 1", ["adopted_share"])


# ------------------------------------------------------------------------ regret by hand
def _frame(M: np.ndarray, reps: int = 2, outcome: str = "adopted_share") -> pd.DataFrame:
    """Futures x strategies means as an exploration table whose replicates all equal the mean."""
    rows = []
    for s in range(M.shape[0]):
        for k in range(M.shape[1]):
            for r in range(reps):
                rows.append({"sample": s, "strategy": f"k{k}", "replicate": r, "seed": r, "x.a": s / 10,
                             outcome: M[s, k]})
    return pd.DataFrame(rows)


M = np.array([[1.0, 3.0, 2.0],
              [4.0, 1.0, 4.0],
              [2.0, 2.0, 5.0]])


def test_regret_and_probability_of_best_match_a_table_worked_by_hand():
    st = statistics(M, +1)
    # best per future: 3, 4, 5 -> regrets [2 0 1], [0 3 0], [3 3 0]
    assert np.allclose(st["regret_mean"], [5 / 3, 2, 1 / 3])
    assert np.allclose(st["regret_max"], [3, 3, 1])
    assert np.allclose(st["regret_p90"], [2.8, 3, 0.8])  # linear interpolation between order statistics
    assert np.allclose(st["p_best"], [1 / 6, 1 / 3, 1 / 2])  # the tie in future 2 is shared
    assert np.allclose(st["mean"], [7 / 3, 2, 11 / 3])
    # lower is better: regret is the excess over the smallest value in each future (1, 1, 2):
    # regrets [0 2 1], [3 0 3], [0 0 3]
    st = statistics(M, -1)
    assert np.allclose(st["regret_mean"], [1, 2 / 3, 7 / 3])
    assert np.allclose(st["p_best"], [1 / 2, 1 / 2, 0])


def test_robust_table_ranking_and_satisficing_by_hand():
    res = robust(from_frame(_frame(M)), "adopted_share", satisfice="adopted_share >= 2", bootstrap=50)
    t = res.table
    assert np.allclose(t["satisficing"], [2 / 3, 2 / 3, 1])
    assert np.allclose(t["regret_mean"], [5 / 3, 2, 1 / 3])
    assert res.ranking() == ["k2", "k0", "k1"]
    assert (t["regret_mean_low"] <= t["regret_mean"] + 1e-12).all() and (t["regret_mean"] <= t["regret_mean_high"] + 1e-12).all()
    assert "k2" in res.report().splitlines()[3] and "stable" in res.stability["sentence"]


def test_robust_stability_says_when_the_top_is_a_coin_toss():
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 1, (40, 2))  # two strategies that differ only by noise
    res = robust(from_frame(_frame(noise)), "adopted_share", bootstrap=100)
    assert not res.stability["stable"] and "NOT yet stable" in res.stability["sentence"]


# --------------------------------------------------------------------- discovery's known answer
def _known(seed: int, S: int = 250, R: int = 4) -> pd.DataFrame:
    """Failure decided by two uncertainties (a > 0.6 and b < 0.4), a third (c) inert."""
    rng = np.random.default_rng(seed)
    a, b, c = rng.random((3, S))
    rows = []
    for s in range(S):
        bad = a[s] > 0.6 and b[s] < 0.4
        for k in ("baseline", "other"):
            for r in range(R):
                fail = rng.random() < (0.9 if bad and k == "baseline" else 0.05)
                rows.append({"sample": s, "strategy": k, "replicate": r, "seed": r, "x.a": a[s], "x.b": b[s],
                             "x.c": c[s], "adopted_share": 0.2 if fail else 0.6})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("seed", [0, 1])
def test_discover_restricts_the_two_uncertainties_that_decide_failure_never_the_inert_one(seed, tmp_path):
    res = discover(from_frame(_known(seed, S=200)), "baseline", "adopted_share < 0.3", bootstrap=6, seed=seed)
    first = res.boxes[res.boxes["box"] == 1].set_index("parameter")
    assert set(first.index) == {"x.a", "x.b"}
    # the box is chosen as the highest coverage at a density of at least 0.8, so it may reach past the
    # true corner (a > 0.6, b < 0.4) by as much as that density allows
    assert 0.45 < first.loc["x.a", "low"] < 0.75 and 0.25 < first.loc["x.b", "high"] < 0.65
    assert first["density"].iloc[0] >= 0.79 and first["coverage"].iloc[0] > 0.7
    assert (first["qp_value"] < 0.05).all()
    assert "x.c" not in set(res.boxes["parameter"])
    stab = res.stability.set_index("parameter")["restricted_share"]
    assert stab["x.a"] > 0.4 and stab["x.b"] > 0.4 and stab["x.c"] <= 0.25  # 6 resamples only
    assert res.features.iloc[-1]["parameter"] == "x.c"  # the inert one scores lowest
    assert "where" in res.sentence and "of its failures" in res.sentence
    res.save(tmp_path, plot=False)
    boxes = pd.read_csv(tmp_path / "boxes.csv")
    assert list(boxes.columns[:6]) == ["box", "parameter", "low", "high", "coverage", "density"]
    assert "x.c" not in boxes["parameter"].tolist()


def test_discover_says_when_a_strategy_never_fails():
    res = discover(from_frame(_known(0, S=60)), "other", "adopted_share < 0.0", bootstrap=5)
    assert "never fails" in res.sentence and res.boxes.empty


# --------------------------------------------------------------------------- EVPPI, closed form
def test_evppi_matches_the_closed_form():
    """Strategy B gains a - 0.5 over A (a ~ U(0, 1)), b is inert, noise on every run:
    EVPPI(a) = EVPI = E[max(0, a - 0.5)] = 1/8; EVPPI(b) = 0."""
    rng = np.random.default_rng(7)
    S, R = 300, 4
    a, b = rng.random((2, S))
    rows = [{"sample": s, "strategy": k, "replicate": r, "seed": r, "x.a": a[s], "x.b": b[s],
             "adopted_share": (a[s] - 0.5 if k == "B" else 0.0) + rng.normal(0, 0.2)}
            for s in range(S) for k in ("A", "B") for r in range(R)]
    res = voi(from_frame(pd.DataFrame(rows)), "adopted_share", bootstrap=20)
    v = res.table.set_index("uncertainty")
    exact = float(np.mean(np.maximum(0, a - 0.5)))  # the closed form on these futures (1/8 in expectation)
    assert abs(exact - 0.125) < 0.02
    assert abs(v.loc["x.a", "value"] - exact) < 0.02  # ~3 SEs (SE about 0.007 here)
    assert abs(v.loc["all (EVPI)", "value"] - exact) < 0.02
    assert v.loc["x.b", "value"] < 0.02
    assert 0 < v.loc["x.a", "se"] < 0.02
    assert "x.a" in res.sentence


# ------------------------------------------------------------------------- bad input: exit 2
def _scenario(tmp_path, section: str):
    return write(tmp_path / "sc.yaml", "name: t\nmonths: 24\nsites: {n: 40}\n" + section)


@pytest.mark.parametrize("section, key, words", [
    ("uncertainties:\n  logics.social.qq: [0, 0.1]\n", "uncertainties.logics.social.qq", "not a key"),
    ("uncertainties:\n  logics.social.q: [0.1, 7]\n", "uncertainties.logics.social.q", "outside"),
    ("uncertainties:\n  logics.social.q: [0.2, 0.1]\n", "uncertainties.logics.social.q", "low must be below high"),
    ("uncertainties:\n  logics.social: [0, 1]\n", "uncertainties.logics.social", "section"),
    ("seed: 2\n", "uncertainties", "no 'uncertainties:' section"),
])
def test_bad_uncertainties_exit_2_naming_file_and_key(tmp_path, capsys, section, key, words):
    sc = _scenario(tmp_path, section)
    out = tmp_path / "out"
    assert main(["explore", str(sc), "--samples", "2", "--replicates", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert str(sc) in err and key in err and words in err, err
    assert "Traceback" not in err and not out.exists()


def test_bad_where_and_unknown_names_exit_2(tmp_path, capsys):
    folder = tmp_path / "exp"
    folder.mkdir()
    _known(0, S=30).to_parquet(folder / "experiments.parquet")
    assert main(["discover", str(folder), "--strategy", "baseline", "--where", "adopted_share <"]) == 2
    assert "--where" in capsys.readouterr().err
    assert main(["discover", str(folder), "--strategy", "basline", "--where", "adopted_share < 0.3"]) == 2
    assert "did you mean 'baseline'" in capsys.readouterr().err
    assert main(["robust", str(folder), "--outcome", "adopted", "-q"]) == 2
    assert main(["robust", str(folder), "--outcome", "adopted_share", "--satisfice", "os.system('x')", "-q"]) == 2
    assert "--satisfice" in capsys.readouterr().err
    assert not (folder / "discover").exists() and not (folder / "robust").exists()
    assert main(["robust", str(tmp_path / "nothing")]) == 2


# ------------------------------------------------------------------------------------ explore
def test_explore_table_common_random_numbers_and_cube(tmp_path):
    from simulation.decision import explore
    from simulation.runner import SUMMARY_KEYS
    from simulation.scenario import load_scenario

    sc = load_scenario(STRATEGIES, overrides={"months": 24})
    frame = explore(sc, samples=3, replicates=2, strategies=["collaborative"], out=tmp_path / "e", executor="serial",
                    progress=False)
    unc = list(sc.uncertainties)
    assert list(frame.columns) == ["sample", "strategy", "replicate", "seed", *unc, *SUMMARY_KEYS]
    assert len(frame) == 3 * 2 * 2 and frame["strategy"].unique().tolist() == ["baseline", "collaborative"]
    # the same R seeds for every strategy in every future
    assert frame.groupby(["sample", "strategy"])["seed"].apply(tuple).nunique() == 1
    # each future's uncertain values are the same for every strategy and replicate
    assert (frame.groupby("sample")[unc].nunique() == 1).all().all()
    lo, hi = sc.uncertainties["logics.social.q"]
    assert frame["logics.social.q"].between(lo, hi).all()
    exp = load(tmp_path / "e")
    assert_frame_equal(exp.table, frame)
    cube = exp.cube()
    assert dict(cube.sizes) == {"sample": 3, "strategy": 2, "replicate": 2}
    assert np.allclose(cube["adopted_share"].sel(strategy="baseline").values,
                       frame[frame.strategy == "baseline"]["adopted_share"].to_numpy().reshape(3, 2))
    # an analysis of the table, then the exploration run again (every run reused): the same table,
    # and the analysis, made from the earlier table, is removed (never a folder holding a user's file)
    assert main(["robust", str(tmp_path / "e"), "--outcome", "adopted_share", "--bootstrap", "5", "--no-plot", "-q"]) == 0
    assert (tmp_path / "e" / "robust" / "robustness.csv").is_file()
    again = explore(sc, samples=3, replicates=2, strategies=["collaborative"], out=tmp_path / "e", executor="serial",
                    progress=False)
    assert_frame_equal(again, frame) and again.attrs["info"]["ran"] == 0
    assert not (tmp_path / "e" / "robust").exists()


def _chunks(out):
    return [p for p in (out / "runs").glob("*.parquet") if not p.name.startswith(".")] if (out / "runs").exists() else []


def test_explore_killed_with_sigkill_then_resumed_gives_the_uninterrupted_result(tmp_path):
    args = ["explore", str(STRATEGIES), "--months", "12", "--samples", "4", "--replicates", "2", "--strategies",
            "collaborative", "--seed", "3", "--chunk-size", "2", "-q"]
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    code = "import sys; from simulation.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.Popen([sys.executable, "-c", code, *args, "--executor", "processes", "--workers", "2",
                             "--out", str(killed)], start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        end = time.monotonic() + 120
        while len(_chunks(killed)) < 2 and time.monotonic() < end and proc.poll() is None:
            time.sleep(0.005)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    assert not (killed / "experiments.parquet").exists(), "the exploration finished before it could be killed"
    assert main([*args, "--executor", "processes", "--workers", "2", "--out", str(killed)]) == 0
    assert main([*args, "--executor", "serial", "--out", str(whole)]) == 0
    a = pd.read_parquet(killed / "experiments.parquet")
    b = pd.read_parquet(whole / "experiments.parquet")
    assert_frame_equal(a, b, check_exact=True)
    assert len(a) == 4 * 2 * 2


# ----------------------------------------------------------------------------------- optimise
def test_optimise_front_within_budget_resumes_and_writes_strategies_that_compare_accepts(tmp_path):
    from simulation.decision import optimise
    from simulation.experiments.core import resolve_strategies
    from simulation.scenario import load_scenario

    sc = load_scenario(STRATEGIES, overrides={"months": 12, "optimise": {"samples": 2, "replicates": 1, "trials": 4}})
    out = tmp_path / "opt"
    budget = 400.0
    res = optimise(sc, budget, out=out, progress=False, plot=False)
    assert len(res.trials) == 4
    assert (res.pareto["cost"] <= budget).all() and res.pareto["feasible"].all()
    # nothing feasible dominates a front member
    objs = res.objectives
    feas = res.trials[res.trials["feasible"]]
    for _, r in res.pareto.iterrows():
        better = np.ones(len(feas), bool)
        strictly = np.zeros(len(feas), bool)
        for n, g in objs:
            s = 1 if g == "max" else -1
            better &= s * feas[n].to_numpy() >= s * r[n]
            strictly |= s * feas[n].to_numpy() > s * r[n]
        assert not (better & strictly).any()
    assert (res.trials["regret"] >= 0).all()
    again = optimise(sc, budget, out=out, trials=5, progress=False, plot=False)  # resumes: 4 stored + 1
    assert len(again.trials) == 5
    assert_frame_equal(again.trials.iloc[:4].reset_index(drop=True), res.trials.reset_index(drop=True))
    if len(again.pareto):
        front = load_scenario(out / "strategies.yaml")
        assert list(resolve_strategies(front, None)) == list(again.pareto["strategy"])
    with pytest.raises(InputError, match="other settings"):
        optimise(sc, budget * 2, out=out, progress=False, plot=False)
