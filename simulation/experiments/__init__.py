"""Experiments: replicates, strategy comparisons on common random numbers, and parallel or
distributed runs whose results survive interruption.

Python::

    from simulation.experiments import compare, run_many, execute, RunSpec, load_results
    res = compare("scenarios/strategies/demo_strategies.yaml", replicates=50, out="results/cmp")
    res.table(), res.differences(), res.ensemble(), res.plot(), res.plot_differences()

Command line: ``spreadsim ensemble SCENARIO --replicates 100`` and ``spreadsim compare SCENARIO
--replicates 50``; see :mod:`simulation.experiments.cli`. Names are imported when first used (the
command line's ``--help`` does not load numpy and pyarrow).
"""

from importlib import import_module

_LAZY = {
    **dict.fromkeys(["EXECUTORS", "RunSpec", "compare", "default_workers", "execute", "overrides_hash",
                     "replicate_seed", "resolve_strategies", "run_id", "run_many", "shutdown_pool"], "core"),
    **dict.fromkeys(["ENSEMBLE_COLUMNS", "TABLE_METRICS", "ExperimentResult", "load_results", "t_interval"], "result"),
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
