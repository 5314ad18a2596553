"""Running many runs: replicates, strategies, executors, and results that survive interruption.

The unit of work is a :class:`RunSpec` (a strategy label, a replicate number, a seed and the
dotted-path overrides that make the strategy). :func:`execute` runs a list of them with one of three
executors, ``serial``, ``processes`` (a local pool over all cores) or ``dask`` (any
``dask.distributed`` cluster), in tasks of many runs each, streams each finished task to Parquet
chunks in the output folder, skips the runs already stored there, and returns an
:class:`~simulation.experiments.result.ExperimentResult`. :func:`run_many` (replicates of one
scenario) and :func:`compare` (strategies on common random numbers) are built on it.

Reproducibility: a run is decided by its scenario and seed alone (named random streams,
:mod:`simulation.rng`), the seed of replicate *r* is derived from the base seed and *r* only
(:func:`replicate_seed`), and results are sorted by (strategy order, replicate, seed), so the
results are the same, bit for bit, whatever the executor, the number of workers, the task size, and
however often the experiment was interrupted and resumed.

Common random numbers: every strategy's replicate *r* runs with the same seed. Since each process
of the model draws from its own named stream, replicate *r* of two strategies sees the same
network, traits and random draws wherever the strategies do not change them, so strategy
differences can be estimated from paired runs, with far less noise than from independent runs
(Law, *Simulation Modeling and Analysis*, on common random numbers as a variance-reduction technique).
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import math
import multiprocessing as mp
import os
import pickle
import shutil
import signal
import tempfile
import time
import warnings
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from .. import limits
from .. import blocks
from ..blocks import BATCH_SITES
from ..errors import ExecutionError, InputError, InputWarning, Problem
from ..model import SERIES, STAGES, SpreadEngine
from ..network import Built, build
from ..rng import Streams
from ..runner import SUMMARY_KEYS, summarise
from ..scenario import Scenario, load_scenario

EXECUTORS = ("serial", "processes", "dask")
#: series that ``runner.timeseries_frame`` stores as whole numbers
INT_SERIES = ("adopted", "supported", "trainers")
#: largest number of runs in one task when the task size is chosen automatically
MAX_CHUNK = 50


# ----------------------------------------------------------------------------------- run specs
@dataclass(frozen=True, slots=True)
class RunSpec:
    """One run of an experiment.

    Attributes:
        strategy: a label, e.g. ``"baseline"``, ``"train_the_trainer"`` or ``"sobol/17"``.
        replicate: the replicate number (0, 1, ...); runs of different strategies with the same
            replicate and seed are paired.
        seed: the run's seed (see :func:`replicate_seed`).
        overrides: dotted-path overrides applied to the scenario for this run (``{}`` for none).
    """

    strategy: str
    replicate: int
    seed: int
    overrides: dict = field(default_factory=dict, hash=False)


def replicate_seed(seed: int, replicate: int) -> int:
    """The seed of replicate ``replicate`` of an experiment with base seed ``seed``.

    Derived with :class:`numpy.random.SeedSequence` from the base seed and the replicate number
    only (not the strategy), so that every strategy's replicate *r* runs on the same seed (common
    random numbers), and different base seeds give unrelated replicate seeds. The result is a
    non-negative 63-bit integer; ``spreadsim run --seed <it>`` repeats that one run.
    """
    if int(seed) < 0 or int(replicate) < 0:
        raise ValueError(f"seed and replicate must be non-negative, got {seed}, {replicate}")
    ss = np.random.SeedSequence(entropy=int(seed), spawn_key=(int(replicate),))
    return int(ss.generate_state(1, np.uint64)[0] >> np.uint64(1))


def canonical(value: Any) -> Any:
    """Overrides as plain Python values (numpy scalars and arrays become floats, ints and lists)."""
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if isinstance(value, np.ndarray):
        return canonical(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value


def overrides_json(overrides: dict) -> str:
    """The canonical JSON text of a set of overrides (sorted keys, shortest round-trip floats)."""
    return json.dumps(canonical(overrides), sort_keys=True, separators=(",", ":"), default=repr)


def overrides_hash(overrides: dict) -> str:
    """A short hash of a set of overrides (part of a run's identity)."""
    return hashlib.sha256(overrides_json(overrides).encode()).hexdigest()[:16]


def run_id(scenario_hash: str, spec: RunSpec, ov_hash: str | None = None) -> str:
    """A run's identity: hash of (scenario hash, strategy, replicate, seed, overrides hash)."""
    ov_hash = overrides_hash(spec.overrides) if ov_hash is None else ov_hash
    key = f"{scenario_hash}|{spec.strategy}|{int(spec.replicate)}|{int(spec.seed)}|{ov_hash}"
    return hashlib.sha256(key.encode()).hexdigest()[:24]


# --------------------------------------------------------------------------- the worker's side
class RunInputError(Exception):
    """A run found a problem with its inputs (carried back from a worker process, then re-raised
    as :class:`InputError`; ``InputError`` itself does not survive pickling)."""

    def __init__(self, strategy: str, replicate: int, problems: list[tuple[str, str, str]]):
        super().__init__(strategy, replicate, problems)
        self.strategy, self.replicate, self.problems = strategy, replicate, problems

    def to_input_error(self) -> InputError:
        return InputError([Problem(s, f, f"{m} (strategy {self.strategy!r}, replicate {self.replicate})")
                           for s, f, m in self.problems])


_NETWORKS: OrderedDict[str, Built] = OrderedDict()
#: network types built without random numbers: every replicate has the same network
SEED_FREE_NETWORKS = ("file", "complete", "none")


def network_key(sc: Scenario) -> str:
    """What the network of a run depends on besides its seed (``network.build`` reads only these)."""
    return json.dumps({"network": sc.network.model_dump(mode="json"), "n": sc.sites.n,
                       "file": sc.sites.file, "base": str(sc.base_dir)}, sort_keys=True)


def _cached(cache: OrderedDict, key, make, limit: int):
    value = cache.get(key)
    if value is None:
        value = make()
        cache[key] = value
        while len(cache) > limit:
            cache.popitem(last=False)
    else:
        cache.move_to_end(key)
    return value


def shared_network(sc: Scenario) -> Built | None:
    """The network every replicate of this scenario shares, read or made once per worker; None when
    the network is drawn from each run's seed (each replicate of a batch then builds its own)."""
    if sc.network.type not in SEED_FREE_NETWORKS:
        return None
    return _cached(_NETWORKS, network_key(sc), lambda: build(sc, Streams(0)["network"]), 2)


def simulate(sc: Scenario, seeds: list[int], built: Built | None = None,
             scenarios: list[Scenario] | None = None) -> list[tuple[dict, int, np.ndarray, dict]]:
    """Replicates of one scenario, side by side in one batch model without Mesa agents.

    Each replicate is exactly ``runner.run(sc, seed=seed, agents=False)`` (``runner.run_batch`` is
    bit-identical to single runs; a test checks it here too), at a fraction of the cost: a batch
    shares the fixed cost of every numpy call. With ``scenarios`` (one per seed, differing only in
    the parameters of :data:`simulation.blocks.BATCHABLE`), run ``b`` is exactly a run of
    ``scenarios[b]`` with ``seeds[b]`` alone.

    Returns:
        Per seed: (summary with the per-group outcomes as JSON under ``groups``, months + 1, stage
        counts per month, series per month).
    """
    model = SpreadEngine(sc, [int(s) for s in seeds], built=built, scenarios=scenarios)
    model.run_model()
    t = model.month + 1
    out = [({**summarise(model, b), "groups": json.dumps(model.group_outcomes(b), allow_nan=True)}, t,
            model.counts_b[b, :t].copy(), {k: model.series_b[k][b, :t].copy() for k in SERIES})
           for b in range(len(seeds))]
    # A model sits in reference cycles (Mesa's registries), which only the cyclic garbage collector
    # frees, and its full passes are rare: emptying it frees its arrays now (memory stays flat
    # without a collection per batch)
    model.__dict__.clear()
    return out


class Variants:
    """The validated scenario of each distinct set of overrides of an experiment.

    Overrides that differ from a set seen before only in the values of
    :data:`simulation.blocks.BATCHABLE` parameters (a sensitivity analysis's samples, an
    exploration's futures) are applied to that set's scenario field by field, each value validated
    as it is set (:func:`simulation.blocks.assign`), instead of validating the whole scenario again;
    any other set is validated in full (``Scenario.with_overrides``).
    """

    #: most templates kept (one per shape of overrides: an exploration has one per strategy and
    #: value of each uncertainty that is not a batchable parameter)
    TEMPLATES = 256

    def __init__(self, scenario: Scenario, limit: int = 256):
        self.scenario = scenario
        self.limit = limit  # most validated scenarios kept
        self.made: OrderedDict[str, Scenario] = OrderedDict()
        self.templates: OrderedDict[str, tuple[dict, Scenario]] = OrderedDict()

    def get(self, ov: dict, label: str, ovh: str | None = None, *, warn: bool = True) -> Scenario:
        if not ov:
            return self.scenario
        key = ovh or overrides_hash(ov)
        sc = self.made.get(key)
        if sc is not None:
            self.made.move_to_end(key)
            return sc
        shape = blocks.same_but_values(ov)
        tmpl = self.templates.get(shape)
        if tmpl is not None:
            self.templates.move_to_end(shape)
            base_ov, base_sc = tmpl
            sc = blocks.assign(base_sc, {k: v for k, v in ov.items() if blocks.assignable(k, v) and v != base_ov[k]})
        if sc is None:
            sc = self.scenario.with_overrides(ov, label, warn=warn)
            self.templates[shape] = (dict(ov), sc)
            while len(self.templates) > self.TEMPLATES:
                self.templates.popitem(last=False)
        self.made[key] = sc
        while len(self.made) > self.limit:
            self.made.popitem(last=False)
        return sc


_VARIANTS: OrderedDict[tuple, Variants] = OrderedDict()


def _append_rows(runs: dict, ts: dict, group: list[tuple], results: list) -> None:
    for (rid, strategy, replicate, seed, ov, ovh), (summary, t, counts, series) in zip(group, results, strict=True):
        for k, v in (("run_id", rid), ("strategy", strategy), ("replicate", replicate), ("seed", seed),
                     ("overrides_hash", ovh), ("overrides", overrides_json(ov)), ("months", t - 1)):
            runs[k].append(v)
        for k in SUMMARY_KEYS:
            runs[k].append(summary[k])
        runs["groups"].append(summary["groups"])
        ts["run_id"].append(np.full(t, rid, dtype=object))
        ts["strategy"].append(np.full(t, strategy, dtype=object))
        ts["replicate"].append(np.full(t, replicate, dtype=np.int64))
        ts["month"].append(np.arange(t, dtype=np.int64))
        for j, stage in enumerate(STAGES):
            ts[stage].append(counts[:, j].astype(np.int64))
        for k in SERIES:
            ts[k].append(series[k].astype(np.int64) if k in INT_SERIES else series[k].astype(np.float64))


def run_task(scenario: Scenario, items: list[tuple]) -> tuple[pa.Table, pa.Table]:
    """Run one task (many runs) and return its per-run and per-month tables (see :func:`_run_task`).

    Warnings about the input are not repeated here: the driver reported them before the runs.
    """
    limits.tune_malloc()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InputWarning)
        return _run_task(scenario, items)


#: most blocks (runs) of *different* scenarios in one batch model (see :mod:`simulation.blocks`)
BATCH_BLOCKS = 100


def _run_task(scenario: Scenario, items: list[tuple]) -> tuple[pa.Table, pa.Table]:
    """Run one task (many runs) and return its per-run and per-month tables.

    Runs whose overrides differ only in the values of the parameters of
    :data:`simulation.blocks.BATCHABLE` (replicates of one strategy, a sensitivity analysis's
    samples, an exploration's futures) run as batches, one block per run (at most
    :data:`BATCH_SITES` sites, and :data:`BATCH_BLOCKS` runs of different scenarios, in one model);
    each run's outputs are those of the run alone.

    Args:
        scenario: the experiment's scenario.
        items: ``(run_id, strategy, replicate, seed, overrides, overrides_hash)`` per run.

    Raises:
        RunInputError: a run found a problem with its inputs (e.g. more seeds than sites).
    """
    base_key = (scenario.digest(), scenario.source, str(scenario.base_dir))
    variants = _cached(_VARIANTS, base_key, partial(Variants, scenario), 2)
    runs: dict[str, list] = {k: [] for k in ("run_id", "strategy", "replicate", "seed", "overrides_hash",
                                             "overrides", "months", *SUMMARY_KEYS, "groups")}
    ts: dict[str, list] = {k: [] for k in ("run_id", "strategy", "replicate", "month", *STAGES, *SERIES)}
    groups: dict[str, list[tuple]] = {}
    keys: dict[str, str] = {}
    for item in items:
        key = keys.get(item[5])
        if key is None:
            key = keys[item[5]] = blocks.batch_key(item[4])
        groups.setdefault(key, []).append(item)
    for group in groups.values():
        strategy, replicate = group[0][1], group[0][2]
        try:
            scs = []
            for it in group:
                strategy, replicate = it[1], it[2]
                scs.append(variants.get(it[4], f"strategy {strategy!r}", it[5]))
            sc = scs[0]
            built = shared_network(sc)
            size = max(1, BATCH_SITES // max(1, len(built.ids) if built is not None else sc.sites.n))
            if any(s_ is not sc for s_ in scs):
                size = min(size, BATCH_BLOCKS)
            results = []
            for k in range(0, len(group), size):
                strategy, replicate = group[k][1], group[k][2]
                part = scs[k:k + size]
                results.extend(simulate(part[0], [it[3] for it in group[k:k + size]], built,
                                        part if any(s_ is not part[0] for s_ in part) else None))
        except InputError as err:
            raise RunInputError(strategy, replicate,
                                [(p.source, p.field, p.message) for p in err.problems]) from None
        _append_rows(runs, ts, group, results)
    runs_t = pa.table({
        "run_id": pa.array(runs["run_id"], pa.string()),
        "strategy": pa.array(runs["strategy"], pa.string()),
        "replicate": pa.array(runs["replicate"], pa.int64()),
        "seed": pa.array(runs["seed"], pa.int64()),
        "overrides_hash": pa.array(runs["overrides_hash"], pa.string()),
        "overrides": pa.array(runs["overrides"], pa.string()),
        "months": pa.array(runs["months"], pa.int64()),
        **{k: pa.array(np.asarray(runs[k], dtype=np.float64)) for k in SUMMARY_KEYS},
        "groups": pa.array(runs["groups"], pa.string()),  # per-group outcomes of the run, as JSON
    })
    ts_cols = {}
    for k, parts in ts.items():
        arr = np.concatenate(parts)
        ts_cols[k] = pa.array(arr, pa.string()) if k in ("run_id", "strategy") else pa.array(arr)
    return runs_t, pa.table(ts_cols)


#: the folder a pool worker leaves its results in (set in each worker by :func:`_worker_init`)
_RESULTS_DIR: str | None = None


def _worker_init(results_dir: str) -> None:
    global _RESULTS_DIR
    _RESULTS_DIR = results_dir
    # Ctrl-C goes to the whole process group: the driver handles it and stops the pool
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _call_to_file(fn, *args) -> str:
    """In a pool worker: call ``fn(*args)`` (a task: :func:`run_task`), leave its result in a file of
    the pool's results folder, and return only the file's path.

    Why not return the result itself: a pool worker sends its result through one pipe shared with
    the pool's manager thread, and a result larger than the pipe's buffer (a task's tables are
    tens of kilobytes and more) goes in several writes. A worker killed between them (by the
    system's out-of-memory killer, by a user) leaves half a message in the pipe, and in CPython
    3.12 the manager thread then waits for the rest for ever: the pool neither finishes nor
    reports itself broken, and the experiment hangs. A path of a few dozen bytes is written whole or
    not at all, so a killed worker always shows as a broken pool, which :func:`_iter_processes`
    replaces. A worker killed while it writes the file leaves a partial file that nobody reads; the
    folder goes with the pool (:func:`shutdown_pool`).
    """
    res = fn(*args)
    fd, path = tempfile.mkstemp(suffix=".pickle", dir=_RESULTS_DIR)
    with os.fdopen(fd, "wb") as f:
        pickle.dump(res, f, protocol=pickle.HIGHEST_PROTOCOL)
    return path


def _read_result(path: str) -> Any:
    """The result a pool worker left in ``path`` (:func:`_call_to_file`); the file is removed."""
    with open(path, "rb") as f:
        res = pickle.load(f)
    os.unlink(path)
    return res


# ------------------------------------------------------------------------------- the executors
#: the session's process pool: (workers, pool, the folder its workers leave their results in)
_POOL: tuple[int, ProcessPoolExecutor, str] | None = None


def _pool(workers: int) -> ProcessPoolExecutor:
    """A process pool kept for the session (workers stay warm across calls)."""
    global _POOL
    if _POOL is not None and _POOL[0] == workers:
        return _POOL[1]
    shutdown_pool()
    # forkserver: no fork of a threaded parent (Dask, tqdm, notebooks), and workers start fast
    # from a server that has imported the model once
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["simulation.experiments.core"])
    results_dir = tempfile.mkdtemp(prefix="spreadsim-pool-")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init,
                               initargs=(results_dir,))
    _POOL = (workers, pool, results_dir)
    return pool


def shutdown_pool(kill: bool = False) -> None:
    """Stop the session's process pool (``kill``: terminate the workers at once)."""
    global _POOL
    if _POOL is None:
        return
    _, pool, results_dir = _POOL
    _POOL = None
    procs = list((getattr(pool, "_processes", None) or {}).values()) if kill else []
    for proc in procs:
        with contextlib.suppress(OSError, ValueError):  # already gone
            proc.terminate()
    for proc in procs:
        proc.join(timeout=2)
    pool.shutdown(wait=not kill, cancel_futures=True)
    shutil.rmtree(results_dir, ignore_errors=True)  # results of killed workers nobody read


atexit.register(shutdown_pool, True)


def default_workers() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _iter_serial(scenario: Scenario, tasks: _Tasks) -> Iterator[tuple[int, tuple]]:
    for i in range(len(tasks)):
        yield i, run_task(scenario, tasks[i])


def _iter_processes(scenario: Scenario, tasks: _Tasks, workers: int,
                    retries: int = 3) -> Iterator[tuple[int, tuple]]:
    """Tasks on the local pool, at most ``2 * workers`` in flight; a broken pool (a worker killed
    by the system) is replaced and its tasks resubmitted, up to ``retries`` times."""
    todo = list(range(len(tasks)))[::-1]
    window = 2 * workers
    running: dict[Future, int] = {}
    broken = 0
    try:
        while todo or running:
            pool = _pool(workers)
            try:
                while todo and len(running) < window:
                    running[pool.submit(_call_to_file, run_task, scenario, tasks[todo[-1]])] = todo[-1]
                    todo.pop()
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for fut in done:
                    res = _read_result(fut.result())  # fut.result() raises BrokenProcessPool if a worker died
                    yield running.pop(fut), res
            except BrokenProcessPool:
                broken += 1
                if broken > retries:
                    raise
                todo.extend(sorted(running.values(), reverse=True))
                running.clear()
                shutdown_pool(kill=True)
    except Exception:
        for fut in running:
            fut.cancel()
        raise
    except BaseException:  # Ctrl-C, or the caller stopped: stop the workers too
        for fut in running:
            fut.cancel()
        shutdown_pool(kill=True)
        raise


def _iter_dask(scenario: Scenario, tasks: _Tasks, client, workers: int) -> Iterator[tuple[int, tuple]]:
    """Tasks on a Dask cluster, at most ``2 * workers`` in flight. Tasks lost with a worker are
    rerun by the scheduler; only finished tasks come back."""
    from distributed import as_completed

    todo = list(range(len(tasks)))[::-1]
    window = max(2, 2 * workers)
    running: dict[str, tuple[int, Any]] = {}

    def submit(i: int):
        fut = client.submit(run_task, scenario, tasks[i], pure=False)
        running[fut.key] = (i, fut)
        return fut

    try:
        try:
            ac = as_completed([submit(todo.pop()) for _ in range(min(window, len(todo)))], with_results=True)
            for fut, res in ac:
                if fut.cancelled() or isinstance(res, BaseException):  # cancelled: the scheduler went away
                    raise res if isinstance(res, BaseException) else RuntimeError(f"task {fut.key} was cancelled")
                i, _ = running.pop(fut.key)
                del fut
                yield i, res
                if todo:
                    ac.add(submit(todo.pop()))
        except RunInputError:
            raise
        except Exception as err:
            if _scheduler_lost(client, err):
                raise ExecutionError(
                    f"lost the Dask scheduler{_address(client)} part-way ({type(err).__name__}); the runs "
                    "finished so far are stored: run the same command again to continue where it stopped") from None
            raise
    except BaseException:
        with contextlib.suppress(Exception):  # the client may be closing too; the cause is what matters
            client.cancel([f for _, f in running.values()], force=True)
        raise


def _address(client) -> str:
    try:
        return f" at {client.scheduler.address}"
    except Exception:  # the client may be half-closed
        return ""


def _scheduler_lost(client, err: BaseException) -> bool:
    """Whether a failure of a Dask task means the scheduler (not the task) went away."""
    import asyncio
    import concurrent.futures

    try:
        from distributed.comm.core import CommClosedError
    except ImportError:  # pragma: no cover - distributed is a dependency
        CommClosedError = OSError
    if isinstance(err, (asyncio.CancelledError, concurrent.futures.CancelledError, CommClosedError, OSError,
                        TimeoutError)):
        return True
    if "Cancelled" in type(err).__name__:
        return True
    return getattr(client, "status", "running") not in ("running", "newly-created")


#: how long to wait for a Dask scheduler to answer
CONNECT_TIMEOUT = "20s"


class _DaskClient:
    """The Dask client to use: the one given, one connected to ``scheduler``, or a new LocalCluster."""

    def __init__(self, client, scheduler: str | None, workers: int | None):
        self.client, self.own_client, self.cluster = client, False, None
        if client is not None:
            return
        import logging

        from distributed import Client, LocalCluster

        # a lost scheduler is reported once, as an ExecutionError; distributed would also log each
        # reconnection attempt, some with a traceback
        names = ["distributed", "tornado", "tornado.application",
                 *(n for n in logging.root.manager.loggerDict if n.startswith(("distributed.", "tornado.")))]
        self._levels = {n: logging.getLogger(n).level for n in names}
        for n in names:
            logging.getLogger(n).setLevel(logging.CRITICAL)
        if scheduler:
            try:
                self.client = Client(scheduler, timeout=CONNECT_TIMEOUT)
            except (OSError, TimeoutError, ValueError) as err:
                self._restore_logs()
                raise InputError(Problem("--scheduler", str(scheduler), "cannot connect to the Dask scheduler "
                                         f"({type(err).__name__}); is it running, and is the address right?")) from None
        else:
            self.cluster = LocalCluster(n_workers=workers or default_workers(), threads_per_worker=1, processes=True,
                                        dashboard_address=None, silence_logs=logging.ERROR)
            self.client = Client(self.cluster)
        self.own_client = True

    def nthreads(self) -> int:
        return max(1, sum(self.client.nthreads().values()))

    def close(self) -> None:
        if self.own_client:
            with contextlib.suppress(Exception):  # a lost scheduler: closing only times out
                self.client.close(timeout=5)
            if self.cluster is not None:
                self.cluster.close()
            self._restore_logs()

    def _restore_logs(self) -> None:
        import logging

        for n, level in self._levels.items():
            logging.getLogger(n).setLevel(level)


# ------------------------------------------------------------------------------------ execute
def as_scenario(scenario: Scenario | str | Path) -> Scenario:
    """A scenario object, loading it when given a path."""
    if isinstance(scenario, Scenario):
        return scenario
    if isinstance(scenario, (str, Path)):
        return load_scenario(scenario)
    raise TypeError(f"expected a Scenario or a path to a scenario file, got {type(scenario).__name__}")


def _check_specs(specs: Sequence[RunSpec]) -> list[Problem]:
    problems = []
    for i, s in enumerate(specs):
        where = f"specs[{i}]"
        if not isinstance(s, RunSpec):
            problems.append(Problem("<python>", where, f"expected a RunSpec, got {type(s).__name__}"))
            continue
        if not isinstance(s.strategy, str) or not s.strategy:
            problems.append(Problem("<python>", f"{where}.strategy", "must be a non-empty text label"))
        for name in ("replicate", "seed"):
            v = getattr(s, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0 or v >= 2 ** 63:
                problems.append(Problem("<python>", f"{where}.{name}", f"must be a whole number >= 0, got {v!r}"))
        if not isinstance(s.overrides, dict):
            problems.append(Problem("<python>", f"{where}.overrides", "must be a mapping of dotted key paths to values"))
    return problems


class _Tasks:
    """The tasks of an experiment, each made when it is submitted (so memory does not grow with
    the number of runs)."""

    def __init__(self, pending: list[int], size: int, item):
        self.pending, self.size, self.item = pending, size, item

    def __len__(self) -> int:
        return math.ceil(len(self.pending) / self.size)

    def __getitem__(self, k: int) -> list[tuple]:
        if not 0 <= k < len(self):
            raise IndexError(k)
        return [self.item(i) for i in self.pending[k * self.size:(k + 1) * self.size]]


def _auto_chunk(n: int, workers: int) -> int:
    """Runs per task: about four tasks per worker for balance, at most :data:`MAX_CHUNK`."""
    return max(1, min(MAX_CHUNK, math.ceil(n / max(1, 4 * workers))))


#: at most this many distinct scenarios of an experiment are built in full before it starts (the
#: others get the cheap checks of :class:`_Preflight` only)
PROBE_MODELS = 4


class _Preflight:
    """What can go wrong in a run, checked before an experiment starts (and before its folder is
    made): seeding that the network cannot satisfy, in every distinct scenario of the experiment;
    the model itself, built in full for the first :data:`PROBE_MODELS` of them (files, ids,
    groups); and memory, for the largest batch a worker will hold, times the workers at once."""

    def __init__(self, scenario: Scenario, executor: str, workers: int | None, local: bool):
        self.scenario = scenario
        self.built: dict[str, tuple[np.ndarray, int, set | None]] = {}
        self.models = 0
        self.problems: list[Problem] = []
        self.concurrent = 1
        if executor == "processes" or (executor == "dask" and local):
            self.concurrent = int(workers) if workers else default_workers()
        self.worst: tuple[int, tuple] | None = None

    def _network(self, sc: Scenario) -> tuple[np.ndarray | None, int, int, set | None]:
        """(site ids or None for 0..n-1, sites, tie entries, groups or None if drawn)."""
        key = network_key(sc)
        if sc.network.type == "file" or sc.sites.file:
            if key not in self.built:
                b = build(sc, Streams(0)["network"])
                groups = set(b.table["group"]) if b.table is not None and "group" in b.table.columns else None
                self.built[key] = (b.ids, int(b.W.nnz), groups)
            ids, ties, groups = self.built[key]
            return ids, len(ids), ties, groups
        n = sc.sites.n
        from ..scenario import structure_problems

        errors, _ = structure_problems(sc, n)  # before the memory estimate: out-of-range structure is an error
        for p in errors:
            if p not in self.problems:
                self.problems.append(p)
        return None, n, limits.estimated_ties(sc.network, n, sc.sites), None

    def variant(self, sc: Scenario, label: str, replicates: int, changed: bool = True) -> None:
        """Check one distinct scenario of the experiment (``label`` names its first run)."""
        ids, n, ties, groups = self._network(sc)
        seeding = sc.strategy.seeding
        where = f" ({label})" if changed else ""
        k = len(seeding.sites) if seeding.sites else seeding.n
        if k > n:
            self.problems.append(Problem(sc.source, "strategy.seeding.n", f"cannot seed {k} sites: the network has {n}{where}"))
        if seeding.sites:
            known = {str(s) for s in (ids.tolist() if ids is not None else range(n))}
            missing = [str(s) for s in seeding.sites if str(s) not in known]
            if missing:
                self.problems.append(Problem(sc.source, "strategy.seeding.sites",
                                             f"not sites of this network: {', '.join(missing[:5])}{where}"))
        if seeding.rule == "by_group" and groups is None:
            sizes = sc.sites.group_sizes(n)
            labels = {k_ for k_, v in sizes.items() if v > 0}
            if sc.network.type == "regions" and list(sc.sites.groups) == ["all"] and isinstance(sc.network.regions, int):
                labels = {f"region {r + 1}" for r in range(min(sc.network.regions, max(n, 1)))}
            groups = labels
        if seeding.rule == "by_group" and (seeding.group is None or seeding.group not in groups):
            self.problems.append(Problem(sc.source, "strategy.seeding.group",
                                         f"by_group needs a group that exists; groups are: {', '.join(sorted(map(str, groups)))}{where}"))
        # runs of other scenarios may share its batch (simulation.blocks): up to BATCH_BLOCKS runs
        runs = max(replicates, BATCH_BLOCKS) if blocks.ACROSS else replicates
        batch = max(1, min(runs, BATCH_SITES // max(1, n)))
        need = limits.model_bytes(n, ties, sc.months, batch, counterfactual=sc.outcomes.counterfactual)
        if self.worst is None or need > self.worst[0]:
            self.worst = (need, (sc, n, ties, batch))
        if self.models < PROBE_MODELS and n <= BATCH_SITES and not self.problems:
            self.models += 1
            try:
                SpreadEngine(sc, [sc.seed])
            except InputError as err:
                self.problems.extend(Problem(p.source, p.field, p.message + where) for p in err.problems)

    def finish(self) -> None:
        if self.problems:
            # one line per key: the first run that fails, and how many more would (a sensitivity
            # analysis may have thousands of samples failing the same way)
            first: dict[tuple, Problem] = {}
            more: dict[tuple, int] = {}
            for p in self.problems:
                key = (p.source, p.field)
                if key in first:
                    more[key] = more.get(key, 0) + 1
                else:
                    first[key] = p
            raise InputError([Problem(p.source, p.field, p.message + (f"; and {more[k]:,} more distinct scenarios "
                                                                       "of this experiment" if k in more else ""))
                              for k, p in first.items()])
        if self.worst is not None:
            sc, n, ties, batch = self.worst[1]
            limits.check_memory(n, ties, sc.months, batch, counterfactual=sc.outcomes.counterfactual,
                                concurrent=self.concurrent, source=sc.source, field="sites.n")


def execute(scenario: Scenario | str | Path, specs: Sequence[RunSpec], *, executor: str = "processes",
            out: str | Path | None = None, resume: bool = True, progress: bool = True, client=None,
            scheduler: str | None = None, workers: int | None = None, chunk_size: int | None = None,
            meta: dict[str, Any] | None = None, baseline: str | None = None, clear: str | Path | None = None):
    """Run every spec and collect the results, streaming them to ``out`` when given.

    Each run is ``run(scenario.with_overrides(spec.overrides), seed=spec.seed, agents=False,
    built=...)``, the network shared by runs with the same seed whose overrides leave it alone.
    Runs are grouped into tasks of ``chunk_size`` runs; each finished task is one Parquet chunk.

    Args:
        scenario: the scenario (or a path to its file).
        specs: the runs.
        executor: ``"serial"``, ``"processes"`` (a local pool over all cores) or ``"dask"``.
        out: results folder; None keeps the results in memory only.
        resume: reuse the runs already stored in ``out`` (False: discard them and start afresh).
        progress: show a progress bar (tqdm.auto: runs done, rate and time left); or a callable
            ``progress(done, total)`` called after each task instead (the teaching app's progress
            bar; it may raise to stop the runs, and the runs stored so far stay).
        client: a ``dask.distributed.Client`` (implies ``executor="dask"``).
        scheduler: address of a Dask scheduler, e.g. ``"tcp://host:8786"`` (implies ``"dask"``).
        workers: processes for ``processes``, or workers of the LocalCluster started for ``dask``
            when no client or scheduler is given (default: all cores).
        chunk_size: runs per task (default: about four tasks per worker, at most 50 runs).
        meta: extra entries for the manifest (experiment kind, base seed, strategies...).
        baseline: the strategy differences are taken from (default: ``"baseline"`` if present,
            else the first strategy).
        clear: an earlier spreadsim output folder to delete (only its spreadsim files) once every
            check has passed, just before the runs start (``--fresh`` of ``sensitivity`` and
            ``sweep``, whose runs are stored in a folder inside it).

    Returns:
        ExperimentResult with ``.runs``, ``.timeseries``, ``.table()``, ``.plot()``...

    Raises:
        InputError: bad specs or overrides, a run's inputs are invalid, or ``out`` holds
            something else (another scenario's results, files that are not results).
    """
    from .result import ExperimentResult
    from .store import ResultStore

    t_start = time.perf_counter()
    scenario = as_scenario(scenario)
    specs = list(specs)
    problems = _check_specs(specs)
    if executor not in EXECUTORS:
        problems.append(Problem("--executor", str(executor), f"unknown executor; choose from {', '.join(EXECUTORS)}"))
    if (client is not None or scheduler) and executor == "serial":
        problems.append(Problem("--executor", "serial", "a Dask client or scheduler was given: use executor 'dask'"))
    if workers is not None and (isinstance(workers, bool) or int(workers) < 1):
        problems.append(Problem("--workers", str(workers), "must be at least 1"))
    if chunk_size is not None and (isinstance(chunk_size, bool) or int(chunk_size) < 1):
        problems.append(Problem("--chunk-size", str(chunk_size), "must be at least 1"))
    if problems:
        raise InputError(problems)
    if client is not None or scheduler:
        executor = "dask"

    digest = scenario.digest()
    hashes: dict[str, str] = {}  # one hash object per distinct set of overrides (memory)
    ov_hashes = [hashes.setdefault(j, hashlib.sha256(j.encode()).hexdigest()[:16])
                 for j in (overrides_json(s.overrides) for s in specs)]
    del hashes
    limits.check_runs(len(specs), "--replicates" if out is not None else "<python>")
    check = _Preflight(scenario, executor, workers, client is None and not scheduler)
    replicates: dict[str, int] = {}
    for h in ov_hashes:
        replicates[h] = replicates.get(h, 0) + 1
    variants = Variants(scenario, limit=16)
    for h, s in dict(zip(ov_hashes, specs)).items():  # validate each distinct set of overrides once
        label = f"strategy {s.strategy!r}"
        try:
            # strategies' settings with no effect were reported when the scenario was loaded
            variant = variants.get(canonical(s.overrides), label, h, warn=False)
        except InputError as err:
            raise InputError([Problem(label, p.field, p.message) for p in err.problems]) from None
        check.variant(variant, f"{label}, replicate {s.replicate}", replicates[h], bool(s.overrides))
    check.finish()
    ids = [run_id(digest, s, h) for s, h in zip(specs, ov_hashes)]
    if len(set(ids)) < len(ids):
        seen: set[str] = set()
        dup = next(i for i, r in enumerate(ids) if r in seen or seen.add(r))
        raise InputError(Problem("<python>", f"specs[{dup}]", f"the same run is listed twice ({specs[dup].strategy!r}, "
                                 f"replicate {specs[dup].replicate}, seed {specs[dup].seed})"))

    store = None
    done: set[str] = set()
    dask = None
    fresh_folder = False
    if out is not None:
        store = ResultStore(out)
        # a peek (no lock) at what is stored, to know whether a cluster is needed at all
        if resume and (Path(out) / "manifest.json").is_file():
            with contextlib.suppress(Exception):
                done = store.stored_ids() & set(ids)
    try:
        if executor == "dask" and len(done) < len(specs):
            dask = _DaskClient(client, scheduler, workers)  # before the folder is made: an unreachable
            # scheduler leaves nothing behind
        if clear is not None and Path(clear).exists():
            from ..safe_io import remove_output

            remove_output(clear)
        if store is not None:
            fresh_folder = not Path(out).exists() or (Path(out).is_dir() and not any(Path(out).iterdir()))
            session = {"executor": executor, "runs_requested": len(specs)}
            meta = dict(meta or {})
            meta.setdefault("strategies", list(dict.fromkeys(s.strategy for s in specs)))  # their order
            store.open(scenario, resume=resume, meta={**meta, "session": session})
            done = store.stored_ids() & set(ids) if resume else set()
    except BaseException:
        if dask is not None:
            dask.close()
        raise
    pending = [i for i, r in enumerate(ids) if r not in done]
    rank = {s: k for k, s in enumerate(dict.fromkeys(s.strategy for s in specs))}
    # runs that can share a batch model next to each other (simulation.blocks), then strategy-major:
    # a task holds many runs of one batch
    batch_of: dict[str, str] = {}
    for h, s in zip(ov_hashes, specs):
        if h not in batch_of:
            batch_of[h] = blocks.batch_key(canonical(s.overrides))
    batch_rank = {k: j for j, k in enumerate(dict.fromkeys(batch_of[ov_hashes[i]] for i in pending))}
    pending.sort(key=lambda i: (batch_rank[batch_of[ov_hashes[i]]], rank[specs[i].strategy], specs[i].replicate,
                                specs[i].seed, i))
    del batch_of

    memory: list[tuple[pa.Table, pa.Table]] = []
    status = "failed"
    ran = 0
    n_workers = size = None
    try:
        if executor == "dask" and pending:
            n_workers = dask.nthreads()
        elif executor == "processes":
            n_workers = int(workers) if workers else default_workers()
        else:
            n_workers = 1
        size = int(chunk_size) if chunk_size else _auto_chunk(len(pending), n_workers)
        tasks = _Tasks(pending, size, lambda i: (ids[i], specs[i].strategy, int(specs[i].replicate),
                                                 int(specs[i].seed), canonical(specs[i].overrides), ov_hashes[i]))
        if executor == "serial" or not tasks:
            stream = _iter_serial(scenario, tasks)
        elif executor == "processes":
            stream = _iter_processes(scenario, tasks, n_workers)
        else:
            stream = _iter_dask(scenario, tasks, dask.client, n_workers)
        from tqdm.auto import tqdm

        report = progress if callable(progress) else None
        with tqdm(total=len(specs), initial=len(specs) - len(pending), unit="run",
                  disable=report is not None or not progress,
                  desc=scenario.name, dynamic_ncols=True, smoothing=0.05) as bar:
            try:
                for i, (runs_t, ts_t) in stream:
                    if store is not None:
                        store.write_chunk(runs_t, ts_t)
                    else:
                        memory.append((runs_t, ts_t))
                    ran += runs_t.num_rows
                    bar.update(runs_t.num_rows)
                    if report is not None:
                        report(len(specs) - len(pending) + ran, len(specs))
            except RunInputError as err:
                raise err.to_input_error() from None
            finally:
                stream.close()  # stops the workers now if the loop ended early (Ctrl-C, a failed write)
        status = "complete"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    except InputError:
        # a run found a problem the checks before could not see: a folder this command made and
        # that holds no run yet is removed again (nothing half-made is left); otherwise the runs
        # stored so far stay, and the session is recorded as failed
        if store is not None and fresh_folder and not store.committed():
            store.discard()
            store = None
        raise
    finally:
        if dask is not None:
            dask.close()
        if store is not None:
            store.close(status, workers=n_workers, chunk_size=size, runs_run=store.session_rows(), runs_reused=len(done),
                        wall_s=round(time.perf_counter() - t_start, 3))

    info = {"executor": executor, "workers": n_workers, "chunk_size": size, "requested": len(specs),
            "reused": len(done), "ran": ran, "wall_s": time.perf_counter() - t_start}
    return ExperimentResult._build(scenario, specs, ids, store=store, memory=memory, info=info,
                                   baseline=baseline, meta=meta)


# ------------------------------------------------------------------------ run_many and compare
def run_many(scenario: Scenario | str | Path, replicates: int = 100, *, seed: int | None = None,
             label: str = "baseline", **kwargs):
    """Replicates of one scenario: ``replicates`` runs with seeds ``replicate_seed(seed, r)``.

    Args:
        scenario: the scenario (or a path to its file).
        replicates: number of runs.
        seed: the base seed (default: the scenario's ``seed``).
        label: the strategy label of the runs.
        **kwargs: passed to :func:`execute` (``executor``, ``out``, ``resume``, ``progress``,
            ``client``, ``scheduler``, ``workers``, ``chunk_size``).

    Returns:
        ExperimentResult.
    """
    sc = as_scenario(scenario)
    base = _check_counts(sc, replicates, seed)
    none: dict = {}
    specs = [RunSpec(label, r, replicate_seed(base, r), none) for r in range(replicates)]
    meta = {"experiment": "ensemble", "seed": base, "replicates": replicates, "strategies": {label: {}},
            "baseline": label}
    return execute(sc, specs, meta=meta, baseline=label, **kwargs)


def _check_counts(sc: Scenario, replicates, seed) -> int:
    problems = []
    if isinstance(replicates, bool) or not isinstance(replicates, (int, np.integer)) or replicates < 1:
        problems.append(Problem("--replicates", "", f"must be a whole number of at least 1 (got {replicates!r})"))
    elif replicates > limits.MAX_RUNS:
        problems.append(Problem("--replicates", "", f"must be at most {limits.MAX_RUNS:,} (got {replicates:,})"))
    base = sc.seed if seed is None else seed
    if isinstance(base, bool) or not isinstance(base, (int, np.integer)) or not 0 <= base <= limits.MAX_SEED:
        problems.append(Problem("--seed", "", f"must be a whole number from 0 to {limits.MAX_SEED:,} (got {base!r})"))
    if problems:
        raise InputError(problems)
    return int(base)


def resolve_strategies(sc: Scenario, strategies: None | str | Sequence[str] | dict[str, dict]) -> dict[str, dict]:
    """The strategies to compare, in order: all of the scenario's (None), some of them by name, or
    given as ``{name: {dotted.path: value}}``."""
    if strategies is None:
        return dict(sc.strategies)
    if isinstance(strategies, dict):
        bad = [Problem("<python>", f"strategies.{k}", "must be a mapping of dotted key paths to values")
               for k, v in strategies.items() if not isinstance(v, dict)]
        if bad:
            raise InputError(bad)
        return {str(k): dict(v) for k, v in strategies.items()}
    if isinstance(strategies, str):
        strategies = [strategies]
    out: dict[str, dict] = {}
    problems = []
    for name in strategies:
        if name in sc.strategies:
            out[name] = dict(sc.strategies[name])
        elif name == "baseline":
            out[name] = {}
        else:
            import difflib

            close = difflib.get_close_matches(name, list(sc.strategies), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            have = f"; it has {', '.join(sc.strategies)}" if sc.strategies else "; it has no strategies: section"
            problems.append(Problem(sc.source, f"strategies.{name}", f"no such strategy in the scenario{hint}{have}"))
    if problems:
        raise InputError(problems)
    return out


def compare(scenario: Scenario | str | Path, strategies: None | Sequence[str] | dict[str, dict] = None,
            replicates: int = 50, *, seed: int | None = None, baseline: str = "baseline", **kwargs):
    """Compare scale-up strategies on common random numbers.

    Every strategy (and the baseline, the scenario as written unless ``baseline`` names one of the
    strategies) runs replicates ``0..replicates-1`` with the seeds ``replicate_seed(seed, r)``, so
    replicate *r* of every strategy sees the same network, traits and random streams wherever the
    strategy does not change them, and differences from the baseline are paired.

    Args:
        scenario: the scenario (or a path to its file).
        strategies: None (all of the scenario's ``strategies:``), names of some of them, or
            ``{name: {dotted.path: value}}``.
        replicates: replicates per strategy.
        seed: the base seed (default: the scenario's ``seed``).
        baseline: the strategy the others are compared with.
        **kwargs: passed to :func:`execute`.

    Returns:
        ExperimentResult; ``.table()``, ``.differences()``, ``.plot()``, ``.plot_differences()``.
    """
    sc = as_scenario(scenario)
    base = _check_counts(sc, replicates, seed)
    named = resolve_strategies(sc, strategies)
    limits.check_runs((len(named) + (baseline not in named)) * int(replicates), "--replicates")
    if baseline in named:
        named = {baseline: named.pop(baseline), **named}
    else:
        named = {baseline: {}, **named}
    specs = [RunSpec(name, r, replicate_seed(base, r), ov) for name, ov in named.items() for r in range(replicates)]
    meta = {"experiment": "compare", "seed": base, "replicates": replicates, "baseline": baseline,
            "strategies": {k: canonical(v) for k, v in named.items()}}
    return execute(sc, specs, meta=meta, baseline=baseline, **kwargs)
