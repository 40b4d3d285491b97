"""Shared reads for live checks: one call per conversation and limit, kept briefly, bounded."""

from __future__ import annotations

import threading
import time

import pytest

from memos_api import UpstreamUnavailableError
from viewer import sharing
from viewer.sharing import SharedReads


class Counting:
    """A real store, counting reads and optionally slow or failing."""

    def __init__(self, store, delay: float = 0.0, error: Exception | None = None) -> None:
        self.store, self.delay, self.error, self.calls = store, delay, error, []

    def get_messages(self, user_id, conversation_id, limit=None):
        self.calls.append((user_id, conversation_id, limit))
        time.sleep(self.delay)
        if self.error:
            raise self.error
        return self.store.get_messages(user_id, conversation_id, limit)


@pytest.fixture
def source(local_store):
    local_store.add_messages("u", "c", [{"role": "user", "content": "hi"}])
    return Counting(local_store)


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
    slow = Counting(local_store, delay=0.3)
    shared = SharedReads(slow, ttl=0.01, wait=5)
    results = []
    threads = [threading.Thread(target=lambda: results.append(shared.get_messages("u", "c", 9)))
               for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
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

    threads = [threading.Thread(target=read) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(failing.calls) == 1 and len(raised) == 5
    assert len({id(error) for error in raised}) == 5 and {str(e) for e in raised} == {"down"}


def test_a_reader_waits_no_longer_than_its_deadline(local_store):
    from memos_api import UpstreamTimeoutError

    slow = Counting(local_store, delay=1.0)
    shared = SharedReads(slow, ttl=60, wait=0.1)
    owner = threading.Thread(target=shared.get_messages, args=("u", "c", 9))
    owner.start()
    time.sleep(0.05)
    with pytest.raises(UpstreamTimeoutError):
        shared.get_messages("u", "c", 9)
    owner.join()


def test_it_remembers_a_bounded_number_of_conversations(source, monkeypatch):
    monkeypatch.setattr(sharing, "MAX_ENTRIES", 8)
    shared = SharedReads(source, ttl=60, wait=5)
    for number in range(50):
        shared.get_messages("u", f"c{number}", 9)
    assert len(shared._reads) <= 9


def test_expired_answers_are_not_kept_until_the_bound(source):
    shared = SharedReads(source, ttl=0.05, wait=5)
    for number in range(5):
        shared.get_messages("u", f"c{number}", 9)
    time.sleep(0.1)
    shared.get_messages("u", "c-new", 9)  # a new call: the expired ones go
    assert list(shared._reads) == [("u", "c-new", 9)]
