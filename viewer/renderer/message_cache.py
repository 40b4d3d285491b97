"""Rendered messages kept for reuse, bounded in entries and in bytes.

A stored message never changes, and its HTML depends only on it and the app's settings, so each
is formatted once and its HTML reused on every page that shows it. Messages compare without
their ``extra`` fields, so the key holds the few of those that the HTML shows (tool calls).

The bound in bytes matters: one message's HTML can be a few hundred kilobytes, so a bound in
entries alone could let a worker's cache grow to gigabytes.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from dataclasses import replace
from typing import NamedTuple

from markupsafe import Markup

from memos_api import Message

from .tools import render_key


class CacheInfo(NamedTuple):
    """How the cache has done: hits, misses, and what it holds now."""

    hits: int
    misses: int
    entries: int
    bytes: int


class MessageCache:
    """A least-recently-used map from messages (in a language) to their HTML, thread-safe."""

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[Message, str, tuple], tuple[Markup, int]] = OrderedDict()
        self._bytes = self._hits = self._misses = 0
        self._lock = threading.Lock()

    def get(self, message: Message, language: str = "") -> Markup | None:
        """The HTML kept for ``message`` shown in ``language``, or None."""
        key = (message, language, render_key(message))
        entry = self._items.get(key)
        if entry is None:
            self._misses += 1
            return None
        try:  # atomic under the GIL; a concurrent eviction just leaves nothing to move
            self._items.move_to_end(key)
        except KeyError:
            pass
        self._hits += 1
        return entry[0]

    def put(self, message: Message, html: Markup, language: str = "") -> None:
        """Keep ``html`` for ``message`` in ``language``, evicting the least recently used."""
        if self.max_entries < 1:
            return
        # What it costs to keep: the HTML and the key's text (the message holds it).
        shown = render_key(message)
        size = sys.getsizeof(html) + sum(sys.getsizeof(part.text) for part in message.parts)
        if shown:
            (calls, _), answered = shown
            size += sys.getsizeof(answered) + sum(
                sys.getsizeof(call.arguments) + sys.getsizeof(call.name) for call in calls)
        if size > self.max_bytes // 8:  # no one entry may crowd out the rest
            return
        key = (bare(message), language, shown)
        with self._lock:
            if key in self._items:
                return
            self._items[key] = (html, size)
            self._bytes += size
            while len(self._items) > self.max_entries or self._bytes > self.max_bytes:
                self._bytes -= self._items.popitem(last=False)[1][1]

    def info(self) -> CacheInfo:
        """Hits, misses, entries and bytes held."""
        return CacheInfo(self._hits, self._misses, len(self._items), self._bytes)


def bare(message: Message) -> Message:
    """``message`` without what it compares without and its HTML does not show (to be kept in a
    key, not counted in its size): its parts as they came (a file's data) and ``extra`` (render_key
    holds the tool calls the HTML shows)."""
    if message.content is None and not message.extra:
        return message
    return replace(message, content=None, extra={})
