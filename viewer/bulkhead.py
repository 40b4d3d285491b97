"""A bulkhead: at most ``MEMOS_MAX_IN_FLIGHT`` MemOS calls at once in this process.

A MemOS that hangs holds each call for up to the deadline (23 s by default); with every page
waiting on it, every thread of a worker soon is too, and then nothing else is answered, not
even ``/healthz``. Calls take a slot first. A quarter as many as there are slots may wait for
one, up to ``SLOT_WAIT_SECONDS``; past that wait, or when that many already wait, the page
answers at once that MemOS is busy (503, ``Retry-After``). gunicorn.conf.py makes two thirds of
a worker's threads slots (64 of 96): a sixth more may wait, and the last sixth (16 threads)
is never held by MemOS, and keeps serving health checks, static files, the landing page and
live answers already shared (a wait for a slot holds a thread too). A healthy MemOS, slow or
not, is never refused: 64 pages at once against a 200 ms MemOS all go through.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from flask import g, has_request_context

from memos_api import N_, RateLimitedError

SLOT_WAIT_SECONDS = 1.0  # how long a call may wait for a slot before the page says busy
RETRY_AFTER_SECONDS = 2  # what a busy page asks the reader (and live checks) to wait
T = TypeVar("T")


class BusyError(RateLimitedError):
    """Every slot for MemOS calls is taken: too many pages are already waiting for it."""

    default_message = N_("Too many pages are waiting for MemOS right now; try again in a "
                         "moment.")

    # The message first and keywords, as every MemOSError: shared reads copy an error for each
    # page that waited for the call (copy.copy calls the class again with its args).
    def __init__(self, message: str | None = None, **kwargs) -> None:
        kwargs.setdefault("retry_after", RETRY_AFTER_SECONDS)
        super().__init__(message, **kwargs)


class Bulkhead:
    """Up to ``limit`` calls in flight; up to a quarter as many more wait for a slot, briefly."""

    def __init__(self, limit: int, wait: float = SLOT_WAIT_SECONDS) -> None:
        self.limit = limit
        self.wait = wait
        # A wait holds a thread too. A short line: a healthy MemOS frees slots every call's
        # time, and threads that wait in a long one are lost to everything else while it hangs.
        self.waiters = max(1, limit // 4)
        self._slots = threading.BoundedSemaphore(limit)
        self._lock = threading.Lock()
        self._waiting = 0

    def call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``function(*args, **kwargs)`` holding a slot, waited for no longer than this
        bulkhead's wait, nor past the request's deadline (``g.deadline``)."""
        with self.slot(self.request_wait()):
            return function(*args, **kwargs)

    def request_wait(self) -> float:
        """How long the current request may wait for a slot: this bulkhead's wait, and
        never past the request's deadline (``g.deadline``)."""
        if not has_request_context():
            return self.wait
        return min(self.wait, g.get("deadline", float("inf")) - time.monotonic())

    @contextmanager
    def slot(self, wait: float | None = None) -> Iterator[bool]:
        """Hold a slot for the duration, giving whether it had to be waited for; BusyError
        when none frees within ``wait`` seconds (this bulkhead's own wait by default), or at
        once when ``waiters`` calls already wait."""
        waited = False
        if not self._slots.acquire(blocking=False):
            waited = True
            with self._lock:
                if self._waiting >= self.waiters:
                    raise BusyError()
                self._waiting += 1
            try:
                got = self._slots.acquire(timeout=max(0.0, self.wait if wait is None
                                                      else wait))
            finally:
                with self._lock:
                    self._waiting -= 1
            if not got:
                raise BusyError()
        try:
            yield waited
        finally:
            self._slots.release()

    def take(self) -> Callable[[], None] | None:
        """A slot held until the function returned is called (once: later calls do nothing),
        or None at once when every slot is taken: for work that outlives the call starting
        it, such as an answer streamed after its view has returned."""
        if not self._slots.acquire(blocking=False):
            return None
        once = threading.Lock()

        def release() -> None:
            if once.acquire(blocking=False):
                self._slots.release()

        return release
