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


#: the run summary fits this many columns (a test checks it)
SUMMARY_WIDTH = 80
#: run-summary rows measured over all sites: (output, label)
_ALL_SITE_ROWS = [("adopted_share", "adopted share (initial + full)"), ("reach", "reach (people served)"),
                  ("benefit", "benefit / attributable"), ("time_to_50", "time to 50% adoption"),
                  ("support_used", "support used (programme)"), ("local_cost", "local cost (trainers after funding)"),
                  ("total_cost", "total cost"), ("cost_per_sustained_site", "support per sustained site")]
#: conditional rows (measured among some of the sites): (output, label); others of SUMMARY_KEYS
#: (model v3's sustained_* shares, say) are added with their label from simulation.labels
_CONDITIONAL_ROWS = [("mean_fidelity", "fidelity, among the {n} delivering"),
                     ("funding_end_cohort", "delivering when funding ended (sites)"),
                     ("sustained_delivering_12", "of them 12 months on: delivering / full"),
                     ("sustained_delivering_24", "of them 24 months on: delivering / full"),
                     ("competence_rate", "of starters: reached full"), ("sustained_startup", "of starters: delivering 2y on"),
                     ("abandonment", "abandonment, of those ever adopted"), ("equity_gap", "equity gap in reach (groups)")]


def _summary_value(key: str, summary: dict) -> str:
    from . import labels

    v = summary.get(key, float("nan"))
    if key == "reach":
        return f"{v:,.0f} ({_fmt(summary.get('reach_share', float('nan')), pct=True)})"
    if key == "benefit":
        att = summary.get("attributable_benefit", float("nan"))
        return f"{_fmt(v)} / " + (_fmt(att) if not math.isnan(att) else "n/a (no counterfactual)") + " people-eq."
    if key in ("sustained_delivering_12", "sustained_delivering_24"):
        full = summary.get(key.replace("delivering", "full"), float("nan"))
        return f"{_fmt(v, pct=True)} / {_fmt(full, pct=True)}"
    if key == "funding_end_cohort":
        return _fmt(v)
    if key == "time_to_50":
        return "not reached" if v is None or math.isnan(v) else _fmt(v, unit=" months")
    if labels.uses_support_units(key) or key in ("total_cost", "cost_per_sustained_site"):
        return _fmt(v) + " support units"
    return _fmt(v, pct=labels.is_share(key))


def summary_lines(summary: dict, n_sites: int, months: int, groups=None, notes=None) -> list[str]:
    """The run's outcomes in words, at most :data:`SUMMARY_WIDTH` columns: first those measured
    over all sites, then those measured among some of them (to be read beside adoption), then
    one line per group of sites. Outputs are taken from the summary itself, so a model that adds
    or drops one changes the lines, not this code."""
    from . import labels
    from .runner import SUMMARY_KEYS

    keys = [k for k in SUMMARY_KEYS if k in summary]
    shown = {"reach_share", "attributable_benefit", "attributable_benefit_years", "sustained_full_12",
             "sustained_full_24"}
    rows_all = [(lab, _summary_value(k, summary)) for k, lab in _ALL_SITE_ROWS if k in summary]
    shown |= {k for k, _ in _ALL_SITE_ROWS}
    if "attributable_benefit_years" in summary and not math.isnan(summary["attributable_benefit_years"]):
        rows_all.insert(3, ("attributable over the run", f"{summary['attributable_benefit_years']:,.0f} person-years"))
    delivering = summary.get("adopted_share", float("nan")) * n_sites
    rows_cond = []
    for k, lab in _CONDITIONAL_ROWS:
        if k in summary:
            n = "n/a" if math.isnan(delivering) else f"{delivering:,.0f}"
            rows_cond.append((lab.format(n=n), _summary_value(k, summary)))
            shown.add(k)
    for k in keys:  # outputs this table does not name yet (model v3's sustained_* shares, say)
        if k not in shown:
            target = rows_cond if labels.kind(k) == "conditional" else rows_all
            target.append((labels.output_label(k)[:36], _summary_value(k, summary)))
    width = max(len(k) for k, _ in rows_all + rows_cond)
    lines = [f"{n_sites:,} sites, {months} months", "  over all the sites:"]
    lines += [f"    {k:<{width}}  {v}" for k, v in rows_all]
    if rows_cond:
        lines.append("  among some of the sites (read beside adoption, never alone):")
        lines += [f"    {k:<{width}}  {v}" for k, v in rows_cond]
    lines += [f"  note: {note}" for note in notes or ()]
    if groups is not None and len(groups) > 1:
        lines.append("  by group: sites, adopted, reach, benefit per 1,000 people")
        for r in groups.itertuples():
            lines.append(f"    {str(r.group)[:24]:<24}  {r.sites:>6,}  {_fmt(r.adopted_share, pct=True):>6}  "
                         f"{_fmt(r.reach_share, pct=True):>6}  {_fmt(r.benefit_per_1000):>8}")
    return [_fit(line) for line in lines]


def _fit(line: str, width: int = SUMMARY_WIDTH) -> str:
    """A line cut to ``width`` columns (continued on an indented line)."""
    import textwrap

    if len(line) <= width:
        return line
    indent = " " * (len(line) - len(line.lstrip()) + 2)
    return "\n".join(textwrap.wrap(line, width, subsequent_indent=indent, break_on_hyphens=False))


def print_summary(summary: dict, n_sites: int, months: int, file=None, groups=None, notes=None) -> None:
    """The run's outcomes in words (and, with ``groups``, one line per group of sites; ``notes``:
    why some outputs are not applicable)."""
    print("\n".join(summary_lines(summary, n_sites, months, groups, notes)), file=file or sys.stdout)


#: outcomes a run is placed among its replicates by (``run --spread``)
SPREAD_OUTPUTS = ("adopted_share", "reach_share", "attributable_benefit_years")


def spread_lines(summary: dict, seed: int, others: list[dict], seconds: float) -> list[str]:
    """Where one run sits among ``others`` (runs of the same scenario with other seeds): their
    mean with its 95% interval, the range of 90% of them, and this run's rank."""
    import numpy as np

    from . import labels
    from .experiments.result import t_interval

    n = len(others)
    lines = [_fit(f"This is one run (seed {seed}), one draw among many. {n} runs of the same scenario with "
                  f"other seeds ({seconds:.1f} s):")]
    for k in SPREAD_OUTPUTS:
        if k not in summary:
            continue
        vals = np.array([o.get(k, np.nan) for o in others], float)
        vals = vals[np.isfinite(vals)]
        if not len(vals) or not np.isfinite(summary[k]):
            continue
        ci = t_interval(vals, 0.95)
        pct = labels.is_share(k)

        def f(v, pct=pct):
            return f"{v:.1%}" if pct else f"{v:,.0f}"

        lo, hi = np.quantile(vals, [0.05, 0.95])
        below = int(np.sum(vals < summary[k]))
        lines.append(_fit(f"  {labels.output_label(k)}: mean {f(ci['mean'])} [95% CI {f(ci['ci_low'])}, "
                          f"{f(ci['ci_high'])}], 90% of runs {f(lo)} to {f(hi)}; this run {f(summary[k])}, "
                          f"above {below} of {len(vals)}", SUMMARY_WIDTH))
    return lines


def cmd_run(args) -> int:
    from .runner import run
    from .safe_io import check_out

    sc = load(args)
    out = Path(args.out) if args.out else Path("results") / Path(args.scenario).stem
    check_out(out, "run", replace=args.force)  # before running: a refused folder costs nothing
    if args.spread is not None and not (0 <= args.spread <= SPREAD_MAX):
        raise InputError(Problem("--spread", str(args.spread), f"must be a whole number from 0 to {SPREAD_MAX:,}"))
    result = run(sc, seed=args.seed, history=args.site_history)
    result.save(out, plot=not args.no_plot, force=args.force)
    if not args.quiet:
        print(_fit(f"{sc.name}: {Path(args.scenario)} (seed {result.seed})"))
        print_summary(result.summary, result.model.N, sc.months, groups=result.groups, notes=result.notes)
        if args.spread:
            print("\n".join(spread_lines(result.summary, result.seed, *_spread(sc, result.seed, args.spread))))
        else:
            print(_fit("This is one run, one draw among many: --spread 100 places it among 100 runs of the same "
                       "scenario, and spreadsim ensemble gives their table."))
        print(_fit(f"wrote {out}/: timeseries.csv, sites.csv, groups.csv, manifest.json"
                   + (", site_history.parquet" if args.site_history else "") + ("" if args.no_plot else ", adoption.png")))
    return 0


#: most replicates ``run --spread`` runs
SPREAD_MAX = 2_000


def _spread(sc, seed: int, n: int) -> tuple[list[dict], float]:
    """``n`` runs of a scenario with the seeds ``spreadsim ensemble --seed SEED`` uses (batched as
    it runs them, with a progress bar), and the seconds they took."""
    import time

    from tqdm.auto import tqdm

    from .experiments.core import BATCH_SITES, replicate_seed
    from .runner import run_batch

    t0 = time.perf_counter()
    seeds = [replicate_seed(seed, r) for r in range(n)]
    size = max(1, min(50, BATCH_SITES // max(1, sc.sites.n)))
    out: list[dict] = []
    with tqdm(total=n, unit="run", desc="spread", dynamic_ncols=True, leave=False) as bar:
        for k in range(0, n, size):
            out += [r.summary for r in run_batch(sc, seeds[k:k + size], sites=False)]
            bar.update(len(seeds[k:k + size]))
    return out, time.perf_counter() - t0


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
                load_observed(spec.data, sc.months).select(spec.targets, spec.source)
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
    p.add_argument("--spread", type=int, default=None, metavar="N",
                   help="also run N replicates of the same scenario (other seeds, batched, as spreadsim ensemble "
                        "runs them) and say where this run sits among them: a single run is one draw")
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
