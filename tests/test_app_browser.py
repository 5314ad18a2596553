"""The teaching app used as a person would: ``spreadsim app`` served, opened in headless Chromium.

One server per module (``python -m simulation.cli app SHORT.yaml --port 0``, reading the address it
prints; ``SHORT.yaml`` is a 14-month, 120-site version of the demo so that a run ends quickly),
driven through Playwright with Debian's Chromium (``executable_path``; Playwright's own browser
downloads are never used). The page must work offline: every request that leaves this computer is
blocked and counted, and the server's CDN fallback points at a closed local port, so any asset that
solara-assets does not ship shows up as a failed request. Each test ends by checking that its pages
had no console error, no failed request and no request to the internet.

Skipped, with the reason, when Chromium or the app's packages are missing, except in CI (``CI=true``),
where that fails instead (``.ci/install-browser`` installs Chromium).
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import time
from pathlib import Path

import matplotlib.colors as mcolors
import matplotlib.image as mpimg
import numpy as np
import pytest

from simulation.app.screenshots import CHROMIUM, DESKTOP, PHONE, choose_scenario, launch, month, open_page, served, set_number
from simulation.app.wrapper import CONTROLS_BY_NAME, control_values
from simulation.plots import STAGE_COLOURS
from simulation.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
SHORT = """\
name: short_demo
description: The demo's schools, 120 of them, for 14 months (a short run for the browser tests).
seed: 3
months: 14
sites: {n: 120}
network: {type: small_world, k: 6, p: 0.1}
strategy:
  seeding: {rule: most_ready, n: 6}
  support: {capacity: 12, funding_months: 60}
  assurance: {interval: 6}
"""
TIMEOUT_MS = 30_000
MESA_INTERNALS = ["Page 0", "PAGE 0", "Render Interval", "Use Threads", "Time: 0", "Play Interval"]


def _require_browser() -> None:
    missing = [] if CHROMIUM.exists() else [f"{CHROMIUM} (install it with .ci/install-browser)"]
    missing += [m for m in ("playwright", "solara", "uvicorn") if importlib.util.find_spec(m) is None]
    if missing:
        msg = "the browser test needs " + ", ".join(missing) + " (pip install -e '.[app]')"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)


@pytest.fixture(scope="module")
def short(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("scenario") / "short.yaml"
    path.write_text(SHORT)
    return path


@pytest.fixture(scope="module")
def server(short, tmp_path_factory):
    _require_browser()
    log = tmp_path_factory.mktemp("log") / "server.log"
    with served(short, log=log) as (url, log, times):
        yield url
    text = log.read_text()
    assert "Traceback" not in text, text[-3000:]


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = launch(pw)
        yield b
        b.close()


@pytest.fixture
def pages(browser, server):
    """Open pages with ``pages(viewport, **kw)``; each is checked for errors when the test ends."""
    opened = []

    def open_(viewport=DESKTOP, **kw):
        p = open_page(browser, server, viewport, **kw)
        p.set_default_timeout(TIMEOUT_MS)
        opened.append(p)
        return p

    yield open_
    for p in opened:
        issues = p.issues
        p.close()
        assert not issues["outside"], f"the page asked the internet for: {issues['outside'][:5]}"
        assert not issues["failed"], f"failed requests: {issues['failed'][:5]}"
        assert not issues["errors"], f"errors in the page: {issues['errors'][:5]}"


def _status(page) -> dict:
    el = page.locator(".spreadsim-status")
    counts = {row.get_attribute("data-stage"): int(row.locator(".ss-count").inner_text().replace(",", ""))
              for row in el.locator(".ss-stage").all()}
    return {"month": int(el.get_attribute("data-month")), "sites": int(el.get_attribute("data-sites")),
            "finished": el.get_attribute("data-finished") == "1", "counts": counts, "text": el.inner_text(),
            "changed": el.locator(".ss-changed").inner_text(), "seed": int(el.locator(".ss-seed").inner_text())}


def _wait_status(page, **attrs) -> None:
    sel = ".spreadsim-status" + "".join(f'[data-{k}="{v}"]' for k, v in attrs.items())
    page.wait_for_selector(sel, timeout=TIMEOUT_MS)


def _wait_loaded(page, selector: str, width: int, height: int = 0) -> None:
    """Wait until the image is decoded (a browser decodes it after the element is in the page)."""
    page.wait_for_function("([s, w, h]) => { const e = document.querySelector(s); "
                           "return !!e && e.complete && e.naturalWidth > w && e.naturalHeight > h; }",
                           arg=[selector, width, height], timeout=TIMEOUT_MS)


def _image(page, selector: str) -> np.ndarray:
    img = page.locator(selector)
    _wait_loaded(page, selector, 300, 300)
    info = img.evaluate("e => [e.complete, e.naturalWidth, e.naturalHeight]")
    assert info[0] and info[1] > 300 and info[2] > 300, f"{selector} did not load: {info}"
    box = img.bounding_box()
    assert box and box["width"] > 250 and box["height"] > 250, f"{selector} is not shown: {box}"
    return mpimg.imread(io.BytesIO(img.screenshot()), format="png")[..., :3]


def _count(img: np.ndarray, colour: str, tol: float = 0.05) -> int:
    return int((np.abs(img - np.array(mcolors.to_rgb(colour))).max(axis=2) < tol).sum())


def _button(page, name: str):
    return page.get_by_role("button", name=name, exact=True)


def _play_until_finished(page, timeout_ms: int = 60_000) -> None:
    _button(page, "16").click()
    _button(page, "\u25b6 Play").click()
    page.wait_for_selector('.spreadsim-status[data-finished="1"]', timeout=timeout_ms)


# --------------------------------------------------------------------------- the page and a run
def test_page_loads_offline_without_mesa_internals(pages, tmp_path):
    t0 = time.monotonic()
    page = pages()
    load_s = time.monotonic() - t0
    _wait_status(page, month=0, sites=120)
    body = page.locator("body").inner_text()
    for text in MESA_INTERNALS + ["runs on Solara"]:
        assert text.lower() not in body.lower(), f"the page shows {text!r}"
    start = _status(page)
    assert start["sites"] == sum(start["counts"].values()) == 120
    net0 = _image(page, "img.spreadsim-network")
    assert _count(net0, STAGE_COLOURS["not_engaged"]) > 1000 and _count(net0, STAGE_COLOURS["full"]) > 30
    chart0 = _image(page, "img.spreadsim-chart")
    # what reach counts is said on the page, beside the number
    assert "Reach: people served by sites in full implementation" in start["text"]
    for m in range(1, 4):
        _button(page, "Step").click()
        _wait_status(page, month=m)
    after = _status(page)
    assert after["counts"] != start["counts"] and sum(after["counts"].values()) == 120
    page.wait_for_function("() => document.querySelector('.ss-figure-info').dataset.month === '3'")
    page.wait_for_timeout(300)
    assert not np.array_equal(_image(page, "img.spreadsim-network"), net0)
    assert _count(_image(page, "img.spreadsim-chart"), STAGE_COLOURS["not_engaged"]) > _count(chart0, STAGE_COLOURS["not_engaged"])
    (tmp_path / "report.json").write_text(json.dumps({"load_s": load_s}))
    print(f"browser: page loaded in {load_s:.1f} s")


def test_end_of_run_says_finished_and_offers_run_again(pages):
    page = pages()
    _play_until_finished(page)
    end = _status(page)
    assert end["month"] == 14 and "Month 14 of 14: finished" in end["text"]
    assert _button(page, "\u25b6 Play").is_disabled() and _button(page, "Step").is_disabled()
    assert _button(page, "Reset").is_enabled()
    box = page.locator(".ss-done-box")
    assert "finished" in box.inner_text()
    # run again: from month 0, the same settings and seed, so the same run
    _button(page, "Run again").click()
    page.wait_for_function("() => +document.querySelector('.spreadsim-status').dataset.month < 14")
    page.wait_for_selector('.spreadsim-status[data-finished="1"]', timeout=60_000)
    again = _status(page)
    assert again["counts"] == end["counts"] and again["seed"] == end["seed"]
    # the next seed: another run of the same settings
    _button(page, "Run again with the next seed").click()
    page.wait_for_function(f"() => document.querySelector('.ss-seed').innerText === '{end['seed'] + 1}'")
    page.wait_for_selector('.spreadsim-status[data-finished="1"]', timeout=60_000)
    assert _status(page)["seed"] == end["seed"] + 1
    # Reset still works at the end
    _button(page, "Reset").click()
    _wait_status(page, month=0, finished=0)
    assert _button(page, "Step").is_enabled()


def test_speed_control_shows_its_value_and_sets_the_pace(pages):
    page = pages()
    label = page.locator(".ss-speed-label")
    assert label.inner_text().startswith("Speed: 4 months per second")
    _button(page, "1").click()
    page.wait_for_function("() => document.querySelector('.ss-speed-label').innerText.startsWith('Speed: 1 month per second')")
    _button(page, "\u25b6 Play").click()
    page.wait_for_timeout(2500)
    _button(page, "\u275a\u275a Pause").click()
    slow = month(page)
    assert 1 <= slow <= 4, slow
    _button(page, "Reset").click()
    _wait_status(page, month=0)
    _button(page, "16").click()
    page.wait_for_function("() => document.querySelector('.ss-speed-label').innerText.startsWith('Speed: 16 months per second')")
    _button(page, "\u25b6 Play").click()
    page.wait_for_timeout(2500)
    fast = month(page)
    if _button(page, "\u275a\u275a Pause").is_visible():
        _button(page, "\u275a\u275a Pause").click()
    assert fast >= slow + 3, (slow, fast)


# ------------------------------------------------------------------------------------ controls
def _slider(page, control: str):
    return page.locator(f'[data-control="{control}"] [role="slider"]')


def _shown(page, control: str) -> str:
    return page.locator(f'[data-control="{control}"] .ss-control-value').inner_text()


def _box(page, control: str):
    return page.locator(f'[data-control="{control}"] .ss-number input')


def test_sliders_show_values_have_number_boxes_and_fit_the_scenario(pages, short):
    page = pages()
    sc = load_scenario(short)
    values = control_values(sc)
    sliders = [n for n, c in CONTROLS_BY_NAME.items() if c.kind in ("int", "float") and n in values]
    for name in sliders:
        c = CONTROLS_BY_NAME[name]
        assert _shown(page, name) == c.show(values[name]), name
        slider = _slider(page, name)
        if c.special is not None and values[name] == c.special[0]:
            # in its special state (unlimited, throughout, until funding ends) the slider rests at
            # the top of its range and the box is empty and disabled
            assert float(slider.get_attribute("aria-valuenow")) == c.options(sc, None)["max"], name
            assert _box(page, name).input_value() == "" and _box(page, name).is_disabled(), name
            continue
        assert float(slider.get_attribute("aria-valuenow")) == pytest.approx(values[name]), name
        assert float(_box(page, name).input_value()) == pytest.approx(values[name]), name
    # ranges fitted to the scenario: capacity and seed sites go up to its 120 sites, not 2,000
    assert _slider(page, "support_capacity").get_attribute("aria-valuemax") == "120"
    assert _slider(page, "seed_sites").get_attribute("aria-valuemax") == "120"
    # a precise value typed in the box: the slider and the value follow, nothing rounded
    set_number(page, "support_capacity", 47)
    assert _slider(page, "support_capacity").get_attribute("aria-valuenow") == "47"
    assert _shown(page, "support_capacity") == "47 sites"
    set_number(page, "legitimacy", 0.37)
    assert float(_slider(page, "legitimacy").get_attribute("aria-valuenow")) == pytest.approx(0.37)
    assert _shown(page, "legitimacy") == "0.37"
    # the slider moves the box: click the number-of-sites track half-way
    track = page.locator('[data-control="n_sites"] .v-slider__track-container')
    box = track.bounding_box()
    track.click(position={"x": box["width"] * 0.5, "y": box["height"] / 2})
    page.wait_for_selector('[data-control="n_sites"][data-pending="1"]')
    now = int(_slider(page, "n_sites").get_attribute("aria-valuenow"))
    assert 700 <= now <= 1300
    page.wait_for_function(f"() => document.querySelector('[data-control=\"n_sites\"] .ss-number input').value === '{now}'")
    assert _shown(page, "n_sites") == f"{now:,}"
    # unlimited support: the switch beside the capacity slider
    page.locator('[data-control="support_capacity"] .v-input--checkbox input').check(force=True)
    page.wait_for_function("() => document.querySelector('[data-control=\"support_capacity\"] .ss-control-value').innerText === 'unlimited'")
    assert "v-input--is-disabled" in page.locator('[data-control="support_capacity"] .ss-slider').get_attribute("class")
    assert _box(page, "support_capacity").is_disabled()


def test_pending_changes_are_shown_until_reset(pages):
    page = pages()
    assert page.locator('[data-control][data-pending="1"]').count() == 0
    assert "No changes wait for Reset" in page.locator(".ss-no-pending").inner_text()
    set_number(page, "support_capacity", 30)
    page.locator('[data-control="network"] .v-select').click()
    page.get_by_role("option", name="regions", exact=True).click()
    page.wait_for_selector('[data-control="network"][data-pending="1"]')
    pending = page.locator(".ss-pending-box")
    assert pending.get_attribute("data-pending") == "2"
    text = pending.inner_text()
    assert "2 changes wait for Reset" in text
    assert "Support capacity (sites at once): 12 sites \u2192 30 sites" in text
    assert "Network type: small world \u2192 regions" in text
    assert "waits for Reset" in page.locator('[data-control="support_capacity"]').inner_text()
    note = page.locator(".ss-pending-note")  # where the run is watched, too
    assert note.get_attribute("data-pending") == "2" and "Network type: small world \u2192 regions" in note.inner_text()
    # not applied yet: the running model is still the file's
    assert _status(page)["changed"] == "nothing (as in the file)"
    _button(page, "Step").click()
    _wait_status(page, month=1)
    assert pending.get_attribute("data-pending") == "2"  # still waiting while the run goes on
    _button(page, "Reset").click()
    _wait_status(page, month=0)
    page.wait_for_selector(".ss-no-pending")
    page.wait_for_selector(".ss-pending-note", state="detached")
    changed = _status(page)["changed"]
    # in words, each with the --set that does the same (never Python's True or {'dist': ...})
    assert "--set strategy.support.capacity=30" in changed and "--set network.type=regions" in changed
    assert "True" not in changed and "{'" not in changed
    assert page.locator('[data-control][data-pending="1"]').count() == 0
    # undo: a change that is not wanted goes back to the running model's value
    set_number(page, "assurance_interval", 2)
    _button(page, "Undo changes").click()
    page.wait_for_selector(".ss-no-pending")
    assert _shown(page, "assurance_interval") == "every 6 months"


def test_values_are_checked_as_spreadsim_run_checks_them(pages, short, capsys):
    """More seed sites than sites: Reset is refused with the very message `spreadsim run` prints."""
    from simulation.cli import main

    page = pages()
    set_number(page, "n_sites", 20)
    set_number(page, "seed_sites", 50)
    _button(page, "Reset").click()
    page.wait_for_selector(".ss-main .ss-error")
    shown = page.locator(".ss-main .ss-error").inner_text()
    code = main(["run", str(short), "--set", "sites.n=20", "--set", "strategy.seeding.n=50", "--no-plot", "-q",
                 "--out", str(short.parent / "never")])
    expected = capsys.readouterr().err.strip()
    assert code == 2 and expected
    assert shown == f"Reset refused: {expected}"
    assert _status(page)["sites"] == 120  # the model was not rebuilt, nothing lowered
    assert page.locator('[data-control="seed_sites"]').get_attribute("data-pending") == "1"


@pytest.mark.parametrize("label", ["classic/bass.yaml", "cases/keystone_michigan.yaml", "cases/ckm_threshold.yaml",
                                   "classic/complex_contagion_clustered.yaml", "cases/action_schools_bc.yaml"])
def test_no_control_moves_a_scenario_value_on_its_own(pages, label):
    """Loading a scenario leaves every control at the file's value: nothing clamped or rounded."""
    page = pages()
    choose_scenario(page, label)
    page.wait_for_timeout(500)
    sc = load_scenario(ROOT / "scenarios" / label)
    values = control_values(sc)
    assert page.locator('[data-control][data-pending="1"]').count() == 0
    assert page.locator(".ss-pending-box").count() == 0 and page.locator(".ss-pending-note").count() == 0
    shown = {e.get_attribute("data-control") for e in page.locator("[data-control]").all()}
    assert shown == set(values)  # no control for what the file fixes (sites from files, listed seeds)
    for name, v in values.items():
        c = CONTROLS_BY_NAME[name]
        if c.kind in ("int", "float"):
            assert _shown(page, name) == c.show(v), name
    assert _status(page)["changed"] == "nothing (as in the file)"


# -------------------------------------------------------------------------------------- layout
_UNCOVERED = """(sel) => {
    const el = document.querySelector(sel);
    el.scrollIntoView({block: 'nearest'});
    const r = el.getBoundingClientRect();
    const pts = [[r.left + 4, r.top + 4], [r.right - 4, r.top + 4], [r.left + 4, r.bottom - 4],
                 [r.right - 4, r.bottom - 4], [(r.left + r.right) / 2, (r.top + r.bottom) / 2]];
    return pts.map(([x, y]) => { const hit = document.elementFromPoint(x, y); return !!hit && (hit === el || el.contains(hit)); });
}"""

_FONT_PX = """(sel) => {
    const img = document.querySelector(sel);
    const px = +document.querySelector('.ss-figure-info').dataset.fontPx;
    return px * img.clientWidth / img.naturalWidth;
}"""


def test_desktop_layout_nothing_is_cut_off(pages):
    page = pages(DESKTOP)
    assert "runs on Solara" not in page.locator("body").inner_text()
    for sel in (".spreadsim-status", "img.spreadsim-network", "img.spreadsim-chart"):
        assert all(page.evaluate(_UNCOVERED, sel)), f"{sel} is covered or cut off"
        assert sel == ".spreadsim-status" or page.evaluate(_FONT_PX, sel) >= 10, sel
    # on a 1400 x 900 screen the whole Run view fits without scrolling
    page.evaluate("() => window.scrollTo(0, 0)")
    bottom = page.evaluate("() => document.querySelector('img.spreadsim-chart').getBoundingClientRect().bottom")
    assert bottom <= DESKTOP["height"], bottom


def test_phone_layout_with_a_closable_sidebar(pages):
    page = pages(PHONE)
    drawer = page.locator(".ss-drawer")
    is_open = "() => document.querySelector('.ss-drawer').classList.contains('v-navigation-drawer--open')"
    assert not page.evaluate(is_open), "the sidebar covers the page at the start"
    assert all(page.evaluate(_UNCOVERED, ".ss-headline"))
    assert page.evaluate("() => document.scrollingElement.scrollWidth") <= PHONE["width"]  # no sideways scrolling
    for sel in ("img.spreadsim-network", "img.spreadsim-chart"):
        assert all(page.evaluate(_UNCOVERED, sel)), sel
        assert page.evaluate(_FONT_PX, sel) >= 10, sel
    page.locator(".ss-menu").click()
    page.wait_for_function(is_open)
    page.wait_for_function("() => document.querySelector('.ss-drawer').getBoundingClientRect().left >= -1")
    box = drawer.bounding_box()
    assert box["x"] >= -1 and box["width"] <= PHONE["width"]
    assert _button(page, "Step").is_visible()
    _button(page, "Step").click()
    _wait_status(page, month=1)
    page.get_by_role("button", name="Hide controls").click()
    page.wait_for_function(f"() => !({is_open[6:]})")
    page.wait_for_function("() => document.querySelector('.ss-drawer').getBoundingClientRect().right <= 1 && "
                           "!document.querySelector('.v-overlay--active')")
    assert all(page.evaluate(_UNCOVERED, ".ss-headline"))


_CONTRAST = """(sel) => {
    const parse = (c) => { const m = c.match(/rgba?\\(([^)]+)\\)/); const p = m[1].split(',').map(Number);
                           return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
    const lum = ([r, g, b]) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
                                 return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
    const out = [];
    for (const el of document.querySelectorAll(sel)) {
        let bg = null, opacity = 1;
        for (let e = el; e; e = e.parentElement) {
            const st = getComputedStyle(e);
            opacity *= +st.opacity;
            const c = parse(st.backgroundColor);
            if (!bg && c[3] > 0.5) bg = c;
        }
        bg = bg || [255, 255, 255, 1];
        const fg = parse(getComputedStyle(el).color);
        const a = fg[3] * opacity;
        const mixed = [0, 1, 2].map((i) => fg[i] * a + bg[i] * (1 - a));
        const [l1, l2] = [lum(mixed), lum(bg)].sort((x, y) => y - x);
        out.push([el.className, (l1 + 0.05) / (l2 + 0.05)]);
    }
    return out;
}"""


@pytest.mark.parametrize("theme", ["dark", "light"])
def test_status_text_is_readable_in_both_themes(pages, theme):
    page = pages(DESKTOP, theme=theme)
    page.wait_for_selector(f".v-application.theme--{theme}")
    set_number(page, "support_capacity", 30)  # a pending mark, to be read too
    checked = []
    for sel in (".ss-headline", ".ss-explain", ".ss-muted", ".ss-settings", ".ss-help", ".ss-pending",
                ".ss-control-head", ".ss-speed-label"):
        found = page.evaluate(_CONTRAST, sel)
        assert found, sel
        for cls, ratio in found:
            assert ratio >= 4.5, f"{theme}: {sel} ({cls}) has contrast {ratio:.2f} (at least 4.5 needed)"
        checked.append(sel)
    assert len(checked) == 8


# -------------------------------------------------------------------------------- compare view
def test_compare_view_runs_strategies_in_the_background(pages):
    from simulation.app.compare import METRICS
    from simulation.experiments import compare
    from simulation.experiments.figures import _significance

    page = pages()
    choose_scenario(page, "strategies/demo_strategies.yaml")
    page.get_by_role("tab", name="Compare strategies").click()
    page.wait_for_selector(".ss-strategy")
    names = [e.get_attribute("data-strategy") for e in page.locator(".ss-strategy").all()]
    sc = load_scenario(ROOT / "scenarios" / "strategies" / "demo_strategies.yaml")
    assert names == ["baseline", *sc.strategies]
    for name in names:  # baseline and collaborative only
        box = page.locator(f'[data-strategy="{name}"] input')
        (box.check if name in ("baseline", "collaborative") else box.uncheck)(force=True)
    page.wait_for_function("() => document.querySelectorAll('.ss-strategy input:checked').length === 2")
    page.locator(".ss-replicates input").fill("6")
    _button(page, "Run comparison").click()
    prog = page.locator(".ss-progress")
    prog.wait_for()
    assert prog.get_attribute("data-total") == "12"
    seen = set()
    deadline = time.monotonic() + 120
    while page.locator(".ss-compare-result").count() == 0:
        assert time.monotonic() < deadline, f"no comparison after 120 s (progress seen: {sorted(seen)})"
        if prog.count():
            seen.add(int(prog.get_attribute("data-done") or 0))
        page.wait_for_timeout(50)
    assert seen  # progress was shown while it ran
    result = page.locator(".ss-compare-result")
    assert result.get_attribute("data-runs") == "12"
    assert result.get_attribute("data-strategies") == "baseline,collaborative"
    for sel in ("img.spreadsim-compare-bands", "img.spreadsim-compare-differences"):
        _wait_loaded(page, sel, 400)
    # the same numbers as spreadsim compare on the same seeds
    ref = compare(sc, ["collaborative"], 6, executor="serial", progress=False).differences(metrics=list(METRICS))
    rows = page.locator("tr.ss-diff").all()
    assert len(rows) == len(METRICS)
    for row in rows:
        m = row.get_attribute("data-metric")
        r = ref[ref["metric"] == m].iloc[0]
        assert row.get_attribute("data-verdict") == _significance(r["ci_low"], r["ci_high"], r["mean_diff"], m), m
        # conditional measures are shown with their denominator and never called better or worse
        if row.get_attribute("data-kind") == "conditional":
            assert row.get_attribute("data-verdict") in ("subset", "unclear"), m
            assert " among the " in row.inner_text(), m
    # a long comparison can be stopped
    page.locator(".ss-replicates input").fill("200")
    _button(page, "Run comparison").click()
    prog.wait_for()
    _button(page, "Stop").click()
    page.wait_for_function("() => !document.querySelector('.ss-progress') || "
                           "document.querySelector('.ss-progress').innerText.includes('stopped')")
    assert _button(page, "Run comparison").is_enabled()
    # meanwhile the Run view still steps
    page.get_by_role("tab", name="Run").click()
    _button(page, "Step").click()
    _wait_status(page, month=1)


def test_decide_view_explores_and_shows_robustness_and_failure_boxes(pages):
    """Decide on a small case: explore in the background (progress shown), the robustness table
    and the ranking's stability, then the failure boxes of a strategy; a scenario without
    uncertainties says how to add them."""
    page = pages()
    page.get_by_role("tab", name="Decide").click()
    page.wait_for_selector(".ss-no-uncertainties")
    assert "spreadsim explore" in page.locator(".ss-no-uncertainties").inner_text()
    choose_scenario(page, "cases/keystone_michigan.yaml")
    page.get_by_role("tab", name="Decide").click()
    page.wait_for_selector(".ss-decide .ss-strategy")
    for name in [e.get_attribute("data-strategy") for e in page.locator(".ss-strategy").all()]:
        if name != "baseline":
            box = page.locator(f'[data-strategy="{name}"] input')
            (box.check if name == "no_collaborative" else box.uncheck)(force=True)
    page.wait_for_function("() => document.querySelectorAll('.ss-strategy input:checked').length === 2")
    page.locator(".ss-samples input").fill("8")
    page.locator(".ss-decide-replicates input").fill("2")
    page.wait_for_function("() => document.querySelector('.ss-decide').innerText.includes('32 runs')")
    _button(page, "Explore").click()
    page.locator(".ss-progress").wait_for()
    assert page.locator(".ss-progress").get_attribute("data-total") == "32"
    result = page.locator(".ss-decide-result")
    result.wait_for(timeout=90_000)
    assert result.get_attribute("data-runs") == "32"
    assert result.get_attribute("data-strategies") == "baseline,no_collaborative"
    rows = page.locator("tr.ss-robust").all()
    assert sorted(r.get_attribute("data-strategy") for r in rows) == ["baseline", "no_collaborative"]
    assert [r.get_attribute("data-rank") for r in rows] == ["1", "2"]
    assert float(rows[0].get_attribute("data-regret")) <= float(rows[1].get_attribute("data-regret"))
    assert "The ranking is" in page.locator(".ss-stability").inner_text()
    assert "Most robust for" in page.locator(".ss-ranking").inner_text()
    _wait_loaded(page, "img.spreadsim-decide-robustness", 400)
    # a satisficing threshold adds its column
    page.locator(".ss-satisfice input").fill("0.7")
    page.locator(".ss-satisfice input").press("Enter")
    page.wait_for_function("() => document.querySelector('.ss-robust-table').innerText.includes('meets the threshold')")
    # where the baseline fails: adopted share below the starting threshold (about half the futures)
    _button(page, "Find the failure boxes").click()
    page.locator(".ss-box-sentence").first.wait_for(timeout=60_000)
    # one sentence once the page settles (a re-render may briefly show the old and the new widget)
    page.wait_for_function("() => document.querySelectorAll('.ss-box-sentence').length === 1", timeout=30_000)
    sentence = page.locator(".ss-box-sentence").inner_text()
    assert sentence.startswith("baseline ") and "futures" in sentence and "adopted_share <" in sentence
    # a long exploration can be stopped; the earlier result goes, the page stays usable
    page.locator(".ss-samples input").fill("200")
    page.wait_for_function("() => document.querySelector('.ss-decide').innerText.includes('800 runs')")
    _button(page, "Explore").click()
    page.locator(".ss-progress").wait_for()
    _button(page, "Stop").click()
    page.wait_for_function("() => document.querySelector('.ss-progress') && "
                           "document.querySelector('.ss-progress').innerText.includes('stopped')")
    assert _button(page, "Explore").is_enabled() and page.locator(".ss-decide-result").count() == 0


# ------------------------------------------------------------------- memory, sharing, sites
def _play_to_end(page) -> None:
    page.get_by_role("button", name="16", exact=True).click()
    _button(page, "\u25b6 Play").click()
    _wait_status(page, finished=1)


def test_earlier_runs_stay_and_the_noise_is_shown(pages):
    """After Reset the previous run stays as a numbered faint curve labelled by what changed;
    "Show 20 runs" draws the spread of the current settings, and a sentence says whether the
    difference between the two runs is within it."""
    page = pages()
    _play_to_end(page)
    first = _status(page)
    set_number(page, "support_capacity", 40)
    _button(page, "Reset").click()
    _wait_status(page, month=0)
    _play_to_end(page)
    memory = page.locator(".ss-memory-box")
    assert memory.get_attribute("data-past") == "1"
    assert "support capacity 12 sites (now 40 sites)" in page.locator('.ss-memory[data-run="1"]').inner_text()
    note = page.locator(".ss-noise").inner_text()
    assert f"{first['text'].split('adopted ')[1].split()[0]}" in note  # the previous run's adopted share
    assert "Show 20 runs" in note  # before the spread is known, the page says how to see it
    page.locator(".ss-show-runs").click()
    page.wait_for_selector('.ss-memory-box[data-band="1"]', timeout=TIMEOUT_MS * 2)
    note = page.locator(".ss-noise").inner_text()
    assert "20 runs of these settings" in note and "90% of runs between" in note
    assert ("within the noise" in note) != ("more than the noise" in note)


def test_setup_download_reruns_exactly_and_opens_again(pages, tmp_path):
    """The downloaded setup is a scenario file that `spreadsim run` turns into the same run; the
    page opens it again; a click on a site tells its story; the lesson tab reads the file."""
    import pandas as pd

    from simulation.cli import main as cli_main

    page = pages()
    set_number(page, "legitimacy", 0.35)
    _button(page, "Reset").click()
    _wait_status(page, month=0)
    _play_to_end(page)
    end = _status(page)
    with page.expect_download() as dl:
        page.get_by_role("button", name="Setup (scenario YAML)").click()
    saved = tmp_path / "setup.yaml"
    dl.value.save_as(saved)
    with page.expect_download() as dl:
        page.get_by_role("button", name="Months (CSV)").click()
    months = tmp_path / "months.csv"
    dl.value.save_as(months)
    assert cli_main(["run", str(saved), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(months), pd.read_csv(tmp_path / "run" / "timeseries.csv"))
    last = pd.read_csv(months).iloc[-1]
    assert {k: int(last[k]) for k in end["counts"]} == end["counts"]
    # a click on a site: its traits and its history from month 0
    img = page.locator("img.spreadsim-network")
    box = img.bounding_box()
    for fx, fy in [(0.5, 0.5), (0.45, 0.4), (0.55, 0.6), (0.4, 0.55), (0.6, 0.45), (0.5, 0.35), (0.35, 0.5)]:
        img.click(position={"x": box["width"] * fx, "y": box["height"] * fy})
        page.wait_for_timeout(300)
        if page.locator(".ss-site").count():
            break
    site = page.locator(".ss-site")
    assert site.count() == 1, "no site found under seven clicks near the middle of the network"
    text = site.inner_text()
    assert "context fit" in text and "History: month 0:" in text
    # open the downloaded file: it becomes the page's scenario
    page.locator(".ss-open-file input[type=file]").set_input_files(str(saved))
    page.wait_for_function("() => { const s = document.querySelector('.spreadsim-status'); "
                           "return s && s.innerText.includes('setup.yaml'); }", timeout=TIMEOUT_MS)
    assert page.locator(".ss-error").count() == 0
    assert _status(page)["seed"] == end["seed"]
    page.get_by_role("tab", name="About this case").click()
    page.wait_for_selector(".ss-lesson")


def test_laptop_screen_shows_both_charts_and_switching_shows_a_loading_sign(pages):
    """At 1366x768 both panels of the chart are above the fold; the scenario list shows names,
    calibration set-ups last; picking another scenario shows a loading sign until it is built."""
    from simulation.app.screenshots import LAPTOP

    page = pages(LAPTOP)
    chart = page.locator("img.spreadsim-chart").bounding_box()
    assert chart["y"] + chart["height"] <= LAPTOP["height"] + 1, chart
    page.evaluate("""() => { window.__sawLoading = false;
        new MutationObserver(() => { if (document.querySelector('.ss-loading')) window.__sawLoading = true; })
            .observe(document.body, {childList: true, subtree: true}); }""")
    page.locator(".ss-scenario").click()
    # the list opens after the click: wait for it (on a loaded machine it can take a moment)
    page.get_by_role("option", name="keystone michigan (case)", exact=True).wait_for()
    options = [o.inner_text() for o in page.get_by_role("option").all()]
    assert "keystone michigan (case)" in options and not any(o.endswith(".yaml") for o in options[1:])
    assert options[-1].endswith("(calibration set-up)")
    page.get_by_role("option", name="keystone michigan (case)", exact=True).click()
    page.wait_for_function("() => { const s = document.querySelector('.spreadsim-status'); "
                           "return s && s.innerText.includes('keystone_michigan.yaml'); }")
    assert page.evaluate("() => window.__sawLoading")
    page.wait_for_selector(".ss-loading", state="detached")
