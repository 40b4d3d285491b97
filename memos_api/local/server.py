"""Serve a LocalStore over HTTP with MemOS cloud's paths, envelope and error codes.

Business errors are HTTP 200 with a non-zero ``code``, as the cloud does. Protocol errors
(unknown path, wrong method, body too large or unreadable) use a real HTTP status, and the
envelope's code is that status times 100 (404 -> 40400).
"""

from __future__ import annotations

import hmac
import json
import logging
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from ..errors import MemOSError
from .endpoints import ROUTES
from .store import LocalStore

API_PREFIX = "/api/openmem/v1"
MAX_BODY_BYTES = 8 * 1024 * 1024
_log = logging.getLogger(__name__)


class LocalMemOSServer(ThreadingHTTPServer):
    """A threaded HTTP server holding the store, the expected API key and a verbose flag."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], store: LocalStore, *,
                 api_key: str | None = None, verbose: bool = False) -> None:
        self.store = store
        self.api_key = api_key or None
        self.verbose = verbose
        super().__init__(address, MemOSRequestHandler)

    @property
    def base_url(self) -> str:
        """The URL clients use as MemOS base URL, e.g. http://127.0.0.1:8765/api/openmem/v1."""
        host, port = self.server_address[:2]
        return f"http://{host}:{port}{API_PREFIX}"


class MemOSRequestHandler(BaseHTTPRequestHandler):
    """Answers POST /get/message and /add/message, with or without the API prefix."""

    protocol_version = "HTTP/1.1"  # keep-alive: every answer carries a Content-Length
    disable_nagle_algorithm = True  # headers and body go out in two writes
    timeout = 60  # close idle keep-alive connections instead of holding a thread forever
    server_version = "MemOSLocal/1"
    server: LocalMemOSServer

    def do_POST(self) -> None:
        self._handle(allowed=True)

    def do_GET(self) -> None:
        self._handle(allowed=False)

    do_PUT = do_DELETE = do_PATCH = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def _handle(self, allowed: bool) -> None:
        body = self._read_body()
        if body is None:
            return
        path = urlsplit(self.path).path.rstrip("/")
        route = ROUTES.get(path.removeprefix(API_PREFIX) if path.startswith(API_PREFIX + "/")
                           else path)
        if route is None:
            return self._send(404, 40400, f"no such endpoint: {path or '/'}")
        if not allowed:
            return self._send(405, 40500, "use POST", headers={"Allow": "POST"})
        code, message = self._auth_failure()
        if code:
            return self._send(200, code, message)
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):
            return self._send(200, 40000, "the request body is not valid JSON")
        if not isinstance(payload, dict):
            return self._send(200, 40000, "the request body must be a JSON object")
        try:
            data = route(self.server.store, payload)
        except MemOSError as error:
            return self._send(200, error.code or 50000, str(error))
        except Exception:  # answer like the cloud would, and keep serving
            _log.exception("local MemOS store failed on %s", path)
            return self._send(200, 50000, "internal error")
        self._send(200, 0, "ok", data)

    def _read_body(self) -> bytes | None:
        """The request body, or None after refusing one that is too large or unreadable."""
        if self.headers.get("Transfer-Encoding"):
            return self._send(411, 41100, "send a Content-Length", close=True)
        raw = self.headers.get("Content-Length", "0").strip()
        if not (raw.isascii() and raw.isdigit()):
            return self._send(400, 40000, "bad Content-Length", close=True)
        length = int(raw)
        if length > MAX_BODY_BYTES:
            return self._send(413, 41300, f"body larger than {MAX_BODY_BYTES} bytes", close=True)
        body = self.rfile.read(length) if length else b""
        if len(body) < length:
            self.close_connection = True
            return None
        return body

    def _auth_failure(self) -> tuple[int, str]:
        """(0, "") when the request may proceed, else MemOS's code and a reason."""
        expected = self.server.api_key
        if expected is None:
            return 0, ""
        header = (self.headers.get("Authorization") or "").strip()
        if not header:
            return 40100, "the Authorization header is missing"
        scheme, _, key = header.partition(" ")
        key = key.strip()
        if scheme.lower() != "token" or not key or " " in key:
            return 40130, "the Authorization header must be 'Token <API key>'"
        # Header values arrive decoded as Latin-1; compare the raw bytes in constant time.
        if not hmac.compare_digest(key.encode("latin-1", "replace"), expected.encode("utf-8")):
            return 40132, "the API key is invalid"
        return 0, ""

    def _send(self, status: int, code: int, message: str, data: Any = None, *,
              headers: dict[str, str] | None = None, close: bool = False) -> None:
        payload = json.dumps({"code": code, "data": data, "message": message},
                             separators=(",", ":")).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if close:
            self.send_header("Connection", "close")  # also sets self.close_connection
        self.end_headers()
        self.wfile.write(payload)


def make_server(store: LocalStore, host: str = "127.0.0.1", port: int = 0,
                api_key: str | None = None, *, verbose: bool = False) -> LocalMemOSServer:
    """Bind a MemOS-compatible HTTP server for ``store`` without starting it.

    Port 0 picks a free port (see ``.base_url``). The caller runs ``serve_forever()``, usually
    in a thread, and later ``shutdown()`` and ``server_close()``. With ``api_key`` set, every
    request must carry ``Authorization: Token <api_key>``.
    """
    return LocalMemOSServer((host, port), store, api_key=api_key, verbose=verbose)
