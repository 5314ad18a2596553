"""Benchmark configuration of ``spreadsim explore`` for ``spreadsim bench`` (registered on import).

- ``explore``: the demo with its strategies and uncertainties
  (scenarios/strategies/demo_strategies.yaml: 5 strategies, the baseline included), 200 futures x
  10 replicates = 10,000 runs with ``processes`` into a results folder, pool start-up, writing and
  ``experiments.parquet`` included (target: under 3 minutes). Memory: the driver's peak and each
  worker's peak are reported; the driver keeps one row of outcomes per run (never the per-month
  series, which stream to disk), the workers one task at a time.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from ..bench import register

STRATEGIES = Path(__file__).resolve().parents[2] / "scenarios" / "strategies" / "demo_strategies.yaml"


@register("explore", "explore: demo, 200 futures x 5 strategies x 10 replicates (10,000 runs), processes "
                     "(target < 180 s)")
def bench_explore(samples: int = 200, replicates: int = 10) -> dict:
    from ..experiments import core
    from ..experiments.bench import _vm_hwm_mib
    from ..scenario import load_scenario
    from .exploration import explore

    sc = load_scenario(STRATEGIES)
    workers = core.default_workers()
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        t0, c0 = time.perf_counter(), time.process_time()
        frame = explore(sc, samples, replicates, out=Path(tmp) / "out", executor="processes", progress=False)
        wall, driver_cpu = time.perf_counter() - t0, time.process_time() - c0
        n = len(frame)
        pool = core._POOL[1] if core._POOL else None
        procs = list((getattr(pool, "_processes", None) or {}).values())
        worker_peak = max((_vm_hwm_mib(p.pid) for p in procs), default=float("nan"))
        worker_cpu = sum(_cpu_s(p.pid) for p in procs)
    core.shutdown_pool()
    # on a shared machine the wall time depends on the others' load: the CPU time of the driver and
    # of the workers (pool start-up included) says what the work itself cost
    return {"sites": sc.sites.n, "months": sc.months, "wall_s": wall, "runs": n, "workers": workers,
            "runs_per_s": n / wall, "worker_peak_mib": worker_peak, "cpu_s": driver_cpu + worker_cpu,
            "cpu_ms_per_run": 1000 * (driver_cpu + worker_cpu) / n,
            "load_before": load0, "load_after": os.getloadavg()[0], "target": "< 180 s for 10,000 runs",
            "ok": wall < 180}


def _cpu_s(pid: int) -> float:
    """User and system CPU seconds of a live process (from /proc; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


@register("explore_vs_compare", "cost per run of explore over compare's on the demo's 5 strategies, 1,000 runs "
                                "each, serial, CPU time in one process (target <= 1.1)")
def bench_explore_vs_compare(samples: int = 20, replicates: int = 10) -> dict:
    """``explore`` against ``compare`` at the same number of runs and strategies (issue 20).

    scenarios/strategies/demo_strategies.yaml: ``explore`` of ``samples`` futures x 5 strategies x
    ``replicates``, against ``compare`` of the same 5 strategies with ``samples x replicates``
    replicates each; the serial executor in this process, outputs in memory, imports warmed first,
    each the least CPU time of this process over two repeats (the machine may be shared). The
    futures of an exploration run in batches across samples (:mod:`simulation.blocks`), its
    discrete uncertainty ``strategy.support.funding_months`` included (each block ends its funding
    in its own month).
    """
    import warnings

    from ..experiments import compare
    from ..scenario import load_scenario
    from ..sensitivity.bench import cpu_seconds
    from .exploration import explore

    sc = load_scenario(STRATEGIES)
    names = list(sc.strategies)

    def run_compare(reps=samples * replicates):
        res = compare(sc, names, replicates=reps, executor="serial", progress=False)
        assert len(res.runs) == (len(names) + 1) * reps

    def run_explore(n=samples, reps=replicates):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a strategy that sets an uncertainty's key: said once, at load
            frame = explore(sc, n, reps, executor="serial", progress=False)
        assert len(frame) == (len(names) + 1) * n * reps

    run_compare(2)
    run_explore(2, 1)
    c = cpu_seconds(run_compare)
    e = cpu_seconds(run_explore)
    runs = (len(names) + 1) * samples * replicates
    return {"sites": sc.sites.n, "months": sc.months, "runs": runs, "compare_cpu_s": c, "explore_cpu_s": e,
            "compare_ms_per_run": 1000 * c / runs, "explore_ms_per_run": 1000 * e / runs, "ratio_explore": e / c,
            "target": "explore cost per run <= 1.1 x compare's", "ok": e / c <= 1.1}
