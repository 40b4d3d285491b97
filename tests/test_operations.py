"""What operators rely on: request logs, readiness, the request deadline, proxies."""

import json
import re
import time

import pytest
import requests
from werkzeug import Response

API_KEY = "sk-operations-secret"
PATH = "/api/openmem/v1/get/message"


def log_records(caplog):
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "viewer.requests"]


@pytest.fixture
def captured(log_of):
    """The request log's lines (viewer/observability.py)."""
    return log_of("viewer.requests")


def test_each_request_logs_one_json_line_without_secrets(app_factory, captured):
    secret = "x" * 40
    app = app_factory(EMBED_SECRET=secret)
    from viewer.access import sign

    token = sign("demo-user", "demo-conversation", secret, 60)
    app.test_client().get(f"/chat?token={token}&limit=3").close()  # as a server closes it
    [record] = log_records(captured)
    assert record["method"] == "GET" and record["path"] == "/chat" and record["status"] == 200
    assert record["upstream_calls"] == 1 and record["duration_ms"] >= record["upstream_ms"] >= 0
    assert token not in captured.text and "demo-user" not in captured.text


def test_upstream_time_is_logged_and_key_never(httpserver, app_factory, captured):
    def slow(request):
        time.sleep(0.05)
        return Response(json.dumps({"code": 0, "message": "ok",
                                    "data": {"message_detail_list": []}}), 200)

    httpserver.expect_request(PATH).respond_with_handler(slow)
    app = app_factory(MEMOS_BASE_URL=httpserver.url_for("/api/openmem/v1"), MEMOS_API_KEY=API_KEY,
                      VIEWER_ACCESS="open")
    app.test_client().get("/chat?user_id=u&conversation_id=c").close()
    [record] = log_records(captured)
    assert record["upstream_ms"] >= 50
    assert API_KEY not in captured.text


def test_the_log_line_is_written_once_a_real_server_has_sent_the_page(live_server, captured):
    server = live_server()
    page = requests.get(f"{server.url}/chat?user_id=u&conversation_id=c",
                        headers={"HX-Request": "true"}, timeout=10)
    deadline = time.monotonic() + 5
    while not log_records(captured) and time.monotonic() < deadline:
        time.sleep(0.01)  # the server closes the response just after its last byte
    assert page.status_code == 200
    [record] = log_records(captured)
    assert record == {"method": "GET", "path": "/chat", "status": 200,
                      "duration_ms": record["duration_ms"], "upstream_ms": record["upstream_ms"],
                      "upstream_calls": 1, "htmx": True}
    assert record["duration_ms"] >= record["upstream_ms"] >= 0


def test_readyz_on_the_embedded_store(client):
    response = client.get("/readyz")
    assert response.status_code == 200 and response.json["status"] == "ready"


def test_readyz_reports_a_rejected_key_and_caches(httpserver, app_factory):
    httpserver.expect_request(PATH).respond_with_json({"code": 40132, "message": "", "data": None})
    app = app_factory(MEMOS_BASE_URL=httpserver.url_for("/api/openmem/v1"), MEMOS_API_KEY=API_KEY,
                      READYZ_CACHE_SECONDS=60, VIEWER_ACCESS="open")
    client = app.test_client()
    first = client.get("/readyz")
    assert first.status_code == 503 and "rejected the API key" in first.json["detail"]
    client.get("/readyz")
    assert len(httpserver.log) == 1  # the second answer came from the cache
    assert API_KEY not in first.get_data(as_text=True)


def test_readyz_counts_a_refused_probe_as_reachable(httpserver, app_factory):
    httpserver.expect_request(PATH).respond_with_json({"code": 40103, "message": "", "data": None})
    app = app_factory(MEMOS_BASE_URL=httpserver.url_for("/api/openmem/v1"), MEMOS_API_KEY=API_KEY,
                      VIEWER_ACCESS="open")
    assert app.test_client().get("/readyz").status_code == 200


def test_readyz_when_upstream_is_down(app_factory, refused_port):
    app = app_factory(MEMOS_BASE_URL=f"http://127.0.0.1:{refused_port}", MEMOS_API_KEY=API_KEY,
                      MEMOS_TIMEOUT=0.3, VIEWER_ACCESS="open")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503 and response.json["status"] == "unavailable"


def test_request_deadline_stops_further_upstream_calls(app_factory):
    app = app_factory(MEMOS_DEADLINE=0.2)
    source = app.extensions["memos_source"]
    calls = []
    real = source.source.get_messages

    def slow(*args, **kwargs):
        calls.append(args)
        time.sleep(0.3)
        return real(*args, **kwargs)

    source.source.get_messages = slow
    source.add_messages("u", "c", [{"role": "user", "content": f"m{n}"} for n in range(30)])
    page = app.test_client().get("/chat?user_id=u&conversation_id=c").get_data(as_text=True)
    url = page.split('data-hx-get="')[1].split('"')[0].replace("&amp;", "&")
    source.add_messages("u", "c", [{"role": "user", "content": f"new {n}"} for n in range(20)])
    calls.clear()
    response = app.test_client().get(url, headers={"HX-Request": "true"})
    assert response.status_code == 504 and len(calls) == 1  # no second call past the deadline


def external_home_url(app, headers):
    """The absolute URL the app builds for "/" when a request arrives with ``headers``."""
    from flask import url_for

    seen = {}  # a real request, so it passes through ProxyFix (a request context would not)

    @app.get("/_where")
    def where():
        seen["url"] = url_for("chat.index", _external=True)
        return "ok"

    app.test_client().get("/_where", headers=headers)
    return seen["url"]


def test_proxy_headers_are_trusted_only_when_configured(app_factory):
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "chat.example.com"}
    assert external_home_url(app_factory(TRUSTED_PROXIES=1), headers) == \
        "https://chat.example.com/"
    assert external_home_url(app_factory(), headers) == "http://localhost/"


def test_static_urls_follow_the_mount_point_a_trusted_proxy_names(app_factory, store):
    app = app_factory(TRUSTED_PROXIES=1)
    client = app.test_client()
    store.add_messages("u", "c", [{"role": "user", "content": "hi"}])
    page = "/chat?user_id=u&conversation_id=c"
    mounted = client.get(page, headers={"X-Forwarded-Prefix": "/history"}).text
    plain = client.get(page).text
    assert re.search(r'href="/history/static/chat\.\w{12}\.css"', mounted)
    # chat.js, on its own or in page.js (built by `make install`: viewer/assets.py).
    assert re.search(r'src="/history/static/(?:chat|page)\.\w{12}\.js"', mounted)
    assert re.search(r'href="/static/chat\.\w{12}\.css"', plain) and "/history/" not in plain
