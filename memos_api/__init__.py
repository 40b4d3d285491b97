"""A thin client for MemOS's message and memory API, and an embedded MemOS-compatible store.

Nothing in this package imports Flask: it is usable from any Python program.
"""

from .client import DEFAULT_BASE_URL, GLOBAL_BASE_URL, MemOSClient, resolve_base_url
from .errors import (
    AuthError,
    BadResponseError,
    CircuitOpenError,
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
from .memories import (
    Memory,
    memory_page_from_api,
    MemoryPage,
    MemorySource,
    Preference,
    Skill,
    ToolMemory,
    ToolUse,
)
from .models import AddResult, ContentPart, Message, message_from_api, sort_by_time
from .timestamps import BEIJING, parse_timestamp, parse_timezone

__all__ = [
    "N_", "is_known_wording", "AddResult", "AuthError", "BEIJING", "BadResponseError",
    "CircuitOpenError", "ContentPart", "DEFAULT_BASE_URL",
    "GLOBAL_BASE_URL", "InvalidRequestError", "Memory", "MemoryPage", "MemorySource",
    "MemOSClient", "MemOSError", "Message", "Preference", "Skill", "ToolMemory", "ToolUse",
    "memory_page_from_api",
    "NotFoundError", "RateLimitedError", "UpstreamError", "UpstreamTimeoutError",
    "UpstreamUnavailableError", "message_from_api", "parse_timestamp", "parse_timezone",
    "resolve_base_url", "sort_by_time",
]
