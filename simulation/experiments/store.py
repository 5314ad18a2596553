"""The results folder of an experiment: Parquet chunks that survive interruption.

Layout of a folder ``out/``::

    manifest.json            "spreadsim_output": "experiment", scenario, its hash, seeds, versions,
                             executor, one record per session (complete, interrupted, failed, killed)
    runs/<chunk>.parquet     one row per run (run_id, strategy, replicate, seed, overrides, outcomes)
    timeseries/<chunk>.parquet  one row per run per month (run_id, strategy, replicate, month, series)
    .lock                    held (flock) while an experiment writes to the folder
    .spreadsim-record.json   the ownership record (:class:`simulation.safe_io.Record`): every file
                             spreadsim wrote there with its size and SHA-256, the session tokens

Only the driving process writes, one chunk per finished task. Each session gets a random token,
recorded before it writes anything; its chunks are named ``TIME-TOKEN-COUNTER.parquet`` and its
temporary files ``.NAME.TOKEN.tmp``. Each file is written to its temporary, flushed to disk and
renamed into place; the timeseries file of a chunk is renamed first and the runs file last, so a
chunk counts as stored exactly when its runs file exists. A process killed at any moment therefore
leaves whole chunks and, at worst, temporary files or a timeseries file without its runs file, all
carrying a recorded token, which the next session removes; a session the next one finds still
"running" was killed, and is recorded so. Only chunks of recorded sessions are read (a ``.parquet``
a user puts in ``runs/`` is neither read nor deleted), and each run once (the first chunk, by name,
that holds it), so a run can never be counted twice. The folder must be new, empty or an
experiment's (see :func:`simulation.safe_io.check_out`); with ``resume=False`` an earlier spreadsim
output is replaced only if it holds nothing but what its record lists, never a folder spreadsim did
not write.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..errors import InputError, Problem
from ..safe_io import (CHUNK, OwnedWriter, Record, fail, fsync_dir, foreign_entries, foreign_message, mark,
                       output_kind, remove_output)
from ..scenario import Scenario

KIND = "spreadsim-experiment"
FORMAT = 1
MANIFEST = "manifest.json"
RUNS = "runs"
TIMESERIES = "timeseries"
LOCK = ".lock"
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


def _writer_for(path: Path) -> OwnedWriter:
    return OwnedWriter(path.parent, output_kind(path.parent) or "experiment")


def write_bytes_atomic(path: Path, data: bytes, writer: OwnedWriter | None = None) -> None:
    """Write ``data`` to ``path`` in an output folder: through a temporary file named with a
    recorded session token, synced, listed in the folder's record, then renamed into place."""
    if writer is not None:
        writer.write_bytes(path.name, data)
        return
    with _writer_for(path) as w:
        w.write_bytes(path.name, data)


def write_csv_atomic(path: Path, df, writer: OwnedWriter | None = None) -> None:
    """Write a DataFrame as CSV like :func:`write_bytes_atomic` (streamed in row chunks)."""
    if writer is None:
        with _writer_for(path) as w:
            return write_csv_atomic(path, df, w)
    with writer.open(path.name, "w") as f:
        df.to_csv(f, index=False, chunksize=2000)


def write_table_atomic(table: pa.Table, path: Path, writer: OwnedWriter | None = None) -> None:
    """Write a Parquet file like :func:`write_bytes_atomic` (listed in the folder's record)."""
    if writer is None:
        with _writer_for(path) as w:
            return write_table_atomic(table, path, w)
    with writer.open(path.name, "wb") as f:
        pq.write_table(table, f, compression="zstd")


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
        self._writer: OwnedWriter | None = None
        self._manifest: dict[str, Any] | None = None
        self._session = ""
        self._counter = 0
        self._chunks: list[str] = []

    # ------------------------------------------------------------------------------ writing
    def open(self, scenario: Scenario, *, resume: bool, meta: dict[str, Any]) -> None:
        """Check the folder belongs to this scenario, lock it, tidy it and record a new session.

        Raises:
            InputError: the folder is a file, holds something other than an experiment, holds the
                results of a different scenario, holds files spreadsim did not write (with
                ``resume=False``, which would delete the earlier results), or another process is
                writing to it.
        """
        out = self.out
        if out.exists() and not out.is_dir():
            raise InputError(Problem(str(out), "", "is a file; the results need a folder (choose another --out)"))
        existing = None
        if out.exists() and any(out.iterdir()):
            kind = output_kind(out)
            if kind not in (None, "experiment") and not resume:
                remove_output(out)  # --fresh over an earlier spreadsim output of another command (its files only)
            elif kind is None:
                others = sorted(p.name for p in out.iterdir())
                raise InputError(Problem(str(out), "", f"exists and is not a spreadsim experiment folder (it holds "
                                         f"{', '.join(others[:3])}{'...' if len(others) > 3 else ''}); "
                                         "choose another --out"))
        if (out / MANIFEST).exists():
            existing = read_manifest(out)
            if existing.get("scenario_hash") != scenario.digest() and resume:
                raise InputError(Problem(
                    str(out / MANIFEST), "scenario_hash",
                    f"this folder holds results of a different scenario ({existing.get('scenario_file')}, "
                    f"hash {existing.get('scenario_hash')}) than {scenario.source} (hash {scenario.digest()}); "
                    "results are never mixed: choose another --out, or discard them with --fresh (resume=False)"))
            if not resume:  # refused before anything is written (checked again under the lock)
                foreign = foreign_entries(out)
                if foreign:
                    raise fail(str(out), "", foreign_message(out, "experiment", foreign))
        self._created = not out.exists()
        w = OwnedWriter(out, "experiment", dirs=(RUNS, TIMESERIES))
        w.__enter__()  # the folder made (or its record read), locked, a session token recorded
        self._writer, self._session = w, w.token
        try:
            if existing is not None and not resume:
                foreign = foreign_entries(out)
                if foreign:
                    raise fail(str(out), "", foreign_message(out, "experiment", foreign))
                from ..safe_io import RECORD, remove_owned

                left = remove_owned(out, keep=(RECORD, LOCK, RUNS, TIMESERIES))
                if left:
                    raise fail(str(out), "", f"could not delete {', '.join(left[:3])}; start again in another folder")
                rec = w.rec
                rec.data["entries"] = {k: v for k, v in rec.entries.items() if k in (LOCK, RUNS, TIMESERIES)}
                rec.data["sessions"] = [rec.token, w.token]
                rec.save()
                existing = None
            for d in (self.runs_dir, self.ts_dir):
                if not d.exists():
                    d.mkdir()
                    w.rec.put_dir(d.name)
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
            man.setdefault("sessions", []).append({"started": _now(), "status": "running", "token": self._session,
                                    **meta.get("session", {})})
            self._manifest = man
            self._write_manifest()
        except BaseException:
            self.release()
            raise

    def discard(self) -> None:
        """Remove what this session wrote to a folder that held nothing before it (a run failed
        before any was stored): the folder itself if this session made it, and only what its
        record lists."""
        from ..safe_io import remove_owned

        self.release()
        if getattr(self, "_created", False):
            remove_owned(self.out, rmdir=True)
        self._manifest = None

    def release(self) -> None:
        """Release the folder's lock (the lock also goes when the process dies)."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None

    def _sessions(self) -> set[str] | None:
        """The session tokens the folder's record lists (None: a folder of the earlier format)."""
        rec = self._writer.rec if self._writer is not None else Record.read(self.out)
        if rec is None or rec.legacy:
            return None
        return set(rec.data["sessions"])

    def _tidy(self) -> None:
        """Remove what an interrupted session left: its temporary files (by their recorded tokens, see
        :meth:`OwnedWriter.tidy`) and its half-written chunks (a timeseries file without its runs
        file, named with a recorded session token). Nothing else is touched."""
        self._writer.tidy()
        sessions = self._sessions()
        if sessions is None:
            return
        committed = {p.name for p in self.committed()}
        for p in self.ts_dir.iterdir():
            m = CHUNK.match(p.name)
            if m and m.group("tok") in sessions and p.name not in committed and p.is_file() and not p.is_symlink():
                p.unlink(missing_ok=True)

    def _write_manifest(self) -> None:
        data = json.dumps(self._manifest, indent=2, default=str).encode()
        self._writer.write_bytes(MANIFEST, data)

    def _write_table(self, table: pa.Table, path: Path) -> None:
        tmp = self._writer.temp(path)
        try:
            with open(tmp, "xb") as f:
                pq.write_table(table, f, compression="zstd")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def write_chunk(self, runs: pa.Table, timeseries: pa.Table) -> str:
        """Store one chunk atomically (timeseries first, runs last: the runs file commits it). The
        chunk's name carries this session's token, recorded before the first chunk was written."""
        self._counter += 1
        name = f"{_dt.datetime.now(_dt.UTC):%Y%m%dT%H%M%S}-{self._session}-{self._counter:06d}.parquet"
        self._write_table(timeseries, self.ts_dir / name)
        self._write_table(runs, self.runs_dir / name)
        fsync_dir(self.runs_dir)
        self._chunks.append(name)
        return name

    def session_rows(self) -> int:
        """Runs this session has committed, read from the stored chunks themselves: a count kept
        beside the writes could miss a chunk committed just as Ctrl-C arrived."""
        mine = [p for p in self.committed() if f"-{self._session}-" in p.name]
        return sum(pq.read_metadata(p).num_rows for p in mine)

    def close(self, status: str, **info: Any) -> None:
        """Record how the session ended (and its chunks, with their sizes and hashes) and release the lock."""
        try:
            if self._manifest is not None and self._writer is not None:
                names = [p.name for p in self.committed() if f"-{self._session}-" in p.name]
                self._writer.adopt([f"{d}/{n}" for n in names for d in (TIMESERIES, RUNS)])
                sess = self._manifest["sessions"][-1]
                sess.update({"finished": _now(), "status": status, **info})
                self._write_manifest()
        finally:
            self.release()

    # ------------------------------------------------------------------------------ reading
    def committed(self) -> list[Path]:
        """The stored chunks' runs files, in name order."""
        if not self.runs_dir.is_dir():
            return []
        sessions = self._sessions()
        if sessions is None:  # a folder written before spreadsim recorded its sessions
            return sorted(p for p in self.runs_dir.glob("*.parquet") if not p.name.startswith(".") and p.is_file())
        out = []
        for p in self.runs_dir.iterdir():  # only chunks of recorded sessions: never a user's file put there
            m = CHUNK.match(p.name)
            if m and m.group("tok") in sessions and p.is_file() and not p.is_symlink():
                out.append(p)
        return sorted(out)

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
