"""Large message answers kept with their parsed messages, for an answer that comes again.

A 1000-message page spent ~4 ms of CPU decoding MemOS's JSON and building its messages on every
view, though a conversation mostly reads the same from view to view. The client keeps, per
request (user, conversation, limit), the last large answer's bytes and its messages; a new
answer byte for byte the same (one ``memcmp``) gets those messages again instead of a parse.
Parsing is a function of the bytes alone (and the client's zone), so nothing can be reused for
an answer it did not come from. Bounded by the bytes kept: answers below ``MIN_BYTES`` parse in
microseconds and are not kept.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from .models import Message

MIN_BYTES = 32 * 1024  # smaller answers parse quickly enough (a 6-message page: ~20 us)
MAX_BYTES = 8 * 1024 * 1024  # answers' bytes kept per client; their messages take ~2x more


class KeptAnswers:
    """The last large answer per key and its messages, least recently used dropped first."""

    def __init__(self, max_bytes: int = MAX_BYTES, min_bytes: int = MIN_BYTES) -> None:
        self.max_bytes = max_bytes
        self.min_bytes = min_bytes
        self._items: OrderedDict[tuple, tuple[bytes, tuple[Message, ...]]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple, raw: bytes) -> list[Message] | None:
        """The messages of the answer kept for ``key`` if it was ``raw`` exactly, or None."""
        if len(raw) < self.min_bytes:
            return None
        with self._lock:
            kept = self._items.get(key)
            if kept is None or kept[0] != raw:
                return None
            self._items.move_to_end(key)
        return list(kept[1])

    def put(self, key: tuple, raw: bytes, messages: list[Message]) -> None:
        """Keep ``raw`` and its ``messages`` for ``key``, in place of what was kept for it."""
        if len(raw) < self.min_bytes or len(raw) > self.max_bytes // 4:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= len(old[0])
            self._items[key] = (raw, tuple(messages))
            self._bytes += len(raw)
            while self._bytes > self.max_bytes:
                self._bytes -= len(self._items.popitem(last=False)[1][0])
