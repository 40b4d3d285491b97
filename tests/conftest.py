"""Fixtures shared by the test suite.

- ``local_store``: an empty LocalStore in a temporary directory.
- ``memos_server``: that kind of store served over HTTP on 127.0.0.1 (a free port), requiring
  ``Authorization: Token test-key``; yields a ``LocalServer`` with ``.base_url`` (ready for
  ``MemOSClient(api_key, base_url=...)``), ``.store``, ``.api_key`` and ``.server`` (the
  ``LocalMemOSServer`` itself).
- ``app_factory``: builds apps on a fresh embedded store, with pages of ``TEST_PAGE_SIZE``.
- ``live_server``: a factory; ``live_server(**settings)`` builds an app with ``app_factory``
  (or ``live_server(app=...)`` serves a ready one) on 127.0.0.1 and a free port, in a daemon
  thread, and returns a ``LiveServer`` with ``.url`` (no trailing slash), ``.store`` (the
  app's message source) and ``.app``. Every server is shut down after the test.
- ``unused_port``: a free loopback port for a server of the test's own; ``refused_port``: one
  that refuses every connection for the whole test, for an upstream that must not answer.
- ``log_of``: ``log_of("viewer.requests")`` returns ``caplog`` with that logger's records in
  it, from INFO up: the app's own loggers do not propagate, so ``caplog`` alone sees nothing.
  ``store_log`` is the shared store's (viewer/shared_store.py).
- ``stall``: ``stall(seconds, response)`` is a pytest-httpserver handler that answers
  ``response`` after ``seconds``, or as soon as the test ends: the server answers one request
  at a time for the whole session, and a handler still asleep held up the next test's
  requests (a 504 in the memory panel's first test, after the pseudo-locale's slow upstream).
- ``redis_server``: Debian's ``redis-server`` on 127.0.0.1 and a free port, its files in this
  test's temporary directory; a ``RedisServer`` with ``.url`` (and ``.unix_socket``, a path
  to the same server), ``.stop()``/``.start()`` (same
  port) and ``.pause()``/``.resume()`` (SIGSTOP/SIGCONT: a hung server). Skipped where the
  binary is missing, except under CI (``make test`` installs it).
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from required_tools import tool_missing
from werkzeug.serving import make_server as make_wsgi_server

from benchmarks.servers import redis_binary, start_redis
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
def stall() -> Iterator:
    """A handler that answers late, but never past its test (see the module docstring)."""
    ended = threading.Event()

    def make(seconds: float, response: Any):
        def handler(request: Any) -> Any:
            ended.wait(seconds)
            return response
        return handler

    yield make
    ended.set()


@pytest.fixture
def collector_off() -> Iterator[None]:
    """No garbage collection during the test, for input nested 100,000 deep.

    Parsing it takes json's decoder to the recursion limit, where the collector may run (each
    list it makes counts): a finalizer run there fails for want of stack, and pytest reports
    that as the test's failure (CI, once). The code under test handles the RecursionError.
    """
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.fixture
def local_store(tmp_path) -> LocalStore:
    """An empty store in this test's temporary directory."""
    return LocalStore(tmp_path / "memos.sqlite3")


@pytest.fixture
def memos_server(local_store) -> Iterator[LocalServer]:
    """``local_store`` served on 127.0.0.1 in a background thread; shut down afterwards."""
    server = make_server(local_store, "127.0.0.1", 0, api_key=TEST_API_KEY)
    thread = threading.Thread(target=server.serve_forever, name="memos-local-server",
                              daemon=True)
    thread.start()
    try:
        yield LocalServer(base_url=server.base_url, store=local_store, api_key=TEST_API_KEY,
                          server=server)
    finally:
        server.stop()
        thread.join(timeout=5)


# --- the Flask app -------------------------------------------------------------------------

# The page size the suite's conversations and counts are written for (the MemOS API's own
# default): pages of it leave "load earlier" on screen. The app's default is larger
# (viewer/settings.py); test_app.py checks that default, and a test may pass its own.
TEST_PAGE_SIZE = 6


@pytest.fixture
def app_factory(tmp_path):
    """Build apps on a fresh embedded store, pages of TEST_PAGE_SIZE; keyword arguments
    override settings."""
    from app import create_app

    def build(**settings):
        config = {"TESTING": True, "MEMOS_API_KEY": "", "MEMOS_BASE_URL": "",
                  "MEMOS_LOCAL_DB": str(tmp_path / "app-store.sqlite3"),
                  "CHAT_PAGE_SIZE": TEST_PAGE_SIZE,
                  "REVOKED_LINKS_DB": str(tmp_path / "revoked-links.sqlite3"), **settings}
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
    """A free loopback port, for a server of this test's own to listen on (bound, then
    released). Never an address that must not answer: once released, any process may take
    it (a server that answers 404, an outgoing connection): use ``refused_port`` for that."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A loopback port that refuses every connection at once, for the whole test.

    A socket of this test's binds it and never listens: Linux answers a connection to it
    with a reset (ECONNREFUSED, in microseconds), and no other socket may bind it meanwhile
    (not even with SO_REUSEADDR or SO_REUSEPORT, which this one does not set), nor take it
    as the local port of an outgoing connection. A port bound and released, or port 9
    (discard), could be answered by whatever took it.
    """
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        yield holder.getsockname()[1]


@dataclass(frozen=True)
class LiveServer:
    """A running app, as handed to tests."""

    url: str
    store: Any
    app: Flask


@pytest.fixture
def live_server(app_factory) -> Iterator:
    """Serve apps over real HTTP on 127.0.0.1; each is shut down when the test ends."""
    running: list[tuple[Any, threading.Thread]] = []

    def serve(app: Flask | None = None, **settings: Any) -> LiveServer:
        if app is None:
            app = app_factory(**settings)
        elif settings:
            raise TypeError("pass either a ready app or settings, not both")
        server = make_wsgi_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                  name="live-server", daemon=True)
        thread.start()
        running.append((server, thread))
        return LiveServer(url=f"http://127.0.0.1:{server.server_port}",
                          store=app.extensions["memos_source"], app=app)

    yield serve
    for server, thread in running:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# --- logs ------------------------------------------------------------------------------------

@pytest.fixture
def log_of(caplog):
    """Attach ``caplog`` to loggers by name (INFO and up); detach them after the test."""
    attached: list[logging.Logger] = []

    def attach(name: str):
        logger = logging.getLogger(name)
        logger.addHandler(caplog.handler)
        caplog.set_level(logging.INFO, logger=name)
        attached.append(logger)
        return caplog

    yield attach
    for logger in attached:
        logger.removeHandler(caplog.handler)


@pytest.fixture
def store_log(log_of):
    """The shared store's log lines (they do not propagate: viewer/shared_store.py)."""
    return log_of("viewer.shared_store")


# --- Redis, for the shared rate-limit count -----------------------------------------------------

class RedisServer:
    """A redis-server process of this test's own, on 127.0.0.1."""

    def __init__(self, binary: str, directory: Path, port: int) -> None:
        self.binary, self.directory, self.port = binary, directory, port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.unix_socket = directory / "redis.sock"  # the same server, through a file
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        """Start it (again) and wait until it answers PING."""
        self.process = start_redis(self.binary, self.directory, self.port,
                                   unix_socket=self.unix_socket)

    def pause(self) -> None:
        """Freeze it (SIGSTOP): connections open, nothing answers, as a hung server."""
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused server go on (SIGCONT)."""
        os.kill(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        """Stop it (its port then refuses connections)."""
        if self.process is not None and self.process.poll() is None:
            self.resume()  # a paused server cannot act on SIGTERM
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def redis_server(tmp_path, unused_port) -> Iterator[RedisServer]:
    """A real Redis on 127.0.0.1, started for this test and stopped after it."""
    binary = redis_binary()
    if binary is None:
        tool_missing("redis-server is not installed: `make test` installs it "
                     "(apt-get install redis-server)")
    directory = tmp_path / "redis"
    directory.mkdir()
    server = RedisServer(binary, directory, unused_port)
    server.start()
    try:
        yield server
    finally:
        server.stop()
