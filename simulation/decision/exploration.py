"""``explore``: every strategy in every sampled future, on common random numbers.

A Latin hypercube (scipy.stats.qmc) over the scenario's ``uncertainties:`` gives N futures. Every
strategy (the baseline, the scenario as written, included) runs in every future with the same R
replicate seeds, so replicate *r* of two strategies in one future differ only by the strategy
(common random numbers), and replicate *r* of one strategy in two futures differ only by the
uncertain values. The runs go through :func:`simulation.experiments.execute`: the R replicates
of one (future, strategy) share their parameters and run side by side in one batch model, tasks
of many runs are spread over processes or a Dask cluster, every finished task is stored at once
as a Parquet chunk under ``DIR/runs/``, and an interrupted (even killed) exploration continues
where it stopped when run again. Memory does not grow with the number of runs beyond one row of
outcomes per run.

The result, ``DIR/experiments.parquet``, has one row per future x strategy x replicate with the
columns ``sample``, ``strategy``, ``replicate``, ``seed``, one column per uncertainty named by its
key path, and every summary output.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError, Problem
from .spec import Uncertain, latin_hypercube, uncertainties

RESULT = "experiments.parquet"
SAMPLES = "samples.csv"
_LABEL = re.compile(r"^s(\d+)/(.+)$")


def label(sample: int, strategy: str) -> str:
    """The run label of a strategy in a future (``s17/cascade``)."""
    return f"s{int(sample)}/{strategy}"


def design(scenario, samples: int, seed: int, items: list[Uncertain] | None = None) -> pd.DataFrame:
    """The futures: one row per sample, one column per uncertainty (named by its key path)."""
    items = uncertainties(scenario) if items is None else items
    rows = latin_hypercube(items, samples, seed)
    df = pd.DataFrame(rows, columns=[u.path for u in items])
    df.insert(0, "sample", np.arange(samples, dtype=np.int64))
    return df


def specs_for(futures: pd.DataFrame, strategies: dict[str, dict], seeds: list[int]) -> list:
    """Run specs, sample-major: a task then holds the replicates of a few (future, strategy) pairs,
    each pair one batch. A strategy's own settings win over an uncertainty on the same key."""
    from ..experiments import RunSpec

    cols = [c for c in futures.columns if c != "sample"]
    values = futures[cols].to_dict("records")
    out = []
    for s, unc in zip(futures["sample"].tolist(), values, strict=True):
        unc = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in unc.items()}
        for name, ov in strategies.items():
            merged = {**unc, **ov}
            lab = label(s, name)
            out.extend(RunSpec(lab, r, seed, merged) for r, seed in enumerate(seeds))
    return out


def explore(scenario, samples: int = 100, replicates: int = 10, *, strategies=None, seed: int | None = None,
            out: str | Path | None = None, **kwargs) -> pd.DataFrame:
    """Run every strategy at every sampled future on common random numbers.

    Args:
        scenario: a Scenario or the path to its file; it needs an ``uncertainties:`` section.
        samples: futures drawn from the Latin hypercube.
        replicates: runs per future and strategy (the same seeds everywhere).
        strategies: None (the baseline and every strategy of the scenario), names, or
            ``{name: {key.path: value}}``; the baseline is always included.
        seed: base seed (default: the scenario's); it decides the futures and the replicate seeds.
        out: folder for the runs and ``experiments.parquet``; None keeps everything in memory.
        **kwargs: passed to :func:`simulation.experiments.execute` (``executor``, ``workers``,
            ``scheduler``, ``client``, ``resume``, ``progress``, ``chunk_size``).

    Returns:
        The experiments table (see the module docstring); also written to ``out/experiments.parquet``.
    """
    from .. import limits
    from ..experiments import execute, replicate_seed
    from ..experiments.core import _check_counts, as_scenario, resolve_strategies

    sc = as_scenario(scenario)
    items = uncertainties(sc)
    base = _check_counts(sc, replicates, seed)
    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples < 1:
        raise InputError(Problem("--samples", "", f"must be a whole number of at least 1 (got {samples!r})"))
    named = resolve_strategies(sc, strategies)
    named = {"baseline": named.pop("baseline", {}), **named}
    limits.check_runs(int(samples) * len(named) * int(replicates), "--samples")
    futures = design(sc, int(samples), base, items)
    paths = {u.path for u in items}
    for name, ov in named.items():
        for key in sorted(paths & set(ov)):
            from ..errors import warn

            warn(sc.source, f"strategies.{name}: {key}", "is also in uncertainties: this strategy sets it, so its "
                 "own value is used in every future (and shown in its rows of experiments.parquet)")
    seeds = [replicate_seed(base, r) for r in range(int(replicates))]
    specs = specs_for(futures, named, seeds)
    meta = {"experiment": "explore", "seed": base, "replicates": int(replicates), "samples": int(samples),
            "baseline": "baseline", "strategies": list(named),
            "explore": {"uncertainties": {u.path: (list(u.values) if u.kind == "discrete" else [u.low, u.high])
                                          for u in items},
                        "strategies": {k: _plain(v) for k, v in named.items()}}}
    if out is not None and not kwargs.get("resume", True):
        for name in (RESULT, SAMPLES):  # an earlier exploration's table, about to be discarded with its runs
            (Path(out) / name).unlink(missing_ok=True)
        _remove_analyses(Path(out))
    res = execute(sc, specs, out=out, meta=meta, baseline=label(0, "baseline"), **kwargs)
    frame = _table(res.runs, futures, named, [u.path for u in items])
    if out is not None:
        from ..experiments.store import write_csv_atomic, write_table_atomic
        import pyarrow as pa

        write_table_atomic(pa.Table.from_pandas(frame, preserve_index=False), Path(out) / RESULT)
        write_csv_atomic(Path(out) / SAMPLES, futures)
        _remove_analyses(Path(out))  # they were made from the previous table

    frame.attrs["info"] = res.info
    return frame


def _remove_analyses(out: Path) -> None:
    """Delete the robust/, discover/ and voi/ subfolders of an exploration: only what spreadsim
    recorded writing there, unchanged since (anything else in them is the user's and stays)."""
    from ..safe_io import ANALYSIS_FILES, Record, remove_owned

    for name in ANALYSIS_FILES:
        folder = out / name
        if folder.is_dir() and not folder.is_symlink() and Record.read(folder) is not None:
            remove_owned(folder, rmdir=True)


def _plain(v: Any) -> Any:
    from ..experiments.core import canonical

    return canonical(v)


def _table(runs: pd.DataFrame, futures: pd.DataFrame, named: dict[str, dict], paths: list[str]) -> pd.DataFrame:
    """The runs of an exploration as its experiments table (an uncertain key a strategy sets shows
    the strategy's value in its rows: what the runs used)."""
    order = list(named)
    from ..runner import SUMMARY_KEYS

    parts = runs["strategy"].str.extract(_LABEL)
    df = pd.DataFrame({"sample": parts[0].astype(np.int64), "strategy": parts[1],
                       "replicate": runs["replicate"].to_numpy(np.int64), "seed": runs["seed"].to_numpy(np.int64)})
    keys = [k for k in SUMMARY_KEYS if k in runs.columns]
    df = pd.concat([df, runs[keys].reset_index(drop=True)], axis=1)
    df = df.merge(futures, on="sample", how="left")
    df["strategy"] = pd.Categorical(df["strategy"], categories=order)
    df = df.sort_values(["sample", "strategy", "replicate"], kind="stable").reset_index(drop=True)
    df["strategy"] = df["strategy"].astype(str)
    for name, ov in named.items():
        for key in set(paths) & set(ov):
            rows = df["strategy"] == name
            if df[key].dtype.kind in "biuf" and not isinstance(ov[key], (int, float)):
                df[key] = df[key].astype(object)
            df.loc[rows, key] = ov[key]
    return df[["sample", "strategy", "replicate", "seed", *paths, *keys]]


# ------------------------------------------------------------------------------------- reading
class Exploration:
    """An exploration read back from its folder (or made in memory): ``.table`` (pandas),
    ``.cube()`` (xarray), the uncertainties and the strategies, in order."""

    def __init__(self, table: pd.DataFrame, uncertainties: list[str], strategies: list[str], *,
                 folder: Path | None = None, meta: dict | None = None):
        self.table = table
        self.uncertainties = list(uncertainties)
        self.strategies = list(strategies)
        self.folder = folder
        self.meta = meta or {}

    @property
    def outputs(self) -> list[str]:
        from ..runner import SUMMARY_KEYS

        return [k for k in SUMMARY_KEYS if k in self.table.columns]

    @property
    def futures(self) -> pd.DataFrame:
        """One row per sample: its uncertain values (from the first strategy's rows, the baseline in
        an exploration: a strategy may set an uncertain key itself)."""
        t = self.table
        return (t[t["strategy"] == self.strategies[0]].drop_duplicates("sample")[["sample", *self.uncertainties]]
                .sort_values("sample").reset_index(drop=True))

    def values(self, outcome: str) -> np.ndarray:
        """``outcome`` as an array sample x strategy x replicate (NaN where a run is missing)."""
        t = self.table
        samples = np.sort(t["sample"].unique())
        reps = np.sort(t["replicate"].unique())
        arr = np.full((len(samples), len(self.strategies), len(reps)), np.nan)
        si = np.searchsorted(samples, t["sample"].to_numpy())
        ki = pd.Categorical(t["strategy"], categories=self.strategies).codes
        ri = np.searchsorted(reps, t["replicate"].to_numpy())
        ok = ki >= 0
        arr[si[ok], ki[ok], ri[ok]] = t[outcome].to_numpy(float)[ok]
        return arr

    def cube(self, outputs: list[str] | None = None):
        """The outputs as an xarray Dataset with dimensions sample x strategy x replicate, and the
        uncertain values as coordinates along ``sample``."""
        import xarray as xr

        outputs = self.outputs if outputs is None else list(outputs)
        t = self.table
        samples = np.sort(t["sample"].unique())
        reps = np.sort(t["replicate"].unique())
        fut = self.futures.set_index("sample").reindex(samples)
        coords = {"sample": samples, "strategy": self.strategies, "replicate": reps,
                  **{u: ("sample", fut[u].to_numpy()) for u in self.uncertainties}}
        return xr.Dataset({o: (("sample", "strategy", "replicate"), self.values(o)) for o in outputs}, coords=coords)

    def __repr__(self) -> str:
        n = self.table["sample"].nunique()
        r = self.table["replicate"].nunique()
        return (f"Exploration({n} futures x {len(self.strategies)} strategies x {r} replicates; "
                f"uncertainties {', '.join(self.uncertainties)})")


def from_frame(frame: pd.DataFrame, uncertainties: list[str] | None = None,
               strategies: list[str] | None = None) -> Exploration:
    """An exploration from an experiments table (the columns of ``experiments.parquet``)."""
    from ..runner import SUMMARY_KEYS

    missing = [c for c in ("sample", "strategy", "replicate") if c not in frame.columns]
    if missing:
        raise InputError(Problem("<python>", ", ".join(missing), "the experiments table needs these columns"))
    if uncertainties is None:
        uncertainties = [c for c in frame.columns if c not in ("sample", "strategy", "replicate", "seed")
                         and c not in SUMMARY_KEYS and "." in c]
    if strategies is None:
        strategies = list(dict.fromkeys(frame["strategy"].astype(str)))
    return Exploration(frame, uncertainties, strategies)


def load(folder: str | Path) -> Exploration:
    """Read ``folder/experiments.parquet`` (written by ``spreadsim explore``).

    Raises:
        InputError: the folder or its table is missing or not an exploration.
    """
    folder = Path(folder)
    path = folder / RESULT
    if not folder.is_dir():
        raise InputError(Problem(str(folder), "", "no such folder; give the --out folder of 'spreadsim explore'"))
    if not path.is_file():
        raise InputError(Problem(str(folder), RESULT, "not found: this folder holds no finished exploration (run "
                                 "'spreadsim explore SCENARIO --out " + str(folder) + "' first, or again to finish it)"))
    try:
        frame = pd.read_parquet(path)
    except Exception as err:  # a damaged file
        raise InputError(Problem(str(path), "", f"cannot be read ({type(err).__name__}: {err})")) from None
    meta = {}
    man = folder / "manifest.json"
    if man.is_file():
        try:
            meta = json.loads(man.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            meta = {}
    ex = meta.get("explore", {}) if isinstance(meta, dict) else {}
    unc = list(ex.get("uncertainties", {})) or None
    strategies = [s for s in meta.get("strategies", []) if isinstance(s, str)] if isinstance(meta, dict) else []
    present = list(dict.fromkeys(frame["strategy"].astype(str)))
    strategies = [s for s in strategies if s in present] + [s for s in present if s not in strategies]
    e = from_frame(frame, unc, strategies)
    e.folder, e.meta = folder, meta
    return e
