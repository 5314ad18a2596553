"""Figures people would rather look at than read, and what every figure of the package shares.

Every figure shows words, never identifiers (through :mod:`simulation.labels`), and is saved at
:data:`SAVE_DPI`. In a notebook, :func:`show` displays a figure whatever the matplotlib backend
(with ``MPLBACKEND=Agg`` pyplot shows nothing by itself).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg") if matplotlib.get_backend().lower() in ("", "agg") else None
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from .labels import STAGE_LABELS, readable  # noqa: E402

#: resolution of every saved figure (dots per inch)
SAVE_DPI = 200

STAGE_COLOURS = {
    "not_engaged": "#d9d9d9",
    "exploration": "#c6dbef",
    "installation": "#6baed6",
    "initial": "#74c476",
    "full": "#238b45",
    "declined": "#fdae6b",
    "discontinued": "#d94801",
}
#: paired differences: better, worse, different where neither direction is better, not significant
DIFF_COLOURS = {"better": "#1a9850", "worse": "#d73027", "neutral": "#4575b4", "unclear": "#8c8c8c",
                "subset": "#6e6e6e"}


def adoption_plot(ts: pd.DataFrame, title: str = "", ax=None, events: dict[str, float] | None = None):
    """Stacked stage areas (share of sites) over months, with the adopted share as a line.

    The legend lists the line, then the stages from the top band down, as they are stacked.

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
    bands = ax.stackplot(ts["month"], *[shares[s] for s in stages], labels=[STAGE_LABELS[s] for s in stages],
                         colors=[STAGE_COLOURS[s] for s in stages], alpha=0.9)
    (line,) = ax.plot(ts["month"], ts["adopted"] / n, color="black", lw=2, label="adopted (initial + full)")
    for label, month in (events or {}).items():
        if ts["month"].min() < month < ts["month"].max():
            ax.axvline(month, color="black", ls="--", lw=1)
            ax.annotate(label, (month, 0.98), xytext=(3, 0), textcoords="offset points", va="top", fontsize=8)
    ax.set_xlim(ts["month"].min(), ts["month"].max())
    ax.set_ylim(0, 1)
    ax.set_xlabel("month")
    ax.set_ylabel(f"share of sites (n = {int(n):,})")
    ax.set_title(readable(title) if title else "Implementation stages over time")
    handles = [line, *bands[::-1]]
    ax.legend(handles, [h.get_label() for h in handles], loc="center left", bbox_to_anchor=(1.01, 0.5),
              fontsize=8, frameon=False)
    return ax


def show(figure, dpi: int = 100) -> None:
    """Display a figure in a notebook as a PNG image, whatever the matplotlib backend, once.

    With ``MPLBACKEND=Agg`` (or any backend but the inline one) a notebook shows no figure by
    itself, and ``display(fig)`` shows only its text; this renders the figure to PNG and displays
    that, then closes the figure so that the inline backend does not show it a second time.

    Args:
        figure: a matplotlib Figure, an Axes (its figure is shown), or a dict or list of them.
        dpi: resolution of the image shown.
    """
    import io

    from IPython.display import Image, display

    if isinstance(figure, dict):
        figure = list(figure.values())
    if isinstance(figure, (list, tuple)):
        for f in figure:
            show(f, dpi)
        return
    fig = figure
    while getattr(fig, "figure", fig) is not fig:  # an Axes or a sub-figure: up to the figure
        fig = fig.figure
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    display(Image(data=buf.getvalue(), format="png"))
    plt.close(fig)
