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


#: configurations run only when named with ``--only`` (too slow for every ``spreadsim bench``)
OPTIONAL: set[str] = set()


def register(name: str, description: str, *, optional: bool = False):
    """Decorator: register ``fn() -> dict`` as a benchmark configuration (``optional``: run only when
    named with ``--only``).

    The returned dict holds metrics such as ``setup_s``, ``step_s``, ``wall_s``, ``site_steps_per_s``
    and, optionally, ``target`` (a text saying what the issue asks for) and ``ok`` (whether it is met).
    """

    def deco(fn):
        CONFIGS[name] = (fn, description)
        if optional:
            OPTIONAL.add(name)
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


# ------------------------------------------------------------------ against the limit and the past
#: the threshold special case of the issue 20 comparison (Watts' cascade on a small world)
THRESHOLD_CASE = {"pipeline": "instant", "network.type": "small_world", "network.k": 6, "network.p": 0.1,
                  "sites.traits.threshold": {"dist": "uniform", "low": 0.1, "high": 0.3},
                  "logics.mechanical.enabled": False, "logics.ecological.enabled": False,
                  "logics.social.rule": "threshold", "logics.social.legitimacy": 1.0, "logics.social.bandwagon": 0.0,
                  "logics.social.progress": 0.0, "logics.social.abandon": 0.0, "workforce.turnover": False,
                  "stages.abandon": 0.0, "stages.progress": 0.0, "delivery.drift": 0.0, "strategy.seeding.rule": "random",
                  "strategy.seeding.n": 100, "outcomes.counterfactual": False}


def bare_threshold(W, threshold: np.ndarray, adopted: np.ndarray, months: int) -> np.ndarray:
    """The linear-threshold cascade as a bare numpy/scipy.sparse kernel: one CSR mat-vec a month,
    a site adopting once the weighted share of its adopted neighbours reaches its threshold."""
    import numpy as np

    degree = np.asarray(W.sum(axis=1)).ravel()
    has = degree > 0
    inv = np.divide(1.0, degree, out=np.zeros(len(degree)), where=has)
    x = adopted.astype(np.float64)
    for _ in range(months):
        share = (W @ x) * inv
        x = np.maximum(x, (share >= threshold) & has)
    return x > 0


@register("threshold_vs_bare_100k", "threshold special case, 100,000 sites, 50 months, against a bare scipy.sparse "
          "kernel in the same run (CPU time; targets: steps within 3x, end to end within 5x)")
def bench_threshold_vs_bare(n: int = 100_000, months: int = 50, repeats: int = 3) -> dict:
    import numpy as np

    from .model import SpreadModel
    from .network import small_world
    from .processes.stages import FULL
    from .scenario import default_scenario

    sc = default_scenario(**THRESHOLD_CASE, **{"sites.n": n}, months=months)
    clock = time.process_time
    t = clock()  # once per process: numba imported and the compiled kernels loaded (reported apart)
    SpreadModel(default_scenario(**THRESHOLD_CASE, **{"sites.n": n}, months=1), seed=2, agents=False).run_model()
    warm = clock() - t
    best = {}

    def keep(key, value):
        best[key] = min(best.get(key, float("inf")), value)

    for _ in range(repeats):
        t0 = clock()
        m = SpreadModel(sc, seed=1, agents=False)
        seeds = (m.stage == FULL).copy()  # the seeded sites, as the model drew them
        t1 = clock()
        m.run_model()
        t2 = clock()
        keep("setup_s", t1 - t0)
        keep("step_s", t2 - t1)
        # the bare kernel on the model's own network, thresholds and seeds: the same work and result
        t3 = clock()
        final = bare_threshold(m.W, m.threshold, seeds, months)
        t4 = clock()
        keep("bare_step_s", t4 - t3)
        same = bool(np.array_equal(final, m.stage == FULL))
        # end to end for the bare kernel: the same vectorised small world, thresholds and seeds drawn
        rng = np.random.default_rng(1)
        t5 = clock()
        W = small_world(n, 6, 0.1, rng)
        thr = rng.uniform(0.1, 0.3, n)
        start = np.zeros(n, bool)
        start[rng.choice(n, 100, replace=False)] = True
        bare_threshold(W, thr, start, months)
        t6 = clock()
        keep("bare_wall_s", t6 - t5)
    steps, e2e = best["step_s"] / best["bare_step_s"], (best["setup_s"] + best["step_s"]) / best["bare_wall_s"]
    return {"sites": n, "months": months, "setup_s": best["setup_s"], "step_s": best["step_s"],
            "wall_s": best["setup_s"] + best["step_s"], "site_steps_per_s": n * months / best["step_s"],
            "bare_step_s": best["bare_step_s"], "bare_wall_s": best["bare_wall_s"], "steps_ratio": steps,
            "end_to_end_ratio": e2e, "warm_up_s": warm, "kernels": m._kern, "same_adopted_set": same, "adopted": int((m.stage == FULL).sum()),
            "target": "steps <= 3x bare, end to end <= 5x bare", "ok": same and steps <= 3 and e2e <= 5}


#: the commit at which issue 20 measured the full model (before the compiled kernels)
BASELINE = "2c25cf2"

_TIMED_DEMO = """
import json, sys, time
from pathlib import Path
from simulation.model import SpreadModel
from simulation.scenario import load_scenario
root, n = Path(sys.argv[1]), int(sys.argv[2])
sc = load_scenario(root / "scenarios" / "demo.yaml").with_overrides(
    {"sites.n": n, "outcomes.counterfactual": True}, "bench", warn=False)
# once per process: imports, and the compiled kernels loaded (or compiled) where the code has them
w = time.process_time()
SpreadModel(sc.with_overrides({"sites.n": 60000, "months": 2}, "bench", warn=False), seed=2, agents=False).run_model()
warm = time.process_time() - w
t0 = time.process_time()
m = SpreadModel(sc, seed=1, agents=False)
t1 = time.process_time()
m.run_model()
t2 = time.process_time()
print("TIMED " + json.dumps({"setup_s": t1 - t0, "step_s": t2 - t1, "warm_up_s": warm, "site_months": m.n * sc.months,
                             "months": sc.months, "adopted_share": float(m.adopted_share_b[0])}))
"""


def _timed_demo(root, n: int) -> dict:
    """scenarios/demo.yaml of the code at ``root`` with ``n`` sites and its counterfactual arm, in a
    fresh process: CPU seconds of setup and of the months."""
    import os

    env = {**os.environ, "PYTHONPATH": str(root)}
    proc = subprocess.run([sys.executable, "-c", _TIMED_DEMO, str(root), str(n)], capture_output=True, text=True,
                          env=env, cwd=str(root))
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("TIMED ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"the demo at {root} failed: {proc.stderr.strip()[-500:]}")
    return json.loads(lines[-1][len("TIMED "):])


def demo_vs_baseline(n: int, repeats: int) -> dict:
    """The full model (demo, counterfactual arm on, ``n`` sites) now and at :data:`BASELINE`, side by
    side: each run in its own process, alternately, best CPU time of ``repeats`` after a two-month
    warm-up run in the same process (imports; the compiled kernels loaded: ``warm_up_s``). The baseline's
    code is taken from this repository's git history (``git archive``) into a temporary folder."""
    import io
    import tarfile
    import tempfile
    from pathlib import Path

    here = Path(__file__).resolve().parent.parent
    try:
        tar = subprocess.run(["git", "-C", str(here), "archive", "--format=tar", BASELINE, "simulation", "scenarios"],
                             capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise RuntimeError(f"needs a git checkout of spreadsim holding commit {BASELINE}: {e}") from None
    with tempfile.TemporaryDirectory(prefix="spreadsim-baseline-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
            tf.extractall(tmp, filter="data")
        now, then = [], []
        for _ in range(repeats):
            now.append(_timed_demo(here, n))
            then.append(_timed_demo(Path(tmp), n))
    a, b = min(now, key=lambda r: r["step_s"]), min(then, key=lambda r: r["step_s"])
    ns, ns_then = 1e9 * a["step_s"] / a["site_months"], 1e9 * b["step_s"] / b["site_months"]
    return {"sites": n, "months": a["months"], "setup_s": a["setup_s"], "step_s": a["step_s"],
            "wall_s": a["setup_s"] + a["step_s"], "site_steps_per_s": a["site_months"] / a["step_s"],
            "ns_per_site_month": ns, "warm_up_s": a["warm_up_s"], f"{BASELINE}_warm_up_s": b["warm_up_s"],
            f"{BASELINE}_step_s": b["step_s"], f"{BASELINE}_setup_s": b["setup_s"],
            f"{BASELINE}_ns_per_site_month": ns_then, "speedup": ns_then / ns,
            # the runs are child processes: peak_mib is this driver's, this the largest run's
            "runs_peak_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


@register("demo_100k_vs_2c25cf2", "full model (demo, counterfactual arm on), 100,000 sites, 120 months, steps now "
          "and at commit 2c25cf2 side by side (CPU time; target: at least 3x faster)")
def bench_demo_vs_baseline_100k() -> dict:
    r = demo_vs_baseline(100_000, repeats=2)
    r["target"] = "steps >= 3x faster than 2c25cf2"
    r["ok"] = r["speedup"] >= 3
    return r


@register("demo_1m_vs_2c25cf2", "demo_100k_vs_2c25cf2 at 1,000,000 sites (one run each, several minutes; only "
          "with --only; targets: 3x faster, cost per site-month within 1.3x of 100k's)", optional=True)
def bench_demo_vs_baseline_1m() -> dict:
    r = demo_vs_baseline(1_000_000, repeats=1)
    small = demo_vs_baseline(100_000, repeats=1)
    r["per_site_month_vs_100k"] = r["ns_per_site_month"] / small["ns_per_site_month"]
    r["target"] = "steps >= 3x faster than 2c25cf2; ns per site-month <= 1.3x 100k's"
    r["ok"] = r["speedup"] >= 3 and r["per_site_month_vs_100k"] <= 1.3
    return r


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
            print(f"{name:<22} {desc}" + (" [optional: run with --only]" if name in OPTIONAL else ""))
        return 0
    names = [s.strip() for s in args.only.split(",")] if args.only else [c for c in CONFIGS if c not in OPTIONAL]
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
