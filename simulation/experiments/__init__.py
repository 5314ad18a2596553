"""Experiments: replicates, strategy comparisons on common random numbers, and parallel or
distributed runs whose results survive interruption.

Python::

    from simulation.experiments import compare, run_many, execute, RunSpec, load_results
    res = compare("scenarios/strategies/demo_strategies.yaml", replicates=50, out="results/cmp")
    res.table(), res.differences(), res.ensemble(), res.plot(), res.plot_differences()

Command line: ``spreadsim ensemble SCENARIO --replicates 100`` and ``spreadsim compare SCENARIO
--replicates 50``; see :mod:`simulation.experiments.cli`.
"""

from .core import (
                   EXECUTORS,
                   RunSpec,
                   compare,
                   default_workers,
                   execute,
                   overrides_hash,
                   replicate_seed,
                   resolve_strategies,
                   run_id,
                   run_many,
                   shutdown_pool,
)
from .result import ENSEMBLE_COLUMNS, TABLE_METRICS, ExperimentResult, load_results, t_interval

__all__ = [
                   "ENSEMBLE_COLUMNS",
                   "EXECUTORS",
                   "TABLE_METRICS",
                   "ExperimentResult",
                   "RunSpec",
                   "compare",
                   "default_workers",
                   "execute",
                   "load_results",
                   "overrides_hash",
                   "replicate_seed",
                   "resolve_strategies",
                   "run_id",
                   "run_many",
                   "shutdown_pool",
                   "t_interval",
]
