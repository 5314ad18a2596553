"""The teaching app used as a person would: ``spreadsim app`` served, opened in headless Chromium.

Starts the server itself (``python -m simulation.cli app scenarios/demo.yaml --port 0``, reading the
address it prints), drives Debian's Chromium through Playwright (``executable_path``; Playwright's
own browser downloads are never used) and stops the server at the end. The page must work offline:
every request that leaves 127.0.0.1 is blocked and counted, and the server's CDN fallback points
at a closed local port, so any asset that solara-assets does not ship shows up as a failed request.

Skipped, with the reason, when Chromium or the app's packages are missing, except in CI (``CI=true``),
where that fails instead (``.ci/install-browser`` installs Chromium).
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import matplotlib.colors as mcolors
import matplotlib.image as mpimg
import numpy as np
import pytest

from simulation.plots import STAGE_COLOURS

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
IN_CI = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
SERVER_START_S = 90
TIMEOUT_MS = 30_000


def _require_browser() -> None:
    missing = [] if CHROMIUM.exists() else [f"{CHROMIUM} (install it with .ci/install-browser)"]
    missing += [m for m in ("playwright", "solara", "uvicorn") if importlib.util.find_spec(m) is None]
    if missing:
        msg = "the browser test needs " + ", ".join(missing) + " (pip install -e '.[app]')"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)


@pytest.fixture
def server(tmp_path):
    """``spreadsim app`` on a free port of 127.0.0.1; yields its address; stopped afterwards."""
    _require_browser()
    log = tmp_path / "server.log"
    env = {**os.environ, "SOLARA_ASSETS_CDN": "http://127.0.0.1:9/", "PYTHONUNBUFFERED": "1"}
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "simulation.cli", "app", "scenarios/demo.yaml", "--port", "0"],
                                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + SERVER_START_S
        url = None
        while time.monotonic() < deadline and url is None:
            found = re.search(r"at (http://127\.0\.0\.1:\d+/)", log.read_text())
            if found:
                url = found.group(1)
            elif proc.poll() is not None:
                pytest.fail(f"spreadsim app exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            else:
                time.sleep(0.2)
        if url is None:
            pytest.fail(f"spreadsim app printed no address within {SERVER_START_S} s:\n{log.read_text()[-3000:]}")
        yield url, log
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def _status(page) -> dict:
    el = page.locator(".spreadsim-status")
    counts = {row.get_attribute("data-stage"): int(row.locator(".ss-count").inner_text().replace(",", ""))
              for row in el.locator("tr.ss-stage").all()}
    return {"month": int(el.get_attribute("data-month")), "sites": int(el.get_attribute("data-sites")),
            "counts": counts, "changed": el.locator(".ss-changed").inner_text(),
            "settings": el.locator(".ss-settings").inner_text()}


def _wait_status(page, **attrs) -> None:
    sel = ".spreadsim-status" + "".join(f'[data-{k}="{v}"]' for k, v in attrs.items())
    page.wait_for_selector(sel, timeout=TIMEOUT_MS)


def _image_pixels(page, selector: str) -> np.ndarray:
    img = page.locator(selector)
    info = img.evaluate("e => [e.complete, e.naturalWidth, e.naturalHeight]")
    assert info[0] and info[1] > 300 and info[2] > 300, f"{selector} did not load: {info}"
    box = img.bounding_box()
    assert box and box["width"] > 250 and box["height"] > 250, f"{selector} is not shown: {box}"
    return mpimg.imread(io.BytesIO(img.screenshot()), format="png")[..., :3]


def _count(img: np.ndarray, colour: str, tol: float = 0.05) -> int:
    return int((np.abs(img - np.array(mcolors.to_rgb(colour))).max(axis=2) < tol).sum())


def test_app_in_a_real_browser(server, tmp_path):
    from playwright.sync_api import sync_playwright

    url, log = server
    outside, failed, page_errors = [], [], []
    report = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True,
                                     timeout=TIMEOUT_MS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            page.set_default_timeout(TIMEOUT_MS)

            def only_local(route):
                if urlparse(route.request.url).hostname in ("127.0.0.1", "localhost"):
                    route.continue_()
                else:
                    outside.append(route.request.url)
                    route.abort()

            page.route("**/*", only_local)
            page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            page.on("pageerror", lambda e: page_errors.append(str(e)))

            # the page loads, offline, and shows the network and the chart, not only the controls
            t0 = time.monotonic()
            page.goto(url, timeout=60_000)
            page.wait_for_selector("img.spreadsim-network", timeout=60_000)
            page.wait_for_selector("img.spreadsim-chart")
            report["load_s"] = time.monotonic() - t0
            _wait_status(page, month=0, sites=300)
            start = _status(page)
            assert start["sites"] == sum(start["counts"].values()) == 300
            net0 = _image_pixels(page, "img.spreadsim-network")
            assert _count(net0, STAGE_COLOURS["not_engaged"]) > 1000  # the sites not yet engaged
            assert _count(net0, STAGE_COLOURS["full"]) > 50  # the seed sites, in full implementation
            chart0 = _image_pixels(page, "img.spreadsim-chart")
            page.screenshot(path=str(tmp_path / "app_start.png"), full_page=True)

            # step five times: the month advances one by one and the counts move
            for month in range(1, 6):
                page.get_by_role("button", name="Step").click()
                _wait_status(page, month=month)
            after = _status(page)
            assert after["month"] == 5 and sum(after["counts"].values()) == 300
            assert after["counts"] != start["counts"]
            page.wait_for_timeout(300)  # let the last images arrive
            net5 = _image_pixels(page, "img.spreadsim-network")
            chart5 = _image_pixels(page, "img.spreadsim-chart")
            assert not np.array_equal(net0, net5)
            grey = STAGE_COLOURS["not_engaged"]
            assert _count(chart5, grey) > _count(chart0, grey) + 300  # the stage areas grew by five months
            page.screenshot(path=str(tmp_path / "app_after_steps.png"), full_page=True)

            # move the number-of-sites slider, press Reset: the model is rebuilt with the new value
            slider = page.get_by_role("slider", name="Number of sites")
            track = page.locator(".v-input", has=page.get_by_role("slider", name="Number of sites")).locator(
                ".v-slider__track-container")
            box = track.bounding_box()
            track.click(position={"x": box["width"] * 0.5, "y": box["height"] / 2})
            page.wait_for_function(
                "() => document.querySelector('[role=slider][aria-label=\"Number of sites\"]').getAttribute('aria-valuenow') != '300'")
            n_new = int(slider.get_attribute("aria-valuenow"))
            assert 800 <= n_new <= 1200
            page.get_by_role("button", name="Reset").click()
            _wait_status(page, month=0, sites=n_new)
            rebuilt = _status(page)
            assert sum(rebuilt["counts"].values()) == n_new
            assert f"sites.n = {n_new}" in rebuilt["changed"]
            page.wait_for_timeout(300)
            assert not np.array_equal(_image_pixels(page, "img.spreadsim-network"), net0)

            # play for a few seconds at ~1,000 sites, then pause: the month runs on, then stops
            page.get_by_role("button", name="▶").click()
            t_play = time.monotonic()
            page.wait_for_timeout(3000)
            page.get_by_role("button", name="❚❚").click()
            played_s = time.monotonic() - t_play
            page.wait_for_timeout(500)
            paused = _status(page)["month"]
            assert paused > 1
            page.wait_for_timeout(800)
            assert _status(page)["month"] == paused
            report.update(sites=n_new, played_months=paused, played_s=played_s, steps_per_s=paused / played_s)
            page.screenshot(path=str(tmp_path / "app.png"), full_page=True)

            # another bundled scenario: a new model with that scenario's sites and horizon
            page.locator(".v-select", has_text="Scenario").first.click()
            page.get_by_role("option", name="classic/threshold.yaml").click()
            _wait_status(page, month=0, sites=1000)
            assert "of 50" in page.locator(".spreadsim-status").inner_text()
            assert "network random" in _status(page)["settings"]
            page.screenshot(path=str(tmp_path / "app_threshold.png"), full_page=True)
        finally:
            browser.close()

    (tmp_path / "browser_report.json").write_text(json.dumps(report, indent=2))
    print(f"browser: page loaded in {report['load_s']:.1f} s; played {report['played_months']} months at "
          f"{report['sites']} sites in {report['played_s']:.1f} s = {report['steps_per_s']:.1f} steps/s")
    assert not outside, f"the page asked the internet for: {outside[:5]}"
    assert not failed, f"failed requests: {failed[:5]}"
    assert not page_errors, f"errors in the page: {page_errors[:5]}"
    server_log = log.read_text()
    assert "Traceback" not in server_log, server_log[-3000:]
