"""The landing page's ways in, the 400 page, and a screenshot for a human to look at."""

from __future__ import annotations

import re

import pytest
from browser_helpers import chat_url, MESSAGE, seed, shown_texts
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

SCREENSHOT = "/tmp/memos-chat-viewer.png"


def test_demo_link_opens_the_demo_conversation(live_server, page):
    server = live_server()
    page.goto(server.url + "/")

    page.get_by_role("link", name="Open the demo conversation").click()

    expect(page).to_have_url(re.compile(
        r"/chat\?user_id=demo-user&conversation_id=demo-conversation$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("demo-conversation")
    expect(page.locator(MESSAGE)).to_have_count(6)
    expect(page.locator("#load-more")).to_be_visible()


def test_form_opens_the_given_conversation(live_server, page):
    server = live_server()
    user, conversation = "ana maría", "trip/2026 & more?"
    messages = seed(server.store, 3, user=user, conversation=conversation)
    page.goto(server.url + "/")

    page.get_by_label("User id").fill(user)
    page.get_by_label("Conversation id").fill(conversation)
    page.get_by_role("button", name="Open").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(conversation)
    expect(page.locator(".topbar__user")).to_have_text(user)
    expect(page.locator(MESSAGE)).to_have_count(3)
    assert shown_texts(page) == [m["content"] for m in messages]
    expect(page.locator("#conversation-start")).to_be_visible()


def test_overlong_id_gets_a_400_page_with_an_alert(live_server, page):
    server = live_server()

    response = page.goto(chat_url(server.url, "x" * 101, "c"))

    assert response.status == 400
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("101 characters long")
    expect(alert).to_contain_text("at most 100")
    alert.get_by_role("link", name="Back to the start page").click()
    expect(page.get_by_role("button", name="Open")).to_be_visible()


def test_screenshot_for_review(live_server, page):
    """Not asserted: a picture of the demo conversation as it first opens, for a human."""
    server = live_server()
    page.goto(chat_url(server.url, "demo-user", "demo-conversation"))
    expect(page.locator(MESSAGE)).to_have_count(6)
    page.screenshot(path=SCREENSHOT, full_page=True)
