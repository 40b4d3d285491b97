"""Security headers sent with every response."""

from __future__ import annotations

from flask import Flask, Response, request

# Pages that show conversation content: never stored in shared caches.
PRIVATE_ENDPOINTS = frozenset({"chat.chat", "chat.embed", "chat.older"})


def content_security_policy(frame_ancestors: str) -> str:
    """A policy allowing scripts, styles and images from this origin only."""
    return "; ".join([
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",  # message images are shown as links, never loaded
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "object-src 'none'",
        f"frame-ancestors {frame_ancestors}",
    ])


def register(app: Flask) -> None:
    """Add the headers in an ``after_request`` hook."""
    own_policy = content_security_policy("'self'")
    widget_policy = content_security_policy(app.config["EMBED_ALLOWED_ORIGINS"])

    @app.after_request
    def add_security_headers(response: Response) -> Response:
        # Framing is governed by frame-ancestors alone: X-Frame-Options cannot express an
        # allowlist, and a conflicting one would break the widget in some browsers.
        widget = request.endpoint == "chat.embed"
        response.headers["Content-Security-Policy"] = widget_policy if widget else own_policy
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        if request.endpoint in PRIVATE_ENDPOINTS:
            response.headers["Cache-Control"] = "no-store"
        return response
