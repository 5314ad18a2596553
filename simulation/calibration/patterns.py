"""Calibrating the model's unsourced rates to published patterns at once (pattern-oriented modelling).

A scenario whose ``calibration:`` section names ``patterns`` (instead of ``data``) is fitted to the
pattern suite of :mod:`simulation.patterns` (Grimm et al., "Pattern-oriented modeling of agent-based
complex systems", Science 2005), its *calibration set* only (``patterns: all``; the validation set is
never tuned on, and naming one of its patterns is refused): each proposed set of values is applied to
every scenario the patterns are measured in (the default scenario and the bundled cases), the suite
is run with a few replicates, and the distance is the largest of the patterns' deviations from their published values,
each in units of its tolerance (below 1: every pattern within its tolerance). ABC-SMC (pyabc, as for data; :func:`simulation.calibration.core._run_abc`)
gives the posterior; its median is what the defaults in the schema say is "calibrated:
docs/validation.md". ``scenarios/calibration/defaults.yaml`` is the calibration of the defaults.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import patterns as P
from ..errors import InputError, Problem
from ..scenario import Scenario
from .simulate import particle_seed
from .spec import CalibrationSpec, pattern_names, replicates_of  # noqa: F401  (checked with the section, in spec)


class PatternSimulator:
    """pyabc's model: parameter values -> each pattern's deviation (in tolerance units)."""

    def __init__(self, spec: CalibrationSpec, patterns: tuple[str, ...], replicates: dict, root: Path):
        self.priors = spec.parameters
        self.patterns = tuple(P.pattern(n) for n in patterns)
        self.patterns_names = tuple(patterns)
        self.replicates = replicates
        self.root = root
        self.base_seed = spec.seed

    def overrides(self, values) -> dict[str, Any]:
        return {p.path: p.value(v) for p, v in zip(self.priors, values)}

    def deviations(self, values, seed: int) -> np.ndarray:
        try:
            v = P.simulate(self.patterns, replicates=self.replicates, seed=seed, overrides=self.overrides(values),
                           root=self.root)
        except InputError:
            return np.full(len(self.patterns), np.inf)
        return P.deviations(v, self.patterns)

    def __call__(self, par: dict) -> dict:
        values = [float(par[f"p{i}"]) for i in range(len(self.priors))]
        seed = particle_seed(self.base_seed, values) % (2**31 - 1000)
        return {"curve": self.deviations(values, seed), "seed": seed}


class PatternDistance:
    """The largest deviation of any fitted pattern (the simulator measures only those: the calibration
    set unless the section names fewer), in units of its tolerance (pyabc's distance signature):
    below 1 when every pattern is within its tolerance."""

    def __call__(self, x: dict, x0: dict) -> float:
        d = np.asarray(x["curve"], float)
        return float(np.max(np.abs(d))) if np.isfinite(d).all() else float("inf")


@dataclass
class PatternCalibration:
    """The posterior of the calibrated parameters and the patterns at its median."""

    scenario: Scenario
    spec: CalibrationSpec
    patterns: tuple[str, ...]
    replicates: dict
    posterior: pd.DataFrame
    populations: pd.DataFrame
    n_simulations: int
    elapsed_s: float
    info: dict = field(default_factory=dict)
    is_patterns: bool = True
    _report: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def method(self) -> str:
        return self.spec.method

    @property
    def paths(self) -> list[str]:
        return self.spec.paths

    def intervals(self, level: float = 0.9) -> pd.DataFrame:
        from .core import Calibration

        return Calibration.intervals(self, level)  # the same weighted quantiles

    def estimate(self) -> dict[str, float]:
        iv = self.intervals()
        return dict(zip(iv["parameter"], iv["estimate"]))

    def report(self, replicates: int = 40, seed: int = 1) -> pd.DataFrame:
        """The whole pattern suite at the posterior median, with more replicates than during the fit:
        the fitted patterns and the validation set (never fitted: the honest check of the fit)."""
        if self._report is None:
            ov = {p.path: p.value(self.estimate()[p.path]) for p in self.spec.parameters}
            pats = tuple(P.pattern(n) for n in self.patterns) + P.VALIDATION_PATTERNS
            more = P.replicates_for(replicates)
            reps = {k: max(self.replicates.get(k, 0), v if k != P.AS_BC_CASE else max(4, v)) for k, v in more.items()}
            self._report = P.report(P.simulate(pats, replicates=reps, seed=seed, overrides=ov), pats)
        return self._report

    def plot_marginals(self, axes=None):
        from .plots import marginals_plot

        return marginals_plot(self, axes=axes)

    def summary_text(self) -> str:
        iv = self.intervals()
        if self.method == "optimize":
            best = float(self.posterior["distance"].iloc[0])
            lines = [f"OPTIMIZE calibration of {Path(self.scenario.source).name} to {len(self.patterns)} published patterns: "
                     f"{self.n_simulations:,} trials in {self.elapsed_s:.1f} s",
                     f"best trial: largest deviation {best:.3g} tolerances (a point estimate, no credible intervals)"]
            lines += [f"  {r['parameter']:<32} {r['estimate']:.4g}" for _, r in iv.iterrows()]
            lines.append("patterns at the estimate:")
            lines.append(P.format_report(self.report()))
            return "\n".join(lines)
        eps = self.populations["epsilon"].iloc[-1] if len(self.populations) else float("nan")
        lines = [f"{self.method.upper()} calibration of {Path(self.scenario.source).name} to {len(self.patterns)} published "
                 f"patterns: {self.n_simulations:,} simulations in {self.elapsed_s:.1f} s",
                 f"{len(self.populations)} generations, final epsilon {eps:.4g} (distance: the largest deviation of "
                 f"a pattern, in units of its tolerance; below 1 = every pattern within tolerance)",
                 "parameter                          median   90% credible interval   prior 90%"]
        for _, r in iv.iterrows():
            lines.append(f"  {r['parameter']:<32} {r['median']:<8.4g} [{r['low']:.4g}, {r['high']:.4g}]"
                         f"{'':<6} [{r['prior_low']:.4g}, {r['prior_high']:.4g}]")
        lines.append("patterns at the posterior median:")
        lines.append(P.format_report(self.report()))
        return "\n".join(lines)

    def manifest(self) -> dict:
        from .. import __version__
        from ..runner import git_commit

        return {"kind": "spreadsim pattern calibration", "method": self.method, "scenario_file": self.scenario.source,
                "scenario": self.scenario.to_dict(), "patterns": list(self.patterns),
                "replicates": {("default" if k is None else k): v for k, v in self.replicates.items()},
                "spec": self.spec.to_dict(), "n_simulations": self.n_simulations, "elapsed_s": self.elapsed_s,
                "info": self.info, "estimate": self.estimate(), "version": __version__, "git_commit": git_commit(),
                "time": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")}

    def save(self, out: str | Path, plots: bool = True, force: bool = False, **_ignored) -> Path:
        """Write posterior.csv, intervals.csv, populations.csv, patterns.csv, calibration.json,
        summary.txt and marginals.png into ``out`` atomically (``force``: replace an earlier
        spreadsim output there; see :mod:`simulation.safe_io`)."""
        from ..safe_io import atomic_dir, check_out, mark
        from .core import _jsonable

        out = Path(out)
        check_out(out, "calibration", replace=force)
        rep = self.report()
        text = self.summary_text()
        with atomic_dir(out, "calibration", replace=force) as tmp:
            self.posterior.to_csv(tmp / "posterior.csv", index=False)
            self.intervals().to_csv(tmp / "intervals.csv", index=False)
            self.populations.to_csv(tmp / "populations.csv", index=False)
            rep.to_csv(tmp / "patterns.csv", index=False)
            (tmp / "calibration.json").write_text(json.dumps(_jsonable(mark(self.manifest(), "calibration")), indent=2))
            (tmp / "summary.txt").write_text(text + "\n")
            if plots:
                import matplotlib.pyplot as plt

                fig = self.plot_marginals()
                fig.savefig(tmp / "marginals.png", dpi=150, bbox_inches="tight")
                plt.close(fig)
        return out


def _pattern_job(sim: PatternSimulator, item: tuple) -> np.ndarray:
    values, seed = item
    return sim.deviations(values, seed)


def _run_optimize(sim: PatternSimulator, spec: CalibrationSpec, executor: str, workers: int, client,
                  progress: bool) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Optuna's TPE sampler (seeded) on the largest deviation; each trial runs the suite once with a
    seed of its own (the suite's replicates average the noise)."""
    import optuna
    from optuna.trial import TrialState

    from .core import _bar, quiet_libraries
    from .simulate import JobPool

    o = spec.optimize
    rows = []
    with quiet_libraries():
        study = optuna.create_study(direction="minimize",
                                    sampler=optuna.samplers.TPESampler(seed=spec.seed, multivariate=True))
        bar = _bar(o.trials, "optimize", progress, unit="trial")
        with JobPool(sim, executor, workers, client) as pool:
            done = 0
            while done < o.trials:
                k = min(o.batch, o.trials - done)
                trials = [study.ask() for _ in range(k)]
                values = [[t.suggest_float(p.path, p.low, p.high, log=p.dist == "loguniform") for p in spec.parameters]
                          for t in trials]
                seeds = [particle_seed(spec.seed, v) % (2**31 - 1000) for v in values]
                devs = pool.map(_pattern_job, list(zip(values, seeds)))
                for t, v, d, sd in zip(trials, values, devs, seeds):
                    dist = float(np.max(np.abs(d))) if np.isfinite(d).all() else float("inf")
                    if math.isfinite(dist):
                        study.tell(t, dist)
                    else:
                        study.tell(t, state=TrialState.FAIL)
                    rows.append({"trial": t.number, **dict(zip(spec.paths, v)), "distance": dist, "seed": sd,
                                 **{f"dev:{n}": x for n, x in zip(sim.patterns_names, d)}})
                done += k
                bar.update(k)
        bar.close()
    trials_df = pd.DataFrame(rows)
    ok = trials_df[np.isfinite(trials_df["distance"])]
    if ok.empty:
        raise InputError(Problem(spec.source, "calibration.parameters", "every trial gave an invalid scenario; check the priors"))
    best = ok.loc[ok["distance"].idxmin()]
    posterior = pd.DataFrame([{**{p: float(best[p]) for p in spec.paths}, "weight": 1.0,
                               "distance": float(best["distance"]), "seed": int(best["seed"])}])
    return posterior, trials_df, len(trials_df)


def calibrate_patterns(scenario: Scenario, spec: CalibrationSpec, patterns: tuple[str, ...], replicates: dict, *,
                       executor: str = "processes", workers: int | None = None, client=None,
                       progress: bool = True, root: Path = P.SCENARIOS) -> PatternCalibration:
    """ABC-SMC (or an Optuna point estimate) of the section's parameters against the named patterns
    (see the module docstring)."""
    from .core import _run_abc
    from .simulate import default_workers

    sim = PatternSimulator(spec, patterns, replicates, root)
    probe = sim.deviations([p.scipy().median() for p in spec.parameters], spec.seed)
    if not np.isfinite(probe).all():
        raise InputError(Problem(spec.source, "calibration.parameters", "the priors' medians give an invalid scenario"))
    workers = workers or default_workers()
    t0 = time.perf_counter()
    if spec.method == "optimize":
        posterior, populations, n_sims = _run_optimize(sim, spec, executor, workers, client, progress)
    else:
        obs = np.zeros(len(patterns))
        posterior, populations, n_sims = _run_abc(sim, PatternDistance(), obs, spec, executor, workers, client, progress)
    elapsed = time.perf_counter() - t0
    info = {"executor": executor, "workers": workers if executor != "serial" else 1,
            "reproducible": executor == "serial", "probe_distance": float(np.max(np.abs(probe)))}
    return PatternCalibration(scenario=scenario, spec=spec, patterns=patterns, replicates=replicates,
                              posterior=posterior, populations=populations, n_simulations=n_sims, elapsed_s=elapsed,
                              info=info)
