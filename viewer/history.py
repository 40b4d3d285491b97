"""Which messages to show, given that MemOS can only return "the newest N".

The API has no cursor, so "load earlier" asks for a larger N and finds, in the answer, the
messages already on screen. An anchor token names the oldest of them by content (MemOS gives
messages no id), so messages added upstream in the meantime shift nothing: no gaps, no repeats.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from enum import Enum

from memos_api import Message, sort_by_time

ANCHOR_SPAN = 3  # how many of the oldest shown messages the anchor covers
MAX_FETCHES = 2  # upstream calls one request may make: the next limit, then a wider one


class Boundary(Enum):
    """What lies above the oldest message shown."""

    MORE = "more"        # older messages exist and can be fetched
    START = "start"      # the conversation starts here
    CAPPED = "capped"    # older messages may exist beyond what the API returns


@dataclass(frozen=True)
class Slice:
    """A run of consecutive messages, oldest first, and how to ask for the ones before it."""

    messages: list[Message]
    boundary: Boundary
    depth: int     # how far the oldest message sat from the newest end when fetched
    anchor: str    # token naming the oldest messages, for the next "load earlier"
    after: Message | None = None  # the first dated message below these, if any was fetched


class ConversationChanged(Exception):
    """The messages on screen are no longer found upstream (edited, deleted or pushed out)."""


def latest(source, user_id: str, conversation_id: str, count: int, cap: int) -> Slice:
    """The newest ``count`` messages."""
    return _slice(source, user_id, conversation_id, None, 0, count, cap)


def older(source, user_id: str, conversation_id: str, anchor: str, depth: int, count: int,
          cap: int) -> Slice:
    """Up to ``count`` messages just before the ones named by ``anchor``."""
    return _slice(source, user_id, conversation_id, anchor, depth, count, cap)


def _slice(source, user_id, conversation_id, anchor, depth, count, cap) -> Slice:
    limit = min(cap, depth + count + 1)  # one extra tells whether older messages exist
    for attempt in range(MAX_FETCHES):
        window = sort_by_time(source.get_messages(user_id, conversation_id, limit))
        full = len(window) >= limit
        end = len(window) if anchor is None else _find(window, anchor, depth)
        wider = _wider_limit(len(window), end, full, limit, count, cap)
        if wider is None or attempt == MAX_FETCHES - 1:
            break
        limit = wider
    if end is None:
        raise ConversationChanged()
    start = max(0, end - count)
    if start > 0 or (full and limit < cap):
        boundary = Boundary.MORE
    else:
        boundary = Boundary.CAPPED if full else Boundary.START
    shown = window[start:end]
    after = next((message for message in window[end:] if message.created_at), None)
    return Slice(shown, boundary, len(window) - start, anchor_token(shown), after)


def _wider_limit(size: int, end: int | None, full: bool, limit: int, count: int,
                 cap: int) -> int | None:
    """A larger limit to ask for when the conversation grew since the anchor was made."""
    if not full or limit >= cap:
        return None
    if end is None:  # grown by more than we asked for, or gone: one look, as far as allowed
        return cap
    if end <= count:
        return min(cap, size - end + count + 1)  # not enough older ones to know what's above
    return None


def anchor_token(messages: list[Message]) -> str:
    """Name the oldest (up to ANCHOR_SPAN) of ``messages``; "" when there are none."""
    span = messages[:ANCHOR_SPAN]
    if not span:
        return ""
    return f"{len(span)}.{_digest([fingerprint(m) for m in span])}"


def fingerprint(message: Message) -> str:
    """A digest of what identifies a message: its role, content and creation time."""
    created = message.created_at.isoformat() if message.created_at else None
    parts = [[part.kind, part.text] for part in message.parts]
    payload = json.dumps([message.role, parts, created], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()


def _digest(fingerprints: list[str]) -> str:
    return hashlib.sha256("|".join(fingerprints).encode()).hexdigest()[:16]


def _find(window: list[Message], anchor: str, depth: int) -> int | None:
    """The index in ``window`` where the anchored messages start, or None.

    Messages are only ever added at the newest end, so the anchor sits at ``depth`` from the
    end or further back; the nearest match to that place wins.
    """
    span_text, digest = anchor.split(".", 1)
    span = int(span_text)
    prints = [fingerprint(message) for message in window]
    for index in range(min(len(window) - depth, len(window) - span), -1, -1):
        if _digest(prints[index:index + span]) == digest:
            return index
    return None
