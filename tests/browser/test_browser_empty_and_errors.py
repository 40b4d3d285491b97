"""Empty and failed states in a real browser.

An empty conversation shows a friendly note in the middle of the page and no downloads, until
live updates bring its first messages (and the menu with them). An error page is headed in plain
words with its status in small print; a 4xx offers no retry (the same request gets the same
answer), only the start page where it can help (a full page in open mode); a 5xx or a timeout
offers "Try again".
"""

from __future__ import annotations

import re

import pytest
from browser_helpers import (
    chat_url,
    embed_url,
    freeze_clock,
    make_messages,
    MENU,
    MESSAGE,
    open_menu,
    run_check,
)
from playwright.sync_api import expect, Page

pytestmark = pytest.mark.browser

INTERVAL = 2  # LIVE_POLL_SECONDS: the smallest allowed
EMPTY = "#conversation-empty"


def centre(page: Page, selector: str) -> tuple[float, float]:
    found = page.locator(selector).bounding_box()
    return found["x"] + found["width"] / 2, found["y"] + found["height"] / 2


@pytest.mark.parametrize("viewport", [{"width": 375, "height": 740},
                                      {"width": 1280, "height": 800}], ids=["phone", "laptop"])
@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_an_empty_conversation_is_a_centred_note_without_downloads(live_server, new_context,
                                                                   viewport, javascript):
    server = live_server()
    page = new_context(viewport=viewport, java_script_enabled=javascript).new_page()
    page.goto(chat_url(server.url, "nobody", "nothing-yet"))
    note = page.locator(EMPTY)
    expect(note.get_by_role("heading", level=2)).to_have_text("No messages yet")
    expect(note).to_contain_text("When messages are added to this conversation, they will "
                                 "show here.")
    # In the middle of the space under the header, both ways.
    x, y = centre(page, EMPTY)
    scroller = page.locator(".scroller").bounding_box()
    assert abs(x - (scroller["x"] + scroller["width"] / 2)) < 2
    assert abs(y - (scroller["y"] + scroller["height"] / 2)) < scroller["height"] * 0.1
    # Nothing to download, copy or print: no menu at all.
    expect(page.locator(MENU)).to_have_count(0)
    expect(page.locator("a[href*='/chat/export']")).to_have_count(0)
    expect(page.locator(".topbar__title")).to_have_text("nothing-yet")


def test_the_first_messages_replace_the_note_and_bring_the_menu(live_server, page):
    server = live_server(LIVE_POLL_SECONDS=INTERVAL)
    freeze_clock(page)
    page.goto(chat_url(server.url))
    expect(page.locator(EMPTY)).to_be_visible()
    expect(page.locator(MENU)).to_have_count(0)

    server.store.add_messages("u", "c", make_messages(3, prefix="first"))
    assert run_check(page, INTERVAL).status == 200

    expect(page.locator(MESSAGE)).to_have_count(3)
    expect(page.locator(EMPTY)).to_have_count(0)
    expect(page.locator("#conversation-start")).to_have_text("Beginning of conversation")
    # The menu arrived with them, in the header, and the script made it whole.
    expect(page.locator(f".topbar {MENU}")).to_have_count(1)
    open_menu(page)
    expect(page.locator(f"{MENU} .menu__item")).to_have_text(
        ["Download as JSON", "Download as Markdown", "Download as text",
         "Copy conversation as Markdown", "Print"])
    page.keyboard.press("Escape")
    expect(page.locator(MENU)).not_to_have_attribute("open", "")


def test_an_empty_widget_asked_for_downloads_offers_none_yet(live_server, page):
    server = live_server()
    page.goto(embed_url(server.url, export="1"))
    expect(page.locator(EMPTY)).to_be_visible()
    expect(page.locator(MENU)).to_have_count(0)
    expect(page.locator("#conversation-menu")).to_be_hidden()


# --- error pages ---------------------------------------------------------------------------------

def assert_error_page(page: Page, heading: str, status: int, way_out: str | None) -> None:
    alert = page.get_by_role("alert")
    expect(alert.get_by_role("heading")).to_have_text(heading)
    expect(alert.locator(".alert__status")).to_have_text(f"Error {status}")
    expect(alert.get_by_role("link")).to_have_text([way_out] if way_out else [])
    # No heading says "400 Bad Request" or the like any more: the code is small print.
    expect(page.get_by_role("heading").filter(has_text=re.compile(r"\b\d{3}\b"))) \
        .to_have_count(0)


@pytest.mark.parametrize("path, status, heading, way_out", [
    ("/chat?conversation_id=c", 400, "This link is missing its conversation",
     "Back to the start page"),
    ("/chat?user_id=u&conversation_id=c&limit=many", 400, "This link doesn't work",
     "Back to the start page"),
    ("/no/such/page", 404, "Page not found", "Back to the start page"),
    ("/embed?conversation_id=c", 400, "This link is missing its conversation", None),
    ("/embed?user_id=u&conversation_id=c&theme=neon", 400, "This link doesn't work", None),
], ids=["page-missing-id", "page-bad-limit", "page-404", "widget-missing-id",
        "widget-bad-theme"])
def test_a_4xx_page_says_what_is_wrong_and_offers_no_reload(live_server, page, path, status,
                                                           heading, way_out):
    server = live_server()
    response = page.goto(server.url + path)
    assert response.status == status
    assert_error_page(page, heading, status, way_out)
    expect(page.get_by_role("link", name="Reload")).to_have_count(0)
    expect(page.get_by_role("link", name="Try again")).to_have_count(0)


def test_a_4xx_page_in_signed_mode_offers_nothing_that_cannot_help(live_server, page):
    server = live_server(EMBED_SECRET="an-embed-secret-that-is-long-enough-32b")
    response = page.goto(server.url + "/chat?user_id=u&conversation_id=c")
    assert response.status == 403
    assert_error_page(page, "You can't open this conversation", 403, None)
    expect(page.locator(".topbar__home")).to_be_visible()  # the way home stays in the header


@pytest.mark.parametrize("layout", ["chat", "embed"])
def test_memos_out_of_reach_is_a_5xx_page_with_try_again(live_server, app_factory, page,
                                                         refused_port, layout):
    server = live_server(app_factory(
        MEMOS_BASE_URL=f"http://127.0.0.1:{refused_port}/api/openmem/v1/",
        MEMOS_API_KEY="test-key", MEMOS_TIMEOUT=1, VIEWER_ACCESS="open"))
    url = (chat_url if layout == "chat" else embed_url)(server.url)
    response = page.goto(url)
    assert response.status == 503
    assert_error_page(page, "MemOS is unavailable", 503, "Try again")
    expect(page.locator(MENU)).to_have_count(0)  # nothing to download from a failed read
    page.get_by_role("link", name="Try again").click()
    expect(page.get_by_role("alert").get_by_role("heading")).to_have_text("MemOS is unavailable")
    assert page.url == url
