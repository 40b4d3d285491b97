"""A MemOS-compatible message store in one SQLite file, safe to share between threads."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, tzinfo
from os import PathLike
from pathlib import Path
from typing import Any

from ..models import AddResult, Message, message_from_api
from ..timestamps import BEIJING
from .demo import DEMO_CONVERSATION_ID, DEMO_MESSAGES, DEMO_USER_ID
from .validation import check_ids, check_limit, encode_messages

DEFAULT_LIMIT = 6  # MemOS's default message_limit_number
BUSY_TIMEOUT_MS = 5000  # how long a writer waits for another writer's lock
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- insertion order
    user_id TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    message TEXT NOT NULL,                 -- the message as imported, as JSON
    create_time TEXT NOT NULL,
    update_time TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_conversation ON messages (user_id, conversation_id, id);
"""
_INSERT = ("INSERT INTO messages (user_id, conversation_id, message, create_time, update_time)"
           " VALUES (?, ?, ?, ?, ?)")
_NEWEST = ("SELECT message, create_time, update_time FROM (SELECT * FROM messages"
           " WHERE user_id = ? AND conversation_id = ? ORDER BY id DESC LIMIT ?) ORDER BY id")
_COUNT = "SELECT COUNT(*) FROM messages WHERE user_id = ? AND conversation_id = ?"


class LocalStore:
    """Conversations kept in SQLite (WAL mode), answering like MemOS's message API.

    Each operation opens its own short-lived connection, so one store can be shared by any
    number of threads (and processes); a writer waits up to ``BUSY_TIMEOUT_MS`` for a lock.
    Reads return at most ``max_limit`` messages: a limit outside 1..max_limit is clamped.
    """

    def __init__(self, path: str | PathLike[str], *, max_limit: int = 1000,
                 default_tz: tzinfo = BEIJING) -> None:
        if max_limit < 1:
            raise ValueError(f"max_limit must be at least 1, not {max_limit}")
        self.path = Path(path)
        self.max_limit = max_limit
        self.default_tz = default_tz
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.executescript(_SCHEMA)

    def get_message_dicts(self, user_id: str, conversation_id: str,
                          limit: int | None = None) -> list[dict[str, Any]]:
        """The newest ``limit`` messages as MemOS API items, oldest first.

        ``limit`` None means 6 (MemOS's default); any other integer is clamped to
        1..max_limit. An unknown user or conversation gives an empty list.
        """
        check_ids(user_id, conversation_id)
        count = self._clamp(limit)
        with self._connect() as connection:
            rows = connection.execute(_NEWEST, (user_id, conversation_id, count)).fetchall()
        return [_api_item(*row) for row in rows]

    def get_messages(self, user_id: str, conversation_id: str,
                     limit: int | None = None) -> list[Message]:
        """Like ``MemOSClient.get_messages``: the same items, parsed by ``message_from_api``."""
        items = self.get_message_dicts(user_id, conversation_id, limit)
        return [message_from_api(item, self.default_tz) for item in items]

    def add_messages(self, user_id: str, conversation_id: str,
                     messages: Sequence[Mapping[str, Any]], **options: Any) -> AddResult:
        """Store ``messages`` in one transaction: all of them, or none if any is invalid.

        Raises InvalidRequestError carrying MemOS's code. ``options`` (agent_id, tags,
        async_mode, ...) are accepted for compatibility and ignored: storing is synchronous.
        """
        check_ids(user_id, conversation_id)
        encoded = encode_messages(messages)
        with self._transaction() as connection:
            self._insert(connection, user_id, conversation_id, encoded)
        return AddResult(success=True, task_id=uuid.uuid4().hex, status="completed")

    def count(self, user_id: str, conversation_id: str) -> int:
        """How many messages the conversation holds (0 when it is unknown)."""
        with self._connect() as connection:
            return connection.execute(_COUNT, (user_id, conversation_id)).fetchone()[0]

    def seed_demo(self) -> bool:
        """Insert the demo conversation if it is empty; return whether it was inserted."""
        encoded = encode_messages(DEMO_MESSAGES)
        with self._transaction() as connection:
            if connection.execute(_COUNT, (DEMO_USER_ID, DEMO_CONVERSATION_ID)).fetchone()[0]:
                return False
            self._insert(connection, DEMO_USER_ID, DEMO_CONVERSATION_ID, encoded)
        return True

    def _clamp(self, limit: int | None) -> int:
        if check_limit(limit) is None:
            return min(DEFAULT_LIMIT, self.max_limit)
        return max(1, min(limit, self.max_limit))

    def _insert(self, connection: sqlite3.Connection, user_id: str, conversation_id: str,
                encoded: list[str]) -> None:
        now = datetime.now(self.default_tz).strftime(TIME_FORMAT)
        connection.executemany(_INSERT, [(user_id, conversation_id, message, now, now)
                                         for message in encoded])

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000,
                                     isolation_level=None)
        try:
            connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            yield connection
        finally:
            connection.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as connection:
            connection.execute("BEGIN IMMEDIATE")  # take the write lock before reading
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")


def _api_item(stored: str, create_time: str, update_time: str) -> dict[str, Any]:
    """One ``message_detail_list`` item; extra keys the message was imported with follow."""
    message = json.loads(stored)
    item = {"role": message["role"], "content": message["content"],
            "chat_time": message.get("chat_time"), "create_time": create_time,
            "update_time": update_time}
    item.update((key, value) for key, value in message.items() if key not in item)
    return item
