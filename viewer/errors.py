"""Failures as users see them: our own page or fragment, the right status, never a traceback.

``describe`` says what an upstream failure (or a conversation that changed) means: a status,
a sentence and headers. ``page`` shows it in a conversation page's shell, ``fragment`` in
place of the "load earlier" control, ``live`` to a live check's script; ``render`` is every
other HTTP error (400, 403, 404, 429...), also registered as the app's error handler.
"""

from __future__ import annotations

import logging

from flask import Flask, render_template, request
from flask_babel.speaklater import LazyString
from werkzeug.exceptions import HTTPException, InternalServerError

from memos_api import (
    CircuitOpenError,
    is_known_wording,
    MemOSError,
    NotFoundError,
    RateLimitedError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)

from .access import is_open
from .breaker import retry_after
from .history import ConversationChanged
from .i18n import gettext
from .i18n import lazy_gettext as _l
from .links import Reader

log = logging.getLogger(__name__)

MAX_RETRY_AFTER = 86400
# An error answering "load earlier" replaces the control above the messages, not the log;
# one answering the memory panel, or its search, stays in the panel.
FRAGMENT_ERROR_HEADERS = {"HX-Retarget": "#history-head", "HX-Reswap": "innerHTML"}
PANEL_ERROR_TARGETS = {"chat.memories": "#memories-slot", "chat.memory_search": "#memories-results"}
# Most specific first: subclasses must come before their bases.
_STATUS_BY_ERROR: list[tuple[type[Exception], int]] = [
    (CircuitOpenError, 503),  # not asked: MemOS failed the calls before (viewer/breaker.py)
    (UpstreamTimeoutError, 504),
    (RateLimitedError, 503),
    (UpstreamUnavailableError, 503),
    (NotFoundError, 404),
    (ConversationChanged, 409),
    (MemOSError, 502),
]
CHANGED_MESSAGE = _l("This conversation changed since the page was loaded, so the messages "
                     "can't be lined up with the ones shown. Reload to see it as it is now.")
# Each page is headed by what went wrong, in plain words; its status is small print below.
# A failure reading the conversation, by its kind (most specific first)...
HEADING_BY_ERROR: list[tuple[type[Exception], LazyString]] = [
    (CircuitOpenError, _l("MemOS did not answer")),
    (UpstreamTimeoutError, _l("MemOS did not answer")),
    (RateLimitedError, _l("MemOS is busy")),
    (UpstreamUnavailableError, _l("MemOS is unavailable")),
    (NotFoundError, _l("This conversation was not found")),
    (ConversationChanged, _l("This conversation changed")),
    (MemOSError, _l("MemOS answered with an error")),
]
# ...and the viewer's own HTTP errors, by status, or by kind where a status says too little.
HEADINGS = {400: _l("This link doesn't work"), 403: _l("You can't open this conversation"),
            404: _l("Page not found"), 405: _l("Wrong kind of request"),
            413: _l("This request is too large"), 429: _l("Too many requests")}
CLIENT_HEADING = _l("This request can't be answered")  # any other 4xx
SERVER_HEADING = _l("Something went wrong")            # any 5xx
# What to say when the error itself says nothing of ours.
DESCRIPTIONS = {
    404: _l("There is no page at this address."),
    405: _l("This address does not answer that kind of request."),
    413: _l("This request is larger than the viewer accepts."),
    500: _l("Something went wrong on our side. Try again in a moment."),
}

Failure = MemOSError | ConversationChanged


def describe(error: Failure) -> tuple[int, str, dict[str, str]]:
    """The status, the message to show, and extra response headers for ``error``."""
    status = next(code for kind, code in _STATUS_BY_ERROR if isinstance(error, kind))
    headers: dict[str, str] = {}
    if isinstance(error, RateLimitedError) and error.retry_after is not None:
        # A day at most: an upstream's absurd hint should not become ours.
        headers["Retry-After"] = str(min(MAX_RETRY_AFTER, max(1, round(error.retry_after))))
    if isinstance(error, CircuitOpenError):  # the rest of the cool-down, rounded up
        headers["Retry-After"] = str(min(MAX_RETRY_AFTER, retry_after(error)))
    if isinstance(error, ConversationChanged):
        return status, str(CHANGED_MESSAGE), headers
    log.warning("upstream failure: %s (code=%s, http_status=%s) -> %s",
                type(error).__name__, getattr(error, "code", None),
                getattr(error, "http_status", None), status)
    return status, memos_message(error), headers


def memos_message(error: MemOSError) -> str:
    """What went wrong with MemOS, in the reader's language.

    The wording is the client's own (memos_api/errors.py), translated as a whole by its
    template; a message the client did not write (a local store's detail) is said in its
    kind's general words instead.
    """
    wording = error.wording if is_known_wording(error.wording) else type(error).default_message
    return gettext(wording, **error.params) if "%(" in wording else gettext(wording)


def heading(error: Failure) -> str:
    """What went wrong reading the conversation, as a page's heading."""
    return str(next(words for kind, words in HEADING_BY_ERROR if isinstance(error, kind)))


def page(template: str, error: Failure, reader: Reader, retry_url: str, **context):
    """A conversation page that could not be read: its shell, the reason and a retry link
    (and what ``context`` adds: the memory panel, which does not depend on the messages).

    "Try again" stays on a 404 too: MemOS may know the conversation once it has messages.
    """
    status, message, headers = describe(error)
    return render_template(template, error=message, error_title=heading(error),
                           error_status=status, retry_url=retry_url,
                           reader=reader, **context), status, headers


def fragment(error: Failure, reload_url: str, retry_url: str | None = None):
    """A failed "load earlier", in place of its control: "Try again", or "Reload the page"
    when retrying cannot help (the conversation changed)."""
    status, message, headers = describe(error)
    if isinstance(error, ConversationChanged):
        retry_url = None
    return render_template("partials/load_error.html", error=message, retry_url=retry_url,
                           reload_url=reload_url), status, headers | FRAGMENT_ERROR_HEADERS


def live(error: Failure, reload_url: str):
    """A failed live check, for the page's script: it backs off, or stops with the notice."""
    status, message, headers = describe(error)
    return render_template("partials/live_notice.html", message=message,
                           reload_url=reload_url), status, headers


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
    """Our page for ``error`` (a fragment for htmx requests), with the headers it carries.

    A 5xx offers "Try again"; a 4xx does not (the same request gets the same answer), only
    the start page where it can help: a full page in open mode.
    """
    # Retry-After on a 429 or 503, Allow on a 405: werkzeug formats them; the body is ours.
    headers = {name: value for name, value in error.get_headers() if name != "Content-Type"}
    status = error.code or 500
    message = error.description
    if not message or message == type(error).description:  # werkzeug's words, not ours
        message = str(DESCRIPTIONS.get(status, ""))
    if "HX-Request" in request.headers and request.endpoint in PANEL_ERROR_TARGETS:
        return render_template("partials/memory_error.html", error=message,
                               title=http_heading(error), status=status,
                               whole=request.endpoint == "chat.memories"), status, headers | {
            "HX-Retarget": PANEL_ERROR_TARGETS[request.endpoint], "HX-Reswap": "innerHTML"}
    if "HX-Request" in request.headers:
        return render_template("partials/load_error.html", error=message, retry_url=None,
                               reload_url=""), status, headers | FRAGMENT_ERROR_HEADERS
    # Inside a host's iframe: no site chrome, and no link to pages the host may not frame.
    embedded = request.endpoint == "chat.embed"
    retry = status >= 500
    return render_template("error.html", status=status, title=http_heading(error),
                           error=message, embedded=embedded, retry=retry,
                           start=not (retry or embedded) and is_open()), status, headers


def http_heading(error: HTTPException) -> str:
    """What went wrong with a request, as its page's heading."""
    heading = getattr(error, "heading", None)  # an error of ours that names itself
    if heading is not None:
        return str(heading)
    status = error.code or 500
    fallback = SERVER_HEADING if status >= 500 else CLIENT_HEADING
    return str(HEADINGS.get(status, fallback))
