"""Downloads of a conversation in a real browser: the header menu's links download files with
the conversation's name, a refused download says why in the menu (or, without JavaScript, on
our error page), and "Copy conversation as Markdown" copies what the Markdown download holds."""

from __future__ import annotations

import json
import re

import pytest
from browser_helpers import chat_url, embed_url, MENU, open_menu, seed
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

CLIPBOARD = ["clipboard-read", "clipboard-write"]
COPY = f"{MENU} .menu__copy"


def without_export_time(markdown: str) -> str:
    """The transcript without its "Exported …" line, which moves with the clock."""
    return "\n".join(line for line in markdown.splitlines() if not line.startswith("- Exported"))


def test_the_header_links_download_each_format_named_after_the_conversation(live_server,
                                                                           new_context):
    server = live_server()
    messages = seed(server.store, 3, conversation="support/42 ✓")
    page = new_context(accept_downloads=True).new_page()
    page.goto(chat_url(server.url, conversation="support/42 ✓"))
    menu = page.locator(MENU)
    for name, kind in (("Download as JSON", "json"), ("Download as Markdown", "md"),
                       ("Download as text", "txt")):
        open_menu(page)
        with page.expect_download() as info:
            menu.get_by_role("link", name=name).click()
        expect(menu).not_to_have_attribute("open", "")  # a chosen item closes the menu
        download = info.value
        assert download.suggested_filename == f"conversation-support_42.{kind}"
        body = open(download.path(), encoding="utf-8").read()
        if kind == "json":
            assert [m["content"] for m in json.loads(body)["messages"]] == \
                [m["content"] for m in messages]
        else:
            assert all(m["content"] in body for m in messages)
    expect(page.locator("#messages [data-role]")).to_have_count(3)  # still on the page


def test_copy_conversation_copies_the_markdown_download(live_server, new_context):
    server = live_server()
    seed(server.store, 4, text=lambda n: f"**line {n}** <b>not html</b> 你好")
    context = new_context(accept_downloads=True, permissions=CLIPBOARD)
    page = context.new_page()
    page.goto(chat_url(server.url))
    open_menu(page)
    page.get_by_role("button", name="Copy conversation as Markdown").click()
    expect(page.locator(COPY)).to_have_text("Copied")  # said in the menu, still open
    copied = page.evaluate("navigator.clipboard.readText()")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download as Markdown").click()
    downloaded = open(info.value.path(), encoding="utf-8").read()
    assert copied.startswith("# c\n") and "你好" in copied
    assert without_export_time(copied) == without_export_time(downloaded)
    expect(page.locator(COPY)) \
        .to_have_text("Copy conversation as Markdown", timeout=4000)  # the label comes back


def test_a_failed_copy_says_so(live_server, new_context):
    server = live_server()
    seed(server.store, 2)
    page = new_context(permissions=CLIPBOARD).new_page()
    page.goto(chat_url(server.url))
    page.route("**/chat/export?**", lambda route: route.fulfill(status=503, body="busy"))
    open_menu(page)
    page.locator(COPY).click()
    expect(page.locator(COPY)).to_have_text("Copy failed")


def test_the_copy_button_speaks_chinese_and_needs_javascript(live_server, new_context):
    server = live_server()
    seed(server.store, 2)
    page = new_context().new_page()
    page.goto(chat_url(server.url, lang="zh-CN"))
    open_menu(page)
    expect(page.get_by_role("button", name="将对话复制为 Markdown")).to_be_visible()
    expect(page.get_by_role("button", name="打印")).to_be_visible()
    expect(page.get_by_role("link", name="下载为纯文本")).to_be_visible()
    plain = new_context(java_script_enabled=False).new_page()
    plain.goto(chat_url(server.url))
    open_menu(plain)
    expect(plain.get_by_role("link", name="Download as JSON")).to_be_visible()
    # Copy and print need the script; the find field's submit button does not.
    expect(plain.locator(f"{MENU} button:not([type=submit])")).to_have_count(0)


def test_the_widget_offers_downloads_only_with_export_1(live_server, new_context):
    server = live_server()
    seed(server.store, 2)
    page = new_context(accept_downloads=True).new_page()
    page.goto(embed_url(server.url))
    expect(page.locator("#messages [data-role]")).to_have_count(2)
    expect(page.locator(MENU)).to_have_count(0)
    page.goto(embed_url(server.url, export="1"))
    open_menu(page)
    with page.expect_download() as info:
        page.get_by_role("link", name="Download as text").click()
    assert info.value.suggested_filename == "conversation-c.txt"


NOTE = f"{MENU} .menu__note [role=alert]"


@pytest.mark.parametrize("lang, heading, words, name", [
    ("en", "Too many downloads at once", "Try again in a minute.", "Download as JSON"),
    ("zh-Hans", "同时进行的下载太多", "请一分钟后再试。", "下载为 JSON")])
def test_a_refused_download_says_why_in_the_menu_and_the_next_one_comes(
        live_server, new_context, lang, heading, words, name):
    """The server's heading and sentence, in the menu, which stays open; not the browser's
    "Failed - server problem" for a link with ``download``."""
    server = live_server(MAX_DOWNLOADS_IN_FLIGHT=1)
    seed(server.store, 3)
    release = server.app.extensions["downloads"].take()  # the one download at a time
    page = new_context(accept_downloads=True).new_page()
    downloads = []
    page.on("download", lambda download: downloads.append(download))
    page.goto(chat_url(server.url, lang=lang))
    open_menu(page)
    link = page.locator(MENU).get_by_role("link", name=name)
    link.click()
    expect(page.locator(NOTE)).to_contain_text(heading)
    expect(page.locator(NOTE)).to_contain_text(words)
    expect(page.locator(MENU)).to_have_attribute("open", "")
    expect(link).not_to_have_attribute("aria-busy", "true")
    assert downloads == []  # no file named after an error page
    release()
    with page.expect_download() as info:
        link.click()
    assert info.value.suggested_filename == "conversation-c.json"
    assert json.loads(open(info.value.path(), encoding="utf-8").read())["messages"]
    expect(page.locator(f"{MENU} .menu__note")).to_have_count(0)
    expect(page.locator(MENU)).not_to_have_attribute("open", "")


def test_a_download_refused_by_another_server_or_the_network_says_so(live_server, new_context):
    server = live_server()
    seed(server.store, 2)
    page = new_context(accept_downloads=True).new_page()
    page.goto(chat_url(server.url))
    # A proxy's page of its own: nothing of ours to quote but the status. Its markup is text.
    page.route("**/chat/export?**", lambda route: route.fulfill(
        status=502, content_type="text/html",
        body='<h1>Bad gateway</h1><img src=x onerror="document.body.dataset.owned=1">'))
    open_menu(page)
    page.get_by_role("link", name="Download as text").click()
    expect(page.locator(NOTE)).to_have_text("The download failed (error 502).")
    page.unroute("**/chat/export?**")
    # One that borrows our classes but says nothing in them: the status, not an empty note.
    page.route("**/chat/export?**", lambda route: route.fulfill(
        status=503, content_type="text/html",
        body='<h1 class="alert__title"> </h1><p class="alert__message"></p>'))
    page.get_by_role("link", name="Download as JSON").click()
    expect(page.locator(NOTE)).to_have_text("The download failed (error 503).")
    page.unroute("**/chat/export?**")
    page.route("**/chat/export?**", lambda route: route.abort("connectionrefused"))
    markdown = page.get_by_role("link", name="Download as Markdown")
    markdown.click()
    expect(page.locator(NOTE)).to_contain_text("Could not reach the server.")
    expect(markdown).not_to_have_attribute("aria-busy", re.compile(".*"))  # free to try again
    expect(page.locator(f"{MENU} .menu__note")).to_have_count(1)  # the last word only
    page.keyboard.press("Escape")  # the menu closes, and its note goes with it
    expect(page.locator(f"{MENU} .menu__note")).to_have_count(0)
    assert page.evaluate("document.body.dataset.owned") is None


def test_without_javascript_a_refused_download_is_our_error_page(live_server, new_context):
    server = live_server(MAX_DOWNLOADS_IN_FLIGHT=1)
    seed(server.store, 2)
    release = server.app.extensions["downloads"].take()
    page = new_context(java_script_enabled=False, accept_downloads=True).new_page()
    page.goto(chat_url(server.url))
    open_menu(page)
    page.get_by_role("link", name="Download as JSON").click()
    expect(page.locator(".alert__title")).to_have_text("Too many downloads at once")
    expect(page.locator(".alert__status")).to_have_text("Error 503")
    release()
    page.go_back()
    open_menu(page)
    with page.expect_download() as info:  # an attachment: the page stays
        page.get_by_role("link", name="Download as JSON").click()
    assert info.value.suggested_filename == "conversation-c.json"
    expect(page.locator("#messages [data-role]")).to_have_count(2)
