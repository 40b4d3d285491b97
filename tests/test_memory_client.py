"""``MemOSClient.get_memory`` and ``search_memory`` against real loopback HTTP servers.

Answers come from pytest-httpserver; stalls and connection counts from ``RawServer``. The item
shapes are MemOS's documented ones (the API spec in MemTensor/MemOS-Docs, the SDK's models),
then every way they can go wrong.
"""

from __future__ import annotations

import json
import socket
import time
from datetime import datetime, UTC

import pytest
from raw_server import RawServer

from memos_api import (
    AuthError,
    BadResponseError,
    BEIJING,
    InvalidRequestError,
    Memory,
    MemoryPage,
    MemOSClient,
    Preference,
    RateLimitedError,
    Skill,
    ToolMemory,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from memos_api.memories import MAX_LIST_ITEMS
from memos_api.models import TOO_DEEP

API_KEY = "mpg-SECRET-key-0123456789"
PREFIX = "/api/openmem/v1"
GET = PREFIX + "/get/memory"
SEARCH = PREFIX + "/search/memory"
RETRIES = 2
MARCH_9 = 1773058500000  # 2026-03-09 12:15:00 UTC, in epoch milliseconds

MEMORY = {
    "id": "30017d87-c340-4ae0-ac13-9a2992333c2b", "memory_key": "Bank export encoding",
    "memory_value": "The bank exports CSV in cp1252.", "memory_type": "UserMemory",
    "create_time": MARCH_9, "update_time": MARCH_9 + 60_000, "conversation_id": "chat-1",
    "status": "activated", "confidence": 0.95, "tags": ["csv", "encoding"],
    "sources": [{"type": "chat", "role": "user", "chat_time": "2026-03-09 20:14:35",
                 "content": "My script crashes with UnicodeDecodeError"},
                {"type": "chat", "role": "assistant", "chat_time": "2026-03-09 20:15:10",
                 "content": [{"type": "text", "text": "Try cp1252."}]}],
    "info": {"scene": "demo"},
}
PREFERENCE = {
    "id": "pref-1", "preference_type": "explicit_preference",
    "preference": "Concise answers, code in fenced blocks.",
    "reasoning": "Said so in the first message.", "create_time": str(MARCH_9),
    "conversation_id": "chat-1", "status": "activated", "update_time": str(MARCH_9),
}
TOOL_MEMORY = {
    "id": "tool-1", "tool_type": "ToolTrajectoryMemory", "tool_value": "Weather lookups",
    "experience": "Ask for the city first.", "conversation_id": "chat-1", "status": "activated",
    "tool_used_status": [{"used_tool": "get_weather", "error_type": "", "success_rate": 0.8,
                          "tool_experience": "Needs an ISO date."}],
    "create_time": "2026-03-09T12:15:00Z", "update_time": "2026-03-09T12:15:00Z",
}
SKILL = {
    "id": "skill-1", "skill_type": "procedure", "skill_url": "https://example.org/skill.zip",
    "skill_value": {"name": "Split costs", "description": "Who owes whom.",
                    "procedure": "Sum, halve, subtract.", "experience": ["Round at the end"],
                    "preference": ["EUR"], "examples": ["Ana paid 85"], "script": {"py": "x"}},
    "conversation_id": "chat-1", "status": "activated", "confidence": 0.7, "tags": ["money"],
    "relativity": "0.42", "create_time": MARCH_9, "update_time": MARCH_9,
}


def make_client(base_url: str, **options) -> MemOSClient:
    settings = dict(timeout=0.5, connect_timeout=0.5, deadline=5.0, retries=RETRIES,
                    backoff=0.01, max_retry_after=0.2)
    settings.update(options)
    return MemOSClient(API_KEY, base_url, **settings)


def envelope(data: object = None, code: object = 0, message: str = "ok") -> dict:
    return {"code": code, "data": data, "message": message}


def page_data(memories=(), preferences=(), **extra) -> dict:
    return {"memory_detail_list": list(memories), "preference_detail_list": list(preferences),
            **extra}


@pytest.fixture
def client(httpserver):
    with make_client(httpserver.url_for(PREFIX)) as memos:
        yield memos


def sent(httpserver, index: int = 0) -> dict:
    return json.loads(httpserver.log[index][0].get_data())


def calls(httpserver, path: str) -> int:
    return sum(1 for request, _ in httpserver.log if request.path == path)


def get_one(httpserver, client, item, **extra) -> Memory:
    httpserver.expect_request(GET).respond_with_json(envelope(page_data([item], **extra)))
    [memory] = client.get_memory("u").memories
    return memory


# --- what is sent ------------------------------------------------------------------------


def test_get_memory_posts_the_documented_fields(httpserver, client):
    httpserver.expect_request(GET, method="POST").respond_with_json(envelope(page_data()))
    client.get_memory("user-1", 3, 20, include_preference=False, include_tool_memory=True,
                      filter={"and": [{"create_time": {"gte": "2026-01-01"}}]})
    request = httpserver.log[0][0]
    assert request.headers["Authorization"] == f"Token {API_KEY}"
    assert request.headers["Content-Type"].startswith("application/json")
    assert sent(httpserver) == {
        "user_id": "user-1", "page": 3, "size": 20, "include_preference": False,
        "include_tool_memory": True, "filter": {"and": [{"create_time": {"gte": "2026-01-01"}}]}}


def test_get_memory_defaults(httpserver, client):
    httpserver.expect_request(GET).respond_with_json(envelope(page_data()))
    client.get_memory("u")
    assert sent(httpserver) == {"user_id": "u", "page": 1, "size": 50,
                                "include_preference": True, "include_tool_memory": False}


def test_search_memory_posts_the_documented_fields(httpserver, client):
    httpserver.expect_request(SEARCH, method="POST").respond_with_json(envelope(page_data()))
    client.search_memory("where do we stay?", "user-1", "chat-1", 25, include_preference=False,
                         include_tool_memory=True, include_skill=True)
    client.search_memory("q", "user-1")
    assert sent(httpserver, 0) == {
        "query": "where do we stay?", "user_id": "user-1", "conversation_id": "chat-1",
        "memory_limit_number": 25, "include_preference": False, "include_tool_memory": True,
        "include_skill": True}
    assert sent(httpserver, 1) == {  # no conversation: the field is left out
        "query": "q", "user_id": "user-1", "memory_limit_number": 6,
        "include_preference": True, "include_tool_memory": False, "include_skill": False}


@pytest.mark.parametrize("call, says", [
    (lambda c: c.get_memory("u", size=51), "size"),
    (lambda c: c.get_memory("u", size=0), "size"),
    (lambda c: c.get_memory("u", size=True), "size"),
    (lambda c: c.get_memory("u", size=10.0), "size"),
    (lambda c: c.get_memory("u", page=0), "page"),
    (lambda c: c.get_memory("u", page="2"), "page"),
    (lambda c: c.get_memory(""), "user_id"),
    (lambda c: c.get_memory(None), "user_id"),
    (lambda c: c.search_memory("q", "u", memory_limit_number=26), "memory_limit_number"),
    (lambda c: c.search_memory("q", "u", memory_limit_number=0), "memory_limit_number"),
    (lambda c: c.search_memory("   ", "u"), "query"),
    (lambda c: c.search_memory(None, "u"), "query"),
    (lambda c: c.search_memory("q", " "), "user_id"),
])
def test_own_arguments_are_checked_before_anything_is_sent(httpserver, client, call, says):
    with pytest.raises(ValueError, match=says):
        call(client)
    assert httpserver.log == []


# --- documented answers --------------------------------------------------------------------


def test_a_documented_page_is_typed(httpserver, client):
    httpserver.expect_request(GET).respond_with_json(envelope({
        "memory_detail_list": [MEMORY], "preference_detail_list": [PREFERENCE],
        "tool_memory_detail_list": [TOOL_MEMORY], "skill_detail_list": [SKILL],
        "total": 7, "size": 1, "current": 2, "pages": 7}))
    page = client.get_memory("u", 2, 1, include_tool_memory=True)

    assert isinstance(page, MemoryPage)
    assert (page.total, page.size, page.current, page.pages, page.has_more) == (7, 1, 2, 7, True)
    [memory] = page.memories
    assert memory == Memory(
        id=MEMORY["id"], memory_key="Bank export encoding",
        memory_value="The bank exports CSV in cp1252.", memory_type="UserMemory",
        conversation_id="chat-1", status="activated", confidence=0.95,
        tags=("csv", "encoding"), relativity=None,
        created_at=datetime(2026, 3, 9, 12, 15, tzinfo=UTC),
        updated_at=datetime(2026, 3, 9, 12, 16, tzinfo=UTC), sources=memory.sources)
    assert memory.create_time == str(MARCH_9) and memory.extra == {"info": {"scene": "demo"}}
    first, second = memory.sources
    assert (first.role, first.text, first.chat_time, first.kind) == (
        "user", "My script crashes with UnicodeDecodeError", "2026-03-09 20:14:35", "chat")
    assert first.said_at == datetime(2026, 3, 9, 20, 14, 35, tzinfo=BEIJING)
    assert (second.role, second.text) == ("assistant", "Try cp1252.")

    [preference] = page.preferences
    assert isinstance(preference, Preference)
    assert (preference.preference, preference.preference_type, preference.reasoning) == (
        "Concise answers, code in fenced blocks.", "explicit_preference",
        "Said so in the first message.")
    assert preference.created_at == datetime(2026, 3, 9, 12, 15, tzinfo=UTC)  # digits as text

    [tool] = page.tool_memories
    assert isinstance(tool, ToolMemory)
    assert (tool.tool_type, tool.tool_value, tool.experience) == (
        "ToolTrajectoryMemory", "Weather lookups", "Ask for the city first.")
    assert tool.tool_used_status[0].used_tool == "get_weather"
    assert tool.tool_used_status[0].success_rate == 0.8
    assert tool.created_at == datetime(2026, 3, 9, 12, 15, tzinfo=UTC)

    [skill] = page.skills
    assert isinstance(skill, Skill)
    assert (skill.name, skill.description, skill.procedure) == (
        "Split costs", "Who owes whom.", "Sum, halve, subtract.")
    assert (skill.experience, skill.preferences, skill.examples) == (
        ("Round at the end",), ("EUR",), ("Ana paid 85",))
    assert skill.relativity == 0.42 and skill.confidence == 0.7  # relativity sent as text
    assert skill.skill_url == "https://example.org/skill.zip" and skill.tags == ("money",)


def test_search_results_carry_relativity_and_the_preference_note(httpserver, client):
    found = {**MEMORY, "relativity": 1.6605854e-4}
    httpserver.expect_request(SEARCH).respond_with_json(envelope({
        "memory_detail_list": [found], "preference_detail_list": [{**PREFERENCE,
                                                                   "relativity": 0.5}],
        "tool_memory_detail_list": None, "skill_detail_list": None,
        "preference_note": "Use these preferences lightly."}))
    page = client.search_memory("cp1252", "u", "chat-1")
    assert page.memories[0].relativity == pytest.approx(1.6605854e-4)
    assert page.preferences[0].relativity == 0.5
    assert page.preference_note == "Use these preferences lightly."
    assert (page.total, page.size, page.current, page.pages) == (None, None, None, None)
    assert page.tool_memories == () and page.skills == ()


def test_the_docs_camel_case_example_is_read(httpserver, client):
    """MemOS's search docs show ``updateTime`` and ``memoryTime`` in their example answer."""
    memory = get_one(httpserver, client, {
        "id": "2b742eb2", "memory_key": "用户的聊天风格",
        "memory_value": "[user观点]用户喜欢幽默。",
        "memory_type": "UserMemory", "memoryTime": None, "conversation_id": "c-567",
        "status": "activated", "confidence": 0.0, "tags": ["聊天风格", "AI帮助"],
        "updateTime": 1758267685922, "relativity": 1.6605854e-4})
    assert memory.updated_at == datetime(2025, 9, 19, 7, 41, 25, 922000, tzinfo=UTC)
    assert memory.memory_key == "用户的聊天风格" and memory.tags == ("聊天风格", "AI帮助")
    assert memory.confidence == 0.0 and memory.created_at is None


def test_the_open_source_shape_is_read(httpserver, client):
    """MemOS's own server nests most fields in ``metadata`` and calls the value ``memory``."""
    memory = get_one(httpserver, client, {
        "id": "n1", "memory": "Likes walking.",
        "metadata": {"key": "Walking", "memory_type": "LongTermMemory", "tags": ["walk"],
                     "created_at": "2026-03-09T20:15:00", "confidence": 0.6,
                     "sources": ['{"type": "chat", "role": "user", "content": "We walk a lot",'
                                 ' "chat_time": "2026-03-09 20:14:00"}'],
                     "embedding": [0.1, 0.2]}})
    assert (memory.memory_key, memory.memory_value, memory.memory_type) == (
        "Walking", "Likes walking.", "LongTermMemory")
    assert memory.created_at == datetime(2026, 3, 9, 20, 15, tzinfo=BEIJING)
    assert memory.sources[0].role == "user" and memory.sources[0].text == "We walk a lot"
    assert memory.extra == {"embedding": [0.1, 0.2]}


def test_profile_and_event_lists_are_read_as_memories_once(httpserver, client):
    httpserver.expect_request(GET).respond_with_json(envelope({
        "memory_detail_list": [MEMORY],
        "profile_detail_list": [{"id": "p1", "memory_value": "Lives in Porto."},
                                {**MEMORY}],  # the same memory listed twice
        "event_detail_list": [{"id": "e1", "memory_value": "Flew on 14 May.",
                               "memory_type": "Trip"}]}))
    memories = client.get_memory("u").memories
    assert [(m.id, m.memory_type) for m in memories] == [
        (MEMORY["id"], "UserMemory"), ("p1", "ProfileMemory"), ("e1", "Trip")]


# --- odd and missing fields ----------------------------------------------------------------


@pytest.mark.parametrize("item, value", [
    ("just text", "just text"),
    (42, "42"),
    (["a", 1], '["a", 1]'),
    ({"id": "x", "colour": "red"}, '{"colour": "red", "id": "x"}'),
    ({}, "{}"),
])
def test_items_of_unknown_shape_keep_their_json_as_the_value(httpserver, client, item, value):
    memory = get_one(httpserver, client, item)
    assert memory.memory_value == value and memory.memory_key == ""
    assert memory.created_at is None and memory.sources == ()


def test_odd_preference_tool_and_skill_items_keep_their_json(httpserver, client):
    httpserver.expect_request(GET).respond_with_json(envelope({
        "preference_detail_list": ["likes tea", {"id": "p", "note": "n"}],
        "tool_memory_detail_list": [7, {"tool_used_status": "oops"}],
        "skill_detail_list": [None, {"skill_value": "plain text skill"},
                              {"skill_value": '{"name": "From JSON text"}'}, {"id": "s"}]}))
    page = client.get_memory("u")
    assert [p.preference for p in page.preferences] == ["likes tea",
                                                        '{"id": "p", "note": "n"}']
    assert [t.tool_value for t in page.tool_memories] == ["7", '{"tool_used_status": "oops"}']
    assert [(s.name, s.description) for s in page.skills] == [
        ("", ""), ("", "plain text skill"), ("From JSON text", ""), ("", '{"id": "s"}')]


@pytest.mark.parametrize("field, value, expected", [
    ("memory_type", "BrandNewMemory", "BrandNewMemory"),
    ("memory_type", 7, "7"),
    ("memory_key", None, ""),
    ("memory_key", ["a", "b"], '["a", "b"]'),
    ("conversation_id", 12345, "12345"),
    ("status", {"state": "archived"}, '{"state": "archived"}'),
])
def test_text_fields_of_any_type_become_text(httpserver, client, field, value, expected):
    memory = get_one(httpserver, client, {**MEMORY, field: value})
    assert getattr(memory, field) == expected


@pytest.mark.parametrize("value, expected", [
    (0.5, 0.5), (0, 0.0), (1, 1.0), ("0.25", 0.25), (" 1 ", 1.0), (95, None), (-0.1, None),
    (True, None), ("high", None), (None, None), ([0.5], None), ("9" * 400, None),
    (10**400, None),
])
def test_confidence_is_a_number_from_0_to_1_or_none(httpserver, client, value, expected):
    assert get_one(httpserver, client, {**MEMORY, "confidence": value}).confidence == expected


@pytest.mark.parametrize("value, expected", [
    (["a", "b"], ("a", "b")), ("solo", ("solo",)), ([1, None, "", " ", "x"], ("1", "x")),
    ([{"k": "v"}], ('{"k": "v"}',)), (None, ()), (7, ("7",)),
])
def test_tags_are_read_defensively(httpserver, client, value, expected):
    assert get_one(httpserver, client, {**MEMORY, "tags": value}).tags == expected


@pytest.mark.parametrize("value, parsed, as_sent", [
    (MARCH_9, datetime(2026, 3, 9, 12, 15, tzinfo=UTC), str(MARCH_9)),
    (str(MARCH_9), datetime(2026, 3, 9, 12, 15, tzinfo=UTC), str(MARCH_9)),
    (MARCH_9 // 1000, datetime(2026, 3, 9, 12, 15, tzinfo=UTC), str(MARCH_9 // 1000)),
    ("2026-03-09 20:15:00", datetime(2026, 3, 9, 12, 15, tzinfo=UTC), "2026-03-09 20:15:00"),
    ("2026-03-09T12:15:00Z", datetime(2026, 3, 9, 12, 15, tzinfo=UTC), "2026-03-09T12:15:00Z"),
    ("yesterday", None, "yesterday"),
    (10**30, None, "1" + "0" * 30),
    (-5, None, "-5"),
    (True, None, "true"),
    ({"ms": 1}, None, '{"ms": 1}'),
    ("x" * 100_000, None, "x" * 100_000),
])
def test_odd_times_are_kept_as_sent(httpserver, client, value, parsed, as_sent):
    memory = get_one(httpserver, client, {**MEMORY, "create_time": value, "update_time": None})
    assert memory.created_at == parsed and memory.create_time == as_sent
    assert memory.updated_at is None and memory.update_time is None


@pytest.mark.parametrize("sources, expected", [
    (None, ()),
    ("a lone string", (("", "a lone string", None),)),
    ({"role": "user", "content": "one object"}, (("user", "one object", None),)),
    ([{"role": 5, "content": None, "chat_time": 17}], (("5", "", None),)),
    ([{"role": "user", "content": [{"type": "text", "text": "hi"},
                                   {"type": "file", "file": {"filename": "a.csv"}}],
       "chat_time": " "}], (("user", "hi", None),)),
    (["{not json"], (("", "{not json", None),)),
    ([None, 3], (("", "", None), ("", "3", None))),
])
def test_sources_are_read_defensively(httpserver, client, sources, expected):
    memory = get_one(httpserver, client, {**MEMORY, "sources": sources})
    assert tuple((s.role, s.text, s.chat_time) for s in memory.sources) == expected


def test_lone_surrogates_become_encodable(httpserver, client):
    body = json.dumps(envelope(page_data([{"id": "\\ud800", "memory_key": "k\\udfff",
                                           "memory_value": "v\\ud83d", "tags": ["\\udc00"],
                                           "sources": [{"content": "\\ud800",
                                                        "role": "user"}]}])))
    httpserver.expect_request(GET).respond_with_data(body.replace("\\\\u", "\\u"),
                                                     content_type="application/json")
    [memory] = client.get_memory("u").memories
    for text in (memory.id, memory.memory_key, memory.memory_value, *memory.tags,
                 memory.sources[0].text):
        text.encode("utf-8")  # would raise on a lone surrogate
    assert memory.memory_value == "v?"


def test_huge_values_are_kept_whole(httpserver, client):
    value = "長" * 1_000_000
    memory = get_one(httpserver, client, {**MEMORY, "memory_value": value})
    assert memory.memory_value == value


def test_values_nested_as_deep_as_json_reads_are_read(httpserver, client):
    """Nesting that the answer's parser takes but that is too deep to write out again a few
    frames further down is a placeholder, not a RecursionError out of the client."""
    read = 0
    for depth in range(900, 1000):
        nested = "[" * depth + "]" * depth
        body = ('{"code": 0, "message": "ok", "data": {"memory_detail_list": [{"memory_value":'
                f' {nested}, "tags": [{nested}], "sources": [{{"content": [{nested}]}}]}}]}}}}')
        httpserver.clear()
        httpserver.expect_request(GET).respond_with_data(body,
                                                         content_type="application/json")
        try:
            [memory] = client.get_memory("u").memories
        except BadResponseError:  # too deep for the answer's parser itself
            continue
        read += 1
        assert memory.memory_value in (nested, TOO_DEEP)
        assert memory.sources[0].text in (nested, TOO_DEEP)
    assert 0 < read < 100  # the parser's limit lies in the range tried


def test_lists_are_read_to_a_bound_whatever_the_answer_holds(httpserver, client):
    """MemOS sends at most 50 of a kind; a crafted answer of millions of items (16 MB of
    ``{}`` took 50 s to read whole) is read to its first MAX_LIST_ITEMS, in order."""
    many = 2_000_000
    item = {**MEMORY, "tags": [f"t{n}" for n in range(500)],
            "sources": [{"role": "user", "content": f"s{n}"} for n in range(500)]}
    body = json.dumps(envelope({**page_data([item]), "preference_detail_list": [PREFERENCE],
                                "skill_detail_list": [{}] * 300}))
    body = body.replace('"memory_detail_list": [{', '"memory_detail_list": [' + "{}," * many
                        + "{", 1)
    httpserver.expect_request(GET).respond_with_data(body, content_type="application/json")
    started = time.thread_time()
    page = client.get_memory("u")
    assert time.thread_time() - started < 2.0
    assert len(page.memories) == MAX_LIST_ITEMS and page.memories[0].memory_value == "{}"
    assert len(page.skills) == MAX_LIST_ITEMS and len(page.preferences) == 1
    httpserver.clear()
    memory = get_one(httpserver, client, item)
    assert memory.tags == tuple(f"t{n}" for n in range(MAX_LIST_ITEMS))
    assert [source.text for source in memory.sources] == [f"s{n}" for n in range(MAX_LIST_ITEMS)]


@pytest.mark.parametrize("extra, paging", [
    ({"total": "12", "size": 5.0, "current": "1", "pages": 3}, (12, 5, 1, 3)),
    ({"total": -1, "size": True, "current": "one", "pages": 2.5}, (None, None, None, None)),
    ({"total": "9" * 40, "size": None}, (None, None, None, None)),
    ({}, (None, None, None, None)),
])
def test_paging_fields_are_whole_numbers_or_none(httpserver, client, extra, paging):
    httpserver.expect_request(GET).respond_with_json(envelope(page_data(**extra)))
    page = client.get_memory("u")
    assert (page.total, page.size, page.current, page.pages) == paging


@pytest.mark.parametrize("page, more", [
    (MemoryPage(current=2, pages=2, total=100, size=50), False),
    (MemoryPage(current=1, pages=2), True),
    (MemoryPage(current=1, total=51, size=50), True),
    (MemoryPage(current=2, total=100, size=50), False),
    (MemoryPage(memories=(Memory("a", "", ""),) * 3, size=3), True),
    (MemoryPage(memories=(Memory("a", "", ""),) * 2, size=3), False),
    (MemoryPage(), False),
])
def test_has_more_says_whether_a_later_page_may_hold_more(page, more):
    assert page.has_more is more


@pytest.mark.parametrize("data", [
    None, [], "text", {}, {"total": 3}, {"memory_detail_list": "not a list"},
    {"memory_detail_list": None, "preference_detail_list": {"0": {}}},
    {"message_detail_list": []},
])
def test_answers_without_a_memory_list_are_bad_responses(httpserver, client, data):
    httpserver.expect_request(GET).respond_with_json(envelope(data))
    with pytest.raises(BadResponseError):
        client.get_memory("u")


def test_one_list_is_enough(httpserver, client):
    httpserver.expect_request(SEARCH).respond_with_json(envelope(
        {"memory_detail_list": None, "preference_detail_list": [PREFERENCE]}))
    page = client.search_memory("q", "u")
    assert page.memories == () and len(page.preferences) == 1


# --- errors, retries and the deadline ------------------------------------------------------


@pytest.mark.parametrize("path, call", [
    (GET, lambda c: c.get_memory("u")),
    (SEARCH, lambda c: c.search_memory("q", "u")),
])
@pytest.mark.parametrize("code, expected, attempts", [
    (40000, InvalidRequestError, 1),
    (40132, AuthError, 1),
    (40300, RateLimitedError, RETRIES + 1),
    (50004, UpstreamUnavailableError, 1),
])
def test_business_errors_are_typed_and_only_transient_ones_retried(
        httpserver, client, path, call, code, expected, attempts):
    httpserver.expect_request(path).respond_with_json(envelope(None, code=code, message="{0}"))
    with pytest.raises(expected) as raised:
        call(client)
    assert raised.value.code == code and "{0}" not in str(raised.value)
    assert calls(httpserver, path) == attempts


@pytest.mark.parametrize("path, call", [
    (GET, lambda c: c.get_memory("u")),
    (SEARCH, lambda c: c.search_memory("q", "u")),
])
def test_reads_are_retried_after_a_gateway_error(httpserver, client, path, call):
    httpserver.expect_ordered_request(path).respond_with_data("<html>502</html>", status=502)
    httpserver.expect_ordered_request(path).respond_with_json(
        envelope(page_data([MEMORY])))
    assert [m.id for m in call(client).memories] == [MEMORY["id"]]
    assert calls(httpserver, path) == 2


def test_a_gateway_that_keeps_failing_is_unavailable(httpserver, client):
    httpserver.expect_request(GET).respond_with_data("<html>503</html>", status=503)
    with pytest.raises(UpstreamUnavailableError):
        client.get_memory("u")
    assert calls(httpserver, GET) == RETRIES + 1


def answer_with(payload: dict):
    body = json.dumps(payload).encode()
    response = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                + str(len(body)).encode() + b"\r\n\r\n" + body)

    def keep_alive(conn: socket.socket, server: RawServer) -> None:
        while server.read_request(conn) is not None:
            conn.sendall(response)

    return keep_alive


def test_memory_reads_share_the_pooled_connection():
    with RawServer(answer_with(envelope(page_data([MEMORY])))) as server, \
            make_client(server.url) as memos:
        memos.get_memory("u")
        memos.search_memory("q", "u", "c")
        memos.get_memory("u", 2)
    assert len(server.requests) == 3 and server.accepted == 1
    assert [request.split(b" ", 2)[1] for request in server.requests] == [
        GET.encode(), SEARCH.encode(), GET.encode()]


def test_a_stalled_memory_read_ends_at_the_deadline():
    def stall(conn: socket.socket, server: RawServer) -> None:
        server.read_request(conn)
        server.release.wait(5)

    with RawServer(stall) as server, make_client(server.url, timeout=2, deadline=0.5) as memos:
        started = time.monotonic()
        with pytest.raises(UpstreamTimeoutError):
            memos.search_memory("q", "u")
        assert time.monotonic() - started < 0.5 + 1.0
