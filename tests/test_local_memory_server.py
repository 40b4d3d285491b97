"""The local server's ``/get/memory`` and ``/search/memory``: MemOS's shapes and codes, over HTTP.

``tests/test_memos_sdk.py`` checks the same answers with MemTensor's own SDK.
"""

from __future__ import annotations

import pytest
import requests

from memos_api import InvalidRequestError, MemOSClient
from memos_api.local import DEMO_CONVERSATION_ID, DEMO_USER_ID

USER, CHAT, OTHER = "bob", "chat-9", "chat-10"
MEMORY_KEYS = {"id", "memory_key", "memory_value", "memory_type", "create_time", "update_time",
               "conversation_id", "status", "confidence", "tags", "sources"}
PREFERENCE_KEYS = {"id", "preference", "preference_type", "reasoning", "create_time",
                   "update_time", "conversation_id", "status"}


def post(server, path, body=None, *, data=None):
    return requests.post(server.base_url + path, json=body, data=data, timeout=5,
                         headers={"Authorization": f"Token {server.api_key}",
                                  "Content-Type": "application/json"})


def answer(server, path, body) -> dict:
    response = post(server, path, body)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    payload = response.json()
    assert set(payload) == {"code", "data", "message"}
    return payload


@pytest.fixture
def server(memos_server):
    memos_server.store.add_memories(USER, [
        {"memory_key": "Hotel", "memory_value": "Stays in Chiado.", "confidence": 0.9,
         "tags": ["hotel"], "update_time": "2026-03-03 08:31:00",
         "sources": [{"type": "chat", "role": "assistant", "content": "The hotel is in Chiado.",
                      "chat_time": "2026-03-03 08:31:00"}]},
        {"memory_key": "Trains", "memory_value": "Booked 2nd class to Porto.",
         "update_time": "2026-03-04 20:12:30"},
        {"memory_key": "Kyoto", "memory_value": "Loved the food markets of Kyoto.",
         "conversation_id": OTHER, "update_time": "2025-10-02 10:00:00"},
        {"preference": "Early starts.", "preference_type": "implicit_preference",
         "reasoning": "Takes the 07:55 train."},
    ], conversation_id=CHAT)
    return memos_server


@pytest.mark.parametrize("prefix", ["", "/api/openmem/v1"])
def test_get_memory_answers_in_the_clouds_shape(server, prefix):
    base = server.base_url.removesuffix("/api/openmem/v1")
    response = requests.post(f"{base}{prefix}/get/memory", timeout=5,
                             json={"user_id": USER, "page": 1, "size": 2},
                             headers={"Authorization": f"Token {server.api_key}"})
    payload = response.json()
    assert payload["code"] == 0 and payload["message"] == "ok"
    data = payload["data"]
    assert set(data) == {"memory_detail_list", "preference_detail_list",
                         "tool_memory_detail_list", "skill_detail_list", "total", "size",
                         "current", "pages"}
    assert (data["total"], data["size"], data["current"], data["pages"]) == (3, 2, 1, 2)
    assert [item["memory_key"] for item in data["memory_detail_list"]] == ["Trains", "Hotel"]
    assert all(set(item) >= MEMORY_KEYS - {"confidence", "sources"}
               for item in data["memory_detail_list"])
    assert set(data["memory_detail_list"][1]) == MEMORY_KEYS
    assert isinstance(data["memory_detail_list"][0]["create_time"], int)  # epoch ms
    [preference] = data["preference_detail_list"]
    assert set(preference) == PREFERENCE_KEYS


def test_search_memory_answers_in_the_clouds_shape(server):
    payload = answer(server, "/search/memory", {
        "query": "Kyoto Chiado", "user_id": USER, "conversation_id": CHAT,
        "memory_limit_number": 25})
    assert payload["code"] == 0
    data = payload["data"]
    assert set(data) == {"memory_detail_list", "preference_detail_list",
                         "tool_memory_detail_list", "skill_detail_list", "preference_note"}
    found = data["memory_detail_list"]
    assert [item["memory_key"] for item in found] == ["Hotel", "Kyoto"]  # chat-9's first
    assert all(0 < item["relativity"] <= 1 for item in found)
    assert set(found[0]) == MEMORY_KEYS | {"relativity"}


def test_null_optional_fields_mean_absent(server):
    """MemTensor's SDK sends every optional field, null when unset."""
    got = answer(server, "/get/memory", {
        "user_id": USER, "page": None, "size": None, "include_preference": None,
        "include_tool_memory": None, "filter": None, "agent_id": None,
        "include_memory_view": None})
    assert got["code"] == 0 and got["data"]["size"] == 10 and got["data"]["current"] == 1
    found = answer(server, "/search/memory", {
        "query": "porto", "user_id": USER, "conversation_id": None, "agent_id": None,
        "memory_limit_number": None, "include_preference": None, "knowledgebase_ids": None,
        "filter": None, "preference_limit_number": None, "tool_memory_limit_number": None,
        "relativity": None, "include_skill": None, "skill_limit_number": None,
        "include_memory_view": None, "context_format": "memory", "source": None,
        "include_tool_memory": None})
    assert [i["memory_key"] for i in found["data"]["memory_detail_list"]] == ["Trains"]


@pytest.mark.parametrize("path, body, code, says", [
    ("/get/memory", {"user_id": USER, "size": 51}, 40000, "size must be from 1 to 50"),
    ("/get/memory", {"user_id": USER, "size": 0}, 40000, "size"),
    ("/get/memory", {"user_id": USER, "page": 0}, 40000, "page"),
    ("/get/memory", {"user_id": USER, "page": "2"}, 40000, "page must be an integer"),
    ("/get/memory", {"user_id": USER, "include_preference": "true"}, 40000,
     "include_preference"),
    ("/get/memory", {"user_id": USER, "filter": {"and": [{"create_time": {"gte": 1}}]}},
     40000, "filter is not supported"),
    ("/get/memory", {}, 40002, "user_id"),
    ("/get/memory", {"user_id": "u" * 101}, 40010, "user_id"),
    ("/get/memory", {"user_id": ["u"]}, 40000, "user_id must be a string"),
    ("/search/memory", {"user_id": USER}, 40002, "query is required"),
    ("/search/memory", {"user_id": USER, "query": 5}, 40000, "query must be a string"),
    ("/search/memory", {"query": "q"}, 40002, "user_id"),
    ("/search/memory", {"query": "q", "user_id": USER, "memory_limit_number": 26}, 40000,
     "memory_limit_number must be from 1 to 25"),
    ("/search/memory", {"query": "q", "user_id": USER, "memory_limit_number": 2.5}, 40000,
     "memory_limit_number must be an integer"),
    ("/search/memory", {"query": "q", "user_id": USER, "conversation_id": "c" * 101}, 40011,
     "conversation_id"),
    ("/search/memory", {"query": "q", "user_id": USER, "relativity": -1}, 40000, "relativity"),
])
def test_bad_parameters_have_memos_codes_and_say_why(server, path, body, code, says):
    payload = answer(server, path, body)
    assert payload["code"] == code and payload["data"] is None
    assert says in payload["message"]


@pytest.mark.parametrize("path", ["/get/memory", "/search/memory"])
@pytest.mark.parametrize("data", [b"", b"{not json", b"[1]", b"[" * 100_000])
def test_bodies_that_are_not_json_objects_are_refused(server, path, data, collector_off):
    payload = post(server, path, data=data).json()
    assert payload["code"] == 40000


@pytest.mark.parametrize("query", ['"', "NEAR(", "*", "OR", "x" * 10_000, "\u0000", "%",
                                   '{"$ne": 1}'])
def test_hostile_queries_are_answered(server, query):
    payload = answer(server, "/search/memory", {"query": query, "user_id": USER})
    assert payload["code"] == 0


def test_the_demo_user_has_memories_over_http(memos_server):
    memos_server.store.seed_demo()
    payload = answer(memos_server, "/search/memory", {
        "query": "cp1252", "user_id": DEMO_USER_ID, "conversation_id": DEMO_CONVERSATION_ID})
    [memory] = payload["data"]["memory_detail_list"]
    assert memory["memory_key"] == "User's bank exports CSV in cp1252"
    assert memory["sources"][0]["role"] == "user"


def test_memos_client_end_to_end(server):
    with MemOSClient(server.api_key, base_url=server.base_url) as client:
        page = client.get_memory(USER, size=2)
        second = client.get_memory(USER, 2, 2)
        search = client.search_memory("chiado", USER, CHAT)
        with pytest.raises(InvalidRequestError) as caught:
            client.get_memory("u" * 101)
    assert [m.memory_key for m in page.memories] == ["Trains", "Hotel"]
    assert page.has_more and not second.has_more
    assert [m.memory_key for m in second.memories] == ["Kyoto"]
    assert page.preferences[0].preference == "Early starts."
    assert page == server.store.get_memory(USER, size=2)
    [hotel] = search.memories
    assert hotel.relativity == 1.0 and hotel.confidence == 0.9
    assert hotel.sources[0].text == "The hotel is in Chiado."
    assert caught.value.code == 40010
