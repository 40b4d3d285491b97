"""The memory panel's reads shared across instances through a real Redis, as live reads are.

Two instances of the app (two real servers on loopback, one real Redis) read a fake MemOS
(pytest-httpserver, tests/test_memory_panel.py's ``FakeMemOS``), whose request log counts the
memory calls. What Redis holds under the panel's keys comes from outside: anything that is not
exactly the panel's own answer to that read is ignored, and the reader makes its own call.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from datetime import datetime, UTC

import pytest
import redis
import requests
from test_memory_panel import (
    CONVERSATION,
    envelope,
    fact,
    FakeMemOS,
    HX,
    ids,
    MEMORY,
    OTHER,
    preference,
    PREFIX,
    SEARCH,
    shown_keys,
    USER,
)
from upstream_apps import upstream_app
from werkzeug import Request, Response

from memos_api import ContentPart, Memory, memory_page_from_api, Message, UpstreamUnavailableError
from memos_api.memories import MAX_LIST_ITEMS
from viewer import sharing
from viewer.memory_codec import FIELDS, MEMORY_CODEC, MEMORY_FORMAT, NOT_SHARED
from viewer.sharing import Answer, decode_answer, encode_answer, SharedReads

MAX_PAGES = 4
PAGES = ("pages", USER, MAX_PAGES)  # the panel's read of the user's memories
SEARCH_READ = ("search", USER, CONVERSATION, "trip")


class SlowMemOS(FakeMemOS):
    """The fake MemOS, its search as slow as its pages, counting its calls as they come."""

    def search(self, request: Request) -> Response:
        time.sleep(self.delay)
        return super().search(request)


@pytest.fixture
def memos(httpserver) -> SlowMemOS:
    return SlowMemOS(httpserver)


@pytest.fixture
def instances(app_factory, httpserver, redis_server, live_server):
    """Build two instances on one Redis (the same settings, two servers)."""

    def build(count: int = 2, **settings):
        return [live_server(app=upstream_app(
            app_factory, httpserver.url_for(PREFIX), SHARED_STORE_URL=redis_server.url,
            MEMOS_TIMEOUT=2, MEMOS_DEADLINE=5, RATE_LIMIT="0", MEMORY_MAX_PAGES=MAX_PAGES,
            **settings)) for _ in range(count)]

    return build


def open_panel(server, **extra) -> requests.Response:
    return requests.get(f"{server.url}/chat/memories?{ids(**extra)}", headers=HX, timeout=15)


def search(server, query="trip") -> requests.Response:
    return requests.get(f"{server.url}/chat/memories/search?{ids(q=query)}", headers=HX,
                        timeout=15)


def together(*calls) -> list:
    """Run ``calls`` at once, each in its own thread; their results, in order."""
    results: list = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(number: int) -> None:
        start.wait()
        results[number] = calls[number]()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def answer_key(server, read=PAGES) -> str:
    """The Redis key of the panel's answer to ``read`` on ``server``'s instance."""
    return server.app.extensions["memories"].shared.shared._key("answer", *read)


def genuine(value, read=PAGES, generation=1) -> bytes:
    return encode_answer(Answer(generation, value=value), read, MEMORY_CODEC)


def a_page(*facts, **fields) -> dict:
    return {"memory_detail_list": list(facts), "total": len(facts), "size": 50, "current": 1,
            "pages": 1, **fields}


def pass_of(*facts):
    return [memory_page_from_api(a_page(*facts))]


def with_body(**changes) -> bytes:
    """A genuine pass of a forged memory, with the body's fields changed."""
    body = json.loads(genuine(pass_of(fact("forged"))))
    return json.dumps({**body, **changes}).encode()


def with_memory(**changes) -> bytes:
    """A genuine pass of a forged memory, with fields of its one memory changed."""
    body = json.loads(genuine(pass_of(fact("forged"))))
    names = list(FIELDS[Memory])
    memory = body["pages"][0][0][0]
    for name, value in changes.items():
        memory[names.index(name)] = value
    return json.dumps(body).encode()


def message_answer() -> bytes:
    """A live read's answer (a list of messages) naming the panel's read."""
    message = Message("user", (), None, None, False, {}, "forged", None)
    return encode_answer(Answer(1, value=[message]), PAGES)


HOSTILE = {
    "not JSON": b"\xff\xfe not json",
    "JSON but not an object": b"[1, 2, 3]",
    "a live read's answer": message_answer(),
    "another format version": with_body(format="memory-pages/2"),
    "a format as a number": with_body(format=1),
    "another read's answer": with_body(read=["pages", "someone-else", MAX_PAGES]),
    "no generation": with_body(generation=None),
    "a boolean generation": with_body(generation=True),
    "pages not a list": with_body(pages={"0": []}),
    "no pages at all": with_body(pages=[]),
    "more pages than asked": with_body(pages=json.loads(genuine(
        pass_of(fact("forged")) * (MAX_PAGES + 1)))["pages"]),
    "a page of the wrong arity": with_body(pages=[[[], [], [], []]]),
    "a text that is a number": with_memory(memory_key=7),
    "a confidence over one": with_memory(confidence=2.5),
    "a confidence as text": with_memory(confidence="0.5"),
    "a confidence as a boolean": with_memory(confidence=True),
    "a time without its zone": with_memory(created_at="2026-03-02T09:00:00"),
    "a time outside every zone's calendar": with_memory(
        created_at="0001-01-01T00:00:00+00:01"),
    "a time that is not one": with_memory(created_at="yesterday"),
    "too many tags": with_memory(tags=["t"] * (MAX_LIST_ITEMS + 1)),
    "a tag that is an object": with_memory(tags=[{"tag": "t"}]),
    "a source nested instead": with_memory(sources=[[[[["user"]]]]]),
    "deeply nested": b'{"format": "memory-pages/1", "pages": ' + b"[" * 100_000,
    "a kind's error": with_body(pages=None, error={"kind": "SystemExit"}),
}


# --- hostile values under our keys ---------------------------------------------------------

@pytest.mark.parametrize("planted", list(HOSTILE.values()), ids=list(HOSTILE))
def test_anything_not_exactly_ours_in_redis_is_ignored(memos, instances, redis_server, planted,
                                                       collector_off):
    memos.facts = [fact("mine")]
    [server] = instances(1)
    key = answer_key(server)
    client = redis.Redis.from_url(redis_server.url)
    client.set(key, planted, px=60_000)
    response = open_panel(server)
    assert response.status_code == 200
    assert shown_keys(response.text) == ["key mine"] and "forged" not in response.text
    assert len(memos.calls(MEMORY)) == 1  # the reader made its own call...
    stored = json.loads(client.get(key))  # ...and its answer replaced what was there
    assert stored["format"] == MEMORY_FORMAT and stored["read"] == list(PAGES)


def test_a_huge_value_is_never_taken_nor_sent_over(memos, instances, redis_server,
                                                   monkeypatch):
    monkeypatch.setattr(sharing, "MAX_ANSWER_BYTES", 64 * 1024)
    memos.facts = [fact("mine")]
    [server] = instances(1)
    key = answer_key(server)
    huge = genuine(pass_of(fact("forged", memory_value="x" * 100 * 1024)))
    assert decode_answer(huge, PAGES, MEMORY_CODEC) is not None  # ours, but too large
    client = redis.Redis.from_url(redis_server.url)
    client.set(key, huge, px=60_000)
    response = open_panel(server)
    assert shown_keys(response.text) == ["key mine"] and len(memos.calls(MEMORY)) == 1


def test_a_key_of_another_type_is_ignored(memos, instances, redis_server):
    memos.facts = [fact("mine")]
    [server] = instances(1)
    client = redis.Redis.from_url(redis_server.url)
    client.hset(answer_key(server), "field", "forged")
    response = open_panel(server)
    assert response.status_code == 200 and shown_keys(response.text) == ["key mine"]


def test_hostile_search_answers_are_ignored(memos, instances, redis_server):
    memos.found = {"memory_detail_list": [fact("found")]}
    [server] = instances(1)
    client = redis.Redis.from_url(redis_server.url)
    key = answer_key(server, SEARCH_READ)
    # Another search's answer, a pass (a list of pages) where one page belongs, garbage.
    other_search = ("search", USER, CONVERSATION, "another query")
    for planted in (genuine(pass_of(fact("forged"))[0], other_search),
                    with_body(read=list(SEARCH_READ)), b"[" * 100_000):
        client.set(key, planted, px=60_000)
        response = search(server)
        assert response.status_code == 200
        assert shown_keys(response.text) == ["key found"] and "forged" not in response.text
    assert len(memos.calls(SEARCH)) == 3


def test_memory_and_message_answers_never_read_as_each_other(memos, instances, collector_off):
    [server] = instances(1)
    app = server.app
    live = app.extensions["live_reads"].shared
    panel = app.extensions["memories"].shared.shared
    # Their keys are apart, even for a read naming the same parts...
    assert live._key("answer", *PAGES) != panel._key("answer", *PAGES)
    assert live._key("answer", *PAGES).startswith("memos-viewer:reads:answer:")
    assert panel._key("answer", *PAGES).startswith("memos-viewer:reads:memories:answer:")
    # ...and either's answer, if it were found under the other's key, is refused.
    assert decode_answer(message_answer(), PAGES, MEMORY_CODEC) is None
    assert decode_answer(genuine(pass_of(fact("m"))), PAGES) is None


def test_the_codec_writes_every_field_the_panel_reads_and_reads_it_back():
    everything = a_page(
        fact("m", relativity=0.5, sources=[{"type": "chat", "role": "user",
                                            "chat_time": "2026-03-02 09:00:00",
                                            "content": "hi", "message_id": "x"}]),
        preference_detail_list=[preference("p")],
        tool_memory_detail_list=[{"id": "t", "tool_type": "ToolTrajectoryMemory",
                                  "tool_value": "v", "experience": "e",
                                  "tool_used_status": [{"used_tool": "grep",
                                                        "success_rate": 0.5}]}],
        skill_detail_list=[{"id": "s", "skill_value": {"name": "n", "description": "d",
                                                       "procedure": "p", "experience": ["x"],
                                                       "preference": ["y"], "examples": ["z"]},
                            "confidence": 1, "tags": ["t"], "skill_url": "u"}],
        preference_note="note")
    page = memory_page_from_api(everything)
    for read, value in ((PAGES, [page]), (SEARCH_READ, page)):
        back = decode_answer(genuine(value, read), read, MEMORY_CODEC).value
        assert back == value
        # compare=False fields too: every field but those not shared.
        for original, copy in zip(_records(value), _records(back), strict=True):
            for field in dataclasses.fields(original):
                if field.name not in NOT_SHARED and not dataclasses.is_dataclass(
                        getattr(original, field.name)):
                    assert getattr(copy, field.name) == getattr(original, field.name)
    for cls, fields in FIELDS.items():
        assert set(fields) | NOT_SHARED >= {field.name for field in dataclasses.fields(cls)}
        assert set(fields) <= {field.name for field in dataclasses.fields(cls)}


def _records(value):
    """Every dataclass in ``value``, depth first."""
    if dataclasses.is_dataclass(value):
        yield value
        for field in dataclasses.fields(value):
            yield from _records(getattr(value, field.name))
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _records(item)


# --- sharing across instances ----------------------------------------------------------------

def test_concurrent_opens_on_two_instances_make_one_pass(memos, instances, redis_server):
    memos.delay = 0.2
    memos.facts = [fact(f"f{n}", n % 60) for n in range(MAX_PAGES * 50 + 10)]  # more than 4
    first, second = instances()
    answers = together(*[lambda server=server: open_panel(server)
                         for server in (first, second) * 6])
    assert [answer.status_code for answer in answers] == [200] * 12
    assert len({tuple(shown_keys(answer.text)) for answer in answers}) == 1
    assert len(shown_keys(answers[0].text)) == MAX_PAGES * 50
    assert [call["page"] for call in memos.calls(MEMORY)] == [1, 2, 3, 4]  # one pass for 12
    calls = [server.app.extensions["memories"].shared.calls for server in (first, second)]
    assert sorted(calls) == [0, 1]  # one instance made it; the other took its answer
    keys = redis.Redis.from_url(redis_server.url).keys("memos-viewer:reads:memories:answer:*")
    assert len(keys) == 1


def test_a_search_is_shared_across_instances(memos, instances):
    memos.delay = 0.3
    memos.found = {"memory_detail_list": [fact("here", relativity=0.5),
                                          fact("there", conversation=OTHER, relativity=0.2)]}
    first, second = instances()
    answers = together(*[lambda server=server: search(server) for server in (first, second) * 4])
    assert [answer.status_code for answer in answers] == [200] * 8
    assert {tuple(shown_keys(answer.text)) for answer in answers} == {("key here", "key there")}
    assert len(memos.calls(SEARCH)) == 1
    search(first, "another query")
    assert len(memos.calls(SEARCH)) == 2  # a search is shared only with the same search


def test_other_memos_accounts_never_share_memory_answers(memos, app_factory, httpserver,
                                                         redis_server, live_server):
    memos.facts = [fact("m")]
    servers = [live_server(app=upstream_app(
        app_factory, httpserver.url_for(PREFIX), SHARED_STORE_URL=redis_server.url,
        MEMOS_API_KEY=key, RATE_LIMIT="0")) for key in ("key-a", "key-b")]
    for server in servers:
        assert shown_keys(open_panel(server).text) == ["key m"]
    assert len(memos.calls(MEMORY)) == 2


def test_a_failure_goes_to_the_readers_that_waited_on_any_instance_and_no_further(
        memos, instances):
    memos.delay = 0.4
    memos.facts = [fact("back")]
    memos.memory_failure = Response(envelope(None, code=50000),
                                    content_type="application/json")
    first, second = instances()
    answers = together(*[lambda server=server: open_panel(server)
                         for server in (first, second) * 4])
    assert [answer.status_code for answer in answers] == [502] * 8
    assert all("Memories could not be loaded" in answer.text for answer in answers)
    assert len(memos.calls(MEMORY)) == 1  # those that waited, here and there, took its failure
    memos.memory_failure = None
    memos.delay = 0.0
    # "Try again", at once (well within the two seconds an answer is shared), on either.
    for server, calls in ((second, 2), (first, 2)):
        retry = open_panel(server)
        assert retry.status_code == 200 and shown_keys(retry.text) == ["key back"]
        assert len(memos.calls(MEMORY)) == calls  # the second took the first's good answer


def test_a_failure_kept_in_redis_is_not_taken_by_a_later_reader(memos, instances, redis_server):
    memos.facts = [fact("fine")]
    [server] = instances(1)
    key = answer_key(server)
    failed = encode_answer(Answer(1, error=UpstreamUnavailableError()), PAGES, MEMORY_CODEC)
    redis.Redis.from_url(redis_server.url).set(key, failed, px=60_000)
    response = open_panel(server)
    assert response.status_code == 200 and shown_keys(response.text) == ["key fine"]
    assert len(memos.calls(MEMORY)) == 1


def test_redis_down_each_process_shares_its_own_reads(memos, instances, redis_server, store_log):
    memos.delay = 0.2
    memos.facts = [fact("m", sources=[])]
    first, second = instances()
    redis_server.stop()
    answers = together(*[lambda server=server: open_panel(server)
                         for server in (first, second) * 4])
    assert [answer.status_code for answer in answers] == [200] * 8
    assert all(shown_keys(answer.text) == ["key m"] for answer in answers)
    assert len(memos.calls(MEMORY)) == 2  # one pass per process
    for server in (first, second):
        page = requests.get(f"{server.url}/chat?{ids(panel='memories')}", timeout=15)
        assert page.status_code == 200 and "line 5" in page.text and "key m" in page.text
    assert "unreachable" in store_log.text


def test_readers_that_waited_take_its_failure_back_from_redis_once(redis_server):
    """Without keep_errors, readers of one process that waited for a call read its failure
    back from Redis: they take it, rather than each calling again in turn."""
    from viewer.shared_store import SharedStore

    calls = []

    def fetch(key):
        calls.append(key)
        time.sleep(0.3)
        if len(calls) == 1:
            raise UpstreamUnavailableError()
        return "fine"

    reads = SharedReads(None, ttl=5, wait=5, store=SharedStore(redis_server.url), scope="s",
                        fetch=fetch, keep_errors=False, codec=sharing.Codec(
                            ("test",), "test/1", "value", lambda value, key: value,
                            lambda value, key: value))
    outcomes = together(*[lambda: _outcome(reads, ("k",))] * 6)
    assert outcomes == ["UpstreamUnavailableError"] * 6 and len(calls) == 1
    assert reads.read(("k",)) == "fine" and len(calls) == 2
    assert reads.read(("k",)) == "fine" and len(calls) == 2


def _outcome(reads, key):
    try:
        return reads.read(key)
    except UpstreamUnavailableError as error:
        return type(error).__name__


def test_live_reads_keep_their_layout_and_keys_byte_for_byte(instances):
    """Instances of the release before this one share Redis during a rolling upgrade."""
    said = Message("user", (ContentPart("text", "héllo"),),
                   datetime(2026, 3, 1, 10, tzinfo=UTC), None, False, {"k": 1},
                   "héllo", "2026-03-01 10:00:00")
    assert encode_answer(Answer(3, value=[said]), ("u", "c", 9)) == (
        '{"format":1,"read":["u","c",9],"generation":3,"messages":[["user",[["text","héllo"]],'
        '"2026-03-01T10:00:00+00:00",null,false,{"k":1},"héllo","2026-03-01 10:00:00"]]}'
    ).encode()
    [server] = instances(1)
    live = server.app.extensions["live_reads"].shared
    assert live._key("answer", "u", "c", 9) == "memos-viewer:reads:answer:" + \
        live.store.digest(live.scope, "u", "c", "9")
