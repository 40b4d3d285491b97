"""Template helpers: how roles and times are shown."""

from __future__ import annotations

from datetime import datetime

from flask import Flask

KNOWN_ROLES = ("user", "assistant", "system", "tool")
ROLE_LABELS = {"user": "User", "assistant": "Assistant", "system": "System", "tool": "Tool"}


def role_class(role: str) -> str:
    """A CSS class suffix for ``role``; unknown roles share a neutral style."""
    return role if role in KNOWN_ROLES else "other"


def role_label(role: str) -> str:
    """Who said it, in words; an unknown role is shown as its own (escaped) name."""
    return ROLE_LABELS.get(role) or role or "Unknown role"


def htmx_config(upstream_timeout: float) -> dict:
    """htmx settings for a strict CSP (no eval, no injected styles) that swaps error pages."""
    return {
        "allowEval": False,
        "allowScriptTags": False,
        "includeIndicatorStyles": False,
        "selfRequestsOnly": True,
        "historyCacheSize": 0,  # never copy conversation content into localStorage
        "timeout": int((3 * upstream_timeout + 5) * 1000),
        "responseHandling": [
            {"code": "204", "swap": False},
            {"code": "[23]..", "swap": True},
            {"code": "[45]..", "swap": True, "error": True},
        ],
    }


def register(app: Flask) -> None:
    """Install the filters the templates use."""
    zone = app.config["DISPLAY_TIMEZONE"]

    def iso_time(moment: datetime) -> str:
        return moment.astimezone(zone).isoformat(timespec="seconds")

    def display_time(moment: datetime) -> str:
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")

    @app.context_processor
    def htmx_settings():
        return {"htmx_config": htmx_config(app.config["MEMOS_TIMEOUT"])}

    app.add_template_filter(iso_time)
    app.add_template_filter(display_time)
    app.add_template_filter(role_class)
    app.add_template_filter(role_label)
