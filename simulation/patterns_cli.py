"""``spreadsim patterns``: the published patterns and the levers' directions, against the model.

Heavy modules are imported inside the command, so ``spreadsim --help`` stays fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def cmd_patterns(args) -> int:
    import pandas as pd

    from . import patterns as P
    from .errors import InputError, Problem
    from .scenario import default_scenario, load_scenario, parse_set

    names = [x.strip() for x in args.only.split(",")] if args.only else list(P.PATTERN_NAMES)
    unknown = [x for x in names if x not in P.PATTERN_NAMES]
    if unknown:
        raise InputError(Problem("--only", ",".join(unknown), f"unknown pattern; known: {', '.join(P.PATTERN_NAMES)}"))
    if args.replicates < 2:
        raise InputError(Problem("--replicates", "", f"must be at least 2 (got {args.replicates})"))
    overrides = parse_set(args.set or [])
    if args.out:
        from .safe_io import check_out

        check_out(Path(args.out), "patterns", replace=args.force)  # before any run
    pats = tuple(P.pattern(n) for n in names)
    reps = {None: args.replicates, "cases/keystone_michigan.yaml": args.replicates,
            "cases/action_schools_bc.yaml": max(2, args.replicates // 8)}
    print(f"running {len(pats)} patterns ({args.replicates} replicates; Action Schools! BC {reps['cases/action_schools_bc.yaml']})...",
          flush=True)
    seed = 1 if args.seed is None else args.seed
    report = P.report(P.simulate(pats, replicates=reps, seed=seed, overrides=overrides or None), pats)
    directions = None
    if args.directions:
        scenarios = [default_scenario()] + [load_scenario(p) for p in sorted((P.SCENARIOS / "cases").glob("*.yaml"))]
        frames = []
        for sc in scenarios:
            if overrides:
                sc = sc.with_overrides(overrides)
            print(f"levers in {sc.name if sc.name != 'unnamed' else 'the default scenario'}...", flush=True)
            frames.append(P.check_directions(sc, replicates=args.direction_replicates, seed=seed))
        directions = pd.concat(frames, ignore_index=True)
    if args.out:
        import json

        from . import __version__
        from .safe_io import atomic_dir, mark

        with atomic_dir(Path(args.out), "patterns", replace=args.force) as tmp:
            report.to_csv(tmp / "patterns.csv", index=False)
            if directions is not None:
                directions.to_csv(tmp / "directions.csv", index=False)
            manifest = {"replicates": args.replicates, "seed": seed, "overrides": overrides, "version": __version__}
            (tmp / "manifest.json").write_text(json.dumps(mark(manifest, "patterns"), indent=2))
    print(P.format_report(report))
    failed = int((~report["passed"]).sum())
    if directions is not None:
        worse = directions[directions["worse"]]
        print(f"levers: {len(directions)} checks (lever x outcome x scenario), {len(worse)} significantly worse")
        for r in worse.itertuples():
            print(f"  WORSE  {r.scenario}: {r.lever} lowers {r.outcome} by {-r.difference:.3g} (SE {r.se:.2g})")
        failed += len(worse)
    if args.out:
        print(f"wrote {args.out}/: patterns.csv" + (", directions.csv" if directions is not None else ""))
    return 1 if (args.check and failed) else 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``spreadsim patterns``."""
    from .cli_options import add_out_args, add_seed_arg, positive

    p = sub.add_parser("patterns", help="check the model against the published patterns (docs/validation.md)",
                       description="Run the pattern suite (Wong et al. 2022 sustainment rates, 2-4 years to full "
                                   "implementation, Keystone ICU sustainment and uptake, the Action Schools! BC "
                                   "voltage drop) and print, per pattern, its source, the published value and "
                                   "tolerance, and the model's mean +- SE over replicates. With --directions, also "
                                   "check that the undisputed levers never make outcomes significantly worse.")
    p.add_argument("--replicates", "-n", type=positive, default=40, help="replicates per scenario (default 40)")
    p.add_argument("--only", metavar="NAME,NAME", help="comma-separated pattern names (default: all)")
    add_seed_arg(p, help="first replicate's seed (default 1)")
    p.add_argument("--set", action="append", metavar="KEY.PATH=VALUE",
                   help="override a scenario value (a YAML value; a mapping is merged into its section); repeatable")
    p.add_argument("--directions", action="store_true", help="also check the levers' directions in every bundled case")
    p.add_argument("--direction-replicates", type=positive, default=20, help="paired replicates per lever (default 20)")
    add_out_args(p, "none: the table is only printed")
    p.add_argument("--check", action="store_true", help="exit with 1 when a pattern or a lever fails")
    p.set_defaults(func=cmd_patterns)
