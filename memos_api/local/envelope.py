"""MemOS's answer format: a JSON envelope ``{"code", "data", "message"}`` and an HTTP status.

Business errors are HTTP 200 with a non-zero ``code``, as the cloud does. Protocol errors use
a real HTTP status, and the envelope's code is that status times 100 (404 -> 40400).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any


@dataclass(frozen=True)
class Answer:
    """What the server says to one request."""

    status: int
    code: int
    message: str
    data: Any = None
    headers: tuple[tuple[str, str], ...] = ()


def render(answer: Answer) -> tuple[str, list[tuple[str, str]], bytes]:
    """The status line, headers and body of ``answer``."""
    payload = json.dumps({"code": answer.code, "data": answer.data, "message": answer.message},
                         separators=(",", ":")).encode("utf-8")
    headers = [("Content-Type", "application/json; charset=utf-8"),
               ("Content-Length", str(len(payload))), *answer.headers]
    return f"{answer.status} {HTTPStatus(answer.status).phrase}", headers, payload
