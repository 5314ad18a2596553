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

import pandas as pd
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


# ----------------------------------------------------------------- property: any folder, any command
from hypothesis import HealthCheck, event, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

SMALL = (STRATS + "sensitivity:\n  samples: 4\n  replicates: 1\n  outputs: [adopted_share]\n  parameters:\n"
         "    - {path: logics.social.q, bounds: [0.05, 0.3]}\n    - {path: delivery.drift, bounds: [0.0, 0.05]}\n")
#: every command that writes a folder, with the options of a small, fast run
COMMANDS = {
    "run": (["run", "{s}", "--out", "{out}", "-q", "--no-plot"], "--force"),
    "ensemble": (["ensemble", "{s}", "--out", "{out}", *EXP], "--fresh"),
    "compare": (["compare", "{s}", "--out", "{out}", *EXP], "--fresh"),
    "sweep": (["sweep", "{s}", "--param", "logics.social.q=0.1:0.2:2", "--out", "{out}", "--replicates", "1",
               "--executor", "serial", "-q", "--no-plot"], "--fresh"),
    "sensitivity": (["sensitivity", "{s}", "--out", "{out}", "--executor", "serial", "-q", "--no-plot"], "--fresh"),
    "figures": (["figures", "--out", "{out}", "--only", "sobol", "-q", "--executor", "serial"], "--force"),
}
#: names a user may give their files: hidden, named like spreadsim's outputs, like its temporaries
#: (old and new forms, with a token spreadsim never recorded), like its record
NAMES = [".tmp-notes", ".spreadsim-config", ".tmp-draft", "notes.txt", "manifest.json", "sites.csv", "timeseries.csv",
         "runs.csv", "summary.csv", "adoption.png", "sobol.png", "figures.json", "calibration.json", ".lock",
         ".spreadsim-record.json", ".tmp-manifest.json.1a2b3c4d", ".manifest.json." + "ab" * 16 + ".tmp",
         "runs/mine.parquet", "runs/.tmp-x.parquet", "timeseries/20260101T000000-" + "cd" * 16 + "-000001.parquet",
         "sub/deep/notes.txt", "runs/manifest.json"]
#: names beside the output folder ``out``
SIBLINGS = [".out.spreadsim-old", ".out.spreadsim-tmp-1-0123abcd", ".out.spreadsim-old-" + "ef" * 16,
            ".out.spreadsim-tmp-" + "01" * 16, ".out.sensitivity.abc", "out.txt"]

user_files = st.lists(st.tuples(st.sampled_from(NAMES), st.binary(min_size=0, max_size=40)), max_size=4,
                      unique_by=lambda t: t[0])
siblings = st.lists(st.sampled_from(SIBLINGS), max_size=2, unique=True)


def _cheap_figures(monkeypatch):
    """The figures command with tiny figures (its folder handling is what is tested here)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import simulation.figures as F

    def tiny(*a, **k):
        fig, ax = plt.subplots(figsize=(1, 1))
        ax.plot([0, 1])
        return fig

    class NoAnalysis:
        def run(self):
            return self

    monkeypatch.setattr(F, "sobol_figure", tiny)
    monkeypatch.setattr(F, "sobol_analysis", lambda *a, **k: NoAnalysis())
    monkeypatch.setattr(F, "sobol_data", lambda sa: {"sobol": pd.DataFrame({"parameter": ["x"], "S1": [0.5]})})


def _place(root: Path, rel: str, data: bytes) -> None:
    p = root / rel
    if p.parent.exists() and not p.parent.is_dir():
        return
    p.parent.mkdir(parents=True, exist_ok=True)
    if not p.exists():
        p.write_bytes(data)


@settings(max_examples=14, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@example(cmd="ensemble", prior="same", inside=[("runs/mine.parquet", b"x")], beside=[".out.spreadsim-old"], link="file",
         replace=True)
@example(cmd="ensemble", prior="same", inside=[], beside=[".out.spreadsim-old-" + "ef" * 16], link=None, replace=True)
@example(cmd="run", prior="same", inside=[], beside=[".out.spreadsim-old", ".out.spreadsim-tmp-" + "01" * 16], link=None,
         replace=True)
@given(cmd=st.sampled_from(list(COMMANDS)), prior=st.sampled_from(["none", "empty", "same", "other"]),
       inside=st.one_of(st.just([]), user_files), beside=siblings, link=st.sampled_from([None, "file", "dangling", "folder"]),
       replace=st.booleans())
def test_property_user_files_survive_every_command(tmp_path_factory, monkeypatch, capsys, cmd, prior, inside, beside,
                                                   link, replace):
    """Random folders of user files (hidden, named like outputs, like temporaries, like the record,
    symbolic links, nested folders) around and inside the output folder of every command that
    writes, with and without --force / --fresh, over an earlier output of the same or another
    command: every user file survives byte for byte, and the output is either complete (its record
    lists every file it holds but the user's, each unchanged) or, when refused, untouched."""
    from simulation.safe_io import Record, foreign_entries

    _cheap_figures(monkeypatch)
    root = tmp_path_factory.mktemp("prop")
    s = root / "s.yaml"
    s.write_text(SMALL)
    mine = root / "mine"
    mine.mkdir()
    (mine / "precious.txt").write_text("outside, linked to\n")
    out = root / "out"
    argv, flag = COMMANDS[cmd]
    argv = [a.replace("{s}", str(s)).replace("{out}", str(out)) for a in argv]
    if prior == "empty":
        out.mkdir()
    elif prior in ("same", "other"):
        other = "run" if cmd != "run" else "compare"
        first, _ = COMMANDS[cmd if prior == "same" else other]
        assert main([a.replace("{s}", str(s)).replace("{out}", str(out)) for a in first]) == 0
    if inside and not out.exists():
        out.mkdir()
    for rel, data in inside:
        _place(out, rel, data)
    if link is not None and out.exists():
        target = {"file": mine / "precious.txt", "dangling": mine / "gone", "folder": mine}[link]
        if not (out / "link").exists():
            (out / "link").symlink_to(target)
    for name in beside:
        _place(root, f"{name}/notes.txt" if not name.endswith(".txt") else name, b"mine\n")
    capsys.readouterr()

    user = {rel for rel, _ in inside if (out / rel).is_file() and not (out / rel).is_symlink()}
    before_all = hashes(root)
    before_user = {k: v for k, v in before_all.items()
                   if not k.startswith("out/") or k[4:] in user or k == "out/link"}
    code = main(argv + ([flag] if replace else []))
    err = capsys.readouterr().err
    event(f"{cmd}: exit {code}")
    assert "Traceback" not in err, err
    after = hashes(root)
    lost = {k for k, v in before_user.items() if after.get(k) != v}
    assert not lost, (lost, code, err)
    if code == 0:
        rec = Record.read(out)
        assert rec is not None and rec.kind in ("run", "experiment", "sweep", "sensitivity", "figures")
        left = set(foreign_entries(out))
        expected = {f"{rel.split('/')[0]}/" if "/" in rel else rel for rel in user} | ({"link"} if link and (out / "link").is_symlink() else set())
        assert left <= expected | {f for f in left if any(f.startswith(u.split("/")[0]) for u in user)}, (left, expected)
        assert not [p for p in root.iterdir() if ".spreadsim-tmp-" in p.name and "0123abcd" not in p.name
                    and p.name != ".out.spreadsim-tmp-" + "01" * 16], "a temporary folder was left"
    else:
        assert code == 2 and len([x for x in err.splitlines() if x.startswith("error: ")]) == 1, err
        assert after == before_all, "a refused command changed the folder"


# --------------------------------------------------------------------------- killed at random moments
KILL_SCEN = ("name: k\nmonths: 36\nsites: {n: 40}\nnetwork: {type: small_world, k: 4}\nstrategy: {seeding: {n: 2}}\n"
             "strategies:\n  fast: {strategy.support.capacity: 60}\n")


def _records(out: Path) -> list:
    from simulation.safe_io import Record

    recs = [Record.read(f) for f in (out, out / "runs")]
    return [(r.token, len(r.data["sessions"])) if r is not None else None for r in recs]


def _started(root: Path, out: Path, before: list) -> bool:
    """The command has begun writing: its temporary folder is beside ``out``, or the records changed
    (a session recorded, an earlier output removed)."""
    if any(p.name.startswith(".out.spreadsim-tmp-") and p.name != ".out.spreadsim-tmp-1-0123abcd"
           for p in root.iterdir()):
        return True
    return _records(out) != before


def test_killed_at_random_moments_user_files_survive_and_outputs_are_whole(tmp_path):
    """Commands killed with SIGKILL at random moments (seeded) once they have begun writing, over
    earlier outputs, beside and among a user's files: every user file survives byte for byte; what
    is left is either a whole output (every file its record lists, unchanged), an earlier one, or
    nothing; the same command run again completes and leaves no temporary of its own behind."""
    import random
    import signal
    import subprocess
    import sys
    import time

    from simulation.safe_io import Record, foreign_entries, output_kind

    rnd = random.Random(19)
    s = tmp_path / "s.yaml"
    s.write_text(KILL_SCEN)
    exp = ["--replicates", "8", "--executor", "serial", "--chunk-size", "2", "-q", "--no-plot"]
    plans = [("run", ["run", str(s), "-q"], "--force", {}, 0.4),
             ("compare", ["compare", str(s), *exp], None, {"runs/mine.parquet": b"mine", ".tmp-notes": b"x"}, 1.0),
             ("sweep", ["sweep", str(s), "--param", "logics.social.q=0.1:0.3:3", *exp], "--fresh", {}, 0.8)]
    for k, (name, argv, flag, inside, span) in enumerate(plans):
        root = tmp_path / f"k{k}"
        root.mkdir()
        out = root / "out"
        assert main([*argv, "--out", str(out)]) == 0  # an earlier output
        for rel, data in inside.items():
            _place(out, rel, data)
        for sib in (".out.spreadsim-old/notes.txt", ".out.spreadsim-tmp-1-0123abcd/x", "notes.txt"):
            _place(root, sib, b"mine\n")
        user = {k2: v for k2, v in hashes(root).items() if not k2.startswith("out/") or k2[4:] in inside}
        before = _records(out)
        cmd = [sys.executable, "-m", "simulation.cli", *argv, "--out", str(out), *([flag] if flag else [])]
        if name == "compare":
            cmd[cmd.index("8")] = "20"  # more runs to resume
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
        end = time.monotonic() + 60
        while proc.poll() is None and not _started(root, out, before) and time.monotonic() < end:
            time.sleep(0.002)
        time.sleep(rnd.uniform(0, span))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        after = hashes(root)
        assert {k2 for k2, v in user.items() if after.get(k2) != v} == set(), (name, proc.returncode)
        if out.exists() and any(out.iterdir()):  # whole: nothing but what records list, unchanged, and the user's
            assert output_kind(out) is not None
            assert set(foreign_entries(out)) <= {r.split("/")[0] + ("/" if "/" in r else "") for r in inside} | \
                {"runs/mine.parquet"}, foreign_entries(out)
        again = [*argv, "--out", str(out), *([flag] if flag == "--force" else [])]
        if name == "compare":
            again[again.index("8")] = "20"
        assert main(again) == 0, name
        after = hashes(root)
        assert {k2 for k2, v in user.items() if after.get(k2) != v} == set(), name
        assert not [p.name for p in root.iterdir() if Record.read(p) is not None and p != out], "a temporary was left"


def test_reference_and_figures_never_change_the_umask(tmp_path, monkeypatch):
    """`os.umask(0)` was set briefly in reference.py and figures.py, racing with any thread creating
    files: they now create their files with the mode the umask gives, without reading or setting it."""
    import stat

    import simulation.figures as F
    from simulation import reference

    def forbidden(*a):
        raise AssertionError("os.umask called")

    old = os.umask(0o027)
    try:
        monkeypatch.setattr(os, "umask", forbidden)
        path = reference.write(tmp_path / "ref.md")
        assert stat.S_IMODE(path.stat().st_mode) == 0o640
        _cheap_figures(monkeypatch)
        paths = F.make_figures(tmp_path / "figs", only=["sobol"], executor="serial", progress=False)
        assert stat.S_IMODE(paths["sobol"].stat().st_mode) == 0o640
    finally:
        monkeypatch.undo()
        os.umask(old)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


# ------------------------------------------------------ the ownership rules of safe_io, one at a time
# Fast unit-level checks (also in the mutation-testing subset, docs/mutants.md): each pins one rule of
# simulation.safe_io's module docstring on a folder built by hand.
from simulation.errors import InputError  # noqa: E402
from simulation.safe_io import (RECORD, Record, atomic_dir, owned_and_foreign, output_kind,  # noqa: E402
                                remove_output)


def _output(out: Path, kind: str = "run", files: dict[str, bytes] | None = None) -> Path:
    """An output of ``kind`` written the way commands write theirs (atomic_dir: recorded, renamed)."""
    files = {"a.csv": b"1,2\n", "sub/b.csv": b"3\n"} if files is None else files
    with atomic_dir(out, kind) as tmp:
        for rel, data in files.items():
            _place(tmp, rel, data)
    return out


def test_remove_output_deletes_exactly_a_recorded_output(tmp_path):
    assert remove_output(tmp_path / "missing") is None and not (tmp_path / "missing").exists()
    out = _output(tmp_path / "run")
    assert output_kind(out) == "run" and (out / RECORD).is_file()
    remove_output(out)
    assert not out.exists() or list(out.iterdir()) == []


@pytest.mark.parametrize("change", ["a user's file", "a recorded file changed since", "a user's folder"])
def test_remove_output_refuses_anything_it_did_not_write_and_deletes_nothing(tmp_path, change):
    out = _output(tmp_path / "run")
    if change == "a user's file":
        (out / "notes.txt").write_text("mine")
        named = "notes.txt"
    elif change == "a recorded file changed since":
        (out / "a.csv").write_bytes(b"1,2\n9,9\n")
        named = "a.csv"
    else:
        (out / "drafts").mkdir()
        named = "drafts/"
    before = hashes(out)
    with pytest.raises(InputError) as err:
        remove_output(out)
    p = err.value.problems[0]
    assert p.source == str(out) and p.field == ""
    assert p.message == (f"holds a spreadsim 'run' output but also files spreadsim did not write or that changed "
                         f"since ({named}); they are never deleted: move them, or choose another folder")
    assert hashes(out) == before and (out / "drafts").is_dir() == (change == "a user's folder")


def test_remove_output_refuses_a_folder_without_a_spreadsim_output(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "manifest.json").write_text('{"name": "my own manifest"}')
    with pytest.raises(InputError) as err:
        remove_output(out)
    assert str(err.value) == f"{out}: holds no spreadsim output; nothing was deleted"
    assert (out / "manifest.json").read_text() == '{"name": "my own manifest"}'


def test_remove_output_says_what_it_could_not_delete(tmp_path, monkeypatch):
    out = _output(tmp_path / "run")
    real = Path.unlink

    def unlink(self, *a, **k):
        if self.name == "a.csv":
            raise PermissionError(13, "Permission denied")
        return real(self, *a, **k)

    monkeypatch.setattr(Path, "unlink", unlink)
    with pytest.raises(InputError) as err:
        remove_output(out)
    assert str(err.value) == f"{out}: could not delete {out / 'a.csv'}; nothing else was touched"
    assert err.value.problems[0].field == ""
    assert (out / "a.csv").exists() and (out / RECORD).exists()  # the record stays while anything is left


def _legacy_figures_folder(out: Path, listed, extra: dict[str, bytes] = {}) -> Path:
    """A figures folder of the earlier format: figures.json lists the files by name, no record."""
    out.mkdir()
    (out / "figures.json").write_text(json.dumps({"spreadsim_output": "figures", "files": listed}))
    for name in ("a.png", "b.csv"):
        (out / name).write_bytes(name.encode())
    for rel, data in extra.items():
        _place(out, rel, data)
    return out


def test_an_earlier_figures_folder_is_removed_by_the_names_its_manifest_lists(tmp_path):
    out = _legacy_figures_folder(tmp_path / "figs", ["a.png", "b.csv"])
    assert output_kind(out) == "figures" and Record.read(out) is None
    remove_output(out)
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("listed,extra,left", [
    (["a.png", "b.csv"], {"c.png": b"mine"}, "c.png"),  # not listed: the user's
    (["a.png", "b.csv", "notes.txt"], {"notes.txt": b"mine"}, "notes.txt"),  # listed, but not a figure or table
    (["a.png", "b.csv", "sub/c.png"], {"sub/c.png": b"mine"}, "sub/"),  # listed, but in a sub-folder
    ("a.png b.csv", {}, "a.png, b.csv, figures.json"),  # no list of files: every file is the user's
    (["a.png", 7, None], {}, "b.csv"),  # only names count
])
def test_an_earlier_figures_folder_with_anything_else_is_refused_whole(tmp_path, listed, extra, left):
    out = _legacy_figures_folder(tmp_path / "figs", listed, extra)
    before = hashes(out)
    with pytest.raises(InputError) as err:
        remove_output(out)
    assert f"({left})" in str(err.value) and "nothing was deleted" in str(err.value)
    assert hashes(out) == before


def test_a_nested_output_is_owned_only_while_it_holds_only_its_own_files(tmp_path):
    out = _output(tmp_path / "explore", "experiment", {"samples.csv": b"x\n"})
    nested = _output(out / "robust", "robust", {"robustness.csv": b"y\n"})
    owned, foreign = owned_and_foreign(out)
    assert nested in owned and foreign == []
    (nested / "mine.txt").write_text("mine")
    owned, foreign = owned_and_foreign(out)
    assert nested not in owned and foreign == ["robust/"]
    (nested / "mine.txt").unlink()
    (out / "link").symlink_to(nested, target_is_directory=True)  # a link to an output is not one
    assert owned_and_foreign(out)[1] == ["link"]
    (out / "link").unlink()
    (out / "plain").mkdir()  # an empty folder with no record: the user's
    assert owned_and_foreign(out)[1] == ["plain/"]


def _dead_pid() -> int:
    import subprocess
    import sys

    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_the_temporary_of_a_dead_command_is_owned_and_of_a_live_one_is_not(tmp_path):
    from simulation.safe_io import _host, new_token

    out = _output(tmp_path / "explore", "experiment", {"samples.csv": b"x\n"})
    for pid, owned_expected in ((_dead_pid(), True), (os.getpid(), False)):
        tok = new_token()
        tmp = out / f".robust.spreadsim-tmp-{tok}"
        tmp.mkdir()
        Record.new(tmp, "robust", tok, target="robust", pid=pid, host=_host()).save()
        (tmp / "half.csv").write_text("1")
        owned, foreign = owned_and_foreign(out)
        assert (tmp in owned) is owned_expected and (foreign == []) is owned_expected
        shutil.rmtree(tmp)


def test_temporary_files_are_owned_only_when_named_with_a_recorded_token(tmp_path):
    from simulation.safe_io import new_token, temp_name

    out = _output(tmp_path / "run")
    rec = Record.read(out)
    assert rec.tokens() == set(rec.data["sessions"]) | {rec.data["next"]} and len(rec.tokens()) == 2
    mine = [out / temp_name("a.csv", rec.data["sessions"][0]), out / temp_name(RECORD, rec.data["next"])]
    stranger = out / temp_name("a.csv", new_token())
    for p in [*mine, stranger]:
        p.write_text("half")
    owned, foreign = owned_and_foreign(out)
    assert all(p in owned for p in mine) and foreign == [stranger.name]


def _killed_replacement(tmp_path, pid=None, host=None) -> tuple[Path, Path, Path, str]:
    """An output replaced by a command killed between its two renames: the earlier output set aside as
    .NAME.spreadsim-old-TOKEN, the new one still in its temporary .NAME.spreadsim-tmp-TOKEN."""
    from simulation.safe_io import _host, new_token

    target = _output(tmp_path / "run", files={"a.csv": b"earlier\n"})
    tok = new_token()
    tmp = tmp_path / f".run.spreadsim-tmp-{tok}"
    tmp.mkdir()
    Record.new(tmp, "run", tok, target="run", pid=_dead_pid() if pid is None else pid,
               host=_host() if host is None else host).save()
    (tmp / "a.csv").write_text("new\n")
    old = tmp_path / f".run.spreadsim-old-{tok}"
    os.replace(target, old)
    return target, tmp, old, tok


def test_an_output_set_aside_by_a_killed_replacement_comes_back(tmp_path):
    from simulation.safe_io import clean_stale

    target, tmp, old, _ = _killed_replacement(tmp_path)
    (tmp_path / "other").mkdir()  # beside it, not spreadsim's business
    (tmp_path / ".notes").write_text("mine")  # listed before the set-aside: looked past, left alone
    assert clean_stale(target) == [f"restored {target}", f"removed {tmp}"]
    assert (target / "a.csv").read_text() == "earlier\n" and not old.exists() and not tmp.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".notes", "other", "run"]
    assert clean_stale(target) == []


def test_an_output_set_aside_after_its_replacement_arrived_is_deleted_but_a_users_file_in_it_kept(tmp_path):
    from simulation.safe_io import clean_stale

    target, tmp, old, _ = _killed_replacement(tmp_path)
    os.replace(tmp, target)  # killed after the second rename: the new output is in place
    assert clean_stale(target) == [f"removed {old}"]
    assert not old.exists() and (target / "a.csv").read_text() == "new\n"
    target2, tmp2, old2, _ = _killed_replacement(tmp_path / "b")
    os.replace(tmp2, target2)
    (old2 / "notes.txt").write_text("mine")
    assert clean_stale(target2) == [f"removed {old2} (kept notes.txt: not spreadsim's)"]
    assert sorted(p.name for p in old2.iterdir()) == ["notes.txt"]


@pytest.mark.parametrize("case", ["alive", "other host", "no pid", "pid out of range", "another target's",
                                  "target of another output", "a link"])
def test_a_set_aside_output_is_left_alone_unless_recognised_for_certain(tmp_path, case):
    import subprocess
    import sys

    from simulation.safe_io import clean_stale

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        pid = {"alive": child.pid, "no pid": "none", "pid out of range": 2 ** 40}.get(case)
        target, tmp, old, tok = _killed_replacement(tmp_path, pid=pid,
                                                    host="elsewhere.example" if case == "other host" else None)
        if case == "no pid":
            rec = Record.read(tmp)
            rec.data.pop("pid")
            rec.save()
        if case == "another target's":
            os.replace(old, tmp_path / f".runs.spreadsim-old-{tok}")
        if case == "target of another output":
            os.replace(_output(tmp_path / "elsewhere"), target)  # a different output (its own token) is in place
        if case == "a link":
            os.replace(old, tmp_path / "elsewhere")
            old.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
        dead = case in ("another target's", "target of another output", "a link")  # its temporary: a dead command's
        before = {k: v for k, v in hashes(tmp_path).items() if not k.startswith(tmp.name) or not dead}
        assert clean_stale(target) == ([f"removed {tmp}"] if dead else [])
        assert hashes(tmp_path) == before
        assert child.poll() is None  # asking whether a process lives never signals it
    finally:
        child.kill()
        child.wait()


def test_a_long_duplicate_key_is_named_shortened():
    from simulation.safe_io import load_yaml

    for key, shown in (("k" * 40, "k" * 40), ("k" * 41, "k" * 37 + "...")):
        with pytest.raises(InputError) as err:
            load_yaml(f"{key}: 1\n{key}: 2\n", "s.yaml")
        assert str(err.value) == (f"s.yaml: duplicate key '{shown}' (also on line 1); YAML would keep only the last: "
                                  "keep one (line 2, column 1)")


def test_an_unreadable_file_is_named_with_the_systems_reason(tmp_path, monkeypatch):
    from simulation.safe_io import read_capped

    long = tmp_path / ("x" * 300)
    with pytest.raises(InputError) as err:
        read_capped(long, 100, field="sites.file")
    assert str(err.value) == f"{long}: sites.file: cannot read: File name too long"

    def stat(*a, **k):
        raise OSError("no errno")

    monkeypatch.setattr(os, "stat", stat)
    with pytest.raises(InputError) as err:
        read_capped(tmp_path / "s.yaml", 100)
    assert str(err.value) == f"{tmp_path / 's.yaml'}: cannot read: OSError"


@pytest.mark.parametrize("recorded", [True, False])
def test_a_figures_manifest_inside_another_output_makes_nothing_deletable(tmp_path, recorded):
    """Only an earlier figures folder (no record) is read by the names its figures.json lists: in a run
    output, a figures.json a user put there lists nothing spreadsim may delete."""
    out = _output(tmp_path / "run")
    if not recorded:  # a run output from before the record: its manifest says what it is
        (out / RECORD).unlink()
        (out / "manifest.json").write_text(json.dumps({"spreadsim_output": "run"}))
    (out / "figures.json").write_text(json.dumps({"spreadsim_output": "figures", "files": ["notes.csv"]}))
    (out / "notes.csv").write_text("mine")
    before = hashes(out)
    with pytest.raises(InputError) as err:
        remove_output(out)
    assert hashes(out) == before
    if not recorded:  # every file is the user's, the figures.json too
        assert "(a.csv, figures.json, manifest.json and 2 more)" in str(err.value)


def test_a_manifest_is_read_only_as_a_regular_file_of_at_most_64_mib(tmp_path):
    """safe_io._read_json (through output_kind): a manifest that is a link, or larger than 64 MiB, is not
    read (a link could make another folder's manifest vouch for this one)."""
    real = tmp_path / "real"
    real.mkdir()
    text = json.dumps({"spreadsim_output": "run"})
    (real / "manifest.json").write_text(text)
    assert output_kind(real) == "run"
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "manifest.json").symlink_to(real / "manifest.json")
    assert output_kind(linked) is None
    for size, kind in ((64 << 20, "run"), ((64 << 20) + 1, None)):
        (real / "manifest.json").write_bytes(text.encode() + b" " * (size - len(text)))
        assert (real / "manifest.json").stat().st_size == size and output_kind(real) == kind


def test_remove_output_takes_nested_outputs_and_recorded_chunks_with_it(tmp_path):
    from simulation.experiments.store import ResultStore
    from simulation.scenario import default_scenario
    import pyarrow as pa

    out = tmp_path / "exp"
    store = ResultStore(out)
    store.open(default_scenario(**{"sites.n": 10}), resume=True, meta={})
    store.write_chunk(pa.table({"run_id": ["r0"]}), pa.table({"run_id": ["r0"], "month": [0]}))
    store.close("complete")
    killed = ResultStore(out)  # a session killed after its chunk: the chunk is not listed, only named by its token
    killed.open(default_scenario(**{"sites.n": 10}), resume=True, meta={})
    chunk = killed.runs_dir / killed.write_chunk(pa.table({"run_id": ["r1"]}), pa.table({"run_id": ["r1"], "month": [0]}))
    killed.release()
    _output(out / "robust", "robust", {"robustness.csv": b"y\n"})
    owned, foreign = owned_and_foreign(out)
    assert foreign == [] and store.committed()[0] in owned and chunk in owned
    remove_output(out)
    assert not out.exists() or list(out.iterdir()) == []


def test_a_recorded_file_that_cannot_be_read_is_treated_as_the_users(tmp_path, monkeypatch):
    import simulation.safe_io as sio

    out = _output(tmp_path / "run")
    real = sio.file_digest

    def digest(path):
        if Path(path).name == "a.csv":
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(sio, "file_digest", digest)
    assert owned_and_foreign(out)[1] == ["a.csv"]


def test_an_output_that_appears_while_one_is_written_is_never_replaced(tmp_path, monkeypatch):
    """atomic_dir: the target is checked again before the rename; an output that appeared meanwhile is
    refused with the --force message, a file that appeared in an empty target with the rename's."""
    target = tmp_path / "run"
    with pytest.raises(InputError) as err:
        with atomic_dir(target, "run", option="--into", flag="--again") as tmp:
            (tmp / "a.csv").write_text("new")
            _output(tmp_path / "other")
            os.replace(tmp_path / "other", target)  # another command's output arrived
    assert str(err.value) == (f"--into: {target}: holds an earlier spreadsim output; add --again to replace it, "
                              "or choose another folder")
    with pytest.raises(InputError) as err:
        with atomic_dir(target, "run", option="--into"):
            pass
    assert str(err.value).startswith(f"--into: {target}: holds an earlier spreadsim output")
    assert (target / "a.csv").read_bytes() == b"1,2\n" and [p.name for p in tmp_path.iterdir()] == ["run"]
    empty = tmp_path / "empty"
    empty.mkdir()
    real = os.replace

    def replace(src, dst, *a, **k):
        if Path(dst) == empty:
            (empty / "notes.txt").write_text("mine")  # in the last instant
        return real(src, dst, *a, **k)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(InputError) as err:
        with atomic_dir(empty, "run", option="--into") as tmp:
            (tmp / "a.csv").write_text("new")
    assert str(err.value).startswith(f"--into: {empty}: cannot write it: ")
    assert [p.name for p in empty.iterdir()] == ["notes.txt"] and sorted(p.name for p in tmp_path.iterdir()) == [
        "empty", "run"]


def test_a_file_that_appears_in_an_output_being_replaced_is_kept_with_a_warning(tmp_path, monkeypatch):
    from simulation.errors import InputWarning

    target = _output(tmp_path / "run")
    real = os.replace

    def replace(src, dst, *a, **k):
        r = real(src, dst, *a, **k)
        if Path(src) == target:  # the earlier output set aside: a user's file lands in it at that moment
            (Path(dst) / "notes.txt").write_text("mine")
        return r

    monkeypatch.setattr(os, "replace", replace)
    with pytest.warns(InputWarning) as got:
        with atomic_dir(target, "run", replace=True) as tmp:
            (tmp / "a.csv").write_text("new")
    old = [p for p in tmp_path.iterdir() if p.name != "run"]
    assert len(old) == 1 and [p.name for p in old[0].iterdir()] == ["notes.txt"]
    assert [str(w.message) for w in got] == [f"{old[0]}: kept notes.txt: spreadsim did not write them (they appeared "
                                             "while the earlier output was replaced)"]
    assert (target / "a.csv").read_text() == "new"


def test_check_out_names_the_option_the_folder_and_the_reason_for_each_refusal(tmp_path, monkeypatch):
    """safe_io.check_out's refusals that a root test run cannot provoke for real (permissions, a path the
    system cannot resolve), by fault injection, and a parent folder name too long for the system."""
    from simulation.safe_io import check_out

    def message(out, **kw):
        with pytest.raises(InputError) as err:
            check_out(out, "run", **kw)
        (p,) = err.value.problems
        return p.source, p.field, p.message

    long = tmp_path / ("x" * 300) / "run"
    assert message(long)[2].startswith("the folder name is too long (at most ")
    out = _output(tmp_path / "run")
    with monkeypatch.context() as mp:
        mp.setattr(os, "access", lambda *a, **k: False)
        assert message(out) == ("--out", str(out), "is not writable (permission denied)")
    real_access = os.access
    with monkeypatch.context() as mp:
        mp.setattr(os, "access", lambda p, mode: Path(p) != out.parent and real_access(p, mode))
        assert message(out, replace=True) == ("--out", str(out), f"cannot replace it: {out.parent} is not writable")
    with monkeypatch.context() as mp:
        def iterdir(self):
            raise PermissionError(13, "Permission denied")

        mp.setattr(Path, "iterdir", iterdir)
        assert message(out, option="--into") == ("--into", str(out), "cannot list it: Permission denied")
    with monkeypatch.context() as mp:
        def resolve(self, *a, **k):
            raise RuntimeError("Symlink loop")

        mp.setattr(Path, "resolve", resolve)
        assert message(out) == ("--out", str(out), "cannot use this path: RuntimeError")


def test_outputs_of_earlier_versions_are_recognised_by_their_manifests(tmp_path):
    """safe_io.output_kind for folders written before the ownership record (by their manifests' keys)."""
    def folder(name, files):
        out = tmp_path / name
        for rel, man in files.items():
            _place(out, rel, json.dumps(man).encode())
        return out

    assert output_kind(folder("sens", {"manifest.json": {"salib_version": "1.5", "sensitivity": {}}})) == "sensitivity"
    assert output_kind(folder("half", {"manifest.json": {"salib_version": "1.5"}})) is None
    assert output_kind(folder("sweep", {"runs/manifest.json": {"kind": "spreadsim-experiment",
                                                               "experiment": "sweep"}})) == "sweep"
    assert output_kind(folder("other", {"runs/manifest.json": {"kind": "something", "experiment": "sweep"}})) is None
    assert output_kind(folder("exp", {"manifest.json": {"kind": "spreadsim-experiment"}})) == "experiment"
    assert output_kind(folder("notexp", {"manifest.json": {"kind": "something"}})) is None
    assert output_kind(folder("points", {"manifest.json": {"points": []}})) is None  # a sweep's needs both keys
    from simulation.safe_io import ensure_folder

    ensure_folder(tmp_path / "bare" / "runs", "experiment")  # the runs of an analysis: only a manifest names it
    assert output_kind(tmp_path / "bare") is None
    _place(tmp_path / "bare", "runs/manifest.json", json.dumps({"experiment": "robust"}).encode())
    assert output_kind(tmp_path / "bare") is None


def test_an_earlier_output_without_a_record_gets_one_marked_legacy_listing_only_what_is_added(tmp_path):
    """safe_io.ensure_folder: an earlier output (no record) is given a record marked legacy, listing only
    the .lock and folders it adds: its older files stay unlisted, so they are never deleted."""
    from simulation.safe_io import ensure_folder

    out = tmp_path / "exp"
    _place(out, "manifest.json", json.dumps({"kind": "spreadsim-experiment"}).encode())
    rec = ensure_folder(out, "experiment", dirs=("runs",))
    assert rec.legacy and sorted(rec.entries) == [".lock", "runs"]
    assert Record.read(out).entries == rec.entries and (out / ".lock").is_file()
    assert owned_and_foreign(out)[1] == ["manifest.json"]


def test_a_file_being_rewritten_is_recognised_in_either_version(tmp_path):
    """Record.put_file keeps the entry it replaces as ``prev``: a command killed between recording a
    file's new content and renaming it into place leaves the old file, still recognised as spreadsim's."""
    out = _output(tmp_path / "run", files={"a.csv": b"old\n"})
    rec = Record.read(out)
    new = tmp_path / "new.csv"
    new.write_bytes(b"new content\n")
    rec.put_file("a.csv", new)
    rec.save()
    assert Record.read(out).unchanged("a.csv", out / "a.csv")  # the old version
    assert Record.read(out).unchanged("a.csv", new)  # the new one
    (out / "a.csv").write_bytes(b"neither\n")
    assert not Record.read(out).unchanged("a.csv", out / "a.csv")


def test_a_file_the_record_does_not_list_as_a_file_is_never_unchanged(tmp_path):
    """Record.unchanged: a name the record does not list, or lists as a folder, is not spreadsim's
    file whatever its content; recording a file again with the same content keeps no ``prev``."""
    out = _output(tmp_path / "run", files={"a.csv": b"old\n"})
    (out / "b.csv").write_bytes(b"old\n")  # the same bytes as a listed file, but never listed
    rec = Record.read(out)
    rec.put_dir("sub")
    assert not rec.unchanged("b.csv", out / "b.csv")
    assert not rec.unchanged("sub", out / "a.csv")
    before = dict(rec.entries["a.csv"])
    rec.put_file("a.csv")
    assert rec.entries["a.csv"] == before and "prev" not in before


def test_a_record_with_a_malformed_token_is_not_a_record(tmp_path):
    out = _output(tmp_path / "run")
    data = json.loads((out / RECORD).read_text())
    data["token"] = "not-a-token"
    (out / RECORD).write_text(json.dumps(data))
    assert Record.read(out) is None and output_kind(out) is None


def test_replacing_an_output_begun_by_an_earlier_version_names_its_unlisted_files(tmp_path):
    from simulation.safe_io import check_out, ensure_folder

    out = tmp_path / "exp"
    _place(out, "manifest.json", json.dumps({"kind": "spreadsim-experiment"}).encode())
    ensure_folder(out, "experiment")
    with pytest.raises(InputError) as err:
        check_out(out, "experiment", replace=True, flag="--fresh")
    assert err.value.problems[0].message == (
        "holds a spreadsim 'experiment' output begun by an earlier version of spreadsim, whose files its record "
        "(.spreadsim-record.json) does not list, so they are treated as yours and never deleted (manifest.json); "
        "nothing was deleted: move or delete them yourself, or choose another folder")


def test_a_writer_names_its_option_when_the_folder_cannot_be_made(tmp_path):
    from simulation.safe_io import OwnedWriter

    (tmp_path / "file").write_text("x")
    out = tmp_path / "file" / "exp"
    with pytest.raises(InputError) as err:
        with OwnedWriter(out, "experiment", option="--into"):
            pass
    assert str(err.value).startswith(f"--into: {out}: cannot create it: ")  # the system's reason
    with pytest.raises(InputError) as err:
        with OwnedWriter(out, "experiment"):
            pass
    assert str(err.value).startswith(f"--out: {out}: cannot create it: ")
    with OwnedWriter(tmp_path / "exp", "experiment", dirs=("runs", "timeseries")) as w:
        assert (tmp_path / "exp" / "runs").is_dir() and w.rec.entries["timeseries"] == {"dir": True}


def test_an_experiment_from_before_the_record_reads_the_chunks_in_its_runs_folder(tmp_path):
    from simulation.experiments.store import ResultStore
    from simulation.safe_io import ensure_folder

    out = tmp_path / "exp"
    _place(out, "manifest.json", json.dumps({"kind": "spreadsim-experiment"}).encode())
    for name in ("b.parquet", "a.parquet", ".a.tmp.parquet", "notes.txt"):
        _place(out, f"runs/{name}", b"x")
    ensure_folder(out, "experiment")
    assert ResultStore(out).committed() == [out / "runs" / "a.parquet", out / "runs" / "b.parquet"]


def test_check_out_refuses_the_current_folder_and_a_link_by_name(tmp_path, monkeypatch):
    from simulation.safe_io import check_out

    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError) as err:
        check_out(tmp_path, "run", option="--into")
    assert str(err.value) == (f"--into: {tmp_path}: is the current folder or contains it; give a folder for the "
                              "results, such as results/NAME")
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real", target_is_directory=True)
    with pytest.raises(InputError) as err:
        check_out(tmp_path / "link", "run", option="--into")
    assert str(err.value) == f"--into: {tmp_path / 'link'}: is a symbolic link; give the folder itself"


def test_replacing_an_earlier_figures_folder_takes_exactly_its_listed_files(tmp_path):
    """check_out and atomic_dir for a figures folder of the earlier format (figures.json lists its files):
    with a user's file in it, refused; without, replaced whole, nothing left beside it, no warning."""
    import warnings

    from simulation.safe_io import check_out

    out = _legacy_figures_folder(tmp_path / "figs", ["a.png", "b.csv"], {"c.png": b"mine"})
    with pytest.raises(InputError):
        check_out(out, "figures", replace=True)
    (out / "c.png").unlink()
    assert check_out(out, "figures", replace=True) == "replace"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with atomic_dir(out, "figures", replace=True) as tmp:
            (tmp / "new.png").write_bytes(b"png")
    assert sorted(p.name for p in out.iterdir()) == [RECORD, "new.png"] and [p.name for p in tmp_path.iterdir()] == [
        "figs"]


def test_remove_owned_keeps_the_top_level_names_asked_for(tmp_path):
    from simulation.safe_io import remove_owned

    out = _output(tmp_path / "run", files={"a.csv": b"1", "b.csv": b"2", "sub/a.csv": b"3"})
    assert remove_owned(out, keep=(RECORD, "a.csv")) == []
    assert sorted(p.name for p in out.iterdir()) == [RECORD, "a.csv"]


def test_earlier_sweeps_runs_and_analyses_under_way_are_recognised(tmp_path):
    from simulation.safe_io import ensure_folder

    def folder(name, rel, man):
        _place(tmp_path / name, rel, json.dumps(man).encode())
        return tmp_path / name

    assert output_kind(folder("sweep", "manifest.json", {"points": [], "replicate_seeds": []})) == "sweep"
    assert output_kind(folder("run", "manifest.json", {"scenario_hash": "h", "seed": 1, "summary": {},
                                                        "version": "1"})) == "run"
    sens = tmp_path / "sens"
    ensure_folder(sens / "runs", "experiment")
    (sens / "runs" / "manifest.json").write_text(json.dumps({"experiment": "sensitivity"}))
    assert output_kind(sens) == "sensitivity"


def test_a_link_named_like_a_dead_commands_temporary_is_left_alone(tmp_path):
    from simulation.safe_io import _host, clean_stale, new_token

    tok = new_token()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    Record.new(elsewhere, "run", tok, target="run", pid=_dead_pid(), host=_host()).save()
    link = tmp_path / f".run.spreadsim-tmp-{tok}"
    link.symlink_to(elsewhere, target_is_directory=True)
    before = hashes(tmp_path)
    assert clean_stale(tmp_path / "run") == [] and hashes(tmp_path) == before


@pytest.mark.parametrize("entries", [{"../outside.csv": {"size": 1, "sha256": "0" * 64}}, {"a.csv": "not an entry"},
                                     {"/etc/passwd": {"size": 1, "sha256": "0" * 64}}])
def test_a_record_listing_paths_outside_its_folder_or_malformed_entries_is_not_a_record(tmp_path, entries):
    out = _output(tmp_path / "run")
    data = json.loads((out / RECORD).read_text())
    data["entries"].update(entries)
    (out / RECORD).write_text(json.dumps(data))
    assert Record.read(out) is None


def test_temporaries_and_parent_folders_are_named_and_made_as_documented(tmp_path):
    from simulation.safe_io import new_token, temp_name

    tok = new_token()
    assert temp_name(".spreadsim-record.json", tok) == f".spreadsim-record.json.{tok}.tmp"
    assert temp_name("runs.csv", tok) == f".runs.csv.{tok}.tmp"
    out = _output(tmp_path / "a" / "b" / "run")  # missing parent folders are made
    assert (out / "a.csv").read_bytes() == b"1,2\n"


def test_the_callers_error_is_what_atomic_dir_raises_even_when_its_temporary_cannot_be_removed(tmp_path):
    """On failure atomic_dir removes its temporary best-effort: a temporary already gone (or one that
    cannot be removed) never hides the error that made the write fail."""
    target = tmp_path / "run"
    with pytest.raises(RuntimeError, match="^the write failed$"):
        with atomic_dir(target, "run") as tmp:
            shutil.rmtree(tmp)
            raise RuntimeError("the write failed")
    assert list(tmp_path.iterdir()) == []


def test_a_file_appearing_in_a_recorded_figures_folder_being_replaced_is_kept_whatever_figures_json_lists(
        tmp_path, monkeypatch):
    """Only a figures folder of the earlier format (no record) has its files taken by the names its
    figures.json lists; a recorded one (figures.json listing names too) keeps a file that was not recorded."""
    from simulation.errors import InputWarning

    listing = json.dumps({"spreadsim_output": "figures", "files": ["a.png", "notes.png"]}).encode()
    target = _output(tmp_path / "figs", "figures", {"figures.json": listing, "a.png": b"png"})
    real = os.replace

    def replace(src, dst, *a, **k):
        r = real(src, dst, *a, **k)
        if Path(src) == target:  # the earlier output set aside: a user's file lands in it at that moment
            (Path(dst) / "notes.png").write_bytes(b"mine")
        return r

    monkeypatch.setattr(os, "replace", replace)
    with pytest.warns(InputWarning, match="kept notes.png: spreadsim did not write them"):
        with atomic_dir(target, "figures", replace=True) as tmp:
            (tmp / "b.png").write_bytes(b"new")
    old = [p for p in tmp_path.iterdir() if p.name != "figs"]
    assert len(old) == 1 and [(p.name, p.read_bytes()) for p in old[0].iterdir()] == [("notes.png", b"mine")]
    assert sorted(p.name for p in target.iterdir()) == [RECORD, "b.png"]


def test_a_recorded_file_is_owned_only_while_it_is_the_same_regular_file(tmp_path):
    """Record.unchanged: size and SHA-256 both match (same size, other bytes: the user's); a folder, an
    unlisted name, a FIFO or a folder where a file was recorded, a file where a folder was: the user's."""
    out = _output(tmp_path / "run", files={"a.csv": b"1,2\n", "b.csv": b"x", "c.csv": b"y", "sub/d.csv": b"3\n"})
    rec = Record.read(out)
    assert rec.unchanged("a.csv", out / "a.csv")
    (out / "a.csv").write_bytes(b"1,3\n")  # same size, other content
    assert not rec.unchanged("a.csv", out / "a.csv")
    assert not rec.unchanged("sub", out / "sub") and not rec.unchanged("unlisted.csv", out / "b.csv")
    (out / "b.csv").unlink()
    os.mkfifo(out / "b.csv")
    assert not rec.unchanged("b.csv", out / "b.csv")
    (out / "c.csv").unlink()
    (out / "c.csv").mkdir()
    (out / "c.csv" / "notes.txt").write_text("mine")
    shutil.rmtree(out / "sub")
    (out / "sub").write_bytes(b"3\n")
    assert owned_and_foreign(out)[1] == ["a.csv", "b.csv", "c.csv/", "sub"]


def test_a_folder_that_cannot_be_listed_is_named_as_the_users(tmp_path, monkeypatch):
    """_scan: a folder whose entries cannot be read is reported whole, by its name ('.' for the output
    itself), so nothing in it is ever deleted."""
    out = _output(tmp_path / "run")
    real = Path.iterdir
    blocked = set()

    def iterdir(self):
        if self in blocked:
            raise PermissionError(13, "Permission denied")
        return real(self)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    blocked.add(out / "sub")
    assert owned_and_foreign(out)[1] == ["sub/"]
    blocked.add(out)
    assert owned_and_foreign(out) == ([], ["."])


def test_chunks_of_recorded_sessions_are_owned_and_every_entry_after_them_is_still_checked(tmp_path):
    from simulation.safe_io import ensure_folder

    out = tmp_path / "exp"
    tok = ensure_folder(out, "experiment", dirs=("runs", "timeseries")).data["sessions"][0]
    chunks = [out / "runs" / f"20261207T000000-{tok}-00000{i}.parquet" for i in (1, 2)]
    for p in chunks:
        p.write_bytes(b"chunk")
    (out / "runs" / "zz_mine.parquet").write_bytes(b"mine")
    owned, foreign = owned_and_foreign(out)
    assert all(p in owned for p in chunks) and foreign == ["runs/zz_mine.parquet"]


def test_remove_output_takes_a_dead_commands_temporary_inside_it_whole(tmp_path):
    from simulation.safe_io import _host, new_token

    out = _output(tmp_path / "explore", "experiment", {"samples.csv": b"x\n"})
    tok = new_token()
    tmp = out / f".robust.spreadsim-tmp-{tok}"
    tmp.mkdir()
    Record.new(tmp, "robust", tok, target="robust", pid=_dead_pid(), host=_host()).save()
    (tmp / "half.csv").write_text("1")  # not in its record: the dead command's all the same
    remove_output(out)
    assert not out.exists() or list(out.iterdir()) == []


def test_remove_owned_leaves_a_folder_it_cannot_remove_without_an_error(tmp_path, monkeypatch):
    """rmdir=True removes the emptied folder best effort: a folder that cannot be removed stays, no error."""
    from simulation.safe_io import remove_owned

    out = _output(tmp_path / "run")
    real = Path.rmdir

    def rmdir(self):
        if self == out:
            raise OSError(16, "Device or resource busy")
        return real(self)

    monkeypatch.setattr(Path, "rmdir", rmdir)
    assert remove_owned(out, rmdir=True) == [] and out.is_dir() and list(out.iterdir()) == []


def test_atomic_dir_writes_a_run_by_default_and_names_its_option_and_flag_when_it_refuses(tmp_path):
    from simulation.safe_io import output_kind

    target = tmp_path / "run"
    with atomic_dir(target) as tmp:
        (tmp / "a.csv").write_text("1")
    assert output_kind(target) == "run" and Record.read(target).kind == "run"
    with pytest.raises(InputError) as err:
        with atomic_dir(target):
            pass
    assert str(err.value) == (f"--out: {target}: holds an earlier spreadsim output; add --force to replace it, "
                              "or choose another folder")
    with pytest.raises(InputError) as err:
        with atomic_dir(target, "run", option="--into", flag="--again"):
            pass
    assert str(err.value) == (f"--into: {target}: holds an earlier spreadsim output; add --again to replace it, "
                              "or choose another folder")
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_check_out_refuses_a_blank_name_a_file_and_a_folder_it_cannot_create_with_their_messages(tmp_path, monkeypatch):
    from simulation.safe_io import check_out

    def message(out, **kw):
        with pytest.raises(InputError) as err:
            check_out(out, "run", **kw)
        (p,) = err.value.problems
        return p.source, p.field, p.message

    assert message("  ") == ("--out", "", "give a folder name")
    f = tmp_path / "notes.txt"
    f.write_text("mine")
    assert message(f) == ("--out", str(f), "is a file, not a folder; give a folder for the results")
    assert message(f / "run", option="--into") == ("--into", str(f / "run"),
                                                   f"{f} is a file, so no folder can be made under it")
    out = _output(tmp_path / "run")
    assert message(out)[2] == "holds an earlier spreadsim output; add --force to replace it, or choose another folder"
    real_access = os.access
    with monkeypatch.context() as mp:  # a parent folder that can be entered but not written
        mp.setattr(os, "access", lambda p, mode: not mode & os.W_OK and real_access(p, mode))
        assert message(tmp_path / "new") == ("--out", str(tmp_path / "new"), f"cannot create it: {tmp_path} is not writable")
    assert f.read_text() == "mine" and not (tmp_path / "new").exists()


def test_check_out_limits_names_by_the_file_system_where_the_folder_goes(tmp_path, monkeypatch):
    """The folder's own name leaves 48 bytes for the suffix of its temporaries; each parent folder may use
    the file system's whole limit (PC_NAME_MAX of the folder's parent; 255 when it cannot be asked); the
    whole path at most 4,000 bytes."""
    from simulation.safe_io import check_out

    def message(out):
        with pytest.raises(InputError) as err:
            check_out(out, "run")
        (p,) = err.value.problems
        assert (p.source, p.field) == ("--out", "")  # the name is not repeated: it is too long to show
        return p.message

    small = tmp_path / "small"
    small.mkdir()
    real = os.pathconf

    def pathconf(path, name):
        if name != "PC_NAME_MAX":
            raise ValueError("unrecognized configuration name")
        return 100 if Path(path) == small else real(path, name)

    monkeypatch.setattr(os, "pathconf", pathconf)
    assert check_out(small / ("x" * 52), "run") == "new"
    assert message(small / ("x" * 53)) == "the folder name is too long (at most 52 bytes for the folder, 100 per parent folder)"
    monkeypatch.setattr(os, "pathconf", lambda path, name: (_ for _ in ()).throw(OSError(22, "Invalid argument")))
    assert check_out(tmp_path / ("x" * 207), "run") == "new"
    assert check_out(tmp_path / ("p" * 255) / "run", "run") == "new"
    assert message(tmp_path / ("x" * 208)) == "the folder name is too long (at most 207 bytes for the folder, 255 per parent folder)"
    assert message(tmp_path / ("p" * 256) / "run").startswith("the folder name is too long (at most 207 bytes")
    parts = 4000 - len(os.fsencode(str(tmp_path)))
    deep = Path(str(tmp_path) + "/" + "/".join(["d" * 199] * ((parts - 1) // 200)))
    rest = 4000 - len(os.fsencode(str(deep))) - 1
    assert check_out(deep / ("e" * rest), "run") == "new"
    assert message(deep / ("e" * (rest + 1))).startswith("the folder name is too long")


def test_check_out_says_what_it_found_and_returns_what_it_will_do(tmp_path, monkeypatch):
    """check_out's answers ("new", "resume", "replace") and its refusals of a folder it may not write,
    of another kind's output and of a folder that is not spreadsim's, word for word."""
    from simulation.safe_io import check_out, ensure_folder

    def message(out, kind="run", **kw):
        with pytest.raises(InputError) as err:
            check_out(out, kind, **kw)
        (p,) = err.value.problems
        assert (p.source, p.field) == ("--out", str(out))
        return p.message

    assert check_out(tmp_path / "missing", "run") == "new"
    (tmp_path / "empty").mkdir()
    assert check_out(tmp_path / "empty", "run") == "new"
    exp = tmp_path / "exp"
    ensure_folder(exp, "experiment")
    assert check_out(exp, "experiment", resume=True) == "resume" and check_out(exp, "experiment", replace=True) == "replace"
    assert message(exp) == "holds an earlier spreadsim 'experiment' output; add --force to replace it, or choose another folder"
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    assert message(mine) == ("is not empty and holds no spreadsim output (no spreadsim record or manifest; it holds "
                             "notes.txt); spreadsim never writes into such a folder: choose a new or empty folder")
    real_access = os.access
    # a folder that can be read and entered but not written, or whose parent cannot be written
    with monkeypatch.context() as mp:
        mp.setattr(os, "access", lambda p, mode: not (Path(p) == exp and mode & os.W_OK) and real_access(p, mode))
        assert message(exp, "experiment", resume=True) == "is not writable (permission denied)"
    with monkeypatch.context() as mp:
        mp.setattr(os, "access", lambda p, mode: not (Path(p) == tmp_path and mode & os.W_OK) and real_access(p, mode))
        assert message(exp, "experiment", replace=True) == f"cannot replace it: {tmp_path} is not writable"


def test_a_recorded_figures_folder_is_not_replaced_over_a_users_file_its_figures_json_names(tmp_path):
    """The names figures.json lists make files spreadsim's only in a figures folder of the earlier format
    (no record); in a recorded one a file that is not recorded is the user's, whatever figures.json says."""
    from simulation.safe_io import check_out

    listing = json.dumps({"spreadsim_output": "figures", "files": ["a.png", "notes.png"]}).encode()
    out = _output(tmp_path / "figs", "figures", {"figures.json": listing, "a.png": b"png"})
    (out / "notes.png").write_bytes(b"mine")
    with pytest.raises(InputError, match="notes.png"):
        check_out(out, "figures", replace=True)
    (out / "notes.png").unlink()
    assert check_out(out, "figures", replace=True) == "replace"


def test_remove_owned_keeps_the_record_while_anything_is_left_and_names_what_is(tmp_path):
    """A user's file in a recorded sub-folder stays with its folder; a nested output of spreadsim's own
    goes; the record stays while anything is left (so a later removal still knows what is spreadsim's)."""
    from simulation.safe_io import remove_owned

    out = _output(tmp_path / "run", files={"a.csv": b"1", "sub/b.csv": b"2"})
    _output(tmp_path / "nested")
    os.replace(tmp_path / "nested", out / "zz_nested")  # not listed: owned as an output holding only its own
    (out / "sub" / "notes.txt").write_text("mine")
    assert remove_owned(out) == ["sub/notes.txt", str(out / "sub")]
    assert sorted(p.name for p in out.iterdir()) == [RECORD, "sub"] and [p.name for p in (out / "sub").iterdir()] == [
        "notes.txt"]


def test_a_temporary_folder_and_its_record_name_its_token_target_and_process(tmp_path):
    """atomic_dir's temporary is .NAME.spreadsim-tmp-TOKEN holding a record with that token, the target's
    name, this process and host (what makes it recognisable as a dead command's leftover later)."""
    from simulation.safe_io import _TMP_DIR, _host

    with atomic_dir(tmp_path / "run") as tmp:
        m = _TMP_DIR.match(tmp.name)
        rec = Record.read(tmp)
        assert m and m.group("name") == "run" and tmp.parent == tmp_path
        assert (rec.token, rec.data["target"], rec.data["pid"], rec.data["host"]) == (
            m.group("tok"), "run", os.getpid(), _host())


def test_the_record_is_saved_through_the_temporary_its_last_version_announced(tmp_path, monkeypatch):
    from simulation import safe_io as sio
    from simulation.safe_io import temp_name

    out = _output(tmp_path / "run")
    rec = Record.read(out)
    announced = rec.data["next"]
    moved = []
    real = os.replace
    monkeypatch.setattr(os, "replace", lambda src, dst: (moved.append((Path(src), Path(dst))), real(src, dst))[1])
    rec.save()
    assert moved == [(out / temp_name(RECORD, announced), out / RECORD)]
    again = Record.read(out)
    assert again.data["next"] not in (announced, None) and again.tokens() >= {again.data["next"]}
    assert not (out / RECORD).stat().st_mode & 0o111  # a data file, never executable
    size = (out / RECORD).stat().st_size
    monkeypatch.setattr(sio, "_MAX_RECORD", size)
    assert Record.read(out) is not None  # at most the limit: read
    monkeypatch.setattr(sio, "_MAX_RECORD", size - 1)
    assert Record.read(out) is None


@pytest.mark.parametrize("case", ["a link to a valid record", "a list"])
def test_a_record_that_is_a_link_or_not_a_mapping_is_not_a_record(tmp_path, case):
    out = _output(tmp_path / "run")
    if case == "a link to a valid record":
        os.replace(out / RECORD, tmp_path / "elsewhere.json")
        (out / RECORD).symlink_to(tmp_path / "elsewhere.json")
    else:
        (out / RECORD).write_text("[1, 2]")
    assert Record.read(out) is None


def test_a_rewritten_file_keeps_its_previous_entry_only_when_its_content_changed(tmp_path):
    from simulation.safe_io import file_digest, temp_name

    out = _output(tmp_path / "run", files={"a.csv": b"1"})
    rec = Record.read(out)
    first = dict(rec.entries["a.csv"])
    rec.put_file("a.csv")  # the same content again
    assert rec.entries["a.csv"] == first
    (out / "a.csv").write_bytes(b"22")
    rec.put_file("a.csv")
    assert rec.entries["a.csv"] == {"size": 2, "sha256": file_digest(out / "a.csv")[1], "prev": first}
    big = out / "big.bin"
    big.write_bytes(os.urandom(3 << 19))  # 1.5 MiB: read in more than one block
    assert file_digest(big) == (3 << 19, hashlib.sha256(big.read_bytes()).hexdigest())
    assert temp_name("XY.csv", "t") == ".XY.csv.t.tmp" and temp_name("..x", "t") == ".x.t.tmp"


def test_ensure_folder_builds_a_new_folder_beside_it_or_says_why_it_cannot(tmp_path, monkeypatch):
    """ensure_folder: the folder arrives whole with its record (no temporary's target, pid or host left in
    it); a failure while building it names the option and the reason and leaves nothing beside it; a
    folder replaced under its feet, or that something appeared in meanwhile, is named."""
    from simulation import safe_io as sio
    from simulation.safe_io import ensure_folder

    rec = ensure_folder(tmp_path / "a", "experiment", dirs=("runs",))
    assert not {"target", "pid", "host"} & set(rec.data) and sorted(rec.entries) == [".lock", "runs"]
    real_touch = Path.touch

    def full(self, *a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "touch", full)
    with pytest.raises(InputError) as err:
        ensure_folder(tmp_path / "b", "experiment")
    assert str(err.value) == f"--out: {tmp_path / 'b'}: cannot create it: No space left on device"
    monkeypatch.setattr(Path, "touch", real_touch)
    real_move = sio._move_into_place

    def replaced(tmp, target, option):  # another process swaps the folder just after it arrives
        real_move(tmp, target, option)
        (target / RECORD).write_text("{}")

    monkeypatch.setattr(sio, "_move_into_place", replaced)
    with pytest.raises(InputError) as err:
        ensure_folder(tmp_path / "c", "experiment", option="--into")
    assert str(err.value) == f"--into: {tmp_path / 'c'}: changed while it was being made; choose another folder"
    monkeypatch.setattr(sio, "_move_into_place", real_move)
    (tmp_path / "d").mkdir()
    real_replace = os.replace

    def late(src, dst, *a, **k):
        if Path(dst) == tmp_path / "d":
            (tmp_path / "d" / "notes.txt").write_text("mine")  # in the last instant
        return real_replace(src, dst, *a, **k)

    monkeypatch.setattr(os, "replace", late)
    with pytest.raises(InputError) as err:
        ensure_folder(tmp_path / "d", "experiment")
    assert str(err.value).startswith(f"--out: {tmp_path / 'd'}: cannot write it: ")
    assert str(err.value).endswith("(did something appear in it meanwhile?); nothing in it was touched")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "c", "d"]


def test_an_earlier_output_keeps_its_own_lock_file_unlisted_and_gets_none_when_not_asked(tmp_path):
    from simulation.safe_io import ensure_folder

    legacy = _legacy_figures_folder(tmp_path / "figs", ["a.png"])
    rec = ensure_folder(legacy, "figures", lock=False)
    assert rec.legacy and not (legacy / ".lock").exists() and ".lock" not in rec.entries
    older = tmp_path / "exp"
    _place(older, "manifest.json", json.dumps({"kind": "spreadsim-experiment"}).encode())
    (older / ".lock").write_text("")
    rec = ensure_folder(older, "experiment")
    assert ".lock" not in rec.entries  # there before: not listed as spreadsim's


def test_a_second_writer_is_refused_while_the_first_holds_the_lock(tmp_path):
    from simulation.safe_io import OwnedWriter, temp_name

    out = tmp_path / "exp"
    with OwnedWriter(out, "experiment") as w:
        assert w.temp(out / "a.csv") == out / temp_name("a.csv", w.token)
        with pytest.raises(InputError) as err:
            with OwnedWriter(out, "experiment"):
                pass
        assert str(err.value) == (f"{out}: another spreadsim command is writing to this folder right now; "
                                  "wait for it to finish or choose another --out")
    w.release()  # releasing again does nothing
    with OwnedWriter(out, "experiment"):
        pass


def test_a_writer_tidies_recorded_temporaries_of_every_folder_it_tidies_even_without_runs(tmp_path):
    from simulation.safe_io import OwnedWriter, ensure_folder, temp_name

    out = tmp_path / "exp"
    tok = ensure_folder(out, "experiment", dirs=("timeseries",)).data["sessions"][0]
    stale = out / "timeseries" / temp_name("x.parquet", tok)
    stale.write_bytes(b"half")
    with OwnedWriter(out, "experiment"):
        assert not stale.exists()
