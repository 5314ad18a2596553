"""Global sensitivity analysis with SALib, across strategies, honest about the model's own noise.

The pipeline (:class:`Sensitivity`):

1. **Problem**: the ``sensitivity:`` section becomes a SALib :class:`~SALib.util.problem.ProblemSpec`
   (names, bounds, distributions, groups, outputs).
2. **Sample** with SALib's current samplers: ``sample_sobol`` (Saltelli's scheme on a scrambled
   Sobol' sequence; Sobol' 2001, Saltelli et al. 2010), ``sample_morris`` (Morris 1991;
   Campolongo, Cariboni & Saltelli 2007) or ``sample_fast`` (eFAST; Saltelli, Tarantola & Chan 1999).
3. **Run** every sample under every strategy, ``R`` replicates each, through the experiment runner
   (:func:`simulation.experiments.execute`: parallel, distributed, resumable, with a progress bar).
   Replicate ``r`` has the same seed in every sample and strategy (common random numbers), so a
   difference between two samples or two strategies is not blurred by different luck.
4. **Average** the replicates per sample and **analyse** with bootstrap confidence intervals.
5. **Noise**: the spread between replicates estimates how much of the variance of the averaged
   output is the model's own stochastic noise rather than the parameters; an index smaller than that
   share cannot be told apart from noise, and the report says so.
6. **Convergence**: the indices from the first N/2 base samples are compared with those from all N
   (for eFAST, whose search curves cannot be halved, from an extra design of N/2).
7. **Strategies**: indices side by side (strategy x parameter heatmap) and, for each output, the
   share of the sampled parameter space in which each strategy does best.

A plain function can stand in for the model (``evaluator=``), which is how the pipeline is checked
against SALib's Ishigami function with known indices.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError, Problem
from ..labels import output_label, strategy_label
from .spec import BASELINE, TIE, SensitivitySpec, derived_seed, parse, replicate_seeds

#: ``evaluator(X, seeds, strategy) -> array (n, R) or (n, R, K)``: outputs of each sample row under each
#: replicate seed (K = number of outputs) for one strategy.
Evaluator = Callable[[np.ndarray, list[int], str], np.ndarray]

INDEX_COLUMNS = {"sobol": ["S1", "S1_conf", "ST", "ST_conf"], "fast": ["S1", "S1_conf", "ST", "ST_conf"],
                 "morris": ["mu", "mu_star", "sigma", "mu_star_conf"]}
#: the index that says whether a parameter matters at all (heatmaps, convergence, trust)
MAIN_INDEX = {"sobol": "ST", "fast": "ST", "morris": "mu_star"}


def model_scenario(scenario):
    """The scenario without its analysis sections (``strategies``, ``sensitivity``, ``calibration``).

    Every run carries its strategy's overrides itself, so the runner's result store is keyed by the
    model alone: editing the ``sensitivity:`` section keeps the stored runs reusable.
    """
    return scenario.with_overrides({"strategies": {}, "sensitivity": None, "calibration": None}, "sensitivity")


def series_at(result, months: list[int], columns: list[str]) -> pd.DataFrame:
    """Rows of the runs' monthly series at the given months only: strategy, replicate, month, columns.

    Reads the runner's stored series chunk by chunk and keeps only the months asked for, so memory
    does not grow with runs x horizon. This uses the result's chunk reader (``_ts_tables``) and run
    order (``_order``: the run ids in the order of ``result.runs``); when a result does not have them
    it falls back to the public ``result.timeseries`` table.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    chunks = getattr(result, "_ts_tables", None)
    order = getattr(result, "_order", None)
    if chunks is None or order is None or len(order) != len(result.runs):
        ts = result.timeseries
        return ts.loc[ts["month"].isin(months), ["strategy", "replicate", "month", *columns]]
    want = pa.array(months, pa.int64())
    parts = []
    for t in chunks(["month", *columns]):
        parts.append(t.filter(pc.is_in(pc.cast(t.column("month"), pa.int64()), value_set=want)))
    cols = ["strategy", "replicate", "month", *columns]
    if not parts:
        return pd.DataFrame(columns=cols)
    t = pa.concat_tables(parts, promote_options="default")
    row = pc.index_in(t.column("run_id"), value_set=order).to_numpy(zero_copy_only=False)
    keep = ~pd.isna(row)
    row = row[keep].astype(np.int64)
    df = t.drop_columns(["run_id"]).to_pandas()[keep].reset_index(drop=True)
    df.insert(0, "replicate", result.runs["replicate"].to_numpy()[row])
    df.insert(0, "strategy", result.runs["strategy"].to_numpy()[row])
    return df[cols]


def _load(scenario):
    from ..scenario import Scenario, load_scenario

    if scenario is None or isinstance(scenario, Scenario):
        return scenario
    return load_scenario(scenario)


class Sensitivity:
    """A global sensitivity analysis of a scenario (or of a function standing in for the model).

    Example::

        from simulation.sensitivity import Sensitivity
        sa = Sensitivity("scenarios/strategies/demo_sensitivity.yaml", samples=64, replicates=2)
        sa.problem            # the SALib ProblemSpec, with its samples
        sa.run()
        sa.indices            # S1, S1_conf, ST, ST_conf per strategy, output and parameter
        sa.noise, sa.convergence, sa.wins, sa.warnings
        figs = sa.plot()      # {name: matplotlib Figure}
        sa.save("results/sa")

    Args:
        scenario: a scenario file or :class:`~simulation.scenario.Scenario` (``None`` only with an
            ``evaluator`` and a ``spec``).
        spec: the ``sensitivity:`` section as a mapping, or a parsed :class:`SensitivitySpec`
            (default: the scenario's own section).
        method, samples, replicates, seed, strategies, outputs: take precedence over the section.
        evaluator: a function standing in for the model (see :data:`Evaluator`).
        executor, workers, scheduler, client, chunk_size: passed to
            :func:`simulation.experiments.execute`.
        store: folder of the experiment runner's resumable result store (``None``: keep in memory).
        resume: reuse runs already in ``store``.
        progress: show progress bars (the runs, then the analysis).
        clear: an earlier output folder to empty just before the runs start (``--fresh``; see
            :func:`simulation.experiments.execute`).
    """

    def __init__(self, scenario=None, spec: SensitivitySpec | dict | None = None, *, method: str | None = None,
                 samples: int | None = None, replicates: int | None = None, seed: int | None = None,
                 strategies: Sequence[str] | str | None = None, outputs: Sequence[str] | str | None = None,
                 evaluator: Evaluator | None = None, executor: str = "processes", workers: int | None = None,
                 scheduler: str | None = None, client: Any = None, chunk_size: int | None = None,
                 store: str | Path | None = None, resume: bool = True, progress: bool = True,
                 clear: str | Path | None = None):
        self.scenario = _load(scenario)
        overrides = {"method": method, "samples": samples, "replicates": replicates, "seed": seed,
                     "strategies": list(strategies) if isinstance(strategies, (list, tuple)) else strategies,
                     "outputs": list(outputs) if isinstance(outputs, (list, tuple)) else outputs}
        if isinstance(spec, SensitivitySpec):
            if any(v is not None for v in overrides.values()):
                raise TypeError("give either a parsed SensitivitySpec or keyword overrides, not both")
            self.spec = spec
        else:
            if self.scenario is None and evaluator is None:
                raise InputError(Problem("<python>", "scenario", "a scenario is needed unless an evaluator stands in for the model"))
            section = spec if spec is not None else getattr(self.scenario, "sensitivity", None)
            self.spec = parse(section, self.scenario, overrides=overrides)
        if self.scenario is None and evaluator is None:
            raise InputError(Problem("<python>", "scenario", "a scenario is needed unless an evaluator stands in for the model"))
        self.evaluator = evaluator
        self.executor, self.workers, self.scheduler, self.client = executor, workers, scheduler, client
        self.chunk_size, self.store, self.resume, self.progress = chunk_size, store, resume, progress
        self.clear = clear
        from ..limits import check_runs

        field = "--samples" if samples is not None else "sensitivity.samples"
        check_runs(self.spec.n_runs(), self.spec.source if samples is None else field,
                   "" if samples is not None else "sensitivity.samples")
        self.seeds = replicate_seeds(self.spec.seed, self.spec.replicates)
        self._sample()
        self.Y: dict[str, np.ndarray] | None = None
        self.problems: dict[str, Any] = {}
        self._indices: pd.DataFrame | None = None
        self.second_order: pd.DataFrame | None = None
        self.noise: pd.DataFrame | None = None
        self.convergence: pd.DataFrame | None = None
        self.wins: pd.DataFrame | None = None
        self.wins_by_parameter: pd.DataFrame | None = None
        self.warnings: list[str] = []
        self.runs: pd.DataFrame | None = None

    # ------------------------------------------------------------------------------ sampling
    def new_problem(self):
        """A fresh SALib ProblemSpec for this analysis (names, bounds, dists, groups, outputs)."""
        from SALib import ProblemSpec

        return ProblemSpec(self.spec.problem_dict())

    def _sample(self) -> None:
        sp = self.spec
        self.problem = self.new_problem()
        sampler_seed = derived_seed(sp.seed, 1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if sp.method == "sobol":
                self.problem.sample_sobol(sp.samples, calc_second_order=sp.second_order, scramble=True, seed=sampler_seed)
                self.X = self.problem.samples
                self.n_main = len(self.X)
                self.n_half = len(self.X) // 2
            elif sp.method == "morris":
                self.problem.sample_morris(sp.samples, num_levels=sp.num_levels, seed=sampler_seed)
                self.X = self.problem.samples
                self.n_main = len(self.X)
                self.n_half = (sp.samples // 2) * (len(sp.factors) + 1)
            else:
                self.problem.sample_fast(sp.samples, M=sp.harmonics, seed=sampler_seed)
                half = self.new_problem()
                half.sample_fast(sp.samples // 2, M=sp.harmonics, seed=derived_seed(sp.seed, 3))
                self.n_main = len(self.problem.samples)
                self.X = np.vstack([self.problem.samples, half.samples])
        self.samples = pd.DataFrame(self.X, columns=self.spec.names)
        for p in self.spec.parameters:
            if p.integer:
                self.samples[p.name] = [p.value(x) for x in self.samples[p.name]]
        self.samples.insert(0, "sample", np.arange(len(self.X)))

    @property
    def n_runs(self) -> int:
        """Model runs the analysis needs (samples x replicates x strategies)."""
        return len(self.X) * self.spec.replicates * len(self.spec.strategies)

    # ------------------------------------------------------------------------------ running
    def run(self) -> "Sensitivity":
        """Run every sample under every strategy, then analyse. Returns ``self``."""
        if self.evaluator is not None:
            self.Y = {}
            for s in self.spec.strategies:
                y = np.asarray(self.evaluator(self.X, list(self.seeds), s), dtype=float)
                if y.ndim == 2:
                    y = y[:, :, None]
                want = (len(self.X), len(self.seeds), len(self.spec.outputs))
                if y.shape != want:
                    raise ValueError(f"evaluator returned shape {y.shape}, expected {want} (samples, replicates, outputs)")
                self.Y[s] = y
        else:
            self.Y = self._run_model()
        from .progress import Phase

        loud = self.progress and self.evaluator is None
        with Phase(f"analysing {len(self.spec.strategies)} strateg{'y' if len(self.spec.strategies) == 1 else 'ies'} "
                   f"x {len(self.spec.outputs)} outputs (indices, bootstrap intervals, noise, convergence)", loud):
            self.analyse()
        return self

    def overrides(self, strategy: str, row: np.ndarray) -> dict[str, Any]:
        """The scenario overrides of one sample row under one strategy."""
        base = dict(self.scenario.strategies.get(strategy, {})) if strategy != BASELINE or strategy in self.scenario.strategies else {}
        base.update({p.path: p.value(x) for p, x in zip(self.spec.parameters, row)})
        return base

    def run_specs(self) -> list:
        """The experiment runner's RunSpecs: label ``strategy/sample``, replicates with common seeds."""
        from ..experiments import RunSpec

        specs = []
        for s in self.spec.strategies:
            for i, row in enumerate(self.X):
                ov = self.overrides(s, row)
                for r, seed in enumerate(self.seeds):
                    specs.append(RunSpec(f"{s}/{i}", r, seed, ov))
        return specs

    def _run_model(self) -> dict[str, np.ndarray]:
        from ..experiments import execute

        result = execute(model_scenario(self.scenario), self.run_specs(), executor=self.executor, out=self.store,
                         resume=self.resume, progress=self.progress, client=self.client,
                         scheduler=self.scheduler, workers=self.workers, chunk_size=self.chunk_size,
                         clear=self.clear, meta={"experiment": "sensitivity"})
        from .progress import Phase

        with Phase(f"reading the {len(result.runs):,} runs' outputs", self.progress):
            return self._collect(result)

    def _collect(self, result) -> dict[str, np.ndarray]:
        runs = result.runs
        label = runs["strategy"].astype(str)
        split = label.str.rsplit("/", n=1, expand=True)
        strat, sample = split[0], split[1].astype(int)
        rep = runs["replicate"].astype(int).to_numpy()
        n, R = len(self.X), len(self.seeds)
        outs = self.spec.outputs
        Y = {s: np.full((n, R, len(outs)), np.nan) for s in self.spec.strategies}
        ts = None
        if any(o.month is not None for o in outs):
            need = sorted({o.month for o in outs if o.month is not None})
            ts = series_at(result, need, sorted({o.column for o in outs if o.month is not None}))
            ts_label = ts["strategy"].astype(str).str.rsplit("/", n=1, expand=True)
            ts = ts.assign(_s=ts_label[0].to_numpy(), _i=ts_label[1].astype(int).to_numpy())
        months = self.scenario.months
        for s in self.spec.strategies:
            m = (strat == s).to_numpy()
            ii, rr = sample.to_numpy()[m], rep[m]
            for k, o in enumerate(outs):
                if o.month is None:
                    v = runs.loc[m, o.name].to_numpy(dtype=float)
                    if o.name == "time_to_50":  # never reached: censored at the horizon
                        v = np.where(np.isnan(v), float(months), v)
                    Y[s][ii, rr, k] = v
                else:
                    t = ts[(ts["_s"] == s) & (ts["month"] == o.month)]
                    Y[s][t["_i"].to_numpy(), t["replicate"].astype(int).to_numpy(), k] = t[o.column].to_numpy(dtype=float)
        self.runs = runs
        return Y

    # ------------------------------------------------------------------------------ analysis
    def _analyse_one(self, X: np.ndarray, Ym: np.ndarray, names: list[str], boot_seed: int):
        """SALib analysis of averaged outputs ``Ym`` (n, K) for the outputs ``names``: ProblemSpec, {output: dfs}."""
        sp = self.spec
        ps = self.new_problem()
        ps["outputs"] = list(names)
        ps.set_samples(X)
        ps.set_results(Ym if Ym.shape[1] > 1 else Ym[:, 0])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if sp.method == "sobol":
                ps.analyze_sobol(calc_second_order=sp.second_order, num_resamples=sp.resamples,
                                 conf_level=sp.conf_level, seed=boot_seed)
            elif sp.method == "morris":
                ps.analyze_morris(num_resamples=sp.resamples, conf_level=sp.conf_level, num_levels=sp.num_levels,
                                  seed=boot_seed)
            else:
                # SALib's eFAST bootstrap seeds numpy's global generator; keep the caller's state intact
                state = np.random.get_state()
                try:
                    ps.analyze_fast(M=sp.harmonics, num_resamples=sp.resamples, conf_level=sp.conf_level, seed=boot_seed)
                finally:
                    np.random.set_state(state)
        for w in caught:
            msg = str(w.message).split("\n")[0]
            if "FAST confidence intervals" in msg:
                self._warn("eFAST: SALib estimates S1_conf/ST_conf by bootstrapping the search curve, which is known "
                           "to be unreliable; treat the intervals as indicative")
        analysis = ps.analysis if len(names) > 1 else {names[0]: ps.analysis}
        return ps, analysis

    def _tables(self, analysis: dict, strategy: str) -> tuple[list[pd.DataFrame], list[pd.DataFrame]]:
        cols = INDEX_COLUMNS[self.spec.method]
        first, second = [], []
        for out, res in analysis.items():
            dfs = res.to_df()
            if isinstance(dfs, pd.DataFrame):
                dfs = [dfs]
            main = pd.concat([d for d in dfs if "S2" not in d.columns], axis=1)
            main = main.reindex(columns=cols)
            main.index = [str(x) for x in main.index]
            main = main.rename_axis("parameter").reset_index()
            main.insert(0, "output", out)
            main.insert(0, "strategy", strategy)
            first.append(main)
            for d in dfs:
                if "S2" in d.columns:
                    s2 = d.copy()
                    s2.insert(0, "parameter_2", [str(ix[1]) for ix in d.index])
                    s2.insert(0, "parameter_1", [str(ix[0]) for ix in d.index])
                    s2 = s2.reset_index(drop=True)
                    s2.insert(0, "output", out)
                    s2.insert(0, "strategy", strategy)
                    second.append(s2)
        return first, second

    def _warn(self, msg: str) -> None:
        if msg not in self.warnings:
            self.warnings.append(msg)

    def analyse(self) -> "Sensitivity":
        """Average replicates, analyse each strategy and output, estimate noise and convergence."""
        if self.Y is None:
            raise RuntimeError("nothing to analyse yet: call .run() first")
        sp = self.spec
        self.warnings = []
        boot = derived_seed(sp.seed, 2)
        factors = sp.factors
        main_idx = MAIN_INDEX[sp.method]
        R = sp.replicates
        first_all, second_all, noise_rows, conv_rows = [], [], [], []
        Xm, Xh = self.X[: self.n_main], None
        if sp.method == "fast":
            Xh = self.X[self.n_main:]
        else:
            Xh = self.X[: self.n_half]
        from tqdm.auto import tqdm

        bar = tqdm(total=2 * len(sp.strategies), desc="analysis (bootstrap intervals)", unit="step",
                   disable=not self.progress or self.evaluator is not None, dynamic_ncols=True, leave=False)
        for s in sp.strategies:
            Y = self.Y[s]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                Ym = np.nanmean(Y, axis=1)
                W = np.nanvar(Y, axis=1, ddof=1) if R > 1 else np.full(Ym.shape, np.nan)
            good = []
            for k, o in enumerate(sp.outputs):
                col = Ym[: self.n_main, k]
                colh = Ym[self.n_main:, k] if sp.method == "fast" else col[: self.n_half]
                nan = int(np.isnan(col).sum() + np.isnan(colh).sum())
                if nan:
                    self._warn(f"{strategy_label(s)}: {output_label(o.name)} has no value in {nan} samples (e.g. no site in full implementation in "
                               f"any replicate); its indices are not computed")
                    continue
                if np.nanstd(col) == 0:
                    self._warn(f"{strategy_label(s)}: {output_label(o.name)} is the same in every sample; it has no "
                               "variance to apportion")
                    continue
                good.append(k)
                # noise: replicate spread against the spread of the sample means
                var_means = float(np.var(col, ddof=1))
                within = float(np.nanmean(W[: self.n_main, k])) if R > 1 else float("nan")
                noise_var = within / R if R > 1 else float("nan")
                share = noise_var / var_means if var_means > 0 else float("nan")
                single = within / (var_means - noise_var + within) if R > 1 and var_means > 0 else float("nan")
                noise_rows.append({"strategy": s, "output": o.name, "replicates": R, "mean": float(np.mean(col)),
                                   "variance_of_means": var_means, "within_variance": within,
                                   "noise_variance_of_means": noise_var, "noise_share": min(share, 1.0) if share == share else share,
                                   "noise_share_single_run": min(single, 1.0) if single == single else single})
            missing = [k for k in range(len(sp.outputs)) if k not in good]
            for k in missing:
                empty = pd.DataFrame({"strategy": s, "output": sp.outputs[k].name, "parameter": factors})
                for c in INDEX_COLUMNS[sp.method]:
                    empty[c] = np.nan
                first_all.append(empty)
            if not good:
                bar.update(2)
                continue
            names = [sp.outputs[k].name for k in good]
            bar.set_postfix_str(s)
            ps, analysis = self._analyse_one(Xm, Ym[: self.n_main][:, good], names, boot)
            bar.update(1)
            self.problems[s] = ps
            f, sec = self._tables(analysis, s)
            first_all += f
            second_all += sec
            # convergence: N/2 against N
            Yh = Ym[self.n_main:][:, good] if sp.method == "fast" else Ym[: self.n_half][:, good]
            _, half = self._analyse_one(Xh, Yh, names, boot)
            bar.update(1)
            hf, _ = self._tables(half, s)
            for full_df, half_df in zip(f, hf):
                a = full_df[main_idx].to_numpy(dtype=float)
                b = half_df[main_idx].to_numpy(dtype=float)
                scale = 1.0 if sp.method != "morris" else max(float(np.nanmax(np.abs(a))), 1e-300)
                for p, x_full, x_half in zip(full_df["parameter"], a, b):
                    diff = abs(x_full - x_half) / scale
                    conv_rows.append({"strategy": s, "output": full_df["output"].iloc[0], "parameter": p,
                                      "index": main_idx, "at_half": x_half, "at_full": x_full,
                                      "difference": diff, "converged": bool(diff <= sp.warn_convergence)})
        bar.refresh()  # its last state (updates faster than tqdm's mininterval are not drawn)
        bar.close()
        self._indices = pd.concat(first_all, ignore_index=True) if first_all else pd.DataFrame()
        self.second_order = pd.concat(second_all, ignore_index=True) if second_all else None
        self.noise = pd.DataFrame(noise_rows)
        self.convergence = pd.DataFrame(conv_rows)
        self._judge()
        if len(sp.strategies) > 1:
            self._compare_strategies()
        return self

    # ------------------------------------------------------------------------------ trust
    def noise_floor(self, strategy: str, output: str) -> float:
        """The smallest index that stands out from replicate noise (NaN when it cannot be estimated).

        Sobol/eFAST: the noise share of the variance of the averaged output. Morris: the mean absolute
        elementary effect pure noise would give, ``E|e1 - e2| / delta`` with ``delta`` the Morris step.
        """
        if self.noise is None or self.noise.empty:
            return float("nan")
        row = self.noise[(self.noise["strategy"] == strategy) & (self.noise["output"] == output)]
        if row.empty:
            return float("nan")
        if self.spec.method != "morris":
            return float(row["noise_share"].iloc[0])
        sd = math.sqrt(float(row["noise_variance_of_means"].iloc[0]))
        p = self.spec.num_levels
        delta = p / (2.0 * (p - 1))
        return math.sqrt(2.0) * sd * math.sqrt(2.0 / math.pi) / delta

    def _judge(self) -> None:
        """Add a ``note`` column to the indices and collect warnings about noise, intervals, convergence."""
        sp = self.spec
        df = self._indices
        if df is None or df.empty:
            return
        notes = []
        for _, row in df.iterrows():
            floor = self.noise_floor(row["strategy"], row["output"])
            note = []
            if sp.method == "morris":
                top = df[(df["strategy"] == row["strategy"]) & (df["output"] == row["output"])]["mu_star"].max()
                if row["mu_star"] == row["mu_star"]:
                    if floor == floor and floor > 0 and row["mu_star"] < 2 * floor:
                        note.append("within noise")
                    if row["mu_star"] >= 0.1 * top and row["mu_star_conf"] > 0.5 * row["mu_star"]:
                        note.append("wide interval")
            else:
                if row["ST"] == row["ST"]:
                    if row["ST"] - row["ST_conf"] <= 0:
                        note.append("interval includes 0")
                    elif floor == floor and row["ST"] - row["ST_conf"] < floor:
                        note.append("within noise")
                    if max(row["ST_conf"], row["S1_conf"]) > sp.warn_ci:
                        note.append("wide interval")
            notes.append("; ".join(note))
        df["note"] = notes
        noisy: dict[str, list[tuple[str, float]]] = {}
        for _, n in self.noise.iterrows():
            share = n["noise_share"]
            if share == share and share > sp.warn_noise_share:
                noisy.setdefault(n["output"], []).append((n["strategy"], float(share)))
        for out, items in noisy.items():
            worst = max(s for _, s in items)
            strength = "untrustworthy" if worst > 0.5 else "blurred"
            which = ", ".join(f"{strategy_label(s)} {v:.0%}" for s, v in items)
            self._warn(f"{output_label(out)}: the model's own noise is a large share of the variance of the output averaged over "
                       f"{sp.replicates} replicates ({which}); indices below that share cannot be told apart from "
                       f"noise and are {strength}; use more replicates (the noise share falls as 1/R)")
        if sp.replicates == 1:
            self._warn("1 replicate per sample: the model's own noise cannot be estimated and is counted as if "
                       "the parameters caused it; use --replicates 2 or more")
        wide = df[df["note"].str.contains("wide")]
        if len(wide):
            which = ", ".join(sorted({f"{output_label(r.output)} ({strategy_label(r.strategy)})"
                                      for r in wide.itertuples()})[:6])
            level = f"{sp.warn_ci}" if sp.method != "morris" else "half of mu_star"
            self._warn(f"wide confidence intervals (half-width above {level}) for {len(wide)} indices in {which}; "
                       f"increase --samples")
        if self.convergence is not None and not self.convergence.empty:
            bad = self.convergence[~self.convergence["converged"]]
            if len(bad):
                worst = bad.sort_values("difference").iloc[-1]
                self._warn(f"not converged: {len(bad)} of {len(self.convergence)} indices moved by more than "
                           f"{sp.warn_convergence} between N/2 and N samples (largest: {self.label(worst['parameter'])} "
                           f"in {output_label(worst['output'])} ({strategy_label(worst['strategy'])}), "
                           f"{worst['at_half']:.3g} -> {worst['at_full']:.3g}); "
                           f"increase --samples")

    @property
    def converged(self) -> bool | None:
        """Whether every index moved by at most the tolerance between N/2 and N (None before run)."""
        if self.convergence is None or self.convergence.empty:
            return None
        return bool(self.convergence["converged"].all())

    @property
    def indices(self) -> pd.DataFrame:
        """One row per strategy, output and parameter (or group) with SALib's index columns.

        Sobol and eFAST: ``S1``, ``S1_conf``, ``ST``, ``ST_conf``; Morris: ``mu``, ``mu_star``, ``sigma``,
        ``mu_star_conf``; plus ``note`` ("within noise", "wide interval").
        """
        if self._indices is None:
            raise RuntimeError("no indices yet: call .run() first")
        return self._indices

    def noise_cells(self, output: str | None = None) -> pd.DataFrame:
        """Strategy x parameter table: True where the analysis calls the index noise (its note says
        "interval includes 0" or "within noise"), as the report and the heatmap show it."""
        out = output or self.spec.outputs[0].name
        df = self.indices[self.indices["output"] == out]
        note = df["note"] if "note" in df else pd.Series("", index=df.index)
        flag = note.fillna("").str.contains("interval includes 0|within noise")
        m = df.assign(noise=flag).pivot(index="strategy", columns="parameter", values="noise")
        return m.reindex(index=self.spec.strategies, columns=self.spec.factors).fillna(False).astype(bool)

    def matrix(self, output: str | None = None, index: str | None = None) -> pd.DataFrame:
        """Strategy x parameter table of the main index (ST, or mu_star scaled to its largest value)."""
        out = output or self.spec.outputs[0].name
        idx = index or MAIN_INDEX[self.spec.method]
        df = self.indices[self.indices["output"] == out]
        m = df.pivot(index="strategy", columns="parameter", values=idx)
        m = m.reindex(index=self.spec.strategies, columns=self.spec.factors)
        if idx == "mu_star":
            m = m.div(m.max(axis=1).replace(0, np.nan), axis=0)
        return m

    # ------------------------------------------------------------------------------ strategies
    def _compare_strategies(self) -> None:
        """Which strategy does best in each sample (ties split), clear wins, and wins along each parameter."""
        sp = self.spec
        S = sp.strategies
        n = self.n_main
        rows, by_param = [], []
        for k, o in enumerate(sp.outputs):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                Ym = np.stack([np.nanmean(self.Y[s][:n, :, k], axis=1) for s in S])  # (S, n)
            sign = 1.0 if o.goal == "max" else -1.0
            score = sign * Ym
            ok = ~np.isnan(score).any(axis=0)
            if not ok.any():
                continue
            sc = score[:, ok]
            best = sc.max(axis=0)
            is_best = np.isclose(sc, best, rtol=1e-9, atol=1e-12)
            sole = is_best.sum(axis=0) == 1
            # sole wins per strategy; samples where two or more strategies tie for best count as "(tie)"
            share = (is_best & sole).mean(axis=1)
            # a clear win: the margin over the runner-up exceeds twice its standard error over replicates
            clear = np.full(len(S), np.nan)
            if sp.replicates > 1:
                order = np.argsort(-sc, axis=0, kind="stable")
                b, r2 = order[0], order[1]
                Yk = np.stack([self.Y[s][:n, :, k] for s in S])[:, ok, :]  # (S, n_ok, R)
                cols = np.arange(sc.shape[1])
                d = sign * (Yk[b, cols, :] - Yk[r2, cols, :])
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    se = np.nanstd(d, axis=1, ddof=1) / math.sqrt(sp.replicates)
                    win = sole & (np.nanmean(d, axis=1) > 2 * se)
                clear = np.array([float(np.mean(win & (b == j))) for j in range(len(S))])
            for j, s in enumerate(S):
                rows.append({"output": o.name, "goal": o.goal, "strategy": s, "win_share": float(share[j]),
                             "clear_win_share": float(clear[j]), "mean": float(np.nanmean(Ym[j]))})
            rows.append({"output": o.name, "goal": o.goal, "strategy": TIE, "win_share": float(np.mean(~sole)),
                         "clear_win_share": float("nan"), "mean": float("nan")})
            # along each parameter: win share in quintiles of its range
            Xok = self.X[:n][ok]
            w = np.vstack([is_best & sole, ~sole]).astype(float)  # strategies, then ties
            labels = list(S) + [TIE]
            for pi, p in enumerate(sp.parameters):
                # fifths of the sampled values (equal shares of the input distribution)
                x = np.array([p.value(v) for v in Xok[:, pi]], dtype=float)
                edges = np.unique(np.quantile(x, np.linspace(0, 1, 6)))
                if len(edges) < 2:
                    continue
                nb = len(edges) - 1
                b_ = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, nb - 1)
                for bi in range(nb):
                    m = b_ == bi
                    if not m.any():
                        continue
                    for j, s in enumerate(labels):
                        by_param.append({"output": o.name, "parameter": p.name, "bin": bi, "low": edges[bi],
                                         "high": edges[bi + 1], "strategy": s, "win_share": float(w[j, m].mean()),
                                         "samples": int(m.sum())})
        self.wins = pd.DataFrame(rows)
        self.wins_by_parameter = pd.DataFrame(by_param)

    # ------------------------------------------------------------------------------ reporting
    def outputs_table(self) -> pd.DataFrame:
        """Per strategy and sample: the parameter values, and each output's replicate mean and sd."""
        frames = []
        for s in self.spec.strategies:
            df = self.samples.copy()
            df.insert(0, "strategy", s)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                for k, o in enumerate(self.spec.outputs):
                    df[o.name] = np.nanmean(self.Y[s][:, :, k], axis=1)
                    df[f"{o.name}_sd"] = (np.nanstd(self.Y[s][:, :, k], axis=1, ddof=1)
                                          if self.spec.replicates > 1 else np.nan)
            frames.append(df)
        return pd.concat(frames, ignore_index=True)

    def label(self, factor: str) -> str:
        """A parameter's (or group's) name for people: its ``name:`` if the section gives one, else
        the human label of its key path (:func:`simulation.labels.param_label`)."""
        from ..labels import param_label

        for p in self.spec.parameters:
            if p.name == factor:
                return param_label(p.path) if p.name == p.path else p.name
        return factor

    def report(self) -> str:
        """A short plain-text account: warnings first (noise, intervals, convergence), then what
        mattered, convergence and strategies, in words rather than identifiers."""
        sp = self.spec
        lines = [f"{sp.method} analysis: {len(sp.parameters)} parameters, N = {sp.samples}, {sp.replicates} "
                 f"replicates, {len(sp.strategies)} strateg{'y' if len(sp.strategies) == 1 else 'ies'}, "
                 f"{self.n_runs:,} runs, seed {sp.seed}"]
        # read the warnings before the indices: an index blurred by noise is listed below it
        lines += [f"warning: {w}" for w in self.warnings]
        idx = MAIN_INDEX[sp.method]
        name = {"ST": "total-order index ST", "mu_star": "mean absolute effect mu*"}[idx]
        lines.append(f"most influential parameters ({name} ± its {sp.conf_level:.0%} interval):")
        df = self.indices
        for s in sp.strategies:
            for o in sp.outputs:
                d = df[(df["strategy"] == s) & (df["output"] == o.name)].dropna(subset=[idx])
                if d.empty:
                    continue
                d = d.sort_values(idx, ascending=False)
                conf = "ST_conf" if idx == "ST" else "mu_star_conf"
                top = ", ".join(f"{self.label(r['parameter'])} {r[idx]:.2g}±{r[conf]:.1g}"
                                + (f" ({r['note']})" if r.get("note") else "") for _, r in d.head(3).iterrows())
                nz = self.noise[(self.noise["strategy"] == s) & (self.noise["output"] == o.name)]
                ns = f"; noise {nz['noise_share'].iloc[0]:.0%} of variance" if len(nz) and nz["noise_share"].iloc[0] == nz["noise_share"].iloc[0] else ""
                lines.append(f"  {strategy_label(s)} / {output_label(o.name)}: {top}{ns}")
        c = self.converged
        if c is not None:
            worst = float(self.convergence["difference"].max())
            lines.append(f"convergence (N/2 vs N): {'converged' if c else 'NOT converged'}; largest change {worst:.3g} "
                         f"(tolerance {sp.warn_convergence})")
        if self.wins is not None and not self.wins.empty:
            for o in sp.outputs:
                w = self.wins[self.wins["output"] == o.name]
                if w.empty:
                    continue
                parts = ", ".join(f"{strategy_label(r.strategy) if r.strategy != TIE else 'tie'} {r.win_share:.0%}"
                                  for r in w.itertuples() if r.strategy != TIE or r.win_share > 0)
                goal = "highest" if o.goal == "max" else "lowest"
                lines.append(f"  {goal} {output_label(o.name)}, share of parameter space: {parts}")
        return "\n".join(lines)

    def plot(self, kind: str | None = None, output: str | None = None) -> dict[str, Any]:
        """Figures as ``{name: matplotlib Figure}``.

        Args:
            kind: ``"indices"`` (S1/ST bars with intervals, or Morris mu*-sigma), ``"heatmap"``
                (strategy x parameter), ``"wins"`` (share of parameter space each strategy wins) or
                ``None`` for all.
            output: only this output (default: all).
        """
        from . import plots

        if self._indices is None:
            raise RuntimeError("nothing to plot yet: call .run() first")
        outs = [output] if output else [o.name for o in self.spec.outputs]
        figs: dict[str, Any] = {}
        if kind in (None, "indices"):
            for o in outs:
                name = ("morris_" if self.spec.method == "morris" else f"{self.spec.method}_") + o.replace("@", "_at_")
                figs[name] = plots.indices_figure(self, o)
        if kind in (None, "heatmap"):
            figs["heatmap"] = plots.heatmap_figure(self, outs)
        if kind in (None, "wins") and self.wins is not None and not self.wins.empty:
            figs["wins"] = plots.wins_figure(self)
            for o in outs:
                figs[f"wins_by_parameter_{o.replace('@', '_at_')}"] = plots.wins_by_parameter_figure(self, o)
        return figs

    def manifest(self) -> dict[str, Any]:
        from importlib.metadata import version

        from .. import __version__
        from ..runner import git_commit

        m: dict[str, Any] = {"sensitivity": self.spec.to_dict(), "replicate_seeds": list(self.seeds),
                             "runs": self.n_runs, "samples": len(self.X), "converged": self.converged,
                             "warnings": list(self.warnings), "salib_version": version("SALib"),
                             "version": __version__, "git_commit": git_commit()}
        if self.scenario is not None:
            m.update({"scenario_file": self.scenario.source, "scenario_hash": self.scenario.digest(),
                      "scenario": self.scenario.to_dict()})
        return m

    def save(self, out: str | Path, plots: bool = True) -> Path:
        """Write the tables (CSV), figures (PNG), report and manifest into ``out``.

        ``out`` must be new, empty or an earlier sensitivity output (see :mod:`simulation.safe_io`).
        Each file is written to a hidden temporary file, listed in the folder's ownership record and
        renamed into ``out`` (see :class:`simulation.safe_io.OwnedWriter`), the manifest last, so no
        file is ever half-written; the runner's result store (``out/runs``) is left alone.
        """
        from ..safe_io import OwnedWriter, check_out, mark

        out = Path(out)
        check_out(out, "sensitivity", resume=True)
        with OwnedWriter(out, "sensitivity") as w:
            for name, df in (("indices.csv", self.indices), ("second_order.csv", self.second_order),
                             ("noise.csv", self.noise), ("convergence.csv", self.convergence),
                             ("wins.csv", self.wins), ("wins_by_parameter.csv", self.wins_by_parameter if
                                                       self.wins is not None else None),
                             ("samples.csv", self.outputs_table())):
                if df is not None:
                    with w.path(name) as tmp:
                        df.to_csv(tmp, index=False)
            w.write_bytes("report.txt", (self.report() + "\n").encode())
            if plots:
                import matplotlib.pyplot as plt

                from ..plots import SAVE_DPI

                for name, fig in self.plot().items():
                    with w.path(f"{name}.png") as tmp:
                        fig.savefig(tmp, dpi=SAVE_DPI, bbox_inches="tight", format="png")
                    plt.close(fig)
            man = mark(self.manifest(), "sensitivity")
            w.write_bytes("manifest.json", json.dumps(man, indent=2, default=_json_default).encode())
        return out


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return None if np.isnan(o) else float(o)
    return str(o)
