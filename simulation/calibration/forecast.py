"""Forecasts from a calibration: posterior predictive bands per strategy, from the fitted state.

For each posterior draw the run that ABC accepted is replayed (same values, same seed) up to the
last fitted month, so the forecast starts from states consistent with the data; there the strategy
switches on (or the baseline carries on) and the random streams are renewed, so draws that share a
particle still get independent futures. Every strategy sees the same draws, particles and future
seeds (common random numbers): differences between strategies are paired.

A calibration by ``optimize`` has no accepted trajectories: its draws run from month 0 with the
point estimate and fresh seeds, and strategies still switch on at the last fitted month.

Strategies are the scenario's ``strategies:`` section (name -> {dotted.path: value}); keys that
define the world (sites, network, horizon) are refused, since they cannot change part-way. Months in
a strategy count from the start of the roll-out, as everywhere in a scenario (``funding_months: 96``
funds support to month 96); an event a strategy would have started before the switch month (a
breakthrough collaborative's ``start``) starts in the first month after it instead, and
``Forecast.notes`` says so.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, Problem, fail
from ..runner import SUMMARY_KEYS
from ..scenario import Scenario, load_scenario
from .core import Calibration, _bar, _draw_seeds, _jsonable, bands, load_calibration
from .simulate import JobPool, check_strategy, run_job

FORECAST_SERIES = ("adopted", "ever_adopted", "full", "adopted_share", "reach", "mean_fidelity", "support_used")
BASELINE = "baseline"


@dataclass
class Forecast:
    """Posterior predictive forecasts per strategy.

    Attributes:
        calibration: the calibration forecast from.
        horizon: last month forecast.
        switch_at: month the strategies start (the last fitted month).
        draws: posterior draws per strategy.
        strategies: name -> overrides (``baseline`` first, no overrides).
        bands: long table: strategy, month, series, mean, q05, q25, q50, q75, q95.
        runs: one row per (strategy, draw): the per-run outcomes (adopted share, sustained shares...).
        replay_mismatch: draws whose replayed past did not reproduce the accepted run (the model
            changed since the calibration); 0 when all replayed exactly.
    """

    calibration: Calibration
    horizon: int
    switch_at: int
    draws: int
    strategies: dict[str, dict]
    bands: pd.DataFrame
    runs: pd.DataFrame
    replay_mismatch: int = 0
    info: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def table(self, level: float = 0.9) -> pd.DataFrame:
        """Per strategy: mean and interval of each outcome, and the paired difference from baseline."""
        lo, hi = (1 - level) / 2, 1 - (1 - level) / 2
        rows = []
        base = self.runs[self.runs["strategy"] == BASELINE].set_index("draw")
        for name in self.strategies:
            g = self.runs[self.runs["strategy"] == name].set_index("draw")
            for k in ("adopted_share", "reach_share", "mean_fidelity", "sustained_delivering_24", "abandonment", "equity_gap",
                      "cost_per_sustained_site", "time_to_50"):
                x = g[k].to_numpy(float)
                d = (g[k] - base[k]).to_numpy(float)
                ok, okd = x[np.isfinite(x)], d[np.isfinite(d)]
                rows.append({"strategy": name, "outcome": k, "mean": ok.mean() if len(ok) else np.nan,
                             "low": np.quantile(ok, lo) if len(ok) else np.nan, "high": np.quantile(ok, hi) if len(ok) else np.nan,
                             "diff_mean": okd.mean() if len(okd) and name != BASELINE else np.nan,
                             "diff_low": np.quantile(okd, lo) if len(okd) and name != BASELINE else np.nan,
                             "diff_high": np.quantile(okd, hi) if len(okd) and name != BASELINE else np.nan})
        return pd.DataFrame(rows)

    def plot(self, series: str = "adopted", ax=None):
        """Median and 90% band of ``series`` per strategy, with the observed data."""
        from .plots import forecast_plot

        return forecast_plot(self, series, ax=ax)

    def save(self, out: str | Path, plots: bool = True, force: bool = False) -> Path:
        """Write ``bands.csv``/``.parquet``, ``runs.csv``/``.parquet``, ``table.csv``, ``forecast.json``, figures,
        atomically (``force``: replace an earlier spreadsim output; see :mod:`simulation.safe_io`)."""
        from ..safe_io import atomic_dir, mark

        out = Path(out)
        with atomic_dir(out, "forecast", replace=force) as tmp:
            self.bands.to_csv(tmp / "bands.csv", index=False)
            self.bands.to_parquet(tmp / "bands.parquet", index=False)
            self.runs.to_csv(tmp / "runs.csv", index=False)
            self.runs.to_parquet(tmp / "runs.parquet", index=False)
            self.table().to_csv(tmp / "table.csv", index=False)
            (tmp / "forecast.json").write_text(json.dumps(_jsonable(mark({
                "horizon": self.horizon, "switch_at": self.switch_at, "draws": self.draws,
                "strategies": self.strategies, "replay_mismatch": self.replay_mismatch,
                "calibration_method": self.calibration.method, "notes": self.notes, **self.info}, "forecast")), indent=2))
            if plots:
                import matplotlib.pyplot as plt

                from ..plots import SAVE_DPI

                for s in sorted(set(self.bands["series"]) & {"adopted", "ever_adopted", "full", "reach"}):
                    fig = self.plot(s)
                    fig.savefig(tmp / f"forecast_{s}.png", dpi=SAVE_DPI, bbox_inches="tight")
                    plt.close(fig)
        return out

    def text(self) -> str:
        t = self.table()
        lines = [f"forecast to month {self.horizon} from month {self.switch_at}, {self.draws} posterior draws per strategy"
                 + (f" ({self.replay_mismatch} replays differed from the accepted runs: the model changed since calibrating)"
                    if self.replay_mismatch else "")]
        lines += [f"note: {n}" for n in self.notes]
        lines.append(f"{'strategy':<24} {'outcome':<24} {'mean':>9} {'90% interval':>22} {'vs baseline (paired)':>30}")
        for _, r in t.iterrows():
            if r["outcome"] not in ("adopted_share", "sustained_delivering_24", "reach_share", "abandonment"):
                continue
            diff = "" if r["strategy"] == BASELINE or math.isnan(r["diff_mean"]) else \
                f"{r['diff_mean']:+.3f} [{r['diff_low']:+.3f}, {r['diff_high']:+.3f}]"
            iv = "" if math.isnan(r["mean"]) else f"[{r['low']:.3f}, {r['high']:.3f}]"
            lines.append(f"{r['strategy']:<24} {r['outcome']:<24} {r['mean']:>9.3f} {iv:>22} {diff:>30}")
        return "\n".join(lines)


def select_strategies(scenario: Scenario, names: list[str] | str | None) -> dict[str, dict]:
    """The strategies to forecast: ``baseline`` plus the named ones (``all``: every one in the scenario)."""
    available = dict(scenario.strategies)
    if names is None or names == "all" or names == ["all"]:
        chosen = list(available)
    else:
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",") if n.strip()]
        unknown = [n for n in names if n not in available and n != BASELINE]
        if unknown:
            raise InputError([Problem(scenario.source, "strategies",
                                      f"no strategy '{n}'; the scenario has: {', '.join(available) or 'none'}")
                              for n in unknown])
        chosen = [n for n in names if n != BASELINE]
    out = {BASELINE: {}}
    for n in chosen:
        check_strategy(n, available[n], scenario.source)
        out[n] = dict(available[n])
    return out


def shift_past_events(base: Scenario, name: str, overrides: dict, switch_at: int) -> tuple[dict, list[str]]:
    """Move a strategy's events that would fall before the switch to the first month after it."""
    if not overrides:
        return overrides, []
    merged = base.with_overrides(overrides, label=f"strategies.{name}", warn=False)
    col, col0 = merged.strategy.collaborative, base.strategy.collaborative
    already = col0.enabled and col0.start <= switch_at
    if col.enabled and col.start <= switch_at and not already:
        out = {**overrides, "strategy.collaborative.start": switch_at + 1}
        note = (f"strategy '{name}': the collaborative starts in month {switch_at + 1}, the first month after "
                f"the data (its start, month {col.start}, is in the fitted past)")
        return out, [note]
    return overrides, []


def forecast(scenario: Scenario | str | Path | None, posterior: Calibration | str | Path, *, months: int | None = None,
             strategies: list[str] | str | None = None, draws: int = 200, seed: int | None = None,
             executor: str = "serial", workers: int | None = None, client=None, progress: bool = True,
             series: tuple[str, ...] = FORECAST_SERIES) -> Forecast:
    """Posterior predictive bands per strategy, continuing from the fitted state.

    Args:
        scenario: the scenario with the ``strategies:`` to compare (same world as calibrated); None
            uses the one stored with the calibration.
        posterior: a :class:`Calibration` or the folder it was saved to.
        months: forecast horizon (default: the scenario's ``months``).
        strategies: names to compare with the baseline (default: all in the scenario).
        draws: posterior draws per strategy.
        seed: decides the draws and the futures (default: the calibration's seed).
        executor, workers, client: as for :func:`~simulation.calibration.calibrate`.

    Raises:
        InputError: unknown strategies, strategies that change the world, a horizon before the end
            of the data, a posterior folder that is missing or from a different scenario.
    """
    if scenario is not None and not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    cal = posterior if isinstance(posterior, Calibration) else load_calibration(posterior, scenario)
    if scenario is not None and isinstance(posterior, Calibration):
        from .core import world_hash

        if world_hash(scenario) != world_hash(cal.scenario):
            raise InputError(Problem(scenario.source, "", "describes a different world (sites, network or known values) "
                                                          "from the one calibrated; calibrate this scenario again"))
    scenario = cal.scenario if scenario is None else scenario
    horizon = scenario.months if months is None else int(months)
    if horizon <= cal.fit_months:
        raise fail("--months", "", f"the horizon ({horizon}) must lie beyond the last fitted month ({cal.fit_months})")
    if draws < 1:
        raise fail("--draws", "", "must be at least 1")
    strats = select_strategies(scenario, strategies)
    notes: list[str] = []
    for name in list(strats):
        strats[name], n = shift_past_events(scenario, name, strats[name], cal.fit_months)
        notes += n
    seed = cal.spec.seed if seed is None else int(seed)
    # the calibration's scenario (with its fitted world) carries the runs; strategies come from `scenario`
    sim = cal.simulator(months=horizon)
    idx = cal.resample(draws, seed)
    futures = _draw_seeds(seed, 11, draws)
    fresh = _draw_seeds(seed, 12, draws)
    series = tuple(s for s in series)
    items, keys = [], []
    for name, ov in strats.items():
        for d, (i, f, r) in enumerate(zip(idx, futures, fresh)):
            values = cal._values(i)
            replay = int(cal.posterior["seed"][i]) if cal.method == "abc" else r
            items.append((values, replay, f, cal.fit_months, horizon, ov or None, series))
            keys.append((name, d, int(i)))
    bar = _bar(len(items), "forecast", progress)
    with JobPool(sim, executor, workers, client) as pool:
        results = pool.map(run_job, items, bar)
    bar.close()
    # replay check: the past of each baseline draw should be the accepted run (ABC only)
    mismatch = 0
    if cal.method == "abc":
        dist = cal.distance()
        tcols = [series.index(t) if t in series else None for t in cal.targets]
        if all(c is not None for c in tcols):
            for (name, d, i), res in zip(keys, results):
                if name != BASELINE:
                    continue
                past = res["curve"][:, tcols]
                if not math.isclose(dist.of(past), float(cal.posterior["distance"][i]), rel_tol=1e-9, abs_tol=1e-12):
                    mismatch += 1
    frames, rows = [], []
    for name in strats:
        sel = [k for k, (n, _, _) in enumerate(keys) if n == name]
        curves = np.stack([results[k]["curve"] for k in sel])
        b = bands(curves, list(series))
        b.insert(0, "strategy", name)
        frames.append(b)
        for k in sel:
            _, d, i = keys[k]
            rows.append({"strategy": name, "draw": d, "particle": i,
                         **{p: v for p, v in zip(cal.paths, cal._values(i))},
                         **{s: results[k]["summary"][s] for s in SUMMARY_KEYS}})
    return Forecast(calibration=cal, horizon=horizon, switch_at=cal.fit_months, draws=draws, strategies=strats,
                    bands=pd.concat(frames, ignore_index=True), runs=pd.DataFrame(rows), replay_mismatch=mismatch,
                    info={"executor": executor, "seed": seed}, notes=notes)
