"""How a conversation looks and behaves in a real browser, point by point.

Markdown and safety, copy buttons, roles (checked on a screenshot), long content, timestamps,
day separators, "edited", themes (checked on a screenshot), small screens and reduced motion,
keyboard and screen-reader behaviour, and the weight of a first load.

Messages are seeded into the embedded store (``chat_time`` is read as UTC+8), or, where the
store cannot express the case (no time at all, an edited message), served by a loopback MemOS
stand-in (pytest-httpserver). Screenshots are decoded with Pillow.
"""

from __future__ import annotations

import io
import json
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
from browser_helpers import chat_url, load_earlier, MESSAGE, shown_texts
from colours import contrast_ratio, css_rgb, relative_luminance
from PIL import Image
from playwright.sync_api import expect, Page
from werkzeug import Request, Response

pytestmark = pytest.mark.browser

BEIJING = timezone(timedelta(hours=8))
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
ISO_WITH_OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")
UPSTREAM_PATH = "/api/openmem/v1/get/message"
IMAGE_HOST = "images.example.net"
MAX_TABS = 60  # more Tab presses than any page here has controls


# --- helpers -----------------------------------------------------------------------------

def at(text: str) -> str:
    """A chat_time on 2026-03-01 (UTC+8)."""
    return f"2026-03-01 {text}"


def beijing(moment: datetime) -> str:
    """``moment`` as a naive MemOS chat_time (Beijing time)."""
    return moment.astimezone(BEIJING).strftime(TIME_FORMAT)


def say(role: str, content, chat_time: str = "2026-03-01 09:00:00") -> dict:
    return {"role": role, "content": content, "chat_time": chat_time}


def add(server, messages: list[dict], user: str = "u", conversation: str = "c") -> None:
    server.store.add_messages(user, conversation, messages)


def screenshot(page: Page) -> Image.Image:
    """The viewport as an RGB image (device scale factor 1: one pixel per CSS pixel)."""
    return Image.open(io.BytesIO(page.screenshot())).convert("RGB")


def close(a, b, tolerance: int = 3) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


def xs_of_colour(image: Image.Image, colour, top: float, bottom: float) -> list[int]:
    """The x of every pixel of ``colour`` in the horizontal band ``top..bottom``."""
    width = image.width
    pixels = image.load()
    return [x for y in range(int(top), int(bottom)) for x in range(width)
            if close(pixels[x, y], colour)]


def computed(locator, prop: str) -> str:
    return locator.evaluate(f"el => getComputedStyle(el)[{prop!r}]")


def normal_spaces(text: str) -> str:
    """Intl puts narrow/no-break spaces in times ("8:00\u202fPM")."""
    return text.replace("\u202f", " ").replace("\u00a0", " ")


def no_horizontal_overflow(page: Page) -> None:
    """Neither the document nor the message scroller scrolls sideways; nor does a message."""
    doc = page.evaluate("[document.documentElement.scrollWidth,"
                        " document.documentElement.clientWidth, window.innerWidth]")
    assert doc[0] <= doc[1] and doc[0] <= doc[2], f"document overflows: {doc}"
    scroller = page.locator(".scroller").evaluate("el => [el.scrollWidth, el.clientWidth]")
    assert scroller[0] <= scroller[1], f"the message scroller overflows: {scroller}"
    widths = page.locator(MESSAGE).evaluate_all(
        "els => els.map(el => [el.dataset.role, el.scrollWidth, el.clientWidth])")
    for role, scroll_width, client_width in widths:
        assert scroll_width <= client_width + 1, (role, scroll_width, client_width)


@pytest.fixture
def upstream(httpserver_ipv4, app_factory, live_server):
    """Serve given ``message_detail_list`` items from a loopback MemOS; returns the viewer.

    ``upstream(items, **settings)`` answers /get/message with the newest
    ``message_limit_number`` items, as MemOS does.
    """
    def serve(items: list[dict], **settings):
        def newest(request: Request) -> Response:
            limit = request.get_json()["message_limit_number"] or 6
            body = {"code": 0, "message": "ok", "data": {"message_detail_list": items[-limit:]}}
            return Response(json.dumps(body), content_type="application/json")

        httpserver_ipv4.expect_request(UPSTREAM_PATH, method="POST").respond_with_handler(newest)
        app = app_factory(MEMOS_BASE_URL=httpserver_ipv4.url_for("/api/openmem/v1/"),
                          MEMOS_API_KEY="k", MEMOS_TIMEOUT=2, VIEWER_ACCESS="open", **settings)
        return live_server(app)

    yield serve
    httpserver_ipv4.check_handler_errors()


# --- 1. Markdown ---------------------------------------------------------------------------

MARKDOWN = f"""# Release notes
## Changes

- first item
- second item

1. step one
2. step two

| Fruit | Qty |
|:------|----:|
| apple | 3 |
| pear | 12 |

```python
def greet(name):
    return f"hello {{name}}"
```

Raw <b>bold tag</b> and <script>window.__pwned = 1</script> stay text.

[a page](https://example.com/page) [write to us](mailto:team@example.com) \
[bad](javascript:window.__pwned=1) [relative](/etc/passwd)

![a cat](https://{IMAGE_HOST}/cat.png) ![a dog](http://{IMAGE_HOST}/dog.png)
"""
USER_TYPED = "**not bold**   three  spaces\n    indented <i>line</i>"


def test_assistant_markdown_is_rendered_server_side_and_safely(live_server, page):
    server = live_server()
    add(server, [say("user", USER_TYPED, at("09:00:00")),
                 say("assistant", MARKDOWN, at("09:00:05"))])
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(chat_url(server.url))

    reply = page.locator(".message--assistant .message__content")
    expect(reply.locator("h1")).to_have_text("Release notes")
    expect(reply.locator("h2")).to_have_text("Changes")
    expect(reply.locator("ul > li")).to_have_text(["first item", "second item"])
    expect(reply.locator("ol > li")).to_have_text(["step one", "step two"])
    table = reply.locator("table")
    expect(table).to_have_count(1)
    expect(table.locator("th")).to_have_text(["Fruit", "Qty"])
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table.locator("td.align-right")).to_have_text(["3", "12"])

    # Fenced code: highlighted by Pygments on the server, captioned with its language.
    block = reply.locator("figure.code-block")
    expect(block.locator("figcaption.code-block__lang")).to_have_text("Python")
    expect(block.locator("pre.highlight > code.language-python")).to_have_count(1)
    classes = set(block.locator("pre.highlight span[class]").evaluate_all(
        "spans => spans.map(s => s.className)"))
    assert {"k", "nf"} <= classes, classes  # Keyword ("def"), Name.Function ("greet")
    assert block.locator("code").inner_text().strip() == \
        'def greet(name):\n    return f"hello {name}"'

    # Raw HTML is text, never elements; nothing ran.
    expect(reply).to_contain_text("Raw <b>bold tag</b> and <script>window.__pwned = 1</script>")
    assert reply.locator("b, script, img, i").count() == 0
    assert page.evaluate("typeof window.__pwned") == "undefined"

    # Links: only http(s)/mailto, all with rel="noopener noreferrer nofollow".
    links = reply.locator("a").evaluate_all(
        "as => as.map(a => [a.textContent, a.getAttribute('href'), a.rel])")
    assert [text for text, _, _ in links] == ["a page", "write to us", "image: a cat"]
    for text, href, rel in links:
        assert urlsplit(href).scheme in ("http", "https", "mailto"), (text, href)
        assert {"noopener", "noreferrer", "nofollow"} <= set(rel.split()), (text, rel)
    expect(reply).to_contain_text("[bad](javascript:window.__pwned=1)")
    expect(reply).to_contain_text("[relative](/etc/passwd)")

    # Images are never loaded: no <img>, and no request left for the image host.
    expect(page.locator("img")).to_have_count(0)
    expect(reply).to_contain_text("[image: a dog]")
    page.wait_for_load_state("load")
    assert not [url for url in requested if IMAGE_HOST in url], requested

    # The user's words are shown exactly as typed: no Markdown, whitespace kept.
    plain = page.locator(".message--user .message__plain")
    assert computed(plain, "whiteSpace") == "pre-wrap"
    assert plain.evaluate("el => el.innerText") == USER_TYPED
    assert page.locator(".message--user strong, .message--user i").count() == 0


# --- 2. Copy buttons, no inline scripts ----------------------------------------------------

CODE = "print('copy me')\nprint(1 + 1)"
ANSWER = f"Here it is:\n\n```python\n{CODE}\n```"
QUESTION = "How do I   print twice?"


def test_copy_buttons_copy_message_and_code(live_server, new_context):
    server = live_server()
    add(server, [say("user", QUESTION, at("09:00:00")), say("assistant", ANSWER, at("09:00:05"))])
    # Chromium grants clipboard access to a secure context (127.0.0.1 is one) given these.
    page = new_context(permissions=["clipboard-read", "clipboard-write"]).new_page()
    page.goto(chat_url(server.url))
    messages = page.locator(MESSAGE)
    expect(messages).to_have_count(2)
    for index in range(2):
        expect(messages.nth(index).get_by_role("button", name="Copy", exact=True)) \
            .to_have_count(1)
    expect(page.get_by_role("button", name="Copy code", exact=True)).to_have_count(1)
    expect(page.locator(".code-block").get_by_role("button", name="Copy code")) \
        .to_have_count(1)

    # By class, not by name: the name changes to "Copied" when clicked.
    user_copy = messages.nth(0).locator(".message__meta .copy-button")
    user_copy.click()
    expect(user_copy).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == QUESTION

    code_copy = page.locator(".code-block .copy-button")
    code_copy.click()
    expect(code_copy).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()").strip() == CODE

    messages.nth(1).get_by_role("button", name="Copy", exact=True).click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("Here it is:") and CODE in copied
    assert "Copy code" not in copied  # the buttons themselves are not part of the text


def test_messages_loaded_later_get_copy_buttons_too(live_server, page):
    server = live_server()
    add(server, [say("user" if n % 2 else "assistant", f"message {n}", at(f"09:00:{n:02d}"))
                 for n in range(9)])
    page.goto(chat_url(server.url))
    expect(page.locator(MESSAGE)).to_have_count(6)
    load_earlier(page)
    expect(page.locator(MESSAGE)).to_have_count(9)
    expect(page.locator(f"{MESSAGE} .copy-button")).to_have_count(9)
    for index in range(9):
        expect(page.locator(MESSAGE).nth(index).locator(".copy-button")).to_have_count(1)


def test_without_javascript_there_are_no_copy_buttons_and_no_inline_scripts(live_server,
                                                                             new_context):
    server = live_server()
    add(server, [say("user", QUESTION, at("09:00:00")), say("assistant", ANSWER, at("09:00:05"))])
    page = new_context(java_script_enabled=False).new_page()
    page.goto(chat_url(server.url))
    expect(page.locator(MESSAGE)).to_have_count(2)
    # The one button is the menu's "Find", a plain form's submit: no script needed.
    expect(page.locator("button")).to_have_count(1)
    expect(page.locator('form[role="search"] button[type="submit"]')).to_have_count(1)
    expect(page.locator(".copy-button")).to_have_count(0)
    expect(page.locator(".code-block pre.highlight")).to_have_count(1)  # the code still shows

    scripts = page.locator("script").evaluate_all(
        "ss => ss.map(s => [s.getAttribute('src'), s.textContent.trim()])")
    assert len(scripts) == 1, scripts  # htmx and chat.js, as one file (viewer/assets.py)
    for src, text in scripts:
        assert src and src.startswith("/static/") and text == "", (src, text)


# --- 3. Roles ------------------------------------------------------------------------------

def test_user_bubbles_sit_at_the_end_and_answers_read_from_the_start_in_the_screenshot(
        live_server, page):
    server = live_server()
    add(server, [say("user", "Hi, can you help?", at("09:00:00")),
                 say("assistant", "Of course.", at("09:00:05"))])
    page.goto(chat_url(server.url))
    user, assistant = page.locator(".message--user"), page.locator(".message--assistant")
    expect(user).to_be_visible()
    expect(assistant).to_be_visible()
    bubble = user.locator(".message__body")
    bubble_box, assistant_box = bubble.bounding_box(), assistant.bounding_box()
    user_bg = css_rgb(computed(bubble, "backgroundColor"))
    page_bg = css_rgb(computed(page.locator("body"), "backgroundColor"))
    assert user_bg != page_bg
    # An answer has no bubble: the page shows through (issue #16, as chat apps show answers).
    assert computed(assistant, "backgroundColor") == "rgba(0, 0, 0, 0)"
    assert computed(assistant.locator(".message__body"), "backgroundColor") == "rgba(0, 0, 0, 0)"

    image = screenshot(page)
    middle = image.width / 2
    # Inside the bubble's left padding, halfway down: the bubble's own background.
    sample = image.getpixel((int(bubble_box["x"] + 5),
                             int(bubble_box["y"] + bubble_box["height"] / 2)))
    assert close(sample, user_bg), (sample, user_bg)

    # Every pixel of the user's colour in the user's row is right of the middle; the answer's
    # ink (dark on the light page) starts at the column's left and stays left of the middle.
    user_xs = xs_of_colour(image, user_bg, bubble_box["y"] + 2,
                           bubble_box["y"] + bubble_box["height"] - 2)
    assert len(user_xs) > 200 and min(user_xs) > middle, (min(user_xs), middle)
    text_box = assistant.locator(".message__content").bounding_box()
    pixels = image.load()
    ink = [x for y in range(int(text_box["y"]), int(text_box["y"] + text_box["height"]))
           for x in range(image.width) if relative_luminance(pixels[x, y]) < 0.3]
    assert len(ink) > 30 and max(ink) < middle, (len(ink), middle)
    log_box = page.locator("#messages").bounding_box()
    assert abs(bubble_box["x"] + bubble_box["width"] - (log_box["x"] + log_box["width"])) <= 1
    assert abs(min(ink) - log_box["x"]) <= 3
    assert abs(assistant_box["x"] - log_box["x"]) <= 1
    assert abs(assistant_box["width"] - log_box["width"]) <= 1  # the column's whole width


LONG_SYSTEM = "System notice: " + "the assistant must answer politely and briefly. " * 14


def test_system_and_tool_messages_are_muted_and_long_ones_collapse(live_server, page):
    server = live_server()
    add(server, [say("system", "Model switched to a smaller one.", at("09:00:00")),
                 say("user", "What is 6 times 7?", at("09:00:01")),
                 say("tool", '{"result": 42}', at("09:00:02")),
                 say("assistant", "42.", at("09:00:03")),
                 say("system", LONG_SYSTEM, at("09:00:04"))])
    page.goto(chat_url(server.url))
    expect(page.locator(MESSAGE)).to_have_count(5)
    log_box = page.locator("#messages").bounding_box()
    muted = computed(page.locator("#conversation-start"), "color")
    quiet_bg = computed(page.locator(".day-separator"), "backgroundColor")
    # Across the reading column, as answers are (issue #16): a system message as muted text,
    # a tool's answer in a quiet box.
    for selector in (".message--system", ".message--tool"):
        for message in page.locator(selector).all():
            box = message.bounding_box()
            assert abs(box["x"] - log_box["x"]) <= 1, (selector, box)
            assert abs(box["width"] - log_box["width"]) <= 1, (selector, box)
            assert computed(message.locator(".message__body"), "color") == muted
    for system in page.locator(".message--system").all():
        assert computed(system.locator(".message__body"), "backgroundColor") == "rgba(0, 0, 0, 0)"
    assert computed(page.locator(".message--tool .message__body"), "backgroundColor") == quiet_bg
    for selector in (".message--user", ".message--assistant"):
        assert computed(page.locator(selector), "color") != muted

    long_one = page.locator(".message--system").nth(1)
    details = long_one.locator("details.message__more")
    summary = details.locator("summary")
    expect(summary).to_have_text("Show full message")
    assert details.evaluate("el => el.open") is False
    expect(long_one.locator(".message__preview")).to_be_visible()
    expect(details.locator(".message__content")).to_be_hidden()
    summary.click()
    expect(details).to_have_attribute("open", "")
    expect(details.locator(".message__content")).to_be_visible()
    expect(details.locator(".message__content")).to_contain_text(LONG_SYSTEM.strip()[-60:])
    # The short system message is not collapsed at all.
    expect(page.locator(".message--system").first.locator("details")).to_have_count(0)


ODD_ROLE = '"><b>critic</b>'


def test_unknown_role_is_neutral_and_its_name_is_text(live_server, page):
    server = live_server()
    add(server, [say("user", "Review this.", at("09:00:00")),
                 say(ODD_ROLE, "Looks fine to me.", at("09:00:01"))])
    page.goto(chat_url(server.url))
    odd = page.locator(".message--other")
    expect(odd).to_have_count(1)
    expect(odd).to_have_attribute("data-role", ODD_ROLE)
    expect(odd.locator(".message__author")).to_have_text(ODD_ROLE)
    assert page.locator("#messages b").count() == 0
    assert odd.evaluate("el => [...el.classList]") == ["message", "message--other"]
    log_box = page.locator("#messages").bounding_box()
    box = odd.bounding_box()
    assert abs(box["x"] + box["width"] / 2 - (log_box["x"] + log_box["width"] / 2)) <= 1.5


def test_every_bubble_has_an_author_label_even_when_grouped(live_server, page):
    server = live_server()
    add(server, [say("user", "First question", at("09:00:00")),
                 say("user", "Second question", at("09:00:01")),
                 say("assistant", "First answer", at("09:00:02")),
                 say("assistant", "Second answer", at("09:00:03"))])
    page.goto(chat_url(server.url))
    messages = page.locator(MESSAGE)
    expect(messages).to_have_count(4)
    expect(messages.locator(".message__author")).to_have_text(
        ["User", "User", "Assistant", "Assistant"])
    for index, hidden in enumerate([False, True, False, True]):
        author = messages.nth(index).locator(".message__author")
        clip = computed(author, "clipPath")
        box = author.bounding_box()
        if hidden:  # visually hidden for the group, yet its text is there for assistive tech
            assert clip == "inset(50%)" and box["width"] <= 1 and box["height"] <= 1, (clip, box)
            assert author.evaluate("el => el.textContent") in ("User", "Assistant")
        else:
            assert clip == "none" and box["width"] > 10, (clip, box)
        # Present in the accessibility tree: the ARIA snapshot of the bubble names its author.
        snapshot = messages.nth(index).aria_snapshot()
        assert ("User" if index < 2 else "Assistant") in snapshot, snapshot


# --- 4. Long content -------------------------------------------------------------------------

END_MARKER = "THE-VERY-END"
LONG_TEXT = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 100)[:5000 - 13] \
    + " " + END_MARKER
LONG_WORD = "Supercalifragilistic" * 15
LONG_URL = "https://example.com/" + "a" * 280


def test_a_long_message_collapses_and_opens(live_server, page):
    server = live_server()
    assert len(LONG_TEXT) == 5000
    add(server, [say("user", "Tell me everything.", at("09:00:00")),
                 say("assistant", LONG_TEXT, at("09:00:01"))])
    page.goto(chat_url(server.url))
    long_one = page.locator(".message--assistant")
    details = long_one.locator("details.message__more")
    preview = long_one.locator(".message__preview")
    assert details.evaluate("el => el.open") is False
    expect(preview).to_be_visible()
    expect(preview).to_contain_text("Lorem ipsum dolor sit amet")
    assert len(preview.inner_text()) < 1300  # the first lines, not the whole
    expect(long_one.get_by_text(END_MARKER)).to_be_hidden()

    details.locator("summary").click()

    expect(details).to_have_attribute("open", "")
    expect(long_one.get_by_text(END_MARKER)).to_be_visible()
    expect(preview).to_be_hidden()
    assert len(details.locator(".message__content").inner_text()) >= 4990


@pytest.mark.parametrize("width", [320, 1280])
def test_long_unbroken_words_and_urls_do_not_overflow(live_server, new_context, width):
    server = live_server()
    assert len(LONG_WORD) == len(LONG_URL) == 300
    add(server, [say("user", LONG_WORD, at("09:00:00")),
                 say("assistant", f"See {LONG_URL} and [this]({LONG_URL}).", at("09:00:01")),
                 say("user", f"`{LONG_WORD}`", at("09:00:02")),
                 say("assistant", LONG_WORD, at("09:00:03")),
                 say("tool", LONG_URL, at("09:00:04"))])
    page = new_context(viewport={"width": width, "height": 800}).new_page()
    page.goto(chat_url(server.url))
    expect(page.locator(MESSAGE)).to_have_count(5)
    no_horizontal_overflow(page)
    for bubble in page.locator(MESSAGE).all():
        box = bubble.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, box


# --- 5. Timestamps ---------------------------------------------------------------------------

def test_times_carry_an_offset_and_recent_ones_read_minutes_ago(live_server, new_context):
    server = live_server()
    five_minutes_ago = datetime.now(BEIJING) - timedelta(minutes=5)
    add(server, [say("user", "old", at("09:00:00")),
                 say("assistant", "recent", beijing(five_minutes_ago))])
    page = new_context(locale="en-US", timezone_id="Asia/Tokyo").new_page()
    page.goto(chat_url(server.url))
    times = page.locator(f"{MESSAGE} time")
    expect(times).to_have_count(2)
    datetimes = times.evaluate_all("ts => ts.map(t => t.getAttribute('datetime'))")
    assert all(ISO_WITH_OFFSET.match(value) for value in datetimes), datetimes
    assert datetimes[0] == "2026-03-01T09:00:00+08:00"

    old, recent = times.nth(0), times.nth(1)
    expect(old).to_have_text(re.compile(r"^10:00\s?AM$"))  # 09:00 in Beijing, 10:00 in Tokyo
    # The tooltip holds the absolute time, date included.
    title = normal_spaces(old.get_attribute("title"))
    assert "2026" in title and "March 1" in title and "10:00 AM" in title, title
    expect(recent).to_have_text(re.compile(r"^\d+ minutes? ago$"))
    minutes = int(recent.inner_text().split()[0])
    assert minutes in (5, 6), recent.inner_text()  # 5, or 6 if a minute ticked meanwhile
    assert str(five_minutes_ago.year) in recent.get_attribute("title")


@pytest.mark.parametrize(("zone", "clock"), [("America/New_York", "8:00 PM"),
                                             ("Asia/Tokyo", "10:00 AM"),
                                             ("Asia/Shanghai", "9:00 AM")])
def test_times_follow_the_browsers_time_zone(live_server, new_context, zone, clock):
    server = live_server()
    add(server, [say("user", "old", at("09:00:00"))])  # 01:00 UTC
    page = new_context(locale="en-US", timezone_id=zone).new_page()
    page.goto(chat_url(server.url))
    time = page.locator(f"{MESSAGE} time")
    expect(time).to_have_attribute("title", re.compile("2026"))  # set by chat.js
    assert normal_spaces(time.inner_text()) == clock
    day = "February 28, 2026" if zone == "America/New_York" else "March 1, 2026"
    assert day in normal_spaces(time.get_attribute("title"))


@pytest.mark.parametrize(("settings", "clock", "title"), [
    ({}, "09:00", "2026-03-01 09:00:00 +0800"),
    ({"DISPLAY_TIMEZONE": "UTC"}, "01:00", "2026-03-01 01:00:00 +0000"),
    ({"MEMOS_TIMEZONE": "UTC", "DISPLAY_TIMEZONE": "+02:00"}, "11:00",
     "2026-03-01 11:00:00 +0200"),
])
def test_without_javascript_the_server_time_shows(live_server, new_context, settings, clock,
                                                  title):
    server = live_server(**settings)
    add(server, [say("user", "old", at("09:00:00"))])
    page = new_context(java_script_enabled=False, timezone_id="America/New_York").new_page()
    page.goto(chat_url(server.url))
    time = page.locator(f"{MESSAGE} time")
    expect(time).to_have_text(clock)
    expect(time).to_have_attribute("title", title)
    assert ISO_WITH_OFFSET.match(time.get_attribute("datetime"))


UNDATED = [
    {"role": "user", "content": "no time fields at all"},
    {"role": "assistant", "content": "an unreadable time", "chat_time": "not a time"},
    {"role": "user", "content": "empty and null times", "chat_time": "", "create_time": None,
     "update_time": ""},
    {"role": "assistant", "content": "epoch zero", "chat_time": 0, "create_time": "0"},
    {"role": "user", "content": "garbage everywhere", "chat_time": "2026-13-45 99:99:99",
     "create_time": "yesterday", "update_time": "NaN"},
]


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_missing_or_unreadable_times_show_no_time(upstream, new_context, javascript):
    server = upstream(UNDATED)
    page = new_context(java_script_enabled=javascript).new_page()
    page.goto(chat_url(server.url))
    expect(page.locator(MESSAGE)).to_have_count(5)
    assert shown_texts(page)[0] == "no time fields at all"
    expect(page.locator("#messages time")).to_have_count(0)  # (the print header has its own)
    expect(page.locator(".day-separator")).to_have_count(0)
    text = page.locator("body").inner_text()
    assert "Invalid Date" not in text and "1970" not in text and "NaN" not in text


# --- 6. Day separators -----------------------------------------------------------------------

def separators(page: Page) -> list[tuple[str, str]]:
    return page.locator("#messages .day-separator time").evaluate_all(
        "ts => ts.map(t => [t.getAttribute('datetime'), t.textContent])")


def log_sequence(page: Page) -> list[str]:
    """The children of the log, top to bottom: "day:<date>" or the message text."""
    return page.locator("#messages > *").evaluate_all("""els => els.map(el =>
        el.classList.contains('day-separator') ? 'day:' + el.querySelector('time').dateTime
        : el.querySelector('.message__body').innerText)""")


def test_three_days_make_three_separators_in_order(live_server, new_context):
    server = live_server()
    add(server, [say("user", "day one", "2026-03-01 09:00:00"),
                 say("assistant", "day one reply", "2026-03-01 09:01:00"),
                 say("user", "day two", "2026-03-02 23:59:00"),
                 say("user", "day three", "2026-03-03 00:00:30"),
                 say("assistant", "day three reply", "2026-03-03 08:00:00")])
    page = new_context(locale="en-US", timezone_id="Asia/Shanghai").new_page()
    page.goto(chat_url(server.url))
    expect(page.locator(MESSAGE)).to_have_count(5)
    assert log_sequence(page) == [
        "day:2026-03-01", "day one", "day one reply", "day:2026-03-02", "day two",
        "day:2026-03-03", "day three", "day three reply"]
    labels = [label for _, label in separators(page)]
    assert labels == ["Sunday, March 1, 2026", "Monday, March 2, 2026", "Tuesday, March 3, 2026"]


def test_today_and_yesterday_are_named(live_server, new_context):
    server = live_server()
    now = datetime.now(BEIJING)
    today, yesterday = now.date(), now.date() - timedelta(days=1)
    before = now.date() - timedelta(days=2)
    add(server, [say("user", "two days ago", f"{before} 12:00:00"),
                 say("user", "yesterday", f"{yesterday} 12:00:00"),
                 say("assistant", "today", beijing(now))])
    for javascript in (True, False):
        page = new_context(locale="en-US", timezone_id="Asia/Shanghai",
                           java_script_enabled=javascript).new_page()
        page.goto(chat_url(server.url))
        expect(page.locator(".day-separator")).to_have_count(3)
        found = separators(page)
        assert [key for key, _ in found] == [str(before), str(yesterday), str(today)]
        assert [label for _, label in found][1:] == ["Yesterday", "Today"], (javascript, found)
        assert found[0][1] not in ("Today", "Yesterday")


def test_no_duplicate_separator_at_the_seam_after_loading_earlier(live_server, new_context):
    server = live_server()
    # 14 messages, 7 a day; with 6 a page the first "load earlier" ends inside day two and
    # the second one inside day one.
    add(server, [say("user" if n % 2 else "assistant", f"m{n:02d}",
                     f"2026-03-0{1 + n // 7} 10:00:{n:02d}") for n in range(14)])
    page = new_context(locale="en-US", timezone_id="Asia/Shanghai").new_page()
    page.goto(chat_url(server.url))
    expect(page.locator(MESSAGE)).to_have_count(6)
    assert log_sequence(page) == ["day:2026-03-02", "m08", "m09", "m10", "m11", "m12", "m13"]

    load_earlier(page)
    expect(page.locator(MESSAGE)).to_have_count(12)
    assert log_sequence(page) == [
        "day:2026-03-01", "m02", "m03", "m04", "m05", "m06",
        "day:2026-03-02", "m07", "m08", "m09", "m10", "m11", "m12", "m13"]
    expect(page.locator("#day-2026-03-02")).to_have_count(1)

    load_earlier(page)
    expect(page.locator(MESSAGE)).to_have_count(14)
    assert log_sequence(page) == ["day:2026-03-01", *[f"m{n:02d}" for n in range(7)],
                                  "day:2026-03-02", *[f"m{n:02d}" for n in range(7, 14)]]
    # chat.js relabels separators as they settle in: wait for it (bounded).
    expect(page.locator("#messages .day-separator time")).to_have_text(
        ["Sunday, March 1, 2026", "Monday, March 2, 2026"])


# --- 7. "edited" -----------------------------------------------------------------------------

def test_an_edited_message_says_so(upstream, new_context):
    server = upstream([
        {"role": "user", "content": "typo fixed later", "chat_time": "2026-03-01 09:00:00",
         "create_time": "2026-03-01 09:00:00", "update_time": "2026-03-01 09:30:00"},
        {"role": "assistant", "content": "never touched", "chat_time": "2026-03-01 09:00:05",
         "create_time": "2026-03-01 09:00:05", "update_time": "2026-03-01 09:00:05"},
        {"role": "assistant", "content": "stored later, not edited",
         "chat_time": "2026-03-01 09:00:10", "create_time": "2026-03-02 10:00:00",
         "update_time": "2026-03-02 10:00:00"},
    ])
    for javascript in (True, False):
        page = new_context(java_script_enabled=javascript).new_page()
        page.goto(chat_url(server.url))
        messages = page.locator(MESSAGE)
        expect(messages).to_have_count(3)
        edited = messages.nth(0).locator(".message__edited")
        expect(edited).to_have_text("edited")
        expect(edited).to_be_visible()
        expect(edited).to_have_attribute("title", "Edited " + (page.evaluate(
            "new Intl.DateTimeFormat('en', {dateStyle: 'full', timeStyle: 'short'})"
            ".format(new Date('2026-03-01T09:30:00+08:00'))") if javascript
            else "March 1, 2026, 9:30:00\u202fAM +0800"))  # CLDR: a narrow space
        expect(messages.nth(1).locator(".message__edited")).to_have_count(0)
        expect(messages.nth(2).locator(".message__edited")).to_have_count(0)
        expect(page.get_by_text("edited", exact=True)).to_have_count(1)


# --- 8. Themes -------------------------------------------------------------------------------

def background_luminance(page: Page) -> float:
    """The luminance of bare page background in the screenshot (bottom-left corner)."""
    image = screenshot(page)
    samples = [image.getpixel((x, image.height - y)) for x in (2, 8) for y in (3, 9)]
    assert all(close(s, samples[0]) for s in samples), samples  # one flat background there
    return relative_luminance(samples[0])


@pytest.mark.parametrize(("theme", "scheme", "dark"), [
    ("dark", "light", True), ("dark", "dark", True),
    ("light", "dark", False), ("light", "light", False),
    (None, "dark", True), (None, "light", False),
    ("auto", "dark", True), ("auto", "light", False),
])
def test_theme_parameter_and_system_preference(live_server, new_context, theme, scheme, dark):
    server = live_server()
    add(server, [say("user", "hello", at("09:00:00")),
                 say("assistant", "Some `code` and\n\n```python\nx = 1\n```", at("09:00:01"))])
    page = new_context(color_scheme=scheme).new_page()
    extra = {"theme": theme} if theme else {}
    assert page.goto(chat_url(server.url, **extra)).status == 200
    expect(page.locator(MESSAGE)).to_have_count(2)
    value = background_luminance(page)
    if dark:
        assert value < 0.25, value
    else:
        assert value > 0.8, value
    # The answer (no bubble: the page's background) and its code block follow the theme too.
    ink = relative_luminance(css_rgb(computed(page.locator(".message--assistant"), "color")))
    code = relative_luminance(css_rgb(computed(page.locator("pre.highlight"), "backgroundColor")))
    assert (ink > 0.6) if dark else (ink < 0.05), ink
    assert (code < 0.25) if dark else (code > 0.8), code
    # One colour for the whole block: its language line and its code.
    assert computed(page.locator("pre.highlight"), "backgroundColor") == computed(
        page.locator("figure.code-block"), "backgroundColor")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_browser_before_light_dark_shows_the_users_words_and_where_focus_is(
        live_server, new_context, scheme):
    """Browsers before light-dark() (2024: Safari 17.5, Chrome 123; older phones' web views)
    unset every colour given with it. Played here by renaming the function in the stylesheet
    to one no browser knows: the page is flat but readable, the user's white words keep their
    bubble, and focus its ring."""
    server = live_server()
    add(server, [say("user", "hello from [an older phone](https://example.com)", at("09:00:00")),
                 say("assistant", "Readable all the same.", at("09:00:01"))])
    context = new_context(color_scheme=scheme)

    def older(route) -> None:
        css = route.fetch().text()
        assert "light-dark(" in css
        route.fulfill(status=200, content_type="text/css",
                      body=css.replace("light-dark(", "no-such-colour("))

    context.route("**/static/chat.*.css", older)
    page = context.new_page()
    assert page.goto(chat_url(server.url)).status == 200
    bubble = page.locator(".message--user .message__body")
    expect(bubble).to_be_visible()
    assert "no-such-colour" in page.evaluate(
        "[...document.styleSheets].map(s => [...s.cssRules].map(r => r.cssText).join()).join()")
    words = css_rgb(computed(bubble, "color"))
    background = css_rgb(computed(bubble, "backgroundColor"), opaque=True)
    assert computed(bubble, "backgroundColor") == "rgb(31, 79, 201)"  # the light bubble
    assert contrast_ratio(words, background) >= 4.5
    link = bubble.locator("a")
    assert contrast_ratio(css_rgb(computed(link, "color")), background) >= 4.5
    link.focus()
    assert computed(link, "outlineStyle") == "solid"
    assert computed(link, "outlineColor") == "rgb(26, 63, 166)"
    # The answer, on the page itself, is read in the browser's own ink for the scheme.
    answer = page.locator(".message--assistant .message__body")
    ink = relative_luminance(css_rgb(computed(answer, "color")))
    assert (ink > 0.6) if scheme == "dark" else (ink < 0.05), ink


def palette(style: str) -> dict[str, dict[str, str]]:
    """Each token class of a Pygments ``style``, as the properties it sets: a colour as
    getComputedStyle writes it, bold and italic as font-weight and font-style."""
    from pygments.formatters import HtmlFormatter

    found = {}
    for rule in HtmlFormatter(style=style).get_token_style_defs(".h"):
        token_class, declarations = re.fullmatch(r"\.h \.(\S+) \{ (.*) \}.*", rule).groups()
        found[token_class] = {}
        for declaration in declarations.split("; "):
            name, value = declaration.split(": ")
            if value.startswith("#"):
                rgb = value[1:] if len(value) == 7 else "".join(c * 2 for c in value[1:])
                value = "rgb({}, {}, {})".format(*(int(rgb[n:n + 2], 16) for n in (0, 2, 4)))
            found[token_class][{"color": "color", "background-color": "backgroundColor",
                                "font-weight": "fontWeight", "font-style": "fontStyle"}[name]] \
                = {"bold": "700"}.get(value, value)
    return found


@pytest.mark.parametrize(("theme", "scheme", "media", "dark"), [
    (None, "light", "screen", False), (None, "dark", "screen", True),
    ("dark", "light", "screen", True), ("light", "dark", "screen", False),
    ("auto", "dark", "screen", True), ("dark", "dark", "print", False),
])
def test_every_code_token_has_its_palettes_look(live_server, new_context, theme, scheme, media,
                                                dark):
    """Each token class Pygments may write, in the light palette or the dark one (the dark
    theme on screen, set or the system's), as the palettes draw it; anything a palette leaves
    alone is the code's own colour, upright and regular. Paper is light whatever the theme."""
    from viewer.renderer.highlight import DARK_STYLE, LIGHT_STYLE

    light, dark_palette = palette(LIGHT_STYLE), palette(DARK_STYLE)
    chosen = dark_palette if dark else light
    server = live_server()
    add(server, [say("assistant", "```python\nx = 1\n```", at("09:00:01"))])
    page = new_context(color_scheme=scheme).new_page()
    page.goto(chat_url(server.url, **({"theme": theme} if theme else {})))
    page.emulate_media(media=media, color_scheme=scheme)
    classes = sorted(set(light) | set(dark_palette))
    looks = page.locator("pre.highlight code").evaluate("""(code, classes) => {
        code.replaceChildren(...classes.map(name => {
            const span = document.createElement("span");
            span.className = name;
            span.textContent = name;
            return span;
        }));
        const look = el => {
            const style = getComputedStyle(el);
            return {color: style.color, backgroundColor: style.backgroundColor,
                    fontWeight: style.fontWeight, fontStyle: style.fontStyle};
        };
        return [look(code), ...[...code.children].map(look)];
    }""", classes)
    plain = {**looks[0], "backgroundColor": "rgba(0, 0, 0, 0)", "fontStyle": "normal"}
    assert len(classes) > 70
    for token_class, look in zip(classes, looks[1:], strict=True):
        assert look == {**plain, **chosen.get(token_class, {})}, token_class


def test_unknown_theme_is_a_400(live_server, page):
    server = live_server()
    response = page.goto(chat_url(server.url, theme="purple"))
    assert response.status == 400
    expect(page.get_by_role("alert")).to_contain_text("theme")


def theme_of(link) -> list[str]:
    return parse_qs(urlsplit(link.get_attribute("href")).query).get("theme", [])


def test_load_more_keeps_the_theme(live_server, new_context):
    server = live_server()
    add(server, [say("user", f"m{n:02d}", at(f"09:00:{n:02d}")) for n in range(20)])
    # With JavaScript: after htmx loads a batch, the new control still carries the theme.
    page = new_context(color_scheme="light").new_page()
    page.goto(chat_url(server.url, theme="dark"))
    assert theme_of(page.locator("#load-more")) == ["dark"]
    load_earlier(page)
    expect(page.locator(MESSAGE)).to_have_count(12)
    assert theme_of(page.locator("#load-more")) == ["dark"]
    assert background_luminance(page) < 0.25

    # Without: following the link keeps the page dark, and the next link too.
    page = new_context(color_scheme="light", java_script_enabled=False).new_page()
    page.goto(chat_url(server.url, theme="dark"))
    page.locator("#load-more").click()
    expect(page.locator(MESSAGE)).to_have_count(12)
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    assert theme_of(page.locator("#load-more")) == ["dark"]
    assert background_luminance(page) < 0.25
    # The htmx URL opened directly (no HX-Request) redirects to the page: still dark.
    page.goto(server.url + page.locator("#load-more").get_attribute("data-hx-get"))
    expect(page).to_have_url(re.compile(r"/chat\?.*limit=18"))
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")


# --- 9. Small screens, reduced motion --------------------------------------------------------

LONG_ID = "a-rather-long-conversation-identifier-without-any-spaces-in-it"


def test_a_320_pixel_screen_has_no_horizontal_overflow(live_server, new_context):
    server = live_server()
    add(server, [say("user", "Show me a table and some code, please.", at("09:00:00")),
                 say("assistant", MARKDOWN, at("09:00:01")),
                 say("system", LONG_SYSTEM, at("09:00:02")),
                 say("user", LONG_WORD, at("09:00:03")),
                 say("assistant", "| " + " | ".join(f"column {n}" for n in range(12)) + " |\n|"
                     + "---|" * 12 + "\n| " + " | ".join(str(n) for n in range(12)) + " |",
                     at("09:00:04")),
                 say("assistant", "```\n" + "x = 1; " * 80 + "\n```", at("09:00:05"))],
        conversation=LONG_ID)
    page = new_context(viewport={"width": 320, "height": 640}).new_page()
    page.goto(chat_url(server.url, conversation=LONG_ID))
    expect(page.locator(MESSAGE)).to_have_count(6)
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    no_horizontal_overflow(page)
    for bubble in page.locator(MESSAGE).all():
        box = bubble.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 320, box
    # Wide tables and code scroll inside their own box instead.
    for wide in page.locator(".message__content table, .message__content pre").all():
        box = wide.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 320, box


# Motion a future stylesheet might add; the reduced-motion rule must still switch it off.
MOTION = """
.load-more { transition: opacity 0.3s ease, transform 0.3s ease; }
.message { animation: pop-in 0.4s ease-out; }
@keyframes pop-in { from { transform: scale(0.9); } to { transform: none; } }
"""


@pytest.mark.parametrize("motion", ["reduce", "no-preference"])
def test_reduced_motion_is_honoured(live_server, new_context, motion):
    server = live_server()
    add(server, [say("user", f"m{n:02d}", at(f"09:00:{n:02d}")) for n in range(8)])
    # bypass_csp: only so the test can add MOTION as a <style> (the page's CSP forbids inline).
    page = new_context(reduced_motion=motion, bypass_csp=True).new_page()
    page.goto(chat_url(server.url))
    expect(page.locator(MESSAGE)).to_have_count(6)
    reduce = motion == "reduce"
    assert page.evaluate("matchMedia('(prefers-reduced-motion: reduce)').matches") is reduce
    load_more = page.locator(".load-more")
    # As shipped: no transitions or animations anywhere, and no smooth scrolling.
    moving = page.evaluate("""() => [...document.querySelectorAll('*')].filter(el => {
        const style = getComputedStyle(el);
        return style.transitionDuration.split(',').some(d => parseFloat(d) > 0) ||
               style.animationName !== 'none' || style.scrollBehavior === 'smooth';
    }).map(el => el.tagName + '.' + el.className)""")
    assert moving == []
    assert computed(load_more, "transitionDuration") == "0s"

    page.add_style_tag(content=MOTION)
    if reduce:
        assert computed(load_more, "transitionDuration") == "0s"
        assert computed(page.locator(MESSAGE).first, "animationName") == "none"
    else:  # the probe works: without the preference the added motion is there
        assert computed(load_more, "transitionDuration") == "0.3s, 0.3s"
        assert computed(page.locator(MESSAGE).first, "animationName") == "pop-in"


# --- 10. Keyboard and screen readers ---------------------------------------------------------

def active_id(page: Page) -> str:
    return page.evaluate("document.activeElement ? document.activeElement.id : ''")


def test_load_more_by_keyboard_announces_and_keeps_focus_without_scrolling(live_server, page):
    server = live_server()
    add(server, [say("user" if n % 2 else "assistant", f"m{n:02d}", at(f"09:00:{n:02d}"))
                 for n in range(14)])
    page.goto(chat_url(server.url))
    log = page.get_by_role("log")
    expect(log).to_have_attribute("aria-label", re.compile(r"\S"))
    status = page.get_by_role("status")
    expect(status).to_have_attribute("id", "history-status")
    expect(page.locator(MESSAGE)).to_have_count(6)

    for _ in range(MAX_TABS):
        if active_id(page) == "load-more":
            break
        page.keyboard.press("Tab")
    assert active_id(page) == "load-more", "Tab never reached the load-more control"
    control = page.locator("#load-more")
    assert control.evaluate("el => el.matches(':focus-visible')")
    assert computed(control, "outlineStyle") != "none"
    assert float(computed(control, "outlineWidth").removesuffix("px")) >= 2

    first = control.element_handle()
    page.keyboard.press("Enter")
    expect(page.locator("#history-status")).to_have_text("Loaded 6 earlier messages.")
    expect(page.locator(MESSAGE)).to_have_count(12)
    page.wait_for_function("el => !el.isConnected && document.activeElement.id === 'load-more'",
                           arg=first)
    # htmx gives the new control focus as it swaps it in, but binds it only when the swap
    # settles (20 ms later): Enter before that follows the link as a plain one.
    page.wait_for_function("() => !document.querySelector('.htmx-added, .htmx-settling')")
    assert page.evaluate("window.scrollY") == 0
    assert computed(page.locator("#load-more"), "outlineStyle") != "none"

    page.keyboard.press("Enter")
    expect(page.locator("#history-status")).to_have_text(
        "Loaded 2 earlier messages. This is the beginning of the conversation.")
    expect(page.locator(MESSAGE)).to_have_count(14)
    page.wait_for_function("() => document.activeElement.id === 'conversation-start'")
    assert page.evaluate("window.scrollY") == 0
    assert shown_texts(page) == [f"m{n:02d}" for n in range(14)]


def test_every_control_is_reachable_by_keyboard_with_visible_focus(live_server, page):
    server = live_server()
    add(server, [say("user" if n % 2 else "assistant", f"m{n:02d}", at(f"09:00:{n:02d}"))
                 for n in range(4)]
        + [say("assistant", MARKDOWN, at("09:01:00")),
           say("assistant", LONG_TEXT, at("09:01:01"))])
    page.goto(chat_url(server.url))
    expect(page.locator(MESSAGE)).to_have_count(6)
    # 6 messages and 1 code block (the header's menu is a summary, its items behind it)
    expect(page.locator(".copy-button")).to_have_count(7)
    controls = page.evaluate("""() => {
        const all = [...document.querySelectorAll('a[href], button, summary')]
            .filter(el => el.checkVisibility());  // hidden ones are not controls yet
        all.forEach((el, n) => el.dataset.control = n);
        return all.map(el => el.tagName + ' ' + el.textContent.trim().slice(0, 30));
    }""")
    assert any(c.startswith("SUMMARY") for c in controls) and len(controls) >= 12, controls

    reached: dict[int, bool] = {}
    for _ in range(len(controls) + 10):
        page.keyboard.press("Tab")
        info = page.evaluate("""() => {
            const el = document.activeElement;
            if (!el || el.dataset.control === undefined) return null;
            const style = getComputedStyle(el);
            return [Number(el.dataset.control), el.matches(':focus-visible'), style.outlineStyle];
        }""")
        if info:
            index, focus_visible, outline = info
            reached[index] = focus_visible and outline != "none"
    missing = [controls[n] for n in range(len(controls)) if n not in reached]
    assert missing == [], f"not reachable with Tab: {missing}"
    invisible = [controls[n] for n, visible in reached.items() if not visible]
    assert invisible == [], f"no visible focus: {invisible}"


# --- 11. Page weight and caching -------------------------------------------------------------

PAGE_WEIGHT_LIMIT = 30 * 1000  # 30 KB, decimal: the README's budget, headers included
VERSIONED = re.compile(r"\.[0-9a-f]{12}(\.\w+)$")  # chat.0123456789ab.css


def test_first_load_is_small_compressed_and_cached(live_server, new_context):
    server = live_server()
    add(server, [say("user" if n % 2 else "assistant", f"message number {n}",
                     at(f"09:00:{n:02d}")) for n in range(6)])
    context = new_context()  # fresh: nothing cached
    page = context.new_page()
    responses = []
    page.on("response", lambda response: responses.append(response))
    page.goto(chat_url(server.url))
    expect(page.locator(MESSAGE)).to_have_count(6)
    page.wait_for_load_state("load")
    icon = page.locator("link[rel=icon]").get_attribute("href")
    if not any(urlsplit(r.url).path == urlsplit(icon).path for r in responses):
        # Should a (headless) Chromium skip the favicon, fetch it: a visible browser would.
        page.evaluate("href => fetch(href).then(r => r.text())", icon)

    by_path = {}
    for response in responses:
        response.finished()
        # Static files by their own names: the URLs carry a content hash (viewer/assets.py).
        by_path[VERSIONED.sub(r"\1", urlsplit(response.url).path)] = response
    # htmx and chat.js come as one script, built with the others by `make install`.
    expected = {"/chat", "/static/chat.css", "/static/page.js", "/static/favicon.svg"}
    assert set(by_path) == expected, sorted(by_path)

    total = 0
    for path, response in by_path.items():
        sizes = response.request.sizes()
        total += sizes["responseBodySize"] + sizes["responseHeadersSize"]
        headers = response.headers
        assert response.status == 200, path
        if path.startswith("/static/"):
            assert VERSIONED.search(urlsplit(response.url).path), response.url
            cache = headers["cache-control"]
            assert "max-age=31536000" in cache and "immutable" in cache, (path, cache)
            assert headers["x-content-type-options"] == "nosniff", (path, headers)
        if path.endswith((".css", ".js")) or path == "/chat":
            # Static files are compressed by `make install`, which `make test` runs first.
            assert headers.get("content-encoding") in ("gzip", "br", "zstd"), (path, headers)
            length = int(headers.get("content-length", sizes["responseBodySize"]))
            assert sizes["responseBodySize"] == length, (path, sizes, length)
    assert "accept-encoding" in {k.lower() for k in by_path["/chat"].request.all_headers()}
    print(f"\nfirst load of a 6-message chat: {total} bytes transferred: " + ", ".join(
        f"{path} {sum(r.request.sizes()[k] for k in ('responseBodySize', 'responseHeadersSize'))}"
        f" ({r.headers.get('content-encoding', 'identity')})" for path, r in by_path.items()))
    assert total <= PAGE_WEIGHT_LIMIT, f"{total} bytes transferred on first load"
