"""``spreadsim explore``, ``robust``, ``discover``, ``voi`` and ``optimise``.

``explore`` runs like ``compare`` (resumable, killable, processes or Dask) and writes
``DIR/experiments.parquet``; the analyses read it and write into ``DIR/robust/``,
``DIR/discover/`` and ``DIR/voi/`` (each replaced whole when run again). ``optimise`` writes its
own folder. Inputs are checked before anything is written; results are written before anything is
printed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import InputError, Problem


def _fraction(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < v <= 1:
        raise argparse.ArgumentTypeError(f"must be above 0 and at most 1 (got {text})")
    return v


def register(sub) -> None:
    """Add the decision commands to the ``spreadsim`` command."""
    from ..cli_options import (add_executor_args, add_out_args, add_quiet_args, add_replicates_arg,
                               add_scenario_args, add_seed_arg, add_strategies_arg, number, positive, whole)

    p = sub.add_parser("explore", help="run every strategy across sampled futures (the scenario's uncertainties:)",
                       description="Draw N futures from the scenario's 'uncertainties:' section (a Latin hypercube), "
                       "run every strategy (the baseline included) in every future on the same R replicate seeds "
                       "(common random numbers), and write DIR/experiments.parquet: one row per future x strategy "
                       "x replicate. Resumable and killable like compare; processes or Dask.",
                       epilog="An 'uncertainties:' section looks like:\n  uncertainties:\n"
                              "    logics.social.q: [0.05, 0.3]\n"
                              "    strategy.support.funding_months: {values: [36, 48, 60]}\n"
                              "Then: spreadsim robust DIR; spreadsim discover DIR --strategy NAME --where EXPR; "
                              "spreadsim voi DIR.", formatter_class=argparse.RawDescriptionHelpFormatter)
    add_scenario_args(p)
    p.add_argument("--samples", type=positive, default=100, help="futures drawn (default 100)")
    add_replicates_arg(p, 10, "runs per future and strategy")
    add_seed_arg(p, "decides the futures and the replicate seeds (default: the scenario's seed)")
    add_strategies_arg(p)
    p.add_argument("--strategy", action="append", metavar="NAME:KEY.PATH=VALUE",
                   help="define or extend a strategy on the command line; repeatable "
                   "(e.g. --strategy small:strategy.collaborative.size=5)")
    add_executor_args(p)
    add_out_args(p, "results/<scenario file name>-explore", resume=True)
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors and warnings")
    p.set_defaults(func=cmd_explore)

    def folder(p):
        p.add_argument("folder", metavar="DIR", help="the --out folder of 'spreadsim explore'")

    p = sub.add_parser("robust", help="which strategy holds up across the explored futures (regret, satisficing)",
                       description="Per strategy, over the explored futures (each the mean of its replicates): mean, "
                       "10th and 90th percentiles, satisficing share, regret against the best strategy in the same "
                       "future (mean, 90th percentile, maximum), probability of being best, each with a bootstrap "
                       "interval over futures and replicates; a ranking in words and whether it is stable. Writes "
                       "DIR/robust/.")
    folder(p)
    p.add_argument("--outcome", default="attributable_benefit_years",
                   help="the output compared (default attributable_benefit_years)")
    p.add_argument("--satisfice", metavar="EXPR",
                   help="a condition a good enough result meets, e.g. \"adopted_share >= 0.5 and support_used < 4000\"")
    p.add_argument("--bootstrap", type=lambda t: whole(t, 0, 100_000), default=200, help="resamples (default 200)")
    add_quiet_args(p, "robustness.png")
    p.set_defaults(func=cmd_robust)

    p = sub.add_parser("discover", help="where a strategy fails: PRIM boxes, CART and feature scores",
                       description="Mark the futures where STRATEGY fails (the share of its replicates meeting --where "
                       "is at least --probability), then find the uncertainties that explain the failures: PRIM "
                       "(peeling trajectory, box limits with quasi-p-values, bootstrap stability), CART and feature "
                       "scores. Writes DIR/discover/.")
    folder(p)
    p.add_argument("--strategy", required=True, help="the strategy whose failures are explained")
    p.add_argument("--where", required=True, metavar="EXPR",
                   help="what failing means in one run, e.g. \"adopted_share < 0.3 or support_used > 5000\"")
    p.add_argument("--probability", type=_fraction, default=0.5,
                   help="a future fails when at least this share of its replicates fail (default 0.5)")
    p.add_argument("--density", type=_fraction, default=0.8,
                   help="the least share of failing futures a box should hold (default 0.8)")
    p.add_argument("--bootstrap", type=lambda t: whole(t, 0, 10_000), default=50, help="resamples (default 50)")
    add_quiet_args(p, "the figures")
    p.set_defaults(func=cmd_discover)

    p = sub.add_parser("voi", help="value of information: which uncertainty to resolve first (EVPI, EVPPI)",
                       description="Expected value of perfect information overall and per uncertainty (EVPPI by "
                       "regression on the explored futures, Strong et al. 2014) in the outcome's units, with "
                       "bootstrap standard errors. Writes DIR/voi/.")
    folder(p)
    p.add_argument("--outcome", default="attributable_benefit_years",
                   help="the output valued (default attributable_benefit_years)")
    p.add_argument("--bootstrap", type=lambda t: whole(t, 0, 10_000), default=100, help="resamples (default 100)")
    add_quiet_args(p, "voi.png")
    p.set_defaults(func=cmd_voi)

    p = sub.add_parser("optimise", help="search the levers: section for a Pareto front under a budget (Optuna NSGA-II)",
                       description="Search the scenario's 'levers:' with Optuna's NSGA-II, scoring every candidate "
                       "strategy on a fixed set of futures x replicates (common random numbers), with programme cost "
                       "at most --budget. Objectives come from the 'optimise:' section (default: attributable "
                       "benefit up, support used down, regret down). Resumable: the study is stored in DIR. Writes "
                       "the Pareto front (pareto.csv, pareto.png) and strategies.yaml, a scenario whose "
                       "strategies: are the front, for explore and compare.")
    add_scenario_args(p)
    p.add_argument("--budget", type=number, required=True, help="the most the programme may spend (in the cost output's units)")
    p.add_argument("--trials", type=positive, help="candidate strategies to try in all (default: the section's, else 40)")
    add_seed_arg(p, "decides the futures, replicate seeds and the search (default: the section's, else the scenario's)")
    add_executor_args(p, chunk=False)
    add_out_args(p, "results/<scenario file name>-optimise", resume=True)
    add_quiet_args(p, "pareto.png")
    p.set_defaults(func=cmd_optimise)


def cmd_explore(args) -> int:
    from ..cli_options import executor_of, load
    from ..safe_io import check_out
    from .exploration import explore

    sc = load(args)
    out = Path(args.out) if args.out else Path("results") / f"{Path(args.scenario).stem}-explore"
    executor = executor_of(args)
    from .spec import uncertainties

    uncertainties(sc)  # the section's problems before anything else
    from ..experiments.cli import parse_strategy_args
    from ..experiments.core import resolve_strategies

    chosen = [s.strip() for s in args.strategies.split(",") if s.strip()] if args.strategies else None
    extra = parse_strategy_args(args.strategy)
    named = resolve_strategies(sc, [n for n in chosen if n not in extra or n in sc.strategies]
                               if chosen is not None else None)
    for name, ov in extra.items():
        named[name] = {**named.get(name, {}), **ov}
        try:
            sc.with_overrides(named[name], f"--strategy {name}")
        except InputError as err:
            raise InputError([Problem(f"--strategy {name}", p.field, p.message) for p in err.problems]) from None
    check_out(out, "experiment", replace=not args.resume, resume=True, flag="--fresh")
    try:
        frame = explore(sc, args.samples, args.replicates, strategies=named, seed=args.seed, out=out,
                        executor=executor, resume=args.resume, progress=not args.quiet, scheduler=args.scheduler,
                        workers=args.workers, chunk_size=args.chunk_size)
    except KeyboardInterrupt:
        print(f"\ninterrupted: the runs finished so far are kept in {out}/; run the same command again to "
              "continue where it stopped", file=sys.stderr)
        return 130
    if not args.quiet:
        info = frame.attrs.get("info", {})
        print(f"{sc.name}: {args.samples} futures x {frame['strategy'].nunique()} strategies x {args.replicates} "
              f"replicates = {len(frame):,} runs ({info.get('ran', 0):,} run now, {info.get('reused', 0):,} reused), "
              f"executor {info.get('executor')}, {info.get('wall_s', 0):.1f} s")
        print(f"wrote {out}/: experiments.parquet, samples.csv, runs/ and timeseries/ (Parquet chunks), manifest.json")
        print(f"next: spreadsim robust {out}; spreadsim discover {out} --strategy NAME --where EXPR; spreadsim voi {out}")
    return 0


def _analysis_folder(folder: Path, name: str) -> Path:
    """``folder/name``, checked: ``folder`` must be an exploration, and ``folder/name`` absent or
    an earlier output of the same analysis, holding only what spreadsim recorded writing there
    (replaced whole; anything else there is the user's and is never deleted)."""
    from ..safe_io import Record, foreign_entries

    target = folder / name
    if target.exists() or target.is_symlink():
        if target.is_symlink() or not target.is_dir():
            raise InputError(Problem(str(target), "", "is not a folder spreadsim wrote; move it away to let the "
                                                      "analysis write here"))
        rec = Record.read(target)
        foreign = foreign_entries(target) if rec is not None else sorted(p.name for p in target.iterdir())
        if rec is not None and rec.kind != name:
            foreign = foreign or [f"{name} (an output of another kind)"]
        if foreign:
            raise InputError(Problem(str(target), "", f"holds files spreadsim did not write ({', '.join(sorted(foreign)[:3])}); "
                                     "they are never deleted: move them away"))
    return target


def _write(result, target: Path, plot: bool) -> list[str]:
    """Write an analysis into a recorded temporary folder beside ``target``, then swap it in (an
    earlier output of the same analysis is replaced; see :class:`simulation.safe_io.atomic_dir`)."""
    from ..safe_io import atomic_dir

    with atomic_dir(target, target.name, replace=True, option=str(target), flag="--fresh") as tmp:
        written = result.save(tmp, plot=plot)
    return written


def cmd_robust(args) -> int:
    from .exploration import load
    from .robustness import robust

    exp = load(args.folder)
    res = robust(exp, args.outcome, satisfice=args.satisfice, bootstrap=args.bootstrap)
    target = _analysis_folder(Path(args.folder), "robust")
    written = _write(res, target, not args.no_plot)
    if not args.quiet:
        print(res.report())
        print(f"\nwrote {target}/: {', '.join(written)}")
    return 0


def cmd_discover(args) -> int:
    from .discovery import discover
    from .exploration import load

    exp = load(args.folder)
    res = discover(exp, args.strategy, args.where, args.probability, density=args.density, bootstrap=args.bootstrap)
    target = _analysis_folder(Path(args.folder), "discover")
    written = _write(res, target, not args.no_plot)
    if not args.quiet:
        print(res.report())
        print(f"\nwrote {target}/: {', '.join(written)}")
    return 0


def cmd_voi(args) -> int:
    from .exploration import load
    from .information import voi

    exp = load(args.folder)
    res = voi(exp, args.outcome, bootstrap=args.bootstrap)
    target = _analysis_folder(Path(args.folder), "voi")
    written = _write(res, target, not args.no_plot)
    if not args.quiet:
        print(res.report())
        print(f"\nwrote {target}/: {', '.join(written)}")
    return 0


def cmd_optimise(args) -> int:
    from ..cli_options import executor_of, load
    from ..safe_io import check_out
    from .optimisation import optimise

    sc = load(args)
    out = Path(args.out) if args.out else Path("results") / f"{Path(args.scenario).stem}-optimise"
    executor = executor_of(args)
    check_out(out, "optimise", replace=not args.resume, resume=True, flag="--fresh")
    try:
        res = optimise(sc, args.budget, out=out, trials=args.trials, seed=args.seed, resume=args.resume,
                       executor=executor, workers=args.workers, scheduler=args.scheduler, progress=not args.quiet,
                       plot=not args.no_plot)
    except KeyboardInterrupt:
        print(f"\ninterrupted: the finished trials are kept in {out}/study.db; run the same command again to "
              "continue", file=sys.stderr)
        return 130
    if not args.quiet:
        print(res.report())
        print(f"\nwrote {out}/: {', '.join(res.written)}")
    return 0
