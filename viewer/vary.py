"""The Vary header, added to without being parsed: it is set on every response with a body."""

from __future__ import annotations

from flask import Response


def add_vary(response: Response, header: str) -> None:
    """Name ``header`` in ``response``'s Vary, as ``response.vary.add`` would write it, without
    parsing the header into a set; not in a 204's (a live check with nothing new: most
    requests), which has no body, so nothing in it that could vary by a header."""
    if response.status_code == 204:
        return
    vary = response.headers.get("Vary")
    if not vary:
        response.headers["Vary"] = header
    elif header.lower() not in (name.strip().lower() for name in vary.split(",")):
        response.headers["Vary"] = f"{vary}, {header}"
