"""A message's body as HTML, at a bounded cost whatever its content.

Assistant and system text is Markdown (viewer/renderer/markdown.py) with highlighted code
(viewer/renderer/highlight.py); users' and tools' words are shown as typed
(viewer/renderer/plain.py), a tool's JSON answer indented (viewer/renderer/jsontext.py). A
long message is collapsed, and its first lines shown rendered the same way (its preview). An
assistant's tool calls are chips that open to their arguments (viewer/renderer/tools.py).

Formatting one message, preview and tool calls included, may take about ``MESSAGE_SECONDS`` of
CPU and make at most ``HTML_RATIO`` times its length (plus ``HTML_EXTRA``) of HTML, and the
messages of one page ``PAGE_SECONDS`` in all. Past a limit the message is still shown, as
escaped text (or with its code partly highlighted) and a quiet note: never an error page.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass

from markupsafe import Markup

from memos_api import ContentPart, Message

from ..i18n import lazy_gettext as _l
from . import tools
from .highlight import escape_code, highlight, lexer_for, prepare
from .jsontext import pretty_json
from .markdown import (
    code_figure,
    Fence,
    LimitReached,
    Limits,
    render_markdown,
    sanitize_html,
    words_of,
)
from .plain import attachment, more_parts_html, plain_html, typed_html
from .presentation import (
    is_long,
    preview_source,
    QUIET_LONG_LINES,
    QUIET_PREVIEW_LINES,
    QUIET_ROLES,
)

MARKDOWN_ROLES = frozenset({"assistant", "system"})  # users' own words are shown as typed
MARKDOWN_CHARACTERS = 20_000   # a longer message (all its text parts) is shown as typed
HIGHLIGHT_CHARACTERS = 10_000  # code highlighted per message; the rest is shown plain
MESSAGE_SECONDS = 0.025        # thread CPU one message's Markdown and highlighting may take
PAGE_SECONDS = 0.25            # ... and all the messages formatted for one page
HTML_RATIO, HTML_EXTRA = 8, 4096  # HTML a message's text may become, before the page around it

TOO_LONG = _l("Shown as plain text: this message is too long to format.")
TOO_COSTLY = _l("Shown as plain text: this message is too complex to format.")
PAGE_FULL = _l("Shown as plain text to keep this page quick. Reload to see it formatted.")
CODE_MARKER = re.compile(r"code-([0-9a-f]{16})-([0-9]+)\.")  # see _Formatter
CODE_PLAIN = _l("Part of the code is shown without highlighting, to keep this page quick.")


@dataclass(frozen=True)
class Body:
    """A message's HTML, the note to show under it, and whether it may be kept for reuse.

    ``html`` is its content; ``preview`` its first lines, when it is collapsed (None when it
    is not); ``answer`` says which tool call a tool's message answers; ``calls`` are the chips
    of the tools an assistant called.
    """

    html: Markup
    note: str = ""
    cacheable: bool = True
    preview: Markup | None = None
    answer: Markup = Markup("")
    calls: Markup = Markup("")


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
    return _draft(message, budget).body(budget)


def message_bodies(messages: list[Message], budget: PageBudget) -> list[Body]:
    """The bodies of ``messages``, as ``message_body`` makes each, in two passes: every
    message's text first, then all their code. One kind of work at a time keeps the CPU's
    caches warm: ~0.7 ms less for 50 rich answers (~6 ms), measured."""
    drafts = [_draft(message, budget) for message in messages]
    return [draft.body(budget) for draft in drafts]


def _draft(message: Message, budget: PageBudget) -> _Draft:
    """``message``'s body, all but its code."""
    calls, more = tools.tool_calls(message)
    answered = tools.answered_call(message)
    text_characters = sum(len(part.text) for part in message.parts)
    if message.role not in MARKDOWN_ROLES and message.role != "tool" and not calls:
        # Users' words, shown as typed: their HTML is bounded, their time not worth counting.
        return _body(_Formatter(_plain_limits(text_characters)), message, False)
    characters = text_characters + sum(len(call.name) + len(call.arguments) for call in calls)
    limits, page_bound = budget.limits(characters)
    formatter = _Formatter(limits)
    if message.role in MARKDOWN_ROLES and text_characters > MARKDOWN_CHARACTERS:
        return _body(formatter, message, False, calls, more, note=TOO_LONG,
                     page_bound=page_bound)
    markdown = message.role in MARKDOWN_ROLES
    try:
        return _body(formatter, message, markdown, calls, more, answered, page_bound=page_bound)
    except LimitReached:
        # Over the page's budget, the message itself is not to blame: format it next time.
        note = PAGE_FULL if page_bound else TOO_COSTLY
        plain = _Formatter(_plain_limits(characters))
        return _body(plain, message, False, calls, more, answered, note=note, code=False,
                     cacheable=not page_bound)


def _plain_limits(characters: int) -> Limits:
    """Limits for text shown as typed: its HTML only (it costs little time)."""
    return Limits(float("inf"), HTML_RATIO * characters + HTML_EXTRA)


def _body(formatter: _Formatter, message: Message, markdown: bool,
          calls: tuple[tools.ToolCall, ...] = (), more: int = 0, answered: str = "",
          note: str = "", code: bool = True, cacheable: bool = True,
          page_bound: bool = False) -> _Draft:
    """The body, formatted by ``formatter`` (Markdown when ``markdown``) but for its code;
    LimitReached from the content's Markdown, the rest falling back to plain text by itself.
    Without ``code``, JSON and arguments are shown as typed, not indented and highlighted."""
    if message.parts or not (calls or more):
        content, preview = formatter.content(message, markdown, code)
    else:  # nothing said, only tools called: the chips alone
        content, preview = "", None
    if message.more_parts:
        content += formatter.made(more_parts_html(message.more_parts))
    chips = "".join(formatter.call(call, code) for call in calls)
    if more:
        chips += tools.more_calls(more)
    formatter.pause()
    return _Draft(formatter, [content, preview or "", chips], preview is not None,
                  bool(chips), answered, note, cacheable, page_bound)


@dataclass
class _Draft:
    """A body made but for its code (``fields``: content, preview, chips, with markers)."""

    formatter: _Formatter
    fields: list[str]
    previewed: bool
    chips: bool
    answered: str
    note: str
    cacheable: bool
    page_bound: bool

    def body(self, budget: PageBudget) -> Body:
        """The body, its code highlighted on what is left of the message's time (and within
        the page's)."""
        formatter, note, cacheable = self.formatter, self.note, self.cacheable
        page_bound = self.page_bound or formatter.resume(budget)
        fields = formatter.fill(self.fields)
        if formatter.plain_code:
            note, cacheable = note or CODE_PLAIN, cacheable and not page_bound
        if formatter.preview_plain:
            cacheable = cacheable and not self.page_bound
        return Body(Markup(fields[0]), note, cacheable,
                    Markup(fields[1]) if self.previewed else None,
                    tools.answer(self.answered) if self.answered else Markup(""),
                    Markup(f'<div class="tool-calls">{fields[2]}</div>') if self.chips
                    else Markup(""))


class _Formatter:
    """One message's HTML, made within its limits.

    Code is highlighted after sanitizing (it is escaped token by token by our own code, and
    spans are a third of nh3's work): each block is left as a marker, unguessable by the text
    around it, and filled in by ``fill``.
    """

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.nonce = os.urandom(8).hex()
        self.marker = f"code-{self.nonce}-"
        self.fences: list[Fence] = []
        self.size = 0  # characters of HTML made so far
        self.plain_code = False  # whether code that could be highlighted was not
        self.preview_plain = False  # whether the preview was shown as typed, over a limit
        self.time_left = 0.0  # CPU time the message had left when paused (see pause)

    def pause(self) -> None:
        """Remember how much of its time the message has left: its code may be highlighted
        after other messages' text (see message_bodies)."""
        if self.fences:
            self.time_left = self.limits.deadline - time.thread_time()

    def resume(self, budget: PageBudget) -> bool:
        """Give the code the time the message had left, within the page's; whether the
        page's budget sets the limit."""
        if not self.fences:
            return False
        own = time.thread_time() + self.time_left
        self.limits = Limits(min(own, budget.deadline), self.limits.max_html)
        return budget.deadline < own

    def left(self) -> Limits:
        """The limits for what is still to make."""
        return Limits(self.limits.deadline, self.limits.max_html - self.size)

    def made(self, html: str) -> str:
        self.size += len(html)
        return html

    def content(self, message: Message, markdown: bool, code: bool) -> tuple[str, str | None]:
        """The message's content, and its preview when it is collapsed (else None)."""
        quiet = message.role in QUIET_ROLES
        if message.role == "tool" and code:
            pretty = self.json(message.parts)
            if pretty is not None:
                content = self.made(code_figure("json", pretty, self.fences, self.marker))
                lines = pretty.split("\n", QUIET_LONG_LINES)
                if len(lines) <= QUIET_LONG_LINES:
                    return content, None
                start = "\n".join(lines[:QUIET_PREVIEW_LINES]) + "\n…"
                return content, self.made(code_figure("json", start, self.fences, self.marker,
                                                       focusable=False))
        if markdown:
            content = self.made(self.markdown(message.parts))
        else:
            content = self.made(str(plain_html(message.parts, self.left().max_html)))
        if not message.parts or not is_long(message):
            return content, None
        start = preview_source(message.text, quiet)
        if markdown:
            try:
                return content, self.made(self.markdown((ContentPart("text", start),),
                                                        preview=True))
            except LimitReached:
                self.preview_plain = True
        return content, self.made(typed_html(start, links=False, preview=True))

    def markdown(self, parts: tuple[ContentPart, ...], preview: bool = False) -> str:
        """Parts as sanitized Markdown, attachments as chips; LimitReached past a limit."""
        html: list[str] = []
        text: list[str] = []  # Markdown still to sanitize: sanitized in one go, it is quicker
        used = 0
        for part in parts:
            if part.kind != "text":
                html.append(sanitize_html("".join(text), preview) if text else "")
                html.append(attachment(part))
                text = []
                continue
            left = self.left()
            fences = len(self.fences)
            text.append(render_markdown(part.text, Limits(left.deadline, left.max_html - used),
                                        self.fences, self.marker, preview))
            new = self.fences[fences:]
            used += len(text[-1]) + sum(fence.unsanitized for fence in new)
            # The figures' HTML, sanitized; the caller counts the rest.
            self.size += sum(len(fence.before) + len(fence.after) for fence in new)
        if text:
            html.append(sanitize_html("".join(text), preview))
        return "".join(html) if parts else str(plain_html(parts))

    def json(self, parts: tuple[ContentPart, ...]) -> str | None:
        """A tool's answer indented, when it is all one JSON object or array."""
        if len(parts) != 1 or parts[0].kind != "text":
            return None
        left = self.left()
        return pretty_json(parts[0].text, left.max_html // 2, left.deadline)

    def call(self, call: tools.ToolCall, code: bool) -> str:
        """A tool call's chip, its arguments indented when they are JSON."""
        arguments = call.arguments
        if not arguments.strip():
            return self.made(tools.chip(call, ""))
        left = self.left()
        pretty = pretty_json(arguments, left.max_html // 2, left.deadline) if code else None
        if pretty is not None:
            shown = code_figure("json", pretty, self.fences, self.marker)
        else:
            shown = (f'<figure class="code-block" dir="ltr"><pre tabindex="0"><code dir="ltr">'
                     f"{escape_code(arguments)}</code></pre></figure>")
        return self.made(tools.chip(call, shown))

    def fill(self, fields: list[str]) -> list[str]:
        """``fields`` with their code markers replaced by the code, highlighted while the
        message's limits last."""
        if not self.fences:
            return fields
        figures = sum(len(fence.before) + len(fence.after) for fence in self.fences)
        filler = _CodeFiller(self.nonce, self.fences, self.limits,
                             self.limits.max_html - sum(map(len, fields)) - figures)
        filled = [CODE_MARKER.sub(filler, field) for field in fields]
        self.plain_code = filler.plain
        return filled


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
        return fence.before + self.code(fence) + fence.after

    def code(self, fence: Fence) -> str:
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


def reading_text(message: Message) -> str:
    """``message``'s text as its reader sees it: an answer's Markdown without the marks that
    format it; what is shown as typed, as typed. What find searches and quotes."""
    text = message.text
    if message.role not in MARKDOWN_ROLES or len(text) > MARKDOWN_CHARACTERS:
        return text
    return words_of(text)

