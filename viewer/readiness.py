"""``/readyz``: can this instance reach its message source? Cached for a few seconds.

Beside the answer, what a load balancer's operator wants to see: the MemOS breaker's state
(viewer/breaker.py) and whether the shared store answers (viewer/shared_store.py). A shared
store that does not answer leaves the instance ready: it serves pages on its own state.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

from memos_api import AuthError, InvalidRequestError, MemOSError

from . import shared_store

PROBE_ID = "readyz-probe"


class ReadinessCheck:
    """Asks the source for one message of a probe conversation, at most every ``ttl`` s."""

    def __init__(self, source, ttl: float = 5.0, store: shared_store.SharedStore | None = None,
                 breaker=None) -> None:
        self.source = source
        self.ttl = ttl
        self.store = store
        self.breaker = breaker
        self._lock = threading.Lock()
        self._checked_at = float("-inf")
        self._result: tuple[bool, str] = (False, "not checked yet")

    def __call__(self) -> tuple[bool, str]:
        with self._lock:  # one probe at a time; others wait for its answer
            if time.monotonic() - self._checked_at >= self.ttl:
                self._result = self._probe()
                self._checked_at = time.monotonic()
            return self._result

    def report(self) -> tuple[dict[str, Any], int]:
        """``/readyz``'s body and status."""
        ready, detail = self()
        body: dict[str, Any] = {"status": "ready" if ready else "unavailable", "detail": detail}
        if self.breaker is not None:
            state, left = self.breaker.state()
            body["breaker"] = {"state": state, "retry_after": math.ceil(left)}
        if self.store is not None:
            self.store.check()  # cheap while it is known down: it is tried again only now and then
            body["shared_store"] = shared_store.status(self.store)
            if not self.store.reachable:
                body["detail"] = (f"{detail}; the shared store (SHARED_STORE_URL) does not "
                                  "answer: this instance serves pages on its own state")
        return body, 200 if ready else 503

    def _probe(self) -> tuple[bool, str]:
        try:
            self.source.get_messages(PROBE_ID, PROBE_ID, 1)
        except AuthError as error:
            return False, str(error)
        except InvalidRequestError:
            return True, "the message source answered"  # it refused the probe, but it is up
        except MemOSError as error:
            return False, str(error)
        return True, "the message source answered"
