"""Fault injection for writes: a failure anywhere inside ``RunResult.save`` or an experiment store's
write leaves no output, nothing half-written and no temporary; data reach the disk (fsync) before
the rename that publishes them.

Written against public behaviour only (what is in the folder afterwards, the order of the fsync and
rename system calls), not against the names of simulation.safe_io's internals, so that they hold
whatever way the temporaries are named or owned.
"""

import json
import os
from pathlib import Path

import matplotlib
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from simulation.errors import InputError
from simulation.experiments.store import ResultStore
from simulation.runner import RunResult, run
from simulation.scenario import default_scenario

matplotlib.use("Agg")


@pytest.fixture  # per test (a small run): mutmut then sees which tests read the outputs it makes
def result():
    return run(default_scenario(**{"sites.n": 12, "months": 6}), seed=1)


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones too) with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


class Boom(Exception):
    pass


def fail_csv_named(monkeypatch, name, exc=Boom):
    real = pd.DataFrame.to_csv

    def to_csv(self, path=None, *a, **kw):
        if path is not None and Path(str(path)).name == name:
            if hasattr(path, "write"):
                path.write("half,")
            else:
                Path(path).write_text("half,")  # something half-written first
            raise exc("disk full")
        return real(self, path, *a, **kw)

    monkeypatch.setattr(pd.DataFrame, "to_csv", to_csv)


FAULTS = {
    "timeseries.csv": lambda mp: fail_csv_named(mp, "timeseries.csv"),
    "sites.csv": lambda mp: fail_csv_named(mp, "sites.csv"),
    "groups.csv": lambda mp: fail_csv_named(mp, "groups.csv"),
    "manifest": lambda mp: mp.setattr(RunResult, "manifest", lambda self: (_ for _ in ()).throw(Boom("manifest"))),
    "plot": lambda mp: mp.setattr("matplotlib.figure.Figure.savefig", lambda *a, **k: (_ for _ in ()).throw(Boom("png"))),
    "interrupt": lambda mp: fail_csv_named(mp, "sites.csv", KeyboardInterrupt),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_failure_inside_save_leaves_no_output_and_no_temporary(tmp_path, monkeypatch, result, fault):
    """RunResult.save: whatever fails inside it, the target folder does not appear and nothing is left beside it."""
    FAULTS[fault](monkeypatch)
    out = tmp_path / "out"
    with pytest.raises((Boom, KeyboardInterrupt)):
        result.save(out)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no hidden temporary folder either


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_failure_while_replacing_an_earlier_output_keeps_it_whole(tmp_path, monkeypatch, result, fault):
    """RunResult.save(force=True): a failure leaves the earlier output exactly as it was, and no temporary."""
    out = tmp_path / "out"
    result.save(out, plot=False)
    before = tree(tmp_path)
    FAULTS[fault](monkeypatch)
    with pytest.raises((Boom, KeyboardInterrupt)):
        result.save(out, force=True)
    assert tree(tmp_path) == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_failing_rename_leaves_no_output_and_no_temporary(tmp_path, monkeypatch, result):
    """RunResult.save: if the final rename fails (a full or read-only disk), nothing is left behind."""
    out = tmp_path / "out"
    real = os.replace

    def replace(src, dst, *a, **k):
        if Path(dst) == out:
            raise OSError(28, "No space left on device")
        return real(src, dst, *a, **k)

    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "rename", replace)
    with pytest.raises(Exception):
        result.save(out, plot=False)
    assert not out.exists() and list(tmp_path.iterdir()) == []


@pytest.fixture
def syscalls(monkeypatch):
    """Record fsync (by the path of the file descriptor) and rename/replace calls, in order."""
    events = []
    real_fsync, real_replace, real_rename = os.fsync, os.replace, os.rename

    def fsync(fd):
        try:
            events.append(("fsync", os.readlink(f"/proc/self/fd/{fd if isinstance(fd, int) else fd.fileno()}")))
        except OSError:
            events.append(("fsync", None))
        return real_fsync(fd)

    def replace(src, dst, *a, **k):
        events.append(("rename", str(Path(src).resolve()), str(Path(dst).resolve())))
        return real_replace(src, dst, *a, **k)

    def rename(src, dst, *a, **k):
        events.append(("rename", str(Path(src).resolve()), str(Path(dst).resolve())))
        return real_rename(src, dst, *a, **k)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "rename", rename)
    return events


def _synced_before(events, src: str, upto: int) -> set[str]:
    return {e[1] for e in events[:upto] if e[0] == "fsync" and e[1] and e[1].startswith(src + os.sep)}


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs /proc to name a file descriptor")
def test_every_file_of_a_run_is_synced_before_the_rename_that_publishes_it(tmp_path, syscalls, result):
    """RunResult.save: each file's data is flushed to disk (fsync) before the folder is renamed into place."""
    out = (tmp_path / "out").resolve()
    result.save(out)
    publish = [i for i, e in enumerate(syscalls) if e[0] == "rename" and e[2] == str(out)]
    assert len(publish) == 1
    src = syscalls[publish[0]][1]
    synced = _synced_before(syscalls, src, publish[0])
    files = {str(Path(src) / p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert files and files <= synced, f"not synced before the rename: {sorted(files - synced)}"


# --------------------------------------------------------------------------- the experiment store
def _tables(n=3):
    runs = pa.table({"run_id": [f"r{i}" for i in range(n)], "value": [float(i) for i in range(n)]})
    ts = pa.table({"run_id": [f"r{i}" for i in range(n) for _ in range(2)], "month": [0, 1] * n})
    return runs, ts


def _open(out):
    store = ResultStore(out)
    store.open(default_scenario(**{"sites.n": 10}), resume=True, meta={})
    return store


def _hidden(folder: Path) -> list[str]:
    return [str(p.relative_to(folder)) for p in folder.rglob(".*") if p.name not in (".lock", ".spreadsim-record.json")]


@pytest.mark.parametrize("which", [1, 2])
def test_a_failing_chunk_write_leaves_no_temporary_and_no_chunk(tmp_path, monkeypatch, which):
    """ResultStore.write_chunk: a failure while writing the timeseries (1st) or runs (2nd) file commits
    nothing (the runs file commits a chunk) and leaves no temporary; the next session tidies up."""
    out = tmp_path / "exp"
    store = _open(out)
    runs, ts = _tables()
    store.write_chunk(runs, ts)
    committed = store.committed()
    real = pq.write_table
    calls = {"n": 0}

    def write_table(table, where, *a, **k):
        calls["n"] += 1
        if calls["n"] == which:
            where.write(b"PAR1 half a table")
            raise Boom("disk full")
        return real(table, where, *a, **k)

    monkeypatch.setattr(pq, "write_table", write_table)
    with pytest.raises(Boom):
        store.write_chunk(*_tables(2))
    monkeypatch.undo()
    assert store.committed() == committed and store.stored_ids() == {"r0", "r1", "r2"}
    assert _hidden(out) == []
    store.close("failed")
    again = _open(out)  # the next session removes a timeseries file left without its runs file
    assert sorted(p.name for p in again.ts_dir.glob("*.parquet")) == [p.name for p in committed]
    again.close("complete")


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs /proc to name a file descriptor")
def test_a_chunk_is_synced_before_its_rename_and_its_runs_file_comes_last(tmp_path, syscalls):
    """ResultStore.write_chunk: each file is fsynced before the rename that puts it in place, and the runs
    file (which commits the chunk) is renamed after the timeseries file."""
    store = _open(tmp_path / "exp")
    syscalls.clear()
    name = store.write_chunk(*_tables())
    renames = [(i, e) for i, e in enumerate(syscalls) if e[0] == "rename"]
    targets = [Path(e[2]) for _, e in renames]
    assert [t.parent.name for t in targets] == ["timeseries", "runs"] and all(t.name == name for t in targets)
    for i, e in renames:
        assert ("fsync", e[1]) in syscalls[:i], f"{e[1]} renamed before it was synced"
    store.close("complete")


def test_a_table_written_into_an_output_folder_is_whole_listed_and_leaves_no_temporary(tmp_path, monkeypatch):
    """store.write_table_atomic (the Parquet files of explore and its analyses): the file reads back
    equal, the folder's record lists it with its size and hash, and a failure part-way leaves neither
    the file nor a temporary, and an earlier version of the file whole."""
    from simulation.experiments.store import write_table_atomic
    from simulation.safe_io import Record, file_digest, output_kind

    out = tmp_path / "explore"
    table = pa.table({"x": [1.0, 2.5], "name": ["a", "b"]})
    write_table_atomic(table, out / "experiments.parquet")
    assert pq.read_table(out / "experiments.parquet").equals(table)
    assert output_kind(out) == "experiment"  # a folder it makes is an output of spreadsim's
    size, digest = file_digest(out / "experiments.parquet")
    assert Record.read(out).entries["experiments.parquet"] == {"size": size, "sha256": digest}
    assert _hidden(out) == []
    real = pq.write_table

    def half(t, where, *a, **k):
        where.write(b"PAR1 half a table")
        raise Boom("disk full")

    monkeypatch.setattr(pq, "write_table", half)
    with pytest.raises(Boom):
        write_table_atomic(pa.table({"x": [9.0]}), out / "experiments.parquet")
    with pytest.raises(Boom):
        write_table_atomic(pa.table({"x": [9.0]}), out / "other.parquet")
    monkeypatch.setattr(pq, "write_table", real)
    assert pq.read_table(out / "experiments.parquet").equals(table) and not (out / "other.parquet").exists()
    assert _hidden(out) == [] and "other.parquet" not in Record.read(out).entries


def test_discarding_a_session_removes_the_folder_it_made_and_nothing_of_a_folder_it_found(tmp_path):
    """ResultStore.discard (a run failed before any result was stored): a folder the session made is
    removed, with its lock released; a folder that existed before (here an empty one) stays."""
    store = _open(tmp_path / "new")
    store.discard()
    assert not (tmp_path / "new").exists()
    (tmp_path / "mine").mkdir()
    store = _open(tmp_path / "mine")
    store.discard()
    assert (tmp_path / "mine").is_dir()
    again = _open(tmp_path / "mine")  # the lock was released: another session may write there
    again.write_chunk(*_tables())
    again.close("complete")
    assert again.stored_ids() == {"r0", "r1", "r2"}


def test_discarding_a_store_never_opened_deletes_nothing(tmp_path):
    """ResultStore.discard before open (nothing written by this session): an earlier output stays whole."""
    r = run(default_scenario(**{"sites.n": 8, "months": 2}), seed=1)
    out = r.save(tmp_path / "run", plot=False)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    ResultStore(out).discard()
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_a_folder_that_is_not_an_experiments_is_refused_by_name(tmp_path):
    """store.read_manifest: one message naming the manifest (and the field) for each way it can be wrong."""
    from simulation.errors import InputError
    from simulation.experiments.store import read_manifest

    out = tmp_path / "exp"
    out.mkdir()
    cases = [
        (None, f"{out}: not a spreadsim experiment folder (no manifest.json)"),
        (b"{not json", f"{out / 'manifest.json'}: cannot read the manifest (JSONDecodeError)"),
        (b'{"spreadsim_output": "run", "seed": 1}', f"{out / 'manifest.json'}: kind: not the manifest of a spreadsim "
         "experiment (a folder written by `spreadsim run`?); choose another output folder"),
        (b'["spreadsim-experiment"]', f"{out / 'manifest.json'}: kind: not the manifest of a spreadsim experiment (a "
         "folder written by `spreadsim run`?); choose another output folder"),
        (b'{"kind": "spreadsim-experiment", "format": 99}', f"{out / 'manifest.json'}: format: results format 99 is "
         "not the one this version reads (1)"),
    ]
    for data, message in cases:
        if data is not None:
            (out / "manifest.json").write_bytes(data)
        with pytest.raises(InputError) as err:
            read_manifest(out)
        assert str(err.value) == message
    (out / "manifest.json").write_bytes(b'{"kind": "spreadsim-experiment", "format": 1, "seeds": [3]}')
    assert read_manifest(out)["seeds"] == [3]


def test_a_store_refuses_a_file_a_users_folder_and_another_scenarios_results_by_name(tmp_path):
    """ResultStore.open's refusals (exit code 2 from the command line): each names the folder and says
    what to do."""
    from simulation.errors import InputError

    def message(out, scenario=None):
        with pytest.raises(InputError) as err:
            ResultStore(out).open(scenario or default_scenario(**{"sites.n": 10}), resume=True, meta={})
        return str(err.value)

    f = tmp_path / "file"
    f.write_text("x")
    assert message(f) == f"{f}: is a file; the results need a folder (choose another --out)"
    mine = tmp_path / "mine"
    mine.mkdir()
    for name in ("a", "b", "c", "d"):
        (mine / name).write_text(name)
    assert message(mine) == (f"{mine}: exists and is not a spreadsim experiment folder (it holds a, b, c...); "
                             "choose another --out")
    (mine / "d").unlink()
    assert message(mine).endswith("(it holds a, b, c); choose another --out")
    out = tmp_path / "exp"
    _open(out).close("complete")
    other = default_scenario(**{"sites.n": 11})
    assert message(out, other).endswith("results are never mixed: choose another --out, or discard them with --fresh "
                                        "(resume=False)")


def test_a_store_reads_the_columns_asked_for_with_the_run_ids(tmp_path):
    store = _open(tmp_path / "exp")
    store.write_chunk(*_tables())
    store.write_chunk(*_tables(2))
    store.close("complete")
    assert store.read_runs(["value"]).column_names == ["run_id", "value", "_chunk"]
    full = store.read_runs()
    assert full.column_names == ["run_id", "value", "_chunk"] and full.num_rows == 5
    assert store.read_runs(["run_id"]).column_names == ["run_id", "_chunk"]


def test_starting_afresh_refuses_a_users_file_and_names_what_it_could_not_delete(tmp_path, monkeypatch):
    """ResultStore.open(resume=False) over earlier results: a file spreadsim did not write stops it before
    anything is deleted; a recorded file it cannot delete is named (at most three)."""
    from simulation.errors import InputError

    out = tmp_path / "exp"
    store = _open(out)
    for _ in range(4):
        store.write_chunk(*_tables())
    store.close("complete")
    (out / "notes.txt").write_text("mine")
    with pytest.raises(InputError) as err:
        ResultStore(out).open(default_scenario(**{"sites.n": 10}), resume=False, meta={})
    assert str(err.value) == (f"{out}: holds a spreadsim 'experiment' output but also files spreadsim did not write or "
                              "that changed since (notes.txt); they are never deleted: move them, or choose another "
                              "folder")
    assert len(list((out / "runs").iterdir())) == 4
    (out / "notes.txt").unlink()
    real = Path.unlink

    def unlink(self, *a, **k):
        if self.parent.name == "runs":
            raise PermissionError(13, "Permission denied")
        return real(self, *a, **k)

    monkeypatch.setattr(Path, "unlink", unlink)
    with pytest.raises(InputError) as err:
        ResultStore(out).open(default_scenario(**{"sites.n": 10}), resume=False, meta={})
    runs = sorted(str(p) for p in (out / "runs").iterdir())
    assert str(err.value) == f"{out}: could not delete {', '.join(runs[:3])}; start again in another folder"


def test_resuming_results_of_another_version_warns_and_reuses_them(tmp_path):
    import json

    from simulation import __version__

    out = tmp_path / "exp"
    store = _open(out)
    store.write_chunk(*_tables())
    store.close("complete")
    man = json.loads((out / "manifest.json").read_text())
    man["versions"]["spreadsim"] = "0.0.1"
    man["versions"]["numpy"] = "1.0"
    (out / "manifest.json").write_text(json.dumps(man))
    with pytest.warns(UserWarning) as got:
        again = _open(out)
    again.close("complete")
    import numpy

    assert [str(w.message) for w in got] == [
        f"{out}: results stored by a different spreadsim, numpy (spreadsim 0.0.1 -> {__version__}, numpy 1.0 -> "
        f"{numpy.__version__}); they are kept and reused. Use a new folder (or --fresh) if the model has changed."]
    assert again.stored_ids() == {"r0", "r1", "r2"}


def test_bytes_and_tables_written_into_an_output_folder_with_or_without_an_open_writer(tmp_path):
    """store.write_bytes_atomic and write_csv_atomic: the file holds exactly what was given (CSV without
    an index), listed in the folder's record, with a session of its own or the caller's writer."""
    from simulation.experiments.store import write_bytes_atomic, write_csv_atomic
    from simulation.safe_io import OwnedWriter, Record, file_digest

    out = tmp_path / "exp"
    df = pd.DataFrame({"a": range(4500), "b": [0.5] * 4500})  # more rows than one chunk of the CSV writer
    write_bytes_atomic(out / "report.txt", b"hello\n")
    write_csv_atomic(out / "runs.csv", df)
    with OwnedWriter(out, "experiment") as w:
        write_bytes_atomic(out / "other.txt", b"again\n", w)
        write_csv_atomic(out / "summary.csv", df.head(3), w)
    assert (out / "report.txt").read_bytes() == b"hello\n" and (out / "other.txt").read_bytes() == b"again\n"
    assert (out / "runs.csv").read_text() == df.to_csv(index=False)
    assert (out / "summary.csv").read_text() == df.head(3).to_csv(index=False)
    rec = Record.read(out)
    for name in ("report.txt", "runs.csv", "other.txt", "summary.csv"):
        size, digest = file_digest(out / name)
        assert rec.entries[name] == {"size": size, "sha256": digest}
    assert _hidden(out) == []


def test_the_timeseries_of_some_runs_are_read_with_their_positions(tmp_path):
    from simulation.experiments.store import chunk_map

    store = _open(tmp_path / "exp")
    store.write_chunk(*_tables())
    store.close("complete")
    runs = store.read_runs()
    wanted = runs.filter(pa.compute.equal(runs.column("run_id"), "r1"))
    (table, pos), = list(store.iter_timeseries(chunk_map(wanted)))
    assert table.column("run_id").to_pylist() == ["r1", "r1"] and table.column("month").to_pylist() == [0, 1]
    assert pos.tolist() == [0, 0]
    (table, pos), = list(store.iter_timeseries(chunk_map(wanted), ["month"]))  # run_id is always read
    assert table.column_names == ["run_id", "month"] and table.column("month").to_pylist() == [0, 1]
    (table, pos), = list(store.iter_timeseries(chunk_map(wanted), []))
    assert table.column_names == ["run_id"] and pos.tolist() == [0, 0]


def test_the_manifest_records_the_versions_a_result_depends_on_and_a_session_counts_its_own_rows(tmp_path):
    import platform
    from importlib.metadata import version

    from simulation import __version__
    from simulation.experiments.store import versions
    from simulation.runner import git_commit

    v = versions()
    assert list(v)[:3] == ["spreadsim", "git_commit", "python"]
    assert (v["spreadsim"], v["git_commit"], v["python"]) == (__version__, git_commit(), platform.python_version())
    for pkg in ("numpy", "scipy", "pandas", "pyarrow", "mesa", "networkx", "dask", "distributed"):
        assert v[pkg] == version(pkg)
    first = _open(tmp_path / "exp")
    first.write_chunk(*_tables(3))
    first.close("complete")
    second = _open(tmp_path / "exp")
    second.write_chunk(*_tables(2))
    assert second.session_rows() == 2
    second.close("complete")


def test_the_manifest_marks_the_experiment_and_records_each_session_as_it_goes(tmp_path):
    """The store's manifest (module docstring): marked as an experiment, the scenario file, one record
    per session, "running" until it ends, and a session found still running by the next is "killed"."""
    import json

    out = tmp_path / "exp"
    s = default_scenario(**{"sites.n": 10})
    store = ResultStore(out)
    store.open(s, resume=True, meta={"executor": Path("serial")})  # any value is written as text
    man = json.loads((out / "manifest.json").read_text())
    assert man["spreadsim_output"] == "experiment" and man["scenario_file"] == s.source
    assert man["executor"] == "serial" and [x["status"] for x in man["sessions"]] == ["running"]
    store.release()  # killed: never closed
    again = _open(out)
    again.close("complete")
    man = json.loads((out / "manifest.json").read_text())
    assert [x["status"] for x in man["sessions"]] == ["killed", "complete"]


def test_runs_of_many_chunks_of_changing_columns_are_read_whole_in_chunk_order(tmp_path):
    """read_runs over more than one group of 64 chunks (compacted as it reads), with columns that differ
    between chunks (a missing column reads as null), each row tagged with its chunk; chunk_map finds the
    same rows whether _chunk is dictionary-encoded (as read_runs makes it) or plain text."""
    from simulation.experiments.store import chunk_map

    store = _open(tmp_path / "exp")
    assert store.read_runs().num_rows == 0 and store.read_runs().num_columns == 0
    names = []
    for i in range(66):
        cols = {"run_id": [f"r{i}"], "value": [float(i)]}
        if i in (1, 65):
            cols["extra" if i == 1 else "late"] = [i]
        names.append(store.write_chunk(pa.table(cols), pa.table({"run_id": [f"r{i}"], "month": [0]})))
    store.close("complete")
    runs = store.read_runs()
    assert runs.column("run_id").to_pylist() == [f"r{i}" for i in range(66)]
    assert runs.column("value").to_pylist() == [float(i) for i in range(66)]
    assert runs.column("extra").to_pylist() == [None, 1] + [None] * 64
    assert runs.column("late").to_pylist() == [None] * 65 + [65]
    assert runs.column("_chunk").to_pylist() == names
    by_dict = chunk_map(runs)
    plain = runs.set_column(runs.schema.get_field_index("_chunk"), "_chunk", runs.column("_chunk").cast(pa.string()))
    by_text = chunk_map(plain)
    assert list(by_dict) == list(by_text) == names
    for name in names:
        assert by_dict[name][0].to_pylist() == by_text[name][0].to_pylist()
        assert by_dict[name][1].tolist() == by_text[name][1].tolist() == [names.index(name)]


def test_a_users_file_appearing_before_the_lock_is_taken_is_refused_under_it_and_nothing_is_touched(tmp_path, monkeypatch):
    """ResultStore.open(resume=False) over an earlier experiment checks for files spreadsim did not write
    before writing anything, and again once it holds the lock: a file that appears in between is named,
    kept, and the earlier results are not deleted."""
    import hashlib

    from simulation.experiments import store as store_mod
    from simulation.safe_io import RECORD

    out = tmp_path / "exp"
    first = _open(out)
    first.write_chunk(*_tables())
    first.close("complete")
    (out / "notes.txt").write_text("mine")

    def snapshot():
        return {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in out.rglob("*") if p.is_file()}

    before = snapshot()
    message = (f"{out}: holds a spreadsim 'experiment' output but also files spreadsim did not write or that "
               "changed since (notes.txt); they are never deleted: move them, or choose another folder")
    with pytest.raises(InputError) as err:  # refused before anything is written: not even the record changes
        ResultStore(out).open(default_scenario(**{"sites.n": 10}), resume=False, meta={})
    assert str(err.value) == message and snapshot() == before
    (out / "notes.txt").unlink()
    real = store_mod.OwnedWriter

    class Late(real):  # the user's file lands just before the lock is taken
        def __enter__(self):
            (out / "notes.txt").write_text("mine")
            return super().__enter__()

    monkeypatch.setattr(store_mod, "OwnedWriter", Late)
    with pytest.raises(InputError) as err:
        ResultStore(out).open(default_scenario(**{"sites.n": 10}), resume=False, meta={})
    assert str(err.value) == message
    after = snapshot()
    assert after.pop(RECORD) and {k: v for k, v in before.items() if k != RECORD} == after  # results kept
    again = _open(out)  # and the lock was released
    again.close("complete")


def test_results_of_another_scenario_are_refused_naming_both_scenarios_and_their_hashes(tmp_path):
    out = tmp_path / "exp"
    a, b = default_scenario(**{"sites.n": 10}), default_scenario(**{"sites.n": 11})
    store = ResultStore(out)
    store.open(a, resume=True, meta={})
    store.close("complete")
    with pytest.raises(InputError) as err:
        ResultStore(out).open(b, resume=True, meta={})
    (p,) = err.value.problems
    assert (p.source, p.field) == (str(out / "manifest.json"), "scenario_hash")
    assert p.message == (f"this folder holds results of a different scenario ({a.source}, hash {a.digest()}) than "
                         f"{b.source} (hash {b.digest()}); results are never mixed: choose another --out, or discard "
                         "them with --fresh (resume=False)")


def test_chunks_and_sessions_are_stamped_in_utc_and_numbered_from_one(tmp_path, monkeypatch):
    """Chunk names (TIME-TOKEN-COUNTER) and the manifest's times are UTC, whatever the local time zone."""
    import datetime as dt
    import json
    import time

    monkeypatch.setenv("TZ", "Etc/GMT-9")  # nine hours ahead of UTC
    time.tzset()
    try:
        store = _open(tmp_path / "exp")
        names = [store.write_chunk(*_tables(1)) for _ in range(2)]
        store.close("complete")
    finally:
        monkeypatch.undo()
        time.tzset()
    now = dt.datetime.now(dt.UTC)
    stamp = dt.datetime.strptime(names[0][:15], "%Y%m%dT%H%M%S").replace(tzinfo=dt.UTC)
    assert abs((now - stamp).total_seconds()) < 600
    assert [n.rsplit("-", 1)[1] for n in names] == ["000001.parquet", "000002.parquet"]
    session = json.loads((tmp_path / "exp" / "manifest.json").read_text())["sessions"][0]
    started = dt.datetime.fromisoformat(session["started"])
    assert started.utcoffset() == dt.timedelta(0) and abs((now - started).total_seconds()) < 600


def test_a_chunk_that_cannot_be_written_raises_the_systems_error_and_leaves_no_temporary(tmp_path, monkeypatch):
    from simulation.experiments import store as store_mod

    store = _open(tmp_path / "exp")

    def full(path, mode="r", *a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store_mod, "open", full, raising=False)
    with pytest.raises(OSError) as err:
        store.write_chunk(*_tables(1))
    assert err.value.errno == 28
    monkeypatch.undo()
    store.close("failed")
    assert _hidden(tmp_path / "exp") == [] and store.committed() == []


def test_versions_records_a_missing_package_as_none(monkeypatch):
    import importlib.metadata as md

    from simulation.experiments.store import versions

    real = md.version

    def version(pkg):
        if pkg == "distributed":
            raise md.PackageNotFoundError(pkg)
        return real(pkg)

    monkeypatch.setattr(md, "version", version)
    v = versions()
    assert v["distributed"] is None and v["dask"] == real("dask")


def test_an_experiment_written_before_sessions_were_recorded_is_resumed(tmp_path):
    """ResultStore.open(resume=True) on a folder an earlier version wrote (no record, a manifest with no
    ``sessions``): its results are kept and read, and the new session is recorded."""
    out = tmp_path / "exp"
    store = _open(out)
    store.write_chunk(*_tables(2))
    store.close("complete")
    man = json.loads((out / "manifest.json").read_text())
    del man["sessions"]
    (out / "manifest.json").write_text(json.dumps(man))
    (out / ".spreadsim-record.json").unlink()
    again = _open(out)
    again.close("complete")
    sessions = json.loads((out / "manifest.json").read_text())["sessions"]
    assert [s["status"] for s in sessions] == ["complete"]
    assert again.read_runs().num_rows == 2


def test_the_manifest_and_record_of_a_session_as_documented(tmp_path):
    """A session's record in the manifest (started, finished, status, its token, what meta["session"] adds;
    other meta keys at the top), the record listing the session's chunks with their sizes and hashes on
    close; a second close changes nothing."""
    import json

    from simulation.safe_io import Record, file_digest

    out = tmp_path / "exp"
    store = ResultStore(out)
    store.open(default_scenario(**{"sites.n": 10}), resume=True, meta={"executor": "serial", "session": {"workers": 2}})
    name = store.write_chunk(*_tables())
    store.close("complete", runs=3)
    man = json.loads((out / "manifest.json").read_text())
    assert "created" in man and man["executor"] == "serial" and "session" not in man
    (sess,) = man["sessions"]
    assert set(sess) == {"started", "finished", "status", "token", "workers", "runs"}
    assert (sess["status"], sess["token"], sess["workers"], sess["runs"]) == ("complete", store._session, 2, 3)
    rec = Record.read(out)
    for rel in (f"runs/{name}", f"timeseries/{name}"):
        size, digest = file_digest(out / rel)
        assert rec.entries[rel] == {"size": size, "sha256": digest}
    before = (out / "manifest.json").read_bytes()
    store.close("failed")
    assert (out / "manifest.json").read_bytes() == before


def test_starting_afresh_keeps_the_lock_held_and_records_only_the_new_session(tmp_path):
    """resume=False over an earlier experiment: its results are deleted, the .lock the session holds stays
    (a second session is refused), and the record lists the folder's .lock, runs/ and timeseries/ and the
    new session only."""
    from simulation.safe_io import Record

    out = tmp_path / "exp"
    first = _open(out)
    first.write_chunk(*_tables())
    first.close("complete")
    old = Record.read(out)
    store = ResultStore(out)
    store.open(default_scenario(**{"sites.n": 10}), resume=False, meta={})
    try:
        assert store.committed() == [] and os.fstat(store._writer._fd).st_ino == (out / ".lock").stat().st_ino
        with pytest.raises(InputError, match="another spreadsim command is writing to this folder"):
            _open(out)
        rec = Record.read(out)
        assert sorted(rec.entries) == [".lock", "manifest.json", "runs", "timeseries"]
        assert rec.data["sessions"] == [old.token, store._session]
    finally:
        store.close("complete")


def test_a_folder_missing_its_lock_or_a_subfolder_gets_them_back_recorded(tmp_path):
    from simulation.safe_io import Record, foreign_entries

    out = tmp_path / "exp"
    _open(out).close("complete")
    (out / ".lock").unlink()
    (out / "timeseries").rmdir()
    again = _open(out)
    again.close("complete")
    assert (out / ".lock").is_file() and not (out / ".lock").stat().st_mode & 0o111
    assert Record.read(out).entries["timeseries"] == {"dir": True} and foreign_entries(out) == []


@pytest.mark.parametrize("case", ["no versions", "another git commit", "the same versions"])
def test_resuming_results_of_other_versions_warns_naming_what_changed(tmp_path, case):
    import json
    import warnings

    from simulation.experiments.store import versions

    out = tmp_path / "exp"
    first = _open(out)
    first.write_chunk(*_tables())
    first.close("complete")
    man = json.loads((out / "manifest.json").read_text())
    now = versions()
    if case == "no versions":  # a manifest of an earlier format
        del man["versions"]
    elif case == "another git commit":
        man["versions"]["git_commit"] = "0" * 40
    (out / "manifest.json").write_text(json.dumps(man))
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        _open(out).close("complete")
    said = [str(w.message) for w in got if "results stored by a different" in str(w.message)]
    if case == "the same versions":
        assert said == []
    elif case == "another git commit":
        assert said == [f"{out}: results stored by a different git_commit (git_commit {'0' * 40} -> "
                        f"{now['git_commit']}); they are kept and reused. Use a new folder (or --fresh) if the model "
                        "has changed."]
    else:  # every version the manifest lacks and this one has (git_commit is None outside a git checkout)
        changed = [k for k in ("spreadsim", "git_commit", "numpy") if now[k] is not None]
        assert said == [f"{out}: results stored by a different {', '.join(changed)} "
                        f"({', '.join(f'{k} None -> {now[k]}' for k in changed)}); they are kept and reused. "
                        "Use a new folder (or --fresh) if the model has changed."]
