"""Apps that read a real upstream MemOS, built in one place.

An app with a real upstream and no ``EMBED_SECRET`` refuses to start unless ``VIEWER_ACCESS``
is ``open``; these apps ask for open access unless they are given a secret (signed access).
"""

from __future__ import annotations

from typing import Any

UPSTREAM_ACCESS = {"VIEWER_ACCESS": "open"}


def upstream_app(app_factory, base_url: str, **settings: Any):
    """An app on the MemOS at ``base_url``; ``settings`` override the defaults."""
    access = {} if settings.get("EMBED_SECRET") else UPSTREAM_ACCESS
    return app_factory(**{"MEMOS_BASE_URL": base_url, **access, **settings})


def upstream_environ(environ: dict[str, str], **settings: str) -> dict[str, str]:
    """``environ`` for a viewer process on a real upstream, with ``settings`` added."""
    return {**environ, **UPSTREAM_ACCESS, **settings}
