"""The development server behind ``make run`` (``python app.py``): Werkzeug's, made safe to use.

- Its request log names paths without their query strings, as the production log does: they
  carry ids and signed tokens.
- With MemOS configured and no access chosen, it opens access for local use (on loopback only)
  and says so, where ``create_app`` (and so gunicorn) refuses to start.
- On loopback it answers only requests that name a loopback host: a web page could otherwise
  point a name of its own at 127.0.0.1 (DNS rebinding) and read what the viewer shows.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any

from flask import abort, Flask, request
from werkzeug.serving import WSGIRequestHandler

# A query string in a logged request line: up to the next space (or colour escape).
_QUERY = re.compile(r"\?[^\s\x1b]*")


class RequestHandler(WSGIRequestHandler):
    """Werkzeug's request handler; nothing it logs carries a query string."""

    def log(self, type: str, message: str, *args: Any) -> None:
        # Covers the access line and error lines that quote a malformed request line.
        super().log(type, message, *(_QUERY.sub("", arg) if isinstance(arg, str) else arg
                                     for arg in args))


def local_access(environ: Mapping[str, str], host: str,
                 port: int) -> tuple[dict[str, Any], str | None]:
    """Settings that open access for local use, and the line that says so (or none).

    Only when MemOS is configured, no access was chosen (``EMBED_SECRET`` or ``VIEWER_ACCESS``)
    and the server listens on IPv4 loopback; otherwise ``create_app`` decides as it always does.
    """
    upstream = environ.get("MEMOS_API_KEY") or environ.get("MEMOS_BASE_URL")
    chosen = environ.get("EMBED_SECRET") or environ.get("VIEWER_ACCESS")
    if not upstream or chosen or not is_loopback(host):
        return {}, None
    return {"VIEWER_ACCESS": "open"}, (
        f"Open access for local use (make run set VIEWER_ACCESS=open): any MemOS conversation "
        f"opens by its ids at http://{host}:{port}, from this machine only; set EMBED_SECRET "
        f"for signed links.")


def is_loopback(host: str) -> bool:
    """Whether ``host`` is localhost or an IPv4 loopback address (127.0.0.0/8)."""
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.version == 4 and address.is_loopback


def run(app: Flask, host: str, port: int) -> None:
    """Serve ``app`` with Werkzeug's server until interrupted."""
    if is_loopback(host):
        app.before_request(_loopback_names_only)
    app.run(host=host, port=port, request_handler=RequestHandler)


def _loopback_names_only() -> None:
    name = request.host.rsplit(":", 1)[0] if request.host.count(":") == 1 else request.host
    if not is_loopback(name):
        abort(400, "This development server answers only requests to localhost or 127.0.0.1.")
