"""Reading a conversation in a real browser: order, paging back, anchoring, JS-off fallback."""

from __future__ import annotations

import re

import pytest
from browser_helpers import (
    chat_url,
    load_earlier,
    load_everything,
    make_messages,
    MESSAGE,
    seed,
    shown_texts,
)
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

ISO_WITH_OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")

# Records any scrollIntoView call the page makes (the viewer must never scroll its host).
SCROLL_SPY = """
window.__scrollIntoViewCalls = 0;
for (const name of ["scrollIntoView", "scrollIntoViewIfNeeded"]) {
  const original = Element.prototype[name];
  if (!original) continue;
  Element.prototype[name] = function (...args) {
    window.__scrollIntoViewCalls += 1;
    return original.apply(this, args);
  };
}
"""


def test_page_shows_newest_messages_in_order_with_times(live_server, page):
    server = live_server()
    messages = seed(server.store, 10, roles=("user", "assistant", "system"))
    page.goto(chat_url(server.url))

    log = page.get_by_role("log")
    expect(log).to_have_count(1)
    expect(log).to_have_attribute("id", "messages")
    items = page.locator(MESSAGE)
    expect(items).to_have_count(6)
    newest = messages[-6:]
    assert shown_texts(page) == [m["content"] for m in newest]
    assert [items.nth(i).get_attribute("data-role") for i in range(6)] == \
        [m["role"] for m in newest]
    datetimes = [items.nth(i).locator("time").get_attribute("datetime") for i in range(6)]
    assert all(ISO_WITH_OFFSET.match(value) for value in datetimes), datetimes
    # Naive MemOS times are Beijing time (the default MEMOS_TIMEZONE).
    assert datetimes == [f"2026-03-01T09:00:{n:02d}+08:00" for n in range(4, 10)]
    expect(page.locator("#load-more")).to_be_visible()


def test_load_earlier_until_the_start_shows_everything_once(live_server, page):
    server = live_server()
    messages = seed(server.store, 23)
    url = chat_url(server.url)
    page.goto(url)

    clicks = load_everything(page)

    assert clicks == 3  # 6 shown, then 6 + 6 + 5 more
    expect(page.locator("#conversation-start")).to_be_visible()
    expect(page.locator("#load-more")).to_have_count(0)
    assert shown_texts(page) == [m["content"] for m in messages]
    assert page.url == url  # htmx did the paging: no navigation to the fallback page
    expect(page.get_by_role("log")).to_have_count(1)


def test_reader_keeps_their_place_when_older_messages_arrive(live_server, new_context):
    server = live_server()
    seed(server.store, 23,
         text=lambda n: f"message {n:02d}: " + "a fairly long line of chat text " * 6)
    page = new_context(viewport={"width": 800, "height": 500}).new_page()
    page.add_init_script(SCROLL_SPY)
    page.goto(chat_url(server.url))
    expect(page.locator(MESSAGE)).to_have_count(6)

    scroller = page.locator(".scroller")
    for expected_count in (12, 18, 23):
        # Scroll the history to its very top, where the reader is looking at the oldest message.
        scroller.evaluate("el => { el.scrollTop = -el.scrollHeight; }")
        top, height, visible = scroller.evaluate(
            "el => [el.scrollTop, el.scrollHeight, el.clientHeight]")
        assert height > visible, "the history must overflow the scroller for this test"
        assert top < 0, "column-reverse: the top of the history is a negative scrollTop"
        oldest = page.query_selector(MESSAGE)  # a handle: stays on this element
        text = oldest.inner_text()
        before = oldest.bounding_box()
        assert before is not None and before["y"] >= 0  # on screen
        load_earlier(page)
        expect(page.locator(MESSAGE)).to_have_count(expected_count)
        assert oldest.evaluate("el => el.isConnected") and oldest.inner_text() == text
        after = oldest.bounding_box()
        assert after is not None
        assert abs(after["y"] - before["y"]) <= 1, (before, after)
        assert page.evaluate("window.scrollY") == 0

    expect(page.locator("#conversation-start")).to_be_visible()
    assert page.evaluate("window.__scrollIntoViewCalls") == 0


def test_load_earlier_link_works_without_javascript(live_server, new_context):
    server = live_server()
    messages = seed(server.store, 23)
    page = new_context(java_script_enabled=False).new_page()
    page.goto(chat_url(server.url))
    expect(page.locator(MESSAGE)).to_have_count(6)

    page.locator("#load-more").click()

    expect(page).to_have_url(re.compile(r"/chat\?.*limit=12"))
    expect(page.locator(MESSAGE)).to_have_count(12)
    assert shown_texts(page) == [m["content"] for m in messages[-12:]]
    expect(page.locator("#load-more")).to_have_attribute("href", re.compile(r"limit=18"))


def test_messages_added_between_loads_cause_no_gaps_or_repeats(live_server, page):
    server = live_server()
    original = seed(server.store, 20)
    page.goto(chat_url(server.url))
    expect(page.locator(MESSAGE)).to_have_count(6)

    server.store.add_messages("u", "c", make_messages(9, prefix="newer", hour=10))
    load_earlier(page)
    server.store.add_messages("u", "c", make_messages(4, prefix="newest", hour=11))
    load_everything(page)

    expect(page.locator("#conversation-start")).to_be_visible()
    assert shown_texts(page) == [m["content"] for m in original]


def test_empty_conversation_has_empty_state_and_no_load_more(live_server, page):
    server = live_server()
    page.goto(chat_url(server.url, "u", "nobody-here"))
    expect(page.locator("#conversation-empty")).to_be_visible()
    expect(page.locator("#load-more")).to_have_count(0)
    expect(page.locator(MESSAGE)).to_have_count(0)


def test_api_cap_ends_in_capped_note_not_the_start(live_server, page):
    server = live_server(MEMOS_MAX_LIMIT=10)
    messages = seed(server.store, 25)
    page.goto(chat_url(server.url))

    load_everything(page)

    expect(page.locator("#history-capped")).to_be_visible()
    expect(page.locator("#history-capped")).to_contain_text("10 most recent")
    expect(page.locator("#conversation-start")).to_have_count(0)
    assert shown_texts(page) == [m["content"] for m in messages[-10:]]
