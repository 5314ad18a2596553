"""The teaching app's page: Mesa's SolaraViz around an :class:`~simulation.app.wrapper.AppModel`.

solara-server loads ``simulation.app.page:Page`` (``spreadsim app`` sets this up); the scenario the
page starts with comes from the ``SPREADSIM_APP_SCENARIO`` environment variable. Every browser tab
gets its own model. The main area shows the site network coloured by stage and, beside it, the
month's numbers and the curves over time; the sidebar has the scenario choice, Mesa's step / play /
pause / reset controls and the teacher's controls (applied when Reset is pressed).
"""

from __future__ import annotations

import html
import os
from pathlib import Path

import solara
from mesa.visualization import SolaraViz

from ..errors import InputError
from .figures import ChartFigure, NetworkFigure, status_html
from .wrapper import CAPACITY_UNLIMITED, AppModel, bundled_scenarios, default_scenario_file, label_for, model_params

ENV_SCENARIO = "SPREADSIM_APP_SCENARIO"
#: milliseconds Mesa waits between steps when playing (the page's "Play Interval" slider changes it)
PLAY_INTERVAL_MS = 20
BUILTIN = "(built-in defaults)"

HELP = (
    "<p>Press <b>Step</b> for one month, <b>&#9654;</b> to play and <b>&#10074;&#10074;</b> to pause.</p>"
    "<p>Change the controls under <i>Model Parameters</i>, then press <b>Reset</b> to rebuild the model with "
    "them (controls left where the scenario put them change nothing). Support capacity at its maximum "
    f"({CAPACITY_UNLIMITED:,}) means unlimited; assurance every 0 months means none.</p>")


def _renderers(model: AppModel) -> tuple[NetworkFigure, ChartFigure]:
    """The model's figures, made once (layout included) and then updated at each redraw."""
    r = model.__dict__.get("_app_renderers")
    if r is None:
        r = (NetworkFigure(model), ChartFigure(model))
        model._app_renderers = r
    return r


def NetworkView(model: AppModel):
    """The site network coloured by implementation stage (redrawn when the month changes)."""
    net, _ = _renderers(model)
    png = solara.use_memo(net.png, [id(model), model.month])
    solara.Image(png, width="100%", classes=["spreadsim-network"])


def ChartView(model: AppModel):
    """The month's numbers, then the stage shares, adopted share, fidelity and reach over time."""
    _, chart = _renderers(model)
    png = solara.use_memo(chart.png, [id(model), model.month])
    with solara.Column(gap="4px"):
        solara.HTML(tag="div", unsafe_innerHTML=status_html(model))
        solara.Image(png, width="100%", classes=["spreadsim-chart"])


def _build(path: Path | None) -> tuple[AppModel | None, str]:
    """The model for a scenario file, or None and what is wrong with the file."""
    try:
        return AppModel(path), ""
    except InputError as err:
        return None, "; ".join(str(p) for p in err.problems)


def _start_scenario() -> Path | None:
    env = os.environ.get(ENV_SCENARIO)
    return Path(env) if env else default_scenario_file()


@solara.component
def Page():
    """The whole page; a new scenario choice builds a new model and a fresh set of controls."""
    start = solara.use_memo(_start_scenario, [])
    scenarios: dict[str, Path | None] = solara.use_memo(
        lambda: dict(bundled_scenarios(start)) if start is not None else {BUILTIN: None}, [])
    choice, set_choice = solara.use_state(label_for(start, scenarios) if start is not None else BUILTIN)
    path = scenarios[choice]
    model, problem = solara.use_memo(lambda: _build(path), [choice])
    params = solara.use_memo(
        lambda: None if model is None else model_params(model.base_scenario, path if path is not None else ""), [choice])
    if params is not None and path is None:
        params["scenario_file"] = None

    solara.Title(f"spreadsim: {model.base_scenario.name if model is not None else choice}")
    with solara.Sidebar():
        with solara.Card("Scenario"):
            solara.Select("Scenario", value=choice, values=list(scenarios), on_value=set_choice)
            # HTML, not Markdown: solara's Markdown loads KaTeX, which solara-assets does not ship
            if model is not None and model.base_scenario.description:
                solara.HTML(tag="p", unsafe_innerHTML=f"<i>{html.escape(model.base_scenario.description)}</i>")
            solara.HTML(tag="div", unsafe_innerHTML=HELP)
    if model is None:
        solara.Error(problem)
        return
    sc = model.base_scenario

    SolaraViz(model, components=[(NetworkView, 0), (ChartView, 0)], model_params=params,
              name=f"spreadsim: {sc.name}", play_interval=PLAY_INTERVAL_MS).key(f"viz-{choice}")
