"""What a reader sees of the access rules: the landing page in each mode."""

from __future__ import annotations

import pytest
from browser_helpers import MESSAGE, seed
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

