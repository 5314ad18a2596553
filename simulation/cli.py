"""The ``spreadsim`` command.

Every subcommand turns a user's mistake (:class:`~simulation.errors.InputError`) into one line per
problem on standard error and exit code 2, with no traceback; a failure outside the input
(:class:`~simulation.errors.ExecutionError`, such as a lost Dask scheduler, or a full disk) is one
line and exit code 1. Warnings about settings that have no effect are printed once each, as
``warning: FILE: KEY: message``. Results are written before anything is printed, so output piped
into ``head`` cannot lose them.

The options shared by several subcommands are defined once here (:func:`add_scenario_args`,
:func:`add_out_args`, :func:`add_seed_arg`, :func:`add_replicates_arg`, :func:`add_executor_args`,
:func:`add_strategies_arg`, :func:`add_quiet_args`) so that they read and behave the same
everywhere. Modules are imported only when a command runs: ``spreadsim --help`` takes a fraction
of a second.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import warnings
from pathlib import Path

from .errors import ExecutionError, InputError, InputWarning, Problem

EXIT_INPUT = 2
EXIT_FAILED = 1


# shared options: defined in cli_options (the subcommands import them from there), re-exported here
from .cli_options import (EXECUTOR_HELP, EXECUTORS, add_executor_args, add_out_args, add_quiet_args,  # noqa: E402,F401
                          add_replicates_arg, add_scenario_args, add_seed_arg, add_strategies_arg, csv_list,
                          executor_of, load, number, positive, seed, whole)


# ------------------------------------------------------------------------------ run, validate
def _fmt(v: float, pct: bool = False, unit: str = "") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return f"{v:.1%}" if pct else f"{v:,.4g}{unit}"


def print_summary(summary: dict, n_sites: int, months: int, file=None, groups=None) -> None:
    """The run's outcomes in words (and, with ``groups``, one line per group of sites)."""
    file = file or sys.stdout
    attributable = summary.get("attributable_benefit", float("nan"))
    rows = [
        ("adopted share (initial + full)", _fmt(summary["adopted_share"], pct=True)),
        ("reach (people served, initial counted in part)", f"{summary['reach']:,.0f} ({_fmt(summary['reach_share'], pct=True)})"),
        ("benefit / attributable to the programme", f"{_fmt(summary['benefit'])} / "
         + (_fmt(attributable) if not math.isnan(attributable) else "n/a (no counterfactual arm)")
         + " people-equivalents"),
        ("sustainment (full sites still full 24 months on)", _fmt(summary["sustainment"], pct=True)),
        ("of sites that started: competent / delivering 2 years on", f"{_fmt(summary['competence_rate'], pct=True)} / "
                                                                      f"{_fmt(summary['sustained_startup'], pct=True)}"),
        ("time to 50% adoption", _fmt(summary["time_to_50"], unit=" months") if not math.isnan(summary["time_to_50"]) else "not reached"),
        ("mean fidelity among adopters", _fmt(summary["mean_fidelity"])),
        ("abandonment (of sites that ever adopted)", _fmt(summary["abandonment"], pct=True)),
        ("equity gap in reach between groups", _fmt(summary["equity_gap"], pct=True)),
        ("support used / per sustained site", f"{_fmt(summary['support_used'])} / {_fmt(summary['cost_per_sustained_site'])}"
                                              " support units"),
        ("local cost (trainers after funding ended)", _fmt(summary["local_cost"]) + " support units"),
    ]
    print(f"{n_sites:,} sites, {months} months", file=file)
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"  {k:<{width}}  {v}", file=file)
    if groups is not None and len(groups) > 1:
        print("  by group: sites, adopted, reach, benefit per 1,000 people", file=file)
        for r in groups.itertuples():
            print(f"    {str(r.group):<{max(12, width - 4)}}  {r.sites:>6,}  {_fmt(r.adopted_share, pct=True):>6}  "
                  f"{_fmt(r.reach_share, pct=True):>6}  {_fmt(r.benefit_per_1000):>8}", file=file)


def cmd_run(args) -> int:
    from .runner import run
    from .safe_io import check_out

    sc = load(args)
    out = Path(args.out) if args.out else Path("results") / Path(args.scenario).stem
    check_out(out, "run", replace=args.force)  # before running: a refused folder costs nothing
    result = run(sc, seed=args.seed, history=args.site_history)
    result.save(out, plot=not args.no_plot, force=args.force)
    if not args.quiet:
        print(f"{sc.name}: {Path(args.scenario)} (seed {result.seed})")
        print_summary(result.summary, result.model.N, sc.months, groups=result.groups)
        print(f"wrote {out}/: timeseries.csv, sites.csv, groups.csv, manifest.json"
              + (", site_history.parquet" if args.site_history else "") + ("" if args.no_plot else ", adoption.png"))
    return 0


def validate_scenario(sc) -> list[str]:
    """Check everything about a scenario that can be checked without running it: the model can be
    built (files, ids, seeding, memory), and the ``sensitivity:``, ``calibration:`` (with the
    observed data they name), ``uncertainties:``, ``levers:`` and ``optimise:`` sections. Returns what was checked; raises InputError listing every
    problem."""
    from .model import SpreadModel

    problems: list[Problem] = []
    checked = ["scenario"]
    try:
        SpreadModel(sc, sc.seed, agents=False)
        checked.append("sites, network and seeding")
    except InputError as err:
        problems += err.problems
    if sc.sensitivity is not None:
        from .sensitivity.spec import parse

        try:
            spec = parse(sc.sensitivity, sc)
            from .limits import check_runs

            check_runs(spec.n_runs(), sc.source, "sensitivity.samples")
            checked.append("sensitivity section")
        except InputError as err:
            problems += err.problems
    if sc.calibration is not None:
        from .calibration.data import load_observed
        from .calibration.spec import calibration_spec

        try:
            spec = calibration_spec(sc)
            checked.append("calibration section")
            if spec.data is not None:
                load_observed(spec.data).select(spec.targets, spec.source)
                checked.append("observed data")
        except InputError as err:
            problems += err.problems
    for section in ("uncertainties", "levers", "optimise"):
        if getattr(sc, section) is not None:
            from .decision import spec as decision_spec

            try:
                {"uncertainties": decision_spec.uncertainties, "levers": decision_spec.levers,
                 "optimise": decision_spec.optimise_spec}[section](sc)
                checked.append(f"{section} section")
            except InputError as err:
                problems += err.problems
    if problems:
        raise InputError(problems)
    return checked


def cmd_validate(args) -> int:
    sc = load(args)
    checked = validate_scenario(sc)
    print(f"{args.scenario}: valid ({sc.name}; checked {', '.join(checked)})")
    return 0


def cmd_bench(args) -> int:
    from .bench import main as bench_main

    return bench_main(args)


# ---------------------------------------------------------------------------------- parser
class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``error: --seed: ...``), exit code 2, like every other error."""

    def error(self, message: str):
        import re

        message = re.sub(r"^argument ([^:]+): ", lambda m: f"{m.group(1).split('/')[0]}: ", message)
        self.exit(EXIT_INPUT, f"error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(prog="spreadsim", description="Simulate how an innovation spreads and scales across sites, "
                     "and compare scale-up strategies.",
                     epilog="Run 'spreadsim COMMAND --help' for a command's options. Bad input gives exit code 2 "
                            "and one line per problem; output folders must be new, empty or an earlier spreadsim "
                            "output (see README, 'Output folders').")
    parser.add_argument("--version", action="version", version=f"spreadsim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("run", help="run a scenario once and write its results",
                       description="Run a scenario once and write its monthly table (timeseries.csv), its sites "
                                   "(sites.csv), its groups (groups.csv), a manifest and a figure of adoption, then "
                                   "print its outcomes.")
    add_scenario_args(p)
    add_seed_arg(p, "the run's seed (default: the scenario's seed)")
    add_out_args(p, "results/<scenario file name>")
    p.add_argument("--site-history", action="store_true",
                   help="also write site_history.parquet: every site's stage, fidelity, competence, capacity, "
                        "support and benefit every month (for survival analysis of stages)")
    add_quiet_args(p, "adoption.png")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("validate", help="check a scenario file and list every problem",
                       description="Check a scenario file without running it: every key and value, the network "
                                   "and site files, seeding, memory, and the sensitivity:, calibration:, uncertainties:, "
                                   "levers: and optimise: sections (with the data they name). Lists every problem; exit code 2 if any.")
    add_scenario_args(p)
    p.set_defaults(func=cmd_validate)

    for register in _extra_commands():
        register(sub)

    p = sub.add_parser("bench", help="measure speed and memory on standard configurations",
                       description="Measure setup and stepping time, site-steps per second and peak memory of "
                                   "standard configurations, each in a fresh process.")
    p.add_argument("--only", help="comma-separated configuration names (default: all)")
    p.add_argument("--list", action="store_true", help="list the configurations and exit")
    p.add_argument("--repeat", type=positive, default=1, help="repeat each configuration, report the best (default 1)")
    p.set_defaults(func=cmd_bench)

    return parser


def _extra_commands():
    """Subcommands defined beside their features (experiments, sensitivity, app, calibration)."""
    from . import commands

    return commands.REGISTRY


# ------------------------------------------------------------------------------------ main
def _warning_printer(seen: set):
    original = warnings.showwarning
    package = str(Path(__file__).resolve().parent)

    def show(message, category, filename, lineno, file=None, line=None):
        ours = issubclass(category, InputWarning) or str(Path(filename).resolve()).startswith(package)
        if not ours:
            return original(message, category, filename, lineno, file, line)
        text = str(message)
        if text not in seen:
            seen.add(text)
            print(f"warning: {text}", file=sys.stderr)

    return show


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help, --version, or a bad option (its message is printed)
        return stop.code if isinstance(stop.code, int) else EXIT_INPUT
    with warnings.catch_warnings():
        warnings.simplefilter("always", InputWarning)
        warnings.showwarning = _warning_printer(set())
        try:
            return args.func(args) or 0
        except InputError as err:
            for p in err.problems:
                print(f"error: {p}", file=sys.stderr)
            return EXIT_INPUT
        except ExecutionError as err:
            print(f"error: {err}", file=sys.stderr)
            return EXIT_FAILED
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:  # output piped into `head` and the like: the results are written already
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
            except (OSError, ValueError):
                pass
            return 0
        except MemoryError:
            print("error: out of memory; use fewer sites, months, replicates or workers", file=sys.stderr)
            return EXIT_FAILED
        except OSError as err:  # the disk filled up, a file vanished while being written...
            where = f"{err.filename}: " if getattr(err, "filename", None) else ""
            reason = os.strerror(err.errno) if err.errno else type(err).__name__
            print(f"error: {where}{reason}", file=sys.stderr)
            return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
