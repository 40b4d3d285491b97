"""What a reader sees of the access rules: the landing page in each mode, and a client over the
rate limit (in place for "load earlier", the page shell for a page)."""

from __future__ import annotations

import pytest
from browser_helpers import chat_url, MESSAGE, seed, shown_texts
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

SECRET = "an-embed-secret-that-is-long-enough-32b"


def test_signed_mode_landing_page_explains_links_and_offers_no_form(live_server, page):
    server = live_server(EMBED_SECRET=SECRET)
    page.goto(server.url + "/")
    note = page.locator("#signed-links")
    expect(note.get_by_role("heading")).to_have_text("Conversations open through signed links")
    expect(note).to_contain_text("signed token")
    expect(page.locator("form")).to_have_count(0)
    expect(page.get_by_role("textbox")).to_have_count(0)
    expect(page.get_by_role("link", name="Open the demo conversation")).to_have_count(0)


def test_open_mode_landing_page_opens_a_conversation_from_the_form(live_server, page):
    server = live_server()
    seed(server.store, 3)
    page.goto(server.url + "/")
    expect(page.locator("#signed-links")).to_have_count(0)
    page.get_by_label("User id").fill("u")
    page.get_by_label("Conversation id").fill("c")
    page.get_by_role("button", name="Open").click()
    expect(page.locator(MESSAGE)).to_have_count(3)


def test_over_the_limit_load_earlier_says_so_in_place_and_keeps_the_messages(live_server,
                                                                            page):
    server = live_server(RATE_LIMIT="2/minute")
    messages = seed(server.store, 20)
    page.goto(chat_url(server.url))                    # 1 of 2
    expect(page.locator(MESSAGE)).to_have_count(6)
    page.locator("#load-more").click()                 # 2 of 2
    expect(page.locator(MESSAGE)).to_have_count(12)

    page.locator("#load-more").click()                 # over the limit

    alert = page.locator("#history-head").get_by_role("alert")
    expect(alert).to_contain_text("Too many requests from your address")
    expect(alert).to_contain_text("Try again in")
    expect(page.locator(MESSAGE)).to_have_count(12)
    assert shown_texts(page) == [m["content"] for m in messages[-12:]]

    response = page.reload()                           # the whole page: the site's shell
    assert response.status == 429 and int(response.headers["retry-after"]) >= 1
    expect(page.get_by_role("alert").get_by_role("heading")).to_have_text("Too many requests")
    expect(page.get_by_role("alert")).to_contain_text("Error 429")
    expect(page.locator(".topbar")).to_be_visible()
    expect(page.locator(MESSAGE)).to_have_count(0)
