"""Typed results of the MemOS message API, parsed defensively from untrusted JSON."""

from __future__ import annotations

import json
import operator
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from .timestamps import BEIJING, parse_timestamp

# Field names MemOS has used for a message's time, most specific first (see shared docs).
CREATED_FIELDS = ("chat_time", "create_time", "update_time")
KNOWN_FIELDS = frozenset({"role", "content", *CREATED_FIELDS})
# Parts of one message's content read; the rest are only counted (``Message.more_parts``).
# Each part shown costs the same whatever it holds (an empty string too), so it is their
# number, not the text's length, that must be bounded: 2,000,000 empty strings (6 MB) made
# 82 MB of HTML and 13 s of CPU per view. A hundred is more than any chat sends.
MAX_PARTS = 100
TOO_DEEP = "…"  # the text of a value nested too deeply to write out


@dataclass(frozen=True)
class ContentPart:
    """One part of a message: ``kind`` is "text" or the part's declared type (image_url, ...).

    ``text`` holds the text of a text part, or for other parts a label (a file name or URL).
    """

    kind: str
    text: str


@dataclass(frozen=True)
class Message:
    """A restored chat message. Any field may be empty: upstream data is not trusted."""

    role: str
    parts: tuple[ContentPart, ...]
    created_at: datetime | None = None
    updated_at: datetime | None = None
    edited: bool = False
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    # As MemOS sent them, for exports that go back into MemOS: ``content`` may be a list of
    # parts (images, files) that ``parts`` only labels, and ``chat_time`` the text it was
    # written as (None when it had none, or not as text).
    content: Any = field(default=None, compare=False, repr=False)
    chat_time: str | None = field(default=None, compare=False, repr=False)
    more_parts: int = 0  # parts of ``content`` past MAX_PARTS: not in ``parts``, not shown

    @property
    def text(self) -> str:
        """The message's text parts joined; non-text parts are left out."""
        return "\n\n".join(part.text for part in self.parts if part.kind == "text")

    # A page hashes each message several times (its element id, the rendered-message cache),
    # and the compared fields' hash, zone-aware datetimes among them, is worked out each time
    # (~0.7 ms of a 1000-message page): it is kept once made. It is this process's own (str
    # hashes are keyed per process), so it is never pickled.
    def __hash__(self) -> int:
        known = self.__dict__.get("_hash")
        if known is None:
            # frozen: set in __dict__, not through __setattr__; the fields eq compares.
            known = self.__dict__["_hash"] = hash((
                self.role, self.parts, self.created_at, self.updated_at, self.edited,
                self.more_parts))
        return known

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_hash", None)
        return state



def _message(**fields: Any) -> Message:
    """``Message(**fields)``, every field given, without the frozen dataclass's __init__: its
    ten guarded assignments were half of parsing a message (1.4 of 3.1 us)."""
    message = object.__new__(Message)
    message.__dict__.update(fields)
    return message


@dataclass(frozen=True)
class AddResult:
    """The answer of ``/add/message``."""

    success: bool
    task_id: str
    status: str


def message_from_api(item: object, default_tz: tzinfo = BEIJING) -> Message:
    """Build a Message from one ``message_detail_list`` item, whatever its shape."""
    if not isinstance(item, dict):
        return Message(role="", parts=parse_content(item), content=item,
                       more_parts=parts_beyond(item))
    role = item.get("role")
    if not isinstance(role, str):
        role = "" if role is None else str(role)
    chat_time = item.get("chat_time")
    said = parse_timestamp(chat_time, default_tz)
    stored = parse_timestamp(item.get("create_time"), default_tz)
    updated = parse_timestamp(item.get("update_time"), default_tz)
    return _message(
        role=_encodable(role),
        parts=parse_content(item.get("content")),
        created_at=said or stored or updated,  # CREATED_FIELDS' order
        updated_at=updated,
        # chat_time is when it was said, create_time when MemOS stored it: only the latter
        # says whether update_time is a later edit.
        edited=bool(stored and updated and updated > stored),
        extra={} if item.keys() <= KNOWN_FIELDS
        else {key: value for key, value in item.items() if key not in KNOWN_FIELDS},
        content=item.get("content"),
        chat_time=chat_time if isinstance(chat_time, str) and chat_time.strip() else None,
        more_parts=parts_beyond(item.get("content")),
    )


def _encodable(text: str) -> str:
    """``text`` with lone surrogates (JSON can escape them, UTF-8 cannot hold them) as "?"."""
    if text.isascii():  # O(1) in CPython, and most text is
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def parse_content(content: object) -> tuple[ContentPart, ...]:
    """Turn a string, a list of OpenAI-style parts (the first ``MAX_PARTS``), or any odd value
    into content parts, every text UTF-8 encodable."""
    if isinstance(content, str):
        return (ContentPart("text", _encodable(content)),)
    if content is None:
        return ()
    if isinstance(content, list):
        return tuple(part for item in content[:MAX_PARTS] for part in _parse_part(item))
    return tuple(_parse_part(content))


def parts_beyond(content: object) -> int:
    """How many parts of ``content`` ``parse_content`` leaves out (past ``MAX_PARTS``)."""
    return max(0, len(content) - MAX_PARTS) if isinstance(content, list) else 0


def _parse_part(item: object) -> tuple[ContentPart, ...]:
    if isinstance(item, str):
        return (ContentPart("text", _encodable(item)),)
    if not isinstance(item, dict):
        return (ContentPart("text", _encodable(_as_text(item))),) if item is not None else ()
    kind = item.get("type")
    kind = kind if isinstance(kind, str) and kind else "text" if "text" in item else "data"
    if kind == "text":
        return (ContentPart("text", _encodable(_as_text(item.get("text")))),)
    return (ContentPart(_encodable(kind), _encodable(_part_label(item, kind))),)


def _part_label(item: dict, kind: str) -> str:
    """A short human label for a non-text part: its file name or URL when it has one."""
    for source in (item.get(kind), item):  # {"type": "file", "file": {...}} or flat fields
        if isinstance(source, str) and source:
            return source
        if isinstance(source, dict):
            for key in ("filename", "file_name", "name", "url", "file_id"):
                if isinstance(source.get(key), str) and source[key]:
                    return source[key]
    return ""


def _as_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        return repr(value)
    except RecursionError:
        # Parsed a few frames up, nested too deeply to write again down here (repr would
        # recurse as deep): the answer's other fields are still read.
        return TOO_DEEP


def sort_by_time(messages: list[Message]) -> list[Message]:
    """Order messages by creation time, stably; messages without a time keep their places."""
    times = [message.created_at for message in messages]
    # Most answers come in order: one pass tells, where sorting took twice as long.
    if None not in times and all(map(operator.le, times, times[1:])):
        return list(messages)
    timed_slots = [index for index, message in enumerate(messages) if message.created_at]
    timed = sorted((messages[index] for index in timed_slots), key=lambda m: m.created_at)
    result = list(messages)
    for index, message in zip(timed_slots, timed, strict=True):
        result[index] = message
    return result
