"""spreadsim: an agent-based simulation of how an innovation spreads and scales across sites.

Quick start::

    from simulation import load_scenario, run
    result = run(load_scenario("scenarios/demo.yaml"), seed=1)
    result.summary, result.timeseries, result.sites, result.plot()
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("spreadsim")
except PackageNotFoundError:  # running from a checkout without installing
    __version__ = "0.1.0"

from .errors import InputError, Problem  # noqa: E402
from .model import STAGES, Site, SpreadModel  # noqa: E402
from .runner import RunResult, run, run_batch  # noqa: E402
from .scenario import Scenario, default_scenario, load_scenario  # noqa: E402

__all__ = ["InputError", "Problem", "STAGES", "Site", "SpreadModel", "RunResult", "run", "run_batch", "Scenario",
           "default_scenario", "load_scenario", "__version__"]
