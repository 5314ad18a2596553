"""``spreadsim calibrate`` and ``spreadsim forecast``.

Everything is checked (the section, the options, the data, the folder, the scheduler) before
anything runs; the results are written (atomically: a hidden folder renamed into place) before
anything is printed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import InputError, Problem

EXECUTOR_HELP = ("serial (reproducible bit for bit), processes (all cores; the default) or dask "
                 "(the cluster at --scheduler, else a local one)")


def _client(args, executor: str):
    if executor != "dask" or not getattr(args, "scheduler", None):
        return None
    from dask.distributed import Client

    try:
        return Client(args.scheduler, timeout="10s")
    except (OSError, TimeoutError, ValueError) as err:
        raise InputError(Problem("--scheduler", args.scheduler, f"cannot reach the Dask scheduler ({type(err).__name__}); "
                                 "is it running, and is the address right?")) from None


def cmd_calibrate(args) -> int:
    from ..cli_options import executor_of, load
    from ..safe_io import check_out
    from .entry import calibrate
    from .spec import parse_param_option

    sc = load(args, months=False)
    if args.min_acceptance is not None and not 0 < args.min_acceptance <= 1:
        raise InputError(Problem("--min-acceptance", "", f"is a share of proposals: it must lie in (0, 1] "
                                                         f"(got {args.min_acceptance:g})"))
    params = dict(parse_param_option(p) for p in args.param) if args.param else None
    executor = executor_of(args)
    out = Path(args.out) if args.out else Path("results") / f"{Path(args.scenario).stem}-calibration"
    if args.data is not None:
        from ..limits import MAX_OBSERVED_BYTES
        from ..safe_io import read_capped

        read_capped(args.data, MAX_OBSERVED_BYTES, "data file", field="--data")
    check_out(out, "calibration", replace=args.force)
    client = _client(args, executor)
    try:
        cal = calibrate(sc, args.data, params=params, method=args.method, executor=executor, workers=args.workers,
                        client=client, seed=args.seed, progress=not args.quiet, targets=args.targets,
                        holdout=args.holdout, draws=args.draws, population=args.population,
                        generations=args.generations, max_simulations=args.max_simulations,
                        max_minutes=args.max_minutes, min_acceptance=args.min_acceptance, trials=args.trials,
                        replicates=args.replicates)
        cal.save(out, plots=not args.no_plot, progress=not args.quiet, executor=executor, workers=args.workers,
                 client=client, force=args.force)
    finally:
        if client is not None:
            client.close()
    if getattr(cal, "is_patterns", False):  # fitted to published patterns, not to data
        if not args.quiet:
            print(cal.summary_text())
            print(f"wrote {out}/: posterior.csv, intervals.csv, populations.csv, patterns.csv, calibration.json, "
                  f"summary.txt" + ("" if args.no_plot else ", marginals.png"))
        return 0
    if not args.quiet:
        print(cal.summary_text())
        chk = cal.check()
        print(f"posterior predictive check: {chk['fit_coverage90']:.0%} of observed values inside the 90% band, "
              f"p-value {chk['ppp']:.2f}" + (f"; held-out months: distance {chk['holdout_distance']:.4g}, "
                                              f"{chk['holdout_coverage90']:.0%} inside the 90% band"
                                              if chk["holdout_distance"] == chk["holdout_distance"] else ""))
        print(f"wrote {out}/: posterior.csv, posterior.parquet, intervals.csv, populations.csv, predictive.csv, "
              f"check.json, calibration.json, summary.txt" + ("" if args.no_plot else ", fit.png, marginals.png"))
    return 0


def cmd_forecast(args) -> int:
    from ..cli_options import csv_list, executor_of, load
    from ..safe_io import check_out
    from .forecast import forecast

    sc = load(args, months=False) if args.scenario else None
    executor = executor_of(args)
    out = Path(args.out) if args.out else Path(args.posterior) / "forecast"
    check_out(out, "forecast", replace=args.force)
    client = _client(args, executor)
    try:
        fc = forecast(sc, args.posterior, months=args.months, strategies=csv_list(args.strategies), draws=args.draws,
                      seed=args.seed, executor=executor, workers=args.workers, client=client,
                      progress=not args.quiet)
    finally:
        if client is not None:
            client.close()
    fc.save(out, plots=not args.no_plot, force=args.force)
    if not args.quiet:
        print(fc.text())
        print(f"wrote {out}/: bands.csv, bands.parquet, runs.csv, runs.parquet, table.csv, forecast.json"
              + ("" if args.no_plot else ", forecast_*.png"))
    if fc.replay_mismatch:
        print(f"warning: {fc.replay_mismatch} replayed runs differ from the accepted ones; the model changed since "
              f"the calibration: calibrate again", file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``calibrate`` and ``forecast`` to the ``spreadsim`` command."""
    from ..cli_options import (add_executor_args, add_out_args, add_quiet_args, add_scenario_args, add_seed_arg,
                       add_strategies_arg, number, positive, whole)

    def executor_args(p):
        add_executor_args(p, chunk=False, help=EXECUTOR_HELP)

    p = sub.add_parser("calibrate", help="fit unknown scenario values to observed roll-out data (ABC-SMC or optimiser)",
                       description="Fit the unknown values declared in the scenario's calibration: section (or with "
                                   "--param) to observed data: a CSV of counts (month plus series such as adopted, "
                                   "full) or a site table (site, adoption_month).")
    add_scenario_args(p, months=False)
    p.add_argument("--data", metavar="FILE", help="observed data CSV (default: the scenario's calibration.data)")
    p.add_argument("--param", action="append", metavar="PATH=LOW:HIGH",
                   help="an unknown value and its prior: PATH=LOW:HIGH (uniform), PATH=loguniform:LOW:HIGH or "
                        "PATH={dist: normal, mean: M, sd: S, low: L, high: H}; repeatable; replaces the section's")
    p.add_argument("--method", choices=("abc", "optimize"), help="abc: ABC-SMC posterior (default); optimize: Optuna point estimate")
    p.add_argument("--targets", metavar="NAME,NAME", help="comma-separated series to fit (default: every data column the model makes)")
    p.add_argument("--holdout", type=whole, help="months at the end of the data kept out of the fit, to check the forecast")
    p.add_argument("--population", type=positive, help="ABC particles per generation (default 200)")
    p.add_argument("--generations", type=positive, help="ABC generations at most (default 8)")
    p.add_argument("--max-simulations", type=positive, help="stop ABC after this many simulations (default 50,000)")
    p.add_argument("--max-minutes", type=number, help="stop ABC after this wall time, in minutes")
    p.add_argument("--min-acceptance", type=number,
                   help="stop ABC when a generation accepts fewer than this share of proposals (default 0.05)")
    p.add_argument("--trials", type=positive, help="optimize: trials (default 60)")
    p.add_argument("--replicates", "-n", type=positive, help="optimize: model runs per trial (default 5)")
    p.add_argument("--draws", type=positive, help="posterior predictive runs for the fit figure and checks (default 100)")
    add_seed_arg(p, "calibration seed (default: the section's, else the scenario's)")
    executor_args(p)
    add_out_args(p, "results/<scenario file name>-calibration")
    add_quiet_args(p, "fit.png and marginals.png")
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser("forecast", help="posterior predictive forecast per strategy from a calibration",
                       description="Continue the calibrated runs from the last fitted month under the baseline and "
                                   "each strategy (the scenario's strategies: section), with posterior predictive bands.")
    add_scenario_args(p, months=False, optional=True,
                      help="scenario YAML file with the strategies to forecast (default: the calibrated one)")
    p.add_argument("--posterior", metavar="FOLDER", required=True, help="folder written by spreadsim calibrate")
    p.add_argument("--months", type=positive, help="forecast horizon (default: the scenario's months)")
    add_strategies_arg(p)
    p.add_argument("--draws", type=positive, default=200, help="posterior draws per strategy (default 200)")
    add_seed_arg(p, "seed of the draws (default: the calibration's)")
    executor_args(p)
    add_out_args(p, "POSTERIOR/forecast")
    add_quiet_args(p, "the forecast figures")
    p.set_defaults(func=cmd_forecast)
