"""The teaching app's page: a Solara page around a Mesa model (:class:`~simulation.app.wrapper.AppModel`).

solara-server loads ``simulation.app.page:Page`` (``spreadsim app`` sets this up); the scenario the
page starts with comes from the ``SPREADSIM_APP_SCENARIO`` environment variable. Every browser tab
gets its own model.

The page is drawn here rather than by Mesa's ``SolaraViz``, whose fixed parts (a "Page 0" tab,
"Render Interval" and "Use Threads" controls, "Time: 0.0", sliders without values) are what a class
should not have to read; :class:`AppModel` still follows Mesa's rebuild protocol, so ``SolaraViz``
works with it in a notebook (:func:`~simulation.app.wrapper.model_params`).

* The sidebar (a drawer that closes on a phone) has the scenario, Play/Pause/Step/Reset with a
  speed in months per second, the seed and one control per row of
  :data:`~simulation.app.wrapper.CONTROLS`: a value, a slider and a number box whose ranges fit the
  scenario. A changed control is marked, and listed, until Reset applies it; Reset validates the
  values exactly as ``spreadsim run --set`` would and shows its message if they are refused.
* The Run view shows the month ("month 120 of 120: finished", with Run again), the stage counts,
  what adopted and reach count, the network coloured by stage and the curves.
* The Compare view runs two or more of the scenario's strategies in the background, N replicates
  each on common random numbers (:mod:`.compare`), and shows adoption bands and paired differences.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import solara
import solara.lab
from solara.alias import rv

from .. import labels
from ..errors import InputError
from .compare import MAX_REPLICATES, MIN_REPLICATES, Comparison, describe, differences_html, strategy_choices
from .figures import ChartFigure, NetworkFigure, min_font_px, status_html
from .wrapper import (
    CONTROLS,
    AppModel,
    Control,
    bundled_scenarios,
    default_scenario_file,
    label_for,
    overrides_for,
    same_value,
)

ENV_SCENARIO = "SPREADSIM_APP_SCENARIO"
BUILTIN = "(built-in defaults)"
#: months per second the Play button can run at
SPEEDS = [1, 2, 4, 8, 16]
DEFAULT_SPEED = 4
DRAWER_WIDTH = 360

CSS = """
.ss-drawer { max-width: 92vw; }
.ss-drawer .v-navigation-drawer__content { padding: 8px 12px 24px 12px; }
.ss-main { padding: 12px; max-width: 1280px; }
.ss-card { margin-bottom: 12px; }
.ss-card .v-card__title { font-size: 17px; padding: 10px 14px 4px 14px; }
.ss-card .v-card__text { font-size: 14px; }
.ss-run { display: grid; grid-template-columns: repeat(2, minmax(300px, 450px)); gap: 12px; align-items: start; }
@media (max-width: 760px) { .ss-run { grid-template-columns: minmax(0, 1fr); } }
.ss-run img { width: 100%; height: auto; display: block; }
.spreadsim-status { font-size: 15px; line-height: 1.4; }
.ss-status-card .v-card__text, .ss-status-card { padding-top: 4px; padding-bottom: 4px; }
.ss-headline { font-size: 17px; margin-bottom: 4px; }
.ss-stages { display: grid; grid-template-columns: repeat(auto-fill, minmax(195px, 1fr)); gap: 0 18px; margin: 2px 0; }
.ss-stage { display: flex; align-items: center; }
.ss-stage-name { flex: 1 1 auto; }
.ss-swatch { display: inline-block; width: 0.9em; height: 0.9em; border: 1px solid #777; margin-right: 0.4em;
             vertical-align: -0.1em; }
.ss-explain { margin: 4px 0; }
.ss-muted { font-size: 13px; }
.ss-help { font-size: 12.5px; margin-top: -4px; }
.ss-control { margin: 6px 0 10px 0; }
.ss-control-head { display: flex; justify-content: space-between; font-size: 14px; }
.ss-control-value { font-weight: 600; }
.ss-control-row { display: flex; align-items: center; gap: 8px; }
.ss-control-row .v-input__slider { flex: 1 1 auto; }
.ss-control-row .ss-number { flex: 0 0 92px; max-width: 92px; }
.ss-control .v-slider + .v-input__append-outer, .ss-control .v-label { font-size: 14px; }
.ss-control .ss-slider .v-label { position: absolute !important; width: 1px; height: 1px; overflow: hidden;
                                   clip: rect(0 0 0 0); }
.ss-pending { color: #8a4b00; font-size: 13px; font-weight: 600; }
.theme--dark .ss-pending { color: #ffcc80; }
.ss-pending-box { border-left: 4px solid #e08a00; padding: 6px 10px; margin-bottom: 8px; background: rgba(224, 138, 0, 0.08); }
.ss-pending-note { border-left: 4px solid #e08a00; padding: 6px 10px; margin-bottom: 10px;
                   background: rgba(224, 138, 0, 0.08); }
.ss-finished { color: #1b5e20; }
.theme--dark .ss-finished { color: #a5d6a7; }
.ss-done-box { border-left: 4px solid #2e7d32; padding: 8px 12px; margin: 6px 0; background: rgba(46, 125, 50, 0.08); }
.ss-error { border-left: 4px solid #c62828; padding: 6px 10px; margin: 6px 0; background: rgba(198, 40, 40, 0.08);
            font-family: monospace; font-size: 13px; white-space: pre-wrap; }
.ss-speed .v-btn { min-width: 40px !important; }
.ss-diff-table { border-collapse: collapse; font-size: 14px; margin-top: 8px; }
.ss-diff-table td, .ss-diff-table th { padding: 2px 8px; border-bottom: 1px solid rgba(128, 128, 128, 0.3); text-align: left; }
.ss-better { color: #1a7f37; font-weight: 600; } .theme--dark .ss-better { color: #7ee2a0; }
.ss-worse { color: #b3261e; font-weight: 600; } .theme--dark .ss-worse { color: #ff9a90; }
.ss-neutral { color: #3559a8; font-weight: 600; } .theme--dark .ss-neutral { color: #9ab8ff; }
.ss-compare-result img.spreadsim-compare-bands { max-width: 640px; }
.ss-compare-result img.spreadsim-compare-differences { max-width: 820px; }
.ss-credit { font-size: 12.5px; margin-top: 16px; }
"""

HELP = (
    "<p><b>&#9654; Play</b> runs month after month at the speed you choose, <b>Step</b> one month, "
    "<b>Reset</b> starts again at month 0 with the controls as they are.</p>"
    "<p>A control you move waits for <b>Reset</b> (it is marked <span class='ss-pending'>changed</span>); "
    "controls left where the scenario put them change nothing. Values are checked as "
    "<code>spreadsim run --set</code> checks them.</p>")


def _start_scenario() -> Path | None:
    env = os.environ.get(ENV_SCENARIO)
    return Path(env) if env else default_scenario_file()


# --------------------------------------------------------------------------------- the session
@dataclass(frozen=True)
class Frame:
    """What the Run view shows for one month of one model."""

    model_id: int
    month: int
    months: int
    network_png: bytes
    chart_png: bytes
    status: str
    font_px: float


class Session:
    """One browser tab's model and its figures; stepping and drawing hold one lock, so that Reset,
    Step and Play never see a model half-way through a month."""

    def __init__(self, model: AppModel):
        self.lock = threading.RLock()
        self.set_model(model)

    def set_model(self, model: AppModel) -> None:
        with self.lock:
            self.model = model
            self.network = NetworkFigure(model)
            self.chart = ChartFigure(model)
            self.font_px = min(min_font_px(self.network.figure), min_font_px(self.chart.figure))

    def frame(self) -> Frame:
        with self.lock:
            m = self.model
            return Frame(id(m), m.month, m.months, self.network.png(), self.chart.png(), status_html(m), self.font_px)

    def step(self) -> Frame | None:
        """One month on, and its frame (None at the end of the run)."""
        with self.lock:
            if self.model.month >= self.model.months:
                return None
            self.model.step()
            return self.frame()


def _build(path: Path | None, values: dict[str, Any] | None = None, seed: int | None = None) -> tuple[AppModel | None, list[str]]:
    """The model for a scenario file and control values, or None and the problems, worded as
    ``spreadsim run`` words them (``error: FILE: KEY: message``)."""
    try:
        return AppModel(path, seed=seed, **(values or {})), []
    except InputError as err:
        return None, [f"error: {p}" for p in err.problems]


# ---------------------------------------------------------------------------------- controls
def _number_input(c: Control, value, on_value, disabled: bool):
    kw = dict(label="exact value", value=value, on_value=on_value, continuous_update=False, dense=True,
              disabled=disabled, classes=["ss-number"], hide_details=True)
    if c.kind == "int":
        return solara.InputInt(**kw)
    return solara.InputFloat(**kw)


@solara.component
def ControlInput(control: Control, fit_scenario, value: Any, applied: Any, on_value):
    """One control: its label and value in words, a slider and a number box (or a switch or a
    choice), and a mark while its value waits for Reset."""
    c = control
    pending = not same_value(value, applied)
    with rv.Html(tag="div", class_="ss-control", attributes={"data-control": c.name, "data-pending": str(int(pending))}):
        if c.kind == "bool":
            solara.Checkbox(label=c.label, value=bool(value), on_value=on_value)
        elif c.kind == "choice":
            opts = c.options(fit_scenario, value)
            rv.Select(label=c.label, v_model=value, on_v_model=on_value, dense=True, hide_details=True,
                      items=[{"text": labels.readable(str(v)), "value": v} for v in opts["values"]])
        else:
            special = c.special is not None and value == c.special[0]
            opts = c.options(fit_scenario, None if special else value)
            shown = value if not special else opts["max"]
            with rv.Html(tag="div", class_="ss-control-head"):
                rv.Html(tag="span", children=[c.label])
                rv.Html(tag="span", class_="ss-control-value", children=[c.show(value)])
            with rv.Html(tag="div", class_="ss-control-row"):
                cast = int if c.kind == "int" else float
                rv.Slider(label=c.label, v_model=shown, on_v_model=lambda v: on_value(cast(v)), min=opts["min"],
                          max=opts["max"], step=opts["step"], disabled=special, hide_details=True,
                          class_="ss-slider", thumb_label=False)
                _number_input(c, None if special else shown, lambda v: v is not None and on_value(v), special)
            if c.special is not None:
                def switch(on: bool, c=c, top=opts["max"]):
                    # unlimited off: start from the top of the range (for capacity, every site at once)
                    on_value(c.special[0] if on else top)

                solara.Checkbox(label=c.special[1], value=special, on_value=switch)
        if c.help:
            rv.Html(tag="div", class_="ss-help", children=[c.help])
        if pending:
            rv.Html(tag="div", class_="ss-pending", children=[f"changed from {c.show(applied)}: waits for Reset"])


def pending_changes(values: dict[str, Any], applied: dict[str, Any], seed: int, applied_seed: int) -> list[str]:
    """The controls whose value differs from the running model's, in words ("support capacity
    (sites at once): 30 sites -> 60 sites")."""
    out = []
    for c in CONTROLS:
        if c.name in values and c.name in applied and not same_value(values[c.name], applied[c.name]):
            out.append(f"{c.label}: {c.show(applied[c.name])} \u2192 {c.show(values[c.name])}")
    if seed != applied_seed:
        out.append(f"Seed: {applied_seed} \u2192 {seed}")
    return out


# ---------------------------------------------------------------------------------- run view
@solara.component
def Player(session: Session, frame: solara.Reactive, playing: solara.Reactive, speed: solara.Reactive,
           rate: solara.Reactive):
    """Steps the model in the background while playing, at most ``speed`` months a second."""

    def play(cancel: threading.Event):
        if not playing.value:
            return
        stamps: list[float] = []
        while not cancel.is_set():
            t0 = time.monotonic()
            with session.lock:
                if cancel.is_set():
                    return
                f = session.step()
                if f is None:
                    break
                frame.set(f)
            stamps = [*stamps[-9:], time.monotonic()]
            if len(stamps) > 2:
                rate.set((len(stamps) - 1) / (stamps[-1] - stamps[0]))
            wait = 1.0 / speed.value - (time.monotonic() - t0)
            if wait > 0:
                cancel.wait(wait)
        if not cancel.is_set():
            playing.set(False)

    solara.use_thread(play, dependencies=[playing.value, frame.value.model_id], intrusive_cancel=False)


@solara.component
def RunButtons(session: Session, frame: solara.Reactive, playing: solara.Reactive, speed: solara.Reactive,
               rate: solara.Reactive, reset):
    f = frame.value
    finished = f.month >= f.months

    def step():
        nf = session.step()
        if nf is not None:
            frame.set(nf)

    with solara.Row(gap="8px", style={"flex-wrap": "wrap"}):
        solara.Button("\u275a\u275a Pause" if playing.value else "\u25b6 Play", color="primary",
                      on_click=lambda: playing.set(not playing.value), disabled=finished and not playing.value)
        solara.Button("Step", color="primary", on_click=step, disabled=playing.value or finished)
        solara.Button("Reset", color="primary", outlined=True, on_click=reset)
    with rv.Html(tag="div", class_="ss-speed", style_="margin-top: 10px"):
        actual = ""
        if playing.value and rate.value and rate.value < 0.8 * speed.value:
            actual = f" (this computer manages about {rate.value:.1f})"
        rv.Html(tag="div", class_="ss-speed-label",
                children=[f"Speed: {speed.value} month{'s' if speed.value != 1 else ''} per second{actual}"])
        with solara.ToggleButtonsSingle(value=speed.value, on_value=speed.set, dense=True):
            for s in SPEEDS:
                solara.Button(str(s), value=s)


@solara.component
def Status(frame: solara.Reactive, run_again, next_seed):
    f = frame.value
    solara.HTML(tag="div", unsafe_innerHTML=f.status)
    if f.month >= f.months:
        with rv.Html(tag="div", class_="ss-done-box"):
            rv.Html(tag="div", children=[f"Month {f.months} of {f.months}: finished. Run it again from month 0, "
                                         "or with the next seed to see another run of the same settings."])
            with rv.Html(tag="div", style_="display: flex; gap: 8px; flex-wrap: wrap; margin-top: 6px"):
                solara.Button("Run again", color="primary", on_click=run_again)
                solara.Button("Run again with the next seed", color="primary", outlined=True, on_click=next_seed)


@solara.component
def NetworkImage(frame: solara.Reactive):
    f = frame.value
    rv.Html(tag="div", class_="ss-figure-info", style_="display:none",
            attributes={"data-font-px": f"{f.font_px:.2f}", "data-month": str(f.month)})
    solara.Image(f.network_png, width="100%", classes=["spreadsim-network"])


@solara.component
def ChartImage(frame: solara.Reactive):
    solara.Image(frame.value.chart_png, width="100%", classes=["spreadsim-chart"])


# ------------------------------------------------------------------------------ compare view
@solara.component
def CompareView(model: AppModel):
    sc = model.base_scenario
    choices = solara.use_memo(lambda: strategy_choices(sc, model.app_overrides), [id(model)])
    default = list(choices)[: 3] if len(choices) >= 2 else list(choices)
    chosen, set_chosen = solara.use_state(default)
    replicates, set_replicates = solara.use_state(20)
    token, set_token = solara.use_state(0)
    running, set_running = solara.use_state(False)
    progress, set_progress = solara.use_state((0, 0, ""))
    outcome, set_outcome = solara.use_state(None)
    problems, set_problems = solara.use_state([])
    job = solara.use_ref(None)

    picked = [n for n in choices if n in chosen]

    def start():
        try:
            job.current = Comparison(sc, {n: choices[n] for n in picked}, int(replicates or 0))
        except InputError as err:
            set_problems([f"error: {p}" for p in err.problems])
            return
        set_problems([])
        set_outcome(None)
        set_progress((0, job.current.total_runs, ""))
        set_running(True)
        set_token(token + 1)

    def work(cancel: threading.Event):
        if not running or job.current is None:
            return
        try:
            out = job.current.run(lambda p: set_progress((p.done, p.total, p.text)), cancel)
        except InputError as err:
            set_problems([f"error: {p}" for p in err.problems])
            out = None
        if cancel.is_set():
            return
        if out is not None:
            set_outcome(out)
        set_running(False)

    solara.use_thread(work, dependencies=[token, running], intrusive_cancel=False)

    with rv.Html(tag="div", class_="ss-compare"):
        with solara.Card("Compare strategies", classes=["ss-card"]):
            rv.Html(tag="p", children=[
                "Runs each chosen strategy the same number of times on the same seeds (common random numbers), as "
                "spreadsim compare does, and shows the adopted share with its 5-95% band and each strategy's paired "
                "difference from the first one chosen."])
            if not sc.strategies:
                rv.Html(tag="p", class_="ss-muted", children=[
                    "This scenario has no strategies: section; pick one that has (for example "
                    "strategies/demo_strategies.yaml), or change controls in the Run view to compare your settings "
                    "with the file."])
            for name, ov in choices.items():
                def toggle(on: bool, name=name):
                    set_chosen([n for n in choices if (n in chosen and n != name) or (n == name and on)])

                with rv.Html(tag="div", class_="ss-strategy", attributes={"data-strategy": name}):
                    rv.Checkbox(label=labels.strategy_label(name) + ("  (the reference)" if picked[:1] == [name] else ""),
                                v_model=name in chosen, on_v_model=toggle, disabled=running, dense=True,
                                hide_details=True)
                    rv.Html(tag="div", class_="ss-help", style_="margin: 0 0 6px 32px", children=[describe(ov)])
            with solara.Row(gap="12px", style={"align-items": "center", "flex-wrap": "wrap"}):
                solara.InputInt(f"replicates per strategy ({MIN_REPLICATES}-{MAX_REPLICATES})", value=replicates,
                                on_value=set_replicates, continuous_update=True, disabled=running,
                                style={"max-width": "260px"}, classes=["ss-replicates"])
                solara.Button("Run comparison", color="primary", on_click=start,
                              disabled=running or len(picked) < 2)
                if running:
                    solara.Button("Stop", color="primary", outlined=True,
                                  on_click=lambda: (set_running(False), set_token(token + 1)))
            if len(picked) < 2:
                rv.Html(tag="div", class_="ss-pending", children=["choose two or more strategies"])
            for line in problems:
                rv.Html(tag="div", class_="ss-error", children=[line])
            done, total, text = progress
            if running or (total and done < total):
                with rv.Html(tag="div", class_="ss-progress", attributes={"data-done": str(done), "data-total": str(total)}):
                    solara.ProgressLinear(value=100 * done / total if total else True)
                    rv.Html(tag="div", children=[("running: " if running else "stopped: ") + text])
        if outcome is not None:
            o = outcome
            with rv.Html(tag="div", class_="ss-compare-result",
                         attributes={"data-runs": str(o.runs), "data-strategies": ",".join(o.strategies)}):
                with solara.Card(f"Adoption: {len(o.strategies)} strategies, {o.replicates} replicates each "
                                 f"({o.runs:,} runs in {o.seconds:.1f} s)", classes=["ss-card"]):
                    solara.Image(o.bands_png, width="100%", classes=["spreadsim-compare-bands"])
                with solara.Card(f"Paired differences from {labels.strategy_label(o.baseline)}", classes=["ss-card"]):
                    solara.Image(o.differences_png, width="100%", classes=["spreadsim-compare-differences"])
                    solara.HTML(tag="div", unsafe_innerHTML=differences_html(o))


# ------------------------------------------------------------------------------------ the page
@solara.component
def Workspace(scenarios: dict[str, Path | None], choice: str, set_choice):
    """Everything for one scenario; a new scenario choice makes a new workspace."""
    path = scenarios[choice]
    first, first_problems = solara.use_memo(lambda: _build(path), [])
    session = solara.use_memo(lambda: Session(first) if first is not None else None, [])
    frame = solara.use_memo(lambda: solara.reactive(session.frame()) if session else None, [])
    playing = solara.use_memo(lambda: solara.reactive(False), [])
    speed = solara.use_memo(lambda: solara.reactive(DEFAULT_SPEED), [])
    rate = solara.use_memo(lambda: solara.reactive(0.0), [])
    model, set_model = solara.use_state(first)
    values, set_values = solara.use_state(dict(first.control_values) if first else {})
    seed, set_seed = solara.use_state(first.seed if first else 0)
    problems, set_problems = solara.use_state(first_problems)
    # None: let the drawer decide (open on a wide screen, closed on a phone); it reports what it did
    drawer, set_drawer = solara.use_state(None)
    tab, set_tab = solara.use_state(0)

    def rebuild(new_values: dict[str, Any], new_seed: int, play: bool = False, keep_pending: bool = False) -> None:
        """A new model from control values (Reset), or the same settings again (Run again):
        changes still waiting for Reset stay waiting then."""
        playing.set(False)
        built, errs = _build(path, new_values, new_seed)
        if built is None:
            set_problems(errs)
            return
        with session.lock:
            session.set_model(built)
            frame.set(session.frame())
        set_problems([])
        set_model(built)
        if not keep_pending:
            set_values(dict(built.control_values))
        if not keep_pending or seed == model.seed:
            set_seed(built.seed)
        if play:
            playing.set(True)

    def reset():
        rebuild(values, seed)

    def run_again():
        rebuild(dict(model.control_values), model.seed, play=True, keep_pending=True)

    def next_seed():
        rebuild(dict(model.control_values), model.seed + 1, play=True, keep_pending=True)

    fit = solara.use_memo(lambda: _fit_scenario(model, values) if model is not None else None,
                          [id(model), tuple(sorted(values.items(), key=lambda kv: kv[0]))])
    changes = pending_changes(values, model.control_values, seed, model.seed) if model is not None else []
    title = f"spreadsim: {labels.scenario_label(model.base_scenario.name) if model else choice}"
    solara.Title(title)

    with rv.Html(tag="div", class_="ss-root"):
        with rv.AppBar(app=True, color="primary", dark=True, clipped_left=True, dense=False):
            solara.Button(icon_name="mdi-menu", icon=True, on_click=lambda: set_drawer(not drawer),
                          classes=["ss-menu"], style={"color": "white"})
            rv.ToolbarTitle(children=[title])
            rv.Spacer()
            solara.lab.ThemeToggle()
        with rv.NavigationDrawer(app=True, clipped=True, v_model=drawer, on_v_model=set_drawer, width=DRAWER_WIDTH,
                                 mobile_break_point=960, class_="ss-drawer"):
            with solara.Row(justify="end"):
                solara.Button("Hide controls", icon_name="mdi-close", text=True, on_click=lambda: set_drawer(False),
                              classes=["ss-close"])
            with solara.Card("Scenario", classes=["ss-card"]):
                rv.Select(label="Scenario", v_model=choice, on_v_model=set_choice, items=list(scenarios), dense=True,
                          hide_details=True, class_="ss-scenario")
                if model is not None and model.base_scenario.description:
                    rv.Html(tag="p", style_="margin-top: 8px", children=[model.base_scenario.description])
            if model is not None:
                with solara.Card("Run", classes=["ss-card"]):
                    RunButtons(session, frame, playing, speed, rate, reset)
                    solara.InputInt("Seed", value=seed, on_value=lambda v: set_seed(int(v)) if v is not None and 0 <= v else None,
                                    continuous_update=False, dense=True, style={"max-width": "180px", "margin-top": "10px"})
                    solara.HTML(tag="div", unsafe_innerHTML=HELP, classes=["ss-muted"])
                with solara.Card("Controls", classes=["ss-card"]):
                    with rv.Html(tag="div", class_="ss-pending-box" if changes else "ss-no-pending",
                                 attributes={"data-pending": str(len(changes))}):
                        if changes:
                            rv.Html(tag="div", class_="ss-pending",
                                    children=[f"{len(changes)} change{'s wait' if len(changes) > 1 else ' waits'} for Reset:"])
                            for line in changes:
                                rv.Html(tag="div", class_="ss-pending-item", children=[line])
                            with rv.Html(tag="div", style_="display: flex; gap: 8px; flex-wrap: wrap; margin-top: 6px"):
                                solara.Button("Reset to apply", color="primary", on_click=reset, small=True)
                                solara.Button("Undo changes", text=True, small=True,
                                              on_click=lambda: (set_values(dict(model.control_values)), set_seed(model.seed)))
                        else:
                            rv.Html(tag="div", class_="ss-muted", children=["No changes wait for Reset."])
                    for line in problems:
                        rv.Html(tag="div", class_="ss-error", children=[line])
                    for c in CONTROLS:
                        if c.name in values:
                            ControlInput(c, fit, values[c.name], model.control_values[c.name],
                                         lambda v, name=c.name: set_values({**values, name: v})).key(c.name)
            rv.Html(tag="div", class_="ss-credit", children=[
                "spreadsim, a Mesa model on a Solara page (both open source); everything runs on this computer."])
        with rv.Html(tag="div", class_="ss-main"):
            if model is None:
                for line in problems:
                    rv.Html(tag="div", class_="ss-error", children=[line])
                return
            with rv.Tabs(v_model=tab, on_v_model=set_tab, class_="ss-tabs"):
                rv.Tab(children=["Run"])
                rv.Tab(children=["Compare strategies"])
            Player(session, frame, playing, speed, rate)
            if tab == 0:
                for line in problems:
                    rv.Html(tag="div", class_="ss-error", children=["Reset refused: " + line])
                if changes:  # also where the run is watched (on a phone the controls may be closed)
                    with rv.Html(tag="div", class_="ss-pending-note", attributes={"data-pending": str(len(changes))}):
                        rv.Html(tag="span", class_="ss-pending", children=[
                            f"{len(changes)} change{'s wait' if len(changes) > 1 else ' waits'} for Reset: "
                            + "; ".join(changes)])
                        solara.Button("Reset to apply", color="primary", small=True, on_click=reset,
                                      style={"margin-left": "8px"})
                with solara.Card(classes=["ss-card", "ss-status-card"]):
                    Status(frame, run_again, next_seed)
                with rv.Html(tag="div", class_="ss-run"):
                    NetworkImage(frame)
                    ChartImage(frame)
            else:
                CompareView(model)


def _fit_scenario(model: AppModel, values: dict[str, Any]):
    """The scenario the controls' ranges fit: the file with the controls as set (so that the seed
    sites can go up to a new number of sites), or the file alone if those values are refused."""
    base = model.base_scenario
    try:
        ov = overrides_for(base, values)
        return base.with_overrides(ov) if ov else base
    except InputError:
        return base


@solara.component
def Page():
    """The whole page; a new scenario choice builds a new model and a fresh set of controls."""
    start = solara.use_memo(_start_scenario, [])
    scenarios: dict[str, Path | None] = solara.use_memo(
        lambda: dict(bundled_scenarios(start)) if start is not None else {BUILTIN: None}, [])
    choice, set_choice = solara.use_state(label_for(start, scenarios) if start is not None else BUILTIN)
    solara.Style(CSS)
    Workspace(scenarios, choice, set_choice).key(f"ws-{choice}")

