"""Calibration to observed roll-out data and forecasts with honest uncertainty.

Quick start::

    from simulation.calibration import calibrate, forecast
    cal = calibrate("scenarios/cases/ckm_bass.yaml", executor="serial", population=100, generations=5)
    cal.intervals()            # posterior medians and 90% credible intervals
    cal.plot_fit()             # observed data against posterior predictive bands
    fc = forecast(None, cal, months=36, draws=100)
    fc.table(), fc.plot("ever_adopted")

Command line: ``spreadsim calibrate SCENARIO --data observed.csv --out results/x`` and
``spreadsim forecast SCENARIO --posterior results/x --months 120``. Names are imported when first
used (the command line's ``--help`` does not load pyabc and optuna).
"""

import sys
import types
from importlib import import_module

_LAZY = {
    **dict.fromkeys(["Calibration", "load_calibration", "weighted_quantile"], "core"),
    "calibrate": "entry",
    **dict.fromkeys(["Distance", "Observed", "load_observed"], "data"),
    **dict.fromkeys(["Forecast", "forecast"], "forecast"),
    "switch_strategy": "simulate",
    **dict.fromkeys(["CalibrationSpec", "Prior", "calibration_spec"], "spec"),
}

__all__ = ["Calibration", "CalibrationSpec", "Distance", "Forecast", "Observed", "Prior", "calibrate",
           "calibration_spec", "forecast", "load_calibration", "load_observed", "switch_strategy",
           "weighted_quantile"]


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
    """This package: its function ``forecast`` shares its name with the module that defines it. The
    import system binds a submodule to its package's attribute when it first loads it, which would
    hide the function; the function keeps the name (as when this package imported it eagerly)."""

    def __setattr__(self, attr, value):
        if attr == "forecast" and isinstance(value, types.ModuleType):
            return
        super().__setattr__(attr, value)


sys.modules[__name__].__class__ = _Package
