"""The security headers on every answer the app makes, and Vary where the words follow
Accept-Language.

Found by trying to break it: WhiteNoise's own 405 (a POST to a static file) answered before
Flask's hooks with only ``Allow``; and pages whose words follow Accept-Language did not say
so, so a shared cache could give a Chinese page to an English reader.
"""

from __future__ import annotations

import pytest

from viewer.security import EVERY_RESPONSE

DEMO = "/chat?user_id=demo-user&conversation_id=demo-conversation"
EXPORT = "/chat/export?user_id=demo-user&conversation_id=demo-conversation&format=md"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
@pytest.mark.parametrize("path", ["/static/embed.js", "/static/chat.css"])
def test_whitenoises_own_405_carries_the_security_headers(client, method, path):
    response = client.open(path, method=method)
    assert response.status_code == 405 and response.headers["Allow"] == "GET, HEAD"
    for name, value in EVERY_RESPONSE.items():
        assert response.headers[name] == value
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"


def test_static_files_keep_their_own_caching(client):
    response = client.get("/static/embed.js")
    assert response.status_code == 200 and "max-age=60" in response.headers["Cache-Control"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path", ["/", DEMO, EXPORT, "/no-such-page", "/chat?user_id=x"])
def test_pages_in_the_readers_language_vary_by_it(client, path):
    # Each read whole before the next request: a download streams in its request's context.
    english = client.get(path, headers={"Accept-Language": "en"})
    english_body = english.get_data()
    chinese = client.get(path, headers={"Accept-Language": "zh-CN"})
    assert "Accept-Language" in english.headers["Vary"], path
    assert "Accept-Language" in chinese.headers["Vary"], path
    assert english_body != chinese.get_data(), path  # they really do differ


@pytest.mark.parametrize("path", ["/?lang=zh-Hans", "/healthz", "/readyz",
                                  "/accent/0a7a55.css"])
def test_answers_the_header_does_not_change_do_not_vary_by_it(client, path):
    response = client.get(path, headers={"Accept-Language": "zh-CN"})
    assert "Accept-Language" not in response.headers.get("Vary", ""), path
    assert "Cookie" not in response.headers.get("Vary", "")  # the app uses no cookies
    assert "Set-Cookie" not in response.headers
