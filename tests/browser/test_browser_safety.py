"""Hostile content stays text, and the page lives within its Content-Security-Policy."""

from __future__ import annotations

import shutil
from urllib.parse import parse_qs, urlsplit

import pytest
from browser_helpers import (
    chat_url,
    CSP_RECORDER,
    load_earlier,
    load_everything,
    MESSAGE,
    shown_texts,
)
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

PAYLOADS = [
    "<script>window.__pwned=1</script>",
    '<img src=x onerror="window.__pwned=1">',
    '"><svg onload=window.__pwned=1>',
    "javascript:window.__pwned=1",
]
HOSTILE_USER = '<img src=x onerror="window.__pwned=1">'
HOSTILE_CONVERSATION = '"><svg onload=window.__pwned=1><script>window.__pwned=1</script>'

# The page's own icons are inline SVG, hidden from assistive technology: no payload makes one.
INJECTED = "body script, body img, body svg:not([aria-hidden='true']), body iframe, " \
           "[onerror], [onload], a[href^='javascript:' i]"


def hostile_messages() -> list[dict]:
    """14 messages: each payload as content, as a part's text, and as a role."""
    messages = []
    for n in range(14):
        payload = PAYLOADS[n % len(PAYLOADS)]
        if n % 3 == 0:
            content = [{"type": "text", "text": payload},
                       {"type": "image_url", "image_url": {"url": PAYLOADS[3]}}]
        else:
            content = payload
        role = PAYLOADS[(n + 1) % len(PAYLOADS)] if n % 2 else "user"
        messages.append({"role": role, "content": content,
                         "chat_time": f"2026-03-01 09:00:{n:02d}"})
    return messages


def assert_nothing_ran(page, dialogs):
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert dialogs == []
    assert page.locator(INJECTED).count() == 0
    assert page.evaluate("window.__cspViolations") == []  # nothing was even attempted


def test_hostile_content_and_ids_are_shown_as_text(live_server, page):
    server = live_server()
    messages = hostile_messages()
    server.store.add_messages(HOSTILE_USER, HOSTILE_CONVERSATION, messages)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.add_init_script(CSP_RECORDER)

    page.goto(chat_url(server.url, HOSTILE_USER, HOSTILE_CONVERSATION))
    expect(page.locator(MESSAGE)).to_have_count(6)
    assert_nothing_ran(page, dialogs)
    expect(page.locator(".topbar__title")).to_have_text(HOSTILE_CONVERSATION)
    expect(page.locator(".topbar__user")).to_have_text(HOSTILE_USER)
    # The no-JS link carries the ids back intact.
    query = parse_qs(urlsplit(page.locator("#load-more").get_attribute("href")).query)
    assert query["user_id"] == [HOSTILE_USER]
    assert query["conversation_id"] == [HOSTILE_CONVERSATION]

    load_earlier(page)
    load_everything(page)

    expect(page.locator(MESSAGE)).to_have_count(14)
    assert_nothing_ran(page, dialogs)
    for payload in PAYLOADS:
        expect(page.locator(".message__body").get_by_text(payload, exact=True).first) \
            .to_be_visible()
    texts = shown_texts(page)
    for message, text in zip(messages, texts, strict=True):
        if isinstance(message["content"], str):
            assert text == message["content"]
        else:
            assert text.startswith(message["content"][0]["text"])
    roles = page.locator(MESSAGE).evaluate_all("els => els.map(e => e.dataset.role)")
    assert roles == [m["role"] for m in messages]
    for role in {m["role"] for m in messages} - {"user"}:
        expect(page.locator(".message__author").get_by_text(role, exact=True).first) \
            .to_be_visible()


def test_no_csp_violations_and_a_strict_policy(live_server, page):
    server = live_server()
    page.add_init_script(CSP_RECORDER)

    response = page.goto(chat_url(server.url, "demo-user", "demo-conversation"))
    expect(page.locator(MESSAGE)).to_have_count(6)
    with page.expect_response(lambda r: "/chat/older" in r.url) as older:
        load_earlier(page)
    expect(page.locator(MESSAGE)).to_have_count(12)

    assert page.evaluate("window.__cspViolations") == []
    for answer in (response, older.value):
        policy = answer.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "default-src 'none'" in policy
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy

    # The recorder works: an inline script is blocked and reported.
    page.evaluate("""() => {
        const script = document.createElement("script");
        script.textContent = "window.__inlineRan = 1";
        document.body.append(script);
    }""")
    page.wait_for_function("window.__cspViolations.length > 0")
    assert page.evaluate("window.__inlineRan") is None


def test_a_static_file_opened_as_a_page_runs_nothing(live_server, page, monkeypatch, tmp_path):
    """Whatever ends up under static/ and is opened on its own (a scripted SVG, an HTML file
    loading this site's own script) runs no script and loads nothing."""
    from viewer import assets

    static = tmp_path / "static"
    shutil.copytree(assets.SOURCE, static)
    ran = "document.documentElement.setAttribute('data-ran', '1')"
    (static / "evil.svg").write_text(
        f'<svg xmlns="http://www.w3.org/2000/svg"><script>{ran}</script>'
        '<image href="/static/favicon.svg" width="9" height="9"/></svg>')
    (static / "evil.html").write_text(
        f'<!doctype html><title>x</title><script>{ran}</script>'
        '<script src="/static/chat.js"></script><img src="/static/favicon.svg" alt="">')
    monkeypatch.setattr(assets, "SOURCE", static)
    monkeypatch.setattr(assets, "BUILT", tmp_path / "never-built")
    server = live_server()
    loaded: list[str] = []
    page.on("requestfinished", lambda request: loaded.append(urlsplit(request.url).path))
    for name in ("evil.svg", "evil.html"):
        loaded.clear()
        response = page.goto(f"{server.url}/static/{name}")
        assert response.status == 200 and response.headers["content-security-policy"]
        page.wait_for_load_state("load")
        assert page.locator(":root").get_attribute("data-ran") is None, name
        assert loaded == [f"/static/{name}"], loaded  # nothing else, not even our own


def test_the_icon_still_draws_under_its_policy(live_server, page):
    # A policy governs a document, not an image, even an SVG one: the favicon keeps its look.
    server = live_server()
    page.goto(chat_url(server.url, "demo-user", "demo-conversation"))
    icon = page.locator("link[rel=icon]").get_attribute("href")
    pixel = page.evaluate("""href => new Promise((resolve, reject) => {
        const image = new Image();
        image.onload = () => {
            const canvas = document.createElement("canvas");
            canvas.width = canvas.height = 32;
            const context = canvas.getContext("2d");
            context.drawImage(image, 0, 0, 32, 32);
            resolve(Array.from(context.getImageData(5, 10, 1, 1).data));
        };
        image.onerror = () => reject(new Error("the icon did not load"));
        image.src = href;
    })""", icon)
    assert pixel == [0x24, 0x56, 0xD6, 255]  # the back bubble's blue (static/favicon.svg)


def test_a_page_cannot_run_our_scripts_as_workers(live_server, page):
    """Scripts are sent without a policy of their own (viewer/security.py): harmless while
    nothing runs one as a worker, where it would govern. Even a script that got onto a page
    could not: the page's policy forbids workers."""
    server = live_server()
    page.add_init_script(CSP_RECORDER)
    page.goto(chat_url(server.url, "demo-user", "demo-conversation"))
    expect(page.locator(MESSAGE)).to_have_count(6)
    script = page.locator("script[src*='/static/']").last.get_attribute("src")
    outcomes = page.evaluate("""src => Promise.all([
        () => new Worker(src),
        () => new Worker(src, {type: "module"}),
        () => new SharedWorker(src),
        () => navigator.serviceWorker.register(src),
    ].map(start => new Promise(resolve => {
        try {
            const started = start();
            if (started instanceof Promise) {
                started.then(() => resolve("registered"), error => resolve(error.name));
                return;
            }
            started.onerror = () => resolve("error");
            (started.port || started).onmessage = () => resolve("ran");
            setTimeout(() => resolve("nothing"), 1000);
        } catch (error) {
            resolve(error.name);
        }
    })))""", script)
    assert "ran" not in outcomes and "registered" not in outcomes, outcomes
    violations = page.evaluate("window.__cspViolations")
    assert {v["directive"] for v in violations} == {"worker-src"}, violations
    assert len(violations) >= 3, violations  # Worker, module Worker and SharedWorker refused


def test_content_over_the_formatting_limits_still_shows_with_a_quiet_note(live_server, page):
    """What a reader sees of crafted content (benchmarks/corpus.py): every character, plainly,
    and a note saying why it is not formatted; the page stays quick and scripts run."""
    from benchmarks.corpus import HOSTILE, hostile_message

    server = live_server()
    chosen = dict(HOSTILE)
    picks = ["```autoit + slow code", "```java + slow code", "40 text parts of `![`",
             "reference link reused 3,300 times", "wide table, short rows (padding)"]
    server.store.add_messages("mallory", "crafted", [hostile_message(chosen[name])
                                                    for name in picks])
    page.goto(chat_url(server.url, "mallory", "crafted", limit=5))
    messages = page.locator(MESSAGE)
    expect(messages).to_have_count(5)
    notes = page.locator(".message__note")
    # autoit is simply not highlighted, and the references stay within bounds: no note.
    expect(notes).to_have_count(3)
    expect(notes.nth(0)).to_have_text("Part of the code is shown without highlighting, to keep "
                                      "this page quick.")
    expect(notes.nth(1)).to_have_text("Shown as plain text: this message is too long to format.")
    expect(notes.nth(2)).to_have_text("Shown as plain text: this message is too complex to "
                                      "format.")
    java = messages.nth(1)
    java.locator("summary").click()  # long: collapsed behind "Show full message"
    content = java.locator(".message__content")
    expect(content.locator("pre.highlight span.p").first).to_be_visible()  # highlighted first
    assert content.locator("code").inner_text().count("\n") >= 9_900  # ...and then all of it
    autoit = messages.nth(0).locator(".message__content")
    expect(autoit.locator("code.language-autoit")).to_have_count(1)
    expect(autoit.locator("code span")).to_have_count(0)
    expect(page.locator(".message__meta .copy-button").first).to_be_visible()  # scripts ran
