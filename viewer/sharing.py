"""Live checks of one conversation share their MemOS calls, across every instance.

Two hundred people watching one demo conversation, each checking every 15 s, would make 13
calls a second to MemOS, whose limits are per key. Here the checks of one conversation make at
most one call at a time for the whole deployment, and its answer, or its error, is reused for
``ttl`` seconds (at least a second, whatever the poll interval): one call a second at most,
however many readers, instances and checks. One reader fetches, under a short lock; the others
wait for its answer, each no longer than its own deadline. Answers are kept per user,
conversation and limit, so a reader only ever gets what their own grant would have fetched.

With a shared store (viewer/shared_store.py) the lock and the answer live in Redis: the answer
as JSON, with a TTL, naming the read it answers (a value that does not, or is not ours, is
ignored). Without one, or while it does not answer, the same happens in each process.

A check the host page asked for (``Live-Refresh``: its own chat just posted) needs an answer
from a call begun after it asked, so it takes none shared from before; it waits for the call
in flight, if any, and then makes its own (one a second per conversation and client at most:
a refresh over that waits for the next answer, or its turn, rather than being dropped).

The same mechanism shares other reads (``read``): the memory panel's (viewer/memory_panel.py)
gives its own ``fetch`` for its keys and its own ``codec`` (how its answers are written in the
shared store, under keys of their own: one kind of answer is never read as another), and does
not keep errors (``keep_errors``): an error goes to the readers that waited for its call, on
any instance, and a reader who comes after it, "Try again" in hand, calls again.
"""

from __future__ import annotations

import copy
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import g, has_request_context

import memos_api
from memos_api import ContentPart, is_known_wording, MemOSError, Message, UpstreamTimeoutError

from .shared_store import SharedStore, StoreUnavailable

SHARE_SECONDS = 1.0  # how long an answer is reused: one MemOS call a second per conversation
REFRESH_SECONDS = 1.0  # a client's refreshes of one conversation read afresh this often at most
MAX_ENTRIES = 1024  # conversations remembered at once per process; expired ones go first
MAX_ANSWER_BYTES = 32 * 1024 * 1024  # a shared answer larger than this is not ours: ignored
FIRST_POLL, LAST_POLL = 0.005, 0.05  # seconds between looks for another instance's answer
FORMAT = 1  # the shared answer's layout; an answer in another is ignored
# The errors an answer may carry across instances, by name (any other is not shared).
SHARED_ERRORS: dict[str, type[MemOSError]] = {
    cls.__name__: cls for cls in vars(memos_api).values()
    if isinstance(cls, type) and issubclass(cls, MemOSError)}

Key = tuple[Any, ...]  # live reads: (user_id, conversation_id, limit)

# An answer's value, unless it is larger than ARGV[1] bytes (not ours: never sent over) or not a
# string (another program's key).
_GET_BOUNDED = """
local ok, size = pcall(redis.call, 'STRLEN', KEYS[1])
if not ok or size > tonumber(ARGV[1]) then return false end
return redis.call('GET', KEYS[1])
"""


@dataclass(frozen=True)
class Answer:
    """A MemOS call's outcome, and its place in the order calls began."""

    generation: int
    value: Any = None  # what the call returned: live reads, a list of messages
    error: MemOSError | None = None

    def result(self) -> Any:
        if self.error is not None:
            raise copy.copy(self.error)  # one exception object per thread that raises it
        return self.value


@dataclass(frozen=True)
class Codec:
    """How one kind of answer is written in the shared store.

    ``encode(value, key)`` gives the JSON of ``value`` (raising ValueError or TypeError for a
    value it cannot write: that answer is then not shared); ``decode(data, key)`` gives the
    value back from it, and raises (ValueError, TypeError, KeyError, IndexError) for anything
    it did not write. ``format`` names the layout (an answer in another is ignored), ``field``
    is where the value goes, and ``space`` sets this kind's keys apart from every other's.
    """

    space: tuple[str, ...]
    format: Any
    field: str
    encode: Callable[[Any, Key], Any]
    decode: Callable[[Any, Key], Any]


class SharedReads:
    """``get_messages`` of ``source`` (or another ``fetch`` by key), shared between concurrent
    and recent identical reads."""

    def __init__(self, source: Any, ttl: float = SHARE_SECONDS, wait: float = 30.0,
                 store: SharedStore | None = None, scope: str = "",
                 client: Callable[[], str] = lambda: "",
                 fetch: Callable[[Key], Any] | None = None, keep_errors: bool = True,
                 codec: Codec | None = None) -> None:
        self.source = source
        self.ttl = ttl
        self.codec = codec or MESSAGES  # how answers are kept in the store
        self.keep_errors = keep_errors  # False: an error only for the reads that waited for it
        self.fetch = fetch or (lambda key: self.source.get_messages(*key))
        self.wait = wait  # the longest a read waits for another's call (a request's deadline)
        self.client = client  # who asks (their address): a refresh's budget is theirs
        self.local = LocalBoard(self)
        self.shared = RedisBoard(self, store, scope) if store is not None else None
        self.calls = 0  # calls made to the source by this process, for tests and benchmarks
        self._generations = itertools.count(1)

    def get_messages(self, user_id: str, conversation_id: str, limit: int) -> list[Message]:
        """The newest ``limit`` messages, from a call made now, in flight or just made."""
        return self._read((user_id, conversation_id, limit), refresh=False)

    def refresh_messages(self, user_id: str, conversation_id: str,
                         limit: int) -> list[Message]:
        """The newest ``limit`` messages, from a call begun after this was asked."""
        return self._read((user_id, conversation_id, limit), refresh=True)

    def read(self, key: Key) -> Any:
        """What ``fetch(key)`` returns (or raises), from a call made now, in flight or just
        made; ``key`` must name everything the answer depends on."""
        return self._read(key, refresh=False)

    def _read(self, key: Key, refresh: bool) -> Any:
        deadline = time.monotonic() + self.wait
        if has_request_context():
            deadline = min(deadline, g.get("deadline", deadline))
        if self.shared is not None:
            try:
                return self._follow(self.shared, key, refresh, deadline)
            except StoreUnavailable:
                pass  # said once by the store: this process's own state meanwhile
        return self._follow(self.local, key, refresh, deadline)

    def _follow(self, board, key: Key, refresh: bool, deadline: float) -> Any:
        """Take a fresh enough answer from ``board``, or make the call under its lock."""
        # A refresh takes only answers from calls begun after it asked (a later generation).
        after = board.generation() if refresh else None
        allowed = not refresh  # may make the call itself (a refresh: when its turn comes)
        poll = FIRST_POLL
        answer = board.answer(key)
        # The answer there before this read began: without keep_errors, its error is not ours.
        # (A generation, not a time: it means the same on every instance.)
        before = answer.generation if answer is not None else None
        while True:
            if self._usable(answer, after, before):
                return answer.result()
            allowed = allowed or board.may_refresh(key, self.client())
            token = board.lock(key) if allowed else None
            if token is not None:
                return self._call(board, key, token, after, before)
            now = time.monotonic()
            if now >= deadline:
                raise UpstreamTimeoutError()
            board.wait(key, min(deadline, now + poll))
            poll = min(LAST_POLL, poll * 2)
            answer = board.answer(key)

    def _usable(self, answer: Answer | None, after: int | None, before: int | None) -> bool:
        """Whether a read that found generation ``before`` when it began (a refresh: asked
        after generation ``after``) may take ``answer``."""
        if answer is None or (after is not None and answer.generation <= after):
            return False
        return self.keep_errors or answer.error is None or answer.generation != before

    def _call(self, board, key: Key, token: str, after: int | None, before: int | None) -> Any:
        """Holding ``key``'s lock: the answer stored meanwhile, or a call to the source."""
        try:
            answer = board.answer(key)  # stored while this reader waited for the lock?
            if not self._usable(answer, after, before):
                answer = self._fetch(board, key)
        finally:
            board.unlock(key, token)
        return answer.result()

    def _fetch(self, board, key: Key) -> Answer:
        generation = board.next_generation()
        self.calls += 1
        try:
            answer = Answer(generation, value=self.fetch(key))
        except MemOSError as error:  # shared with the readers waiting for this call
            answer = Answer(generation, error=error)
        board.put(key, answer)
        return answer

    def next_local_generation(self) -> int:
        return next(self._generations)


@dataclass
class _Entry:
    answer: Answer | None = None
    expires: float = 0.0  # time.monotonic() when the answer goes stale
    locked: bool = False
    refreshes: dict[str, float] = field(default_factory=dict)  # client -> turn ends


class LocalBoard:
    """Answers, locks and refresh turns in this process (``threading`` and the monotonic
    clock)."""

    def __init__(self, reads: SharedReads) -> None:
        self.reads = reads
        self._entries: dict[Key, _Entry] = {}
        self._changed = threading.Condition()
        self._generation = 0
        self._next_sweep = 0.0  # time.monotonic() after which stale entries are looked for

    def generation(self) -> int:
        return self._generation

    def next_generation(self) -> int:
        with self._changed:
            self._generation = self.reads.next_local_generation()
            return self._generation

    def answer(self, key: Key) -> Answer | None:
        entry = self._entries.get(key)
        if entry is None or entry.answer is None or time.monotonic() >= entry.expires:
            return None
        return entry.answer

    def may_refresh(self, key: Key, client: str) -> bool:
        conversation = (key[0], key[1], -1)  # a client's turn is per conversation, any limit
        now = time.monotonic()
        with self._changed:
            entry = self._entry(conversation)
            if entry.refreshes.get(client, 0.0) > now:
                return False
            for other, ends in list(entry.refreshes.items()):
                if ends <= now:
                    del entry.refreshes[other]
            entry.refreshes[client] = now + REFRESH_SECONDS
            return True

    def lock(self, key: Key) -> str | None:
        with self._changed:
            entry = self._entry(key)
            if entry.locked:
                return None
            entry.locked = True
            return "local"

    def unlock(self, key: Key, token: str) -> None:
        with self._changed:
            entry = self._entries.get(key)
            if entry is not None:
                entry.locked = False
            self._changed.notify_all()

    def put(self, key: Key, answer: Answer) -> None:
        with self._changed:
            entry = self._entry(key)
            entry.answer = answer
            entry.expires = time.monotonic() + self.reads.ttl
            self._changed.notify_all()

    def wait(self, key: Key, until: float) -> None:
        with self._changed:
            self._changed.wait(max(0.0, until - time.monotonic()))

    def _entry(self, key: Key) -> _Entry:
        """``key``'s entry, made if need be (call holding ``_changed``)."""
        entry = self._entries.get(key)
        if entry is None:
            self._forget_old(time.monotonic())
            entry = self._entries[key] = _Entry()
        return entry

    def _forget_old(self, now: float) -> None:
        """Drop stale entries (looked for at most once an answer's lifetime), then the oldest
        beyond MAX_ENTRIES.

        Stale answers go at a new entry, not only when MAX_ENTRIES are kept: each may hold a
        whole MemOS answer (up to the client's 16 MiB), and nobody will reuse it. Not at every
        new entry: with a thousand conversations kept, looking through them all made each read
        of a new one cost 43 us instead of 5.5; a stale answer now stays at most one lifetime
        longer.
        """
        if now >= self._next_sweep:
            self._next_sweep = now + self.reads.ttl
            for key, entry in list(self._entries.items()):
                if (not entry.locked and now >= entry.expires
                        and not any(ends > now for ends in entry.refreshes.values())):
                    del self._entries[key]
        excess = len(self._entries) - MAX_ENTRIES + 1
        if excess > 0:
            for key in list(itertools.islice(self._entries, excess)):
                if not self._entries[key].locked:
                    del self._entries[key]


class RedisBoard:
    """Answers, locks and refresh turns in the shared store (TTLs on the Redis clock)."""

    def __init__(self, reads: SharedReads, store: SharedStore, scope: str) -> None:
        self.reads = reads
        self.store = store
        self.scope = scope  # which MemOS (URL and key) answers: never another's answers
        self.codec = reads.codec
        self._generation_key = store.key("reads", "generation")
        self._get = store.client.register_script(_GET_BOUNDED)

    def _key(self, kind: str, *parts: Any) -> str:
        return self.store.key("reads", *self.codec.space, kind, self.store.digest(
            self.scope, *(str(part) for part in parts)))

    def generation(self) -> int:
        value = self.store.run(lambda client: client.get(self._generation_key))
        try:
            return int(value or 0)
        except ValueError:  # not ours: the next INCR fails too, and says so (once)
            return 0

    def next_generation(self) -> int:
        return self.store.run(lambda client: client.incr(self._generation_key))

    def answer(self, key: Key) -> Answer | None:
        raw = self.store.run(lambda client: self._get(
            keys=[self._key("answer", *key)], args=[MAX_ANSWER_BYTES], client=client))
        if raw is None or len(raw) > MAX_ANSWER_BYTES:
            return None
        return decode_answer(raw, key, self.codec)

    def may_refresh(self, key: Key, client: str) -> bool:
        name = self._key("refresh", key[0], key[1], client)
        return bool(self.store.run(lambda redis: redis.set(
            name, b"1", nx=True, px=int(REFRESH_SECONDS * 1000))))

    def lock(self, key: Key) -> str | None:
        token = f"{time.monotonic_ns()}-{threading.get_ident()}-{id(self)}"
        # The lock outlives the longest call (a reader's deadline): a holder that died
        # leaves it to the others no later than that.
        taken = self.store.run(lambda client: client.set(
            self._key("lock", *key), token, nx=True, px=int((self.reads.wait + 1) * 1000)))
        return token if taken else None

    def unlock(self, key: Key, token: str) -> None:
        try:
            self.store.release(self._key("lock", *key), token)  # only a lock still ours
        except StoreUnavailable:
            pass  # it expires by itself

    def put(self, key: Key, answer: Answer) -> None:
        try:
            raw = encode_answer(answer, key, self.codec)
        except (ValueError, TypeError, RecursionError):
            return  # not writable: the others make their own call
        if len(raw) > MAX_ANSWER_BYTES:
            return  # no reader would take it
        try:
            self.store.run(lambda client: client.set(
                self._key("answer", *key), raw, px=int(self.reads.ttl * 1000)))
        except StoreUnavailable:
            pass  # the caller has its answer; the others make their own call

    def wait(self, key: Key, until: float) -> None:
        time.sleep(max(0.0, until - time.monotonic()))


# --- answers as JSON ----------------------------------------------------------------------------

def encode_answer(answer: Answer, key: Key, codec: Codec | None = None) -> bytes:
    """The answer as JSON, naming the read it answers (messages unless ``codec`` says)."""
    codec = codec or MESSAGES
    body: dict[str, Any] = {"format": codec.format, "read": list(key),
                            "generation": answer.generation}
    if answer.error is not None:
        error = answer.error
        body["error"] = {"kind": type(error).__name__, "wording": error.wording,
                         "code": error.code, "status": error.http_status,
                         "retry_after": getattr(error, "retry_after", None)}
    else:
        body[codec.field] = codec.encode(answer.value, key)
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(
        "utf-8", "surrogatepass")


def decode_answer(raw: bytes, key: Key, codec: Codec | None = None) -> Answer | None:
    """The answer in ``raw`` to the read ``key``, or None when it is anything else (another
    read's answer, another kind's, another program's value, a layout of another version,
    garbage)."""
    codec = codec or MESSAGES
    try:
        body = json.loads(raw.decode("utf-8", "surrogatepass"))
        if (not isinstance(body, dict) or type(body.get("format")) is not type(codec.format)
                or body["format"] != codec.format or body.get("read") != list(key)):
            return None
        generation = body["generation"]
        if not isinstance(generation, int) or isinstance(generation, bool):
            return None
        if "error" in body:
            error = _decode_error(body["error"])
            return Answer(generation, error=error) if error is not None else None
        return Answer(generation, value=codec.decode(body[codec.field], key))
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError):
        return None


def _encode_messages(messages: list[Message], key: Key) -> list:
    return [_encode_message(message) for message in messages]


def _decode_messages(items: Any, key: Key) -> list[Message]:
    if not isinstance(items, list):
        raise TypeError("not a list of messages")
    return [_decode_message(item) for item in items]


def _encode_message(message: Message) -> list:
    return [message.role, [[part.kind, part.text] for part in message.parts],
            _time(message.created_at), _time(message.updated_at), message.edited,
            message.extra, message.content, message.chat_time]


def _decode_message(item: Any) -> Message:
    role, parts, created, updated, edited, extra, content, chat_time = item
    if not (isinstance(role, str) and isinstance(parts, list) and isinstance(edited, bool)
            and isinstance(extra, dict) and (chat_time is None or isinstance(chat_time, str))):
        raise TypeError("not a message")
    decoded = []
    for kind, text in parts:
        if not (isinstance(kind, str) and isinstance(text, str)):
            raise TypeError("not a part")
        decoded.append(ContentPart(kind, text))
    return Message(role, tuple(decoded), _parse_time(created), _parse_time(updated), edited,
                   extra, content, chat_time)


def _time(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _parse_time(text: Any) -> datetime | None:
    if text is None:
        return None
    if not isinstance(text, str):
        raise TypeError("not a time")
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:  # ours always carry their zone; a naive one breaks comparisons
        raise ValueError("a time without its zone")
    return moment


def _decode_error(value: Any) -> MemOSError | None:
    if not isinstance(value, dict):
        return None
    cls = SHARED_ERRORS.get(value.get("kind"))
    wording, code, status = value.get("wording"), value.get("code"), value.get("status")
    if cls is None or not all(number is None or (isinstance(number, int)
                                                 and not isinstance(number, bool))
                              for number in (code, status)):
        return None
    # Only our own wording is shown again; anything else reads as the kind's own words.
    wording = wording if isinstance(wording, str) and is_known_wording(wording) else None
    error = cls(wording, code=code, http_status=status)
    retry_after = value.get("retry_after")
    if hasattr(error, "retry_after") and isinstance(retry_after, (int, float)) \
            and not isinstance(retry_after, bool) and 0 <= retry_after < 86400 * 365:
        error.retry_after = retry_after
    return error


# Live reads' answers: lists of messages, under the keys and in the layout they always had.
MESSAGES = Codec(space=(), format=FORMAT, field="messages", encode=_encode_messages,
                 decode=_decode_messages)
