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
  what adopted and reach count, fidelity with its denominator, the network coloured by stage
  (click a site for its story) and the curves; earlier runs stay as faint numbered curves,
  "Show 20 runs" draws the spread of the current settings and a sentence says whether a difference
  is within that noise (:mod:`.memory`); the setup, tables and charts can be downloaded and a
  scenario file opened (:mod:`.share`).
* The Compare view runs two or more of the scenario's strategies in the background, N replicates
  each on common random numbers on the batched engine (:mod:`.compare`), and shows adoption bands
  and paired differences; only outcomes counted over all sites get a verdict.
* The Decide view explores the chosen strategies across the scenario's ``uncertainties:`` in the
  background (:mod:`.decide`), then shows the robustness table with the ranking and its stability,
  and the PRIM boxes of the futures where a chosen strategy fails.
* The About view is the case's lesson (:mod:`.lessons`).
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
from . import decide
from .compare import MAX_REPLICATES, MIN_REPLICATES, Comparison, describe, differences_html, strategy_choices
from .figures import ChartFigure, NetworkFigure, min_font_px, status_html
from .lessons import file_notes, lesson_for
from .memory import MAX_PAST, SPREAD_RUNS, PastRun, Spread, noise_sentence, spread, what_changed
from .share import scenario_yaml, site_story, sites_csv, summary_csv, timeseries_csv
from .wrapper import (
    CONTROLS,
    AppModel,
    Control,
    bundled_scenarios,
    default_scenario_file,
    label_for,
    overrides_for,
    same_value,
    scenario_title,
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
.ss-box-sentence { margin: 12px 0 8px 0; font-weight: 500; }
.ss-box { margin: 8px 0 14px 0; }
.ss-ranking { margin-top: 10px; }
.ss-unstable { border-left: 4px solid #e08a00; padding: 4px 10px; background: rgba(224, 138, 0, 0.08); }
.ss-decide img.spreadsim-decide-robustness { max-width: 980px; }
.ss-decide .v-card__title { word-break: normal; }
.ss-run img { max-height: max(320px, calc(100vh - 362px)); object-fit: contain; }
.ss-noise { font-size: 14px; margin: 4px 0; }
.ss-memory { font-size: 13px; margin: 2px 0; }
.ss-loading { position: fixed; inset: 0; z-index: 300; background: rgba(128, 128, 128, 0.35); display: flex;
              align-items: center; justify-content: center; }
.ss-loading-box { background: white; color: black; padding: 18px 26px; border-radius: 6px; font-size: 16px;
                  display: flex; gap: 14px; align-items: center; }
.ss-share { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; }
.ss-lesson h3 { font-size: 16px; margin: 12px 0 4px 0; }
.ss-lesson li { margin: 3px 0; }
.ss-site-table td { padding: 1px 10px 1px 0; }
.ss-network-click img { cursor: crosshair; }
.ss-settings { font-size: 12.5px; }
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
    note: str = ""


class Session:
    """One browser tab's model and its figures; stepping and drawing hold one lock, so that Reset,
    Step and Play never see a model half-way through a month.

    It also remembers the earlier runs of the tab (their settings and adopted share, drawn as faint
    numbered curves) and the spread of runs of the current settings ("Show 20 runs").
    """

    def __init__(self, model: AppModel, dark: bool = False):
        self.lock = threading.RLock()
        self.past: list[PastRun] = []
        self.runs_made = 0
        self.band: Spread | None = None
        self.dark = dark
        self.model = None
        self.set_model(model)

    def set_model(self, model: AppModel, remember: bool = True) -> None:
        with self.lock:
            old = self.model
            if remember and old is not None and old.month > 0:
                self.past = [*self.past, PastRun(self.runs_made, dict(old.control_values), int(old.seed),
                                                 old.series["adopted_share"][: old.month + 1].copy())][-MAX_PAST:]
            self.runs_made += 1
            self.model = model
            if self.band is not None and not self.band.applies_to(model.control_values):
                self.band = None
            self._draw()

    def _draw(self) -> None:
        m = self.model
        band = None if self.band is None else (self.band.mean, self.band.low, self.band.high, self.band.runs)
        self.network = NetworkFigure(m, dark=self.dark)
        self.chart = ChartFigure(m, ghosts=[(p.number, p.adopted) for p in self.past], band=band, dark=self.dark)
        self.font_px = min(min_font_px(self.network.figure), min_font_px(self.chart.figure))

    def set_band(self, band: Spread | None) -> None:
        with self.lock:
            self.band = band
            self._draw()

    def set_dark(self, dark: bool) -> None:
        with self.lock:
            if dark != self.dark:
                self.dark = dark
                self._draw()

    def forget(self) -> None:
        with self.lock:
            self.past = []
            self._draw()

    def memory(self) -> list[tuple[int, str]]:
        """The earlier runs, numbered as on the chart, with what differs from the current run."""
        m = self.model
        return [(p.number, f"{what_changed(p.values, p.seed, m.control_values, m.seed)}; reached month {p.month}")
                for p in self.past]

    def note(self) -> str:
        m = self.model
        prev = self.past[-1] if self.past else None
        label = what_changed(prev.values, prev.seed, m.control_values, m.seed) if prev else ""
        return noise_sentence(float(m.series["adopted_share"][m.month]), m.month, prev, label, self.band)

    def frame(self) -> Frame:
        with self.lock:
            m = self.model
            return Frame(id(m), m.month, m.months, self.network.png(), self.chart.png(), status_html(m), self.font_px,
                         self.note())

    def step(self, months: int = 1) -> Frame | None:
        """Up to ``months`` months on, and the frame of the last (None at the end of the run)."""
        with self.lock:
            if self.model.month >= self.model.months:
                return None
            for _ in range(max(1, months)):
                if self.model.month >= self.model.months:
                    break
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
    # continuous_update: the value travels in the text box's own (ordered) state message. With
    # continuous_update=False Solara commits on "Enter"/focus-out events, which read the server's
    # copy of the text; ipywidgets holds a widget's state messages back while an earlier one is
    # unanswered but sends events at once, so under load the event could overtake the text and
    # commit the old value (the flaky test_pending_changes_are_shown_until_reset).
    kw = dict(label="exact value", value=value, on_value=on_value, continuous_update=True, dense=True,
              disabled=disabled, classes=["ss-number"], hide_details=True)
    if c.kind == "int":
        return solara.InputInt(**kw)
    return solara.InputFloat(**kw)


def data_value(value: Any) -> str:
    """A control's value as its ``data-value`` attribute (what tests wait for): ``str`` of it."""
    return str(value)


@solara.component
def ControlInput(control: Control, fit_scenario, value: Any, applied: Any, on_value):
    """One control: its label and value in words, a slider and a number box (or a switch or a
    choice), its help line, and a mark while its value waits for Reset."""
    c = control
    pending = not same_value(value, applied)
    with rv.Html(tag="div", class_="ss-control", attributes={"data-control": c.name, "data-pending": str(int(pending)),
                                                             "data-value": data_value(value)}):
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
                    # special off: start from the top of the range (for capacity, every site at once)
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


#: the cards the controls are shown in, in order
CONTROL_CARDS = [("strategy", "Strategy: what the programme does"), ("logics", "How it spreads"),
                 ("context", "The sites and their network")]
#: at most this many frames a second are drawn; faster speeds step several months per frame
MAX_FPS = 8


# ---------------------------------------------------------------------------------- run view
def months_per_frame(speed: float, frame_seconds: float) -> int:
    """Months to step before drawing, so that the run goes at ``speed`` months a second although a
    frame (a month's step and both figures) takes ``frame_seconds`` to make: at 16 months a second
    and 0.2 s a frame, four months a frame."""
    budget = max(frame_seconds, 1.0 / MAX_FPS)
    return max(1, round(speed * budget))


@solara.component
def Player(session: Session, frame: solara.Reactive, playing: solara.Reactive, speed: solara.Reactive,
           rate: solara.Reactive):
    """Steps the model in the background while playing, at ``speed`` months a second: when drawing a
    frame takes longer than a month's share of a second, several months are stepped per frame."""

    def play(cancel: threading.Event):
        if not playing.value:
            return
        stamps: list[tuple[float, int]] = []
        cost = 0.0
        while not cancel.is_set():
            t0 = time.monotonic()
            k = months_per_frame(speed.value, cost)
            with session.lock:
                if cancel.is_set():
                    return
                f = session.step(k)
                if f is None:
                    break
                frame.set(f)
            cost = 0.7 * cost + 0.3 * (time.monotonic() - t0) if cost else time.monotonic() - t0
            stamps = [*stamps[-9:], (time.monotonic(), f.month)]
            if len(stamps) > 2 and stamps[-1][0] > stamps[0][0]:
                rate.set((stamps[-1][1] - stamps[0][1]) / (stamps[-1][0] - stamps[0][0]))
            wait = k / speed.value - (time.monotonic() - t0)
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
        rv.Html(tag="div", class_="ss-speed-label", attributes={"data-rate": f"{rate.value:.2f}"},
                children=[f"Speed: {speed.value} month{'s' if speed.value != 1 else ''} per second{actual}"])
        with solara.ToggleButtonsSingle(value=speed.value, on_value=speed.set, dense=True):
            for sp in SPEEDS:
                solara.Button(str(sp), value=sp)


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
def Memory(session: Session, frame: solara.Reactive):
    """Earlier runs (numbered as on the chart, with what differs), "Show 20 runs" and the sentence
    that says whether a difference is within the noise."""
    token, set_token = solara.use_state(0)
    running, set_running = solara.use_state(False)
    progress, set_progress = solara.use_state((0, 0))
    f = frame.value
    model = session.model

    def work(cancel: threading.Event):
        if not running:
            return
        band = spread(model.scenario_obj, int(model.seed), dict(model.control_values),
                      on_progress=lambda d, t: set_progress((d, t)), cancel=cancel)
        if cancel.is_set() or band is None:
            return
        session.set_band(band)
        frame.set(session.frame())
        set_running(False)

    solara.use_thread(work, dependencies=[token, running], intrusive_cancel=False)
    has_band = session.band is not None
    with rv.Html(tag="div", class_="ss-memory-box", attributes={"data-past": str(len(session.past)),
                                                                "data-band": str(int(has_band))}):
        with rv.Html(tag="div", style_="display: flex; gap: 8px; flex-wrap: wrap; align-items: center"):
            solara.Button(f"Show {SPREAD_RUNS} runs of these settings", small=True, outlined=True,
                          disabled=running or has_band, classes=["ss-show-runs"],
                          on_click=lambda: (set_progress((0, SPREAD_RUNS)), set_running(True), set_token(token + 1)))
            if running:
                solara.Button("Stop", small=True, text=True, on_click=lambda: (set_running(False), set_token(token + 1)))
                done, total = progress
                rv.Html(tag="span", class_="ss-muted", children=[f"running: {done} of {total} runs"])
            if session.past:
                solara.Button("Forget earlier runs", small=True, text=True,
                              on_click=lambda: (session.forget(), frame.set(session.frame())))
        if f.note:
            rv.Html(tag="div", class_="ss-noise", children=[f.note])
        for number, text in session.memory():
            rv.Html(tag="div", class_="ss-memory", attributes={"data-run": str(number)},
                    children=[f"earlier run {number} (grey line {number}): {text}"])


@solara.component
def NetworkImage(frame: solara.Reactive, on_site=None):
    import base64

    f = frame.value
    rv.Html(tag="div", class_="ss-figure-info", style_="display:none",
            attributes={"data-font-px": f"{f.font_px:.2f}", "data-month": str(f.month)})
    src = "data:image/png;base64," + base64.b64encode(f.network_png).decode()
    NetworkClick(src=src, event_click_site=lambda d: on_site and on_site(d))


@solara.component_vue("network_image.vue")
def NetworkClick(src: str, event_click_site=None):
    pass


@solara.component_vue("open_yaml.vue")
def OpenYaml(event_open_file=None):
    pass


@solara.component
def ChartImage(frame: solara.Reactive):
    solara.Image(frame.value.chart_png, width="100%", classes=["spreadsim-chart"])


@solara.component
def SiteCard(session: Session, frame: solara.Reactive, site: int | None, close):
    """One site's traits and history (from a click on the network)."""
    if site is None:
        rv.Html(tag="div", class_="ss-muted", children=["Click a site in the network to see its traits and history."])
        return
    _ = frame.value  # redraw with the month
    story = site_story(session.model, site)
    with rv.Html(tag="div", class_="ss-site", attributes={"data-site": story["site"]}):
        with rv.Html(tag="div", style_="display: flex; justify-content: space-between; align-items: center"):
            rv.Html(tag="b", children=[f"Site {story['site']} ({labels.readable(story['group'])}): {story['stage']} "
                                       f"at month {session.model.month}"])
            solara.Button("Close", text=True, small=True, on_click=close)
        rows = "".join(f"<tr><td>{k}</td><td><b>{v}</b></td></tr>" for k, v in story["traits"].items())
        solara.HTML(tag="table", unsafe_innerHTML=rows, classes=["ss-site-table"])
        if story["history"]:
            steps = " \u2192 ".join(f"month {t}: {st}" for t, st in story["history"])
            rv.Html(tag="div", class_="ss-site-history", children=[f"History: {steps}."])
        if story["supported_months"] is not None:
            rv.Html(tag="div", class_="ss-muted", children=[
                f"Supported by the programme for {story['supported_months']} of the {session.model.month + 1} months so far."])


@solara.component
def ShareCard(session: Session, frame: solara.Reactive):
    """Download the setup (a scenario file `spreadsim run` reproduces), the run's tables and charts."""
    f = frame.value
    m = session.model
    stem = (Path(m.scenario_file).stem if getattr(m, "scenario_file", None) else "spreadsim") + f"_seed{m.seed}"
    with solara.Card("Save and share", classes=["ss-card", "ss-share-card"]):
        rv.Html(tag="p", class_="ss-muted", children=[
            "The setup is a scenario file with every value and the seed: spreadsim run FILE gives this run again, "
            "exactly. The tables and charts are the run up to the month shown."])
        with rv.Html(tag="div", class_="ss-share"):
            solara.FileDownload(lambda: scenario_yaml(session.model), filename=f"{stem}.yaml",
                                label="Setup (scenario YAML)", mime_type="text/yaml")
            solara.FileDownload(lambda: timeseries_csv(session.model), filename=f"{stem}_month{f.month}_timeseries.csv",
                                label="Months (CSV)", mime_type="text/csv")
            solara.FileDownload(lambda: summary_csv(session.model), filename=f"{stem}_month{f.month}_summary.csv",
                                label="Summary (CSV)", mime_type="text/csv")
            solara.FileDownload(lambda: sites_csv(session.model), filename=f"{stem}_month{f.month}_sites.csv",
                                label="Sites (CSV)", mime_type="text/csv")
            solara.FileDownload(f.network_png, filename=f"{stem}_month{f.month}_network.png", label="Network (PNG)",
                                mime_type="image/png")
            solara.FileDownload(f.chart_png, filename=f"{stem}_month{f.month}_chart.png", label="Chart (PNG)",
                                mime_type="image/png")


@solara.component
def LessonView(model: AppModel):
    """What the case is, its sources, three questions to try and what to notice (NetLogo's Info tab)."""
    lesson = lesson_for(model.scenario_file)
    sc = model.base_scenario
    with solara.Card(f"About this case: {labels.scenario_label(sc.name)}", classes=["ss-card", "ss-lesson"]):
        if lesson is None:
            if sc.description:
                rv.Html(tag="p", children=[sc.description])
            for para in file_notes(model.scenario_file):
                rv.Html(tag="p", class_="ss-muted", children=[para])
            return
        rv.Html(tag="h3", children=["What it is"])
        rv.Html(tag="p", children=[lesson.what])
        rv.Html(tag="h3", children=["Sources"])
        with rv.Html(tag="ul", class_="ss-sources"):
            for src in lesson.sources:
                rv.Html(tag="li", children=[src])
        rv.Html(tag="h3", children=["Three questions to try"])
        with rv.Html(tag="ol", class_="ss-questions"):
            for q in lesson.questions:
                rv.Html(tag="li", children=[q])
        rv.Html(tag="h3", children=["What to notice"])
        rv.Html(tag="p", class_="ss-notice", children=[lesson.notice])


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
                "Runs each chosen strategy the same number of times on the same seeds (common random numbers), on the "
                "same batched engine as spreadsim compare, and shows the adopted share with its 5-95% band and each "
                "strategy's paired difference from the first one chosen. Only outcomes counted over all the sites are "
                "called better or worse."])
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


# ------------------------------------------------------------------------------- decide view
def _item(text: str, value: str) -> dict:
    return {"text": text, "value": value}


@solara.component
def DecideView(model: AppModel):
    """Explore the strategies across the scenario's uncertainties (in the background, batched, with
    progress and Stop), then the robustness table and the failure boxes (:mod:`.decide`)."""
    sc = model.base_scenario
    choices = solara.use_memo(lambda: strategy_choices(sc, model.app_overrides), [id(model)])
    chosen, set_chosen = solara.use_state(list(choices)[: 3])
    samples, set_samples = solara.use_state(16)
    replicates, set_replicates = solara.use_state(3)
    outcome, set_outcome = solara.use_state(decide.outcomes()[0])
    sat, set_sat = solara.use_state(None)
    token, set_token = solara.use_state(0)
    running, set_running = solara.use_state(False)
    progress, set_progress = solara.use_state((0, 0, ""))
    explored, set_explored = solara.use_state(None)
    problems, set_problems = solara.use_state([])
    job = solara.use_ref(None)
    # the failure condition: strategy, outcome, below/above, threshold (None: where about half the futures fail)
    fail_strategy, set_fail_strategy = solara.use_state("baseline")
    fail_outcome, set_fail_outcome = solara.use_state(decide.outcomes()[0])
    fail_cmp, set_fail_cmp = solara.use_state("below")
    fail_thr, set_fail_thr = solara.use_state(None)
    box_token, set_box_token = solara.use_state(0)
    finding, set_finding = solara.use_state(False)
    boxes, set_boxes = solara.use_state(None)
    box_problems, set_box_problems = solara.use_state([])
    shown = solara.use_ref(None)  # the exploration on the page now (a box of an earlier one is dropped)

    picked = ["baseline", *[n for n in choices if n in chosen and n != "baseline"]]

    def start():
        try:
            job.current = decide.Decision(sc, {n: choices[n] for n in picked}, int(samples or 0), int(replicates or 0))
        except InputError as err:
            set_problems([f"error: {p}" for p in err.problems])
            return
        set_problems([])
        set_explored(None)
        set_boxes(None)
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
            set_explored(out)
            if fail_strategy not in out.exploration.strategies:
                set_fail_strategy("baseline")
        set_running(False)

    solara.use_thread(work, dependencies=[token, running], intrusive_cancel=False)

    shown.current = explored
    robust_res, robust_err = solara.use_memo(lambda: _robust(explored, outcome, sat), [id(explored), outcome, sat])
    robust_png = solara.use_memo(lambda: decide.robustness_png(robust_res) if robust_res is not None else None,
                                 [id(explored), outcome, sat])
    default_thr = (decide.default_threshold(explored, fail_strategy, fail_outcome, fail_cmp)
                   if explored is not None and fail_strategy in explored.exploration.strategies else 0.0)
    threshold = default_thr if fail_thr is None else float(fail_thr)

    def find():
        set_box_problems([])
        set_boxes(None)
        set_finding(True)
        set_box_token(box_token + 1)

    def find_work(cancel: threading.Event):
        if not finding or explored is None:
            return
        try:
            res = decide.failure_boxes(explored, fail_strategy, fail_outcome, fail_cmp, float(threshold))
        except InputError as err:
            set_box_problems([f"error: {p}" for p in err.problems])
            res = None
        if cancel.is_set():
            return
        if shown.current is explored:
            set_boxes(res)
        set_finding(False)

    solara.use_thread(find_work, dependencies=[box_token, finding], intrusive_cancel=False)
    if not decide.has_uncertainties(sc):
        with rv.Html(tag="div", class_="ss-decide"):
            with solara.Card("Decide under deep uncertainty", classes=["ss-card"]):
                rv.Html(tag="p", class_="ss-no-uncertainties", style_="white-space: pre-wrap", children=[decide.HOW_TO])
        return
    items = [_item(labels.output_label(m, with_unit=True) + f" ({labels.direction(m)})", m) for m in decide.outcomes()]

    with rv.Html(tag="div", class_="ss-decide"):
        with solara.Card("Decide under deep uncertainty", classes=["ss-card"]):
            rv.Html(tag="p", children=[
                "Runs every chosen strategy in each of many sampled futures (a Latin hypercube over the scenario's "
                "uncertainties: section), with the same seeds for every strategy, on the same batched engine as "
                "spreadsim explore. Then: which strategy holds up across the futures (its regret is how far it falls "
                "short of the best strategy in the same future), and in which futures a strategy fails."])
            rv.Html(tag="div", class_="ss-help", children=[
                "Uncertain: " + "; ".join(labels.param_label(p) for p in decide._paths(sc))])
            fixed = decide.fixed_by_strategy(sc, choices)
            for name, ov in choices.items():
                def toggle(on: bool, name=name):
                    set_chosen([n for n in choices if (n in chosen and n != name) or (n == name and on)])

                with rv.Html(tag="div", class_="ss-strategy", attributes={"data-strategy": name}):
                    rv.Checkbox(label=labels.strategy_label(name) + ("  (always included)" if name == "baseline" else ""),
                                v_model=name in picked, on_v_model=toggle, disabled=running or name == "baseline",
                                dense=True, hide_details=True)
                    note = describe(ov) + (f" (sets {', '.join(labels.param_label(p) for p in fixed[name])} itself, "
                                           "in every future)" if name in fixed else "")
                    rv.Html(tag="div", class_="ss-help", style_="margin: 0 0 6px 32px", children=[note])
            with solara.Row(gap="12px", style={"align-items": "center", "flex-wrap": "wrap"}):
                solara.InputInt(f"futures ({decide.MIN_SAMPLES}-{decide.MAX_SAMPLES})", value=samples,
                                on_value=set_samples, continuous_update=True, disabled=running,
                                style={"max-width": "170px"}, classes=["ss-samples"])
                solara.InputInt(f"replicates in each ({decide.MIN_REPLICATES}-{decide.MAX_REPLICATES})",
                                value=replicates, on_value=set_replicates, continuous_update=True, disabled=running,
                                style={"max-width": "210px"}, classes=["ss-decide-replicates"])
                solara.Button("Explore", color="primary", on_click=start, disabled=running)
                if running:
                    solara.Button("Stop", color="primary", outlined=True,
                                  on_click=lambda: (set_running(False), set_token(token + 1)))
            n_runs = int(samples or 0) * len(picked) * int(replicates or 0)
            rv.Html(tag="div", class_="ss-muted", children=[
                f"{n_runs:,} runs: {int(samples or 0)} futures x {len(picked)} strategies x {int(replicates or 0)} "
                "replicates. A few futures show the idea; decide on 100 or more (spreadsim explore)."])
            for line in problems:
                rv.Html(tag="div", class_="ss-error", children=[line])
            done, total, text = progress
            if running or (total and done < total):
                with rv.Html(tag="div", class_="ss-progress", attributes={"data-done": str(done), "data-total": str(total)}):
                    solara.ProgressLinear(value=100 * done / total if total else True)
                    rv.Html(tag="div", children=[("running: " if running else "stopped: ") + text])
        if explored is None:
            return
        e = explored
        with rv.Html(tag="div", class_="ss-decide-result", attributes={"data-runs": str(e.runs),
                                                                         "data-strategies": ",".join(e.exploration.strategies)}):
            with solara.Card(f"Robustness: {len(e.exploration.strategies)} strategies in {e.samples} futures, "
                             f"{e.replicates} replicates each ({e.runs:,} runs in {e.seconds:.1f} s)", classes=["ss-card"]):
                with solara.Row(gap="12px", style={"align-items": "center", "flex-wrap": "wrap"}):
                    rv.Select(label="outcome", v_model=outcome, on_v_model=set_outcome, items=items, dense=True,
                              hide_details=True, class_="ss-outcome", style_="max-width: 380px")
                    solara.InputFloat("threshold to meet: at " + ("least" if labels.better(outcome) >= 0 else "most")
                                      + " (optional)", value=sat, on_value=set_sat,
                                      optional=True, clearable=True, continuous_update=True, style={"max-width": "330px"},
                                      classes=["ss-satisfice"])
                if robust_err:
                    rv.Html(tag="div", class_="ss-error", children=[robust_err])
                if robust_res is not None:
                    solara.HTML(tag="div", unsafe_innerHTML=decide.robustness_html(robust_res))
                    solara.Image(robust_png, width="100%", classes=["spreadsim-decide-robustness"])
                    rv.Html(tag="p", class_="ss-muted", children=[
                        "In brackets: 95% intervals from resampling both the futures and the replicates. Shares are "
                        "shown in %, and a threshold for a share is entered as a fraction (0.5 = 50%)."])
            with solara.Card("Where does a strategy fail?", classes=["ss-card", "ss-failure"]):
                with solara.Row(gap="12px", style={"align-items": "center", "flex-wrap": "wrap"}):
                    rv.Select(label="strategy", v_model=fail_strategy,
                              on_v_model=lambda v: (set_fail_strategy(v), set_fail_thr(None)),
                              items=[_item(labels.strategy_label(s), s) for s in e.exploration.strategies],
                              dense=True, hide_details=True, class_="ss-fail-strategy", style_="max-width: 220px")
                    rv.Html(tag="span", children=["fails when"])
                    rv.Select(label="outcome", v_model=fail_outcome,
                              on_v_model=lambda v: (set_fail_outcome(v), set_fail_thr(None)),
                              items=items, dense=True, hide_details=True, class_="ss-fail-outcome",
                              style_="max-width: 330px")
                    rv.Html(tag="span", children=["is"])
                    rv.Select(label="", v_model=fail_cmp, on_v_model=lambda v: (set_fail_cmp(v), set_fail_thr(None)),
                              items=[_item(w, w) for w in decide.COMPARISONS], dense=True, hide_details=True,
                              class_="ss-fail-cmp", style_="max-width: 110px")
                    solara.InputFloat("threshold", value=threshold, on_value=lambda v: set_fail_thr(v),
                                      style={"max-width": "140px"}, classes=["ss-fail-threshold"])
                    solara.Button("Find the failure boxes", color="primary", on_click=find, disabled=finding)
                rv.Html(tag="div", class_="ss-muted", children=[
                    f"Condition: {decide.condition(fail_outcome, fail_cmp, float(threshold))}, in at least half of the "
                    "replicates of a future (as spreadsim discover --where). The threshold starts where about half "
                    "of the futures fail. With few futures (under about 30) PRIM seldom finds a box it can trust."])
                for line in box_problems:
                    rv.Html(tag="div", class_="ss-error", children=[line])
                if finding:
                    with rv.Html(tag="div", class_="ss-finding"):
                        solara.ProgressLinear(value=True)
                        rv.Html(tag="div", children=["PRIM is peeling the futures..."])
                if boxes is not None:
                    with rv.Html(tag="div", class_="ss-boxes", attributes={"data-boxes": str(boxes.boxes["box"].nunique())}):
                        solara.HTML(tag="div", unsafe_innerHTML=decide.boxes_html(boxes))


def _robust(explored, outcome: str, sat: float | None):
    """The robustness result, or the message of why there is none."""
    if explored is None:
        return None, None
    try:
        return decide.robustness(explored, outcome, sat), None
    except InputError as err:
        return None, "; ".join(f"error: {p}" for p in err.problems)


# ------------------------------------------------------------------------------------ the page
@solara.component
def Workspace(scenarios: dict[str, Path | None], choice: str, set_choice, titles: dict[str, str], on_open):
    """Everything for one scenario; a new scenario choice makes a new workspace."""
    path = scenarios[choice]
    dark = bool(solara.lab.use_dark_effective())
    first, first_problems = solara.use_memo(lambda: _build(path), [])
    session = solara.use_memo(lambda: Session(first, dark=dark) if first is not None else None, [])
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
    site, set_site = solara.use_state(None)
    open_problems, set_open_problems = solara.use_state([])

    def follow_theme():
        if session is not None and session.dark != dark:
            with session.lock:
                session.set_dark(dark)
                frame.set(session.frame())

    solara.use_effect(follow_theme, [dark])

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

    def click_site(d):
        try:
            found = session.network.site_at(float(d["x"]), float(d["y"]))
        except (KeyError, TypeError, ValueError):
            return
        if found is not None:
            set_site(found)

    def opened(info):
        errs = on_open(info)
        set_open_problems(errs or [])

    fit = solara.use_memo(lambda: _fit_scenario(model, values) if model is not None else None,
                          [id(model), tuple(sorted(values.items(), key=lambda kv: kv[0]))])
    changes = pending_changes(values, model.control_values, seed, model.seed) if model is not None else []
    title = f"spreadsim: {labels.scenario_label(model.base_scenario.name) if model else titles.get(choice, choice)}"
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
                rv.Select(label="Scenario", v_model=choice, on_v_model=set_choice, dense=True, hide_details=True,
                          items=[{"text": titles.get(k, k), "value": k} for k in scenarios], class_="ss-scenario")
                if model is not None and model.base_scenario.description:
                    rv.Html(tag="p", style_="margin-top: 8px", children=[model.base_scenario.description])
                OpenYaml(event_open_file=opened)
                for line in open_problems:
                    rv.Html(tag="div", class_="ss-error", children=[line])
            if model is not None:
                with solara.Card("Run", classes=["ss-card"]):
                    RunButtons(session, frame, playing, speed, rate, reset)
                    solara.InputInt("Seed", value=seed, on_value=lambda v: set_seed(int(v)) if v is not None and 0 <= v else None,
                                    continuous_update=True, dense=True, style={"max-width": "180px", "margin-top": "10px"})
                    solara.HTML(tag="div", unsafe_innerHTML=HELP, classes=["ss-muted"])
                with solara.Card("Changes", classes=["ss-card"]):
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
                for group, heading in CONTROL_CARDS:
                    shown = [c for c in CONTROLS if c.group == group and c.name in values]
                    if not shown:
                        continue
                    with solara.Card(heading, classes=["ss-card", f"ss-controls-{group}"]):
                        for c in shown:
                            # a functional update: each change applies to the values as they are then
                            ControlInput(c, fit, values[c.name], model.control_values[c.name],
                                         lambda v, name=c.name: set_values(lambda cur: {**cur, name: v})).key(c.name)
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
                rv.Tab(children=["Decide"])
                rv.Tab(children=["About this case"])
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
                    with rv.Html(tag="div", class_="ss-network-click"):
                        NetworkImage(frame, click_site)
                    ChartImage(frame)
                with solara.Card(classes=["ss-card", "ss-memory-card"]):
                    Memory(session, frame)
                with solara.Card("A site's story", classes=["ss-card", "ss-site-card"]):
                    SiteCard(session, frame, site, lambda: set_site(None))
                ShareCard(session, frame)
            elif tab == 1:
                CompareView(model)
            elif tab == 2:
                DecideView(model)
            else:
                LessonView(model)


def _fit_scenario(model: AppModel, values: dict[str, Any]):
    """The scenario the controls' ranges fit: the file with the controls as set (so that the seed
    sites can go up to a new number of sites), or the file alone if those values are refused."""
    base = model.base_scenario
    try:
        ov = overrides_for(base, values)
        return base.with_overrides(ov) if ov else base
    except InputError:
        return base


#: where scenario files opened in the page are kept (one folder per server process)
_OPENED: dict[str, Path] = {}


#: the largest scenario file the page opens (bytes)
MAX_OPEN_BYTES = 1_048_576


def _open_file(info: dict, scenarios: dict[str, Path | None]) -> tuple[str | None, list[str]]:
    """Keep a scenario file opened in the page (``{"name", "text"}``) and check it as ``spreadsim
    run`` would; its label in the scenario list, or the problems (naming the file and the field)."""
    import re
    import tempfile

    from ..scenario import load_scenario

    name = re.sub(r"[^A-Za-z0-9._-]", "_", Path(str(info.get("name") or "opened.yaml")).name)
    if not name.lower().endswith((".yaml", ".yml")):
        return None, [f"error: {name}: not a scenario file (a .yaml file is expected)"]
    text = info.get("text")
    if not isinstance(text, str) or len(text.encode()) > MAX_OPEN_BYTES:
        return None, [f"error: {name}: too large for a scenario file (at most {MAX_OPEN_BYTES:,} bytes)"]
    folder = _OPENED.setdefault("dir", Path(tempfile.mkdtemp(prefix="spreadsim-opened-")))
    target = folder / name
    target.write_text(text, encoding="utf-8")
    try:
        load_scenario(target)
    except InputError as err:
        target.unlink(missing_ok=True)
        return None, [f"error: {p}".replace(str(folder) + "/", "") for p in err.problems]
    label = f"opened/{name}"
    scenarios[label] = target
    return label, []


@solara.component
def Page():
    """The whole page; a new scenario choice builds a new model and a fresh set of controls (with a
    loading sign while it is built)."""
    start = solara.use_memo(_start_scenario, [])
    scenarios: dict[str, Path | None] = solara.use_memo(
        lambda: dict(bundled_scenarios(start)) if start is not None else {BUILTIN: None}, [])
    titles, set_titles = solara.use_state({k: (scenario_title(k, p) if p is not None else k) for k, p in scenarios.items()})
    choice, set_choice = solara.use_state(label_for(start, scenarios) if start is not None else BUILTIN)
    wanted, set_wanted = solara.use_state(choice)
    solara.Style(CSS)

    def switch(cancel: threading.Event):
        # the loading sign is drawn first; the new workspace is built after it has been sent
        if wanted != choice:
            cancel.wait(0.05)
            if not cancel.is_set():
                set_choice(wanted)

    solara.use_thread(switch, dependencies=[wanted, choice], intrusive_cancel=False)

    def on_open(info) -> list[str]:
        label, problems = _open_file(info, scenarios)
        if label is not None:
            set_titles({**titles, label: scenario_title(label, scenarios[label])})
            set_wanted(label)
        return problems

    if wanted != choice:
        with rv.Html(tag="div", class_="ss-loading", attributes={"data-loading": wanted}):
            with rv.Html(tag="div", class_="ss-loading-box"):
                rv.ProgressCircular(indeterminate=True, color="primary")
                rv.Html(tag="span", children=[f"Loading {titles.get(wanted, wanted)}\u2026"])
    Workspace(scenarios, choice, set_wanted, titles, on_open).key(f"ws-{choice}")
