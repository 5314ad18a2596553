"""Figures of a sensitivity analysis: index bars, Morris mu*-sigma, strategy heatmap, strategy wins,
and the one-at-a-time sweeps.

Parameters, outputs and strategies are shown by their human labels (:mod:`simulation.labels`).
"""

from __future__ import annotations

import math
import textwrap
from typing import TYPE_CHECKING

import numpy as np

from .. import labels
from .spec import TIE

if TYPE_CHECKING:  # pragma: no cover
    from .core import Sensitivity
    from .sweep import SweepResult

#: the note a Sobol or eFAST figure carries when an index lies outside [0, 1]
OUT_OF_RANGE_NOTE = ("Note: a total index (ST) above 1 or a first-order index (S1) below 0 cannot be a true "
                     "value; it is estimation error (too few samples, or the model's own noise). Read it as "
                     "about 1 or about 0, and raise the sample size to narrow it.")
TIE_LABEL = "tie (no single best)"


def _figure(ncols: int, width: float = 4.2, height: float = 3.6, nrows: int = 1, sharey: bool = True):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(nrows, ncols, figsize=(max(5.0, width * ncols), height * nrows), squeeze=False,
                             sharey=sharey)
    return fig, axes.ravel()


def factor_label(sa: "Sensitivity", name: str) -> str:
    """A parameter (its key path) or a group of parameters (its free name), in words."""
    return labels.param_label(name) if not sa.spec.groups else labels.readable(name)


def _strategy(name: str) -> str:
    return TIE_LABEL if name == TIE else labels.strategy_label(name)


def _wrap(text: str, width: int = 18) -> str:
    """Break a label over lines of about ``width`` characters (at spaces)."""
    return "\n".join(textwrap.wrap(text, width)) or text


def indices_figure(sa: "Sensitivity", output: str):
    """Sobol/eFAST: S1 and ST bars with their intervals per strategy. Morris: mu* against sigma."""
    sp = sa.spec
    df = sa.indices[sa.indices["output"] == output]
    strategies = sp.strategies
    fig, axes = _figure(len(strategies), sharey=sp.method != "morris")
    out_of_range = False
    for ax, s in zip(axes, strategies):
        d = df[df["strategy"] == s].set_index("parameter").reindex(sp.factors)
        floor = sa.noise_floor(s, output)
        if sp.method == "morris":
            ax.errorbar(d["mu_star"], d["sigma"], xerr=d["mu_star_conf"], fmt="o", color="C0", ecolor="0.6", capsize=3)
            for name, r in d.iterrows():
                if r["mu_star"] == r["mu_star"]:
                    ax.annotate(_wrap(factor_label(sa, name), 22), (r["mu_star"], r["sigma"] if r["sigma"] == r["sigma"] else 0),
                                fontsize=7, xytext=(3, 3), textcoords="offset points")
            if floor == floor:
                ax.axvline(2 * floor, ls="--", color="C3", lw=1, label="noise floor (2x)")
                ax.legend(fontsize=7, loc="upper left")
            top = np.nanmax(np.r_[d["mu_star"].to_numpy(), d["sigma"].to_numpy(), 1e-12])
            ax.plot([0, top], [0, top], color="0.8", lw=0.8, zorder=0)
            ax.set_xlabel("mu* (mean absolute elementary effect)")
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
            ax.set_xticks(x, [_wrap(factor_label(sa, n)) for n in d.index], rotation=45, ha="right",
                          rotation_mode="anchor", fontsize=8)
            ax.set_ylabel("sensitivity index")
            ax.set_xlabel("parameter" if not sp.groups else "parameter group")
            ax.legend(fontsize=7)
            out_of_range |= bool((d["ST"] > 1).any() or (d["S1"] < 0).any())
        ax.set_title(labels.strategy_label(s), fontsize=10)
    title = "Morris screening" if sp.method == "morris" else f"{'Sobol' if sp.method == 'sobol' else 'eFAST'} indices"
    fig.suptitle(f"{title} of the {labels.output_label(output)} (N = {sp.samples}, {sp.replicates} replicates, "
                 f"{int(sp.conf_level * 100)}% intervals)")
    if out_of_range:
        fig.tight_layout(rect=(0, 0.1, 1, 1))
        fig.text(0.5, 0.01, "\n".join(textwrap.wrap(OUT_OF_RANGE_NOTE, 110)), ha="center", va="bottom", fontsize=8,
                 color="0.25")
    else:
        fig.tight_layout()
    return fig


def heatmap_figure(sa: "Sensitivity", outputs: list[str]):
    """Strategy x parameter heatmap of ST (or mu* scaled to its largest value), one panel per output.

    Cells the analysis calls noise (:meth:`Sensitivity.noise_cells`: the index's interval includes
    0, or it does not stand out from the model's own replicate noise) are greyed out, with their
    value in grey: a bright cell is never an index the report says cannot be told from noise.
    """
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
        noise = sa.noise_cells(o).reindex(index=m.index, columns=m.columns).fillna(False).to_numpy(dtype=bool)
        cmap = plt.get_cmap("viridis").with_extremes(bad="#d9d9d9")
        im = ax.imshow(np.ma.masked_array(np.clip(vals, 0, 1), mask=noise | np.isnan(vals)), vmin=0, vmax=1,
                       cmap=cmap, aspect="auto")
        ax.set_xticks(range(m.shape[1]), [_wrap(factor_label(sa, c), 16) for c in m.columns], rotation=45, ha="right",
                      rotation_mode="anchor", fontsize=7)
        ax.set_yticks(range(m.shape[0]), [labels.strategy_label(s) for s in m.index] if k % cols == 0 else [],
                      fontsize=8)
        for i in range(m.shape[0]):
            for j in range(m.shape[1]):
                v = vals[i, j]
                if v == v and noise[i, j]:
                    ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7, color="0.45", style="italic")
                elif v == v:
                    ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7, color="w" if v < 0.6 else "k")
        ax.set_title(labels.output_label(o), fontsize=10)
        if k // cols == rows - 1 or k + cols >= n:
            ax.set_xlabel("parameter")
        if k % cols == 0:
            ax.set_ylabel("strategy")
    for k in range(n, rows * cols):
        axes[k // cols, k % cols].set_visible(False)
    if im is not None:
        note = " (values above 1 are estimation error)" if sp.method != "morris" else ""
        fig.colorbar(im, ax=axes[:, -1].tolist(), label=label + note, shrink=0.8)
    fig.suptitle(f"Which parameters matter under which strategy ({label})\n"
                 "grey cells: the analysis calls them noise (interval includes 0, or below the model's own noise)",
                 fontsize="medium")
    return fig


def _goal_text(goal: str) -> str:
    return "higher is better" if goal == "max" else "lower is better"


def wins_figure(sa: "Sensitivity"):
    """Share of the sampled parameter space in which each strategy gives the best value, per output."""
    import matplotlib.pyplot as plt

    w = sa.wins
    outs = list(dict.fromkeys(w["output"]))
    strategies = list(sa.spec.strategies) + ([TIE] if (w[w["strategy"] == TIE]["win_share"] > 0).any() else [])
    fig, ax = plt.subplots(figsize=(max(5.0, 1.5 * len(outs) + 2.5), 4.0))
    bottom = np.zeros(len(outs))
    for j, s in enumerate(strategies):
        vals = np.array([float(w[(w["output"] == o) & (w["strategy"] == s)]["win_share"].sum()) for o in outs])
        ax.bar(range(len(outs)), vals, bottom=bottom, label=_strategy(s), color="0.75" if s == TIE else f"C{j}")
        clear = np.array([float(w[(w["output"] == o) & (w["strategy"] == s)]["clear_win_share"].sum()) for o in outs])
        if np.isfinite(clear).all():
            ax.bar(range(len(outs)), clear, bottom=bottom, color="none", edgecolor="k", hatch="//", lw=0)
        bottom += vals
    goals = [w[w["output"] == o]["goal"].iloc[0] for o in outs]
    ax.set_xticks(range(len(outs)), [f"{_wrap(labels.output_label(o), 16)}\n({_goal_text(g)})" for o, g in zip(outs, goals)],
                  fontsize=8)
    ax.set_ylabel("share of parameter space where best")
    ax.set_xlabel("output")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), title="strategy (hatched: clear win)",
              title_fontsize=8)
    ax.set_title("In what share of the parameter space each strategy wins")
    fig.tight_layout()
    return fig


def wins_by_parameter_figure(sa: "Sensitivity", output: str):
    """Win share of each strategy along each parameter, for one output.

    The bins are fifths of the sampled values (each holds a fifth of the samples), so they are as
    wide as the samples are spread: each bar spans its bin's range, and the title says so.
    """
    wp = sa.wins_by_parameter
    wp = wp[wp["output"] == output]
    params = sa.spec.names
    n = len(params)
    cols = min(4, n)
    rows = math.ceil(n / cols)
    fig, axes = _figure(cols, width=3.2, height=2.7, nrows=rows)
    for ax, p in zip(axes, params):
        d = wp[wp["parameter"] == p]
        bottom = None
        names = list(sa.spec.strategies) + ([TIE] if (d[d["strategy"] == TIE]["win_share"] > 0).any() else [])
        for j, s in enumerate(names):
            ds = d[d["strategy"] == s].sort_values("bin")
            mid = (ds["low"] + ds["high"]).to_numpy() / 2
            width = (ds["high"] - ds["low"]).to_numpy()
            vals = ds["win_share"].to_numpy()
            b = np.zeros(len(vals)) if bottom is None else bottom
            ax.bar(mid, vals, width=width * 0.95, bottom=b, color="0.75" if s == TIE else f"C{j}", label=_strategy(s))
            bottom = b + vals
        ax.set_title(_wrap(labels.param_label(p), 34), fontsize=8)
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
    fig.suptitle(f"Where each strategy gives the best {labels.output_label(output)}, along each parameter\n"
                 "(each bar holds a fifth of the samples, so bars are as wide as the samples are spread)")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.legend(handles, labels_, fontsize=8, loc="lower center", ncol=len(labels_), frameon=False)
    return fig


# ------------------------------------------------------------------------------------- sweeps
def sweep_outcome_figure(sw: "SweepResult", path: str):
    """A sweep: each output against the swept value, per strategy (mean, 50% and 90% bands)."""
    import matplotlib.pyplot as plt

    outs = [o.name for o in sw.outputs]
    cols = min(3, len(outs))
    rows = math.ceil(len(outs) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
    axes = axes.ravel()
    t = sw.table[sw.table["parameter"] == path]
    name = labels.param_label(path)
    for ax, o in zip(axes, outs):
        for j, s in enumerate(sw.strategies):
            d = t[(t["output"] == o) & (t["strategy"] == s)].sort_values("value")
            c = f"C{j}"
            ax.fill_between(d["value"], d["q05"], d["q95"], color=c, alpha=0.15, lw=0)
            ax.fill_between(d["value"], d["q25"], d["q75"], color=c, alpha=0.3, lw=0)
            ax.plot(d["value"], d["mean"], "o-", color=c, ms=3, label=labels.strategy_label(s))
        base = sw.baseline.get(path)
        if isinstance(base, (int, float)) and not isinstance(base, bool):
            ax.axvline(base, color="0.4", ls=":", lw=1)
        ax.set_xlabel(_wrap(name, 40), fontsize=8)
        ax.set_ylabel(labels.output_label(o, with_unit=True), fontsize=8)
        ax.set_title(labels.output_label(o), fontsize=9)
    for ax in axes[len(outs):]:
        ax.set_visible(False)
    axes[0].legend(fontsize=7, title="mean; bands 50% / 90%", title_fontsize=7)
    fig.suptitle(f"Sweep of the {name} ({sw.replicates} replicates per value; dotted: the scenario's value)")
    fig.tight_layout()
    return fig


def sweep_adoption_figure(sw: "SweepResult", path: str):
    """A sweep: adopted share over time for each swept value (median and 90% band), per strategy."""
    import matplotlib
    import matplotlib.pyplot as plt

    b = sw.bands[sw.bands["parameter"] == path]
    fig, axes = plt.subplots(1, len(sw.strategies), figsize=(5.0 * len(sw.strategies), 3.7), squeeze=False,
                             sharey=True)
    values = sorted(b["value"].unique())
    cmap = matplotlib.colormaps["viridis"]
    name = labels.param_label(path)
    for ax, s in zip(axes.ravel(), sw.strategies):
        for i, v in enumerate(values):
            d = b[(b["strategy"] == s) & (b["value"] == v)].sort_values("month")
            c = cmap(i / max(1, len(values) - 1))
            ax.fill_between(d["month"], d["q05"], d["q95"], color=c, alpha=0.12, lw=0)
            ax.plot(d["month"], d["q50"], color=c, lw=1.5, label=f"{v:g}")
        ax.set_xlabel("month")
        ax.set_title(labels.strategy_label(s), fontsize=9)
        ax.set_ylim(0, 1)
    axes[0, 0].set_ylabel("adopted share (median, 90% band)")
    axes[0, 0].legend(fontsize=7, title=_wrap(name, 30), title_fontsize=7)
    fig.suptitle(f"Adoption over time as the {name} varies")
    fig.tight_layout()
    return fig
