"""``spreadsim calibrate`` and ``spreadsim forecast``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import InputError, Problem

EXECUTOR_HELP = ("serial (reproducible bit for bit), processes (all cores; default) or dask "
                 "(--scheduler ADDRESS, else a local cluster)")


def _client(args):
    if args.executor != "dask" or not getattr(args, "scheduler", None):
        return None
    from dask.distributed import Client

    try:
        return Client(args.scheduler, timeout="10s")
    except (OSError, TimeoutError) as err:
        raise InputError(Problem("--scheduler", args.scheduler, f"cannot reach the Dask scheduler: {err}")) from None


def _positive(name: str, v):
    if v is not None and v < 1:
        raise InputError(Problem(name, "", f"must be at least 1 (got {v})"))


def cmd_calibrate(args) -> int:
    from ..cli import _overrides
    from ..scenario import load_scenario
    from .core import calibrate
    from .spec import parse_param_option

    sc = load_scenario(args.scenario, overrides=_overrides(args))
    params = dict(parse_param_option(p) for p in args.param) if args.param else None
    for name in ("population", "generations", "trials", "replicates", "workers", "draws", "max_simulations"):
        _positive("--" + name.replace("_", "-"), getattr(args, name))
    if args.data is not None and not Path(args.data).exists():
        raise InputError(Problem(args.data, "", "file not found (--data)"))
    client = _client(args)
    try:
        cal = calibrate(sc, args.data, params=params, method=args.method, executor=args.executor, workers=args.workers,
                        client=client, seed=args.seed, progress=not args.quiet, targets=args.targets,
                        holdout=args.holdout, draws=args.draws, population=args.population,
                        generations=args.generations, max_simulations=args.max_simulations,
                        max_minutes=args.max_minutes, min_acceptance=args.min_acceptance, trials=args.trials, replicates=args.replicates)
        out = Path(args.out)
        cal.save(out, plots=not args.no_plot, progress=not args.quiet, executor=args.executor, workers=args.workers,
                 client=client)
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
    from ..cli import _overrides
    from ..scenario import load_scenario
    from .forecast import forecast

    sc = load_scenario(args.scenario, overrides=_overrides(args)) if args.scenario else None
    _positive("--draws", args.draws)
    _positive("--workers", args.workers)
    client = _client(args)
    try:
        fc = forecast(sc, args.posterior, months=args.months, strategies=args.strategies, draws=args.draws,
                      seed=args.seed, executor=args.executor, workers=args.workers, client=client,
                      progress=not args.quiet)
    finally:
        if client is not None:
            client.close()
    out = Path(args.out) if args.out else Path(args.posterior) / "forecast"
    fc.save(out, plots=not args.no_plot)
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
    p = sub.add_parser("calibrate", help="fit unknown scenario values to observed roll-out data (ABC-SMC or optimiser)",
                       description="Fit the unknown values declared in the scenario's calibration: section (or with "
                                   "--param) to observed data: a CSV of counts (month plus series such as adopted, "
                                   "full) or a site table (site, adoption_month).")
    p.add_argument("scenario", help="scenario YAML file")
    p.add_argument("--set", action="append", metavar="KEY.PATH=VALUE", help="override a known scenario value; repeatable")
    p.add_argument("--data", help="observed data CSV (default: the scenario's calibration.data)")
    p.add_argument("--param", action="append", metavar="PATH=LOW:HIGH",
                   help="an unknown value and its prior: PATH=LOW:HIGH (uniform), PATH=loguniform:LOW:HIGH or "
                        "PATH={dist: normal, mean: M, sd: S, low: L, high: H}; repeatable; replaces the section's")
    p.add_argument("--method", choices=("abc", "optimize"), help="abc: ABC-SMC posterior (default); optimize: Optuna point estimate")
    p.add_argument("--targets", help="comma-separated series to fit (default: every data column the model makes)")
    p.add_argument("--holdout", type=int, help="months at the end of the data kept out of the fit, to check the forecast")
    p.add_argument("--population", type=int, help="ABC particles per generation (default 200)")
    p.add_argument("--generations", type=int, help="ABC generations at most (default 8)")
    p.add_argument("--max-simulations", type=int, help="stop ABC after this many simulations (default 50,000)")
    p.add_argument("--max-minutes", type=float, help="stop ABC after this wall time")
    p.add_argument("--min-acceptance", type=float,
                   help="stop ABC when a generation accepts fewer than this share of proposals (default 0.05)")
    p.add_argument("--trials", type=int, help="optimize: trials (default 60)")
    p.add_argument("--replicates", type=int, help="optimize: model runs per trial (default 5)")
    p.add_argument("--draws", type=int, help="posterior predictive runs for the fit figure and checks (default 100)")
    p.add_argument("--seed", type=int, help="calibration seed (default: the section's, else the scenario's)")
    p.add_argument("--executor", choices=("serial", "processes", "dask"), default="processes", help=EXECUTOR_HELP)
    p.add_argument("--workers", type=int, help="processes for --executor processes (default: all cores)")
    p.add_argument("--scheduler", help="Dask scheduler address (tcp://host:port) for --executor dask")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--no-plot", action="store_true", help="skip fit.png and marginals.png")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser("forecast", help="posterior predictive forecast per strategy from a calibration",
                       description="Continue the calibrated runs from the last fitted month under the baseline and "
                                   "each strategy (the scenario's strategies: section), with posterior predictive bands.")
    p.add_argument("scenario", nargs="?", help="scenario YAML file with strategies (default: the calibrated one)")
    p.add_argument("--set", action="append", metavar="KEY.PATH=VALUE", help="override a scenario value; repeatable")
    p.add_argument("--posterior", required=True, help="folder written by spreadsim calibrate")
    p.add_argument("--months", type=int, help="forecast horizon (default: the scenario's months)")
    p.add_argument("--strategies", help="comma-separated strategy names (default: all)")
    p.add_argument("--draws", type=int, default=200, help="posterior draws per strategy (default 200)")
    p.add_argument("--seed", type=int, help="seed of the draws (default: the calibration's)")
    p.add_argument("--executor", choices=("serial", "processes", "dask"), default="processes", help=EXECUTOR_HELP)
    p.add_argument("--workers", type=int, help="processes for --executor processes")
    p.add_argument("--scheduler", help="Dask scheduler address for --executor dask")
    p.add_argument("--out", help="output folder (default: POSTERIOR/forecast)")
    p.add_argument("--no-plot", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_forecast)
