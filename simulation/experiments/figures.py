"""Text tables and figures of an experiment's results."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from .result import TABLE_METRICS

if TYPE_CHECKING:  # pragma: no cover
    from .result import ExperimentResult

SERIES_LABELS = {
    "adopted_share": ("adopted share (initial + full implementation)", True),
    "adopted": ("sites in initial or full implementation", False),
    "reach": ("reach (people served by sites in full implementation)", False),
    "mean_fidelity": ("mean fidelity among users", False),
    "benefit": ("benefit (reach x fidelity x fit)", False),
    "support_used": ("cumulative support used (units)", False),
    "supported": ("sites receiving central support", False),
    "trainers": ("trainer sites", False),
}


UNITS = {"reach": "people", "mean_fidelity": "fidelity, 0-1", "cost_per_sustained_site": "support units per site",
         "benefit": "benefit units", "support_used": "support units", "time_to_50": "months"}


def _label(metric: str) -> tuple[str, bool]:
    if metric in TABLE_METRICS:
        return TABLE_METRICS[metric]
    if metric in SERIES_LABELS:
        return SERIES_LABELS[metric]
    return metric.replace("_", " "), metric.endswith("_share")


def _decimals(v: float) -> int:
    """Decimals that show about three significant digits of ``v`` (none from 100 up)."""
    if v == 0 or math.isnan(v):
        return 3
    if abs(v) >= 100:
        return 0
    return max(0, 2 - math.floor(math.log10(abs(v))))


def _fmt_ci(mean: float, lo: float, hi: float, pct: bool, signed: bool = False) -> str:
    if mean is None or math.isnan(mean):
        return "n/a"
    sign = "+" if signed else ""
    if pct:
        unit = " pp" if signed else "%"
        head = f"{mean * 100:{sign}.1f}{unit}"
        if math.isnan(lo):
            return head
        return f"{head} [{lo * 100:{sign}.1f}, {hi * 100:{sign}.1f}]"
    half = (hi - lo) / 2 if not (math.isnan(lo) or math.isnan(hi)) else math.nan
    # two significant digits of the interval's half-width (three of the mean without an interval)
    d = min(6, max(0, 1 - math.floor(math.log10(half)))) if half and not math.isnan(half) else _decimals(mean)
    fmt = f"{sign},.{d}f"
    if math.isnan(lo):
        return f"{mean:{fmt}}"
    return f"{mean:{fmt}} [{lo:{fmt}}, {hi:{fmt}}]"


def _grid(title: str, header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [title]
    lines.append("  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths))))
    for r in rows:
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
    return "\n".join(lines)


def format_report(result: ExperimentResult, level: float = 0.95, baseline: str | None = None) -> str:
    """The outcome table with intervals and, with two or more strategies, the paired differences."""
    tab = result.table(level=level)
    strategies = result.strategies
    reps = result.runs.groupby("strategy", sort=False).size()
    n_text = f"{reps.min()}" if reps.min() == reps.max() else f"{reps.min()}-{reps.max()}"
    header = ["outcome", *strategies]
    rows = []
    for m, (label, pct) in TABLE_METRICS.items():
        row = [label]
        for s in strategies:
            r = tab[(tab["strategy"] == s) & (tab["metric"] == m)].iloc[0]
            row.append(_fmt_ci(r["mean"], r["ci_low"], r["ci_high"], pct))
        rows.append(row)
    parts = [_grid(f"Outcomes: mean [{level:.0%} CI] over {n_text} replicates per strategy", header, rows)]
    if len(strategies) > 1:
        base = baseline or result.baseline
        diff = result.differences(baseline=base, level=level)
        others = [s for s in strategies if s != base]
        rows = []
        for m, (label, pct) in TABLE_METRICS.items():
            row = [label]
            for s in others:
                r = diff[(diff["strategy"] == s) & (diff["metric"] == m)].iloc[0]
                cell = _fmt_ci(r["mean_diff"], r["ci_low"], r["ci_high"], pct, signed=True)
                if not math.isnan(r["ci_low"]) and (r["ci_low"] > 0 or r["ci_high"] < 0):
                    cell += " *"
                row.append(cell)
            rows.append(row)
        parts.append(_grid(f"Paired difference from {base} (same replicate seeds): mean [{level:.0%} CI]; "
                           "* the interval excludes 0; pp = percentage points", ["outcome", *others], rows))
    return "\n\n".join(parts)


def plot_bands(result: ExperimentResult, column: str = "adopted_share", ax=None, low: float = 0.05,
               high: float = 0.95):
    """Mean and quantile band of a series over months, one colour per strategy; returns the Axes."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import PercentFormatter

    ens = result.ensemble([column], low=low, high=high)
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.8))
    lo_c, hi_c = [c for c in ens.columns if c.startswith(f"{column}_p")]
    for i, s in enumerate(result.strategies):
        sub = ens[ens["strategy"] == s]
        color = f"C{i % 10}"
        ax.plot(sub["month"], sub[f"{column}_mean"], color=color, lw=1.8, label=f"{s} ({int(sub['runs'].iloc[0])} runs)")
        ax.fill_between(sub["month"], sub[lo_c], sub[hi_c], color=color, alpha=0.18, lw=0)
    label, pct = _label(column)
    if pct:
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("month")
    ax.set_ylabel(label)
    ax.set_title(f"{result.scenario.name}: {label}\nmean and {low:.0%}-{high:.0%} band over replicates, by strategy")
    ax.set_xlim(left=0)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small", frameon=False)
    return ax


def plot_differences(result: ExperimentResult, baseline: str | None = None, metrics: Sequence[str] | None = None,
                     level: float = 0.95):
    """Forest plot of paired differences from the baseline, one panel per outcome; returns the Figure."""
    import matplotlib.pyplot as plt

    if len(result.strategies) < 2:
        raise ValueError("paired differences need at least two strategies")
    base = baseline or result.baseline
    metrics = list(metrics or TABLE_METRICS)
    diff = result.differences(baseline=base, metrics=metrics, level=level)
    others = [s for s in result.strategies if s != base]
    ncols = min(4, len(metrics))
    nrows = math.ceil(len(metrics) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.4 * ncols, 0.45 * len(others) * nrows + 1.6 * nrows + 0.6),
                             squeeze=False, sharey=True)
    y = np.arange(len(others))[::-1]
    for k, m in enumerate(metrics):
        ax = axes[k // ncols][k % ncols]
        sub = diff[diff["metric"] == m].set_index("strategy").reindex(others)
        label, pct = _label(m)
        scale = 100.0 if pct else 1.0
        mean = sub["mean_diff"].to_numpy(float) * scale
        lo = sub["ci_low"].to_numpy(float) * scale
        hi = sub["ci_high"].to_numpy(float) * scale
        err = np.vstack([mean - lo, hi - mean])
        colors = ["C3" if (l > 0 or h < 0) else "0.35" for l, h in zip(lo, hi)]
        for yi, mi, e0, e1, c in zip(y, mean, err[0], err[1], colors):
            if not math.isnan(mi):
                ax.errorbar([mi], [yi], xerr=[[0 if math.isnan(e0) else e0], [0 if math.isnan(e1) else e1]],
                            fmt="o", color=c, capsize=3, ms=5)
        ax.axvline(0, color="0.5", lw=0.8, ls="--")
        ax.set_title(label, fontsize="medium")
        ax.set_xlabel("difference (percentage points)" if pct else f"difference ({UNITS.get(m, 'units')})")
        ax.set_yticks(y, others)
        ax.set_ylim(-0.7, len(others) - 0.3)
        ax.grid(axis="x", alpha=0.3)
    for k in range(len(metrics), nrows * ncols):
        axes[k // ncols][k % ncols].set_visible(False)
    n = diff["n"].max() if len(diff) else 0
    fig.suptitle(f"{result.scenario.name}: paired difference from {base} "
                 f"(mean and {level:.0%} CI over {n} paired replicates; red: interval excludes 0)")
    fig.tight_layout()
    return fig
