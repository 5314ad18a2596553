"""A user's files are never touched, whatever the folder holds (issue 19): ownership by record.

Each test below is one of the data-loss set-ups measured on issue 19 (each exited 0 and deleted or
replaced a user's file before the ownership record): it runs the real command line and checks that
every user file is still there, byte for byte, and that the command either refused (exit 2, one
line naming the folder and what is in the way) or wrote its output without touching them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from simulation.cli import main

BASE = "name: base\nmonths: 12\nsites: {n: 40}\nnetwork: {type: small_world, k: 4}\nstrategy: {seeding: {n: 2}}\n"
STRATS = BASE + "strategies:\n  fast: {strategy.support.capacity: 60}\n"


def hashes(root: Path) -> dict[str, str]:
    """Every file (and symbolic link) under ``root``: its content hash (links: their target)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            if p.is_symlink():
                out[str(p.relative_to(root))] = "link:" + os.readlink(p)
            elif p.is_file():
                out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def one_error(capsys) -> str:
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in err, err
    return errors[0]


@pytest.fixture
def scen(tmp_path) -> Path:
    p = tmp_path / "s.yaml"
    p.write_text(STRATS)
    return p


RUN = ["-q", "--no-plot"]
EXP = ["--replicates", "2", "--executor", "serial", "-q", "--no-plot"]


# -------------------------------------------------------------------- the six data-loss set-ups
@pytest.mark.parametrize("cmd,name", [("run", ".tmp-notes"), ("run", ".spreadsim-config"), ("compare", ".tmp-draft"),
                                      ("ensemble", ".tmp-notes")])
def test_1_a_hidden_user_file_named_like_a_temporary_is_not_empty(cmd, name, scen, tmp_path, capsys):
    """`mkdir out; echo x > out/.tmp-notes; spreadsim run s.yaml --out out` deleted .tmp-notes."""
    out = tmp_path / "out"
    out.mkdir()
    (out / name).write_text("x\n")
    before = hashes(tmp_path)
    argv = [cmd, str(scen), "--out", str(out), *(RUN if cmd == "run" else EXP)]
    assert main(argv) == 2
    line = one_error(capsys)
    assert "--out" in line and name in line and "holds no spreadsim output" in line
    assert main([*argv, "--force" if cmd == "run" else "--fresh"]) == 2
    assert hashes(tmp_path) == before


def test_2_a_copied_manifest_does_not_make_a_users_files_spreadsims(scen, tmp_path, capsys):
    """A manifest.json copied beside the user's own sites.csv and timeseries.csv: `run --force`
    replaced both."""
    old = tmp_path / "old"
    assert main(["run", str(scen), "--out", str(old), *RUN]) == 0
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "sites.csv").write_text("site,capacity\na,0.5\n")
    (mine / "timeseries.csv").write_text("my,own\n1,2\n")
    shutil.copy(old / "manifest.json", mine / "manifest.json")
    before = hashes(tmp_path)
    assert main(["run", str(scen), "--out", str(mine), *RUN, "--force"]) == 2
    line = one_error(capsys)
    assert "mine" in line and "sites.csv" in line and "no .spreadsim-record.json" in line
    # the whole earlier output copied, record and all, over the user's files: theirs differ from what
    # the record lists, so they are still the user's
    for p in old.iterdir():
        if p.name not in ("sites.csv", "timeseries.csv"):
            shutil.copy(p, mine / p.name)
    before = hashes(tmp_path)
    assert main(["run", str(scen), "--out", str(mine), *RUN, "--force"]) == 2
    line = one_error(capsys)
    assert "sites.csv" in line and "timeseries.csv" in line and "changed since" in line
    assert hashes(tmp_path) == before


def test_3_a_users_folder_named_like_a_set_aside_output_with_force(scen, tmp_path):
    """A user folder `.out.spreadsim-old` beside out/: `run --out out --force` deleted it."""
    out = tmp_path / "out"
    assert main(["run", str(scen), "--out", str(out), *RUN]) == 0
    user = tmp_path / ".out.spreadsim-old"
    user.mkdir()
    (user / "thesis.tex").write_text("chapter 1\n")
    before = hashes(user)
    assert main(["run", str(scen), "--out", str(out), *RUN, "--force", "--seed", "9"]) == 0
    assert hashes(user) == before
    assert json.loads((out / "manifest.json").read_text())["seed"] == 9


def test_4_a_users_folder_named_like_a_set_aside_output_without_out(scen, tmp_path):
    """With no out/, `run --out out` renamed the user's `.out.spreadsim-old` to out/."""
    user = tmp_path / ".out.spreadsim-old"
    user.mkdir()
    (user / "thesis.tex").write_text("chapter 1\n")
    before = hashes(user)
    out = tmp_path / "out"
    assert main(["run", str(scen), "--out", str(out), *RUN]) == 0
    assert hashes(user) == before
    assert not (out / "thesis.tex").exists() and (out / "manifest.json").exists()


def test_5_a_users_parquet_file_in_runs_survives_fresh(scen, tmp_path, capsys):
    """A user's mine.parquet inside an experiment's runs/: `compare --fresh` deleted it."""
    out = tmp_path / "e"
    argv = ["compare", str(scen), "--out", str(out), *EXP]
    assert main(argv) == 0
    chunk = next((out / "runs").glob("*.parquet"))
    shutil.copy(chunk, out / "runs" / "mine.parquet")  # even a valid chunk, if the user put it there
    (out / "runs" / "notes.parquet").write_bytes(b"my bytes")
    before = hashes(out / "runs")
    assert main([*argv, "--fresh"]) == 2
    line = one_error(capsys)
    assert "runs/mine.parquet" in line and "runs/notes.parquet" in line and "never deleted" in line
    assert hashes(out / "runs") == before
    assert main(argv) == 0  # resuming reads only the chunks its record lists: the user's are ignored
    runs = (out / "runs.csv").read_text().splitlines()
    assert len(runs) == 1 + 4  # two strategies x two replicates, none counted twice
    assert hashes(out / "runs") == {**before, **{k: v for k, v in hashes(out / "runs").items() if k not in before}}


def test_6_figures_follow_the_folder_rule(tmp_path, capsys):
    """`spreadsim figures --out FOLDER` wrote beside a user's files."""
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine\n")  # before: the figures were written beside it (exit 0)
    before = hashes(tmp_path)
    for extra in ([], ["--force"]):
        assert main(["figures", "--out", str(mine), "--only", "sobol", "-q", *extra]) == 2
        line = one_error(capsys)
        assert "--out" in line and "mine" in line and "holds no spreadsim output" in line
    assert hashes(tmp_path) == before


def test_6b_figures_force_replaces_only_its_own_earlier_figures(tmp_path, capsys):
    """An earlier figures output (made here by the same machinery, cheaply) is replaced only with
    --force and only while it holds nothing else."""
    from simulation.safe_io import atomic_dir

    out = tmp_path / "figs"
    with atomic_dir(out, "figures") as tmp:
        (tmp / "sobol.png").write_bytes(b"\x89PNG old")
        (tmp / "figures.json").write_text(json.dumps({"spreadsim_output": "figures", "files": ["sobol.png"]}))
    assert main(["figures", "--out", str(out), "--only", "sobol", "-q"]) == 2
    assert "add --force" in one_error(capsys)
    (out / "notes.txt").write_text("mine\n")
    assert main(["figures", "--out", str(out), "--only", "sobol", "-q", "--force"]) == 2
    assert "notes.txt" in one_error(capsys)
    assert (out / "sobol.png").read_bytes() == b"\x89PNG old" and (out / "notes.txt").read_text() == "mine\n"
