"""The embeddable widget in a real browser: framed by a host page on another origin.

The host page is served by a tiny stdlib server on another loopback port (another origin than
the viewer's) and holds exactly the snippet the README gives: a ``data-memos-chat`` div and
``static/embed.js``. Covered: the widget renders and its iframe follows the widget's height;
``frame-ancestors`` blocks hosts that are not allowed; the host ignores height messages from
anyone but its widget; ``/embed`` opened directly; signed links; and no page breaks its own CSP,
sets a cookie or sends ``X-Frame-Options``.
"""

from __future__ import annotations

import html
import io
import secrets
import time
from urllib.parse import urlencode, urlsplit

import pytest
from browser_helpers import (
    CSP_RECORDER,
    embed_url,
    load_earlier,
    MESSAGE,
    seed,
    WIDGET,
    widget_div,
    widget_frame,
)
from PIL import Image
from playwright.sync_api import expect, Frame, Page

from viewer.access import sign

pytestmark = pytest.mark.browser

INITIAL_HEIGHT = 320  # embed.js's height before the widget reports its own
SETTLE_TIMEOUT_S = 5.0


# Counts, on the host page, the height messages delivered to it. Registered after embed.js
# has mounted, so for any message it runs after embed.js's own listener has handled it.
MESSAGE_COUNTER = """() => {
  window.__heightMessages = 0;
  window.addEventListener("message", (event) => {
    if (event.data && event.data.type === "memos-chat:height") window.__heightMessages += 1;
  });
}"""


# --- the host site (browser_helpers.HostSite) and reading its frame ----------------------------

def signed_url(base: str, token: str, **extra) -> str:
    return f"{base}/embed?" + urlencode({"token": token, **extra})


def iframe_height(page: Page, selector: str = WIDGET) -> float:
    return page.locator(selector).evaluate("frame => frame.getBoundingClientRect().height")


def content_height(frame: Frame) -> int:
    """What widget.js measures: the conversation's full height inside the frame."""
    return frame.evaluate("Math.ceil(document.querySelector('.history').scrollHeight)")


def settled_height(page: Page, frame: Frame, max_height: int, selector: str = WIDGET) -> float:
    """Wait (bounded) until the iframe is min(content, max_height) tall; return that height."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while True:
        content = content_height(frame)
        shown = iframe_height(page, selector)
        if abs(shown - min(content, max_height)) < 1:
            return shown
        if time.monotonic() > deadline:
            raise AssertionError(f"iframe is {shown}px, widget content {content}px "
                                 f"(max {max_height}px)")
        page.wait_for_timeout(50)


def collect_responses(page: Page) -> list:
    responses: list = []
    page.on("response", lambda response: responses.append(response))
    return responses


def assert_no_cookies_and_framing_by_csp_only(responses, viewer: str) -> None:
    """No viewer response sets a cookie; its documents frame by CSP, never X-Frame-Options."""
    ours = [response for response in responses if response.url.startswith(viewer + "/")]
    assert ours, "no response from the viewer was seen"
    for response in ours:
        headers = response.all_headers()
        assert "set-cookie" not in headers, (response.url, headers["set-cookie"])
        assert "x-frame-options" not in headers, response.url
        if headers.get("content-type", "").startswith("text/html"):
            assert "frame-ancestors " in headers["content-security-policy"], response.url


def luminance(page: Page) -> float:
    """Relative luminance (0 black .. 1 white), roughly, of what the page paints at its top
    left, where no message reaches: the widget draws no background of its own, so this is the
    canvas of its colour scheme."""
    shot = page.screenshot(clip={"x": 2, "y": 2, "width": 1, "height": 1})
    red, green, blue = (channel / 255 for channel in
                        Image.open(io.BytesIO(shot)).convert("RGB").getpixel((0, 0)))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


# --- 1. Framed by a host page on another origin ------------------------------------------------

def test_allowed_host_shows_the_widget_and_sizes_its_iframe_to_the_content(live_server,
                                                                           host_site, page):
    server = live_server(EMBED_ALLOWED_ORIGINS=host_site.origin)
    assert urlsplit(server.url).port != urlsplit(host_site.origin).port  # two origins
    seed(server.store, 10)  # six on first load, four more behind "load earlier"
    host_site.show(server.url, widget_div(embed_url(server.url), max_height=2000))
    page.add_init_script(CSP_RECORDER)
    responses = collect_responses(page)

    page.goto(host_site.url)
    widget = page.frame_locator(WIDGET)
    expect(widget.locator(MESSAGE)).to_have_count(6)
    expect(widget.locator(f"{MESSAGE} .message__body").last).to_have_text("message 09")
    expect(widget.locator(".topbar")).to_have_count(0)
    assert page.locator("iframe").count() == 1
    frame = widget_frame(page)
    assert frame.url.startswith(server.url + "/embed?")

    # The host got the widget's height and left the 320px it started at.
    first = settled_height(page, frame, 2000)
    assert first > INITIAL_HEIGHT
    assert first < 2000  # the whole conversation fits: nothing scrolls inside the frame
    assert frame.evaluate("document.querySelector('.scroller').scrollTop") == 0

    # "Load earlier" inside the frame: the fragment comes in and the iframe grows with it.
    with page.expect_response(lambda r: "/chat/older" in r.url) as older:
        widget.locator("#load-more").click()
    assert older.value.status == 200
    assert "layout=embed" in older.value.url
    expect(widget.locator(MESSAGE)).to_have_count(10)
    expect(widget.locator("#conversation-start")).to_be_attached()
    second = settled_height(page, frame, 2000)
    assert second > first

    assert frame.evaluate("window.__cspViolations") == []
    assert page.evaluate("window.__cspViolations") == []
    assert_no_cookies_and_framing_by_csp_only(responses, server.url)
    assert page.context.cookies() == []


def test_a_short_widget_shrinks_its_iframe_and_a_long_one_stops_at_max_height(live_server,
                                                                             host_site, page):
    server = live_server(EMBED_ALLOWED_ORIGINS=host_site.origin)
    seed(server.store, 1, conversation="short")
    seed(server.store, 30, conversation="long")
    host_site.show(server.url,
                   widget_div(embed_url(server.url, conversation="short")),
                   widget_div(embed_url(server.url, conversation="long"), max_height=250))
    page.goto(host_site.url)
    short_selector = "[data-memos-chat]:nth-of-type(1) > iframe"
    long_selector = "[data-memos-chat]:nth-of-type(2) > iframe"

    short = widget_frame(page, short_selector)
    expect(page.frame_locator(short_selector).locator(MESSAGE)).to_have_count(1)
    assert settled_height(page, short, 600, short_selector) < INITIAL_HEIGHT

    long = widget_frame(page, long_selector)
    expect(page.frame_locator(long_selector).locator(MESSAGE)).to_have_count(6)
    assert content_height(long) > 250
    assert settled_height(page, long, 250, long_selector) == 250
    # Beyond the cap the widget scrolls inside, newest messages in view.
    assert long.evaluate("(() => { const s = document.querySelector('.scroller');"
                         " return s.scrollHeight > s.clientHeight; })()")
    expect(page.frame_locator(long_selector).locator(MESSAGE).last).to_be_in_viewport()


@pytest.mark.parametrize("allowed", ["default", "other-host"])
def test_a_host_not_allowed_to_frame_the_widget_is_blocked(live_server, host_site, page,
                                                           allowed):
    if allowed == "default":  # EMBED_ALLOWED_ORIGINS unset: 'self' only
        server = live_server()
        policy = "frame-ancestors 'self'"
    else:  # the same port under another host name is another origin
        other = host_site.origin.replace("127.0.0.1", "localhost")
        server = live_server(EMBED_ALLOWED_ORIGINS=other)
        policy = f"frame-ancestors {other}"
    seed(server.store, 3)
    host_site.show(server.url, widget_div(embed_url(server.url)))
    console: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    failed: list[tuple[str, str | None]] = []
    page.on("requestfailed", lambda request: failed.append((request.url, request.failure)))

    with page.expect_response(lambda r: r.url.startswith(server.url + "/embed?")) as answer:
        page.goto(host_site.url)
    # The viewer answered; it is the browser that refuses to show the answer in the frame.
    assert answer.value.status == 200
    assert policy in answer.value.headers["content-security-policy"]

    frame = page.locator(WIDGET).element_handle().content_frame()

    def blocked_and_said_so() -> bool:
        reported = any(entry.startswith("error: ") and "frame-ancestors" in entry
                       for entry in console)
        return reported and frame.url.startswith("chrome-error://")

    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while not blocked_and_said_so():
        assert time.monotonic() < deadline, (frame.url, console)
        page.wait_for_timeout(50)
    # How Chromium reports it: the frame shows its own error page, the request fails with
    # ERR_BLOCKED_BY_RESPONSE, and the *host* page's console names the directive.
    assert not frame.url.startswith(server.url)
    assert frame.evaluate("document.querySelectorAll('[data-role]').length") == 0
    expect(page.frame_locator(WIDGET).locator("[data-role]")).to_have_count(0)
    assert any(url.startswith(server.url + "/embed?") for url, _ in failed), failed
    # Nothing could report a height: the iframe keeps its starting size.
    assert iframe_height(page) == INITIAL_HEIGHT


def test_host_ignores_height_messages_not_sent_by_its_widget(live_server, host_site, page):
    server = live_server(EMBED_ALLOWED_ORIGINS=host_site.origin)
    seed(server.store, 8)
    seed(server.store, 2, conversation="other")
    # A second frame of the same viewer, not made by embed.js: same origin as the widget,
    # but another window. Its own widget.js posts heights to the host too.
    stranger = embed_url(server.url, conversation="other")
    host_site.show(server.url, widget_div(embed_url(server.url), max_height=2000),
                   extra=f'<iframe id="stranger" src="{html.escape(stranger)}"></iframe>')
    page.goto(host_site.url)
    frame = widget_frame(page)
    stranger_frame = widget_frame(page, "#stranger")
    height = settled_height(page, frame, 2000)
    page.evaluate(MESSAGE_COUNTER)

    def post_and_wait(sender, expression: str) -> None:
        before = page.evaluate("window.__heightMessages")
        sender.evaluate(expression)
        page.wait_for_function(f"window.__heightMessages > {before}")

    # From the host page's own script.
    post_and_wait(page, 'window.postMessage({type: "memos-chat:height", height: 5}, "*")')
    assert iframe_height(page) == height
    # From another frame of the viewer's origin.
    post_and_wait(stranger_frame,
                  'parent.postMessage({type: "memos-chat:height", height: 7}, "*")')
    assert iframe_height(page) == height
    # From the widget itself, but not a usable height.
    for bad in ('"9"', "-1", "Infinity", "NaN", "null"):
        post_and_wait(frame, f'parent.postMessage({{type: "memos-chat:height", height: {bad}}},'
                             ' "*")')
        assert iframe_height(page) == height, bad
    # The control: the same message from the widget is obeyed (and capped at max height).
    post_and_wait(frame, 'parent.postMessage({type: "memos-chat:height", height: 123}, "*")')
    assert iframe_height(page) == 123
    post_and_wait(frame, 'parent.postMessage({type: "memos-chat:height", height: 5000}, "*")')
    assert iframe_height(page) == 2000


def test_embed_opened_directly_is_chromeless_themed_and_pages_back(live_server, new_context):
    server = live_server()
    seed(server.store, 10)

    page = new_context(color_scheme="light").new_page()
    response = page.goto(embed_url(server.url, theme="dark"))
    assert response.status == 200
    expect(page.locator(MESSAGE)).to_have_count(6)
    expect(page.locator(".topbar")).to_have_count(0)
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    assert luminance(page) < 0.25
    link = urlsplit(page.locator("#load-more").get_attribute("href"))
    assert link.path == "/embed"
    assert "theme=dark" in link.query and "user_id=u" in link.query
    load_earlier(page)
    expect(page.locator(MESSAGE)).to_have_count(10)
    expect(page.locator("#conversation-start")).to_be_attached()
    expect(page.locator(".topbar")).to_have_count(0)
    assert luminance(page) < 0.25

    # Light by default, and "load earlier" after a first htmx load still points at /embed.
    seed(server.store, 20, conversation="longer")
    page = new_context(color_scheme="light").new_page()
    page.goto(embed_url(server.url, conversation="longer"))
    assert luminance(page) > 0.8
    load_earlier(page)
    assert urlsplit(page.locator("#load-more").get_attribute("href")).path == "/embed"

    # Without JavaScript the link is the whole mechanism: a bigger /embed, never /chat.
    page = new_context(java_script_enabled=False).new_page()
    page.goto(embed_url(server.url))
    expect(page.locator(MESSAGE)).to_have_count(6)
    page.locator("#load-more").click()
    expect(page.locator(MESSAGE)).to_have_count(10)
    assert urlsplit(page.url).path == "/embed"
    expect(page.locator(".topbar")).to_have_count(0)


# --- 2. Signed links ---------------------------------------------------------------------------

def test_signed_widget_renders_and_pages_back_with_its_token(live_server, host_site, page):
    secret = secrets.token_urlsafe(32)
    server = live_server(EMBED_SECRET=secret, EMBED_ALLOWED_ORIGINS=host_site.origin)
    seed(server.store, 10)
    token = sign("u", "c", secret, 300)
    host_site.show(server.url, widget_div(signed_url(server.url, token), max_height=2000))
    responses = collect_responses(page)

    page.goto(host_site.url)
    widget = page.frame_locator(WIDGET)
    expect(widget.locator(MESSAGE)).to_have_count(6)
    frame = widget_frame(page)
    assert "user_id" not in frame.url  # the token alone says which conversation
    first = settled_height(page, frame, 2000)

    with page.expect_response(lambda r: "/chat/older" in r.url) as older:
        widget.locator("#load-more").click()
    assert older.value.status == 200
    assert f"token={token}" in older.value.url and "user_id" not in older.value.url
    expect(widget.locator(MESSAGE)).to_have_count(10)
    expect(widget.locator("#conversation-start")).to_be_attached()
    assert settled_height(page, frame, 2000) > first
    assert_no_cookies_and_framing_by_csp_only(responses, server.url)
    assert page.context.cookies() == []


def test_expired_or_missing_token_is_a_403_without_messages(live_server, host_site, page):
    secret = secrets.token_urlsafe(32)
    server = live_server(EMBED_SECRET=secret, EMBED_ALLOWED_ORIGINS=host_site.origin)
    seed(server.store, 10)
    expired = signed_url(server.url, sign("u", "c", secret, -60))

    # Framed: the host sees the viewer's explanation in place of the widget.
    host_site.show(server.url, widget_div(expired))
    with page.expect_response(lambda r: r.url.startswith(server.url + "/embed?")) as answer:
        page.goto(host_site.url)
    assert answer.value.status == 403
    widget = page.frame_locator(WIDGET)
    expect(widget.get_by_role("alert")).to_contain_text("expired")
    expect(widget.locator("[data-role]")).to_have_count(0)

    # Opened directly, expired or with plain ids instead of a token.
    for url, says in ((expired, "expired"), (embed_url(server.url), "token")):
        response = page.goto(url)
        assert response.status == 403, url
        expect(page.get_by_role("alert")).to_contain_text(says)
        expect(page.locator("[data-role]")).to_have_count(0)
        assert "x-frame-options" not in response.all_headers()


# --- 3. Every page lives within its own CSP ----------------------------------------------------

def test_no_page_violates_its_csp_or_sets_a_cookie(live_server, page):
    server = live_server()
    page.add_init_script(CSP_RECORDER)
    responses = collect_responses(page)
    demo = {"user_id": "demo-user", "conversation_id": "demo-conversation"}

    def no_violations(where: str) -> None:
        assert page.evaluate("window.__cspViolations") == [], where

    assert page.goto(server.url + "/").status == 200
    no_violations("/")
    for path in ("/chat", "/embed"):
        assert page.goto(f"{server.url}{path}?{urlencode(demo)}").status == 200
        expect(page.locator(MESSAGE)).to_have_count(6)
        load_earlier(page)
        expect(page.locator(MESSAGE)).to_have_count(12)
        no_violations(path)
    assert page.goto(f"{server.url}/chat?user_id=&conversation_id=c").status == 400
    expect(page.get_by_role("alert")).to_be_visible()
    no_violations("400 page")

    assert_no_cookies_and_framing_by_csp_only(responses, server.url)
    assert page.context.cookies() == []
    documents = {urlsplit(r.url).path: r.all_headers() for r in responses
                 if r.request.resource_type == "document"}
    assert documents["/embed"]["content-security-policy"].endswith("frame-ancestors 'self'")
    assert documents["/chat"]["content-security-policy"].endswith("frame-ancestors 'self'")
