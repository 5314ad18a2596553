"""The spreadsim command: outputs of `run`, `validate`, and exit code 2 for every kind of bad input."""

import json
import subprocess
import sys

import pandas as pd
import pytest

from simulation.cli import main
from simulation.model import STAGES

from .conftest import SCENARIOS, write

TS_COLUMNS = ["month", *STAGES, "adopted", "reach", "mean_fidelity", "support_used"]
SITE_COLUMNS = ["site", "stage", "adopted_month", "fidelity", "group", "capacity", "leadership", "champions",
                "turnover", "fit", "size", "threshold", "prestige"]


def test_run_writes_all_outputs(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["run", str(SCENARIOS / "demo.yaml"), "--out", str(out), "--seed", "3"]) == 0
    printed = capsys.readouterr().out
    for words in ("adopted share", "reach", "time to 50%", "one draw", "when funding ended", "24 months on", "total cost"):
        assert words in printed
    # fits an 80-column terminal; conditional measures are apart from the all-site ones
    assert max(len(line) for line in printed.splitlines()) <= 80, printed
    assert printed.index("over all the sites") < printed.index("among some of the sites") < printed.index("fidelity, among the")
    ts = pd.read_csv(out / "timeseries.csv")
    assert list(ts.columns[: len(TS_COLUMNS) - 4]) == TS_COLUMNS[: len(TS_COLUMNS) - 4]
    assert set(TS_COLUMNS) <= set(ts.columns)
    assert ts["month"].tolist() == list(range(121))
    assert (ts[list(STAGES)].sum(axis=1) == 300).all()
    assert (ts["adopted"] == ts["initial"] + ts["full"]).all()
    sites = pd.read_csv(out / "sites.csv")
    assert set(SITE_COLUMNS) <= set(sites.columns) and len(sites) == 300
    assert set(sites["stage"]) <= set(STAGES)
    never = sites["adopted_month"].isna()
    assert never.any() and (~never).any()
    man = json.loads((out / "manifest.json").read_text())
    assert man["seed"] == 3 and man["scenario"]["sites"]["n"] == 300 and "version" in man and "time" in man
    assert (out / "adoption.png").stat().st_size > 10_000
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folders left


def test_run_says_where_one_draw_sits_among_many(tmp_path, capsys):
    """--spread N runs N replicates (the seeds `ensemble` uses) and places this run among them."""
    import re

    from simulation.experiments import run_many
    from simulation.scenario import load_scenario

    out = tmp_path / "demo"
    assert main(["run", str(SCENARIOS / "demo.yaml"), "--out", str(out), "--months", "24", "--spread", "12"]) == 0
    printed = capsys.readouterr().out
    assert max(len(line) for line in printed.splitlines()) <= 80, printed
    text = " ".join(printed.split())
    assert "one draw among many. 12 runs of the same scenario" in text
    found = re.search(r"adopted share: mean (\d+\.\d)% \[95% CI", text)
    sc = load_scenario(SCENARIOS / "demo.yaml").with_overrides({"months": 24})
    ref = run_many(sc, 12, executor="serial", progress=False).runs["adopted_share"].mean()
    assert found and float(found.group(1)) == pytest.approx(100 * ref, abs=0.051)
    assert main(["run", str(SCENARIOS / "demo.yaml"), "--out", str(tmp_path / "x"), "--spread", "-1"]) == 2


def test_set_seed_and_months(tmp_path):
    out = tmp_path / "o"
    assert main(["run", str(SCENARIOS / "demo.yaml"), "--out", str(out), "--months", "24", "--no-plot", "-q",
                 "--set", "sites.n=80", "--set", "strategy.seeding.sites=[1, 2, 3]"]) == 0
    ts = pd.read_csv(out / "timeseries.csv")
    assert len(ts) == 25 and ts[list(STAGES)].sum(axis=1).iloc[0] == 80
    sites = pd.read_csv(out / "sites.csv")
    assert sorted(sites.loc[sites["adopted_month"] == 0, "site"]) == [1, 2, 3]


def test_same_seed_same_files_different_seed_different(tmp_path):
    def go(name, seed):
        main(["run", str(SCENARIOS / "demo.yaml"), "--out", str(tmp_path / name), "--seed", str(seed), "--no-plot", "-q"])
        return (tmp_path / name / "timeseries.csv").read_text(), (tmp_path / name / "sites.csv").read_text()

    assert go("a", 7) == go("b", 7)
    assert go("a", 7) != go("c", 8)


BAD = {
    "unknown key": ("logics:\n  socail: {q: 0.1}\n", "logics.socail: unknown key 'socail' (did you mean 'social'?)"),
    "wrong type": ("months: many\n", "months:"),
    "out of range": ("logics:\n  mechanical: {push: 1.5}\n", "logics.mechanical.push"),
    "negative duration": ("strategy:\n  support: {funding_months: -1}\n", "strategy.support.funding_months"),
    "malformed yaml": ("months: [1,\n", "malformed YAML"),
    "too many seeds": ("sites: {n: 5}\nnetwork: {type: none}\nstrategy:\n  seeding: {n: 6}\n", "strategy.seeding.n: cannot seed 6 sites"),
    "unknown seed id": ("sites: {n: 5}\nnetwork: {type: none}\nstrategy:\n  seeding: {sites: [2, 99]}\n", "strategy.seeding.sites: not sites of this network: 99"),
    "k too large": ("sites: {n: 5}\nnetwork: {type: small_world, k: 6}\n", "network.k"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_scenarios_exit_2_with_one_clear_message(tmp_path, capsys, case):
    text, expected = BAD[case]
    path = write(tmp_path / "bad.yaml", text)
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert expected in err and str(path) in err or expected in err
    assert "Traceback" not in err
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_missing_file_and_bad_set_path(tmp_path, capsys):
    assert main(["run", str(tmp_path / "missing.yaml")]) == 2
    assert "missing.yaml: file not found" in capsys.readouterr().err
    assert main(["run", str(SCENARIOS / "demo.yaml"), "--set", "logics.social.qq=1", "--out", str(tmp_path / "x")]) == 2
    assert "no key 'qq' in logics.social (did you mean 'q'?)" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_validate_lists_every_problem(tmp_path, capsys):
    path = write(tmp_path / "s.yaml", "months: 0\nlogics:\n  social: {weight: 2}\nnetwork: {tpye: x}\n")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith(f"error: {path}: ") for line in err)
    assert main(["validate", str(SCENARIOS / "demo.yaml")]) == 0
    assert "valid" in capsys.readouterr().out


def test_console_script_exit_code_and_no_traceback(tmp_path):
    path = write(tmp_path / "s.yaml", "months: -4\n")
    proc = subprocess.run([sys.executable, "-m", "simulation.cli", "run", str(path)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "months" in proc.stderr and "Traceback" not in proc.stderr
