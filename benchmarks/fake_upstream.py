"""A MemOS-compatible upstream for load tests: canned conversations and a latency knob.

It answers ``POST /api/openmem/v1/get/message`` (with or without the prefix) for any user and
conversation with the newest ``message_limit_number`` (default 6) of ``messages`` generated chat
messages, oldest first, in MemOS's envelope, after sleeping ``latency`` seconds (± ``jitter``,
uniformly, if given). It is built to
add nothing of its own on top of that sleep: answers are serialised once per limit and cached,
Nagle is off, connections are kept alive (HTTP/1.1), and every connection gets its own daemon
thread, so 64+ slow requests wait side by side.

    .venv/bin/python -m benchmarks.fake_upstream --latency 0.2 [--jitter 0.05] [--messages 2000]
        [--rich]

prints its base URL (``http://127.0.0.1:PORT/api/openmem/v1``) on the first line of stdout once it
is listening, and serves until interrupted. ``POST .../__latency`` with a number of seconds as
its body changes the latency from then on (a MemOS that hangs, then comes back).
``FakeUpstream`` does the same in a thread.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
from datetime import datetime, timedelta
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API_PREFIX = "/api/openmem/v1"
MAX_BODY_BYTES = 64 * 1024
DEFAULT_LIMIT = 6  # MemOS's default message_limit_number
CONTROL_PATH = "/__latency"  # POST a number of seconds: the latency from then on
FIRST_CHAT_TIME = datetime(2026, 3, 2, 9, 0, 0)

_TOPICS = ["the deployment checklist", "our caching layer", "the quarterly report",
           "a flaky integration test", "the onboarding guide", "database migrations",
           "the on-call rota", "a slow SQL query", "the release notes", "rate limiting"]
_WORDS = ("we could also look at how the service behaves under load before the change ships and "
          "keep the old path around until the numbers are in so nobody is surprised by a "
          "regression in production that only shows up at peak traffic on a busy monday "
          "morning when everyone logs in at once and the queue backs up").split()
_CODE = '''```python
def retry(call, attempts=3, delay=0.2):
    for attempt in range(attempts):
        try:
            return call()
        except TimeoutError:
            time.sleep(delay * 2 ** attempt)
    raise RuntimeError("gave up")
```'''


def _sentence(rng: random.Random) -> str:
    words = rng.sample(_WORDS, rng.randint(8, 16))
    return " ".join(words).capitalize() + "."


def _text(rng: random.Random, low: int, high: int) -> str:
    """Prose of ``low``..``high`` characters."""
    target = rng.randint(low, high)
    text = _sentence(rng)
    while len(text) < target:
        text += " " + _sentence(rng)
    return text[:target].rstrip() + ("" if text[:target].endswith(".") else ".")


def make_messages(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """``count`` chat messages, oldest first: alternating user/assistant, 200-600 characters,
    a few minutes apart (several days in all). Assistant answers are Markdown: some carry a
    list, inline code or a short fenced code block, as chat assistants' answers do."""
    rng = random.Random(seed)
    when = FIRST_CHAT_TIME
    messages = []
    for index in range(count):
        when += timedelta(minutes=rng.randint(1, 12), seconds=rng.randint(0, 59))
        if index % 2 == 0:
            role = "user"
            topic = rng.choice(_TOPICS)
            content = f"Question about {topic}: " + _text(rng, 160, 420)
        else:
            role = "assistant"
            shape = rng.random()
            if shape < 0.25:
                content = (_text(rng, 80, 160) + "\n\n- **First**, " + _text(rng, 40, 90)
                           + "\n- Then run `make check` and " + _text(rng, 30, 80)
                           + "\n- Finally, " + _text(rng, 30, 80))
            elif shape < 0.35:
                content = _text(rng, 80, 200) + "\n\n" + _CODE
            else:
                content = _text(rng, 120, 280) + "\n\n" + _text(rng, 80, 300)
        stamp = when.strftime("%Y-%m-%d %H:%M:%S")
        messages.append({"role": role, "content": content, "chat_time": stamp,
                         "create_time": stamp, "update_time": stamp})
    return messages


_LIBRARIES = ["requests", "flask", "redis", "celery", "sqlalchemy", "httpx", "pydantic"]


def rich_messages(count: int, seed: int = 11) -> list[dict[str, Any]]:
    """``count`` assistant answers, each with two links, a fenced Python block and a table
    (~350 characters), no two alike: what a first view formats when nothing is cached."""
    rng = random.Random(seed)
    when = FIRST_CHAT_TIME
    messages = []
    for index in range(count):
        when += timedelta(minutes=rng.randint(1, 12), seconds=rng.randint(0, 59))
        topic, library = rng.choice(_TOPICS), rng.choice(_LIBRARIES)
        content = f"""For {topic}, see [the {library} docs](https://docs.example.com/{library}/\
{index}) and [issue #{index}](https://github.com/example/{library}/issues/{index}):

```python
def retry_{index}(call, attempts={rng.randint(2, 9)}):
    for attempt in range(attempts):
        if call():
            return attempt
```

| step | minutes |
|---|--:|
| build | {rng.randint(1, 20)} |
| deploy | {rng.randint(1, 20)} |"""
        stamp = when.strftime("%Y-%m-%d %H:%M:%S")
        messages.append({"role": "assistant", "content": content, "chat_time": stamp,
                         "create_time": stamp, "update_time": stamp})
    return messages


class FakeServer(ThreadingHTTPServer):
    """Threaded, keep-alive, many-connection server holding the conversation and latency."""

    daemon_threads = True
    request_queue_size = 1024  # a burst of 64+ new connections must not overflow the backlog

    def __init__(self, address: tuple[str, int], *, latency: float = 0.0, jitter: float = 0.0,
                 messages: int = 2000, rich: bool = False) -> None:
        self.latency = latency
        self.jitter = jitter
        self.conversation = (rich_messages if rich else make_messages)(messages)
        self.requests_served = 0
        super().__init__(address, FakeHandler)
        self._bodies = lru_cache(maxsize=256)(self._body_for)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # clients may hang up mid-sleep
            super().handle_error(request, client_address)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}{API_PREFIX}"

    def body_for(self, limit: int) -> bytes:
        return self._bodies(limit)

    def _body_for(self, limit: int) -> bytes:
        items = self.conversation[-limit:] if limit > 0 else []
        return _envelope(0, "ok", {"message_detail_list": items})


def _envelope(code: int, message: str, data: Any = None) -> bytes:
    return json.dumps({"code": code, "message": message, "data": data}, ensure_ascii=False,
                      separators=(",", ":")).encode("utf-8")


class FakeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every answer has a Content-Length
    disable_nagle_algorithm = True  # TCP_NODELAY: headers and body are separate writes
    timeout = 120  # idle keep-alive connections are closed eventually
    server: FakeServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet: this is a load target
        pass

    def do_GET(self) -> None:
        self._reply(405, _envelope(40500, "use POST"))

    def do_POST(self) -> None:
        length = self.headers.get("Content-Length", "0")
        if not length.isdigit() or int(length) > MAX_BODY_BYTES:
            self.close_connection = True
            return self._reply(400, _envelope(40000, "bad Content-Length"))
        raw = self.rfile.read(int(length))
        path = self.path.split("?", 1)[0].rstrip("/").removeprefix(API_PREFIX)
        if path == CONTROL_PATH:  # the benchmark makes MemOS hang, and come back
            try:
                self.server.latency = max(0.0, float(raw))
            except ValueError:
                return self._reply(400, _envelope(40000, "a number of seconds"))
            return self._reply(200, _envelope(0, "ok", {"latency": self.server.latency}))
        if path != "/get/message":
            return self._reply(404, _envelope(40400, f"no such endpoint: {self.path}"))
        try:
            body = json.loads(raw)
            limit = body.get("message_limit_number")
            limit = DEFAULT_LIMIT if limit is None else int(limit)
        except (ValueError, TypeError, AttributeError):
            return self._reply(200, _envelope(40000, "bad request body"))
        if limit < 1:
            return self._reply(200, _envelope(40000, "message_limit_number must be at least 1"))
        payload = self.server.body_for(min(limit, len(self.server.conversation)))
        delay = self.server.latency
        if self.server.jitter:
            delay += random.uniform(-self.server.jitter, self.server.jitter)
        if delay > 0:
            time.sleep(delay)
        self.server.requests_served += 1  # approximate under threads; only for reporting
        self._reply(200, payload)

    def _reply(self, status: int, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class FakeUpstream:
    """``FakeServer`` in a background thread: ``with FakeUpstream(latency=0.05) as fake:``."""

    def __init__(self, *, latency: float = 0.0, jitter: float = 0.0, messages: int = 2000,
                 port: int = 0) -> None:
        self.server = FakeServer(("127.0.0.1", port), latency=latency, jitter=jitter,
                                 messages=messages)
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True,
                                       name="fake-upstream")

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def __enter__(self) -> FakeUpstream:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds to sleep per answer")
    parser.add_argument("--jitter", type=float, default=0.0,
                        help="seconds added or taken at random (uniform) per answer")
    parser.add_argument("--messages", type=int, default=2000, help="messages in the conversation")
    parser.add_argument("--rich", action="store_true",
                        help="every message an answer with links, code and a table")
    args = parser.parse_args(argv)
    server = FakeServer(("127.0.0.1", args.port), latency=args.latency, jitter=args.jitter,
                        messages=args.messages, rich=args.rich)
    print(server.base_url, flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    sys.exit(main())
