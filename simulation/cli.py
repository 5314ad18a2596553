"""The ``spreadsim`` command.

Every subcommand turns a user's mistake (:class:`~simulation.errors.InputError`) into one line per
problem on standard error and exit code 2, with no traceback.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from .errors import InputError

EXIT_INPUT = 2


def _fmt(v: float, pct: bool = False, unit: str = "") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return f"{v:.1%}" if pct else f"{v:,.4g}{unit}"


def print_summary(summary: dict, n_sites: int, months: int, file=None) -> None:
    file = file or sys.stdout
    rows = [
        ("adopted share (initial + full)", _fmt(summary["adopted_share"], pct=True)),
        ("reach (people served by full sites)", f"{summary['reach']:,.0f} ({_fmt(summary['reach_share'], pct=True)})"),
        ("sustainment (full sites still full 24 months on)", _fmt(summary["sustainment"], pct=True)),
        ("time to 50% adoption", _fmt(summary["time_to_50"], unit=" months") if not math.isnan(summary["time_to_50"]) else "not reached"),
        ("mean fidelity among adopters", _fmt(summary["mean_fidelity"])),
        ("abandonment (of sites that ever adopted)", _fmt(summary["abandonment"], pct=True)),
        ("equity gap in reach between groups", _fmt(summary["equity_gap"], pct=True)),
        ("support used / per sustained site", f"{_fmt(summary['support_used'])} / {_fmt(summary['cost_per_sustained_site'])}"),
    ]
    print(f"{n_sites:,} sites, {months} months", file=file)
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"  {k:<{width}}  {v}", file=file)


def _overrides(args) -> dict:
    from .scenario import parse_set

    ov = parse_set(args.set or [])
    if getattr(args, "months", None) is not None:
        ov["months"] = args.months
    return ov


def cmd_run(args) -> int:
    from .runner import run
    from .scenario import load_scenario

    sc = load_scenario(args.scenario, overrides=_overrides(args))
    out = Path(args.out) if args.out else Path("results") / Path(args.scenario).stem
    result = run(sc, seed=args.seed)
    if not args.quiet:
        print(f"{sc.name}: {Path(args.scenario)} (seed {result.seed})")
        print_summary(result.summary, result.model.N, sc.months)
    result.save(out, plot=not args.no_plot)
    if not args.quiet:
        print(f"wrote {out}/: timeseries.csv, sites.csv, manifest.json" + ("" if args.no_plot else ", adoption.png"))
    return 0


def cmd_validate(args) -> int:
    from .model import SpreadModel
    from .scenario import load_scenario

    sc = load_scenario(args.scenario, overrides=_overrides(args))
    # building the model checks what only the data can tell: files, ids, seeding
    SpreadModel(sc, sc.seed, agents=False)
    print(f"{args.scenario}: valid ({sc.name})")
    return 0


def cmd_bench(args) -> int:
    from .bench import main as bench_main

    return bench_main(args)


def add_scenario_args(p: argparse.ArgumentParser, months: bool = True) -> None:
    """Arguments shared by the commands that take a scenario."""
    p.add_argument("scenario", help="scenario YAML file")
    p.add_argument("--set", action="append", metavar="KEY.PATH=VALUE",
                   help="override a scenario value (YAML scalar or list); repeatable")
    if months:
        p.add_argument("--months", type=int, help="override the number of months")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="spreadsim", description="Simulate how an innovation spreads and scales across sites.")
    parser.add_argument("--version", action="version", version=f"spreadsim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("run", help="run a scenario once and write its results")
    add_scenario_args(p)
    p.add_argument("--seed", type=int, help="seed (default: the scenario's)")
    p.add_argument("--out", help="output folder (default: results/<scenario name>)")
    p.add_argument("--no-plot", action="store_true", help="skip adoption.png")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("validate", help="check a scenario file and list every problem")
    add_scenario_args(p)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("bench", help="measure speed and memory on standard configurations")
    p.add_argument("--only", help="comma-separated configuration names (default: all)")
    p.add_argument("--list", action="store_true", help="list the configurations and exit")
    p.add_argument("--repeat", type=int, default=1, help="repeat each configuration, report the best")
    p.set_defaults(func=cmd_bench)

    for register in _extra_commands():
        register(sub)
    return parser


def _extra_commands():
    """Subcommands defined beside their features (experiments, sensitivity, app, calibration)."""
    from . import commands

    return commands.REGISTRY


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args) or 0
    except InputError as err:
        for p in err.problems:
            print(f"error: {p}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        return 0


if __name__ == "__main__":
    sys.exit(main())
