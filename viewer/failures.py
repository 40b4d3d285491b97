"""What each failure looks like to a user: an HTTP status and a sentence."""

from __future__ import annotations

import logging

from memos_api import (
    MemOSError,
    NotFoundError,
    RateLimitedError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)

from .history import ConversationChanged

log = logging.getLogger(__name__)

MAX_RETRY_AFTER = 86400
# An error answering "load earlier" replaces the control above the messages, not the log.
FRAGMENT_ERROR_HEADERS = {"HX-Retarget": "#history-head", "HX-Reswap": "innerHTML"}
# Most specific first: subclasses must come before their bases.
_STATUS_BY_ERROR: list[tuple[type[Exception], int]] = [
    (UpstreamTimeoutError, 504),
    (RateLimitedError, 503),
    (UpstreamUnavailableError, 503),
    (NotFoundError, 404),
    (ConversationChanged, 409),
    (MemOSError, 502),
]
CHANGED_MESSAGE = ("This conversation changed since the page was loaded, so the earlier "
                   "messages can't be lined up with the ones shown. Reload to see it as it is now.")


def describe(error: Exception) -> tuple[int, str, dict[str, str]]:
    """The status, the message to show, and extra response headers for ``error``."""
    status = next(code for kind, code in _STATUS_BY_ERROR if isinstance(error, kind))
    headers: dict[str, str] = {}
    if isinstance(error, RateLimitedError) and error.retry_after is not None:
        # A day at most: an upstream's absurd hint should not become ours.
        headers["Retry-After"] = str(min(MAX_RETRY_AFTER, max(1, round(error.retry_after))))
    if isinstance(error, ConversationChanged):
        return status, CHANGED_MESSAGE, headers
    log.warning("upstream failure: %s (code=%s, http_status=%s) -> %s",
                type(error).__name__, getattr(error, "code", None),
                getattr(error, "http_status", None), status)
    return status, str(error), headers
