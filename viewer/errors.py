"""Error pages: every failure gets our own page and the right status, never a traceback."""

from __future__ import annotations

import logging

from flask import Flask, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

from .failures import FRAGMENT_ERROR_HEADERS

log = logging.getLogger(__name__)


def register(app: Flask) -> None:
    """Render HTTP errors with the site's layout (or as an htmx fragment)."""

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        return render(error)

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        log.exception("unhandled error on %s", request.path)
        return render(InternalServerError())


def render(error: HTTPException):
    """Our page for ``error`` (a fragment for htmx requests), with the headers it carries."""
    # Retry-After on a 429 or 503, Allow on a 405: werkzeug formats them; the body is ours.
    headers = {name: value for name, value in error.get_headers() if name != "Content-Type"}
    status, message = error.code or 500, error.description or error.name
    if "HX-Request" in request.headers:
        headers.update(FRAGMENT_ERROR_HEADERS)
        return render_template("partials/load_error.html", error=message, retry=None,
                               reload_url=""), status, headers
    # Inside a host's iframe: no site chrome, and no link to pages the host may not frame.
    embedded = request.endpoint == "chat.embed"
    return render_template("error.html", status=status, title=error.name, error=message,
                           embedded=embedded), status, headers
