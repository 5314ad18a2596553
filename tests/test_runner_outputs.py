"""What a run writes and returns (simulation/runner.py), read back: the files of RunResult.save, the
manifest, the plot, run_batch equal to single runs, the site history. Fast, for the mutation-testing
subset (docs/mutants.md) as well as the suite."""

import json
import math
import re

import matplotlib
import numpy as np
import pandas as pd
import pytest

from simulation.runner import SUMMARY_KEYS, git_commit, run, run_batch, summarise
from simulation.safe_io import output_kind
from simulation.scenario import default_scenario

matplotlib.use("Agg")


@pytest.fixture  # per test (a small run): mutmut then sees which tests read the outputs it makes
def result():
    return run(default_scenario(**{"sites.n": 15, "months": 8, "strategy.support.funding_months": 5,
                                   "sites.groups": {"a": 0.5, "b": 0.5}}), seed=3, history=True)


def test_save_writes_each_table_without_an_index_and_a_marked_manifest(tmp_path, result):
    out = result.save(tmp_path / "run")
    assert out == tmp_path / "run"
    assert sorted(p.name for p in out.iterdir()) == sorted(["timeseries.csv", "sites.csv", "groups.csv", "manifest.json",
                                                            "adoption.png", "site_history.parquet",
                                                            ".spreadsim-record.json"])
    ts = pd.read_csv(out / "timeseries.csv")
    assert list(ts.columns) == list(result.timeseries.columns)  # no index column
    assert np.allclose(ts["reach"], result.timeseries["reach"], rtol=1e-12)
    sites = pd.read_csv(out / "sites.csv")
    assert list(sites.columns) == list(result.sites.columns) and len(sites) == 15
    groups = pd.read_csv(out / "groups.csv")
    assert list(groups.columns) == list(result.groups.columns) and sorted(groups["group"]) == ["a", "b"]
    hist = pd.read_parquet(out / "site_history.parquet")
    assert len(hist) == 15 * 9 and list(hist.columns)[:2] == ["month", "site"]
    assert output_kind(out) == "run"
    text = (out / "manifest.json").read_text()
    assert text.startswith('{\n  "spreadsim_output": "run"')  # marked, and indented for people reading it
    man = json.loads(text)
    assert man["seed"] == 3 and man["scenario_hash"] == result.scenario.digest()
    assert man["scenario"] == result.scenario.to_dict() and man["scenario_file"] == result.scenario.source
    from simulation import __version__

    assert man["version"] == __version__
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", man["time"])
    assert set(man["summary"]) == set(SUMMARY_KEYS)
    for k, v in result.summary.items():
        assert (man["summary"][k] is None) if math.isnan(v) else man["summary"][k] == v
    assert "git_commit" in man
    import matplotlib.image

    from simulation.plots import SAVE_DPI

    width = matplotlib.image.imread(out / "adoption.png").shape[1]
    assert 0.6 * SAVE_DPI * 6 < width < 1.2 * SAVE_DPI * 12  # saved at SAVE_DPI, not the default 100
    import io

    import matplotlib.pyplot as plt

    ax = result.plot()  # the same figure saved at 200 dpi (README), cropped to what it draws
    buf = io.BytesIO()
    ax.figure.savefig(buf, format="png", dpi=200, bbox_inches="tight")
    plt.close(ax.figure)
    buf.seek(0)
    assert matplotlib.image.imread(out / "adoption.png").shape == matplotlib.image.imread(buf).shape
    assert man["notes"] == result.notes and man["notes"]  # why some outputs are NaN, in words
    import pyarrow.parquet as pq

    assert pq.read_table(out / "site_history.parquet").column_names == list(hist.columns)  # no index column


def test_save_refuses_an_earlier_output_unless_forced(tmp_path, result):
    from simulation.errors import InputError

    out = result.save(tmp_path / "run", plot=False)
    assert not (out / "adoption.png").exists()
    with pytest.raises(InputError):
        result.save(out, plot=False)
    result.save(out, plot=True, force=True)
    assert (out / "adoption.png").exists()


def test_plot_is_titled_with_scenario_and_seed_and_marks_the_end_of_support(result):
    ax = result.plot()
    try:
        assert f"seed {result.seed}" in ax.get_title()
        assert [t.get_text() for t in ax.texts] == ["support ends"]
        assert any(line.get_xdata()[0] == 5 for line in ax.get_lines() if line.get_linestyle() == "--")
    finally:
        import matplotlib.pyplot as plt

        plt.close(ax.figure)
    import matplotlib.pyplot as plt

    fig, given = plt.subplots()
    assert result.plot(ax=given) is given
    plt.close(fig)
    unfunded = run(default_scenario(**{"sites.n": 10, "months": 4, "strategy.support.funding_months": None}), seed=1)
    ax = unfunded.plot()
    assert ax.texts == [] or all(t.get_text() != "support ends" for t in ax.texts)


def test_git_commit_is_a_hash_or_none_wherever_it_is_called_from(tmp_path, monkeypatch):
    c = git_commit()
    assert c is None or re.fullmatch(r"[0-9a-f]{40}", c)
    import subprocess
    from pathlib import Path

    import simulation

    here = Path(simulation.__file__).resolve().parent
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True)
    if head.returncode == 0:  # running from a checkout: its commit
        assert c == head.stdout.strip()
    monkeypatch.chdir(tmp_path)  # the package's checkout, not the current folder's
    assert git_commit() == c


def test_run_batch_gives_each_seed_its_own_run_exactly():
    import time

    s = default_scenario(**{"sites.n": 20, "months": 10, "sites.groups": {"a": 0.5, "b": 0.5}})
    t0 = time.perf_counter()
    batch = run_batch(s, [4, 9])
    wall = time.perf_counter() - t0
    for b, (r, seed) in enumerate(zip(batch, (4, 9))):
        alone = run(s, seed=seed)
        assert r.seed == seed and r.block == b and r.scenario is s and r.model is batch[0].model
        pd.testing.assert_frame_equal(r.timeseries, alone.timeseries)
        pd.testing.assert_frame_equal(r.sites, alone.sites)
        pd.testing.assert_frame_equal(r.groups, alone.groups)
        assert r.summary == pytest.approx(alone.summary, nan_ok=True)
        assert set(r.elapsed) == {"setup", "step"} and 0 <= r.elapsed["setup"] + r.elapsed["step"] <= wall
    assert batch[0].model.history is None and batch[0].model.sites == []  # no history, no agents unless asked
    assert run_batch(s, [4], sites=False)[0].sites is None


def test_a_runs_horizon_can_be_overridden():
    r = run(default_scenario(**{"sites.n": 10, "months": 10}), seed=1, months=4)
    assert len(r.timeseries) == 5 and r.scenario.months == 4
    b = run_batch(default_scenario(**{"sites.n": 10, "months": 10}), [1], months=3)
    assert len(b[0].timeseries) == 4


def test_site_history_is_every_site_every_month(result):
    h = result.site_history
    assert len(h) == 15 * 9 and h["month"].max() == 8
    last = h[h["month"] == 8].set_index("site")["stage"].astype(str)
    assert (last.to_numpy() == result.sites.set_index("site")["stage"].to_numpy()).all()
    plain = run(default_scenario(**{"sites.n": 8, "months": 2}), seed=1)
    with pytest.raises(ValueError) as err:
        plain.site_history
    assert str(err.value) == "this run kept no site history: run it with history=True (--site-history)"
    from simulation.runner import site_history_frame

    pd.testing.assert_frame_equal(site_history_frame(result.model), h)
    assert h["month"].dtype == np.int32
    assert list(h.columns) == ["month", "site", "stage", "fidelity", "competence", "capacity", "supported", "benefit"]
    assert list(h["stage"].cat.categories) == ["not_engaged", "exploration", "installation", "initial", "full",
                                               "declined", "discontinued"]


def test_a_bad_horizon_is_reported_under_months():
    from simulation.errors import InputError

    s = default_scenario(**{"sites.n": 10, "months": 10})
    for call in (lambda: run(s, seed=1, months=0), lambda: run_batch(s, [1], months=-3)):
        with pytest.raises(InputError) as err:
            call()
        assert [(p.source, p.field) for p in err.value.problems] == [("months", "months")]


def test_a_batch_of_one_seed_makes_no_agents_and_shares_its_time_per_seed(monkeypatch):
    """run_batch never creates Mesa agents (even for one seed, where run() would), and each result's
    ``elapsed`` is its share of the batch's set-up and stepping time."""
    import time

    from simulation.model import SpreadModel

    s = default_scenario(**{"sites.n": 10, "months": 3})
    assert run_batch(s, [4])[0].model.sites == [] and len(run(s, seed=4).model.sites) == 10
    init, step = SpreadModel.__init__, SpreadModel.run_model

    def slow_init(self, *a, **k):
        time.sleep(0.2)
        init(self, *a, **k)

    def slow_step(self, *a, **k):
        time.sleep(0.4)
        return step(self, *a, **k)

    monkeypatch.setattr(SpreadModel, "__init__", slow_init)
    monkeypatch.setattr(SpreadModel, "run_model", slow_step)
    batch = run_batch(s, [1, 2])
    for r in batch:
        assert 0.1 <= r.elapsed["setup"] < 0.35 and 0.2 <= r.elapsed["step"] < 0.6  # a half each (double: >= 0.8)


def test_run_batch_uses_the_network_given_and_keeps_the_site_history_asked_for():
    from simulation.network import build

    s = default_scenario(**{"sites.n": 20, "months": 8})
    built = build(s, np.random.default_rng(99))
    alone = run(s, seed=4, built=built, history=True)
    assert not alone.timeseries.equals(run(s, seed=4).timeseries)  # this network makes a difference here
    batch = run_batch(s, [9, 4], built=built, history=True)
    pd.testing.assert_frame_equal(batch[1].timeseries, alone.timeseries)
    pd.testing.assert_frame_equal(batch[1].site_history, alone.site_history)



def test_sites_table_months_are_missing_only_for_never_and_its_columns_are_the_documented_ones(result):
    """sites.csv (results/README.md): adopted_month and full_month are whole months, missing for sites
    that never got there (-1 in the model); month 0 is a month like any other."""
    from simulation.model import TRAITS
    from simulation.runner import sites_frame

    m = result.model
    saved = m.adopted_month.copy(), m.full_month.copy()
    try:
        m.adopted_month[:3] = [-1, 0, 4]
        m.full_month[:3] = [0, -1, 7]
        df = sites_frame(m)
    finally:
        m.adopted_month[:], m.full_month[:] = saved
    assert str(df["adopted_month"].dtype) == "Int64"
    assert df["adopted_month"][:3].tolist() == [pd.NA, 0, 4] and df["full_month"][:3].tolist() == [0, pd.NA, 7]
    assert list(df.columns) == ["site", "stage", "adopted_month", "full_month", "fidelity", "competence", "adaptation",
                                "capacity_now", "generation", "effect", "group", *TRAITS, "degree"]
    sl = m.block_slice(0)
    assert df["degree"].tolist() == m.degree[sl].tolist() and df["fidelity"].tolist() == m.fidelity[sl].tolist()
    assert list(result.timeseries.columns[:2]) == ["month", "not_engaged"]


def test_sites_table_gives_the_capacity_trait_and_the_capacity_now_apart(result):
    """sites.csv (results/README.md): ``capacity`` is the site's trait as drawn at month 0, ``capacity_now``
    its capacity at the end (built while supported, decaying back towards the trait otherwise)."""
    from simulation.runner import sites_frame

    m = result.model
    saved = m.capacity.copy()
    try:
        m.capacity[:] = np.clip(m.capacity0 + 0.1, 0.0, 1.0) * 0.9  # an end state unlike the trait
        df = sites_frame(m)
    finally:
        m.capacity[:] = saved
    sl = m.block_slice(0)
    assert df["capacity"].tolist() == m.capacity0[sl].tolist()
    assert df["capacity_now"].tolist() == (np.clip(m.capacity0[sl] + 0.1, 0.0, 1.0) * 0.9).tolist()
    assert df["stage"].map(type).eq(str).all()


def test_a_run_times_its_set_up_steps_and_outputs():
    """run's ``elapsed`` (read by spreadsim bench): seconds of set-up, stepping and building the outputs."""
    import time

    w0 = time.perf_counter()
    r = run(default_scenario(**{"sites.n": 8, "months": 2}), seed=1, agents=False)
    wall = time.perf_counter() - w0
    assert set(r.elapsed) == {"setup", "step", "output"} and all(v >= 0 for v in r.elapsed.values())
    assert sum(r.elapsed.values()) <= wall  # parts of the call, not clock readings
    assert len(r.model.agents) == 0  # agents=False: no Mesa agents are made


def test_counts_are_whole_numbers_in_the_tables(result, tmp_path):
    """timeseries.csv's adopted, supported and trainers and sites.csv's generation and champions are
    counts: integers in the frames and written without a decimal point."""
    ts, sites = result.timeseries, result.sites
    for df, cols in ((ts, ("adopted", "supported", "trainers")), (sites, ("generation", "champions"))):
        for c in cols:
            assert df[c].dtype == np.int64, c
    out = result.save(tmp_path / "run")
    for name, cols in (("timeseries.csv", ("adopted", "supported", "trainers")), ("sites.csv", ("generation", "champions"))):
        text = pd.read_csv(out / name, dtype=str)
        for c in cols:
            assert text[c].str.fullmatch(r"\d+").all(), (name, c)


def test_time_to_half_adoption_counts_the_last_month_and_abandonment_needs_an_adopter(result):
    """summarise: time_to_50 is the first month the adopted share is at least 0.5 (the last month
    included; NaN if never); abandonment is NaN when no site ever adopted."""
    m = result.model
    share = m.series_b["adopted_share"]
    saved = share.copy(), m.adopted_month.copy()
    try:
        t = m.month
        share[0, :] = 0.0
        share[0, t] = 0.5
        assert summarise(m)["time_to_50"] == t
        share[0, t] = 0.49
        assert math.isnan(summarise(m)["time_to_50"])
        m.adopted_month[:] = -1
        assert math.isnan(summarise(m)["abandonment"])
    finally:
        share[:], m.adopted_month[:] = saved


def test_git_commit_is_none_when_git_fails_whatever_it_prints(monkeypatch):
    """A checkout without a commit: `git rev-parse HEAD` prints "HEAD" and fails; that is no commit."""
    import subprocess

    monkeypatch.setattr(subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 128, "HEAD\n", "fatal"))
    assert git_commit() is None
