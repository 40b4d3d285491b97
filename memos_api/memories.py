"""Typed results of MemOS's memory API (``/get/memory``, ``/search/memory``), read defensively.

Every field comes from outside: a wrong type, a missing field, an unknown memory type or an
odd timestamp never raises. Text is kept whole (the renderer bounds what it shows) and made
UTF-8 encodable; of a list, the first ``MAX_LIST_ITEMS`` items are read. Times are parsed like
messages' (epoch milliseconds, numeric strings, ISO 8601, ``YYYY-MM-DD HH:MM:SS`` in the
default zone); the value as sent is kept beside the parsed one.

Besides MemOS's documented field names this reads the camelCase ones its docs' examples show
(``updateTime``), and the open-source server's (``memory``, ``created_at``, a ``metadata``
object holding the rest).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from .models import _as_text, _encodable, parse_content
from .timestamps import BEIJING, parse_timestamp

MAX_PAGE_SIZE = 50       # /get/memory's documented "size" maximum (the SDK refuses more)
MAX_SEARCH_LIMIT = 25    # /search/memory's documented memory_limit_number maximum
DEFAULT_SEARCH_LIMIT = 6
# Items read from any one list (an answer's lists; an item's sources, tags or steps): twice
# the most a request can ask for. Reading costs ~9 us an item, so a 16 MB answer of 5.6 million
# empty items took 50 s of CPU; the rest of a longer list is not read.
MAX_LIST_ITEMS = 2 * MAX_PAGE_SIZE

# The lists an answer's ``data`` may hold; one must be a list for it to be an answer.
MEMORY_LISTS = ("memory_detail_list", "preference_detail_list", "tool_memory_detail_list",
                "skill_detail_list", "profile_detail_list", "event_detail_list")
# Newer answers split some facts out by kind; they are facts all the same, read as memories.
_MORE_FACTS = {"profile_detail_list": "ProfileMemory", "event_detail_list": "EventMemory"}
_CREATED = ("create_time", "createTime", "created_at", "createdAt")
_UPDATED = ("update_time", "updateTime", "updated_at", "updatedAt")
_COMMON = frozenset({"id", "conversation_id", "status", "relativity", "sources", "metadata",
                     *_CREATED, *_UPDATED})


@dataclass(frozen=True)
class MemorySource:
    """A message a memory was taken from, as MemOS describes it (it gives no message id).

    ``role``, ``text`` (the content's text parts joined) and ``chat_time`` (as sent) are what
    a viewer matches against the conversation's messages; ``said_at`` is ``chat_time`` parsed.
    A source that is not an object keeps its text (or JSON) in ``text``.
    """

    role: str = ""
    text: str = ""
    chat_time: str | None = None
    said_at: datetime | None = None
    message_id: str | None = None
    kind: str = ""  # MemOS's "type": chat, doc, web, file...


@dataclass(frozen=True, kw_only=True)
class _Shared:
    """The fields every kind of memory has (``_shared`` reads them), keyword-only.

    ``relativity`` (search only) is the score MemOS sent, any finite number >= 0 (the cloud's
    examples show values as small as 1.7e-4). ``create_time``/``update_time`` hold the times
    as sent, as text (epoch milliseconds come as digits); ``created_at``/``updated_at`` are
    them parsed, or None when unreadable. ``extra`` holds the fields not read.
    """

    conversation_id: str = ""
    status: str = ""
    relativity: float | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    create_time: str | None = field(default=None, compare=False, repr=False)
    update_time: str | None = field(default=None, compare=False, repr=False)
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class Memory(_Shared):
    """A fact MemOS extracted (``memory_type``: LongTermMemory, UserMemory, WorkingMemory...);
    ``confidence`` is in 0..1 or None."""

    id: str
    memory_key: str
    memory_value: str
    memory_type: str = ""
    confidence: float | None = None
    tags: tuple[str, ...] = ()
    sources: tuple[MemorySource, ...] = ()


@dataclass(frozen=True)
class Preference(_Shared):
    """A preference (``preference_type``: explicit_preference or implicit_preference)."""

    id: str
    preference: str
    preference_type: str = ""
    reasoning: str = ""
    sources: tuple[MemorySource, ...] = ()


@dataclass(frozen=True)
class ToolUse:
    """One step of a tool trajectory: the tool, how it went, what was learnt."""

    used_tool: str = ""
    error_type: str = ""
    success_rate: float | None = None
    tool_experience: str = ""


@dataclass(frozen=True)
class ToolMemory(_Shared):
    """Tool experience (``tool_type``: ToolTrajectoryMemory or ToolSchema)."""

    id: str
    tool_type: str = ""
    tool_value: str = ""
    experience: str = ""
    tool_used_status: tuple[ToolUse, ...] = ()
    sources: tuple[MemorySource, ...] = ()


@dataclass(frozen=True)
class Skill(_Shared):
    """A skill: its ``skill_value`` object read into name, description, procedure and lists.

    ``value`` keeps ``skill_value`` as sent; when it is not an object its text (or JSON) is
    the ``description``. Skills have no sources.
    """

    id: str
    name: str = ""
    description: str = ""
    procedure: str = ""
    experience: tuple[str, ...] = ()
    preferences: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    skill_type: str = ""
    skill_url: str = ""
    confidence: float | None = None
    tags: tuple[str, ...] = ()
    value: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class MemoryPage:
    """One answer of ``/get/memory`` (one page) or ``/search/memory`` (paging fields None).

    Each list is in the order MemOS sent it. ``total`` is, as MemOS documents it, the largest
    count across the kinds, ``size`` the entries per kind on a page, ``current`` this page's
    number (from 1), ``pages`` how many there are: each an int >= 0, or None when missing or
    unreadable. ``preference_note`` is search's advice on using the preferences.
    """

    memories: tuple[Memory, ...] = ()
    preferences: tuple[Preference, ...] = ()
    tool_memories: tuple[ToolMemory, ...] = ()
    skills: tuple[Skill, ...] = ()
    total: int | None = None
    size: int | None = None
    current: int | None = None
    pages: int | None = None
    preference_note: str = ""

    @property
    def has_more(self) -> bool:
        """Whether a later page may hold more: from ``pages``, else ``total``, else whether
        some kind filled the page."""
        if self.current is not None and self.pages is not None:
            return self.current < self.pages
        if self.current is not None and self.total is not None and self.size:
            return self.current * self.size < self.total
        longest = max(len(self.memories), len(self.preferences), len(self.tool_memories),
                      len(self.skills))
        return bool(self.size) and longest >= self.size


def has_memory_lists(data: object) -> bool:
    """Whether ``data`` looks like a memory answer: an object with at least one known list
    (the others may be missing or null)."""
    return isinstance(data, Mapping) and any(isinstance(data.get(key), list)
                                             for key in MEMORY_LISTS)


def memory_page_from_api(data: Mapping[str, Any], default_tz: tzinfo = BEIJING) -> MemoryPage:
    """Build a MemoryPage from an answer's ``data``; lists that are not lists read as empty."""
    memories = [memory_from_api(item, default_tz) for item in _items(data, "memory_detail_list")]
    seen = {memory.id for memory in memories if memory.id}
    for key, kind in _MORE_FACTS.items():
        for item in _items(data, key):
            memory = memory_from_api(item, default_tz, default_type=kind)
            if not memory.id or memory.id not in seen:
                seen.add(memory.id)
                memories.append(memory)
    note = data.get("preference_note")
    return MemoryPage(
        memories=tuple(memories),
        preferences=tuple(preference_from_api(item, default_tz)
                          for item in _items(data, "preference_detail_list")),
        tool_memories=tuple(tool_memory_from_api(item, default_tz)
                            for item in _items(data, "tool_memory_detail_list")),
        skills=tuple(skill_from_api(item, default_tz)
                     for item in _items(data, "skill_detail_list")),
        total=_count(data.get("total")), size=_count(data.get("size")),
        current=_count(data.get("current")), pages=_count(data.get("pages")),
        preference_note=_encodable(note) if isinstance(note, str) else "",
    )


def memory_from_api(item: object, default_tz: tzinfo = BEIJING, *,
                    default_type: str = "") -> Memory:
    """Build a Memory from one list item, whatever its shape.

    An item that is not an object, or has neither key nor value, keeps its JSON as the value.
    """
    fields = _fields(item)
    if fields is None:
        return Memory(id="", memory_key="", memory_value=_plain(item),
                      memory_type=default_type)
    key = _string(fields, "memory_key", "key", "title")
    value = _string(fields, "memory_value", "memory", "value")
    if not key and not value:
        value = _plain(item)
    return Memory(
        id=_string(fields, "id"), memory_key=key, memory_value=value,
        memory_type=_string(fields, "memory_type") or default_type,
        confidence=_score(fields.get("confidence"), upper=1.0),
        tags=_strings(fields.get("tags")),
        **_shared(fields, default_tz),
        extra=_extra(fields, {"memory_key", "key", "title", "memory_value", "memory", "value",
                              "memory_type", "confidence", "tags"}),
    )


def preference_from_api(item: object, default_tz: tzinfo = BEIJING) -> Preference:
    """Build a Preference from one list item (the JSON of an odd item is its text)."""
    fields = _fields(item)
    if fields is None:
        return Preference(id="", preference=_plain(item))
    text = _string(fields, "preference", "memory", "preference_value")
    return Preference(
        id=_string(fields, "id"), preference=text or _plain(item),
        preference_type=_string(fields, "preference_type"),
        reasoning=_string(fields, "reasoning"),
        **_shared(fields, default_tz),
        extra=_extra(fields, {"preference", "memory", "preference_value", "preference_type",
                              "reasoning"}),
    )


def tool_memory_from_api(item: object, default_tz: tzinfo = BEIJING) -> ToolMemory:
    """Build a ToolMemory from one list item (the JSON of an odd item is its value)."""
    fields = _fields(item)
    if fields is None:
        return ToolMemory(id="", tool_value=_plain(item))
    value = _string(fields, "tool_value", "memory", "value")
    experience = _string(fields, "experience")
    steps = fields.get("tool_used_status")
    steps = steps if isinstance(steps, list) else [steps] if isinstance(steps, dict) else []
    uses = tuple(_tool_use(step) for step in steps[:MAX_LIST_ITEMS])
    if not value and not experience and not uses:
        value = _plain(item)
    return ToolMemory(
        id=_string(fields, "id"), tool_type=_string(fields, "tool_type"), tool_value=value,
        experience=experience, tool_used_status=uses,
        **_shared(fields, default_tz),
        extra=_extra(fields, {"tool_type", "tool_value", "memory", "value", "experience",
                              "tool_used_status"}),
    )


def skill_from_api(item: object, default_tz: tzinfo = BEIJING) -> Skill:
    """Build a Skill from one list item (the JSON of an odd item is its description)."""
    fields = _fields(item)
    if fields is None:
        return Skill(id="", description=_plain(item), value=item)
    value = fields.get("skill_value", fields.get("memory"))
    if isinstance(value, str) and value.lstrip().startswith("{"):
        value = _json_object(value) or value
    parts = value if isinstance(value, dict) else {}
    description = _string(parts, "description") if parts else (
        _plain(value) if value is not None else "")
    name = _string(parts, "name")
    procedure = _string(parts, "procedure")
    if not (name or description or procedure):
        description = _plain(value if parts else item)
    shared = _shared(fields, default_tz)
    del shared["sources"]  # skills have none documented
    return Skill(
        id=_string(fields, "id"), name=name, description=description, procedure=procedure,
        experience=_strings(parts.get("experience")), preferences=_strings(parts.get("preference")),
        examples=_strings(parts.get("examples")),
        skill_type=_string(fields, "skill_type"), skill_url=_string(fields, "skill_url"),
        confidence=_score(fields.get("confidence"), upper=1.0),
        tags=_strings(fields.get("tags")), value=value,
        **shared,
        extra=_extra(fields, {"skill_value", "memory", "skill_type", "skill_url", "confidence",
                              "tags"}),
    )


def source_from_api(item: object, default_tz: tzinfo = BEIJING) -> MemorySource:
    """Build a MemorySource from one ``sources`` item: an object, JSON text, or plain text."""
    if isinstance(item, str) and item.lstrip().startswith("{"):
        item = _json_object(item) or item
    if not isinstance(item, dict):
        return MemorySource(text=_plain(item) if item is not None else "")
    chat_time = item.get("chat_time")
    chat_time = chat_time if isinstance(chat_time, str) and chat_time.strip() else None
    parts = parse_content(item.get("content"))
    return MemorySource(
        role=_string(item, "role"),
        text="\n\n".join(part.text for part in parts if part.kind == "text"),
        chat_time=_encodable(chat_time) if chat_time else None,
        said_at=parse_timestamp(chat_time, default_tz),
        message_id=_string(item, "message_id") or None,
        kind=_string(item, "type"),
    )


# --- reading fields --------------------------------------------------------------------------


def _items(data: Mapping[str, Any], key: str) -> list:
    items = data.get(key)
    return items[:MAX_LIST_ITEMS] if isinstance(items, list) else []


def _fields(item: object) -> dict[str, Any] | None:
    """The item's fields, with those of a nested ``metadata`` object (the open-source shape)
    where the item itself lacks them; None when the item is not an object."""
    if not isinstance(item, dict):
        return None
    metadata = item.get("metadata")
    if isinstance(metadata, dict):
        return {**metadata, **{k: v for k, v in item.items() if k != "metadata"}}
    return item


def _shared(fields: Mapping[str, Any], default_tz: tzinfo) -> dict[str, Any]:
    """The ``_Shared`` fields, and ``sources`` (every kind but skills has them)."""
    created, create_time = _time(fields, _CREATED, default_tz)
    updated, update_time = _time(fields, _UPDATED, default_tz)
    sources = fields.get("sources")
    if not isinstance(sources, list):
        sources = [] if sources is None else [sources]
    return {
        "conversation_id": _string(fields, "conversation_id", "conversationId", "session_id"),
        "status": _string(fields, "status"),
        "relativity": _score(fields.get("relativity")),
        "created_at": created, "updated_at": updated,
        "create_time": create_time, "update_time": update_time,
        "sources": tuple(source_from_api(source, default_tz)
                         for source in sources[:MAX_LIST_ITEMS]),
    }


def _time(fields: Mapping[str, Any], names: tuple[str, ...],
          default_tz: tzinfo) -> tuple[datetime | None, str | None]:
    """The first of ``names`` present: parsed, and as sent (as text)."""
    for name in names:
        value = fields.get(name)
        if value is None or value == "":
            continue
        return parse_timestamp(value, default_tz), _plain(value)
    return None, None


def _string(fields: Mapping[str, Any], *names: str) -> str:
    """The first of ``names`` that holds something: strings as they are, numbers as digits,
    anything else as JSON; "" when none does."""
    for name in names:
        value = fields.get(name)
        if value is None or value == "":
            continue
        return _plain(value)
    return ""


def _strings(value: object) -> tuple[str, ...]:
    """A list of strings (or one string) as a tuple; other items as text, empty ones dropped."""
    if value is None:
        return ()
    items = value[:MAX_LIST_ITEMS] if isinstance(value, list) else [value]
    texts = (_plain(item) for item in items if item is not None)
    return tuple(text for text in texts if text.strip())


def _score(value: object, *, upper: float = math.inf) -> float | None:
    """A finite number in 0..upper (numeric strings too), or None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip()) if len(value) <= 64 else None
        except ValueError:
            return None
    if not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float
        return None
    return number if math.isfinite(number) and 0 <= number <= upper else None


def _count(value: object) -> int | None:
    """A whole number >= 0 (an integral float or digits count too), or None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float):
        return int(value) if value.is_integer() and value >= 0 else None
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() \
            and len(value.strip()) <= 18:
        return int(value.strip())
    return None


def _tool_use(step: object) -> ToolUse:
    if not isinstance(step, dict):
        return ToolUse(tool_experience=_plain(step))
    return ToolUse(used_tool=_string(step, "used_tool"), error_type=_string(step, "error_type"),
                   success_rate=_score(step.get("success_rate"), upper=1.0),
                   tool_experience=_string(step, "tool_experience"))


def _extra(fields: Mapping[str, Any], read: set[str]) -> dict[str, Any]:
    if fields.keys() <= _COMMON | read:
        return {}
    return {key: value for key, value in fields.items() if key not in _COMMON and key not in read}


def _plain(value: object) -> str:
    """``value`` as encodable text: a string as it is, anything else as JSON."""
    return _encodable(value if isinstance(value, str) else _as_text(value))


def _json_object(text: str) -> dict | None:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def check_get_arguments(user_id: object, page: object, size: object) -> None:
    """Refuse what ``/get/memory`` would: a missing user, a page < 1, a size outside 1..50."""
    if not isinstance(user_id, str) or not user_id.strip():
        raise ValueError("user_id must be a non-empty string")
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise ValueError(f"page must be an integer of at least 1, not {page!r}")
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_PAGE_SIZE:
        raise ValueError(f"size must be an integer from 1 to {MAX_PAGE_SIZE}, not {size!r}")


def check_search_arguments(query: object, user_id: object, limit: object) -> None:
    """Refuse what ``/search/memory`` would: an empty query or user, a limit outside 1..25."""
    if not isinstance(query, str) or not query.strip():
        raise ValueError("query must be a non-empty string")
    if not isinstance(user_id, str) or not user_id.strip():
        raise ValueError("user_id must be a non-empty string")
    if isinstance(limit, bool) or not isinstance(limit, int) \
            or not 1 <= limit <= MAX_SEARCH_LIMIT:
        raise ValueError(f"memory_limit_number must be an integer from 1 to "
                         f"{MAX_SEARCH_LIMIT}, not {limit!r}")
