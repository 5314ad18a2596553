"""Benchmark configurations of the teaching app (``spreadsim bench --only app_1k,app_2k``)."""

from __future__ import annotations

import time

from ..bench import register


def app_stepping(n_sites: int, steps: int) -> dict:
    """Step the app's model and redraw what the page shows (network, curves, numbers) each month.

    Args:
        n_sites: number of sites (the demo scenario with ``n_sites`` overridden).
        steps: months stepped (each followed by both figures and the numbers).

    Returns:
        Metrics: ``setup_s`` (model), ``layout_s`` (layout and figures, once per network),
        ``step_s`` (all steps with redraws), ``steps_per_s``, ``ms_per_step`` and the usual keys.
    """
    from .figures import ChartFigure, NetworkFigure, status_html
    from .wrapper import AppModel, default_scenario_file

    t0 = time.perf_counter()
    model = AppModel(default_scenario_file(), n_sites=n_sites, seed=1)
    t1 = time.perf_counter()
    net, chart = NetworkFigure(model), ChartFigure(model)
    net.png(), chart.png()
    t2 = time.perf_counter()
    for _ in range(steps):
        model.step()
        net.png()
        chart.png()
        status_html(model)
    t3 = time.perf_counter()
    loop = t3 - t2
    return {"sites": model.N, "months": steps, "setup_s": t1 - t0, "layout_s": t2 - t1, "step_s": loop,
            "wall_s": t3 - t0, "site_steps_per_s": model.N * steps / loop, "steps_per_s": steps / loop,
            "ms_per_step": 1000 * loop / steps}


@register("app_1k", "teaching app: 1,000 sites, each month stepped with network and curves redrawn (target >= 5 steps/s)")
def bench_app_1k() -> dict:
    r = app_stepping(1_000, 120)
    r["target"] = "steps/s >= 5 with network and curves redrawn"
    r["ok"] = r["steps_per_s"] >= 5
    return r


@register("app_2k", "teaching app: 2,000 sites, layout once, then stepping with redraws (target layout < 2 s)")
def bench_app_2k() -> dict:
    r = app_stepping(2_000, 60)
    r["target"] = "layout and figures < 2 s"
    r["ok"] = r["layout_s"] < 2
    return r
