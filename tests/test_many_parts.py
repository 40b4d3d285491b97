"""A message made of many parts costs what a hundred parts cost, whatever its shape.

Found by trying to break it: one ``/add/message`` of 2,000,000 empty strings (a 6 MB body)
made every view 82 MB of HTML and 13 s of CPU, and a MemOS answer of 3,500,000 parts 143 MB
and 22 s; each download 2.4-6 s. Each part shown costs the same whatever it holds, so the
number of parts read is bounded (``MAX_PARTS``), the rest counted in a quiet note; the JSON
download keeps every part as MemOS sent it; the local store refuses what it could never show.
"""

from __future__ import annotations

import hashlib
import json
import time

import pytest
import requests
from werkzeug import Response

from memos_api import message_from_api
from memos_api.models import MAX_PARTS
from tests.upstream_apps import upstream_app
from viewer.history import fingerprint

API = "/api/openmem/v1"
PAGE = "/chat?user_id=u&conversation_id=c"
DOWNLOAD = "/chat/export?user_id=u&conversation_id=c&format="
CPU_GUARD = 3.0  # seconds of this process's CPU per request: ~0.2 s here, 22 s before
SMALL_HTML = 100_000  # bytes: a hundred empty parts and the page around them


def answer(*items: dict) -> Response:
    """A MemOS ``/get/message`` answer holding ``items``, compact as MemOS sends it."""
    body = json.dumps({"code": 0, "message": "ok", "data": {"message_detail_list": list(items)}},
                      separators=(",", ":"))
    return Response(body, content_type="application/json")


def timed(client, path: str):
    started = time.process_time()
    response = client.get(path)
    data = response.get_data()  # a streamed body costs its time here
    return response, data, time.process_time() - started


@pytest.fixture
def upstream(app_factory, httpserver):
    """An app on a loopback MemOS that answers with the items given to it."""
    def serve(*items: dict):
        httpserver.expect_request(f"{API}/get/message").respond_with_response(answer(*items))
        return upstream_app(app_factory, httpserver.url_for(API), MEMOS_API_KEY="k",
                            MEMOS_TIMEOUT=30, RATE_LIMIT="0").test_client()
    return serve


def test_the_local_server_refuses_more_parts_than_a_message_can_show(memos_server):
    body = json.dumps({"user_id": "u", "conversation_id": "c",
                       "messages": [{"role": "user", "content": [""] * 2_000_000}]},
                      separators=(",", ":"))
    assert 6_000_000 < len(body) < 6_100_000  # under the server's 8 MB: it is read
    response = requests.post(f"{memos_server.base_url}/add/message", data=body, timeout=30,
                             headers={"Authorization": f"Token {memos_server.api_key}",
                                      "Content-Type": "application/json"})
    answer = response.json()
    assert answer["code"] == 40000, answer
    assert "2000000 parts" in answer["message"] and f"at most {MAX_PARTS}" in answer["message"]
    assert memos_server.store.count("u", "c") == 0


def test_the_local_store_keeps_a_message_of_exactly_the_most_parts(local_store):
    local_store.add_messages("u", "c", [{"role": "user", "content": ["a"] * MAX_PARTS}])
    [message] = local_store.get_messages("u", "c")
    assert len(message.parts) == MAX_PARTS and message.more_parts == 0


@pytest.mark.parametrize("role", ["assistant", "user", "tool", "system"])
def test_a_memos_answer_of_millions_of_parts_is_a_small_page(upstream, role):
    client = upstream({"role": role, "content": [""] * 3_500_000,
                       "chat_time": "2024-05-01 10:00:00"})
    response, html, cpu = timed(client, PAGE)
    assert response.status_code == 200
    assert len(html) < SMALL_HTML, len(html)  # was 143 MB
    assert cpu < CPU_GUARD, cpu
    text = html.decode()
    assert f"{3_500_000 - MAX_PARTS:,} more parts of this message are not shown." in text
    assert text.count("<article") == 1


def test_the_downloads_of_millions_of_parts_are_bounded_and_json_keeps_them(upstream):
    client = upstream({"role": "assistant", "content": ["x"] * 3_000_000 + ["last"],
                       "chat_time": "2024-05-01 10:00:00"})
    note = f"{3_000_001 - MAX_PARTS:,} more parts of this message are not shown."
    for kind in ("md", "txt"):
        response, data, cpu = timed(client, DOWNLOAD + kind)
        assert response.status_code == 200 and cpu < CPU_GUARD, (kind, cpu)
        assert len(data) < SMALL_HTML and note in data.decode(), kind
        assert "last" not in data.decode()
    response, data, cpu = timed(client, DOWNLOAD + "json")
    assert response.status_code == 200 and cpu < CPU_GUARD, cpu
    [message] = json.loads(data)["messages"]
    assert len(message["content"]) == 3_000_001 and message["content"][-1] == "last"


SHAPES = {
    "nested lists": [[[""]]] * 300_000,
    "text parts": [{"type": "text", "text": ""}] * 300_000,
    "images": [{"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]
    * 200_000,
    "nulls": [None] * 1_000_000,
    "numbers": [0] * 1_000_000,
}


@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_of_many_parts_is_bounded(upstream, shape):
    content = SHAPES[shape]
    client = upstream({"role": "assistant", "content": content})
    for path in (PAGE, DOWNLOAD + "md", DOWNLOAD + "txt"):
        response, data, cpu = timed(client, path)
        assert response.status_code == 200 and cpu < CPU_GUARD, (path, cpu)
        assert len(data) < SMALL_HTML, (path, len(data))
        assert f"{len(content) - MAX_PARTS:,} more parts" in data.decode(), path


def test_millions_of_tool_calls_are_read_as_twenty(upstream):
    calls = [{}] * 1_000_000 + [{"function": {"name": "last"}}]
    client = upstream({"role": "assistant", "content": "", "tool_calls": calls})
    response, html, cpu = timed(client, PAGE)
    assert response.status_code == 200 and cpu < CPU_GUARD, cpu
    assert len(html) < SMALL_HTML
    assert "more tool calls are not shown." in html.decode()


def test_parts_past_the_limit_are_counted_not_read():
    started = time.process_time()
    message = message_from_api({"role": "user", "content": [""] * 2_000_000})
    assert time.process_time() - started < 0.5  # reading 100 parts and a length
    assert len(message.parts) == MAX_PARTS and message.more_parts == 2_000_000 - MAX_PARTS
    assert len(message.content) == 2_000_000  # kept as it came, for the JSON download


def test_hidden_parts_make_a_different_message_and_leave_other_ids_alone():
    shown = message_from_api({"role": "user", "content": ["a"] * MAX_PARTS})
    more = message_from_api({"role": "user", "content": ["a"] * (MAX_PARTS + 1)})
    assert shown.parts == more.parts and shown != more
    assert fingerprint(shown) != fingerprint(more)
    # A message within the limit keeps the fingerprint (and so the link) it always had:
    # the digest of its role, parts and time, and nothing else.
    before = json.dumps(["user", [["text", "a"]] * MAX_PARTS, None], ensure_ascii=False)
    assert fingerprint(shown) == hashlib.sha256(before.encode()).hexdigest()
