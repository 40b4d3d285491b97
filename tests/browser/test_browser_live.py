"""Live updates in a real browser: new messages appear by themselves (issue #10).

The page's clock is Playwright's, frozen (``freeze_clock``): a live check happens when the test
runs the clock past its interval, so nothing here waits for a real interval. The messages come
from real stores: the app's embedded SQLite store, or a MemOS served over loopback HTTP.

Checks of one conversation share their MemOS call, and its answer is reused for a second
(viewer/sharing.py): where the conversation grows between two checks, the test lets
that answer expire first (``past_shared_answer``).
"""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from browser_helpers import (
    chat_url,
    CSP_RECORDER,
    embed_url,
    freeze_clock,
    make_messages,
    MESSAGE,
    NEWER,
    rewrite_newest,
    run_check,
    scroll_up,
    seed,
    shown_texts,
    widget_div,
    widget_frame,
)
from playwright.sync_api import expect, Page, Response
from upstream_apps import upstream_app
from werkzeug import Request
from werkzeug import Response as WerkzeugResponse

from viewer.access import sign

pytestmark = pytest.mark.browser

INTERVAL = 2  # LIVE_POLL_SECONDS for most apps here: the smallest allowed
SECOND = 1000  # the page's clock counts milliseconds
STATUS = ".live__status"
RETRYING = "Can't check for new messages right now. Retrying…"


def past_shared_answer(server) -> None:
    """Let the conversation's last shared answer expire (a second), so that the
    next check reads what was just added."""
    time.sleep(server.app.extensions["live_reads"].ttl + 0.05)


def add(server_or_store, messages: list[dict], conversation: str = "c") -> list[str]:
    """Add ``messages`` to the conversation upstream; return their texts."""
    store = getattr(server_or_store, "store", server_or_store)
    if messages:
        store.add_messages("u", conversation, messages)
    return [message["content"] for message in messages]


def checks_made(page: Page) -> list[str]:
    """The URLs of the live checks ``page`` (and its frames) makes from now on, as it makes
    them."""
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url) if NEWER in request.url
            else None)
    return urls


def at_newest_end(page: Page) -> bool:
    return page.locator(".scroller").evaluate("scroller => Math.abs(scroller.scrollTop) < 2")


def first_visible(page: Page) -> int:
    """The index of the first message whose bottom shows in the scroller."""
    return page.locator(".scroller").evaluate("""scroller => {
        const top = scroller.getBoundingClientRect().top;
        return [...document.querySelectorAll('#messages > [data-role]')]
            .findIndex(message => message.getBoundingClientRect().bottom > top + 1);
    }""")


def assert_in_place(box: dict, before: dict) -> None:
    """``box`` is where ``before`` was, to within a pixel (the script moves the scroll position
    by whole pixels, the layout grows by fractions of one)."""
    assert all(abs(box[key] - before[key]) <= 1 for key in ("x", "y", "width", "height")), \
        (box, before)


def separators(page: Page) -> list[str]:
    """The ids of the day separators and the text of the messages, in page order."""
    return page.locator("#messages > *").evaluate_all("""elements => elements.map(element =>
        element.matches('.day-separator') ? element.id
        : element.querySelector('.message__body')?.innerText.trim() ?? element.className)""")


# --- The conversation grows: in order, no duplicates, the view follows -------------------------

def test_new_messages_appear_in_order_once_and_in_view(memos_server, app_factory, live_server,
                                                       page):
    """A real MemOS (the local server over HTTP, with its API key) whose conversation grows
    while the page is open: each check appends exactly what was added, at the bottom."""
    server = live_server(upstream_app(app_factory, memos_server.base_url,
                                      MEMOS_API_KEY=memos_server.api_key,
                                      LIVE_POLL_SECONDS=INTERVAL))
    store = memos_server.store
    expected = add(store, make_messages(8))[-6:]
    page.add_init_script(CSP_RECORDER)
    freeze_clock(page)
    checks = checks_made(page)
    page.goto(chat_url(server.url))
    expect(page.locator(MESSAGE)).to_have_count(6)
    next_url = page.locator("#live").get_attribute("data-live-url")
    focused = "BODY"

    # One, three, none, then more than the first call asks for (six plus the three anchored:
    # the server widens its call once).
    for round_, count in enumerate([1, 3, 0, 12], start=1):
        if round_ == 3:  # the reader focuses "load earlier" (without scrolling to it)
            page.locator("#load-more").evaluate("control => control.focus({preventScroll: true})")
            focused = "A"
        expected += add(store, make_messages(count, prefix=f"round {round_}", hour=9 + round_))
        past_shared_answer(server)
        answer = run_check(page, INTERVAL)
        assert answer.request.url.endswith(next_url)  # each check starts where the last ended
        assert answer.status == (200 if count else 204)
        expect(page.locator(MESSAGE)).to_have_count(len(expected))
        assert shown_texts(page) == expected
        if count:
            next_url = answer.headers["live-next"]
        # At the newest end the view follows: the newest message is in view; the reader's
        # focus stays where it was, on nothing or on their control (the log announces the
        # arrivals politely).
        expect(page.locator(MESSAGE).last).to_be_in_viewport()
        assert at_newest_end(page)
        expect(page.locator("#new-messages")).to_be_hidden()
        assert page.evaluate("document.activeElement.tagName") == focused
        expect(page.locator(STATUS)).to_be_empty()

    assert len(checks) == 4
    assert len(set(shown_texts(page))) == len(expected) == 6 + 1 + 3 + 12
    assert page.evaluate("window.__cspViolations") == []


# --- Scrolled up: nothing moves; "new messages" counts them and goes to the newest -------------

@pytest.mark.parametrize("anchoring", ["chromium", "none"])
def test_scrolled_up_the_reader_keeps_their_place_and_gets_a_new_messages_control(
        live_server, page, anchoring):
    """``anchoring``: Chromium's scroll anchoring, or none, as in Safari, which has none: there
    static/chat.js alone keeps the reader's place."""
    server = live_server(LIVE_POLL_SECONDS=INTERVAL)
    seed(server.store, 12)
    freeze_clock(page)
    page.goto(chat_url(server.url, limit=12))
    expect(page.locator(MESSAGE)).to_have_count(12)
    if anchoring == "none":
        page.locator(".scroller").evaluate("scroller => { scroller.style.overflowAnchor = 'none' }")
    control = page.locator("#new-messages")
    newest = page.locator(MESSAGE).last

    def grow_and_check(count: int, round_: int) -> None:
        add(server, make_messages(count, prefix=f"round {round_}", hour=9 + round_))
        past_shared_answer(server)
        assert run_check(page, INTERVAL).status == 200
        expect(newest).to_contain_text(f"round {round_} {count - 1:02d}")

    scroll_up(page)
    assert not at_newest_end(page)
    first = first_visible(page)
    anchor = page.locator(MESSAGE).nth(first)
    before = anchor.bounding_box()

    grow_and_check(2, 1)
    expect(control).to_have_text("2 new messages")
    expect(control).to_be_visible()
    expect(control).to_be_in_viewport()  # it stays at the bottom of what the reader sees
    assert_in_place(anchor.bounding_box(), before)
    assert first_visible(page) == first

    before = anchor.bounding_box()
    grow_and_check(1, 2)
    expect(control).to_have_text("3 new messages")
    assert_in_place(anchor.bounding_box(), before)
    expect(newest).not_to_be_in_viewport()

    control.click()  # goes to the newest, and the control is done
    expect(control).to_be_hidden()
    expect(newest).to_be_in_viewport()
    assert at_newest_end(page)
    assert newest.evaluate("message => message === document.activeElement")

    # With the keyboard: Enter on the focused control.
    scroll_up(page)
    grow_and_check(1, 3)
    expect(control).to_have_text("1 new message")
    control.focus()
    page.keyboard.press("Enter")
    expect(control).to_be_hidden()
    expect(newest).to_be_in_viewport()
    assert at_newest_end(page)

    # Scrolling back to the newest end by hand hides it too, and the count starts again.
    scroll_up(page)
    grow_and_check(2, 4)
    expect(control).to_have_text("2 new messages")
    page.locator(".scroller").evaluate("scroller => { scroller.scrollTop = 0; }")
    expect(control).to_be_hidden()
    scroll_up(page)
    grow_and_check(1, 5)
    expect(control).to_have_text("1 new message")
    assert len(set(shown_texts(page))) == 12 + 2 + 1 + 1 + 2 + 1


# --- Day separators at the seam ----------------------------------------------------------------

def test_day_separators_are_right_at_the_seam(live_server, page):
    server = live_server(LIVE_POLL_SECONDS=INTERVAL)
    seed(server.store, 8)  # 1 March
    freeze_clock(page)
    page.goto(chat_url(server.url))
    expect(page.locator(MESSAGE)).to_have_count(6)
    shown = [f"message {n:02d}" for n in range(2, 8)]
    assert separators(page) == ["day-2026-03-01", *shown]

    def grow_and_check(messages: list[dict]) -> str:
        texts = add(server, messages)
        past_shared_answer(server)
        answer = run_check(page, INTERVAL)
        expect(page.locator(MESSAGE).last).to_contain_text(texts[-1])
        return answer.text()

    # The same day: no separator, in the answer or on the page.
    assert "day-separator" not in grow_and_check(make_messages(1, prefix="later", hour=23))
    # The next day: one, just before its first message.
    grow_and_check(make_messages(2, prefix="next day", day=2))
    # The same (next) day again: none.
    assert "day-separator" not in grow_and_check(make_messages(1, prefix="still", day=2,
                                                               hour=10))
    assert separators(page) == ["day-2026-03-01", *shown, "later 00", "day-2026-03-02",
                                "next day 00", "next day 01", "still 00"]


# --- More than one request can return: a gap marker, never a silent gap ------------------------

def test_more_new_messages_than_the_api_returns_come_after_a_gap_marker(live_server, page):
    server = live_server(LIVE_POLL_SECONDS=INTERVAL, MEMOS_MAX_LIMIT=20)
    seed(server.store, 8)
    freeze_clock(page)
    page.goto(chat_url(server.url))
    expect(page.locator(MESSAGE)).to_have_count(6)

    arrived = add(server, make_messages(25, prefix="burst", hour=10))
    past_shared_answer(server)
    assert run_check(page, INTERVAL).status == 200
    gap = page.locator("#messages > .live-gap")
    expect(gap).to_be_visible()
    expect(gap).to_have_attribute("role", "note")
    expect(page.locator(MESSAGE)).to_have_count(6 + 20)
    # The newest 20 (MEMOS_MAX_LIMIT), after the marker; the five before them are missing,
    # and the marker says so.
    assert shown_texts(page) == [f"message {n:02d}" for n in range(2, 8)] + arrived[5:]
    order = page.locator("#messages > *").evaluate_all(
        "elements => elements.map(element => element.className)")
    gap_at = order.index("live-gap")
    assert sum(name.startswith("message ") for name in order[:gap_at]) == 6

    # Checks go on after the newest.
    later = add(server, make_messages(1, prefix="after the burst", hour=11))
    past_shared_answer(server)
    assert run_check(page, INTERVAL).status == 200
    expect(page.locator(MESSAGE).last).to_contain_text(later[0])
    expect(gap).to_have_count(1)

    reload = gap.get_by_role("link", name="Reload to see them in order")
    reload.click()
    expect(page.locator(MESSAGE)).to_have_count(6)
    assert shown_texts(page) == (arrived + later)[-6:]
    expect(page.locator(".live-gap")).to_have_count(0)
    assert urlsplit(page.url).path == "/chat"


@pytest.mark.parametrize("count", [17, 18, 19])
def test_new_messages_that_one_request_returns_are_all_shown_without_a_gap(live_server, page,
                                                                           count):
    """MEMOS_MAX_LIMIT 20: the newest three on screen (the check's anchor) fit beside 17 new
    messages in one answer; beside 18 or 19 only some of them do, but every new one is there."""
    server = live_server(LIVE_POLL_SECONDS=INTERVAL, MEMOS_MAX_LIMIT=20)
    seed(server.store, 8)
    freeze_clock(page)
    page.goto(chat_url(server.url))
    expect(page.locator(MESSAGE)).to_have_count(6)

    arrived = add(server, make_messages(count, prefix="burst", hour=10))
    past_shared_answer(server)
    assert run_check(page, INTERVAL).status == 200
    expect(page.locator(MESSAGE)).to_have_count(6 + count)
    assert shown_texts(page) == [f"message {n:02d}" for n in range(2, 8)] + arrived
    expect(page.locator(".live-gap, .live-notice")).to_have_count(0)
    expect(page.locator(STATUS)).to_be_empty()


@pytest.mark.parametrize("count, max_limit", [(8, 1000), (25, 20)], ids=["a-few", "too-many"])
def test_an_empty_conversation_shows_its_first_messages_all_or_after_a_gap_marker(
        live_server, page, count, max_limit):
    """The widget opened before the conversation began: more than a page arrives before the
    first check. All of it is shown, or, beyond what one request returns, the newest after a
    gap marker; the note "No messages yet" goes."""
    server = live_server(LIVE_POLL_SECONDS=INTERVAL, MEMOS_MAX_LIMIT=max_limit)
    freeze_clock(page)
    page.goto(chat_url(server.url))
    expect(page.locator("#conversation-empty")).to_be_visible()

    arrived = add(server, make_messages(count, prefix="first", hour=10))
    assert run_check(page, INTERVAL).status == 200
    shown = arrived[-max_limit:]
    expect(page.locator(MESSAGE)).to_have_count(len(shown))
    assert shown_texts(page) == shown
    expect(page.locator("#conversation-empty")).to_have_count(0)
    if count <= max_limit:
        expect(page.locator(".live-gap")).to_have_count(0)
        expect(page.locator("#conversation-start")).to_have_text("Beginning of conversation")
    else:
        expect(page.locator("#messages > .live-gap")).to_be_visible()
        expect(page.locator("#conversation-start")).to_have_count(0)
    assert page.evaluate("document.activeElement === document.body")

    later = add(server, make_messages(1, prefix="later", hour=11))
    past_shared_answer(server)
    assert run_check(page, INTERVAL).status == 200
    expect(page.locator(MESSAGE).last).to_contain_text(later[0])
    assert shown_texts(page) == shown + later


# --- The newest messages on screen changed upstream: a notice, and checks stop -----------------

@pytest.mark.parametrize("change", ["edited", "deleted"])
def test_a_changed_newest_message_stops_checks_with_a_reload_notice(live_server, page, change):
    server = live_server(LIVE_POLL_SECONDS=INTERVAL)
    seed(server.store, 8)
    freeze_clock(page)
    checks = checks_made(page)
    page.goto(chat_url(server.url))
    expect(page.locator(MESSAGE)).to_have_count(6)

    rewrite_newest(server.store, change)
    past_shared_answer(server)
    assert run_check(page, INTERVAL).status == 409
    notice = page.locator("#live .live-notice")
    expect(notice).to_contain_text("changed since the page was loaded")
    expect(page.locator(STATUS)).to_have_text("Live updates stopped.")
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(page.locator(MESSAGE)).to_have_count(6)  # what was shown stays

    page.clock.run_for(10 * 60 * SECOND)  # ten minutes: no more checks
    assert len(checks) == 1

    notice.get_by_role("link", name="Reload the page").click()
    expect(page.locator(".live-notice")).to_have_count(0)
    expect(page.locator(MESSAGE).last).to_contain_text(
        "rewritten upstream" if change == "edited" else "message 06")


# --- A hidden tab makes no checks --------------------------------------------------------------

SET_VISIBILITY = """hidden => {
    // Headless Chromium has no tabs to switch: say what a browser says when one is switched.
    Object.defineProperty(document, "hidden", {configurable: true, get: () => hidden});
    Object.defineProperty(document, "visibilityState", {configurable: true,
                                                         get: () => hidden ? "hidden" : "visible"});
    document.dispatchEvent(new Event("visibilitychange"));
}"""


def test_a_hidden_tab_pauses_checks_and_checks_when_shown_if_one_is_due(live_server, page):
    server = live_server(LIVE_POLL_SECONDS=10)
    seed(server.store, 8)
    freeze_clock(page)
    checks = checks_made(page)
    page.goto(chat_url(server.url))
    expect(page.locator(MESSAGE)).to_have_count(6)
    assert run_check(page, 10).status == 204
    assert len(checks) == 1

    page.evaluate(SET_VISIBILITY, True)
    page.clock.run_for(5 * 60 * SECOND)  # five minutes hidden: thirty checks' worth
    assert len(checks) == 1
    texts = add(server, make_messages(1, prefix="while hidden", hour=10))
    past_shared_answer(server)
    with page.expect_response(lambda response: NEWER in response.url) as answer:
        page.evaluate(SET_VISIBILITY, False)  # shown again, long overdue: a check at once
    assert answer.value.status == 200
    expect(page.locator(MESSAGE).last).to_contain_text(texts[0])
    assert len(checks) == 2

    # Hidden and shown again before the next check is due: none at once, one when it is due.
    page.clock.run_for(4 * SECOND)
    page.evaluate(SET_VISIBILITY, True)
    page.clock.run_for(2 * SECOND)
    page.evaluate(SET_VISIBILITY, False)
    page.clock.run_for(3 * SECOND)  # 9 s since the last check
    assert len(checks) == 2
    assert run_check(page, 1).status == 204  # 10 s
    page.clock.run_for(9 * SECOND)
    assert len(checks) == 3
    assert run_check(page, 1).status == 204  # and on, every 10 s
    assert len(checks) == 4


# --- Live updates off, and no JavaScript: no checks; a link reloads ----------------------------

def check_link_reloads(page: Page, shows: str) -> None:
    """Follow "Check for new messages": the page again, showing ``shows`` last."""
    link = page.get_by_role("link", name="Check for new messages")
    expect(link).to_be_visible()
    with page.expect_navigation():
        link.click()
    expect(page.locator(MESSAGE).last).to_contain_text(shows)


@pytest.mark.parametrize("off", ["live=0", "LIVE_POLL_SECONDS=0"])
def test_live_updates_off_make_no_checks_and_offer_a_reload_link(live_server, page, off):
    server = live_server(LIVE_POLL_SECONDS=0 if off == "LIVE_POLL_SECONDS=0" else INTERVAL)
    seed(server.store, 14)
    freeze_clock(page)
    checks = checks_made(page)
    extra = {"live": "0"} if off == "live=0" else {}
    page.goto(chat_url(server.url, **extra))
    expect(page.locator(MESSAGE)).to_have_count(6)
    live = page.locator("#live")
    assert live.get_attribute("data-live-url") is None
    expect(page.locator("#live.live--running")).to_have_count(0)

    # "Load earlier" keeps ?live=0, in its htmx request and in the links it brings.
    with page.expect_request(lambda request: "/chat/older" in request.url) as older:
        page.locator("#load-more").click()
    expect(page.locator(MESSAGE)).to_have_count(12)
    kept = [older.value.url, page.locator("#load-more").get_attribute("href"),
            page.locator("#load-more").get_attribute("data-hx-get"),
            page.get_by_role("link", name="Check for new messages").get_attribute("href")]
    for url in kept:
        assert (parse_qs(urlsplit(url).query).get("live") == ["0"]) == (off == "live=0"), url

    texts = add(server, make_messages(1, prefix="arrived", hour=10))
    page.clock.run_for(10 * 60 * SECOND)
    expect(page.locator(MESSAGE)).to_have_count(12)
    check_link_reloads(page, texts[0])
    if off == "live=0":
        assert parse_qs(urlsplit(page.url).query)["live"] == ["0"]
        assert page.locator("#live").get_attribute("data-live-url") is None
    page.clock.run_for(10 * 60 * SECOND)
    assert checks == []


def test_without_javascript_there_are_no_checks_and_the_link_reloads(live_server, new_context):
    server = live_server(LIVE_POLL_SECONDS=INTERVAL)
    seed(server.store, 8)
    page = new_context(java_script_enabled=False).new_page()
    checks = checks_made(page)
    page.goto(chat_url(server.url))
    expect(page.locator(MESSAGE)).to_have_count(6)
    assert page.locator("#live").get_attribute("data-live-url")  # live, for those with JS
    expect(page.locator(STATUS)).to_be_hidden()
    expect(page.locator("#new-messages, .live__resume")).to_have_count(0)

    texts = add(server, make_messages(2, prefix="arrived", hour=10))
    check_link_reloads(page, texts[-1])
    assert shown_texts(page)[-2:] == texts
    assert checks == []


# --- The host page asks its widgets to check now -----------------------------------------------

# A sibling of the widget on the host page: a frame of the host's own (allowed) origin, and a
# sandboxed one (an opaque origin, "null"). Each can post to the widget's window.
SIBLINGS = """
<iframe id="same-origin-sibling" title="sibling" srcdoc="<p>same origin</p>"></iframe>
<iframe id="sandboxed-sibling" title="sandboxed sibling" sandbox="allow-scripts"
        srcdoc="<p>sandboxed</p>"></iframe>
"""
POST_REFRESH = """index => window.parent.frames[index].postMessage({type: "memos-chat:refresh"},
                                                                  "*")"""
# In the widget, after widget.js's own listener: counts the refresh messages delivered, and the
# refreshes widget.js passed on to chat.js (its "memos-chat:refresh" event) by then.
REFRESH_COUNTER = """() => {
    window.__refreshMessages = 0;
    window.__refreshesAccepted = 0;
    document.addEventListener("memos-chat:refresh", () => { window.__refreshesAccepted += 1; });
    window.addEventListener("message", (event) => {
        if (event.data && event.data.type === "memos-chat:refresh") window.__refreshMessages += 1;
    });
}"""


def test_the_host_page_can_make_its_widgets_check_now(live_server, host_site, page):
    # An hour between checks: only the host's refresh can explain one.
    server = live_server(EMBED_ALLOWED_ORIGINS=host_site.origin, LIVE_POLL_SECONDS=3600)
    seed(server.store, 8, conversation="first")
    seed(server.store, 8, conversation="second")
    host_site.show(server.url, widget_div(embed_url(server.url, conversation="first")),
                   widget_div(embed_url(server.url, conversation="second")), extra=SIBLINGS)
    page.add_init_script(CSP_RECORDER)
    checks = checks_made(page)
    page.goto(host_site.url)
    first = page.frame_locator("[data-memos-chat]:nth-of-type(1) > iframe")
    second = page.frame_locator("[data-memos-chat]:nth-of-type(2) > iframe")
    widget = widget_frame(page, "[data-memos-chat]:nth-of-type(1) > iframe")
    widget_frame(page, "[data-memos-chat]:nth-of-type(2) > iframe")
    index = widget.evaluate("""() => Array.from({length: parent.frames.length},
                                                (_, n) => parent.frames[n]).indexOf(window)""")

    def conversation_of(url: str) -> str:
        return parse_qs(urlsplit(url).query)["conversation_id"][0]

    # The host's chat posted in both; it asks the first widget alone.
    one = add(server, make_messages(1, prefix="first posted", hour=10), conversation="first")
    two = add(server, make_messages(1, prefix="second posted", hour=10), conversation="second")
    with page.expect_response(lambda response: NEWER in response.url) as answer:
        page.evaluate("MemosChat.refresh(document.querySelector('[data-memos-chat]'))")
    assert answer.value.status == 200
    expect(first.locator(MESSAGE).last).to_contain_text(one[0])
    assert [conversation_of(url) for url in checks] == ["first"]
    expect(second.locator(MESSAGE).last).to_contain_text("message 07")

    # Then all of them: the second shows its message too.
    with page.expect_response(lambda response: NEWER in response.url
                              and conversation_of(response.url) == "first"), \
            page.expect_response(lambda response: NEWER in response.url
                                 and conversation_of(response.url) == "second"):
        page.evaluate("MemosChat.refresh()")
    expect(second.locator(MESSAGE).last).to_contain_text(two[0])
    assert sorted(conversation_of(url) for url in checks) == ["first", "first", "second"]

    # The host's chat posts again, and asks again: the widget shows that one too.
    again = add(server, make_messages(1, prefix="first again", hour=11), conversation="first")
    page.evaluate("MemosChat.refresh(document.querySelector('[data-memos-chat]'))")
    expect(first.locator(MESSAGE).last).to_contain_text(again[0])
    assert len(checks) == 4

    # A window that is not the widget's parent asks: nothing happens, whatever its origin.
    later = add(server, make_messages(1, prefix="first later", hour=12), conversation="first")
    widget.evaluate(REFRESH_COUNTER)
    for sibling in ("#same-origin-sibling", "#sandboxed-sibling"):
        frame = page.locator(sibling).element_handle().content_frame()
        frame.evaluate(POST_REFRESH, index)
    widget.wait_for_function("window.__refreshMessages === 2")
    assert widget.evaluate("window.__refreshesAccepted") == 0
    expect(first.locator(MESSAGE).last).to_contain_text(again[0])
    # The same message from the widget's own parent is obeyed.
    page.evaluate(POST_REFRESH.replace("window.parent", "window"), index)
    expect(first.locator(MESSAGE).last).to_contain_text(later[0])
    assert widget.evaluate("window.__refreshesAccepted") == 1
    assert len(checks) == 5
    for frame in page.frames:
        assert frame.evaluate("window.__cspViolations || []") == [], frame.url


# --- Failed checks back off; Retry-After is honoured; success resets the interval --------------

# Notes the page's time (Playwright's clock) of every live check as the page makes it, and of
# every answer it has handled: new messages put on the page, or a status said (such as
# "Retrying…"). The page's own fetch makes the request: this only writes down when.
CHECK_TIMES = """
window.__checkTimes = [];
window.__handledTimes = [];
const fetchForPage = window.fetch;
window.fetch = function (resource) {
  if (String(resource).includes("/chat/newer")) window.__checkTimes.push(Date.now());
  return fetchForPage.apply(this, arguments);
};
document.addEventListener("htmx:afterSettle", () => window.__handledTimes.push(Date.now()));
document.addEventListener("DOMContentLoaded", () => {
  const status = document.querySelector(".live__status");
  new MutationObserver(() => {
    if (status.textContent) window.__handledTimes.push(Date.now());
  }).observe(status, {childList: true, characterData: true, subtree: true});
});
"""
MAX_DELAY = 5 * 60 * SECOND  # static/chat.js: back-off doubles up to five minutes
API_PATH = "/api/openmem/v1/get/message"


class Upstream:
    """A MemOS stand-in on pytest-httpserver: the conversation, or the fault it is set to."""

    def __init__(self, httpserver) -> None:
        self.messages = make_messages(8)
        self.fault = None
        httpserver.expect_request(API_PATH, method="POST").respond_with_handler(self.answer)

    def answer(self, request: Request) -> WerkzeugResponse:
        if self.fault is not None:
            return self.fault()
        limit = request.get_json()["message_limit_number"] or 6
        body = {"code": 0, "message": "ok",
                "data": {"message_detail_list": self.messages[-limit:]}}
        return WerkzeugResponse(json.dumps(body), content_type="application/json")


FAULTS = {
    "http-500": lambda: WerkzeugResponse('{"detail": "boom"}', 500,
                                         content_type="application/json"),
    "memos-rate-limit-code": lambda: WerkzeugResponse(
        json.dumps({"code": 40300, "data": None, "message": "too many requests"}),
        content_type="application/json"),
    "http-429-retry-after": lambda: WerkzeugResponse(
        '{"detail": "slow down"}', 429, {"Retry-After": "90"}, content_type="application/json"),
}


@pytest.fixture
def upstream(httpserver_ipv4, app_factory, live_server):
    """The viewer (checking every INTERVAL) in front of a MemOS stand-in on 127.0.0.1."""
    app = upstream_app(app_factory, httpserver_ipv4.url_for("/api/openmem/v1/"),
                       MEMOS_API_KEY="sk-live-test-key", MEMOS_TIMEOUT=1,
                       LIVE_POLL_SECONDS=INTERVAL,
                       MEMOS_BREAKER_FAILURES=0)  # the page's own back-off, not the breaker's
    app.extensions["memos_source"].source.backoff = 0.01  # the client's own quick retries
    yield Upstream(httpserver_ipv4), live_server(app)
    httpserver_ipv4.check_handler_errors()


class Checks:
    """Runs a page's frozen clock from one live check to the next, and says exactly how long
    after the page handled the last answer (the time it scheduled the next check) it came."""

    def __init__(self, page: Page) -> None:
        self.page = page
        page.add_init_script(CHECK_TIMES)
        freeze_clock(page)

    def times(self) -> list[int]:
        return self.page.evaluate("window.__checkTimes")

    def now(self) -> int:
        return self.page.evaluate("Date.now()")

    def next(self, earliest: float, latest: float, steps: int = 40) -> tuple[Response, int]:
        """Run the clock to the next check; it must come ``earliest`` to ``latest`` ms after
        the page handled the last answer (or loaded). Return its answer and that delay.

        The caller waits until the page has handled this answer before the next call."""
        made, handled = len(self.times()), self.page.evaluate("window.__handledTimes")
        start = handled[-1] if handled else self.now()
        self.page.clock.run_for(max(0, start + round(earliest) - 1 - self.now()))
        assert len(self.times()) == made, f"a check sooner than {earliest} ms"
        step = max(1, round((latest - earliest) / steps))
        with self.page.expect_response(lambda response: NEWER in response.url) as answer:
            while len(self.times()) == made:
                assert self.now() - start <= latest, f"no check within {latest} ms"
                self.page.clock.run_for(step)
        times = self.times()
        assert len(times) == made + 1
        waited = times[-1] - start
        assert earliest - 1 <= waited <= latest + 1, (earliest, waited, latest)  # 1: rounding
        return answer.value, waited

    def next_failing(self, earliest: float, latest: float) -> tuple[Response, int]:
        """``next``, for a check that fails: returns once the page has handled its answer.

        The status already says the page is retrying: it is cleared first, and the page says
        it again when it has scheduled the next check."""
        status = self.page.locator(STATUS)
        status.evaluate("status => { status.textContent = ''; }")
        answer, waited = self.next(earliest, latest)
        expect(status).to_have_text(RETRYING)
        return answer, waited


def assert_retrying_quietly(page: Page) -> None:
    expect(page.locator(STATUS)).to_have_text(RETRYING)
    expect(page.locator(STATUS)).to_have_attribute("role", "status")
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(page.locator(".live-notice")).to_have_count(0)
    expect(page.locator(MESSAGE)).to_have_count(6)


@pytest.mark.parametrize("fault", ["http-500", "memos-rate-limit-code"])
def test_failed_checks_back_off_to_five_minutes_and_success_resets_the_interval(upstream, page,
                                                                                 fault):
    memos, server = upstream
    checks = Checks(page)
    page.goto(chat_url(server.url))
    expect(page.locator(MESSAGE)).to_have_count(6)
    memos.fault = FAULTS[fault]

    answer, _ = checks.next_failing(INTERVAL * SECOND, INTERVAL * SECOND)  # on time
    assert answer.status in (502, 503)
    assert_retrying_quietly(page)
    delays, nominals = [], []
    for failures in range(1, 10):  # doubling, with ±25% jitter: 4 s, 8 s ... 256 s, 300 s
        nominal = min(MAX_DELAY, INTERVAL * SECOND * 2 ** failures)
        answer, waited = checks.next_failing(0.75 * nominal, 1.25 * nominal)
        assert answer.status in (502, 503)
        delays.append(waited)
        nominals.append(nominal)
    assert_retrying_quietly(page)
    assert delays[:7] == sorted(delays[:7])  # they grow (jitter aside, up to the cap)
    assert delays != nominals  # jittered: pages that failed together do not retry together
    assert all(waited <= 1.25 * MAX_DELAY for waited in delays)

    # MemOS answers again (with a new message): the page shows it and checks every interval.
    memos.fault = None
    memos.messages += make_messages(1, prefix="back", hour=10)
    past_shared_answer(server)
    answer, _ = checks.next(0.75 * MAX_DELAY, 1.25 * MAX_DELAY)
    assert answer.status == 200
    expect(page.locator(MESSAGE).last).to_contain_text("back 00")
    expect(page.locator(STATUS)).to_be_empty()
    memos.messages += make_messages(1, prefix="again", hour=11)
    past_shared_answer(server)
    answer, waited = checks.next(INTERVAL * SECOND, INTERVAL * SECOND)
    assert answer.status == 200 and waited == INTERVAL * SECOND  # exactly: no jitter
    expect(page.locator(MESSAGE).last).to_contain_text("again 00")
    expect(page.get_by_role("alert")).to_have_count(0)


@pytest.mark.parametrize("limiter", ["viewer", "memos"])
def test_rate_limited_checks_wait_as_long_as_retry_after_says(request, live_server, page,
                                                              limiter):
    """The viewer's own rate limit (429) or MemOS's (a 429 with Retry-After: 90, which the
    viewer passes on with its 503): the next check waits that long, not the 4 s back-off."""
    if limiter == "viewer":
        server = live_server(LIVE_POLL_SECONDS=INTERVAL, RATE_LIMIT="1/minute")
        seed(server.store, 8)
    else:
        memos, server = request.getfixturevalue("upstream")
    checks = Checks(page)
    page.goto(chat_url(server.url))  # the one request a minute, for the viewer's limit
    expect(page.locator(MESSAGE)).to_have_count(6)
    if limiter == "memos":
        memos.fault = FAULTS["http-429-retry-after"]

    answer, _ = checks.next_failing(INTERVAL * SECOND, INTERVAL * SECOND)
    assert answer.status == (429 if limiter == "viewer" else 503)
    retry_after = int(answer.headers["retry-after"])
    assert retry_after > 5 and (limiter == "viewer" or retry_after == 90)
    assert_retrying_quietly(page)
    # Later than the back-off (4 s ± 25%) would have it, and exactly when it was told.
    answer, waited = checks.next_failing(retry_after * SECOND, retry_after * SECOND)
    assert waited == retry_after * SECOND
    if limiter == "memos":  # MemOS lets the viewer in again
        memos.fault = None
        memos.messages += make_messages(1, prefix="let in", hour=10)
        past_shared_answer(server)
        retry_after = int(answer.headers["retry-after"])
        checks.next(retry_after * SECOND, retry_after * SECOND)
        expect(page.locator(MESSAGE).last).to_contain_text("let in 00")
        expect(page.locator(STATUS)).to_be_empty()
    expect(page.get_by_role("alert")).to_have_count(0)


# --- Thirty idle minutes pause checks; "Resume live updates" restarts them ---------------------

def test_checks_pause_after_thirty_idle_minutes_until_resumed(live_server, page):
    server = live_server(LIVE_POLL_SECONDS=5 * 60)
    seed(server.store, 8)
    freeze_clock(page)
    checks = checks_made(page)
    page.goto(chat_url(server.url))
    expect(page.locator(MESSAGE)).to_have_count(6)
    status, resume = page.locator(STATUS), page.get_by_role("button", name="Resume live updates")
    expect(resume).to_be_hidden()

    # Twenty minutes, then the reader presses a key: thirty more minutes before the pause.
    for _check in range(4):
        assert run_check(page, 5 * 60).status == 204
    page.keyboard.press("Shift")
    for _check in range(6):
        assert run_check(page, 5 * 60).status == 204
    expect(status).to_be_empty()
    page.clock.run_for(5 * 60 * SECOND)  # thirty-five idle minutes: no check, a pause
    expect(status).to_have_text("Live updates paused.")
    expect(resume).to_be_visible()
    expect(page.get_by_role("alert")).to_have_count(0)
    page.clock.run_for(2 * 60 * 60 * SECOND)  # two hours: still none
    assert len(checks) == 10

    with page.expect_response(lambda response: NEWER in response.url) as answer:
        resume.click()  # a check at once
    assert answer.value.status == 204
    expect(resume).to_be_hidden()
    expect(status).to_be_empty()
    assert run_check(page, 5 * 60).status == 204  # and every five minutes again
    assert len(checks) == 12


# --- Signed links: checks carry the token; an expired one stops them ---------------------------

SECRET = "an-embed-secret-that-is-long-enough-32b"


def test_signed_pages_check_with_their_token_and_stop_when_it_expires(live_server,
                                                                      new_context):
    server = live_server(EMBED_SECRET=SECRET, LIVE_POLL_SECONDS=INTERVAL)
    seed(server.store, 8)

    # A token good for five minutes: the checks carry it, and only it.
    page = new_context().new_page()
    freeze_clock(page)
    token = sign("u", "c", SECRET, 300)
    page.goto(f"{server.url}/chat?token={token}")
    expect(page.locator(MESSAGE)).to_have_count(6)
    texts = add(server, make_messages(1, prefix="signed", hour=10))
    answer = run_check(page, INTERVAL)
    assert answer.status == 200
    expect(page.locator(MESSAGE).last).to_contain_text(texts[0])
    for url in (answer.request.url, answer.headers["live-next"]):
        query = parse_qs(urlsplit(url).query)
        assert query["token"] == [token] and "user_id" not in query, url

    # A token that expires while the page is open: the next check says so, and is the last.
    expiring = sign("u", "c", SECRET, 3)  # good for two seconds at least: time to load
    expires = jwt.decode(expiring, options={"verify_signature": False})["exp"]
    page = new_context().new_page()
    freeze_clock(page)
    checks = checks_made(page)
    page.goto(f"{server.url}/chat?token={expiring}")
    expect(page.locator(MESSAGE).last).to_contain_text(texts[0])
    time.sleep(max(0.0, expires - time.time()) + 0.1)  # the server's clock is the real one
    assert run_check(page, INTERVAL).status == 403
    expect(page.locator(STATUS)).to_have_text(
        "Live updates stopped. This link has expired: ask for a new one.")
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(page.locator(MESSAGE)).to_have_count(6)
    page.clock.run_for(10 * 60 * SECOND)
    assert len(checks) == 1

