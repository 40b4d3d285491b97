"""What the viewer says for MemOS's error codes, against a real upstream answering each, and
for its own HTTP errors.

Not-found answers read the same whether the user or the conversation is missing (a difference
would tell an outsider which users exist); unknown codes in the auth and rate families say
what kind of refusal they are, and keep the code for support. Every error page is headed in
plain words, its status in small print ("Error 404"); a 5xx offers "Try again", a 4xx of the
viewer's own offers no retry (the same request gets the same answer), only the start page on a
full page in open mode.
"""

from __future__ import annotations

import re
from html import unescape

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


def heading(page: str) -> str | None:
    found = re.search(r'<h([12]) class="alert__title">([^<]*)</h\1>', page)
    return found and unescape(found.group(2))


def ways_out(page: str) -> list[str]:
    """The links the alert offers, by their words."""
    return re.findall(r'<a class="alert__retry" href="[^"]*">([^<]*)</a>', page)


@pytest.mark.parametrize("answer, status, words", [
    (Response('{"code": 40001, "data": null, "message": "no data"}',
              content_type="application/json"), 404, "This conversation was not found"),
    (Response('{"code": 40101, "data": null, "message": ""}',
              content_type="application/json"), 502, "MemOS answered with an error"),
    (Response('{"detail": "boom"}', 500, content_type="application/json"), 502,
     "MemOS answered with an error"),
    (Response('{"code": 40300, "data": null, "message": ""}',
              content_type="application/json"), 503, "MemOS is busy"),
    (Response("<html>down</html>", 503, content_type="text/html"), 503,
     "MemOS is unavailable"),
], ids=["not-found", "auth-code", "http-500", "rate-limited", "http-503"])
def test_a_failed_read_is_headed_in_plain_words_and_offers_a_retry(answering, answer, status,
                                                                   words):
    answering.answer = answer
    client = answering.app.test_client()
    for path, headers in PAGES[:2]:  # the page and the widget
        response = client.get(path, headers=headers)
        assert response.status_code == status
        # Under the page's own h1 (the conversation's name) on the full page.
        assert heading(response.text) == words, response.text
        assert f'<p class="alert__status">Error {status}</p>' in response.text
        # A 404 too: MemOS may know the conversation once it has its first messages.
        assert ways_out(response.text) == ["Try again"]
        assert 'class="menu' not in response.text  # nothing to download from a failed read


def test_a_read_that_timed_out_says_memos_did_not_answer(httpserver, app_factory, stall):
    httpserver.expect_request(PATH).respond_with_handler(stall(1.5, Response("{}")))
    app = upstream_app(app_factory, httpserver.url_for(PREFIX), MEMOS_API_KEY="k",
                       MEMOS_TIMEOUT=0.3, MEMOS_DEADLINE=0.5)
    response = app.test_client().get(PAGES[0][0])
    assert response.status_code == 504
    assert heading(response.text) == "MemOS did not answer"
    assert "Error 504" in response.text and ways_out(response.text) == ["Try again"]


OPEN_CHAT = "/chat?user_id=u&conversation_id=c"


@pytest.mark.parametrize("path, status, words, way_out", [
    ("/chat?conversation_id=c", 400, "This link is missing its conversation",
     "Back to the start page"),
    ("/chat?user_id=u", 400, "This link is missing its conversation", "Back to the start page"),
    ("/chat?user_id=u&conversation_id=" + "x" * 101, 400, "This link doesn't work",
     "Back to the start page"),
    (OPEN_CHAT + "&live=2", 400, "This link doesn't work", "Back to the start page"),
    (OPEN_CHAT + "&theme=neon", 400, "This link doesn't work", "Back to the start page"),
    ("/no/such/page", 404, "Page not found", "Back to the start page"),
    ("/embed?conversation_id=c", 400, "This link is missing its conversation", None),
    ("/embed?user_id=u&conversation_id=c&limit=0", 400, "This link doesn't work", None),
])
def test_the_viewers_own_4xx_pages_offer_no_retry(client, path, status, words, way_out):
    response = client.get(path)
    assert response.status_code == status
    assert heading(response.text) == words
    assert f'<p class="alert__status">Error {status}</p>' in response.text
    assert f"<title>{words} · MemOS chat viewer</title>" in unescape(response.text)
    assert ways_out(response.text) == ([way_out] if way_out else [])
    assert ">Reload<" not in response.text and ">Try again<" not in response.text


def test_a_wrong_method_and_a_signed_refusal_are_headed_too(client, app_factory):
    response = client.post(OPEN_CHAT)
    assert response.status_code == 405
    assert heading(response.text) == "Wrong kind of request"
    assert ways_out(response.text) == ["Back to the start page"]
    signed = app_factory(EMBED_SECRET="an-embed-secret-that-is-long-enough-32b").test_client()
    for path in (OPEN_CHAT, "/embed?user_id=u&conversation_id=c"):
        refused = signed.get(path)
        assert refused.status_code == 403
        assert heading(refused.text) == "You can't open this conversation"
        assert ways_out(refused.text) == []  # the start page cannot grant a token


def test_an_unexpected_error_is_a_500_page_that_offers_to_try_again(app_factory):
    app = app_factory()

    @app.get("/boom")
    def boom():
        raise RuntimeError("a bug")

    response = app.test_client().get("/boom")
    assert response.status_code == 500
    assert heading(response.text) == "Something went wrong"
    assert "Error 500" in response.text and ways_out(response.text) == ["Try again"]
