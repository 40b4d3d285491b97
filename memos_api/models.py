"""Typed results of the MemOS message API, parsed defensively from untrusted JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from .timestamps import BEIJING, parse_timestamp

# Field names MemOS has used for a message's time, most specific first (see shared docs).
CREATED_FIELDS = ("chat_time", "create_time", "update_time")
KNOWN_FIELDS = frozenset({"role", "content", *CREATED_FIELDS})


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

    @property
    def text(self) -> str:
        """The message's text parts joined; non-text parts are left out."""
        return "\n\n".join(part.text for part in self.parts if part.kind == "text")


@dataclass(frozen=True)
class AddResult:
    """The answer of ``/add/message``."""

    success: bool
    task_id: str
    status: str


def message_from_api(item: object, default_tz: tzinfo = BEIJING) -> Message:
    """Build a Message from one ``message_detail_list`` item, whatever its shape."""
    if not isinstance(item, dict):
        return Message(role="", parts=_encodable_parts(parse_content(item)))
    role = item.get("role")
    times = [parse_timestamp(item.get(name), default_tz) for name in CREATED_FIELDS]
    created = next((moment for moment in times if moment is not None), None)
    stored, updated = times[1], times[2]  # create_time, update_time
    return Message(
        role=_encodable(role if isinstance(role, str) else "" if role is None else str(role)),
        parts=_encodable_parts(parse_content(item.get("content"))),
        created_at=created,
        updated_at=updated,
        # chat_time is when it was said, create_time when MemOS stored it: only the latter
        # says whether update_time is a later edit.
        edited=bool(stored and updated and updated > stored),
        extra={key: value for key, value in item.items() if key not in KNOWN_FIELDS},
    )


def _encodable(text: str) -> str:
    """``text`` with lone surrogates (JSON can escape them, UTF-8 cannot hold them) as "?"."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def _encodable_parts(parts: tuple[ContentPart, ...]) -> tuple[ContentPart, ...]:
    return tuple(ContentPart(_encodable(part.kind), _encodable(part.text)) for part in parts)


def parse_content(content: object) -> tuple[ContentPart, ...]:
    """Turn a string, a list of OpenAI-style parts, or any odd value into content parts."""
    if content is None:
        return ()
    if isinstance(content, str):
        return (ContentPart("text", content),)
    if isinstance(content, list):
        return tuple(part for item in content for part in _parse_part(item))
    return tuple(_parse_part(content))


def _parse_part(item: object) -> tuple[ContentPart, ...]:
    if isinstance(item, str):
        return (ContentPart("text", item),)
    if not isinstance(item, dict):
        return (ContentPart("text", _as_text(item)),) if item is not None else ()
    kind = item.get("type")
    kind = kind if isinstance(kind, str) and kind else "text" if "text" in item else "data"
    if kind == "text":
        return (ContentPart("text", _as_text(item.get("text"))),)
    return (ContentPart(kind, _part_label(item, kind)),)


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


def sort_by_time(messages: list[Message]) -> list[Message]:
    """Order messages by creation time, stably; messages without a time keep their places."""
    timed_slots = [index for index, message in enumerate(messages) if message.created_at]
    timed = sorted((messages[index] for index in timed_slots), key=lambda m: m.created_at)
    result = list(messages)
    for index, message in zip(timed_slots, timed):
        result[index] = message
    return result
