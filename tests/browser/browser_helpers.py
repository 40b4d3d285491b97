"""Seeding and page helpers shared by the browser tests (not tests themselves)."""

from __future__ import annotations

from urllib.parse import urlencode

from playwright.sync_api import Page

MESSAGE = "#messages > [data-role]"
MAX_CLICKS = 20  # no test conversation needs more "load earlier" clicks than this


def make_messages(count: int, *, prefix: str = "message", hour: int = 9,
                  roles: tuple[str, ...] = ("user", "assistant"), text=None) -> list[dict]:
    """``count`` messages with distinct texts, one second apart, oldest first."""
    return [{"role": roles[n % len(roles)],
             "content": text(n) if text else f"{prefix} {n:02d}",
             "chat_time": f"2026-03-01 {hour:02d}:{n // 60:02d}:{n % 60:02d}"}
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


# Records every CSP violation from the very start of each document (frames included);
# install with page.add_init_script(CSP_RECORDER), read window.__cspViolations.
CSP_RECORDER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push({directive: event.violatedDirective, blocked: event.blockedURI,
                               sample: event.sample});
}, true);
"""
