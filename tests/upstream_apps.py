"""Apps that read a real upstream MemOS, built in one place.

Issue #9's ``VIEWER_ACCESS`` setting makes an app with a real upstream and no ``EMBED_SECRET``
refuse to start unless access is ``open``. These apps ask for open access already (until that
setting exists it is ignored), so whatever else it comes to need is one edit here.
"""

from __future__ import annotations

from typing import Any

UPSTREAM_ACCESS = {"VIEWER_ACCESS": "open"}


def upstream_app(app_factory, base_url: str, **settings: Any):
    """An app on the MemOS at ``base_url``; ``settings`` override the defaults."""
    return app_factory(**{"MEMOS_BASE_URL": base_url, **UPSTREAM_ACCESS, **settings})


def upstream_environ(environ: dict[str, str], **settings: str) -> dict[str, str]:
    """``environ`` for a viewer process on a real upstream, with ``settings`` added."""
    return {**environ, **UPSTREAM_ACCESS, **settings}
