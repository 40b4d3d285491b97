"""Every answer says how long it may be kept: conversations, errors and probes never; the
landing page only after asking again; static files a year under versioned URLs."""

import re

import pytest

CHAT = "/chat?user_id=demo-user&conversation_id=demo-conversation"


@pytest.mark.parametrize("path, headers, status, policy", [
    ("/", {}, 200, "no-cache"),
    ("/healthz", {}, 200, "no-store"),
    ("/readyz", {}, 200, "no-store"),
    (CHAT, {}, 200, "no-store"),
    (CHAT.replace("/chat", "/embed"), {}, 200, "no-store"),
    ("/chat", {}, 400, "no-store"),
    ("/chat/older?user_id=u&conversation_id=c&shown=6&depth=6&anchor=x", {"HX-Request": "true"},
     400, "no-store"),
    ("/nope", {}, 404, "no-store"),
    ("/?theme=purple", {}, 400, "no-store"),
    ("/static/no-such-file.css", {}, 404, "no-store"),
])
def test_each_kind_of_answer_has_a_cache_policy(client, path, headers, status, policy):
    response = client.get(path, headers=headers)
    assert response.status_code == status
    assert response.headers["Cache-Control"] == policy


def test_a_method_not_allowed_is_not_kept_and_says_what_is(client):
    response = client.post("/")
    assert response.status_code == 405 and response.headers["Cache-Control"] == "no-store"
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "HEAD"}


def test_a_refusal_over_the_rate_limit_is_not_kept(app_factory):
    client = app_factory(RATE_LIMIT="1/minute").test_client()
    client.get(CHAT)
    response = client.get(CHAT)
    assert response.status_code == 429 and response.headers["Cache-Control"] == "no-store"


def test_static_files_keep_their_own_policy(client):
    page = client.get("/").get_data(as_text=True)
    versioned = re.search(r'href="(/static/chat\.\w{12}\.css)"', page)[1]
    assert client.get(versioned).headers["Cache-Control"] == "max-age=31536000, public, immutable"
    # Without a version the file may change under its URL: a minute, then asked again.
    assert client.get("/static/chat.css").headers["Cache-Control"] == "max-age=60, public"
