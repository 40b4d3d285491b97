"""How messages are laid out: day breaks, and what collapses when long."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from memos_api import Message

QUIET_ROLES = frozenset({"system", "tool"})
LONG_CHARACTERS, LONG_LINES = 3000, 40           # a chat message that collapses
QUIET_LONG_CHARACTERS, QUIET_LONG_LINES = 400, 8  # a system or tool message that collapses
EXCERPT_CHARACTERS = 280


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


def excerpt(message: Message) -> str:
    """The start of a long message, shown while it is collapsed."""
    text = " ".join(message.text.split())
    return text if len(text) <= EXCERPT_CHARACTERS else text[:EXCERPT_CHARACTERS].rstrip() + "…"


def local_today(zone: tzinfo) -> date:
    """Today's date in ``zone``."""
    return datetime.now(zone).date()
