"""Printing a conversation ("Print, save as PDF"): a clean transcript.

In emulated print media: no control shows (load-more, copy buttons, live status and controls,
the top bar's links, buttons and menu, retry links, anything marked ``no-print``), collapsed
messages show in full (by CSS alone, and by static/chat.js on ``beforeprint``), a header names
the conversation and when it was printed, link targets follow link text (once: not after an
autolink, whose text is its address), colours are light whatever the theme, messages take the
paper's full width without bubbles, and the whole conversation flows onto paper, filling its
pages. ``page.pdf()`` is read back with pypdf: every message's text is in it, where it sits.
"""

from __future__ import annotations

import io
import re
from datetime import datetime

import pytest
from browser_helpers import chat_url, embed_url, MESSAGE, seed
from colours import css_rgb, relative_luminance
from playwright.sync_api import expect, Page
from pypdf import PageObject, PdfReader
from reading import READING_CONVERSATION_ID, READING_MESSAGES, READING_USER_ID
from reading import seed as seed_reading

pytestmark = pytest.mark.browser

END_MARKER = "THE-VERY-END"
LONG_TEXT = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 100)[:4987] \
    + " " + END_MARKER
LONG_URL = "https://example.com/" + "a" * 280
ISO_WITH_OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)$")
# Every control a printed page must not show, as it is marked up or added by static/chat.js.
CONTROLS = {"load-more": "#load-more", "copy buttons": ".copy-button", "live": "#live",
            "live check": ".live__check", "resume": ".live__resume",
            "new messages": "#new-messages", "home link": ".topbar__home",
            "the conversation menu": "details.menu", "a header button": ".topbar > button",
            "marked no-print": ".no-print"}


def say(role: str, content: str, second: int = 0) -> dict:
    return {"role": role, "content": content, "chat_time": f"2026-03-01 09:00:{second:02d}"}


def pdf_sheets(page: Page) -> list[PageObject]:
    """Print ``page`` to PDF (A4, the page's own @page margins); return its pages."""
    data = page.pdf(format="A4")
    assert data.startswith(b"%PDF-") and len(data) > 5_000
    return PdfReader(io.BytesIO(data)).pages


def pdf_text(page: Page) -> tuple[int, str]:
    """Print ``page`` to PDF (A4); return its page count and its text."""
    sheets = pdf_sheets(page)
    return len(sheets), "\n".join(sheet.extract_text() for sheet in sheets)


def lowest_text(sheet: PageObject) -> float:
    """How far down ``sheet`` its lowest line of text sits, from 0 (top) to 1 (bottom).

    Each piece of text pypdf reports comes with its text matrix and the current transformation
    matrix; their product places its baseline in PDF points from the page's bottom edge.
    """
    baselines: list[float] = []

    def visit(text, cm, tm, font, size):
        if text.strip():
            baselines.append(cm[1] * tm[4] + cm[3] * tm[5] + cm[5])

    sheet.extract_text(visitor_text=visit)
    assert baselines, "a blank page"
    height = float(sheet.mediabox.height)
    return (height - min(baselines)) / height


def luminance(value: str) -> float:
    """Relative luminance (0 black .. 1 white) of a computed sRGB colour."""
    return relative_luminance(css_rgb(value))


def is_light(value: str) -> bool:
    """A background that wastes no ink: none, or near white."""
    return value == "rgba(0, 0, 0, 0)" or luminance(value) > 0.85


def is_dark(value: str) -> bool:
    """Text readable on such a background (muted grey included), or a dark-theme surface."""
    return luminance(value) < 0.2


def test_print_shows_no_control(live_server, page):
    server = live_server(CHAT_PAGE_SIZE=4, LIVE_POLL_SECONDS=60)
    seed(server.store, 10, text=lambda n: f"message {n:02d}\n\n```python\nx = {n}\n```")
    page.goto(chat_url(server.url))
    expect(page.locator("#load-more")).to_be_visible()
    expect(page.locator(".copy-button").first).to_be_visible()
    # What the script shows only in some states, and what other parts of the page may add
    # (a header action, anything marked no-print), shown on screen to be hidden on paper.
    page.evaluate("""() => {
        document.querySelector("#new-messages").hidden = false;
        document.querySelector(".live__resume").hidden = false;
        document.querySelector("#live").classList.remove("live--running");
        document.querySelector("#live .live__status").textContent = "Live updates paused.";
        const action = document.createElement("button");
        action.textContent = "Copy link";
        document.querySelector(".topbar").append(action);
        const marked = document.createElement("a");
        marked.className = "no-print";
        marked.href = "/";
        marked.textContent = "Download";
        document.querySelector(".topbar").append(marked);
    }""")
    for name, selector in CONTROLS.items():
        expect(page.locator(selector).first, name).to_be_visible()
    left_out = page.locator("#history-head").get_by_text("Earlier messages are not included")
    expect(left_out).to_be_hidden()

    page.emulate_media(media="print")

    expect(left_out).to_be_visible()  # instead of "load earlier": paper cannot load them

    for name, selector in CONTROLS.items():
        for control in page.locator(selector).all():
            expect(control, name).to_be_hidden()
    expect(page.locator("button:visible, a:visible:not(.message__content a)")).to_have_count(0)
    expect(page.locator(MESSAGE)).to_have_count(4)
    expect(page.locator(".topbar__title")).to_have_text("c")


def test_print_hides_retry_links_but_keeps_the_error(live_server, app_factory, page,
                                                     refused_port):
    server = live_server(app_factory(
        MEMOS_BASE_URL=f"http://127.0.0.1:{refused_port}/api/openmem/v1/",
        MEMOS_API_KEY="test-key", MEMOS_TIMEOUT=1, VIEWER_ACCESS="open"))
    page.goto(chat_url(server.url))
    retry = page.locator('[role="alert"] .alert__retry')
    expect(retry).to_be_visible()
    page.emulate_media(media="print")
    expect(retry).to_be_hidden()
    expect(page.locator('[role="alert"] .alert__message')).to_be_visible()


@pytest.mark.parametrize("javascript", [False, True])
def test_a_collapsed_message_prints_in_full_by_css_alone(live_server, new_context,
                                                         javascript):
    server = live_server()
    server.store.add_messages("u", "c", [say("user", "Tell me everything."),
                                         say("assistant", LONG_TEXT, 1)])
    page = new_context(java_script_enabled=javascript).new_page()
    page.goto(chat_url(server.url))
    message = page.locator(".message--assistant")
    end = message.get_by_text(END_MARKER)
    expect(end).to_be_hidden()

    page.emulate_media(media="print")  # no beforeprint event: ::details-content alone

    assert message.locator("details").evaluate("details => details.open") is False
    expect(end).to_be_visible()
    expect(message.locator(".message__preview")).to_be_hidden()
    expect(message.locator("summary")).to_be_hidden()
    page.emulate_media(media="screen")
    expect(end).to_be_hidden()
    expect(message.locator(".message__preview")).to_be_visible()


def test_beforeprint_opens_collapsed_messages_and_afterprint_closes_them(live_server, page):
    server = live_server()
    server.store.add_messages("u", "c", [say("assistant", LONG_TEXT),
                                         say("assistant", "Second. " + LONG_TEXT, 1)])
    page.goto(chat_url(server.url))
    details = page.locator("details.message__more")
    expect(details).to_have_count(2)
    details.nth(1).locator("summary").click()  # the reader opened this one: it stays open
    printed = page.locator("time.printed__time")
    server_time = printed.get_attribute("datetime")

    page.evaluate("window.dispatchEvent(new Event('beforeprint'))")

    assert details.evaluate_all("all => all.map(d => d.open)") == [True, True]
    expect(page.locator(".message").first.get_by_text(END_MARKER)).to_be_visible()
    # The header now tells the reader's own time of printing, by the script.
    stamp = printed.get_attribute("datetime")
    assert ISO_WITH_OFFSET.match(stamp) and stamp != server_time
    assert abs(datetime.fromisoformat(stamp).timestamp()
               - page.evaluate("Date.now() / 1000")) < 60
    assert re.search(r"\d", printed.inner_text())

    page.evaluate("window.dispatchEvent(new Event('afterprint'))")

    assert details.evaluate_all("all => all.map(d => d.open)") == [False, True]


@pytest.mark.parametrize("lang, label", [("en", "Printed "), ("zh-CN", "打印于 ")])
def test_the_printed_header_names_the_conversation_and_the_time(live_server, page, lang,
                                                                label):
    server = live_server()
    seed(server.store, 3, user="user-7", conversation="support-42")
    page.goto(chat_url(server.url, "user-7", "support-42", lang=lang))
    printed = page.locator(".printed")
    # On screen it is not shown, nor read out: display none keeps it out of the a11y tree.
    expect(printed).to_be_hidden()
    assert label.strip() not in page.locator("body").aria_snapshot()

    page.emulate_media(media="print")

    expect(page.locator(".topbar__title")).to_have_text("support-42")
    expect(page.locator(".topbar__meta")).to_contain_text("user-7")
    expect(printed).to_be_visible()
    expect(printed).to_contain_text(label)
    assert ISO_WITH_OFFSET.match(printed.locator("time").get_attribute("datetime"))
    assert label.strip() in page.locator("body").aria_snapshot()


def test_the_widget_prints_its_conversation_and_a_header(live_server, page):
    server = live_server()
    seed(server.store, 8, conversation="support-42")
    page.goto(embed_url(server.url, conversation="support-42", limit=8))
    header = page.locator(".print-header")
    expect(header).to_be_hidden()

    page.emulate_media(media="print")

    expect(header).to_be_visible()
    expect(header).to_contain_text("support-42")
    expect(header.locator(".printed")).to_contain_text("Printed ")
    pages, text = pdf_text(page)
    assert "support-42" in text and "Printed" in text
    assert all(f"message {n:02d}" in text for n in range(8))


def test_link_targets_follow_link_text_in_print_only(live_server, page):
    server = live_server()
    server.store.add_messages("u", "c", [
        say("user", "Where is the guide?"),
        say("assistant", f"See [the guide](https://example.com/guide), write to "
                         f"<ops@example.com>, or [this]({LONG_URL}).", 1)])
    page.goto(chat_url(server.url))
    link = page.locator(".message__content a").first

    def after(locator) -> str:
        return locator.evaluate("a => getComputedStyle(a, '::after').content")

    assert after(link) == "none"
    page.emulate_media(media="print")
    assert after(link) == '" (https://example.com/guide)"'
    # An autolink's text is its address: printed once, with nothing after it.
    assert after(page.locator(".message__content a").nth(1)) == "none"
    # A long URL wraps inside its bubble rather than running off the paper.
    bubble = page.locator(".message--assistant").bounding_box()
    body = page.locator("body").bounding_box()
    assert bubble["x"] + bubble["width"] <= body["x"] + body["width"]

    pages, text = pdf_text(page)
    flat = re.sub(r"\s+", "", text)
    assert "theguide(https://example.com/guide)" in flat
    assert flat.count("ops@example.com") == 1 and "mailto:" not in flat and LONG_URL in flat


@pytest.mark.parametrize("theme, scheme", [("dark", "light"), ("dark", "dark"),
                                           (None, "dark")])
def test_print_is_light_whatever_the_theme(live_server, page, theme, scheme):
    server = live_server()
    server.store.add_messages("u", "c", [
        say("user", "Show me code."),
        say("assistant", "```python\nimport os\n```", 1),
        say("system", "A system note.", 2)])
    page.emulate_media(color_scheme=scheme)
    page.goto(chat_url(server.url, **({"theme": theme} if theme else {})))
    style = "(el, name) => getComputedStyle(el)[name]"
    body = page.locator("body")
    assert is_dark(body.evaluate(style, "backgroundColor"))  # dark on screen

    page.emulate_media(media="print", color_scheme=scheme)

    assert is_light(body.evaluate(style, "backgroundColor"))
    assert is_dark(body.evaluate(style, "color"))
    for role in ("user", "assistant", "system"):
        bubble = page.locator(f".message--{role}")
        assert is_light(bubble.evaluate(style, "backgroundColor")), role
        assert is_dark(bubble.evaluate(style, "color")), role
    keyword = page.locator(".highlight .kn").first  # "import": the light palette's purple
    assert css_rgb(keyword.evaluate(style, "color")) == (0xA9, 0x0D, 0x91)
    assert is_light(page.locator(".highlight").evaluate(style, "backgroundColor"))


def test_every_message_of_a_long_conversation_is_printed(live_server, page):
    server = live_server()
    seed(server.store, 40, text=lambda n: f"message {n:02d} " + "words " * (n % 7) * 20)
    page.goto(chat_url(server.url, limit=40))
    expect(page.locator(MESSAGE)).to_have_count(40)
    scroller = page.locator(".scroller")
    assert scroller.evaluate("s => s.scrollHeight > s.clientHeight + 100")  # scrolls on screen

    page.emulate_media(media="print")

    assert scroller.evaluate("s => s.scrollHeight <= s.clientHeight + 1")  # nothing scrolls
    box = scroller.bounding_box()
    for message in page.locator(MESSAGE).all():
        inner = message.bounding_box()
        assert box["y"] <= inner["y"] and inner["y"] + inner["height"] <= box["y"] + box[
            "height"] + 1
    pages, text = pdf_text(page)
    assert pages >= 3, pages
    missing = [n for n in range(40) if f"message {n:02d}" not in text]
    assert missing == [], f"not on paper: {missing}"
    assert text.index("message 00") < text.index("message 39")
    assert "Load earlier" not in text and "Copy" not in text


def test_the_61_message_conversation_fills_every_page_but_the_last(live_server, page):
    """A page is at least half used when its lowest line of text is below the middle of the
    sheet: the @page margins are equal at top and bottom, so the middle of the sheet is the
    middle of the printable area too. Text is what a reader sees of a page (tables, code and
    lists all hold text), and its position is read from the PDF itself, whatever the page's
    layout: no rendering, no guess from the screen."""
    server = live_server(CHAT_PAGE_SIZE=100)
    seed_reading(server.store)
    page.goto(chat_url(server.url, READING_USER_ID, READING_CONVERSATION_ID))
    expect(page.locator(MESSAGE)).to_have_count(len(READING_MESSAGES))  # all 61, in full

    sheets = pdf_sheets(page)

    used = [lowest_text(sheet) for sheet in sheets]
    half_empty = [(number, round(fill, 2)) for number, fill in enumerate(used[:-1], 1)
                  if fill < 0.5]
    assert half_empty == [], f"pages less than half used: {half_empty} (all: {used})"
    assert len(sheets) <= 10, f"{len(sheets)} pages (13 when no message could split)"
    text = re.sub(r"\s+", "", "".join(sheet.extract_text() for sheet in sheets))
    assert READING_CONVERSATION_ID in text
    for message in (READING_MESSAGES[1], READING_MESSAGES[-1]):  # the first and the last
        assert re.sub(r"\s+", "", message["content"]) in text


def test_a_tall_message_splits_and_small_ones_stay_whole(live_server, page):
    """A message of many paragraphs starts right after a short one rather than on a page of its
    own; two-paragraph messages are never cut between pages."""
    server = live_server(CHAT_PAGE_SIZE=100)
    tall = "\n\n".join(f"Tall paragraph {n:02d}: " + "words to fill the line " * 12
                       for n in range(40))
    small = [say("user" if n % 2 else "assistant",
                 f"Small {n:02d} opens here.\n\nSmall {n:02d} closes here.", n % 60)
             for n in range(60)]
    server.store.add_messages("u", "c", [say("user", "A short question."),
                                         say("assistant", tall, 1), *small])
    page.goto(chat_url(server.url))
    expect(page.locator(MESSAGE)).to_have_count(62)

    sheets = [sheet.extract_text() for sheet in pdf_sheets(page)]

    tall_on = [n for n, sheet in enumerate(sheets) if "Tall paragraph" in sheet]
    assert tall_on[0] == 0  # right after the question, not pushed to a page of its own
    assert tall_on == list(range(len(tall_on))) and len(tall_on) > 1
    for n in range(60):
        opens = [i for i, sheet in enumerate(sheets) if f"Small {n:02d} opens" in sheet]
        closes = [i for i, sheet in enumerate(sheets) if f"Small {n:02d} closes" in sheet]
        assert opens == closes and len(opens) == 1, (n, opens, closes)


def test_messages_print_full_width_without_bubbles(live_server, page):
    server = live_server()
    server.store.add_messages("u", "c", [say("user", "Short question?"),
                                         say("assistant", "Short answer.", 1)])
    page.goto(chat_url(server.url))
    page.emulate_media(media="print")
    style = "(el, name) => getComputedStyle(el)[name]"
    column = page.locator("#messages").bounding_box()
    for role in ("user", "assistant"):
        message = page.locator(f".message--{role}")
        assert message.bounding_box()["width"] >= column["width"] - 1, role
        assert message.evaluate(style, "backgroundColor") == "rgba(0, 0, 0, 0)", role
        assert message.evaluate(style, "borderTopWidth") == "0px", role
    # A user's messages keep a rule on their start side, to tell them apart.
    user = page.locator(".message--user")
    assert user.evaluate(style, "borderInlineStartStyle") == "solid"
    assert page.locator(".message--assistant").evaluate(
        style, "borderInlineStartStyle") == "none"


def test_an_autolink_prints_its_address_once(live_server, page):
    """A link whose text is its address (class="autolink", made from a bare URL by the
    renderer) gets no address after it; any other link does. Until the renderer marks bare
    URLs, the page is given such a link by hand; the bare URL's own message must print its
    address once either way."""
    bare = "https://www.visitportugal.com/en"
    made = "https://example.org/made-by-hand"
    server = live_server()
    server.store.add_messages("u", "c", [
        say("user", "Where do I start?"),
        say("assistant", f"The [travel guide](https://example.com/guide), or {bare}", 1),
        say("assistant", "And one more.", 2)])
    page.goto(chat_url(server.url))
    page.locator(".message__content").last.evaluate("""(content, href) => {
        const link = document.createElement("a");
        link.className = "autolink";
        link.href = link.textContent = href;
        content.querySelector("p").append(" See ", link);
    }""", made)

    pages, text = pdf_text(page)

    flat = re.sub(r"\s+", "", text)
    assert "travelguide(https://example.com/guide)" in flat
    assert flat.count("https://example.com/guide") == 1
    assert flat.count(bare) == 1
    assert flat.count(made) == 1
