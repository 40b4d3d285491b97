"""The embedded store's memories: import, paging, trigram search, and hostile queries."""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime, UTC

import pytest
from reading import (
    READING_CONVERSATION_ID,
    READING_MEMORIES,
    READING_MESSAGES,
    READING_USER_ID,
    seed,
)

from memos_api import InvalidRequestError, memory_page_from_api, MemoryPage
from memos_api.local import DEMO_CONVERSATION_ID, DEMO_USER_ID, LocalStore
from memos_api.local.demo import DEMO_MEMORIES, DEMO_MESSAGES
from memos_api.local.memory_search import MAX_QUERY_CHARS, MAX_SCAN_ROWS

USER, CHAT, OTHER = "alice", "chat-1", "chat-2"


def fact(value: str, key: str = "", **fields) -> dict:
    return {"memory_key": key, "memory_value": value, **fields}


def keys(items) -> list[str]:
    return [item["memory_key"] for item in items]


def values(items) -> list[str]:
    return [item["memory_value"] for item in items]


def found(store, query, **options) -> list[str]:
    data = store.search_memory_data(query, USER, **options)
    return values(data["memory_detail_list"])


@pytest.fixture
def store(local_store):
    local_store.add_memories(USER, [
        fact("The bank exports CSV in cp1252.", "Bank export", tags=["csv"],
             update_time="2026-03-09 20:00:00"),
        fact("Prefers Decimal for MONEY.", "Money", update_time="2026-03-09 21:00:00"),
        fact("用户的银行导出文件使用 cp1252 编码。", "银行导出", update_time="2026-03-09 19:00:00"),
        fact("A 50% discount on trains_tickets.", "Discount", conversation_id=OTHER,
             update_time="2026-03-09 18:00:00"),
        {"preference": "Concise answers with code in fenced blocks.",
         "preference_type": "explicit_preference", "reasoning": "Asked for it."},
    ], conversation_id=CHAT)
    return local_store


# --- import ---------------------------------------------------------------------------------


def test_memories_and_preferences_are_told_apart_and_completed(local_store):
    stored = local_store.add_memories(USER, [
        fact("Likes walking."), {"preference": "Early starts."},
        {"preference_type": "implicit_preference", "preference": "Quiet hotels."}],
        conversation_id=CHAT)
    assert stored == 3
    assert local_store.count_memories(USER) == {"memory": 1, "preference": 2}
    data = local_store.get_memory_data(USER)
    [memory] = data["memory_detail_list"]
    assert memory["memory_value"] == "Likes walking." and memory["memory_type"] == "LongTermMemory"
    assert memory["conversation_id"] == CHAT and memory["status"] == "activated"
    assert len(memory["id"]) == 32 and memory["tags"] == []
    now = datetime.now(UTC).timestamp() * 1000
    assert abs(memory["create_time"] - now) < 60_000
    assert memory["update_time"] == memory["create_time"]
    assert sorted(p["preference"] for p in data["preference_detail_list"]) == [
        "Early starts.", "Quiet hotels."]
    assert {p["preference_type"] for p in data["preference_detail_list"]} == {
        "explicit_preference", "implicit_preference"}


def test_items_keep_their_fields_and_times_become_epoch_milliseconds(local_store):
    local_store.add_memories(USER, [fact(
        "v", "k", id="m-1", memory_type="UserMemory", confidence=0.5, tags=["a"],
        conversation_id=OTHER, create_time="2026-03-09 20:15:00", update_time=1773058560000,
        sources=[{"role": "user", "content": "hi", "chat_time": "2026-03-09 20:14:00"}],
        info={"scene": "x"}, relativity=0.9, user_id="someone-else")], conversation_id=CHAT)
    [item] = local_store.get_memory_data(USER)["memory_detail_list"]
    assert item == {
        "id": "m-1", "memory_key": "k", "memory_value": "v", "memory_type": "UserMemory",
        "confidence": 0.5, "tags": ["a"], "conversation_id": OTHER, "status": "activated",
        "create_time": 1773058500000, "update_time": 1773058560000,
        "sources": [{"role": "user", "content": "hi", "chat_time": "2026-03-09 20:14:00"}],
        "info": {"scene": "x"}}  # relativity is search's; the user is the store's


GOOD = fact("fine")


@pytest.mark.parametrize("items, code, says", [
    ([], 40002, "memories"),
    (None, 40002, "memories"),
    ({"memory_value": "x"}, 40000, "memories must be a list"),
    ([GOOD, "text"], 40000, "memories[1] is not a JSON object"),
    ([GOOD, {"memory_key": "k"}], 40000, 'memories[1] has no "memory_value" string'),
    ([fact("   ")], 40000, '"memory_value"'),
    ([{"preference": ""}], 40000, 'memories[0] has no "preference" string'),
    ([{"preference_type": "explicit_preference"}], 40000, '"preference"'),
    ([fact("x", memory_key=5)], 40000, '"memory_key" that is not a string'),
    ([{"preference": "p", "reasoning": ["r"]}], 40000, '"reasoning" that is not a string'),
    ([fact("x", id="")], 40000, '"id"'),
    ([fact("x", id="i" * 101)], 40000, '"id"'),
    ([fact("x", id=7)], 40000, '"id"'),
    ([fact("x", id="\ud800")], 40000, '"id"'),
    ([fact("x", conversation_id="c" * 101)], 40000, '"conversation_id"'),
    ([fact("x", confidence=1.5)], 40000, '"confidence"'),
    ([fact("x", confidence=True)], 40000, '"confidence"'),
    ([fact("x", tags="solo")], 40000, '"tags"'),
    ([fact("x", tags=["a", 1])], 40000, '"tags"'),
    ([fact("x", create_time="someday")], 40000, '"create_time" that is not a time'),
    ([fact("x", update_time=-1)], 40000, '"update_time"'),
    ([fact("x", sources="the chat")], 40000, '"sources"'),
    ([fact("x", sources=["the chat"])], 40000, '"sources"'),
    ([fact("x", info=float("nan"))], 40000, "cannot be stored as JSON"),
    ([fact("x", id="a"), fact("y", id="a")], 40000, 'memories[1] repeats the "id"'),
])
def test_invalid_items_store_nothing(local_store, items, code, says):
    with pytest.raises(InvalidRequestError) as caught:
        local_store.add_memories(USER, items)
    assert caught.value.code == code and says in str(caught.value)
    assert local_store.count_memories(USER) == {"memory": 0, "preference": 0}


@pytest.mark.parametrize("user_id, conversation_id, code", [
    ("", None, 40002), ("u" * 101, None, 40010), (USER, "c" * 101, 40011), (5, None, 40000),
    ("\udfff", None, 40000),
])
def test_ids_are_checked(local_store, user_id, conversation_id, code):
    with pytest.raises(InvalidRequestError) as caught:
        local_store.add_memories(user_id, [GOOD], conversation_id=conversation_id)
    assert caught.value.code == code


def test_an_existing_id_is_replaced_and_searched_anew(local_store):
    local_store.add_memories(USER, [fact("Stays in Chiado.", id="hotel")])
    local_store.add_memories(USER, [fact("Stays in Alfama.", id="hotel")])
    assert values(local_store.get_memory_data(USER)["memory_detail_list"]) == [
        "Stays in Alfama."]
    assert found(local_store, "alfama") == ["Stays in Alfama."]
    assert found(local_store, "chiado") == []
    local_store.add_memories("bob", [fact("Bob's own.", id="hotel")])  # ids are per user
    assert local_store.count_memories(USER)["memory"] == 1


def test_text_with_lone_surrogates_is_stored_and_searched(local_store):
    local_store.add_memories(USER, [fact("broken \udcff text", "k\ud800")])
    [item] = local_store.get_memory_data(USER)["memory_detail_list"]
    assert item["memory_value"] == "broken \udcff text"  # as given; the client makes it "?"
    assert found(local_store, "broken") == ["broken \udcff text"]
    # A lone surrogate reads as "?" on both sides, as the client shows it.
    assert found(local_store, "\ud800") == ["broken \udcff text"]


# --- paging ---------------------------------------------------------------------------------


def test_pages_are_newest_first_per_kind(local_store):
    local_store.add_memories(USER, [
        fact(f"m{n}", update_time=f"2026-03-0{n} 10:00:00", create_time="2026-03-01 09:00:00")
        for n in range(1, 8)] + [
        {"preference": f"p{n}", "update_time": f"2026-03-0{n} 10:00:00"} for n in range(1, 4)])
    first = local_store.get_memory_data(USER, 1, 3)
    assert values(first["memory_detail_list"]) == ["m7", "m6", "m5"]
    assert [p["preference"] for p in first["preference_detail_list"]] == ["p3", "p2", "p1"]
    assert (first["total"], first["size"], first["current"], first["pages"]) == (7, 3, 1, 3)
    third = local_store.get_memory_data(USER, 3, 3)
    assert values(third["memory_detail_list"]) == ["m1"] and third["preference_detail_list"] == []
    fourth = local_store.get_memory_data(USER, 4, 3)
    assert fourth["memory_detail_list"] == [] and fourth["current"] == 4
    assert local_store.get_memory_data(USER, 10**9, 50)["memory_detail_list"] == []
    assert first["tool_memory_detail_list"] == [] and first["skill_detail_list"] == []


def test_ties_in_update_time_fall_back_to_creation_then_insertion(local_store):
    same = "2026-03-05 10:00:00"
    local_store.add_memories(USER, [
        fact("older", update_time=same, create_time="2026-03-01 10:00:00"),
        fact("newer", update_time=same, create_time="2026-03-02 10:00:00"),
        fact("first in", update_time=same, create_time="2026-03-01 10:00:00")])
    assert values(local_store.get_memory_data(USER)["memory_detail_list"]) == [
        "newer", "first in", "older"]


def test_preferences_can_be_left_out(store):
    data = store.get_memory_data(USER, include_preference=False)
    assert data["preference_detail_list"] == [] and data["total"] == 4


def test_preferences_alone_set_the_total(local_store):
    local_store.add_memories(USER, [{"preference": f"p{n}"} for n in range(12)])
    data = local_store.get_memory_data(USER, 1, 5)
    assert (data["total"], data["pages"], len(data["preference_detail_list"])) == (12, 3, 5)


def test_an_unknown_user_has_an_empty_page(store):
    data = store.get_memory_data("nobody")
    assert data["memory_detail_list"] == [] and (data["total"], data["pages"]) == (0, 0)


def test_users_do_not_see_each_other(store):
    store.add_memories("bob", [fact("Bob's secret CSV.")])
    assert "Bob's secret CSV." not in values(store.get_memory_data(USER)["memory_detail_list"])
    assert "Bob's secret CSV." not in found(store, "secret")
    assert found(store, "csv") == ["The bank exports CSV in cp1252."]


@pytest.mark.parametrize("options, says", [
    ({"size": 51}, "size must be from 1 to 50"),
    ({"size": 0}, "size"),
    ({"size": 2.0}, "size must be an integer"),
    ({"size": "10"}, "size must be an integer"),
    ({"page": 0}, "page"),
    ({"page": True}, "page"),
    ({"include_preference": "yes"}, "include_preference must be true or false"),
    ({"include_tool_memory": 1}, "include_tool_memory"),
    ({"filter": {"and": []}}, "filter is not supported"),
    ({"filter": "x"}, "filter must be an object"),
])
def test_bad_get_parameters_are_refused(store, options, says):
    with pytest.raises(InvalidRequestError) as caught:
        store.get_memory_data(USER, **options)
    assert caught.value.code == 40000 and says in str(caught.value)


def test_defaults_and_an_empty_filter(store):
    data = store.get_memory_data(USER, None, None, None, None, {})
    assert data["size"] == 10 and data["current"] == 1 and len(data["preference_detail_list"])


def test_typed_reads_match_the_data(store):
    page = store.get_memory(USER, 1, 2)
    assert isinstance(page, MemoryPage)
    assert page == memory_page_from_api(store.get_memory_data(USER, 1, 2), store.default_tz)
    assert page.has_more and page.memories[0].memory_key == "Money"
    assert page.memories[0].updated_at == datetime(2026, 3, 9, 13, tzinfo=UTC)
    with pytest.raises(ValueError):
        store.get_memory(USER, size=51)
    with pytest.raises(ValueError):
        store.search_memory("q", USER, memory_limit_number=26)
    result = store.search_memory("cp1252", USER, CHAT)
    assert sorted(m.memory_key for m in result.memories) == ["Bank export", "银行导出"]
    assert result.memories[0].relativity == 1.0 and result.total is None


# --- search ---------------------------------------------------------------------------------


def test_the_store_has_its_trigram_index(local_store):
    assert sqlite3.sqlite_version_info >= (3, 34)
    # The SQLite being new enough is not the index being there: search would fall back to
    # its bounded scan, and find only what the newest memories hold, with every test green.
    assert local_store.trigram is True
    with sqlite3.connect(local_store.path) as connection:
        assert connection.execute("SELECT sql FROM sqlite_master WHERE name = 'memory_search'"
                                  ).fetchone()[0].endswith("tokenize='trigram')")


@pytest.mark.parametrize("query, expected", [
    ("decimal", ["Prefers Decimal for MONEY."]),
    ("MONEY", ["Prefers Decimal for MONEY."]),
    ("mOnEy", ["Prefers Decimal for MONEY."]),
    ("ＣＳＶ", ["The bank exports CSV in cp1252."]),                 # full-width
    ("银行导", ["用户的银行导出文件使用 cp1252 编码。"]),            # a substring
    ("导出文件使用", ["用户的银行导出文件使用 cp1252 编码。"]),
    ("银行", ["用户的银行导出文件使用 cp1252 编码。"]),              # two characters
    ("银", ["用户的银行导出文件使用 cp1252 编码。"]),                # one
    ("cp", ["The bank exports CSV in cp1252.", "用户的银行导出文件使用 cp1252 编码。"]),
    ("Bank export", ["The bank exports CSV in cp1252."]),          # the key is searched too
    ("%", ["A 50% discount on trains_tickets."]),
    ("0%", ["A 50% discount on trains_tickets."]),
    ("_", ["A 50% discount on trains_tickets."]),
    ("s_t", ["A 50% discount on trains_tickets."]),
    ("s%t", []),
    ("\\", []),
    ("zzz", []),
])
def test_search_matches_substrings_case_insensitively(store, query, expected):
    assert sorted(found(store, query)) == sorted(expected)


def test_the_given_conversation_ranks_first_without_filtering(store):
    both = ("cp1252 50%")
    assert found(store, both, conversation_id=OTHER)[0] == "A 50% discount on trains_tickets."
    first = found(store, both, conversation_id=CHAT)
    assert first[-1] == "A 50% discount on trains_tickets." and len(first) == 3


def test_relativity_is_the_share_of_the_query_found(store):
    data = store.search_memory_data("bank exports nowhere", USER)
    [item] = data["memory_detail_list"]
    assert item["relativity"] == round(len("bankexports") / len("bankexportsnowhere"), 4)
    assert 0 < item["relativity"] < 1
    ranked = store.search_memory_data("bank cp1252", USER)["memory_detail_list"]
    assert [i["relativity"] for i in ranked] == sorted((i["relativity"] for i in ranked),
                                                        reverse=True)
    assert ranked[0]["memory_key"] == "Bank export" and ranked[0]["relativity"] == 1.0


def test_relativity_threshold_and_limits(store):
    assert found(store, "bank exports nowhere", relativity=0.7) == []
    assert len(found(store, "cp", memory_limit_number=1)) == 1
    data = store.search_memory_data("concise", USER)
    assert [p["preference"] for p in data["preference_detail_list"]] == [
        "Concise answers with code in fenced blocks."]
    assert data["preference_detail_list"][0]["relativity"] == 1.0
    assert store.search_memory_data("concise", USER, include_preference=False)[
        "preference_detail_list"] == []
    assert store.search_memory_data("concise", USER, preference_limit_number=0)[
        "preference_detail_list"] == []


@pytest.mark.parametrize("query", [
    "x" * 10_000, "cp1252 " * 2000, '"', '""', '"cp1252"', "*", "cp*", "NEAR(", "NEAR(a b)",
    "OR", "AND", "NOT", "cp1252 OR bank", "a OR", "(", ")", "{col}: x", "memory_key:bank",
    "^bank", "-bank", "+", "\x00", "\x00cp1252", "\ud800", "'; DROP TABLE memories; --",
    "%_%", "\\%", "\u202e", "🙂" * 5000, "a" * (MAX_QUERY_CHARS + 1),
])
def test_hostile_queries_never_raise(store, query):
    data = store.search_memory_data(query, USER, CHAT)
    assert isinstance(data["memory_detail_list"], list)
    assert all(0 < item["relativity"] <= 1 for item in data["memory_detail_list"])
    assert store.count_memories(USER)["memory"] == 4  # the table is still there


def test_fts_syntax_is_searched_as_text(local_store):
    local_store.add_memories(USER, [fact('He said "NEAR(x)" OR *this*'), fact("plain")])
    assert found(local_store, '"near(x)"') == ['He said "NEAR(x)" OR *this*']
    assert found(local_store, "*this*") == ['He said "NEAR(x)" OR *this*']
    assert found(local_store, "or") == ['He said "NEAR(x)" OR *this*']


@pytest.mark.parametrize("query, code", [("", 40002), ("   ", 40002), (None, 40002),
                                         (5, 40000), (["q"], 40000)])
def test_a_missing_query_is_refused(store, query, code):
    with pytest.raises(InvalidRequestError) as caught:
        store.search_memory_data(query, USER)
    assert caught.value.code == code and "query" in str(caught.value)


@pytest.mark.parametrize("options, says", [
    ({"memory_limit_number": 26}, "memory_limit_number must be from 1 to 25"),
    ({"memory_limit_number": 0}, "memory_limit_number"),
    ({"memory_limit_number": "6"}, "memory_limit_number must be an integer"),
    ({"preference_limit_number": 26}, "preference_limit_number"),
    ({"include_skill": "no"}, "include_skill"),
    ({"relativity": 2}, "relativity"),
    ({"relativity": "0.5"}, "relativity"),
    ({"conversation_id": "c" * 101}, "conversation_id"),
    ({"filter": {"x": 1}}, "filter"),
])
def test_bad_search_parameters_are_refused(store, options, says):
    with pytest.raises(InvalidRequestError) as caught:
        store.search_memory_data("cp1252", USER, **options)
    assert says in str(caught.value)


def test_short_queries_scan_a_bounded_number_of_memories(local_store):
    local_store.add_memories(USER, [fact("银 in the oldest", update_time="2020-01-01 00:00:00")])
    local_store.add_memories(USER, [fact(f"filler {n}", update_time="2026-01-01 00:00:00")
                                    for n in range(MAX_SCAN_ROWS)])
    assert found(local_store, "银") == []  # past the scan's bound: not found, not an error
    assert found(local_store, "oldest") == ["银 in the oldest"]  # the index has no bound


def test_search_works_without_the_trigram_index(store):
    store.trigram = False  # as on an SQLite older than 3.34: every query is a bounded scan
    assert found(store, "DECIMAL") == ["Prefers Decimal for MONEY."]
    assert found(store, "导出文件") == ["用户的银行导出文件使用 cp1252 编码。"]
    assert found(store, '"NEAR(') == []


# --- the file ------------------------------------------------------------------------------


def test_a_file_from_before_memories_gains_them(tmp_path):
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as connection:  # the schema as it was, with one message
        connection.executescript("""
            CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT, user_id TEXT NOT NULL,
                conversation_id TEXT NOT NULL, message TEXT NOT NULL, create_time TEXT NOT NULL,
                update_time TEXT NOT NULL);
            INSERT INTO messages (user_id, conversation_id, message, create_time, update_time)
                VALUES ('alice', 'chat-1', '{"role": "user", "content": "hi"}',
                        '2026-01-01 00:00:00', '2026-01-01 00:00:00');
        """)
    store = LocalStore(path)
    assert store.count(USER, CHAT) == 1
    store.add_memories(USER, [fact("Kept.")])
    assert found(store, "kept") == ["Kept."]
    assert LocalStore(path).count_memories(USER)["memory"] == 1  # reopening changes nothing


def test_an_index_created_late_is_filled_from_the_table(tmp_path):
    store = LocalStore(tmp_path / "db.sqlite3")
    store.add_memories(USER, [fact("Before the index.")])
    with sqlite3.connect(store.path) as connection:  # as if written where FTS5 was missing
        connection.executescript("DROP TRIGGER memories_indexed; DROP TRIGGER "
                                 "memories_unindexed; DROP TRIGGER memories_reindexed; "
                                 "DROP TABLE memory_search;")
    assert found(LocalStore(store.path), "before the") == ["Before the index."]


def test_demo_memories_are_seeded_once_and_point_at_demo_messages(tmp_path):
    store = LocalStore(tmp_path / "db.sqlite3")
    assert store.seed_demo() is True and store.seed_demo() is False
    counts = store.count_memories(DEMO_USER_ID)
    assert sum(counts.values()) == len(DEMO_MEMORIES) and counts["preference"] >= 1
    said = {(m["role"], m["chat_time"]) for m in DEMO_MESSAGES}
    page = store.get_memory(DEMO_USER_ID)
    for item in (*page.memories, *page.preferences):
        assert item.conversation_id == DEMO_CONVERSATION_ID and item.sources
        assert all((s.role, s.chat_time) in said and s.text for s in item.sources)
        assert item.created_at is not None
    keys_ = [memory.memory_key for memory in page.memories]
    assert "User's bank exports CSV in cp1252" in keys_ and "Prefers Decimal for money" in keys_
    assert any("fenced blocks" in p.preference and p.preference_type == "explicit_preference"
               for p in page.preferences)
    assert [m.updated_at for m in page.memories] == sorted(
        (m.updated_at for m in page.memories), reverse=True)


def test_a_demo_seeded_before_memories_gains_them(tmp_path):
    store = LocalStore(tmp_path / "db.sqlite3")
    store.add_messages(DEMO_USER_ID, DEMO_CONVERSATION_ID, DEMO_MESSAGES)
    assert store.seed_demo() is True
    assert store.count(DEMO_USER_ID, DEMO_CONVERSATION_ID) == len(DEMO_MESSAGES)
    assert sum(store.count_memories(DEMO_USER_ID).values()) == len(DEMO_MEMORIES)


def test_threads_can_add_and_search_together(tmp_path):
    path = tmp_path / "db.sqlite3"
    stores = [LocalStore(path), LocalStore(path)]
    errors: list[BaseException] = []

    def worker(number: int) -> None:
        store = stores[number % 2]
        try:
            for i in range(15):
                store.add_memories(USER, [fact(f"thread {number} note {i}")])
                store.search_memory_data(f"thread {number}", USER)
                store.get_memory_data(USER, 1, 5)
        except BaseException as error:  # surfaced by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert stores[0].count_memories(USER)["memory"] == 90
    assert len(found(stores[1], "thread 3 note", memory_limit_number=25)) == 25


def test_the_reading_conversations_memories_quote_its_messages(local_store):
    seed(local_store)
    page = local_store.get_memory(READING_USER_ID)
    assert len(page.memories) + len(page.preferences) == len(READING_MEMORIES)
    said = {(m["role"], m["chat_time"], m["content"]) for m in READING_MESSAGES
            if isinstance(m["content"], str)}
    here = [item for item in (*page.memories, *page.preferences)
            if item.conversation_id == READING_CONVERSATION_ID]
    assert len(here) == len(READING_MEMORIES) - 1  # one is from another conversation
    for item in here:
        assert item.sources and all((s.role, s.chat_time, s.text) in said for s in item.sources)
    keys_ = {memory.memory_key for memory in page.memories}
    assert {"Travel dates", "Two travellers", "Likes food and walking", "Porto for two nights",
            "Train booked"} <= keys_
    early = local_store.search_memory("early", READING_USER_ID, READING_CONVERSATION_ID)
    assert early.preferences[0].preference == "Prefers early starts, ahead of the crowds."
