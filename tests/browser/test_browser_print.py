"""Printing a conversation ("Print, save as PDF"): a clean transcript.

In emulated print media: no control shows (load-more, copy buttons, live status and controls,
the top bar's links and buttons, retry links, anything marked ``no-print``), collapsed messages
show in full (by CSS alone, and by static/chat.js on ``beforeprint``), a header names the
conversation and when it was printed, link targets follow link text, colours are light
whatever the theme, and the whole conversation flows onto paper. ``page.pdf()`` is read back
with pypdf: every message's text is in it.
"""

from __future__ import annotations

import io
import re
from datetime import datetime

import pytest
from browser_helpers import chat_url, embed_url, MESSAGE, seed
from playwright.sync_api import expect, Page
from pypdf import PdfReader

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
            "a header button": ".topbar button", "marked no-print": ".no-print"}


def say(role: str, content: str, second: int = 0) -> dict:
    return {"role": role, "content": content, "chat_time": f"2026-03-01 09:00:{second:02d}"}


def pdf_text(page: Page) -> tuple[int, str]:
    """Print ``page`` to PDF (A4); return its page count and its text."""
    data = page.pdf(format="A4")
    assert data.startswith(b"%PDF-") and len(data) > 5_000
    reader = PdfReader(io.BytesIO(data))
    return len(reader.pages), "\n".join(sheet.extract_text() for sheet in reader.pages)


def rgb(value: str) -> tuple[int, ...]:
    match = re.fullmatch(r"rgba?\((\d+), (\d+), (\d+)(?:, [\d.]+)?\)", value)
    assert match, f"not a computed rgb colour: {value!r}"
    return tuple(int(n) for n in match.groups())


def luminance(value: str) -> float:
    """Relative luminance (0 black .. 1 white) of a computed sRGB colour."""
    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (linear(c) for c in rgb(value))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


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
                                                     unused_port):
    server = live_server(app_factory(
        MEMOS_BASE_URL=f"http://127.0.0.1:{unused_port}/api/openmem/v1/",
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
    assert after(page.locator(".message__content a").nth(1)) == '" (mailto:ops@example.com)"'
    # A long URL wraps inside its bubble rather than running off the paper.
    bubble = page.locator(".message--assistant").bounding_box()
    body = page.locator("body").bounding_box()
    assert bubble["x"] + bubble["width"] <= body["x"] + body["width"]

    pages, text = pdf_text(page)
    flat = re.sub(r"\s+", "", text)
    assert "theguide(https://example.com/guide)" in flat
    assert "(mailto:ops@example.com)" in flat and LONG_URL in flat


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
    assert rgb(keyword.evaluate(style, "color")) == (0xA9, 0x0D, 0x91)
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
