"""``spreadsim bench``: wall time, throughput and peak memory on standard configurations.

Each configuration runs in a fresh Python process, so its peak memory (``ru_maxrss``) is its own.
Configurations register themselves with :func:`register`; features add theirs in their own modules,
listed in ``CONFIG_MODULES``.
"""

from __future__ import annotations

import importlib
import json
import resource
import subprocess
import sys
import time
from typing import Callable

CONFIGS: dict[str, tuple[Callable[[], dict], str]] = {}
#: modules whose import registers more configurations (experiments, sensitivity, calibration, ...)
CONFIG_MODULES: list[str] = ["simulation.bench", "simulation.experiments.bench", "simulation.sensitivity.bench", "simulation.app.bench",
                             "simulation.calibration.bench", "simulation.decision.bench"]


def register(name: str, description: str):
    """Decorator: register ``fn() -> dict`` as a benchmark configuration.

    The returned dict holds metrics such as ``setup_s``, ``step_s``, ``wall_s``, ``site_steps_per_s``
    and, optionally, ``target`` (a text saying what the issue asks for) and ``ok`` (whether it is met).
    """

    def deco(fn):
        CONFIGS[name] = (fn, description)
        return fn

    return deco


def _load_all() -> None:
    for mod in CONFIG_MODULES:
        importlib.import_module(mod)


def _model_run(overrides: dict, months: int = 120) -> dict:
    """Build and run a model in-process, timing setup (network, traits, agents) and stepping apart."""
    from .model import SpreadModel
    from .scenario import default_scenario

    sc = default_scenario(**overrides, months=months)
    t0 = time.perf_counter()
    model = SpreadModel(sc, seed=1, agents=True)
    t1 = time.perf_counter()
    model.run_model()
    t2 = time.perf_counter()
    steps = model.N * model.replicates * months  # the user's sites (a counterfactual arm is extra work)
    return {"sites": model.N, "months": months, "setup_s": t1 - t0, "step_s": t2 - t1, "wall_s": t2 - t0,
            "site_steps_per_s": steps / (t2 - t1), "counterfactual": model.counterfactual}


#: the engine benchmarks: every logic and the main strategies on, no counterfactual arm (which runs
#: the same sites a second time without the programme: about twice the work, see sw_100k_cf)
ALL_LOGICS = {"network.type": "small_world", "network.k": 6, "network.p": 0.1,
              "strategy.train_the_trainer.enabled": True, "strategy.assurance.interval": 6,
              "strategy.seeding.n": 10, "outcomes.counterfactual": False}


def _all_logics(n: int, **extra) -> dict:
    return _model_run({**ALL_LOGICS, "sites.n": n, "strategy.support.capacity": max(20, n // 10), **extra})


@register("demo", "scenarios/demo.yaml end to end in-process (target < 0.3 s)")
def bench_demo() -> dict:
    from pathlib import Path

    from .runner import run
    from .scenario import load_scenario

    path = Path(__file__).resolve().parent.parent / "scenarios" / "demo.yaml"
    run(load_scenario(path), seed=0)  # warm imports
    t0 = time.perf_counter()
    r = run(load_scenario(path), seed=1)
    wall = time.perf_counter() - t0
    return {"sites": r.model.N, "months": r.scenario.months, "setup_s": r.elapsed["setup"], "step_s": r.elapsed["step"],
            "wall_s": wall, "site_steps_per_s": r.model.N * r.scenario.months / r.elapsed["step"],
            "target": "wall < 0.3 s", "ok": wall < 0.3}


@register("sw_1k", "1,000 sites, small world, all logics, 120 months")
def bench_1k() -> dict:
    return _all_logics(1_000)


@register("sw_10k", "10,000 sites, small world, all logics, 120 months")
def bench_10k() -> dict:
    return _all_logics(10_000)


@register("sw_100k", "100,000 sites, small world, all logics, 120 months (target >= 8e6 site-steps/s, setup < 2 s)")
def bench_100k() -> dict:
    r = _all_logics(100_000)
    r["target"] = "step >= 8e6 site-steps/s, setup < 2 s"
    r["ok"] = r["site_steps_per_s"] >= 8e6 and r["setup_s"] < 2
    return r


@register("sw_100k_cf", "sw_100k with the counterfactual arm (attributable benefit): sites' steps per second")
def bench_100k_cf() -> dict:
    return _all_logics(100_000, **{"outcomes.counterfactual": True})


@register("sw_1m", "1,000,000 sites, small world, all logics, 120 months (target < 60 s, < 4 GiB)")
def bench_1m() -> dict:
    r = _all_logics(1_000_000)
    r["target"] = "wall < 60 s, peak < 4 GiB"
    r["ok"] = r["wall_s"] < 60  # memory is checked by the parent
    r["peak_limit_mib"] = 4096
    return r


@register("threshold_100k", "linear threshold special case, 100,000 sites, 50 months (target step < 0.25 s, setup < 1 s)")
def bench_threshold() -> dict:
    ov = {"pipeline": "instant", "sites.n": 100_000, "network.type": "random", "network.degree": 6,
          "sites.traits.threshold": {"dist": "uniform", "low": 0.1, "high": 0.3},
          "logics.mechanical.enabled": False, "logics.ecological.enabled": False,
          "logics.social.rule": "threshold", "logics.social.legitimacy": 1.0, "logics.social.bandwagon": 0.0,
          "logics.social.progress": 0.0, "logics.social.abandon": 0.0, "workforce.turnover": False,
          "stages.abandon": 0.0, "stages.progress": 0.0, "delivery.drift": 0.0, "strategy.seeding.n": 100,
          "outcomes.counterfactual": False}
    r = _model_run(ov, months=50)
    r["target"] = "step < 0.25 s, setup < 1 s"
    r["ok"] = r["step_s"] < 0.25 and r["setup_s"] < 1
    return r


def _setup_against_steps(sc, label: str) -> dict:
    """Setup and steps of one run of ``sc`` (Mesa agents on: made only when asked for), in CPU time
    (the ratio holds on a busy machine)."""
    from .model import SpreadModel

    w0, c0 = time.perf_counter(), time.process_time()
    model = SpreadModel(sc, seed=1, agents=True)
    w1, c1 = time.perf_counter(), time.process_time()
    model.run_model()
    w2, c2 = time.perf_counter(), time.process_time()
    months = model.month
    ratio = (c1 - c0) / ((c2 - c1) / months)
    return {"sites": model.N, "months": months, "setup_s": w1 - w0, "step_s": w2 - w1, "wall_s": w2 - w0,
            "site_steps_per_s": model.N * months / (w2 - w1), "setup_cpu_s": c1 - c0,
            "month_cpu_s": (c2 - c1) / months, "setup_in_months": ratio, "counterfactual": model.counterfactual,
            "target": f"{label}setup <= 50 months of steps (CPU)", "ok": ratio <= 50}


def _demo_path():
    from pathlib import Path

    return Path(__file__).resolve().parent.parent / "scenarios" / "demo.yaml"


@register("setup_100k", "demo scenario at 100,000 sites: setup (network, traits, programme; the Mesa agents are "
                        "made only when asked for) against one month of steps (target: setup <= 50 months)")
def bench_setup() -> dict:
    """The scenario as a user runs it: ``scenarios/demo.yaml`` with ``sites.n: 100000``."""
    from .model import SpreadModel
    from .scenario import load_scenario

    SpreadModel(load_scenario(_demo_path()), seed=0).run_model()  # warm imports and first-call caches
    return _setup_against_steps(load_scenario(_demo_path()).with_overrides({"sites": {"n": 100_000}},
                                                                          "bench setup_100k"), "")


@register("setup_100k_file", "setup_100k with its network read from an edge-list CSV (300,000 ties, text ids): "
                             "reading and mapping the file included (target: setup <= 50 months)")
def bench_setup_file() -> dict:
    """The same sites and ties as ``setup_100k`` (its small world, drawn once), written as a CSV
    edge list with ids ``school-<k>`` and read by the run (``network.type: file``)."""
    import tempfile
    from pathlib import Path

    import numpy as np
    import yaml

    from .model import SpreadModel
    from .network import small_world
    from .scenario import load_scenario

    SpreadModel(load_scenario(_demo_path()), seed=0).run_model()
    raw = yaml.safe_load(_demo_path().read_text())
    W = small_world(100_000, raw["network"]["k"], raw["network"]["p"], np.random.default_rng(1))
    i, j = W.nonzero()
    keep = i < j
    with tempfile.TemporaryDirectory() as tmp:
        ids = np.char.add("school-", np.arange(100_000).astype(str))
        lines = np.char.add(np.char.add(ids[i[keep]], ","), ids[j[keep]])
        (Path(tmp) / "edges.csv").write_text("source,target\n" + "\n".join(lines.tolist()) + "\n")
        raw["network"] = {"type": "file", "file": "edges.csv"}
        raw["sites"].pop("n", None)
        (Path(tmp) / "s.yaml").write_text(yaml.safe_dump(raw))
        out = _setup_against_steps(load_scenario(Path(tmp) / "s.yaml"), "file read included: ")
    out["ties"] = int(keep.sum())
    return out


def _child(name: str) -> None:
    # run as ``python -m simulation.bench``: use the importable module's registry, not __main__'s
    bench = importlib.import_module("simulation.bench")
    bench._load_all()
    fn, _ = bench.CONFIGS[name]
    out = fn()
    out["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if "peak_limit_mib" in out:
        out["ok"] = bool(out.get("ok", True) and out["peak_mib"] < out["peak_limit_mib"])
    print("BENCH-RESULT " + json.dumps(out))


def _fmt(v) -> str:
    if isinstance(v, bool):
        return "yes" if v else "NO"
    if isinstance(v, float):
        return f"{v:,.3g}" if abs(v) < 1000 else f"{v:,.0f}"
    return str(v)


def main(args) -> int:
    _load_all()
    if args.list:
        for name, (_, desc) in CONFIGS.items():
            print(f"{name:<22} {desc}")
        return 0
    names = [s.strip() for s in args.only.split(",")] if args.only else list(CONFIGS)
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        from .errors import fail

        raise fail("--only", ",".join(unknown), f"unknown configuration; choose from {', '.join(CONFIGS)}")
    cols = ["sites", "months", "setup_s", "step_s", "wall_s", "site_steps_per_s", "peak_mib", "ok"]
    print(f"{'configuration':<22}" + "".join(f"{c:>18}" for c in cols) + "  target")
    failed = False
    for name in names:
        best = None
        for _ in range(max(1, args.repeat)):
            proc = subprocess.run([sys.executable, "-m", "simulation.bench", name], capture_output=True, text=True)
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH-RESULT ")]
            if proc.returncode != 0 or not lines:
                print(f"{name:<22} failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}")
                failed = True
                break
            res = json.loads(lines[-1][len("BENCH-RESULT "):])
            if best is None or res.get("wall_s", 0) < best.get("wall_s", 0):
                best = res
        if best is None:
            continue
        print(f"{name:<22}" + "".join(f"{_fmt(best.get(c, '')):>18}" for c in cols) + f"  {best.get('target', '')}")
        extra = {k: v for k, v in best.items() if k not in cols and k not in ("target", "peak_limit_mib")}
        if extra:
            print(" " * 22 + "  " + ", ".join(f"{k}={_fmt(v)}" for k, v in extra.items()))
        sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    _child(sys.argv[1])
