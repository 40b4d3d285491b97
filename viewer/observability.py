"""Request logs (one JSON line each) and the time spent waiting for MemOS."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from flask import Flask, g, has_request_context, request, Response

from memos_api import CircuitOpenError, UpstreamTimeoutError

from .bulkhead import BusyError

log = logging.getLogger("viewer.requests")


class TimedSource:
    """Wraps a message source: times each call, and stops starting new ones past the
    request's deadline (one page may need several calls while a conversation grows, and the
    memory panel one per page of memories)."""

    def __init__(self, source: Any) -> None:
        self.source = source

    def get_messages(self, *args: Any, **kwargs: Any):
        return self._timed(self.source.get_messages, *args, **kwargs)

    def add_messages(self, *args: Any, **kwargs: Any):
        return self._timed(self.source.add_messages, *args, **kwargs)

    def get_memory(self, *args: Any, **kwargs: Any):
        return self._timed(self.source.get_memory, *args, **kwargs)

    def search_memory(self, *args: Any, **kwargs: Any):
        return self._timed(self.source.search_memory, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.source, name)

    def _timed(self, call, *args, **kwargs):
        if not has_request_context():
            return call(*args, **kwargs)
        request_g = g._get_current_object()  # once: each use of the proxy looks it up again
        started = time.monotonic()
        if started > request_g.get("deadline", float("inf")):
            raise UpstreamTimeoutError()
        sent = True
        try:
            return call(*args, **kwargs)
        except (CircuitOpenError, BusyError):
            # Refused by the breaker or the bulkhead (viewer/breaker.py): MemOS was not asked.
            sent = False
            raise
        finally:
            if sent:
                request_g.upstream_seconds = (request_g.get("upstream_seconds", 0.0)
                                              + time.monotonic() - started)
                request_g.upstream_calls = request_g.get("upstream_calls", 0) + 1


def register(app: Flask) -> None:
    """Log every request as JSON: method, path (never the query string), status, timings."""
    if not any(getattr(handler, "is_request_log", False) for handler in log.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.is_request_log = True
        log.addHandler(handler)
    log.propagate = False  # bare JSON lines, not re-formatted by the root logger
    log.setLevel(app.config["LOG_LEVEL"])
    deadline = app.config["MEMOS_DEADLINE"]

    @app.before_request
    def start_clock() -> None:
        g.started = time.monotonic()
        g.deadline = g.started + deadline

    @app.after_request
    def log_request(response: Response) -> Response:
        method, path, status = request.method, request.path, response.status_code
        started = g.get("started", time.monotonic())
        upstream_ms = round(g.get("upstream_seconds", 0.0) * 1000, 1)
        upstream_calls = g.get("upstream_calls", 0)
        htmx = bool(request.headers.get("HX-Request"))

        # Written when the server closes the response, after its last byte is sent: the
        # line (~0.2 ms on a cold CPU) is then off the page's latency, and the duration
        # covers sending it too, as an access log's does.
        def write_line() -> None:
            record = {
                "method": method,
                "path": path,  # query strings carry ids and tokens: never logged
                "status": status,
                "duration_ms": round((time.monotonic() - started) * 1000, 1),
                "upstream_ms": upstream_ms,
                "upstream_calls": upstream_calls,
            }
            if htmx:
                record["htmx"] = True
            log.info(json.dumps(record))

        response.call_on_close(write_line)
        return response
