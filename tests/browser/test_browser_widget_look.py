"""The widget's look inside a host page, in real Chromium: see-through, themed, accented.

The host page is served from another loopback origin (browser_helpers.HostSite) and holds the
README's snippet inside a card of a colour the viewer never uses. What is measured is what a
visitor sees: pixels of a screenshot (the host's card must show through the widget), and the
colours Chromium computed for the widget's text and bubbles, checked for WCAG contrast here.
Covered: no background of the widget's own; light or dark from the host's ``data-theme``, else
from the host page's background (read through see-through layers, a color-scheme'd canvas and
a stylesheet that arrives late); ``data-accent`` on user bubbles and links at 4.5:1 or more,
kept by "load earlier"; hostile accents ignored; signed links, with and without the accent in
their token.
"""

from __future__ import annotations

import io
import secrets
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from browser_helpers import (
    CSP_RECORDER,
    embed_url,
    HostSite,
    load_earlier,
    MESSAGE,
    seed,
    widget_div,
)
from colours import contrast_ratio, css_rgb, relative_luminance
from PIL import Image
from playwright.sync_api import expect, Frame, Page
from required_tools import tool_missing

from viewer.access import sign

pytestmark = pytest.mark.browser

LIGHT_CARD = (255, 244, 200)  # cream, and
DARK_CARD = (58, 20, 72)      # plum: colours of the host's, none of the viewer's
SETTLE_TIMEOUT_S = 5.0
HOSTILE_ACCENTS = ["red", "#12345g", "#1234", "javascript:", "#fff;background:url(x)",
                   "#" + "0" * 5000]


# --- colours, as WCAG 2 measures them (written here, apart from viewer/accent.py) ---------------

# Whether nothing between an element and the frame's edge paints a background: its text is
# seen on the host's card.
ON_THE_CARD = """element => {
    for (let node = element; node; node = node.parentElement) {
        const background = getComputedStyle(node).backgroundColor;
        if (background !== 'rgba(0, 0, 0, 0)' && background !== 'transparent') return false;
    }
    return true;
}"""


BUBBLE = ".message--user .message__body"  # a user's bubble (an answer has none)


def computed(frame: Frame, selector: str, prop: str) -> tuple[int, int, int]:
    return css_rgb(opaque=True, value=frame.locator(selector).first.evaluate(
        f"element => getComputedStyle(element).{prop}"))


# --- the host page --------------------------------------------------------------------------

def card(widget: str, colour: tuple[int, int, int] | None = None) -> str:
    """``widget`` in a padded card of ``colour``, or see-through (the host's own markup,
    inline styles and all)."""
    background = f"background: rgb{colour}" if colour else "background: none"
    return f'<div style="margin: 16px; padding: 24px; {background}">{widget}</div>'


def nth_widget(index: int) -> str:
    """The iframe of the ``index``-th widget (1-based) on the host page."""
    return f":nth-match([data-memos-chat] > iframe, {index})"


def frame_of(page: Page, selector: str) -> Frame:
    """The widget's Frame once its messages are on screen, its iframe sized to them."""
    expect(page.frame_locator(selector).locator(MESSAGE).first).to_be_visible()
    frame = page.locator(selector).element_handle().content_frame()
    assert frame is not None
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while True:  # the host resizes the iframe when the widget reports its height
        wanted = frame.evaluate("Math.ceil(document.querySelector('.history').scrollHeight)")
        shown = page.locator(selector).evaluate("element => element.offsetHeight")
        if abs(wanted - shown) <= 1 or shown == 600:  # embed.js's default cap
            return frame
        assert time.monotonic() < deadline, f"iframe {shown}px, widget {wanted}px"
        page.wait_for_timeout(50)


def gutter_and_card(page: Page, selector: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Two pixels of a screenshot at mid-height: just inside the widget's iframe, in the
    gutter at the start of its column (where no message reaches), and just outside it."""
    box = page.locator(selector).bounding_box()
    assert box is not None
    page.evaluate("window.scrollTo(0, 0)")
    shot = Image.open(io.BytesIO(page.screenshot(full_page=True))).convert("RGB")
    middle = box["y"] + box["height"] / 2
    return shot.getpixel((int(box["x"] + 4), int(middle))), \
        shot.getpixel((int(box["x"] - 8), int(middle)))


def theme_of(frame: Frame) -> str:
    """Which theme the widget shows: light text is the dark theme's."""
    return "dark" if relative_luminance(computed(frame, "body", "color")) > 0.5 else "light"


def assert_see_through_and_readable(page: Page, frame: Frame, selector: str,
                                    colour: tuple[int, int, int]) -> None:
    """The host's card shows through the widget, and the widget's text reads on it."""
    inside, outside = gutter_and_card(page, selector)
    assert outside == colour, f"the host's card is {outside}, not {colour}"
    assert inside == colour, f"the widget paints {inside} over the host's card {colour}"
    text = computed(frame, "body", "color")
    assert contrast_ratio(text, colour) >= 4.5, (text, colour)


# --- 1. No background of its own; light or dark as the host says or shows --------------------

@pytest.mark.parametrize("system", ["light", "dark"])
def test_the_widget_is_see_through_and_takes_its_theme_from_the_host_page(
        live_server, host_site, new_context, system):
    server = live_server(EMBED_ALLOWED_ORIGINS=host_site.origin)
    seed(server.store, 4)
    src = embed_url(server.url)
    host_site.show(server.url, card(widget_div(src), LIGHT_CARD), card(widget_div(src), DARK_CARD))
    page = new_context(color_scheme=system).new_page()
    page.add_init_script(CSP_RECORDER)
    page.goto(host_site.url)

    # Whatever the visitor's system prefers, a light card gets a light widget and a dark card a
    # dark one, and each card shows through its widget.
    for index, colour, theme in ((1, LIGHT_CARD, "light"), (2, DARK_CARD, "dark")):
        selector = nth_widget(index)
        frame = frame_of(page, selector)
        assert theme_of(frame) == theme
        assert parse_qs(urlsplit(frame.url).query)["theme"] == [theme]
        # The iframe's color-scheme matches the widget's: else Chromium paints a canvas.
        assert page.locator(selector).evaluate("e => getComputedStyle(e).colorScheme") == theme
        assert_see_through_and_readable(page, frame, selector, colour)
        assert frame.evaluate("window.__cspViolations") == []


@pytest.mark.parametrize("asked, system, card_colour, theme", [
    ("dark", "light", LIGHT_CARD, "dark"),     # the host knows better than its background
    ("light", "dark", DARK_CARD, "light"),
    ("auto", "dark", DARK_CARD, "dark"),       # auto: the visitor's system decides
    ("auto", "light", LIGHT_CARD, "light"),
    ("purple", "light", DARK_CARD, "dark"),    # not a theme: the background decides
])
def test_data_theme_overrides_the_hosts_background(live_server, host_site, new_context, asked,
                                                   system, card_colour, theme):
    server = live_server(EMBED_ALLOWED_ORIGINS=host_site.origin)
    seed(server.store, 4)
    host_site.show(server.url, card(widget_div(embed_url(server.url), theme=asked), card_colour))
    page = new_context(color_scheme=system).new_page()
    page.goto(host_site.url)
    selector = nth_widget(1)
    frame = frame_of(page, selector)
    assert theme_of(frame) == theme
    inside, outside = gutter_and_card(page, selector)
    assert inside == outside == card_colour  # see-through, whichever theme was asked for
    if asked == "auto":
        assert parse_qs(urlsplit(frame.url).query)["theme"] == ["auto"]
        assert page.locator(selector).evaluate(
            "e => getComputedStyle(e).colorScheme") == "light dark"
        assert_see_through_and_readable(page, frame, selector, card_colour)


DARK_PAGES = {
    # The page's colour is on <html> alone; body and the div are see-through.
    "html": ("<style>html { background: #101820 }</style>", {}),
    # Nothing painted anywhere, but the page declares itself dark: its canvas is dark.
    "canvas": ('<meta name="color-scheme" content="dark">', {}),
    # A translucent black layer over a white page, as a modal's backdrop might be.
    "translucent": ("<style>html { background: #fff } body { background: rgb(0 0 0 / 85%) }"
                    "</style>", {}),
    # The dark colour comes in a stylesheet that arrives after embed.js has run.
    "late-stylesheet": ('<link rel="stylesheet" href="/host.css">',
                        {"/host.css": ("text/css", "body { background: #101820 }", 1.0)}),
}


@pytest.mark.parametrize("name", DARK_PAGES)
def test_the_hosts_background_is_read_as_the_page_paints_it(live_server, host_site: HostSite,
                                                            new_context, name):
    server = live_server(EMBED_ALLOWED_ORIGINS=host_site.origin)
    seed(server.store, 4)
    head, files = DARK_PAGES[name]
    host_site.files.update(files)
    host_site.show(server.url, card(widget_div(embed_url(server.url))), head=head)
    page = new_context(color_scheme="light").new_page()
    page.goto(host_site.url)
    frame = frame_of(page, nth_widget(1))
    assert theme_of(frame) == "dark", name
    inside, outside = gutter_and_card(page, nth_widget(1))
    assert inside == outside and relative_luminance(inside) < 0.05, (inside, outside)


# --- 2. The host's accent colour --------------------------------------------------------------

def linked(n: int) -> str:
    return f"message {n:02d}, see [the guide](https://example.com/guide/{n})"


@pytest.mark.parametrize("accent", ["#ff0", "#0a7", "#123", "#777"])
def test_an_accent_colours_user_bubbles_and_links_readably(live_server, host_site, page,
                                                           accent):
    server = live_server(EMBED_ALLOWED_ORIGINS=host_site.origin)
    seed(server.store, 10, text=linked)  # "load earlier" is there: it must keep the accent
    src = embed_url(server.url)
    host_site.show(server.url, card(widget_div(src, accent=accent), LIGHT_CARD),
                   card(widget_div(src, accent=accent), DARK_CARD))
    page.add_init_script(CSP_RECORDER)
    page.goto(host_site.url)
    full = "#" + "".join(char * 2 for char in accent[1:])
    wanted = tuple(int(full[i:i + 2], 16) for i in (1, 3, 5))

    for index, colour in ((1, LIGHT_CARD), (2, DARK_CARD)):
        frame = frame_of(page, nth_widget(index))
        assert parse_qs(urlsplit(frame.url).query)["accent"] == [accent]
        bubble = computed(frame, BUBBLE, "backgroundColor")
        text = computed(frame, BUBBLE, "color")
        # The accent itself, moved only as far as 4.5:1 needs (#777 with white: a shade).
        assert all(abs(own - asked) <= 16 for own, asked in zip(bubble, wanted, strict=True)), \
            (bubble, accent)
        assert contrast_ratio(bubble, text) >= 4.5, (accent, bubble, text)
        link = computed(frame, ".message--assistant .message__content a", "color")
        assert contrast_ratio(link, colour) >= 4.5, (accent, link, colour)
        assert frame.evaluate("window.__cspViolations") == []

    # Every link keeps it: the page behind "load earlier", and what htmx loads in its place.
    frame = frame_of(page, nth_widget(1))
    href = frame.locator("#load-more").get_attribute("href")
    assert parse_qs(urlsplit(href).query)["accent"] == [full]
    before = computed(frame, BUBBLE, "backgroundColor")
    load_earlier(frame)  # type: ignore[arg-type]  # a Frame has the same locators
    expect(frame.locator(MESSAGE)).to_have_count(10)
    assert computed(frame, BUBBLE, "backgroundColor") == before


def test_a_hostile_accent_is_ignored_by_the_hosts_script(live_server, host_site, new_context):
    server = live_server(EMBED_ALLOWED_ORIGINS=host_site.origin)
    seed(server.store, 2)
    src = embed_url(server.url)
    widgets = [widget_div(src, accent=accent) for accent in HOSTILE_ACCENTS]
    host_site.show(server.url, widget_div(src), *widgets,  # the first: no accent at all
                   head="<style>[data-memos-chat] { display: inline-block; width: 30% }</style>")
    page = new_context(viewport={"width": 1200, "height": 1400}).new_page()
    warnings: list[str] = []
    page.on("console", lambda message: warnings.append(message.text)
            if message.type == "warning" else None)
    responses: list = []
    page.on("response", lambda response: responses.append(response)
            if "/embed?" in response.url else None)
    page.goto(host_site.url)

    plain = computed(frame_of(page, nth_widget(1)), BUBBLE, "backgroundColor")
    for index, accent in enumerate(HOSTILE_ACCENTS, start=2):
        frame = frame_of(page, nth_widget(index))
        assert "accent" not in parse_qs(urlsplit(frame.url).query), accent[:20]
        assert computed(frame, BUBBLE, "backgroundColor") == plain, accent[:20]
    assert len(warnings) == len(HOSTILE_ACCENTS)
    assert all("data-accent" in warning for warning in warnings), warnings
    assert sorted(response.status for response in responses) == [200] * 7


# --- 3. Signed links: the accent is in the token, or refused --------------------------------

def test_a_signed_widget_takes_its_accent_from_its_token(live_server, host_site, page):
    secret = secrets.token_urlsafe(32)
    server = live_server(EMBED_SECRET=secret, EMBED_ALLOWED_ORIGINS=host_site.origin)
    seed(server.store, 10)
    plain = sign("u", "c", secret, 300)
    accented = sign("u", "c", secret, 300, accent="#0a7")

    def signed(token: str) -> str:
        return f"{server.url}/embed?token={token}"

    host_site.show(server.url,
                   widget_div(signed(plain)),                        # 1: no accent anywhere
                   widget_div(signed(accented)),                     # 2: the token's
                   widget_div(signed(accented), accent="#00AA77"),   # 3: the same, spelt out
                   widget_div(signed(plain), accent="#0a7"))         # 4: not in the token
    page.goto(host_site.url)
    green = (0x00, 0xAA, 0x77)

    default = computed(frame_of(page, nth_widget(1)), BUBBLE, "backgroundColor")
    assert default != green
    for index in (2, 3):
        frame = frame_of(page, nth_widget(index))
        assert computed(frame, BUBBLE, "backgroundColor") == green
        # Links carry the token alone: the accent rides in it.
        href = frame.locator("#load-more").get_attribute("href")
        assert parse_qs(urlsplit(href).query).keys() == {"token", "theme", "limit"}
        load_earlier(frame)  # type: ignore[arg-type]
        expect(frame.locator(MESSAGE)).to_have_count(10)
        assert computed(frame, BUBBLE, "backgroundColor") == green

    refused = page.frame_locator(nth_widget(4))
    expect(refused.get_by_role("alert")).to_contain_text("#00aa77")
    expect(refused.get_by_role("alert")).to_contain_text("token does not grant")
    expect(refused.locator("[data-role]")).to_have_count(0)
    # And it shows whole: the host sizes the iframe past the end of the alert's box.
    frame = page.locator(nth_widget(4)).element_handle().content_frame()
    bottom = frame.evaluate("document.querySelector('[role=alert]').getBoundingClientRect()"
                            ".bottom")
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while page.locator(nth_widget(4)).evaluate("element => element.clientHeight") < bottom:
        assert time.monotonic() < deadline, "the iframe clips the widget's alert"
        page.wait_for_timeout(50)


# --- 4. Accessible in its host's card, in both themes -----------------------------------------

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


@pytest.mark.parametrize("colour", [LIGHT_CARD, DARK_CARD], ids=["light", "dark"])
@pytest.mark.parametrize("accent", [None, "#ff0"])
def test_the_framed_widget_has_no_serious_accessibility_violations(
        live_server, host_site, new_context, colour, accent):
    if not AXE.is_file():
        tool_missing(f"{AXE} is missing: run `make test` (npm ci installs axe-core)")
    server = live_server(EMBED_ALLOWED_ORIGINS=host_site.origin)
    seed(server.store, 6, text=linked)
    data = {"accent": accent} if accent else {}
    host_site.show(server.url, card(widget_div(embed_url(server.url), **data), colour))
    # axe.min.js goes in as an inline script, which the widget's CSP would block.
    page = new_context(bypass_csp=True).new_page()
    page.goto(host_site.url)
    frame_of(page, nth_widget(1))
    page.add_script_tag(path=str(AXE))
    frame = page.locator(nth_widget(1)).element_handle().content_frame()
    frame.add_script_tag(path=str(AXE))
    # axe talks to frames of its own origin only, unless told: the widget's is another.
    for context in (page, frame):
        context.evaluate("axe.configure({allowedOrigins: ['<unsafe_all_origins>']})")
    found = page.evaluate("""async () => {
        const results = await axe.run(document);
        const inFrame = (n) => n.target.length > 1;  // [iframe, element inside it]
        const contrast = results.passes.find(v => v.id === 'color-contrast');
        const serious = results.violations.filter(v => ['serious', 'critical'].includes(v.impact));
        return {
            violations: serious.map(v => ({id: v.id, nodes: v.nodes.map(n => ({
                target: n.target, summary: n.failureSummary || ''}))})),
            contrastChecked: contrast ? contrast.nodes.filter(inFrame).length : 0,
        };
    }""")
    # axe cannot see through the frame to the host's card: text drawn straight on it (answers
    # have no bubble) is measured as if on white. Such text is checked here against the card.
    left, on_card = [], 0
    for violation in found["violations"]:
        for node in violation["nodes"]:
            target = node["target"]
            if violation["id"] == "color-contrast" and len(target) == 2 and frame.locator(
                    target[1]).evaluate(ON_THE_CARD):
                text = computed(frame, target[1], "color")
                assert contrast_ratio(text, colour) >= 4.5, (target[1], text, colour)
                on_card += 1
            else:
                left.append(f"{violation['id']}: {' '.join(target)} {node['summary']}")
    assert left == []
    assert found["contrastChecked"] + on_card > 6  # the widget's text was read, in its frame
