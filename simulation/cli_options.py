"""The options shared by several ``spreadsim`` subcommands, defined once so that they read and
behave the same everywhere (:func:`add_scenario_args`, :func:`add_out_args`, :func:`add_seed_arg`,
:func:`add_replicates_arg`, :func:`add_executor_args`, :func:`add_strategies_arg`,
:func:`add_quiet_args`), their argparse types, and :func:`load` (the scenario named on the command
line). The subcommands' modules import these from here, not from :mod:`simulation.cli`, so that
no module imports the command that imports it. Light: no numpy or model at import.
"""

from __future__ import annotations

import argparse
import math

from .errors import InputError, Problem
from .limits import MAX_INT, MAX_SEED

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


#: an experiment with less work than this (site-months over all its runs, counterfactual arms
#: included) runs serially unless ``--executor`` says otherwise: starting the pool costs about a
#: second (each worker imports the model), more than the second core saves on so little work
SERIAL_WORK = 2_000_000

#: ``--executor`` help of the commands that choose serial for little work
EXECUTOR_HELP_SMALL = ("serial (one after another), processes (a pool over all cores; the default, but serial "
                       f"for experiments of under {SERIAL_WORK:,} site-months, which the pool's start-up would "
                       "slow down) or dask (the cluster at --scheduler, else a local one)")


def executor_of(args, work: float | None = None) -> str:
    """The executor asked for: ``--executor``, else dask with ``--scheduler``, else serial when
    ``work`` (the experiment's site-months, when known) is under :data:`SERIAL_WORK`, else processes."""
    small = work is not None and work < SERIAL_WORK and not getattr(args, "workers", None)
    executor = args.executor or ("dask" if getattr(args, "scheduler", None) else "serial" if small else "processes")
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
