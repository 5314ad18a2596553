"""Screenshots of the teaching app for the docs, and the harness the browser tests share.

``python -m simulation.app.screenshots [OUT]`` serves the app, drives headless Chromium through
Playwright (Debian's ``/usr/bin/chromium``; Playwright's own browser downloads are never used) and
writes ``OUT/*.png`` (default ``docs/screenshots``): the Run view on a laptop screen, a changed
control waiting for Reset, the end of a run, earlier runs with the spread of 20 runs, a site's
story, the lesson tab, a 1366x768 laptop, a phone with the controls closed and open, the
Compare view, the Decide view and the dark theme. ``--only decide`` (or any of ``VIEWS``) takes
only that view's screenshots. Needs the ``app`` and ``test`` extras.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
CHROMIUM = Path(os.environ.get("SPREADSIM_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
DESKTOP = {"width": 1400, "height": 900}
LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}


@contextmanager
def served(scenario: str | Path = "scenarios/demo.yaml", *extra: str, log: Path | None = None,
           timeout_s: float = 90) -> Iterator[tuple[str, Path, dict]]:
    """``spreadsim app SCENARIO --port 0`` in a child process until the block ends.

    Yields:
        (the page's address, the server's log file, ``{"starting_s", "serving_s"}``: seconds from
        launch until it printed "starting..." and its address).
    """
    import tempfile

    log = log or Path(tempfile.mkstemp(prefix="spreadsim-app-", suffix=".log")[1])
    # the CDN fallback points at a closed port: an asset solara-assets lacks shows up as a failure
    env = {**os.environ, "SOLARA_ASSETS_CDN": "http://127.0.0.1:9/", "PYTHONUNBUFFERED": "1"}
    t0 = time.monotonic()
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "simulation.cli", "app", str(scenario), "--port", "0", *extra],
                                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    times: dict = {"starting_s": None, "serving_s": None}
    try:
        url = None
        while time.monotonic() - t0 < timeout_s and url is None:
            text = log.read_text()
            if times["starting_s"] is None and "starting..." in text:
                times["starting_s"] = time.monotonic() - t0
            found = re.search(r"at (http://[^ ]+/)", text)
            if found:
                url = found.group(1)
                times["serving_s"] = time.monotonic() - t0
            elif proc.poll() is not None:
                raise RuntimeError(f"spreadsim app exited with {proc.returncode}:\n{text[-3000:]}")
            else:
                time.sleep(0.05)
        if url is None:
            raise RuntimeError(f"spreadsim app printed no address within {timeout_s:.0f} s:\n{log.read_text()[-3000:]}")
        yield url, log, times
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def launch(pw):
    """Headless Chromium (Debian's) through Playwright."""
    return pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True, timeout=60_000)


def open_page(browser, url: str, viewport: dict, *, theme: str | None = None, wait: bool = True):
    """A new page at ``url`` that records console errors, page errors, failed requests and any
    request that leaves this computer (those are blocked); waits for the figures.

    Args:
        theme: ``"dark"`` or ``"light"`` to start in that theme (as the page's theme switch
            remembers it), None for the default.
    """
    from urllib.parse import urlparse

    page = browser.new_page(viewport=viewport)
    if theme is not None:
        page.add_init_script(f"localStorage.setItem(':solara:theme.variant', JSON.stringify('{theme}'))")
    page.set_default_timeout(30_000)
    page.issues = {"outside": [], "failed": [], "errors": []}

    def only_local(route):
        if urlparse(route.request.url).hostname in ("127.0.0.1", "localhost", "127.0.0.2"):
            route.continue_()
        else:
            page.issues["outside"].append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    page.on("response", lambda r: page.issues["failed"].append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.on("pageerror", lambda e: page.issues["errors"].append(str(e)))
    page.on("console", lambda m: page.issues["errors"].append(m.text) if m.type == "error" else None)
    page.goto(url, timeout=60_000)
    if wait:
        page.wait_for_selector("img.spreadsim-network", timeout=60_000)
        page.wait_for_selector("img.spreadsim-chart")
        # solara fades the page in over half a second once loaded: colours are true after that
        page.wait_for_function("() => !document.querySelector('#loader-container')")
        page.wait_for_timeout(600)
    return page


def choose_scenario(page, label: str) -> None:
    """Pick a scenario in the sidebar (by its path under ``scenarios/``; the list shows its name)
    and wait for its page."""
    from .wrapper import SCENARIO_DIR, scenario_title

    page.locator(".ss-scenario").click()
    page.get_by_role("option", name=scenario_title(label, SCENARIO_DIR / label), exact=True).click()
    # the new scenario's status names its file
    page.wait_for_function("(l) => { const s = document.querySelector('.spreadsim-status'); "
                           "return s && s.innerText.includes(l) && s.dataset.month === '0'; }", arg=label)


def month(page) -> int:
    return int(page.locator(".spreadsim-status").get_attribute("data-month"))


def set_number(page, control: str, value) -> None:
    """Type a value into a control's number box (and leave it, as a person would), then wait until
    the page holds exactly that value (not merely "some change": a box commits as it is typed)."""
    box = page.locator(f'[data-control="{control}"] .ss-number input')
    box.fill(str(value))
    box.press("Enter")
    page.wait_for_selector(f'[data-control="{control}"][data-pending="1"][data-value="{value}"]')


#: the views ``--only`` can choose
VIEWS = ("all", "decide")


def decide_shots(browser, url: str, shot) -> None:
    """The Decide view on the Keystone case: 32 futures x 3 strategies x 3 replicates explored, the
    robustness table, then where the baseline fails."""
    page = open_page(browser, url, {"width": 1400, "height": 1500})
    choose_scenario(page, "cases/keystone_michigan.yaml")
    page.get_by_role("tab", name="Decide").click()
    page.wait_for_selector(".ss-decide .ss-strategy")
    page.locator(".ss-samples input").fill("32")
    page.locator(".ss-decide-replicates input").fill("3")
    page.wait_for_selector(".ss-decide >> text=288 runs: 32 futures")
    page.get_by_role("button", name="Explore", exact=True).click()
    page.wait_for_selector(".ss-decide-result", timeout=300_000)
    page.locator(".ss-satisfice input").fill("0.7")
    page.locator(".ss-satisfice input").press("Enter")
    page.wait_for_selector(".ss-robust-table >> text=meets the threshold", timeout=60_000)
    page.get_by_role("button", name="Find the failure boxes").click()
    page.wait_for_selector(".ss-box-sentence", timeout=120_000)
    page.get_by_role("button", name="Hide controls").click()
    page.wait_for_timeout(600)
    page.evaluate("() => document.querySelector('.ss-decide-result').scrollIntoView({block: 'start'})")
    page.wait_for_timeout(300)
    shot(page, "app_decide")


def take(out: Path, only: str = "all") -> list[Path]:
    """Write the screenshots into ``out`` (only those of one view with ``only``, one of
    :data:`VIEWS`); returns their paths."""
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def shot(page, name: str, full_page: bool = False) -> None:
        path = out / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        written.append(path)

    if only not in VIEWS:
        raise ValueError(f"--only must be one of {', '.join(VIEWS)} (got {only!r})")
    with served("scenarios/demo.yaml") as (url, _, _), sync_playwright() as pw:
        browser = launch(pw)
        try:
            if only == "decide":
                decide_shots(browser, url, shot)
                return written
            page = open_page(browser, url, DESKTOP)
            page.get_by_role("button", name="16", exact=True).click()
            page.get_by_role("button", name="\u25b6 Play").click()
            page.wait_for_function("() => +document.querySelector('.spreadsim-status').dataset.month >= 36",
                                   timeout=60_000)
            page.get_by_role("button", name="\u275a\u275a Pause").click()
            page.wait_for_timeout(500)
            shot(page, "app_run")
            set_number(page, "support_capacity", 60)
            set_number(page, "legitimacy", 0.4)
            page.locator('[data-control="support_capacity"]').scroll_into_view_if_needed()
            shot(page, "app_pending_changes")
            page.get_by_role("button", name="Reset", exact=True).click()
            page.wait_for_selector('.spreadsim-status[data-month="0"]')
            page.get_by_role("button", name="\u25b6 Play").click()
            page.wait_for_selector('.spreadsim-status[data-finished="1"]', timeout=120_000)
            page.wait_for_timeout(500)
            shot(page, "app_finished")
            # run memory: the earlier run stays, 20 runs show the noise
            page.locator(".ss-show-runs").click()
            page.wait_for_selector('.ss-memory-box[data-band="1"]', timeout=120_000)
            page.wait_for_timeout(500)
            page.evaluate("() => document.querySelector('.ss-memory-card').scrollIntoView({block: 'end'})")
            page.wait_for_timeout(300)
            shot(page, "app_memory")
            img = page.locator("img.spreadsim-network")
            img.scroll_into_view_if_needed()
            box = img.bounding_box()
            for fx, fy in [(0.5, 0.45), (0.45, 0.4), (0.55, 0.55), (0.4, 0.5), (0.6, 0.42)]:
                img.click(position={"x": box["width"] * fx, "y": box["height"] * fy})
                page.wait_for_timeout(400)
                if page.locator(".ss-site").count():
                    break
            page.evaluate("() => document.querySelector('.ss-site-card').scrollIntoView({block: 'center'})")
            page.wait_for_timeout(300)
            shot(page, "app_site")
            page.get_by_role("tab", name="About this case").click()
            page.wait_for_selector(".ss-lesson")
            page.evaluate("() => window.scrollTo(0, 0)")
            page.wait_for_timeout(300)
            shot(page, "app_lesson")
            laptop = open_page(browser, url, LAPTOP)
            shot(laptop, "app_laptop")
            phone = open_page(browser, url, PHONE)
            shot(phone, "app_phone")
            phone.locator(".ss-menu").click()
            phone.wait_for_selector(".ss-drawer.v-navigation-drawer--open")
            phone.wait_for_timeout(400)
            shot(phone, "app_phone_controls")
            cmp = open_page(browser, url, DESKTOP)
            choose_scenario(cmp, "strategies/demo_strategies.yaml")
            cmp.get_by_role("tab", name="Compare strategies").click()
            cmp.locator('[data-strategy="opinion_leaders_first"] input').check(force=True)
            rep = cmp.locator(".ss-replicates input")
            rep.fill("20")
            cmp.get_by_role("button", name="Run comparison").click()
            cmp.wait_for_selector("img.spreadsim-compare-differences", timeout=180_000)
            cmp.get_by_role("button", name="Hide controls").click()
            cmp.wait_for_timeout(600)
            shot(cmp, "app_compare")
            cmp.evaluate("() => document.querySelector('.ss-compare-result').scrollIntoView({block: 'start'})")
            cmp.wait_for_timeout(300)
            shot(cmp, "app_compare_results")
            decide_shots(browser, url, shot)
            dark = open_page(browser, url, DESKTOP, theme="dark")
            dark.wait_for_selector(".v-application.theme--dark")
            dark.wait_for_timeout(500)
            shot(dark, "app_dark")
        finally:
            browser.close()
    return written


if __name__ == "__main__":  # pragma: no cover
    import argparse

    ap = argparse.ArgumentParser(prog="python -m simulation.app.screenshots", description=__doc__.split("\n")[0])
    ap.add_argument("out", nargs="?", default=str(ROOT / "docs" / "screenshots"), help="folder for the PNG files")
    ap.add_argument("--only", choices=VIEWS, default="all", help="take only this view's screenshots")
    args = ap.parse_args()
    for p in take(Path(args.out), args.only):
        print(f"wrote {p}")
