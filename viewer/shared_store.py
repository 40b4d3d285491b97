"""The Redis server that instances share (``SHARED_STORE_URL``), or none.

What several instances must agree on goes through it: live reads (viewer/sharing.py), the
breaker's state (viewer/breaker.py), revoked links (viewer/revocation.py), and by default the
rate-limit counts (Flask-Limiter keeps those through its own connection to the same URL).
``init_app`` builds this app's store (or None) and ``current()`` returns it, as flaskr's
``get_db()`` does for its database.

A store that does not answer never fails a page. Every use says what to do without it (each
process's own state), the first failure is logged once, and the store is left alone for 1, 2,
4 ... 32 seconds before it is tried again: a dead or hung Redis costs one request per retry its
timeout (a quarter of a second), not every request its timeout.
"""

from __future__ import annotations

import hashlib
import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import redis
from flask import current_app, Flask
from redis.backoff import NoBackoff
from redis.retry import Retry

from .settings import redis_py_url

PREFIX = "memos-viewer:"  # every key of ours starts so: the Redis may hold other things too
MAX_RETRY_SECONDS = 32
EXTENSION = "shared_store"
log = logging.getLogger("viewer.shared_store")
T = TypeVar("T")


def redis_options() -> dict:
    """redis-py options for a store that must never hold a page up for long.

    A healthy Redis answers in well under a millisecond. redis-py's defaults (5 s timeouts,
    10 retries with backoff) would hold each page seconds before the in-memory count takes over.
    A quarter of a second each: a Redis that hangs is met twice by the same page (the shared
    store, then Flask-Limiter's own connection), and the page should wait about half a second
    in all. Options in the URI's query string (``?socket_timeout=2``) still win over these.
    """
    return {"socket_connect_timeout": 0.25, "socket_timeout": 0.25,
            "retry": Retry(NoBackoff(), retries=0)}


# Delete a key only while it holds the owner's token: a lock or probe held past its expiry may be
# another's by now. A value of another type (not ours) is left alone.
_RELEASE = """
local ok, owner = pcall(redis.call, 'GET', KEYS[1])
if ok and owner == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
"""


class StoreUnavailable(Exception):
    """The shared store cannot be used right now: use this process's own state."""


class SharedStore:
    """A redis-py client with short timeouts, and what to do while it does not answer."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(redis_py_url(url), **redis_options())
        self._lock = threading.Lock()
        self._down_since: float | None = None  # time.monotonic() of the first failure
        self._retry_at = 0.0
        self._retry_seconds = 0.0
        self._refusals: set[str] = set()  # kinds of refused commands already logged
        self._release = self.client.register_script(_RELEASE)

    @staticmethod
    def key(*parts: str) -> str:
        """A key in our namespace: ``memos-viewer:`` and ``parts`` joined with ``:``."""
        return PREFIX + ":".join(parts)

    @staticmethod
    def digest(*parts: str) -> str:
        """A short fixed-size name for ``parts`` (ids, URLs, secrets: never in a key as is)."""
        joined = "\x00".join(parts).encode("utf-8", "surrogatepass")
        return hashlib.sha256(joined).hexdigest()[:32]

    @property
    def reachable(self) -> bool:
        """Whether the last use of the store worked (or none failed yet)."""
        return self._down_since is None

    def run(self, operation: Callable[[redis.Redis], T]) -> T:
        """``operation(client)``'s result; StoreUnavailable when the store cannot be used now."""
        if self._down_since is not None:
            with self._lock:  # one request tries again when it is time; the rest go on
                now = time.monotonic()
                if now < self._retry_at:
                    raise StoreUnavailable()
                self._retry_at = now + self._retry_seconds
        try:
            result = operation(self.client)
        except (redis.ConnectionError, redis.TimeoutError, OSError) as error:
            self._failed(error)
            raise StoreUnavailable() from None
        except redis.RedisError as error:  # it answered, but refused the command
            self._refused(error)
            raise StoreUnavailable() from None
        if self._down_since is not None:
            self._recovered()
        return result

    def release(self, key: str, token: str) -> None:
        """Delete ``key`` if it still holds ``token`` (a lock or probe its owner ends);
        StoreUnavailable when the store cannot be used (the key then expires by itself)."""
        self.run(lambda client: self._release(keys=[key], args=[token], client=client))

    def check(self) -> bool:
        """Ping the store now (at start); whether it answered. A failure is logged."""
        try:
            self.run(lambda client: client.ping())
        except StoreUnavailable:
            return False
        return True

    def _failed(self, error: Exception) -> None:
        with self._lock:
            first = self._down_since is None
            if first:
                self._down_since = time.monotonic()
                self._retry_seconds = 1.0
            else:
                self._retry_seconds = min(MAX_RETRY_SECONDS, self._retry_seconds * 2)
            self._retry_at = time.monotonic() + self._retry_seconds
        if first:  # once per outage: every request meanwhile would say the same
            log.warning("unreachable (%s): each process keeps its own live reads, breaker "
                        "state and revocations until it answers; trying again after 1, 2, 4 "
                        "... %d seconds", type(error).__name__, MAX_RETRY_SECONDS)

    def _recovered(self) -> None:
        with self._lock:
            down = self._down_since
            self._down_since = None
            self._retry_seconds = 0.0
        if down is not None:
            log.info("answers again, after %.0f s: instances share their state again",
                        time.monotonic() - down)

    def _refused(self, error: redis.RedisError) -> None:
        kind = type(error).__name__
        if kind not in self._refusals:
            self._refusals.add(kind)
            # The error's text names the command, never a key's value: safe to log.
            log.warning("refused a command (%s: %s): that use falls back to this process's "
                        "own state", kind, str(error)[:200])


def init_app(app: Flask) -> SharedStore | None:
    """Build this app's shared store from ``SHARED_STORE_URL`` (None when it is empty), and
    say at start when it does not answer."""
    _show_log(app.config["LOG_LEVEL"])
    url = app.config["SHARED_STORE_URL"]
    store = SharedStore(url) if url else None
    app.extensions[EXTENSION] = store
    if store is not None and not store.check():
        log.warning("SHARED_STORE_URL is set but the store does not answer at start: pages "
                    "are served on each process's own state meanwhile")
    return store


def current() -> SharedStore | None:
    """The shared store of the app handling this request or command, or None."""
    return current_app.extensions.get(EXTENSION)


def status(store: SharedStore | None) -> str:
    """The store's state in a word, for ``/readyz``: off, ok or unreachable."""
    if store is None:
        return "off"
    return "ok" if store.reachable else "unreachable"


def _show_log(level: str) -> None:
    """Print this module's lines on stderr, as the rate limiter's (viewer/ratelimit.py)."""
    if any(getattr(handler, "is_shared_store_log", False) for handler in log.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s shared store: %(message)s"))
    handler.is_shared_store_log = True
    log.addHandler(handler)
    log.propagate = False
    log.setLevel(level)
