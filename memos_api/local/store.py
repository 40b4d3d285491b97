"""A MemOS-compatible store of messages and memories in one SQLite file, safe to share
between threads.

Memories are kept as ``/get/memory`` items (facts and preferences) in the ``memories`` table;
``memory_search``, an FTS5 index with the trigram tokenizer over their folded text, is kept in
step by triggers. Both are created on first use, so older files gain them when opened.
"""

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

from ..memories import (
    check_get_arguments,
    check_search_arguments,
    DEFAULT_SEARCH_LIMIT,
    MAX_PAGE_SIZE,
    MAX_SEARCH_LIMIT,
    memory_page_from_api,
    MemoryPage,
)
from ..models import AddResult, Message, message_from_api
from ..timestamps import BEIJING
from . import memory_search
from .demo import DEMO_CONVERSATION_ID, DEMO_MEMORIES, DEMO_MESSAGES, DEMO_USER_ID
from .validation import (
    check_filter,
    check_flag,
    check_id,
    check_ids,
    check_limit,
    check_number,
    check_query,
    encode_memories,
    encode_messages,
    invalid,
    MEMORY,
    PREFERENCE,
    StoredMemory,
)

DEFAULT_LIMIT = 6  # MemOS's default message_limit_number
DEFAULT_PAGE_SIZE = 10  # /get/memory's default size
MAX_PAGE = 10**9
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
CREATE TABLE IF NOT EXISTS memories (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL,
    memory_id TEXT NOT NULL,               -- the item's "id"
    kind TEXT NOT NULL,                    -- 'memory' or 'preference'
    conversation_id TEXT NOT NULL,         -- '' when the item names none
    item TEXT NOT NULL,                    -- the /get/memory item, as JSON
    folded TEXT NOT NULL,                  -- what search reads: NFKC, case-folded
    create_time INTEGER NOT NULL,          -- epoch milliseconds, as MemOS answers
    update_time INTEGER NOT NULL,
    UNIQUE (user_id, memory_id)
);
CREATE INDEX IF NOT EXISTS memories_newest
    ON memories (user_id, kind, update_time DESC, create_time DESC, id DESC);
"""
# Created apart: an SQLite without FTS5's trigram tokenizer (before 3.34) still stores
# memories, and search falls back to scanning. Built from the table when first created.
_SEARCH_SCHEMA = """
BEGIN IMMEDIATE;
CREATE VIRTUAL TABLE IF NOT EXISTS memory_search USING fts5(
    folded, content='memories', content_rowid='id', tokenize='trigram');
CREATE TRIGGER IF NOT EXISTS memories_indexed AFTER INSERT ON memories BEGIN
    INSERT INTO memory_search (rowid, folded) VALUES (new.id, new.folded);
END;
CREATE TRIGGER IF NOT EXISTS memories_unindexed AFTER DELETE ON memories BEGIN
    INSERT INTO memory_search (memory_search, rowid, folded) VALUES ('delete', old.id, old.folded);
END;
CREATE TRIGGER IF NOT EXISTS memories_reindexed AFTER UPDATE ON memories BEGIN
    INSERT INTO memory_search (memory_search, rowid, folded) VALUES ('delete', old.id, old.folded);
    INSERT INTO memory_search (rowid, folded) VALUES (new.id, new.folded);
END;
INSERT INTO memory_search (memory_search) VALUES ('rebuild');
COMMIT;
"""
_INSERT = ("INSERT INTO messages (user_id, conversation_id, message, create_time, update_time)"
           " VALUES (?, ?, ?, ?, ?)")
_NEWEST = ("SELECT message, create_time, update_time FROM (SELECT * FROM messages"
           " WHERE user_id = ? AND conversation_id = ? ORDER BY id DESC LIMIT ?) ORDER BY id")
_COUNT = "SELECT COUNT(*) FROM messages WHERE user_id = ? AND conversation_id = ?"
_UPSERT_MEMORY = (
    "INSERT INTO memories (user_id, memory_id, kind, conversation_id, item, folded,"
    " create_time, update_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (user_id, memory_id) DO UPDATE SET kind = excluded.kind,"
    " conversation_id = excluded.conversation_id, item = excluded.item,"
    " folded = excluded.folded, create_time = excluded.create_time,"
    " update_time = excluded.update_time")
_MEMORY_PAGE = ("SELECT item FROM memories WHERE user_id = ? AND kind = ?"
                " ORDER BY update_time DESC, create_time DESC, id DESC LIMIT ? OFFSET ?")
_MEMORY_COUNTS = "SELECT kind, COUNT(*) FROM memories WHERE user_id = ? GROUP BY kind"
_FTS_MATCHES = ("SELECT m.item, m.conversation_id, m.folded FROM memory_search"
                " JOIN memories AS m ON m.id = memory_search.rowid"
                " WHERE memory_search MATCH ? AND m.user_id = ? AND m.kind = ?"
                " ORDER BY memory_search.rank LIMIT ?")
_NEWEST_MEMORIES = ("SELECT item, conversation_id, folded FROM memories"
                    " WHERE user_id = ? AND kind = ?"
                    " ORDER BY update_time DESC, create_time DESC, id DESC LIMIT ?")


class LocalStore:
    """Conversations and their memories kept in SQLite (WAL mode), answering like MemOS's
    message and memory API (and like ``MemOSClient``, for ``get_messages``, ``get_memory``
    and ``search_memory``).

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
            self.trigram = _create_search_index(connection)
            """Whether search has its trigram index (SQLite 3.34+ with FTS5)."""

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
        """Insert the demo conversation if it is empty, and its memories if the demo user has
        none (a file seeded before memories existed gains them); return whether either was."""
        encoded = encode_messages(DEMO_MESSAGES)
        memories = encode_memories(DEMO_MEMORIES, conversation_id=DEMO_CONVERSATION_ID,
                                   default_tz=self.default_tz)
        inserted = False
        with self._transaction() as connection:
            if not connection.execute(_COUNT, (DEMO_USER_ID, DEMO_CONVERSATION_ID)).fetchone()[0]:
                self._insert(connection, DEMO_USER_ID, DEMO_CONVERSATION_ID, encoded)
                inserted = True
            if not _memory_counts(connection, DEMO_USER_ID):
                _upsert_memories(connection, DEMO_USER_ID, memories)
                inserted = True
        return inserted

    # --- memories -----------------------------------------------------------------------

    def add_memories(self, user_id: str, items: Sequence[Mapping[str, Any]], *,
                     conversation_id: str | None = None) -> int:
        """Store ``/get/memory`` items (facts, and preferences told by their ``preference``
        field) in one transaction: all, or none if any is invalid; return how many.

        An item whose ``id`` the user already has replaces it. Items without a
        ``conversation_id`` get ``conversation_id``; without times, now. Raises
        InvalidRequestError carrying MemOS's code, naming the faulty item and field.
        """
        check_id("user_id", user_id)
        check_id("conversation_id", conversation_id, required=False)
        memories = encode_memories(items, conversation_id=conversation_id,
                                   default_tz=self.default_tz)
        with self._transaction() as connection:
            _upsert_memories(connection, user_id, memories)
        return len(memories)

    def count_memories(self, user_id: str) -> dict[str, int]:
        """How many memories and preferences the user has: ``{"memory": n, "preference": m}``."""
        with self._connect() as connection:
            counts = _memory_counts(connection, user_id)
        return {MEMORY: counts.get(MEMORY, 0), PREFERENCE: counts.get(PREFERENCE, 0)}

    def get_memory_data(self, user_id: str, page: int | None = None, size: int | None = None,
                        include_preference: bool | None = None,
                        include_tool_memory: bool | None = None,
                        filter: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """``/get/memory``'s ``data``: page ``page`` (from 1) of each kind, ``size`` (1..50)
        per kind, newest first (by update time, then creation). ``total`` is the largest
        count across the kinds returned, ``pages`` how many pages that makes.

        None means MemOS's default. Bad parameters raise InvalidRequestError (40000). This
        store holds no tool memories or skills: their lists are empty.
        """
        check_id("user_id", user_id)
        page = check_number("page", page, 1, 1, MAX_PAGE)
        size = check_number("size", size, DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
        include_preference = check_flag("include_preference", include_preference, True)
        check_flag("include_tool_memory", include_tool_memory, True)
        check_filter(filter)
        kinds = (MEMORY, PREFERENCE) if include_preference else (MEMORY,)
        with self._connect() as connection:
            counts = _memory_counts(connection, user_id)
            total = max(counts.get(kind, 0) for kind in kinds)
            offset = (page - 1) * size
            lists = {kind: [json.loads(row[0]) for row in connection.execute(
                _MEMORY_PAGE, (user_id, kind, size, offset))] if offset < total else []
                for kind in kinds}
        return {"memory_detail_list": lists[MEMORY],
                "preference_detail_list": lists.get(PREFERENCE, []),
                "tool_memory_detail_list": [], "skill_detail_list": [],
                "total": total, "size": size, "current": page, "pages": -(-total // size)}

    def get_memory(self, user_id: str, page: int = 1, size: int = MAX_PAGE_SIZE, *,
                   include_preference: bool = True, include_tool_memory: bool = False,
                   filter: Mapping[str, Any] | None = None) -> MemoryPage:
        """Like ``MemOSClient.get_memory``: the same data, parsed by ``memory_page_from_api``."""
        check_get_arguments(user_id, page, size)
        data = self.get_memory_data(user_id, page, size, include_preference,
                                    include_tool_memory, filter)
        return memory_page_from_api(data, self.default_tz)

    def search_memory_data(self, query: str, user_id: str, conversation_id: str | None = None,
                           memory_limit_number: int | None = None,
                           include_preference: bool | None = None,
                           preference_limit_number: int | None = None,
                           include_tool_memory: bool | None = None,
                           include_skill: bool | None = None,
                           relativity: float | None = None,
                           filter: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """``/search/memory``'s ``data``: the memories (and preferences) holding the query's
        terms, ``conversation_id``'s first, then by ``relativity`` (0..1; at least the
        ``relativity`` given), at most ``memory_limit_number`` (1..25, default 6).

        See ``memory_search`` for how a query matches. None means MemOS's default; bad
        parameters raise InvalidRequestError (40002 for an empty query, else 40000).
        """
        check_query(query)
        check_id("user_id", user_id)
        conversation_id = check_id("conversation_id", conversation_id, required=False)
        limit = check_number("memory_limit_number", memory_limit_number, DEFAULT_SEARCH_LIMIT,
                             1, MAX_SEARCH_LIMIT)
        include_preference = check_flag("include_preference", include_preference, True)
        preference_limit = check_number("preference_limit_number", preference_limit_number,
                                        DEFAULT_SEARCH_LIMIT, 0, MAX_SEARCH_LIMIT)
        check_flag("include_tool_memory", include_tool_memory, False)
        check_flag("include_skill", include_skill, False)
        threshold = _threshold(relativity)
        check_filter(filter)
        terms = memory_search.search_terms(query)
        with self._connect() as connection:
            memories = self._search(connection, user_id, MEMORY, terms, conversation_id,
                                    limit, threshold)
            preferences = self._search(connection, user_id, PREFERENCE, terms,
                                       conversation_id, preference_limit, threshold) \
                if include_preference and preference_limit else []
        return {"memory_detail_list": memories, "preference_detail_list": preferences,
                "tool_memory_detail_list": [], "skill_detail_list": [],
                "preference_note": ""}

    def search_memory(self, query: str, user_id: str, conversation_id: str | None = None,
                      memory_limit_number: int = DEFAULT_SEARCH_LIMIT, *,
                      include_preference: bool = True, include_tool_memory: bool = False,
                      include_skill: bool = False) -> MemoryPage:
        """Like ``MemOSClient.search_memory``: the same data, parsed."""
        check_search_arguments(query, user_id, memory_limit_number)
        data = self.search_memory_data(query, user_id, conversation_id, memory_limit_number,
                                       include_preference, None, include_tool_memory,
                                       include_skill)
        return memory_page_from_api(data, self.default_tz)

    def _search(self, connection: sqlite3.Connection, user_id: str, kind: str,
                terms: list[str], conversation_id: str | None, limit: int,
                threshold: float) -> list[dict[str, Any]]:
        expression = memory_search.fts_expression(terms) if self.trigram else None
        if expression:
            rows = connection.execute(_FTS_MATCHES, (expression, user_id, kind,
                                                     memory_search.MAX_CANDIDATES)).fetchall()
        elif terms:
            wanted = " OR ".join(["folded LIKE ? ESCAPE '\\'"] * len(terms))
            rows = connection.execute(
                f"SELECT * FROM ({_NEWEST_MEMORIES}) WHERE {wanted}",
                (user_id, kind, memory_search.MAX_SCAN_ROWS,
                 *map(memory_search.like_pattern, terms))).fetchall()
        else:
            rows = []
        scored = []
        for order, (item, memory_conversation, folded) in enumerate(rows):
            score = memory_search.relativity(terms, folded)
            if score > 0 and score >= threshold:
                first = conversation_id is not None and memory_conversation == conversation_id
                scored.append((not first, -score, order, item))
        scored.sort()
        return [{**json.loads(item), "relativity": -score}
                for _, score, _, item in scored[:limit]]

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


def _create_search_index(connection: sqlite3.Connection) -> bool:
    """Create the trigram index (and fill it) unless it exists; False where SQLite cannot."""
    if connection.execute("SELECT 1 FROM sqlite_master WHERE name = 'memory_search'").fetchone():
        return True
    try:
        connection.executescript(_SEARCH_SCHEMA)
    except sqlite3.OperationalError:  # no FTS5, or no trigram tokenizer
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        return False
    return True


def _memory_counts(connection: sqlite3.Connection, user_id: str) -> dict[str, int]:
    return dict(connection.execute(_MEMORY_COUNTS, (user_id,)).fetchall())


def _upsert_memories(connection: sqlite3.Connection, user_id: str,
                     memories: list[StoredMemory]) -> None:
    connection.executemany(_UPSERT_MEMORY, [
        (user_id, memory.memory_id, memory.kind, memory.conversation_id, memory.item,
         memory.folded, memory.create_ms, memory.update_ms) for memory in memories])


def _threshold(value: object) -> float:
    """Search's ``relativity``: the least score returned (0 when absent)."""
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise invalid(40000, "relativity must be a number from 0 to 1")
    return float(value)


def _api_item(stored: str, create_time: str, update_time: str) -> dict[str, Any]:
    """One ``message_detail_list`` item; extra keys the message was imported with follow."""
    message = json.loads(stored)
    item = {"role": message["role"], "content": message["content"],
            "chat_time": message.get("chat_time"), "create_time": create_time,
            "update_time": update_time}
    item.update((key, value) for key, value in message.items() if key not in item)
    return item
