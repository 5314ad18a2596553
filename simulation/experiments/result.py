"""The result of an experiment: per-run and per-month tables, confidence intervals, paired
differences, the per-month ensemble (mean and 5-95% band), figures and files.

Confidence intervals are Student t intervals over replicates, ``mean +- t(0.975, n-1) * sd / sqrt(n)``
(runs are independent replicates; with the 30 or more replicates we suggest the t interval is
accurate for outcomes that are not extremely skewed). Differences between strategies are paired
by replicate (and seed): replicate *r* of every strategy shares its random numbers, so the interval
of the mean paired difference is usually much narrower than that of a difference between
independent ensembles (common random numbers: Law, *Simulation Modeling and Analysis*).
Runs where an outcome is undefined (no site reached full implementation, for example, leaves the
cost per sustained site undefined) are left out of that outcome's interval; ``n`` says how many
runs it is over.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..model import SERIES, STAGES
from ..runner import SUMMARY_KEYS
from ..scenario import Scenario

from .metrics import TABLE_METRICS  # noqa: E402,F401  (re-exported: simulation.experiments.TABLE_METRICS)

#: per-month series summarised in the ensemble table by default
ENSEMBLE_COLUMNS = ("adopted_share", "reach", "mean_fidelity", "benefit", "support_used", "full", "discontinued")
TIMESERIES_COLUMNS = ("month", *STAGES, *SERIES)
#: per-run columns a result keeps in memory
RUN_COLUMNS = ["run_id", "strategy", "replicate", "seed", "months", *SUMMARY_KEYS, "groups"]
#: per-group outcomes of every run (``runner.GROUP_KEYS`` without the site count)
GROUP_METRICS = ("adopted_share", "reach_share", "mean_fidelity", "benefit_per_1000", "attributable_per_1000")


def t_interval(values: Iterable[float], level: float = 0.95) -> dict[str, float]:
    """Mean and Student t confidence interval of the mean, ignoring NaN.

    Returns:
        ``{"n", "mean", "sd", "ci_low", "ci_high"}``; the interval is NaN with fewer than 2 values.
    """
    # the Student t quantile is scipy.stats.t.ppf's own function: scipy.stats costs 0.6 s to import
    from scipy.special import stdtrit

    x = np.asarray(list(values) if not isinstance(values, (np.ndarray, pd.Series)) else values, dtype=float)
    x = x[~np.isnan(x)]
    n = len(x)
    if n == 0:
        return {"n": 0, "mean": math.nan, "sd": math.nan, "ci_low": math.nan, "ci_high": math.nan}
    mean = float(x.mean())
    if n == 1:
        return {"n": 1, "mean": mean, "sd": math.nan, "ci_low": math.nan, "ci_high": math.nan}
    sd = float(x.std(ddof=1))
    half = float(stdtrit(n - 1, 0.5 + level / 2)) * sd / math.sqrt(n)
    return {"n": n, "mean": mean, "sd": sd, "ci_low": mean - half, "ci_high": mean + half}


def _pct(q: float) -> str:
    s = f"{q * 100:g}"
    return "p" + s.replace(".", "_")


class ExperimentResult:
    """Runs of an experiment, in a deterministic order (strategy order given, replicate, seed).

    Attributes:
        scenario: the experiment's scenario.
        runs: one row per run: ``strategy``, ``replicate``, ``seed`` and every outcome of
            ``runner.SUMMARY_KEYS``.
        strategies: the strategy labels in order.
        baseline: the strategy differences are taken from.
        out: the results folder (None when kept in memory).
        info: how the runs were made (executor, workers, runs reused from the folder and run now,
            wall time).
    """

    def __init__(self, scenario: Scenario, runs_table: pa.Table, order: Sequence[str], *, store=None,
                 ts_memory: pa.Table | None = None, info: dict | None = None, baseline: str | None = None,
                 meta: dict | None = None):
        self.scenario = scenario
        self.store = store
        self.out: Path | None = store.out if store is not None else None
        self.info = dict(info or {})
        self.meta = dict(meta or {})
        self._order = pa.array(list(order), pa.string())
        # one look-up gives each stored row its place in the order (or none: a run not asked for);
        # a run stored twice keeps its first row
        pos = pc.index_in(runs_table.column("run_id"), value_set=self._order).combine_chunks()
        rows = np.arange(len(pos))
        if pos.null_count:
            valid = pos.is_valid().to_numpy(zero_copy_only=False)
            rows, pos = rows[valid], pos.filter(pos.is_valid())
        place = pos.to_numpy(zero_copy_only=False).astype(np.int64)
        first = np.full(len(self._order), -1, np.int64)
        first[place[::-1]] = rows[::-1]
        if (first < 0).any():
            missing = int(np.count_nonzero(first < 0))
            raise RuntimeError(f"{missing} of {len(self._order)} runs are missing from the results")
        # stored rows are usually in the order already (chunks are named in run order): no copy then
        table = runs_table if np.array_equal(first, np.arange(runs_table.num_rows)) else runs_table.take(pa.array(first))
        del runs_table, pos, place, rows
        self._months = table.column("months").to_numpy()
        self._chunks = None
        if "_chunk" in table.column_names:
            from .store import chunk_map

            self._chunks = chunk_map(table)
        self._ts_memory = ts_memory
        self._timeseries: pd.DataFrame | None = None
        self.runs: pd.DataFrame = table.select(["strategy", "replicate", "seed", *SUMMARY_KEYS]).to_pandas()
        # kept as one Arrow array (no Python string per run): parsed only when groups are asked for
        self._groups_json = table.column("groups").combine_chunks() if "groups" in table.column_names else None
        self.strategies: list[str] = list(dict.fromkeys(self.runs["strategy"].tolist()))
        pa.default_memory_pool().release_unused()  # the reads' scratch memory (once per result)
        self.baseline = baseline if baseline in self.strategies else (
            "baseline" if "baseline" in self.strategies else (self.strategies[0] if self.strategies else None))

    # -------------------------------------------------------------------------- construction
    @classmethod
    def _build(cls, scenario: Scenario, specs, ids: list[str], *, store, memory, info, baseline, meta):
        rank = {s: k for k, s in enumerate(dict.fromkeys(s.strategy for s in specs))}
        order = sorted(range(len(specs)), key=lambda i: (rank[specs[i].strategy], specs[i].replicate, specs[i].seed, i))
        ordered = [ids[i] for i in order]
        if store is not None:
            runs_table = store.read_runs(RUN_COLUMNS)
            ts = None
        else:
            runs_table = pa.concat_tables([r for r, _ in memory]) if memory else _empty_runs()
            ts = pa.concat_tables([t for _, t in memory]) if memory else None
        return cls(scenario, runs_table, ordered, store=store, ts_memory=ts, info=info, baseline=baseline, meta=meta)

    def __len__(self) -> int:
        return len(self.runs)

    def __repr__(self) -> str:
        where = f", out={str(self.out)!r}" if self.out else ""
        return (f"ExperimentResult({self.scenario.name!r}, {len(self.runs)} runs, "
                f"strategies={self.strategies}{where})")

    # ------------------------------------------------------------------------- per-month rows
    def _ts_parts(self, columns: list[str] | None = None):
        """The per-month rows of this result's runs, table by table (bounded memory), each with
        its rows' run positions (row order of :attr:`runs`)."""
        if self.store is not None:
            yield from self.store.iter_timeseries(self._chunks or {}, columns)
        elif self._ts_memory is not None:
            t = self._ts_memory
            if columns is not None:
                t = t.select(list(dict.fromkeys(["run_id", *columns])))
            pos = pc.index_in(t.column("run_id"), value_set=self._order).to_numpy(zero_copy_only=False)
            yield t, pos.astype(np.int64)

    def _ts_tables(self, columns: list[str] | None = None):
        """The per-month rows (with ``run_id``), table by table."""
        for t, _ in self._ts_parts(columns):
            yield t

    def timeseries_at(self, months: Sequence[int], columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The per-month rows at some months only, read chunk by chunk (memory does not grow with
        runs x horizon): ``strategy``, ``replicate``, ``month`` and ``columns`` (default: every
        series), sorted like :attr:`runs` then by month."""
        columns = [c for c in TIMESERIES_COLUMNS if c != "month"] if columns is None else list(columns)
        want = pa.array(sorted({int(m) for m in months}), pa.int64())
        tabs, poss = [], []
        for t, pos in self._ts_parts(["month", *columns]):
            keep = pc.is_in(pc.cast(t.column("month"), pa.int64()), value_set=want)
            tabs.append(t.filter(keep).select(["month", *columns]))
            poss.append(pos[keep.to_numpy(zero_copy_only=False)])
        if not tabs:
            return pd.DataFrame(columns=["strategy", "replicate", "month", *columns])
        t = pa.concat_tables(tabs, promote_options="default")
        pos = np.concatenate(poss)
        idx = np.lexsort((t.column("month").to_numpy(), pos))
        df = t.take(pa.array(idx)).to_pandas()
        pos = pos[idx]
        df.insert(0, "replicate", self.runs["replicate"].to_numpy()[pos])
        df.insert(0, "strategy", self.runs["strategy"].to_numpy()[pos])
        return df

    @property
    def timeseries(self) -> pd.DataFrame:
        """One row per run per month: ``strategy``, ``replicate``, ``month`` and every series of
        ``runner.run(...).timeseries``, sorted like :attr:`runs` then by month. Read from the
        results folder on first use (this table grows with runs x months; for summaries of large
        experiments prefer :meth:`ensemble`, which reads it in bounded memory)."""
        if self._timeseries is None:
            parts = list(self._ts_parts())
            if not parts:
                self._timeseries = pd.DataFrame(columns=["strategy", "replicate", *TIMESERIES_COLUMNS])
                return self._timeseries
            t = pa.concat_tables([p for p, _ in parts], promote_options="default")
            pos = np.concatenate([q for _, q in parts])
            del parts
            idx = np.lexsort((t.column("month").to_numpy(), pos))
            t = t.take(pa.array(idx)).drop_columns(["run_id"])
            self._timeseries = t.to_pandas()
        return self._timeseries

    # -------------------------------------------------------------------------------- tables
    def table(self, metrics: Sequence[str] | None = None, level: float = 0.95) -> pd.DataFrame:
        """Each strategy's outcomes: mean, standard deviation and t interval over replicates.

        Args:
            metrics: outcomes (default: the seven of :data:`TABLE_METRICS`; any of ``SUMMARY_KEYS``).
            level: confidence level.

        Returns:
            One row per (strategy, metric): ``strategy, metric, n, mean, sd, ci_low, ci_high``.
        """
        metrics = list(metrics or TABLE_METRICS)
        rows = []
        for s in self.strategies:
            sub = self.runs[self.runs["strategy"] == s]
            for m in metrics:
                rows.append({"strategy": s, "metric": m, **t_interval(sub[m].to_numpy(), level)})
        return pd.DataFrame(rows, columns=["strategy", "metric", "n", "mean", "sd", "ci_low", "ci_high"])

    def cost_effectiveness(self, baseline: str | None = None) -> pd.DataFrame:
        """Each strategy's cost-effectiveness: attributable benefit over the run (person-years) per
        support unit of total cost (programme + local), as a ratio of means over replicates, and the
        incremental ratio against the baseline (extra benefit per extra unit, paired replicates).

        Returns:
            One row per strategy: ``strategy, benefit_years, total_cost, per_unit, incremental_per_unit``.
        """
        baseline = baseline or self.baseline
        rows = []
        base = self.runs[self.runs["strategy"] == baseline]
        b_ben = float(base["attributable_benefit_years"].mean()) if len(base) else math.nan
        b_cost = float(base["total_cost"].mean()) if len(base) else math.nan
        for s in self.strategies:
            sub = self.runs[self.runs["strategy"] == s]
            ben = float(sub["attributable_benefit_years"].mean())
            cost = float(sub["total_cost"].mean())
            per = ben / cost if cost > 0 else math.nan
            d_cost = cost - b_cost
            inc = (ben - b_ben) / d_cost if s != baseline and abs(d_cost) > 1e-9 else math.nan
            rows.append({"strategy": s, "benefit_years": ben, "total_cost": cost, "per_unit": per,
                         "incremental_per_unit": inc})
        return pd.DataFrame(rows, columns=["strategy", "benefit_years", "total_cost", "per_unit", "incremental_per_unit"])

    def groups(self) -> pd.DataFrame:
        """Per-group outcomes of every run, long: ``strategy, replicate, seed, group, sites`` and the
        outcomes of :data:`GROUP_METRICS` (adopted share, reach share, mean fidelity, benefit and
        attributable benefit per 1,000 people served)."""
        import json

        cols = ["strategy", "replicate", "seed", "group", "sites", *GROUP_METRICS]
        if self._groups_json is None:
            return pd.DataFrame(columns=cols)
        # a slice of runs at a time, into compact columns: 8 bytes per value and one shared string
        # per group name, not a dict per row (20,000 runs would otherwise cost tens of MiB)
        from array import array

        index, values = array("q"), {k: array("d") for k in ("sites", *GROUP_METRICS)}
        codes, names = array("q"), {}
        column = self._groups_json
        for start in range(0, len(column), 2048):
            for i, text in enumerate(column.slice(start, 2048).to_pylist(), start):
                for g, v in (json.loads(text) if text else {}).items():
                    index.append(i)
                    codes.append(names.setdefault(g, len(names)))
                    values["sites"].append(v.get("sites", math.nan))
                    for m in GROUP_METRICS:
                        values[m].append(v.get(m, math.nan))
        rows = np.array(index, dtype=np.int64)
        labels = np.array(list(names), dtype=object)
        return pd.DataFrame({
            "strategy": self.runs["strategy"].to_numpy()[rows],
            "replicate": self.runs["replicate"].to_numpy()[rows],
            "seed": self.runs["seed"].to_numpy()[rows],
            "group": labels[np.array(codes, dtype=np.int64)],
            "sites": pd.array(np.array(values["sites"]), dtype="Float64").astype("Int64"),
            **{m: np.array(values[m], dtype=np.float64) for m in GROUP_METRICS},
        }, columns=cols)

    def group_table(self, metrics: Sequence[str] | None = None, level: float = 0.95) -> pd.DataFrame:
        """Each strategy's outcomes per group of sites: mean and t interval over replicates.

        Returns:
            One row per (strategy, group, metric): ``strategy, group, metric, n, mean, sd, ci_low, ci_high``.
        """
        metrics = list(metrics or GROUP_METRICS)
        g = self.groups()
        rows = []
        for s in self.strategies:
            for name in dict.fromkeys(g.loc[g["strategy"] == s, "group"]):
                sub = g[(g["strategy"] == s) & (g["group"] == name)]
                for m in metrics:
                    rows.append({"strategy": s, "group": name, "metric": m,
                                 **t_interval(sub[m].to_numpy(dtype=float), level)})
        return pd.DataFrame(rows, columns=["strategy", "group", "metric", "n", "mean", "sd", "ci_low", "ci_high"])

    def differences(self, baseline: str | None = None, metrics: Sequence[str] | None = None,
                    level: float = 0.95) -> pd.DataFrame:
        """Paired differences of each strategy from the baseline (strategy minus baseline).

        Runs are paired by replicate and seed; pairs where either run's outcome is undefined are
        left out.

        Returns:
            One row per (strategy, metric): ``strategy, metric, baseline, n, mean_diff, sd, ci_low,
            ci_high, relative`` (``relative``: mean difference over the baseline's mean on the same
            pairs).
        """
        baseline = baseline or self.baseline
        if baseline not in self.strategies:
            from ..errors import fail

            raise fail("--baseline", str(baseline), f"no such strategy; choose from {', '.join(self.strategies)}")
        metrics = list(metrics or TABLE_METRICS)
        base = self.runs[self.runs["strategy"] == baseline].set_index(["replicate", "seed"])
        rows = []
        for s in self.strategies:
            if s == baseline:
                continue
            other = self.runs[self.runs["strategy"] == s].set_index(["replicate", "seed"])
            pairs = pd.merge(base, other, how="inner", left_index=True, right_index=True, suffixes=("_base", "_s"))
            for m in metrics:
                b = pairs[f"{m}_base"].to_numpy(float)
                x = pairs[f"{m}_s"].to_numpy(float)
                ok = ~(np.isnan(b) | np.isnan(x))
                stats = t_interval(x[ok] - b[ok], level)
                bm = float(b[ok].mean()) if ok.any() else math.nan
                rel = stats["mean"] / bm if ok.any() and bm != 0 else math.nan
                rows.append({"strategy": s, "metric": m, "baseline": baseline, "n": stats["n"],
                             "mean_diff": stats["mean"], "sd": stats["sd"], "ci_low": stats["ci_low"],
                             "ci_high": stats["ci_high"], "relative": rel})
        return pd.DataFrame(rows, columns=["strategy", "metric", "baseline", "n", "mean_diff", "sd", "ci_low",
                                           "ci_high", "relative"])

    def ensemble(self, columns: Sequence[str] | str | None = None, low: float = 0.05, high: float = 0.95,
                 budget_mb: float = 8) -> pd.DataFrame:
        """Per strategy and month: the mean and the ``low``-``high`` quantile band over replicates.

        Reads the per-month rows in passes that hold at most ``budget_mb`` of values at a time,
        so memory stays flat however many runs there are. Quantiles are numpy's default (linear
        interpolation), exact.

        Args:
            columns: series to summarise (default :data:`ENSEMBLE_COLUMNS`; ``"all"``: every series).
            low, high: the band's quantiles.
            budget_mb: memory for values per pass.

        Returns:
            One row per (strategy, month): ``strategy, month, runs`` and ``<col>_mean``,
            ``<col>_p5``, ``<col>_p95`` for each column (names follow ``low`` and ``high``).
        """
        if columns is None:
            columns = list(ENSEMBLE_COLUMNS)
        elif columns == "all":
            columns = [c for c in TIMESERIES_COLUMNS if c != "month"]
        else:
            columns = list(columns)
            unknown = [c for c in columns if c not in TIMESERIES_COLUMNS or c == "month"]
            if unknown:
                raise ValueError(f"unknown series {unknown}; choose from {', '.join(TIMESERIES_COLUMNS[1:])}")
        n = len(self.runs)
        strat = self.runs["strategy"].to_numpy()
        # rows are sorted by strategy, so each strategy's runs are one contiguous block
        first = {s: int(np.argmax(strat == s)) for s in self.strategies}
        groups = {s: (first[s], first[s] + int(np.count_nonzero(strat == s))) for s in self.strategies}
        horizon = {s: int(self._months[a:b].max()) for s, (a, b) in groups.items()}
        T = max(horizon.values(), default=-1) + 1
        stats: dict[tuple[str, str], np.ndarray] = {}
        names = ("mean", _pct(low), _pct(high))
        for s in self.strategies:
            for c in columns:
                for k in names:
                    stats[(s, f"{c}_{k}")] = np.full(horizon[s] + 1, np.nan)
        cells = max(1, int(budget_mb * 2 ** 20) // max(1, n * 8))  # (column, month) cells per pass
        if cells >= T * len(columns):
            passes = [(columns, 0, T)]
        elif cells >= T:
            k = cells // T
            passes = [(columns[i:i + k], 0, T) for i in range(0, len(columns), k)]
        else:
            passes = [([c], m, min(T, m + cells)) for c in columns for m in range(0, T, cells)]
        for cols, m0, m1 in passes:
            mats = {c: np.full((n, m1 - m0), np.nan) for c in cols}
            for t, pos in self._ts_parts(["month", *cols]):
                month = t.column("month").to_numpy()
                keep = (month >= m0) & (month < m1)
                if not keep.all():
                    month, pos = month[keep], pos[keep]
                    t = t.filter(pa.array(keep))
                for c in cols:
                    mats[c][pos, month - m0] = t.column(c).to_numpy().astype(np.float64)
                del t
            for s, (a, b) in groups.items():
                hi_m = min(m1, horizon[s] + 1)
                if hi_m <= m0:
                    continue
                for c in cols:
                    sub = mats[c][a:b, : hi_m - m0]  # a view, no copy
                    mean, qlo, qhi = _column_stats(sub, low, high)
                    stats[(s, f"{c}_{names[0]}")][m0:hi_m] = mean
                    stats[(s, f"{c}_{names[1]}")][m0:hi_m] = qlo
                    stats[(s, f"{c}_{names[2]}")][m0:hi_m] = qhi
            del mats
        frames = []
        for s in self.strategies:
            d: dict[str, Any] = {"strategy": s, "month": np.arange(horizon[s] + 1), "runs": groups[s][1] - groups[s][0]}
            for c in columns:
                for k in names:
                    d[f"{c}_{k}"] = stats[(s, f"{c}_{k}")]
            frames.append(pd.DataFrame(d))
        if not frames:
            return pd.DataFrame(columns=["strategy", "month", "runs"])
        return pd.concat(frames, ignore_index=True)

    # ------------------------------------------------------------------------------- display
    def report(self, level: float = 0.95, baseline: str | None = None) -> str:
        """The outcome table and the paired differences from the baseline, as text."""
        from .report import format_report

        return format_report(self, level=level, baseline=baseline)

    def plot(self, column: str = "adopted_share", ax=None, low: float = 0.05, high: float = 0.95):
        """Mean curve and ``low``-``high`` band over replicates per strategy; returns the Axes."""
        from .figures import plot_bands

        return plot_bands(self, column=column, ax=ax, low=low, high=high)

    def plot_differences(self, baseline: str | None = None, metrics: Sequence[str] | None = None,
                         level: float = 0.95):
        """Paired differences from the baseline with their intervals, one panel per outcome;
        returns the Figure."""
        from .figures import plot_differences

        return plot_differences(self, baseline=baseline, metrics=metrics, level=level)

    def save(self, out: str | Path | None = None, plot: bool = True, level: float = 0.95) -> list[str]:
        """Write the tables and figures into ``out`` (default: the results folder), each atomically.

        Files: ``runs.csv`` (one row per run), ``summary.csv`` (:meth:`table`), ``differences.csv``
        (:meth:`differences`, with two or more strategies), ``ensemble.csv`` (:meth:`ensemble`),
        ``groups.csv`` (:meth:`group_table`, with two or more groups of sites), ``adoption.png`` and
        ``differences.png``.

        Returns:
            The names of the files written.
        """
        from ..safe_io import OwnedWriter, check_out, output_kind
        from .store import RUNS, TIMESERIES, write_bytes_atomic, write_csv_atomic

        out = Path(out) if out is not None else self.out
        if out is None:
            raise ValueError("no folder: pass out= (this result was kept in memory)")
        if self.out is None or out.resolve() != self.out.resolve():
            check_out(out, "experiment", resume=True)  # a new or empty folder, or an experiment's
        written = []
        kind = output_kind(out) if out.exists() else None
        with OwnedWriter(out, kind or "experiment", dirs=() if kind else (RUNS, TIMESERIES)) as w:
            def csv(name: str, df: pd.DataFrame) -> None:
                write_csv_atomic(out / name, df, w)
                written.append(name)

            csv("runs.csv", self.runs)
            csv("summary.csv", self.table(level=level))
            two = len(self.strategies) > 1
            if two:
                csv("differences.csv", self.differences(level=level))
            csv("ensemble.csv", self.ensemble())
            groups = self.group_table(level=level)
            if groups["group"].nunique() > 1:
                csv("groups.csv", groups)
            if plot:
                import io

                import matplotlib

                matplotlib.use("Agg", force=False)
                import matplotlib.pyplot as plt

                figs = [("adoption.png", self.plot().figure)]
                if two:
                    figs.append(("differences.png", self.plot_differences(level=level)))
                for name, fig in figs:
                    buf = io.BytesIO()
                    from ..plots import SAVE_DPI

                    fig.savefig(buf, format="png", dpi=SAVE_DPI, bbox_inches="tight")
                    plt.close(fig)
                    write_bytes_atomic(out / name, buf.getvalue(), w)
                    written.append(name)
        return written


def _column_stats(sub: np.ndarray, low: float, high: float, block_bytes: int = 1 << 20):
    """Per column of ``sub`` (runs x months): mean and the two quantiles, ignoring NaN (months
    beyond a run's horizon). Quantiles sort a copy, so they go a block of months at a time."""
    import warnings

    has_nan = bool(np.isnan(sub).any())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(sub, axis=0) if has_nan else sub.mean(axis=0)
        step = max(1, block_bytes // max(1, sub.shape[0] * 8))
        q = np.empty((2, sub.shape[1]))
        for j in range(0, sub.shape[1], step):
            block = sub[:, j:j + step]
            q[:, j:j + step] = (np.nanquantile(block, [low, high], axis=0) if has_nan
                                else np.quantile(block, [low, high], axis=0))
    return mean, q[0], q[1]


def _empty_runs() -> pa.Table:
    return pa.table({"run_id": pa.array([], pa.string()), "strategy": pa.array([], pa.string()),
                     "replicate": pa.array([], pa.int64()), "seed": pa.array([], pa.int64()),
                     "months": pa.array([], pa.int64()),
                     **{k: pa.array([], pa.float64()) for k in SUMMARY_KEYS}, "groups": pa.array([], pa.string())})


def load_results(out: str | Path) -> ExperimentResult:
    """Open an experiment's results folder (every run stored there).

    Runs are ordered by the strategies in the manifest (then any others by name), replicate and seed.

    Raises:
        InputError: the folder is not an experiment's results folder.
    """
    from ..scenario import from_dict
    from .store import ResultStore, read_manifest

    out = Path(out)
    man = read_manifest(out)
    src = man.get("scenario_file") or str(out / "manifest.json")
    sc = from_dict(man["scenario"], src, Path(src).parent)
    store = ResultStore(out)
    t = store.read_runs(columns=RUN_COLUMNS)
    if t.num_rows == 0:
        return ExperimentResult(sc, _empty_runs(), [], store=store, baseline=man.get("baseline"), meta=man)
    strategies = list(man.get("strategies") or [])
    labels = t.column("strategy").to_pylist()
    for s in sorted(set(labels)):
        if s not in strategies:
            strategies.append(s)
    rank = {s: k for k, s in enumerate(strategies)}
    rep = t.column("replicate").to_pylist()
    seed = t.column("seed").to_pylist()
    ids = t.column("run_id").to_pylist()
    seen: set[str] = set()
    once = [i for i, r in enumerate(ids) if not (r in seen or seen.add(r))]  # a run stored twice counts once
    order = sorted(once, key=lambda i: (rank[labels[i]], rep[i], seed[i], ids[i]))
    return ExperimentResult(sc, t, [ids[i] for i in order], store=store, baseline=man.get("baseline"), meta=man,
                            info={"requested": len(order)})
