"""What the teaching app draws: the site network coloured by stage, the curves over time, the numbers.

Both figures are made once per model and then only updated (node colours; curve data), then
saved as PNG: at 1,000 sites a month's step and both redraws take well under the 200 ms that
five steps a second allow (``spreadsim bench --only app_1k``).
"""

from __future__ import annotations

import html
import io
import threading

import matplotlib.colors as mcolors
import numpy as np
import PIL.Image
import scipy.sparse as sp
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ..model import STAGES, SpreadModel
from ..plots import STAGE_COLOURS
from .layout import network_layout
from .wrapper import turnover_mean

#: sites drawn at most (a fixed random sample of the sites beyond this)
MAX_DRAWN = 2_000
#: ties drawn at most (a fixed random sample beyond this; the layout still uses them)
MAX_DRAWN_TIES = 20_000
DPI = 80
STAGE_RGBA = np.array([mcolors.to_rgba(STAGE_COLOURS[s]) for s in STAGES])
STAGE_LABELS = [s.replace("_", " ") for s in STAGES]


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

    def __init__(self, model: SpreadModel, layout_seed: int = 0):
        self.model = model
        n = model.n
        rng = np.random.default_rng(layout_seed)
        if n > MAX_DRAWN:
            self.drawn = np.sort(rng.choice(n, MAX_DRAWN, replace=False))
            W = sp.csr_array(model.W)[self.drawn][:, self.drawn]
        else:
            self.drawn = np.arange(n)
            W = model.W
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

        fig = Figure(figsize=(6.4, 6.6), dpi=DPI)
        ax = fig.add_axes((0.02, 0.1, 0.96, 0.82))
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
        handles = [Patch(facecolor=STAGE_COLOURS[s], edgecolor="#555555", label=lab) for s, lab in zip(STAGES, STAGE_LABELS, strict=True)]
        fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=8, frameon=False, bbox_to_anchor=(0.5, 0.0))
        self.figure = fig
        self.frames = _Frames(fig, [self.scatter, self.title])

    def _colours(self) -> np.ndarray:
        return STAGE_RGBA[self.model.stage[self.drawn]]

    def caption(self) -> str:
        m = self.model
        what = f"{m.n:,} sites" if len(self.drawn) == m.n else f"{len(self.drawn):,} of {m.n:,} sites"
        ties = f"{self.ties_total:,} ties" if self.ties_drawn == self.ties_total else f"{self.ties_drawn:,} of {self.ties_total:,} ties"
        return f"Sites by stage, month {m.month} ({what}, {ties})"

    def png(self) -> bytes:
        """The figure for the model's current month, as PNG bytes."""
        with self._lock:
            self.scatter.set_facecolors(self._colours())
            self.title.set_text(self.caption())
            return self.frames.png()


class ChartFigure:
    """Stage shares over time (stacked), adopted share, mean fidelity among adopters and reach.

    Args:
        model: the model whose ``counts`` and ``series`` to draw.
    """

    def __init__(self, model: SpreadModel):
        self.model = model
        self._lock = threading.Lock()
        months = model.months
        fig = Figure(figsize=(6.4, 6.6), dpi=DPI)
        ax1 = fig.add_axes((0.11, 0.56, 0.6, 0.37))
        ax2 = fig.add_axes((0.11, 0.08, 0.6, 0.37))
        t = np.zeros(1)
        self.areas = [ax1.fill_between(t, t, t, color=STAGE_COLOURS[s], label=lab, linewidth=0)
                      for s, lab in zip(STAGES, STAGE_LABELS, strict=True)]
        (self.adopted,) = ax1.plot([], [], color="black", lw=2, label="adopted\n(initial + full)")
        ax1.set_xlim(0, months)
        ax1.set_ylim(0, 1)
        ax1.set_ylabel(f"share of sites (n = {model.n:,})")
        ax1.set_title("Implementation stages over time", fontsize=11)
        ax1.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8, frameon=False)
        (self.fidelity,) = ax2.plot([], [], color="#6a51a3", lw=2, label="mean fidelity\n(adopters)")
        (self.reach,) = ax2.plot([], [], color="#238b45", lw=2, label="reach (share of\npeople served)")
        (self.adopted2,) = ax2.plot([], [], color="black", lw=1, ls="--", label="adopted share")
        ax2.set_xlim(0, months)
        ax2.set_ylim(0, 1)
        ax2.set_xlabel("month")
        ax2.set_ylabel("share")
        ax2.set_title("Adoption, fidelity and reach", fontsize=11)
        ax2.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8, frameon=False)
        for ax in (ax1, ax2):
            ax.grid(alpha=0.3)
        self.figure = fig
        self.frames = _Frames(fig, [*self.areas, self.adopted, self.fidelity, self.reach, self.adopted2])
        self.total_size = float(model.size.sum()) or 1.0

    def png(self) -> bytes:
        """The figure up to the model's current month, as PNG bytes."""
        m = self.model
        with self._lock:
            t = np.arange(m.month + 1)
            shares = m.counts[: m.month + 1] / m.n
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


def status_html(model: SpreadModel) -> str:
    """The current month and numbers as a small HTML table (classes name each value, for tests)."""
    m = model
    t = m.month
    counts = m.counts[t]
    s = m.series
    fid = s["mean_fidelity"][t]
    rows = "".join(
        f'<tr class="ss-stage" data-stage="{st}"><td><span style="display:inline-block;width:0.9em;height:0.9em;'
        f'background:{STAGE_COLOURS[st]};border:1px solid #555;margin-right:0.4em"></span>{html.escape(lab)}</td>'
        f'<td class="ss-count" style="text-align:right">{int(c):,}</td></tr>'
        for st, lab, c in zip(STAGES, STAGE_LABELS, counts, strict=True))
    changed = getattr(m, "app_overrides", {}) or {}
    changed_txt = "; ".join(f"{k} = {v}" for k, v in changed.items()) or "nothing (as in the file)"
    notes = "".join(f"<div class='ss-note'>{html.escape(n)}</div>" for n in getattr(m, "app_notes", []) or [])
    source = getattr(m, "scenario_file", None) or m.scenario_obj.source
    sc = m.scenario_obj
    lg = sc.logics
    on = [f"{k} {getattr(lg, k).weight:g}" for k in ("mechanical", "ecological", "social") if getattr(lg, k).enabled]
    cap = sc.strategy.support.capacity
    settings = (f"logics: {', '.join(on) or 'none'} &middot; support {'unlimited' if cap is None else cap} &middot; "
                f"turnover {turnover_mean(sc):g}/year &middot; legitimacy {lg.social.legitimacy:g} &middot; replication package {sc.strategy.replication_package:g} &middot; "
                f"assurance {'every ' + str(sc.strategy.assurance.interval) + ' months' if sc.strategy.assurance.interval else 'none'} &middot; "
                f"seeding {sc.strategy.seeding.rule} &middot; network {sc.network.type}")
    return (
        f'<div class="spreadsim-status" data-month="{t}" data-sites="{m.n}" style="font-size:14px;line-height:1.35">'
        f'<div><b>Month <span class="ss-month">{t}</span> of {m.months}</b> &middot; '
        f'<span class="ss-sites">{m.n:,}</span> sites &middot; seed <span class="ss-seed">{m.seed}</span></div>'
        f'<table style="border-collapse:collapse;margin:0.3em 0">{rows}</table>'
        f'<div>adopted <span class="ss-adopted">{s["adopted_share"][t]:.1%}</span> &middot; '
        f'mean fidelity <span class="ss-fidelity">{"n/a" if np.isnan(fid) else f"{fid:.2f}"}</span> &middot; '
        f'reach <span class="ss-reach">{s["reach"][t]:,.0f}</span> people</div>'
        f'<div class="ss-settings" style="color:#333">{settings}</div>'
        f'<div style="color:#555">scenario: {html.escape(str(source))}; changed: '
        f'<span class="ss-changed">{html.escape(changed_txt)}</span></div>{notes}</div>'
    )

