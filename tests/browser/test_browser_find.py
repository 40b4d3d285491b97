"""Find in the conversation in a real browser: the field in the menu, with and without
JavaScript, by keyboard; the results page and its links, which land on the message; the widget;
Chinese; both themes, axe-clean, and valid HTML as the browser left it."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from browser_helpers import chat_url, embed_url, MENU, open_menu, shown_texts
from playwright.sync_api import expect, Page
from reading import READING_CONVERSATION_ID, READING_MESSAGES, READING_USER_ID, seed
from test_accessibility import describe, FAILING_IMPACTS, MODES, require_axe, run_axe
from test_html_validity import assert_valid_html, vnu_command

pytestmark = pytest.mark.browser

FIELD = "Find in the conversation"
CHINESE = [
    {"role": "user", "content": "我们计划五月去里斯本，坐火车去波尔图。",
     "chat_time": "2026-05-02 19:00:00"},
    {"role": "assistant", "content": "好主意！从里斯本坐**火车**到波尔图大约三小时。",
     "chat_time": "2026-05-02 19:01:00"},
    {"role": "user", "content": "机场到市中心呢？", "chat_time": "2026-05-02 19:02:00"},
    {"role": "assistant", "content": "坐地铁最方便：红线到 Alameda，换绿线。",
     "chat_time": "2026-05-02 19:03:00"},
]


def reading_url(server, **extra) -> str:
    return chat_url(server.url, READING_USER_ID, READING_CONVERSATION_ID, **extra)


def containing(word: str) -> int:
    """How many of the reading conversation's messages hold ``word``, in any case."""
    found = 0
    for message in READING_MESSAGES:
        content = message["content"]
        if isinstance(content, list):
            content = "\n\n".join(part.get("text", "") for part in content
                                  if part.get("type") == "text")
        found += word.lower() in content.lower()
    return found


def find_from_the_menu(page: Page, query: str, name: str = FIELD, button: str = "Find") -> None:
    """Open the menu, type ``query`` in its field and press its button."""
    open_menu(page)
    page.get_by_role("searchbox", name=name).fill(query)
    with page.expect_navigation():
        page.get_by_role("search").get_by_role("button", name=button).click()


def follow_a_result(page: Page, index: int = 0) -> str:
    """Follow the results' ``index``-th link; the id of the message it names."""
    link = page.locator(".found-result__link").nth(index)
    target = "m-" + parse_qs(urlsplit(link.get_attribute("href")).query)["message"][0]
    link.click()
    page.wait_for_url(re.compile(f"#{target}$"))
    return target


@pytest.mark.parametrize("javascript", [True, False], ids=["with-js", "without-js"])
def test_find_from_the_menu_lists_the_matches_and_lands_on_the_message(live_server, new_context,
                                                                       javascript):
    server = live_server(RATE_LIMIT="0")
    seed(server.store)
    page = new_context(java_script_enabled=javascript).new_page()
    page.goto(reading_url(server, theme="dark"))
    find_from_the_menu(page, "SINTRA")
    count = containing("sintra")
    heading = page.get_by_role("heading", name=f"{count} messages match “SINTRA”")
    expect(heading).to_be_visible()
    assert parse_qs(urlsplit(page.url).query)["q"] == ["SINTRA"]
    assert "theme=dark" in page.url  # the hidden fields kept the reader's choice
    expect(page.locator(".found-result")).to_have_count(count)
    marks = page.locator(".found-result__snippet mark")
    assert {text.lower() for text in marks.all_inner_texts()} == {"sintra"}
    expect(page.get_by_role("link", name="Back to the conversation")).to_be_visible()
    # The field still holds the query, to change it.
    open_menu(page)
    expect(page.get_by_role("searchbox", name=FIELD)).to_have_value("SINTRA")
    page.keyboard.press("Escape") if javascript else page.locator(f"{MENU} > summary").click()

    target = follow_a_result(page, 1)
    message = page.locator(f"#{target}")
    expect(message).to_have_attribute("aria-current", "true")
    expect(message).to_be_in_viewport()
    assert "sintra" in message.locator(".message__body").inner_text().lower()
    assert "q=" not in page.url
    if javascript:  # the script puts the reader there
        expect(message).to_be_focused()


def test_the_field_is_reachable_by_keyboard_and_enter_searches(live_server, page):
    server = live_server(RATE_LIMIT="0")
    seed(server.store)
    page.goto(reading_url(server))
    summary = page.locator(f"{MENU} > summary")
    summary.focus()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    field = page.get_by_role("searchbox", name=FIELD)
    expect(field).to_be_focused()
    expect(page.get_by_role("search")).to_be_visible()
    page.keyboard.type("porto")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=2)).to_have_text(
        f"{containing('porto')} messages match “porto”")


def test_back_to_the_conversation_drops_the_query_and_keeps_the_choices(live_server, page):
    server = live_server(RATE_LIMIT="0")
    seed(server.store)
    page.goto(reading_url(server, q="Lisbon", theme="light", live="0"))
    page.get_by_role("link", name="Back to the conversation").click()
    expect(page.locator("#messages")).to_be_visible()
    query = parse_qs(urlsplit(page.url).query)
    assert "q" not in query and query["theme"] == ["light"] and query["live"] == ["0"]
    open_menu(page)
    expect(page.get_by_role("searchbox", name=FIELD)).to_have_value("")


def test_the_widget_finds_and_lands_in_the_widget(live_server, new_context):
    server = live_server(RATE_LIMIT="0")
    server.store.add_messages("zh", "trip", CHINESE)
    page = new_context(viewport={"width": 375, "height": 600}).new_page()
    page.goto(embed_url(server.url, "zh", "trip", export="1", lang="zh-Hans"))
    find_from_the_menu(page, "火车", name="在对话中查找", button="查找")
    expect(page.get_by_role("heading", name="2 条消息包含“火车”")).to_be_visible()
    assert urlsplit(page.url).path == "/embed"
    target = follow_a_result(page, 0)
    assert urlsplit(page.url).path == "/embed"
    expect(page.locator(f"#{target}")).to_have_attribute("aria-current", "true")
    assert shown_texts(page)[-1] == "坐地铁最方便：红线到 Alameda，换绿线。"


def test_the_chinese_interface(live_server, page):
    server = live_server(RATE_LIMIT="0")
    server.store.add_messages("zh", "trip", CHINESE)
    page.goto(chat_url(server.url, "zh", "trip", lang="zh-Hans"))
    open_menu(page)
    expect(page.get_by_role("searchbox", name="在对话中查找")).to_be_visible()
    expect(page.get_by_role("search").get_by_role("button", name="查找")).to_be_visible()
    page.goto(chat_url(server.url, "zh", "trip", lang="zh-Hans", q="里斯本"))
    expect(page.get_by_role("heading", level=2)).to_have_text("2 条消息包含“里斯本”")
    expect(page.get_by_role("link", name="返回对话")).to_be_visible()
    assert page.title().startswith("查找“里斯本” · trip")
    # The script writes the times in the page's language.
    expect(page.locator(".found-result__time").first).to_contain_text("2026年5月")


def test_hostile_queries_in_the_browser_run_nothing(live_server, page):
    server = live_server(RATE_LIMIT="0")
    server.store.add_messages("u", "c", [
        {"role": "user", "content": "<img src=x onerror=alert(1)> and \"quotes\""}])
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(chat_url(server.url, q="<img src=x onerror=alert(1)>"))
    expect(page.locator(".found-result__snippet mark")).to_have_text(
        "<img src=x onerror=alert(1)>")
    expect(page.locator(".found img")).to_have_count(0)
    response = page.goto(chat_url(server.url, q="x" * 201))
    assert response.status == 400
    expect(page.get_by_role("alert")).to_contain_text("201 characters")
    assert dialogs == []


# --- both themes: axe and the Nu checker ------------------------------------------------------

def results_page(server, page: Page, theme: dict) -> None:
    page.goto(reading_url(server, q="train", **theme))
    expect(page.locator(".found-result").first).to_be_visible()


def results_page_chinese(server, page: Page, theme: dict) -> None:
    server.store.add_messages("zh", "trip", CHINESE)
    page.goto(chat_url(server.url, "zh", "trip", lang="zh-Hans", q="火车", **theme))
    expect(page.locator(".found-result").first).to_be_visible()


def menu_with_find(server, page: Page, theme: dict) -> None:
    page.goto(reading_url(server, **theme))
    open_menu(page)
    page.get_by_role("searchbox", name=FIELD).fill("Sintra")


def no_results(server, page: Page, theme: dict) -> None:
    page.goto(reading_url(server, q="nothing like this", **theme))
    expect(page.get_by_role("heading", level=2)).to_be_visible()


def widget_results(server, page: Page, theme: dict) -> None:
    page.goto(embed_url(server.url, READING_USER_ID, READING_CONVERSATION_ID, q="Porto",
                        export="1", **theme))
    expect(page.locator(".found-result").first).to_be_visible()


PAGES = {"results": results_page, "results-chinese": results_page_chinese,
         "menu-with-find": menu_with_find, "no-results": no_results,
         "widget-results": widget_results}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", PAGES)
def test_no_serious_accessibility_violations(live_server, new_context, name, mode):
    require_axe()
    server = live_server(RATE_LIMIT="0")
    seed(server.store)
    color_scheme, forced = MODES[mode]
    context = new_context(color_scheme=color_scheme, bypass_csp=True)  # for axe's own script
    page = context.new_page()
    PAGES[name](server, page, {"theme": forced} if forced else {})
    violations = run_axe(page)
    failing = [v for v in violations if v["impact"] in FAILING_IMPACTS]
    assert not failing, f"on {name} ({mode}):\n" + "\n".join(describe(v) for v in failing)


def test_the_pages_as_the_browser_left_them_are_valid_html(live_server, page, tmp_path):
    command = vnu_command()
    server = live_server(RATE_LIMIT="0")
    seed(server.store)
    pages = {}
    for name, show in PAGES.items():
        show(server, page, {"theme": "dark"})
        pages[name] = page.content()
    assert "<mark>" in pages["results"]
    assert_valid_html(command, pages, tmp_path)
