"""Calibration to observed roll-out data and forecasts with honest uncertainty.

Quick start::

    from simulation.calibration import calibrate, forecast
    cal = calibrate("scenarios/cases/ckm_bass.yaml", executor="serial", population=100, generations=5)
    cal.intervals()            # posterior medians and 90% credible intervals
    cal.plot_fit()             # observed data against posterior predictive bands
    fc = forecast(None, cal, months=36, draws=100)
    fc.table(), fc.plot("ever_adopted")

Command line: ``spreadsim calibrate SCENARIO --data observed.csv --out results/x`` and
``spreadsim forecast SCENARIO --posterior results/x --months 120``.
"""

from .core import Calibration, calibrate, load_calibration, weighted_quantile
from .data import Distance, Observed, load_observed
from .forecast import Forecast, forecast
from .simulate import switch_strategy
from .spec import CalibrationSpec, Prior, calibration_spec

__all__ = ["Calibration", "CalibrationSpec", "Distance", "Forecast", "Observed", "Prior", "calibrate",
           "calibration_spec", "forecast", "load_calibration", "load_observed", "switch_strategy",
           "weighted_quantile"]
