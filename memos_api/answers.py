"""Message answers kept with their parsed messages, for an answer that comes again.

A conversation mostly reads the same from view to view: a reader reloads, a live check finds
nothing new (most checks), a widget on many pages shows one conversation. Parsing it again cost
~4 ms of CPU on a 1000-message page, and on a live check with nothing new a fifth of its own
time. Parsing is a function of the bytes alone (and the client's zone), so an answer byte for
byte the same as one kept gets the kept messages, whoever asked; nothing is ever reused for an
answer it did not come from.

Answers are found by their length and their first and last ``SAMPLE`` bytes (hashing all of an
800 KB answer would cost more than comparing it), then compared whole: one ``memcmp``. Two
answers that share the sample share the place, the newer kept. Bounded by the bytes kept.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from .models import Message

SAMPLE = 1024  # bytes from each end that find an answer's place
MAX_BYTES = 8 * 1024 * 1024  # answers' bytes kept per client; their messages take ~2x more


class KeptAnswers:
    """Answers and their messages, least recently used dropped first."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple, tuple[bytes, tuple[Message, ...]]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, raw: bytes) -> list[Message] | None:
        """The messages of ``raw`` if it was kept, or None."""
        place = _place(raw)
        with self._lock:
            kept = self._items.get(place)
            if kept is None or kept[0] != raw:
                return None
            self._items.move_to_end(place)
        return list(kept[1])

    def put(self, raw: bytes, messages: list[Message]) -> None:
        """Keep ``raw`` and its ``messages``, in place of an answer that shares its sample."""
        if len(raw) > self.max_bytes // 4:  # no one answer may crowd out the rest
            return
        place = _place(raw)
        with self._lock:
            old = self._items.pop(place, None)
            if old is not None:
                self._bytes -= _size(old[0])
            self._items[place] = (raw, tuple(messages))
            self._bytes += _size(raw)
            while self._bytes > self.max_bytes:
                self._bytes -= _size(self._items.popitem(last=False)[1][0])


def _place(raw: bytes) -> tuple:
    return len(raw), raw[:SAMPLE], raw[-SAMPLE:]


def _size(raw: bytes) -> int:
    """The bytes an answer holds: itself and the sample of it in its place."""
    return len(raw) + min(len(raw), 2 * SAMPLE)
