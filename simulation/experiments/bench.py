"""Benchmark configurations of experiments for ``spreadsim bench`` (registered on import).

- ``exp_throughput``: 2,000 demo runs with ``processes`` into a results folder, pool start-up,
  writing and reading back included (target >= 100 runs per second on 2 cores);
- ``exp_memory``: ``spreadsim ensemble`` of the demo (runs, tables, per-month ensemble, figures)
  for 1,000 and for 20,000 runs, each in a fresh process (target: the peak memory of the command
  and of each worker for 20,000 within 10% of those for 1,000);
- ``exp_dask``: 2,000 demo runs on a Dask LocalCluster (2 workers, 1 thread each, processes)
  against ``processes`` with 2 workers, start-up included, results compared bit for bit
  (target: Dask within 1.5x).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..bench import register

DEMO = Path(__file__).resolve().parents[2] / "scenarios" / "demo.yaml"


def _demo():
    from ..scenario import load_scenario

    return load_scenario(DEMO)


def _warm_pool(workers: int) -> float:
    """Start the process pool and wait until every worker has imported the model; seconds taken."""
    from .core import _pool

    t0 = time.perf_counter()
    pool = _pool(workers)
    futs = [pool.submit(time.sleep, 0.2) for _ in range(workers)]
    for f in futs:
        f.result()
    return time.perf_counter() - t0


@register("exp_throughput", "experiments: 2,000 demo runs, processes, into a results folder (target >= 100 runs/s)")
def bench_throughput() -> dict:
    from .core import default_workers, run_many, shutdown_pool

    sc = _demo()
    n = 2000
    workers = default_workers()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        start = _warm_pool(workers)
        res = run_many(sc, n, executor="processes", out=Path(tmp) / "out", progress=False)
        wall = time.perf_counter() - t0
        assert len(res.runs) == n
    shutdown_pool()
    rate = n / wall
    return {"sites": sc.sites.n, "months": sc.months, "wall_s": wall, "runs": n, "workers": workers,
            "runs_per_s": rate, "pool_start_s": start, "runs_per_s_after_start": n / (wall - start),
            "target": ">= 100 runs/s (start-up included)", "ok": rate >= 100}


def _vm_hwm_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def memory_child(n: int, out: str) -> None:
    """One memory measurement: ``spreadsim ensemble`` of the demo for ``n`` runs, in this (fresh) process."""
    import argparse

    from . import core
    from .cli import register

    parser = argparse.ArgumentParser(prog="spreadsim")
    register(parser.add_subparsers())  # the ensemble command itself, without importing simulation.cli
    t0 = time.perf_counter()
    args = parser.parse_args(["ensemble", str(DEMO), "--replicates", str(n), "--out", out, "-q"])
    code = args.func(args)
    wall = time.perf_counter() - t0
    assert code == 0
    pool = core._POOL[1] if core._POOL else None  # the workers are kept warm: read their peaks now
    workers = [_vm_hwm_mib(p.pid) for p in (getattr(pool, "_processes", None) or {}).values()]
    core.shutdown_pool()
    print("MEMORY " + json.dumps({"runs": n, "driver_peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                                  "worker_peak_mib": max(workers, default=float("nan")), "wall_s": wall}))


def _measure(n: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        code = f"from simulation.experiments.bench import memory_child; memory_child({n}, {str(Path(tmp) / 'out')!r})"
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("MEMORY ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"memory measurement for {n} runs failed: {proc.stderr.strip()[-2000:]}")
    return json.loads(lines[-1][len("MEMORY "):])


@register("exp_memory", "experiments: peak memory of `ensemble` for 20,000 vs 1,000 demo runs (target within 10%)")
def bench_memory() -> dict:
    small = _measure(1_000)
    large = _measure(20_000)
    ratio = large["driver_peak_mib"] / small["driver_peak_mib"]
    wratio = large["worker_peak_mib"] / small["worker_peak_mib"]
    sc = _demo()
    return {"sites": sc.sites.n, "months": sc.months, "wall_s": small["wall_s"] + large["wall_s"],
            "driver_peak_1k_mib": small["driver_peak_mib"], "driver_peak_20k_mib": large["driver_peak_mib"],
            "worker_peak_1k_mib": small["worker_peak_mib"], "worker_peak_20k_mib": large["worker_peak_mib"],
            "ratio": ratio, "worker_ratio": wratio, "runs_per_s_20k": 20_000 / large["wall_s"],
            "target": "peak(20,000) <= 1.1 x peak(1,000), driver and workers",
            "ok": ratio <= 1.10 and wratio <= 1.10}


@register("exp_dask", "experiments: 2,000 demo runs on a Dask LocalCluster vs processes (target within 1.5x)")
def bench_dask() -> dict:
    import logging

    from distributed import Client, LocalCluster
    from pandas.testing import assert_frame_equal

    from .core import run_many, shutdown_pool

    sc = _demo()
    n = 2000
    t0 = time.perf_counter()
    _warm_pool(2)
    ref = run_many(sc, n, executor="processes", workers=2, progress=False)
    t_proc = time.perf_counter() - t0
    shutdown_pool()
    t0 = time.perf_counter()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        t_start = time.perf_counter() - t0
        res = run_many(sc, n, client=client, progress=False)
        t_dask = time.perf_counter() - t0
    identical = True
    try:
        assert_frame_equal(ref.runs, res.runs, check_exact=True)
    except AssertionError:
        identical = False
    ratio = t_dask / t_proc
    return {"sites": sc.sites.n, "months": sc.months, "wall_s": t_dask, "runs": n, "processes_s": t_proc,
            "dask_s": t_dask, "dask_cluster_start_s": t_start, "ratio": ratio, "identical": identical,
            "target": "dask <= 1.5 x processes, same results", "ok": ratio <= 1.5 and identical}


def _model_compute(sc, seeds: list[int]) -> tuple[float, float, float]:
    """Wall and CPU seconds of the model's own work on these runs in this process, one run at a
    time (setup, steps and summaries: :func:`core.simulate` of each seed alone), and the wall
    seconds of the same runs as one batch."""
    from .core import simulate

    simulate(sc, seeds[:1])  # warm: imports and first-call caches are not the model's work
    w0, c0 = time.perf_counter(), time.process_time()
    for s in seeds:
        simulate(sc, [s])
    w1, c1 = time.perf_counter(), time.process_time()
    simulate(sc, seeds)
    return w1 - w0, c1 - c0, time.perf_counter() - w1


@register("ensemble_10", "`spreadsim ensemble` of 10 demo runs (a fresh process, imports and pool included) vs "
                         "the model's compute of the same runs in-process (target within 2x)")
def bench_ensemble_10() -> dict:
    """The command as a user types it (default executor, figure and report written, ``-q``), its
    wall time against the wall time of the same ten runs computed one by one in this process;
    each measured twice, interleaved, the faster kept (the machine may be busy)."""
    from .core import replicate_seed

    sc = _demo()
    n = 10
    seeds = [replicate_seed(sc.seed, r) for r in range(n)]
    walls, cpus, computes, compute_cpus, batches = [], [], [], [], []
    for k in range(2):
        w, c, b = _model_compute(sc, seeds)
        computes.append(w)
        compute_cpus.append(c)
        batches.append(b)
        with tempfile.TemporaryDirectory() as tmp:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "simulation.cli", "ensemble", str(DEMO), "--replicates", str(n),
                                   "--out", str(Path(tmp) / "out"), "-q"], capture_output=True, text=True)
            walls.append(time.perf_counter() - t0)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if proc.returncode != 0 or not (Path(tmp) / "out" / "adoption.png").is_file():
                raise RuntimeError(f"spreadsim ensemble failed: {proc.stderr.strip()[-2000:]}")
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    wall, compute = min(walls), min(computes)
    ratio = wall / compute
    return {"sites": sc.sites.n, "months": sc.months, "wall_s": wall, "runs": n, "compute_s": compute,
            "compute_cpu_s": min(compute_cpus), "command_cpu_s": min(cpus), "batch_compute_s": min(batches),
            "ratio": ratio, "target": "command wall <= 2 x the runs' compute", "ok": ratio <= 2}
