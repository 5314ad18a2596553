"""``spreadsim sensitivity`` and ``spreadsim sweep``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import InputError, Problem

EXECUTOR_HELP = "serial, processes (all cores, default) or dask"


def _csv(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [s.strip() for s in text.split(",") if s.strip()]


def _load(args):
    from ..cli import _overrides
    from ..scenario import load_scenario

    return load_scenario(args.scenario, overrides=_overrides(args))


def _run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--executor", default="processes", help=EXECUTOR_HELP)
    p.add_argument("--workers", type=int, help="processes (or Dask workers of a local cluster); default: all cores")
    p.add_argument("--scheduler", help="address of a Dask scheduler, e.g. tcp://host:8786 (implies --executor dask)")
    p.add_argument("--chunk-size", type=int, help="runs per task (default: automatic)")
    p.add_argument("--no-resume", action="store_true", help="discard runs stored in OUT/runs and start afresh")
    p.add_argument("--no-plot", action="store_true", help="skip the figures")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or report")


def cmd_sensitivity(args) -> int:
    from .core import Sensitivity

    sc = _load(args)
    if args.out is None:
        raise InputError(Problem("--out", "", "give an output folder, such as --out results/sensitivity"))
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError(Problem("--out", str(out), "exists and is not a folder"))
    sa = Sensitivity(sc, method=args.method, samples=args.samples, replicates=args.replicates, seed=args.seed,
                     strategies=_csv(args.strategies), outputs=_csv(args.outputs), executor=args.executor,
                     workers=args.workers, scheduler=args.scheduler, chunk_size=args.chunk_size,
                     store=out / "runs", resume=not args.no_resume, progress=not args.quiet)
    sp = sa.spec
    if not args.quiet:
        print(f"{sc.name}: {sp.method}, {len(sp.parameters)} parameters, N = {sp.samples}, {sp.replicates} replicates, "
              f"{len(sp.strategies)} strateg{'y' if len(sp.strategies) == 1 else 'ies'}: {sa.n_runs:,} runs "
              f"(seed {sp.seed})", file=sys.stderr)
    sa.run()
    sa.save(out, plots=not args.no_plot)
    if not args.quiet:
        print(sa.report())
        print(f"wrote {out}/: indices.csv, noise.csv, convergence.csv, samples.csv, report.txt, manifest.json"
              + (", wins.csv" if sa.wins is not None else "") + ("" if args.no_plot else ", figures (*.png)"))
    return 0


def cmd_sweep(args) -> int:
    from .sweep import sweep

    sc = _load(args)
    if args.out is None:
        raise InputError(Problem("--out", "", "give an output folder, such as --out results/sweep"))
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError(Problem("--out", str(out), "exists and is not a folder"))
    res = sweep(sc, args.param or [], replicates=args.replicates, seed=args.seed, strategies=_csv(args.strategies),
                outputs=_csv(args.outputs), executor=args.executor, workers=args.workers, scheduler=args.scheduler,
                chunk_size=args.chunk_size, store=out / "runs", resume=not args.no_resume, progress=not args.quiet)
    res.save(out, plots=not args.no_plot)
    if not args.quiet:
        t = res.table
        for (path, s, o), g in t.groupby(["parameter", "strategy", "output"], sort=False):
            lo, hi = g.iloc[0], g.iloc[-1]
            print(f"{path} {lo['value']:g} -> {hi['value']:g} ({s}): {o} {lo['mean']:.3g} -> {hi['mean']:.3g} "
                  f"(90% of runs within {lo['q05']:.3g}-{lo['q95']:.3g} and {hi['q05']:.3g}-{hi['q95']:.3g})")
        print(f"wrote {out}/: sweep.csv, runs.csv, bands.csv, manifest.json" + ("" if args.no_plot else ", figures (*.png)"))
    return 0


def register(sub) -> None:
    """Add ``sensitivity`` and ``sweep`` to the ``spreadsim`` command."""
    from ..cli import add_scenario_args

    p = sub.add_parser(
        "sensitivity", help="global sensitivity analysis (SALib: Sobol, Morris, eFAST) across strategies",
        description="Sample the uncertain parameters of the scenario's 'sensitivity:' section, run every sample "
                    "(R replicates on common random numbers, under each strategy), and write indices with "
                    "bootstrap intervals, the share of variance that is the model's own noise, a convergence "
                    "check (N/2 against N), strategy comparisons, and figures.",
        epilog="A 'sensitivity:' section looks like:\n"
               "  sensitivity:\n"
               "    method: sobol\n    samples: 128\n    replicates: 4\n"
               "    outputs: [adopted_share, adopted_share@60, sustainment]\n"
               "    parameters:\n"
               "      - {path: logics.social.q, bounds: [0.05, 0.3]}\n"
               "      - {path: strategy.support.capacity, bounds: [10, 60]}\n"
               "See simulation/sensitivity/spec.py for every key.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add_scenario_args(p)
    p.add_argument("--method", choices=("sobol", "morris", "fast"), help="default: the section's, else sobol")
    p.add_argument("--samples", type=int, help="N: base samples (sobol: a power of 2), trajectories (morris), points per curve (fast)")
    p.add_argument("--replicates", type=int, help="runs per sample (default: the section's, else 4)")
    p.add_argument("--seed", type=int, help="decides the sample, replicate seeds and bootstrap (default: the section's, else the scenario's)")
    p.add_argument("--strategies", help="comma-separated strategy names from the scenario ('baseline' = as written)")
    p.add_argument("--outputs", help="comma-separated outputs, e.g. adopted_share,adopted_share@60,sustainment")
    p.add_argument("--out", help="output folder (tables, figures; runs are stored in OUT/runs and resumed)")
    _run_args(p)
    p.set_defaults(func=cmd_sensitivity)

    p = sub.add_parser(
        "sweep", help="one-at-a-time sweep of parameters, with bands over replicates",
        description="Vary each --param over its range (the others at the scenario's values), run R replicates per "
                    "value on common random numbers, and write the outcomes with 50% and 90% bands.")
    add_scenario_args(p)
    p.add_argument("--param", action="append", metavar="KEY.PATH=LOW:HIGH:STEPS",
                   help="parameter and values (LOW:HIGH:STEPS evenly spaced, or V1,V2,...); repeatable")
    p.add_argument("--replicates", type=int, default=10, help="runs per value (default 10)")
    p.add_argument("--seed", type=int, help="decides the replicate seeds (default: the scenario's)")
    p.add_argument("--strategies", help="comma-separated strategy names from the scenario ('baseline' = as written)")
    p.add_argument("--outputs", help="comma-separated outputs (default: the sensitivity section's, else adopted_share,"
                                     "reach_share,sustainment,mean_fidelity)")
    p.add_argument("--out", help="output folder")
    _run_args(p)
    p.set_defaults(func=cmd_sweep)
