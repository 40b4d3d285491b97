"""Every upstream failure becomes a clear page (or fragment) with the right status."""

import json
import time

import pytest
from werkzeug import Response

API_KEY = "sk-very-secret-key-123"
ANCHOR = "1.0123456789abcdef"
PATH = "/api/openmem/v1/get/message"


@pytest.fixture
def upstream_app(httpserver, app_factory):
    return app_factory(MEMOS_BASE_URL=httpserver.url_for("/api/openmem/v1/"),
                       MEMOS_API_KEY=API_KEY, MEMOS_TIMEOUT=0.5, VIEWER_ACCESS="open")


def envelope(code, data=None, message=""):
    return json.dumps({"code": code, "data": data, "message": message})


FAILURES = [
    # (name, response, expected status, phrase on the page)
    ("http 500", Response('{"detail": "boom"}', 500, content_type="application/json"), 502,
     "failed to handle"),
    ("html 502", Response("<html><body>Bad Gateway</body></html>", 502,
                          content_type="text/html"), 503, "unavailable"),
    ("429", Response("slow down", 429, headers={"Retry-After": "7"}), 503, "rate limiting"),
    ("invalid json", Response("{not json", 200, content_type="application/json"), 502,
     "not JSON"),
    ("bad key", Response(envelope(40132, None, "token invalid {0}"), 200,
                         content_type="application/json"), 502, "rejected the API key"),
    ("rate code", Response(envelope(40300), 200, content_type="application/json"), 503,
     "rate limiting"),
    ("null data", Response(envelope(0, None), 200, content_type="application/json"), 502,
     "no data"),
    ("wrong shape", Response(envelope(0, {"messages": "nope"}), 200,
                             content_type="application/json"), 502, "no message list"),
    ("unknown code", Response(envelope(49999), 200, content_type="application/json"), 502,
     "49999"),
]


@pytest.mark.parametrize("name, response, status, phrase", FAILURES, ids=[f[0] for f in FAILURES])
def test_page_shows_failure_in_place(httpserver, upstream_app, name, response, status, phrase):
    httpserver.expect_request(PATH, method="POST").respond_with_response(response)
    result = upstream_app.test_client().get("/chat?user_id=u&conversation_id=c")
    html = result.get_data(as_text=True)
    assert result.status_code == status
    assert 'role="alert"' in html and phrase in html
    assert 'class="alert__retry" href="/chat?user_id=u&amp;conversation_id=c"' in html
    assert API_KEY not in html and "Traceback" not in html and "{0}" not in html


@pytest.mark.parametrize("name, response, status, phrase", FAILURES, ids=[f[0] for f in FAILURES])
def test_fragment_shows_failure_in_place(httpserver, upstream_app, name, response, status,
                                         phrase):
    httpserver.expect_request(PATH, method="POST").respond_with_response(response)
    result = upstream_app.test_client().get(
        f"/chat/older?user_id=u&conversation_id=c&shown=6&depth=6&anchor={ANCHOR}",
        headers={"HX-Request": "true"})
    html = result.get_data(as_text=True)
    assert result.status_code == status
    assert result.headers["HX-Retarget"] == "#history-head"
    assert 'role="alert"' in html and phrase in html and 'id="load-more"' in html
    assert "Try again" in html and API_KEY not in html


def test_rate_limit_passes_retry_after_on(httpserver, upstream_app):
    httpserver.expect_request(PATH).respond_with_response(
        Response("", 429, headers={"Retry-After": "7"}))
    result = upstream_app.test_client().get("/chat?user_id=u&conversation_id=c")
    assert result.status_code == 503 and result.headers["Retry-After"] == "7"


def test_stall_past_timeout_is_504_within_deadline(httpserver, upstream_app, stall):
    httpserver.expect_request(PATH).respond_with_handler(
        stall(1.2, Response(envelope(0, {"message_detail_list": []}), 200)))
    started = time.monotonic()
    result = upstream_app.test_client().get("/chat?user_id=u&conversation_id=c")
    assert result.status_code == 504 and "did not answer in time" in result.get_data(True)
    assert time.monotonic() - started < 5  # timeout 0.5 s, reads are not retried


def test_unreachable_upstream_is_503(app_factory, refused_port):
    app = app_factory(MEMOS_BASE_URL=f"http://127.0.0.1:{refused_port}/api/openmem/v1",
                      MEMOS_API_KEY=API_KEY, MEMOS_TIMEOUT=0.5, VIEWER_ACCESS="open")
    result = app.test_client().get("/chat?user_id=u&conversation_id=c")
    assert result.status_code == 503 and "could not be reached" in result.get_data(True)


def test_request_carries_token_and_body(httpserver, upstream_app):
    httpserver.expect_request(
        PATH, method="POST", headers={"Authorization": f"Token {API_KEY}"},
        json={"user_id": "u", "conversation_id": "c", "message_limit_number": 7},
    ).respond_with_json({"code": 0, "message": "ok", "data": {"message_detail_list": [
        {"role": "user", "content": "hi", "create_time": "2026-01-02 03:04:05"}]}})
    result = upstream_app.test_client().get("/chat?user_id=u&conversation_id=c")
    assert result.status_code == 200
    assert 'datetime="2026-01-02T03:04:05+08:00"' in result.get_data(as_text=True)


def test_absurd_retry_after_is_capped(httpserver, upstream_app):
    httpserver.expect_request(PATH).respond_with_response(
        Response("", 429, headers={"Retry-After": "1e300"}))
    result = upstream_app.test_client().get("/chat?user_id=u&conversation_id=c")
    assert result.status_code == 503 and result.headers.get("Retry-After") in (None, "86400")
