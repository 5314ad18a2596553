"""Benchmark configuration of ``spreadsim explore`` for ``spreadsim bench`` (registered on import).

- ``explore``: the demo with its strategies and uncertainties
  (scenarios/strategies/demo_strategies.yaml: 5 strategies, the baseline included), 200 futures x
  10 replicates = 10,000 runs with ``processes`` into a results folder, pool start-up, writing and
  ``experiments.parquet`` included (target: under 3 minutes). Memory: the driver's peak and each
  worker's peak are reported; the driver keeps one row of outcomes per run (never the per-month
  series, which stream to disk), the workers one task at a time.
"""

from __future__ import annotations

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
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        frame = explore(sc, samples, replicates, out=Path(tmp) / "out", executor="processes", progress=False)
        wall = time.perf_counter() - t0
        n = len(frame)
        pool = core._POOL[1] if core._POOL else None
        worker_peak = max((_vm_hwm_mib(p.pid) for p in (getattr(pool, "_processes", None) or {}).values()),
                          default=float("nan"))
    core.shutdown_pool()
    return {"sites": sc.sites.n, "months": sc.months, "wall_s": wall, "runs": n, "workers": workers,
            "runs_per_s": n / wall, "worker_peak_mib": worker_peak, "target": "< 180 s for 10,000 runs",
            "ok": wall < 180}
