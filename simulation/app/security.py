"""Only this computer's pages may use the app: refuse other hosts and cross-site requests.

A page on another site can make a browser send requests to ``http://127.0.0.1:8765/`` in two ways:
by pointing a name it controls at 127.0.0.1 (DNS rebinding: the browser then sends that name as the
``Host`` header) or by opening a websocket to the app itself (cross-site websocket hijacking: the
browser sends the other site's ``Origin``). :class:`LocalOnly` wraps the server's ASGI app and
answers both with 403 before solara sees them:

* an HTTP request or websocket whose ``Host`` is not one the app serves (by default ``127.0.0.1``,
  ``localhost`` and ``[::1]``, any port; with ``--host NAME`` also that name; with a wildcard host
  such as ``0.0.0.0`` any name, since the machine's names are not known in advance);
* a websocket, or a request that changes state (anything but GET, HEAD and OPTIONS), whose
  ``Origin`` is not the page's own (scheme, host and port of the ``Host`` header). Requests
  without an ``Origin`` (not from a browser page) are let through: they are not cross-site.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

LOCAL_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
WILDCARDS = frozenset({"0.0.0.0", "::", ""})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def split_host(value: str) -> tuple[str, int | None]:
    """``"127.0.0.1:8765"`` -> ``("127.0.0.1", 8765)``; ``"[::1]:80"`` -> ``("::1", 80)``;
    a malformed value gives ``("", None)``."""
    value = value.strip().lower()
    try:
        parts = urlsplit(f"//{value}")
        return (parts.hostname or ""), parts.port
    except ValueError:
        return "", None


def allowed_hosts(host: str | None) -> frozenset[str] | None:
    """The host names the app answers to when bound to ``host`` (None: any name).

    Args:
        host: the ``--host`` given (None: this computer only).
    """
    if host is None:
        return LOCAL_NAMES
    h = host.strip().lower().strip("[]")
    if h in WILDCARDS:
        return None
    return LOCAL_NAMES | {h}


class LocalOnly:
    """ASGI middleware: pass a request on only if its ``Host`` (and, where it matters, its
    ``Origin``) says it comes from a page of this app.

    Args:
        app: the ASGI app to protect.
        hosts: host names allowed in ``Host`` (None: any), from :func:`allowed_hosts`.
    """

    def __init__(self, app, hosts: Iterable[str] | None):
        self.app = app
        self.hosts = None if hosts is None else frozenset(h.lower() for h in hosts)

    def refusal(self, scope) -> str | None:
        """Why a request is refused (None when it may pass)."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host_header = headers.get("host", "")
        name, port = split_host(host_header)
        if not name:
            return "a request without a valid Host header"
        if self.hosts is not None and name not in self.hosts:
            return f"host {name!r} is not this computer (run spreadsim app --host NAME to serve other names)"
        origin = headers.get("origin")
        if origin is None or (scope["type"] == "http" and scope.get("method", "GET").upper() in SAFE_METHODS):
            return None
        o = urlsplit(origin.strip().lower())
        scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
        try:
            o_port = o.port or (443 if o.scheme == "https" else 80)
        except ValueError:
            return "a malformed Origin header"
        own_port = port or (443 if scheme == "https" else 80)
        if o.scheme != scheme or (o.hostname or "") != name or o_port != own_port:
            return f"a cross-site request from {origin!r}"
        return None

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        why = self.refusal(scope)
        if why is None:
            return await self.app(scope, receive, send)
        body = f"403 Forbidden: spreadsim app refuses {why}\n".encode()
        if scope["type"] == "websocket":
            # closing before accepting makes the server answer the handshake with HTTP 403
            await send({"type": "websocket.close", "code": 1008})
            return
        await send({"type": "http.response.start", "status": 403,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
