"""Live checks over the app: markup, answers, shared upstream calls, access and failures.

The browser side (polling, visibility, scrolling, back-off) is tests/browser/test_browser_live.py.
"""

from __future__ import annotations

import json
import re
import threading
import time
from html import unescape

import pytest
from flask import template_rendered
from page_text import texts
from upstream_apps import upstream_app
from werkzeug.wrappers import Response

from viewer.access import sign
from viewer.settings import ConfigError

HX = {"HX-Request": "true"}
SECRET = "live-checks-secret-0123456789abcdefghijk"


def add(store, count, start=0, day=1, user="u", conversation="c"):
    store.add_messages(user, conversation, [
        {"role": "user" if n % 2 else "assistant", "content": f"message {n}",
         "chat_time": f"2026-03-{day:02d} 10:{n // 60:02d}:{n % 60:02d}"}
        for n in range(start, start + count)])


def live_url(page: str) -> str:
    return unescape(re.search(r'data-live-url="([^"]+)"', page).group(1))


def articles(html: str) -> list[str]:
    return texts(html)


SHARED_FOR = 0.1  # seconds these apps reuse a shared answer (a second when shipped)


@pytest.fixture
def app(app_factory):
    app = app_factory(LIVE_POLL_SECONDS=2, RATE_LIMIT="0")
    app.extensions["live_reads"].ttl = SHARED_FOR  # so that a test need not wait a second
    return app


def test_a_page_checks_every_interval_and_says_so_in_its_markup(app, store):
    add(store, 3)
    page = app.test_client().get("/chat?user_id=u&conversation_id=c").text
    assert 'data-live-seconds="2.0"' in page and 'id="messages"' in page
    url = live_url(page)
    assert url.startswith("/chat/newer?user_id=u&conversation_id=c&after=3.")
    assert "since=2026-03-01T10%3A00%3A02%2B08%3A00" in url or "since=2026-03-01T10:00:02" in url
    assert '<a class="live__check" href="/chat?user_id=u&amp;conversation_id=c">' in page


@pytest.mark.parametrize("settings, query", [({"LIVE_POLL_SECONDS": 0}, ""), ({}, "&live=0")])
def test_live_updates_off_leave_only_the_reload_link(app_factory, settings, query):
    app = app_factory(**{"LIVE_POLL_SECONDS": 2, **settings})
    add(app.extensions["memos_source"], 20)
    page = app.test_client().get(f"/chat?user_id=u&conversation_id=c{query}").text
    assert "data-live-url" not in page and 'class="live__check"' in page
    if query:  # a reader's choice is kept by every link the page makes
        for link in re.findall(r'(?:href|data-hx-get)="(/chat[^"]*)"', page):
            assert "live=0" in unescape(link), link


@pytest.mark.parametrize("value", ["2", "off", "yes"])
def test_an_unknown_live_value_is_a_400(client, value):
    response = client.get(f"/chat?user_id=demo-user&conversation_id=demo-conversation&live={value}")
    assert response.status_code == 400 and "live must be 0" in response.text


@pytest.mark.parametrize("seconds", ["1", "0.5", "-3", "often"])
def test_a_live_interval_under_two_seconds_is_refused(app_factory, seconds):
    with pytest.raises(ConfigError, match="LIVE_POLL_SECONDS"):
        app_factory(LIVE_POLL_SECONDS=seconds)


def test_nothing_new_is_a_204_without_a_template(app, store):
    add(store, 5)
    client = app.test_client()
    url = live_url(client.get("/chat?user_id=u&conversation_id=c").text)
    rendered = []
    template_rendered.connect(lambda sender, template, context, **extra:
                              rendered.append(template.name), app)
    response = client.get(url, headers={**HX, "Accept-Language": "zh-CN",
                                        "Accept-Encoding": "gzip, br, zstd"})
    assert response.status_code == 204 and response.data == b"" and rendered == []
    assert response.headers["Cache-Control"] == "no-store"
    # No body: nothing in it follows the reader's language or encodings.
    assert "Vary" not in response.headers and "Content-Encoding" not in response.headers


def test_new_messages_follow_with_the_next_check_and_one_separator_per_new_day(app, store):
    add(store, 5)
    client = app.test_client()
    url = live_url(client.get("/chat?user_id=u&conversation_id=c").text)
    add(store, 2, start=5)  # the same day
    time.sleep(SHARED_FOR + 0.05)  # past the shared answer's life
    same_day = client.get(url, headers=HX)
    assert same_day.status_code == 200 and articles(same_day.text) == ["message 5", "message 6"]
    assert "day-separator" not in same_day.text
    add(store, 1, start=7, day=2)
    time.sleep(SHARED_FOR + 0.05)
    next_day = client.get(same_day.headers["Live-Next"], headers=HX)
    assert articles(next_day.text) == ["message 7"]
    assert next_day.text.count('class="day-separator" id="day-2026-03-02"') == 1
    time.sleep(SHARED_FOR + 0.05)
    assert client.get(next_day.headers["Live-Next"], headers=HX).status_code == 204


def test_more_than_the_cap_comes_after_a_gap_marker(app_factory):
    app = app_factory(LIVE_POLL_SECONDS=2, MEMOS_MAX_LIMIT=12, RATE_LIMIT="0")
    store = app.extensions["memos_source"]
    add(store, 4)
    client = app.test_client()
    url = live_url(client.get("/chat?user_id=u&conversation_id=c").text)
    add(store, 30, start=4)
    response = client.get(url, headers=HX)
    assert response.status_code == 200 and 'class="live-gap" role="note"' in response.text
    assert articles(response.text) == [f"message {n}" for n in range(22, 34)]
    assert 'href="/chat?user_id=u&amp;conversation_id=c">Reload to see them' in response.text


def test_messages_on_screen_that_changed_are_a_409_notice(app, store):
    add(store, 5)
    client = app.test_client()
    page = client.get("/chat?user_id=u&conversation_id=c").text
    wrong = re.sub(r"after=3\.[0-9a-f]{16}", "after=3.0123456789abcdef", live_url(page))
    response = client.get(wrong, headers=HX)
    assert response.status_code == 409 and 'class="live-notice"' in response.text
    assert "changed since the page was loaded" in response.text
    assert 'role="alert"' not in response.text  # the script decides how to say it


def test_a_check_without_htmx_goes_to_the_page(app, store):
    add(store, 2)
    client = app.test_client()
    url = live_url(client.get("/chat?user_id=u&conversation_id=c&live=1").text)
    response = client.get(url)
    assert response.status_code == 302
    assert response.headers["Location"] == "/chat?user_id=u&conversation_id=c"


@pytest.mark.parametrize("query, words", [
    ("after=9.xyz", "after parameter"), ("after=", "after parameter"),
    ("after=3.0123456789abcdef&since=yesterday", "since parameter"),
    ("after=3.0123456789abcdef&since=2026-03-01T10:00:00", "since parameter"),
    # Valid ISO 8601, but year 0 or 10000 in UTC: shown in a zone, it would overflow (a 500).
    ("after=0&since=0001-01-01T00:00:00%2B00:01", "since parameter"),
    ("after=0&since=9999-12-31T23:59:59-00:01", "since parameter"),
    ("after=3.0123456789abcdef&since=0001-01-01T00:00:00%2B00:01", "since parameter"),
])
def test_a_malformed_check_is_a_400(client, query, words):
    response = client.get(f"/chat/newer?user_id=u&conversation_id=c&{query}", headers=HX)
    assert response.status_code == 400 and words in response.text


def test_signed_checks_carry_the_token_and_an_expired_one_is_refused(app_factory):
    app = app_factory(EMBED_SECRET=SECRET, LIVE_POLL_SECONDS=2, RATE_LIMIT="0")
    add(app.extensions["memos_source"], 3)
    client = app.test_client()
    token = sign("u", "c", SECRET, 600)
    url = live_url(client.get(f"/embed?token={token}").text)
    assert f"token={token}" in url and "user_id" not in url and "layout=embed" in url
    assert client.get(url, headers=HX).status_code == 204
    expired = sign("u", "c", SECRET, -10)
    response = client.get(url.replace(token, expired), headers=HX)
    assert response.status_code == 403 and "expired" in response.text


def test_concurrent_checks_of_one_conversation_make_one_upstream_call(app_factory, httpserver):
    """Twenty viewers at once, against a real upstream that answers slowly: one call."""
    calls = []

    def slow_answer(request):
        calls.append(request.get_json()["message_limit_number"])
        time.sleep(0.3)  # all twenty are waiting on this one call
        items = [{"role": "user", "content": f"message {n}",
                  "chat_time": f"2026-03-01 10:00:0{n}"} for n in range(3)]
        return Response(json.dumps({"code": 0, "message": "ok",
                                    "data": {"message_detail_list": items}}),
                        content_type="application/json")

    httpserver.expect_request("/api/openmem/v1/get/message").respond_with_handler(slow_answer)
    app = upstream_app(app_factory, httpserver.url_for("/api/openmem/v1"), MEMOS_API_KEY="k",
                       LIVE_POLL_SECONDS=15, RATE_LIMIT="0")
    page = app.test_client().get("/chat?user_id=u&conversation_id=c").text
    url = live_url(page)
    calls.clear()
    statuses = []

    def check():
        statuses.append(app.test_client().get(url, headers=HX).status_code)

    threads = [threading.Thread(target=check) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert statuses == [204] * 20
    assert calls == [6 + 3]  # one call, shared; and reused within its second
    assert app.test_client().get(url, headers=HX).status_code == 204 and len(calls) == 1


def test_a_failing_upstream_is_shared_too_and_says_when_to_retry(app_factory, httpserver):
    httpserver.expect_request("/api/openmem/v1/get/message").respond_with_json(
        {"code": 50000, "message": "", "data": None})
    app = upstream_app(app_factory, httpserver.url_for("/api/openmem/v1"), MEMOS_API_KEY="k",
                       LIVE_POLL_SECONDS=15, RATE_LIMIT="0")
    client = app.test_client()
    url = ("/chat/newer?user_id=u&conversation_id=c&after=3.0123456789abcdef"
           "&since=2026-03-01T10:00:00%2B08:00")
    first = client.get(url, headers=HX)
    assert first.status_code == 502 and 'class="live-notice"' in first.text
    before = len(httpserver.log)
    assert client.get(url, headers=HX).status_code == 502 and len(httpserver.log) == before


def test_memos_rate_limiting_passes_its_retry_after_to_the_page(app_factory, httpserver):
    httpserver.expect_request("/api/openmem/v1/get/message").respond_with_json(
        {"code": 40300, "message": "", "data": None}, headers={"Retry-After": "7"})
    app = upstream_app(app_factory, httpserver.url_for("/api/openmem/v1"), MEMOS_API_KEY="k",
                       LIVE_POLL_SECONDS=15, RATE_LIMIT="0")
    response = app.test_client().get(
        "/chat/newer?user_id=u&conversation_id=c&after=0", headers=HX)
    assert response.status_code == 503 and response.headers["Retry-After"] == "7"
