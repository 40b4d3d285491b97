"""Shared reads for live checks: one call per conversation and limit a second, in a process
and, through a real Redis, across instances; refreshes; and a shared store that goes away, hangs
or holds something else than our answers."""

from __future__ import annotations

import json
import logging
import threading
import time

import pytest
import redis

from memos_api import RateLimitedError, UpstreamTimeoutError, UpstreamUnavailableError
from viewer import sharing
from viewer.shared_store import SharedStore
from viewer.sharing import SHARE_SECONDS, SharedReads


class Counting:
    """A real store, counting reads and optionally slow or failing."""

    def __init__(self, store, delay: float = 0.0, error: Exception | None = None,
                 gate: threading.Event | None = None) -> None:
        self.store, self.delay, self.error, self.calls = store, delay, error, []
        self.gate = gate  # a call answers only once it is set
        self._lock = threading.Lock()

    def get_messages(self, user_id, conversation_id, limit=None):
        with self._lock:
            self.calls.append((user_id, conversation_id, limit))
        time.sleep(self.delay)
        if self.gate is not None:
            assert self.gate.wait(20), "the test never let the call answer"
        if self.error:
            raise self.error
        return self.store.get_messages(user_id, conversation_id, limit)


def say(store, text, conversation="c", user="u", second=0):
    store.add_messages(user, conversation, [{"role": "user", "content": text,
                                             "chat_time": f"2026-03-01 10:00:{second:02d}"}])


def texts(messages):
    return [message.text for message in messages]


def run_all(*targets, timeout: float = 20) -> None:
    threads = [threading.Thread(target=target) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)


@pytest.fixture
def source(local_store):
    say(local_store, "hi")
    return Counting(local_store)


# --- in one process ---------------------------------------------------------------------------

def test_an_answer_is_shared_for_a_second_whatever_the_poll_interval(app_factory):
    for seconds in (2, 15, 300):
        app = app_factory(LIVE_POLL_SECONDS=seconds)
        assert app.extensions["live_reads"].ttl == SHARE_SECONDS >= 1


def test_reads_within_the_ttl_share_one_call_and_later_ones_call_again(source):
    shared = SharedReads(source, ttl=0.2, wait=5)
    first = shared.get_messages("u", "c", 9)
    assert shared.get_messages("u", "c", 9) == first and len(source.calls) == 1
    time.sleep(0.25)
    shared.get_messages("u", "c", 9)
    assert len(source.calls) == 2 and shared.calls == 2


def test_each_user_conversation_and_limit_has_its_own_answer(source):
    shared = SharedReads(source, ttl=60, wait=5)
    for key in [("u", "c", 9), ("u", "c", 50), ("u", "other", 9), ("v", "c", 9)]:
        shared.get_messages(*key)
    assert len(source.calls) == 4
    assert shared.get_messages("v", "c", 9) == []  # another user's conversation: empty


def test_concurrent_reads_wait_for_the_one_in_flight(local_store):
    # The call answers only once every reader has asked: none can reuse an answer, all wait.
    # (Not a short delay: on a busy machine a reader may start after it, and call again.)
    gate = threading.Event()
    slow = Counting(local_store, gate=gate)
    shared = SharedReads(slow, ttl=60, wait=30)
    asked, results = [], []

    def read():
        asked.append(True)
        results.append(shared.get_messages("u", "c", 9))

    threads = [threading.Thread(target=read) for _ in range(10)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 20
    while len(asked) < 10 or not slow.calls:
        assert time.monotonic() < deadline, "the readers never asked"
        time.sleep(0.01)
    time.sleep(0.2)  # from asking to waiting: a few lines each
    gate.set()
    for thread in threads:
        thread.join(20)
    assert len(slow.calls) == 1 and len(results) == 10


def test_an_error_is_shared_as_its_own_copy_per_reader(local_store):
    failing = Counting(local_store, delay=0.2, error=UpstreamUnavailableError("down"))
    shared = SharedReads(failing, ttl=60, wait=5)
    raised = []

    def read():
        try:
            shared.get_messages("u", "c", 9)
        except UpstreamUnavailableError as error:
            raised.append(error)

    run_all(*[read] * 5)
    assert len(failing.calls) == 1 and len(raised) == 5
    assert len({id(error) for error in raised}) == 5 and {str(e) for e in raised} == {"down"}


def test_a_reader_waits_no_longer_than_its_deadline(local_store):
    slow = Counting(local_store, delay=1.0)
    shared = SharedReads(slow, ttl=60, wait=0.1)
    owner = threading.Thread(target=shared.get_messages, args=("u", "c", 9))
    owner.start()
    time.sleep(0.05)
    started = time.monotonic()
    with pytest.raises(UpstreamTimeoutError):
        shared.get_messages("u", "c", 9)
    assert time.monotonic() - started < 0.5
    owner.join()


def test_it_remembers_a_bounded_number_of_conversations(source, monkeypatch):
    monkeypatch.setattr(sharing, "MAX_ENTRIES", 8)
    shared = SharedReads(source, ttl=60, wait=5)
    for number in range(50):
        shared.get_messages("u", f"c{number}", 9)
    assert len(shared.local._entries) <= 8


def test_expired_answers_are_not_kept_until_the_bound(source):
    shared = SharedReads(source, ttl=0.05, wait=5)
    for number in range(5):
        shared.get_messages("u", f"c{number}", 9)
    time.sleep(0.1)
    shared.get_messages("u", "c-new", 9)  # a new entry: the expired ones go
    assert list(shared.local._entries) == [("u", "c-new", 9)]


# --- refreshes ---------------------------------------------------------------------------------

class Clients:
    """Who asks, per thread: SharedReads' ``client``."""

    def __init__(self) -> None:
        self.local = threading.local()

    def __call__(self) -> str:
        return getattr(self.local, "name", "client-a")

    def be(self, name: str) -> None:
        self.local.name = name


def test_a_refresh_reads_afresh_and_a_second_within_the_second_waits_its_turn(local_store):
    say(local_store, "one")
    counting = Counting(local_store)
    shared = SharedReads(counting, ttl=60, wait=5, client=Clients())
    assert texts(shared.get_messages("u", "c", 9)) == ["one"]
    say(local_store, "two", second=1)
    assert texts(shared.get_messages("u", "c", 9)) == ["one"]  # the shared answer
    turn = time.monotonic()
    assert texts(shared.refresh_messages("u", "c", 9)) == ["one", "two"]
    say(local_store, "three", second=2)
    # Not dropped, not answered from before it asked: it waits for its turn, then reads.
    assert texts(shared.refresh_messages("u", "c", 9)) == ["one", "two", "three"]
    assert 0.95 <= time.monotonic() - turn < 2
    assert len(counting.calls) == 3
    # Readers that did not ask share the refreshed answer.
    assert texts(shared.get_messages("u", "c", 9)) == ["one", "two", "three"]
    assert len(counting.calls) == 3


def test_each_client_has_its_own_refresh_turn(local_store):
    say(local_store, "one")
    counting = Counting(local_store)
    clients = Clients()
    shared = SharedReads(counting, ttl=60, wait=5, client=clients)
    turn = time.monotonic()
    shared.refresh_messages("u", "c", 9)
    clients.be("client-b")
    started = time.monotonic()
    shared.refresh_messages("u", "c", 9)
    assert time.monotonic() - started < 0.5 and len(counting.calls) == 2
    clients.be("client-a")  # its turn is per conversation, not per limit
    shared.refresh_messages("u", "c", 20)
    assert time.monotonic() - turn >= 0.95


def test_a_refresh_asked_while_a_check_is_in_flight_runs_after_it(local_store):
    """The call in flight began before the host's chat posted: its answer may lack the new
    message, so the refresh makes its own call once it ends."""
    say(local_store, "one")
    slow = Counting(local_store, delay=0.4)
    shared = SharedReads(slow, ttl=60, wait=5, client=Clients())
    got = {}
    check = threading.Thread(target=lambda: got.update(check=shared.get_messages("u", "c", 9)))
    check.start()
    time.sleep(0.1)  # the check's call is out
    say(local_store, "posted", second=1)
    got["refresh"] = shared.refresh_messages("u", "c", 9)
    check.join()
    assert len(slow.calls) == 2
    assert texts(got["refresh"]) == ["one", "posted"]


# --- across instances: a real Redis ---------------------------------------------------------

@pytest.fixture
def shared_store(redis_server):
    return SharedStore(redis_server.url)


def instance(source, store, ttl=SHARE_SECONDS, wait=5, scope="memos-a", client=None):
    return SharedReads(source, ttl=ttl, wait=wait, store=store, scope=scope,
                       client=client or (lambda: "client-a"))


def test_instances_share_one_call_through_redis(local_store, redis_server):
    say(local_store, "hi")
    slow = Counting(local_store, delay=0.3)
    # Two instances: two processes' worth of objects, two connections, one Redis.
    first = instance(slow, SharedStore(redis_server.url))
    second = instance(slow, SharedStore(redis_server.url))
    results = []
    readers = [lambda reads=reads: results.append(texts(reads.get_messages("u", "c", 9)))
               for reads in (first, second) * 10]
    run_all(*readers)
    assert results == [["hi"]] * 20 and len(slow.calls) == 1
    # ...and the answer stays shared for a second, in Redis, as JSON naming its read.
    assert texts(second.get_messages("u", "c", 9)) == ["hi"] and len(slow.calls) == 1
    client = redis.Redis.from_url(redis_server.url)
    [key] = client.keys("memos-viewer:reads:answer:*")
    assert 0 < client.pttl(key) <= 1000
    stored = json.loads(client.get(key))
    assert stored["read"] == ["u", "c", 9] and stored["messages"][0][1] == [["text", "hi"]]
    time.sleep(1.05)
    first.get_messages("u", "c", 9)
    assert len(slow.calls) == 2


def test_other_memos_accounts_never_share_answers(local_store, shared_store):
    say(local_store, "hi")
    counting = Counting(local_store)
    instance(counting, shared_store, scope="memos-a").get_messages("u", "c", 9)
    instance(counting, shared_store, scope="memos-b").get_messages("u", "c", 9)
    assert len(counting.calls) == 2


def test_an_error_is_shared_across_instances_with_its_retry_after(local_store, shared_store):
    failing = Counting(local_store, error=RateLimitedError(retry_after=7.5))
    for reads in (instance(failing, shared_store), instance(failing, shared_store)):
        with pytest.raises(RateLimitedError) as raised:
            reads.get_messages("u", "c", 9)
        assert raised.value.retry_after == 7.5
    assert len(failing.calls) == 1


@pytest.mark.parametrize("garbage", [
    b"\xff\xfe not json",
    b'{"format": 1, "read": ["u", "c", 9], "generation": 1, "messages": [["user"]]}',
    b'{"format": 1, "read": ["u", "c", 9], "generation": true, "messages": []}',
    # A time without its zone would break comparisons with the page's own times.
    b'{"format": 1, "read": ["u", "c", 9], "generation": 1, "messages": [["user", '
    b'[["text", "forged"]], "2026-03-01T10:00:00", null, false, {}, "forged", null]]}',
    b'{"format": 1, "read": ["u", "c", 9], "generation": 1, "error": {"kind": "SystemExit"}}',
    b'{"format": 2, "read": ["u", "c", 9], "generation": 1, "messages": []}',
    b"[" * 100_000,
])
def test_garbage_in_the_answer_key_is_ignored_and_replaced(local_store, shared_store, garbage,
                                                           collector_off):
    say(local_store, "mine")
    counting = Counting(local_store)
    reads = instance(counting, shared_store)
    reads.get_messages("u", "c", 9)
    [key] = shared_store.client.keys("memos-viewer:reads:answer:*")
    shared_store.client.set(key, garbage, px=60_000)
    assert texts(reads.get_messages("u", "c", 9)) == ["mine"]
    assert len(counting.calls) == 2  # read again, and the garbage replaced
    assert json.loads(shared_store.client.get(key))["read"] == ["u", "c", 9]


def test_another_conversations_answer_under_this_key_is_never_shown(local_store, shared_store):
    say(local_store, "mine")
    say(local_store, "secret", conversation="other", user="v")
    counting = Counting(local_store)
    reads = instance(counting, shared_store)
    reads.get_messages("v", "other", 9)
    reads.get_messages("u", "c", 9)
    keys = shared_store.client.keys("memos-viewer:reads:answer:*")
    values = {key: shared_store.client.get(key) for key in keys}
    mine = next(key for key, value in values.items() if b"mine" in value)
    theirs = next(key for key, value in values.items() if b"secret" in value)
    shared_store.client.set(mine, values[theirs], px=60_000)  # copied over ours
    assert texts(reads.get_messages("u", "c", 9)) == ["mine"]


def test_a_key_of_another_type_is_ignored_and_replaced(local_store, shared_store):
    say(local_store, "mine")
    counting = Counting(local_store)
    reads = instance(counting, shared_store)
    reads.get_messages("u", "c", 9)
    [key] = shared_store.client.keys("memos-viewer:reads:answer:*")
    shared_store.client.delete(key)
    shared_store.client.hset(key, "field", "value")  # WRONGTYPE for GET
    assert texts(reads.get_messages("u", "c", 9)) == ["mine"]
    assert shared_store.client.type(key) == b"string"


def test_a_lock_left_by_a_dead_instance_holds_no_reader_past_its_deadline(local_store,
                                                                          shared_store):
    say(local_store, "hi")
    counting = Counting(local_store)
    reads = instance(counting, shared_store, wait=0.3)
    lock = reads.shared._key("lock", "u", "c", 9)
    shared_store.client.set(lock, "someone-who-died", px=60_000)
    started = time.monotonic()
    with pytest.raises(UpstreamTimeoutError):
        reads.get_messages("u", "c", 9)
    assert time.monotonic() - started < 0.6 and counting.calls == []
    shared_store.client.pexpire(lock, 1)  # as it would after its own TTL
    time.sleep(0.01)
    assert texts(reads.get_messages("u", "c", 9)) == ["hi"]


def test_a_refresh_turn_is_shared_across_instances(local_store, shared_store):
    say(local_store, "one")
    counting = Counting(local_store)
    first, second = instance(counting, shared_store), instance(counting, shared_store)
    turn = time.monotonic()
    first.refresh_messages("u", "c", 9)
    say(local_store, "two", second=1)
    assert texts(second.refresh_messages("u", "c", 9)) == ["one", "two"]
    assert time.monotonic() - turn >= 0.95  # the same client's turn, on another instance
    assert len(counting.calls) == 2


def test_redis_stopped_mid_test_keeps_reads_working_and_says_so_once(local_store, redis_server,
                                                                     store_log):
    say(local_store, "hi")
    counting = Counting(local_store)
    store = SharedStore(redis_server.url)
    reads = instance(counting, store, ttl=0.05)
    assert texts(reads.get_messages("u", "c", 9)) == ["hi"]
    redis_server.stop()
    for _ in range(20):
        assert texts(reads.get_messages("u", "c", 9)) == ["hi"]
        time.sleep(0.06)
    warnings = [r for r in store_log.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "unreachable" in warnings[0].getMessage()
    redis_server.start()
    deadline = time.monotonic() + 10
    while not store.reachable or store_log.text.count("answers again") == 0:
        reads.get_messages("u", "c", 9)
        assert time.monotonic() < deadline, "the store was never used again"
        time.sleep(0.1)
    # The restarted Redis (empty) counts this instance's calls again.
    assert redis.Redis.from_url(redis_server.url).get("memos-viewer:reads:generation")


def test_a_hung_redis_costs_one_read_half_a_second_not_every_read(local_store, redis_server):
    say(local_store, "hi")
    counting = Counting(local_store)
    reads = instance(counting, SharedStore(redis_server.url), ttl=0.01)
    reads.get_messages("u", "c", 9)
    redis_server.pause()
    try:
        durations = []
        began = time.monotonic()
        for _ in range(10):
            started = time.monotonic()
            assert texts(reads.get_messages("u", "c", 9)) == ["hi"]
            durations.append(time.monotonic() - started)
            time.sleep(0.02)
        took = time.monotonic() - began
    finally:
        redis_server.resume()
    assert durations[0] < 0.7  # the store's timeout, once
    # Then this process's own state, not the timeout again; but for the store's own retry,
    # 1 s after it failed, which a slow machine reaches within the ten reads.
    waited = [duration for duration in durations[1:] if duration >= 0.25]
    assert len(waited) <= (took > 1), (durations, took)


def test_every_memos_error_can_be_copied_for_each_reader():
    """Shared reads raise a copy of a kept error per reader (copy.copy calls the class with
    its args): a subclass whose constructor takes other arguments would turn a page's clear
    error into a TypeError 500, as BusyError once did."""
    import copy

    import viewer.bulkhead  # noqa: F401 (BusyError: a subclass defined outside memos_api)
    from memos_api import MemOSError

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    kinds = [MemOSError, *subclasses(MemOSError)]
    assert any(kind.__name__ == "BusyError" for kind in kinds)
    for kind in kinds:
        error = kind()
        copied = copy.copy(error)
        assert type(copied) is kind and copied is not error
        assert str(copied) == str(error) and vars(copied) == vars(error)
