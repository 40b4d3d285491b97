"""Which messages to show, given that MemOS can only return "the newest N".

The API has no cursor, so "load earlier" asks for a larger N and finds, in the answer, the
messages already on screen, and a live check asks for the newest few and finds, among them,
the newest on screen. An anchor token names those messages by content (MemOS gives messages
no id), so messages added upstream in the meantime shift nothing: no gaps, no repeats.

``History`` holds the source, the page size and the largest limit ever sent (``max_limit``,
the ``MEMOS_MAX_LIMIT`` setting): it alone decides what is asked of MemOS. Its slices carry
the URLs of the requests that can follow them, for templates to print.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from functools import cached_property

from memos_api import Message, sort_by_time

from .links import FindForm, Reader
from .validation import MESSAGE_HEX_LENGTH, NOTHING_SHOWN

# json.dumps with an option builds an encoder per call: a page of 1000 messages hashes 1000.
_to_json = json.JSONEncoder(ensure_ascii=False).encode
ANCHOR_SPAN = 3  # how many of the oldest (or newest) shown messages an anchor covers
MAX_FETCHES = 2  # upstream calls one request may make: the next limit, then a wider one
ID_PREFIX = "m-"  # a message's element id: "m-" and MESSAGE_HEX_LENGTH hex digits


class Boundary(Enum):
    """What lies above the oldest message shown."""

    MORE = "more"        # older messages exist and can be fetched
    START = "start"      # the conversation starts here
    CAPPED = "capped"    # older messages may exist beyond what the API returns


class Missing(Enum):
    """Why the message a permalink names is not in what MemOS returned."""

    GONE = "gone"      # the whole conversation was searched: edited, deleted or elsewhere
    BEYOND = "beyond"  # MemOS returned its most: it may also be older than that


class ConversationChanged(Exception):
    """The messages on screen are no longer found upstream (edited or deleted)."""


@dataclass(frozen=True)
class Slice:
    """Consecutive messages, oldest first, and the URLs of the requests that can follow."""

    reader: Reader
    messages: list[Message]
    boundary: Boundary
    depth: int        # how far the oldest message sat from the newest end when fetched
    anchor: str       # token naming the oldest messages, for the next "load earlier"
    shown: int        # messages on screen once these are
    next_limit: int   # the limit of the page that shows one more batch (no JavaScript)
    max_limit: int
    limit: int | None = None  # the limit this page was asked with (None: the page size)
    newer: tuple[str, str | None] | None = None  # the live check's anchor and time, if live
    live_seconds: float = 0  # how often the page checks for new messages; 0: never
    after: Message | None = None  # the first dated message below these, if any was fetched
    ids: tuple[str | None, ...] = ()  # each message's element id ("m-" + hex), if it has one
    target: str | None = None  # the element id of the message a permalink asked for
    missing: Missing | None = None  # a permalink asked for a message not found: why

    @property
    def older_url(self) -> str:
        """The htmx fragment with the batch before these."""
        return self.reader.older(self.shown, self.anchor, self.depth)

    @property
    def page_url(self) -> str:
        """The page with one more batch: "load earlier" without JavaScript."""
        return self.reader.page(self.next_limit)

    @cached_property  # the page asks twice (whether it checks, and where)
    def newer_url(self) -> str | None:
        """The live check for messages after these, or None when live updates are off."""
        return self.reader.newer(*self.newer) if self.newer else None

    @property
    def reload_url(self) -> str:
        """This page again, as it was asked for: "Check for new messages"."""
        return self.reader.page(self.limit)

    @property
    def downloads(self) -> dict[str, str] | None:
        """The downloads this page offers in its menu; None for an empty conversation (there
        is nothing to download) and in a widget not asked for them."""
        return self.reader.downloads() if self.shown and self.reader.offers_downloads else None

    @property
    def find_form(self) -> FindForm:
        """The menu's "Find" field (viewer/find.py), empty."""
        return self.reader.find_form()


@dataclass(frozen=True)
class Fresh:
    """What a live check found: the messages after those on screen."""

    reader: Reader
    messages: list[Message]
    gap: bool  # more arrived than one request returns: some between are not shown
    seam: datetime | None  # when the newest message on screen was written, if known
    window: list[Message]  # what the check read: the next check is anchored on its newest
    first: bool = False  # nothing was on screen: these are the first messages shown
    ids: tuple[str | None, ...] = ()  # each message's element id, if it has one

    @cached_property  # not worked out for a check that found nothing: most, answered 204
    def newer(self) -> tuple[str, str | None]:
        """The next check's anchor and time."""
        return _newer_anchor(self.window)

    @property
    def newer_url(self) -> str:
        return self.reader.newer(*self.newer)

    @property
    def reload_url(self) -> str:
        return self.reader.page()

    @property
    def downloads(self) -> dict[str, str] | None:
        """The downloads, for a page that offered none: it was empty, and these arrived."""
        return (self.reader.downloads() if self.first and self.messages
                and self.reader.offers_downloads else None)

    @property
    def find_form(self) -> FindForm:
        """The "Find" field of the menu these first messages bring."""
        return self.reader.find_form()


@dataclass(frozen=True)
class Transcript:
    """A whole conversation, for export: every message one widest read returned, oldest first."""

    reader: Reader
    messages: list[Message]
    truncated: bool  # the answer held ``max_limit`` messages: older ones may exist
    max_limit: int


class History:
    """The conversation as MemOS returns it, in slices (built once per app)."""

    def __init__(self, source, page_size: int, max_limit: int, live_seconds: float = 0,
                 live_source=None) -> None:
        self.source = source
        self.page_size = page_size
        self.max_limit = max_limit
        self.live_seconds = live_seconds
        self.live_source = live_source or source  # live checks may share their reads

    def latest(self, reader: Reader, limit: int | None = None) -> Slice:
        """The newest ``limit`` messages (the page size by default; at most ``max_limit``)."""
        count = min(limit or self.page_size, self.max_limit)
        window, end, full, fetched = self._locate(reader, None, 0, count)
        return self._slice(reader, window, end, full, fetched, count, 0, limit and count)

    def around(self, reader: Reader, message: str, limit: int | None = None) -> Slice:
        """The messages from a page before the one ``message`` names (its id's hex) to the
        newest, at least ``limit`` of them; the newest, with ``missing`` set, when it is not
        among the ``max_limit`` MemOS returns.

        One call, as wide as MemOS allows: the message may be anywhere in it. The slice ends
        at the newest, as every page does, so live checks and "load earlier" go on from it.
        """
        window = self._read(reader, self.max_limit)
        full = len(window) >= self.max_limit
        ids = message_ids(window)
        target = ID_PREFIX + message
        if target not in ids:  # of identical messages, the newest carries the id
            count = min(limit or self.page_size, self.max_limit)
            return self._slice(reader, window, len(window), full, self.max_limit, count, 0,
                               limit and count, ids=ids,
                               missing=Missing.BEYOND if full else Missing.GONE)
        start = max(0, ids.index(target) - self.page_size)  # a page of what led up to it
        if limit:
            start = min(start, max(0, len(window) - limit))
        count = len(window) - start
        # "Check for new messages" without JavaScript: as many of the newest, so it stays.
        return self._slice(reader, window, len(window), full, self.max_limit, count, 0, count,
                           ids=ids, target=target)

    def older(self, reader: Reader, anchor: str, depth: int, shown: int) -> Slice:
        """A batch just before the messages named by ``anchor`` (``shown`` are on screen)."""
        window, end, full, fetched = self._locate(reader, anchor, min(depth, self.max_limit),
                                                  self.page_size)
        if end is None:
            raise ConversationChanged()
        return self._slice(reader, window, end, full, fetched, self.page_size, shown)

    def newer(self, reader: Reader, after: str, since: datetime | None,
              refresh: bool = False) -> Fresh:
        """The messages after the newest on screen (named by ``after``, written at ``since``).

        Checks share their reads (``live_source``); with ``refresh`` (the host page asked),
        the answer comes from a call begun after this was asked.
        Raises ConversationChanged when those can no longer be found and the answer does
        not show that more arrived than it holds (which is a gap, not a change).
        """
        span = 0 if after == NOTHING_SHOWN else int(after.split(".", 1)[0])
        limit = min(self.max_limit, self.page_size + span)
        for _attempt in range(MAX_FETCHES):
            window = self._read(reader, limit, shared=True, refresh=refresh)
            full = len(window) >= limit
            at = _find(window, after, 0) if span else None  # nothing shown: no anchor
            if at is not None or not full or limit >= self.max_limit:
                break
            limit = self.max_limit  # more than a page arrived since the last check
        if not span:  # all of it is new; when the widest answer is full, older ones may be too
            return Fresh(reader, window, full, since, window, first=True,
                         ids=message_ids(window))
        if at is None:
            # The anchored messages may have been pushed out of the widest answer, wholly or
            # in part, by new ones: then at most span - 1 of its oldest are not newer than
            # ``since``. Only when none is can messages be missing between (a gap).
            start = _first_after(window, since)
            if not (full and start is not None and start < span):
                raise ConversationChanged()
            return Fresh(reader, window[start:], start == 0, since, window,
                         ids=message_ids(window[start:]))
        fresh = window[at + span:]
        seam = next((m.created_at for m in reversed(window[:at + span]) if m.created_at), since)
        return Fresh(reader, fresh, False, seam, window, ids=message_ids(fresh))

    def export(self, reader: Reader) -> Transcript:
        """As much of the conversation as the API returns: one read of ``max_limit``."""
        messages = self._read(reader, self.max_limit)
        return Transcript(reader, messages, len(messages) >= self.max_limit, self.max_limit)

    def expanded_url(self, reader: Reader, shown: int) -> str:
        """The page with one more batch than ``shown``: "load earlier" without JavaScript."""
        return reader.page(min(self.max_limit, shown + self.page_size))

    def page_url(self, reader: Reader, limit: int | None, message: str | None = None) -> str:
        """The page with the newest ``limit`` messages, as many as the API allows (or from
        the ``message`` a permalink names)."""
        return reader.page(min(limit, self.max_limit) if limit else None, message)

    def _read(self, reader: Reader, limit: int, shared: bool = False,
              refresh: bool = False) -> list[Message]:
        source = self.live_source if shared else self.source
        access = reader.access
        # A source that shares its reads (viewer/sharing.py) reads afresh when asked to.
        read = getattr(source, "refresh_messages", None) if refresh else None
        if read is None:
            read = self.source.get_messages if refresh else source.get_messages
        return sort_by_time(read(access.user_id, access.conversation_id, limit))

    def _locate(self, reader: Reader, anchor: str | None, depth: int, count: int):
        """The fetched window, where the anchored messages start in it (or its end), whether
        it was full, and the limit asked."""
        limit = min(self.max_limit, depth + count + 1)  # one extra: are there older ones?
        for attempt in range(MAX_FETCHES):
            window = self._read(reader, limit)
            full = len(window) >= limit
            end = len(window) if anchor is None else _find(window, anchor, depth)
            wider = _wider_limit(len(window), end, full, limit, count, self.max_limit)
            if wider is None or attempt == MAX_FETCHES - 1:
                return window, end, full, limit
            limit = wider

    def _slice(self, reader: Reader, window: list[Message], end: int, full: bool, limit: int,
               count: int, shown: int, asked: int | None = None,
               ids: list[str | None] | None = None, target: str | None = None,
               missing: Missing | None = None) -> Slice:
        """``ids``: ``message_ids(window)``, when already known."""
        start = max(0, end - count)
        if start > 0 or (full and limit < self.max_limit):
            boundary = Boundary.MORE
        else:
            boundary = Boundary.CAPPED if full else Boundary.START
        messages = window[start:end]
        on_screen = shown + len(messages)
        live = self.live_seconds if not shown and not reader.live_off else 0  # pages check
        after = next((message for message in window[end:] if message.created_at), None)
        # Whether a message carries its id depends on the ones after it (message_ids): the
        # window holds every one on screen below these.
        shown_ids = (ids[start:end] if ids is not None
                     else message_ids(window[start:])[:len(messages)])
        return Slice(reader, messages, boundary, len(window) - start, anchor_token(messages),
                     on_screen, min(self.max_limit, on_screen + self.page_size),
                     self.max_limit, asked, _newer_anchor(messages) if live else None, live,
                     after, tuple(shown_ids), target, missing)


def _wider_limit(size: int, end: int | None, full: bool, limit: int, count: int,
                 max_limit: int) -> int | None:
    """A larger limit to ask for when the conversation grew since the anchor was made."""
    if not full or limit >= max_limit:
        return None
    if end is None:
        return max_limit  # grown by more than we asked for: the widest the API allows
    if end <= count:
        return min(max_limit, size - end + count + 1)  # too few older ones to know what's above
    return None


def anchor_token(messages: list[Message]) -> str:
    """Name the oldest (up to ANCHOR_SPAN) of ``messages``; "" when there are none."""
    span = messages[:ANCHOR_SPAN]
    if not span:
        return ""
    return f"{len(span)}.{_digest([fingerprint(m) for m in span])}"


def _newer_anchor(messages: list[Message]) -> tuple[str, str | None]:
    """The live check's anchor (the newest messages) and the newest one's time, as text."""
    newest = messages[-ANCHOR_SPAN:]
    token = anchor_token(newest) if newest else NOTHING_SHOWN
    dated = next((m.created_at for m in reversed(messages) if m.created_at), None)
    return token, dated.isoformat() if dated else None


def _first_after(window: list[Message], since: datetime | None) -> int | None:
    """Where the messages written after ``since`` begin in ``window`` (None: nowhere)."""
    if since is None:
        return None
    return next((n for n, m in enumerate(window) if m.created_at and m.created_at > since),
                None)


def fingerprint(message: Message) -> str:
    """A digest of what identifies a message: its role, content and creation time."""
    # Kept on the message too: an answer that comes again brings the same Message objects
    # (memos_api/answers.py), and a live check with nothing new looks at a dozen prints.
    # Frozen: set in __dict__, as Message keeps its hash.
    known = message.__dict__.get(_PRINT)
    if known is not None:
        return known
    key = hash(message)
    size = sum(len(part.text) for part in message.parts)
    kept = _prints.get(key)
    if kept is not None and kept[:3] == (message.role, message.created_at, size):
        found = kept[3]
    else:
        found = _fingerprint(message)
        with _prints_lock:
            if len(_prints) >= PRINTS_KEPT:
                del _prints[next(iter(_prints))]  # the oldest: a dict keeps insertion order
            _prints[key] = (message.role, message.created_at, size, found)
    message.__dict__[_PRINT] = found
    return found


def _fingerprint(message: Message) -> str:
    created = message.created_at.isoformat() if message.created_at else None
    parts = [[part.kind, part.text] for part in message.parts]
    # Parts not shown count (as their number) only when there are some: every other
    # message keeps the id it always had.
    payload = _to_json([message.role, parts, created, *([message.more_parts]
                                                         if message.more_parts else [])])
    return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()


# Fingerprints already worked out, by the message's hash, with what confirms it is that
# message: a 1000-message page spent 3.5 ms hashing its messages again on every view, and a
# live check fingerprints the messages it searches and anchors (~60 us of one). The hash is the
# process's own (str hashes are SipHash with a key drawn at start), so content cannot aim at a
# collision, and a chance one must also match role, time and length. About 3 MB at most.
PRINTS_KEPT = 16_384
_PRINT = "_fingerprint"  # where a message keeps its own
_prints: dict[int, tuple[str, datetime | None, int, str]] = {}
_prints_lock = threading.Lock()


def element_id(message: Message) -> str:
    """The message's stable HTML id: "m-" and the first 12 hex digits of its fingerprint."""
    return ID_PREFIX + fingerprint(message)[:MESSAGE_HEX_LENGTH]


def message_ids(messages: list[Message]) -> list[str | None]:
    """Each message's element id, or None when a newer one of ``messages`` has the same.

    Identical messages (same role, content and time) have the same id, and HTML ids must be
    unique: the newest carries it. The messages given must include every one shown below
    (after) these, so that "load earlier" never brings a second copy of an id on screen;
    live updates add newer ones, and static/chat.js then takes the id off the older copy.
    """
    ids = [element_id(message) for message in messages]
    seen: set[str] = set()
    for index in range(len(ids) - 1, -1, -1):
        if ids[index] in seen:
            ids[index] = None
        else:
            seen.add(ids[index])
    return ids


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

