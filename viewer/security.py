"""Security headers sent with every response, and how long each kind of page may be cached."""

from __future__ import annotations

from flask import Flask, request, Response

from .access import shows_conversation

# Probes must see this instance as it is now, never a cache's copy.
PROBE_ENDPOINTS = frozenset({"chat.healthz", "chat.readyz"})
# An accent's stylesheet is the same for everyone, a function of its URL: a day, so that a
# release that draws accents otherwise is seen by the next day.
ACCENT_CACHE = "public, max-age=86400"
EVERY_RESPONSE = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}


def content_security_policy(frame_ancestors: str) -> str:
    """A policy allowing scripts, styles and images from this origin only."""
    return "; ".join([
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",  # message images are shown as links, never loaded
        "connect-src 'self'",
        # No workers: a worker runs under the policy its script is sent with, and scripts are
        # sent with none (static_file_headers).
        "worker-src 'none'",
        "form-action 'self'",
        "base-uri 'none'",
        "object-src 'none'",
        f"frame-ancestors {frame_ancestors}",
    ])


# A policy governs a document (and a worker, which no page may start: worker-src 'none').
# A stylesheet or a script is never one, even opened on its own (nosniff: shown as text),
# and ~250 bytes of policy on each came to 3% of a first load's 30 KB. Every other type,
# SVG first, may be opened as a page and keeps a policy, a type WhiteNoise does not know
# included: no file under static/ is a page, so one opened as such loads nothing, runs
# nothing (not even this site's scripts) and is a site of its own (sandbox), and is framed
# here only, as a page.
NEVER_DOCUMENTS = frozenset({"text/css", "text/javascript"})
STATIC_FILE_POLICY = "default-src 'none'; frame-ancestors 'self'; sandbox"
_MAY_BE_DOCUMENT = {"Content-Security-Policy": STATIC_FILE_POLICY, **EVERY_RESPONSE}
_NEVER_DOCUMENT = dict(EVERY_RESPONSE)


def static_file_headers(content_type: str | None) -> dict[str, str]:
    """Return the headers a static file of ``content_type`` (None: not a file's answer, such as
    WhiteNoise's 304 and 405) is sent with: WhiteNoise answers before Flask's hooks run."""
    media_type = (content_type or "").partition(";")[0].strip().lower()
    return _NEVER_DOCUMENT if media_type in NEVER_DOCUMENTS else _MAY_BE_DOCUMENT


def cache_control(status: int) -> str:
    """The ``Cache-Control`` for this request's answer (static files have theirs: assets.py)."""
    if status >= 400:
        return "no-store"  # an error may be gone a second later: never keep it
    if shows_conversation() or request.endpoint in PROBE_ENDPOINTS:
        return "no-store"
    if request.endpoint == "chat.accent":
        return ACCENT_CACHE
    # The landing page: nothing private, but it follows the settings and links this
    # release's static URLs, so a cache must ask again before reusing it.
    return "no-cache"


def register(app: Flask) -> None:
    """Add the headers in an ``after_request`` hook."""
    own_policy = content_security_policy("'self'")
    widget_policy = content_security_policy(app.config["EMBED_ALLOWED_ORIGINS"])

    @app.context_processor
    def framing():
        # The widget's script accepts "refresh" messages only from the origins that may
        # frame it (static/widget.js); 'self' stands for the widget's own origin.
        return {"embed_origins": app.config["EMBED_ALLOWED_ORIGINS"]}

    @app.after_request
    def add_security_headers(response: Response) -> Response:
        # Framing is governed by frame-ancestors alone: X-Frame-Options cannot express an
        # allowlist, and a conflicting one would break the widget in some browsers.
        widget = request.endpoint == "chat.embed"
        response.headers["Content-Security-Policy"] = widget_policy if widget else own_policy
        response.headers.update(EVERY_RESPONSE)
        response.headers["Cache-Control"] = cache_control(response.status_code)
        return response
