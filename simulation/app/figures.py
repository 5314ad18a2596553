"""What the teaching app draws: the site network coloured by stage, the curves over time, the numbers.

Both figures are made once per model and then only updated (node colours; curve data), then
saved as PNG: at 1,000 sites a month's step and both redraws take well under the 200 ms that
five steps a second allow (``spreadsim bench --only app_1k``).

Text stays readable wherever the page shows a figure: a figure is :data:`WIDTH_IN` inches wide and
its smallest text :data:`MIN_FONT_PT` points, so on a phone, where it is about 360 px wide, its
smallest text is still about 10 px (``min_font_px`` says how large it is in the PNG itself).
"""

from __future__ import annotations

import html
import io
import threading

import matplotlib.colors as mcolors
import matplotlib.text
import numpy as np
import PIL.Image
import scipy.sparse as sp
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from .. import labels
from ..model import STAGES, SpreadModel
from ..plots import STAGE_COLOURS
from .layout import network_layout
from .wrapper import CONTROLS_BY_NAME, turnover_mean

#: sites drawn at most (a fixed random sample of the sites beyond this)
MAX_DRAWN = 2_000
#: ties drawn at most (a fixed random sample beyond this; the layout still uses them)
MAX_DRAWN_TIES = 20_000
DPI = 100
#: width of both figures (inches); the page shows them from about 360 px (a phone) to 560 px
WIDTH_IN = 5.2
#: the smallest text in the figures (points): 10.5 pt on 5.2 in shown 360 px wide is 10.1 px
MIN_FONT_PT = 10.5
STAGE_RGBA = np.array([mcolors.to_rgba(STAGE_COLOURS[s]) for s in STAGES])
#: the dark theme's figure colours (the page's dark background, light text)
DARK = {"face": "#1e1e1e", "text": "#e8e8e8", "grid": "#5a5a5a", "edge": "#bbbbbb", "line": "#f0f0f0"}
LIGHT = {"face": "white", "text": "black", "grid": "#b0b0b0", "edge": "#555555", "line": "black"}


def _rc(dark: bool) -> dict:
    """Matplotlib settings for a figure in the page's theme."""
    c = DARK if dark else LIGHT
    return {"figure.facecolor": c["face"], "axes.facecolor": c["face"], "savefig.facecolor": c["face"],
            "text.color": c["text"], "axes.labelcolor": c["text"], "axes.edgecolor": c["text"],
            "xtick.color": c["text"], "ytick.color": c["text"], "grid.color": c["grid"],
            "legend.labelcolor": c["text"]}
STAGE_LABELS = [labels.STAGE_LABELS[s] for s in STAGES]


def min_font_px(fig: Figure) -> float:
    """The smallest font size of any visible text of a figure, in pixels of its PNG."""
    sizes = [t.get_fontsize() for t in fig.findobj(matplotlib.text.Text) if t.get_visible() and t.get_text().strip()]
    return min(sizes) * fig.dpi / 72 if sizes else float("nan")


class _Frames:
    """Draw a figure's fixed parts once and only its moving parts per frame (blitting), as PNG.

    Args:
        fig: the figure, complete.
        moving: the artists that change between frames (drawn over the fixed background).
    """

    def __init__(self, fig: Figure, moving: list):
        self.fig = fig
        self.moving = moving
        self.canvas = FigureCanvasAgg(fig)
        for a in moving:
            a.set_visible(False)
        self.canvas.draw()
        self.background = self.canvas.copy_from_bbox(fig.bbox)
        for a in moving:
            a.set_visible(True)

    def png(self) -> bytes:
        self.canvas.restore_region(self.background)
        for a in self.moving:
            self.fig.draw_artist(a)
        rgba = np.asarray(self.canvas.buffer_rgba())
        buf = io.BytesIO()
        PIL.Image.fromarray(np.ascontiguousarray(rgba[..., :3])).save(buf, format="png", compress_level=1)
        return buf.getvalue()


class NetworkFigure:
    """The site network, laid out once, with each site coloured by its implementation stage.

    Args:
        model: the model to draw (its network ``W`` and ``stage`` array).
        layout_seed: seed of the layout (fixed: the same network always looks the same).
    """

    def __init__(self, model: SpreadModel, layout_seed: int = 0, dark: bool = False):
        import matplotlib

        with matplotlib.rc_context(_rc(dark)):
            self._init(model, layout_seed, dark)

    def _init(self, model: SpreadModel, layout_seed: int, dark: bool) -> None:
        self.model = model
        self.dark = dark
        # the programme's own sites: the first block (a model may also run a counterfactual arm)
        n = model.N
        self.block = slice(0, n)
        rng = np.random.default_rng(layout_seed)
        if n > MAX_DRAWN:
            self.drawn = np.sort(rng.choice(n, MAX_DRAWN, replace=False))
            W = sp.csr_array(model.W)[self.drawn][:, self.drawn]  # drawn sites are all in block 0
        else:
            self.drawn = np.arange(n)
            W = model.W if model.n == n else sp.csr_array(model.W)[:n][:, :n]
        self.pos = network_layout(W, seed=layout_seed)
        A = sp.csr_array(W, dtype=float)
        U = sp.triu(A + A.T, k=1).tocoo()
        i, j = U.row, U.col
        self.ties_total = len(i)
        if len(i) > MAX_DRAWN_TIES:
            keep = np.sort(rng.choice(len(i), MAX_DRAWN_TIES, replace=False))
            i, j = i[keep], j[keep]
        self.ties_drawn = len(i)
        self._lock = threading.Lock()

        fig = Figure(figsize=(WIDTH_IN, 5.6), dpi=DPI)
        ax = fig.add_axes((0.02, 0.17, 0.96, 0.76))
        if len(i):
            segs = np.stack([self.pos[i], self.pos[j]], axis=1)
            lw = 0.5 if len(i) < 3_000 else 0.3
            ax.add_collection(LineCollection(segs, linewidths=lw, colors="#9a9a9a", alpha=0.45, zorder=1))
        m = len(self.drawn)
        size = float(np.clip(12000.0 / max(m, 1), 7.0, 70.0))
        self.scatter = ax.scatter(self.pos[:, 0], self.pos[:, 1], s=size, c=self._colours(),
                                  edgecolors="#555555", linewidths=0.2 if m > 500 else 0.4, zorder=2)
        ax.set_xlim(-1.06, 1.06)
        ax.set_ylim(-1.06, 1.06)
        ax.set_aspect("equal")
        ax.set_axis_off()
        self.title = fig.suptitle("", fontsize=12, y=0.985)
        handles = [Patch(facecolor=STAGE_COLOURS[s], edgecolor=(DARK if dark else LIGHT)["edge"], label=lab)
                   for s, lab in zip(STAGES, STAGE_LABELS, strict=True)]
        fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=MIN_FONT_PT, frameon=False,
                   bbox_to_anchor=(0.5, 0.0), handlelength=1.2, columnspacing=1.0)
        self.figure = fig
        self.ax = ax
        self.frames = _Frames(fig, [self.scatter, self.title])

    def _colours(self) -> np.ndarray:
        return STAGE_RGBA[self.model.stage[self.block][self.drawn]]

    def caption(self) -> str:
        m = self.model
        what = f"{m.N:,} sites" if len(self.drawn) == m.N else f"{len(self.drawn):,} of {m.N:,} sites"
        ties = f"{self.ties_total:,} ties" if self.ties_drawn == self.ties_total else f"{self.ties_drawn:,} of {self.ties_total:,} ties"
        head, rest = f"Sites by stage, month {m.month}", f"({what}, {ties})"
        return f"{head} {rest}" if len(head) + len(rest) < 48 else f"{head}\n{rest}"

    def png(self) -> bytes:
        """The figure for the model's current month, as PNG bytes."""
        with self._lock:
            self.scatter.set_facecolors(self._colours())
            self.title.set_text(self.caption())
            return self.frames.png()

    def site_at(self, fx: float, fy: float) -> int | None:
        """The site drawn nearest a click at ``(fx, fy)``, fractions of the image's width and height
        from its top left corner (None if no site is near)."""
        from .share import site_at

        w, h = self.figure.get_size_inches() * self.figure.dpi
        x, y = self.ax.transData.inverted().transform((fx * w, (1.0 - fy) * h))
        return site_at(self.model, float(x), float(y), self.pos, self.drawn)


def _two_lines(names: list[str]) -> list[str]:
    """Long stage names over two lines ("initial\nimplementation"), to keep the legend narrow."""
    return [n.replace(" ", "\n", 1) if len(n) > 12 else n for n in names]


class ChartFigure:
    """Stage shares over time (stacked), adopted share, mean fidelity among adopters and reach.

    Args:
        model: the model whose ``counts`` and ``series`` to draw.
        ghosts: earlier runs, ``(number, adopted share per month)``, drawn as faint numbered lines
            in the lower panel (the page lists what each changed).
        band: the spread of runs of the current settings, ``(mean, low, high, runs)`` per month,
            drawn as a grey band behind the adopted share.
        dark: draw for the page's dark theme.
    """

    def __init__(self, model: SpreadModel, ghosts=(), band=None, dark: bool = False):
        import matplotlib

        with matplotlib.rc_context(_rc(dark)):
            self._init(model, list(ghosts), band, dark)

    def _init(self, model: SpreadModel, ghosts: list, band, dark: bool) -> None:
        self.model = model
        self.dark = dark
        ink = (DARK if dark else LIGHT)["line"]
        self._lock = threading.Lock()
        months = model.months
        fig = Figure(figsize=(WIDTH_IN, 6.2), dpi=DPI)
        ax1 = fig.add_axes((0.15, 0.6, 0.47, 0.34))
        ax2 = fig.add_axes((0.15, 0.1, 0.47, 0.33))
        t = np.zeros(1)
        self.areas = [ax1.fill_between(t, t, t, color=STAGE_COLOURS[s], label=lab, linewidth=0)
                      for s, lab in zip(STAGES, _two_lines(STAGE_LABELS), strict=True)]
        (self.adopted,) = ax1.plot([], [], color=ink, lw=2, label="adopted\n(initial + full)")
        ax1.set_xlim(0, months)
        ax1.set_ylim(0, 1)
        ax1.set_ylabel(f"share of sites (n = {model.N:,})", fontsize=11)
        ax1.set_title("Implementation stages", fontsize=12)
        # the legend lists the line, then the stages from the top band down, as they are stacked
        ax1.legend(handles=[self.adopted, *self.areas[::-1]], loc="center left", bbox_to_anchor=(1.02, 0.5),
                   fontsize=MIN_FONT_PT, frameon=False, handlelength=1.2, labelspacing=0.35)
        extra = []
        if band is not None:
            mean, lo, hi, runs = band
            tb = np.arange(len(mean))
            extra.append(ax2.fill_between(tb, lo, hi, color="#9e9e9e", alpha=0.35, lw=0,
                                          label=f"{runs} runs:\n5-95% of adopted"))
        for k, (number, y) in enumerate(ghosts):
            (g,) = ax2.plot(np.arange(len(y)), y, color="#8c8c8c", lw=1.0, alpha=0.8,
                            label="earlier runs" if k == 0 else None)
            if len(y):
                ax2.annotate(str(number), (len(y) - 1, y[-1]), xytext=(2, 0), textcoords="offset points",
                             fontsize=MIN_FONT_PT, color="#8c8c8c", va="center")
            if k == 0:
                extra.append(g)
        (self.fidelity,) = ax2.plot([], [], color="#9e86d8" if dark else "#6a51a3", lw=2,
                                    label="mean fidelity\n(among adopters)")
        (self.reach,) = ax2.plot([], [], color="#5cc48a" if dark else "#238b45", lw=2, label="reach (share\nof people)")
        (self.adopted2,) = ax2.plot([], [], color=ink, lw=1.4, ls="--", label="adopted share")
        ax2.set_xlim(0, months)
        ax2.set_ylim(0, 1)
        ax2.set_xlabel("month", fontsize=11)
        ax2.set_ylabel("share", fontsize=11)
        ax2.set_title("Adoption, fidelity and reach", fontsize=12)
        ax2.legend(handles=[self.adopted2, self.fidelity, self.reach, *extra], loc="center left",
                   bbox_to_anchor=(1.02, 0.5), fontsize=MIN_FONT_PT, frameon=False, handlelength=1.2)
        for ax in (ax1, ax2):
            ax.grid(alpha=0.3)
            ax.tick_params(labelsize=MIN_FONT_PT)
        self.figure = fig
        self.frames = _Frames(fig, [*self.areas, self.adopted, self.fidelity, self.reach, self.adopted2])
        self.total_size = float(model.size[: model.N].sum()) or 1.0

    def png(self) -> bytes:
        """The figure up to the model's current month, as PNG bytes."""
        m = self.model
        with self._lock:
            t = np.arange(m.month + 1)
            shares = m.counts[: m.month + 1] / m.N
            cum = np.zeros(len(t))
            for k, area in enumerate(self.areas):
                area.set_data(t, cum, cum + shares[:, k])
                cum = cum + shares[:, k]
            s = m.series
            self.adopted.set_data(t, s["adopted_share"][: m.month + 1])
            self.adopted2.set_data(t, s["adopted_share"][: m.month + 1])
            self.fidelity.set_data(t, s["mean_fidelity"][: m.month + 1])
            self.reach.set_data(t, s["reach"][: m.month + 1] / self.total_size)
            return self.frames.png()


def explain(sc) -> str:
    """What the page says adopted and reach count, for this scenario: reach counts the people of
    sites in full implementation and, where the scenario gives sites in initial implementation a
    share of their people (``outcomes.initial_reach``), that share of theirs."""
    part = getattr(getattr(sc, "outcomes", None), "initial_reach", None)
    if part is None:
        reach = ("people served by sites in full implementation (sites still in initial implementation "
                 "do not count yet)")
    elif part == 0:
        reach = "people served by sites in full implementation (sites in initial implementation reach none yet)"
    else:
        reach = (f"people served by sites in full implementation, and {part:.0%} of the people of sites in "
                 "initial implementation")
    return f"Adopted: {labels.help_text('adopted_share')}. Reach: {reach}."


def human_value(value) -> str:
    """A scenario value as a person reads it: on/off, "none" for null, numbers with separators, a
    distribution in words ("uniform 0.1 to 0.3"); never Python's ``True`` or ``{'dist': ...}``."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if value is None:
        return "none (unlimited / throughout)"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        d = dict(value)
        kind = d.pop("dist", "")
        if kind == "uniform" and {"low", "high"} <= set(d):
            return f"uniform {d['low']:g} to {d['high']:g}"
        return " ".join([str(kind), *(f"{k} {human_value(v)}" for k, v in d.items())]).strip()
    if isinstance(value, (list, tuple)):
        return ", ".join(human_value(v) for v in value)
    return labels.readable(str(value))


def set_text(path: str, value) -> str:
    """The ``--set`` argument that sets a value on the command line (YAML, as ``--set`` reads it)."""
    import yaml

    text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    return f"{path}={text.removesuffix('...').strip()}"  # a scalar's dump ends the document with "..."


def _changed_text(model) -> str:
    """The controls that differ from the file, in words, each with the ``--set`` that does the same."""
    changed = getattr(model, "app_overrides", {}) or {}
    if not changed:
        return "nothing (as in the file)"
    return "; ".join(f"{labels.param_label(path)}: {human_value(value)} (--set {set_text(path, value)})"
                     for path, value in changed.items())


def shown_path(path) -> str:
    """A scenario file's path as the page shows it: relative to the folder the app runs in (or to
    the repository's scenarios), never the computer's absolute path."""
    import os
    from pathlib import Path

    from .wrapper import SCENARIO_DIR

    p = Path(str(path))
    if not p.is_absolute():
        return p.as_posix()
    for base in (Path.cwd(), SCENARIO_DIR.parent):
        try:
            return p.resolve().relative_to(base.resolve()).as_posix()
        except ValueError:
            continue
    return os.path.join("...", p.parent.name, p.name)


def status_html(model: SpreadModel) -> str:
    """The current month and numbers as a small HTML block (classes and data attributes name each
    value, for tests); says "finished" at the last month and what adopted, reach and fidelity count."""
    m = model
    t = m.month
    counts = m.counts[t]
    s = m.series
    fid = s["mean_fidelity"][t]
    finished = t >= m.months
    stages = "".join(
        f'<div class="ss-stage" data-stage="{st}"><span class="ss-swatch" style="background:{STAGE_COLOURS[st]}">'
        f'</span><span class="ss-stage-name">{html.escape(lab)}</span> <b class="ss-count">{int(c):,}</b></div>'
        for st, lab, c in zip(STAGES, STAGE_LABELS, counts, strict=True))
    source = getattr(m, "scenario_file", None) or m.scenario_obj.source
    sc = m.scenario_obj
    lg = sc.logics
    on = [f"{k} {getattr(lg, k).weight:g}" for k in ("mechanical", "ecological", "social") if getattr(lg, k).enabled]
    cap = sc.strategy.support.capacity
    turnover = turnover_mean(sc)
    settings = " &middot; ".join([
        f"logics: {', '.join(on) or 'none'}",
        f"support {'unlimited' if cap is None else cap}",
        "turnover " + ("as drawn by the file" if turnover is None else f"{turnover * 100:.3g}%/year"),
        f"legitimacy {lg.social.legitimacy:g}",
        f"replication package {sc.strategy.replication_package:g}",
        "assurance " + CONTROLS_BY_NAME["assurance_interval"].show(sc.strategy.assurance.interval),
        f"seeding {html.escape(labels.readable(sc.strategy.seeding.rule))}",
        f"network {html.escape(labels.readable(sc.network.type))}",
    ])
    reach_share = s["reach"][t] / (float(m.size[: m.N].sum()) or 1.0)
    delivering = int(counts[STAGES.index("initial")] + counts[STAGES.index("full")])
    head = (f'Month <span class="ss-month">{t}</span> of {m.months}' + (': <span class="ss-finished">finished</span>'
                                                                          if finished else ""))
    return (
        f'<div class="spreadsim-status" data-month="{t}" data-months="{m.months}" data-sites="{m.N}" '
        f'data-finished="{int(finished)}">'
        f'<div class="ss-headline"><b>{head}</b> &middot; '
        f'<span class="ss-sites">{m.N:,}</span> sites &middot; seed <span class="ss-seed">{m.seed}</span></div>'
        f'<div class="ss-stages">{stages}</div>'
        f'<div class="ss-numbers">adopted <b class="ss-adopted">{s["adopted_share"][t]:.1%}</b> &middot; '
        f'reach <b class="ss-reach">{s["reach"][t]:,.0f}</b> people ({reach_share:.0%}) &middot; '
        f'<span class="ss-fidelity-text">mean fidelity <b class="ss-fidelity">{"n/a" if np.isnan(fid) else f"{fid:.2f}"}'
        f'</b> among the <b class="ss-delivering">{delivering:,}</b> sites still delivering</span></div>'
        f'<div class="ss-explain">{html.escape(explain(sc))}</div>'
        f'<div class="ss-settings ss-muted">{settings}</div>'
        f'<div class="ss-muted">scenario: <span class="ss-source">{html.escape(shown_path(source))}</span>; changed: '
        f'<span class="ss-changed">{html.escape(_changed_text(m))}</span></div></div>'
    )
