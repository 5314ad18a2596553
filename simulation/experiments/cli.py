"""``spreadsim ensemble`` and ``spreadsim compare``.

Both run on :func:`simulation.experiments.execute`: results stream to Parquet chunks in the output
folder, an interrupted command resumes where it stopped when run again (``--resume``, the default
when the folder holds results of the same scenario), and the same seed gives the same results, bit
for bit, with every executor.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import InputError, Problem
from .core import EXECUTORS


def _whole(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    return v


def _common(p: argparse.ArgumentParser, replicates: int) -> None:
    from ..cli import add_scenario_args

    add_scenario_args(p)
    p.add_argument("--replicates", "-n", type=_whole, default=replicates,
                   help=f"runs per strategy (default {replicates})")
    p.add_argument("--seed", type=_whole, help="base seed; replicate r runs on a seed derived from it and r "
                   "(default: the scenario's seed)")
    p.add_argument("--executor", choices=EXECUTORS, help="serial, processes (default: a pool over all cores) or "
                   "dask (a LocalCluster, or the cluster at --scheduler)")
    p.add_argument("--workers", type=_whole, help="processes, or LocalCluster workers (default: all cores)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler address, e.g. tcp://host:8786 "
                   "(implies --executor dask)")
    p.add_argument("--chunk-size", type=_whole, help="runs per task and per stored chunk (default: automatic)")
    p.add_argument("--out", help="results folder (default: results/<scenario file name>-<command>)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--resume", dest="resume", action="store_true", default=True,
                   help="reuse runs already stored in --out and run only what is missing (the default)")
    g.add_argument("--fresh", dest="resume", action="store_false",
                   help="discard the runs stored in --out and start again")
    p.add_argument("--no-plot", action="store_true", help="skip the figures")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no table")


def register(sub) -> None:
    """Add ``ensemble`` and ``compare`` to the ``spreadsim`` command."""
    p = sub.add_parser("ensemble", help="run replicates of a scenario and summarise them with intervals",
                       description="Run replicates of one scenario (each on its own seed) and write per-run "
                       "results, a per-month ensemble table (mean and 5-95% band), a table of outcomes "
                       "with 95% confidence intervals and a figure of adoption with its band.")
    _common(p, 100)
    p.set_defaults(func=cmd_ensemble)

    p = sub.add_parser("compare", help="compare scale-up strategies on common random numbers",
                       description="Run every strategy on the same replicate seeds (common random numbers) "
                       "and report each strategy's outcomes and its paired difference from the baseline, "
                       "with 95% confidence intervals.")
    _common(p, 50)
    p.add_argument("--strategies", metavar="NAME,NAME",
                   help="strategies of the scenario's strategies: section to run (default: all)")
    p.add_argument("--strategy", action="append", metavar="NAME:KEY.PATH=VALUE",
                   help="define or extend a strategy on the command line; repeatable "
                   "(e.g. --strategy fast:strategy.support.capacity=60)")
    p.add_argument("--baseline", default="baseline",
                   help="the strategy others are compared with (default: 'baseline', the scenario as written)")
    p.set_defaults(func=cmd_compare)


def parse_strategy_args(items: list[str] | None) -> dict[str, dict]:
    """``["fast:strategy.support.capacity=60", ...]`` as ``{"fast": {"strategy.support.capacity": 60}}``."""
    from ..scenario import parse_set

    out: dict[str, dict] = {}
    problems = []
    for item in items or []:
        name, sep, setting = item.partition(":")
        name = name.strip()
        if not sep or not name or "=" not in setting:
            problems.append(Problem("--strategy", item, "expected NAME:KEY.PATH=VALUE"))
            continue
        try:
            out.setdefault(name, {}).update(parse_set([setting]))
        except InputError as err:
            problems.extend(Problem(f"--strategy {name}", p.field, p.message) for p in err.problems)
    if problems:
        raise InputError(problems)
    return out


def _run(args, kind: str) -> int:
    from ..cli import _overrides
    from ..scenario import load_scenario
    from .core import compare, resolve_strategies, run_many

    sc = load_scenario(args.scenario, overrides=_overrides(args))
    out = Path(args.out) if args.out else Path("results") / f"{Path(args.scenario).stem}-{kind}"
    executor = args.executor or ("dask" if args.scheduler else "processes")
    if args.scheduler and executor != "dask":
        raise InputError(Problem("--scheduler", args.scheduler, f"needs --executor dask (got {executor})"))
    kw = {"executor": executor, "out": out, "resume": args.resume, "progress": not args.quiet,
          "scheduler": args.scheduler, "workers": args.workers, "chunk_size": args.chunk_size}
    try:
        if kind == "ensemble":
            res = run_many(sc, args.replicates, seed=args.seed, **kw)
        else:
            chosen = [s.strip() for s in args.strategies.split(",") if s.strip()] if args.strategies else None
            extra = parse_strategy_args(args.strategy)
            if chosen is None:
                names = [*sc.strategies, *(n for n in extra if n not in sc.strategies)]
            else:
                names = [*chosen, *(n for n in extra if n not in chosen)]
            from_file = resolve_strategies(sc, [n for n in names if n not in extra or n in sc.strategies])
            named = {}
            for name in names:
                named[name] = {**from_file.get(name, {}), **extra.get(name, {})}
                if name in extra:
                    try:
                        sc.with_overrides(named[name], f"--strategy {name}")
                    except InputError as err:
                        raise InputError([Problem(f"--strategy {name}", p.field, p.message)
                                          for p in err.problems]) from None
            res = compare(sc, named, args.replicates, seed=args.seed, baseline=args.baseline, **kw)
    except KeyboardInterrupt:
        print(f"\ninterrupted: the runs finished so far are kept in {out}/; run the same command again to "
              "continue where it stopped", file=sys.stderr)
        return 130
    if not args.quiet:
        info = res.info
        print(f"{sc.name}: {args.scenario}, {len(res.runs):,} runs ({info['ran']:,} run now, "
              f"{info['reused']:,} reused from {out}/), executor {info['executor']}")
        print()
        print(res.report())
        print()
    written = res.save(out, plot=not args.no_plot)
    if not args.quiet:
        print(f"wrote {out}/: runs/ and timeseries/ (Parquet chunks), manifest.json, {', '.join(written)}")
    return 0


def cmd_ensemble(args) -> int:
    return _run(args, "ensemble")


def cmd_compare(args) -> int:
    return _run(args, "compare")
