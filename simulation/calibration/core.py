"""Calibrating a scenario to observed roll-out data: ABC-SMC (pyabc) or a point estimate (Optuna).

``calibrate(scenario, data)`` returns a :class:`Calibration` holding the posterior sample, credible
intervals, how many simulations it took, posterior predictive bands, checks and figures.

ABC-SMC (Beaumont et al. 2009; Toni et al. 2009) as implemented by pyabc (Schälte et al. 2022):
each generation proposes parameter values from the previous population (from the prior at first),
runs the model once per proposal with a seed derived from the values, and accepts the runs whose
adoption curves lie within a shrinking distance of the data (``data.Distance``). The final
population, with its importance weights, is the posterior sample; because each particle is one
stochastic run, the posterior reflects both the data and the model's own randomness.

pyabc draws from numpy's global random generator (it offers no way to pass a Generator). With the
``serial`` executor the calibration is reproducible bit for bit: the global state is seeded for the
duration of the call and restored afterwards, so no caller's state changes. The ``processes`` and
``dask`` samplers of pyabc reseed their workers from the operating system and accept particles in
the order they finish, so their results are statistically equivalent but not identical run to run.

The optimiser (Optuna's TPE sampler, seeded) proposes values in batches; each trial runs
``replicates`` model runs on common seeds and scores the distance of their mean curve to the data
(as Starsim's calibration does with replicates per trial); the trials of a batch run side by side
in batch models when their parameters are per-block ones (:mod:`simulation.blocks`), each run as
it would alone. It gives a point estimate, not a posterior: forecasts from it show the model's
randomness only.
"""

from __future__ import annotations

import json
import logging
import math
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError, Problem, fail
from ..scenario import Scenario, load_scenario
from .data import Distance, Observed, as_observed, scales
from .simulate import (
    JobPool,
    Simulator,
    build_shared,
    default_workers,
    particle_seed,
    trials_job,
    run_job,
)
from .spec import CalibrationSpec, Prior, calibration_spec

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
BAND_COLUMNS = ("mean", "q05", "q25", "q50", "q75", "q95")


# ------------------------------------------------------------------------------------- helpers
def weighted_quantile(x: np.ndarray, w: np.ndarray, q: float | np.ndarray) -> np.ndarray:
    """Quantiles of a weighted sample (inverse of the weighted empirical CDF, midpoint rule)."""
    x = np.asarray(x, float)
    w = np.asarray(w, float)
    order = np.argsort(x)
    x, w = x[order], w[order]
    cw = np.cumsum(w) - 0.5 * w
    cw /= w.sum()
    return np.interp(q, cw, x)


def weighted_mean_sd(x: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation of a weighted sample (weights normalised; the population form,
    sqrt(sum w (x - mean)^2 / sum w), as for a posterior given by weighted particles)."""
    x = np.asarray(x, float)
    w = np.asarray(w, float)
    mean = float(np.average(x, weights=w))
    return mean, float(np.sqrt(np.average((x - mean) ** 2, weights=w)))


def bands(curves: np.ndarray, names: list[str], months: np.ndarray | None = None) -> pd.DataFrame:
    """Per-month mean and quantile bands of a (runs, months, series) array, in long form."""
    import warnings

    t = curves.shape[1]
    months = np.arange(t) if months is None else months
    frames = []
    for j, name in enumerate(names):
        c = curves[:, :, j]
        with warnings.catch_warnings():  # months where a series is undefined in every run (mean fidelity, nobody adopted)
            warnings.simplefilter("ignore", RuntimeWarning)
            q = np.nanquantile(c, QUANTILES, axis=0)
            mean = np.nanmean(c, axis=0)
        frames.append(pd.DataFrame({"month": months, "series": name, "mean": mean,
                                    **{col: q[i] for i, col in enumerate(BAND_COLUMNS[1:])}}))
    return pd.concat(frames, ignore_index=True)


@contextmanager
def numpy_global_seed(seed: int | None):
    """Seed numpy's global generator for pyabc, restoring the caller's state afterwards."""
    if seed is None:
        yield
        return
    state = np.random.get_state()
    np.random.seed(int(seed) % 2**32)
    try:
        yield
    finally:
        np.random.set_state(state)


@contextmanager
def quiet_libraries():
    """pyabc and Optuna log every generation or trial at INFO; we show a progress bar instead."""
    loggers = [logging.getLogger(n) for n in ("ABC", "ABC.History", "ABC.Sampler", "ABC.Distance", "ABC.Epsilon",
                                              "ABC.Acceptor", "ABC.Transition", "ABC.Predictor", "ABC.Population",
                                              "optuna")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, lv in zip(loggers, levels):
            lg.setLevel(lv)


def _bar(total: int | None, desc: str, progress: bool, unit: str = "run"):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not progress, leave=False, dynamic_ncols=True)


def _draw_seeds(seed: int, tag: int, n: int) -> list[int]:
    ss = np.random.SeedSequence([int(seed), int(tag)])
    return [int(x) for x in ss.generate_state(n, np.uint32)]


# -------------------------------------------------------------------------------------- result
@dataclass
class Calibration:
    """A fitted scenario: posterior sample, budget, checks and figures.

    Attributes:
        scenario: the scenario calibrated (its known values fixed).
        spec: the priors and settings.
        observed: the observed data (target series), held-out months included.
        fit_months: last month used in the fit (earlier months compared; later ones held out).
        posterior: one row per particle: a column per parameter (dotted path), ``weight``,
            ``distance`` and ``seed`` (the particle's run, replayable); for ``optimize`` one row.
        populations: per generation (ABC): epsilon, simulations, accepted; per trial (optimize).
        n_simulations: model runs the calibration took.
        elapsed_s: wall time of the calibration.
        n_sites: number of sites in the model.
        info: executor, workers, versions, method.
    """

    scenario: Scenario
    spec: CalibrationSpec
    observed: Observed
    fit_months: int
    posterior: pd.DataFrame
    populations: pd.DataFrame
    n_simulations: int
    elapsed_s: float
    n_sites: int
    info: dict = field(default_factory=dict)
    _predictive: dict = field(default_factory=dict, repr=False)

    # -- basic views
    @property
    def method(self) -> str:
        return self.spec.method

    @property
    def paths(self) -> list[str]:
        return self.spec.paths

    @property
    def targets(self) -> list[str]:
        return self.observed.columns

    def simulator(self, months: int | None = None) -> Simulator:
        """A simulator for this scenario and these priors (network shared if read from a file)."""
        built = build_shared(self.scenario, self.paths)
        return Simulator(self.scenario, self.spec.parameters, self.targets,
                         self.fit_months if months is None else months, built, self.spec.seed)

    def distance(self, months: np.ndarray | None = None) -> Distance:
        obs = self.observed.table[self.targets].to_numpy(float)
        m = np.arange(self.fit_months + 1) if months is None else months
        return Distance(obs, scales(self.targets, obs, self.n_sites), m)

    def intervals(self, level: float = 0.9) -> pd.DataFrame:
        """Posterior mean, median and equal-tailed credible interval of each parameter.

        Also the prior's interval of the same level and ``shrinkage`` = 1 - posterior width / prior
        width (0: the data taught nothing, near 1: pinned down). For ``optimize`` only the estimate.
        """
        lo, hi = (1 - level) / 2, 1 - (1 - level) / 2
        w = self.posterior["weight"].to_numpy(float)
        rows = []
        for p in self.spec.parameters:
            x = self.posterior[p.path].to_numpy(float)
            prior = p.scipy()
            plo, phi = prior.ppf(lo), prior.ppf(hi)
            if self.method == "optimize":
                rows.append({"parameter": p.path, "estimate": x[0], "mean": np.nan, "sd": np.nan, "median": np.nan,
                             "low": np.nan, "high": np.nan, "prior_low": plo, "prior_high": phi, "shrinkage": np.nan})
                continue
            mean, sd = weighted_mean_sd(x, w)
            qlo, qmed, qhi = weighted_quantile(x, w, [lo, 0.5, hi])
            rows.append({"parameter": p.path, "estimate": qmed, "mean": mean, "sd": sd, "median": qmed,
                         "low": qlo, "high": qhi, "prior_low": plo, "prior_high": phi,
                         "shrinkage": 1.0 - (qhi - qlo) / (phi - plo) if phi > plo else np.nan})
        df = pd.DataFrame(rows)
        df.attrs["level"] = level
        return df

    def estimate(self) -> dict[str, float]:
        """A point estimate per parameter (posterior median, or the optimiser's best trial)."""
        return dict(zip(self.intervals()["parameter"], self.intervals()["estimate"]))

    def resample(self, n: int, seed: int) -> np.ndarray:
        """Indices of ``n`` posterior particles drawn by weight (with replacement)."""
        w = self.posterior["weight"].to_numpy(float)
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), 7]))
        return rng.choice(len(w), size=n, p=w / w.sum())

    def _values(self, i: int) -> list[float]:
        return [float(self.posterior[p][i]) for p in self.paths]

    # -- posterior predictive
    def predictive(self, draws: int | None = None, seed: int | None = None, executor: str = "serial",
                   workers: int | None = None, client=None, progress: bool = False) -> pd.DataFrame:
        """Posterior predictive bands over the observed months (fresh runs from month 0).

        Parameters are drawn from the posterior by weight; each run gets a new seed, so the bands show
        what the fitted model produces, data unseen. Held-out months are forecast *from the fitted
        state*: the accepted trajectories (ABC) are replayed to the last fitted month and continue with
        new randomness, which is how ``forecast`` continues them.

        Returns:
            Long table: month, series, mean, q05, q25, q50, q75, q95, and ``part`` (fit or holdout).
        """
        draws = self.spec.draws if draws is None else int(draws)
        seed = self.spec.seed if seed is None else int(seed)
        key = (draws, seed)
        if key in self._predictive:
            return self._predictive[key]["bands"]
        last = self.observed.last_month
        sim = self.simulator(months=self.fit_months)
        idx = self.resample(draws, seed)
        fresh = _draw_seeds(seed, 1, draws)
        futures = _draw_seeds(seed, 2, draws)
        series = tuple(self.targets)
        items = [(self._values(i), s, None, self.fit_months, self.fit_months, None, series) for i, s in zip(idx, fresh)]
        hold_items = []
        if last > self.fit_months:
            for i, f in zip(idx, futures):
                replay = int(self.posterior["seed"][i]) if self.method == "abc" else f
                hold_items.append((self._values(i), replay, f, self.fit_months, last, None, series))
        bar = _bar(len(items) + len(hold_items), "posterior predictive", progress)
        with JobPool(sim, executor, workers, client) as pool:
            fit_runs = pool.map(run_job, items, bar)
            hold_runs = pool.map(run_job, hold_items, bar) if hold_items else []
        bar.close()
        fit_curves = np.stack([r["curve"] for r in fit_runs])
        out = bands(fit_curves, list(series))
        out["part"] = "fit"
        hold_curves = None
        if hold_runs:
            hold_curves = np.stack([r["curve"] for r in hold_runs])
            hb = bands(hold_curves, list(series))
            hb = hb[hb["month"] > self.fit_months]
            hb["part"] = "holdout"
            out = pd.concat([out, hb], ignore_index=True)
        self._predictive[key] = {"bands": out, "fit": fit_curves, "holdout": hold_curves}
        return out

    def check(self, draws: int | None = None, seed: int | None = None, **kw) -> dict[str, float]:
        """Posterior predictive check and held-out error.

        Returns:
            ``fit_distance``: distance of the predictive median from the data over the fitted months;
            ``fit_coverage90``: share of observed values inside the 90% predictive band;
            ``ppp``: posterior predictive p-value: the share of predictive runs at least as far from
            the predictive median as the data is (near 0: the model cannot produce curves like the
            data; near 0.5: the data looks like a typical run);
            ``holdout_distance`` and ``holdout_coverage90``: the same over the held-out months,
            forecast from the fitted state (NaN without held-out months).
        """
        self.predictive(draws, seed, **kw)
        pred = self._predictive[(self.spec.draws if draws is None else int(draws), self.spec.seed if seed is None else int(seed))]
        obs = self.observed.table[self.targets].to_numpy(float)
        fit = pred["fit"]
        median = np.nanmedian(fit, axis=0)
        d_fit = self.distance()
        med_dist = Distance(median, d_fit.scale, d_fit.months)
        rep = np.array([med_dist.of(c) for c in fit])
        obs_fit = obs[: self.fit_months + 1]
        d_obs = med_dist.of(np.where(np.isfinite(obs_fit), obs_fit, median))
        lo, hi = np.nanquantile(fit, [0.05, 0.95], axis=0)
        m = np.isfinite(obs_fit)
        out = {"fit_distance": float(d_fit.of(median)),
               "fit_coverage90": float(((obs_fit >= lo) & (obs_fit <= hi))[m].mean()) if m.any() else float("nan"),
               "ppp": float((rep >= d_obs).mean()),
               "holdout_distance": float("nan"), "holdout_coverage90": float("nan")}
        if pred["holdout"] is not None:
            hold = pred["holdout"]
            months = np.arange(self.fit_months + 1, self.observed.last_month + 1)
            hmed = np.nanmedian(hold, axis=0)
            out["holdout_distance"] = float(self.distance(months).of(hmed))
            hlo, hhi = np.nanquantile(hold, [0.05, 0.95], axis=0)
            o = obs[months]
            mm = np.isfinite(o)
            inside = (o >= hlo[months]) & (o <= hhi[months])
            out["holdout_coverage90"] = float(inside[mm].mean()) if mm.any() else float("nan")
        return out

    # -- figures
    def plot_fit(self, draws: int | None = None, seed: int | None = None, axes=None, **kw):
        """Observed data against posterior predictive bands (50% and 90%), one panel per target."""
        from .plots import fit_plot

        return fit_plot(self, self.predictive(draws, seed, **kw), axes=axes)

    def plot_marginals(self, axes=None):
        """Weighted posterior histogram of each parameter over its prior density."""
        from .plots import marginals_plot

        return marginals_plot(self, axes=axes)

    # -- files
    def summary_text(self) -> str:
        iv = self.intervals()
        lines = [f"{self.method.upper()} calibration of {Path(self.scenario.source).name} to {Path(self.observed.source).name}: "
                 f"{self.n_simulations:,} simulations in {self.elapsed_s:.1f} s"
                 f" (targets {', '.join(self.targets)}, months 0-{self.fit_months}"
                 + (f", months {self.fit_months + 1}-{self.observed.last_month} held out)" if self.observed.last_month > self.fit_months else ")")]
        if self.method == "abc":
            eps = self.populations["epsilon"].iloc[-1] if len(self.populations) else float("nan")
            lines.append(f"{len(self.populations)} generations, final epsilon {eps:.4g} (distance: RMS gap as a share of sites)")
            lines.append("parameter                          median   90% credible interval   prior 90%")
            for _, r in iv.iterrows():
                lines.append(f"  {r['parameter']:<32} {r['median']:<8.4g} [{r['low']:.4g}, {r['high']:.4g}]"
                             f"{'':<6} [{r['prior_low']:.4g}, {r['prior_high']:.4g}]")
        else:
            best = self.posterior["distance"].iloc[0]
            lines.append(f"best trial distance {best:.4g} (mean of {self.spec.optimize.replicates} replicates; a point estimate, no credible intervals)")
            for _, r in iv.iterrows():
                lines.append(f"  {r['parameter']:<32} {r['estimate']:.4g}")
        return "\n".join(lines)

    def manifest(self) -> dict:
        from .. import __version__
        from ..runner import git_commit

        return {
            "kind": "spreadsim calibration",
            "method": self.method,
            "scenario_file": self.scenario.source,
            "scenario_dir": str(self.scenario.base_dir.resolve()),
            "scenario": self.scenario.to_dict(),
            "scenario_hash": self.scenario.digest(),
            "world_hash": world_hash(self.scenario),
            "data_file": self.observed.source,
            "data_kind": self.observed.kind,
            "targets": self.targets,
            "fit_months": self.fit_months,
            "last_month": self.observed.last_month,
            "n_sites": self.n_sites,
            "spec": self.spec.to_dict(),
            "n_simulations": self.n_simulations,
            "elapsed_s": self.elapsed_s,
            "info": self.info,
            "version": __version__,
            "git_commit": git_commit(),
            "time": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
        }

    def save(self, out: str | Path, plots: bool = True, progress: bool = False, executor: str = "serial",
             workers: int | None = None, client=None, force: bool = False) -> Path:
        """Write the calibration into ``out`` atomically (``force``: replace an earlier spreadsim
        output there; a folder spreadsim did not write is never replaced, see :mod:`simulation.safe_io`).

        Files: ``posterior.csv`` and ``posterior.parquet`` (samples with weights), ``intervals.csv``,
        ``populations.csv`` (per generation or trial), ``observed.csv``, ``predictive.csv`` (bands),
        ``check.json``, ``calibration.json`` (manifest: scenario, priors, budget, versions), and the
        figures ``fit.png`` and ``marginals.png``.
        """
        from ..safe_io import atomic_dir, check_out, mark

        out = Path(out)
        check_out(out, "calibration", replace=force)  # before the predictive runs
        pred = self.predictive(executor=executor, workers=workers, client=client, progress=progress)
        chk = self.check(executor=executor, workers=workers, client=client)
        with atomic_dir(out, "calibration", replace=force) as tmp:
            self.posterior.to_csv(tmp / "posterior.csv", index=False)
            self.posterior.to_parquet(tmp / "posterior.parquet", index=False)
            self.intervals().to_csv(tmp / "intervals.csv", index=False)
            self.populations.to_csv(tmp / "populations.csv", index=False)
            self.observed.table.to_csv(tmp / "observed.csv", index=False)
            pred.to_csv(tmp / "predictive.csv", index=False)
            (tmp / "check.json").write_text(json.dumps(_jsonable(chk), indent=2))
            (tmp / "calibration.json").write_text(json.dumps(_jsonable(mark(self.manifest(), "calibration")), indent=2))
            (tmp / "summary.txt").write_text(self.summary_text() + "\n")
            if plots:
                import matplotlib.pyplot as plt

                from ..plots import SAVE_DPI

                fig = self.plot_fit()
                fig.savefig(tmp / "fit.png", dpi=SAVE_DPI, bbox_inches="tight")
                plt.close(fig)
                fig = self.plot_marginals()
                fig.savefig(tmp / "marginals.png", dpi=SAVE_DPI, bbox_inches="tight")
                plt.close(fig)
        return out


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.floating, float)):
        return None if not math.isfinite(float(x)) else float(x)
    if isinstance(x, np.integer):
        return int(x)
    return x


def world_hash(scenario: Scenario) -> str:
    """Hash of what a forecast must share with its calibration (strategies and calibration aside)."""
    import hashlib

    d = scenario.to_dict()
    for k in ("seed", "name", "description", "months", "strategies", "calibration", "sensitivity"):
        d.pop(k, None)
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def load_calibration(folder: str | Path, scenario: Scenario | None = None) -> Calibration:
    """Read a calibration written by :meth:`Calibration.save` (for ``forecast``).

    Args:
        folder: the calibration's output folder.
        scenario: the scenario to forecast; must describe the same world (sites, network, known
            values) as the one calibrated, strategies aside. Default: the one stored in the folder.

    Raises:
        InputError: the folder or a file in it is missing or unreadable, or the scenario differs.
    """
    from .spec import AbcSettings, OptimizeSettings

    folder = Path(folder)
    man_path = folder / "calibration.json"
    if not folder.is_dir():
        raise fail(str(folder), "", "no such calibration folder (run spreadsim calibrate ... --out FOLDER first)")
    if not man_path.exists():
        raise fail(str(man_path), "", "file not found: this folder does not hold a calibration")
    try:
        man = json.loads(man_path.read_text())
        if not isinstance(man, dict):
            raise KeyError("calibration.json")
        post_path = folder / "posterior.csv"
        if not post_path.exists():
            raise fail(str(post_path), "", "file not found")
        posterior = pd.read_csv(post_path)
        populations = pd.read_csv(folder / "populations.csv") if (folder / "populations.csv").exists() else pd.DataFrame()
        obs_table = pd.read_csv(folder / "observed.csv")
    except (ValueError, RecursionError, OSError, pd.errors.ParserError, pd.errors.EmptyDataError, KeyError) as err:
        raise fail(str(folder), "", f"cannot read the calibration ({type(err).__name__}): calibrate again") from None
    stored = Scenario.model_validate(man["scenario"])
    stored._source = man.get("scenario_file", "<stored>")
    stored._base_dir = man.get("scenario_dir") or str(Path(stored._source).parent)
    if scenario is None:
        scenario = stored
    elif world_hash(scenario) != man["world_hash"]:
        raise InputError(Problem(scenario.source, "", f"describes a different world (sites, network or known values) from "
                                                      f"the one calibrated in {folder} (hash {world_hash(scenario)} vs "
                                                      f"{man['world_hash']}); calibrate this scenario again"))
    sp = man["spec"]
    priors = tuple(Prior(path=k, **{kk: vv for kk, vv in v.items()}) for k, v in sp["parameters"].items())
    from .spec import field_kind

    priors = tuple(Prior(**{**p.__dict__, "integer": field_kind(p.path)[0] == "int"}) for p in priors)
    missing = [p.path for p in priors if p.path not in posterior.columns] + [c for c in ("weight", "distance", "seed") if c not in posterior.columns]
    if missing:
        raise fail(str(folder / "posterior.csv"), ", ".join(missing), "columns missing")
    spec = CalibrationSpec(parameters=priors, data=sp.get("data"), targets=tuple(sp["targets"]) if sp.get("targets") else None,
                           holdout=sp["holdout"], method=sp["method"], abc=AbcSettings(**sp["abc"]),
                           optimize=OptimizeSettings(**sp["optimize"]), draws=sp["draws"], seed=sp["seed"],
                           source=scenario.source)
    observed = Observed(obs_table, man["data_file"], man["data_kind"])
    return Calibration(scenario=scenario, spec=spec, observed=observed, fit_months=int(man["fit_months"]),
                       posterior=posterior, populations=populations, n_simulations=int(man["n_simulations"]),
                       elapsed_s=float(man["elapsed_s"]), n_sites=int(man["n_sites"]), info=man.get("info", {}))


# ----------------------------------------------------------------------------------- calibrate
def calibrate_data(scenario: Scenario | str | Path, data: Any = None, *, params: dict[str, Any] | None = None,
              method: str | None = None, executor: str = "processes", workers: int | None = None, client=None,
              seed: int | None = None, progress: bool = True, **settings: Any) -> Calibration:
    """Fit a scenario's unknown values to observed roll-out data (``calibrate`` of
    :mod:`simulation.calibration.entry` does this, or fits to the published patterns).

    Args:
        scenario: a scenario (or its file) whose ``calibration:`` section declares the unknowns, or
            with ``params``.
        data: observed data: a file (counts with ``month``, or a site table with adoption months), a
            DataFrame with a ``month`` column, or None for the section's ``calibration.data``.
        params: priors ``{dotted.path: {low, high[, dist, ...]}}``, replacing the section's.
        method: ``abc`` (default) or ``optimize``.
        executor: ``serial`` (reproducible bit for bit), ``processes`` (pyabc's multicore sampler;
            a process pool for the optimiser) or ``dask`` (pyabc's Dask sampler; ``client`` or a
            local cluster).
        workers: processes for ``processes`` (default: all cores).
        seed: the calibration's seed (default: the section's, else the scenario's).
        progress: show a progress bar.
        **settings: ``targets``, ``holdout``, ``draws`` and budgets (``population``, ``generations``,
            ``min_epsilon``, ``max_simulations``, ``max_minutes``, ``trials``, ``replicates``, ``batch``).

    Returns:
        A :class:`Calibration`.

    Raises:
        InputError: for a bad scenario, calibration section, parameter path or data file.
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    spec = calibration_spec(scenario, params=params, method=method, seed=seed,
                            data=str(data) if isinstance(data, (str, Path)) else None, **settings)
    if data is None:
        from .spec import resolve_data_path

        data = resolve_data_path(spec, None)
    # blank data: an error, never "distance 0"; months after the scenario's end: an error, never a longer run
    observed = as_observed(data, scenario.months).select(spec.targets, spec.source)
    if spec.holdout >= observed.last_month:
        raise fail(spec.source, "calibration.holdout", f"holds out {spec.holdout} months but the data has only months 0-{observed.last_month}")
    fit_months = observed.last_month - spec.holdout
    targets = observed.columns
    built = build_shared(scenario, spec.paths)
    # check the data against the sites the model has, before spending any simulations
    probe = Simulator(scenario, spec.parameters, targets, 0, built, spec.seed)
    mid = [p.scipy().median() for p in spec.parameters]
    model0 = probe.model(mid, spec.seed, months=1)
    n_sites = model0.N
    obs = observed.table[targets].to_numpy(float)
    from .data import COUNT_SERIES

    if observed.n_sites is not None and observed.n_sites != n_sites:
        raise fail(observed.source, "site", f"the site table lists {observed.n_sites} sites but the scenario has {n_sites}: "
                                            f"give the scenario the same sites (sites.file or sites.n)")
    for j, t in enumerate(targets):
        if t in COUNT_SERIES and np.nanmax(obs[:, j], initial=0) > n_sites:
            raise fail(observed.source, t, f"counts up to {np.nanmax(obs[:, j]):g} but the scenario has {n_sites} sites")
    dist = Distance(obs, scales(targets, obs, n_sites), np.arange(fit_months + 1))
    sim = Simulator(scenario, spec.parameters, targets, fit_months, built, spec.seed)
    workers = workers or default_workers()
    t0 = time.perf_counter()
    if spec.method == "abc":
        posterior, populations, n_sims = _run_abc(sim, dist, obs[: fit_months + 1], spec, executor, workers, client, progress)
    else:
        posterior, populations, n_sims = _run_optimize(sim, dist, spec, executor, workers, client, progress)
    elapsed = time.perf_counter() - t0
    info = {"executor": executor, "workers": workers if executor != "serial" else 1,
            "reproducible": executor == "serial" or spec.method == "optimize"}
    try:
        import pyabc

        info["pyabc"] = pyabc.__version__
    except ImportError:  # pragma: no cover - pyabc is a dependency
        pass
    return Calibration(scenario=scenario, spec=spec, observed=observed, fit_months=fit_months, posterior=posterior,
                       populations=populations, n_simulations=n_sims, elapsed_s=elapsed, n_sites=n_sites, info=info)


def _run_abc(sim: Simulator, dist: Distance, obs: np.ndarray, spec: CalibrationSpec, executor: str, workers: int,
             client, progress: bool) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    import datetime
    import tempfile

    import pyabc

    a = spec.abc
    prior = pyabc.Distribution(**{f"p{i}": p.pyabc_rv() for i, p in enumerate(spec.parameters)})
    own_cluster = None
    try:
        with quiet_libraries():
            sampler, own_cluster, client = _abc_sampler(executor, workers, client, a.population)
        with tempfile.TemporaryDirectory(prefix="spreadsim-abc-") as tmp, quiet_libraries(), \
                numpy_global_seed(spec.seed if executor == "serial" else None):
            abc = pyabc.ABCSMC(sim, prior, dist, population_size=a.population, sampler=sampler)
            abc.new("sqlite:///" + str(Path(tmp) / "abc.db"), {"curve": obs, "seed": 0})
            walltime = datetime.timedelta(minutes=a.max_minutes) if a.max_minutes else None
            t0 = abc.initialize_components_before_run(minimum_epsilon=a.min_epsilon, max_nr_populations=a.generations,
                                                      min_acceptance_rate=a.min_acceptance,
                                                      max_total_nr_simulations=a.max_simulations,
                                                      max_walltime=walltime, min_eps_diff=0.0)
            bar = _bar(a.generations, "ABC-SMC", progress, unit="generation")
            t = t0
            while True:
                ret = abc.run_generation(t=t)
                h = abc.history
                bar.update(1)
                bar.set_postfix(eps=f"{abc.eps(t):.3g}", sims=h.total_nr_simulations)
                if not ret["successful"] or abc.check_terminate(t=t, acceptance_rate=ret["acceptance_rate"]):
                    break
                t += 1
            bar.close()
            h = abc.history
            pop = h.get_population()
            rows = []
            for part in pop.particles:
                row = {p.path: float(part.parameter[f"p{i}"]) for i, p in enumerate(spec.parameters)}
                row.update(weight=float(part.weight), distance=float(part.distance), seed=int(part.sum_stat["seed"]))
                rows.append(row)
            posterior = pd.DataFrame(rows)
            posterior["weight"] /= posterior["weight"].sum()
            pops = h.get_all_populations()
            pops = pops[pops["t"] >= 0].rename(columns={"t": "generation", "samples": "simulations", "particles": "accepted"})
            pops["acceptance"] = pops["accepted"] / pops["simulations"]
            populations = pops[["generation", "epsilon", "simulations", "accepted", "acceptance"]].reset_index(drop=True)
            n_sims = int(h.total_nr_simulations)
            engine = getattr(h, "_engine", None)
            if engine is not None:
                engine.dispose()
    finally:
        if own_cluster is not None:
            client.close()
            own_cluster.close()
    return posterior, populations, n_sims


def _run_optimize(sim: Simulator, dist: Distance, spec: CalibrationSpec, executor: str, workers: int, client,
                  progress: bool) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    import optuna
    from optuna.trial import TrialState

    o = spec.optimize
    rep_seeds = _draw_seeds(spec.seed, 3, o.replicates)
    with quiet_libraries():
        study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=spec.seed))
        bar = _bar(o.trials, "optimize", progress, unit="trial")
        rows = []
        with JobPool(sim, executor, workers, client) as pool:
            done = 0
            while done < o.trials:
                k = min(o.batch, o.trials - done)
                trials = [study.ask() for _ in range(k)]
                values = [[t.suggest_float(p.path, p.low, p.high, log=p.dist == "loguniform") for p in spec.parameters]
                          for t in trials]
                # the trials' replicates batched across trials (simulation.blocks), one job per worker
                jobs = 1 if executor == "serial" else max(1, int(workers))
                size = -(-k // min(jobs, k))
                curves = [c for part in pool.map(trials_job, [(values[j:j + size], rep_seeds)
                                                               for j in range(0, k, size)]) for c in part]
                for i, (t, v) in enumerate(zip(trials, values)):
                    c = curves[i]
                    d = dist.of(c.mean(axis=0)) if np.isfinite(c).all() else float("inf")
                    if math.isfinite(d):
                        study.tell(t, d)
                    else:
                        study.tell(t, state=TrialState.FAIL)
                    rows.append({"trial": t.number, **dict(zip(spec.paths, v)), "distance": d})
                done += k
                bar.update(k)
        bar.close()
    trials_df = pd.DataFrame(rows)
    ok = trials_df[np.isfinite(trials_df["distance"])]
    if ok.empty:
        raise fail(spec.source, "calibration.parameters", "every trial gave an invalid scenario; check the priors")
    best = ok.loc[ok["distance"].idxmin()]
    posterior = pd.DataFrame([{**{p: float(best[p]) for p in spec.paths}, "weight": 1.0, "distance": float(best["distance"]),
                               "seed": particle_seed(spec.seed, [float(best[p]) for p in spec.paths])}])
    return posterior, trials_df, len(trials_df) * o.replicates


def _abc_sampler(executor: str, workers: int, client, population: int):
    """pyabc's sampler for an executor, and a local Dask cluster it had to start (else None)."""
    from pyabc.sampler import (
        DaskDistributedSampler,
        MulticoreEvalParallelSampler,
        SingleCoreSampler,
    )

    if executor == "serial":
        return SingleCoreSampler(), None, client
    if executor == "processes":
        return MulticoreEvalParallelSampler(n_procs=workers), None, client
    if executor == "dask":
        own = None
        if client is None:
            from dask.distributed import Client, LocalCluster

            own = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
            client = Client(own)
        batch = max(1, population // (4 * max(1, len(client.ncores()))))
        return DaskDistributedSampler(dask_client=client, batch_size=batch), own, client
    raise InputError(Problem("--executor", "", f"unknown executor '{executor}'; use serial, processes or dask"))
