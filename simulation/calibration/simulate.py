"""Running the model for calibration and forecasts: parameter draws in, curves out.

* :class:`Simulator` turns a parameter vector and a seed into the monthly target curves; it is
  what pyabc calls (one simulation per proposed particle) and what the optimiser replicates.
* Each simulation's seed is derived from the calibration seed and the drawn parameter values, so
  an accepted particle's simulation can be replayed exactly later: a forecast continues the very
  trajectories that ABC accepted ("from the fitted state").
* :func:`switch_strategy` changes a running model's scenario part-way (from the end of the
  observed data), so a strategy changes what happens next and leaves the observed past alone.
* :func:`parallel_map` runs jobs serially, in a local process pool or on a Dask cluster.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

from .. import limits
from ..blocks import BATCH_SITES
from ..errors import InputError, Problem
from ..model import SpreadModel
from ..network import Built, build
from ..rng import Streams
from ..scenario import Scenario
from .data import model_series
from .spec import Prior

#: prefixes of scenario paths a strategy may not change part-way: they define the world, not a strategy
WORLD_PREFIXES = ("sites", "network", "months", "seed", "pipeline", "name", "description", "calibration",
                  "strategies", "sensitivity")

#: Mesa's own generators (unused by the model's rules) are left alone when streams are renewed
MESA_RNG = frozenset({"rng", "_rng", "random", "_seed"})

def particle_seed(base_seed: int, values: Iterable[float]) -> int:
    """A run seed derived from the calibration seed and the parameter values (replayable)."""
    words = [int(base_seed)] + [int(np.float64(v).view(np.uint64)) for v in values]
    return int(np.random.SeedSequence(words).generate_state(1, np.uint32)[0])


def shares_network(scenario: Scenario, paths: Iterable[str]) -> bool:
    """Whether runs can share one prebuilt network: a network read from a file that no parameter changes."""
    return scenario.network.type == "file" and not any(p.startswith(("network.", "sites.file", "sites.n")) for p in paths)


class Simulator:
    """Parameter values and a seed in, target curves out.

    Args:
        scenario: the scenario with everything known filled in.
        priors: the unknown parameters.
        targets: series compared with the data.
        months: simulate months 0..``months``.
        built: a network shared by all runs (only for file networks, see :func:`shares_network`).
        base_seed: the calibration seed particle seeds are derived from.
    """

    def __init__(self, scenario: Scenario, priors: tuple[Prior, ...], targets: list[str], months: int,
                 built: Built | None = None, base_seed: int = 0):
        self.scenario = scenario
        self.priors = tuple(priors)
        self.targets = list(targets)
        self.months = int(months)
        self.built = built
        self.base_seed = int(base_seed)

    @property
    def paths(self) -> list[str]:
        return [p.path for p in self.priors]

    def overrides(self, values: dict[str, float] | np.ndarray | list) -> dict[str, Any]:
        """Dotted-path overrides for drawn values (given by path or in prior order)."""
        if isinstance(values, dict):
            return {p.path: p.value(values[p.path]) for p in self.priors}
        return {p.path: p.value(v) for p, v in zip(self.priors, values)}

    def scenario_for(self, values, months: int | None = None, extra: dict | None = None) -> Scenario:
        ov = self.overrides(values)
        ov["months"] = self.months if months is None else int(months)
        if extra:
            ov.update(extra)
        return self.scenario.with_overrides(ov, label="calibration", warn=False)

    def model(self, values, seed: int, months: int | None = None, extra: dict | None = None) -> SpreadModel:
        """A built (not yet run) model for drawn values."""
        limits.tune_malloc()  # in a Dask worker: see limits.tune_malloc
        return SpreadModel(self.scenario_for(values, months, extra), seed, agents=False, built=self.built)

    def curve(self, values, seed: int) -> np.ndarray:
        """The target curves (months+1, targets) of one run; NaN if the values make an invalid scenario."""
        try:
            m = self.model(values, seed).run_model()
        except InputError:
            return np.full((self.months + 1, len(self.targets)), np.nan)
        return model_series(m, self.targets)

    def curves(self, values, seeds: list[int]) -> np.ndarray:
        """Curves of several seeds at once (a batch model; each block is exactly its seed's run)."""
        try:
            m = SpreadModel(self.scenario_for(values), list(seeds), agents=False, built=self.built).run_model()
        except InputError:
            return np.full((len(seeds), self.months + 1, len(self.targets)), np.nan)
        return np.stack([model_series(m, self.targets, block=b) for b in range(len(seeds))])

    def curves_many(self, values: list, seeds: list[int]) -> np.ndarray:
        """Curves of several value sets, each with the same seeds: (value sets, seeds, months, targets).

        Value sets that differ only in per-block parameters (:mod:`simulation.blocks`) run side by
        side in one batch model, each block exactly its (values, seed) run alone, as
        :meth:`curves` gives it; NaN for a value set that makes an invalid scenario.
        """
        from .. import blocks

        seeds = [int(s) for s in seeds]
        out = np.full((len(values), len(seeds), self.months + 1, len(self.targets)), np.nan)
        groups: dict[str, list[tuple[int, Scenario]]] = {}
        for i, v in enumerate(values):
            ov = self.overrides(v)
            try:
                sc = self.scenario_for(v)
            except InputError:
                continue
            groups.setdefault(blocks.batch_key(ov), []).append((i, sc))
        sites = len(self.built.ids) if self.built is not None else self.scenario.sites.n
        per = max(1, BATCH_SITES // max(1, sites * len(seeds)))  # value sets per model
        for members in groups.values():
            for k in range(0, len(members), per):
                part = members[k:k + per]
                scs = [sc for _, sc in part for _ in seeds]
                try:
                    m = SpreadModel(scs[0], seeds * len(part), agents=False, built=self.built,
                                    scenarios=scs).run_model()
                except InputError:  # found once the sites are known: each value set on its own
                    for i, _ in part:
                        out[i] = self.curves(values[i], seeds)
                    continue
                for j, (i, _) in enumerate(part):
                    out[i] = np.stack([model_series(m, self.targets, block=j * len(seeds) + b) for b in range(len(seeds))])
        return out

    def __call__(self, par: dict) -> dict:
        """pyabc's model interface: parameters by safe name (``p0``, ``p1``...) -> summary statistics."""
        values = [float(par[f"p{i}"]) for i in range(len(self.priors))]
        seed = particle_seed(self.base_seed, values)
        return {"curve": self.curve(values, seed), "seed": seed}


# ---------------------------------------------------------------------------- part-way switch
def check_strategy(name: str, overrides: dict[str, Any], source: str) -> None:
    """Refuse strategy keys that define the world (sites, network, horizon) rather than a strategy."""
    probs = []
    for path in overrides:
        if any(path == p or path.startswith(p + ".") for p in WORLD_PREFIXES):
            probs.append(Problem(source, f"strategies.{name}.{path}",
                                 "cannot change part-way through a run: it defines the sites, network or horizon, "
                                 "not a strategy (change it in the scenario and calibrate again)"))
    if probs:
        raise InputError(probs)


def _is_rng(v: Any) -> bool:
    if isinstance(v, (Streams, np.random.Generator)):
        return True
    if isinstance(v, (list, tuple)) and v:
        return all(_is_rng(x) for x in v)
    if isinstance(v, dict) and v:
        return all(_is_rng(x) for x in v.values())
    return False


def switch_strategy(model: SpreadModel, scenario: Scenario, built: Built | None, future_seed: int | None) -> None:
    """Continue a running model under another scenario (a strategy starting now).

    :meth:`SpreadModel.switch` keeps the run's state and history and derives again what the model
    takes from its scenario (the support order, waves, fatigue targets, stage minimums, the
    sustainment plan); every later month reads the new scenario. With ``future_seed`` the random
    streams are renewed (taken from a model built with that seed), so runs that share a past get
    independent futures. ``tests/test_calibration.py`` checks that switching to the same scenario
    changes nothing and that switching equals a change that only matters later.

    Args:
        model: a model part-way through its run (a single run, not a batch).
        scenario: the scenario from now on (same sites, network and horizon).
        built: the network the model was built with (None: rebuilt from the seed, as the model did).
        future_seed: seed of the random streams from now on (None keeps the current streams).
    """
    model.switch(scenario)
    if future_seed is not None:
        donor = SpreadModel(scenario, int(future_seed), agents=False, built=built)
        for k, v in vars(donor).items():
            if k not in MESA_RNG and _is_rng(v):
                setattr(model, k, v)


def run_switched(sim: Simulator, values, replay_seed: int, future_seed: int | None, switch_at: int, horizon: int,
                 strategy: dict | None = None) -> SpreadModel:
    """Replay a run to ``switch_at``, then continue to ``horizon`` under ``strategy`` with new randomness."""
    base = sim.scenario_for(values, months=horizon)
    m = SpreadModel(base, replay_seed, agents=False, built=sim.built)
    while m.month < switch_at:
        m.step()
    new = sim.scenario_for(values, months=horizon, extra=strategy) if strategy else base
    switch_strategy(m, new, sim.built, future_seed)
    m.run_model()
    return m


# ----------------------------------------------------------------------------------- executors
EXECUTORS = ("serial", "processes", "dask")
_WORKER: dict[str, Any] = {}


def _init_worker(payload: Any) -> None:
    _WORKER["payload"] = payload


def _call_worker(job: tuple[Callable, Any]) -> Any:
    fn, arg = job
    return fn(_WORKER["payload"], arg)


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


class JobPool:
    """Runs ``fn(payload, item)`` over items, in order: serially, in a local process pool or on Dask.

    The payload (a simulator, say) goes to each worker once; items go one by one. Results never
    depend on the executor: every item carries its own seed. Use as a context manager so a
    process pool or a private Dask cluster lives across several ``map`` calls (optimiser batches).

    Args:
        payload: the object every job needs (picklable).
        executor: ``serial``, ``processes`` (a local pool) or ``dask`` (``client``, or a new local cluster).
        workers: processes (default: the cores this process may use).
        client: an existing ``dask.distributed.Client``.
    """

    def __init__(self, payload: Any, executor: str = "serial", workers: int | None = None, client=None):
        if executor not in EXECUTORS:
            raise InputError(Problem("--executor", "", f"unknown executor '{executor}'; use {', '.join(EXECUTORS)}"))
        self.payload = payload
        self.executor = executor
        self.workers = workers or default_workers()
        self.client = client
        self._pool = None
        self._own = None
        self._remote = None

    def __enter__(self) -> JobPool:
        if self.executor == "processes":
            ctx = multiprocessing.get_context("forkserver")
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx, initializer=_init_worker,
                                             initargs=(self.payload,))
        elif self.executor == "dask":
            if self.client is None:
                from dask.distributed import Client, LocalCluster

                cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
                self.client = Client(cluster)
                self._own = cluster
            self._remote = self.client.scatter(self.payload, broadcast=True)
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
        if self._own is not None:
            self.client.close()
            self._own.close()
            self.client = self._own = None

    def map(self, fn: Callable[[Any, Any], Any], items: list, progress=None) -> list:
        """``[fn(payload, item) for item in items]`` (``progress``: a tqdm bar advanced per item)."""
        n = len(items)
        if self.executor == "serial" or n == 0:
            out = []
            for it in items:
                out.append(fn(self.payload, it))
                if progress is not None:
                    progress.update(1)
            return out
        if self.executor == "processes":
            if self._pool is None:
                raise RuntimeError("use JobPool as a context manager")
            chunk = max(1, n // (self.workers * 8))
            out = []
            for r in self._pool.map(_call_worker, [(fn, it) for it in items], chunksize=chunk):
                out.append(r)
                if progress is not None:
                    progress.update(1)
            return out
        from dask.distributed import as_completed

        futures = self.client.map(fn, [self._remote] * n, items, pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        out = [None] * n
        for fut in as_completed(futures):
            out[index[fut.key]] = fut.result()
            if progress is not None:
                progress.update(1)
        return out


def parallel_map(fn: Callable[[Any, Any], Any], payload: Any, items: list, executor: str = "serial",
                 workers: int | None = None, client=None, progress=None) -> list:
    """One-off :meth:`JobPool.map`."""
    with JobPool(payload, executor, workers, client) as pool:
        return pool.map(fn, items, progress)


def build_shared(scenario: Scenario, paths: Iterable[str]) -> Built | None:
    """The network all runs share when it comes from a file no parameter changes (else None)."""
    if shares_network(scenario, paths):
        return build(scenario, Streams(scenario.seed)["network"])
    return None


# ------------------------------------------------------------------------------------ job functions
def curve_job(sim: Simulator, item: tuple) -> np.ndarray:
    """One run's target curves: ``item = (values, seed)``."""
    values, seed = item
    return sim.curve(values, seed)


def trials_job(sim: Simulator, item: tuple) -> np.ndarray:
    """Target curves of several value sets, each with the same seeds, batched across value sets:
    (value sets, seeds, months, targets) (see :meth:`Simulator.curves_many`)."""
    values, seeds = item
    return sim.curves_many(list(values), list(seeds))


def run_job(sim: Simulator, item: tuple) -> dict:
    """One (possibly switched) run to a horizon, its curves and per-run summary.

    ``item = (values, run_seed, future_seed, switch_at, horizon, strategy, series)``: the run is built
    with ``run_seed``; at month ``switch_at`` it switches to ``strategy`` (overrides, or None) and, if
    ``future_seed`` is given, to fresh random streams. ``switch_at >= horizon`` runs straight through.
    """
    from ..runner import summarise

    values, run_seed, future_seed, switch_at, horizon, strategy, series = item
    if switch_at >= horizon:
        m = sim.model(values, run_seed, months=horizon, extra=strategy).run_model()
    else:
        m = run_switched(sim, values, run_seed, future_seed, switch_at, horizon, strategy)
    return {"curve": model_series(m, list(series)), "summary": summarise(m)}
