"""``/readyz``: can this instance reach its message source? Cached for a few seconds."""

from __future__ import annotations

import threading
import time

from memos_api import AuthError, InvalidRequestError, MemOSError

PROBE_ID = "readyz-probe"


class ReadinessCheck:
    """Asks the source for one message of a probe conversation, at most every ``ttl`` s."""

    def __init__(self, source, ttl: float = 5.0) -> None:
        self.source = source
        self.ttl = ttl
        self._lock = threading.Lock()
        self._checked_at = float("-inf")
        self._result: tuple[bool, str] = (False, "not checked yet")

    def __call__(self) -> tuple[bool, str]:
        with self._lock:  # one probe at a time; others wait for its answer
            if time.monotonic() - self._checked_at >= self.ttl:
                self._result = self._probe()
                self._checked_at = time.monotonic()
            return self._result

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
