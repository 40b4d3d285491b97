"""How messages are laid out: day breaks, what collapses when long, and what shows of it."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from memos_api import Message

QUIET_ROLES = frozenset({"system", "tool"})
LONG_CHARACTERS, LONG_LINES = 3000, 40           # a chat message that collapses
QUIET_LONG_CHARACTERS, QUIET_LONG_LINES = 400, 8  # a system or tool message that collapses
# The first lines of a collapsed message, shown rendered above "Show full message".
PREVIEW_LINES, PREVIEW_CHARACTERS = 12, 1200
QUIET_PREVIEW_LINES, QUIET_PREVIEW_CHARACTERS = 5, 300
# A code fence (CommonMark: up to three spaces in, inside any block quotes).
FENCE = re.compile(r"((?: {0,3}>)* {0,3})(`{3,}|~{3,})(.*)")


@dataclass(frozen=True)
class DayBreak:
    """A separator above the first message of a calendar day."""

    day: date
    label: str

    @property
    def key(self) -> str:
        return self.day.isoformat()


def day_breaks(messages: Iterable[Message], zone: tzinfo, today: date,
               label: Callable[[date, date], str], current: date | None = None,
               ) -> Iterator[tuple[DayBreak | None, Message]]:
    """Pair each message with the day break to show above it, if any.

    Undated messages belong to the day before them; ``current`` is the day of what is shown
    above the first message, if anything. ``label(day, today)`` writes a day in the reader's
    language (viewer/templating.py).
    """
    for message in messages:
        day = message.created_at.astimezone(zone).date() if message.created_at else current
        yield (DayBreak(day, label(day, today)) if day and day != current else None), message
        current = day


def shared_day(messages: list[Message], after: Message | None, zone: tzinfo) -> str | None:
    """The day key of ``after`` when the last dated of ``messages`` falls on the same day."""
    last = next((m for m in reversed(messages) if m.created_at), None)
    if not (last and after and after.created_at):
        return None
    day = last.created_at.astimezone(zone).date()
    return day.isoformat() if day == after.created_at.astimezone(zone).date() else None


def is_long(message: Message) -> bool:
    """Whether the message is collapsed behind "Show more"."""
    text = message.text
    quiet = message.role in QUIET_ROLES
    characters = QUIET_LONG_CHARACTERS if quiet else LONG_CHARACTERS
    lines = QUIET_LONG_LINES if quiet else LONG_LINES
    return len(text) > characters or text.count("\n") >= lines


def preview_source(text: str, quiet: bool = False) -> str:
    """The start of a collapsed message's ``text``, to be shown as the message is: at most
    ``PREVIEW_LINES`` whole lines and ``PREVIEW_CHARACTERS`` (fewer for ``quiet`` roles), an
    open code fence closed, and no table cut under its header row."""
    lines = QUIET_PREVIEW_LINES if quiet else PREVIEW_LINES
    characters = QUIET_PREVIEW_CHARACTERS if quiet else PREVIEW_CHARACTERS
    window = text[:characters]
    cut = end = -1
    for _ in range(lines):
        end = window.find("\n", end + 1)
        if end < 0:
            break
        cut = end
    if len(text) <= characters and end < 0:
        cut = len(text)  # all of it: shorter than a preview
    elif cut >= 0 and _is_delimiter_row(_line_at(text, cut + 1)):
        cut = text.rfind("\n", 0, cut)  # a table's header row alone would show its pipes
    start = text[:cut].rstrip() if cut > 0 else ""
    if not start:  # one long first line: cut it at a space
        space = window.rfind(" ", characters // 2)
        start = window[:space if space > 0 else characters].rstrip() + "…"
    return _fences_closed(start)


def _is_delimiter_row(line: str) -> bool:
    """Whether ``line`` may be the row under a table's header (|---|:--:|), or a heading's
    underline: either way, the line above means something else without it. (Not a regular
    expression: the line can be any length, and one precise enough would backtrack.)"""
    return "-" in line and not line.strip(" \t|:-")


def _line_at(text: str, start: int) -> str:
    end = text.find("\n", start)
    return text[start:end if end >= 0 else len(text)]


def _fences_closed(text: str) -> str:
    """``text`` with a code fence it leaves open closed."""
    open_fence = None  # (what comes before it on the line, its characters)
    for line in text.split("\n"):
        found = FENCE.fullmatch(line)
        if found is None:
            continue
        container, fence, rest = found.groups()
        if open_fence is None:
            if fence[0] == "~" or "`" not in rest:  # else it is inline code, not a fence
                open_fence = (container, fence)
        elif fence[0] == open_fence[1][0] and len(fence) >= len(open_fence[1]) \
                and not rest.strip():
            open_fence = None
    return text if open_fence is None else f"{text}\n{open_fence[0]}{open_fence[1]}"


def local_today(zone: tzinfo) -> date:
    """Today's date in ``zone``."""
    return datetime.now(zone).date()
