"""Permalinks: each message's stable id, and ``?message=`` opening the window around it."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
from html import unescape
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
from page_text import texts
from test_history_fetches import CountingStore
from upstream_apps import upstream_app

from viewer.access import sign

ROOT = Path(__file__).resolve().parents[1]
SECRET = "permalink-tests-secret-0123456789abcdef"
HX = {"HX-Request": "true"}
CHAT = "/chat?user_id=u&conversation_id=c"
ARTICLE = re.compile(r"<article [^>]*>")
ID = re.compile(r' id="m-([0-9a-f]{12})"')


def add(store, count, conversation="c", start=0):
    store.add_messages("u", conversation, [
        {"role": "user" if n % 2 == 0 else "assistant", "content": f"message {n}",
         "chat_time": f"2026-01-01 10:{n // 60:02d}:{n % 60:02d}"}
        for n in range(start, start + count)])


def ids(page: str) -> list[str | None]:
    """Each message's id hex, in page order (None when it carries none)."""
    found = []
    for tag in ARTICLE.findall(page):
        match = ID.search(tag)
        found.append(match.group(1) if match else None)
    return found


def current(page: str) -> list[str]:
    """The texts of the messages marked aria-current."""
    return [text for tag, text in zip(ARTICLE.findall(page), texts(page), strict=True)
            if 'aria-current="true"' in tag]


def id_of(client, text: str, conversation: str = "c") -> str:
    """The id hex of the message with ``text``, read from a page that shows them all."""
    page = client.get(f"/chat?user_id=u&conversation_id={conversation}&limit=1000").text
    return dict(zip(texts(page), ids(page), strict=True))[text]


def attribute(page: str, name: str) -> str:
    return unescape(re.search(f'{name}="([^"]*)"', page).group(1))


@pytest.fixture
def small(app_factory):
    """An app with pages of 6 and a cap of 1000, on a store with 30 messages."""
    app = app_factory(CHAT_PAGE_SIZE=6, RATE_LIMIT="0")
    add(app.extensions["memos_source"], 30)
    return app


# --- the id ---------------------------------------------------------------------------------

def expected_id(role: str, text: str, created: str | None) -> str:
    """The id, computed here from its definition: sha256 of the JSON of role, parts, time."""
    payload = json.dumps([role, [["text", text]], created], ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def test_the_id_is_the_fingerprint_of_role_content_and_time(app):
    store = app.extensions["memos_source"]
    store.add_messages("u", "c", [
        {"role": "user", "content": "你好, world", "chat_time": "2026-01-01 10:00:00"},
        {"role": "assistant", "content": "second", "chat_time": "2026-01-01 10:00:01"}])
    page = app.test_client().get(CHAT).text
    # Naive times are Beijing time (MEMOS_TIMEZONE): the fingerprint holds the offset.
    assert ids(page) == [expected_id("user", "你好, world", "2026-01-01T10:00:00+08:00"),
                         expected_id("assistant", "second", "2026-01-01T10:00:01+08:00")]
    # Fixed vectors, worked out once by hand with hashlib: the definition may not drift.
    assert ids(page) == ["8bb046501b29", "438a0f6e2e89"]


def test_the_id_is_the_same_in_every_app_and_every_process(app_factory, tmp_path):
    seen = []
    for number in range(2):
        app = app_factory(MEMOS_LOCAL_DB=str(tmp_path / f"store-{number}.sqlite3"))
        add(app.extensions["memos_source"], 8)
        seen.append(ids(app.test_client().get(CHAT + "&limit=8").text))
    assert seen[0] == seen[1] and len(set(seen[0])) == 8
    # Another interpreter, with another string-hash seed: no hash() or id() in the id.
    program = ("from memos_api import message_from_api\n"
               "from viewer.history import element_id\n"
               "print(element_id(message_from_api({'role': 'user', 'content': 'message 0',"
               " 'chat_time': '2026-01-01 10:00:00'})))")
    result = subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True,
                            text=True, timeout=60, check=True,
                            env={**os.environ, "PYTHONHASHSEED": "12345"})
    assert result.stdout.strip() == "m-" + seen[0][0]


def test_identical_messages_share_an_id_so_only_the_newest_carries_it(app_factory):
    app = app_factory(CHAT_PAGE_SIZE=3)
    store = app.extensions["memos_source"]
    same = {"role": "user", "content": "ok", "chat_time": "2026-01-01 10:00:00"}
    store.add_messages("u", "c", [same, same, same, {"role": "assistant", "content": "sure",
                                                      "chat_time": "2026-01-01 10:00:01"}])
    client = app.test_client()
    page = client.get(CHAT + "&limit=4").text
    ok = expected_id("user", "ok", "2026-01-01T10:00:00+08:00")
    assert ids(page) == [None, None, ok, expected_id("assistant", "sure",
                                                     "2026-01-01T10:00:01+08:00")]
    # "Load earlier" brings the older copies without it: ids stay unique on the page.
    first = client.get(CHAT).text
    assert ids(first) == [None, ok, ids(page)[3]]
    older = client.get(attribute(first, "data-hx-get"), headers=HX).text
    assert ids(older) == [None]
    # A permalink to it marks the one that carries the id.
    linked = client.get(CHAT + f"&message={ok}").text
    assert ids(linked) == ids(page)
    assert 'aria-current="true"' in ARTICLE.findall(linked)[2]
    assert linked.count('aria-current="true"') == 1


def test_a_hostile_role_cannot_move_the_id_out_of_the_tag(app):
    role = 'x"><b id="m-000000000000">'
    app.extensions["memos_source"].add_messages("u", "c", [
        {"role": role, "content": "hi", "chat_time": "2026-01-01 10:00:00"}])
    page = app.test_client().get(CHAT).text
    [tag] = ARTICLE.findall(page)
    hexes = expected_id(role, "hi", "2026-01-01T10:00:00+08:00")
    assert tag.endswith(f' id="m-{hexes}">') and "<b " not in page


def test_messages_added_live_carry_their_ids(small):
    client = small.test_client()
    page = client.get(CHAT).text
    add(small.extensions["memos_source"], 2, start=30)
    time.sleep(small.extensions["live_reads"].ttl + 0.05)  # past the shared answer's life
    fresh = client.get(attribute(page, "data-live-url"), headers=HX)
    assert texts(fresh.text) == ["message 30", "message 31"]
    assert ids(fresh.text) == [id_of(client, "message 30"), id_of(client, "message 31")]


def test_ids_and_the_mark_do_not_reach_the_rendered_message_cache(small):
    client = small.test_client()
    target = id_of(client, "message 27")
    cache_info = small.jinja_env.globals["message_list"].cache_info
    linked = client.get(CHAT + f"&message={target}").text
    hits = cache_info().hits
    plain = client.get(CHAT).text
    assert cache_info().hits == hits + 6  # the newest six, formatted once, reused
    assert current(linked) == ["message 27"] and 'aria-current' not in plain
    assert ids(plain) == ids(linked)[-6:]
    again = client.get(CHAT + f"&message={target}").text
    assert again == linked


# --- the window around a message ------------------------------------------------------------

def test_an_older_message_opens_in_a_window_that_reaches_the_newest(small):
    client = small.test_client()
    target = id_of(client, "message 10")
    response = client.get(CHAT + f"&message={target}")
    assert response.status_code == 200
    page = response.text
    # A page before it (6), it, and everything after it to the newest.
    assert texts(page) == [f"message {n}" for n in range(4, 30)]
    assert current(page) == ["message 10"]
    assert f'id="m-{target}" aria-current="true" tabindex="-1"' in page
    assert 'id="message-not-found"' not in page
    # "Load earlier" goes on from the oldest shown, and reaches the start.
    older_url = attribute(page, "data-hx-get")
    assert "message=" not in older_url
    older = client.get(older_url, headers=HX).text
    assert texts(older) == [f"message {n}" for n in range(4)]
    assert 'id="conversation-start"' in older
    # Without JavaScript, one page more of the newest; live checks follow the newest shown.
    load_more = attribute(page, 'id="load-more" class="load-more" href')
    assert dict(parse_qsl(urlsplit(load_more).query))["limit"] == "32"
    assert "message=" not in attribute(page, "data-live-url")
    reload_url = attribute(page, 'class="live__check" href')
    assert dict(parse_qsl(urlsplit(reload_url).query)) == {
        "user_id": "u", "conversation_id": "c", "limit": "26"}


def test_a_message_near_the_start_shows_the_start(small):
    client = small.test_client()
    page = client.get(CHAT + f"&message={id_of(client, 'message 2')}").text
    assert texts(page)[0] == "message 0" and len(texts(page)) == 30
    assert 'id="conversation-start"' in page and 'id="load-more"' not in page


def test_the_newest_message_opens_a_page_and_limit_still_counts(small):
    client = small.test_client()
    target = id_of(client, "message 29")
    assert texts(client.get(CHAT + f"&message={target}").text) == [
        f"message {n}" for n in range(23, 30)]
    page = client.get(CHAT + f"&message={target}&limit=12").text
    assert len(texts(page)) == 12 and current(page) == ["message 29"]


@pytest.fixture
def local_store(tmp_path) -> CountingStore:
    """What ``memos_server`` serves: a store that records the limit of every read."""
    return CountingStore(tmp_path / "memos.sqlite3")


def test_the_window_is_read_in_one_call_as_wide_as_the_cap(app_factory, memos_server):
    app = upstream_app(app_factory, memos_server.base_url, MEMOS_API_KEY=memos_server.api_key,
                       MEMOS_MAX_LIMIT=20, CHAT_PAGE_SIZE=6)
    add(memos_server.store, 30)
    client = app.test_client()
    target = id_of(client, "message 12")
    memos_server.store.limits.clear()
    page = client.get(CHAT + f"&message={target}").text
    assert memos_server.store.limits == [20]
    assert texts(page) == [f"message {n}" for n in range(10, 30)]
    assert 'id="history-capped"' in page  # the oldest MemOS returns, and it may hold more


def test_a_message_beyond_the_cap_is_not_found_and_says_it_may_be_older(app_factory):
    app = app_factory(MEMOS_MAX_LIMIT=20, CHAT_PAGE_SIZE=6)
    add(app.extensions["memos_source"], 30)
    client = app.test_client()
    response = client.get(CHAT + "&message=" + expected_id(
        "user", "message 0", "2026-01-01T10:00:00+08:00"))
    assert response.status_code == 200
    assert texts(response.text) == [f"message {n}" for n in range(24, 30)]
    notice = re.search(r'<p class="permalink-missing" id="message-not-found" role="status">'
                       r"([^<]*)</p>", response.text).group(1)
    assert "older than the 20 most recent messages" in notice
    assert "Showing the newest messages" in notice
    assert 'aria-current' not in response.text


def test_a_message_not_found_shows_the_newest_with_a_polite_notice(small):
    response = small.test_client().get(CHAT + "&message=0123456789ab")
    assert response.status_code == 200
    assert texts(response.text) == [f"message {n}" for n in range(24, 30)]
    assert re.search(r'role="status">That message was not found: it may have been edited or '
                     r"deleted\. Showing the newest messages\.</p>", response.text)
    assert 'id="load-more"' in response.text and 'aria-current' not in response.text


def test_the_notice_is_in_chinese_on_a_chinese_page(small):
    page = small.test_client().get(CHAT + "&message=0123456789ab&lang=zh-CN").text
    assert "找不到这条消息" in page and "not found" not in page


@pytest.mark.parametrize("value, says", [
    ("XYZ", "it is 3 characters long"),
    ("0123456789a", "it is 11 characters long"),
    ("0123456789abc", "it is 13 characters long"),
    ("0123456789AB", "characters other than 0–9 and a–f"),
    ("0123456789a" + quote("é"), "characters other than 0–9 and a–f"),
    ("0123456789a%00", "characters other than 0–9 and a–f"),
    ("0123456789ab&message=0123456789ab", "given 2 times"),
    ("", "it is empty"),
    ("x" * 100_000, "it is 100000 characters long"),
])
@pytest.mark.parametrize("path", ["/chat", "/embed"])
def test_a_malformed_message_is_a_400_that_says_what_is_wrong(small, path, value, says):
    response = small.test_client().get(f"{path}?user_id=u&conversation_id=c&message={value}")
    assert response.status_code == 400
    message = unescape(re.search(r'class="alert__message">([^<]*)<', response.text).group(1))
    assert says in message and "message parameter" in message
    assert len(response.data) < 20_000  # a huge value is not echoed


def test_other_requests_ignore_the_message_parameter(small):
    client = small.test_client()
    page = client.get(CHAT).text
    older = client.get(attribute(page, "data-hx-get") + "&message=nonsense", headers=HX)
    assert older.status_code == 200 and texts(older.text)


# --- access, layouts and failures -----------------------------------------------------------

def test_the_widget_opens_at_the_message_too(small):
    client = small.test_client()
    target = id_of(client, "message 20")
    page = client.get(f"/embed?user_id=u&conversation_id=c&message={target}").text
    assert current(page) == ["message 20"] and texts(page)[0] == "message 14"
    assert "layout=embed" in attribute(page, "data-hx-get")


def test_signed_links_name_a_message_with_their_token(app_factory):
    app = app_factory(EMBED_SECRET=SECRET, CHAT_PAGE_SIZE=6)
    add(app.extensions["memos_source"], 30)
    client = app.test_client()
    token = sign("u", "c", SECRET, 600)
    target = expected_id("user", "message 10", "2026-01-01T10:00:10+08:00")
    for path in ("/chat", "/embed"):
        page = client.get(f"{path}?token={token}&message={target}").text
        assert current(page) == ["message 10"]
        assert "token=" in attribute(page, "data-hx-get")
    # The message names no conversation: without a token it opens nothing.
    assert client.get(f"/chat?user_id=u&conversation_id=c&message={target}").status_code == 403


def test_the_retry_link_after_a_failure_keeps_the_message(app_factory, refused_port):
    app = upstream_app(app_factory, f"http://127.0.0.1:{refused_port}/api/openmem/v1",
                       MEMOS_API_KEY="k", MEMOS_TIMEOUT=0.5)
    for path in ("/chat", "/embed"):
        response = app.test_client().get(
            f"{path}?user_id=U&conversation_id=C&message=0123456789ab&endpoint=x")
        assert response.status_code == 503
        link = unescape(re.search(r'class="alert__retry" href="([^"]*)"',
                                  response.text).group(1))
        assert link == (f"{path}?user_id=U&conversation_id=C&message=0123456789ab"
                        "#m-0123456789ab")


def test_a_message_keeps_its_fingerprint_and_compares_as_before(monkeypatch):
    from memos_api import message_from_api
    from viewer import history

    item = {"role": "user", "content": "kept", "chat_time": "2026-01-01 10:00:00"}
    first, again = message_from_api(item), message_from_api(item)
    made = history.fingerprint(first)
    # Worked out once: the second look (a live check's, another page's) finds it on the message.
    monkeypatch.setattr(history, "_fingerprint", lambda message: pytest.fail("worked out again"))
    monkeypatch.setattr(history, "_prints", {})
    assert history.fingerprint(first) == made
    # What it keeps changes nothing a message is compared or found by.
    assert first == again and hash(first) == hash(again)
    monkeypatch.undo()
    assert history.fingerprint(again) == made
    other = message_from_api({**item, "content": "another"})
    assert history.fingerprint(other) != made
