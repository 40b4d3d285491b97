"""A MemOS on 127.0.0.1 whose behaviour a test switches while it runs: answer, hang, fail.

``SwitchableUpstream(mode="ok")`` serves ``/get/message`` in a thread per connection, so many
hung calls wait side by side. ``mode``: "ok" (a few messages), "hang" (answer nothing until
the mode changes or ``hang_seconds`` pass), "500" (an internal error), "not-found" and "bad-key"
(MemOS's business errors, HTTP 200 with a code). ``requests`` counts the calls it received.
Leaving the ``with`` block releases hung handlers and joins the server's thread.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/api/openmem/v1"
ITEMS = [{"role": "user" if n % 2 == 0 else "assistant", "content": f"message {n}",
          "chat_time": f"2026-03-01 10:00:{n:02d}"} for n in range(3)]
CODES = {"not-found": 40001, "bad-key": 40132}


class SwitchableUpstream:
    def __init__(self, mode: str = "ok", hang_seconds: float = 30.0) -> None:
        self.mode = mode
        self.hang_seconds = hang_seconds
        self.requests = 0
        self.changed = threading.Event()  # set on every switch: hung handlers look again
        self._lock = threading.Lock()
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with upstream._lock:
                    upstream.requests += 1
                mode = upstream.mode
                if mode == "hang":
                    ends = time.monotonic() + upstream.hang_seconds
                    while upstream.mode == "hang" and time.monotonic() < ends:
                        upstream.changed.wait(0.05)
                    self.close_connection = True
                    return  # nothing answered: the client's read times out first
                if mode == "500":
                    return self._reply(500, {"code": 500, "message": "boom", "data": None})
                if mode in CODES:
                    return self._reply(200, {"code": CODES[mode], "message": "", "data": None})
                self._reply(200, {"code": 0, "message": "ok",
                                  "data": {"message_detail_list": ITEMS}})

            def _reply(self, status: int, body: dict) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_port}{PREFIX}"
        self._thread = threading.Thread(target=self.server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    def switch(self, mode: str) -> None:
        self.mode = mode
        self.changed.set()
        self.changed.clear()

    def __enter__(self) -> SwitchableUpstream:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.switch("ok")
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)
