"""MemOS's endpoints as plain functions: a request body in, the envelope's data out.

They know nothing of HTTP; errors are raised as InvalidRequestError carrying MemOS's code.
JSON ``null`` in any optional field means the field is absent, as the official SDK sends it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .store import LocalStore
from .validation import check_limit, invalid

API_PREFIX = "/api/openmem/v1"  # MemOS cloud's; the bare paths are answered too


def get_message(store: LocalStore, body: dict[str, Any]) -> dict[str, Any]:
    """``/get/message``: the newest messages, oldest first; a limit above max is clamped."""
    limit = check_limit(body.get("message_limit_number"))
    if limit is not None and limit < 1:  # the store would clamp; the API refuses
        raise invalid(40000, "message_limit_number must be at least 1")
    items = store.get_message_dicts(body.get("user_id"), body.get("conversation_id"), limit)
    return {"message_detail_list": items}


def add_message(store: LocalStore, body: dict[str, Any]) -> dict[str, Any]:
    """``/add/message``: store all messages or none; always synchronous ("completed")."""
    options = {key: value for key, value in body.items() if value is not None
               and key not in ("user_id", "conversation_id", "messages")}
    result = store.add_messages(body.get("user_id"), body.get("conversation_id"),
                                body.get("messages"), **options)
    return {"success": result.success, "task_id": result.task_id, "status": result.status}


def get_memory(store: LocalStore, body: dict[str, Any]) -> dict[str, Any]:
    """``/get/memory``: one page of the user's memories and preferences, newest first.

    A size above 50 is refused (40000), as MemTensor's SDK refuses to send one.
    """
    return store.get_memory_data(
        body.get("user_id"), body.get("page"), body.get("size"),
        body.get("include_preference"), body.get("include_tool_memory"), body.get("filter"))


def search_memory(store: LocalStore, body: dict[str, Any]) -> dict[str, Any]:
    """``/search/memory``: memories holding the query's terms, the given conversation's first.

    A memory_limit_number above 25, MemOS's documented maximum, is refused (40000). Fields
    this store has no use for (knowledgebase_ids, source, agent_id...) are ignored.
    """
    return store.search_memory_data(
        body.get("query"), body.get("user_id"), body.get("conversation_id"),
        body.get("memory_limit_number"), body.get("include_preference"),
        body.get("preference_limit_number"), body.get("include_tool_memory"),
        body.get("include_skill"), body.get("relativity"), body.get("filter"))


ROUTES: dict[str, Callable[[LocalStore, dict[str, Any]], dict[str, Any]]] = {
    "/get/message": get_message,
    "/add/message": add_message,
    "/get/memory": get_memory,
    "/search/memory": search_memory,
}


def resolve(path: str) -> Callable[[LocalStore, dict[str, Any]], dict[str, Any]] | None:
    """The endpoint serving ``path`` (with or without the API prefix), or None."""
    path = path.rstrip("/")
    return ROUTES.get(path.removeprefix(API_PREFIX) if path.startswith(API_PREFIX + "/")
                      else path)
