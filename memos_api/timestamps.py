"""Read MemOS timestamps, whose field names, format and zone are all undocumented.

Accepted: ``YYYY-MM-DD HH:MM:SS`` (optionally with fractions), ISO 8601 with or without an
offset, and epoch seconds or milliseconds as numbers or numeric strings. Values without a zone
are taken to be in ``default_tz`` (MemOS's server time is Beijing time, UTC+8).
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone, tzinfo, UTC
from functools import lru_cache

BEIJING = timezone(timedelta(hours=8), "UTC+08:00")

# Epoch values above this are milliseconds (1e11 s is the year 5138; 1e11 ms is 1973).
_MILLISECONDS_ABOVE = 1e11
_NUMERIC = re.compile(r"^[+-]?\d+(\.\d+)?$")
_OFFSET = re.compile(r"^(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)
# A time must stay a valid datetime in any zone it is shown in (offsets are under a day).
_EARLIEST = datetime.min.replace(tzinfo=UTC) + timedelta(days=1)
_LATEST = datetime.max.replace(tzinfo=UTC) - timedelta(days=1)


def parse_timestamp(value: object, default_tz: tzinfo = BEIJING) -> datetime | None:
    """Return an aware datetime for ``value``, or None when it is missing or unreadable."""
    if type(value) is str and len(value) <= 64:  # the usual case first
        return _parse_text(value, default_tz)
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            return _from_epoch(float(value))
        except OverflowError:  # an int too large for a float
            return None
    if not isinstance(value, str) or len(value) > 64:
        return None
    return _parse_text(value, default_tz)


@lru_cache(maxsize=8192)  # a message's times repeat across its fields and across page loads
def _parse_text(value: str, default_tz: tzinfo) -> datetime | None:
    text = value.strip()
    if not text:
        return None
    if _NUMERIC.match(text):
        return _from_epoch(float(text))
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=default_tz)
    return parsed if in_range(parsed) else None


def in_range(moment: datetime) -> bool:
    """Whether an aware ``moment`` stays a valid datetime in every zone it may be shown in:
    a day inside the years 1 to 9999 (``0001-01-01T00:00:00+00:01`` is in year 0 in UTC)."""
    return _EARLIEST <= moment <= _LATEST


def _from_epoch(seconds: float) -> datetime | None:
    if not math.isfinite(seconds) or seconds <= 0:
        return None
    if seconds > _MILLISECONDS_ABOVE:
        seconds /= 1000
    try:
        moment = datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return moment if in_range(moment) else None


def parse_timezone(name: str) -> tzinfo:
    """Read a zone setting: ``UTC``, an offset such as ``+08:00``, or an IANA name."""
    text = name.strip()
    if text.upper() in ("UTC", "Z", "GMT"):
        return UTC
    match = _OFFSET.match(text)
    if match:
        sign, hours, minutes = match.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
        if delta >= timedelta(hours=24):
            raise ValueError(f"time zone offset out of range: {name!r}")
        return timezone(-delta if sign == "-" else delta)
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"unknown time zone: {name!r}") from error
