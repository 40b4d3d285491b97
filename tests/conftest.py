"""Fixtures shared by the test suite.

- ``local_store``: an empty LocalStore in a temporary directory.
- ``memos_server``: that kind of store served over HTTP on 127.0.0.1 (a free port), requiring
  ``Authorization: Token test-key``; yields a ``LocalServer`` with ``.base_url`` (ready for
  ``MemOSClient(api_key, base_url=...)``), ``.store``, ``.api_key`` and ``.server`` (the
  http.server instance itself).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from memos_api.local import LocalStore, make_server
from memos_api.local.server import LocalMemOSServer

TEST_API_KEY = "test-key"


@dataclass(frozen=True)
class LocalServer:
    """A running local MemOS server, as handed to tests."""

    base_url: str
    store: LocalStore
    api_key: str
    server: LocalMemOSServer


@pytest.fixture
def local_store(tmp_path) -> LocalStore:
    """An empty store in this test's temporary directory."""
    return LocalStore(tmp_path / "memos.sqlite3")


@pytest.fixture
def memos_server(local_store) -> Iterator[LocalServer]:
    """``local_store`` served on 127.0.0.1 in a background thread; shut down afterwards."""
    server = make_server(local_store, "127.0.0.1", 0, api_key=TEST_API_KEY)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="memos-local-server", daemon=True)
    thread.start()
    try:
        yield LocalServer(base_url=server.base_url, store=local_store, api_key=TEST_API_KEY,
                          server=server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# --- the Flask app -------------------------------------------------------------------------

@pytest.fixture
def app_factory(tmp_path):
    """Build apps on a fresh embedded store; keyword arguments override settings."""
    from app import create_app

    def build(**settings):
        config = {"TESTING": True, "MEMOS_API_KEY": "", "MEMOS_BASE_URL": "",
                  "MEMOS_LOCAL_DB": str(tmp_path / "app-store.sqlite3"), **settings}
        return create_app(config)

    return build


@pytest.fixture
def app(app_factory):
    """The app on the embedded store, seeded with the demo conversation."""
    return app_factory()


@pytest.fixture
def client(app):
    """Flask's test client for ``app``."""
    return app.test_client()


@pytest.fixture
def store(app):
    """The embedded store behind ``app``."""
    return app.extensions["memos_source"]


@pytest.fixture
def unused_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
