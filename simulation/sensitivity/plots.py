"""Figures of a sensitivity analysis: index bars, Morris mu*-sigma, strategy heatmap, strategy wins."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from .core import TIE

if TYPE_CHECKING:  # pragma: no cover
    from .core import Sensitivity


def _figure(ncols: int, width: float = 4.2, height: float = 3.6, nrows: int = 1, sharey: bool = True):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(nrows, ncols, figsize=(max(5.0, width * ncols), height * nrows), squeeze=False,
                             sharey=sharey)
    return fig, axes.ravel()


def indices_figure(sa: "Sensitivity", output: str):
    """Sobol/eFAST: S1 and ST bars with their intervals per strategy. Morris: mu* against sigma."""
    sp = sa.spec
    df = sa.indices[sa.indices["output"] == output]
    strategies = sp.strategies
    fig, axes = _figure(len(strategies), sharey=sp.method != "morris")
    for ax, s in zip(axes, strategies):
        d = df[df["strategy"] == s].set_index("parameter").reindex(sp.factors)
        floor = sa.noise_floor(s, output)
        if sp.method == "morris":
            ax.errorbar(d["mu_star"], d["sigma"], xerr=d["mu_star_conf"], fmt="o", color="C0", ecolor="0.6", capsize=3)
            for name, r in d.iterrows():
                if r["mu_star"] == r["mu_star"]:
                    ax.annotate(name, (r["mu_star"], r["sigma"] if r["sigma"] == r["sigma"] else 0),
                                fontsize=7, xytext=(3, 3), textcoords="offset points")
            if floor == floor:
                ax.axvline(2 * floor, ls="--", color="C3", lw=1, label="noise floor (2x)")
                ax.legend(fontsize=7, loc="upper left")
            top = np.nanmax(np.r_[d["mu_star"].to_numpy(), d["sigma"].to_numpy(), 1e-12])
            ax.plot([0, top], [0, top], color="0.8", lw=0.8, zorder=0)
            ax.set_xlabel("mu* (mean |elementary effect|)")
            ax.set_ylabel("sigma (spread of effects)")
            ax.set_xlim(left=0)
            ax.set_ylim(bottom=0)
        else:
            x = np.arange(len(d))
            ax.bar(x - 0.2, d["S1"], 0.4, yerr=d["S1_conf"], capsize=2, label="S1 (first order)", color="C0")
            ax.bar(x + 0.2, d["ST"], 0.4, yerr=d["ST_conf"], capsize=2, label="ST (total)", color="C1")
            if floor == floor:
                ax.axhline(floor, ls="--", color="C3", lw=1, label=f"noise share {floor:.0%}")
            ax.axhline(0, color="0.3", lw=0.6)
            ax.set_xticks(x, [_short(n) for n in d.index], rotation=45, ha="right", fontsize=8)
            ax.set_ylabel("sensitivity index")
            ax.set_xlabel("parameter" if not sp.groups else "parameter group")
            ax.legend(fontsize=7)
        ax.set_title(s, fontsize=10)
    title = "Morris screening" if sp.method == "morris" else f"{'Sobol' if sp.method == 'sobol' else 'eFAST'} indices"
    fig.suptitle(f"{title} of {output} (N = {sp.samples}, {sp.replicates} replicates, {int(sp.conf_level * 100)}% intervals)")
    fig.tight_layout()
    return fig


def _short(name: str, width: int = 28) -> str:
    return name if len(name) <= width else "..." + name[-(width - 3):]


def heatmap_figure(sa: "Sensitivity", outputs: list[str]):
    """Strategy x parameter heatmap of ST (or mu* scaled to its largest value), one panel per output."""
    import matplotlib.pyplot as plt

    sp = sa.spec
    label = "ST" if sp.method != "morris" else "mu* / largest mu*"
    n = len(outputs)
    cols = min(n, 2)
    rows = math.ceil(n / cols)
    width = max(6.0, (0.6 * len(sp.factors) + 1.6) * cols + 1.0)
    height = (0.45 * len(sp.strategies) + 2.4) * rows + 0.6
    fig, axes = plt.subplots(rows, cols, figsize=(width, height), squeeze=False, layout="constrained")
    im = None
    for k, o in enumerate(outputs):
        ax = axes[k // cols, k % cols]
        m = sa.matrix(o)
        vals = m.to_numpy(dtype=float)
        im = ax.imshow(np.clip(vals, 0, 1), vmin=0, vmax=1, cmap="viridis", aspect="auto")
        ax.set_xticks(range(m.shape[1]), [_wrap(c) for c in m.columns], rotation=45, ha="right",
                      rotation_mode="anchor", fontsize=7)
        ax.set_yticks(range(m.shape[0]), m.index if k % cols == 0 else [], fontsize=8)
        for i in range(m.shape[0]):
            for j in range(m.shape[1]):
                v = vals[i, j]
                if v == v:
                    ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7, color="w" if v < 0.6 else "k")
        ax.set_title(o, fontsize=10)
        if k // cols == rows - 1 or k + cols >= n:
            ax.set_xlabel("parameter")
        if k % cols == 0:
            ax.set_ylabel("strategy")
    for k in range(n, rows * cols):
        axes[k // cols, k % cols].set_visible(False)
    if im is not None:
        fig.colorbar(im, ax=axes[:, -1].tolist(), label=label + " (values above 1 are estimation error)", shrink=0.8)
    fig.suptitle(f"Which parameters matter under which strategy ({label})")
    return fig


def _wrap(name: str, width: int = 16) -> str:
    """Break a long label over two lines at a space or dot near the middle."""
    if len(name) <= width:
        return name
    cut = [i for i, c in enumerate(name) if c in " ._"]
    if not cut:
        return _short(name, width)
    i = min(cut, key=lambda i: abs(i - len(name) / 2))
    return name[:i] + "\n" + name[i + 1:] if name[i] == " " else name[: i + 1] + "\n" + name[i + 1:]


def wins_figure(sa: "Sensitivity"):
    """Share of the sampled parameter space in which each strategy gives the best value, per output."""
    import matplotlib.pyplot as plt

    w = sa.wins
    outs = list(dict.fromkeys(w["output"]))
    strategies = list(sa.spec.strategies) + ([TIE] if (w[w["strategy"] == TIE]["win_share"] > 0).any() else [])
    fig, ax = plt.subplots(figsize=(max(5.0, 1.2 * len(outs) + 2), 3.8))
    bottom = np.zeros(len(outs))
    for j, s in enumerate(strategies):
        vals = np.array([float(w[(w["output"] == o) & (w["strategy"] == s)]["win_share"].sum()) for o in outs])
        ax.bar(range(len(outs)), vals, bottom=bottom, label=s, color="0.75" if s == TIE else f"C{j}")
        clear = np.array([float(w[(w["output"] == o) & (w["strategy"] == s)]["clear_win_share"].sum()) for o in outs])
        if np.isfinite(clear).all():
            ax.bar(range(len(outs)), clear, bottom=bottom, color="none", edgecolor="k", hatch="//", lw=0)
        bottom += vals
    ax.set_xticks(range(len(outs)), [f"{o}\n({'max' if g == 'max' else 'min'})" for o, g in
                                     zip(outs, [w[w['output'] == o]['goal'].iloc[0] for o in outs])], fontsize=8)
    ax.set_ylabel("share of parameter space where best")
    ax.set_xlabel("output (goal)")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), title="strategy (hatched: clear win)")
    ax.set_title("In what share of the parameter space each strategy wins")
    fig.tight_layout()
    return fig


def wins_by_parameter_figure(sa: "Sensitivity", output: str):
    """Win share of each strategy along each parameter (fifths of its range), for one output."""
    wp = sa.wins_by_parameter
    wp = wp[wp["output"] == output]
    params = sa.spec.names
    n = len(params)
    cols = min(4, n)
    rows = math.ceil(n / cols)
    fig, axes = _figure(cols, width=3.2, height=2.6, nrows=rows)
    for ax, p in zip(axes, params):
        d = wp[wp["parameter"] == p]
        bottom = None
        labels = list(sa.spec.strategies) + ([TIE] if (d[d["strategy"] == TIE]["win_share"] > 0).any() else [])
        for j, s in enumerate(labels):
            ds = d[d["strategy"] == s].sort_values("bin")
            mid = (ds["low"] + ds["high"]).to_numpy() / 2
            width = (ds["high"] - ds["low"]).to_numpy()
            vals = ds["win_share"].to_numpy()
            b = np.zeros(len(vals)) if bottom is None else bottom
            ax.bar(mid, vals, width=width * 0.95, bottom=b, color="0.75" if s == TIE else f"C{j}", label=s)
            bottom = b + vals
        ax.set_title(_short(p, 30), fontsize=8)
        ax.set_ylim(0, 1)
        ax.tick_params(labelsize=7)
        ax.set_xlabel("value", fontsize=7)
    for ax in axes[n:]:
        ax.set_visible(False)
    axes[0].set_ylabel("share where best", fontsize=8)
    handles, labels_ = [], []
    for ax in axes[:n]:
        h, lab = ax.get_legend_handles_labels()
        for hh, ll in zip(h, lab):
            if ll not in labels_:
                handles.append(hh)
                labels_.append(ll)
    fig.suptitle(f"Where each strategy gives the best {output}, along each parameter (fifths of each range)")
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.legend(handles, labels_, fontsize=8, loc="lower center", ncol=len(labels_), frameon=False)
    return fig
