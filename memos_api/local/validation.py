"""Check add/get parameters the way MemOS does, raising InvalidRequestError with its codes."""

from __future__ import annotations

import json
from collections.abc import Mapping

from ..errors import error_for_code, InvalidRequestError

MAX_ID_LENGTH = 100  # MemOS answers 40010 / 40011 beyond this


def invalid(code: int, detail: str) -> InvalidRequestError:
    """The error MemOS's ``code`` maps to, with a message saying exactly what is wrong."""
    return type(error_for_code(code))(detail, code=code)


def check_ids(user_id: object, conversation_id: object) -> None:
    """Require both ids: non-empty strings (40002) of at most 100 characters (40010/40011)."""
    for name, value, too_long in (("user_id", user_id, 40010),
                                  ("conversation_id", conversation_id, 40011)):
        if value is None or (isinstance(value, str) and not value.strip()):
            raise invalid(40002, f"{name} is required and must not be empty")
        if not isinstance(value, str):
            raise invalid(40000, f"{name} must be a string")
        if len(value) > MAX_ID_LENGTH:
            raise invalid(too_long, f"{name} is longer than {MAX_ID_LENGTH} characters")


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
    if not isinstance(message.get("content"), (str, list)):
        raise invalid(40000, f"{where}.content must be a string or a list of parts")
    if not isinstance(message.get("chat_time"), (str, type(None))):
        raise invalid(40000, f"{where}.chat_time must be a string or null")
    try:
        return json.dumps(dict(message), allow_nan=False)
    except (TypeError, ValueError) as error:
        raise invalid(40000, f"{where} cannot be stored as JSON: {error}") from None
