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
from .limits import MAX_INT, MAX_SEED

EXIT_INPUT = 2
EXIT_FAILED = 1
#: how runs are executed, for every command that runs many
EXECUTORS = ("serial", "processes", "dask")
EXECUTOR_HELP = ("serial (one after another), processes (a pool over all cores; the default) or dask "
                 "(the cluster at --scheduler, else a local one)")


# ------------------------------------------------------------------------------ option types
def whole(text: str, lo: int = 0, hi: int = MAX_INT) -> int:
    """A whole number from ``lo`` to ``hi`` (an argparse type)."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if v < lo:
        raise argparse.ArgumentTypeError(f"must be at least {lo:,} (got {v:,})")
    if v > hi:
        raise argparse.ArgumentTypeError(f"must be at most {hi:,} (got {v:,})")
    return v


def positive(text: str) -> int:
    """A whole number of at least 1."""
    return whole(text, 1)


def seed(text: str) -> int:
    """A seed: a whole number from 0 to 2**63 - 1."""
    return whole(text, 0, MAX_SEED)


def number(text: str) -> float:
    """A finite number."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"must be a finite number (got {text})")
    return v


positive.__name__ = "positive"
seed.__name__ = "seed"


# ---------------------------------------------------------------------------- shared options
def add_scenario_args(p: argparse.ArgumentParser, months: bool = True, optional: bool = False,
                      help: str = "scenario YAML file") -> None:
    """The scenario file, ``--set`` and ``--months``."""
    p.add_argument("scenario", nargs="?" if optional else None, help=help)
    p.add_argument("--set", action="append", metavar="KEY.PATH=VALUE",
                   help="override a scenario value (a YAML value; a mapping is merged into its section); repeatable")
    if months:
        p.add_argument("--months", type=positive, help="override the number of months simulated")


def add_out_args(p: argparse.ArgumentParser, default: str, *, resume: bool = False, required: bool = False) -> None:
    """``--out`` and how an earlier output there is treated: ``--force`` (replace it) or, for
    commands that continue an interrupted run, ``--resume`` (default) / ``--fresh``."""
    p.add_argument("--out", metavar="FOLDER", required=required,
                   help=f"output folder (default: {default}); it must be new, empty or an earlier spreadsim output"
                   if default else "output folder; it must be new, empty or an earlier spreadsim output")
    if resume:
        g = p.add_mutually_exclusive_group()
        g.add_argument("--resume", dest="resume", action="store_true", default=True,
                       help="continue the runs stored in --out by this command, run only what is missing "
                            "(the default)")
        g.add_argument("--fresh", dest="resume", action="store_false",
                       help="discard what --out holds from an earlier spreadsim command and start again")
        g.add_argument("--no-resume", dest="resume", action="store_false", help=argparse.SUPPRESS)
    else:
        p.add_argument("--force", action="store_true",
                       help="replace an earlier spreadsim output in --out (never a folder spreadsim did not write)")


def add_seed_arg(p: argparse.ArgumentParser, help: str = "base seed (default: the scenario's seed)") -> None:
    p.add_argument("--seed", type=seed, help=help)


def add_replicates_arg(p: argparse.ArgumentParser, default: int | None, what: str = "runs per strategy") -> None:
    shown = f"default {default}" if default is not None else "default: the section's, else 4"
    p.add_argument("--replicates", "-n", type=positive, default=default, help=f"{what} ({shown})")


def add_executor_args(p: argparse.ArgumentParser, *, chunk: bool = True, help: str = EXECUTOR_HELP) -> None:
    """``--executor``, ``--workers``, ``--scheduler`` (and ``--chunk-size``)."""
    p.add_argument("--executor", choices=EXECUTORS, help=help)
    p.add_argument("--workers", type=positive, help="processes, or workers of a local Dask cluster (default: all cores)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="Dask scheduler address, e.g. tcp://host:8786 (implies --executor dask)")
    if chunk:
        p.add_argument("--chunk-size", type=positive, help="runs per task and per stored chunk (default: automatic)")


def executor_of(args) -> str:
    """The executor asked for: ``--executor``, else dask with ``--scheduler``, else processes."""
    executor = args.executor or ("dask" if getattr(args, "scheduler", None) else "processes")
    if getattr(args, "scheduler", None) and executor != "dask":
        raise InputError(Problem("--scheduler", "", f"needs --executor dask (got --executor {executor})"))
    return executor


def add_strategies_arg(p: argparse.ArgumentParser, default: str = "all") -> None:
    p.add_argument("--strategies", metavar="NAME,NAME",
                   help="strategies of the scenario's strategies: section to run, comma-separated; "
                        f"'baseline' is the scenario as written (default: {default})")


def add_quiet_args(p: argparse.ArgumentParser, plot: str = "the figures") -> None:
    p.add_argument("--no-plot", action="store_true", help=f"skip {plot}")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors and warnings")


def csv_list(text: str | None) -> list[str] | None:
    """``"a, b,c"`` as ``["a", "b", "c"]`` (None stays None)."""
    if text is None:
        return None
    return [s.strip() for s in text.split(",") if s.strip()]


def load(args, *, months: bool = True):
    """The scenario named on the command line, with ``--set`` and ``--months`` applied (a problem
    they cause is reported under the option, not the file)."""
    from .scenario import load_scenario, parse_set

    ov = parse_set(args.set or [])
    origins = {}
    if months and getattr(args, "months", None) is not None:
        ov["months"] = args.months
        origins["months"] = ("--months", "")
    return load_scenario(args.scenario, overrides=ov, origins=origins, label="--set")


# ------------------------------------------------------------------------------ run, validate
def _fmt(v: float, pct: bool = False, unit: str = "") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return f"{v:.1%}" if pct else f"{v:,.4g}{unit}"


def print_summary(summary: dict, n_sites: int, months: int, file=None, groups=None, notes=None) -> None:
    """The run's outcomes in words (and, with ``groups``, one line per group of sites; ``notes``:
    why some outputs are not applicable)."""
    file = file or sys.stdout
    attributable = summary.get("attributable_benefit", float("nan"))
    rows = [
        ("adopted share (initial + full)", _fmt(summary["adopted_share"], pct=True)),
        ("reach (people served, initial counted in part)", f"{summary['reach']:,.0f} ({_fmt(summary['reach_share'], pct=True)})"),
        ("benefit / attributable to the programme", f"{_fmt(summary['benefit'])} / "
         + (_fmt(attributable) if not math.isnan(attributable) else "n/a (no counterfactual arm)")
         + " people-equivalents"),
        ("programme's sites delivering when funding ended", _fmt(summary["funding_end_cohort"])),
        ("  of them delivering / in full 12 months on", f"{_fmt(summary['sustained_delivering_12'], pct=True)} / "
                                                        f"{_fmt(summary['sustained_full_12'], pct=True)}"),
        ("  of them delivering / in full 24 months on", f"{_fmt(summary['sustained_delivering_24'], pct=True)} / "
                                                        f"{_fmt(summary['sustained_full_24'], pct=True)}"),
        ("of sites that started: competent / delivering 2 years on", f"{_fmt(summary['competence_rate'], pct=True)} / "
                                                                      f"{_fmt(summary['sustained_startup'], pct=True)}"),
        ("time to 50% adoption", _fmt(summary["time_to_50"], unit=" months") if not math.isnan(summary["time_to_50"]) else "not reached"),
        ("mean fidelity among adopters", _fmt(summary["mean_fidelity"])),
        ("abandonment (of sites that ever adopted)", _fmt(summary["abandonment"], pct=True)),
        ("equity gap in reach between groups", _fmt(summary["equity_gap"], pct=True)),
        ("support used / per sustained site", f"{_fmt(summary['support_used'])} / {_fmt(summary['cost_per_sustained_site'])}"
                                              " support units"),
        ("local cost (trainers after funding, onboarding)", _fmt(summary["local_cost"]) + " support units"),
        ("total cost (programme + local)", _fmt(summary["total_cost"]) + " support units"),
    ]
    print(f"{n_sites:,} sites, {months} months", file=file)
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"  {k:<{width}}  {v}", file=file)
    for note in notes or ():
        print(f"  note: {note}", file=file)
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
        print_summary(result.summary, result.model.N, sc.months, groups=result.groups, notes=result.notes)
        print(f"wrote {out}/: timeseries.csv, sites.csv, groups.csv, manifest.json"
              + (", site_history.parquet" if args.site_history else "") + ("" if args.no_plot else ", adoption.png"))
    return 0


def validate_scenario(sc) -> list[str]:
    """Check everything about a scenario that can be checked without running it: the model can be
    built (files, ids, seeding, memory), and the ``sensitivity:`` and ``calibration:`` sections
    (with the observed data they name). Returns what was checked; raises InputError listing every
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
                                   "and site files, seeding, memory, and the sensitivity: and calibration: "
                                   "sections with their data. Lists every problem; exit code 2 if any.")
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
