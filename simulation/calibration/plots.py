"""Figures for calibrations and forecasts: fit against data, posterior marginals, strategy bands."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import labels
from .. import plots as _plots  # noqa: F401  (sets a non-interactive backend when none is chosen)

COLOURS = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666"]


def _label(name: str) -> str:
    """A fitted or forecast series in words ("sites in full implementation" for ``full``)."""
    out = labels.OUTPUTS.get(name)
    if out is not None and out.unit == "sites" and not out.label.startswith("sites"):
        return f"sites in {out.label}"  # a stage count
    return labels.output_label(name)


def fit_plot(cal, pred: pd.DataFrame, axes=None):
    """Observed points against the posterior predictive median, 50% and 90% bands.

    Fitted months are filled dots; held-out months open circles, with their bands forecast from the
    fitted state (dashed line at the last fitted month).
    """
    import matplotlib.pyplot as plt

    targets = cal.targets
    if axes is None:
        fig, axes = plt.subplots(1, len(targets), figsize=(6.5 * len(targets), 4.2), squeeze=False)
        axes = axes[0]
    else:
        axes = np.atleast_1d(axes)
        fig = axes[0].figure
    obs = cal.observed.table
    for ax, t in zip(axes, targets):
        for part, colour in (("fit", "#3182bd"), ("holdout", "#e6550d")):
            b = pred[(pred["series"] == t) & (pred["part"] == part)]
            if b.empty:
                continue
            if part == "holdout":  # join the bands at the last fitted month
                b = pd.concat([pred[(pred["series"] == t) & (pred["part"] == "fit") & (pred["month"] == cal.fit_months)], b])
            ax.fill_between(b["month"], b["q05"], b["q95"], color=colour, alpha=0.18, lw=0,
                            label="90% predictive band" + (" (held-out forecast)" if part == "holdout" else ""))
            ax.fill_between(b["month"], b["q25"], b["q75"], color=colour, alpha=0.3, lw=0, label="50% band")
            ax.plot(b["month"], b["q50"], color=colour, lw=1.8, label="median")
        fit = obs[obs["month"] <= cal.fit_months]
        ax.plot(fit["month"], fit[t], "o", color="black", ms=4, label="observed (fitted)")
        held = obs[obs["month"] > cal.fit_months]
        if not held.empty:
            ax.plot(held["month"], held[t], "o", mfc="white", mec="black", ms=5, label="observed (held out)")
            ax.axvline(cal.fit_months, color="grey", ls="--", lw=1)
        ax.set_xlabel("month")
        ax.set_ylabel(_label(t))
        ax.set_title(f"{labels.scenario_label(cal.scenario.name)}: {_label(t)}\n{cal.method.upper()} fit, {cal.n_simulations:,} simulations", fontsize=10)
        ax.set_xlim(0, obs["month"].max())
        ax.set_ylim(bottom=0)
    handles, names = axes[0].get_legend_handles_labels()
    seen = {}
    for h, lab in zip(handles, names):
        seen.setdefault(lab, h)
    axes[-1].legend(seen.values(), seen.keys(), fontsize=8, loc="upper left", frameon=False)
    fig.tight_layout()
    return fig


def marginals_plot(cal, axes=None):
    """Weighted posterior histograms with the prior density and the 90% credible interval."""
    import matplotlib.pyplot as plt

    priors = cal.spec.parameters
    k = len(priors)
    if axes is None:
        fig, axes = plt.subplots(1, k, figsize=(4.2 * k, 3.4), squeeze=False)
        axes = axes[0]
    else:
        axes = np.atleast_1d(axes)
        fig = axes[0].figure
    iv = cal.intervals().set_index("parameter")
    w = cal.posterior["weight"].to_numpy(float)
    for ax, p in zip(axes, priors):
        x = cal.posterior[p.path].to_numpy(float)
        grid = np.linspace(p.low, p.high, 300)
        dens = p.scipy().pdf(grid)
        if cal.method == "abc":
            ax.hist(x, bins=30, range=(p.low, p.high), weights=w, density=True, color="#3182bd", alpha=0.6, label="posterior")
            r = iv.loc[p.path]
            ax.axvspan(r["low"], r["high"], color="#3182bd", alpha=0.12, label="90% credible interval")
            ax.axvline(r["median"], color="#08519c", lw=1.5, label="median")
        else:
            ax.axvline(x[0], color="#d95f02", lw=2, label="best trial")
            trials = cal.populations
            if p.path in trials:
                ax.plot(trials[p.path], trials["distance"] / trials["distance"].max() * dens.max(), ".", color="grey",
                        ms=3, label="trials (distance, scaled)")
        ax.plot(grid, dens, color="black", lw=1, ls="--", label="prior")
        ax.set_xlabel(labels.param_label(p.path))
        ax.set_ylabel("density")
        ax.set_title(labels.param_label(p.path), fontsize=10)
    axes[0].legend(fontsize=7, frameon=False)
    fig.suptitle(f"{labels.scenario_label(cal.scenario.name)}: posterior of the unknown parameters ({cal.method.upper()})", fontsize=11)
    fig.tight_layout()
    return fig


def forecast_plot(fc, series: str = "adopted", ax=None):
    """Median and 90% band per strategy over the horizon, observed data and the switch month."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 5))
    b = fc.bands[fc.bands["series"] == series]
    for i, (name, g) in enumerate(b.groupby("strategy", sort=False)):
        c = COLOURS[i % len(COLOURS)]
        ax.fill_between(g["month"], g["q05"], g["q95"], color=c, alpha=0.15, lw=0)
        ax.plot(g["month"], g["q50"], color=c, lw=2, label=f"{labels.strategy_label(name)} (median, 90% band)")
    obs = fc.calibration.observed.table
    if series in obs.columns:
        ax.plot(obs["month"], obs[series], "o", color="black", ms=3.5, label="observed")
    ax.axvline(fc.switch_at, color="grey", ls="--", lw=1)
    ax.set_xlabel("month")
    ax.set_ylabel(_label(series))
    ax.set_xlim(0, fc.horizon)
    ax.set_ylim(bottom=0)
    ax.text(fc.switch_at, ax.get_ylim()[1] * 0.02, " end of fitted data: strategies start", va="bottom", fontsize=8,
            color="grey")
    ax.set_title(f"{labels.scenario_label(fc.calibration.scenario.name)}: forecast from the fitted state, {fc.draws} posterior draws per strategy")
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    return ax.figure
