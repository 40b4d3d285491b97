"""Live checks of one conversation share their MemOS calls, and so do memory panels.

Two hundred people watching one demo conversation, each checking every 15 s, would make 13
calls a second to MemOS, whose limits are per key. Here the checks of one conversation in one
process make at most one call at a time (the others wait for its answer: single flight), and
its answer, or its error, is reused for ``ttl`` seconds (a fifteenth of the interval: about one
call a second per process). Answers are kept per user, conversation and limit: a reader only
ever gets what their own grant would have fetched. A check the host page asked for
(``MemosChat.refresh()``, after its own chat posted) does not share: it reads MemOS afresh.

The mechanism is ``share``: any read named by a key. The memory panel (viewer/memory_panel.py)
shares its pages of a user's memories the same way, in an instance of its own.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from memos_api import Message, UpstreamTimeoutError

MAX_ENTRIES = 1024  # conversations remembered at once; expired ones go first


@dataclass
class _Read:
    """One call to MemOS: in flight until ``done`` is set, then its answer or error."""

    done: threading.Event = field(default_factory=threading.Event)
    answer: Any = None
    error: Exception | None = None
    finished: float = 0.0  # time.monotonic() when done


class SharedReads:
    """Reads of ``source``, shared between concurrent and recent identical ones."""

    def __init__(self, source: Any, ttl: float, wait: float, keep_errors: bool = True) -> None:
        self.source = source
        self.ttl = ttl
        self.wait = wait  # how long a read waits for another's call (its own deadline)
        # False: an error goes to the reads that waited for its call, and the next read calls
        # again (a reader's "Try again" must try again).
        self.keep_errors = keep_errors
        self._reads: dict[Hashable, _Read] = {}
        self._lock = threading.Lock()
        self.calls = 0  # calls made to the source, for tests and benchmarks

    def get_messages(self, user_id: str, conversation_id: str, limit: int) -> list[Message]:
        """The newest ``limit`` messages, from a call made now, in flight or just made."""
        return self.share((user_id, conversation_id, limit),
                          lambda: self.source.get_messages(user_id, conversation_id, limit))

    def share(self, key: Hashable, call: Callable[[], Any]) -> Any:
        """What ``call()`` returns (or raises), from a call made now, in flight or just made
        under the same ``key``; the key must name everything the answer depends on."""
        now = time.monotonic()
        with self._lock:
            read = self._reads.get(key)
            fresh = read is not None and (not read.done.is_set() or (
                now - read.finished < self.ttl and (self.keep_errors or read.error is None)))
            if not fresh:
                read = self._reads[key] = _Read()
                self.calls += 1
                self._forget_old(now)
        if not fresh:
            self._call(read, call)
            if read.error is not None:
                raise read.error
        elif not read.done.wait(self.wait):
            raise UpstreamTimeoutError()
        elif read.error is not None:
            raise copy.copy(read.error)  # one exception object per thread that raises it
        return read.answer

    def _call(self, read: _Read, call: Callable[[], Any]) -> None:
        try:
            read.answer = call()
        except Exception as error:  # shared with the readers waiting for this call
            read.error = error
        finally:
            read.finished = time.monotonic()
            read.done.set()

    def _forget_old(self, now: float) -> None:
        """Drop the expired reads, then the oldest finished beyond MAX_ENTRIES.

        Expired answers go at every new call, not only when MAX_ENTRIES are kept: each may
        hold a whole MemOS answer (up to the client's 16 MiB), and nobody will reuse it. One
        pass over at most MAX_ENTRIES, next to a call to MemOS, costs nothing that matters.
        """
        for key, read in list(self._reads.items()):
            if read.done.is_set() and now - read.finished >= self.ttl:
                del self._reads[key]
        for key, read in list(self._reads.items())[:len(self._reads) - MAX_ENTRIES]:
            if read.done.is_set():
                del self._reads[key]
