"""Permalinks in a real browser: a message opened by its link, highlighted and in view; the
notice for one not found; "Copy link"; "load earlier" and live updates from there; no JS."""

from __future__ import annotations

import hashlib
import json
import time

import pytest
from browser_helpers import (
    chat_url,
    embed_url,
    freeze_clock,
    load_everything,
    MESSAGE,
    run_check,
    seed,
    shown_texts,
    widget_div,
    widget_frame,
)
from playwright.sync_api import expect, Locator, Page

pytestmark = pytest.mark.browser

COUNT = 60  # messages seeded: ten pages of six
RING = {"light": "rgb(180, 83, 9)", "dark": "rgb(251, 191, 36)"}  # chat.css's --permalink
NOT_FOUND = "That message was not found"


def message_hex(number: int) -> str:
    """The id hex of seed()'s message ``number``: sha256 of the JSON of role, parts, time
    (seed writes naive times, read as Beijing time)."""
    role = ("user", "assistant")[number % 2]
    payload = json.dumps([role, [["text", f"message {number:02d}"]],
                          f"2026-03-01T09:00:{number:02d}+08:00"])
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def style(locator: Locator, name: str) -> str:
    return locator.evaluate("(element, name) => getComputedStyle(element)[name]", name)


def assert_shown_in_scroller(page: Page, target: Locator) -> None:
    """``target`` is whole and visible inside the conversation's scroller."""
    expect(target).to_be_in_viewport(ratio=1)
    inside = page.locator(".scroller").evaluate("""(scroller, target) => {
        const box = scroller.getBoundingClientRect(), rect = target.getBoundingClientRect();
        return rect.top >= box.top && rect.bottom <= box.bottom;
    }""", target.element_handle())
    assert inside


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_an_older_message_opened_directly_is_marked_highlighted_and_in_view(live_server, page,
                                                                             theme):
    server = live_server()
    seed(server.store, COUNT)
    page.goto(chat_url(server.url, theme=theme, message=message_hex(10)))
    target = page.locator(f"#m-{message_hex(10)}")
    expect(target).to_have_attribute("aria-current", "true")
    expect(target).to_contain_text("message 10")
    expect(page.locator('[aria-current="true"]')).to_have_count(1)
    assert_shown_in_scroller(page, target)
    # Ringed in the highlight colour; its neighbour is not.
    assert RING[theme] in style(target, "boxShadow")
    assert style(page.locator(f"#m-{message_hex(11)}"), "boxShadow") == "none"
    # The reader is put there: focus (without scrolling), where Tab and a screen reader go on.
    assert page.evaluate("document.activeElement.id") == f"m-{message_hex(10)}"
    assert shown_texts(page)[0] == "message 04"  # a page before it, then all to the newest
    expect(page.locator(MESSAGE)).to_have_count(COUNT - 4)


def test_a_message_not_found_shows_the_newest_with_a_notice(live_server, page):
    server = live_server()
    seed(server.store, COUNT)
    page.goto(chat_url(server.url, message="0123456789ab"))
    notice = page.get_by_role("status").filter(has_text=NOT_FOUND)
    expect(notice).to_be_visible()
    expect(notice).to_have_text("That message was not found: it may have been edited or "
                                "deleted. Showing the newest messages.")
    expect(page.locator(MESSAGE)).to_have_count(6)
    expect(page.locator('[aria-current="true"]')).to_have_count(0)
    expect(page.locator(MESSAGE).last).to_be_in_viewport()


def test_copy_link_copies_the_address_that_opens_the_message(live_server, new_context):
    server = live_server()
    seed(server.store, COUNT)
    page = new_context(permissions=["clipboard-read", "clipboard-write"]).new_page()
    address = chat_url(server.url, theme="dark", lang="en")
    page.goto(address)
    message = page.locator(f"#m-{message_hex(56)}")
    link = message.get_by_role("button", name="Copy link", exact=True)
    expect(page.locator(f"{MESSAGE} .copy-link")).to_have_count(6)  # one on each message
    link.click()
    expect(message.locator(".copy-link")).to_have_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    hexes = message_hex(56)
    assert copied == f"{address}&message={hexes}#m-{hexes}"

    page.goto(copied)
    target = page.locator(f"#m-{hexes}")
    expect(target).to_have_attribute("aria-current", "true")
    assert_shown_in_scroller(page, target)
    # From a permalinked page, the link of another message replaces message=, once.
    page.locator(f"#m-{message_hex(55)} .copy-link").click()
    expect(page.locator(f"#m-{message_hex(55)} .copy-link")).to_have_text("Copied")
    other = page.evaluate("navigator.clipboard.readText()")
    assert other == f"{address}&message={message_hex(55)}#m-{message_hex(55)}"


def test_load_earlier_works_from_a_permalinked_window(live_server, page):
    server = live_server()
    seed(server.store, COUNT)
    page.goto(chat_url(server.url, message=message_hex(20)))
    expect(page.locator(MESSAGE)).to_have_count(COUNT - 14)
    assert load_everything(page) == 3
    assert shown_texts(page) == [f"message {n:02d}" for n in range(COUNT)]
    expect(page.locator("#conversation-start")).to_be_attached()
    ids = page.locator(MESSAGE).evaluate_all("messages => messages.map(m => m.id)")
    assert ids == [f"m-{message_hex(n)}" for n in range(COUNT)]  # every one, once
    expect(page.locator('[aria-current="true"]')).to_have_count(1)
    expect(page.locator(f"#m-{message_hex(20)}")).to_have_attribute("aria-current", "true")
    expect(page.locator(f"{MESSAGE} .copy-link")).to_have_count(COUNT)


def test_live_updates_go_on_from_a_permalinked_window(live_server, page):
    """New messages arrive below; one identical to a message shown takes its id (the newest
    of identical messages carries it), so ids stay unique."""
    server = live_server(LIVE_POLL_SECONDS=2)
    messages = seed(server.store, 12)
    freeze_clock(page)
    page.goto(chat_url(server.url, message=message_hex(8)))
    expect(page.locator(MESSAGE)).to_have_count(10)
    server.store.add_messages("u", "c", [messages[-1]])  # the newest again, same time
    time.sleep(server.app.extensions["live_reads"].ttl + 0.05)  # past the shared answer
    assert run_check(page, 2).status == 200
    expect(page.locator(MESSAGE)).to_have_count(11)
    same = page.locator(f"#m-{message_hex(11)}")
    expect(same).to_have_count(1)
    assert page.locator(MESSAGE).last.get_attribute("id") == f"m-{message_hex(11)}"
    assert page.locator(MESSAGE).nth(9).get_attribute("id") is None
    # The reader stays with the message they were sent to; the highlight stays on it.
    expect(page.locator('[aria-current="true"]')).to_have_count(1)
    expect(page.locator(f"#m-{message_hex(8)}")).to_have_attribute("aria-current", "true")
    expect(page.locator(f"#m-{message_hex(8)}")).to_be_in_viewport()


def test_without_javascript_the_message_is_there_marked_and_in_view(live_server, new_context):
    server = live_server()
    seed(server.store, COUNT)
    page = new_context(java_script_enabled=False).new_page()
    hexes = message_hex(15)
    page.goto(chat_url(server.url, message=hexes) + f"#m-{hexes}")  # as "Copy link" makes it
    target = page.locator(f"#m-{hexes}")
    expect(target).to_have_attribute("aria-current", "true")
    assert RING["light"] in style(target, "boxShadow")
    expect(target).to_be_in_viewport()  # the fragment scrolled the scroller to it
    expect(page.locator(".copy-link")).to_have_count(0)


def test_a_widget_opened_at_a_message_scrolls_itself_not_its_host(live_server, page,
                                                                  host_site):
    server = live_server(EMBED_ALLOWED_ORIGINS=host_site.origin)
    seed(server.store, COUNT)
    spacer = "<div style='height: 1500px'>tall host content</div>"
    host_site.show(server.url, widget_div(embed_url(server.url, message=message_hex(30)),
                                          max_height=300), extra=spacer)
    page.goto(host_site.url)
    frame = widget_frame(page)
    target = frame.locator(f"#m-{message_hex(30)}")
    expect(target).to_have_attribute("aria-current", "true")
    inside = frame.locator(".scroller").evaluate("""(scroller, target) => {
        const box = scroller.getBoundingClientRect(), rect = target.getBoundingClientRect();
        return rect.bottom > box.top && rect.top < box.bottom;
    }""", target.element_handle())
    assert inside
    assert page.evaluate("window.scrollY") == 0  # the host page did not move
    # Nor did the widget take the host's focus.
    assert page.evaluate("document.activeElement.tagName") == "BODY"
