"""Right-to-left and mixed scripts, and Chinese text, in a real browser.

Arabic and Hebrew messages read right to left inside their bubbles (checked on screenshots:
where each paragraph's ink starts), code stays left to right, mixed messages take each
paragraph's own direction, table columns line up as the Markdown author aligned them (else
on the table's start side), a right-to-left page (``<html dir="rtl">``, set by the test: the
app has no right-to-left interface language yet) mirrors the layout, and long Chinese text
wraps within a 320 px screen, by the rules of Chinese line breaking, in a Chinese font.
Screenshots are decoded with Pillow; the light theme is forced so that ink and paper have
known colours.
"""

from __future__ import annotations

import shutil
import subprocess
from itertools import pairwise

import pytest
from browser_helpers import chat_url, MESSAGE
from colours import css_rgb, relative_luminance
from playwright.sync_api import expect, Page
from required_tools import tool_missing
from test_browser_presentation import (
    add,
    at,
    close,
    computed,
    no_horizontal_overflow,
    say,
    screenshot,
    xs_of_colour,
)

pytestmark = pytest.mark.browser

ARABIC = "مرحبا بكم في المحادثة"
ENGLISH = "A short English one."
# Longer than the two above, so that the bubble is wider than they are.
LONG_ARABIC = "هذه فقرة عربية أطول بكثير من الفقرتين السابقتين، لكي تكون الفقاعة أعرض منهما"
HEBREW = "שלום, מה שלומך?"
LONG_HEBREW = "אני כותב כאן שורה ארוכה יותר משתי השורות הקודמות, כדי שהבועה תהיה רחבה"
HEBREW_MESSAGE = f"{HEBREW}\nA short English line.\n{LONG_HEBREW}"
CODE = "x = 1"
CJK_FONT = "Noto Sans CJK SC"  # the stack's Linux font: Debian's fonts-noto-cjk (make browser)
# Long Chinese text: ideographs (breakable anywhere), and runs that the line breaking rules
# never break (no line may start with "。", "……" or inside "——"): overflow-wrap must.
CHINESE = "这是一段很长的中文文本，没有任何空格，用来检查换行是否正确。" * 12
UNBREAKABLE = "——" * 40 + "。" * 60 + "……" * 30
WIDE_TABLE = ("| " + " | ".join(f"第{n}列的标题" for n in range(8)) + " |\n|" + "---|" * 8
              + "\n| " + " | ".join("很长的单元格内容没有空格" * 2 for _ in range(8)) + " |")
LATIN_TABLE = ("| " + " | ".join(f"column {n}" for n in range(8)) + " |\n|" + "---|" * 8
               + "\n| " + " | ".join("Donaudampfschiff" for _ in range(8)) + " |")
SMALL_TABLE = "| a | b | c | d |\n|---|---|---|---|\n| 1 | 2 | 3 | 4 |"


def light(page: Page, server, conversation: str = "c", width: int = 1000) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(chat_url(server.url, conversation=conversation, theme="light"))


def ink_xs(page: Page, locator, dark_ink: bool) -> list[int]:
    """The x of every pixel of text in ``locator``'s box (and 20 px either side) on a fresh
    screenshot: dark pixels on a light bubble, or light ones on a dark (the user's) bubble.
    Copy buttons are hidden first: they are not the text."""
    page.locator(".copy-button").evaluate_all(
        "buttons => buttons.forEach(b => { b.style.visibility = 'hidden'; })")
    box = locator.bounding_box()
    image = screenshot(page)
    pixels = image.load()
    found = []
    for y in range(int(box["y"]) + 1, int(box["y"] + box["height"]) - 1):
        for x in range(max(0, int(box["x"]) - 20),
                       min(image.width, int(box["x"] + box["width"]) + 20)):
            value = relative_luminance(pixels[x, y])
            if (value < 0.3) if dark_ink else (value > 0.7):
                found.append(x)
    assert len(found) > 30, f"no text found in {box}"
    return found


def content_edges(bubble) -> tuple[float, float]:
    """The left and right edges of a bubble's content box (inside border and padding)."""
    return bubble.evaluate("""el => {
        const box = el.getBoundingClientRect(), style = getComputedStyle(el);
        const inset = side => parseFloat(style['border' + side + 'Width'])
                              + parseFloat(style['padding' + side]);
        return [box.left + inset('Left'), box.right - inset('Right')];
    }""")


def assert_button_at_the_right(block) -> None:
    """A code block's copy button is at its top right (0.4rem in)."""
    block_box, button_box = block.bounding_box(), block.locator(".copy-button").bounding_box()
    gap = block_box["x"] + block_box["width"] - (button_box["x"] + button_box["width"])
    assert 4 <= gap <= 9, (block_box, button_box)


# --- messages in right-to-left scripts -----------------------------------------------------

def test_an_arabic_paragraph_starts_at_the_right_and_an_english_one_at_the_left(live_server,
                                                                               page):
    server = live_server()
    add(server, [say("assistant", f"{ARABIC}\n\n{ENGLISH}\n\n{LONG_ARABIC}", at("09:00:00"))])
    light(page, server)
    bubble = page.locator(".message--assistant")
    arabic, english, _ = bubble.locator(".message__content > p").all()
    expect(arabic).to_have_text(ARABIC)
    assert computed(arabic, "direction") == "rtl" and computed(english, "direction") == "ltr"
    assert computed(page.locator("html"), "direction") == "ltr"  # the page keeps its own
    left, right = content_edges(bubble)
    assert right - left > 400, (left, right)  # the long paragraph makes the bubble wide

    arabic_ink, english_ink = ink_xs(page, arabic, True), ink_xs(page, english, True)
    # The Arabic text hugs the right edge and leaves the left empty; the English, the reverse.
    assert abs(max(arabic_ink) - right) <= 3, (max(arabic_ink), right)
    assert min(arabic_ink) - left > 150, (min(arabic_ink), left)
    assert abs(min(english_ink) - left) <= 3, (min(english_ink), left)
    assert right - max(english_ink) > 150, (max(english_ink), right)


def test_a_hebrew_user_message_reads_right_to_left_line_by_line(live_server, page):
    server = live_server()
    add(server, [say("user", HEBREW_MESSAGE, at("09:00:00"))])
    light(page, server)
    bubble = page.locator(".message--user .message__body")  # the bubble (issue #16)
    plain = bubble.locator(".message__plain")
    assert computed(plain, "direction") == "rtl"  # dir="auto": from its first letter
    left, right = content_edges(bubble)
    box = plain.bounding_box()
    image = screenshot(page)
    lines = []  # the white ink of each text line: (min x, max x)
    pixels = image.load()
    line: list[int] = []
    for y in range(int(box["y"]), int(box["y"] + box["height"])):
        row = [x for x in range(int(box["x"]) - 5, int(box["x"] + box["width"]) + 5)
               if relative_luminance(pixels[x, y]) > 0.7]
        if row:
            line += row
        elif line:
            lines.append((min(line), max(line)))
            line = []
    if line:
        lines.append((min(line), max(line)))
    assert len(lines) == 3, lines
    (hebrew_left, hebrew_right), (english_left, english_right), _ = lines
    # Each typed line takes the direction of its own first letter (unicode-bidi: plaintext):
    # the short Hebrew line at the right, the short English one at the left.
    assert abs(hebrew_right - right) <= 3 and hebrew_left - left > 150, (lines, left, right)
    assert abs(english_left - left) <= 3 and right - english_right > 150, (lines, left, right)


def test_code_in_a_right_to_left_message_stays_left_to_right(live_server, page):
    server = live_server()
    add(server, [say("assistant", f"{ARABIC} `{CODE}` {ARABIC}\n\n```python\n{CODE}\n```\n\n"
                     f"```\n{CODE}\n```\n\n{ARABIC} {ARABIC} {ARABIC}", at("09:00:00"))])
    light(page, server)
    bubble = page.locator(".message--assistant")
    assert computed(bubble.locator(".message__content > p").first, "direction") == "rtl"
    inline = bubble.locator("p code")
    assert computed(inline, "direction") == "ltr"
    assert computed(inline, "unicodeBidi") == "isolate"  # its own run inside the Arabic
    for block in bubble.locator("figure.code-block").all():
        assert computed(block, "direction") == "ltr"
        code = block.locator("pre")
        pre_box = code.bounding_box()
        ink = ink_xs(page, code, True)
        padding = float(computed(code, "paddingLeft").removesuffix("px"))
        assert abs(min(ink) - (pre_box["x"] + padding)) <= 3, (min(ink), pre_box)
        assert max(ink) < pre_box["x"] + pre_box["width"] / 2  # "x = 1" on the left
    # The copy button sits at the code's right, where it does not cover its start.
    for block in bubble.locator("figure.code-block").all():
        assert_button_at_the_right(block)


MIXED = f"""{ARABIC}, with English words inside.

English first, then Arabic: {ARABIC}.

> {ARABIC}
>
> A second paragraph of the quote, in English.

- {ARABIC}
- An English item

| الاسم | العمر |
|---|---|
| {ARABIC} | 30 |

| name | age |
|---|---|
| Ada | 36 |
"""


def test_each_paragraph_of_a_mixed_message_takes_its_own_direction(live_server, page):
    server = live_server()
    add(server, [say("assistant", MIXED, at("09:00:00"))])
    light(page, server)
    content = page.locator(".message--assistant .message__content")
    top = content.locator(":scope > p")
    assert [computed(p, "direction") for p in top.all()] == ["rtl", "ltr"]

    quote = content.locator("blockquote")
    assert computed(quote, "direction") == "rtl"  # from its first paragraph
    assert computed(quote.locator("p").nth(1), "direction") == "ltr"
    # The quote's bar is on its start side: the right.
    assert computed(quote, "borderRightWidth") == "3px"
    assert computed(quote, "borderLeftWidth") == "0px"

    items = content.locator("li")
    assert [computed(li, "direction") for li in items.all()] == ["rtl", "ltr"]
    list_box = content.locator("ul").bounding_box()
    arabic_item, english_item = items.nth(0).bounding_box(), items.nth(1).bounding_box()
    # Each item is indented on its own start side, where its bullet goes.
    assert abs(arabic_item["x"] - list_box["x"]) <= 1
    assert arabic_item["x"] + arabic_item["width"] < list_box["x"] + list_box["width"] - 15
    assert english_item["x"] > list_box["x"] + 15
    assert abs(english_item["x"] + english_item["width"]
               - (list_box["x"] + list_box["width"])) <= 1

    arabic_table, english_table = content.locator("table").all()
    assert computed(arabic_table, "direction") == "rtl"
    first, second = (arabic_table.locator("th").nth(n).bounding_box() for n in (0, 1))
    assert first["x"] > second["x"]  # the first column on the right
    assert computed(english_table, "direction") == "ltr"
    first, second = (english_table.locator("th").nth(n).bounding_box() for n in (0, 1))
    assert first["x"] < second["x"]


ALIGNED = """| يسار | يمين | بلا |
|:---|---:|---|
| 1 | 2 | 3 |
| ا | ب | ج |
| A | B | C |
| خلية أطول بكثير من غيرها | خلية أطول بكثير من غيرها | خلية أطول بكثير من غيرها |

| left | right | none |
|:---|---:|---|
| 1 | 2 | 3 |
| ا | ب | ج |
| A | B | C |
| a cell much longer than the others | a cell much longer than the others | a longer cell |
"""


def test_table_columns_line_up_where_the_author_aligned_them_else_at_the_start(live_server,
                                                                              page):
    server = live_server()
    add(server, [say("assistant", ALIGNED, at("09:00:00"))])
    light(page, server)
    arabic_table, english_table = page.locator(".message__content table").all()
    assert computed(arabic_table, "direction") == "rtl"
    assert computed(english_table, "direction") == "ltr"

    def sides(table) -> list[list[str]]:
        """Where each cell's text sits in its cell, "left", "right" or "middle", row by row
        (but the last: its long cells make the columns wide)."""
        found = []
        for row in table.locator("tr").all()[:-1]:
            found.append([])
            for cell in row.locator("th, td").all():
                left, right = content_edges(cell)
                text = text_box(cell)
                assert right - left > text["right"] - text["left"] + 10  # room to move
                found[-1].append("left" if abs(text["left"] - left) <= 1
                                 else "right" if abs(text["right"] - right) <= 1 else "middle")
        return found

    # ":---" and "---:" are the author's left and right, on an Arabic table too; an unaligned
    # column keeps to the table's start side, whatever each cell's own direction: a number or
    # an English letter under an Arabic header sits at the right, in line with the Arabic.
    # (An unaligned header is centred, as browsers draw a <th>.)
    assert sides(arabic_table) == [["left", "right", "middle"]] + [["left", "right", "right"]] * 3
    assert sides(english_table) == [["left", "right", "middle"]] + [["left", "right", "left"]] * 3


# --- a right-to-left page ------------------------------------------------------------------

def corner(image, x: float, y: float):
    return image.getpixel((int(x), int(y)))


def text_box(locator) -> dict:
    """Where the text of ``locator`` is drawn (not its block's box)."""
    return locator.evaluate("""el => {
        const range = document.createRange();
        range.selectNodeContents(el);
        const box = range.getBoundingClientRect();
        return {left: box.left, right: box.right};
    }""")


def test_a_right_to_left_page_mirrors(live_server, page):
    server = live_server()
    add(server, [say("user", "Hi, can you help?", at("09:00:00")),
                 say("assistant", f"Of course.\n\n> quoted\n\n- item\n\n```\n{CODE}\n```",
                     at("09:00:05")),
                 say("system", "Model switched.", at("09:00:06"))])
    light(page, server)
    page.evaluate("document.documentElement.dir = 'rtl'")
    page.mouse.move(0, 0)
    user, assistant = page.locator(".message--user"), page.locator(".message--assistant")
    bubble = user.locator(".message__body")  # a user's bubble; answers have none (issue #16)
    user_box, assistant_box = user.bounding_box(), assistant.bounding_box()
    bubble_box = bubble.bounding_box()
    log_box = page.locator("#messages").bounding_box()
    middle = log_box["x"] + log_box["width"] / 2

    # The user's bubble on the reader's end side (the left); answers and system messages
    # across the column.
    image = screenshot(page)
    user_bg = css_rgb(computed(bubble, "backgroundColor"))
    user_xs = xs_of_colour(image, user_bg, bubble_box["y"] + 2,
                           bubble_box["y"] + bubble_box["height"] - 2)
    assert len(user_xs) > 200 and max(user_xs) < middle, (max(user_xs), middle)
    assert abs(user_box["x"] - log_box["x"]) <= 1 and abs(bubble_box["x"] - log_box["x"]) <= 1
    for box in (assistant_box, page.locator(".message--system").bounding_box()):
        assert abs(box["x"] - log_box["x"]) <= 1 and abs(box["width"] - log_box["width"]) <= 1

    # The bubble's tail (its small corner) is at the bottom of its outer side.
    page_bg = css_rgb(computed(page.locator("body"), "backgroundColor"))
    bottom = bubble_box["y"] + bubble_box["height"] - 3
    assert close(corner(image, bubble_box["x"] + 3, bottom), user_bg)
    assert close(corner(image, bubble_box["x"] + bubble_box["width"] - 3, bottom), page_bg)

    # The assistant's name at its start (the right), the user's on the bubble's outer side (the
    # left). The time on each message's outer side, its actions beside it: from the right,
    # an answer's time, "copy", "copy link"; a user's "copy", "copy link", then the time at
    # the bubble's left edge.
    name = text_box(assistant.locator(".message__author"))
    assert name["right"] > assistant_box["x"] + assistant_box["width"] - 1, (name, assistant_box)
    name = text_box(user.locator(".message__author"))
    assert name["left"] < user_box["x"] + 1, (name, user_box)
    for message, order in ((assistant, ("time", ".copy-button", ".copy-link")),
                           (user, (".copy-button", ".copy-link", "time"))):
        boxes = [message.locator(f".message__meta {part}").bounding_box() for part in order]
        for right, left in pairwise(boxes):
            assert left["x"] + left["width"] <= right["x"], (order, boxes)
    meta_time = user.locator(".message__meta time").bounding_box()
    assert abs(meta_time["x"] - bubble_box["x"]) <= 3, (meta_time, bubble_box)
    # The content keeps its own direction: English is laid out left to right, its quote's bar
    # and its bullets on the left (an Arabic quote's on the right: see the test above).
    content = assistant.locator(".message__content")
    assert computed(content, "direction") == "rtl"
    assert computed(content.locator(":scope > p").first, "direction") == "ltr"
    assert computed(content.locator("blockquote"), "borderLeftWidth") == "3px"
    item, items = content.locator("li").bounding_box(), content.locator("ul").bounding_box()
    assert item["x"] > items["x"] + 15
    # Code is left to right; its copy button stays at its right.
    block = assistant.locator("figure.code-block")
    assert computed(block, "direction") == "ltr"
    assert_button_at_the_right(block)


def test_an_alert_is_marked_on_its_start_side(live_server, page):
    server = live_server()
    response = page.goto(server.url + "/no/such/page?theme=light")
    assert response.status == 404
    alert = page.get_by_role("alert")
    assert computed(alert, "borderLeftWidth") == "4px"
    page.evaluate("document.documentElement.dir = 'rtl'")
    assert computed(alert, "borderRightWidth") == "4px"
    assert computed(alert, "borderLeftWidth") == "1px"


# --- Chinese -------------------------------------------------------------------------------

@pytest.mark.parametrize("interface", ["en", "zh-Hans"])
def test_long_chinese_text_does_not_overflow_a_320_pixel_screen(live_server, new_context,
                                                                interface):
    server = live_server()
    add(server, [say("user", CHINESE, at("09:00:00")),
                 say("assistant", f"{CHINESE}\n\n{UNBREAKABLE}\n\n`{CHINESE}`", at("09:00:01")),
                 say("user", UNBREAKABLE, at("09:00:02")),
                 say("assistant", f"{WIDE_TABLE}\n\n{LATIN_TABLE}\n\n{SMALL_TABLE}",
                     at("09:00:03")),
                 say("assistant", f"```\n{CHINESE}\n```", at("09:00:04")),
                 say("tool", CHINESE[:300], at("09:00:05"))])
    page = new_context(viewport={"width": 320, "height": 640}).new_page()
    page.goto(chat_url(server.url, limit=6, lang=interface))
    expect(page.locator(MESSAGE)).to_have_count(6)
    expect(page.locator("html")).to_have_attribute("lang", interface)
    chinese, latin, small = page.locator(".message__content table").all()
    no_horizontal_overflow(page)
    for bubble in page.locator(MESSAGE).all():
        box = bubble.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 320, box
    # The text wraps (many lines), inside the bubble; code and tables scroll in their box.
    first = page.locator(".message--user .message__plain").first
    assert first.bounding_box()["height"] > 20 * 24, first.bounding_box()
    # Where it wraps follows Chinese rules: no line starts with a comma or a full stop.
    for text in (first, page.locator(".message--assistant .message__content > p").first):
        starts = line_starts(text)
        assert len(starts) > 15 and not set(starts) & set("，。"), starts
    for wide in page.locator(".message__content table, .message__content pre").all():
        box = wide.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 320, box
    for wide in (chinese, latin, page.locator(".message__content pre")):
        assert wide.evaluate("el => el.scrollWidth > el.clientWidth")  # scrolls, not wraps

    # A wide table's cells are not squeezed to a character a line: a Chinese cell keeps three
    # or more characters a line, a Latin one its words whole; a small table still fits.
    for cell in chinese.locator("th, td").all():
        assert lines(cell) <= len(cell.inner_text()) / 3 + 1, (cell.inner_text(), lines(cell))
    for cell in latin.locator("th, td").all():
        assert lines(cell) <= len(cell.inner_text().split()), (cell.inner_text(), lines(cell))
    assert not small.evaluate("el => el.scrollWidth > el.clientWidth")


def line_starts(block) -> list[str]:
    """The first character of each line of a block's text, in a single text node."""
    return block.evaluate("""el => {
        const text = el.firstChild, range = document.createRange(), starts = [];
        let top = null;
        for (let i = 0; i < text.length; i++) {
            range.setStart(text, i);
            range.setEnd(text, i + 1);
            const rect = range.getClientRects()[0];
            if (rect && (top === null || rect.top > top + 2)) {
                starts.push(text.data[i]);
                top = rect.top;
            }
        }
        return starts;
    }""")


def lines(cell) -> int:
    """How many lines the text of a table cell takes."""
    return cell.evaluate("""el => {
        const range = document.createRange();
        range.selectNodeContents(el);
        return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size;
    }""")


def cjk_font_installed() -> bool:
    fc_list = shutil.which("fc-list")
    return bool(fc_list) and CJK_FONT in subprocess.run(
        [fc_list, ":lang=zh-cn", "family"], capture_output=True, text=True, check=False).stdout


def test_chinese_text_is_set_in_a_chinese_font_from_the_stack(live_server, page):
    if not cjk_font_installed():
        tool_missing(f"{CJK_FONT} is not installed: run `make browser` (fonts-noto-cjk)")
    server = live_server()
    add(server, [say("user", "你好，世界", at("09:00:00"))])
    page.goto(chat_url(server.url))
    expect(page.locator(MESSAGE)).to_have_count(1)
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": ".message__plain"})
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node["nodeId"]})["fonts"]
    used = {font["familyName"]: font["glyphCount"] for font in fonts}
    # Simplified Chinese forms, from the named font (the page says lang="en": without the
    # stack, the system's fallback for Han would be free to pick Japanese forms).
    assert used == {CJK_FONT: 5}, used
