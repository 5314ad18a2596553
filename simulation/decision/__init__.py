"""Deciding under deep uncertainty: which strategy is robust, where it fails, what to learn first.

Python::

    from simulation import decision
    exp = decision.explore("scenarios/strategies/demo_strategies.yaml", samples=50, replicates=5,
                           out="results/demo_explore")          # or decision.load("results/demo_explore")
    exp = decision.load("results/demo_explore")
    exp.table                      # one row per future x strategy x replicate (pandas)
    exp.cube()                     # xarray Dataset: sample x strategy x replicate
    decision.robust(exp, "adopted_share", satisfice="adopted_share >= 0.5").report()
    decision.discover(exp, "baseline", "adopted_share < 0.3").sentence
    decision.voi(exp, "attributable_benefit_years").table
    decision.optimise("scenarios/strategies/demo_strategies.yaml", budget=3000, out="results/demo_opt")

Command line: ``spreadsim explore``, ``robust``, ``discover``, ``voi``, ``optimise`` (see
:mod:`simulation.decision.cli`). Names are imported when first used.
"""

from importlib import import_module

_LAZY = {
    "explore": "exploration", "load": "exploration", "from_frame": "exploration", "Exploration": "exploration",
    "robust": "robustness", "RobustResult": "robustness",
    "discover": "discovery", "DiscoverResult": "discovery",
    "voi": "information", "VoiResult": "information",
    "optimise": "optimisation", "OptimiseResult": "optimisation",
    "uncertainties": "spec", "levers": "spec", "parse_expression": "expr",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    mod = import_module(f".{module}", __name__)
    value = getattr(mod, "parse" if name == "parse_expression" else name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
