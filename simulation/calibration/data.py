"""Observed roll-out data, the model series it is compared with, and the distance between them.

Two formats are read (CSV):

* **counts over time**: a ``month`` column (whole numbers, month 0 = the start) and one or more
  columns named like the model's monthly series (``adopted``, ``full``, ``exploration``,
  ``ever_adopted``, ``adopted_share``, ``reach``...); a blank cell is a month not observed;
* **a site table**: a ``site`` column and an ``adoption_month`` (or ``adopted_month``) column, blank
  for a site that had not adopted; it becomes ``ever_adopted``, the cumulative number of sites that
  have adopted by each month, from month 0 to the last adoption month.

The distance (used by ABC-SMC and by the optimiser) is the root mean square of the differences
between simulated and observed values over the observed months and targets, each target divided
by its natural scale first: the number of sites for counts, 1 for shares and fidelity, the largest
observed absolute value otherwise. It reads as "the typical gap between the curves, as a share of
all sites".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, Problem, fail
from ..model import SERIES, STAGES

COUNT_SERIES = STAGES + ("adopted", "ever_adopted", "supported", "trainers")
SHARE_SERIES = ("adopted_share", "mean_fidelity")
MODEL_SERIES = STAGES + tuple(SERIES) + ("ever_adopted",)
ADOPTION_COLUMNS = ("adoption_month", "adopted_month")


@dataclass
class Observed:
    """Observed data as a table: ``month`` plus one column per series (NaN = not observed).

    Attributes:
        table: the observed values, one row per month from 0 to the last month.
        source: the file it came from.
        kind: ``counts`` or ``sites``.
        n_sites: number of sites in a site table (None for counts).
    """

    table: pd.DataFrame
    source: str
    kind: str
    n_sites: int | None = None

    @property
    def columns(self) -> list[str]:
        return [c for c in self.table.columns if c != "month"]

    @property
    def last_month(self) -> int:
        return int(self.table["month"].max())

    def select(self, targets: tuple[str, ...] | None, src: str = "<python>") -> Observed:
        """Keep only the target series (default: every column the model also makes)."""
        if targets is None:
            cols = [c for c in self.columns if c in MODEL_SERIES]
            if not cols:
                raise fail(self.source, "columns", f"no column the model makes (the header has {len(self.columns) + 1} "
                                                   f"columns); the model makes {', '.join(MODEL_SERIES)}", line=1)
        else:
            probs = []
            for t in targets:
                if t not in MODEL_SERIES:
                    probs.append(Problem(src, "calibration.targets", f"'{t}' is not a series the model makes; use one of {', '.join(MODEL_SERIES)}"))
                elif t not in self.columns:
                    probs.append(Problem(self.source, t, f"the data has no column '{t}' in its header", line=1))
            if probs:
                raise InputError(probs)
            cols = list(targets)
        if not np.isfinite(self.table[cols].to_numpy(dtype=float)).any():
            raise fail(self.source, ", ".join(cols), "holds no observed value in the series fitted (every cell is blank)")
        return Observed(self.table[["month", *cols]].copy(), self.source, self.kind, self.n_sites)


def _read(path: Path) -> pd.DataFrame:
    import io

    from ..limits import MAX_OBSERVED_BYTES
    from ..safe_io import decode_text, read_capped

    from ..network import check_csv_shape

    text = decode_text(read_capped(path, MAX_OBSERVED_BYTES, "data file"), path)
    check_csv_shape(text, path)  # a column named twice, a ragged row
    try:
        df = pd.read_csv(io.StringIO(text), dtype=str, skipinitialspace=True, keep_default_na=False, na_values=[""],
                         index_col=False)
    except pd.errors.EmptyDataError:
        raise fail(str(path), "", "is empty: observed data needs a header line (such as month,adopted)") from None
    except (pd.errors.ParserError, ValueError) as err:
        import re

        m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(err))
        if m:
            raise fail(str(path), "", f"line {m.group(2)} has {m.group(3)} fields but the header has {m.group(1)}",
                       line=int(m.group(2))) from None
        raise fail(str(path), "", "cannot read as CSV") from None
    df.columns = [str(c).strip() for c in df.columns]
    return df


def _lines(mask) -> str:
    rows = (np.flatnonzero(np.asarray(mask)) + 2).tolist()
    head = ", ".join(map(str, rows[:5])) + (f" and {len(rows) - 5} more" if len(rows) > 5 else "")
    return ("line " if len(rows) == 1 else "lines ") + head


def _whole(values: pd.Series, path: Path, col: str, allow_blank: bool, top: int, horizon: bool = False) -> np.ndarray:
    x = pd.to_numeric(values, errors="coerce")
    bad = (x.isna() & values.notna()) | ((x % 1 != 0) & x.notna()) | (x < 0) | ~np.isfinite(x.fillna(0))
    if not allow_blank:
        bad |= values.isna()
    if bad.any():
        raise fail(str(path), col, f"must be whole numbers >= 0{'' if allow_blank else ' (no blanks)'}; see {_lines(bad)}")
    over = x > top
    if over.any():
        if horizon:
            raise fail(str(path), col, f"month {int(x[over].iloc[0]):,} is after the end of the run: observed months "
                                       f"may be at most {top:,} (the scenario's months); see {_lines(over)}: run the "
                                       "scenario long enough to cover the data (months:), or drop the later months")
        raise fail(str(path), col, f"must be at most {top:,}; see {_lines(over)}")
    return x.to_numpy(dtype=float)


def load_observed(path: str | Path, months: int | None = None) -> Observed:
    """Read observed counts or a site table (see the module docstring).

    Args:
        path: the CSV file.
        months: the scenario's horizon: no observed month may lie beyond it (default: the
            longest horizon a scenario may have).

    Raises:
        InputError: naming the file, the column and the lines (never the file's content): missing
            file, no ``month`` column (and not a site table), months that are not whole numbers,
            repeat or lie beyond the horizon, values that are not finite numbers, negative counts,
            shares outside [0, 1], no observed value at all.
    """
    path = Path(path)
    return _parse(_read(path), path, months)


def _parse(df: pd.DataFrame, path: Path, months: int | None) -> Observed:
    """Observed data from a table of text cells (blank = NaN), checked as :func:`load_observed` says."""
    from ..limits import MAX_MONTHS

    top = MAX_MONTHS if months is None else int(months)
    cols = list(df.columns)
    if "month" in cols:
        months_ = _whole(df["month"], path, "month", allow_blank=False, top=top, horizon=months is not None).astype(int)
        dup = pd.Series(months_).duplicated(keep=False).to_numpy()
        if dup.any():
            raise fail(str(path), "month", f"months repeat, on {_lines(dup)}")
        if len(months_) == 0:
            raise fail(str(path), "month", "no observed months (only a header)", line=1)
        probs = []
        table = pd.DataFrame({"month": np.arange(int(months_.max()) + 1)})
        series = [c for c in cols if c != "month"]
        if not series:
            raise fail(str(path), "", "only a 'month' column: add the observed series (e.g. adopted)", line=1)
        for c in series:
            x = pd.to_numeric(df[c], errors="coerce")
            bad = x.isna() & df[c].notna()
            if bad.any():
                if c in MODEL_SERIES:
                    probs.append(Problem(str(path), c, f"not a number on {_lines(bad)}"))
                continue  # other text columns (dates, notes) are allowed and ignored
            if c in MODEL_SERIES or c not in ADOPTION_COLUMNS:
                nonfinite = x.notna() & ~np.isfinite(x.fillna(0))
                if nonfinite.any():
                    probs.append(Problem(str(path), c, f"not a finite number on {_lines(nonfinite)}"))
                    continue
            if c in COUNT_SERIES and (x < 0).any():
                probs.append(Problem(str(path), c, f"counts cannot be negative; see {_lines(x < 0)}"))
                continue
            if c in SHARE_SERIES and ((x < 0) | (x > 1)).any():
                probs.append(Problem(str(path), c, f"shares must lie in [0, 1]; see {_lines((x < 0) | (x > 1))}"))
                continue
            col = np.full(len(table), np.nan)
            col[months_] = x.to_numpy(dtype=float)
            if c == "ever_adopted":  # cumulative: it can only grow from one observed month to the next
                vals = x.to_numpy(dtype=float)
                rows = [r for r in np.argsort(months_, kind="stable") if not np.isnan(vals[r])]
                falls = [b for a, b in zip(rows, rows[1:]) if vals[b] < vals[a]]
                if falls:
                    probs.append(Problem(str(path), c, f"a cumulative count cannot decrease, but it falls on line "
                                                       f"{falls[0] + 2} (from the month observed before); check the "
                                                       "data, or give the count per month as 'adopted'"))
                    continue
            table[c] = col
        if probs:
            raise InputError(probs)
        if len(table.columns) == 1:
            raise fail(str(path), "", "no numeric series besides 'month' (text columns are ignored)", line=1)
        if not np.isfinite(table.drop(columns="month").to_numpy(dtype=float)).any():
            raise fail(str(path), "", "holds no observed value: every cell of the series is blank")
        return Observed(table, str(path), "counts")
    adopt = next((c for c in ADOPTION_COLUMNS if c in cols), None)
    if "site" in cols and adopt is not None:
        am = _whole(df[adopt], path, adopt, allow_blank=True, top=top, horizon=months is not None)
        bad_site = df["site"].isna() | df["site"].duplicated(keep=False)
        if bad_site.any():
            raise fail(str(path), "site", f"site ids must be unique and not blank; see {_lines(bad_site)}")
        if len(df) == 0:
            raise fail(str(path), "site", "the site table has no sites (only a header)", line=1)
        adopted = am[~np.isnan(am)].astype(int)
        last = int(adopted.max()) if len(adopted) else 0
        ever = np.cumsum(np.bincount(adopted, minlength=last + 1)).astype(float)
        table = pd.DataFrame({"month": np.arange(last + 1), "ever_adopted": ever})
        return Observed(table, str(path), "sites", n_sites=len(df))
    raise fail(str(path), "month",
               "no 'month' column: observed counts need 'month' plus series columns (e.g. month,adopted); "
               "a site table needs 'site' and 'adoption_month'", line=1)


def as_observed(data: Observed | pd.DataFrame | str | Path, months: int | None = None) -> Observed:
    """Observed data from a file path, an :class:`Observed` or a DataFrame with a ``month`` column
    (a DataFrame is checked like a file; ``months``: the scenario's horizon)."""
    if isinstance(data, Observed):
        return data
    if isinstance(data, pd.DataFrame):
        if "month" not in data.columns:
            raise fail("<DataFrame>", "month", "observed data needs a 'month' column")
        text = data.astype(object).where(data.notna(), None).map(lambda v: None if v is None else str(v))
        text.columns = [str(c).strip() for c in text.columns]
        return _parse(text, Path("<DataFrame>"), months)
    return load_observed(data, months)


# ------------------------------------------------------------------------------ model series
def model_series(model, names: list[str] | tuple[str, ...], upto: int | None = None, block: int = 0) -> np.ndarray:
    """The named monthly series of a (partly) run model, months 0..``upto``, as a (months, series) array.

    ``block`` picks one replicate of a batch model (``SpreadModel(scenario, [seed, ...])``).
    """
    t = model.month if upto is None else upto
    batched = getattr(model, "R", 1) > 1
    counts = model.counts_b[block] if batched else model.counts
    out = np.empty((t + 1, len(names)))
    for j, name in enumerate(names):
        if name in STAGES:
            out[:, j] = counts[: t + 1, STAGES.index(name)]
        elif name == "ever_adopted":
            am = model.adopted_month[model.block_slice(block)] if batched else model.adopted_month
            am = am[(am >= 0) & (am <= t)]
            out[:, j] = np.cumsum(np.bincount(am, minlength=t + 1))[: t + 1]
        else:
            out[:, j] = (model.series_b[name][block] if batched else model.series[name])[: t + 1]
    return out


def scales(names, observed: np.ndarray, n_sites: int) -> np.ndarray:
    """Each target's natural scale: sites for counts, 1 for shares, else its largest observed value."""
    out = np.ones(len(names))
    for j, name in enumerate(names):
        if name in COUNT_SERIES:
            out[j] = float(n_sites)
        elif name in SHARE_SERIES:
            out[j] = 1.0
        else:
            top = np.nanmax(np.abs(observed[:, j])) if np.isfinite(observed[:, j]).any() else 1.0
            out[j] = top if top > 0 else 1.0
    return out


class Distance:
    """Root mean square of the scaled differences over the observed cells (see the module docstring).

    Args:
        observed: (months, targets) array, NaN where not observed.
        scale: per-target scale.
        months: the months compared (rows of ``observed`` and of the simulated curves).
    """

    def __init__(self, observed: np.ndarray, scale: np.ndarray, months: np.ndarray | None = None):
        self.months = np.arange(observed.shape[0]) if months is None else np.asarray(months)
        obs = observed[self.months]
        self.mask = np.isfinite(obs)
        self.obs = np.where(self.mask, obs, 0.0) / scale
        self.scale = scale
        self.cells = max(int(self.mask.sum()), 1)

    def of(self, curve: np.ndarray) -> float:
        """Distance of one simulated (months, targets) curve from the observed data."""
        sim = curve[self.months]
        if sim.shape != self.obs.shape or not np.isfinite(sim[self.mask]).all():
            return float("inf")
        diff = (sim / self.scale - self.obs) * self.mask
        return float(np.sqrt((diff * diff).sum() / self.cells))

    def __call__(self, x: dict, x0: dict) -> float:  # pyabc's distance signature
        return self.of(x["curve"])
