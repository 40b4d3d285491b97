"""MemTensor's own SDK (PyPI ``MemoryOS``, ``memos.api.client.MemOSClient``) against the local
server: messages, memories and search, parsed by the SDK's pydantic models.

The SDK is not a dependency (it installs ~140 packages, transformers among them), so these
tests are skipped where it is missing. To run them, install it into an environment of its own
that also sees this project's packages, e.g.::

    python3 -m venv /tmp/sdk && /tmp/sdk/bin/pip install MemoryOS==2.0.33
    echo "$PWD/.venv/lib/python3.11/site-packages" > \\
        /tmp/sdk/lib/python3.11/site-packages/zz-project.pth
    /tmp/sdk/bin/python -m pytest tests/test_memos_sdk.py
"""

from __future__ import annotations

import importlib
import importlib.util

import pytest

from memos_api.local import DEMO_CONVERSATION_ID, DEMO_USER_ID

USER, CHAT, OTHER = "sdk-user", "sdk-chat", "sdk-other"

pytestmark = pytest.mark.skipif(importlib.util.find_spec("memos") is None,
                                reason="MemTensor's SDK (pip install MemoryOS) is not installed")


@pytest.fixture(scope="module")
def sdk(tmp_path_factory):
    """The SDK's client class. Importing it writes ``.memos/logs`` into the working directory
    and reads a ``.env`` there: both happen in a temporary directory."""
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path_factory.mktemp("sdk"))
        module = pytest.importorskip("memos.api.client")
    return module.MemOSClient


@pytest.fixture
def client(sdk, memos_server):
    memos_server.store.seed_demo()
    memos_server.store.add_memories(USER, [
        {"memory_key": "Hotel", "memory_value": "Stays in Chiado.", "tags": ["hotel"],
         "confidence": 0.9, "update_time": "2026-03-03 08:31:00",
         "sources": [{"role": "assistant", "content": "The hotel is in Chiado.",
                      "chat_time": "2026-03-03 08:31:00"}]},
        {"memory_key": "Trains", "memory_value": "Booked 2nd class to Porto.",
         "update_time": "2026-03-04 20:12:30"},
        {"memory_key": "Kyoto", "memory_value": "Loved the Kyoto food markets.",
         "conversation_id": OTHER, "update_time": "2025-10-02 10:00:00"},
        {"preference": "Early starts.", "preference_type": "implicit_preference"},
    ], conversation_id=CHAT)
    memos_server.store.add_memories("sdk-zh", [
        {"memory_key": "银行导出", "memory_value": "用户的银行导出文件使用 cp1252 编码。"}])
    return sdk(api_key=memos_server.api_key, base_url=memos_server.base_url)


def test_sdk_adds_and_gets_messages(client, memos_server):
    added = client.add_message(messages=[{"role": "user", "content": "hello",
                                          "chat_time": "2026-03-01 10:00:00"}],
                               user_id=USER, conversation_id=CHAT)
    assert added.code == 0 and added.data.success and added.data.status == "completed"
    got = client.get_message(user_id=USER, conversation_id=CHAT, message_limit_number=10)
    assert got.code == 0
    assert [m.model_dump()["content"] for m in got.messages] == ["hello"]
    demo = client.get_message(user_id=DEMO_USER_ID, conversation_id=DEMO_CONVERSATION_ID,
                              message_limit_number=50)
    assert demo.messages[0].model_dump()["role"] == "system"


def test_sdk_gets_memory_pages(client):
    first = client.get_memory(user_id=USER, page=1, size=2)
    assert first.code == 0
    assert (first.data.total, first.data.size, first.data.current, first.data.pages) == (
        3, 2, 1, 2)
    memories = [m.model_dump() for m in first.memories]
    assert [m["memory_key"] for m in memories] == ["Trains", "Hotel"]
    assert memories[1]["sources"][0]["content"] == "The hotel is in Chiado."
    assert memories[1]["tags"] == ["hotel"] and memories[1]["confidence"] == 0.9
    assert [p.model_dump()["preference"] for p in first.preferences] == ["Early starts."]
    second = client.get_memory(user_id=USER, page=2, size=2, include_preference=False)
    assert [m.model_dump()["memory_key"] for m in second.memories] == ["Kyoto"]
    assert second.preferences == []


def test_sdk_searches_memory(client):
    found = client.search_memory(query="Kyoto Chiado", user_id=USER, conversation_id=CHAT,
                                 memory_limit_number=25)
    assert found.code == 0
    items = [m.model_dump() for m in found.memories]
    assert [m["memory_key"] for m in items] == ["Hotel", "Kyoto"]  # this conversation first
    assert all(0 < m["relativity"] <= 1 for m in items)
    assert found.data.preference_note == ""
    chinese = client.search_memory(query="导出文件", user_id="sdk-zh")
    assert [m.model_dump()["memory_key"] for m in chinese.memories] == ["银行导出"]
    demo = client.search_memory(query="CP1252", user_id=DEMO_USER_ID,
                                conversation_id=DEMO_CONVERSATION_ID)
    assert [m.model_dump()["memory_key"] for m in demo.memories] == [
        "User's bank exports CSV in cp1252"]


def test_sdk_refuses_what_the_server_would(client):
    with pytest.raises(ValueError):
        client.get_memory(user_id=USER, size=51)
