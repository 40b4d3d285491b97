"""An embedded, MemOS-compatible store of messages and memories: SQLite underneath, MemOS's
API on top.

Use ``LocalStore`` in-process (it answers like ``MemOSClient``), or serve it over HTTP with
``make_server`` (or ``python -m memos_api.local``) so any MemOS client can talk to it.
"""

from .demo import DEMO_CONVERSATION_ID, DEMO_USER_ID
from .server import make_server
from .store import LocalStore

__all__ = ["DEMO_CONVERSATION_ID", "DEMO_USER_ID", "LocalStore", "make_server"]
