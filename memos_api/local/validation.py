"""Check what the store is given the way MemOS does, raising InvalidRequestError with its codes.

Messages come in the ``/add/message`` shape; memories in the ``/get/memory`` item shape.
"""

from __future__ import annotations

import json
import time
import unicodedata
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import tzinfo

from ..errors import error_for_code, InvalidRequestError
from ..models import MAX_PARTS
from ..timestamps import BEIJING, parse_timestamp

MAX_ID_LENGTH = 100  # MemOS answers 40010 / 40011 beyond this


def invalid(code: int, detail: str) -> InvalidRequestError:
    """The error MemOS's ``code`` maps to, with a message saying exactly what is wrong."""
    return type(error_for_code(code))(detail, code=code)


def check_ids(user_id: object, conversation_id: object) -> None:
    """Require both ids: non-empty strings (40002) of at most 100 characters (40010/40011)."""
    check_id("user_id", user_id)
    check_id("conversation_id", conversation_id)


def check_id(name: str, value: object, *, required: bool = True) -> str | None:
    """Return the id ``name`` (None when absent and not ``required``), or raise: 40002 when
    required and empty, 40000 when not a string, 40010/40011 beyond 100 characters."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if not required:
            return None
        raise invalid(40002, f"{name} is required and must not be empty")
    if not isinstance(value, str):
        raise invalid(40000, f"{name} must be a string")
    if not _is_unicode(value):
        raise invalid(40000, f"{name} holds a lone surrogate, which is not valid Unicode")
    if len(value) > MAX_ID_LENGTH:
        raise invalid(40010 if name == "user_id" else 40011,
                      f"{name} is longer than {MAX_ID_LENGTH} characters")
    return value


def check_query(value: object) -> str:
    """Return search's ``query``: a non-empty string (40002 when empty, 40000 when not text).
    Its length is not checked: search reads a bounded prefix (``memory_search``)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise invalid(40002, "query is required and must not be empty")
    if not isinstance(value, str):
        raise invalid(40000, "query must be a string")
    return value


def check_number(name: str, value: object, default: int, low: int, high: int) -> int:
    """Return the integer ``name``, ``default`` when absent; 40000 unless in low..high."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(40000, f"{name} must be an integer")
    if not low <= value <= high:
        raise invalid(40000, f"{name} must be from {low} to {high}, not {value}")
    return value


def check_flag(name: str, value: object, default: bool) -> bool:
    """Return the boolean ``name``, ``default`` when absent; 40000 for anything else."""
    if value is None:
        return default
    if not isinstance(value, bool):
        raise invalid(40000, f"{name} must be true or false")
    return value


def check_filter(value: object) -> None:
    """Accept no filter (or an empty one): this store cannot apply MemOS's filter language,
    and returning unfiltered memories for a filtered request would mislead."""
    if value is None or value == {}:
        return
    if not isinstance(value, Mapping):
        raise invalid(40000, "filter must be an object")
    raise invalid(40000, "filter is not supported by this local store")


def check_limit(limit: object) -> int | None:
    """Return ``limit`` if it is None or an integer (bools are not); else raise 40000."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
        raise invalid(40000, "message_limit_number must be an integer")
    return limit


def encode_messages(messages: object) -> list[str]:
    """Check every message and return each as JSON; raise at the first fault found.

    A missing or empty list is 40002 (a required field is empty); anything else wrong is 40000,
    naming the message's index and the faulty field.
    """
    if messages is None or (isinstance(messages, (list, tuple)) and not messages):
        raise invalid(40002, "messages is required and must not be empty")
    if not isinstance(messages, (list, tuple)):
        raise invalid(40000, "messages must be a list of message objects")
    return [_encode_message(index, message) for index, message in enumerate(messages)]


def _encode_message(index: int, message: object) -> str:
    where = f"messages[{index}]"
    if not isinstance(message, Mapping):
        raise invalid(40000, f"{where} must be an object, not {type(message).__name__}")
    role = message.get("role")
    if not isinstance(role, str) or not role.strip():
        raise invalid(40000, f"{where}.role must be a non-empty string")
    content = message.get("content")
    if not isinstance(content, (str, list)):
        raise invalid(40000, f"{where}.content must be a string or a list of parts")
    if isinstance(content, list) and len(content) > MAX_PARTS:
        # Readers would see only the first MAX_PARTS: refuse what could never be shown.
        raise invalid(40000, f"{where}.content has {len(content)} parts; a message may have "
                             f"at most {MAX_PARTS}")
    if not isinstance(message.get("chat_time"), (str, type(None))):
        raise invalid(40000, f"{where}.chat_time must be a string or null")
    try:
        return json.dumps(dict(message), allow_nan=False)
    except (TypeError, ValueError, RecursionError) as error:
        raise invalid(40000, f"{where} cannot be stored as JSON: {error}") from None


# --- memories --------------------------------------------------------------------------------

MEMORY, PREFERENCE = "memory", "preference"
# What each kind must hold as a non-empty string, and may hold as a string.
_REQUIRED = {MEMORY: "memory_value", PREFERENCE: "preference"}
_OPTIONAL_TEXT = {MEMORY: ("memory_key", "memory_type", "status"),
                  PREFERENCE: ("preference_type", "reasoning", "status")}
_DEFAULTS = {MEMORY: {"memory_key": "", "memory_type": "LongTermMemory"},
             PREFERENCE: {"preference_type": "explicit_preference", "reasoning": ""}}
_NOT_STORED = ("relativity", "user_id")  # search computes the one; the store knows the other


@dataclass(frozen=True)
class StoredMemory:
    """One memory or preference, checked and ready for the ``memories`` table."""

    kind: str
    memory_id: str
    conversation_id: str
    item: str        # the item as /get/memory returns it, as JSON
    folded: str      # the text search reads: NFKC, case-folded
    create_ms: int
    update_ms: int


def memory_kind(item: Mapping) -> str:
    """``preference`` for an item in the ``preference_detail_list`` shape, else ``memory``."""
    if "memory_value" not in item and ("preference" in item or "preference_type" in item):
        return PREFERENCE
    return MEMORY


def memory_problem(item: object, kind: str | None = None) -> str | None:
    """What is wrong with one ``/get/memory`` item, as a phrase ("has no ... string"), or None.

    ``kind`` (memory or preference) is the list it came from; None: told by its fields.
    """
    if not isinstance(item, Mapping):
        return "is not a JSON object"
    kind = kind or memory_kind(item)
    required = _REQUIRED[kind]
    if not isinstance(item.get(required), str) or not item[required].strip():
        return f'has no "{required}" string'
    for name in _OPTIONAL_TEXT[kind]:
        if item.get(name) is not None and not isinstance(item[name], str):
            return f'has a "{name}" that is not a string'
    memory_id = item.get("id")
    if memory_id is not None and (not isinstance(memory_id, str) or not memory_id.strip()
                                  or len(memory_id) > MAX_ID_LENGTH
                                  or not _is_unicode(memory_id)):
        return f'has an "id" that is not a string of 1 to {MAX_ID_LENGTH} characters'
    conversation_id = item.get("conversation_id")
    if conversation_id is not None and (not isinstance(conversation_id, str)
                                        or len(conversation_id) > MAX_ID_LENGTH
                                        or not _is_unicode(conversation_id)):
        return f'has a "conversation_id" that is not a string of at most {MAX_ID_LENGTH} ' \
               "characters"
    confidence = item.get("confidence")
    if confidence is not None and (isinstance(confidence, bool)
                                   or not isinstance(confidence, (int, float))
                                   or not 0 <= confidence <= 1):
        return 'has a "confidence" that is not a number from 0 to 1'
    tags = item.get("tags")
    if tags is not None and (not isinstance(tags, list)
                             or not all(isinstance(tag, str) for tag in tags)):
        return 'has "tags" that are not a list of strings'
    for name in ("create_time", "update_time"):
        if item.get(name) is not None and _epoch_ms(item[name], BEIJING) is None:
            return (f'has a "{name}" that is not a time (epoch milliseconds, or a date and '
                    "time such as 2026-03-09 20:15:00)")
    sources = item.get("sources")
    if sources is not None and (not isinstance(sources, list)
                                or not all(isinstance(source, Mapping) for source in sources)):
        return 'has "sources" that are not a list of objects'
    try:
        json.dumps(item, allow_nan=False)
    except RecursionError:
        return "is nested too deeply to store"
    except (TypeError, ValueError) as error:
        return f"cannot be stored as JSON: {error}"
    return None


def encode_memories(items: object, *, conversation_id: str | None = None,
                    default_tz: tzinfo = BEIJING) -> list[StoredMemory]:
    """Check every item and return each ready to store; raise 40000 at the first fault.

    Items without a ``conversation_id`` get ``conversation_id`` (or none); without an ``id``,
    a new one; without times, now (epoch milliseconds, as MemOS answers them).
    """
    if items is None or (isinstance(items, (list, tuple)) and not items):
        raise invalid(40002, "memories is required and must not be empty")
    if not isinstance(items, (list, tuple)):
        raise invalid(40000, "memories must be a list of memory objects")
    now = int(time.time() * 1000)
    stored, seen = [], {}
    for index, item in enumerate(items):
        problem = memory_problem(item)
        if problem:
            raise invalid(40000, f"memories[{index}] {problem}")
        memory = _stored(item, conversation_id, default_tz, now)
        if memory.memory_id in seen:
            raise invalid(40000, f'memories[{index}] repeats the "id" of '
                                 f"memories[{seen[memory.memory_id]}]")
        seen[memory.memory_id] = index
        stored.append(memory)
    return stored


def fold(text: str) -> str:
    """``text`` as search compares it: NFKC (full-width forms as half-width), case-folded,
    lone surrogates (which SQLite cannot take) as "?"."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return folded if _is_unicode(folded) else folded.encode("utf-8", "replace").decode()


def _is_unicode(text: str) -> bool:
    """Whether ``text`` can be encoded as UTF-8 (JSON can carry lone surrogates; it cannot)."""
    if text.isascii():  # O(1), and most text is
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _stored(item: Mapping, conversation_id: str | None, default_tz: tzinfo,
            now: int) -> StoredMemory:
    kind = memory_kind(item)
    created = _epoch_ms(item.get("create_time"), default_tz) or now
    updated = _epoch_ms(item.get("update_time"), default_tz) or created
    record = {key: value for key, value in item.items() if key not in _NOT_STORED}
    for name, default in _DEFAULTS[kind].items():
        if record.get(name) is None:
            record[name] = default
    record["id"] = item.get("id") or uuid.uuid4().hex
    record["conversation_id"] = item.get("conversation_id") or conversation_id or ""
    record["status"] = item.get("status") or "activated"
    record["create_time"], record["update_time"] = created, updated
    if kind == MEMORY:
        record["tags"] = list(item.get("tags") or [])
        parts = [record["memory_key"], record["memory_value"], " ".join(record["tags"])]
    else:
        parts = [record["preference"], record["reasoning"]]
    return StoredMemory(kind, record["id"], record["conversation_id"], json.dumps(record),
                        fold("\n".join(parts)), created, updated)


def _epoch_ms(value: object, default_tz: tzinfo) -> int | None:
    """A time MemOS-style: epoch seconds or milliseconds, or text parse_timestamp reads."""
    moment = parse_timestamp(value, default_tz)
    return int(moment.timestamp() * 1000) if moment else None
