"""A message's body as HTML, at a bounded cost whatever its content.

Assistant and system text is Markdown (viewer/renderer/markdown.py) with highlighted code
(viewer/renderer/highlight.py); users' and tools' words are shown as typed. Formatting one message
may take about ``MESSAGE_SECONDS`` of CPU and make at most ``HTML_RATIO`` times its length (plus
``HTML_EXTRA``) of HTML, and the messages of one page ``PAGE_SECONDS`` in all. Past a limit the
message is still shown, as escaped text (or with its code partly highlighted) and a quiet note:
never an error page.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from memos_api import ContentPart, Message

from .highlight import escape_code, highlight, lexer_for, prepare
from .markdown import Fence, LimitReached, Limits, render_markdown, sanitize_html

MARKDOWN_ROLES = frozenset({"assistant", "system"})  # users' own words are shown as typed
MARKDOWN_CHARACTERS = 20_000   # a longer message (all its text parts) is shown as typed
HIGHLIGHT_CHARACTERS = 10_000  # code highlighted per message; the rest is shown plain
MESSAGE_SECONDS = 0.025        # thread CPU one message's Markdown and highlighting may take
PAGE_SECONDS = 0.25            # ... and all the messages formatted for one page
HTML_RATIO, HTML_EXTRA = 8, 4096  # HTML a message's text may become, before the page around it

TOO_LONG = _l("Shown as plain text: this message is too long to format.")
TOO_COSTLY = _l("Shown as plain text: this message is too complex to format.")
PAGE_FULL = _l("Shown as plain text to keep this page quick. Reload to see it formatted.")
CODE_MARKER = re.compile(r"code-([0-9a-f]{16})-([0-9]+)\.")  # see _markdown_body
CODE_PLAIN = _l("Part of the code is shown without highlighting, to keep this page quick.")


@dataclass(frozen=True)
class Body:
    """A message's HTML, the note to show under it, and whether it may be kept for reuse."""

    html: Markup
    note: str = ""
    cacheable: bool = True


class PageBudget:
    """The CPU time (of this thread) that one page may still spend formatting messages."""

    def __init__(self, seconds: float = PAGE_SECONDS) -> None:
        prepare()  # lexers load once per process, not on anybody's budget
        self.deadline = time.thread_time() + seconds

    def limits(self, characters: int) -> tuple[Limits, bool]:
        """Limits for a message of ``characters``, and whether the page's budget sets them."""
        own = time.thread_time() + MESSAGE_SECONDS
        return (Limits(min(own, self.deadline), HTML_RATIO * characters + HTML_EXTRA),
                self.deadline < own)


def message_body(message: Message, budget: PageBudget) -> Body:
    """The body of ``message``: formatted when it is Markdown and within limits."""
    if message.role not in MARKDOWN_ROLES:
        return Body(plain_html(message.parts))
    characters = sum(len(part.text) for part in message.parts)
    if characters > MARKDOWN_CHARACTERS:
        return Body(plain_html(message.parts), TOO_LONG)
    limits, page_bound = budget.limits(characters)
    try:
        return _markdown_body(message.parts, limits, page_bound)
    except LimitReached:
        # Over the page's budget, the message itself is not to blame: format it next time.
        note = PAGE_FULL if page_bound else TOO_COSTLY
        return Body(plain_html(message.parts), note, cacheable=not page_bound)


def plain_html(parts: tuple[ContentPart, ...]) -> Markup:
    """Text parts as typed (escaped, whitespace kept); other parts labelled."""
    if not parts:
        return Markup('<p class="message__empty">%s</p>') % gettext("(no content)")
    return Markup("").join(Markup('<p class="message__plain" dir="auto">%s</p>') % part.text
                           if part.kind == "text" else _attachment(part) for part in parts)


def _attachment(part: ContentPart) -> Markup:
    label = f"{part.kind}: {part.text}" if part.text else part.kind
    return Markup('<p class="message__attachment">[%s]</p>') % label


def _markdown_body(parts: tuple[ContentPart, ...], limits: Limits, page_bound: bool) -> Body:
    # Code is highlighted after sanitizing (it is escaped token by token by our own code, and
    # spans are a third of nh3's work): each block is left as this marker, unguessable by
    # the text around it, and filled in below.
    nonce = os.urandom(8).hex()
    marker = f"code-{nonce}-"
    fences: list[Fence] = []
    html = []
    for part in parts:
        if part.kind != "text":
            html.append(str(_attachment(part)))
            continue
        used = sum(map(len, html))
        html.append(render_markdown(part.text, Limits(limits.deadline, limits.max_html - used),
                                    fences, marker))
    sanitized = sanitize_html("".join(html)) if html else str(plain_html(parts))
    if not fences:
        return Body(Markup(sanitized))
    filler = _CodeFiller(nonce, fences, limits, limits.max_html - len(sanitized))
    filled = CODE_MARKER.sub(filler, sanitized)
    if filler.plain:
        return Body(Markup(filled), CODE_PLAIN, cacheable=not page_bound)
    return Body(Markup(filled))


class _CodeFiller:
    """Replaces each code marker by its block, highlighted while the message's limits last."""

    def __init__(self, nonce: str, fences: list[Fence], limits: Limits, max_html: int) -> None:
        self.nonce, self.fences = nonce, fences
        self.deadline, self.max_html = limits.deadline, max_html
        self.characters = HIGHLIGHT_CHARACTERS
        self.plain = False  # whether some code that could be highlighted was not

    def __call__(self, match: re.Match) -> str:
        if match[1] != self.nonce:  # text that only looks like a marker
            return match[0]
        fence = self.fences[int(match[2])]
        lexer = lexer_for(fence.language)
        if lexer is None:
            return escape_code(fence.code)
        if len(fence.code) > self.characters or time.thread_time() > self.deadline:
            self.plain = True
            return escape_code(fence.code)
        self.characters -= len(fence.code)
        highlighted = highlight(fence.code, lexer, self.deadline, self.max_html)
        self.max_html -= len(highlighted.html)
        self.plain = self.plain or not highlighted.complete
        return highlighted.html

