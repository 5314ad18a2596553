"""Benchmark configuration of calibration (``spreadsim bench --only calibrate_demo``).

ABC-SMC of three parameters of the demo scenario (programme push, training progress, peer
imitation) to 24 months of counts (sites exploring, installing and adopted), with the default
budget (200 particles, at most 8 generations, stop below 5% acceptance) and pyabc's multicore
sampler over all cores. The observed counts are ``data/demo_rollout/observed_24m.csv``: one run of
the demo at its own values (push 0.3, train 0.25, q 0.15), seed 2024. The same calibration from
the command line::

    spreadsim calibrate scenarios/demo.yaml --data data/demo_rollout/observed_24m.csv \\
        --param logics.mechanical.push=0.05:0.6 --param logics.mechanical.train=0.05:0.5 \\
        --param logics.social.q=0:0.5 --seed 1 --out results/demo_abc
"""

from __future__ import annotations

import time
from pathlib import Path

from ..bench import register

ROOT = Path(__file__).resolve().parent.parent.parent
DEMO_PRIORS = {"logics.mechanical.push": {"low": 0.05, "high": 0.6},
               "logics.mechanical.train": {"low": 0.05, "high": 0.5},
               "logics.social.q": {"low": 0.0, "high": 0.5}}
DEMO_TRUTH = {"logics.mechanical.push": 0.3, "logics.mechanical.train": 0.25, "logics.social.q": 0.15}


@register("calibrate_demo", "ABC-SMC, 3 parameters of the demo to 24 months of counts, all cores (target < 5 min)")
def bench_calibrate_demo() -> dict:
    from ..scenario import load_scenario
    from .entry import calibrate

    sc = load_scenario(ROOT / "scenarios" / "demo.yaml")
    t0 = time.perf_counter()
    cal = calibrate(sc, ROOT / "data" / "demo_rollout" / "observed_24m.csv", params=DEMO_PRIORS,
                    executor="processes", seed=1, progress=False)
    wall = time.perf_counter() - t0
    iv = cal.intervals().set_index("parameter")
    covered = sum(iv.loc[p, "low"] <= v <= iv.loc[p, "high"] for p, v in DEMO_TRUTH.items())
    return {"sites": cal.n_sites, "months": cal.fit_months, "wall_s": wall, "simulations": cal.n_simulations,
            "generations": len(cal.populations), "sims_per_s": cal.n_simulations / wall,
            "final_epsilon": float(cal.populations["epsilon"].iloc[-1]), "truth_in_90ci": f"{covered}/3",
            "target": "wall < 300 s", "ok": wall < 300}
