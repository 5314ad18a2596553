"""Reading users' files safely, and writing output folders without ever losing a user's files.

Reading
-------
:func:`read_capped` reads a regular file of at most a given size (so ``/dev/zero``, a FIFO or a
2 GB file given by mistake is refused at once), :func:`load_yaml` parses YAML with the limits of
:mod:`simulation.limits`: no aliases (an alias bomb of a few hundred bytes expands to gigabytes),
no duplicate keys (YAML would keep the last silently), bounded nesting and size, and every value's
line and column kept so that a message can say where a problem is instead of quoting the file.

Output folders
--------------
Every command that writes a folder follows one rule (:func:`check_out`):

* a new or empty folder is written (empty means empty: a hidden file makes a folder not empty);
* a folder holding an earlier spreadsim output (its record or manifest says so, see
  :func:`output_kind`) is replaced only when asked (``--force``; experiments, which resume, use
  ``--fresh``), and only if it holds nothing but what its ownership record lists, unchanged;
* anything else (a non-empty folder without a spreadsim output, a file, a folder that is the
  current folder or one of its parents) is refused with exit code 2. spreadsim never deletes a
  file it did not write.

Ownership is decided by record, never by name. Every output folder holds :data:`RECORD`
(:class:`Record`): each file and folder spreadsim wrote there, with the file's size and SHA-256,
and the random tokens of the sessions that wrote there. Only entries listed and unchanged since,
temporaries and chunks named with a recorded token, nested outputs holding only their own, and
temporary folders of dead commands (recognised by the record inside them) are ever deleted
(:func:`owned_and_foreign`, :func:`remove_owned`). An output written before the record existed is
read and resumed but never replaced: its files are treated as the user's.

Whole folders are written into ``.NAME.spreadsim-tmp-TOKEN`` beside the target and renamed into
place at the end (:class:`atomic_dir`), so an interrupted command leaves the earlier output (or
nothing); folders that commands add to (experiments, sensitivity, sweep) are written file by file
through :class:`OwnedWriter`. The leftovers of a killed command are tidied when the next command
writes there, recognised by their records only (:func:`clean_stale`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from . import limits
from .errors import InputError, Problem, fail, warn

# ------------------------------------------------------------------------------------- reading


def read_capped(path: str | Path, limit: int, what: str = "file", field: str = "") -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes.

    Raises:
        InputError: naming the file (and ``field``) when it is missing, a folder, not a regular file
            (a device, a FIFO, a socket), larger than ``limit`` or unreadable.
    """
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise fail(str(path), field, "file not found") from None
    except OSError as err:
        raise fail(str(path), field, f"cannot read: {_os_reason(err)}") from None
    if stat.S_ISDIR(st.st_mode):
        raise fail(str(path), field, f"is a folder, not a {what}")
    if not stat.S_ISREG(st.st_mode):
        raise fail(str(path), field, f"is not a regular file (a device, pipe or socket); give the {what} as a file")
    if st.st_size > limit:
        raise fail(str(path), field, f"is {limits.fmt_bytes(st.st_size)}; a {what} may be at most "
                                     f"{limits.fmt_bytes(limit)}")
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as err:
        raise fail(str(path), field, f"cannot read: {_os_reason(err)}") from None
    if len(data) > limit:  # a file that reports no size (/proc) or grew while read
        raise fail(str(path), field, f"holds more than {limits.fmt_bytes(limit)}; a {what} may be at most that")
    return data


def decode_text(data: bytes, path: str | Path, field: str = "") -> str:
    """UTF-8 text of a file's bytes (a BOM is dropped); InputError naming the line if it is not text."""
    if b"\x00" in data[:8192]:
        raise fail(str(path), field, "is a binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise fail(str(path), field, "is not UTF-8 text", line=line) from None


def _os_reason(err: OSError) -> str:
    return os.strerror(err.errno) if err.errno else type(err).__name__


# ---------------------------------------------------------------------------------------- YAML
class Marks(dict):
    """Where each value of a YAML document is: ``{key path tuple: (line, column)}``, 1-based."""

    def find(self, field: str) -> tuple[int, int] | None:
        """The position of a dotted field (``logics.social.q``, ``sensitivity.parameters[2].path``),
        or of the nearest enclosing key that the document has."""
        path = split_field(field)
        while path:
            if path in self:
                return self[path]
            path = path[:-1]
        return None

    def at(self, problem: Problem) -> Problem:
        """The problem with its line and column added (when it names a key the document has)."""
        if problem.line is not None:
            return problem
        pos = self.find(problem.field)
        if pos is None:
            return problem
        return Problem(problem.source, problem.field, problem.message, pos[0], pos[1])


def split_field(field: str) -> tuple:
    """``"a.b[2].c"`` as ``("a", "b", 2, "c")``."""
    out: list[Any] = []
    for part in str(field).split("."):
        m = re.fullmatch(r"([^\[\]]*)((?:\[\d+\])*)", part)
        if not m:
            out.append(part)
            continue
        if m.group(1):
            out.append(m.group(1))
        out.extend(int(i) for i in re.findall(r"\[(\d+)\]", m.group(2)))
    return tuple(out)


def load_yaml(text: str, source: str, *, field: str = "") -> tuple[Any, Marks]:
    """Parse one YAML document safely: ``(data, marks)``.

    Refuses aliases, duplicate keys, nesting deeper than :data:`limits.MAX_YAML_DEPTH`, more than
    :data:`limits.MAX_YAML_NODES` values and numbers of more than :data:`limits.MAX_DIGITS` digits,
    each as an :class:`InputError` naming ``source``, the line and the column (never the text).
    """
    import yaml

    def at(mark, msg: str) -> InputError:
        line = mark.line + 1 if mark is not None else None
        col = mark.column + 1 if mark is not None else None
        return InputError(Problem(source, field, msg, line, col))

    # pass 1, on events (the parser is iterative: a 100,000-deep nesting cannot exhaust the stack)
    loader = _safe_loader(text, at)
    try:
        depth = nodes = docs = 0
        while loader.check_event():
            ev = loader.get_event()
            if isinstance(ev, yaml.AliasEvent):
                raise at(ev.start_mark, f"YAML aliases (*{ev.anchor}) are not accepted: write the value out in full")
            if isinstance(ev, yaml.DocumentStartEvent):
                docs += 1
                if docs > 1:
                    raise at(ev.start_mark, "holds more than one YAML document (a second '---'); keep one")
            if isinstance(ev, (yaml.ScalarEvent, yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                nodes += 1
                if nodes > limits.MAX_YAML_NODES:
                    raise at(ev.start_mark, f"holds more than {limits.MAX_YAML_NODES:,} values")
            if isinstance(ev, yaml.ScalarEvent) and ev.style is None and len(ev.value) > limits.MAX_DIGITS \
                    and re.fullmatch(r"[-+]?[0-9_]+(\.[0-9_]*)?([eE][-+]?[0-9]+)?", ev.value):
                raise at(ev.start_mark, f"a number with more than {limits.MAX_DIGITS} digits")
            if isinstance(ev, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                depth += 1
                if depth > limits.MAX_YAML_DEPTH:
                    raise at(ev.start_mark, f"nests lists and mappings more than {limits.MAX_YAML_DEPTH} levels deep")
            elif isinstance(ev, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                depth -= 1
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        reason = getattr(err, "problem", None) or "not valid YAML"
        raise at(mark, f"malformed YAML: {reason}") from None
    finally:
        loader.dispose()

    # pass 2: compose, check keys, record positions, construct
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, Marks()
        marks = Marks()
        stack: list[tuple[Any, tuple]] = [(node, ())]
        while stack:
            n, path = stack.pop()
            if isinstance(n, yaml.MappingNode):
                seen: dict[Any, int] = {}
                for k, v in n.value:
                    key = loader.construct_object(k, deep=True) if isinstance(k, yaml.ScalarNode) else None
                    try:
                        hash(key)
                    except TypeError:
                        key = None
                    if key is not None and key in seen:
                        raise at(k.start_mark, f"duplicate key '{_short(key)}' (also on line {seen[key]}); "
                                               "YAML would keep only the last: keep one")
                    if key is not None:
                        seen[key] = k.start_mark.line + 1
                        sub = (*path, key if isinstance(key, str) else str(key))
                        marks[sub] = (k.start_mark.line + 1, k.start_mark.column + 1)
                        stack.append((v, sub))
            elif isinstance(n, yaml.SequenceNode):
                for i, v in enumerate(n.value):
                    sub = (*path, i)
                    marks[sub] = (v.start_mark.line + 1, v.start_mark.column + 1)
                    stack.append((v, sub))
        data = loader.construct_document(node)
    except InputError:
        raise
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        reason = getattr(err, "problem", None) or "not valid YAML"
        raise at(mark, f"malformed YAML: {reason}") from None
    except (ValueError, OverflowError, RecursionError, TypeError) as err:
        raise at(None, f"malformed YAML: a value cannot be read ({type(err).__name__})") from None
    finally:
        loader.dispose()
    return data, marks


def _safe_loader(text: str, at):
    """A ``yaml.SafeLoader`` of ``text``; a character YAML does not allow (a control character) is
    refused by its reader at once, reported through ``at`` with its line and column (never the text)."""
    import yaml

    try:
        return yaml.SafeLoader(text)
    except yaml.reader.ReaderError as err:
        pos = max(int(err.position), 0)
        line = text.count("\n", 0, pos)
        column = pos - (text.rfind("\n", 0, pos) + 1)
        mark = yaml.Mark("", pos, line, column, None, None)
        raise at(mark, f"malformed YAML: character #x{err.character:04x} is not allowed ({err.reason})") from None


def _short(key: Any) -> str:
    text = str(key)
    return text if len(text) <= 40 else text[:37] + "..."


def read_yaml_file(path: str | Path, what: str = "scenario file") -> tuple[Any, Marks]:
    """A YAML file of at most :data:`limits.MAX_SCENARIO_BYTES`, parsed by :func:`load_yaml`."""
    data = read_capped(path, limits.MAX_SCENARIO_BYTES, what)
    return load_yaml(decode_text(data, path), str(path))


def check_numbers(value: Any, source: str, path: str = "", marks: Marks | None = None) -> list[Problem]:
    """Problems with the numbers anywhere in a parsed document: every float must be finite and no
    whole number may exceed 63 bits (the schema bounds each field further)."""
    import math

    problems = []
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        v, here = stack.pop()
        if isinstance(v, bool):
            continue
        if isinstance(v, float) and not math.isfinite(v):
            problems.append(Problem(source, here, f"must be a finite number (got {v})"))
        elif isinstance(v, int) and abs(v) > limits.MAX_SEED:
            problems.append(Problem(source, here, f"is too large a number (more than {limits.MAX_SEED:,})"))
        elif isinstance(v, dict):
            stack.extend((x, f"{here}.{k}" if here else str(k)) for k, x in v.items())
        elif isinstance(v, (list, tuple)):
            stack.extend((x, f"{here}[{i}]") for i, x in enumerate(v))
    problems.reverse()
    return [marks.at(p) for p in problems] if marks else problems


# ------------------------------------------------------------------------------ output folders
#: the key every spreadsim manifest carries, naming the kind of output
MARKER = "spreadsim_output"
#: the kinds of output and the files each writes (for people reading the code and the docs: what a
#: folder holds is decided by its ownership record, :data:`RECORD`, never by these names)
OUTPUT_FILES: dict[str, tuple[str, ...]] = {
    "run": ("manifest.json", "timeseries.csv", "sites.csv", "groups.csv", "site_history.parquet", "adoption.png"),
    "experiment": ("manifest.json", ".lock", "runs/", "timeseries/", "runs.csv", "summary.csv", "differences.csv",
                   "ensemble.csv", "groups.csv", "adoption.png", "differences.png", "report.txt",
                   # spreadsim explore, and the analyses of an exploration in their own subfolders
                   "experiments.parquet", "samples.csv", "robust/", "discover/", "voi/"),
    "sensitivity": ("manifest.json", ".lock", "runs/", "indices.csv", "second_order.csv", "noise.csv",
                    "convergence.csv", "wins.csv", "wins_by_parameter.csv", "samples.csv", "report.txt", "*.png"),
    "sweep": ("manifest.json", ".lock", "runs/", "sweep.csv", "runs.csv", "bands.csv", "*.png"),
    "calibration": ("calibration.json", "posterior.csv", "posterior.parquet", "intervals.csv", "populations.csv",
                    "observed.csv", "predictive.csv", "check.json", "summary.txt", "fit.png", "marginals.png",
                    "patterns.csv", "forecast/"),
    "patterns": ("manifest.json", "patterns.csv", "directions.csv"),
    "forecast": ("forecast.json", "bands.csv", "bands.parquet", "runs.csv", "runs.parquet", "table.csv",
                 "forecast_*.png"),
    "figures": ("*.png", "*.csv", "figures.json"),
    "optimise": ("manifest.json", ".lock", "study.db", "study.db-journal", "reference.parquet", "trials.csv",
                 "pareto.csv", "pareto.png", "strategies.yaml"),
    # the analyses of an exploration, each in its own subfolder of the explore folder (with its record)
    "robust": (".lock", "robustness.csv", "bootstrap.csv", "ranking.txt", "robust.json", "robustness.png"),
    "discover": (".lock", "boxes.csv", "trajectory.csv", "features.csv", "cart.txt", "stability.csv", "discover.txt",
                 "discover.json", "*.png"),
    "voi": (".lock", "voi.csv", "voi.txt", "voi.json", "voi.png"),
}
#: the analyses of an exploration (subfolders of an explore folder, each an output of its own kind)
ANALYSIS_FILES: dict[str, tuple[str, ...]] = {k: OUTPUT_FILES[k] for k in ("robust", "discover", "voi")}
#: the manifest file of each kind
MANIFEST_OF = {"calibration": "calibration.json", "forecast": "forecast.json", "figures": "figures.json"}
#: the kinds that continue an earlier output of the same kind in the same folder (resume)
RESUMABLE = ("experiment", "sensitivity", "sweep")

#: the ownership record every output folder holds: what spreadsim wrote there (size and SHA-256 of
#: each file, each folder), the random tokens of the sessions that wrote it. Only entries listed
#: there and unchanged since (or named with a recorded token, see below) are ever deleted.
RECORD = ".spreadsim-record.json"
RECORD_FORMAT = 1
_TOKEN = r"[0-9a-f]{32}"
#: a temporary output folder beside its target: ``.NAME.spreadsim-tmp-TOKEN``, holding a record
#: with the same token and the target's name (written before anything else goes in)
_TMP_DIR = re.compile(rf"^\.(?P<name>.+)\.spreadsim-tmp-(?P<tok>{_TOKEN})$")
#: an earlier output set aside while its replacement is moved in: ``.NAME.spreadsim-old-TOKEN``,
#: TOKEN being the replacement's (so it is recognised only beside that replacement or its temporary)
_OLD_DIR = re.compile(rf"^\.(?P<name>.+)\.spreadsim-old-(?P<tok>{_TOKEN})$")
#: a temporary file inside an output folder: ``.NAME.TOKEN.tmp``, TOKEN a session recorded before use
_TMP_FILE = re.compile(rf"^\.(?P<name>.+)\.(?P<tok>{_TOKEN})\.tmp$")
#: an experiment's chunk: ``YYYYmmddTHHMMSS-SESSION-COUNTER.parquet``, SESSION recorded before use
CHUNK = re.compile(rf"^\d{{8}}T\d{{6}}-(?P<tok>{_TOKEN})-\d{{6}}\.parquet$")
#: the sub-folders of an experiment that hold chunks
CHUNK_DIRS = ("runs", "timeseries")
_MAX_RECORD = 256 << 20


def new_token() -> str:
    """An unguessable token (128 random bits) for the names of temporaries."""
    return secrets.token_hex(16)


def temp_name(name: str, token: str) -> str:
    """The exact name of the temporary file of ``name`` written by the session ``token``."""
    return f".{name.lstrip('.')}.{token}.tmp"


def mark(manifest: dict, kind: str) -> dict:
    """``manifest`` with the spreadsim marker naming ``kind`` (first key, for people reading it)."""
    return {MARKER: kind, **{k: v for k, v in manifest.items() if k != MARKER}}


def _read_json(path: Path) -> Any:
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > 64 << 20:
            return None
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None


def file_digest(path: Path) -> tuple[int, str]:
    """``(size, SHA-256 hex)`` of a file."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
            size += len(block)
    return size, h.hexdigest()


def _host() -> str:
    return socket.gethostname()


class Record:
    """The ownership record of an output folder (:data:`RECORD`).

    ``entries`` maps each path spreadsim wrote (relative, ``/``-separated) to ``{"dir": true}`` or
    ``{"size": n, "sha256": h}`` (with ``"prev"``, the entry before its last rewrite: a command killed
    between recording a file's new content and renaming it into place leaves either, both recognised).
    ``sessions`` are the tokens of the sessions that wrote there: a session's temporary files and
    chunks carry its token, recorded before the first of them is made. ``next`` is the token the next
    rewrite of the record itself uses for its temporary file.
    """

    def __init__(self, folder: Path, data: dict):
        self.folder = Path(folder)
        self.data = data

    # -- reading
    @classmethod
    def read(cls, folder: str | Path) -> Record | None:
        """The record of ``folder``, or None (none, or not a valid record)."""
        folder = Path(folder)
        path = folder / RECORD
        try:
            if path.is_symlink() or not path.is_file() or path.stat().st_size > _MAX_RECORD:
                return None
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError, RecursionError):
            return None
        if not isinstance(data, dict) or data.get("spreadsim_record") != RECORD_FORMAT:
            return None
        ok = (data.get("kind") in OUTPUT_FILES and isinstance(data.get("token"), str)
              and re.fullmatch(_TOKEN, data["token"]) and isinstance(data.get("entries"), dict)
              and isinstance(data.get("sessions"), list) and all(isinstance(t, str) for t in data["sessions"])
              and isinstance(data.get("next"), str) and re.fullmatch(_TOKEN, data["next"]))
        if not ok:
            return None
        for rel, e in data["entries"].items():
            if not isinstance(rel, str) or not isinstance(e, dict) or rel.startswith("/") or ".." in rel.split("/"):
                return None
        return cls(folder, data)

    @classmethod
    def new(cls, folder: str | Path, kind: str, token: str | None = None, **extra: Any) -> Record:
        token = token or new_token()
        return cls(Path(folder), {"spreadsim_record": RECORD_FORMAT, "kind": kind, "token": token,
                                  "sessions": [token], "next": new_token(), **extra, "entries": {}})

    @property
    def kind(self) -> str:
        return self.data["kind"]

    @property
    def token(self) -> str:
        return self.data["token"]

    @property
    def entries(self) -> dict[str, dict]:
        return self.data["entries"]

    @property
    def legacy(self) -> bool:
        """Made for an output written before spreadsim recorded its files: its older files are not listed."""
        return bool(self.data.get("legacy"))

    def tokens(self) -> set[str]:
        return set(self.data["sessions"]) | {self.data["next"]}

    # -- writing
    def save(self) -> None:
        """Write the record atomically: through a temporary file named with the token the record on
        disk announces (``next``), so a command killed part-way leaves a temporary it recognises."""
        tok = self.data["next"]
        self.data["next"] = new_token()
        tmp = self.folder / temp_name(RECORD, tok)
        data = json.dumps(self.data, indent=1, sort_keys=True).encode()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.folder / RECORD)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def add_session(self, token: str) -> None:
        self.data["sessions"].append(token)

    def put_file(self, rel: str, path: Path | None = None) -> None:
        """List ``rel`` with the size and hash of ``path`` (default: the file itself), keeping the
        entry it replaces as ``prev``."""
        size, digest = file_digest(path if path is not None else self.folder / rel)
        old = self.entries.get(rel)
        entry: dict[str, Any] = {"size": size, "sha256": digest}
        if isinstance(old, dict) and "sha256" in old and old.get("sha256") != digest:
            entry["prev"] = {"size": old.get("size"), "sha256": old.get("sha256")}
        self.entries[rel] = entry

    def put_dir(self, rel: str) -> None:
        self.entries[rel] = {"dir": True}

    def scan(self) -> None:
        """List every file and folder under the record's folder (a folder spreadsim has just filled)."""
        for dirpath, dirnames, filenames in os.walk(self.folder):
            here = Path(dirpath)
            for d in dirnames:
                self.put_dir((here / d).relative_to(self.folder).as_posix())
            for f in filenames:
                rel = (here / f).relative_to(self.folder).as_posix()
                if rel != RECORD and not (here / f).is_symlink():
                    self.put_file(rel)

    def unchanged(self, rel: str, path: Path) -> bool:
        """Whether the file at ``path`` is the one listed as ``rel`` (or its previous version)."""
        e = self.entries.get(rel)
        if not isinstance(e, dict) or "sha256" not in e:
            return False
        try:
            st = path.lstat()
            if not stat.S_ISREG(st.st_mode):
                return False
            wanted = [e] + ([e["prev"]] if isinstance(e.get("prev"), dict) else [])
            if all(st.st_size != w.get("size") for w in wanted):
                return False
            size, digest = file_digest(path)
        except OSError:
            return False
        return any(size == w.get("size") and digest == w.get("sha256") for w in wanted)


def _pid_alive(pid: Any, host: Any) -> bool:
    """Whether a process may still be running (any doubt: yes)."""
    if not isinstance(pid, int) or host != _host():
        return True
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True
    return True


def _stale_temp_dir(p: Path, target_name: str | None = None) -> bool:
    """``p`` is the temporary folder of a spreadsim command that has died: its name carries a token,
    the record inside names that token and the target, and its process is gone."""
    m = _TMP_DIR.match(p.name)
    if not m or (target_name is not None and m.group("name") != target_name) or p.is_symlink() or not p.is_dir():
        return False
    rec = Record.read(p)
    return (rec is not None and rec.token == m.group("tok") and rec.data.get("target") == m.group("name")
            and not _pid_alive(rec.data.get("pid"), rec.data.get("host")))


def _set_aside(p: Path) -> str | None:
    """What to do with ``p`` if it is an earlier output set aside by a replacement that was killed:
    ``"restore"`` (the replacement never arrived: its temporary, with the same token, is there and
    the target is missing), ``"remove"`` (the replacement arrived: the target's record has the same
    token), else None (not recognised: left alone)."""
    m = _OLD_DIR.match(p.name)
    if not m or p.is_symlink() or not p.is_dir():
        return None
    name, tok = m.group("name"), m.group("tok")
    target = p.parent / name
    if target.exists() or target.is_symlink():
        rec = Record.read(target) if target.is_dir() and not target.is_symlink() else None
        return "remove" if rec is not None and rec.token == tok else None
    tmp = p.parent / f".{name}.spreadsim-tmp-{tok}"
    return "restore" if _stale_temp_dir(tmp, name) else None


def _owned_dir(p: Path) -> bool:
    """A folder holding only what spreadsim wrote (a nested output with its own record, or a stale
    temporary of spreadsim's)."""
    if p.is_symlink() or not p.is_dir():
        return False
    if _stale_temp_dir(p) or _set_aside(p) is not None:
        return True
    return Record.read(p) is not None and not foreign_entries(p)


def _scan(folder: Path, rec: Record | None, prefix: str, owned: list[Path], foreign: list[str]) -> None:
    try:
        children = sorted(folder.iterdir(), key=lambda p: p.name)
    except OSError:
        foreign.append(prefix or ".")
        return
    for p in children:
        rel = prefix + p.name
        link = p.is_symlink()
        is_dir = p.is_dir() and not link
        if rec is not None and not link:
            if rel == RECORD and not prefix:
                owned.append(p)
                continue
            e = rec.entries.get(rel)
            if e is not None:
                if e.get("dir") and is_dir:
                    _scan(p, rec, rel + "/", owned, foreign)
                    owned.append(p)
                    continue
                if not e.get("dir") and not is_dir and rec.unchanged(rel, p):
                    owned.append(p)
                    continue
            m = _TMP_FILE.match(p.name)
            if m and not is_dir and m.group("tok") in rec.tokens():
                owned.append(p)  # a temporary of a recorded session (or of the record itself)
                continue
            m = CHUNK.match(p.name)
            if m and not is_dir and prefix in tuple(f"{d}/" for d in CHUNK_DIRS) and m.group("tok") in rec.tokens():
                owned.append(p)  # a chunk of a recorded session
                continue
        if is_dir and _owned_dir(p):
            owned.append(p)
            continue
        foreign.append(rel + ("/" if is_dir else ""))


def owned_and_foreign(folder: str | Path) -> tuple[list[Path], list[str]]:
    """What of ``folder`` spreadsim wrote, and (relative names) what it did not.

    Owned: the entries its record lists and that are unchanged since (size and SHA-256), the
    temporaries and chunks named with a session token it records, nested outputs holding only
    their own owned entries, and the temporaries of dead spreadsim commands (recognised by the
    record inside them). Everything else (symbolic links, files it does not list, files changed
    since) is the user's.
    """
    folder = Path(folder)
    owned: list[Path] = []
    foreign: list[str] = []
    _scan(folder, Record.read(folder), "", owned, foreign)
    return owned, foreign


def foreign_entries(folder: str | Path, kind: str | None = None) -> list[str]:
    """Entries of an output folder that spreadsim did not write (see :func:`owned_and_foreign`)."""
    return owned_and_foreign(folder)[1]


def _legacy_figures(folder: Path) -> set[str]:
    """Files a figures folder of the earlier format lists in figures.json (names, no hashes)."""
    man = _read_json(folder / "figures.json")
    if isinstance(man, dict) and man.get(MARKER) == "figures" and isinstance(man.get("files"), list):
        return ({f for f in man["files"] if isinstance(f, str) and "/" not in f and f.endswith((".png", ".csv"))}
                | {"figures.json"})
    return set()


def output_kind(folder: str | Path) -> str | None:
    """The kind of spreadsim output a folder holds (``run``, ``experiment``, ``sensitivity``,
    ``sweep``, ``calibration``, ``forecast``, ``figures``, ``patterns``), or None.

    Read from its ownership record; else (outputs written before the record existed) from the
    marker in its manifest, or from the manifest's keys for manifests older still.
    """
    folder = Path(folder)
    rec = Record.read(folder)
    if rec is not None:
        return rec.kind
    man = _read_json(folder / "manifest.json")
    if isinstance(man, dict):
        if man.get(MARKER) in OUTPUT_FILES:
            return man[MARKER]
        if man.get("kind") == "spreadsim-experiment":
            return "experiment"
        if "salib_version" in man and "sensitivity" in man:
            return "sensitivity"
        if "points" in man and "replicate_seeds" in man:
            return "sweep"
        if {"scenario_hash", "seed", "summary", "version"} <= set(man):
            return "run"
    runs = folder / "runs"
    rec = Record.read(runs)
    if rec is not None and rec.kind == "experiment":
        man = _read_json(runs / "manifest.json")
        if isinstance(man, dict) and man.get("experiment") in RESUMABLE:
            return man["experiment"]  # a sensitivity analysis or sweep whose runs are under way
    runs_man = _read_json(runs / "manifest.json")
    if isinstance(runs_man, dict) and runs_man.get("kind") == "spreadsim-experiment" \
            and runs_man.get("experiment") in RESUMABLE:
        return runs_man["experiment"]
    for kind, name in MANIFEST_OF.items():
        man = _read_json(folder / name)
        if isinstance(man, dict):
            if man.get(MARKER) == kind:
                return kind
            if kind == "calibration" and man.get("kind") == "spreadsim calibration":
                return kind
            if kind == "forecast" and "switch_at" in man and "horizon" in man:
                return kind
    return None


def _check_path(out: Path, option: str) -> None:
    text = str(out)
    if not text.strip():
        raise fail(option, "", "give a folder name")
    try:
        name_max = os.pathconf(out.parent if str(out.parent) else ".", "PC_NAME_MAX")
    except (OSError, ValueError):
        name_max = 255
    # the last part gets a suffix of 48 characters in the names of temporaries beside it
    long = [part for part in out.parts[:-1] if len(os.fsencode(part)) > name_max]
    if long or len(os.fsencode(out.name)) > name_max - 48 or len(os.fsencode(text)) > 4000:
        raise fail(option, "", f"the folder name is too long (at most {name_max - 48} bytes for the folder, "
                               f"{name_max} per parent folder)")
    try:
        real = out.resolve()
        cwd = Path.cwd().resolve()
    except (OSError, RuntimeError) as err:
        raise fail(option, text, f"cannot use this path: {type(err).__name__}") from None
    if real == cwd or real in cwd.parents:
        raise fail(option, text, "is the current folder or contains it; give a folder for the results, "
                                 "such as results/NAME")
    if out.is_symlink():
        raise fail(option, text, "is a symbolic link; give the folder itself")


def _nearest_existing(out: Path) -> Path:
    p = Path(os.path.abspath(out))
    while not p.exists() and not p.is_symlink():
        if p.parent == p:
            break
        p = p.parent
    return p


def _names(items: list[str], n: int = 3) -> str:
    return ", ".join(items[:n]) + (f" and {len(items) - n} more" if len(items) > n else "")


def foreign_message(out: Path, found: str | None, foreign: list[str]) -> str:
    """Why an output folder cannot be replaced: the entries spreadsim did not write, named."""
    what = f"a spreadsim '{found}' output" if found else "a spreadsim output"
    rec = Record.read(out)
    if rec is not None and rec.legacy:
        return (f"holds {what} begun by an earlier version of spreadsim, whose files its record ({RECORD}) does "
                f"not list, so they are treated as yours and never deleted ({_names(foreign)}); nothing was deleted: "
                "move or delete them yourself, or choose another folder")
    if rec is None:
        return (f"holds {what} manifest but no record of the files spreadsim wrote (no {RECORD}: an output of "
                f"an earlier version, or a copied manifest), so every file is treated as yours and never deleted "
                f"({_names(foreign)}); nothing was deleted: move or delete them yourself, or choose another folder")
    return (f"holds {what} but also files spreadsim did not write or that changed since ({_names(foreign)}); "
            "they are never deleted: move them, or choose another folder")


def check_out(out: str | Path, kind: str, *, replace: bool = False, resume: bool = False,
              option: str = "--out", flag: str = "--force") -> str:
    """Check that ``out`` may receive an output of ``kind``, before anything is run or written.

    Args:
        out: the folder.
        kind: the output's kind (a key of :data:`OUTPUT_FILES`).
        replace: the user asked to replace an earlier spreadsim output (``--force`` / ``--fresh``).
        resume: an earlier output of the same kind is continued (experiments).
        option, flag: the option and the replacing flag named in messages.

    Returns:
        ``"new"`` (missing or empty: nothing at all in it, hidden files included), ``"resume"`` (an
        earlier output of the same kind, continued) or ``"replace"`` (an earlier spreadsim output
        holding only what its record lists, unchanged: replaced).

    Raises:
        InputError: naming ``option`` and the folder (exit code 2).
    """
    out = Path(out)
    _check_path(out, option)
    text = str(out)
    if out.exists() and not out.is_dir():
        raise fail(option, text, "is a file, not a folder; give a folder for the results")
    base = _nearest_existing(out)
    if not base.is_dir():
        raise fail(option, text, f"{base} is a file, so no folder can be made under it")
    if not out.exists():
        if not os.access(base, os.W_OK | os.X_OK):
            raise fail(option, text, f"cannot create it: {base} is not writable")
        return "new"
    if not os.access(out, os.R_OK | os.W_OK | os.X_OK):
        raise fail(option, text, "is not writable (permission denied)")
    try:
        entries = sorted(p.name for p in out.iterdir())
    except OSError as err:
        raise fail(option, text, f"cannot list it: {_os_reason(err)}") from None
    if not entries:
        return "new"
    found = output_kind(out)
    if found is None:
        raise fail(option, text, f"is not empty and holds no spreadsim output (no spreadsim record or manifest; "
                                 f"it holds {_names(entries)}); spreadsim never writes into such a folder: choose "
                                 "a new or empty folder")
    if resume and found == kind and not replace:
        return "resume"
    if not replace:
        what = "an earlier spreadsim output" if found == kind else f"an earlier spreadsim '{found}' output"
        raise fail(option, text, f"holds {what}; add {flag} to replace it, or choose another folder")
    foreign = foreign_entries(out)
    if found == "figures" and Record.read(out) is None:
        legacy = _legacy_figures(out)
        foreign = [f for f in foreign if f not in legacy]
    if foreign:
        raise fail(option, text, foreign_message(out, found, foreign))
    if not os.access(out.parent if str(out.parent) else Path("."), os.W_OK | os.X_OK):
        raise fail(option, text, f"cannot replace it: {out.parent} is not writable")
    return "replace"


def _remove(paths: list[Path]) -> list[str]:
    """Delete owned entries, deepest first; a folder only once empty. Returns what stayed."""
    left = []
    for p in sorted(paths, key=lambda p: len(p.parts), reverse=True):
        try:
            if p.is_dir() and not p.is_symlink():
                if _stale_temp_dir(p) or _set_aside(p) == "remove" or Record.read(p) is not None:
                    left += remove_owned(p, rmdir=True)
                else:
                    p.rmdir()
            else:
                p.unlink()
        except FileNotFoundError:
            pass
        except OSError:
            left.append(str(p))
    return left


def remove_owned(folder: str | Path, *, keep: Iterable[str] = (), rmdir: bool = False,
                 legacy_files: Iterable[str] = ()) -> list[str]:
    """Delete what spreadsim wrote in ``folder`` (see :func:`owned_and_foreign`), never anything else.

    Args:
        keep: top-level names not to delete.
        rmdir: remove ``folder`` itself when nothing else is left in it.
        legacy_files: top-level names of an earlier-format figures folder listed by name only.

    Returns:
        The entries left (not spreadsim's), for messages.
    """
    folder = Path(folder)
    if _stale_temp_dir(folder):
        shutil.rmtree(folder, ignore_errors=True)  # a dead command's temporary: everything in it is its own
        return []
    owned, foreign = owned_and_foreign(folder)
    legacy = set(legacy_files)
    keep = set(keep)
    targets = [p for p in owned if p.parent != folder or p.name not in keep]
    targets += [folder / f for f in foreign if f in legacy]
    foreign = [f for f in foreign if f not in legacy]
    # the record goes last: until then a killed removal still knows what is spreadsim's
    rec = [p for p in targets if p == folder / RECORD]
    left = _remove([p for p in targets if p not in rec])
    if not left:
        left += _remove(rec)
    if rmdir and not foreign and not left:
        with contextlib.suppress(OSError):
            folder.rmdir()
    return foreign + left


def remove_output(out: str | Path) -> None:
    """Delete an earlier spreadsim output (only what its record lists, unchanged; refused with an
    InputError naming the other entries, and nothing deleted, if it holds anything else)."""
    out = Path(out)
    if not out.exists():
        return
    found = output_kind(out)
    foreign = foreign_entries(out)
    legacy = _legacy_figures(out) if found == "figures" and Record.read(out) is None else set()
    foreign = [f for f in foreign if f not in legacy]
    if found is None or foreign:
        raise fail(str(out), "", foreign_message(out, found, foreign) if found else
                   "holds no spreadsim output; nothing was deleted")
    left = remove_owned(out, legacy_files=legacy)
    if left:
        raise fail(str(out), "", f"could not delete {_names(left)}; nothing else was touched")


def clean_stale(target: str | Path) -> list[str]:
    """Tidy what a killed command left beside ``target``, recognised only by the records in it:
    temporary folders of dead processes (removed), and an earlier output set aside during a
    replacement (restored if the new one never arrived, else its recorded files deleted).

    Returns:
        What was removed or restored, for messages.
    """
    target = Path(target)
    parent = target.parent if str(target.parent) else Path(".")
    done: list[str] = []
    if not parent.is_dir():
        return done
    try:
        siblings = sorted(parent.iterdir(), key=lambda p: p.name)
    except OSError:
        return done
    for p in siblings:  # set-asides first: restoring one needs its temporary's record
        m = _OLD_DIR.match(p.name)
        if not m or m.group("name") != target.name:
            continue
        what = _set_aside(p)
        if what == "restore":
            os.replace(p, target)  # killed between the two renames: the earlier output comes back
            done.append(f"restored {target}")
        elif what == "remove":
            left = remove_owned(p, rmdir=True)
            done.append(f"removed {p}" + (f" (kept {_names(left)}: not spreadsim's)" if left else ""))
    for p in siblings:
        if _stale_temp_dir(p, target.name):
            shutil.rmtree(p, ignore_errors=True)
            done.append(f"removed {p}")
    return done


def _make_temp_dir(target: Path, kind: str, option: str, **extra: Any) -> tuple[Path, Record]:
    """A new temporary folder beside ``target`` with its record (token, target, process) in it."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        token = new_token()
        tmp = target.parent / f".{target.name}.spreadsim-tmp-{token}"
        tmp.mkdir()
        rec = Record.new(tmp, kind, token, target=target.name, pid=os.getpid(), host=_host(), **extra)
        rec.save()
    except OSError as err:
        raise fail(option, str(target), f"cannot create it: {_os_reason(err)}") from None
    return tmp, rec


def _move_into_place(tmp: Path, target: Path, option: str) -> None:
    """Rename a finished temporary folder to a missing or empty ``target`` (refused if something
    appeared in it meanwhile: a rename never replaces a folder that is not empty)."""
    try:
        os.replace(tmp, target)
    except OSError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise fail(option, str(target), f"cannot write it: {_os_reason(err)} (did something appear in it "
                                        "meanwhile?); nothing in it was touched") from None


def ensure_folder(out: str | Path, kind: str, *, dirs: Iterable[str] = (), lock: bool = True,
                  option: str = "--out") -> Record:
    """The record of an output folder that commands add to (experiments, sensitivity, sweep, figures),
    making the folder if it is missing or empty: built beside it with its record, its ``.lock`` and
    its sub-folders ``dirs``, then renamed into place. An existing earlier output without a record
    (written by an earlier version) gets one marked ``legacy``: its older files stay unlisted, so they
    are never deleted."""
    out = Path(out)
    clean_stale(out)
    if not out.exists() or (out.is_dir() and not out.is_symlink() and not any(out.iterdir())):
        tmp, rec = _make_temp_dir(out, kind, option)
        try:
            for d in dirs:
                (tmp / d).mkdir()
                rec.put_dir(d)
            if lock:
                (tmp / ".lock").touch()
                rec.put_file(".lock")
            for k in ("target", "pid", "host"):
                rec.data.pop(k, None)
            rec.save()
        except OSError as err:
            shutil.rmtree(tmp, ignore_errors=True)
            raise fail(option, str(out), f"cannot create it: {_os_reason(err)}") from None
        _move_into_place(tmp, out, option)
        got = Record.read(out)
        if got is None:  # pragma: no cover - replaced under our feet
            raise fail(option, str(out), "changed while it was being made; choose another folder")
        return got
    rec = Record.read(out)
    if rec is not None:
        return rec
    _, foreign = owned_and_foreign(out)
    rec = Record.new(out, kind, legacy=bool(foreign))
    for d in dirs:
        if not (out / d).exists():
            (out / d).mkdir()
            rec.put_dir(d)
    if lock and not (out / ".lock").exists():
        (out / ".lock").touch()
        rec.put_file(".lock")
    rec.save()
    return rec


class OwnedWriter:
    """Write files into an output folder that commands add to, each recorded in its ownership record.

    On entering: the folder is made (or its record read, see :func:`ensure_folder`), its ``.lock``
    held, a new session token recorded, and the temporaries of earlier (dead) sessions removed. Each
    file is written to ``.NAME.TOKEN.tmp``, synced, listed in the record with its size and hash
    (keeping the previous entry: either version is recognised), then renamed into place.
    """

    def __init__(self, folder: str | Path, kind: str, *, dirs: Iterable[str] = (), option: str = "--out"):
        self.folder = Path(folder)
        self.kind, self.dirs, self.option = kind, tuple(dirs), option
        self.token = new_token()
        self._fd: int | None = None
        self.rec: Record | None = None

    def __enter__(self) -> OwnedWriter:
        import fcntl

        self.rec = ensure_folder(self.folder, self.kind, dirs=self.dirs, option=self.option)
        fd = os.open(self.folder / ".lock", os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise fail(str(self.folder), "", "another spreadsim command is writing to this folder right now; "
                                             "wait for it to finish or choose another --out") from None
        self._fd = fd
        try:
            self.rec = Record.read(self.folder) or self.rec  # as it is now that we hold the lock
            self.tidy()
            self.rec.add_session(self.token)
            self.rec.save()
        except BaseException:
            self.release()
            raise
        return self

    def __exit__(self, *exc) -> bool:
        self.release()
        return False

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def tidy(self) -> None:
        """Remove the temporary files of the folder's recorded sessions (none is running: the lock)."""
        toks = set(self.rec.data["sessions"]) | {self.rec.data["next"]}
        for d in [self.folder, *(self.folder / x for x in CHUNK_DIRS)]:
            if not d.is_dir() or d.is_symlink():
                continue
            for p in d.iterdir():
                m = _TMP_FILE.match(p.name)
                if m and m.group("tok") in toks and p.is_file() and not p.is_symlink():
                    p.unlink(missing_ok=True)

    def temp(self, path: Path) -> Path:
        """The temporary file of ``path`` (inside the folder) for this session."""
        return path.with_name(temp_name(path.name, self.token))

    @contextlib.contextmanager
    def open(self, name: str, mode: str = "wb"):
        """Write ``name`` (relative to the folder): a file object on its temporary; on success it is
        synced, recorded and renamed into place, on failure removed."""
        path = self.folder / name
        tmp = self.temp(path)
        kw = {} if "b" in mode else {"encoding": "utf-8", "newline": ""}
        try:
            with open(tmp, mode.replace("w", "x"), **kw) as f:
                yield f
                f.flush()
                os.fsync(f.fileno())
            self.commit(name, tmp)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    @contextlib.contextmanager
    def path(self, name: str):
        """Like :meth:`open`, for writers that want a path (``savefig``, ``to_csv``)."""
        path = self.folder / name
        tmp = self.temp(path)
        try:
            yield tmp
            self.commit(name, tmp)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def write_bytes(self, name: str, data: bytes) -> None:
        with self.open(name, "wb") as f:
            f.write(data)

    def commit(self, name: str, tmp: Path) -> None:
        """Record the finished temporary ``tmp`` as ``name``, then rename it into place."""
        self.rec.put_file(name, tmp)
        self.rec.save()
        os.replace(tmp, self.folder / name)

    def adopt(self, names: Iterable[str]) -> None:
        """List files this session wrote by its own exact names (chunks) with their size and hash."""
        for name in names:
            if (self.folder / name).is_file():
                self.rec.put_file(name)
        self.rec.save()


class atomic_dir:
    """Context manager: a hidden temporary folder that becomes ``target`` only on success.

    On entering, the leftovers of a killed command are tidied (:func:`clean_stale`) and the folder
    is checked with :func:`check_out` (``replace`` allows an earlier spreadsim output to be
    replaced); the temporary folder ``.NAME.spreadsim-tmp-TOKEN`` is made, with a record naming its
    token, target and process. On success every file in it is recorded (size, SHA-256) and it is
    renamed into place: onto a missing or empty target directly, else the earlier output is set aside
    as ``.NAME.spreadsim-old-TOKEN``, the new one moved in, and the earlier one's recorded files
    deleted (anything else in it is kept). On failure the temporary folder is removed and ``target``
    is untouched.

    Args:
        target: the output folder.
        kind: the kind of output (see :data:`OUTPUT_FILES`).
        replace: allow replacing an earlier spreadsim output.
    """

    def __init__(self, target: str | Path, kind: str = "run", *, replace: bool = False, option: str = "--out",
                 flag: str = "--force"):
        self.target = Path(target)
        self.kind, self.replace, self.option, self.flag = kind, replace, option, flag

    def __enter__(self) -> Path:
        clean_stale(self.target)
        check_out(self.target, self.kind, replace=self.replace, option=self.option, flag=self.flag)
        self.tmp, self.rec = _make_temp_dir(self.target, self.kind, self.option)
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return False
        try:
            self.rec.scan()
            self.rec.save()
            sync_tree(self.tmp)  # the files' data on disk before the rename makes them the output
            state = check_out(self.target, self.kind, replace=self.replace, option=self.option, flag=self.flag)
            if state == "replace":
                legacy = _legacy_figures(self.target) if self.kind == "figures" and \
                    Record.read(self.target) is None else set()
                old = self.target.parent / f".{self.target.name}.spreadsim-old-{self.rec.token}"
                os.replace(self.target, old)
                os.replace(self.tmp, self.target)
                left = remove_owned(old, rmdir=True, legacy_files=legacy)
                if left:
                    warn(str(old), "", f"kept {_names(left)}: spreadsim did not write them (they appeared while "
                                       "the earlier output was replaced)")
            else:
                _move_into_place(self.tmp, self.target, self.option)
        except BaseException:
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise
        return False


def sync_tree(folder: Path) -> None:
    """Flush every file under ``folder`` to disk, then the folders themselves (before a rename
    publishes them: a rename can reach the disk before the data it names, leaving empty files
    after a power cut)."""
    dirs = []
    for root, _, files in os.walk(folder):
        dirs.append(root)
        for name in files:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    for d in reversed(dirs):
        fsync_dir(d)


def fsync_dir(path: str | Path) -> None:
    """Flush a folder's entries to disk (best effort: a file system that cannot is left as it is)."""
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

