"""spreadsim: an agent-based simulation of how an innovation spreads and scales across sites.

Quick start::

    from simulation import load_scenario, run
    result = run(load_scenario("scenarios/demo.yaml"), seed=1)
    result.summary, result.timeseries, result.sites, result.plot()

The names below are imported when first used, so that ``spreadsim --help`` and the command line's
error messages do not wait for numpy, pandas, scipy and Mesa to load.
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("spreadsim")
except PackageNotFoundError:  # running from a checkout without installing
    __version__ = "0.1.0"

_LAZY = {
    "InputError": "errors", "Problem": "errors", "InputWarning": "errors",
    "STAGES": "model", "Site": "model", "SpreadModel": "model",
    "RunResult": "runner", "run": "runner", "run_batch": "runner",
    "Scenario": "scenario", "default_scenario": "scenario", "load_scenario": "scenario",
}

__all__ = ["InputError", "InputWarning", "Problem", "STAGES", "Site", "SpreadModel", "RunResult", "run", "run_batch",
           "Scenario", "default_scenario", "load_scenario", "__version__"]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'simulation' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
