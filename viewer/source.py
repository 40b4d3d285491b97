"""Where messages come from: the MemOS service, or the embedded local store."""

from __future__ import annotations

import hashlib
import os
import socket
from typing import Any, Protocol

from memos_api import AddResult, MemoryPage, MemOSClient, Message, resolve_base_url
from memos_api.local import LocalStore


class MessageSource(Protocol):
    """What the views need: MemOSClient and LocalStore both provide it."""

    def get_messages(self, user_id: str, conversation_id: str,
                     limit: int | None = None) -> list[Message]: ...

    def add_messages(self, user_id: str, conversation_id: str, messages: list[dict],
                     **options: Any) -> AddResult: ...

    def get_memory(self, user_id: str, page: int = 1, size: int = 50, *,
                   include_preference: bool = True, include_tool_memory: bool = False,
                   filter: dict | None = None) -> MemoryPage: ...

    def search_memory(self, query: str, user_id: str, conversation_id: str | None = None,
                      memory_limit_number: int = 6, *, include_preference: bool = True,
                      include_tool_memory: bool = False,
                      include_skill: bool = False) -> MemoryPage: ...


def build_source(config: dict[str, Any], instance_path: str) -> MessageSource:
    """A MemOS client when a key or base URL is set; otherwise the seeded embedded store."""
    if config["MEMOS_API_KEY"] or config["MEMOS_BASE_URL"]:
        environ = {"MEMOS_IS_GLOBAL": "true" if config["MEMOS_IS_GLOBAL"] else ""}
        return MemOSClient(
            config["MEMOS_API_KEY"],
            resolve_base_url(config["MEMOS_BASE_URL"] or None, environ),
            timeout=config["MEMOS_TIMEOUT"],
            deadline=config["MEMOS_DEADLINE"],
            pool_size=config["MEMOS_POOL_SIZE"],
            default_tz=config["MEMOS_TIMEZONE"],
        )
    path = config["MEMOS_LOCAL_DB"] or os.path.join(instance_path, "memos-local.sqlite3")
    store = LocalStore(path, max_limit=config["MEMOS_MAX_LIMIT"],
                       default_tz=config["MEMOS_TIMEZONE"])
    store.seed_demo()
    return store


def source_scope(config: dict[str, Any], source: Any) -> str:
    """Whose answers ``source`` gives, as a digest: the same for every instance reading the
    same MemOS with the same key (or the same embedded file on the same machine), and
    different otherwise, so that shared answers never cross from one to another."""
    if isinstance(source, MemOSClient):
        parts = ["memos", source.base_url, config["MEMOS_API_KEY"]]
    else:
        parts = ["local", socket.gethostname(), os.path.abspath(getattr(source, "path", ""))]
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]
