"""Figures people would rather look at than read."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg") if matplotlib.get_backend().lower() in ("", "agg") else None
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

STAGE_COLOURS = {
    "not_engaged": "#d9d9d9",
    "exploration": "#c6dbef",
    "installation": "#6baed6",
    "initial": "#74c476",
    "full": "#238b45",
    "declined": "#fdae6b",
    "discontinued": "#d94801",
}


def adoption_plot(ts: pd.DataFrame, title: str = "", ax=None, events: dict[str, float] | None = None):
    """Stacked stage areas (share of sites) over months, with the adopted share as a line.

    Args:
        ts: a run's timeseries (one row per month).
        title: the figure title.
        ax: draw into these Axes (default: a new figure).
        events: vertical markers, e.g. ``{"support ends": 60}``.

    Returns:
        The matplotlib Axes.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.5))
    stages = list(STAGE_COLOURS)
    n = ts[stages].sum(axis=1).iloc[0]
    shares = ts[stages].div(n)
    ax.stackplot(ts["month"], *[shares[s] for s in stages], labels=[s.replace("_", " ") for s in stages],
                 colors=[STAGE_COLOURS[s] for s in stages], alpha=0.9)
    ax.plot(ts["month"], ts["adopted"] / n, color="black", lw=2, label="adopted (initial + full)")
    for label, month in (events or {}).items():
        if ts["month"].min() < month < ts["month"].max():
            ax.axvline(month, color="black", ls="--", lw=1)
            ax.annotate(label, (month, 0.98), xytext=(3, 0), textcoords="offset points", va="top", fontsize=8)
    ax.set_xlim(ts["month"].min(), ts["month"].max())
    ax.set_ylim(0, 1)
    ax.set_xlabel("month")
    ax.set_ylabel(f"share of sites (n = {int(n):,})")
    ax.set_title(title or "Implementation stages over time")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    return ax
