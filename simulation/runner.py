"""Running one scenario: ``run(scenario, seed)`` and the result's tables, summary, plot and files."""

from __future__ import annotations

import datetime as _dt
import json
import math
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .model import FULL, SERIES, STAGES, TRAITS, SpreadModel
from .network import Built
from .safe_io import atomic_dir
from .scenario import Scenario

SUMMARY_KEYS = ("adopted_share", "reach", "reach_share", "mean_fidelity", "benefit", "sustainment",
                "time_to_50", "abandonment", "equity_gap", "support_used", "cost_per_sustained_site")


def summarise(model: SpreadModel, block: int = 0) -> dict[str, float]:
    """Per-run outcomes (MODEL.md, "What comes out"), for one block of a batch (default the first).

    ``sustainment``: share of the sites in full implementation when support ended (or at
    ``months - sustain_window`` if support never ends) that are still in full implementation
    ``sustain_window`` months later (Wong, Schaper & Saldana 2022 measure it two years on).
    ``abandonment``: share of the sites that ever adopted that are discontinued at the end.
    ``equity_gap``: the largest minus the smallest share of a group's people reached.
    ``cost_per_sustained_site``: support used divided by the sites in full implementation at the end.
    """
    s = {k: v[block] for k, v in model.series_b.items()}
    t = model.month
    sl = model.block_slice(block)
    stage = model.stage[sl]
    share = s["adopted_share"]
    hit = np.flatnonzero(share[: t + 1] >= 0.5)
    ever = model.adopted_month[sl] >= 0
    n_full = int(np.count_nonzero(stage == FULL))
    by_group = model.reach_by_group(block)
    total_size = float(model.size[sl].sum())
    return {
        "adopted_share": float(share[t]),
        "reach": float(s["reach"][t]),
        "reach_share": float(s["reach"][t] / total_size) if total_size > 0 else float("nan"),
        "mean_fidelity": float(s["mean_fidelity"][t]),
        "benefit": float(s["benefit"][t]),
        "sustainment": float(model.sustainment_b[block]),
        "time_to_50": float(hit[0]) if len(hit) else float("nan"),
        "abandonment": float(np.count_nonzero(ever & (stage == 6)) / ever.sum()) if ever.any() else float("nan"),
        "equity_gap": float(max(by_group.values()) - min(by_group.values())) if by_group else 0.0,
        "support_used": float(s["support_used"][t]),
        "cost_per_sustained_site": float(s["support_used"][t] / n_full) if n_full else float("nan"),
    }


def timeseries_frame(model: SpreadModel, block: int = 0) -> pd.DataFrame:
    """One row per month from month 0: stage counts and the monthly outputs."""
    T = model.month + 1
    df = pd.DataFrame(model.counts_b[block, :T], columns=list(STAGES))
    df.insert(0, "month", np.arange(T))
    for k in SERIES:
        df[k] = model.series_b[k][block, :T]
    for k in ("adopted", "supported", "trainers"):
        df[k] = df[k].astype(np.int64)
    return df


def sites_frame(model: SpreadModel, block: int = 0) -> pd.DataFrame:
    """One row per site: final stage, month adopted, fidelity and the site's traits."""
    sl = model.block_slice(block)
    am = model.adopted_month[sl]
    df = pd.DataFrame({
        "site": model.ids,
        "stage": np.array(STAGES, dtype=object)[model.stage[sl]],
        "adopted_month": pd.array(np.where(am >= 0, am, 0), dtype="Int64"),
        "fidelity": model.fidelity[sl],
        "competence": model.competence[sl],
        "adaptation": model.adaptation[sl],
        "group": model.group[sl],
    })
    df.loc[am < 0, "adopted_month"] = pd.NA
    for k in TRAITS:
        df[k] = getattr(model, k)[sl]
    df["champions"] = df["champions"].astype(np.int64)
    df["degree"] = model.degree[sl]
    return df


@dataclass
class RunResult:
    """The result of one run.

    Attributes:
        model: the Mesa model after the run (``model.agents`` are the sites). In a batch
            (:func:`run_batch`) the results share one model, each reading its own ``block``.
        timeseries: one row per month from month 0.
        sites: one row per site (None when a batch was asked not to build them).
        summary: per-run outcomes (see :func:`summarise`).
    """

    model: SpreadModel
    scenario: Scenario
    seed: int
    timeseries: pd.DataFrame
    sites: pd.DataFrame | None
    summary: dict[str, float]
    elapsed: dict[str, float] = field(default_factory=dict)
    block: int = 0

    def plot(self, ax=None):
        """Stage areas over time with the adopted share; returns the matplotlib Axes."""
        from .plots import adoption_plot

        f = self.scenario.strategy.support.funding_months
        events = {"support ends": f} if f is not None and self.scenario.logics.mechanical.enabled else {}
        return adoption_plot(self.timeseries, title=f"{self.scenario.name} (seed {self.seed})", ax=ax, events=events)

    def manifest(self) -> dict:
        from . import __version__
        from .safe_io import mark

        return mark({
            "scenario": self.scenario.to_dict(),
            "scenario_file": self.scenario.source,
            "scenario_hash": self.scenario.digest(),
            "seed": self.seed,
            "version": __version__,
            "git_commit": git_commit(),
            "time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "summary": {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in self.summary.items()},
        }, "run")

    def save(self, out: str | Path, plot: bool = True, *, force: bool = False) -> Path:
        """Write timeseries.csv, sites.csv, manifest.json and adoption.png into ``out`` atomically.

        Everything is written to a hidden temporary folder beside ``out`` and renamed into place at
        the end, so a failure leaves no half-written folder behind. ``out`` must be new or empty, or
        (with ``force``) an earlier spreadsim output holding only spreadsim's files; anything else is
        refused with :class:`~simulation.errors.InputError` (see :mod:`simulation.safe_io`).
        """
        out = Path(out)
        with atomic_dir(out, "run", replace=force) as tmp:
            self.timeseries.to_csv(tmp / "timeseries.csv", index=False)
            self.sites.to_csv(tmp / "sites.csv", index=False)
            (tmp / "manifest.json").write_text(json.dumps(self.manifest(), indent=2))
            if plot:
                import matplotlib.pyplot as plt

                ax = self.plot()
                ax.figure.savefig(tmp / "adoption.png", dpi=120, bbox_inches="tight")
                plt.close(ax.figure)
        return out


def git_commit() -> str | None:
    """The package's git commit, when it runs from a checkout."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def run(scenario: Scenario, seed: int | None = None, *, months: int | None = None, agents: bool = True,
        built: Built | None = None) -> RunResult:
    """Run one scenario to its horizon.

    Args:
        scenario: a validated scenario (see :func:`simulation.load_scenario`).
        seed: the run's seed (default: the scenario's ``seed``); decides the run completely.
        months: override the horizon.
        agents: create the Mesa site agents (``result.model.agents``).
        built: a network built beforehand, shared across runs.

    Returns:
        RunResult with ``timeseries``, ``sites``, ``summary``, ``plot()`` and ``model``.
    """
    import time

    if months is not None and months != scenario.months:
        scenario = scenario.with_overrides({"months": months}, "months")
    seed = scenario.seed if seed is None else int(seed)
    t0 = time.perf_counter()
    model = SpreadModel(scenario, seed, agents=agents, built=built)
    t1 = time.perf_counter()
    model.run_model()
    t2 = time.perf_counter()
    result = RunResult(model, scenario, seed, timeseries_frame(model), sites_frame(model), summarise(model))
    result.elapsed = {"setup": t1 - t0, "step": t2 - t1, "output": time.perf_counter() - t2}
    return result


def run_batch(scenario: Scenario, seeds: list[int], *, months: int | None = None, built: Built | None = None,
              sites: bool = True) -> list[RunResult]:
    """Run one scenario for several seeds at once, side by side in the same arrays.

    Each seed's run is exactly what :func:`run` gives for that seed alone (bit for bit), but the
    month's work is done once for all of them: for small scenarios most of the time of a run is
    the fixed cost of each numpy call, which a batch shares. Use it for replicates.

    Args:
        scenario: a validated scenario.
        seeds: one seed per replicate.
        months: override the horizon.
        built: a network built beforehand, shared by every replicate.
        sites: also build each replicate's per-site table (skip for speed in large ensembles).

    Returns:
        One :class:`RunResult` per seed, in order (their ``model`` is the shared batch model).
    """
    import time

    if months is not None and months != scenario.months:
        scenario = scenario.with_overrides({"months": months}, "months")
    t0 = time.perf_counter()
    model = SpreadModel(scenario, list(seeds), agents=False, built=built)
    t1 = time.perf_counter()
    model.run_model()
    t2 = time.perf_counter()
    out = []
    for b, seed in enumerate(model.seeds):
        r = RunResult(model, scenario, seed, timeseries_frame(model, b), sites_frame(model, b) if sites else None,
                      summarise(model, b), block=b)
        r.elapsed = {"setup": (t1 - t0) / len(seeds), "step": (t2 - t1) / len(seeds)}
        out.append(r)
    return out
