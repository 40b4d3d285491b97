"""Seeding, page and host-site helpers shared by the browser tests (not tests themselves)."""

from __future__ import annotations

import html
import json
import sqlite3
import threading
import time
from datetime import datetime, timedelta, UTC
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode, urlsplit

from playwright.sync_api import expect, Frame, Page, Response

MESSAGE = "#messages > [data-role]"
WIDGET = "[data-memos-chat] > iframe"  # the iframe embed.js creates
NEWER = "/chat/newer"  # the live check static/chat.js makes
CLOCK_START = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)  # the page's clock, when frozen
MAX_CLICKS = 20  # no test conversation needs more "load earlier" clicks than this


def make_messages(count: int, *, prefix: str = "message", hour: int = 9, day: int = 1,
                  roles: tuple[str, ...] = ("user", "assistant"), text=None) -> list[dict]:
    """``count`` messages with distinct texts, one second apart from ``day`` (of March
    2026) at ``hour``, oldest first."""
    return [{"role": roles[n % len(roles)],
             "content": text(n) if text else f"{prefix} {n:02d}",
             "chat_time": f"2026-03-{day:02d} {hour:02d}:{n // 60:02d}:{n % 60:02d}"}
            for n in range(count)]


def seed(store, count: int, user: str = "u", conversation: str = "c", **options) -> list[dict]:
    """Add ``make_messages(count, **options)`` to ``store`` and return them."""
    messages = make_messages(count, **options)
    store.add_messages(user, conversation, messages)
    return messages


def chat_url(base: str, user: str = "u", conversation: str = "c", **extra) -> str:
    """The full page of a conversation, ids properly URL-encoded."""
    return f"{base}/chat?" + urlencode({"user_id": user, "conversation_id": conversation,
                                        **extra})


def shown_texts(page: Page) -> list[str]:
    """The text of every message on screen, top (oldest) to bottom."""
    return page.locator(f"{MESSAGE} .message__body").all_inner_texts()


def load_earlier(page: Page) -> int:
    """Click "load earlier" once and wait until the answer is in; return the messages added.

    The answer replaces #history-head out of band, so the clicked control leaves the DOM.
    """
    before = page.locator(MESSAGE).count()
    control = page.locator("#load-more").element_handle()
    control.click()
    page.wait_for_function("control => !control.isConnected", arg=control)
    added = page.locator(MESSAGE).count() - before
    assert added > 0, "a successful 'load earlier' added no messages"
    return added


def load_everything(page: Page) -> int:
    """Click "load earlier" until it is gone; return how many clicks it took."""
    for clicks in range(MAX_CLICKS + 1):
        if page.locator("#load-more").count() == 0:
            return clicks
        load_earlier(page)
    raise AssertionError(f"#load-more still there after {MAX_CLICKS} clicks")


MENU = "details.menu"  # the conversation menu (templates/partials/menu.html)


def open_menu(page: Page | Frame) -> None:
    """Open the conversation menu by its button, as a reader would; wait until it is open."""
    page.locator(f"{MENU} > summary").click()
    expect(page.locator(MENU)).to_have_attribute("open", "")


# --- live updates ------------------------------------------------------------------------------

def freeze_clock(page: Page) -> None:
    """Give ``page`` Playwright's clock, stopped: its timers (the live checks' among them)
    fire only when the test runs the clock. Call before the first navigation."""
    page.clock.install(time=CLOCK_START)
    page.clock.pause_at(CLOCK_START + timedelta(seconds=1))


def run_check(page: Page, seconds: float) -> Response:
    """Run the frozen clock ``seconds`` on; return the answer to the live check that made.

    The answer's headers are in; the page handles its body right after (wait with expect)."""
    with page.expect_response(lambda response: NEWER in response.url) as answer:
        page.clock.run_for(round(seconds * 1000))
    return answer.value


def scroll_up(page: Page, pixels: float | None = None) -> None:
    """Scroll the conversation up by ``pixels`` (halfway to the oldest when None) and wait
    until the page has seen the scroll."""
    page.locator(".scroller").evaluate("""(scroller, pixels) => new Promise(done => {
        const room = scroller.scrollHeight - scroller.clientHeight;
        scroller.addEventListener("scroll", () => done(), {once: true});
        scroller.scrollTop = -(pixels === null ? room / 2 : Math.min(pixels, room));
    })""", pixels)


def rewrite_newest(store, change: str, user: str = "u", conversation: str = "c") -> None:
    """Edit ("edited") or delete ("deleted") the conversation's newest message in the store's
    SQLite file itself (LocalStore has no API for either; MemOS does both)."""
    connection = sqlite3.connect(store.path)
    try:
        with connection:
            newest, stored = connection.execute(
                "SELECT id, message FROM messages WHERE user_id = ? AND conversation_id = ?"
                " ORDER BY id DESC LIMIT 1", (user, conversation)).fetchone()
            if change == "edited":
                message = json.loads(stored) | {"content": "rewritten upstream"}
                connection.execute("UPDATE messages SET message = ? WHERE id = ?",
                                   (json.dumps(message), newest))
            else:
                connection.execute("DELETE FROM messages WHERE id = ?", (newest,))
    finally:
        connection.close()


# Records every CSP violation from the very start of each document (frames included);
# install with page.add_init_script(CSP_RECORDER), read window.__cspViolations.
CSP_RECORDER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push({directive: event.violatedDirective, blocked: event.blockedURI,
                               sample: event.sample});
}, true);
"""


# --- a host site on another origin -------------------------------------------------------------

class HostSite:
    """One HTML page served at ``/`` by a stdlib server on 127.0.0.1 and a free port.

    The ``host_site`` fixture (conftest.py) starts one and closes it after the test.
    """

    def __init__(self) -> None:
        self.html = "<!doctype html><title>empty host</title>"
        # Other files of the host's own: path -> (content type, body, seconds before answering)
        self.files: dict[str, tuple[str, str, float]] = {}
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                path = urlsplit(self.path).path
                if path == "/":
                    kind, text, delay = "text/html; charset=utf-8", site.html, 0.0
                elif path in site.files:
                    kind, text, delay = site.files[path]
                else:
                    self.send_error(404)
                    return
                time.sleep(delay)
                body = text.encode()
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self.server.server_port}"
        self.url = self.origin + "/"
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, name="host-site",
                                       daemon=True)
        self.thread.start()

    def show(self, viewer: str, *widgets: str, extra: str = "", head: str = "") -> None:
        """Serve a page with the README's snippet for each widget (already-made divs);
        ``head`` goes in its <head> (the host's styles), ``extra`` at the end of its body."""
        self.html = (
            "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<title>Host page</title>{head}</head>\n<body style='margin: 0'>\n"
            "<h1 style='margin: 0; font: 20px sans-serif'>Someone else's product</h1>\n"
            + "\n".join(widgets) + "\n"
            f'<script src="{html.escape(viewer)}/static/embed.js" async></script>\n'
            + extra + "\n</body></html>")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def widget_div(src: str, max_height: int | None = None, **data: str) -> str:
    """``<div data-memos-chat="src" [data-max-height="N"] [data-NAME="value"...]></div>``,
    attribute-escaped (``theme="dark"`` gives ``data-theme="dark"``)."""
    extra = f' data-max-height="{max_height}"' if max_height is not None else ""
    extra += "".join(f' data-{name}="{html.escape(value)}"' for name, value in data.items())
    return f'<div data-memos-chat="{html.escape(src)}"{extra}></div>'


def embed_url(base: str, user: str = "u", conversation: str = "c", **extra) -> str:
    return f"{base}/embed?" + urlencode({"user_id": user, "conversation_id": conversation,
                                         **extra})


def widget_frame(page: Page, selector: str = WIDGET) -> Frame:
    """The Frame inside the iframe matching ``selector`` once it shows its messages and its
    scripts have run (they listen for the host's messages only from then on)."""
    expect(page.frame_locator(selector).locator(MESSAGE).first).to_be_visible()
    frame = page.locator(selector).element_handle().content_frame()
    assert frame is not None
    frame.wait_for_load_state("domcontentloaded")
    return frame
