"""A failed "load earlier" says so in place, keeps what is shown, and can be retried.

Upstream faults come from a real loopback MemOS stand-in (pytest-httpserver on 127.0.0.1);
the browser's own network failing is simulated by aborting its request.
"""

from __future__ import annotations

import json
import re

import pytest
from browser_helpers import (
    chat_url,
    load_earlier,
    make_messages,
    MESSAGE,
    seed,
    shown_texts,
)
from playwright.sync_api import expect
from werkzeug import Request, Response

pytestmark = pytest.mark.browser

PATH = "/api/openmem/v1/get/message"
API_KEY = "sk-browser-test-key"
UPSTREAM = make_messages(10)
TEXTS = [m["content"] for m in UPSTREAM]


def newest(request: Request) -> Response:
    """Answer /get/message like MemOS: the newest ``message_limit_number``, oldest first."""
    limit = request.get_json()["message_limit_number"] or 6
    body = {"code": 0, "message": "ok", "data": {"message_detail_list": UPSTREAM[-limit:]}}
    return Response(json.dumps(body), content_type="application/json")


def envelope(code: int) -> Response:
    return Response(json.dumps({"code": code, "data": None, "message": "token invalid {0}"}),
                    content_type="application/json")


FAULTS = {
    "http-500": lambda: Response('{"detail": "boom"}', 500, content_type="application/json"),
    "http-503": lambda: Response("<html><body>Service Unavailable</body></html>", 503,
                                 content_type="text/html"),
    "code-40132": lambda: envelope(40132),
}


@pytest.fixture
def upstream(httpserver_ipv4, app_factory, live_server):
    """The viewer in front of a loopback MemOS stand-in (pytest-httpserver, 127.0.0.1)."""
    app = app_factory(MEMOS_BASE_URL=httpserver_ipv4.url_for("/api/openmem/v1/"),
                      MEMOS_API_KEY=API_KEY, MEMOS_TIMEOUT=1, VIEWER_ACCESS="open")
    yield httpserver_ipv4, live_server(app)
    httpserver_ipv4.check_handler_errors()


def test_upstream_failure_on_first_load_shows_alert_and_retry_link(upstream, page):
    httpserver, server = upstream
    httpserver.expect_request(PATH, method="POST").respond_with_response(FAULTS["http-500"]())
    url = chat_url(server.url)

    response = page.goto(url)

    assert response.status == 502
    alert = page.get_by_role("alert")
    expect(alert).to_be_visible()
    expect(page.locator(MESSAGE)).to_have_count(0)
    retry = alert.get_by_role("link", name="Try again")
    httpserver.clear_all_handlers()
    httpserver.expect_request(PATH, method="POST").respond_with_handler(newest)
    retry.click()
    expect(page.locator(MESSAGE)).to_have_count(6)
    assert page.url == url and shown_texts(page) == TEXTS[-6:]


@pytest.mark.parametrize("fault", FAULTS, ids=list(FAULTS))
def test_upstream_failure_shows_alert_in_place_and_retry_works(upstream, page, fault):
    httpserver, server = upstream
    httpserver.expect_oneshot_request(PATH, method="POST").respond_with_handler(newest)
    httpserver.expect_request(PATH, method="POST").respond_with_response(FAULTS[fault]())
    url = chat_url(server.url)
    page.goto(url)
    expect(page.locator(MESSAGE)).to_have_count(6)

    page.locator("#load-more").click()

    alert = page.locator("#history-head").get_by_role("alert")
    expect(alert).to_be_visible()
    expect(alert).not_to_be_empty()
    retry = alert.get_by_role("link", name="Try again")
    expect(retry).to_be_visible()
    expect(page.locator(MESSAGE)).to_have_count(6)
    assert shown_texts(page) == TEXTS[-6:]
    assert page.url == url
    assert API_KEY not in page.content() and "{0}" not in alert.inner_text()

    # MemOS recovers: the same control now loads the rest.
    httpserver.clear_all_handlers()
    httpserver.expect_request(PATH, method="POST").respond_with_handler(newest)
    load_earlier(page)
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(page.locator("#conversation-start")).to_be_visible()
    assert shown_texts(page) == TEXTS


def test_conversation_changed_upstream_offers_a_reload(upstream, page):
    httpserver, server = upstream
    httpserver.expect_oneshot_request(PATH, method="POST").respond_with_handler(newest)
    rewritten = make_messages(10, prefix="rewritten")
    httpserver.expect_request(PATH, method="POST").respond_with_json(
        {"code": 0, "message": "ok", "data": {"message_detail_list": rewritten}})
    page.goto(chat_url(server.url))
    expect(page.locator(MESSAGE)).to_have_count(6)

    page.locator("#load-more").click()

    alert = page.locator("#history-head").get_by_role("alert")
    expect(alert).to_contain_text("changed since the page was loaded")
    expect(page.locator(MESSAGE)).to_have_count(6)
    reload = alert.get_by_role("link", name="Reload the page")
    expect(reload).to_have_attribute("href", re.compile(r"limit=12"))
    reload.click()
    expect(page).to_have_url(re.compile(r"limit=12"))
    assert shown_texts(page) == [m["content"] for m in rewritten]


def test_browser_network_failure_shows_alert_and_retry_recovers(live_server, page):
    server = live_server()
    messages = seed(server.store, 23)
    page.goto(chat_url(server.url))
    expect(page.locator(MESSAGE)).to_have_count(6)

    page.route("**/chat/older**", lambda route: route.abort())
    page.locator("#load-more").click()

    alert = page.locator("#history-head").get_by_role("alert")
    expect(alert).to_contain_text("Could not reach the server")
    retry = alert.get_by_role("link", name="Try again")
    expect(retry).to_be_visible()
    expect(page.locator(MESSAGE)).to_have_count(6)
    assert shown_texts(page) == [m["content"] for m in messages[-6:]]

    page.unroute("**/chat/older**")
    retry.click()
    expect(page.locator(MESSAGE)).to_have_count(12)
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(page.locator("#load-more")).to_have_text("Load earlier messages")
    assert shown_texts(page) == [m["content"] for m in messages[-12:]]
