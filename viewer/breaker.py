"""A circuit breaker per MemOS base URL: while MemOS is down, pages fail at once, not late.

Without it a MemOS that hangs holds every page for its whole deadline. After
``MEMOS_BREAKER_FAILURES`` failures in a row (transport failures, timeouts, 5xx answers) within
``MEMOS_BREAKER_WINDOW`` seconds, the breaker opens: calls fail at once with CircuitOpenError
(the "MemOS did not answer" page, 503, ``Retry-After``) for ``MEMOS_BREAKER_COOLDOWN`` seconds.
Then one call, the probe, goes to MemOS while the others still fail at once (half-open): an
answer closes the breaker; a failure opens it again for twice as long, up to
``MEMOS_BREAKER_MAX_COOLDOWN``. MemOS's refusals (not found, a bad key, bad parameters, rate
limiting) show that it is up: they count as answers. A call that waited for a bulkhead slot
(viewer/bulkhead.py) while the breaker opened is refused when it gets one: the calls holding
the slots began before it opened, and the waiting one would have asked a MemOS known to fail.

The state lives in the shared store (viewer/shared_store.py), so all instances open together
and one probe speaks for the whole deployment; without a store, or while it does not answer,
each process keeps its own. Either way the clock is the store's or the process's monotonic
one: expiry times are TTLs, never wall-clock times compared across machines.
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from memos_api import (
    CircuitOpenError,
    MemOSClient,
    MemOSError,
    UpstreamError,
    UpstreamTimeoutError,
)

from .bulkhead import Bulkhead
from .shared_store import SharedStore, StoreUnavailable

CLOSED, OPEN, PROBE, PROBING = "closed", "open", "probe", "probing"


def counts_as_failure(error: BaseException) -> bool:
    """Whether ``error`` says MemOS is down (not that it refused this one request)."""
    return (isinstance(error, (UpstreamError, UpstreamTimeoutError))
            and not isinstance(error, CircuitOpenError))


@dataclass(frozen=True)
class Policy:
    """When to open and for how long (seconds); ``probe``: the longest a probe may take."""

    failures: int
    window: float
    cooldown: float
    max_cooldown: float
    probe: float


@dataclass
class Ticket:
    """One call let through: whether it is the probe, failures seen before it, and which
    state (shared or this process's) let it through."""

    probe: bool
    failures: int
    shared: bool
    token: str = ""


class LocalState:
    """The breaker's state in this process, on ``time.monotonic()``."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._lock = threading.Lock()
        self._failures = 0
        self._first_failure = 0.0
        self._open_until = 0.0
        self._tripped = False  # opened, and no answer since: the next call after it is a probe
        self._cooldown = policy.cooldown
        self._probe_until = 0.0

    def before(self) -> tuple[str, float]:
        """What this call may do: (CLOSED, failures so far), (OPEN, seconds left), (PROBE, 0)
        or (PROBING, seconds the probe may still take)."""
        now = time.monotonic()
        with self._lock:
            if now < self._open_until:
                return OPEN, self._open_until - now
            if self._tripped:
                if now < self._probe_until:
                    return PROBING, self._probe_until - now
                self._probe_until = now + self.policy.probe
                return PROBE, 0.0
            return CLOSED, self._failures

    def failure(self, probe: bool) -> None:
        now = time.monotonic()
        policy = self.policy
        with self._lock:
            if probe:
                self._cooldown = min(policy.max_cooldown, self._cooldown * 2)
                self._open_until = now + self._cooldown
                self._probe_until = 0.0
                return
            if self._tripped:  # a call begun before it opened: the probe decides
                return
            if not self._failures or now - self._first_failure > policy.window:
                self._failures, self._first_failure = 0, now
            self._failures += 1
            if self._failures >= policy.failures:
                self._tripped, self._failures = True, 0
                self._cooldown = policy.cooldown
                self._open_until = now + policy.cooldown

    def success(self) -> None:
        with self._lock:
            self._failures = 0
            self._tripped = False
            self._open_until = self._probe_until = 0.0
            self._cooldown = self.policy.cooldown

    def release(self) -> None:
        """The probe ended without a verdict (not a MemOS error): let another call probe."""
        with self._lock:
            self._probe_until = 0.0

    def peek(self) -> tuple[str, float]:
        """(CLOSED, 0), (OPEN, seconds left) or (PROBING, 0): changes nothing."""
        now = time.monotonic()
        with self._lock:
            if now < self._open_until:
                return OPEN, self._open_until - now
            return (PROBING if self._tripped else CLOSED), 0.0


# The shared state: each script reads and changes it in one step, on the Redis server's clock.
# Keys: open (exists while open; its TTL is the time left), tripped (opened and no answer
# since; holds the current cool-down in ms), probe (a probe is out; its owner's token), failures
# (in a row, within the window). A value that is not what we wrote counts as absent.
_BEFORE = """
local left = redis.call('PTTL', KEYS[1])
if left > 0 then return {1, left} end
if redis.call('EXISTS', KEYS[2]) == 1 then
  if redis.call('PTTL', KEYS[3]) == -1 then redis.call('DEL', KEYS[3]) end  -- not ours
  if redis.call('SET', KEYS[3], ARGV[2], 'NX', 'PX', ARGV[1]) then return {2, 0} end
  return {3, redis.call('PTTL', KEYS[3])}
end
local ok, failures = pcall(redis.call, 'GET', KEYS[4])
return {0, ok and tonumber(failures) or 0}
"""
_FAILURE = """
local base, most = tonumber(ARGV[3]), tonumber(ARGV[4])
local function open(cooldown)
  cooldown = math.floor(math.max(base, math.min(most, cooldown)))
  redis.call('SET', KEYS[3], cooldown, 'PX', ARGV[6])
  redis.call('SET', KEYS[2], cooldown, 'PX', cooldown)
  return cooldown
end
if ARGV[5] == '1' then
  local ok, current = pcall(redis.call, 'GET', KEYS[3])
  redis.call('DEL', KEYS[4])
  return open(2 * (ok and tonumber(current) or base))
end
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
local ok, failures = pcall(redis.call, 'INCR', KEYS[1])
if not ok then
  redis.call('SET', KEYS[1], 1)
  failures = 1
end
if failures == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if failures >= tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  return open(base)
end
return 0
"""


class SharedState:
    """The breaker's state in the shared store, for every instance at once."""

    def __init__(self, policy: Policy, store: SharedStore, name: str) -> None:
        self.policy = policy
        self.store = store
        base = store.key("breaker", store.digest(name))
        self.open, self.tripped, self.probe, self.failures = (
            f"{base}:{part}" for part in ("open", "tripped", "probe", "failures"))
        client = store.client
        self._before = client.register_script(_BEFORE)
        self._failure = client.register_script(_FAILURE)

    def before(self, token: str) -> tuple[str, float]:
        kind, value = self.store.run(lambda client: self._before(
            keys=[self.open, self.tripped, self.probe, self.failures],
            args=[_ms(self.policy.probe), token], client=client))
        state = (CLOSED, OPEN, PROBE, PROBING)[int(kind)]
        return state, (int(value) if state == CLOSED else max(0, int(value)) / 1000)

    def failure(self, probe: bool) -> None:
        policy = self.policy
        self.store.run(lambda client: self._failure(
            keys=[self.failures, self.open, self.tripped, self.probe],
            args=[policy.failures, _ms(policy.window), _ms(policy.cooldown),
                  _ms(policy.max_cooldown), "1" if probe else "0",
                  _ms(4 * policy.max_cooldown + policy.window)], client=client))

    def success(self) -> None:
        self.store.run(lambda client: client.delete(self.failures, self.open, self.tripped,
                                                    self.probe))

    def release(self, token: str) -> None:
        self.store.release(self.probe, token)

    def peek(self) -> tuple[str, float]:
        def read(client):
            pipe = client.pipeline(transaction=False)
            pipe.pttl(self.open)
            pipe.exists(self.tripped)
            return pipe.execute()

        left, tripped = self.store.run(read)
        if left > 0:
            return OPEN, left / 1000
        return (PROBING if tripped else CLOSED), 0.0


class CircuitBreaker:
    """Lets calls to one MemOS through, or fails them at once while it is down."""

    def __init__(self, name: str, policy: Policy, store: SharedStore | None = None) -> None:
        self.name = name  # the base URL: one breaker per MemOS
        self.policy = policy
        self.local = LocalState(policy)
        self.shared = SharedState(policy, store, name) if store is not None else None

    def call_in(self, bulkhead: Bulkhead | None, function, *args: Any, **kwargs: Any) -> Any:
        """``function(*args, **kwargs)`` holding a slot of ``bulkhead`` (when given), unless
        the breaker is open, or opened while the call waited for its slot
        (CircuitOpenError)."""
        ticket = self._admit()
        settled = False
        slot = nullcontext(False) if bulkhead is None else bulkhead.slot(
            bulkhead.request_wait())
        try:
            with slot as waited:
                if waited:
                    self._still_admitted(ticket)
                # The verdict is recorded before the slot is given back, so that a call
                # that waited for it sees the breaker this failure opened.
                try:
                    result = function(*args, **kwargs)
                except MemOSError as error:
                    settled = True
                    self._record(ticket, failed=counts_as_failure(error))
                    raise
                settled = True
                self._record(ticket, failed=False)
                return result
        finally:
            # No slot for it (viewer/bulkhead.py), refused once it had one, or stopped by
            # something other than MemOS: MemOS was not asked or did not answer, and that
            # is no verdict on it.
            if not settled:
                self._release(ticket)

    def state(self) -> tuple[str, float]:
        """("closed" | "open" | "half-open", seconds until the next probe), for ``/readyz``."""
        state, left = self._peek()
        return {OPEN: "open", PROBING: "half-open"}.get(state, "closed"), left

    def _peek(self) -> tuple[str, float]:
        """(CLOSED, 0), (OPEN, seconds left) or (PROBING, 0): the shared state, or this
        process's while the store does not answer. Changes nothing."""
        try:
            if self.shared is None:
                raise StoreUnavailable()
            return self.shared.peek()
        except StoreUnavailable:
            return self.local.peek()

    def _admit(self) -> Ticket:
        token = secrets.token_hex(8)
        shared = self.shared is not None
        try:
            if self.shared is None:
                raise StoreUnavailable()
            state, value = self.shared.before(token)
        except StoreUnavailable:
            shared = False
            state, value = self.local.before()
        if state == OPEN:
            raise CircuitOpenError(retry_after=value)
        if state == PROBING:  # another call is finding out: a second at most, then ask again
            raise CircuitOpenError(retry_after=1)
        return Ticket(probe=state == PROBE, failures=int(value) if state == CLOSED else 0,
                      shared=shared, token=token)

    def _still_admitted(self, ticket: Ticket) -> None:
        """Refuse a call that waited for a slot if the breaker opened meanwhile. The slots
        are held by calls begun before it opened, each for MemOS's whole timeout while it
        hangs; the waiting calls, let through when it was closed, would each hold one as
        long again."""
        if ticket.probe:
            return
        state, left = self._peek()
        if state == OPEN:
            raise CircuitOpenError(retry_after=left)
        if state == PROBING:  # opened and cooled down: the probe, not this call, asks
            raise CircuitOpenError(retry_after=1)

    def _record(self, ticket: Ticket, failed: bool) -> None:
        if not failed and not ticket.probe and not ticket.failures:
            return  # closed with no failure counted: nothing to change (no round trip)
        if ticket.shared and self.shared is not None:
            try:
                if failed:
                    self.shared.failure(ticket.probe)
                else:
                    self.shared.success()
                return
            except StoreUnavailable:
                pass
        if failed:
            self.local.failure(ticket.probe and not ticket.shared)
        else:
            self.local.success()

    def _release(self, ticket: Ticket) -> None:
        if not ticket.probe:
            return
        if ticket.shared and self.shared is not None:
            try:
                self.shared.release(ticket.token)
            except StoreUnavailable:
                pass
        else:
            self.local.release()


class GuardedSource:
    """A message source whose calls pass through ``breaker`` first (failing at once while it
    is open), then take a slot of ``bulkhead``; every other attribute is the source's own,
    read or set (the client's timeouts, its backoff)."""

    _OWN = ("source", "breaker", "bulkhead")

    def __init__(self, source: Any, breaker: CircuitBreaker | None,
                 bulkhead: Bulkhead | None = None) -> None:
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "breaker", breaker)
        object.__setattr__(self, "bulkhead", bulkhead)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self._OWN:
            object.__setattr__(self, name, value)
        else:
            setattr(self.source, name, value)

    def get_messages(self, *args: Any, **kwargs: Any):
        return self._call(self.source.get_messages, *args, **kwargs)

    def add_messages(self, *args: Any, **kwargs: Any):
        return self._call(self.source.add_messages, *args, **kwargs)

    # The memory panel's reads hold a slot each, as pages' reads do, but stay outside the
    # breaker: memory endpoints failing (not enabled for an account, say) must never make the
    # conversation's pages fail at once.
    def get_memory(self, *args: Any, **kwargs: Any):
        return self._slot(self.source.get_memory, *args, **kwargs)

    def search_memory(self, *args: Any, **kwargs: Any):
        return self._slot(self.source.search_memory, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.source, name)

    def _slot(self, function, *args: Any, **kwargs: Any) -> Any:
        if self.bulkhead is None:
            return function(*args, **kwargs)
        return self.bulkhead.call(function, *args, **kwargs)

    def _call(self, function, *args: Any, **kwargs: Any) -> Any:
        # The breaker first: while it is open a page fails at once, not after waiting for a
        # slot that calls begun before it opened may hold for MemOS's whole timeout.
        if self.breaker is None:
            return self._slot(function, *args, **kwargs)
        return self.breaker.call_in(self.bulkhead, function, *args, **kwargs)


def guard(source: Any, config: dict[str, Any],
          store: SharedStore | None) -> tuple[Any, CircuitBreaker | None]:
    """``source`` behind a breaker (unless it is off) and a bulkhead when it is a MemOS
    client, and the breaker; the embedded store has no outages to guard against."""
    if not isinstance(source, MemOSClient):
        return source, None
    breaker = None
    if config["MEMOS_BREAKER_FAILURES"]:
        policy = Policy(failures=config["MEMOS_BREAKER_FAILURES"],
                        window=config["MEMOS_BREAKER_WINDOW"],
                        cooldown=config["MEMOS_BREAKER_COOLDOWN"],
                        max_cooldown=config["MEMOS_BREAKER_MAX_COOLDOWN"],
                        probe=config["MEMOS_DEADLINE"] + 1)
        breaker = CircuitBreaker(source.base_url, policy, store)
    # A bounded number of MemOS calls in flight, so that a hung MemOS never takes every
    # thread (viewer/bulkhead.py).
    bulkhead = Bulkhead(config["MEMOS_MAX_IN_FLIGHT"])
    return GuardedSource(source, breaker, bulkhead), breaker


def retry_after(error: CircuitOpenError) -> int:
    """Whole seconds until the breaker lets a call through again, at least 1."""
    return max(1, math.ceil(error.retry_after or 1))


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))
