"""Reading a conversation as in the best chat apps, measured in Chromium on tests/reading.py's
61 messages: answers across the column and user bubbles at the end, one visible time a group,
icon actions shown on hover and focus (always on touch screens), a focus ring that contrasts
everywhere, permalinks below the header, and "load earlier" by itself, without loops."""

from __future__ import annotations

import json
import re

import pytest
from browser_helpers import chat_url, make_messages, MESSAGE
from colours import contrast_ratio, css_rgb
from playwright.sync_api import expect, Locator, Page
from reading import READING_CONVERSATION_ID, READING_MESSAGES, READING_USER_ID, seed
from werkzeug import Request, Response

pytestmark = pytest.mark.browser

PAGE = 20  # the app's default page size (the suite's app_factory pins a smaller one)
OLDER = "/chat/older"
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}
KNOWN_ROLES = ("user", "assistant", "system", "tool")  # unknown roles are never grouped
START = {"en": "Loaded 1 earlier message. This is the beginning of the conversation.",
         "zh-Hans": "已加载 1 条更早的消息。已经到对话开头了。"}  # Chinese: no space between
NAMES = {"en": ("Copy", "Copy link"), "zh-Hans": ("复制", "复制链接")}


def reading_server(live_server, **settings):
    server = live_server(CHAT_PAGE_SIZE=PAGE, LIVE_POLL_SECONDS=0, **settings)
    seed(server.store)
    return server


def reading_url(server, **extra) -> str:
    return chat_url(server.url, READING_USER_ID, READING_CONVERSATION_ID, **extra)


def style(locator: Locator, name: str) -> str:
    return locator.evaluate("(element, name) => getComputedStyle(element)[name]", name)


def box(locator: Locator) -> dict:
    return locator.evaluate("""element => {
        const r = element.getBoundingClientRect();
        return {left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: r.width};
    }""")


# --- colours ---------------------------------------------------------------------------------

def rgb(css: str) -> tuple[int, int, int]:
    return css_rgb(css, opaque=True)


def ring_colours(control: Locator) -> list[tuple[int, int, int]]:
    """The colours of the focus ring ``control`` shows now: its outline's and its shadows'."""
    found = control.evaluate("""element => {
        const s = getComputedStyle(element);
        return {outline: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2
                         ? s.outlineColor : null,
                shadow: s.boxShadow};
    }""")
    colours = [rgb(found["outline"])] if found["outline"] else []
    colours += [rgb(c) for c in re.findall(r"rgba?\([^)]*\)", found["shadow"] or "")]
    return colours


def assert_ring_unclipped(control: Locator) -> None:
    """The outline, drawn outside ``control`` (with its offset), lies inside every box that
    clips it: no ancestor with overflow other than visible cuts it off, up to the scroller."""
    cut = control.evaluate("""element => {
        const s = getComputedStyle(element);
        const reach = Math.max(0, parseFloat(s.outlineOffset) + parseFloat(s.outlineWidth));
        const r = element.getBoundingClientRect();
        const ring = {left: r.left - reach, right: r.right + reach,
                      top: r.top - reach, bottom: r.bottom + reach};
        const cuts = [];
        for (let box = element.parentElement; box; box = box.parentElement) {
            const o = getComputedStyle(box);
            if (o.overflowX !== 'visible' || o.overflowY !== 'visible') {
                const b = box.getBoundingClientRect();
                if (ring.left < b.left || ring.right > b.right || ring.top < b.top
                    || ring.bottom > b.bottom) cuts.push(box.className || box.tagName);
            }
            if (box.classList.contains('scroller')) break;
        }
        return cuts;
    }""")
    assert cut == [], f"the focus ring is clipped by {cut}"


def tab_to(page: Page, control: Locator, limit: int = 400) -> None:
    """Press Tab until ``control`` has the focus (keyboard focus: :focus-visible applies)."""
    handle = control.element_handle()
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("control => document.activeElement === control", handle):
            return
    raise AssertionError("Tab never reached the control")


# --- 1. Messages: answers without a bubble, user bubbles at the end -----------------------------

@pytest.mark.parametrize("theme", ["light", "dark"])
def test_answers_read_across_the_column_and_user_messages_are_bubbles_at_the_end(
        live_server, new_context, theme):
    server = reading_server(live_server)
    page = new_context(viewport=LAPTOP).new_page()
    page.goto(reading_url(server, theme=theme))
    expect(page.locator(MESSAGE)).to_have_count(PAGE)
    column = box(page.locator("#messages"))
    assert 700 <= column["width"] <= 48 * 16 + 1  # the reading column: about 48rem

    for answer in page.locator("#messages > .message--assistant").all()[:4]:
        # No bubble: nothing drawn behind or around it; the column's whole width.
        assert style(answer, "backgroundColor") == "rgba(0, 0, 0, 0)"
        assert style(answer.locator(".message__body"), "backgroundColor") == "rgba(0, 0, 0, 0)"
        assert style(answer, "borderTopStyle") == "none"
        answer_box = box(answer)
        assert abs(answer_box["left"] - column["left"]) <= 1
        assert abs(answer_box["right"] - column["right"]) <= 1

    page_bg = rgb(style(page.locator("body"), "backgroundColor"))
    for user in page.locator("#messages > .message--user").all()[:4]:
        bubble = user.locator(".message__body")
        colour = rgb(style(bubble, "backgroundColor"))
        assert contrast_ratio(colour, page_bg) > 2, (colour, page_bg)  # a bubble, plain to see
        # Its text on it reads (AA), and the bubble is compact, on the inline end (the right).
        assert contrast_ratio(rgb(style(bubble, "color")), colour) >= 4.5
        user_box, bubble_box = box(user), box(bubble)
        assert abs(user_box["right"] - column["right"]) <= 1
        assert abs(bubble_box["right"] - column["right"]) <= 1
        assert bubble_box["width"] <= 0.85 * column["width"] + 1

    # On a right-to-left page the user's bubbles are on the left, answers still full width.
    page.evaluate("document.documentElement.dir = 'rtl'")
    user = page.locator("#messages > .message--user").first
    assert abs(box(user)["left"] - column["left"]) <= 1
    answer = box(page.locator("#messages > .message--assistant").first)
    assert abs(answer["left"] - column["left"]) <= 1 and abs(answer["right"] - column["right"]) <= 1


def groups_of(page: Page) -> list[list[Locator]]:
    """The messages on screen in their groups: runs of one known role, unbroken by anything
    else (a day separator ends a group)."""
    runs = page.locator("#messages").evaluate("""list => {
        const runs = [];
        let last = null;
        for (const child of list.children) {
            const role = child.matches('.message') ? child.dataset.role : null;
            if (role && role === last && ROLES.includes(role)) runs[runs.length - 1].push(child.id);
            else if (role) runs.push([child.id]);
            last = role;
        }
        return runs;
    }""".replace("ROLES", json.dumps(list(KNOWN_ROLES))))
    return [[page.locator(f"#{id}") for id in run] for run in runs]


def time_shown(message: Locator) -> bool:
    return float(style(message.locator("time.message__time"), "opacity")) > 0.99


@pytest.mark.parametrize("lang", ["en", "zh-Hans"])
def test_one_visible_time_a_group_and_each_message_keeps_its_own(live_server, new_context,
                                                                  lang):
    server = reading_server(live_server)
    page = new_context(viewport=LAPTOP).new_page()
    page.goto(reading_url(server, lang=lang) + "&limit=61")
    expect(page.locator(MESSAGE)).to_have_count(len(READING_MESSAGES))
    page.mouse.move(0, 0)  # hovering nothing
    # Every message keeps its <time>, with its machine-readable moment.
    expect(page.locator(f"{MESSAGE} time.message__time[datetime]")).to_have_count(
        len(READING_MESSAGES))

    groups = groups_of(page)
    grouped = [group for group in groups if len(group) > 1]
    assert len(grouped) >= 6, "the conversation has runs of one role"
    assert len(groups) + sum(len(group) - 1 for group in groups) == len(READING_MESSAGES)
    for group in groups:
        shown = [time_shown(message) for message in group]
        assert shown == [False] * (len(group) - 1) + [True], (group[0], shown)
        # One visible author label, the first; the others stay for screen readers.
        labels = [message.locator(".message__author") for message in group]
        assert all(label.count() == 1 for label in labels)
        assert style(labels[0], "position") != "absolute"
        assert all(style(label, "clipPath") == "inset(50%)" for label in labels[1:])

    # Tighter inside a group than between groups.
    first, second = grouped[0][0], grouped[0][1]
    inside = box(second)["top"] - box(first)["bottom"]
    after = groups[groups.index(grouped[0]) + 1][0]
    between = box(after)["top"] - box(grouped[0][-1])["bottom"]
    assert inside < between, (inside, between)

    # A hidden time shows on hover, and on keyboard focus inside its message.
    hidden = grouped[0][0]
    hidden.scroll_into_view_if_needed()
    hidden.hover()
    expect(hidden.locator("time.message__time")).to_have_css("opacity", "1")
    page.mouse.move(0, 0)
    expect(hidden.locator("time.message__time")).to_have_css("opacity", "0")
    tab_to(page, hidden.locator(".copy-link"))
    expect(hidden.locator("time.message__time")).to_have_css("opacity", "1")


def test_messages_added_above_join_the_group_below(live_server, new_context):
    """Grouping is CSS: messages "load earlier" puts above the first one on screen join its
    group (the server renders each message alone)."""
    server = live_server(CHAT_PAGE_SIZE=2, LIVE_POLL_SECONDS=0)
    server.store.add_messages("u", "c", make_messages(4, roles=("user",)))
    page = new_context(viewport=LAPTOP).new_page()
    page.goto(chat_url(server.url))
    page.mouse.move(0, 0)
    messages = page.locator(MESSAGE)
    expect(messages).to_have_count(2)
    page.locator("#load-more").click()
    expect(messages).to_have_count(4)
    assert [time_shown(messages.nth(n)) for n in range(4)] == [False, False, False, True]
    assert style(messages.nth(2).locator(".message__author"), "clipPath") == "inset(50%)"


# --- 2. Actions: icon buttons, on hover and focus; always on touch screens ----------------------

@pytest.mark.parametrize("theme", ["light", "dark"])
def test_actions_wait_for_hover_or_focus_on_a_device_that_hovers(live_server, new_context,
                                                                  theme):
    server = reading_server(live_server)
    context = new_context(viewport=LAPTOP, permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.goto(reading_url(server, theme=theme))
    page.mouse.move(0, 0)
    assert page.evaluate("matchMedia('(hover: hover)').matches")
    messages = page.locator(MESSAGE)
    expect(messages).to_have_count(PAGE)
    for index in range(PAGE):
        actions = messages.nth(index).locator(".message__actions")
        expect(actions).to_have_css("opacity", "0")
        # Icons with names and tooltips: an SVG hidden from assistive technology, the name
        # in words.
        copy = actions.get_by_role("button", name="Copy", exact=True)
        link = actions.get_by_role("button", name="Copy link", exact=True)
        expect(copy).to_have_attribute("title", "Copy")
        expect(link).to_have_attribute("title", "Copy link")
        for button in (copy, link):
            expect(button.locator("svg[aria-hidden='true']")).to_have_count(1)
            assert style(button, "display") != "none" and style(button, "visibility") == "visible"

    # Hover shows a message's actions (and only its own).
    ids = messages.evaluate_all("messages => messages.map(m => m.id)")
    target = page.locator(f"#{ids[-3]}")  # by id: Tab may load earlier messages above
    target.hover()
    expect(target.locator(".message__actions")).to_have_css("opacity", "1")
    expect(page.locator(f"#{ids[-2]} .message__actions")).to_have_css("opacity", "0")
    page.mouse.move(0, 0)
    expect(target.locator(".message__actions")).to_have_css("opacity", "0")

    # Tab reaches them, hidden as they are, and shows them.
    copy = target.get_by_role("button", name="Copy", exact=True)
    tab_to(page, copy)
    expect(target.locator(".message__actions")).to_have_css("opacity", "1")
    assert page.evaluate("document.activeElement.matches(':focus-visible')")

    # A copy says so: in its name, its tooltip, and aloud (a polite status).
    page.keyboard.press("Enter")
    expect(target.get_by_role("button", name="Copied", exact=True)).to_have_attribute(
        "title", "Copied")
    expect(page.locator("#history-status")).to_have_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == target.locator(".message__content").inner_text().strip()
    expect(copy).to_have_attribute("title", "Copy", timeout=4000)  # back after two seconds


@pytest.mark.parametrize("lang", ["en", "zh-Hans"])
def test_actions_always_show_on_a_touch_screen_smaller(live_server, new_context, lang):
    server = reading_server(live_server)
    touch = new_context(viewport=PHONE, has_touch=True, is_mobile=True).new_page()
    touch.goto(reading_url(server, lang=lang))
    assert touch.evaluate("matchMedia('(hover: none)').matches")
    copy_name, link_name = NAMES[lang]
    messages = touch.locator(MESSAGE)
    expect(messages).to_have_count(PAGE)
    for index in range(PAGE):
        message = messages.nth(index)
        expect(message.locator(".message__actions")).to_have_css("opacity", "1")
        expect(message.get_by_role("button", name=copy_name, exact=True)).to_have_attribute(
            "title", copy_name)
        expect(message.get_by_role("button", name=link_name, exact=True)).to_have_count(1)
    touch_size = box(messages.last.locator(".copy-button"))["width"]

    mouse = new_context(viewport=PHONE).new_page()
    mouse.goto(reading_url(server, lang=lang))
    mouse_size = box(mouse.locator(MESSAGE).last.locator(".copy-button"))["width"]
    # Smaller than on a device that hovers, yet still the 24 px a finger needs.
    assert 24 <= touch_size < mouse_size, (touch_size, mouse_size)

    # A time hidden in a group takes no room: the actions keep to the message's outer edge,
    # as they do in a message without a time (else they float inside, beside a blank).
    grouped = [group for group in groups_of(touch) if len(group) > 1]
    assert grouped, "the page has a run of one role"
    for group in grouped:
        message = group[0]
        assert not time_shown(message)
        body, actions = box(message.locator(".message__body")), box(
            message.locator(".message__actions"))
        if message.get_attribute("data-role") == "user":
            assert abs(actions["right"] - body["right"]) < 1, (actions, body)
        else:
            assert abs(actions["left"] - body["left"]) < 1, (actions, body)


@pytest.mark.parametrize("lang", ["en", "zh-Hans"])
def test_copy_code_is_an_icon_button_with_a_name(live_server, new_context, lang):
    server = reading_server(live_server)
    page = new_context(viewport=LAPTOP).new_page()
    page.goto(reading_url(server, lang=lang))
    code_name = {"en": "Copy code", "zh-Hans": "复制代码"}[lang]
    button = page.locator(".code-block").first.get_by_role("button", name=code_name, exact=True)
    expect(button).to_be_visible()
    expect(button).to_have_attribute("title", code_name)
    expect(button.locator("svg[aria-hidden='true']")).to_have_count(1)
    size = box(button)
    assert size["width"] <= 32, size  # an icon, not a pill of words


# --- 3. The focus ring ------------------------------------------------------------------------

LONG_USER = "\n".join(f"line {n} of a long note" for n in range(45))  # collapses


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_focus_ring_contrasts_inside_a_user_bubble_and_is_never_clipped(live_server,
                                                                         new_context, theme):
    server = live_server(LIVE_POLL_SECONDS=0)
    server.store.add_messages("u", "c", [
        {"role": "user", "content": LONG_USER, "chat_time": "2026-03-01 09:00:00"},
        {"role": "assistant", "content": "Some code:\n\n```python\nprint('hello')\n```",
         "chat_time": "2026-03-01 09:00:05"}])
    page = new_context(viewport=LAPTOP).new_page()
    page.goto(chat_url(server.url, theme=theme))
    expect(page.locator(MESSAGE)).to_have_count(2)

    user = page.locator(".message--user")
    bubble = rgb(style(user.locator(".message__body"), "backgroundColor"))
    page_bg = rgb(style(page.locator("body"), "backgroundColor"))
    code_bg = rgb(style(page.locator(".code-block"), "backgroundColor"))
    controls = [
        (user.locator(".message__more > summary"), bubble),  # inside the blue bubble
        (user.get_by_role("button", name="Copy", exact=True), page_bg),
        (page.locator(".code-block").get_by_role("button", name="Copy code"), code_bg),
        (page.locator(".code-block pre"), code_bg),  # scrolls, so it takes focus
        (page.locator(".live__check"), page_bg),
    ]
    for control, behind in controls:
        expect(control).to_have_count(1)
        tab_to(page, control)
        colours = ring_colours(control)
        assert colours, "no focus ring"
        best = max(contrast_ratio(colour, behind) for colour in colours)
        assert best >= 3, (theme, control, colours, behind, best)
        assert_ring_unclipped(control)


# --- 4. Permalinks land below the header ------------------------------------------------------

def ring_reach(target: Locator) -> float:
    """How far a permalink's ring (box shadows, chat.css) reaches out of its message."""
    shadows = style(target, "boxShadow")
    spreads = re.findall(r"\) -?[\d.]+px -?[\d.]+px -?[\d.]+px (-?[\d.]+)px", shadows)
    assert spreads, shadows
    return max(map(float, spreads))


def reading_ids(page: Page, server) -> list[str]:
    page.goto(reading_url(server, limit=61))
    expect(page.locator(MESSAGE)).to_have_count(len(READING_MESSAGES))
    return page.locator(MESSAGE).evaluate_all("messages => messages.map(m => m.id)")


@pytest.mark.parametrize("javascript", [True, False], ids=["script", "no-script"])
@pytest.mark.parametrize("viewport", [PHONE, LAPTOP], ids=["phone", "laptop"])
def test_a_permalink_lands_below_the_header_with_room_for_its_ring(live_server, new_context,
                                                                    javascript, viewport):
    server = reading_server(live_server)
    ids = reading_ids(new_context().new_page(), server)
    page = new_context(viewport=viewport, java_script_enabled=javascript).new_page()
    # The first message, an early answer with a table, and the code: as "Copy link" makes it.
    for index in (0, 6, 26):
        hexes = ids[index][2:]
        page.goto(reading_url(server, message=hexes) + f"#{ids[index]}")
        target = page.locator(f"#{ids[index]}")
        expect(target).to_have_attribute("aria-current", "true")
        header = box(page.locator("header.topbar"))
        scroller = box(page.locator(".scroller"))
        ring = ring_reach(target)
        top = box(target)["top"]
        assert top - ring >= header["bottom"] + 8, (index, top, header)  # room to spare
        assert top - ring >= scroller["top"], (index, top, scroller)  # not cut by the scroller
        expect(target).to_be_in_viewport()


# --- 5. "Load earlier" by itself --------------------------------------------------------------

# Where the reader is, just before and just after each "load earlier" swap (one task: nothing
# scrolls in between): the body of the first message that shows in the scroller. (Its own top
# may move: when messages of its role arrive above, its repeated author label is hidden.)
PLACE_SPY = """
window.__places = [];
(() => {
  let before = null;
  const bodyTop = id => document.querySelector('#' + id + ' .message__body')
                                .getBoundingClientRect().top;
  const first = () => {
    const top = document.querySelector('.scroller').getBoundingClientRect().top;
    const message = [...document.querySelectorAll('#messages > [data-role]')]
        .find(m => m.getBoundingClientRect().bottom > top + 1);
    return {id: message.id, top: bodyTop(message.id)};
  };
  document.addEventListener('htmx:beforeSwap', () => { before = first(); });
  document.addEventListener('htmx:afterSwap', () => {
    if (!before) return;  // once a swap: htmx says afterSwap for each element it swapped
    window.__places.push({id: before.id, before: before.top, after: bodyTop(before.id)});
    before = null;
  });
})();
"""


def older_requests(page: Page) -> list[str]:
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url) if OLDER in request.url
            else None)
    return seen


def wheel_up_until(page: Page, done, steps: int = 80) -> None:
    """Turn the mouse wheel up over the conversation, a notch at a time, until ``done()``."""
    scroller = box(page.locator(".scroller"))
    page.mouse.move(scroller["left"] + 40, scroller["top"] + 200)
    for _ in range(steps):
        if done():
            return
        page.mouse.wheel(0, -300)
        page.wait_for_timeout(80)
    raise AssertionError("the wheel never got there")


def wheel_about(page: Page) -> None:
    """Go on turning the wheel, up and down, as a reader at the top might."""
    for step in (-500, 300, -800, -800, 200, -900):
        page.mouse.wheel(0, step)
        page.wait_for_timeout(100)


@pytest.mark.parametrize("lang", ["en", "zh-Hans"])
def test_load_earlier_by_scrolling_keeps_the_reader_in_place_and_stops_at_the_start(
        live_server, new_context, lang):
    server = reading_server(live_server)
    page = new_context(viewport=LAPTOP).new_page()
    page.add_init_script(PLACE_SPY)
    requests = older_requests(page)
    page.goto(reading_url(server, lang=lang))
    expect(page.locator(MESSAGE)).to_have_count(PAGE)
    page.wait_for_timeout(300)
    assert requests == [], "loaded before the reader scrolled"

    start = page.locator("#conversation-start")
    wheel_up_until(page, lambda: start.count() > 0)
    expect(page.locator(MESSAGE)).to_have_count(len(READING_MESSAGES))
    expect(page.locator("#load-more")).to_have_count(0)
    expect(page.locator("#history-status")).to_have_text(START[lang])
    # Three loads (20, 20, 1), each leaving the message the reader was on where it was.
    places = page.evaluate("window.__places")
    assert len(places) == 3, places
    for place in places:
        assert abs(place["after"] - place["before"]) <= 1, place

    # At the start: turning the wheel on asks for nothing more.
    wheel_about(page)
    page.wait_for_timeout(300)
    assert len(requests) == 3, requests
    expect(start).to_be_in_viewport()
    # The focus stayed where the reader had it (nowhere): nothing jumps to the control.
    assert page.evaluate("document.activeElement === document.body")


def test_a_wheel_up_loads_earlier_and_the_cap_ends_it(live_server, new_context):
    server = reading_server(live_server, MEMOS_MAX_LIMIT=30)
    page = new_context(viewport=LAPTOP).new_page()
    requests = older_requests(page)
    page.goto(reading_url(server))
    expect(page.locator(MESSAGE)).to_have_count(PAGE)
    capped = page.locator("#history-capped")
    wheel_up_until(page, lambda: capped.count() > 0)
    expect(page.locator(MESSAGE)).to_have_count(30)
    wheel_about(page)
    page.wait_for_timeout(300)
    assert len(requests) == 1, requests


def test_only_the_readers_own_scrolling_loads(live_server, new_context):
    """Not a page that shows the control at once, nor a scroll the reader did not make (Tab
    moving the focus, a script): those leave "load earlier" to a click or Enter."""
    server = live_server(CHAT_PAGE_SIZE=2, LIVE_POLL_SECONDS=0)
    server.store.add_messages("u", "c", make_messages(8))
    page = new_context(viewport=LAPTOP).new_page()
    requests = older_requests(page)
    page.goto(chat_url(server.url))
    expect(page.locator("#load-more")).to_be_in_viewport()
    page.wait_for_timeout(500)
    assert requests == []
    page.locator("#load-more").click()  # the button is still there, and works
    expect(page.locator(MESSAGE)).to_have_count(4)
    # Keyboard too: the next control takes the focus, and Enter loads.
    assert page.evaluate("document.activeElement.id") == "load-more"
    page.wait_for_function("() => !document.querySelector('.htmx-added, .htmx-settling')")
    page.keyboard.press("Enter")
    expect(page.locator(MESSAGE)).to_have_count(6)
    assert len(requests) == 2

    server = reading_server(live_server)
    page = new_context(viewport=LAPTOP).new_page()
    requests = older_requests(page)
    page.goto(reading_url(server))
    expect(page.locator(MESSAGE)).to_have_count(PAGE)
    page.locator(".scroller").evaluate("s => { s.scrollTop = -s.scrollHeight; }")
    tab_to(page, page.locator(f"{MESSAGE} .copy-link").first)  # focus scrolls too
    page.wait_for_timeout(500)
    assert requests == []
    expect(page.locator("#load-more")).to_be_in_viewport()
    page.locator(".scroller").evaluate("s => { s.scrollTop += 150; }")  # a little way down
    page.wait_for_timeout(300)
    assert requests == []
    page.keyboard.press("PageUp")  # the reader's own key: it loads
    expect(page.locator(MESSAGE)).to_have_count(2 * PAGE)


# --- 6. No loop after a failure ---------------------------------------------------------------

PATH = "/api/openmem/v1/get/message"
UPSTREAM = make_messages(45)  # under the 50 an upstream app asks for at most


def newest(request: Request) -> Response:
    """Answer /get/message like MemOS: the newest ``message_limit_number``, oldest first."""
    limit = request.get_json()["message_limit_number"] or 6
    body = {"code": 0, "message": "ok", "data": {"message_detail_list": UPSTREAM[-limit:]}}
    return Response(json.dumps(body), content_type="application/json")


@pytest.fixture
def flaky(httpserver_ipv4, app_factory, live_server):
    """The viewer on a MemOS stand-in that answers once, then fails (HTTP 500)."""
    httpserver_ipv4.expect_oneshot_request(PATH, method="POST").respond_with_handler(newest)
    httpserver_ipv4.expect_request(PATH, method="POST").respond_with_response(
        Response('{"detail": "boom"}', 500, content_type="application/json"))
    app = app_factory(MEMOS_BASE_URL=httpserver_ipv4.url_for("/api/openmem/v1/"),
                      MEMOS_API_KEY="sk-browser-test-key", MEMOS_TIMEOUT=1,
                      VIEWER_ACCESS="open", CHAT_PAGE_SIZE=PAGE, LIVE_POLL_SECONDS=0)
    yield httpserver_ipv4, live_server(app)
    httpserver_ipv4.check_handler_errors()


@pytest.mark.parametrize("failure", ["upstream", "network"])
def test_a_failed_load_waits_for_try_again(flaky, new_context, failure):
    httpserver, server = flaky
    page = new_context(viewport={"width": 1000, "height": 700}).new_page()
    requests = older_requests(page)
    if failure == "network":
        httpserver.clear_all_handlers()
        httpserver.expect_request(PATH, method="POST").respond_with_handler(newest)
        page.route(f"**{OLDER}**", lambda route: route.abort())
    page.goto(chat_url(server.url))
    expect(page.locator(MESSAGE)).to_have_count(PAGE)

    alert = page.locator("#history-head").get_by_role("alert")
    wheel_up_until(page, lambda: alert.count() > 0)
    expect(alert).to_be_visible()
    retry = alert.get_by_role("link", name="Try again")
    expect(retry).to_be_visible()
    wheel_about(page)
    page.wait_for_timeout(300)
    assert len(requests) == 1, requests  # the failure, and nothing after it
    expect(page.locator(MESSAGE)).to_have_count(PAGE)
    expect(page.locator("#load-more[data-auto-load]")).to_have_count(0)

    # The reader's click retries; once it works, scrolling loads by itself again.
    page.unroute(f"**{OLDER}**")
    httpserver.clear_all_handlers()
    httpserver.expect_request(PATH, method="POST").respond_with_handler(newest)
    retry.click()
    expect(page.locator(MESSAGE)).to_have_count(2 * PAGE)
    expect(page.get_by_role("alert")).to_have_count(0)
    start = page.locator("#conversation-start")
    wheel_up_until(page, lambda: start.count() > 0)
    expect(page.locator(MESSAGE)).to_have_count(len(UPSTREAM))
    assert len(requests) == 3, requests  # the failure, the retry, and one by itself
