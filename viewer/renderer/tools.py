"""Tool calls: what an assistant asked a tool to do, and which call a tool's message answers.

Both come in OpenAI's shape, kept in ``Message.extra``: an assistant's ``tool_calls``, a list
of ``{"id", "type": "function", "function": {"name", "arguments"}}`` (arguments a JSON text),
or the older single ``function_call`` ``{"name", "arguments"}``; a tool's ``tool_call_id``.
Any of it may be missing, of another type, or huge: what cannot be read is left out, and
only the first ``MAX_CALLS`` items are read (the rest counted).

Each call is a chip; a tool's answer names its call, and links to that call's chip when both
are on the same page (``link_answers``). A chip's id is made from the message's element id
and a hash of the call's id, never the id itself (it could be anything, and the same in two
messages), and only chips that an answer links to get one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import escape, Markup

from memos_api import Message

from ..i18n import gettext, ngettext

MAX_CALLS = 20
NAME_CHARACTERS = 200  # of a function's name or a call's id shown; the rest is an ellipsis
ICON = Markup('<svg class="chip-icon" viewBox="0 0 16 16" width="16" height="16" '
              'aria-hidden="true"><path d="M2.5 3.5l4 4.5-4 4.5"/><path d="M8 12.5h5.5"/></svg>')


@dataclass(frozen=True)
class ToolCall:
    """One call, as far as it could be read: each field "" when missing."""

    call_id: str
    name: str
    arguments: str  # as typed: usually JSON text

    @property
    def key(self) -> str:
        """What names this call in the page's HTML: a hash of its id ("" without one)."""
        return call_key(self.call_id)


def call_key(call_id: str) -> str:
    """A call id's hash, for the page's HTML: 16 hex digits, or "" for no id."""
    if not call_id:
        return ""
    return hashlib.sha256(call_id.encode("utf-8", "replace")).hexdigest()[:16]


def tool_calls(message: Message) -> tuple[tuple[ToolCall, ...], int]:
    """The calls ``message`` made (at most ``MAX_CALLS``), and how many more it made."""
    found = message.extra.get("tool_calls") if message.extra else None
    if isinstance(found, dict):
        found = [found]
    if not isinstance(found, list):
        legacy = message.extra.get("function_call") if message.extra else None
        found = [{"function": legacy}] if isinstance(legacy, dict) else []
    # Only the first MAX_CALLS items are read, and the rest counted by their number: this
    # runs for every view of the message, and the list may hold millions of items.
    calls = tuple(call for call in map(_call, found[:MAX_CALLS]) if call is not None)
    return calls, max(0, len(found) - MAX_CALLS)


def _call(item: object) -> ToolCall | None:
    if not isinstance(item, dict):
        return None
    function = item.get("function")
    if not isinstance(function, dict):
        function = item  # {"name", "arguments"} without the "function" around them
    return ToolCall(_text(item.get("id")), _text(function.get("name")),
                    _arguments(function.get("arguments")))


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else ""


def _arguments(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    try:  # not the JSON text the API specifies, but its value: shown as JSON all the same
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        return ""


def answered_call(message: Message) -> str:
    """The id of the call a tool's message answers ("" when it says none)."""
    if message.role != "tool" or not message.extra:
        return ""
    return _text(message.extra.get("tool_call_id"))


def render_key(message: Message) -> tuple:
    """What of ``message.extra`` its HTML shows (messages compare without ``extra``)."""
    if not message.extra:
        return ()
    return tool_calls(message), answered_call(message)


def shown(text: str) -> str:
    """A name or id as shown: cut short when very long."""
    return text if len(text) <= NAME_CHARACTERS else text[:NAME_CHARACTERS - 1] + "…"


def summary(call: ToolCall) -> Markup:
    """"Called ``name``", in the reader's language."""
    if not call.name:
        return ICON + escape(gettext("Called a tool"))
    name = Markup('<code dir="ltr">%s</code>') % shown(call.name)
    return ICON + Markup(escape(gettext("Called %(name)s"))) % {"name": name}


def chip(call: ToolCall, arguments: str) -> str:
    """A call's chip: its summary, opening to ``arguments`` (HTML) when it has any."""
    key = Markup(' data-call="%s"') % call.key if call.key else ""
    if not arguments:
        return str(Markup('<p class="tool-call"%s>%s</p>') % (key, summary(call)))
    return str(Markup('<details class="tool-call"%s><summary>%s</summary>%s</details>')
               % (key, summary(call), Markup(arguments)))


def more_calls(count: int) -> str:
    """A note for the calls not shown."""
    return str(Markup('<p class="tool-call tool-call--more">%s</p>')
               % ngettext("%(num)s more tool call is not shown.",
                          "%(num)s more tool calls are not shown.", count))


def answer(call_id: str) -> Markup:
    """Which call a tool's message answers: "Answer to call ``call_wx_7``"."""
    code = (Markup('<span class="tool-answer__call" data-call="%s"><code dir="ltr">%s</code>'
                   "</span>") % (call_key(call_id), shown(call_id)))
    return (Markup('<p class="tool-answer">%s%s</p>')
            % (ICON, Markup(escape(gettext("Answer to call %(call)s"))) % {"call": code}))


def link_answers(messages: Sequence[Message], ids: Sequence[str | None], html: list[Markup],
                 places: Sequence[int], element_id: Callable[[Message], str]) -> None:
    """Link each tool's answer to the chip of the call it answers, the latest one above it.

    ``html[places[n]]`` is the HTML of ``messages[n]``, whose element id as shown is ``ids[n]``
    (None: shown without one; "": ``element_id(message)``). Cheap for messages without
    tools: their HTML is not read.
    """
    latest: dict[str, tuple[int, str]] = {}  # call key -> (its chip's place in html, chip id)
    anchored: set[str] = set()
    for index, message in enumerate(messages):
        if not message.extra:
            continue
        call_id = answered_call(message)
        key = call_key(call_id)
        if key in latest:
            holder, chip_id = latest[key]
            if chip_id not in anchored:
                anchored.add(chip_id)
                attribute = f' data-call="{key}"'
                html[holder] = Markup(str.replace(html[holder], attribute,
                                                  f'{attribute} id="{chip_id}"', 1))
            html[places[index]] = Markup(_linked(str(html[places[index]]), key, chip_id))
        if ids[index] is None:  # a copy of a message shown below: its chips stay without ids
            continue
        holder_id = ids[index] or element_id(message)
        for call in tool_calls(message)[0]:
            if call.key:
                latest[call.key] = (places[index], f"{holder_id}-call-{call.key[:8]}")


def _linked(html: str, key: str, chip_id: str) -> str:
    """``html`` with its answer's call name made a link to ``chip_id``."""
    opening = f'<span class="tool-answer__call" data-call="{key}">'
    start = html.find(opening)
    if start < 0:
        return html
    end = html.index("</span>", start)
    return (html[:start] + f'<a class="tool-answer__call" href="#{chip_id}">'
            + html[start + len(opening):end] + "</a>" + html[end + len("</span>"):])
