"""The memory panel, server side: what it reads, how it groups and bounds what MemOS sent, where
its failures go, who may see it, and what it costs upstream.

The upstream is a real loopback HTTP server (pytest-httpserver) playing MemOS: ``/get/message``
answers a small conversation, ``/get/memory`` pages of memories of several conversations (as
the cloud does: a user's, not a conversation's), ``/search/memory`` ranked results. Its request
log is what counts the upstream calls.
"""

from __future__ import annotations

import html as html_lib
import json
import re
import threading
import time
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from markupsafe import escape
from reading import READING_CONVERSATION_ID, READING_MEMORIES, READING_USER_ID, seed
from upstream_apps import upstream_app
from werkzeug import Request, Response

from viewer.access import sign
from viewer.observability import TimedSource
from viewer.settings import ConfigError
from viewer.sharing import SharedReads
from viewer.validation import MAX_QUERY_LENGTH, read_query

PREFIX = "/api/openmem/v1"
MESSAGES = PREFIX + "/get/message"
MEMORY = PREFIX + "/get/memory"
SEARCH = PREFIX + "/search/memory"
HX = {"HX-Request": "true"}
SECRET = "an-embed-secret-that-is-long-enough-32b"
USER, CONVERSATION, OTHER = "u", "c", "elsewhere"
MARCH_2 = 1772409600000  # 2026-03-02 00:00:00 UTC, in epoch milliseconds


def envelope(data: object, code: int = 0) -> str:
    return json.dumps({"code": code, "data": data, "message": "ok"})


def said(minute: int) -> str:
    return f"2026-03-02 09:{minute:02d}:00"


CHAT = [{"role": "user" if n % 2 == 0 else "assistant", "content": f"line {n}",
         "chat_time": said(n)} for n in range(6)]


def quote(n: int) -> dict:
    """CHAT[n] as a memory's source quotes it."""
    return {"type": "chat", "role": CHAT[n]["role"], "chat_time": CHAT[n]["chat_time"],
            "content": CHAT[n]["content"]}


def fact(name: str, minute: int = 0, conversation: str = CONVERSATION, **fields) -> dict:
    return {"id": name, "memory_key": f"key {name}", "memory_value": f"value {name}",
            "memory_type": "LongTermMemory", "conversation_id": conversation,
            "create_time": MARCH_2 + minute * 60_000, "update_time": MARCH_2 + minute * 60_000,
            "confidence": 0.8, "tags": ["tag"], "status": "activated", **fields}


def preference(name: str, minute: int = 0, conversation: str = CONVERSATION, **fields) -> dict:
    return {"id": name, "preference": f"prefers {name}", "preference_type": "explicit_preference",
            "reasoning": f"because {name}", "conversation_id": conversation,
            "create_time": MARCH_2 + minute * 60_000, **fields}


class FakeMemOS:
    """What the httpserver answers: the conversation, and the user's memories in pages."""

    def __init__(self, httpserver) -> None:
        self.server = httpserver
        self.facts: list = []
        self.preferences: list = []
        self.tools: list = []
        self.skills: list = []
        self.found: dict = {"memory_detail_list": [], "preference_detail_list": []}
        self.delay = 0.0
        self.memory_failure: Response | None = None
        httpserver.expect_request(MESSAGES, method="POST").respond_with_data(
            envelope({"message_detail_list": CHAT}), content_type="application/json")
        httpserver.expect_request(MEMORY, method="POST").respond_with_handler(self.pages)
        httpserver.expect_request(SEARCH, method="POST").respond_with_handler(self.search)

    def pages(self, request: Request) -> Response:
        time.sleep(self.delay)
        if self.memory_failure is not None:
            return self.memory_failure
        body = request.get_json()
        page, size = body["page"], body["size"]
        lists = {"memory_detail_list": self.facts, "preference_detail_list": self.preferences,
                 "tool_memory_detail_list": self.tools, "skill_detail_list": self.skills}
        total = max(len(items) for items in lists.values())
        data = {key: items[(page - 1) * size:page * size] for key, items in lists.items()}
        data |= {"total": total, "size": size, "current": page, "pages": -(-total // size)}
        return Response(envelope(data), content_type="application/json")

    def search(self, request: Request) -> Response:
        return Response(envelope(self.found), content_type="application/json")

    def calls(self, path: str) -> list[dict]:
        return [json.loads(request.get_data()) for request, _ in self.server.log
                if request.path == path]


@pytest.fixture
def memos(httpserver) -> FakeMemOS:
    return FakeMemOS(httpserver)


@pytest.fixture
def build(app_factory, httpserver):
    def make(**settings):
        return upstream_app(app_factory, httpserver.url_for(PREFIX),
                            **{"MEMOS_TIMEOUT": 1, "RATE_LIMIT": "0", **settings})
    return make


@pytest.fixture
def client(build):
    return build().test_client()


def ids(**extra) -> str:
    query = {"user_id": USER, "conversation_id": CONVERSATION, **extra}
    return "&".join(f"{key}={value}" for key, value in query.items())


def panel(client, **extra):
    return client.get(f"/chat/memories?{ids(**extra)}", headers=HX)


def text(response) -> str:
    return response.get_data(as_text=True)


def shown_keys(html: str) -> list[str]:
    return [html_lib.unescape(key) for key in
            re.findall(r'<p class="memory__key" dir="auto">([^<]*)</p>', html)]


def groups(html: str) -> list[str]:
    return re.findall(r'class="memory-group memory-group--(\w+)"', html)


# --- what the panel shows --------------------------------------------------------------------

def test_the_panel_groups_this_conversations_memories_by_kind_newest_first(memos, client):
    memos.facts = [fact("old", 1), fact("new", 30), fact("theirs", 40, conversation=OTHER),
                   fact("middle", 10)]
    memos.preferences = [preference("tea", 5), preference("coffee", 7, conversation=OTHER)]
    memos.tools = [{"id": "t1", "tool_type": "ToolTrajectoryMemory", "tool_value": "weather",
                    "experience": "ask the city first", "conversation_id": CONVERSATION,
                    "tool_used_status": [{"used_tool": "get_weather"}]}]
    memos.skills = [{"id": "s1", "skill_value": {"name": "Plan trips", "description": "how",
                                                 "procedure": "step by step"},
                     "conversation_id": CONVERSATION, "tags": ["travel"]}]
    response = panel(client)
    html = text(response)
    assert response.status_code == 200
    assert groups(html) == ["fact", "preference", "tool", "skill"]
    assert shown_keys(html) == ["key new", "key middle", "key old", "Plan trips"]
    assert "prefers tea" in html and "because tea" in html and "coffee" not in html
    assert "theirs" not in html
    assert "weather" in html and "ask the city first" in html and "get_weather" in html
    assert '<meter class="memory__meter" min="0" max="1" value="0.8"' in html
    assert "Confidence 80%" in html
    assert 'datetime="2026-03-02T08:30:00+08:00"' in html  # "new": 00:30 UTC, in Beijing time
    assert "Mar 2, 2026, 8:30" in html


def test_the_panel_is_in_the_readers_language(memos, client):
    memos.facts = [fact("one", 1)]
    html = text(panel(client, lang="zh-Hans"))
    assert "事实" in html and "记忆" in html and "置信度 80%" in html
    assert "2026年3月2日" in html


def test_an_empty_conversation_says_so(memos, client):
    memos.facts = [fact("theirs", conversation=OTHER)]
    html = text(panel(client))
    assert "holds no memories of this conversation yet" in html and "memory-group" not in html


def test_paging_stops_at_the_last_page(memos, client):
    memos.facts = [fact(f"f{n}", n) for n in range(70)]  # two pages of 50
    html = text(panel(client))
    assert [call["page"] for call in memos.calls(MEMORY)] == [1, 2]
    assert all(call["size"] == 50 and call["user_id"] == USER for call in memos.calls(MEMORY))
    assert len(shown_keys(html)) == 70 and 'id="memories-more"' not in html


def test_paging_stops_at_memory_max_pages_and_says_more_may_exist(memos, build):
    memos.facts = [fact(f"f{n}", n, conversation=OTHER if n < 150 else CONVERSATION)
                   for n in range(200)]
    memos.facts.reverse()  # newest first, as MemOS pages them: this conversation's first
    html = text(panel(build(MEMORY_MAX_PAGES=2).test_client()))
    assert [call["page"] for call in memos.calls(MEMORY)] == [1, 2]
    assert len(shown_keys(html)) == 50
    more = re.search(r'<p class="memories__note" id="memories-more">([^<]*)</p>', html)
    assert more and "than the 2 pages read" in html_lib.unescape(more[1])


def test_a_memory_sent_on_two_pages_is_shown_once(memos, client):
    memos.facts = [fact(f"f{n}", n) for n in range(50)] + [fact("f49", 49)]
    assert shown_keys(text(panel(client))).count("key f49") == 1


def test_the_default_is_four_pages(memos, client):
    memos.facts = [fact(f"f{n}", n) for n in range(300)]
    html = text(panel(client))
    assert [call["page"] for call in memos.calls(MEMORY)] == [1, 2, 3, 4]
    assert "than the 4 pages read" in html and len(shown_keys(html)) == 200


# --- hostile and odd fields ------------------------------------------------------------------

HOSTILE = '<script>alert(1)</script><img src=x onerror=alert(2)>"\'&'
BIDI = "\u202eevil\u2066 txt.exe\u202c"


def test_hostile_keys_values_tags_and_types_are_text(memos, client):
    memos.facts = [fact("h", memory_key=HOSTILE, memory_value=f"{HOSTILE} {BIDI}",
                        tags=[HOSTILE, BIDI], memory_type=HOSTILE,
                        sources=[{"role": HOSTILE, "chat_time": said(1), "content": HOSTILE}])]
    memos.preferences = [preference("p", preference=HOSTILE, reasoning=HOSTILE,
                                    preference_type=BIDI)]
    html = text(panel(client))
    assert "<script" not in html and "<img" not in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 6
    # A bidirectional override stays inside its own element, which takes its direction alone.
    assert f'<p class="memory__value" dir="auto">{escape(HOSTILE)} {BIDI}</p>' in html
    assert f'<li dir="auto">{BIDI}</li>' in html


def test_a_huge_value_is_cut_and_the_panel_stays_small(memos, client):
    huge = "x" * 100_000
    memos.facts = [fact("big", memory_key=huge, memory_value=huge, tags=[huge] * 50,
                        sources=[{"role": "user", "chat_time": said(0), "content": huge}] * 50)]
    memos.preferences = [preference("big", preference=huge, reasoning=huge)]
    response = panel(client)
    html = text(response)
    assert response.status_code == 200
    assert len(html) < 20_000, len(html)
    assert "Shortened: the rest of this memory is too long to show." in html
    assert '<details class="memory__more">' in html and "<summary>More</summary>" in html
    assert html.count('<li dir="auto">') == 12  # tags: at most 12


@pytest.mark.parametrize("item", [
    {},
    {"id": "bare"},
    "just a string",
    42,
    None,
    ["a", "list"],
    {"memory_key": None, "memory_value": None, "conversation_id": CONVERSATION},
    {"memory_value": "no key", "conversation_id": CONVERSATION, "confidence": 7,
     "tags": "one tag", "create_time": "yesterday-ish", "sources": "a plain string",
     "memory_type": "SomethingNew"},
    {"memory_value": "odd types", "conversation_id": CONVERSATION, "confidence": "0.5",
     "tags": [None, 3, {"x": 1}], "update_time": -1, "sources": [None, 5, {"role": 7}]},
    {"metadata": {"memory": "open-source shape", "conversation_id": CONVERSATION,
                  "created_at": "2026-03-02T10:00:00Z", "confidence": 0.3}},
])
def test_odd_and_missing_fields_never_break_the_panel(memos, client, item):
    memos.facts = [item, fact("fine")]
    memos.preferences = [item]
    memos.tools = [item]
    memos.skills = [item]
    response = panel(client)
    html = text(response)
    assert response.status_code == 200 and "key fine" in html
    if isinstance(item, dict) and item.get("memory_value") == "no key":
        assert "yesterday-ish" in html and "SomethingNew" in html and "one tag" in html
        assert 'value="7"' not in html  # a confidence beyond 1 has no meter
    if isinstance(item, dict) and "metadata" in item:
        assert "open-source shape" in html and "Confidence 30%" in html


def test_two_items_with_the_same_id_and_content_have_one_element_id(memos, client):
    memos.facts = [fact("twin"), fact("twin"), fact("twin", memory_value="other")]
    html = text(panel(client))
    element_ids = re.findall(r'<li class="memory" id="([^"]+)"', html)
    assert len(element_ids) == len(set(element_ids)) == 2


# --- sources and marks -----------------------------------------------------------------------

def test_an_answers_source_reads_without_its_markdown_and_matches_as_sent(memos, client):
    markdown = "Then a **four nights** split:\n\n| Route | Class |\n|---|---|\n| `Porto` | 2nd |"
    typed = "I said **this** as typed"
    memos.facts = [fact("m", sources=[
        {"role": "assistant", "chat_time": said(1), "content": markdown},
        {"role": "user", "chat_time": said(2), "content": typed},
        {"role": "assistant", "chat_time": said(3), "content": "**" * 50_000}])]
    html = text(panel(client))
    quotes = [html_lib.unescape(q) for q in re.findall(
        r'<q class="memory__quote" dir="auto">([^<]*)</q>', html)]
    assert quotes[0].startswith("Then a four nights split:") and "**" not in quotes[0]
    assert "|" not in quotes[0] and "`" not in quotes[0]
    assert quotes[1] == typed  # a user's words, as typed
    assert len(quotes) == 2 or len(quotes[2]) <= 81  # marks alone: bounded, nothing or cut
    # What the page matches a source by stays the text as sent.
    assert 'data-quote="Then a **four nights** split:' in html


def test_sources_carry_what_the_page_matches_them_by(memos, client):
    memos.facts = [fact("m", sources=[quote(0), quote(1)])]
    html = text(panel(client))
    assert 'data-source="user|2026-03-02T09:00:00+08:00" data-quote="line 0"' in html
    assert 'data-source="assistant|2026-03-02T09:01:00+08:00" data-quote="line 1"' in html
    assert 'class="memory__source" href' not in html  # the fragment knows no message: the script


def test_the_page_with_the_panel_open_links_both_ways(memos, client):
    memos.facts = [fact("m", 5, sources=[quote(0), quote(3)]), fact("n", 1, sources=[quote(3)])]
    response = client.get(f"/chat?{ids(panel='memories')}")
    html = text(response)
    assert response.status_code == 200
    sources = re.findall(r'class="memory__source" href="#(m-[0-9a-f]{12})"', html)
    assert len(sources) == 3 and all(f'id="{element_id}"' in html for element_id in sources)
    first, fourth = sources[0], sources[1]
    marks = {element_id: mark[1] for element_id, body in re.findall(
        r'<article [^>]*id="(m-[0-9a-f]{12})"[^>]*>(.*?)</article>', html, re.S)
        for mark in [re.search(r'class="message__remembered no-print" href="#([^"]+)"', body)]
        if mark}
    anchors = re.findall(r'<li class="memory" id="([^"]+)"', html)
    assert marks == {first: anchors[0], fourth: anchors[0]}  # the newest memory naming it
    assert "Remembered in 2 memories" in html and "Remembered in 1 memory" in html


def test_of_two_messages_alike_in_role_and_time_the_text_decides(httpserver, memos, build):
    twins = [{"role": "user", "content": "first words", "chat_time": said(9)},
             {"role": "user", "content": "second words", "chat_time": said(9)}]
    httpserver.clear_all_handlers()
    httpserver.expect_request(MESSAGES).respond_with_data(
        envelope({"message_detail_list": twins}), content_type="application/json")
    httpserver.expect_request(MEMORY).respond_with_handler(memos.pages)
    memos.facts = [fact("m", sources=[{"role": "user", "chat_time": said(9),
                                       "content": "second words"}])]
    html = text(build().test_client().get(f"/chat?{ids(panel='memories')}"))
    [target] = re.findall(r'class="memory__source" href="#(m-[0-9a-f]{12})"', html)
    article = re.search(rf'<article [^>]*id="{target}".*?</article>', html, re.S)[0]
    assert "second words" in article and "message__remembered" in article


def test_pages_without_the_panel_are_as_before(memos, client):
    memos.facts = [fact("m", sources=[quote(0)])]
    html = text(client.get(f"/chat?{ids()}"))
    assert "message__remembered" not in html and 'id="memories-slot" class="memories-slot">' \
        '</div>' in html


# --- failures stay in the panel --------------------------------------------------------------

@pytest.mark.parametrize("failure, status, phrase", [
    (Response("down", 503), 503, "unavailable"),
    (Response(envelope(None, code=50000), content_type="application/json"), 502,
     "internal error"),
    (Response(envelope({"nothing": "here"}), content_type="application/json"), 502,
     "no memory list"),
    (Response("{not json", content_type="application/json"), 502, "not JSON"),
])
def test_a_memory_failure_stays_in_the_panel(memos, client, failure, status, phrase):
    memos.memory_failure = failure
    response = panel(client)
    html = text(response)
    assert response.status_code == status
    assert "HX-Retarget" not in response.headers  # it goes where the panel goes
    assert 'id="memories"' in html and 'role="alert"' in html and phrase in html
    assert "Memories could not be loaded" in html
    retry = re.search(r'class="alert__retry" href="([^"]+)" data-hx-get="([^"]+)"', html)
    assert retry and "/chat/memories?" in html_lib.unescape(retry[2])
    assert "panel=memories" in html_lib.unescape(retry[1])
    # The conversation does not break because its memories did.
    page = client.get(f"/chat?{ids()}")
    assert page.status_code == 200 and "line 5" in text(page)
    with_panel = client.get(f"/chat?{ids(panel='memories')}")
    assert with_panel.status_code == 200
    assert "line 5" in text(with_panel) and "Memories could not be loaded" in text(with_panel)


def test_failing_memories_never_open_the_breaker_on_the_conversation(memos, build):
    memos.memory_failure = Response("down", 503)
    client = build(MEMOS_BREAKER_FAILURES=2).test_client()
    for _ in range(4):
        assert panel(client).status_code == 503
    page = client.get(f"/chat?{ids()}")
    assert page.status_code == 200 and "line 5" in text(page)


def test_a_slow_memory_answer_times_out_inside_the_panel(memos, build):
    memos.delay = 1.5
    response = panel(build(MEMOS_TIMEOUT=0.5, MEMOS_DEADLINE=1).test_client())
    assert response.status_code == 504 and "Memories could not be loaded" in text(response)


def test_a_search_failure_stays_in_its_results(httpserver, memos, client):
    httpserver.clear_all_handlers()
    httpserver.expect_request(SEARCH).respond_with_response(Response("down", 503))
    response = client.get(f"/chat/memories/search?{ids(q='trip')}", headers=HX)
    html = text(response)
    assert response.status_code == 503 and "The search could not be done" in html
    assert 'id="memory-results-title"' in html and "Try again" in html


def test_the_conversation_failing_does_not_take_the_panel_with_it(httpserver, memos, build):
    httpserver.clear_all_handlers()
    httpserver.expect_request(MESSAGES).respond_with_response(Response("down", 503))
    httpserver.expect_request(MEMORY).respond_with_handler(memos.pages)
    memos.facts = [fact("still here")]
    response = build().test_client().get(f"/chat?{ids(panel='memories')}")
    assert response.status_code == 503 and "key still here" in text(response)


# --- cost: no call before the panel opens, one pass shared -----------------------------------

def test_no_memory_call_before_the_panel_opens(memos, build):
    memos.facts = [fact("m", sources=[quote(0)])]
    client = build(LIVE_POLL_SECONDS=15).test_client()
    page = text(client.get(f"/chat?{ids()}"))
    client.get(f"/embed?{ids()}")
    client.get(f"/chat/export?{ids(format='md')}")
    client.get(f"/chat/newer?{ids(after='0')}", headers=HX)
    assert memos.calls(MEMORY) == [] and memos.calls(SEARCH) == []
    assert "memories.js" not in page.split('id="memories-toggle"')[0]  # not a <script> of its own
    assert '<script src="/static/memories' not in page
    panel(client)
    assert len(memos.calls(MEMORY)) == 1 and memos.calls(SEARCH) == []


def test_concurrent_readers_share_one_pass(memos, build, live_server):
    import requests

    memos.delay = 0.3
    memos.facts = [fact(f"f{n}", n) for n in range(60)]
    server = live_server(app=build())
    answers = []

    def read() -> None:
        answers.append(requests.get(f"{server.url}/chat/memories?{ids()}", headers=HX,
                                    timeout=10))

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [answer.status_code for answer in answers] == [200] * 8
    assert len({len(shown_keys(answer.text)) for answer in answers}) == 1
    assert [call["page"] for call in memos.calls(MEMORY)] == [1, 2]  # one pass for eight


def test_memory_reads_are_timed_and_held_to_the_deadline(memos, build):
    memos.facts = [fact("m")]
    app = build()
    source = app.extensions["memos_source"]
    assert isinstance(source, TimedSource)
    with app.test_request_context("/chat/memories"):
        from flask import g

        g.deadline = time.monotonic() + 60
        source.get_memory(USER, 1, 50)
        source.search_memory("x", USER)
        assert g.upstream_calls == 2 and g.upstream_seconds > 0
        g.deadline = time.monotonic() - 1
        from memos_api import UpstreamTimeoutError

        with pytest.raises(UpstreamTimeoutError):
            source.get_memory(USER, 1, 50)
    assert len(memos.calls(MEMORY)) == 1


def test_shared_reads_share_any_keyed_read():
    calls = []

    def fetch(key):
        calls.append(key)
        return f"answer to {key}"

    shared = SharedReads(None, ttl=60, wait=5, fetch=fetch)
    assert shared.read(("a", 1)) == "answer to ('a', 1)"
    assert shared.read(("a", 1)) == "answer to ('a', 1)"
    assert shared.read(("a", 2)) == "answer to ('a', 2)"
    assert calls == [("a", 1), ("a", 2)] and shared.calls == 2


def test_an_error_goes_to_the_reads_that_waited_for_it_and_no_further():
    from memos_api import UpstreamUnavailableError

    calls = []

    def fetch(key):
        calls.append(key)
        time.sleep(0.2)
        if len(calls) == 1:
            raise UpstreamUnavailableError("down")
        return "fine"

    shared = SharedReads(None, ttl=60, wait=5, fetch=fetch, keep_errors=False)
    raised = []

    def read():
        try:
            shared.read(("key",))
        except UpstreamUnavailableError as error:
            raised.append(error)

    threads = [threading.Thread(target=read) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(raised) == 5 and len(calls) == 1
    assert shared.read(("key",)) == "fine" and len(calls) == 2  # at once: a read after it


def test_the_panel_is_rate_limited_with_the_conversation(memos, build):
    client = build(RATE_LIMIT="2/minute").test_client()
    assert client.get(f"/chat?{ids()}").status_code == 200
    assert panel(client).status_code == 200
    refused = panel(client)
    assert refused.status_code == 429 and refused.headers["HX-Retarget"] == "#memories-slot"
    assert 'id="memories"' in text(refused) and "Too many requests" in text(refused)
    search = client.get(f"/chat/memories/search?{ids(q='x')}", headers=HX)
    assert search.status_code == 429 and search.headers["HX-Retarget"] == "#memories-results"


# --- search ----------------------------------------------------------------------------------

def test_search_ranks_this_conversation_first_and_labels_the_others(memos, client):
    memos.found = {"memory_detail_list": [
        fact("here", relativity=0.00017), fact("there", conversation=OTHER, relativity=0.000085),
        fact("unscored")],
        "preference_detail_list": [preference("p", relativity=3.0)]}
    response = client.get(f"/chat/memories/search?{ids(q='lisbon trip')}", headers=HX)
    html = text(response)
    [call] = memos.calls(SEARCH)
    assert call["query"] == "lisbon trip" and call["conversation_id"] == CONVERSATION
    assert call["user_id"] == USER and call["memory_limit_number"] == 25
    assert shown_keys(html) == ["key here", "key there", "key unscored"]
    assert re.findall(r'class="memory__rank">No\. (\d+)', html) == ["1", "2", "3", "1"]
    meters = re.findall(r'Relevance <meter class="memory__meter" min="0" max="1" value="([^"]+)"',
                        html)
    assert meters == ["1.0", "0.5", "1.0"]  # against the best of its kind, not raw
    # What the meter shows, said to a screen reader in whole percent.
    assert re.findall(r'<span class="visually-hidden"> (\d+)% of the best result</span>',
                      html) == ["100", "50", "100"]
    assert html.count("From another conversation:") == 1 and f"<bdi>{OTHER}</bdi>" in html
    assert "Only this conversation" not in html


def test_the_search_form_works_without_javascript(memos, client):
    memos.found = {"memory_detail_list": [fact("found")]}
    memos.facts = [fact("listed")]
    answer = client.get(f"/chat/memories/search?{ids(q='found it', theme='dark')}")
    assert answer.status_code == 302
    target = urlsplit(answer.headers["Location"])
    assert target.path == "/chat"
    assert parse_qs(target.query) == {"user_id": [USER], "conversation_id": [CONVERSATION],
                                      "theme": ["dark"], "panel": ["memories"],
                                      "memory_search": ["found it"]}
    page = text(client.get(answer.headers["Location"]))
    assert "key found" in page and "key listed" in page
    assert 'value="found it"' in page  # the box keeps what was searched
    form = re.search(r'<form class="memories__search".*?</form>', page, re.S)[0]
    assert 'action="/chat/memories/search"' in form and 'method="get"' in form
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form))
    assert hidden == {"user_id": USER, "conversation_id": CONVERSATION, "theme": "dark"}


def test_an_empty_search_clears_the_results(memos, client):
    response = client.get(f"/chat/memories/search?{ids(q='   ')}", headers=HX)
    assert response.status_code == 200 and text(response).strip() == ""
    assert memos.calls(SEARCH) == []


@pytest.mark.parametrize("query, phrase", [
    ("x" * (MAX_QUERY_LENGTH + 1), "201 characters long; it can be at most 200"),
    ("two\nlines", "control characters"),
    ("nul\x00byte", "control characters"),
    ("escape\x1b[31m", "control characters"),
    ("evil\u202etxt", "change the direction of text"),
])
def test_a_bad_query_is_a_400_that_says_why(memos, client, query, phrase):
    from urllib.parse import quote as url_quote

    for headers in (HX, {}):
        response = client.get(f"/chat/memories/search?{ids()}&q={url_quote(query)}",
                              headers=headers)
        assert response.status_code == 400 and phrase in text(response)
    assert response.headers.get("HX-Retarget") is None
    fragment = client.get(f"/chat/memories/search?{ids()}&q={url_quote(query)}", headers=HX)
    assert fragment.headers["HX-Retarget"] == "#memories-results"
    page = client.get(f"/chat?{ids(panel='memories')}&memory_search={url_quote(query)}")
    assert page.status_code == 400 and phrase in text(page)
    assert memos.calls(SEARCH) == []


def test_read_query():
    from werkzeug.datastructures import MultiDict

    assert read_query(MultiDict()) is None and read_query(MultiDict({"q": "  "})) is None
    assert read_query(MultiDict({"q": "  里斯本 "})) == "里斯本"
    assert read_query(MultiDict({"memory_search": "x"}), "memory_search") == "x"
    assert read_query(MultiDict({"q": "y" * MAX_QUERY_LENGTH})) == "y" * MAX_QUERY_LENGTH


def test_a_chinese_search_of_the_local_store(app_factory):
    app = app_factory()
    store = app.extensions["memos_source"].source
    seed(store)
    store.add_memories(READING_USER_ID, [
        {"id": "zh", "memory_type": "UserMemory", "memory_key": "住宿",
         "memory_value": "在里斯本住阿尔法玛区的小旅馆", "tags": ["旅行"]}],
        conversation_id=READING_CONVERSATION_ID)
    client = app.test_client()
    query = f"user_id={READING_USER_ID}&conversation_id={READING_CONVERSATION_ID}"
    for words in ("里斯本", "阿尔法玛", "住"):  # three characters, more, and one
        html = text(client.get(f"/chat/memories/search?{query}&q={words}", headers=HX))
        assert "在里斯本住阿尔法玛区的小旅馆" in html, words
    html = text(client.get(f"/chat/memories/search?{query}&q=Kyoto", headers=HX))
    assert "Kyoto food markets" in html and "From another conversation:" in html


# --- access ----------------------------------------------------------------------------------

def token(**claims) -> str:
    return jwt.encode({"user_id": USER, "conversation_id": CONVERSATION,
                       "exp": int(time.time()) + 600, **claims}, SECRET, algorithm="HS256")


REFUSED = "This link does not grant what MemOS remembered of this conversation"
TURNED_OFF = "This viewer does not show what MemOS remembered of conversations."


def offers_panel(html: str) -> bool:
    return 'id="memories-toggle"' in html


@pytest.fixture
def signed(build):
    return build(EMBED_SECRET=SECRET).test_client()


def test_open_mode_offers_the_panel_on_pages_and_to_widgets_that_ask(memos, client):
    assert offers_panel(text(client.get(f"/chat?{ids()}")))
    assert not offers_panel(text(client.get(f"/embed?{ids()}")))
    widget = text(client.get(f"/embed?{ids(memories='1')}"))
    assert offers_panel(widget) and 'class="embed-bar"' in widget
    links = re.findall(r'(?:href|data-panel-url)="(/[^"]*)"', widget)
    assert links and all("memories=1" in link for link in map(html_lib.unescape, links)
                         if link.startswith(("/embed", "/chat")))
    fragment = text(client.get(f"/chat/memories?{ids(memories='1', layout='embed')}",
                               headers=HX))
    assert '<input type="hidden" name="layout" value="embed">' in fragment
    assert '<input type="hidden" name="memories" value="1">' in fragment


def test_a_widget_that_did_not_ask_has_no_panel(memos, client):
    for path in (f"/chat/memories?{ids(layout='embed')}",
                 f"/chat/memories/search?{ids(layout='embed', q='x')}",
                 f"/embed?{ids(panel='memories')}"):
        response = client.get(path, headers=HX if "memories?" in path else {})
        assert response.status_code == 403, path
    assert memos.calls(MEMORY) == [] and memos.calls(SEARCH) == []


@pytest.mark.parametrize("value", ["2", "yes", "true"])
def test_memories_must_be_0_or_1(client, value):
    response = client.get(f"/embed?{ids(memories=value)}")
    assert response.status_code == 400 and "memories must be 0" in text(response)


def test_panel_must_be_memories(client):
    response = client.get(f"/chat?{ids(panel='other')}")
    assert response.status_code == 400 and "panel must be memories" in text(response)


def test_memories_off_turns_the_panel_off_everywhere(memos, build):
    for client, grant in ((build(MEMORIES="off").test_client(), ids()),
                          (build(MEMORIES="off", EMBED_SECRET=SECRET).test_client(),
                           f"token={token(memories='user')}")):
        assert not offers_panel(text(client.get(f"/chat?{grant}")))
        for path in (f"/chat/memories?{grant}", f"/chat/memories/search?{grant}&q=x",
                     f"/chat?{grant}&panel=memories", f"/embed?{grant}&memories=1"):
            response = client.get(path, headers=HX if "/chat/memories" in path else {})
            assert response.status_code == 403 and TURNED_OFF in text(response), path
    assert memos.calls(MEMORY) == [] and memos.calls(SEARCH) == []


@pytest.mark.parametrize("claims", [{}, {"memories": False}], ids=["no claim", "false"])
def test_a_token_without_the_grant_refuses_every_memory_route(memos, signed, claims):
    grant = f"token={token(**claims)}"
    page = text(signed.get(f"/chat?{grant}"))
    assert "line 5" in page and not offers_panel(page)
    for path, headers in ((f"/chat/memories?{grant}", HX), (f"/chat/memories?{grant}", {}),
                          (f"/chat/memories/search?{grant}&q=x", HX),
                          (f"/chat?{grant}&panel=memories", {}),
                          (f"/embed?{grant}&memories=1", {})):
        response = signed.get(path, headers=headers)
        html = html_lib.unescape(text(response))
        assert response.status_code == 403, path
        assert REFUSED in html and "You can't see what MemOS remembered here" in html, path
    assert memos.calls(MEMORY) == [] and memos.calls(SEARCH) == []


def test_a_refused_fragment_stays_in_the_panel(memos, signed):
    response = signed.get(f"/chat/memories?token={token()}", headers=HX)
    assert response.status_code == 403 and response.headers["HX-Retarget"] == "#memories-slot"
    assert 'id="memories"' in text(response) and 'role="alert"' in text(response)


@pytest.mark.parametrize("claim", ["conversation", True])
def test_a_conversation_grant_covers_this_conversations_memories_only(memos, signed, claim):
    memos.facts = [fact("mine"), fact("theirs", conversation=OTHER)]
    memos.found = {"memory_detail_list": [fact("mine"), fact("theirs", conversation=OTHER)]}
    grant = f"token={token(memories=claim)}"
    assert offers_panel(text(signed.get(f"/chat?{grant}")))
    html = text(signed.get(f"/chat/memories?{grant}", headers=HX))
    assert shown_keys(html) == ["key mine"]
    found = text(signed.get(f"/chat/memories/search?{grant}&q=key", headers=HX))
    assert shown_keys(found) == ["key mine"] and "theirs" not in found
    assert "From another conversation" not in found
    assert "Only this conversation's memories are shown" in html_lib.unescape(found)
    widget = text(signed.get(f"/embed?{grant}&memories=1"))
    assert offers_panel(widget)


def test_a_user_grant_covers_the_users_other_conversations_too(memos, signed):
    memos.facts = [fact("mine"), fact("theirs", conversation=OTHER)]
    memos.found = {"memory_detail_list": [fact("mine"), fact("theirs", conversation=OTHER)]}
    grant = f"token={token(memories='user')}"
    assert shown_keys(text(signed.get(f"/chat/memories?{grant}", headers=HX))) == ["key mine"]
    found = text(signed.get(f"/chat/memories/search?{grant}&q=key", headers=HX))
    assert shown_keys(found) == ["key mine", "key theirs"]
    assert "From another conversation:" in found and "Only this conversation" not in found


def test_a_token_for_one_conversation_cannot_read_anothers_memories(memos, signed):
    memos.facts = [fact("mine"), fact("theirs", conversation=OTHER)]
    for claim in ("conversation", "user"):
        grant = f"token={token(memories=claim)}"
        for extra in (f"&conversation_id={OTHER}", "&user_id=someone",
                      f"&user_id=someone&conversation_id={OTHER}"):
            for path in ("/chat/memories", "/chat/memories/search"):
                response = signed.get(f"{path}?{grant}{extra}&q=key", headers=HX)
                assert response.status_code == 403, (claim, extra, path)
                assert "theirs" not in text(response)
        # What it does show is its own conversation's, whatever else the user has.
        assert "theirs" not in text(signed.get(f"/chat/memories?{grant}", headers=HX))
    assert all(call["user_id"] == USER for call in memos.calls(MEMORY))


@pytest.mark.parametrize("claim", ["all", "User", 1, 0, ["user"], {"user": True}, None])
def test_an_unusable_memories_claim_is_refused(memos, signed, claim):
    response = signed.get(f"/chat?token={token(memories=claim)}")
    assert response.status_code == 403 and "unusable memories claim" in html_lib.unescape(
        text(response))


def test_embed_url_signs_the_grant(memos, build):
    app = build(EMBED_SECRET=SECRET)
    runner = app.test_cli_runner()
    for option, granted in ((["--memories"], "conversation"),
                            (["--memories", "conversation"], "conversation"),
                            (["--memories", "user"], "user"), ([], None)):
        result = runner.invoke(args=["embed-url", USER, CONVERSATION, *option])
        assert result.exit_code == 0, result.output
        url = result.stdout.strip()  # the link alone: its id is said on stderr
        claims = jwt.decode(parse_qs(urlsplit(url).query)["token"][0], SECRET,
                            algorithms=["HS256"])
        assert claims.get("memories") == granted
        assert ("&memories=1" in url) == bool(granted)
        path = url.removeprefix("http://127.0.0.1:5000")
        page = app.test_client().get(path)
        assert page.status_code == 200 and offers_panel(text(page)) == bool(granted)
    bad = runner.invoke(args=["embed-url", USER, CONVERSATION, "--memories", "everything"])
    assert bad.exit_code != 0 and "everything" in bad.output


def test_sign_puts_the_grant_in_the_token():
    claims = jwt.decode(sign("u", "c", SECRET, 30, memories="user"), SECRET,
                        algorithms=["HS256"])
    assert claims["memories"] == "user"


# --- settings --------------------------------------------------------------------------------

@pytest.mark.parametrize("settings, phrase", [
    ({"MEMORIES": "maybe"}, "MEMORIES must be on or off"),
    ({"MEMORIES": ""}, "MEMORIES must be on or off"),
    ({"MEMORY_MAX_PAGES": "0"}, "MEMORY_MAX_PAGES must be at least 1"),
    ({"MEMORY_MAX_PAGES": "21"}, "MEMORY_MAX_PAGES must be at most 20"),
    ({"MEMORY_MAX_PAGES": "two"}, "MEMORY_MAX_PAGES must be a whole number"),
])
def test_bad_memory_settings_stop_the_app(app_factory, settings, phrase):
    with pytest.raises(ConfigError, match=phrase):
        app_factory(**settings)


@pytest.mark.parametrize("value, expected", [("ON", "on"), (" off ", "off")])
def test_memories_setting_is_read_loosely(app_factory, value, expected):
    assert app_factory(MEMORIES=value).config["MEMORIES"] == expected


def test_the_demo_conversation_shows_its_memories(app_factory):
    client = app_factory().test_client()
    query = "user_id=demo-user&conversation_id=demo-conversation"
    html = text(client.get(f"/chat?{query}&panel=memories&limit=40"))
    assert "User&#39;s bank exports CSV in cp1252" in html
    linked = re.findall(r'class="memory__source" href="#(m-[0-9a-f]{12})"', html)
    assert linked and all(f'id="{element_id}"' in html for element_id in linked)
    assert html.count('class="message__remembered no-print"') >= 5


def test_the_reading_conversation_links_every_source_to_its_message(app_factory):
    app = app_factory()
    seed(app.extensions["memos_source"].source)
    query = f"user_id={READING_USER_ID}&conversation_id={READING_CONVERSATION_ID}"
    html = text(app.test_client().get(f"/chat?{query}&panel=memories&limit=100"))
    sources = sum(len(memory.get("sources", [])) for memory in READING_MEMORIES
                  if "conversation_id" not in memory)
    linked = re.findall(r'class="memory__source" href="#(m-[0-9a-f]{12})"', html)
    assert len(linked) == sources
    assert "Kyoto" not in html  # another conversation's memory


def test_the_benchmark_hook_times_the_panel():
    from benchmarks.memory_panel import panel_times

    times = panel_times(count=60, samples=1)
    assert 0 < times.fragment_best <= times.fragment_median < 5
    assert times.fragment_bytes > 60 * 500 and times.page_bytes > times.fragment_bytes
    assert times.upstream_calls == 2  # 60 memories: two pages of 50


def test_memory_reads_take_a_slot_as_message_reads_do(memos, build):
    memos.facts = [fact("never read")]
    app = build(MEMOS_MAX_IN_FLIGHT=1, MEMOS_DEADLINE=1)
    with app.extensions["memos_source"].source.bulkhead.slot():  # every slot taken
        response = panel(app.test_client())
    assert response.status_code in (429, 503)
    assert "Memories could not be loaded" in text(response)
    assert memos.calls(MEMORY) == []  # MemOS was not asked
    assert panel(app.test_client()).status_code == 200  # a slot free again: read
