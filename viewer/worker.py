"""gunicorn's threaded worker, but a request gets a thread only once it has fully arrived.

gunicorn's ``gthread`` worker hands each new connection to a thread, which then reads the
request with blocking reads and no deadline: a client that sends a request line and then one
header every few seconds holds that thread for as long as it likes. Fifty such clients took
every thread of a worker (48), and ``/healthz`` stopped answering; two hundred, every worker.

``HeadFirstWorker`` reads each request's head, and a small body declared by Content-Length,
in the worker's event loop (non-blocking, alongside the listening socket), and only then
hands the connection to a thread, with those bytes already in its parser: a thread never
waits for a client. Requests still arriving after ``HEAD_SECONDS`` are dropped, and heads
larger than ``MAX_HEAD_BYTES`` (431), bodies larger than ``MAX_BODY_BYTES`` (413) and bodies
of unknown length (411) are refused there: no page reads a body. A thread writing an answer
waits for its client at most ``SEND_SECONDS`` a write (``GUNICORN_SEND_TIMEOUT``, 30 s), then
drops it. Kept-alive connections come back to the loop between requests, as in ``gthread``.
Over TLS or HTTP/2 (which gunicorn negotiates in the thread) it behaves exactly as
``gthread``.

Used by gunicorn.conf.py: ``worker_class = "viewer.worker.HeadFirstWorker"``.
"""

from __future__ import annotations

import errno
import os
import re
import selectors
import time
from collections import deque
from functools import partial

from gunicorn import http
from gunicorn.http2 import negotiation
from gunicorn.workers.gthread import TConn, ThreadWorker

HEAD_SECONDS = 10.0  # a request's head (and small body) must have arrived by then
# Each write of an answer (a page; a download's piece, ~64 KB) must be taken by the client
# within this time, or the connection is closed: meanwhile the thread waits in sendall().
# Measured: 60 clients that asked for a 20 MB download and never read held every thread of a
# worker for good (gunicorn sets no limit), and /healthz timed out.
SEND_SECONDS = float(os.environ.get("GUNICORN_SEND_TIMEOUT", 30))
MAX_HEAD_BYTES = 64 * 1024  # larger heads are refused (431); real ones are a few KB
MAX_BODY_BYTES = 64 * 1024  # a body up to this is read here too; a larger one is refused
_END_OF_HEAD = re.compile(rb"\r?\n\r?\n")
_LENGTH = re.compile(rb"\ncontent-length[ \t]*:[ \t]*([0-9]{1,12})[ \t]*\r?\n", re.IGNORECASE)
_TRANSFER_CODING = re.compile(rb"\ntransfer-encoding[ \t]*:", re.IGNORECASE)


def _answer(status: str, text: str) -> bytes:
    """A whole plain-text answer that closes the connection (sent before any thread)."""
    body = text.encode()
    return (f"HTTP/1.1 {status}\r\nConnection: close\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


HEAD_TOO_LARGE = _answer("431 Request Header Fields Too Large", "Request head too large.\n")
# The viewer answers GET: no page reads a body. One larger than the loop reads, or one whose
# length is unknown (chunked), would be read or drained by a thread, as slowly as the client
# sends it: 150 clients trickling such bodies took every thread and /healthz timed out.
BODY_TOO_LARGE = _answer("413 Content Too Large", "Request body too large.\n")
LENGTH_REQUIRED = _answer("411 Length Required",
                          "A request body must give its length (Content-Length).\n")


class HeadFirstWorker(ThreadWorker):
    """A ``gthread`` worker that reads each request before it takes a thread."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.arriving: deque[TConn] = deque()  # reading a head, oldest deadline first

    def _reads_heads(self, conn: TConn) -> bool:
        return not self.cfg.is_ssl and not negotiation.prior_knowledge_allowed(self.cfg,
                                                                               conn.client)

    def accept(self, listener) -> None:
        """Accept a connection and read its first request here, not in a thread."""
        try:
            client_sock, client_addr = listener.accept()
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = TConn(self.cfg, client_sock, client_addr, listener.getsockname())
        if self._reads_heads(conn):
            self._await_request(conn)
        else:
            client_sock.setblocking(True)
            self.enqueue_req(conn)

    def on_client_socket_readable(self, conn: TConn, client) -> None:
        """A kept-alive connection's next request begins: read it here too."""
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        if self._reads_heads(conn):
            self._await_request(conn)
        else:
            self.enqueue_req(conn)

    def handle_request(self, req, conn: TConn) -> bool:
        """gthread's, but a client that does not take a write of its answer within
        SEND_SECONDS is dropped: its connection closed, its thread freed, one line logged."""
        # A deadline for each sendall() as a whole (Python's socket timeout, since 3.5): a
        # limit on writes that move nothing (SO_SNDTIMEO) would not do, as a client that never
        # reads still takes a few bytes now and then as its kernel's window opens.
        conn.sock.settimeout(SEND_SECONDS)
        try:
            return super().handle_request(req, conn)
        except TimeoutError:
            self.log.info("Closed a connection whose client took nothing of its answer "
                          "for %.0f s", SEND_SECONDS)
            return False

    def _await_request(self, conn: TConn) -> None:
        conn.arrived = Arrival()
        conn.timeout = time.monotonic() + HEAD_SECONDS
        self.arriving.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ,
                             partial(self._on_request_bytes, conn))

    def _on_request_bytes(self, conn: TConn, client) -> None:
        try:
            chunk = conn.sock.recv(MAX_HEAD_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:  # the client went away
            self._drop(conn)
            return
        complete = conn.arrived.add(chunk)
        if conn.arrived.refusal is not None:
            try:
                conn.sock.send(conn.arrived.refusal)
            except OSError:
                pass
            self._drop(conn)
            return
        if not complete:
            return
        self.poller.unregister(client)
        self.arriving.remove(conn)
        if conn.parser is None:
            conn.parser = http.get_parser(self.cfg, conn.sock, conn.client)
        conn.parser.unreader.unread(bytes(conn.arrived.data))
        del conn.arrived
        conn.data_ready = True  # the thread must not wait for data: it is here
        conn.sock.setblocking(True)
        self.enqueue_req(conn)

    def _drop(self, conn: TConn) -> None:
        try:
            self.poller.unregister(conn.sock)
        except (KeyError, ValueError, OSError):
            pass
        try:
            self.arriving.remove(conn)
        except ValueError:
            pass
        self.nr_conns -= 1
        conn.close()

    def murder_pending(self) -> None:
        """Close connections whose request did not arrive in time, then gthread's own."""
        now = time.monotonic()
        while self.arriving and self.arriving[0].timeout <= now:
            self._drop(self.arriving[0])
        super().murder_pending()

    def run(self) -> None:
        try:
            super().run()
        finally:
            while self.arriving:
                self._drop(self.arriving[0])


class Arrival:
    """A request's bytes as they arrive, each looked at once, and whether it is all here.

    A head trickled a few bytes a segment must not be searched again from its start at each
    one: measured, 64 KB sent 8 bytes a time cost the event loop, which every connection of
    the worker waits on, ~1 s of CPU per client (~290 us a look at 30 KB).
    """

    def __init__(self) -> None:
        self.data = bytearray()
        self._scanned = 0  # bytes known to hold no end of head
        self._needed: int | None = None  # bytes the request takes, once its head is here
        self.refusal: bytes | None = None  # the answer instead of a thread, if any

    def add(self, chunk: bytes) -> bool | None:
        """Take ``chunk``. Whether the request is all here: None while its head is not; False
        while a body it declares (up to MAX_BODY_BYTES) is not; True when both are, or when
        no more will be read (``refusal`` then says what to answer: a head over
        MAX_HEAD_BYTES, a larger body, or one of unknown length)."""
        self.data += chunk
        if self._needed is None:
            # An end of head (4 bytes at most) that began in the bytes already looked at
            # starts at most 3 bytes before their end.
            end = _END_OF_HEAD.search(self.data, max(0, self._scanned - 3), MAX_HEAD_BYTES + 4)
            if end is None:
                self._scanned = len(self.data)
                if len(self.data) > MAX_HEAD_BYTES:
                    self.refusal = HEAD_TOO_LARGE
                return None
            length = _LENGTH.search(self.data, 0, end.start() + 2)
            declared = int(length[1]) if length else 0
            if declared > MAX_BODY_BYTES:
                self.refusal, declared = BODY_TOO_LARGE, 0
            elif _TRANSFER_CODING.search(self.data, 0, end.start() + 2):
                self.refusal = LENGTH_REQUIRED
            self._needed = end.end() + declared
        return len(self.data) >= self._needed
