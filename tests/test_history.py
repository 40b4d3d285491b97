"""The paging logic: newest N, earlier pages anchored on what is shown, and newer ones."""

from datetime import datetime

import pytest

from memos_api import Message
from viewer import history
from viewer.access import Access
from viewer.history import Boundary, History
from viewer.links import Reader
from viewer.sharing import SharedReads


def reader(conversation="c"):
    return Reader(Access("u", conversation, {"user_id": "u", "conversation_id": conversation}))


def latest(store, count, cap, conversation="c"):
    return History(store, count, cap).latest(reader(conversation))


def older(store, page, count, cap, conversation="c"):
    return History(store, count, cap).older(reader(conversation), page.anchor, page.depth,
                                            page.shown)


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
        page = older(store, page, count, cap, conversation)
        seen = texts(page) + seen
    raise AssertionError("never reached the start")


def test_latest_shows_newest_oldest_first(local_store):
    add(local_store, 10)
    page = latest(local_store, 4, 50)
    assert texts(page) == [f"message {n}" for n in range(6, 10)]
    assert page.boundary is Boundary.MORE
    assert page.depth == 4


def test_short_conversation_reaches_start(local_store):
    add(local_store, 3)
    page = latest(local_store, 6, 50)
    assert texts(page) == ["message 0", "message 1", "message 2"]
    assert page.boundary is Boundary.START


def test_exact_page_size_is_start_not_more(local_store):
    add(local_store, 6)
    assert latest(local_store, 6, 50).boundary is Boundary.START


def test_empty_conversation(local_store):
    page = latest(local_store, 6, 50, "nothing")
    assert page.messages == [] and page.boundary is Boundary.START and page.anchor == ""


def test_walking_back_shows_every_message_once(local_store):
    add(local_store, 23)
    page = latest(local_store, 5, 50)
    seen, boundary = walk_back(local_store, page, 5, 50)
    assert seen == [f"message {n}" for n in range(23)]
    assert boundary is Boundary.START


def test_growth_between_loads_makes_no_gap_or_duplicate(local_store):
    add(local_store, 20)
    page = latest(local_store, 6, 50)
    add(local_store, 9, start=20)  # more than a page arrives upstream meanwhile
    earlier = older(local_store, page, 6, 50)
    assert texts(earlier) == [f"message {n}" for n in range(8, 14)]
    seen, _ = walk_back(local_store, earlier, 6, 50)
    assert seen == [f"message {n}" for n in range(14)]


def test_identical_messages_are_told_apart_by_position(local_store):
    local_store.add_messages("u", "c", [{"role": "user", "content": "same"}] * 9)
    page = latest(local_store, 3, 50)
    seen, boundary = walk_back(local_store, page, 3, 50)
    assert len(seen) == 9 and boundary is Boundary.START


def test_cap_is_reported_honestly(local_store):
    add(local_store, 30)
    page = latest(local_store, 6, 10)
    seen, boundary = walk_back(local_store, page, 6, 10)
    assert seen == [f"message {n}" for n in range(20, 30)]
    assert boundary is Boundary.CAPPED


def test_growth_past_the_cap_is_a_conversation_change(local_store):
    add(local_store, 12)
    page = latest(local_store, 6, 10)
    add(local_store, 10, start=12)
    with pytest.raises(history.ConversationChanged):
        older(local_store, page, 6, 10)


def test_upstream_limit_never_exceeds_cap(local_store):
    asked = []

    class Recording:
        def get_messages(self, user_id, conversation_id, limit=None):
            asked.append(limit)
            return local_store.get_messages(user_id, conversation_id, limit)

    add(local_store, 40)
    page = latest(Recording(), 6, 12)
    add(local_store, 30, start=40)
    with pytest.raises(history.ConversationChanged):
        older(Recording(), page, 6, 12)
    assert asked and max(asked) <= 12 and len(asked) <= 1 + history.MAX_FETCHES


# Live checks: what arrived after the newest messages on screen


def live_page(store, count=6, cap=50, live=15):
    return History(store, count, cap, live).latest(reader())


def check(store, page_or_fresh, count=6, cap=50):
    after, since = page_or_fresh.newer
    moment = None if since is None else datetime.fromisoformat(since)
    return History(store, count, cap, 15).newer(reader(), after, moment)


def test_a_check_with_nothing_new_finds_nothing(local_store):
    add(local_store, 10)
    fresh = check(local_store, live_page(local_store))
    assert fresh.messages == [] and not fresh.gap


def test_new_messages_come_in_order_and_the_next_check_starts_after_them(local_store):
    add(local_store, 10)
    page = live_page(local_store)
    add(local_store, 2, start=10)
    fresh = check(local_store, page)
    assert texts(fresh) == ["message 10", "message 11"] and not fresh.gap
    assert fresh.seam == page.messages[-1].created_at  # the newest shown: separators
    add(local_store, 1, start=12)
    assert texts(check(local_store, fresh)) == ["message 12"]


def test_more_than_a_page_of_new_messages_is_found_with_one_wider_call(local_store):
    asked = []

    class Recording:
        def get_messages(self, user_id, conversation_id, limit=None):
            asked.append(limit)
            return local_store.get_messages(user_id, conversation_id, limit)

    add(local_store, 10)
    page = live_page(local_store, cap=40)
    add(local_store, 25, start=10)
    fresh = check(Recording(), page, cap=40)
    assert texts(fresh) == [f"message {n}" for n in range(10, 35)] and not fresh.gap
    assert asked == [6 + 3, 40]


def test_more_than_the_cap_is_a_gap_shown_as_such(local_store):
    add(local_store, 10)
    page = live_page(local_store, cap=20)
    add(local_store, 30, start=10)
    fresh = check(local_store, page, cap=20)
    assert fresh.gap and texts(fresh) == [f"message {n}" for n in range(20, 40)]


@pytest.mark.parametrize("arrived", [18, 19])
def test_new_messages_that_push_the_anchor_partly_out_are_found_without_a_gap(local_store,
                                                                             arrived):
    """Cap 20: beside 18 or 19 new messages the widest answer holds only 2 or 1 of the three
    anchored ones. Every new message is in it, after those: no gap, and no change."""
    add(local_store, 10)
    page = live_page(local_store, cap=20)
    add(local_store, arrived, start=10)
    fresh = check(local_store, page, cap=20)
    assert texts(fresh) == [f"message {n}" for n in range(10, 10 + arrived)]
    assert not fresh.gap and fresh.seam == page.messages[-1].created_at


def test_an_edited_newest_message_is_a_change_not_a_gap(local_store):
    add(local_store, 10)
    page = live_page(local_store)

    class Edited:
        def get_messages(self, user_id, conversation_id, limit=None):
            found = local_store.get_messages(user_id, conversation_id, limit)
            return found[:-1] + [Message("user", (), found[-1].created_at)]

    with pytest.raises(history.ConversationChanged):
        check(Edited(), page)


def test_an_empty_conversation_finds_its_first_messages(local_store):
    page = live_page(local_store)
    assert page.messages == [] and page.newer == ("0", None)
    add(local_store, 3)
    assert texts(check(local_store, page)) == ["message 0", "message 1", "message 2"]


@pytest.mark.parametrize("arrived, cap, gap", [(8, 50, False), (30, 20, True)])
def test_an_empty_conversation_gets_all_its_first_messages_or_a_gap(local_store, arrived,
                                                                     cap, gap):
    """More than a page arrived before the first check of an empty page: all of them (one
    wider call), or the newest ``cap`` and a gap when even that answer is full."""
    page = live_page(local_store, cap=cap)
    add(local_store, arrived)
    fresh = check(local_store, page, cap=cap)
    assert texts(fresh) == [f"message {n}" for n in range(max(0, arrived - cap), arrived)]
    assert fresh.gap is gap and fresh.first


def test_a_refresh_reads_afresh_where_a_check_reuses_a_shared_answer(local_store):
    """Checks share an answer for a while (viewer/sharing.py); a check the host page asked for
    (its chat just posted) reads MemOS again, and so finds what was posted."""
    shared = SharedReads(local_store, ttl=60, wait=1)
    live = History(local_store, 6, 50, 15, shared)
    add(local_store, 10)
    page = live.latest(reader())
    after, since = page.newer
    moment = datetime.fromisoformat(since)
    assert live.newer(reader(), after, moment).messages == []
    add(local_store, 1, start=10)
    assert live.newer(reader(), after, moment).messages == []  # the shared answer
    assert texts(live.newer(reader(), after, moment, refresh=True)) == ["message 10"]
    assert shared.calls == 2  # the shared answer's call, and the refresh's own


def test_pages_with_live_updates_off_make_no_check(local_store):
    add(local_store, 3)
    assert History(local_store, 6, 50, 0).latest(reader()).newer is None
    off = Reader(reader().access, live_off=True)
    assert History(local_store, 6, 50, 15).latest(off).newer is None
