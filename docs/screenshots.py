"""Photograph the viewer for the README: ``make screenshots`` (``python -m docs.screenshots``).

Starts the app on 127.0.0.1 on a throwaway embedded store seeded with the 61-message trip to
Lisbon (tests/reading.py), and a product-like host page on another loopback port for the
widget; drives Debian's headless Chromium through Playwright; writes the PNGs named in
``SHOTS`` to docs/screenshots/ (``--out DIR`` elsewhere). Nothing leaves loopback, every wait
is bounded, and any failure exits non-zero with a line saying which picture failed and why.

Scenes pick their messages by text, not by markup, so they survive changes to the look.
"""

from __future__ import annotations

import argparse
import html
import io
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, UTC
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from PIL import Image
from playwright.sync_api import Browser, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError
from werkzeug.serving import make_server

from tests.reading import READING_CONVERSATION_ID, READING_MESSAGES, READING_USER_ID, seed

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PDFTOPPM = "/usr/bin/pdftoppm"
ZONE = "Europe/Lisbon"  # where the trip's people are: times show as they were written
# The browser's clock: read just after the trip's last message, so day separators say "Today"
# and "Yesterday", and the printed date, like every picture, is the same on every run.
NOW = datetime(2026, 3, 4, 20, 30, tzinfo=UTC)  # Lisbon is on UTC in March
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}
HOST_PAGE = {"width": 1024, "height": 720}
# Chromium's A4 (8.27 x 11.7 in) at 100 dpi, rounded up: small type stays readable.
PRINT_SIZE = (828, 1171)
ACTION_TIMEOUT_MS = 10_000
NAVIGATION_TIMEOUT_MS = 15_000
SETTLE_TIMEOUT_S = 10.0
COLOURS = 256  # screenshots are flat UI: a palette this size keeps them sharp and small

# Read from the first message on screen each picture should show (its text, which is data).
WEATHER_QUESTION = "What's the weather usually like"
COST_SCRIPT_QUESTION = "a little script to split costs"
LISBOA_CARD_QUESTION = "Is the Lisboa Card worth it?"
TRAIN_PRICES_QUESTION = "How much are the trains?"

MESSAGE = "#messages article[data-role]"
WIDGET_FRAME = "[data-memos-chat] iframe"
MEMORIES_TOGGLE = "#memories-toggle"
MEMORY = "#memories li.memory"


@dataclass(frozen=True)
class Shot:
    """One picture: its file name (the README links it), its size and how to take it."""

    name: str
    size: tuple[int, int]  # in pixels, as written
    take: Callable[[Studio], bytes]


class ScreenshotError(RuntimeError):
    """A picture could not be taken; the message says which and why."""


# --- the servers -------------------------------------------------------------------------------

def viewer_settings(store_path: Path, host_origin: str) -> dict:
    """Every setting the app reads, so nothing in the caller's environment changes the look."""
    from viewer.settings import DEFAULTS

    return {**DEFAULTS, "MEMOS_LOCAL_DB": str(store_path), "MEMOS_TIMEZONE": ZONE,
            "DISPLAY_TIMEZONE": ZONE, "VIEWER_ACCESS": "open", "EMBED_ALLOWED_ORIGINS":
            host_origin, "RATE_LIMIT": "0", "LOG_LEVEL": "WARNING"}


@contextmanager
def serving(server) -> Iterator[str]:
    """Run a stdlib or werkzeug ``server`` in a daemon thread; yield its loopback origin."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def viewer_server(store_path: Path, host_origin: str):
    """The app on the embedded store, the trip and its memories in it, serving on 127.0.0.1."""
    from app import create_app

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    app = create_app(viewer_settings(store_path, host_origin))
    seed(app.extensions["memos_source"])  # the conversation and its memories
    return make_server("127.0.0.1", 0, app, threaded=True)


class HostPage:
    """A stand-in for someone else's product: one page at ``/``, served on 127.0.0.1."""

    def __init__(self) -> None:
        self.body = b""
        page = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                if urlsplit(self.path).path != "/":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page.body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(page.body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True

    def show(self, viewer: str) -> None:
        """Serve a support page whose white card holds the README's widget snippet."""
        widget = viewer + "/embed?" + urlencode({"user_id": READING_USER_ID,
                                                 "conversation_id": READING_CONVERSATION_ID})
        self.body = HOST_HTML.format(widget=html.escape(widget),
                                     script=html.escape(viewer + "/static/embed.js")).encode()


# The host's own page, not the viewer's: its styles are its business, so they sit inline.
HOST_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Wayfarer: your trips</title>
<style>
  body {{ margin: 0; background: #f3f4f6; color: #111827;
         font: 15px/1.5 "DejaVu Sans", system-ui, sans-serif; }}
  nav {{ display: flex; gap: 24px; align-items: center; padding: 14px 32px;
        background: #0f172a; color: #e2e8f0; }}
  nav b {{ color: #fff; font-size: 17px; margin-inline-end: 16px; }}
  nav span {{ opacity: .8; }}
  main {{ display: grid; grid-template-columns: 220px 1fr; gap: 24px; padding: 28px 32px; }}
  aside {{ background: #fff; border-radius: 12px; padding: 16px 18px;
          box-shadow: 0 1px 3px rgb(0 0 0 / .08); align-self: start; }}
  aside p {{ margin: 6px 0; color: #4b5563; }}
  aside p.on {{ color: #1d4ed8; font-weight: 600; }}
  .card {{ background: #fff; border-radius: 12px; padding: 20px 24px;
          box-shadow: 0 1px 3px rgb(0 0 0 / .08); }}
  .card h1 {{ margin: 0 0 2px; font-size: 20px; }}
  .card p {{ margin: 0 0 16px; color: #6b7280; }}
</style></head>
<body>
<nav><b>Wayfarer</b><span>Trips</span><span>Bookings</span><span>Support</span></nav>
<main>
  <aside><p class="on">Lisbon, May 2026</p><p>Kyoto, autumn</p><p>Iceland ring road</p></aside>
  <section class="card">
    <h1>Trip to Lisbon</h1>
    <p>Your planning chat with our assistant, kept for you.</p>
    <div data-memos-chat="{widget}" data-max-height="520"></div>
  </section>
</main>
<script src="{script}" async></script>
</body></html>
"""


# --- taking pictures ---------------------------------------------------------------------------

# Bring a message to the top of whatever scrolls the conversation, just under the sticky
# header (found by what the page says it is, not by its classes).
SCROLL_TO = """(target, gap) => {
  target.scrollIntoView({block: "start"});
  let box = target.parentElement;
  while (box && !(box.scrollHeight > box.clientHeight + 1
                  && /auto|scroll/.test(getComputedStyle(box).overflowY))) {
    box = box.parentElement;
  }
  const header = document.querySelector("header.topbar") || document.querySelector("header");
  const below = header ? Math.max(header.getBoundingClientRect().bottom, 0) : 0;
  (box || document.scrollingElement).scrollBy(0, target.getBoundingClientRect().top - below - gap);
}"""

# Resolve after fonts have loaded and two frames have been painted.
SETTLED = """() => document.fonts.ready.then(() => new Promise(done =>
  requestAnimationFrame(() => requestAnimationFrame(() => done(true)))))"""


class Studio:
    """The running viewer and host page, and one Chromium to photograph them."""

    def __init__(self, browser: Browser, viewer: str, host: str) -> None:
        self.browser, self.viewer, self.host = browser, viewer, host

    def chat_url(self, **extra: str) -> str:
        """The trip's full page, every message on it (so any can be scrolled to)."""
        return self.viewer + "/chat?" + urlencode({
            "user_id": READING_USER_ID, "conversation_id": READING_CONVERSATION_ID,
            "limit": str(len(READING_MESSAGES)), **extra})

    @contextmanager
    def page(self, viewport: dict, **options) -> Iterator[Page]:
        """A page in a fresh context; an uncaught script error fails the picture."""
        options.setdefault("locale", "en-GB")
        options.setdefault("timezone_id", ZONE)
        context = self.browser.new_context(viewport=viewport, **options)
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
        errors: list[str] = []
        context.on("weberror", lambda error: errors.append(str(error.error)))
        try:
            page = context.new_page()
            page.clock.set_fixed_time(NOW)
            yield page
        finally:
            context.close()
        if errors:
            raise ScreenshotError(f"the page raised a script error: {errors[0]}")

    def open_chat(self, page: Page, **extra: str) -> None:
        response = page.goto(self.chat_url(**extra))
        if response is None or response.status != 200:
            status = response.status if response else "no answer"
            raise ScreenshotError(f"{page.url} answered {status}")
        page.locator(MESSAGE).first.wait_for()

    def scroll_to(self, page: Page, text: str, gap: int = 12) -> None:
        """Bring the message holding ``text`` to the top of the conversation's view."""
        found = page.locator(MESSAGE).filter(has_text=text)
        if found.count() == 0:
            raise ScreenshotError(f"no message on {page.url} holds {text!r}")
        found.last.evaluate(SCROLL_TO, gap)

    def snap(self, page: Page) -> bytes:
        page.mouse.move(0, 0)  # no hover state left on a message
        page.evaluate(SETTLED)
        return page.screenshot(animations="disabled", caret="hide")

    def chat(self, viewport: dict, text: str, *, extra: dict | None = None,
             **options) -> bytes:
        with self.page(viewport, **options) as page:
            self.open_chat(page, **(extra or {}))
            self.scroll_to(page, text)
            return self.snap(page)

    def memories(self, viewport: dict, text: str, *, extra: dict | None = None,
                 **options) -> bytes:
        """The trip with its memory panel open, as a reader opens it (the control, then htmx),
        the message holding ``text`` at the top."""
        with self.page(viewport, **options) as page:
            self.open_chat(page, **(extra or {}))
            self.scroll_to(page, text)
            page.locator(MEMORIES_TOGGLE).click()
            page.locator(MEMORY).first.wait_for()
            return self.snap(page)

    def widget(self) -> bytes:
        """The host page once the widget has loaded and its height has stopped changing."""
        with self.page(HOST_PAGE) as page:
            response = page.goto(self.host + "/")
            if response is None or response.status != 200:
                raise ScreenshotError(f"the host page answered {response and response.status}")
            page.frame_locator(WIDGET_FRAME).locator(MESSAGE).first.wait_for()
            frame = page.locator(WIDGET_FRAME)
            deadline = time.monotonic() + SETTLE_TIMEOUT_S
            height = None
            while (now := frame.evaluate("f => f.getBoundingClientRect().height")) != height:
                if time.monotonic() > deadline:
                    raise ScreenshotError(f"the widget's height kept changing ({now}px)")
                height = now
                page.wait_for_timeout(250)
            page.frame_locator(WIDGET_FRAME).locator("body").evaluate(
                "body => document.fonts.ready")
            return self.snap(page)

    def printed(self) -> bytes:
        """Page 1 of the trip as Chromium prints it to A4, as pdftoppm renders it."""
        with self.page(LAPTOP) as page:
            self.open_chat(page)
            page.evaluate(SETTLED)
            pdf = page.pdf(format="A4")
        with tempfile.TemporaryDirectory(prefix="screenshots-") as work:
            source = Path(work) / "chat.pdf"
            source.write_bytes(pdf)
            try:
                subprocess.run([PDFTOPPM, "-png", "-f", "1", "-l", "1", "-singlefile",
                                "-scale-to-x", str(PRINT_SIZE[0]),
                                "-scale-to-y", str(PRINT_SIZE[1]),
                                str(source), str(Path(work) / "page")],
                               check=True, capture_output=True, timeout=60)
            except subprocess.CalledProcessError as error:
                raise ScreenshotError("pdftoppm failed: "
                                      + error.stderr.decode(errors="replace")) from None
            except subprocess.TimeoutExpired:
                raise ScreenshotError("pdftoppm took over 60 s") from None
            return (Path(work) / "page.png").read_bytes()


def pixels(viewport: dict, scale: int = 1) -> tuple[int, int]:
    return viewport["width"] * scale, viewport["height"] * scale


SHOTS = [
    # A laptop, light: the tool call, its JSON answer and the packing task list.
    Shot("chat-light.png", pixels(LAPTOP),
         lambda studio: studio.chat(LAPTOP, WEATHER_QUESTION)),
    # A laptop, dark (the system's choice): the highlighted Python block.
    Shot("chat-dark.png", pixels(LAPTOP),
         lambda studio: studio.chat(LAPTOP, COST_SCRIPT_QUESTION, color_scheme="dark")),
    # A laptop, in Chinese: a table, then Arabic and Hebrew.
    Shot("chat-zh.png", pixels(LAPTOP),
         lambda studio: studio.chat(LAPTOP, LISBOA_CARD_QUESTION, locale="zh-CN",
                                    extra={"lang": "zh-Hans"})),
    # A phone at twice the density: the header, and a table on a narrow screen.
    Shot("chat-phone.png", pixels(PHONE, 2),
         lambda studio: studio.chat(PHONE, TRAIN_PRICES_QUESTION, device_scale_factor=2,
                                    is_mobile=True, has_touch=True)),
    # What MemOS remembered, beside the conversation on a laptop (dark), over it on a phone
    # (in Chinese).
    Shot("memories.png", pixels(LAPTOP),
         lambda studio: studio.memories(LAPTOP, WEATHER_QUESTION, color_scheme="dark")),
    Shot("memories-phone.png", pixels(PHONE, 2),
         lambda studio: studio.memories(PHONE, WEATHER_QUESTION, device_scale_factor=2,
                                        is_mobile=True, has_touch=True, locale="zh-CN",
                                        extra={"lang": "zh-Hans"})),
    # The widget in someone else's product, the newest messages showing.
    Shot("widget.png", pixels(HOST_PAGE), lambda studio: studio.widget()),
    # Page 1 of the whole conversation printed to A4.
    Shot("print.png", PRINT_SIZE, lambda studio: studio.printed()),
]


# --- files -------------------------------------------------------------------------------------

def small_png(data: bytes) -> bytes:
    """``data`` as a palette PNG of at most ``COLOURS`` colours, compressed hard."""
    image = Image.open(io.BytesIO(data)).convert("RGB")
    palette = image.quantize(colors=COLOURS, method=Image.Quantize.MEDIANCUT,
                             dither=Image.Dither.NONE)
    out = io.BytesIO()
    palette.save(out, format="PNG", optimize=True)
    return out.getvalue()


def check_tools() -> None:
    for path, remedy in ((CHROMIUM, "make browser"), (PDFTOPPM, "make browser")):
        if not os.access(path, os.X_OK):
            raise ScreenshotError(f"{path} is missing: run `{remedy}` (or `make screenshots`)")
    if not (ROOT / "static" / "vendor" / "htmx.min.js").is_file():
        raise ScreenshotError("static/vendor/htmx.min.js is missing: run `make install`")


def take_all(out: Path, only: set[str] | None = None) -> list[tuple[Path, int]]:
    """Write every picture (or those named in ``only``) to ``out``; return paths and sizes."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ScreenshotError(f"cannot write to {out}: {error.strerror}") from None
    check_tools()
    written = []
    with tempfile.TemporaryDirectory(prefix="screenshots-store-") as work:
        host_page = HostPage()
        with serving(host_page.server) as host:
            with serving(viewer_server(Path(work) / "store.sqlite3", host)) as viewer:
                host_page.show(viewer)
                with sync_playwright() as playwright:
                    browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                                         headless=True, args=CHROMIUM_ARGS)
                    try:
                        studio = Studio(browser, viewer, host)
                        for shot in SHOTS:
                            if only and shot.name not in only:
                                continue
                            try:
                                data = small_png(shot.take(studio))
                            except (PlaywrightError, ScreenshotError) as error:
                                raise ScreenshotError(f"{shot.name}: {error}") from None
                            path = out / shot.name
                            path.write_bytes(data)
                            written.append((path, len(data)))
                    finally:
                        browser.close()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m docs.screenshots",
                                     description="Photograph the viewer for the README.")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="directory for the PNGs (default: docs/screenshots)")
    parser.add_argument("--only", action="append", metavar="NAME",
                        choices=[shot.name for shot in SHOTS],
                        help="take only this picture (repeatable)")
    args = parser.parse_args(argv)
    try:
        written = take_all(args.out, set(args.only or ()))
    except ScreenshotError as error:
        print(f"screenshots: {error}", file=sys.stderr)
        return 1
    for path, size in written:
        print(f"{path}  {size / 1024:.0f} KiB")
    print(f"{len(written)} pictures, {sum(size for _, size in written) / 1024:.0f} KiB in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
