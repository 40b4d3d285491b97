"""The embedded store: what it returns, what it refuses, and that threads can share it."""

from __future__ import annotations

import re
import sqlite3
import threading
from datetime import datetime, timedelta

import pytest

from memos_api import BEIJING, InvalidRequestError, Message, message_from_api, parse_timestamp
from memos_api.local import DEMO_CONVERSATION_ID, DEMO_USER_ID, LocalStore
from memos_api.local.demo import DEMO_MESSAGES

USER, CHAT = "alice", "chat-1"
TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")


def numbered(count: int, start: int = 0) -> list[dict]:
    return [{"role": "user" if i % 2 == 0 else "assistant", "content": f"message {i}"}
            for i in range(start, start + count)]


def contents(items) -> list[str]:
    return [item["content"] for item in items]


def test_get_returns_the_newest_messages_oldest_first(local_store):
    local_store.add_messages(USER, CHAT, numbered(10))
    items = local_store.get_message_dicts(USER, CHAT, 3)
    assert contents(items) == ["message 7", "message 8", "message 9"]


def test_default_limit_is_six(local_store):
    local_store.add_messages(USER, CHAT, numbered(10))
    assert contents(local_store.get_message_dicts(USER, CHAT)) == [
        f"message {i}" for i in range(4, 10)]


def test_limit_is_clamped_to_one_and_max_limit(tmp_path):
    store = LocalStore(tmp_path / "db.sqlite3", max_limit=4)
    store.add_messages(USER, CHAT, numbered(10))
    assert contents(store.get_message_dicts(USER, CHAT, 0)) == ["message 9"]
    assert contents(store.get_message_dicts(USER, CHAT, -5)) == ["message 9"]
    assert len(store.get_message_dicts(USER, CHAT, 10_000)) == 4
    assert len(store.get_message_dicts(USER, CHAT)) == 4  # the default never exceeds the cap


@pytest.mark.parametrize("limit", [True, 2.5, "3"])
def test_non_integer_limit_is_refused(local_store, limit):
    with pytest.raises(InvalidRequestError) as caught:
        local_store.get_message_dicts(USER, CHAT, limit)
    assert caught.value.code == 40000


def test_messages_round_trip_with_times_and_extra_keys(local_store):
    parts = [{"type": "text", "text": "see file"},
             {"type": "file", "file": {"filename": "notes.txt"}}]
    tool_calls = [{"id": "call_1", "type": "function",
                   "function": {"name": "lookup", "arguments": "{}"}}]
    local_store.add_messages(USER, CHAT, [
        {"role": "user", "content": parts, "chat_time": "2026-01-02 03:04:05"},
        {"role": "assistant", "content": "", "tool_calls": tool_calls},
        {"role": "tool", "content": "42", "tool_call_id": "call_1", "chat_time": None},
    ])
    first, second, third = local_store.get_message_dicts(USER, CHAT)
    assert first["content"] == parts and first["chat_time"] == "2026-01-02 03:04:05"
    assert second["tool_calls"] == tool_calls and second["chat_time"] is None
    assert third["tool_call_id"] == "call_1" and third["role"] == "tool"
    created = parse_timestamp(first["create_time"], BEIJING)
    assert TIME.match(first["create_time"]) and first["update_time"] == first["create_time"]
    assert abs(datetime.now(BEIJING) - created) < timedelta(minutes=1)


def test_get_messages_matches_the_http_parsing(local_store):
    local_store.add_messages(USER, CHAT, [
        {"role": "user", "content": "hi", "chat_time": "2026-01-02 03:04:05"},
        {"role": "assistant", "content": [{"type": "text", "text": "hello"}]},
    ])
    messages = local_store.get_messages(USER, CHAT)
    items = local_store.get_message_dicts(USER, CHAT)
    assert messages == [message_from_api(item, BEIJING) for item in items]
    assert all(isinstance(message, Message) for message in messages)
    assert messages[0].created_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=BEIJING)
    assert messages[1].created_at is not None  # falls back to create_time
    assert messages[1].text == "hello"


def test_unknown_conversation_is_empty(local_store):
    local_store.add_messages(USER, CHAT, numbered(2))
    assert local_store.get_message_dicts(USER, "other") == []
    assert local_store.get_messages("nobody", CHAT) == []
    assert local_store.count("nobody", CHAT) == 0


def test_add_returns_a_completed_result(local_store):
    result = local_store.add_messages(USER, CHAT, numbered(1), agent_id=None, async_mode=True)
    assert result.success is True and result.status == "completed"
    assert re.fullmatch(r"[0-9a-f]{32}", result.task_id)


def test_ids_of_exactly_100_characters_are_accepted(local_store):
    local_store.add_messages("u" * 100, "c" * 100, numbered(1))
    assert local_store.count("u" * 100, "c" * 100) == 1


GOOD = {"role": "user", "content": "fine"}


@pytest.mark.parametrize("user_id, conversation_id, messages, code, says", [
    ("", CHAT, [GOOD], 40002, "user_id"),
    (None, CHAT, [GOOD], 40002, "user_id"),
    (USER, "   ", [GOOD], 40002, "conversation_id"),
    (42, CHAT, [GOOD], 40000, "user_id"),
    ("u" * 101, CHAT, [GOOD], 40010, "user_id"),
    (USER, "c" * 101, [GOOD], 40011, "conversation_id"),
    (USER, CHAT, [], 40002, "messages"),
    (USER, CHAT, None, 40002, "messages"),
    (USER, CHAT, {"role": "user"}, 40000, "messages"),
    (USER, CHAT, [GOOD, "text"], 40000, "messages[1]"),
    (USER, CHAT, [GOOD, {"content": "x"}], 40000, "messages[1].role"),
    (USER, CHAT, [GOOD, {"role": "", "content": "x"}], 40000, "messages[1].role"),
    (USER, CHAT, [GOOD, {"role": "user"}], 40000, "messages[1].content"),
    (USER, CHAT, [GOOD, GOOD, {"role": "user", "content": 7}], 40000, "messages[2].content"),
    (USER, CHAT, [{"role": "user", "content": "x", "chat_time": 17}], 40000,
     "messages[0].chat_time"),
    (USER, CHAT, [GOOD, {"role": "user", "content": [float("nan")]}], 40000, "messages[1]"),
])
def test_invalid_adds_insert_nothing(local_store, user_id, conversation_id, messages, code,
                                     says):
    with pytest.raises(InvalidRequestError) as caught:
        local_store.add_messages(user_id, conversation_id, messages)
    assert caught.value.code == code
    assert says in str(caught.value)
    assert local_store.count(USER, CHAT) == 0


def test_get_validates_ids(local_store):
    with pytest.raises(InvalidRequestError) as caught:
        local_store.get_message_dicts("u" * 101, CHAT)
    assert caught.value.code == 40010


def test_seed_demo_is_idempotent(tmp_path):
    store = LocalStore(tmp_path / "db.sqlite3")
    assert store.seed_demo() is True
    assert store.seed_demo() is False
    assert LocalStore(tmp_path / "db.sqlite3").seed_demo() is False  # also across instances
    assert store.count(DEMO_USER_ID, DEMO_CONVERSATION_ID) == len(DEMO_MESSAGES)
    items = store.get_message_dicts(DEMO_USER_ID, DEMO_CONVERSATION_ID, 100)
    assert [item["chat_time"] for item in items] == [m["chat_time"] for m in DEMO_MESSAGES]


def test_demo_conversation_has_what_the_viewer_renders():
    assert DEMO_MESSAGES[0]["role"] == "system"
    times = [parse_timestamp(message["chat_time"]) for message in DEMO_MESSAGES]
    assert times == sorted(times) and all(time.year == 2026 for time in times)
    assert len({time.date() for time in times}) >= 2
    texts = [m["content"] for m in DEMO_MESSAGES if isinstance(m["content"], str)]
    assert any("```python" in text for text in texts)
    assert any("|---" in text for text in texts)
    assert any(re.search(r"^(- |1\. )", text, re.MULTILINE) for text in texts)
    assert {m["role"] for m in DEMO_MESSAGES[1:]} == {"user", "assistant"}


def test_file_is_created_in_wal_mode(tmp_path):
    path = tmp_path / "nested" / "dir" / "db.sqlite3"
    LocalStore(path)
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_threads_can_share_a_store(tmp_path):
    path = tmp_path / "db.sqlite3"
    stores = [LocalStore(path), LocalStore(path)]  # two instances: real lock contention
    errors: list[BaseException] = []

    def writer(number: int) -> None:
        store = stores[number % 2]
        try:
            for i in range(25):
                store.add_messages(USER, CHAT, [{"role": "user", "content": f"{number}:{i}"}])
                store.get_message_dicts(USER, CHAT, 10)
        except BaseException as error:  # surfaced by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert stores[0].count(USER, CHAT) == 200
    items = stores[1].get_message_dicts(USER, CHAT, 1000)
    for number in range(8):  # each thread's messages kept its own order
        mine = [item["content"] for item in items if item["content"].startswith(f"{number}:")]
        assert mine == [f"{number}:{i}" for i in range(25)]
