"""A bounded soak: a few thousand requests over loopback, with MemOS failing every fifth call.

The app runs in werkzeug's threaded server in this process, in front of a threaded
pytest-httpserver that answers a fixed conversation and, on every fifth call, cycles through an
HTTP 500, invalid JSON and business code 40300 (rate limited; the client retries it). Eight
client threads send a mix of pages, widgets, "load earlier" fragments (found and not found),
redirects, health checks and bad requests. Both werkzeug servers close every connection after
its answer, so each request opens and must release a socket on both sides: thousands of them.

After a warm-up, and again at the end, it measures this process: resident memory (VmRSS),
open file descriptors (sockets included), threads, and Python's allocated blocks. Growth must
stay under generous bounds: a leak of a connection or a few kilobytes per request shows.
Run with ``-s`` to see the numbers; they are also in every assertion message.
"""

from __future__ import annotations

import gc
import html as html_lib
import itertools
import json
import logging
import os
import re
import sys
import threading
import time
from collections import Counter

import requests
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response
from werkzeug.serving import make_server, WSGIRequestHandler

PREFIX = "/api/openmem/v1"
PATH = PREFIX + "/get/message"
TOTAL, WARM_UP, CLIENTS = 3000, 500, 8
TIME_LIMIT = 60.0          # stop early past this (the run then checks what it did)
RSS_GROWTH_MB = 30.0
FD_GROWTH = 10
THREAD_GROWTH = 10
BLOCK_GROWTH = 25_000      # Python objects: ten per request after warm-up would be a leak
ALLOWED = {200, 302, 400, 409, 502, 503}

CONVERSATION = json.dumps({"code": 0, "message": "ok", "data": {"message_detail_list": [
    {"role": "user" if n % 2 else "assistant",
     "content": f"message {n}: **some** text\n\n```python\nprint({n})\n```",
     "create_time": f"2026-02-01 10:{n:02d}:00"} for n in range(30)]}})
FAILURES = [
    Response('{"detail": "boom"}', 500, content_type="application/json"),
    Response("{not json", 200, content_type="application/json"),
    Response(json.dumps({"code": 40300, "message": "slow down", "data": None}), 200,
             content_type="application/json"),
]


class CyclingUpstream:
    """Every fifth call fails, cycling through FAILURES; the others answer CONVERSATION."""

    def __init__(self) -> None:
        self.calls = itertools.count()
        self.failures = itertools.cycle(FAILURES)
        self.lock = threading.Lock()

    def __call__(self, request: Request) -> Response:
        with self.lock:
            call = next(self.calls)
            failure = next(self.failures) if call % 5 == 4 else None
        return failure or Response(CONVERSATION, 200, content_type="application/json")


class QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:
        pass


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def snapshot() -> dict[str, float]:
    gc.collect()
    return {"rss_mb": rss_mb(), "fds": len(os.listdir("/proc/self/fd")),
            "threads": threading.active_count(), "blocks": sys.getallocatedblocks()}


class Soak:
    """CLIENTS threads sharing a request counter, one requests session each."""

    def __init__(self, origin: str, paths: list[tuple[str, dict]], ends: float) -> None:
        self.origin = origin
        self.paths = paths
        self.ends = ends
        self.sent = 0
        self.target = 0
        self.statuses: Counter[tuple[str, int]] = Counter()
        self.problems: list[str] = []
        self.lock = threading.Lock()
        self.sessions = [requests.Session() for _ in range(CLIENTS)]
        self.peak_fds = 0  # open descriptors seen while requests were in flight

    def run_until(self, target: int, upstream: HTTPServer) -> None:
        self.target = target
        workers = [threading.Thread(target=self._work, args=(n,), daemon=True)
                   for n in range(CLIENTS)]
        for worker in workers:
            worker.start()
        while any(worker.is_alive() for worker in workers):
            upstream.clear_log()  # pytest-httpserver keeps every request: not ours to count
            self.peak_fds = max(self.peak_fds, len(os.listdir("/proc/self/fd")))
            for worker in workers:
                worker.join(0.1)
        upstream.clear_log()

    def _work(self, client: int) -> None:
        while time.monotonic() < self.ends:
            with self.lock:
                if self.sent >= self.target:
                    return
                number = self.sent
                self.sent += 1
            path, headers = self.paths[number % len(self.paths)]
            try:
                reply = self.sessions[client].get(self.origin + path, headers=headers,
                                                  timeout=10, allow_redirects=False)
            except requests.RequestException as error:
                with self.lock:
                    self.problems.append(f"{path}: {error!r}")
                continue
            kind = path.split("?")[0] + (" (htmx)" if headers else "")
            with self.lock:
                self.statuses[kind, reply.status_code] += 1
                if reply.status_code not in ALLOWED or "Traceback" in reply.text:
                    self.problems.append(f"{path}: {reply.status_code} {reply.text[:300]}")

    def close(self) -> None:
        for session in self.sessions:
            session.close()


def test_soak_keeps_memory_connections_and_threads_flat(app_factory, caplog):
    # Keep pytest's log capture from holding a record per request (werkzeug logs each one at
    # INFO, and every upstream failure is a warning by design): that would be the harness
    # growing, not the app.
    caplog.set_level(logging.WARNING, logger="werkzeug")
    caplog.set_level(logging.ERROR, logger="viewer.errors")
    upstream = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    upstream.expect_request(PATH, method="POST").respond_with_handler(CyclingUpstream())
    upstream.start()
    # 3,000 requests from one address: without RATE_LIMIT=0 nearly all would be 429s.
    app = app_factory(MEMOS_BASE_URL=upstream.url_for(PREFIX), MEMOS_API_KEY="soak-key",
                      MEMOS_TIMEOUT=2.0, LOG_LEVEL="WARNING", VIEWER_ACCESS="open",
                      RATE_LIMIT="0")
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                               daemon=True)
    serving.start()
    origin = f"http://127.0.0.1:{server.server_port}"
    soak = None
    try:
        page = ""
        for _ in range(5):  # a healthy first page, for a real "load earlier" anchor
            reply = requests.get(f"{origin}/chat?user_id=u&conversation_id=c", timeout=10)
            if reply.status_code == 200:
                page = reply.text
                break
        found = re.search(r'<a id="load-more"[^>]*data-hx-get="([^"]*)"', page)
        assert found, "no healthy first page"
        older = html_lib.unescape(found.group(1))
        htmx = {"HX-Request": "true"}
        paths = [("/chat?user_id=u&conversation_id=c", {}),
                 ("/chat?user_id=u&conversation_id=c&limit=12", {}),
                 ("/embed?user_id=u&conversation_id=c&theme=dark", {}),
                 (older, htmx),
                 ("/chat?user_id=other&conversation_id=c2", {}),
                 (older, {}),                                   # no htmx: a redirect
                 ("/healthz", {}),
                 ("/chat?user_id=u&conversation_id=c&limit=abc", {}),  # 400
                 ("/embed?user_id=u&conversation_id=c", {}),
                 ("/chat/older?user_id=u&conversation_id=c&shown=6&depth=6"
                  "&anchor=1.0123456789abcdef", htmx)]                 # 409: not found
        started = time.monotonic()
        soak = Soak(origin, paths, started + TIME_LIMIT)
        soak.run_until(WARM_UP, upstream)
        before = snapshot()
        peak_warm_up, soak.peak_fds = soak.peak_fds, 0
        soak.run_until(TOTAL, upstream)
        after = snapshot()
        elapsed = time.monotonic() - started
    finally:
        if soak:
            soak.close()
        server.shutdown()
        server.server_close()
        app.extensions["memos_source"].source.close()
        upstream.clear()
        if upstream.is_running():
            upstream.stop()

    growth = {name: after[name] - before[name] for name in before}
    report = (f"soak: {soak.sent} requests in {elapsed:.1f}s ({soak.sent / elapsed:.0f}/s); "
              f"after warm-up of {WARM_UP}: {before}; at the end: {after}; growth: "
              f"RSS {growth['rss_mb']:+.1f} MB, fds {growth['fds']:+d}, "
              f"threads {growth['threads']:+d}, allocated blocks {growth['blocks']:+d}; "
              f"peak fds in flight: {peak_warm_up} in warm-up, {soak.peak_fds} after; "
              f"statuses: {dict(sorted(soak.statuses.items()))}")
    print("\n" + report)
    assert not soak.problems, f"{len(soak.problems)} bad: {soak.problems[:5]}\n{report}"
    assert soak.sent >= WARM_UP + 500, f"too few requests in {TIME_LIMIT}s\n{report}"
    assert growth["rss_mb"] < RSS_GROWTH_MB, report
    assert growth["fds"] <= FD_GROWTH, report
    assert growth["threads"] <= THREAD_GROWTH, report
    assert growth["blocks"] < BLOCK_GROWTH, report
    failed = sum(count for (kind, status), count in soak.statuses.items() if status >= 500)
    assert failed > 0 and soak.statuses["/chat", 200] > 0, report  # both kinds really happened
