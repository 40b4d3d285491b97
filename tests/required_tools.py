"""A tool the suite needs is missing: a skip on a developer's machine, a failure under CI.

``make test`` installs every tool (Chromium, redis-server, wrk, poppler, Java, the npm
packages, fonts); under CI (``CI=true``, which .ci/run sets) a missing one means that install
went wrong, and a test that skipped would pass without checking anything.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def under_ci() -> bool:
    """Whether this run is CI's (``CI=true`` or ``CI=1``, as CI services set it)."""
    return os.environ.get("CI", "").lower() in ("true", "1")


def tool_missing(reason: str) -> NoReturn:
    """Fail the calling test under CI, skip it elsewhere; ``reason`` says how to install."""
    if under_ci():
        pytest.fail(f"under CI: {reason}", pytrace=False)
    pytest.skip(reason)
