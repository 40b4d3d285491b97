"""The memory panel in a real browser: beside the conversation at 1280 px, a sheet over it at
375 px, in English and Chinese, light and dark; opened, entered and closed by keyboard (focus
in, Escape, focus back); axe-clean open; memories linking to their messages and the messages'
marks linking back; the same without JavaScript; search in Chinese and with hostile queries;
and nothing of it fetched until a reader opens it.

The conversation is tests/reading.py's, in the embedded store: its memories quote its messages.
"""

from __future__ import annotations

import json
import re

import pytest
from browser_helpers import chat_url, embed_url, load_everything, MESSAGE
from playwright.sync_api import expect, Page
from reading import (
    READING_CONVERSATION_ID,
    READING_MEMORIES,
    READING_MESSAGES,
    READING_USER_ID,
    seed,
)
from test_accessibility import describe, FAILING_IMPACTS, require_axe, run_axe
from werkzeug import Response

pytestmark = pytest.mark.browser

WIDE = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}
PANEL = "#memories"
TOGGLE = "#memories-toggle"
LINKED_SOURCE = '.memory-list .memory__source[href^="#m-"]'
MINE = [memory for memory in READING_MEMORIES if "conversation_id" not in memory]
WORDS = {"en": {"facts": "Facts", "preferences": "Preferences", "title": "Memories"},
         "zh-Hans": {"facts": "事实", "preferences": "偏好", "title": "记忆"}}


@pytest.fixture
def server(live_server):
    served = live_server(CHAT_PAGE_SIZE=100, LIVE_POLL_SECONDS=0)
    seed(served.store.source)
    return served


def reading_url(base: str, **extra) -> str:
    return chat_url(base, READING_USER_ID, READING_CONVERSATION_ID, **extra)


def open_panel(page: Page) -> None:
    page.locator(TOGGLE).click()
    expect(page.locator(f"{PANEL} .memory").first).to_be_visible()
    expect(page.locator(TOGGLE)).to_have_attribute("aria-expanded", "true")


def box(page: Page, selector: str) -> dict:
    found = page.locator(selector).first.bounding_box()
    assert found, f"{selector} is not on screen"
    return found


def focused(page: Page) -> str:
    return page.evaluate("""() => {
        const element = document.activeElement;
        return element.id || element.className || element.tagName;
    }""")


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("lang", ["en", "zh-Hans"])
def test_on_a_wide_screen_the_panel_opens_beside_the_conversation(server, new_context, lang,
                                                                  theme):
    page = new_context(viewport=WIDE, color_scheme=theme).new_page()
    page.goto(reading_url(server.url, lang=lang))
    expect(page.locator(MESSAGE)).to_have_count(len(READING_MESSAGES))
    before = box(page, ".scroller")
    open_panel(page)
    words = WORDS[lang]
    expect(page.locator(".memories__title")).to_have_text(words["title"])
    expect(page.locator(".memory-group__title").first).to_contain_text(words["facts"])
    expect(page.locator(".memory-group__title").nth(1)).to_contain_text(words["preferences"])
    expect(page.locator(f"{PANEL} .memory-list > .memory")).to_have_count(len(MINE))
    assert focused(page) == "memories-title"
    panel, scroller = box(page, PANEL), box(page, ".scroller")
    assert panel["x"] >= 1000 * 0.6 and panel["x"] + panel["width"] <= WIDE["width"] + 0.5
    assert scroller["x"] + scroller["width"] <= panel["x"] + 0.5  # side by side, no overlap
    assert panel["height"] >= WIDE["height"] - 60 and scroller["width"] < before["width"]
    # Nothing the panel holds is wider than it.
    assert page.locator(PANEL).evaluate("p => p.scrollWidth <= p.clientWidth")
    # Times in the reader's zone and language, by the script.
    time = page.locator(f"{PANEL} time.memory__time").first
    assert time.get_attribute("title") and time.inner_text() != ""
    if lang == "zh-Hans":
        assert "年" in time.inner_text()
    page.keyboard.press("Escape")
    expect(page.locator(PANEL)).to_be_hidden()
    expect(page.locator(TOGGLE)).to_have_attribute("aria-expanded", "false")
    assert focused(page) == "memories-toggle"
    assert box(page, ".scroller")["width"] == before["width"]


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("lang", ["en", "zh-Hans"])
def test_on_a_phone_the_panel_is_a_sheet_that_keeps_focus(server, new_context, lang, theme):
    page = new_context(viewport=PHONE, color_scheme=theme).new_page()
    page.goto(reading_url(server.url, lang=lang))
    open_panel(page)
    panel = box(page, PANEL)
    assert (panel["x"], panel["y"], panel["width"], panel["height"]) == (0, 0, 375, 740)
    assert page.evaluate("document.querySelector('.topbar').inert")
    assert page.evaluate("document.querySelector('.scroller').inert")
    # Tab goes round what the sheet holds, never behind it.
    for _ in range(12):
        page.keyboard.press("Tab")
        assert page.evaluate("document.getElementById('memories').contains("
                             "document.activeElement)"), focused(page)
    page.locator(".memories__close").click()
    expect(page.locator(PANEL)).to_be_hidden()
    assert focused(page) == "memories-toggle"
    assert not page.evaluate("document.querySelector('.topbar').inert")
    # Opened again, it comes back as it was, without asking the server.
    asked = []
    page.on("request", lambda request: asked.append(request.url))
    page.locator(TOGGLE).click()
    expect(page.locator(PANEL)).to_be_visible()
    assert not [url for url in asked if "/chat/memories" in url]


def test_the_keyboard_opens_enters_and_closes_it(server, new_context):
    page = new_context(viewport=WIDE).new_page()
    page.goto(reading_url(server.url))
    page.locator(TOGGLE).focus()
    page.keyboard.press("Enter")
    expect(page.locator(PANEL)).to_be_visible()
    expect(page.locator(".memories__title")).to_be_focused()
    page.keyboard.press("Tab")  # the close link
    page.keyboard.press("Tab")
    expect(page.locator("#memories-query")).to_be_focused()
    page.keyboard.type("Porto")
    page.keyboard.press("Enter")
    expect(page.locator(".memory-results__title")).to_be_focused()
    expect(page.locator(".memory-results .memory").first).to_contain_text("Porto")
    page.keyboard.press("Escape")
    expect(page.locator(PANEL)).to_be_hidden()
    expect(page.locator(TOGGLE)).to_be_focused()
    page.keyboard.press("Enter")  # and open again, focus back inside
    expect(page.locator(".memories__title")).to_be_focused()


@pytest.mark.parametrize("viewport", [WIDE, PHONE], ids=["wide", "phone"])
@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("lang", ["en", "zh-Hans"])
def test_axe_finds_nothing_serious_with_the_panel_open(server, new_context, viewport, theme,
                                                       lang):
    require_axe()
    page = new_context(viewport=viewport, color_scheme=theme, bypass_csp=True).new_page()
    page.goto(reading_url(server.url, lang=lang, theme=theme))
    open_panel(page)
    page.locator("#memories-query").fill("Porto")
    page.locator("#memories-query").press("Enter")
    expect(page.locator(".memory-results .memory").first).to_be_visible()
    violations = run_axe(page)
    failing = [v for v in violations if v["impact"] in FAILING_IMPACTS]
    assert not failing, "\n".join(describe(v) for v in failing)


def test_a_memory_links_to_its_message_and_the_message_back(server, new_context):
    page = new_context(viewport=WIDE).new_page()
    page.goto(reading_url(server.url))
    open_panel(page)
    sources = page.locator(LINKED_SOURCE)
    assert sources.count() == sum(len(memory["sources"]) for memory in MINE)
    source = sources.first
    target = source.get_attribute("href")[1:]
    memory = source.evaluate("s => s.closest('.memory').id")
    source.click()
    expect(page.locator(f"#{target}")).to_be_focused()
    message, scroller = box(page, f"#{target}"), box(page, ".scroller")
    assert scroller["y"] <= message["y"] + message["height"] / 2 <= scroller["y"] + \
        scroller["height"]
    mark = page.locator(f"#{target} > .message__remembered")
    expect(mark).to_have_attribute("href", f"#{memory}")
    expect(mark).to_contain_text("Remembered in")
    # Every message a memory names has one mark, and each leads to a memory in the panel.
    marks = page.locator("#messages .message__remembered")
    named = set(page.eval_on_selector_all(LINKED_SOURCE, "links => links.map(l => l.hash)"))
    assert marks.count() == len(named)
    for href in marks.evaluate_all("marks => marks.map(m => m.getAttribute('href'))"):
        assert page.locator(f"{PANEL} .memory-list {href}").count() == 1
    # Back: the mark scrolls the panel to its memory and focuses it, even with the panel shut.
    page.locator(".memories__close").click()
    expect(page.locator(PANEL)).to_be_hidden()
    mark.click()
    expect(page.locator(PANEL)).to_be_visible()
    expect(page.locator(f"#{memory}")).to_be_focused()
    page.keyboard.press("Escape")
    expect(mark).to_be_focused()  # focus back where the reader was


def test_messages_load_earlier_brings_are_linked_and_marked_too(live_server, new_context):
    served = live_server(CHAT_PAGE_SIZE=6, LIVE_POLL_SECONDS=0)
    seed(served.store.source)
    page = new_context(viewport=WIDE).new_page()
    page.goto(reading_url(served.url))
    open_panel(page)
    every_source = sum(len(memory["sources"]) for memory in MINE)
    first = page.locator(LINKED_SOURCE).count()
    assert first < every_source  # most of the trip is not on the page yet
    load_everything(page)
    # The panel stayed open; the sources now on the page lead to their messages.
    expect(page.locator(LINKED_SOURCE)).to_have_count(every_source)
    named = set(page.eval_on_selector_all(LINKED_SOURCE, "links => links.map(l => l.hash)"))
    marks = page.locator("#messages .message__remembered")
    assert marks.count() == len(named)
    for href in marks.evaluate_all("marks => marks.map(m => m.getAttribute('href'))"):
        assert page.locator(f"{PANEL} .memory-list {href}").count() == 1


def test_on_a_phone_a_source_closes_the_sheet_to_show_its_message(server, new_context):
    page = new_context(viewport=PHONE).new_page()
    page.goto(reading_url(server.url))
    open_panel(page)
    source = page.locator(LINKED_SOURCE).nth(2)
    target = source.get_attribute("href")[1:]
    source.click()
    expect(page.locator(PANEL)).to_be_hidden()
    expect(page.locator(f"#{target}")).to_be_focused()
    expect(page.locator(f"#{target}")).to_be_in_viewport()


def test_without_javascript_the_panel_is_a_page_of_its_own(server, new_context):
    page = new_context(viewport=PHONE, java_script_enabled=False).new_page()
    page.goto(reading_url(server.url, lang="zh-Hans"))
    page.locator(TOGGLE).click()
    expect(page).to_have_url(re.compile(r"[?&]panel=memories"))
    expect(page.locator(PANEL)).to_be_visible()
    expect(page.locator(".memories__title")).to_have_text("记忆")
    expect(page.locator(f"{PANEL} .memory-list > .memory")).to_have_count(len(MINE))
    # Linked both ways by the server.
    sources = page.locator(LINKED_SOURCE)
    assert sources.count() == sum(len(memory["sources"]) for memory in MINE)
    for href in sources.evaluate_all("links => links.map(l => l.getAttribute('href'))"):
        assert page.locator(href).count() == 1
    # On a phone the sheet steps aside for the message a source names, and its mark brings
    # the sheet back, at the memory.
    source = sources.first
    target = source.get_attribute("href")
    source.click()
    expect(page.locator(PANEL)).to_be_hidden()
    expect(page.locator(target)).to_be_in_viewport()
    mark = page.locator(f"{target} > .message__remembered")
    memory = mark.get_attribute("href")
    mark.click()
    expect(page).to_have_url(re.compile(re.escape(memory) + "$"))
    expect(page.locator(PANEL)).to_be_visible()
    expect(page.locator(memory)).to_be_in_viewport()
    # Search: the form, its results on the page.
    page.locator("#memories-query").fill("Porto")
    page.locator(".memories__search-button").click()
    expect(page).to_have_url(re.compile(r"memory_search=Porto"))
    expect(page.locator(".memory-results .memory").first).to_contain_text("Porto")
    expect(page.locator("#memories-query")).to_have_value("Porto")
    # Closed: the page without it.
    page.locator(".memories__close").click()
    expect(page.locator(PANEL)).to_have_count(0)
    assert "panel=" not in page.url and "lang=zh-Hans" in page.url


def test_nothing_of_the_panel_is_fetched_until_it_opens(server, new_context):
    page = new_context(viewport=WIDE).new_page()
    asked = []
    page.on("request", lambda request: asked.append(request.url))
    page.goto(reading_url(server.url))
    expect(page.locator(MESSAGE)).to_have_count(len(READING_MESSAGES))
    page.wait_for_load_state("networkidle")
    assert not [url for url in asked if "memories" in url]
    open_panel(page)
    page.wait_for_load_state("networkidle")
    assert len([url for url in asked if "/chat/memories?" in url]) == 1
    assert len([url for url in asked if re.search(r"/static/memories\.[0-9a-f]+\.js", url)]) == 1


def results_have_focus(page) -> None:
    """Wait for a search's results to take the focus (memories.js, once htmx has settled
    them): typing into the box before then loses the keys to the results' title."""
    expect(page.locator(".memory-results__title")).to_be_focused()


def test_a_chinese_search_finds_by_substring(server, new_context):
    server.store.source.add_memories(READING_USER_ID, [
        {"id": "zh-hotel", "memory_type": "UserMemory", "memory_key": "住宿",
         "memory_value": "在里斯本住阿尔法玛区的小旅馆，步行可到二十八路电车。",
         "tags": ["旅行"]}], conversation_id=READING_CONVERSATION_ID)
    page = new_context(viewport=WIDE).new_page()
    page.goto(reading_url(server.url, lang="zh-Hans"))
    open_panel(page)
    for query in ("里斯本", "电车", "旅"):  # three characters, two, one
        page.locator("#memories-query").fill(query)
        page.locator("#memories-query").press("Enter")
        expect(page.locator(".memory-results__title")).to_contain_text(query)
        expect(page.locator(".memory-results .memory").first).to_contain_text("阿尔法玛")
        results_have_focus(page)
    page.locator("#memories-query").fill("Kyoto")
    page.locator("#memories-query").press("Enter")
    expect(page.locator(".memory-results .memory__elsewhere")).to_contain_text(
        "来自另一段对话")


def test_results_leave_the_focus_to_a_reader_already_typing_the_next_query(server,
                                                                           new_context):
    """The results take the focus (for a screen reader to read them) only if the box still
    holds what was searched: keys typed while the answer travelled stay in the box, where
    they went to the results' title before."""
    page = new_context(viewport=WIDE).new_page()
    page.goto(reading_url(server.url))
    open_panel(page)
    held = []
    searches = re.compile(r".*/memories/search\?.*")
    page.route(searches, lambda route: held.append(route))
    box = page.locator("#memories-query")
    box.fill("Lisbon")
    box.press("Enter")
    while not held:
        page.wait_for_timeout(20)  # the request goes out, and waits here in the test's hands
    page.keyboard.type(" tram")
    held[0].continue_()
    page.unroute(searches)
    expect(page.locator(".memory-results__title")).to_contain_text("Lisbon")
    expect(box).to_be_focused()
    assert box.input_value() == "Lisbon tram"
    box.press("Enter")  # asked, and nothing typed since: the results take the focus
    expect(page.locator(".memory-results__title")).to_contain_text("Lisbon tram")
    results_have_focus(page)


def test_hostile_queries_are_text_or_refused_in_place(server, new_context):
    page = new_context(viewport=WIDE).new_page()
    page.goto(reading_url(server.url))
    open_panel(page)
    hostile = '<img src=x onerror="document.body.dataset.owned=1">"%_*'
    page.locator("#memories-query").fill(hostile)
    page.locator("#memories-query").press("Enter")
    expect(page.locator(".memory-results__title")).to_contain_text("<img src=x")
    expect(page.locator(".memory-results .memories__empty")).to_be_visible()
    assert page.evaluate("document.body.dataset.owned") is None
    results_have_focus(page)
    # Over 200 characters: the box holds no more (maxlength); asked anyway, a 400 in place.
    page.locator("#memories-query").fill("x" * 250)
    assert len(page.locator("#memories-query").input_value()) == 200
    page.evaluate("document.getElementById('memories-query').removeAttribute('maxlength')")
    page.locator("#memories-query").fill("x" * 250)
    page.locator("#memories-query").press("Enter")
    expect(page.locator("#memories-results [role=alert]")).to_contain_text(
        "250 characters long")
    # A character that reorders text (a "Trojan Source" trick): refused in place too.
    page.locator("#memories-query").fill("evil\u202etxt")
    page.locator("#memories-query").press("Enter")
    expect(page.locator("#memories-results [role=alert]")).to_contain_text(
        "change the direction of text")
    expect(page.locator(f"{PANEL} .memory-list > .memory")).to_have_count(len(MINE))
    expect(page.locator(MESSAGE)).to_have_count(len(READING_MESSAGES))


def test_a_memory_failure_stays_in_the_panel(httpserver, live_server, app_factory,
                                             new_context):
    from upstream_apps import upstream_app

    prefix = "/api/openmem/v1"
    messages = [{"role": "user", "content": "still readable", "chat_time": "2026-03-02 09:00:00"}]
    httpserver.expect_request(prefix + "/get/message").respond_with_json(
        {"code": 0, "message": "ok", "data": {"message_detail_list": messages}})
    httpserver.expect_request(prefix + "/get/memory").respond_with_response(
        Response(json.dumps({"code": 50000, "message": "boom", "data": None}),
                 content_type="application/json"))
    server = live_server(app=upstream_app(app_factory, httpserver.url_for(prefix),
                                          LIVE_POLL_SECONDS=0))
    page = new_context(viewport=WIDE).new_page()
    page.goto(chat_url(server.url))
    page.locator(TOGGLE).click()
    alert = page.locator(f"{PANEL} [role=alert]")
    expect(alert).to_contain_text("Memories could not be loaded")
    expect(page.locator(MESSAGE)).to_contain_text(["still readable"])
    expect(page.locator(".memories__title")).to_be_focused()
    calls = len([r for r, _ in httpserver.log if r.path.endswith("/get/memory")])
    old_alert = alert.element_handle()
    page.locator(f"{PANEL} .alert__retry").click()
    # The retry's answer replaces the alert: wait for that, not for the old alert, still shown.
    page.wait_for_function("alert => !alert.isConnected", arg=old_alert)
    expect(page.locator(f"{PANEL} [role=alert]")).to_be_visible()
    assert len([r for r, _ in httpserver.log if r.path.endswith("/get/memory")]) > calls
    expect(page.locator("#history-head [role=alert]")).to_have_count(0)


def test_the_widget_offers_the_panel_when_asked(server, new_context):
    page = new_context(viewport={"width": 420, "height": 640}).new_page()
    page.goto(embed_url(server.url, READING_USER_ID, READING_CONVERSATION_ID, memories="1"))
    expect(page.locator(f".embed-bar {TOGGLE}")).to_be_visible()
    open_panel(page)
    panel = box(page, PANEL)
    assert panel["width"] == 420 and panel["height"] == 640
    page.keyboard.press("Escape")
    expect(page.locator(PANEL)).to_be_hidden()
    page.goto(embed_url(server.url, READING_USER_ID, READING_CONVERSATION_ID))
    expect(page.locator(MESSAGE).first).to_be_visible()
    expect(page.locator(TOGGLE)).to_have_count(0)
