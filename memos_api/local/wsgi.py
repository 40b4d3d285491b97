"""The local store as a plain WSGI application, with MemOS cloud's paths, envelope and codes.

The application runs the gate itself, so it is safe under any WSGI server; ``server`` also
runs the gate inside waitress, before a body is read.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

from ..errors import MemOSError
from .endpoints import resolve
from .envelope import Answer, render
from .gate import Gate, Head
from .store import LocalStore

_log = logging.getLogger(__name__)
# Request lines are logged with control characters escaped, as http.server does.
_CONTROL = {code: f"\\x{code:02x}" for code in (*range(0x20), *range(0x7F, 0xA0))}
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class LocalMemOSApp:
    """Answer ``POST`` to the endpoints in ``endpoints.ROUTES``, with or without the API
    prefix."""

    def __init__(self, store: LocalStore, gate: Gate, *, verbose: bool = False) -> None:
        self.store = store
        self.gate = gate
        self.verbose = verbose

    def __call__(self, environ: dict[str, Any],
                 start_response: Callable[..., Any]) -> Iterable[bytes]:
        head = Head(method=environ["REQUEST_METHOD"], path=environ.get("PATH_INFO", ""),
                    host=environ.get("HTTP_HOST"),
                    authorization=environ.get("HTTP_AUTHORIZATION"),
                    content_type=environ.get("CONTENT_TYPE"),
                    content_length=environ.get("CONTENT_LENGTH"),
                    chunked=bool(environ.get("HTTP_TRANSFER_ENCODING")))
        answer = self.gate.check(head)
        if answer is None:
            body = environ["wsgi.input"].read(int(head.content_length or 0))
            answer = self._serve(head.path, body)
        if self.verbose:
            uri = environ.get("REQUEST_URI", head.path)
            log_request(environ.get("REMOTE_ADDR", "-"),
                        f"{head.method} {uri} {environ.get('SERVER_PROTOCOL', '')}", answer.status)
        status, headers, payload = render(answer)
        start_response(status, headers)
        return [payload]

    def _serve(self, path: str, body: bytes) -> Answer:
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
            return Answer(200, 40000, "the request body is not valid JSON")
        if not isinstance(payload, dict):
            return Answer(200, 40000, "the request body must be a JSON object")
        try:
            data = resolve(path)(self.store, payload)
        except MemOSError as error:
            return Answer(200, error.code or 50000, str(error))
        except Exception:  # answer like the cloud would, and keep serving
            _log.exception("local MemOS store failed on %s", path)
            return Answer(200, 50000, "internal error")
        return Answer(200, 0, "ok", data)


def log_request(client: str, request_line: str, status: int) -> None:
    """Write one request to stderr in http.server's format (``--verbose``)."""
    now = time.localtime()
    when = (f"{now.tm_mday:02d}/{_MONTHS[now.tm_mon - 1]}/{now.tm_year:04d} "
            f"{now.tm_hour:02d}:{now.tm_min:02d}:{now.tm_sec:02d}")
    sys.stderr.write(f'{client} - - [{when}] "{request_line.translate(_CONTROL)}" '
                     f"{status} -\n")
