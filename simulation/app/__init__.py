"""The interactive teaching app: a Mesa model on a Solara page in the browser, on this computer, offline.

``spreadsim app [SCENARIO] [--port N] [--host H]`` serves the page on 127.0.0.1 and prints its
address. From Python: ``from simulation.app import serve; serve("scenarios/demo.yaml", port=8765)``,
or use the model behind it, ``AppModel("scenarios/demo.yaml", n_sites=500, support_capacity=50, seed=3)``
(it also works with Mesa's ``SolaraViz`` in a notebook, with ``model_params``).

Modules: :mod:`.wrapper` (the table of controls and the model built from them), :mod:`.layout` (the
network layout, once per network), :mod:`.figures` (the network, the curves and the numbers),
:mod:`.compare` (the Compare view's background comparison), :mod:`.decide` (the Decide view's exploration,
robustness table and failure boxes), :mod:`.page` (the Solara page; needs
the ``app`` extra), :mod:`.security` (only this computer's pages may use the server), :mod:`.cli`
(the command), :mod:`.screenshots` (the docs' screenshots and the browser tests' harness).
"""

from __future__ import annotations

from .cli import register, serve

__all__ = ["register", "serve", "AppModel", "CONTROLS", "network_layout", "NetworkFigure", "ChartFigure"]


def __getattr__(name: str):
    # the model, layout and figures import numpy, scipy, mesa and matplotlib: only when asked for
    if name in ("AppModel", "CONTROLS", "control_values", "overrides_for", "model_params", "bundled_scenarios"):
        from . import wrapper

        return getattr(wrapper, name)
    if name in ("network_layout", "compute_layout"):
        from . import layout

        return getattr(layout, name)
    if name in ("NetworkFigure", "ChartFigure", "status_html"):
        from . import figures

        return getattr(figures, name)
    raise AttributeError(f"module 'simulation.app' has no attribute {name!r}")
