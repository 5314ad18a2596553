"""``spreadsim app`` as a server: it prints at once, and only this computer's own pages may use it.

The server is started as a user would (``python -m simulation.cli app ... --port 0``) and spoken to
with raw HTTP and websocket handshakes over a socket, so nothing in between fixes up the headers:
a request naming another host (DNS rebinding) or a websocket opened by another site's page
(cross-site websocket hijacking) must get a 4xx; the app's own requests must not.
"""

from __future__ import annotations

import base64
import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from simulation.app.security import LocalOnly, allowed_hosts, split_host

ROOT = Path(__file__).resolve().parent.parent
START_S = 90


def _need_app():
    missing = [m for m in ("solara", "uvicorn") if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip("the app's packages are missing: " + ", ".join(missing) + " (pip install -e '.[app]')")


def _start(tmp_path: Path, *extra: str):
    log = tmp_path / f"server{len(list(tmp_path.glob('server*.log')))}.log"
    out = open(log, "w")
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "simulation.cli", "app", "scenarios/demo.yaml", "--port", "0", *extra],
                            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                            start_new_session=True)
    first = url = None
    while time.monotonic() - t0 < START_S and url is None:
        text = log.read_text()
        if first is None and "starting..." in text:
            first = time.monotonic() - t0
        found = re.search(r"at (http://[^ ]+/)", text)
        if found:
            url = found.group(1)
        elif proc.poll() is not None:
            pytest.fail(f"spreadsim app exited with {proc.returncode}:\n{text[-3000:]}")
        else:
            time.sleep(0.05)
    if url is None:
        proc.kill()
        pytest.fail(f"no address within {START_S} s:\n{log.read_text()[-3000:]}")
    return proc, url, {"starting_s": first, "serving_s": time.monotonic() - t0}, log


def _stop(proc) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    _need_app()
    proc, url, times, log = _start(tmp_path_factory.mktemp("app"))
    try:
        yield url, times
    finally:
        _stop(proc)
    assert "Traceback" not in log.read_text(), log.read_text()[-3000:]


def _raw(url: str, request: str, close_websocket: bool = False) -> tuple[int, str]:
    """Send a raw HTTP/1.1 request; the status code and the head of the response (an accepted
    websocket is closed properly, with a close frame, so that the server has nothing to complain of)."""
    m = re.match(r"http://(\[[^\]]+\]|[^:/]+):(\d+)/", url)
    host, port = m.group(1).strip("[]"), int(m.group(2))
    with socket.create_connection((host, port), timeout=20) as s:
        s.sendall(request.encode("latin-1"))
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        head = data.decode("latin-1", "replace")
        code = int(head.split(" ", 2)[1])
        if close_websocket and code == 101:
            mask = os.urandom(4)
            payload = (1000).to_bytes(2, "big")
            s.sendall(bytes([0x88, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
            s.settimeout(5)
            try:
                while s.recv(65536):
                    pass
            except OSError:
                pass
    return code, head


def _get(url: str, host: str, path: str = "/", extra: str = "") -> int:
    return _raw(url, f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n")[0]


def _websocket(url: str, host: str, origin: str | None) -> int:
    key = base64.b64encode(os.urandom(16)).decode()
    origin_line = f"Origin: {origin}\r\n" if origin is not None else ""
    kernel, page = uuid.uuid4(), uuid.uuid4()
    req = (f"GET /jupyter/api/kernels/{kernel}/channels?session_id={page} HTTP/1.1\r\nHost: {host}\r\n"
           f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
           f"{origin_line}\r\n")
    return _raw(url, req, close_websocket=True)[0]


def _hostport(url: str) -> str:
    return re.match(r"http://([^/]+)/", url).group(1)


def test_starting_is_printed_at_once(server):
    url, times = server
    print(f"spreadsim app: 'starting...' after {times['starting_s']:.2f} s, serving after {times['serving_s']:.1f} s")
    assert times["starting_s"] is not None and times["starting_s"] < 3.0
    assert times["starting_s"] < times["serving_s"]


def test_local_host_names_are_served(server):
    url, _ = server
    port = _hostport(url).rsplit(":", 1)[1]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}"):
        assert _get(url, host) == 200, host


@pytest.mark.parametrize("host", ["evil.example:{port}", "evil.example", "127.0.0.1.evil.example:{port}",
                                  "attacker.localhost.example:{port}", "", "[::2]:{port}"])
def test_dns_rebinding_is_refused(server, host):
    url, _ = server
    port = _hostport(url).rsplit(":", 1)[1]
    code = _get(url, host.format(port=port))
    assert 400 <= code < 500, (host, code)
    assert _get(url, host.format(port=port), "/static/assets/theme-light.css") >= 400


def test_websocket_from_the_page_itself_is_accepted(server):
    url, _ = server
    hp = _hostport(url)
    assert _websocket(url, hp, f"http://{hp}") == 101
    assert _websocket(url, hp, None) == 101  # not from a browser page: not cross-site


@pytest.mark.parametrize("origin", ["http://evil.example", "http://evil.example:{port}", "http://localhost:1",
                                    "https://127.0.0.1:{port}", "null"])
def test_cross_site_websocket_is_refused(server, origin):
    url, _ = server
    hp = _hostport(url)
    port = hp.rsplit(":", 1)[1]
    code = _websocket(url, hp, origin.format(port=port))
    assert code == 403, (origin, code)


def test_cross_site_state_change_is_refused(server):
    url, _ = server
    hp = _hostport(url)
    code, _ = _raw(url, f"POST /_solara/api/close/test-kernel?session_id=x HTTP/1.1\r\nHost: {hp}\r\n"
                        "Origin: http://evil.example\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    assert code == 403


def test_host_option_serves_that_address(tmp_path):
    """--host 127.0.0.2 (another loopback address on Linux) serves there and answers to that name,
    and still refuses other names and other sites' websockets."""
    _need_app()
    if sys.platform != "linux":
        pytest.skip("127.0.0.2 is a loopback address on Linux only")
    proc, url, _, _ = _start(tmp_path, "--host", "127.0.0.2")
    try:
        assert url.startswith("http://127.0.0.2:")
        hp = _hostport(url)
        port = hp.rsplit(":", 1)[1]
        assert _get(url, hp) == 200
        assert _get(url, f"localhost:{port}") == 200
        assert _get(url, f"evil.example:{port}") == 403
        assert _websocket(url, hp, "http://evil.example") == 403
        assert _websocket(url, hp, f"http://{hp}") == 101
    finally:
        _stop(proc)


# ------------------------------------------------------------------------------- the rules alone
def test_allowed_hosts():
    assert allowed_hosts(None) == {"127.0.0.1", "localhost", "::1"}
    assert allowed_hosts("lab-pc.local") == {"127.0.0.1", "localhost", "::1", "lab-pc.local"}
    assert allowed_hosts("0.0.0.0") is None and allowed_hosts("::") is None and allowed_hosts("[::]") is None
    assert split_host("[::1]:8765") == ("::1", 8765) and split_host("LocalHost") == ("localhost", None)
    assert split_host("a:b:c") == ("", None)


def _scope(host: str, origin: str | None = None, kind: str = "websocket", method: str = "GET"):
    headers = [(b"host", host.encode())] + ([(b"origin", origin.encode())] if origin else [])
    return {"type": kind, "headers": headers, "scheme": "ws" if kind == "websocket" else "http", "method": method}


def test_refusal_rules():
    local = LocalOnly(None, allowed_hosts(None))
    anywhere = LocalOnly(None, allowed_hosts("0.0.0.0"))
    assert local.refusal(_scope("127.0.0.1:8765", "http://127.0.0.1:8765")) is None
    assert "not this computer" in local.refusal(_scope("evil.example:8765"))
    assert anywhere.refusal(_scope("lab-pc:8765", "http://lab-pc:8765")) is None  # --host 0.0.0.0: any name
    assert "cross-site" in anywhere.refusal(_scope("lab-pc:8765", "http://evil.example"))  # but never other sites
    assert local.refusal(_scope("127.0.0.1:8765", "http://evil.example", kind="http")) is None  # a GET is harmless
    assert "cross-site" in local.refusal(_scope("127.0.0.1:8765", "http://evil.example", kind="http", method="POST"))
    assert "Host" in local.refusal(_scope(""))
