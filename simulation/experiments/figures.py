"""Text tables and figures of an experiment's results."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from .. import labels
from .metrics import TABLE_METRICS

if TYPE_CHECKING:  # pragma: no cover
    from .result import ExperimentResult

def _fmt_level(value: float, key: str) -> str:
    """A level of an output, as a person reads it: 62.3%, 6,044 people, 0.812."""
    if value is None or math.isnan(value):
        return "n/a"
    if labels.is_share(key):
        return f"{value:.1%}"
    u = labels.unit(key)
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return f"{text} {u}" if u and "," not in u else text  # "0.812", not "0.812 fidelity, 0-1"


def plot_bands(result: ExperimentResult, column: str = "adopted_share", ax=None, low: float = 0.05,
               high: float = 0.95):
    """Mean and quantile band of a series over months, one colour per strategy; returns the Axes.

    Args:
        result: the experiment.
        column: the per-month series (``adopted_share``, ``reach``, ...).
        ax: draw into these Axes (default: a new pyplot figure).
        low, high: the band's quantiles.
    """
    from matplotlib.ticker import PercentFormatter

    ens = result.ensemble([column], low=low, high=high)
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(8, 4.8))
    lo_c, hi_c = [c for c in ens.columns if c.startswith(f"{column}_p")]
    for i, s in enumerate(result.strategies):
        sub = ens[ens["strategy"] == s]
        color = f"C{i % 10}"
        ax.plot(sub["month"], sub[f"{column}_mean"], color=color, lw=1.8,
                label=f"{labels.strategy_label(s)} ({int(sub['runs'].iloc[0])} runs)")
        ax.fill_between(sub["month"], sub[lo_c], sub[hi_c], color=color, alpha=0.18, lw=0)
    label = labels.output_label(column)
    if labels.is_share(column):
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("month")
    ax.set_ylabel(labels.output_label(column, with_unit=True))
    ax.set_title(f"{labels.scenario_label(result.scenario.name)}: {label}\n"
                 f"mean and {low:.0%}-{high:.0%} band over replicates, by strategy")
    ax.set_xlim(left=0)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small", frameon=False)
    if labels.uses_support_units(column):
        ax.annotate(labels.SUPPORT_UNIT_NOTE, (0, 0), xycoords="axes fraction", xytext=(0, -40),
                    textcoords="offset points", fontsize=7, color="0.3", va="top")
    return ax


def _significance(lo: float, hi: float, mean: float, key: str) -> str:
    """``better``, ``worse``, ``neutral`` (differs, but neither direction is better), ``subset``
    (differs, but the output is measured among a subset of the sites, so it gets no verdict of its
    own: :func:`simulation.labels.verdict_allowed`) or ``unclear`` (the interval includes 0, or
    there is none)."""
    if math.isnan(lo) or math.isnan(hi) or not (lo > 0 or hi < 0):
        return "unclear"
    if labels.kind(key) == "conditional":
        return "subset"
    b = labels.better(key)
    if b == 0:
        return "neutral"
    return "better" if mean * b > 0 else "worse"


SIGNIFICANCE_TEXT = {"better": "better than the baseline", "worse": "worse than the baseline",
                     "neutral": "different (neither direction is better)",
                     "unclear": "interval includes 0 (no clear difference)",
                     "subset": "differs, among a subset of sites: not judged (hollow)"}


def _short(text: str) -> str:
    """A subset's words without their parenthesis (for a panel title)."""
    return text.split(" (")[0]


def plot_differences(result: ExperimentResult, baseline: str | None = None, metrics: Sequence[str] | None = None,
                     level: float = 0.95, fig=None, ncols: int | None = None):
    """Forest plot of paired differences from the baseline, one panel per outcome; returns the Figure.

    Each panel says which direction is better for its outcome; an interval that excludes 0 is
    green when the strategy does better than the baseline, red when it does worse (blue where
    neither direction is better) and grey when it includes 0. Each panel shows the baseline's
    mean, and its axis spans at least 5% of it, so that a tiny difference looks tiny.

    Args:
        result: the experiment (two or more strategies).
        baseline: the strategy the others are compared with (default: the result's).
        metrics: outcomes (default: those of the printed table).
        level: confidence level of the intervals.
        fig: draw into this (empty) Figure (default: a new pyplot figure).
        ncols: panels per row (default: up to four).
    """
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    from ..plots import DIFF_COLOURS

    if len(result.strategies) < 2:
        raise ValueError("paired differences need at least two strategies")
    base = baseline or result.baseline
    metrics = list(metrics or TABLE_METRICS)
    diff = result.differences(baseline=base, metrics=metrics, level=level)
    levels = result.table(metrics=metrics, level=level)
    levels = levels[levels["strategy"] == base].set_index("metric")["mean"]
    others = [s for s in result.strategies if s != base]
    ncols = max(1, min(ncols or 4, len(metrics)))
    nrows = math.ceil(len(metrics) / ncols)
    size = (3.7 * ncols, 0.45 * len(others) * nrows + 2.0 * nrows + 1.4)
    if fig is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=size)
    else:
        fig.set_size_inches(size)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True)
    y = np.arange(len(others))[::-1]
    support = False
    for k, m in enumerate(metrics):
        ax = axes[k // ncols][k % ncols]
        sub = diff[diff["metric"] == m].set_index("strategy").reindex(others)
        pct = labels.is_share(m)
        scale = 100.0 if pct else 1.0
        mean = sub["mean_diff"].to_numpy(float) * scale
        lo = sub["ci_low"].to_numpy(float) * scale
        hi = sub["ci_high"].to_numpy(float) * scale
        for yi, mi, l, h in zip(y, mean, lo, hi):
            if math.isnan(mi):
                continue
            verdict = _significance(l, h, mi, m)
            c = DIFF_COLOURS[verdict]
            e0 = 0.0 if math.isnan(l) else mi - l
            e1 = 0.0 if math.isnan(h) else h - mi
            ax.errorbar([mi], [yi], xerr=[[e0], [e1]], fmt="o", color=c, capsize=3, ms=5,
                        mfc="white" if verdict == "subset" else c)
        ax.axvline(0, color="0.5", lw=0.8, ls="--")
        base_level = float(levels.get(m, math.nan))
        finite = np.abs(np.r_[mean, lo, hi])
        finite = finite[np.isfinite(finite)]
        half = float(finite.max()) * 1.15 if finite.size else 0.0
        if not math.isnan(base_level):
            half = max(half, 0.05 * abs(base_level) * scale)
        if pct:
            half = max(half, 1.0)
        ax.set_xlim(-(half or 1.0), half or 1.0)
        ax.xaxis.set_major_locator(MaxNLocator(5, symmetric=True))
        if half >= 1000:
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        if labels.kind(m) == "conditional":
            import textwrap

            note = textwrap.fill(f"(not judged: among the {_short(labels.among(m))})", 40)
            ax.set_title(f"{labels.output_label(m)}\n{note}", fontsize="medium")
        else:
            ax.set_title(f"{labels.output_label(m)}\n({labels.direction(m)})", fontsize="medium")
        u = labels.unit(m)
        ax.set_xlabel("difference (percentage points)" if pct else f"difference ({u})" if u else "difference")
        ax.text(0.03, 0.97, f"baseline mean {_fmt_level(base_level, m)}", transform=ax.transAxes, va="top",
                fontsize=8, color="0.25")
        ax.set_yticks(y, [labels.strategy_label(s) for s in others])
        ax.set_ylim(-0.7, len(others) - 0.1)
        ax.grid(axis="x", alpha=0.3)
        support |= labels.uses_support_units(m)
    for k in range(len(metrics), nrows * ncols):
        axes[k // ncols][k % ncols].set_visible(False)
    n = int(diff["n"].max()) if len(diff) else 0
    fig.suptitle(f"{labels.scenario_label(result.scenario.name)}: paired difference from "
                 f"{labels.strategy_label(base)}\nmean and {level:.0%} interval over {n} paired replicates "
                 "(the same seeds for every strategy)")
    kinds = ["better", "worse", *(["neutral"] if any(labels.kind(m) == "none" for m in metrics) else []),
             *(["subset"] if any(labels.kind(m) == "conditional" for m in metrics) else []), "unclear"]
    handles = [Line2D([], [], color=DIFF_COLOURS[k], marker="o", ls="-", label=SIGNIFICANCE_TEXT[k],
                      mfc="white" if k == "subset" else DIFF_COLOURS[k]) for k in kinds]
    note = 0.22 if support else 0.0  # inches for the note that defines a support unit
    fig.legend(handles=handles, loc="lower center", ncol=2 if ncols < 3 else len(kinds), fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, note / size[1]))
    if support:
        fig.text(0.5, 0.04 / size[1], labels.SUPPORT_UNIT_NOTE, ha="center", va="bottom", fontsize=7, color="0.3")
    bottom = (note + (0.32 if ncols >= 3 else 0.55)) / size[1]
    fig.tight_layout(rect=(0, bottom, 1, 1))
    return fig
