"""Serve the local store over HTTP with waitress, within limits on what clients may hold.

waitress parses requests (strictly: duplicated Content-Length, bare CR or LF and the like are
refused), reads them in one I/O thread so slow clients hold no worker thread, caps open
connections and closes idle ones. ``hooks`` adds the gate before any body is read and a read
timeout for requests that trickle in.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass

from waitress import wasyncore
from waitress.adjustments import Adjustments

from ..keys import check_api_key
from .endpoints import API_PREFIX
from .gate import Gate, MAX_BODY_BYTES
from .hooks import GatedServer
from .store import LocalStore
from .wsgi import LocalMemOSApp

_OWN_SOCKETS = 2  # waitress counts its listening socket and wake-up pipe as connections


@dataclass(frozen=True)
class Limits:
    """What clients may hold; times in whole seconds, waitress's unit."""

    max_connections: int = 100  # open at once; more wait in the listen backlog
    idle_timeout: int = 60      # a connection silent this long is closed
    read_timeout: int = 30      # a request still arriving after this long is dropped
    threads: int = 4            # requests served at once (each fully read before)


class LocalMemOSServer:
    """The local store served over HTTP on one address (see ``make_server``)."""

    def __init__(self, store: LocalStore, host: str, port: int, api_key: str | None, *,
                 verbose: bool, limits: Limits) -> None:
        api_key = check_api_key(api_key, "api_key")
        sock = _bind(host, port)
        self.address, self.port = sock.getsockname()[:2]
        gate = Gate(self.address, self.port, api_key)
        app = LocalMemOSApp(store, gate, verbose=verbose)
        adj = Adjustments(
            sockets=[sock], threads=limits.threads, ident="MemOSLocal/1",
            connection_limit=limits.max_connections + _OWN_SOCKETS,
            channel_timeout=limits.idle_timeout, cleanup_interval=1,
            max_request_header_size=64 * 1024, max_request_body_size=MAX_BODY_BYTES + 1,
            log_socket_errors=False, asyncore_use_poll=True)
        self._connections: dict = {}
        self._lock = threading.Lock()
        self._closed = False
        self.waitress = GatedServer(app, sock, adj, limits.read_timeout, self._connections)
        """The waitress server itself (its accept step, its open channels)."""

    @property
    def base_url(self) -> str:
        """The URL clients use as MemOS base URL, e.g. http://127.0.0.1:8765/api/openmem/v1."""
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"http://{host}:{self.port}{API_PREFIX}"

    def serve_forever(self) -> None:
        """Serve until ``stop()`` or KeyboardInterrupt, then close everything."""
        try:
            self.waitress.run()
        finally:
            self.close()

    def stop(self) -> None:
        """Make ``serve_forever`` return; safe from any thread, and more than once."""
        with self._lock:
            if self._closed:
                return
            self.waitress.stopping = True  # the loop closes every socket, then run() returns
        try:  # wake the loop now rather than at its next turn (within a second)
            self.waitress.trigger.pull_trigger()
        except OSError:  # its pipe already closed (seen once in CI): the next turn will do
            pass

    def close(self) -> None:
        """Close the listening socket and every connection (for a server never started)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        wasyncore.close_all(self._connections, ignore_all=True)
        self.waitress.task_dispatcher.shutdown()


def _bind(host: str, port: int) -> socket.socket:
    """A socket bound to ``host`` (IPv4 first when a name has both) and ``port``."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = min(found, key=lambda info: info[0] != socket.AF_INET)
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


def make_server(store: LocalStore, host: str = "127.0.0.1", port: int = 0,
                api_key: str | None = None, *, verbose: bool = False,
                limits: Limits = Limits()) -> LocalMemOSServer:
    """Bind a MemOS-compatible HTTP server for ``store`` without starting it.

    Port 0 picks a free port (see ``.base_url``). The caller runs ``serve_forever()``, usually
    in a thread, and later ``stop()``. With ``api_key`` set, every request must carry
    ``Authorization: Token <api_key>``; a key that cannot be sent in a header is a ValueError
    (which does not show it).
    """
    return LocalMemOSServer(store, host, port, api_key, verbose=verbose, limits=limits)
