"""Signed links that can be taken back before they expire (``flask revoke-link``).

Links signed here (``embed-url``, ``access.sign``) carry an id, the ``jti`` claim. Revoking one
records its id until the link would have expired anyway (its ``exp``, plus a margin for clocks
that disagree), and every instance refuses it from its next request with a 403, as any other
unusable token. Tokens without an id (signed by a host's own backend without one) cannot be
revoked one by one: changing ``EMBED_SECRET`` revokes every link at once.

Where: in the shared store when there is one (one command per signed request), and always in a
small SQLite file on this machine (``REVOKED_LINKS_DB``, by default
``instance/revoked-links.sqlite3``), which instances read without a shared store and while it
does not answer. An id found revoked is also remembered by the process until it expires, so a
store that goes away does not bring back the links it had refused.
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .shared_store import SharedStore, StoreUnavailable

KEEP_AFTER_EXPIRY = 300  # seconds a revocation outlives its link's exp: clocks disagree
# A revocation by id alone (its link's exp unknown) lasts as long as embed-url's longest link.
ID_ONLY_SECONDS = 366 * 24 * 3600
FOREVER = 100 * 365 * 24 * 3600  # an exp further off than this: kept with no expiry at all
MAX_LINK_ID_LENGTH = 200
REVOKED_LINKS_FILE = "revoked-links.sqlite3"  # in the instance folder, unless REVOKED_LINKS_DB says
REMEMBERED = 4096  # revoked ids a process keeps in memory
log = logging.getLogger("viewer.shared_store")
_SCHEMA = """CREATE TABLE IF NOT EXISTS revoked (
    jti TEXT PRIMARY KEY,
    expires REAL,      -- Unix time after which it can go; NULL: never
    revoked_at REAL NOT NULL
)"""


class RevocationError(Exception):
    """A revocation could not be recorded anywhere: the message says where and why."""


@dataclass(frozen=True)
class Revoked:
    """A revoked link's id, until when it is kept (None: always), and whether only this
    machine knows it (a shared store is configured but did not have it)."""

    link_id: str
    expires: float | None
    local_only: bool = False


class Revocations:
    """Revoked link ids: recorded, checked and listed."""

    def __init__(self, path: str | Path, store: SharedStore | None, secret: str) -> None:
        self.path = str(path)
        self.store = store
        # Keys are scoped by the secret: links signed with another secret are refused anyway.
        self._scope = store.digest("revocations", secret) if store is not None else ""
        self._local = threading.local()
        self._remembered: dict[str, float | None] = {}
        self._lock = threading.Lock()
        self._file_failed = False  # said once: the file cannot be read

    def is_revoked(self, link_id: str) -> bool:
        """Whether ``link_id`` was revoked (and its revocation has not run out)."""
        now = time.time()
        if link_id in self._remembered:
            expires = self._remembered[link_id]
            if expires is None or expires > now:
                return True
        left = None
        if self.store is not None:
            try:  # one command: -2, not revoked; -1, for ever; else milliseconds left
                left = self.store.run(lambda client: client.pttl(self._key(link_id)))
            except StoreUnavailable:
                pass
        if left is None:
            found, expires = self._local_lookup(link_id, now)
        else:
            found, expires = left != -2, None if left == -1 else now + left / 1000
        if found:
            self._remember(link_id, expires)
        return found

    def revoke(self, link_id: str, expires: float | None) -> bool:
        """Record ``link_id`` as revoked until ``expires`` (Unix time; None: always). Whether
        the shared store has it too (False: only this machine's file, when a store is
        configured but does not answer)."""
        now = time.time()
        if expires is not None and expires - now > FOREVER:
            expires = None
        try:
            self._local_write(link_id, expires, now)
        except (sqlite3.Error, OSError) as error:
            if self.store is None:
                raise RevocationError(f"{self.path} cannot be written "
                                      f"({type(error).__name__}: {error})") from None
        if self.store is None:
            return True
        value = json.dumps({"jti": link_id, "expires": expires, "revoked_at": now})
        seconds = None if expires is None else max(1, math.ceil(expires - now))
        try:
            self.store.run(lambda client: client.set(self._key(link_id), value, ex=seconds))
        except StoreUnavailable:
            return False
        return True

    def listing(self) -> list[Revoked]:
        """Every revocation still in force, shared ones first, then this machine's own."""
        now = time.time()
        found: dict[str, Revoked] = {}
        if self.store is not None:
            try:
                for link_id, expires in self.store.run(self._shared_entries):
                    found[link_id] = Revoked(link_id, expires)
            except StoreUnavailable:
                pass
        for link_id, expires in self._local_entries(now):
            found.setdefault(link_id, Revoked(link_id, expires, self.store is not None))
        return list(found.values())

    # --- the shared store ------------------------------------------------------------------

    def _key(self, link_id: str) -> str:
        return self.store.key("revoked", self._scope, self.store.digest(link_id))

    def _shared_entries(self, client) -> list[tuple[str, float | None]]:
        entries = []
        for name in client.scan_iter(match=self.store.key("revoked", self._scope, "*"),
                                     count=500):
            try:
                value = json.loads(client.get(name) or b"null")
                link_id, expires = value["jti"], value["expires"]
            except (ValueError, TypeError, KeyError):
                continue  # not ours: never shown
            if isinstance(link_id, str) and (expires is None
                                             or isinstance(expires, (int, float))):
                entries.append((link_id, expires))
        return entries

    # --- this machine's file ---------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=2, isolation_level=None)
            connection.execute(_SCHEMA)
            self._local.connection = connection
        return connection

    def _local_lookup(self, link_id: str, now: float) -> tuple[bool, float | None]:
        try:
            row = self._connection().execute(
                "SELECT expires FROM revoked WHERE jti = ?", (link_id,)).fetchone()
        except (sqlite3.Error, OSError) as error:
            if not self._file_failed:
                self._file_failed = True
                log.warning("the revoked-links file cannot be read (%s): revocations recorded "
                            "only there are not checked", type(error).__name__)
            return False, None
        if row is None or (row[0] is not None and row[0] <= now):
            return False, None
        return True, row[0]

    def _local_write(self, link_id: str, expires: float | None, now: float) -> None:
        connection = self._connection()
        connection.execute("DELETE FROM revoked WHERE expires IS NOT NULL AND expires <= ?",
                           (now,))
        connection.execute("INSERT OR REPLACE INTO revoked (jti, expires, revoked_at) "
                           "VALUES (?, ?, ?)", (link_id, expires, now))

    def _local_entries(self, now: float) -> list[tuple[str, float | None]]:
        try:
            connection = self._connection()
            connection.execute("DELETE FROM revoked WHERE expires IS NOT NULL AND expires <= ?",
                               (now,))
            return connection.execute(
                "SELECT jti, expires FROM revoked ORDER BY revoked_at").fetchall()
        except (sqlite3.Error, OSError):
            return []

    def _remember(self, link_id: str, expires: float | None) -> None:
        with self._lock:
            if len(self._remembered) >= REMEMBERED:
                del self._remembered[next(iter(self._remembered))]
            self._remembered[link_id] = expires
