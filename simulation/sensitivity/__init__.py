"""Global sensitivity analysis (SALib) and one-at-a-time sweeps, across scale-up strategies.

From Python::

    from simulation.sensitivity import Sensitivity, sweep
    sa = Sensitivity("scenarios/strategies/demo_sensitivity.yaml", samples=64, replicates=2).run()
    sa.indices, sa.noise, sa.convergence, sa.wins, sa.plot()

From the command line: ``spreadsim sensitivity SCENARIO ...`` and ``spreadsim sweep SCENARIO ...``.
The ``sensitivity:`` section of a scenario is described in :mod:`simulation.sensitivity.spec`.
Names are imported when first used (the command line's ``--help`` does not load SALib).
"""

import sys
import types
from importlib import import_module

_LAZY = {
    **dict.fromkeys(["Sensitivity", "Evaluator"], "core"),
    **dict.fromkeys(["BASELINE", "Output", "Parameter", "SensitivitySpec", "parse", "replicate_seeds"], "spec"),
    **dict.fromkeys(["SweepResult", "parse_param", "sweep"], "sweep"),
}

__all__ = ["Sensitivity", "Evaluator", "SensitivitySpec", "Parameter", "Output", "parse", "replicate_seeds",
           "BASELINE", "sweep", "SweepResult", "parse_param"]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """This package: its function ``sweep`` shares its name with the module that defines it. The
    import system binds a submodule to its package's attribute when it first loads it, which would
    hide the function; the function keeps the name (as when this package imported it eagerly)."""

    def __setattr__(self, attr, value):
        if attr == "sweep" and isinstance(value, types.ModuleType):
            return
        super().__setattr__(attr, value)


sys.modules[__name__].__class__ = _Package
