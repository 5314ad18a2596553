"""Global sensitivity analysis (SALib) and one-at-a-time sweeps, across scale-up strategies.

From Python::

    from simulation.sensitivity import Sensitivity, sweep
    sa = Sensitivity("scenarios/strategies/demo_sensitivity.yaml", samples=64, replicates=2).run()
    sa.indices, sa.noise, sa.convergence, sa.wins, sa.plot()

From the command line: ``spreadsim sensitivity SCENARIO ...`` and ``spreadsim sweep SCENARIO ...``.
The ``sensitivity:`` section of a scenario is described in :mod:`simulation.sensitivity.spec`.
"""

from .core import Evaluator, Sensitivity
from .spec import BASELINE, Output, Parameter, SensitivitySpec, parse, replicate_seeds
from .sweep import SweepResult, parse_param, sweep

__all__ = ["Sensitivity", "Evaluator", "SensitivitySpec", "Parameter", "Output", "parse", "replicate_seeds",
           "BASELINE", "sweep", "SweepResult", "parse_param"]
