"""Behind reverse proxies: trust their ``X-Forwarded-*`` headers, a prefix only as a plain path.

With ``TRUSTED_PROXIES`` set, Werkzeug's ProxyFix takes the client address, scheme, host and
mount prefix from the proxies' headers. A prefix becomes the start of every URL the app builds,
redirects included, so one like ``//evil.example`` would send readers to another site: only a
plain path (``/history``, ``/apps/chat-viewer``) is taken; anything else leaves the app at the
root, as if no prefix had been sent.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

# Segments of letters, digits and -._~ (no percent-escapes: they could hide any of the rest).
_PLAIN_PATH = re.compile(r"(?:/[A-Za-z0-9._~-]+)+/?")


def is_plain_path(prefix: str) -> bool:
    """Whether ``prefix`` is an absolute path with no scheme, host, escapes or dot segments."""
    return bool(_PLAIN_PATH.fullmatch(prefix)) and not any(
        segment in (".", "..") for segment in prefix.split("/"))


class PlainPrefix:
    """WSGI middleware run inside ProxyFix: undoes a forwarded prefix that is not a plain path."""

    def __init__(self, app: Callable) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        # ProxyFix keeps the values it replaced (documented) in werkzeug.proxy_fix.orig.
        original = environ.get("werkzeug.proxy_fix.orig", {}).get("SCRIPT_NAME") or ""
        prefix = environ.get("SCRIPT_NAME", "")
        if prefix != original:
            environ["SCRIPT_NAME"] = prefix if is_plain_path(prefix) else original
        return self.app(environ, start_response)


def register(app: Flask) -> None:
    """Trust ``TRUSTED_PROXIES`` proxies in front, if any."""
    proxies = app.config["TRUSTED_PROXIES"]
    if proxies:  # behind a reverse proxy: take scheme, host and client from its headers
        app.wsgi_app = ProxyFix(PlainPrefix(app.wsgi_app), x_for=proxies, x_proto=proxies,
                                x_host=proxies, x_prefix=proxies)
