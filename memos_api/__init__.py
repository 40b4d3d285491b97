"""A thin client for the MemOS message API, and an embedded MemOS-compatible local store.

Nothing in this package imports Flask: it is usable from any Python program.
"""

from .client import DEFAULT_BASE_URL, GLOBAL_BASE_URL, MemOSClient, resolve_base_url
from .errors import (
    AuthError,
    BadResponseError,
    InvalidRequestError,
    is_known_wording,
    MemOSError,
    N_,
    NotFoundError,
    RateLimitedError,
    UpstreamError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from .models import AddResult, ContentPart, Message, message_from_api, sort_by_time
from .timestamps import BEIJING, parse_timestamp, parse_timezone

__all__ = [
    "N_", "is_known_wording", "AddResult", "AuthError", "BEIJING", "BadResponseError",
    "ContentPart", "DEFAULT_BASE_URL",
    "GLOBAL_BASE_URL", "InvalidRequestError", "MemOSClient", "MemOSError", "Message",
    "NotFoundError", "RateLimitedError", "UpstreamError", "UpstreamTimeoutError",
    "UpstreamUnavailableError", "message_from_api", "parse_timestamp", "parse_timezone",
    "resolve_base_url", "sort_by_time",
]
