"""Fixtures for the browser tests: headless Debian Chromium driven by Playwright's sync API.

- ``browser`` (session): one Chromium for the whole run (``/usr/bin/chromium``; Playwright
  cannot download its own browser here).
- ``live_server`` (tests/conftest.py): the app over real HTTP on 127.0.0.1.
- ``host_site``: a ``HostSite`` (browser_helpers.py): a page on another loopback origin, for
  the widget's host.
- ``new_context``: a factory for fresh browser contexts (``new_context(java_script_enabled=
  False)`` for the no-JavaScript fallback); ``context`` and ``page`` are the default ones.

Waits are bounded: Playwright actions and ``expect`` give up after a few seconds.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_helpers import HostSite
from playwright.sync_api import Browser, BrowserContext, expect, Page, sync_playwright
from required_tools import tool_missing

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
HTMX = Path(__file__).resolve().parents[2] / "static" / "vendor" / "htmx.min.js"
ACTION_TIMEOUT_MS = 5_000
NAVIGATION_TIMEOUT_MS = 10_000

expect.set_options(timeout=ACTION_TIMEOUT_MS)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the session."""
    if not os.access(CHROMIUM, os.X_OK):
        tool_missing(f"{CHROMIUM} is missing: run `make browser`.")
    if not HTMX.is_file():
        pytest.fail(f"{HTMX} is missing: run `make install` (or copy it from node_modules).")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def new_context(browser: Browser) -> Iterator:
    """Open fresh, isolated browser contexts (keyword arguments go to ``new_context``).

    An uncaught JavaScript error in any of their pages fails the test at teardown.
    """
    opened: list[BrowserContext] = []
    errors: list[str] = []

    def open_context(**options: Any) -> BrowserContext:
        options.setdefault("viewport", {"width": 1000, "height": 700})
        context = browser.new_context(**options)
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
        context.on("weberror", lambda error: errors.append(str(error.error)))
        opened.append(context)
        return context

    yield open_context
    for context in opened:
        context.close()
    assert errors == [], f"uncaught JavaScript errors: {errors}"


@pytest.fixture
def context(new_context) -> BrowserContext:
    """A fresh context with JavaScript on."""
    return new_context()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    """A page in ``context``."""
    return context.new_page()


@pytest.fixture
def host_site() -> Iterator[HostSite]:
    """A host page's site on another origin (another port) than the viewer's."""
    site = HostSite()
    try:
        yield site
    finally:
        site.close()
