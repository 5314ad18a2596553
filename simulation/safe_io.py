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

* a new or empty folder is written;
* a folder holding an earlier spreadsim output (its manifest says so, see :func:`output_kind`)
  is replaced only when asked (``--force``; experiments, which resume, use ``--fresh``), and only
  if it holds nothing spreadsim did not write;
* anything else (a non-empty folder without a spreadsim manifest, a file, a folder that is the
  current folder or one of its parents) is refused with exit code 2. spreadsim never deletes a
  file it did not write.

Results are written into a hidden temporary folder beside the target and renamed into place at
the end (:class:`atomic_dir`), so an interrupted command leaves the earlier output (or nothing);
the hidden leftovers of a killed command are removed when the next command writes there
(:func:`clean_stale`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from . import limits
from .errors import InputError, Problem, fail

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
    loader = yaml.SafeLoader(text)
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
#: the files (glob patterns) each kind of output writes; a folder holding anything else is not
#: replaced. Folders listed end with "/" and must hold spreadsim files too.
OUTPUT_FILES: dict[str, tuple[str, ...]] = {
    "run": ("manifest.json", "timeseries.csv", "sites.csv", "groups.csv", "site_history.parquet", "adoption.png"),
    "experiment": ("manifest.json", ".lock", "runs/", "timeseries/", "runs.csv", "summary.csv", "differences.csv",
                   "ensemble.csv", "groups.csv", "adoption.png", "differences.png"),
    "sensitivity": ("manifest.json", "runs/", "indices.csv", "second_order.csv", "noise.csv", "convergence.csv",
                    "wins.csv", "wins_by_parameter.csv", "samples.csv", "report.txt", "*.png"),
    "sweep": ("manifest.json", "runs/", "sweep.csv", "runs.csv", "bands.csv", "*.png"),
    "calibration": ("calibration.json", "posterior.csv", "posterior.parquet", "intervals.csv", "populations.csv",
                    "observed.csv", "predictive.csv", "check.json", "summary.txt", "fit.png", "marginals.png",
                    "patterns.csv", "forecast/"),
    "patterns": ("manifest.json", "patterns.csv", "directions.csv"),
    "forecast": ("forecast.json", "bands.csv", "bands.parquet", "runs.csv", "runs.parquet", "table.csv",
                 "forecast_*.png"),
    "figures": ("*.png", "figures.json"),
}
#: the manifest file of each kind
MANIFEST_OF = {"calibration": "calibration.json", "forecast": "forecast.json", "figures": "figures.json"}
#: names of spreadsim's own hidden temporaries (inside an output folder or beside it)
TEMP_PATTERN = re.compile(r"^\.(tmp-|sensitivity\.|sweep\.|spreadsim-|.+\.spreadsim-(tmp-\d+-[0-9a-f]+|old)$)")
#: the kinds that continue an earlier output of the same kind in the same folder (resume)
RESUMABLE = ("experiment", "sensitivity", "sweep")


def mark(manifest: dict, kind: str) -> dict:
    """``manifest`` with the spreadsim marker naming ``kind`` (first key, for people reading it)."""
    return {MARKER: kind, **{k: v for k, v in manifest.items() if k != MARKER}}


def _read_json(path: Path) -> Any:
    try:
        if not path.is_file() or path.stat().st_size > 64 << 20:
            return None
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None


def output_kind(folder: str | Path) -> str | None:
    """The kind of spreadsim output a folder holds (``run``, ``experiment``, ``sensitivity``,
    ``sweep``, ``calibration``, ``forecast``, ``figures``), or None.

    Read from the marker in its manifest; manifests written before the marker existed are
    recognised by their keys.
    """
    folder = Path(folder)
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
    runs = _read_json(folder / "runs" / "manifest.json")
    if isinstance(runs, dict) and runs.get("kind") == "spreadsim-experiment" and runs.get("experiment") in RESUMABLE:
        return runs["experiment"]  # a sensitivity analysis or sweep whose runs are under way
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


def foreign_entries(folder: str | Path, kind: str) -> list[str]:
    """Entries of an output folder that spreadsim did not write as output of ``kind``."""
    import fnmatch

    folder = Path(folder)
    patterns = OUTPUT_FILES[kind]
    out = []
    for p in sorted(folder.iterdir(), key=lambda p: p.name):
        if TEMP_PATTERN.match(p.name):
            continue
        is_dir = p.is_dir() and not p.is_symlink()
        ok = False
        for pat in patterns:
            if pat.endswith("/"):
                if is_dir and p.name == pat[:-1]:
                    ok = _spreadsim_subfolder(p, kind)
                    break
            elif not is_dir and fnmatch.fnmatchcase(p.name, pat):
                ok = True
                break
        if not ok:
            out.append(p.name + ("/" if is_dir else ""))
    return out


def _spreadsim_subfolder(p: Path, kind: str) -> bool:
    if p.name == "forecast":
        return output_kind(p) == "forecast" and not foreign_entries(p, "forecast")
    if p.name == "runs" and kind in ("sensitivity", "sweep"):
        return not any(p.iterdir()) or (output_kind(p) == "experiment" and not foreign_entries(p, "experiment"))
    # an experiment's chunk folders hold Parquet chunks and their temporaries only
    return all(c.is_file() and (c.suffix == ".parquet" or TEMP_PATTERN.match(c.name)) for c in p.iterdir())


def _check_path(out: Path, option: str) -> None:
    text = str(out)
    if not text.strip():
        raise fail(option, "", "give a folder name")
    try:
        name_max = os.pathconf(out.parent if str(out.parent) else ".", "PC_NAME_MAX")
    except (OSError, ValueError):
        name_max = 255
    long = [part for part in out.parts if len(os.fsencode(part)) > name_max]
    if long or len(os.fsencode(text)) > 4000:
        raise fail(option, "", f"the folder name is too long (at most {name_max} bytes per part)")
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
        ``"new"`` (missing or empty), ``"resume"`` (an earlier output of the same kind, continued)
        or ``"replace"`` (an earlier spreadsim output, replaced).

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
        entries = [p for p in out.iterdir() if not TEMP_PATTERN.match(p.name)]
    except OSError as err:
        raise fail(option, text, f"cannot list it: {_os_reason(err)}") from None
    if not entries:
        return "new"
    found = output_kind(out)
    if found is None:
        names = ", ".join(sorted(p.name for p in entries)[:3]) + ("..." if len(entries) > 3 else "")
        raise fail(option, text, f"is not empty and holds no spreadsim output (no spreadsim manifest; it holds "
                                 f"{names}); spreadsim never writes into such a folder: choose a new or empty folder")
    if resume and found == kind and not replace:
        return "resume"
    if not replace:
        what = "an earlier spreadsim output" if found == kind else f"an earlier spreadsim '{found}' output"
        raise fail(option, text, f"holds {what}; add {flag} to replace it, or choose another folder")
    foreign = foreign_entries(out, found)
    if foreign:
        names = ", ".join(foreign[:3]) + ("..." if len(foreign) > 3 else "")
        raise fail(option, text, f"holds a spreadsim '{found}' output but also files spreadsim did not write "
                                 f"({names}); they are never deleted: move them, or choose another folder")
    if not os.access(out.parent if str(out.parent) else Path("."), os.W_OK | os.X_OK):
        raise fail(option, text, f"cannot replace it: {out.parent} is not writable")
    return "replace"


def remove_output(out: str | Path) -> None:
    """Delete an earlier spreadsim output (its own files only: checked by :func:`foreign_entries`)."""
    out = Path(out)
    kind = output_kind(out)
    if kind is None or foreign_entries(out, kind):
        raise fail(str(out), "", "does not hold only a spreadsim output; nothing was deleted")
    for p in out.iterdir():
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink()


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_TMP_DIR = re.compile(r"^\.(?P<name>.+)\.spreadsim-tmp-(?P<pid>\d+)-[0-9a-f]+$")


def clean_stale(target: str | Path) -> list[str]:
    """Tidy what a killed command left beside ``target``: temporary folders of dead processes, and
    the previous output set aside during a replacement (restored if the new one never arrived).

    Returns:
        What was removed or restored, for messages.
    """
    target = Path(target)
    parent = target.parent if str(target.parent) else Path(".")
    done = []
    if not parent.is_dir():
        return done
    old = parent / f".{target.name}.spreadsim-old"
    if old.is_dir() and not old.is_symlink():
        if not target.exists():
            os.replace(old, target)  # killed between the two renames: the earlier output comes back
            done.append(f"restored {target}")
        else:
            shutil.rmtree(old, ignore_errors=True)
            done.append(f"removed {old}")
    try:
        siblings = list(parent.iterdir())
    except OSError:
        return done
    for p in siblings:
        m = _TMP_DIR.match(p.name)
        if m and m.group("name") == target.name and p.is_dir() and not _pid_alive(int(m.group("pid"))):
            shutil.rmtree(p, ignore_errors=True)
            done.append(f"removed {p}")
    return done


class atomic_dir:
    """Context manager: a hidden temporary folder that becomes ``target`` only on success.

    On entering, the folder is checked with :func:`check_out` (``replace`` allows an earlier
    spreadsim output to be replaced) and the leftovers of a killed command are tidied; on success
    the temporary folder is renamed into place (an earlier output is set aside, the new one moved
    in, then the earlier one deleted); on failure it is removed and ``target`` is untouched.

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
        try:
            self.target.parent.mkdir(parents=True, exist_ok=True)
            self.tmp = self.target.parent / f".{self.target.name}.spreadsim-tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            self.tmp.mkdir()
        except OSError as err:
            raise fail(self.option, str(self.target), f"cannot create it: {_os_reason(err)}") from None
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return False
        try:
            sync_tree(self.tmp)  # the files' data on disk before the rename makes them the output
            state = check_out(self.target, self.kind, replace=self.replace, option=self.option, flag=self.flag)
            if state == "replace" or (self.target.exists() and state == "new"):
                old = self.target.parent / f".{self.target.name}.spreadsim-old"
                shutil.rmtree(old, ignore_errors=True)
                os.replace(self.target, old)
                os.replace(self.tmp, self.target)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(self.tmp, self.target)
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
        try:
            fd = os.open(d, os.O_RDONLY)
        except OSError:
            continue
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)


def replace_files(tmp: Path, out: Path, last: Iterable[str] = ("manifest.json",)) -> None:
    """Move every file of ``tmp`` into ``out`` (each rename atomic), the names in ``last`` at the end."""
    last = [n for n in last if (tmp / n).exists()]
    names = sorted(p.name for p in tmp.iterdir() if p.name not in last)
    for name in names + last:
        os.replace(tmp / name, out / name)
