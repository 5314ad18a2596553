"""``spreadsim ensemble`` and ``spreadsim compare``.

Both run on :func:`simulation.experiments.execute`: results stream to Parquet chunks in the output
folder, an interrupted command resumes where it stopped when run again (``--resume``, the default
when the folder holds results of the same scenario), and the same seed gives the same results, bit
for bit, with every executor. Everything is checked (inputs, the folder, the scheduler, the runs'
seeding, memory) before the folder is created, and the tables are written before anything is
printed.
"""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

from ..errors import InputError, Problem


def _common(p, replicates: int, kind: str) -> None:
    from ..cli_options import (EXECUTOR_HELP_SMALL, add_executor_args, add_out_args, add_quiet_args, add_replicates_arg,
                               add_scenario_args, add_seed_arg)

    add_scenario_args(p)
    add_replicates_arg(p, replicates)
    add_seed_arg(p, "base seed; replicate r runs on a seed derived from it and r (default: the scenario's seed)")
    add_executor_args(p, help=EXECUTOR_HELP_SMALL)
    add_out_args(p, f"results/<scenario file name>-{kind}", resume=True)
    add_quiet_args(p)


def register(sub) -> None:
    """Add ``ensemble`` and ``compare`` to the ``spreadsim`` command."""
    from ..cli_options import add_strategies_arg

    p = sub.add_parser("ensemble", help="run replicates of a scenario and summarise them with intervals",
                       description="Run replicates of one scenario (each on its own seed) and write per-run "
                       "results, a per-month ensemble table (mean and 5-95% band), a table of outcomes "
                       "with 95% confidence intervals and a figure of adoption with its band.")
    _common(p, 100, "ensemble")
    p.set_defaults(func=cmd_ensemble)

    p = sub.add_parser("compare", help="compare scale-up strategies on common random numbers",
                       description="Run every strategy on the same replicate seeds (common random numbers) "
                       "and report each strategy's outcomes and its paired difference from the baseline, "
                       "with 95% confidence intervals.")
    _common(p, 50, "compare")
    add_strategies_arg(p)
    p.add_argument("--strategy", action="append", metavar="NAME:KEY.PATH=VALUE",
                   help="define or extend a strategy on the command line; repeatable "
                   "(e.g. --strategy fast:strategy.support.capacity=60)")
    p.add_argument("--baseline", default="baseline",
                   help="the strategy the others are compared with: 'baseline' (the scenario as written, the "
                        "default) or a strategy's name")
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
            out.setdefault(name, {}).update(parse_set([setting], f"--strategy {name}"))
        except InputError as err:
            problems.extend(err.problems)
    if problems:
        raise InputError(problems)
    return out


def _strategies(args, sc) -> dict[str, dict]:
    from .core import resolve_strategies

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
                raise InputError([Problem(f"--strategy {name}", p.field, p.message) for p in err.problems]) from None
    known = ["baseline", *sc.strategies, *extra]
    if args.baseline not in known:
        close = difflib.get_close_matches(args.baseline, known, n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise InputError(Problem("--baseline", "", f"no strategy '{args.baseline}'{hint}; choose 'baseline' (the "
                                 f"scenario as written) or one of: {', '.join(dict.fromkeys(known[1:])) or 'none'}"))
    return named


def _work(sc, runs: int) -> float | None:
    """Site-months of ``runs`` runs of the scenario (None when its sites come from a file)."""
    if sc.sites.file or sc.network.type == "file":
        return None
    return runs * sc.sites.n * sc.months * (2 if sc.outcomes.counterfactual else 1)


def _run(args, kind: str) -> int:
    from ..cli_options import executor_of, load
    from ..safe_io import check_out
    from .core import MAX_CHUNK, compare, run_many

    sc = load(args)
    out = Path(args.out) if args.out else Path("results") / f"{Path(args.scenario).stem}-{kind}"
    named = _strategies(args, sc) if kind == "compare" else None
    runs = args.replicates * (len(named) + 1 if named is not None else 1)
    executor = executor_of(args, _work(sc, runs))
    chunk = args.chunk_size
    if chunk is None and executor == "serial" and args.executor is None:
        # serial because the work is small: each strategy's replicates in one batch (a batch shares
        # the fixed cost of every numpy call; several tasks would only split it)
        chunk = min(runs, MAX_CHUNK)
    check_out(out, "experiment", replace=not args.resume, resume=True, flag="--fresh")
    kw = {"executor": executor, "out": out, "resume": args.resume, "progress": not args.quiet,
          "scheduler": args.scheduler, "workers": args.workers, "chunk_size": chunk}
    try:
        if kind == "ensemble":
            res = run_many(sc, args.replicates, seed=args.seed, **kw)
        else:
            res = compare(sc, named, args.replicates, seed=args.seed, baseline=args.baseline, **kw)
    except KeyboardInterrupt:
        print(f"\ninterrupted: the runs finished so far are kept in {out}/; run the same command again to "
              "continue where it stopped", file=sys.stderr)
        return 130
    written = res.save(out, plot=not args.no_plot)  # before printing: a closed pipe cannot lose them
    from .report import format_brief
    from .store import write_bytes_atomic

    full = res.report()
    write_bytes_atomic(out / "report.txt", (full + "\n").encode())
    written.append("report.txt")
    if not args.quiet:
        info = res.info
        from .report import _wrap, width

        print(_wrap(f"{sc.name}: {args.scenario}, {len(res.runs):,} runs ({info['ran']:,} run now, "
                    f"{info['reused']:,} reused from the output folder), executor {info['executor']}", width()))
        print()
        print(format_brief(res, full=f"{out}/report.txt") if len(res.strategies) > 1 else full)
        print()
        print(_wrap(f"wrote {out}/: runs/ and timeseries/ (Parquet chunks), manifest.json, {', '.join(written)}",
                    width()))
    return 0


def cmd_ensemble(args) -> int:
    return _run(args, "ensemble")


def cmd_compare(args) -> int:
    return _run(args, "compare")
