"""``spreadsim patterns``: the published patterns, their identifiability and the levers' directions.

Heavy modules are imported inside the command, so ``spreadsim --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _progress(label: str):
    def tick(i: int, n: int, what: str) -> None:
        print(f"  {label} {i}/{n}: {what}", flush=True, file=sys.stderr)

    return tick


def cmd_patterns(args) -> int:
    import pandas as pd

    from . import patterns as P
    from .errors import InputError, Problem
    from .scenario import default_scenario, load_scenario, parse_set

    pool = P.patterns_of(args.which)
    pool_names = [p.name for p in pool]
    names = [x.strip() for x in args.only.split(",")] if args.only else pool_names
    unknown = [x for x in names if x not in P.PATTERN_NAMES]
    if unknown:
        raise InputError(Problem("--only", ",".join(unknown), f"unknown pattern; known: {', '.join(P.PATTERN_NAMES)}"))
    outside = [x for x in names if x not in pool_names]
    if outside:
        raise InputError(Problem("--only", ",".join(outside), f"not in the {args.which} set (see --which)"))
    if args.replicates < 2:
        raise InputError(Problem("--replicates", "", f"must be at least 2 (got {args.replicates})"))
    rates = None
    if args.profile_rates:
        rates = [x.strip() for x in args.profile_rates.split(",") if x.strip()]
        known = P.calibrated_rates()
        bad = [r for r in rates if r not in known]
        if bad:
            raise InputError(Problem("--profile-rates", ",".join(bad), f"not a calibrated rate; calibrated: {', '.join(known)}"))
    overrides = parse_set(args.set or [])
    if args.out:
        from .safe_io import check_out

        check_out(Path(args.out), "patterns", replace=args.force)  # before any run
    pats = tuple(P.pattern(n) for n in names)
    reps = P.replicates_for(args.replicates)
    print(f"running {len(pats)} patterns ({args.replicates} replicates; Action Schools! BC {reps[P.AS_BC_CASE]})...",
          flush=True)
    seed = 1 if args.seed is None else args.seed
    report = P.report(P.simulate(pats, replicates=reps, seed=seed, overrides=overrides or None), pats)
    prof = ident = None
    if args.profile:
        n_rates = len(rates or P.calibrated_rates())
        print(f"profiling {n_rates} calibrated rates at {args.profile_points} values each "
              f"({args.profile_replicates} replicates)...", flush=True)
        prof = P.profile(rates, points=args.profile_points, replicates=P.replicates_for(args.profile_replicates),
                         seed=seed, patterns=pats, progress=_progress("rate"))
        ident = P.identifiability(prof)
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
            if prof is not None:
                prof.to_csv(tmp / "profile.csv", index=False)
                ident.to_csv(tmp / "identifiability.csv", index=False)
            if directions is not None:
                directions.to_csv(tmp / "directions.csv", index=False)
            manifest = {"replicates": args.replicates, "seed": seed, "overrides": overrides, "which": args.which,
                        "profile_points": args.profile_points if args.profile else None,
                        "direction_replicates": args.direction_replicates if args.directions else None,
                        "version": __version__}
            (tmp / "manifest.json").write_text(json.dumps(mark(manifest, "patterns"), indent=2))
    print(P.format_report(report))
    failed = int((~report["passed"]).sum())
    if ident is not None:
        print()
        print(P.format_identifiability(ident, prof))
    if directions is not None:
        print()
        print(P.format_directions(directions))
        failed += int(directions["wrong"].sum())
    if args.out:
        files = ["patterns.csv"] + (["profile.csv", "identifiability.csv"] if prof is not None else []) \
            + (["directions.csv"] if directions is not None else [])
        print(f"wrote {args.out}/: {', '.join(files)}")
    return 1 if (args.check and failed) else 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``spreadsim patterns``."""
    from .cli_options import add_out_args, add_seed_arg, positive

    p = sub.add_parser("patterns", help="check the model against the published patterns (docs/validation.md)",
                       description="Run the pattern suite (Wong et al. 2022 sustainment rates, 2-4 years to full "
                                   "implementation, Keystone ICU infection rates and sustainment, Matching Michigan's "
                                   "step change, sustainment after funding (Scheirer 2005), the Action Schools! BC "
                                   "roll-out and voltage drop) and print, per pattern, its set (calibration or "
                                   "validation: never tuned on), the published value and tolerance, the model's mean "
                                   "+- SE over replicates, its source and construct. With --profile, vary each "
                                   "calibrated rate over its prior and report which patterns it moves "
                                   "(identifiability); with --directions, check every summary output under every "
                                   "lever against its expected direction in the default scenario and every bundled case.")
    p.add_argument("--replicates", "-n", type=positive, default=40, help="replicates per scenario (default 40)")
    p.add_argument("--which", choices=("all", "calibration", "validation"), default="all",
                   help="which set of patterns (default all)")
    p.add_argument("--only", metavar="NAME,NAME", help="comma-separated pattern names (default: all of --which)")
    add_seed_arg(p, help="first replicate's seed (default 1)")
    p.add_argument("--set", action="append", metavar="KEY.PATH=VALUE",
                   help="override a scenario value (a YAML value; a mapping is merged into its section); repeatable")
    p.add_argument("--profile", action="store_true",
                   help="identifiability: vary each calibrated rate over its prior range and report the patterns "
                        "that move by more than half their tolerance (rates that move none: 'assumed')")
    p.add_argument("--profile-points", type=positive, default=3, help="values per rate for --profile (default 3)")
    p.add_argument("--profile-replicates", type=positive, default=16,
                   help="replicates per scenario and value for --profile (default 16)")
    p.add_argument("--profile-rates", metavar="PATH,PATH", help="only these calibrated rates (default: all)")
    p.add_argument("--directions", action="store_true",
                   help="also check every summary output under every lever, in every bundled case")
    p.add_argument("--direction-replicates", type=positive, default=20, help="paired replicates per lever (default 20)")
    add_out_args(p, "none: the table is only printed")
    p.add_argument("--check", action="store_true",
                   help="exit with 1 when a pattern misses its tolerance or a lever moves an output the wrong way")
    p.set_defaults(func=cmd_patterns)
