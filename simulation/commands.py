"""Registry of the subcommands that live beside their features.

Each entry is a function ``register(subparsers)`` that adds one or more subcommands, each with
``set_defaults(func=...)``. Keeping the list here lets ``cli.py`` stay small and each feature own
its command-line interface.
"""

from __future__ import annotations

REGISTRY: list = []

from .sensitivity.cli import register as _sensitivity  # noqa: E402

REGISTRY.append(_sensitivity)

from .app import register as _app  # noqa: E402

REGISTRY.append(_app)

from .experiments.cli import register as _experiments  # noqa: E402

REGISTRY.append(_experiments)

from .calibration.cli import register as _calibration  # noqa: E402

REGISTRY.append(_calibration)

from .figures import register as _figures  # noqa: E402
from .reference import register as _reference  # noqa: E402

REGISTRY += [_figures, _reference]

from .patterns_cli import register as _patterns  # noqa: E402

REGISTRY.append(_patterns)
