"""Benchmark configuration of the sensitivity analysis (registered with ``spreadsim bench``)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from ..bench import register

SCENARIO = Path(__file__).resolve().parent.parent.parent / "scenarios" / "strategies" / "demo_sensitivity.yaml"


@register("sensitivity_sobol", "Sobol on the demo: 8 parameters, N = 256, 4 replicates, second order "
                               "(18,432 runs), processes, tables and figures (target < 5 min)")
def bench_sobol() -> dict:
    import matplotlib

    matplotlib.use("Agg")
    from ..scenario import load_scenario
    from .core import Sensitivity

    sc = load_scenario(SCENARIO)
    section = dict(sc.sensitivity, samples=256, replicates=4, second_order=True, strategies=["baseline"])
    with tempfile.TemporaryDirectory(prefix="spreadsim-bench-sa-") as d:
        t0 = time.perf_counter()
        sa = Sensitivity(sc, spec=section, executor="processes", store=Path(d) / "runs", progress=False)
        t1 = time.perf_counter()
        sa.Y = sa._run_model()
        t2 = time.perf_counter()
        sa.analyse()
        sa.save(Path(d))
        t3 = time.perf_counter()
    wall = t3 - t0
    return {"sites": 300, "months": sc.months, "setup_s": t1 - t0, "step_s": t2 - t1, "wall_s": wall,
            "site_steps_per_s": sa.n_runs * 300 * sc.months / (t2 - t1), "runs": sa.n_runs,
            "runs_per_s": sa.n_runs / (t2 - t1), "analysis_s": t3 - t2, "converged": bool(sa.converged),
            "target": "wall < 300 s", "ok": wall < 300}
