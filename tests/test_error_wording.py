"""What the viewer says for MemOS's error codes, against a real upstream answering each.

Not-found answers read the same whether the user or the conversation is missing (a difference
would tell an outsider which users exist); unknown codes in the auth and rate families say
what kind of refusal they are, and keep the code for support.
"""

from __future__ import annotations

import re

import pytest
from upstream_apps import upstream_app
from werkzeug import Response

from memos_api import AuthError, MemOSClient, NotFoundError, RateLimitedError
from memos_api.errors import error_for_code, error_for_status

PREFIX = "/api/openmem/v1"
PATH = PREFIX + "/get/message"
ANCHOR = "1.0123456789abcdef"
PAGES = [("/chat?user_id=U&conversation_id=C", {}),
         ("/embed?user_id=U&conversation_id=C", {}),
         (f"/chat/older?user_id=U&conversation_id=C&shown=6&depth=6&anchor={ANCHOR}",
          {"HX-Request": "true"})]
NOT_FOUND = {
    "no data (40001)": Response('{"code": 40001, "data": null, "message": "no data"}',
                                content_type="application/json"),
    "no such user (40103)": Response('{"code": 40103, "data": null, "message": "user {0}"}',
                                     content_type="application/json"),
    "HTTP 404 page": Response("<html>Not Found</html>", 404, content_type="text/html"),
    "code 404 echoed": Response('{"code": 404, "data": null, "message": "Not Found"}',
                                content_type="application/json"),
}


@pytest.fixture
def answering(httpserver, app_factory):
    """An app whose upstream answers every call with the response set on ``.answer``."""

    class Upstream:
        answer = Response("{}")

    upstream = Upstream()
    httpserver.expect_request(PATH).respond_with_handler(lambda request: upstream.answer)
    upstream.app = upstream_app(app_factory, httpserver.url_for(PREFIX), MEMOS_API_KEY="k")
    return upstream


def timeless(page: bytes) -> bytes:
    """``page`` without the time it was printed at (a second may pass between two pages)."""
    return re.sub(rb'<time class="printed__time"[^>]*>[^<]*</time>', b"", page)


def test_every_not_found_answer_reads_the_same(answering):
    pages = {}
    for name, answer in NOT_FOUND.items():
        answering.answer = answer
        client = answering.app.test_client()
        pages[name] = [client.get(path, headers=headers) for path, headers in PAGES]
    first = next(iter(pages.values()))
    assert all(response.status_code == 404 for response in first)
    assert "MemOS has no such user or conversation." in first[0].text
    for name, responses in pages.items():
        assert [r.status_code for r in responses] == [404, 404, 404], name
        assert [timeless(r.data) for r in responses] == [timeless(r.data) for r in first], name


def test_not_found_errors_carry_one_wording():
    texts = {str(error_for_code(40001)), str(error_for_code(40103)), str(error_for_status(404)),
             str(NotFoundError())}
    assert texts == {"MemOS has no such user or conversation."}


@pytest.mark.parametrize("code, kind, status, text", [
    (40101, AuthError, 502, "MemOS refused the API key or its permissions (code 40101)."),
    (40114, AuthError, 502, "MemOS refused the API key or its permissions (code 40114)."),
    (40305, RateLimitedError, 503, "MemOS is limiting requests; try again shortly "
                                   "(code 40305)."),
])
def test_unknown_auth_and_rate_codes_say_what_they_are(answering, httpserver, code, kind,
                                                       status, text):
    answering.answer = Response(f'{{"code": {code}, "data": null, "message": ""}}',
                                content_type="application/json")
    with MemOSClient("k", httpserver.url_for(PREFIX), retries=0) as client:
        with pytest.raises(kind) as caught:
            client.get_messages("U", "C")
    assert str(caught.value) == text and caught.value.code == code
    response = answering.app.test_client().get(PAGES[0][0])
    assert response.status_code == status and text in response.text


def test_other_unknown_codes_still_name_the_code():
    assert str(error_for_code(41234)) == "MemOS answered with error code 41234."
