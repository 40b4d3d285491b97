"""waitress, asking the gate as soon as a request's head is parsed, before its body.

waitress reads every request in full, body included, in its I/O thread before a worker thread
calls the WSGI application: slow clients hold no thread, but an application that checks the API
key would do so after the server had read up to ``MAX_BODY_BYTES`` from anyone (measured: all
7,000,340 bytes of a 7 MB upload with a wrong key). So the gate also runs inside waitress's
request parser: a refused request is answered from its head alone, its body is never read
(measured: one 8 KB receive), and its connection is closed.

These subclasses use waitress's parser, channel, task and server classes, which are not a
public API: waitress is pinned exactly in requirements.txt, and tests/test_local_server*.py
check each behaviour on real sockets, so an upgrade that changes them fails there.
"""

from __future__ import annotations

import socket
import time

from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser, ParsingError
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask

from .envelope import Answer, render
from .gate import Gate, Head
from .wsgi import LocalMemOSApp, log_request


class GatedParser(HTTPRequestParser):
    """waitress's parser, asking the gate as soon as a request's head is parsed."""

    def __init__(self, adj: Adjustments, gate: Gate) -> None:
        super().__init__(adj)
        self.gate = gate
        self.started = time.monotonic()  # first byte in: for the read timeout

    def parse_header(self, header_plus: bytes) -> None:
        try:
            super().parse_header(header_plus)
        except ValueError:  # int() refuses a Content-Length of 4,300+ digits, and waitress
            # would drop the connection without an answer
            raise ParsingError("Content-Length is invalid") from None
        headers = self.headers
        refusal = self.gate.check(Head(
            self.command, self.path, headers.get("HOST"), headers.get("AUTHORIZATION"),
            headers.get("CONTENT_TYPE"), headers.get("CONTENT_LENGTH"),
            self.chunked or bool(headers.get("TRANSFER_ENCODING"))))
        if refusal is not None:
            # With no body receiver the request is complete once its head is in, and a
            # request carrying an error goes to the error task, which closes the connection.
            self.error = refusal
            self.body_rcv = None
            self.content_length = 0
            self.chunked = self.expect_continue = False  # no "100 Continue" either


class EnvelopeErrorTask(ErrorTask):
    """Answer refused and malformed requests in MemOS's envelope, then close."""

    def execute(self) -> None:
        error = self.request.error
        if not isinstance(error, Answer):  # waitress's own: bad head, too large, ...
            error = Answer(error.code, error.code * 100, f"{error.reason}: {error.body}")
        self.status, headers, body = render(error)
        self.response_headers.extend(headers)
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)
        if self.channel.server.verbose:
            log_request(self.channel.addr[0], self.request.first_line.decode("latin-1")
                        if hasattr(self.request, "first_line") else "-", error.status)


class GatedChannel(HTTPChannel):
    """A connection whose requests are parsed by ``GatedParser``."""

    error_task_class = EnvelopeErrorTask

    def parser_class(self, adj: Adjustments) -> GatedParser:  # waitress calls it per request
        return GatedParser(adj, self.server.gate)


class GatedServer(TcpWSGIServer):
    """waitress's server on a bound socket, with gated connections and a read timeout."""

    channel_class = GatedChannel

    def __init__(self, app: LocalMemOSApp, sock: socket.socket, adj: Adjustments,
                 read_timeout: int, connections: dict) -> None:
        self.gate, self.verbose, self.read_timeout = app.gate, app.verbose, read_timeout
        self.stopping = False  # set from any thread; acted on in the loop's own thread
        super().__init__(app, connections, _sock=sock, adj=adj, bind_socket=False,
                         sockinfo=(sock.family, sock.type, sock.proto, sock.getsockname()))

    def readable(self) -> bool:
        """Asked on every turn of the loop: when stopping, close everything, and it ends."""
        if self.stopping:
            wasyncore.close_all(self._map)
            return False
        return super().readable()

    def maintenance(self, now: float) -> None:
        super().maintenance(now)  # closes connections idle past channel_timeout
        # Also drop requests that trickle in: each byte resets the idle clock.
        cutoff = time.monotonic() - self.read_timeout
        for channel in self.active_channels.values():
            if channel.request is not None and channel.request.started < cutoff:
                channel.will_close = True
