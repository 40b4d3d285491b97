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
        return _render(error.code or 500, error.name, error.description or error.name)

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        log.exception("unhandled error on %s", request.path)
        return _render(500, InternalServerError().name, InternalServerError.description)


def _render(status: int, title: str, message: str):
    if "HX-Request" in request.headers:
        return render_template("partials/load_error.html", error=message, retry=None,
                               reload_url=""), status, FRAGMENT_ERROR_HEADERS
    # Inside a host's iframe: no site chrome, and no link to pages the host may not frame.
    embedded = request.endpoint == "chat.embed"
    return render_template("error.html", status=status, title=title, error=message,
                           embedded=embedded), status
