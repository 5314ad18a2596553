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

from .model import DISCONTINUED, FULL, SERIES, STAGES, TRAITS, SpreadEngine
from .network import Built
from .safe_io import atomic_dir
from .scenario import Scenario

SUMMARY_KEYS = ("adopted_share", "reach", "reach_share", "mean_fidelity", "benefit", "attributable_benefit",
                "attributable_benefit_years", "sustained_delivering_12", "sustained_delivering_24",
                "sustained_full_12", "sustained_full_24", "funding_end_cohort", "sustained_startup",
                "sustained_competent", "competence_rate", "time_to_50", "abandonment", "equity_gap", "support_used",
                "local_cost", "total_cost", "cost_per_sustained_site")

#: per-group outcomes (``result.groups``, ``groups.csv``), see :meth:`SpreadModel.group_outcomes`
GROUP_KEYS = ("sites", "adopted_share", "reach_share", "mean_fidelity", "benefit_per_1000", "attributable_per_1000")


def _share(mask: np.ndarray, of: np.ndarray) -> float:
    n = int(np.count_nonzero(of))
    return float(np.count_nonzero(mask & of) / n) if n else float("nan")


def summarise(model: SpreadEngine, block: int = 0) -> dict[str, float]:
    """Per-run outcomes (MODEL.md, "What comes out"), for one block of a batch (default the first).

    ``sustained_delivering_12``, ``sustained_delivering_24``, ``sustained_full_12``,
    ``sustained_full_24``: of the programme's sites (trained or supported by it, pilot sites included)
    delivering in the month its central funding ends (``strategy.support.funding_months``; each
    strategy its own), the share delivering / in full implementation 12 and 24 months later;
    ``funding_end_cohort``: how many there were. NaN when funding never ends or the run ends too
    soon; :func:`simulation.processes.outcomes.sustain_note` says why.
    ``competence_rate``, ``sustained_startup``, ``sustained_competent``: Wong, Schaper & Saldana's
    (2022) measures, over the sites that started up (first entered initial implementation; pilot
    sites excluded) early enough to be followed ``sustain_window`` months: the share that reached
    full implementation, the share still delivering ``sustain_window`` months after start-up, and
    the share still delivering ``sustain_window`` months after reaching full implementation.
    ``abandonment``: share of the sites that ever adopted that are discontinued at the end.
    ``equity_gap``: the largest minus the smallest share of a group's people reached.
    ``attributable_benefit``: benefit minus the counterfactual arm's at the last month (people-
    equivalents); ``attributable_benefit_years`` its sum over the run in person-years.
    ``support_used``: the programme's support units (funded support, trainers while funded, the
    light-touch tier, assurance, collaboratives); ``local_cost``: the local budget's (trainers'
    support after funding ended, onboarding with the replication package); ``total_cost`` both.
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
    window = model.scenario_obj.outcomes.sustain_window
    am = model.adopted_month[sl]
    cohort = (am >= 1) & (am <= t - window) & ~model.seed_site[sl]
    attributable = s["attributable_benefit"]
    return {
        "adopted_share": float(share[t]),
        "reach": float(s["reach"][t]),
        "reach_share": float(s["reach"][t] / total_size) if total_size > 0 else float("nan"),
        "mean_fidelity": float(s["mean_fidelity"][t]),
        "benefit": float(s["benefit"][t]),
        "attributable_benefit": float(attributable[t]),
        "attributable_benefit_years": float(attributable[: t + 1].sum() / 12.0),
        **{k: float(v[block]) for k, v in model.sustain_b.items()},
        "sustained_startup": _share(model.sustain_start[sl] == 1, cohort),
        "sustained_competent": _share(model.sustain_competent[sl] == 1, cohort),
        "competence_rate": _share(model.full_month[sl] >= 0, cohort),
        "time_to_50": float(hit[0]) if len(hit) else float("nan"),
        "abandonment": float(np.count_nonzero(ever & (stage == DISCONTINUED)) / ever.sum()) if ever.any() else float("nan"),
        "equity_gap": float(max(by_group.values()) - min(by_group.values())) if by_group else 0.0,
        "support_used": float(s["support_used"][t]),
        "local_cost": float(s["local_cost"][t]),
        "total_cost": float(s["support_used"][t] + s["local_cost"][t]),
        "cost_per_sustained_site": float(s["support_used"][t] / n_full) if n_full else float("nan"),
    }


def timeseries_frame(model: SpreadEngine, block: int = 0) -> pd.DataFrame:
    """One row per month from month 0: stage counts and the monthly outputs."""
    T = model.month + 1
    df = pd.DataFrame(model.counts_b[block, :T], columns=list(STAGES))
    df.insert(0, "month", np.arange(T))
    for k in SERIES:
        df[k] = model.series_b[k][block, :T]
    for k in ("adopted", "supported", "trainers"):
        df[k] = df[k].astype(np.int64)
    return df


def sites_frame(model: SpreadEngine, block: int = 0) -> pd.DataFrame:
    """One row per site: final stage, months of start-up and competence, fidelity, state and traits."""
    sl = model.block_slice(block)
    df = pd.DataFrame({
        "site": model.ids,
        "stage": np.array(STAGES, dtype=object)[model.stage[sl]],
        "adopted_month": _months(model.adopted_month[sl]),
        "full_month": _months(model.full_month[sl]),
        "fidelity": model.fidelity[sl],
        "competence": model.competence[sl],
        "adaptation": model.adaptation[sl],
        "capacity_now": model.capacity[sl],
        "generation": model.generation[sl].astype(np.int64),
        "effect": model.effect[sl],
        "group": model.group[sl],
    })
    for k in TRAITS:
        df[k] = (model.capacity0 if k == "capacity" else getattr(model, k))[sl]
    df["champions"] = df["champions"].astype(np.int64)
    df["degree"] = model.degree[sl]
    return df


def _months(a: np.ndarray) -> pd.arrays.IntegerArray:
    """Months as nullable integers (-1, never, becomes missing)."""
    out = pd.array(np.where(a >= 0, a, 0), dtype="Int64")
    out[a < 0] = pd.NA
    return out


def groups_frame(model: SpreadEngine, block: int = 0) -> pd.DataFrame:
    """One row per group of sites: sites, adopted share, reach, fidelity, benefit per 1,000 people."""
    rows = [{"group": g, **v} for g, v in model.group_outcomes(block).items()]
    return pd.DataFrame(rows, columns=["group", *GROUP_KEYS])


def site_history_frame(model: SpreadEngine, block: int = 0) -> pd.DataFrame:
    """The long table of every site's state every month (needs ``history=True``): month, site,
    stage, fidelity, competence, capacity, supported, benefit (people-equivalents of its effect)."""
    h = model.history
    if h is None:
        raise ValueError("this run kept no site history: run it with history=True (--site-history)")
    T = h.months
    sl = model.block_slice(block)
    N = model.N
    out = {"month": np.repeat(np.arange(T, dtype=np.int32), N), "site": np.tile(model.ids, T)}
    for k, arr in h.data.items():
        col = arr[:T, sl].reshape(-1)
        out[k] = np.array(STAGES, dtype=object)[col] if k == "stage" else col
    df = pd.DataFrame(out)
    df["stage"] = pd.Categorical(df["stage"], categories=list(STAGES))
    return df


@dataclass
class RunResult:
    """The result of one run.

    Attributes:
        model: the Mesa model after the run (``model.agents`` are the sites). In a batch
            (:func:`run_batch`) the results share one model, each reading its own ``block``.
        timeseries: one row per month from month 0 (with ``benefit_counterfactual`` and
            ``attributable_benefit`` from the no-programme arm when ``outcomes.counterfactual``).
        sites: one row per site (None when a batch was asked not to build them).
        summary: per-run outcomes (see :func:`summarise`).
        groups: one row per group of sites (see :func:`groups_frame`).
    """

    model: SpreadEngine
    scenario: Scenario
    seed: int
    timeseries: pd.DataFrame
    sites: pd.DataFrame | None
    summary: dict[str, float]
    elapsed: dict[str, float] = field(default_factory=dict)
    block: int = 0
    groups: pd.DataFrame | None = None

    @property
    def site_history(self) -> pd.DataFrame:
        """Every site's state every month, one row per site-month (runs made with ``history=True``)."""
        return site_history_frame(self.model, self.block)

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
            "notes": self.notes,
        }, "run")

    @property
    def notes(self) -> list[str]:
        """Why some outputs are not applicable (NaN) in this run, in words."""
        from .processes.outcomes import sustain_note

        note = sustain_note(self.scenario, self.model.months)
        return [note] if note else []

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
            if self.groups is not None:
                self.groups.to_csv(tmp / "groups.csv", index=False)
            if self.model.history is not None:
                self.site_history.to_parquet(tmp / "site_history.parquet", index=False)
            (tmp / "manifest.json").write_text(json.dumps(self.manifest(), indent=2))
            if plot:
                import matplotlib.pyplot as plt

                ax = self.plot()
                from .plots import SAVE_DPI

                ax.figure.savefig(tmp / "adoption.png", dpi=SAVE_DPI, bbox_inches="tight")
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
        built: Built | None = None, history: bool = False) -> RunResult:
    """Run one scenario to its horizon.

    Args:
        scenario: a validated scenario (see :func:`simulation.load_scenario`).
        seed: the run's seed (default: the scenario's ``seed``); decides the run completely.
        months: override the horizon.
        agents: create the Mesa site agents (``result.model.agents``).
        built: a network built beforehand, shared across runs.
        history: keep every site's state every month (``result.site_history``).

    Returns:
        RunResult with ``timeseries``, ``sites``, ``groups``, ``summary``, ``plot()`` and ``model``.
    """
    import time

    if months is not None and months != scenario.months:
        scenario = scenario.with_overrides({"months": months}, "months")
    seed = scenario.seed if seed is None else int(seed)
    from .model import SpreadModel  # (Mesa is loaded with it: not part of the setup's time)

    t0 = time.perf_counter()
    model = SpreadModel(scenario, seed, agents=agents, built=built, history=history)
    t1 = time.perf_counter()
    model.run_model()
    t2 = time.perf_counter()
    result = RunResult(model, scenario, seed, timeseries_frame(model), sites_frame(model), summarise(model),
                       groups=groups_frame(model))
    result.elapsed = {"setup": t1 - t0, "step": t2 - t1, "output": time.perf_counter() - t2}
    return result


def run_batch(scenario: Scenario, seeds: list[int], *, months: int | None = None, built: Built | None = None,
              sites: bool = True, history: bool = False) -> list[RunResult]:
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
        history: keep every site's state every month (``result.site_history``).

    Returns:
        One :class:`RunResult` per seed, in order (their ``model`` is the shared batch model).
    """
    import time

    if months is not None and months != scenario.months:
        scenario = scenario.with_overrides({"months": months}, "months")
    from .model import SpreadModel

    t0 = time.perf_counter()
    model = SpreadModel(scenario, list(seeds), agents=False, built=built, history=history)
    t1 = time.perf_counter()
    model.run_model()
    t2 = time.perf_counter()
    out = []
    for b, seed in enumerate(model.seeds):
        r = RunResult(model, scenario, seed, timeseries_frame(model, b), sites_frame(model, b) if sites else None,
                      summarise(model, b), block=b, groups=groups_frame(model, b))
        r.elapsed = {"setup": (t1 - t0) / len(seeds), "step": (t2 - t1) / len(seeds)}
        out.append(r)
    return out
