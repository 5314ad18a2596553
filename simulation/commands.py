"""Registry of the subcommands that live beside their features.

Each entry is a function ``register(subparsers)`` that adds one or more subcommands, each with
``set_defaults(func=...)``. Keeping the list here lets ``cli.py`` stay small and each feature own
its command-line interface. The order is the order of ``spreadsim --help`` (after ``run`` and
``validate``, before ``bench``): runs of many, analyses of many, the app, the project's tools.
Each module imported here must stay light (no numpy, pandas or model at import), so that
``--help`` is fast; the work is imported inside each command's function.
"""

from __future__ import annotations

from .app import register as _app
from .calibration.cli import register as _calibration
from .decision.cli import register as _decision
from .experiments.cli import register as _experiments
from .figures import register as _figures
from .patterns_cli import register as _patterns
from .reference import register as _reference
from .sensitivity.cli import register as _sensitivity

#: ensemble, compare; sensitivity, sweep; explore, robust, discover, voi, optimise; calibrate, forecast; patterns;
#: app; figures; reference
REGISTRY: list = [_experiments, _sensitivity, _decision, _calibration, _patterns, _app, _figures, _reference]
