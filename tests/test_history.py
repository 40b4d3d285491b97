"""The paging logic: newest N, then earlier pages anchored on what is shown."""

import pytest

from viewer import history
from viewer.history import Boundary


def add(store, count, start=0, conversation="c"):
    store.add_messages("u", conversation, [
        {"role": "user" if n % 2 == 0 else "assistant", "content": f"message {n}",
         "chat_time": f"2026-01-01 10:{n // 60:02d}:{n % 60:02d}"}
        for n in range(start, start + count)])


def texts(page):
    return [m.text for m in page.messages]


def walk_back(store, page, count, cap, conversation="c"):
    """Load earlier pages until the boundary is not MORE; return all texts, oldest first."""
    seen = texts(page)
    for _ in range(100):
        if page.boundary is not Boundary.MORE:
            return seen, page.boundary
        page = history.older(store, "u", conversation, page.anchor, page.depth, count, cap)
        seen = texts(page) + seen
    raise AssertionError("never reached the start")


def test_latest_shows_newest_oldest_first(local_store):
    add(local_store, 10)
    page = history.latest(local_store, "u", "c", 4, 50)
    assert texts(page) == [f"message {n}" for n in range(6, 10)]
    assert page.boundary is Boundary.MORE
    assert page.depth == 4


def test_short_conversation_reaches_start(local_store):
    add(local_store, 3)
    page = history.latest(local_store, "u", "c", 6, 50)
    assert texts(page) == ["message 0", "message 1", "message 2"]
    assert page.boundary is Boundary.START


def test_exact_page_size_is_start_not_more(local_store):
    add(local_store, 6)
    assert history.latest(local_store, "u", "c", 6, 50).boundary is Boundary.START


def test_empty_conversation(local_store):
    page = history.latest(local_store, "u", "nothing", 6, 50)
    assert page.messages == [] and page.boundary is Boundary.START and page.anchor == ""


def test_walking_back_shows_every_message_once(local_store):
    add(local_store, 23)
    page = history.latest(local_store, "u", "c", 5, 50)
    seen, boundary = walk_back(local_store, page, 5, 50)
    assert seen == [f"message {n}" for n in range(23)]
    assert boundary is Boundary.START


def test_growth_between_loads_makes_no_gap_or_duplicate(local_store):
    add(local_store, 20)
    page = history.latest(local_store, "u", "c", 6, 50)
    add(local_store, 9, start=20)  # more than a page arrives upstream meanwhile
    earlier = history.older(local_store, "u", "c", page.anchor, page.depth, 6, 50)
    assert texts(earlier) == [f"message {n}" for n in range(8, 14)]
    seen, _ = walk_back(local_store, earlier, 6, 50)
    assert seen == [f"message {n}" for n in range(14)]


def test_identical_messages_are_told_apart_by_position(local_store):
    local_store.add_messages("u", "c", [{"role": "user", "content": "same"}] * 9)
    page = history.latest(local_store, "u", "c", 3, 50)
    seen, boundary = walk_back(local_store, page, 3, 50)
    assert len(seen) == 9 and boundary is Boundary.START


def test_cap_is_reported_honestly(local_store):
    add(local_store, 30)
    page = history.latest(local_store, "u", "c", 6, 10)
    seen, boundary = walk_back(local_store, page, 6, 10)
    assert seen == [f"message {n}" for n in range(20, 30)]
    assert boundary is Boundary.CAPPED


def test_growth_past_the_cap_is_a_conversation_change(local_store):
    add(local_store, 12)
    page = history.latest(local_store, "u", "c", 6, 10)
    add(local_store, 10, start=12)
    with pytest.raises(history.ConversationChanged):
        history.older(local_store, "u", "c", page.anchor, page.depth, 6, 10)


def test_upstream_limit_never_exceeds_cap(local_store):
    asked = []

    class Recording:
        def get_messages(self, user_id, conversation_id, limit=None):
            asked.append(limit)
            return local_store.get_messages(user_id, conversation_id, limit)

    add(local_store, 40)
    page = history.latest(Recording(), "u", "c", 6, 12)
    add(local_store, 30, start=40)
    with pytest.raises(history.ConversationChanged):
        history.older(Recording(), "u", "c", page.anchor, page.depth, 6, 12)
    assert asked and max(asked) <= 12 and len(asked) <= 1 + history.MAX_FETCHES
