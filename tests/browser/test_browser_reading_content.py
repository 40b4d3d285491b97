"""Reading rich content in real Chromium, measured: the 61-message conversation of
tests/reading.py (and a few messages of our own), in both themes and both languages.

A collapsed answer previews its first lines rendered under a fade; bare addresses are links;
task lists are disabled checkboxes; a tool call is a chip opening to its arguments; a tool's
JSON answer is indented in the code font and collapsed; attachments are chips in the reader's
language; headings have a scale; a wide table scrolls in its own box with a shadow on the side
there is more to see.
"""

from __future__ import annotations

import io
import json

import pytest
from browser_helpers import chat_url, MESSAGE
from PIL import Image
from playwright.sync_api import expect, Page
from reading import READING_CONVERSATION_ID, READING_MESSAGES, READING_USER_ID, seed

pytestmark = pytest.mark.browser

MODES = {"light": ("light", ""), "dark": ("dark", ""), "light-zh": ("light", "zh-Hans"),
         "dark-zh": ("dark", "zh-Hans")}
WORDS = {"": {"show": "Show full message", "less": "Show less", "called": "Called",
              "answer": "Answer to call {}", "file": "File", "image": "Image"},
         "zh-Hans": {"show": "显示完整消息", "less": "收起", "called": "调用了",
                     "answer": "调用 {} 的结果", "file": "文件", "image": "图片"}}
MARKERS = ("#", "**", "```", "- [")
FORECAST_CALL = next(message for message in READING_MESSAGES if "tool_calls" in message)
FORECAST_ANSWER = next(message for message in READING_MESSAGES if message["role"] == "tool")
RICH = [  # a long answer with every kind of block in its first lines, a heading scale
    {"role": "assistant", "chat_time": "2026-03-01 09:00:00", "content":
     "# Setting up\n\n## Install\n\n- run `make install` first\n- then **check** it\n\n"
     "```sh\nmake test\nmake lint\n```\n\n### Then\n\n#### Details\n\nBody text.\n\n"
     + "More about it, line by line.\n" * 60},
    {"role": "assistant", "chat_time": "2026-03-01 09:00:10", "content":
     "| 出发日期 | 目的地城市 | 交通方式 | 每日预算 | 备注说明 |\n|---|---|---|---:|---|\n"
     "| 5月14日 | 里斯本 | 飞机 | 85 | 预订酒店 |\n| 5月15日 | 辛特拉 | 火车 | 60 | 早出发 |"},
    {"role": "user", "chat_time": "2026-03-01 09:01:00", "content":
     "This fails:\n```\nprint('hi' +)\n```\nWhy?  (spaces kept)"},
    {"role": "assistant", "chat_time": "2026-03-01 09:02:00", "content":
     "Read it as `cp1252`:\n\n```python\nwith open(path, newline=\"\", encoding=\"cp1252\")"
     " as handle:\n    rows = list(csv.DictReader(handle))\n```"},
]


def open_page(server, new_context, scheme: str = "light", lang: str = "", *,
              conversation: tuple[str, str] = (READING_USER_ID, READING_CONVERSATION_ID),
              width: int = 1280, height: int = 800, javascript: bool = True) -> Page:
    context = new_context(viewport={"width": width, "height": height}, color_scheme=scheme,
                          java_script_enabled=javascript)
    page = context.new_page()
    user, name = conversation
    page.goto(chat_url(server.url, user, name, limit=61, **({"lang": lang} if lang else {})))
    expect(page.locator(MESSAGE).first).to_be_attached()
    return page


@pytest.fixture
def server(live_server):
    server = live_server()
    seed(server.store)
    server.store.add_messages("u", "rich", RICH)
    return server


def message_with(page: Page, text: str):
    return page.locator(MESSAGE).filter(has_text=text)


def style(locator, name: str) -> str:
    return locator.evaluate("(element, name) => getComputedStyle(element)[name]", name)


def monospace(locator) -> bool:
    return style(locator, "fontFamily").startswith("ui-monospace")


# --- collapsed messages -----------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_a_collapsed_answer_shows_its_first_lines_rendered_under_a_fade(server, new_context,
                                                                        mode):
    scheme, lang = MODES[mode]
    page = open_page(server, new_context, scheme, lang)
    itinerary = message_with(page, "Full itinerary")
    preview = itinerary.locator(".message__preview")
    expect(preview).to_be_visible()
    assert preview.locator("h1").count() == 1 and preview.locator("h2").count() >= 1
    assert preview.locator("li").count() >= 3 and preview.locator("strong").count() >= 3
    text = preview.inner_text()
    assert "Full itinerary" in text and not any(marker in text for marker in MARKERS), text
    assert "linear-gradient" in style(preview, "maskImage")
    assert preview.locator("a, [tabindex]").count() == 0  # nothing in it takes focus
    summary = itinerary.locator(".message__more > summary")
    expect(summary).to_have_text(WORDS[lang]["show"])
    expect(itinerary.locator(".message__content")).to_be_hidden()

    summary.click()
    expect(preview).to_be_hidden()
    content = itinerary.locator(".message__content")
    expect(content).to_be_visible()
    expect(content.get_by_role("link", name="https://www.visitlisboa.com/en")).to_be_visible()
    expect(itinerary.locator(".message__less")).to_have_text(WORDS[lang]["less"])


def test_a_preview_renders_code_as_code(server, new_context):
    page = open_page(server, new_context, conversation=("u", "rich"))
    preview = page.locator(MESSAGE).first.locator(".message__preview")
    assert preview.locator("h1, h2, li, code, figure.code-block").count() >= 6
    code = preview.locator("figure.code-block code")
    expect(code).to_have_text("make test\nmake lint")
    assert monospace(code)
    assert not any(marker in preview.inner_text() for marker in MARKERS)


@pytest.mark.parametrize("width", [375, 1280])
def test_show_less_closes_the_message_and_brings_its_top_back(server, new_context, width):
    page = open_page(server, new_context, width=width, height=740)
    itinerary = message_with(page, "Full itinerary")
    itinerary.locator(".message__more > summary").click()
    less = itinerary.locator(".message__less")
    less.scroll_into_view_if_needed()
    scroller = page.locator(".scroller")

    def top() -> float:
        """Where the message starts, from the scroller's top."""
        return itinerary.bounding_box()["y"] - scroller.bounding_box()["y"]

    assert top() < 0  # its start is out of sight, above
    host_scroll = page.evaluate("window.scrollY")

    less.click()

    expect(itinerary.locator("details.message__more")).not_to_have_attribute("open", "")
    expect(itinerary.locator(".message__preview")).to_be_visible()
    assert 0 <= top() < scroller.bounding_box()["height"]
    expect(itinerary.locator(".message__more > summary")).to_be_focused()
    assert page.evaluate("window.scrollY") == host_scroll


def test_without_javascript_the_summary_toggles_and_show_less_is_not_offered(server,
                                                                               new_context):
    page = open_page(server, new_context, javascript=False)
    itinerary = message_with(page, "Full itinerary")
    summary = itinerary.locator(".message__more > summary")
    summary.click()
    expect(itinerary.locator(".message__content")).to_be_visible()
    expect(itinerary.locator(".message__less")).to_be_hidden()
    summary.click()
    expect(itinerary.locator(".message__content")).to_be_hidden()
    expect(itinerary.locator(".message__preview")).to_be_visible()


# --- links, task lists, code in users' words --------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_bare_addresses_are_links_with_the_link_policy(server, new_context, mode):
    scheme, lang = MODES[mode]
    page = open_page(server, new_context, scheme, lang)
    for name, href in (("https://www.visitportugal.com", "https://www.visitportugal.com"),
                       ("reservations@hotel-chiado.example",
                        "mailto:reservations@hotel-chiado.example")):
        link = page.locator(MESSAGE).get_by_role("link", name=name, exact=True)
        expect(link).to_have_count(1)
        expect(link).to_have_attribute("href", href)
        expect(link).to_have_attribute("target", "_blank")
        expect(link).to_have_class("autolink")
        assert set(link.get_attribute("rel").split()) == {"noopener", "noreferrer", "nofollow"}


@pytest.mark.parametrize("mode", MODES)
def test_task_lists_are_disabled_checkboxes_checked_as_typed(server, new_context, mode):
    scheme, lang = MODES[mode]
    page = open_page(server, new_context, scheme, lang)
    pack = message_with(page, "swimwear for Cascais")
    boxes = pack.get_by_role("checkbox")
    expect(boxes).to_have_count(4)
    assert [box.is_checked() for box in boxes.all()] == [True, True, False, False]
    assert all(box.is_disabled() for box in boxes.all())
    # Named by its item: a screen reader says which one is ticked.
    expect(pack.get_by_role("checkbox", name="a small umbrella")).not_to_be_checked()
    items = pack.locator("li.task-list-item")
    assert {style(item, "listStyleType") for item in items.all()} == {"none"}
    box = boxes.first.bounding_box()
    assert box["width"] >= 12 and box["x"] < items.first.bounding_box()["x"]  # in the margin


def test_code_fenced_in_a_users_words_is_in_the_code_font(server, new_context):
    page = open_page(server, new_context, conversation=("u", "rich"))
    user = page.locator(".message--user")
    code = user.locator("figure.code-block pre code")
    expect(code).to_have_text("print('hi' +)")
    assert monospace(code) and code.get_attribute("dir") == "ltr"
    words = user.locator(".message__plain")
    expect(words).to_have_text(["This fails:", "Why?  (spaces kept)"])
    assert {style(word, "whiteSpace") for word in words.all()} == {"pre-wrap"}
    assert not monospace(words.first)


# --- tool calls and answers -------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_a_tool_call_is_a_chip_that_opens_to_its_arguments(server, new_context, mode):
    scheme, lang = MODES[mode]
    page = open_page(server, new_context, scheme, lang)
    chip = page.locator("details.tool-call")
    expect(chip).to_have_count(1)
    summary = chip.locator("summary")
    expect(summary).to_have_text(f"{WORDS[lang]['called']} get_weather_forecast")
    code = chip.locator("pre code")
    expect(code).to_be_hidden()
    summary.click()
    arguments = json.loads(FORECAST_CALL["tool_calls"][0]["function"]["arguments"])
    expect(code).to_have_text(json.dumps(arguments, indent=2))
    assert monospace(code)
    # The message said one line; the chip sits under it, not in its text to copy.
    expect(message_with(page, "Let me look that up.").locator(".message__content")) \
        .to_have_text("Let me look that up.")


@pytest.mark.parametrize("mode", MODES)
def test_a_tools_json_answer_is_indented_in_the_code_font_and_collapsed(server, new_context,
                                                                       mode):
    scheme, lang = MODES[mode]
    page = open_page(server, new_context, scheme, lang)
    answer = page.locator(".message--tool")
    preview = answer.locator(".message__preview code")
    expect(preview).to_be_visible()
    assert monospace(preview)
    assert preview.inner_text().startswith('{\n  "city": "Lisbon",\n  "units": "metric",')
    expect(answer.locator(".message__content")).to_be_hidden()
    answer.locator(".message__more > summary").click()
    code = answer.locator(".message__content code")
    expect(code).to_have_text(json.dumps(json.loads(FORECAST_ANSWER["content"]), indent=2))
    assert monospace(code)

    # It says which call it answers, and leads to that call's chip.
    said = answer.locator(".tool-answer")
    expect(said).to_have_text(WORDS[lang]["answer"].format("call_wx_7"))
    # The link reads as one: its code in the link's colour, underlined below the underscores
    # (at the default offset the line runs through them: "call wx 7").
    link = said.get_by_role("link")
    colour, code_colour, offset, size = link.evaluate("""link => {
        const own = getComputedStyle(link), code = getComputedStyle(link.querySelector("code"));
        return [own.color, code.color, own.textUnderlineOffset, code.fontSize]; }""")
    assert code_colour == colour and offset.endswith("px"), (colour, code_colour, offset)
    assert float(offset[:-2]) >= 0.15 * float(size[:-2]), (offset, size)
    said.get_by_role("link").click()
    chip = page.locator("details.tool-call")
    expect(chip).to_be_in_viewport()
    assert chip.evaluate("chip => chip.matches(':target')")


# --- attachments --------------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_attachments_are_chips_in_the_readers_language(server, new_context, mode):
    scheme, lang = MODES[mode]
    requested: list[str] = []
    page = new_context(color_scheme=scheme).new_page()
    page.on("request", lambda request: requested.append(request.url))
    page.goto(chat_url(server.url, READING_USER_ID, READING_CONVERSATION_ID, limit=61,
                       **({"lang": lang} if lang else {})))
    file_chip = page.locator(".attachment--file")
    expect(file_chip).to_have_text(f"{WORDS[lang]['file']} booking-lisbon-2026-05.pdf")
    image_chip = page.locator(".attachment--image")
    expect(image_chip).to_have_text(f"{WORDS[lang]['image']} hotel-view.jpg")
    link = image_chip.get_by_role("link")
    expect(link).to_have_attribute("href", "https://images.example.org/hotel-view.jpg")
    for chip in (file_chip, image_chip):
        icon = chip.locator("svg.chip-icon")
        expect(icon).to_be_visible()
        assert icon.bounding_box()["width"] >= 12
    assert page.locator("#messages img").count() == 0
    assert not [url for url in requested if "images.example.org" in url]


# --- headings and tables ----------------------------------------------------------------------

@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_headings_have_a_scale(server, new_context, scheme):
    page = open_page(server, new_context, scheme, conversation=("u", "rich"))
    answer = page.locator(MESSAGE).first
    answer.locator(".message__more > summary").click()
    content = answer.locator(".message__content")

    def size(selector: str) -> float:
        return float(style(content.locator(selector).first, "fontSize").removesuffix("px"))

    body = size("p")
    assert size("h1") > size("h2") > size("h3") >= size("h4") >= body
    title = float(style(page.locator(".topbar__title"), "fontSize").removesuffix("px"))
    assert size("h1") < title  # a heading in a message, not the page's


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_wide_table_scrolls_in_its_own_box_with_a_shadow_where_there_is_more(
        server, new_context, scheme):
    page = open_page(server, new_context, scheme, "zh-Hans", conversation=("u", "rich"),
                     width=320, height=700)
    table = page.locator(".message__content table")
    table.scroll_into_view_if_needed()
    overflow = table.evaluate("t => [t.scrollWidth, t.clientWidth]")
    assert overflow[0] > overflow[1], overflow  # it scrolls...
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")  # ...not the page
    # Headers are not broken inside a word: each Chinese header stays on one line.
    lines = table.locator("th").evaluate_all("""headers => headers.map(th => {
        const range = document.createRange(); range.selectNodeContents(th);
        return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size; })""")
    assert lines == [1] * 5, lines

    assert_shadows_where_there_is_more(page, table, table.locator("td").first)


def assert_shadows_where_there_is_more(page: Page, box, row) -> None:
    """``box`` scrolls sideways, with a shadow on the side there is more to see (at ``row``'s
    height): on the right at first, on the left once scrolled to the end."""

    def edges() -> tuple[int, int]:
        """How dark the box's left and right edges are, at ``row``'s height."""
        outline, line = box.bounding_box(), row.bounding_box()
        shot = Image.open(io.BytesIO(page.screenshot())).convert("L")
        y = round(line["y"] + line["height"] / 2)
        left = shot.getpixel((round(outline["x"] + 3), y))
        right = shot.getpixel((round(outline["x"] + outline["width"] - 3), y))
        return left, right

    left, right = edges()
    assert abs(right - left) >= 12, (left, right)  # a shadow on the right: more to see
    box.evaluate("box => { box.scrollLeft = box.scrollWidth; }")
    page.wait_for_timeout(50)
    left_end, right_end = edges()
    assert abs(left_end - right_end) >= 12, (left_end, right_end)  # now on the left
    assert abs(right_end - left) <= 6  # and the right edge is plain


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_long_code_line_scrolls_in_its_box_with_a_shadow_where_there_is_more(
        server, new_context, scheme):
    page = open_page(server, new_context, scheme, conversation=("u", "rich"), width=375,
                     height=700)
    code = message_with(page, "Read it as").locator(".code-block pre")
    code.scroll_into_view_if_needed()
    overflow = code.evaluate("pre => [pre.scrollWidth, pre.clientWidth]")
    assert overflow[0] > overflow[1], overflow  # the line goes on past the box...
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")  # ...not the page
    # A line with no code under its ends (the blank one), so that only the shadow tells.
    assert_shadows_where_there_is_more(page, code, code.locator("code"))


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_inline_code_stands_out_from_the_page(server, new_context, scheme):
    page = open_page(server, new_context, scheme, conversation=("u", "rich"))
    code = message_with(page, "Read it as").locator("p code")
    colour = code.evaluate("c => getComputedStyle(c).backgroundColor")
    behind = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert colour != behind and colour != "rgba(0, 0, 0, 0)", (colour, behind)
    shot = Image.open(io.BytesIO(code.screenshot())).convert("L")
    page_shot = Image.open(io.BytesIO(page.screenshot())).convert("L")
    inside = shot.getpixel((1, shot.height // 2))  # in its padding, clear of corner and text
    box = code.bounding_box()
    outside = page_shot.getpixel((round(box["x"]) - 4, round(box["y"] + box["height"] / 2)))
    assert abs(inside - outside) >= 8, (inside, outside)  # a chip, not stray spaces
