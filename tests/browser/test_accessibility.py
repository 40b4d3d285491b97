"""Accessibility: axe-core finds no serious or critical violations on any kind of page.

Every page is checked in light and dark: once per emulated ``prefers-color-scheme``, and once per
forced ``?theme=light|dark`` (with the opposite system preference, so the force is what counts)
when the app accepts that parameter. axe-core is the ``axe-core`` npm dev dependency, installed
by ``make test``; without it the test is skipped locally but fails under CI (``CI=true``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from browser_helpers import (
    chat_url,
    freeze_clock,
    load_earlier,
    make_messages,
    MESSAGE,
    open_menu,
    rewrite_newest,
    run_check,
    scroll_up,
    seed,
)
from playwright.sync_api import expect, Page
from reading import READING_CONVERSATION_ID, READING_MESSAGES, READING_USER_ID
from reading import seed as seed_reading
from required_tools import tool_missing
from test_html_validity import (
    DEMO_CONVERSATION,
    DEMO_USER,
    MARKDOWN_CONVERSATION,
    MARKDOWN_MESSAGES,
    MARKDOWN_USER,
    TOOLS_MESSAGES,
)

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
FAILING_IMPACTS = ("critical", "serious")

# name -> (system colour scheme, ?theme= or None)
MODES = {
    "prefers-light": ("light", None),
    "prefers-dark": ("dark", None),
    "theme-light": ("dark", "light"),
    "theme-dark": ("light", "dark"),
}


def landing(server, page: Page, theme: dict) -> None:
    page.goto(server.url + "/" + (f"?theme={theme['theme']}" if theme else ""))
    expect(page.get_by_role("button", name="Open")).to_be_visible()


def demo_chat(server, page: Page, theme: dict) -> None:
    page.goto(chat_url(server.url, DEMO_USER, DEMO_CONVERSATION, **theme))
    expect(page.locator(MESSAGE)).to_have_count(6)


def menu_open(server, page: Page, theme: dict) -> None:
    demo_chat(server, page, theme)
    open_menu(page)
    expect(page.get_by_role("button", name="Print")).to_be_visible()


def markdown_chat(server, page: Page, theme: dict) -> None:
    server.store.add_messages(MARKDOWN_USER, MARKDOWN_CONVERSATION, MARKDOWN_MESSAGES)
    page.goto(chat_url(server.url, MARKDOWN_USER, MARKDOWN_CONVERSATION,
                       limit=len(MARKDOWN_MESSAGES), **theme))
    expect(page.locator(MESSAGE)).to_have_count(len(MARKDOWN_MESSAGES))


def reading_chat(server, page: Page, theme: dict, extra: list[dict] = ()) -> None:
    seed_reading(server.store)
    if extra:
        server.store.add_messages(READING_USER_ID, READING_CONVERSATION_ID, list(extra))
    count = len(READING_MESSAGES) + len(extra)
    page.goto(chat_url(server.url, READING_USER_ID, READING_CONVERSATION_ID, limit=count,
                       **theme))
    expect(page.locator(MESSAGE)).to_have_count(count)


def reading_chat_opened(server, page: Page, theme: dict) -> None:
    """With odd tool calls, and every collapsed message and tool call open: what they hold
    is checked too."""
    reading_chat(server, page, theme, TOOLS_MESSAGES)
    closed = page.locator("#messages details:not([open]) > summary")
    for _ in range(closed.count()):
        closed.first.click()
    expect(closed).to_have_count(0)
    expect(page.locator(".message__less").first).to_be_visible()


def after_load_earlier(server, page: Page, theme: dict) -> None:
    demo_chat(server, page, theme)
    load_earlier(page)


def empty_conversation(server, page: Page, theme: dict) -> None:
    page.goto(chat_url(server.url, "nobody", "nothing-here", **theme))
    expect(page.locator("#conversation-empty")).to_be_visible()


def error_400(server, page: Page, theme: dict) -> None:
    response = page.goto(chat_url(server.url, "", "x", **theme))
    assert response.status == 400
    expect(page.get_by_role("alert")).to_be_visible()


def error_404(server, page: Page, theme: dict) -> None:
    response = page.goto(server.url + "/no/such/page"
                         + (f"?theme={theme['theme']}" if theme else ""))
    assert response.status == 404
    expect(page.get_by_role("alert")).to_be_visible()


def upstream_failure(server, page: Page, theme: dict) -> None:
    response = page.goto(chat_url(server.url, **theme))
    assert response.status in (502, 503, 504)
    expect(page.get_by_role("alert").get_by_role("link", name="Try again")).to_be_visible()


def landing_signed(server, page: Page, theme: dict) -> None:
    page.goto(server.url + "/" + (f"?theme={theme['theme']}" if theme else ""))
    expect(page.locator("#signed-links")).to_be_visible()


def error_429(server, page: Page, theme: dict) -> None:
    page.goto(chat_url(server.url, DEMO_USER, DEMO_CONVERSATION, **theme))
    response = page.goto(chat_url(server.url, DEMO_USER, DEMO_CONVERSATION, **theme))
    assert response.status == 429
    expect(page.get_by_role("alert")).to_be_visible()


# Live updates (static/chat.js): the controls and notes the script shows, on the demo store's
# clock frozen (browser_helpers.freeze_clock) until the state is reached, then running again
# for axe, which uses timers of its own.

def live_page(server, page: Page, theme: dict, count: int = 6) -> None:
    freeze_clock(page)
    seed(server.store, count)
    page.goto(chat_url(server.url, limit=count, **theme))
    expect(page.locator(MESSAGE)).to_have_count(count)


def live_check(server, page: Page, status: int) -> None:
    assert run_check(page, server.app.config["LIVE_POLL_SECONDS"]).status == status


def live_new_messages(server, page: Page, theme: dict) -> None:
    live_page(server, page, theme, 12)
    scroll_up(page)
    server.store.add_messages("u", "c", make_messages(2, prefix="new", hour=10))
    live_check(server, page, 200)
    expect(page.locator("#new-messages")).to_have_text("2 new messages")
    page.clock.resume()


def live_gap(server, page: Page, theme: dict) -> None:
    live_page(server, page, theme)
    server.store.add_messages("u", "c", make_messages(25, prefix="new", hour=10))
    live_check(server, page, 200)
    page.locator(".live-gap").scroll_into_view_if_needed()
    page.clock.resume()


def live_paused(server, page: Page, theme: dict) -> None:
    live_page(server, page, theme)
    page.clock.fast_forward("31:00")  # thirty idle minutes: no check, a pause
    expect(page.get_by_role("button", name="Resume live updates")).to_be_visible()
    expect(page.get_by_role("link", name="Check for new messages")).to_be_visible()
    page.clock.resume()


def live_stopped(server, page: Page, theme: dict) -> None:
    live_page(server, page, theme)
    rewrite_newest(server.store, "edited")
    live_check(server, page, 409)
    expect(page.locator(".live-notice")).to_be_visible()
    page.clock.resume()


# Permalinks: a message opened by its link (ringed, focused), and one not found (a notice).

def permalinked(server, page: Page, theme: dict) -> None:
    seed(server.store, 30)
    page.goto(chat_url(server.url, limit=30, **theme))
    link = page.locator(MESSAGE).nth(8).get_attribute("id")[2:]
    page.goto(chat_url(server.url, message=link, **theme))
    expect(page.locator(f'#m-{link}[aria-current="true"]')).to_be_focused()


def permalink_not_found(server, page: Page, theme: dict) -> None:
    seed(server.store, 30)
    page.goto(chat_url(server.url, message="0123456789ab", **theme))
    expect(page.locator("#message-not-found")).to_be_visible()


PAGES: dict[str, Callable] = {
    "landing": landing,
    "demo-chat": demo_chat,
    "menu-open": menu_open,
    "markdown-chat": markdown_chat,
    "reading-chat": reading_chat,
    "reading-chat-opened": reading_chat_opened,
    "after-load-earlier": after_load_earlier,
    "empty-conversation": empty_conversation,
    "error-400": error_400,
    "error-404": error_404,
    "upstream-failure": upstream_failure,
    "landing-signed": landing_signed,
    "error-429": error_429,
    "live-new-messages": live_new_messages,
    "live-gap": live_gap,
    "live-paused": live_paused,
    "live-stopped": live_stopped,
    "permalinked": permalinked,
    "permalink-not-found": permalink_not_found,
}
# Pages that only an app with other settings shows.
SETTINGS = {"landing-signed": {"EMBED_SECRET": "an-embed-secret-that-is-long-enough-32b"},
            "error-429": {"RATE_LIMIT": "1/minute"},
            "live-gap": {"MEMOS_MAX_LIMIT": 20}}


def require_axe() -> None:
    """Skip the calling test without axe-core, or fail it under CI, where a missing tool
    must not pass silently."""
    if not AXE.is_file():
        tool_missing(f"{AXE} is missing: run `make test` (npm ci installs axe-core)")


def run_axe(page: Page) -> list[dict]:
    """Inject axe-core and return its violations on the page as it is now."""
    page.add_script_tag(path=str(AXE))
    # Let entry animations (fades of new messages, say) end, so colours are final.
    page.wait_for_function("""() => document.getAnimations().every(a =>
        a.playState !== 'running' || a.effect?.getComputedTiming().endTime === Infinity)""")
    return page.evaluate("""async () => {
        const results = await axe.run(document, {resultTypes: ['violations']});
        return results.violations.map(v => ({
            id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
            nodes: v.nodes.map(n => ({target: n.target.join(' '), html: n.html,
                                      summary: n.failureSummary}))}));
    }""")


def describe(violation: dict) -> str:
    lines = [f"{violation['id']} ({violation['impact']}): {violation['help']}"
             f" <{violation['helpUrl']}>"]
    for node in violation["nodes"]:
        summary = " ".join((node["summary"] or "").split())
        lines.append(f"    {node['target']}  {node['html'][:160]}\n        {summary[:400]}")
    return "\n".join(lines)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", PAGES)
def test_no_serious_accessibility_violations(live_server, app_factory, new_context,
                                             refused_port, name, mode):
    require_axe()
    if name == "upstream-failure":  # a MemOS base URL where nothing listens
        server = live_server(app_factory(
            MEMOS_BASE_URL=f"http://127.0.0.1:{refused_port}/api/openmem/v1/",
            MEMOS_API_KEY="test-key", MEMOS_TIMEOUT=1, VIEWER_ACCESS="open"))
    else:
        server = live_server(**SETTINGS.get(name, {}))
    color_scheme, forced = MODES[mode]

    # The pages' CSP (script-src 'self') would block the inline <script> that add_script_tag
    # makes of axe.min.js, so this context, used only for the axe run, bypasses CSP.
    # The CSP itself is tested elsewhere (tests/browser/test_browser_safety.py, test_app.py).
    context = new_context(color_scheme=color_scheme, bypass_csp=True)
    page = context.new_page()
    PAGES[name](server, page, {"theme": forced} if forced else {})

    violations = run_axe(page)
    failing = [v for v in violations if v["impact"] in FAILING_IMPACTS]
    others = [v for v in violations if v["impact"] not in FAILING_IMPACTS]
    assert not failing, (
        f"{len(failing)} serious/critical axe violation(s) on {name} ({mode}):\n"
        + "\n".join(describe(v) for v in failing)
        + "".join(f"\n(not failing) {v['id']} ({v['impact']}): {v['help']}, "
                  f"{len(v['nodes'])} node(s)" for v in others))
