"""The "Try again" link of a failed page carries only access, limit and theme.

Any other query parameter once reached ``url_for`` as a keyword: ``endpoint=x`` or
``_method=POST`` made the error page a 500, ``_external=1`` made the link absolute from the
Host header. Each case runs against a real upstream that fails.
"""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qsl, urlsplit

import pytest
from upstream_apps import upstream_app

from viewer.access import sign

PATH = "/api/openmem/v1/get/message"
SECRET = "retry-links-secret-0123456789abcdefghij"
HOSTILE = [("endpoint", "x"), ("_method", "POST"), ("_external", "1"), ("_scheme", "https"),
           ("_anchor", "frag"), ("values", "v"), ("token", "forged"), ("layout", "embed"),
           ("shown", "5"), ("anchor", "1.0123456789abcdef"), ("__class__", "x")]


def retry_link(body: str) -> str:
    [href] = re.findall(r'class="alert__retry" href="([^"]*)"', body)
    return unescape(href)


@pytest.fixture
def failing(httpserver, app_factory):
    """Build apps on an upstream that answers every call with an internal error (502)."""
    httpserver.expect_request(PATH).respond_with_json({"code": 50000, "message": "",
                                                       "data": None})

    def build(**settings):
        return upstream_app(app_factory, httpserver.url_for("/api/openmem/v1"),
                            MEMOS_API_KEY="k", **settings)

    return build


@pytest.mark.parametrize("path", ["/chat", "/embed"])
@pytest.mark.parametrize("name, value", HOSTILE, ids=[name for name, _ in HOSTILE])
def test_stray_parameters_never_reach_the_retry_link(failing, path, name, value):
    client = failing().test_client()
    response = client.get(path, query_string=[
        ("user_id", "U"), ("conversation_id", "C"), ("limit", "10"), ("theme", "dark"),
        (name, value)], headers={"Host": "evil.example"})
    assert response.status_code == 502 and "Traceback" not in response.text
    link = urlsplit(retry_link(response.text))
    assert (link.scheme, link.netloc, link.path, link.fragment) == ("", "", path, "")
    assert sorted(parse_qsl(link.query)) == [("conversation_id", "C"), ("limit", "10"),
                                             ("theme", "dark"), ("user_id", "U")]


def test_the_retry_link_keeps_only_what_was_given(failing):
    response = failing().test_client().get("/chat?user_id=U&conversation_id=C&theme=auto")
    assert retry_link(response.text) == "/chat?user_id=U&conversation_id=C"


def test_a_clamped_limit_is_retried_as_clamped(failing):
    response = failing(MEMOS_MAX_LIMIT=20).test_client().get(
        "/chat?user_id=U&conversation_id=C&limit=999")
    assert retry_link(response.text) == "/chat?user_id=U&conversation_id=C&limit=20"


def test_signed_links_retry_with_their_token_only(failing):
    token = sign("U", "C", SECRET, 600)
    client = failing(EMBED_SECRET=SECRET).test_client()
    response = client.get(f"/embed?token={token}&endpoint=x&_external=1&user_id=U&limit=7")
    assert response.status_code == 502
    link = urlsplit(retry_link(response.text))
    assert link.path == "/embed" and sorted(parse_qsl(link.query)) == [("limit", "7"),
                                                                      ("token", token)]


def test_a_refused_connection_gets_the_same_clean_link(app_factory, refused_port):
    app = upstream_app(app_factory, f"http://127.0.0.1:{refused_port}/api/openmem/v1",
                       MEMOS_API_KEY="k", MEMOS_TIMEOUT=0.5)
    response = app.test_client().get("/chat?user_id=U&conversation_id=C&endpoint=x"
                                     "&_method=POST&_external=1")
    assert response.status_code == 503
    assert retry_link(response.text) == "/chat?user_id=U&conversation_id=C"
