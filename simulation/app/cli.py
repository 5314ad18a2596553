"""``spreadsim app``: serve the teaching page on this computer (127.0.0.1 only, unless ``--host``).

The server answers only requests addressed to this computer (``Host`` 127.0.0.1, localhost or
[::1]) and websockets opened by its own pages, so another web site cannot drive it through the
browser (DNS rebinding, cross-site websockets): see :mod:`.security`. ``--host NAME`` serves on
that address as well (``0.0.0.0``: every interface, any host name).
"""

from __future__ import annotations

import argparse
import errno
import os
import socket
import sys
import threading
import time
import warnings
from pathlib import Path

from ..errors import InputError, Problem, fail

HOST = "127.0.0.1"
DEFAULT_PORT = 8765
APP = "simulation.app.page:Page"


def _check_port(port: int, host: str = HOST) -> int:
    """The port to serve on (a free one for 0); raises InputError if it is taken or out of range."""
    if not 0 <= port <= 65535:
        raise fail("--port", "", f"must be between 0 and 65535 (0 = any free port), got {port}")
    try:
        family = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)[0][0]
    except (socket.gaierror, UnicodeError) as err:
        raise fail("--host", host, f"not an address of this computer ({err})") from None
    with socket.socket(family, socket.SOCK_STREAM) as s:
        # as uvicorn does: a port whose last connections are closing (TIME_WAIT) is free
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as err:
            if err.errno in (errno.EADDRINUSE, errno.EACCES):
                why = "is in use" if err.errno == errno.EADDRINUSE else "needs privileges"
                raise fail("--port", "", f"port {port} on {host} {why}; choose another with --port N (0 = any free port)") from None
            if err.errno == errno.EADDRNOTAVAIL:
                raise fail("--host", host, "not an address of this computer") from None
            raise
        return s.getsockname()[1]


def _check_installed() -> None:
    missing = []
    for mod in ("solara", "solara.server.starlette", "uvicorn", "mesa.visualization"):
        try:
            __import__(mod)
        except ImportError as err:
            missing.append(f"{mod} ({err})")
            break
    if missing:
        raise InputError(Problem("spreadsim app", "", "the app needs its extra packages: "
                                 "pip install 'spreadsim[app]' (missing " + ", ".join(missing) + ")"))


def serve(scenario: str | Path | None = None, port: int = DEFAULT_PORT, *, host: str | None = None, ready=None,
          quiet: bool = False) -> int:
    """Serve the teaching page until interrupted.

    The scenario is checked first exactly as ``spreadsim run`` checks it (the file, then the
    model built from it), so a file ``run`` refuses is refused here with the same message.

    Args:
        scenario: the scenario file the page starts with (default: ``scenarios/demo.yaml``).
        port: the port (0 = any free port).
        host: the address to serve on (default: 127.0.0.1, this computer only). Requests must
            name this computer or, with ``host``, that name (any name for ``0.0.0.0``/``::``);
            websockets must come from the app's own pages.
        ready: called with the page's address once the server accepts connections.
        quiet: print nothing but errors.

    Returns:
        0 when the server stops.

    Raises:
        InputError: a bad scenario file, a taken port, or the app's packages missing.
    """
    if not quiet:
        print("spreadsim app: starting...", flush=True)
    from ..model import SpreadModel
    from ..scenario import load_scenario
    from .security import LocalOnly, allowed_hosts
    from .wrapper import default_scenario_file

    path = Path(scenario) if scenario is not None else default_scenario_file()
    if path is not None:
        sc = load_scenario(path)
        SpreadModel(sc, sc.seed, agents=False)  # what only the data can tell, as `spreadsim run`
        os.environ["SPREADSIM_APP_SCENARIO"] = str(path.resolve())
    else:
        os.environ.pop("SPREADSIM_APP_SCENARIO", None)
    bind = HOST if host is None else host.strip().strip("[]")
    port = _check_port(port, bind)
    # before solara reads its settings: no telemetry, production mode, our page, no corner badge
    # (it covered the page; the credit is in the sidebar)
    os.environ["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] = "false"
    os.environ["SOLARA_THEME_SHOW_BANNER"] = "false"
    os.environ["SOLARA_APP"] = APP
    os.environ.setdefault("SOLARA_MODE", "production")
    _check_installed()
    import solara.server.settings as settings
    import uvicorn

    settings.telemetry.mixpanel_enable = False
    settings.main.mode = "production"
    settings.theme.show_banner = False
    import solara.server.app as solara_app

    if solara_app.apps.get("__default__") is None or solara_app.apps["__default__"].fullname != APP:
        solara_app.apps["__default__"] = solara_app.AppScript(APP)
    from solara.server.starlette import app as solara_asgi

    shown_host = HOST if bind.strip("[]") in ("0.0.0.0", "::", "") else bind
    os.environ["SERVER_NAME"] = shown_host
    os.environ["SERVER_PORT"] = str(port)
    config = uvicorn.Config(LocalOnly(solara_asgi, allowed_hosts(host)), host=bind, port=port, log_level="warning",
                            ws_max_size=64 * 1024 * 1024, lifespan="on")
    server = uvicorn.Server(config)
    url = f"http://{'[' + shown_host + ']' if ':' in shown_host else shown_host}:{port}/"

    def announce():
        while not server.started and not server.should_exit:
            time.sleep(0.05)
        if server.started:
            if not quiet:
                shown = path if path is not None else "built-in defaults"
                print(f"spreadsim app: serving {shown} at {url}  (Ctrl+C to stop)", flush=True)
            if ready is not None:
                ready(url)

    threading.Thread(target=announce, daemon=True).start()
    # plain http on 127.0.0.1 is the point: solara's advice about https cookies does not apply
    warnings.filterwarnings("ignore", message="Cookies with samesite=none require https")
    try:
        server.run()
    except KeyboardInterrupt:  # a second Ctrl+C while shutting down
        pass
    if not quiet:
        print("spreadsim app: stopped", flush=True)
    return 0


def cmd_app(args: argparse.Namespace) -> int:
    return serve(args.scenario, args.port, host=args.host)


def register(subparsers) -> None:
    """Add ``spreadsim app`` to the command line."""
    p = subparsers.add_parser(
        "app", help="interactive teaching page in the browser (Mesa SolaraViz), on this computer only",
        description="Serve an interactive page on 127.0.0.1: the site network coloured by stage, the "
                    "curves over time, step/play/pause/reset, the controls a teacher varies and a comparison "
                    "of the scenario's strategies. Works offline. Only this computer's browser pages can use "
                    "it unless --host is given.")
    p.add_argument("scenario", nargs="?", help="scenario YAML file to start with (default: scenarios/demo.yaml)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port to serve on (default {DEFAULT_PORT}; 0 = any free port)")
    p.add_argument("--host", help="address to serve on and host name to accept, such as 0.0.0.0 for every "
                                  "interface (default: 127.0.0.1, this computer only)")
    p.set_defaults(func=cmd_app)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(serve(sys.argv[1] if len(sys.argv) > 1 else None))
