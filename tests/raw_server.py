"""A raw TCP server on 127.0.0.1 for transport faults pytest-httpserver cannot produce:
stalls, resets mid-answer, broken framing. Shared by the client and the app fault tests."""

from __future__ import annotations

import socket
import threading
import time

PREFIX = "/api/openmem/v1"


class RawServer:
    """A TCP server on 127.0.0.1 that runs ``handler(conn, server)`` per accepted connection.

    Everything is bounded: the accept loop ends after ``lifetime`` seconds, connections time out,
    and leaving the ``with`` block releases stalled handlers and joins every thread.
    """

    def __init__(self, handler, *, lifetime: float = 20.0) -> None:
        self.handler = handler
        self.lifetime = lifetime
        self.accepted = 0
        self.requests: list[bytes] = []
        self.release = threading.Event()  # stalling handlers wait on this
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._conns: list[socket.socket] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}{PREFIX}"
        self._acceptor = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> RawServer:
        self._acceptor.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self.release.set()
        self._acceptor.join(2)
        self.sock.close()
        # Idle keep-alive connections may outlive the client (urllib3 2 closes pooled
        # connections only when the pool is garbage-collected): end them from our side.
        for conn in self._conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in self._threads:
            thread.join(2)

    def _serve(self) -> None:
        ends = time.monotonic() + self.lifetime
        while not self._stop.is_set() and time.monotonic() < ends:
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.accepted += 1
                self._conns.append(conn)
            conn.settimeout(3)
            thread = threading.Thread(target=self._handle, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            self.handler(conn, self)
        except (OSError, threading.BrokenBarrierError):
            pass
        finally:
            conn.close()

    def read_request(self, conn: socket.socket) -> bytes | None:
        """Read and record one HTTP request; None when the peer closed."""
        data = self.read_request_from(conn)
        if data is not None:
            with self._lock:
                self.requests.append(data)
        return data

    @staticmethod
    def read_request_from(conn: socket.socket) -> bytes | None:
        """Read one HTTP request (headers and Content-Length body); None when the peer closed."""
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            body += chunk
        return data


def read_request(conn: socket.socket) -> bytes | None:
    """Read one HTTP request without recording it (for handlers that only need to wait)."""
    return RawServer.read_request_from(conn)
