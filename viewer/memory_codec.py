"""The memory panel's answers as JSON, for its reads shared across instances (viewer/sharing.py).

A pass over a user's memories (``("pages", user, max_pages)``: a list of ``MemoryPage``) or a
search (``("search", user, conversation, query)``: one ``MemoryPage``) is written as arrays of
its fields in a fixed order, under the panel's own keys and format, and read back only when it
is exactly what this module writes: every field there, of its type, within the bounds a real
answer has (memos_api/memories.py reads at most ``MAX_LIST_ITEMS`` of any list; no more pages
than the read asked for). Anything else raises, and the reader makes its own call.

What is not shared: the fields MemOS sent that memos_api keeps but does not read (``extra``, and
a skill's raw ``value``). The panel never shows them, they may be large (an item's embedding)
or nested without bound, and they take no part in an item's equality.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from memos_api import Memory, MemoryPage, MemorySource, Preference, Skill, ToolMemory, ToolUse
from memos_api.memories import MAX_LIST_ITEMS
from memos_api.timestamps import in_range

from .sharing import Codec, Key

MEMORY_FORMAT = "memory-pages/1"  # the layout below; change it with the layout
NOT_SHARED = frozenset({"extra", "value"})


@dataclass(frozen=True)
class Field:
    """How one field is written (``encode``) and read back (``decode``, raising on a value
    this module would not have written)."""

    encode: Callable[[Any], Any]
    decode: Callable[[Any], Any]


def _same(value: Any) -> Any:
    return value


def _text(value: Any) -> str:
    if type(value) is not str:
        raise TypeError("not a text")
    return value


def _optional_text(value: Any) -> str | None:
    return None if value is None else _text(value)


def _score(upper: float) -> Field:
    """A float in 0..upper, or None: as memos_api reads scores."""

    def decode(value: Any) -> float | None:
        if value is None:
            return None
        if type(value) is not float or not math.isfinite(value) or not 0 <= value <= upper:
            raise ValueError("not a score")
        return value

    return Field(_same, decode)


def _count(value: Any) -> int | None:
    if value is None:
        return None
    if type(value) is not int or value < 0:
        raise ValueError("not a count")
    return value


def _write_moment(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _read_moment(value: Any) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(_text(value))
    # Ours always carry their zone, and stay a valid datetime in any zone a page shows.
    if moment.tzinfo is None or not in_range(moment):
        raise ValueError("not a moment of ours")
    return moment


def _list(value: Any) -> list:
    if type(value) is not list or len(value) > MAX_LIST_ITEMS:
        raise ValueError("not a list of ours")
    return value


def _many(field: Field) -> Field:
    return Field(lambda items: [field.encode(item) for item in items],
                 lambda value: tuple(field.decode(item) for item in _list(value)))


def _record(cls: type, fields: dict[str, Field]) -> Field:
    """An instance of ``cls`` as the array of ``fields`` (in their order)."""
    names = tuple(fields)

    def encode(item: Any) -> list:
        if type(item) is not cls:
            raise TypeError(f"not a {cls.__name__}")
        return [field.encode(getattr(item, name)) for name, field in fields.items()]

    def decode(value: Any) -> Any:
        if type(value) is not list or len(value) != len(names):
            raise ValueError(f"not a {cls.__name__} of ours")
        return cls(**{name: field.decode(item)
                      for (name, field), item in zip(fields.items(), value, strict=True)})

    return Field(encode, decode)


TEXT = Field(_same, _text)
OPTIONAL_TEXT = Field(_same, _optional_text)
COUNT = Field(_same, _count)
MOMENT = Field(_write_moment, _read_moment)
TEXTS = Field(list, lambda value: tuple(_text(item) for item in _list(value)))
SCORE, SHARE = _score(math.inf), _score(1.0)  # any score >= 0; a share of 1 (confidence)
SHARED = {  # every kind's (memos_api.memories._Shared)
    "conversation_id": TEXT, "status": TEXT, "relativity": SCORE,
    "created_at": MOMENT, "updated_at": MOMENT,
    "create_time": OPTIONAL_TEXT, "update_time": OPTIONAL_TEXT,
}
# Each type's fields, in the order they are written; every one but NOT_SHARED.
FIELDS: dict[type, dict[str, Field]] = {
    MemorySource: {"role": TEXT, "text": TEXT, "chat_time": OPTIONAL_TEXT, "said_at": MOMENT,
                   "message_id": OPTIONAL_TEXT, "kind": TEXT},
    ToolUse: {"used_tool": TEXT, "error_type": TEXT, "success_rate": SHARE,
              "tool_experience": TEXT},
}
SOURCES = _many(_record(MemorySource, FIELDS[MemorySource]))
FIELDS[Memory] = {**SHARED, "id": TEXT, "memory_key": TEXT, "memory_value": TEXT,
                  "memory_type": TEXT, "confidence": SHARE, "tags": TEXTS, "sources": SOURCES}
FIELDS[Preference] = {**SHARED, "id": TEXT, "preference": TEXT, "preference_type": TEXT,
                      "reasoning": TEXT, "sources": SOURCES}
FIELDS[ToolMemory] = {**SHARED, "id": TEXT, "tool_type": TEXT, "tool_value": TEXT,
                      "experience": TEXT,
                      "tool_used_status": _many(_record(ToolUse, FIELDS[ToolUse])),
                      "sources": SOURCES}
FIELDS[Skill] = {**SHARED, "id": TEXT, "name": TEXT, "description": TEXT, "procedure": TEXT,
                 "experience": TEXTS, "preferences": TEXTS, "examples": TEXTS,
                 "skill_type": TEXT, "skill_url": TEXT, "confidence": SHARE, "tags": TEXTS}
FIELDS[MemoryPage] = {
    "memories": _many(_record(Memory, FIELDS[Memory])),
    "preferences": _many(_record(Preference, FIELDS[Preference])),
    "tool_memories": _many(_record(ToolMemory, FIELDS[ToolMemory])),
    "skills": _many(_record(Skill, FIELDS[Skill])),
    "total": COUNT, "size": COUNT, "current": COUNT, "pages": COUNT, "preference_note": TEXT,
}
PAGE = _record(MemoryPage, FIELDS[MemoryPage])


def encode(value: list[MemoryPage] | MemoryPage, key: Key) -> list:
    """A pass's pages (a ``pages`` read) or a search's page, as JSON arrays."""
    if key[0] == "pages":
        return [PAGE.encode(page) for page in value]
    if key[0] == "search":
        return PAGE.encode(value)
    raise ValueError("not a memory read")


def decode(data: Any, key: Key) -> list[MemoryPage] | MemoryPage:
    """What ``encode`` wrote for ``key``; raises for anything else."""
    if key[0] == "pages" and len(key) == 3:
        if type(data) is not list or not 1 <= len(data) <= key[2]:
            raise ValueError("not a pass of ours")
        return [PAGE.decode(page) for page in data]
    if key[0] == "search" and len(key) == 4:
        return PAGE.decode(data)
    raise ValueError("not a memory read")


MEMORY_CODEC = Codec(space=("memories",), format=MEMORY_FORMAT, field="pages",
                     encode=encode, decode=decode)
