"""The results folder of an experiment: Parquet chunks that survive interruption.

Layout of a folder ``out/``::

    manifest.json            "spreadsim_output": "experiment", scenario, its hash, seeds, versions,
                             executor, one record per session (complete, interrupted, failed, killed)
    runs/<chunk>.parquet     one row per run (run_id, strategy, replicate, seed, overrides, outcomes)
    timeseries/<chunk>.parquet  one row per run per month (run_id, strategy, replicate, month, series)
    .lock                    held (flock) while an experiment writes to the folder

Only the driving process writes, one chunk per finished task. Each file is written to a hidden
temporary file, flushed to disk and renamed into place; the timeseries file of a chunk is renamed
first and the runs file last, so a chunk counts as stored exactly when its runs file exists. A
process killed at any moment therefore leaves whole chunks and, at worst, hidden temporary files or
a timeseries file without its runs file, which the next session removes, together with the hidden
temporary files beside the manifest; a session the next one finds still "running" was killed, and
is recorded so. Reads take each run once (the first chunk, by name, that holds it), so a run can
never be counted twice. The folder must be new, empty or an experiment's (see
:func:`simulation.safe_io.check_out`); with ``resume=False`` an earlier spreadsim output of another
command is replaced, never a folder spreadsim did not write.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import platform
import shutil
import uuid
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..errors import InputError, Problem
from ..safe_io import foreign_entries, mark, output_kind, remove_output
from ..scenario import Scenario

KIND = "spreadsim-experiment"
FORMAT = 1
MANIFEST = "manifest.json"
RUNS = "runs"
TIMESERIES = "timeseries"
LOCK = ".lock"
TMP_PREFIX = ".tmp-"
#: files written from the runs (``ExperimentResult.save``), removed when an experiment starts afresh
DERIVED = ("runs.csv", "summary.csv", "differences.csv", "ensemble.csv", "adoption.png", "differences.png")


def versions() -> dict[str, str | None]:
    """Versions of the packages a result depends on (recorded in the manifest)."""
    from importlib.metadata import PackageNotFoundError, version

    from .. import __version__
    from ..runner import git_commit

    out: dict[str, str | None] = {"spreadsim": __version__, "git_commit": git_commit(),
                                  "python": platform.python_version()}
    for pkg in ("numpy", "scipy", "pandas", "pyarrow", "mesa", "networkx", "dask", "distributed"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


@contextlib.contextmanager
def _atomic_open(path: Path, mode: str, unique: bool = True):
    """Open a hidden temporary file beside ``path``; on success sync it and rename it into place,
    on any failure remove it. ``unique`` adds a random suffix (for files several writers may share)."""
    suffix = f".{uuid.uuid4().hex[:8]}" if unique else ""
    tmp = path.with_name(f"{TMP_PREFIX}{path.name}{suffix}")
    try:
        with open(tmp, mode, **({} if "b" in mode else {"encoding": "utf-8", "newline": ""})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a hidden temporary file, synced, then renamed into place."""
    with _atomic_open(path, "wb") as f:
        f.write(data)


def write_csv_atomic(path: Path, df) -> None:
    """Write a DataFrame as CSV through a hidden temporary file (streamed in row chunks), then rename."""
    with _atomic_open(path, "w") as f:
        df.to_csv(f, index=False, chunksize=2000)


def write_table_atomic(table: pa.Table, path: Path) -> None:
    """Write a Parquet file through a hidden temporary file, synced, then renamed into place."""
    with _atomic_open(path, "wb", unique=False) as f:
        pq.write_table(table, f, compression="zstd")


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_manifest(out: Path) -> dict[str, Any]:
    """The manifest of a results folder (InputError naming the file if it is missing or unreadable)."""
    path = Path(out) / MANIFEST
    if not path.exists():
        raise InputError(Problem(str(out), "", "not a spreadsim experiment folder (no manifest.json)"))
    try:
        man = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as err:
        raise InputError(Problem(str(path), "", f"cannot read the manifest ({type(err).__name__})")) from None
    if not isinstance(man, dict) or man.get("kind") != KIND:
        raise InputError(Problem(str(path), "kind", "not the manifest of a spreadsim experiment "
                                 "(a folder written by `spreadsim run`?); choose another output folder"))
    if man.get("format") != FORMAT:
        raise InputError(Problem(str(path), "format", f"results format {man.get('format')!r} is not "
                                 f"the one this version reads ({FORMAT})"))
    return man


class ResultStore:
    """An experiment's results folder, opened for reading and, with :meth:`open`, for writing.

    Args:
        out: the folder.
    """

    def __init__(self, out: str | Path):
        self.out = Path(out)
        self.runs_dir = self.out / RUNS
        self.ts_dir = self.out / TIMESERIES
        self._lock_fd: int | None = None
        self._manifest: dict[str, Any] | None = None
        self._session = uuid.uuid4().hex[:10]
        self._counter = 0

    # ------------------------------------------------------------------------------ writing
    def open(self, scenario: Scenario, *, resume: bool, meta: dict[str, Any]) -> None:
        """Check the folder belongs to this scenario, lock it, tidy it and record a new session.

        Raises:
            InputError: the folder is a file, holds something other than an experiment, holds the
                results of a different scenario, or another process is writing to it.
        """
        out = self.out
        if out.exists() and not out.is_dir():
            raise InputError(Problem(str(out), "", "is a file; the results need a folder (choose another --out)"))
        existing = None
        kind = output_kind(out) if (out / MANIFEST).exists() else None
        if kind not in (None, "experiment") and not resume and not foreign_entries(out, kind):
            remove_output(out)  # --fresh over an earlier spreadsim output of another command
        if (out / MANIFEST).exists():
            existing = read_manifest(out)
            if existing.get("scenario_hash") != scenario.digest() and resume:
                raise InputError(Problem(
                    str(out / MANIFEST), "scenario_hash",
                    f"this folder holds results of a different scenario ({existing.get('scenario_file')}, "
                    f"hash {existing.get('scenario_hash')}) than {scenario.source} (hash {scenario.digest()}); "
                    "results are never mixed: choose another --out, or discard them with --fresh (resume=False)"))
        elif out.exists():
            others = [p.name for p in out.iterdir() if p.name != LOCK and not p.name.startswith(TMP_PREFIX)]
            kind = output_kind(out) if others else None
            if others and kind is not None and not resume and not foreign_entries(out, kind):
                remove_output(out)  # --fresh over an earlier spreadsim output of another command
            elif others:
                raise InputError(Problem(str(out), "", f"exists and is not a spreadsim experiment folder (it holds "
                                         f"{', '.join(sorted(others)[:3])}{'...' if len(others) > 3 else ''}); "
                                         "choose another --out" + (", or discard it with --fresh" if kind else "")))
        self._created = not out.exists()
        out.mkdir(parents=True, exist_ok=True)
        self._lock()
        try:
            if existing is not None and not resume:
                for d in (self.runs_dir, self.ts_dir):
                    shutil.rmtree(d, ignore_errors=True)
                for name in DERIVED:
                    (out / name).unlink(missing_ok=True)
                existing = None
            self.runs_dir.mkdir(exist_ok=True)
            self.ts_dir.mkdir(exist_ok=True)
            self._tidy()
            now_versions = versions()
            if existing is not None:
                for sess in existing.get("sessions", []):
                    if isinstance(sess, dict) and sess.get("status") == "running":
                        # we hold the lock, so no session is running: this one was killed
                        sess["status"] = "killed"
                old = existing.get("versions", {})
                changed = [k for k in ("spreadsim", "git_commit", "numpy") if old.get(k) != now_versions.get(k)]
                if changed and self.committed():
                    warnings.warn(
                        f"{out}: results stored by a different {', '.join(changed)} "
                        f"({', '.join(f'{k} {old.get(k)} -> {now_versions.get(k)}' for k in changed)}); "
                        "they are kept and reused. Use a new folder (or --fresh) if the model has changed.",
                        stacklevel=3)
                man = existing
            else:
                man = mark({"kind": KIND, "format": FORMAT, "created": _now(), "scenario_file": scenario.source,
                            "scenario_hash": scenario.digest(), "scenario": scenario.to_dict(), "sessions": []},
                           "experiment")
            man["versions"] = now_versions
            for k, v in meta.items():
                if k != "session":
                    man[k] = v
            man["sessions"].append({"started": _now(), "status": "running", **meta.get("session", {})})
            self._manifest = man
            self._write_manifest()
        except BaseException:
            self.release()
            raise

    def _lock(self) -> None:
        import fcntl

        fd = os.open(self.out / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise InputError(Problem(str(self.out), "", "another experiment is writing to this folder right now; "
                                     "wait for it to finish or choose another --out")) from None
        self._lock_fd = fd

    def discard(self) -> None:
        """Remove what this session wrote to a folder that held nothing before it (a run failed
        before any was stored): the folder itself if this session made it."""
        self.release()
        for d in (self.runs_dir, self.ts_dir):
            shutil.rmtree(d, ignore_errors=True)
        for name in (MANIFEST, LOCK):
            (self.out / name).unlink(missing_ok=True)
        for p in self.out.glob(f"{TMP_PREFIX}*"):
            p.unlink(missing_ok=True)
        if getattr(self, "_created", False):
            with contextlib.suppress(OSError):
                self.out.rmdir()
        self._manifest = None

    def release(self) -> None:
        """Release the folder's lock (the lock also goes when the process dies)."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _tidy(self) -> None:
        """Remove what an interrupted session may have left: temporary files (the manifest's and the
        tables' beside it, the chunks' in their folders), half-written chunks."""
        for d in (self.out, self.runs_dir, self.ts_dir):
            for p in d.glob(f"{TMP_PREFIX}*"):
                if p.is_file():
                    p.unlink(missing_ok=True)
        committed = {p.name for p in self.runs_dir.glob("*.parquet")}
        for p in self.ts_dir.glob("*.parquet"):
            if p.name not in committed:
                p.unlink(missing_ok=True)

    def _write_manifest(self) -> None:
        data = json.dumps(self._manifest, indent=2, default=str).encode()
        write_bytes_atomic(self.out / MANIFEST, data)

    def write_chunk(self, runs: pa.Table, timeseries: pa.Table) -> str:
        """Store one chunk atomically (timeseries first, runs last: the runs file commits it)."""
        self._counter += 1
        name = f"{_dt.datetime.now(_dt.UTC):%Y%m%dT%H%M%S}-{self._session}-{self._counter:06d}.parquet"
        write_table_atomic(timeseries, self.ts_dir / name)
        write_table_atomic(runs, self.runs_dir / name)
        _fsync_dir(self.runs_dir)
        return name

    def session_rows(self) -> int:
        """Runs this session has committed, read from the stored chunks themselves: a count kept
        beside the writes could miss a chunk committed just as Ctrl-C arrived."""
        mine = [p for p in self.runs_dir.glob(f"*-{self._session}-*.parquet") if not p.name.startswith(TMP_PREFIX)]
        return sum(pq.read_metadata(p).num_rows for p in mine)

    def close(self, status: str, **info: Any) -> None:
        """Record how the session ended and release the lock."""
        try:
            if self._manifest is not None:
                sess = self._manifest["sessions"][-1]
                sess.update({"finished": _now(), "status": status, **info})
                self._write_manifest()
        finally:
            self.release()

    # ------------------------------------------------------------------------------ reading
    def committed(self) -> list[Path]:
        """The stored chunks' runs files, in name order."""
        if not self.runs_dir.exists():
            return []
        return sorted(p for p in self.runs_dir.glob("*.parquet") if not p.name.startswith("."))

    def stored_ids(self) -> set[str]:
        """The run ids stored in the folder."""
        ids: set[str] = set()
        for p in self.committed():
            ids.update(read_parquet(p, ["run_id"]).column("run_id").to_pylist())
        return ids

    def read_runs(self, columns: list[str] | None = None) -> pa.Table:
        """Every stored per-run row, chunk after chunk in name order, with a ``_chunk`` column (the
        file each row comes from). A run stored twice (only possible if two sessions wrote at
        once, which the lock prevents) appears twice: readers keep its first row."""
        parts: list[pa.Table] = []  # compacted groups of chunks: thousands of small tables, each
        batch: list[pa.Table] = []  # with its own buffers, fragment the heap (measured: 35 MiB of
        names: list[str] = []  # memory for 13 MiB of rows at 400 chunks; 26 MiB compacted)
        counts: list[int] = []
        for p in self.committed():
            t = read_parquet(p, None if columns is None else list(dict.fromkeys(["run_id", *columns])))
            if t.num_rows:
                batch.append(t)
                names.append(p.name)
                counts.append(t.num_rows)
            if len(batch) == 64:
                parts.append(pa.concat_tables(batch, promote_options="default").combine_chunks())
                batch = []
        if batch:
            parts.append(pa.concat_tables(batch, promote_options="default").combine_chunks())
        del batch
        if not parts:
            return pa.table({})
        table = pa.concat_tables(parts, promote_options="default")
        del parts
        chunk = pa.DictionaryArray.from_arrays(pa.array(np.repeat(np.arange(len(names), dtype=np.int32), counts)),
                                               pa.array(names, pa.string()))
        return table.append_column("_chunk", chunk)

    def iter_timeseries(self, chunks: dict[str, tuple[pa.Array, np.ndarray]], columns: list[str] | None = None):
        """Per-month rows of the given runs, chunk by chunk, each with its rows' run positions.

        Args:
            chunks: ``{chunk file: (run ids, their positions)}`` (see :func:`chunk_map`).
            columns: columns to read (``run_id`` is always read).

        Yields:
            ``(table, pos)``: the chunk's rows of those runs and, per row, its run's position.
        """
        cols = None if columns is None else list(dict.fromkeys(["run_id", *columns]))
        for chunk, (ids, positions) in sorted(chunks.items()):
            t = read_parquet(self.ts_dir / chunk, cols)
            local = pc.index_in(t.column("run_id"), value_set=ids).combine_chunks()
            if local.null_count:
                keep = local.is_valid()
                t, local = t.filter(keep), local.filter(keep)
            yield t, positions[local.to_numpy(zero_copy_only=False)]


def read_parquet(path: Path, columns: list[str] | None = None) -> pa.Table:
    """Read one Parquet file, single-threaded (chunks are small: threads only add memory)."""
    with pq.ParquetFile(path, memory_map=False, pre_buffer=False) as f:
        return f.read(columns=columns, use_threads=False)


def chunk_map(runs: pa.Table) -> dict[str, tuple[pa.Array, np.ndarray]]:
    """``{chunk file: (run ids, their row positions in runs)}`` for a table made by
    :meth:`ResultStore.read_runs` (in any row order)."""
    out: dict[str, tuple[pa.Array, np.ndarray]] = {}
    if runs.num_rows == 0:
        return out
    enc = runs.column("_chunk").combine_chunks()
    if not pa.types.is_dictionary(enc.type):
        enc = enc.dictionary_encode()
    codes = enc.indices.to_numpy(zero_copy_only=False)
    rid = runs.column("run_id").combine_chunks()
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(enc.dictionary) + 1))
    for k, name in enumerate(enc.dictionary.to_pylist()):
        rows = order[bounds[k]:bounds[k + 1]]
        if len(rows):
            out[name] = (rid.take(pa.array(rows)), rows.astype(np.int64))
    return out
