"""Read messages back out of rendered HTML, for assertions."""

import html as html_lib
import re

# After data-role, a message may carry its permalink id (and aria-current).
_MESSAGE = re.compile(r'<article class="message[^"]*" data-role="([^"]*)"[^>]*>(.*?)</article>',
                      re.S)
_CONTENT = re.compile(r'<div class="message__content">(.*?)</div>\s*'
                      r'(?:</details>|</div>|<p class="message__note">)', re.S)


def roles_and_texts(page: str) -> list[tuple[str, str]]:
    """(role, visible text) of each message, in page order."""
    found = []
    for role, body in _MESSAGE.findall(page):
        content = _CONTENT.search(body)
        text = re.sub(r"<[^>]+>", "", content.group(1) if content else "")
        found.append((html_lib.unescape(role), html_lib.unescape(text).strip()))
    return found


def texts(page: str) -> list[str]:
    """The visible text of each message, in page order."""
    return [text for _, text in roles_and_texts(page)]
