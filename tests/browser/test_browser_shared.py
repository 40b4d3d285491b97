"""Live updates in a real browser, where instances share state (issue #18): a widget whose
link is revoked stops checking, a refresh the host asks for during a check is not dropped, and
checks wait as long as an open MemOS breaker's Retry-After says.

The page's clock is Playwright's, frozen (``freeze_clock``): a check happens when the test runs
the clock past its interval."""

from __future__ import annotations

import time

import pytest
from browser_helpers import freeze_clock, make_messages, MESSAGE, NEWER, run_check, seed
from playwright.sync_api import expect, Page
from switchable_upstream import SwitchableUpstream
from upstream_apps import upstream_app

from viewer.access import sign
from viewer.sharing import SHARE_SECONDS

pytestmark = pytest.mark.browser

INTERVAL = 2
SECOND = 1000
STATUS = ".live__status"
SECRET = "a-browser-revocation-secret-of-32-bytes"
RETRYING = "Can't check for new messages right now. Retrying…"


def checks_made(page: Page) -> list:
    """The live check requests ``page`` makes from now on, as it makes them."""
    made: list = []
    page.on("request", lambda request: made.append(request) if NEWER in request.url else None)
    return made


def test_a_revoked_widget_link_stops_live_updates_with_the_reason(live_server, page):
    server = live_server(EMBED_SECRET=SECRET, LIVE_POLL_SECONDS=INTERVAL, RATE_LIMIT="0")
    seed(server.store, 8)
    link_id = "browser-revoked"
    token = sign("u", "c", SECRET, 600, link_id=link_id)
    freeze_clock(page)
    checks = checks_made(page)
    page.goto(f"{server.url}/embed?token={token}")
    expect(page.locator(MESSAGE)).to_have_count(6)
    assert run_check(page, INTERVAL).status == 204

    result = server.app.test_cli_runner().invoke(args=["revoke-link", link_id])
    assert result.exit_code == 0, result.output
    assert run_check(page, INTERVAL).status == 403
    expect(page.locator(STATUS)).to_have_text(
        "Live updates stopped. This link has been revoked: ask for a new one.")
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(page.locator(MESSAGE)).to_have_count(6)  # what was shown stays
    page.clock.run_for(10 * 60 * SECOND)
    assert len(checks) == 2  # none after the refusal


def test_a_refresh_asked_during_a_check_follows_it(live_server, page):
    server = live_server(LIVE_POLL_SECONDS=3600, RATE_LIMIT="0")
    seed(server.store, 8)
    freeze_clock(page)
    checks = checks_made(page)
    page.goto(f"{server.url}/chat?user_id=u&conversation_id=c")
    expect(page.locator(MESSAGE)).to_have_count(6)
    server.store.add_messages("u", "c", make_messages(1, prefix="posted", hour=10))
    # Two refreshes at once: the second arrives while the first's check is out.
    with page.expect_response(lambda response: NEWER in response.url):
        page.evaluate("""() => {
            document.dispatchEvent(new CustomEvent("memos-chat:refresh"));
            document.dispatchEvent(new CustomEvent("memos-chat:refresh"));
        }""")
    expect(page.locator(MESSAGE).last).to_contain_text("posted 00")
    for _ in range(50):
        if len(checks) == 2:
            break
        page.wait_for_timeout(100)
    assert [check.headers.get("live-refresh") for check in checks] == ["1", "1"]
    expect(page.locator(MESSAGE)).to_have_count(7)  # the second found nothing more to add


def test_checks_wait_as_long_as_an_open_breakers_retry_after(app_factory, live_server, page):
    with SwitchableUpstream() as memos:
        app = upstream_app(app_factory, memos.base_url, MEMOS_API_KEY="k",
                           LIVE_POLL_SECONDS=INTERVAL, RATE_LIMIT="0",
                           MEMOS_BREAKER_FAILURES=1, MEMOS_BREAKER_COOLDOWN=30,
                           MEMOS_BREAKER_MAX_COOLDOWN=60)
        server = live_server(app=app)
        freeze_clock(page)
        checks = checks_made(page)
        page.goto(f"{server.url}/chat?user_id=u&conversation_id=c")
        expect(page.locator(MESSAGE)).to_have_count(3)
        memos.switch("500")
        assert run_check(page, INTERVAL).status == 502  # the failure that opens it
        expect(page.locator(STATUS)).to_have_text(RETRYING)
        time.sleep(SHARE_SECONDS + 0.05)  # past the shared answer (that 502)
        page.locator(STATUS).evaluate("status => { status.textContent = ''; }")
        answer = run_check(page, 2 * INTERVAL * 1.25)  # the page's own back-off: 4 s ± 25%
        assert answer.status == 503
        retry_after = int(answer.headers["retry-after"])
        assert 25 <= retry_after <= 30
        expect(page.locator(STATUS)).to_have_text(RETRYING)  # handled: next check scheduled
        made = len(checks)
        page.clock.run_for(retry_after * SECOND - 200)
        assert len(checks) == made  # not before the breaker lets a call through
        memos.switch("ok")
        page.clock.run_for(400)
        assert len(checks) == made + 1
