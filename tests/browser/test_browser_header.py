"""The header in a real browser: one row at every width from 320 px, at most 56 px tall on a
phone, the conversation's name cut short on screen but whole for assistive technology, and one
menu (a <details>) holding the downloads, "Copy conversation as Markdown" and "Print".

Without JavaScript the menu opens and closes by itself (it is a disclosure) and offers the
downloads; with it, the menu closes on Escape (focus back on its button), on a click outside,
when focus leaves it, and after an item did its job.
"""

from __future__ import annotations

import re
from itertools import pairwise

import pytest
from browser_helpers import chat_url, embed_url, MENU, MESSAGE, open_menu, seed
from playwright.sync_api import expect, Page
from reading import READING_CONVERSATION_ID, READING_MESSAGES, READING_USER_ID
from reading import seed as seed_reading

pytestmark = pytest.mark.browser

MAX_HEADER = 56  # px, on a 375 px phone and narrower
LONGEST_ID = "support-ticket-2026-05-" + "x" * 60 + "-the-very-end"  # 100 characters, MemOS's most
DOWNLOADS = {"Download as JSON": "json", "Download as Markdown": "md", "Download as text": "txt"}
SUMMARY = f"{MENU} > summary"


def box(page: Page, selector: str) -> dict:
    found = page.locator(selector).first.bounding_box()
    assert found, f"{selector} is not on screen"
    return found


def assert_one_row(page: Page) -> None:
    """The header is at most MAX_HEADER px tall and its logo, name and menu sit side by side,
    each beside the next and all within the header's height."""
    header = box(page, ".topbar")
    assert header["height"] <= MAX_HEADER, header
    parts = [box(page, selector) for selector in (".topbar__home", ".topbar__title", SUMMARY)]
    for part in parts:
        assert header["y"] <= part["y"] and \
            part["y"] + part["height"] <= header["y"] + header["height"] + 0.5, (part, header)
    for before, after in pairwise(parts):  # left to right: an English or Chinese page
        assert before["x"] + before["width"] <= after["x"] + 0.5, (before, after)
    assert parts[-1]["x"] + parts[-1]["width"] <= page.viewport_size["width"]


@pytest.mark.parametrize("width, height", [(375, 740), (320, 568)])
@pytest.mark.parametrize("lang", ["en", "zh-Hans"])
@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_header_is_one_short_row_on_a_phone(live_server, new_context, width, height, lang,
                                                theme):
    server = live_server(CHAT_PAGE_SIZE=100)
    seed_reading(server.store)
    page = new_context(viewport={"width": width, "height": height}).new_page()
    page.goto(chat_url(server.url, READING_USER_ID, READING_CONVERSATION_ID, lang=lang,
                       theme=theme))
    expect(page.locator(MESSAGE)).to_have_count(len(READING_MESSAGES))
    assert_one_row(page)
    # It stays on top while the conversation scrolls under it.
    top = box(page, ".topbar")["y"]
    page.locator(".scroller").evaluate("s => { s.scrollTop = -s.scrollHeight; }")
    page.mouse.wheel(0, 2000)
    assert box(page, ".topbar")["y"] == top == 0
    # Its menu, open, fits the screen.
    open_menu(page)
    panel = box(page, f"{MENU} .menu__items")
    assert panel["x"] >= 0 and panel["x"] + panel["width"] <= width
    expect(page.locator(f"{MENU} .menu__item")).to_have_count(5)  # 3 downloads, copy, print


@pytest.mark.parametrize("width", [320, 375])
def test_a_long_id_is_cut_short_on_screen_and_whole_for_everyone_else(live_server, new_context,
                                                                     width):
    server = live_server()
    user = "user-" + "y" * 95
    seed(server.store, 2, user=user, conversation=LONGEST_ID)
    page = new_context(viewport={"width": width, "height": 700}).new_page()
    page.goto(chat_url(server.url, user, LONGEST_ID))
    assert_one_row(page)
    title = page.locator(".topbar__title")
    expect(title).to_have_css("text-overflow", "ellipsis")
    assert title.evaluate("t => t.scrollWidth > t.clientWidth")  # cut short on screen...
    expect(title).to_have_attribute("title", LONGEST_ID)  # ...whole in its tooltip
    expect(page.get_by_role("heading", level=1)).to_have_accessible_name(LONGEST_ID)
    expect(page.locator(".topbar__meta")).to_have_attribute("title", user)
    expect(page.locator(".topbar__user")).to_have_text(user)
    # The home link is a logo on a conversation page, still named for a screen reader.
    expect(page.locator(".topbar__home")).to_have_accessible_name("MemOS chat viewer")


def test_without_javascript_the_menu_opens_and_offers_the_downloads(live_server, new_context):
    server = live_server()
    seed(server.store, 3)
    page = new_context(java_script_enabled=False).new_page()
    page.goto(chat_url(server.url))
    menu = page.locator(MENU)
    expect(menu.get_by_role("link", name="Download as JSON")).to_be_hidden()
    open_menu(page)
    links = menu.get_by_role("link")
    expect(links).to_have_text(list(DOWNLOADS))
    for name, kind in DOWNLOADS.items():
        link = menu.get_by_role("link", name=name)
        expect(link).to_be_visible()
        # Followed, not "download": the attachment is saved and the page stays, and a
        # refusal is our error page rather than the browser's "Failed" (test_browser_export).
        expect(link).not_to_have_attribute("download", re.compile(".*"))
        expect(link).to_have_class("menu__item menu__download")
        expect(link).to_have_attribute("href", re.compile(rf"^/chat/export\?.*format={kind}$"))
    # Copy and print need the script; "Find" submits a plain form.
    expect(menu.get_by_role("button")).to_have_text(["Find"])
    page.locator(SUMMARY).click()
    expect(menu).not_to_have_attribute("open", "")


def test_the_menu_button_is_named_and_its_items_reachable_by_keyboard(live_server, page):
    server = live_server()
    seed(server.store, 3)
    page.goto(chat_url(server.url))
    summary = page.locator(SUMMARY)
    expect(summary).to_have_accessible_name("Conversation menu")
    expect(summary).to_have_attribute("title", "Conversation menu")
    summary.focus()
    page.keyboard.press("Enter")
    expect(page.locator(MENU)).to_have_attribute("open", "")
    page.keyboard.press("Tab")  # first the find field and its button
    expect(page.get_by_role("searchbox", name="Find in the conversation")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Find", exact=True)).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Download as JSON")).to_be_focused()
    for _ in range(4):
        page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Print")).to_be_focused()
    page.keyboard.press("Tab")  # focus leaves the menu: it closes behind it
    expect(page.locator(MENU)).not_to_have_attribute("open", "")


def test_escape_closes_the_menu_and_gives_focus_back_to_its_button(live_server, page):
    server = live_server()
    seed(server.store, 3)
    page.goto(chat_url(server.url))
    open_menu(page)
    page.get_by_role("link", name="Download as Markdown").focus()
    page.keyboard.press("Escape")
    expect(page.locator(MENU)).not_to_have_attribute("open", "")
    expect(page.locator(SUMMARY)).to_be_focused()


@pytest.mark.parametrize("where", ["a message", "the header's title", "the page's margin"])
def test_a_click_outside_closes_the_menu(live_server, page, where):
    server = live_server()
    seed(server.store, 3)
    page.goto(chat_url(server.url))
    open_menu(page)
    if where == "a message":
        page.locator(f"{MESSAGE} .message__body").first.click()
    elif where == "the header's title":
        page.locator(".topbar__title").click()
    else:
        page.mouse.click(5, page.viewport_size["height"] - 5)
    expect(page.locator(MENU)).not_to_have_attribute("open", "")
    # A click inside (on an item's padding, say) keeps it open.
    open_menu(page)
    page.locator(f"{MENU} .menu__items").click(position={"x": 2, "y": 2})
    expect(page.locator(MENU)).to_have_attribute("open", "")


def test_print_in_the_menu_prints_the_page_and_closes_the_menu(live_server, page):
    server = live_server()
    seed(server.store, 3)
    page.add_init_script("window.__printed = 0; window.print = () => { window.__printed++; };")
    page.goto(chat_url(server.url))
    open_menu(page)
    page.get_by_role("button", name="Print").click()
    assert page.evaluate("window.__printed") == 1
    expect(page.locator(MENU)).not_to_have_attribute("open", "")


def test_the_widget_shows_the_same_menu_in_a_slim_row_only_when_asked(live_server,
                                                                       new_context):
    server = live_server()
    seed(server.store, 3)
    page = new_context(viewport={"width": 375, "height": 500}).new_page()
    page.goto(embed_url(server.url))
    expect(page.locator(MESSAGE)).to_have_count(3)
    expect(page.locator(MENU)).to_have_count(0)
    expect(page.locator("#conversation-menu")).to_be_hidden()  # an empty slot takes no room
    page.goto(embed_url(server.url, export="1"))
    expect(page.locator(".topbar")).to_have_count(0)  # no title bar in a widget
    row = box(page, "#conversation-menu")
    assert row["height"] <= 52, row
    summary = box(page, SUMMARY)
    assert summary["x"] + summary["width"] > 375 - 20  # at the end of the row
    open_menu(page)
    expect(page.locator(f"{MENU} .menu__item")).to_have_text(
        [*DOWNLOADS, "Copy conversation as Markdown", "Print"])
    page.keyboard.press("Escape")
    expect(page.locator(MENU)).not_to_have_attribute("open", "")
