"""``spreadsim sensitivity`` and ``spreadsim sweep``.

Both store their runs in ``OUT/runs`` (the experiment runner's resumable store) and write their
tables and figures into ``OUT``. Everything is checked (the section, the options, the folder, the
runs' seeding, memory) before the folder is made; the tables are written before the report is
printed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _common(p: argparse.ArgumentParser, kind: str) -> None:
    from ..cli_options import add_executor_args, add_out_args, add_quiet_args

    add_executor_args(p)
    add_out_args(p, f"results/<scenario file name>-{kind}", resume=True)
    add_quiet_args(p)


def _out(args, kind: str) -> Path:
    """The output folder, checked: new, empty, an earlier output of this command (resumed), or with
    --fresh an earlier spreadsim output (discarded)."""
    from ..safe_io import check_out, output_kind

    out = Path(args.out) if args.out else Path("results") / f"{Path(args.scenario).stem}-{kind}"
    state = check_out(out, kind, replace=not args.resume, resume=True, flag="--fresh")
    args._discard = state == "replace" and output_kind(out) is not None
    return out


def _interrupted(out: Path) -> int:
    print(f"\ninterrupted: the runs finished so far are kept in {out}/runs/; run the same command again to "
          "continue where it stopped", file=sys.stderr)
    return 130


def cmd_sensitivity(args) -> int:
    from ..cli_options import executor_of, load
    from .core import Sensitivity

    sc = load(args)
    executor = executor_of(args)
    out = _out(args, "sensitivity")
    sa = Sensitivity(sc, method=args.method, samples=args.samples, replicates=args.replicates, seed=args.seed,
                     strategies=_csv(args.strategies), outputs=_csv(args.outputs), executor=executor,
                     workers=args.workers, scheduler=args.scheduler, chunk_size=args.chunk_size,
                     store=out / "runs", resume=args.resume, progress=not args.quiet,
                     clear=out if args._discard else None)
    sp = sa.spec
    if not args.quiet:
        print(f"{sc.name}: {sp.method}, {len(sp.parameters)} parameters, N = {sp.samples}, {sp.replicates} replicates, "
              f"{len(sp.strategies)} strateg{'y' if len(sp.strategies) == 1 else 'ies'}: {sa.n_runs:,} runs "
              f"(seed {sp.seed})", file=sys.stderr)
        print(_estimate_line(sc, sa.n_runs, executor, args.workers), file=sys.stderr, flush=True)
    try:
        sa.run()
    except KeyboardInterrupt:
        return _interrupted(out)
    from .progress import Phase

    with Phase("writing the tables, report and figures", not args.quiet):
        sa.save(out, plots=not args.no_plot)
    if not args.quiet:
        print(sa.report())
        print(f"wrote {out}/: indices.csv, noise.csv, convergence.csv, samples.csv, report.txt, manifest.json"
              + (", wins.csv" if sa.wins is not None else "") + ("" if args.no_plot else ", figures (*.png)"))
    return 0


def _estimate_line(sc, n_runs: int, executor: str, workers: int | None) -> str:
    """How long the runs will take, timed on a few runs of this scenario here (before any is stored)."""
    from ..experiments.core import default_workers
    from .progress import duration, estimate

    w = 1 if executor == "serial" else int(workers or default_workers())
    secs, _ = estimate(sc, n_runs, w)
    where = "1 process" if w == 1 else f"{w} processes"
    return (f"time: {duration(secs)} for the runs on {where} here (timed on 4 runs; rough), then the analysis\n"
            "      Ctrl+C stops; the same command then resumes where it stopped")


def cmd_sweep(args) -> int:
    from ..cli_options import executor_of, load
    from ..labels import output_label
    from .sweep import sweep

    sc = load(args)
    executor = executor_of(args)
    out = _out(args, "sweep")
    try:
        res = sweep(sc, args.param or [], replicates=args.replicates, seed=args.seed, strategies=_csv(args.strategies),
                    outputs=_csv(args.outputs), executor=executor, workers=args.workers, scheduler=args.scheduler,
                    chunk_size=args.chunk_size, store=out / "runs", resume=args.resume, progress=not args.quiet,
                    clear=out if args._discard else None)
    except KeyboardInterrupt:
        return _interrupted(out)
    res.save(out, plots=not args.no_plot)
    if not args.quiet:
        t = res.table
        for (path, s, o), g in t.groupby(["parameter", "strategy", "output"], sort=False):
            lo, hi = g.iloc[0], g.iloc[-1]
            print(f"{path} {lo['value']:g} -> {hi['value']:g} ({s}): "
                  f"{output_label(o)} {lo['mean']:.3g} -> {hi['mean']:.3g} "
                  f"(90% of runs within {lo['q05']:.3g}-{lo['q95']:.3g} and {hi['q05']:.3g}-{hi['q95']:.3g})")
        print(f"wrote {out}/: sweep.csv, runs.csv, bands.csv, manifest.json" + ("" if args.no_plot else ", figures (*.png)"))
    return 0


def _csv(text):
    from ..cli_options import csv_list

    return csv_list(text)


def register(sub) -> None:
    """Add ``sensitivity`` and ``sweep`` to the ``spreadsim`` command."""
    from ..cli_options import add_replicates_arg, add_scenario_args, add_seed_arg, add_strategies_arg, positive

    p = sub.add_parser(
        "sensitivity", help="global sensitivity analysis (SALib: Sobol, Morris, eFAST) across strategies",
        description="Sample the uncertain parameters of the scenario's 'sensitivity:' section, run every sample "
                    "(R replicates on common random numbers, under each strategy), and write indices with "
                    "bootstrap intervals, the share of variance that is the model's own noise, a convergence "
                    "check (N/2 against N), strategy comparisons, and figures.",
        epilog="A 'sensitivity:' section looks like:\n"
               "  sensitivity:\n"
               "    method: sobol\n    samples: 128\n    replicates: 4\n"
               "    outputs: [adopted_share, adopted_share@60, sustained_delivering_24]\n"
               "    parameters:\n"
               "      - {path: logics.social.q, bounds: [0.05, 0.3]}\n"
               "      - {path: strategy.support.capacity, bounds: [10, 60]}\n"
               "Every key: docs/scenario-reference.md, section 'sensitivity'.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add_scenario_args(p)
    p.add_argument("--method", choices=("sobol", "morris", "fast"), help="the analysis (default: the section's, else sobol)")
    p.add_argument("--samples", type=positive,
                   help="N: base samples (sobol: a power of 2), trajectories (morris), points per curve (fast)")
    add_replicates_arg(p, None, "runs per sample")
    add_seed_arg(p, "decides the sample, replicate seeds and bootstrap (default: the section's, else the scenario's)")
    add_strategies_arg(p, "the section's, else baseline")
    p.add_argument("--outputs", metavar="NAME,NAME",
                   help="comma-separated outputs, e.g. adopted_share,adopted_share@60,sustained_delivering_24 "
                        "(default: the section's)")
    _common(p, "sensitivity")
    p.set_defaults(func=cmd_sensitivity)

    p = sub.add_parser(
        "sweep", help="one-at-a-time sweep of parameters, with bands over replicates",
        description="Vary each --param over its range (the others at the scenario's values), run R replicates per "
                    "value on common random numbers, and write the outcomes with 50% and 90% bands.")
    add_scenario_args(p)
    p.add_argument("--param", action="append", metavar="KEY.PATH=LOW:HIGH:STEPS",
                   help="parameter and values (LOW:HIGH:STEPS evenly spaced, or V1,V2,...); repeatable")
    add_replicates_arg(p, 10, "runs per value")
    add_seed_arg(p, "decides the replicate seeds (default: the scenario's seed)")
    add_strategies_arg(p, "baseline")
    p.add_argument("--outputs", metavar="NAME,NAME",
                   help="comma-separated outputs (default: the sensitivity section's, else adopted_share,"
                        "reach_share,attributable_benefit_years,mean_fidelity)")
    _common(p, "sweep")
    p.set_defaults(func=cmd_sweep)
