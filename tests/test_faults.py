"""Fault injection: every way MemOS can misbehave, seen through the app's three views.

``test_upstream_failures.py`` checks the wording of the common failures on ``/chat`` and the
fragment; ``test_client.py`` checks the client alone against transport faults. This module puts
each fault (HTTP-level ones from pytest-httpserver, transport ones from tiny socket servers in
threads) behind the whole app and checks the page, the ``/embed`` widget *and* the "load
earlier" fragment: the documented status (502 bad/failed answer, 503 unavailable or rate
limited, 504 no answer in time), one ``role="alert"`` with a retry control, the right
``Retry-After``, no traceback, and an answer within the deadline. It also checks answers of
several megabytes, odd message items, and that a stalled upstream call holds up only its own
request.

Everything listens on 127.0.0.1; every server thread and wait is bounded.
"""

from __future__ import annotations

import html as html_lib
import json
import re
import socket
import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from page_text import texts
from raw_server import RawServer, read_request
from werkzeug import Response
from werkzeug.serving import make_server, WSGIRequestHandler

API_KEY = "sk-fault-injection-key-0123456789"
PREFIX = "/api/openmem/v1"
PATH = PREFIX + "/get/message"
ANCHOR = "1.0123456789abcdef"  # well-formed, names nothing upstream
TIMEOUT = 0.5                  # MEMOS_TIMEOUT for every app here
DEADLINE = 2.0                 # MEMOS_DEADLINE: one page's whole budget for MemOS
BOUND = DEADLINE + 2.0         # generous: deadline plus rendering, on a loaded CI machine

PAGE = "/chat?user_id=u&conversation_id=c"
EMBED = "/embed?user_id=u&conversation_id=c"
FRAGMENT = f"/chat/older?user_id=u&conversation_id=c&shown=6&depth=6&anchor={ANCHOR}"
HX = {"HX-Request": "true"}
VIEWS = [("page", PAGE, {}), ("embed", EMBED, {}), ("fragment", FRAGMENT, HX)]


def envelope(data=None, code=0, message="ok") -> str:
    return json.dumps({"code": code, "data": data, "message": message})


def item(n: int, content: str | None = None) -> dict:
    minute, second = divmod(n, 60)
    return {"role": "user" if n % 2 else "assistant", "content": content or f"message {n}",
            "create_time": f"2026-01-{1 + minute // 1440:02d} {minute // 60 % 24:02d}:"
                           f"{minute % 60:02d}:{second:02d}"}


def conversation(count: int, content_size: int = 0) -> dict:
    padding = "x" * content_size
    return {"message_detail_list": [item(n, f"message {n} {padding}") for n in range(count)]}


@pytest.fixture
def fault_app(app_factory):
    """Build the app against ``base_url`` with small timeouts.

    The client's retry backoff (0.2 s, doubling; no setting) is cut to 0.01 s on the app's own
    client so the many retried faults stay quick; ``default_backoff=True`` keeps it.
    """
    def build(base_url: str, default_backoff: bool = False, **settings):
        config = dict(MEMOS_BASE_URL=base_url, MEMOS_API_KEY=API_KEY, MEMOS_TIMEOUT=TIMEOUT,
                      MEMOS_DEADLINE=DEADLINE, VIEWER_ACCESS="open")
        config.update(settings)
        app = app_factory(**config)
        if not default_backoff:
            app.extensions["memos_source"].source.backoff = 0.01
        return app
    return build


def get(app, path: str, headers: dict | None = None):
    """One request through Flask's test client: (response, html, seconds)."""
    started = time.monotonic()
    result = app.test_client().get(path, headers=headers or {})
    return result, result.get_data(as_text=True), time.monotonic() - started


def assert_fails_cleanly(app, status: int, phrase: str, retry_after: str | None = None,
                         bound: float = BOUND) -> None:
    """Page, widget and fragment all show the failure in place, in time, with a retry."""
    for view, path, headers in VIEWS:
        result, html, elapsed = get(app, path, headers)
        where = f"{view}: HTTP {result.status_code} in {elapsed:.2f}s"
        assert result.status_code == status, f"{where}, expected {status}\n{html[:2000]}"
        assert elapsed < bound, f"{where}: slower than {bound}s"
        assert html.count('role="alert"') == 1, where
        assert phrase in html, f"{where}: {phrase!r} not shown\n{html[:2000]}"
        assert "Traceback" not in html and API_KEY not in html, where
        assert result.headers.get("Retry-After") == retry_after, where
        if view == "fragment":
            assert result.headers["HX-Retarget"] == "#history-head", where
            retry = re.search(r'<a id="load-more"[^>]*data-hx-get="([^"]*)"[^>]*>Try again</a>',
                              html)
            assert retry and f"anchor={ANCHOR}" in retry.group(1), f"{where}: no Try again"
        else:
            assert '<html' in html and 'role="log"' not in html, where
            assert f'class="alert__retry" href="{html_lib.escape(path)}"' in html, \
                f"{where}: no retry link"


# --- HTTP-level faults (pytest-httpserver) -------------------------------------------------


def json_response(body: str, status: int = 200, **headers) -> Response:
    return Response(body, status, content_type="application/json", headers=headers)


GATEWAY_HTML = "<html><body><h1>502 Bad Gateway</h1><hr>nginx</body></html>"
OVER_DEFAULT_CAP = json.dumps(conversation(17 * 1024, content_size=1000))  # > 16 MiB

HTTP_FAULTS = [
    # (id, response, status, phrase, Retry-After)
    ("500 json", json_response('{"detail": "boom"}', 500), 502, "(HTTP 500)", None),
    ("500 envelope", json_response(envelope(None, 50000, "internal"), 500), 502,
     "internal error", None),
    ("500 html", Response("<h1>Internal Server Error</h1>", 500, content_type="text/html"),
     502, "(HTTP 500)", None),
    ("502 html", Response(GATEWAY_HTML, 502, content_type="text/html"), 503, "(HTTP 502)",
     None),
    ("503 html", Response("<h1>Service Unavailable</h1>", 503, content_type="text/html"), 503,
     "(HTTP 503)", None),
    ("504 html", Response("<h1>Gateway Timeout</h1>", 504, content_type="text/html"), 503,
     "(HTTP 504)", None),
    ("429 retry-after 7", Response("slow down", 429, headers={"Retry-After": "7"}), 503,
     "rate limiting", "7"),
    ("429 retry-after 0.05 retried", Response("", 429, headers={"Retry-After": "0.05"}), 503,
     "rate limiting", "1"),
    ("429 no retry-after", Response("slow down", 429), 503, "rate limiting", None),
    ("429 retry-after date", Response("", 429, headers={
        "Retry-After": "Wed, 21 Oct 2099 07:28:00 GMT"}), 503, "rate limiting", None),
    ("429 retry-after negative", Response("", 429, headers={"Retry-After": "-3"}), 503,
     "rate limiting", None),
    ("429 retry-after inf", Response("", 429, headers={"Retry-After": "inf"}), 503,
     "rate limiting", None),
    ("429 retry-after 1e400", Response("", 429, headers={"Retry-After": "1e400"}), 503,
     "rate limiting", None),
    ("invalid json", json_response("{not json"), 502, "not JSON", None),
    ("truncated json", json_response('{"code": 0, "data": {"message_detail_list": ['), 502,
     "not JSON", None),
    ("empty body", json_response(""), 502, "not JSON", None),
    ("html with 200", Response("<html>maintenance</html>", 200, content_type="text/html"), 502,
     "not JSON", None),
    ("invalid utf-8", json_response(b'{"code": 0, "data": "\xff\xfe"}'), 502, "not JSON", None),
    ("deep nesting", json_response("[" * 100_000), 502, "not JSON", None),
    ("json null", json_response("null"), 502, "not JSON", None),
    ("top-level list", json_response("[]"), 502, "not a JSON object", None),
    ("top-level list of envelopes", json_response(f"[{envelope(conversation(2))}]"), 502,
     "not a JSON object", None),
    ("top-level string", json_response('"ok"'), 502, "not a JSON object", None),
    ("top-level number", json_response("0"), 502, "not a JSON object", None),
    ("no code", json_response(json.dumps({"data": conversation(2)})), 502, "no result code",
     None),
    ("code is text", json_response(envelope(conversation(2), "zero")), 502, "no result code",
     None),
    ("code 40300", json_response(envelope(None, 40300)), 503, "rate limiting", None),
    ("code 40300 retry-after", json_response(envelope(None, 40300), **{"Retry-After": "9"}),
     503, "rate limiting", "9"),
    ("code 40309", json_response(envelope(None, 40309)), 503, "allowance", None),
    ("code 50000", json_response(envelope(None, 50000, "internal {0}")), 502, "internal error",
     None),
    ("code 50004", json_response(envelope(None, 50004)), 503, "service behind MemOS", None),
    ("code 500 echoed", json_response(envelope(None, 500)), 502, "(HTTP 500)", None),
    ("code 40001 not found", json_response(envelope(None, 40001)), 404,
     "no such user or conversation", None),
    ("code 40132 over http 401", json_response(envelope(None, 40132), 401), 502,
     "rejected the API key", None),
    ("code -1", json_response(envelope(conversation(2), -1)), 502, "error code -1", None),
    ("null data", json_response(envelope(None)), 502, "no data", None),
    ("data is a list", json_response(envelope([item(1)])), 502, "no message list", None),
    ("data is a string", json_response(envelope("message_detail_list")), 502,
     "no message list", None),
    ("data is a number", json_response(envelope(7)), 502, "no message list", None),
    ("data is false", json_response(envelope(False)), 502, "no message list", None),
    ("data is empty", json_response(envelope({})), 502, "no message list", None),
    ("message list is null", json_response(envelope({"message_detail_list": None})), 502,
     "no message list", None),
    ("message list is an object", json_response(envelope({"message_detail_list": item(1)})),
     502, "no message list", None),
    ("message list is a string", json_response(envelope({"message_detail_list": "[]"})), 502,
     "no message list", None),
    ("over the 16 MiB cap", json_response(OVER_DEFAULT_CAP), 502, "larger than this app", None),
]


@pytest.mark.parametrize("name, response, status, phrase, retry_after", HTTP_FAULTS,
                         ids=[fault[0] for fault in HTTP_FAULTS])
def test_http_fault_is_shown_in_place(httpserver, fault_app, name, response, status, phrase,
                                      retry_after, collector_off):
    httpserver.expect_request(PATH, method="POST").respond_with_response(response)
    app = fault_app(httpserver.url_for(PREFIX))
    assert_fails_cleanly(app, status, phrase, retry_after)


@pytest.mark.parametrize("response", [Response(GATEWAY_HTML, 502),
                                      Response("", 429), json_response(envelope(None, 40300))],
                         ids=["502", "429", "code 40300"])
def test_retries_with_the_default_backoff_end_within_the_deadline(httpserver, fault_app,
                                                                  response):
    httpserver.expect_request(PATH).respond_with_response(response)
    assert_fails_cleanly(fault_app(httpserver.url_for(PREFIX), default_backoff=True), 503,
                         "", None)
    assert len(httpserver.log) == 3 * 3  # each view: one call and two retries


def test_small_retry_after_is_honoured_then_given_up(httpserver, fault_app):
    httpserver.expect_request(PATH).respond_with_response(
        Response("", 429, headers={"Retry-After": "0.05"}))
    app = fault_app(httpserver.url_for(PREFIX))
    result, _, _ = get(app, PAGE)
    assert result.status_code == 503
    assert len(httpserver.log) == 3  # one call and two retries, all within the deadline


def test_failures_then_recovery_on_the_same_app(httpserver, fault_app):
    app = fault_app(httpserver.url_for(PREFIX))
    for response in (json_response("{not json"), Response(GATEWAY_HTML, 502)):
        httpserver.clear()
        httpserver.expect_request(PATH).respond_with_response(response)
        assert get(app, PAGE)[0].status_code in (502, 503)
    httpserver.clear()
    httpserver.expect_request(PATH).respond_with_data(envelope(conversation(3)))
    result, html, _ = get(app, PAGE)
    assert result.status_code == 200 and texts(html) == ["message 0", "message 1", "message 2"]


# --- transport faults (socket servers) -----------------------------------------------------


OK_BODY = envelope(conversation(3)).encode()


def head(length: int | None = len(OK_BODY), extra: bytes = b"") -> bytes:
    size = b"" if length is None else b"Content-Length: %d\r\n" % length
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + size + extra + b"\r\n"


def reset(conn: socket.socket) -> None:
    """Close with an RST instead of a FIN."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def stall_before_headers(conn, server):
    read_request(conn)
    server.release.wait(5)


def stall_mid_body(conn, server):
    read_request(conn)
    conn.sendall(head() + OK_BODY[:20])
    server.release.wait(5)


def trickle(conn, server):
    """A byte every 50 ms: every read succeeds, the answer never ends."""
    read_request(conn)
    conn.sendall(head(100_000))
    for _ in range(400):
        if server.release.wait(0.05):
            return
        conn.sendall(b" ")


def reset_mid_body(conn, server):
    read_request(conn)
    conn.sendall(head() + OK_BODY[:20])
    time.sleep(0.02)
    reset(conn)


def reset_before_answer(conn, server):
    read_request(conn)
    reset(conn)


def close_without_answer(conn, server):
    read_request(conn)


def short_body_then_close(conn, server):
    read_request(conn)
    conn.sendall(head(len(OK_BODY) + 500) + OK_BODY)


def garbage_status_line(conn, server):
    read_request(conn)
    conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")


def broken_chunks(conn, server):
    read_request(conn)
    conn.sendall(head(None, b"Transfer-Encoding: chunked\r\n") + b"zz\r\nnot a chunk\r\n")


TRANSPORT_FAULTS = [
    # (handler, status, phrase)
    (stall_before_headers, 504, "did not answer in time"),
    (stall_mid_body, 504, "did not answer in time"),
    (trickle, 504, "did not answer in time"),
    (reset_mid_body, 503, "broke mid-answer"),
    (reset_before_answer, 503, "connection to MemOS was lost"),
    (close_without_answer, 503, "connection to MemOS was lost"),
    (short_body_then_close, 503, "broke mid-answer"),
    (garbage_status_line, 503, "connection to MemOS was lost"),
    (broken_chunks, 503, "broke mid-answer"),
]


@pytest.mark.parametrize("handler, status, phrase", TRANSPORT_FAULTS,
                         ids=[fault[0].__name__ for fault in TRANSPORT_FAULTS])
def test_transport_fault_is_shown_in_place(fault_app, handler, status, phrase):
    with RawServer(handler) as server:
        # A trickle is only ever stopped by the deadline: keep that one short.
        deadline = 0.8 if handler is trickle else DEADLINE
        app = fault_app(server.url, MEMOS_DEADLINE=deadline)
        assert_fails_cleanly(app, status, phrase, bound=deadline + 2.0)
        assert server.accepted <= 3 * 3  # each view: one call and at most two retries


# --- answers of several megabytes ----------------------------------------------------------


SIX_MB = envelope(conversation(6000, content_size=1000))


@pytest.fixture
def big_upstream(httpserver):
    httpserver.expect_request(PATH).respond_with_data(SIX_MB, content_type="application/json")
    assert len(SIX_MB) > 6_000_000
    return httpserver.url_for(PREFIX)


def load_more_url(html: str) -> str:
    found = re.search(r'<a id="load-more"[^>]*data-hx-get="([^"]*)"', html)
    assert found, "no load-more control"
    return html_lib.unescape(found.group(1))


def test_six_megabyte_answer_renders_page_widget_and_fragment(fault_app, big_upstream):
    app = fault_app(big_upstream)
    newest = [f"message {n} " + "x" * 1000 for n in range(5994, 6000)]
    for path in (PAGE, EMBED):
        result, html, elapsed = get(app, path)
        assert result.status_code == 200 and elapsed < BOUND, (path, elapsed)
        assert texts(html) == newest
    result, html, elapsed = get(app, load_more_url(get(app, PAGE)[1]), HX)
    assert result.status_code == 200 and elapsed < BOUND, elapsed
    assert texts(html) == [f"message {n} " + "x" * 1000 for n in range(5988, 5994)]


def test_answer_over_the_clients_cap_is_a_bad_answer(fault_app, big_upstream):
    # There is no setting for the client's size cap: lower it on the app's own client.
    app = fault_app(big_upstream)
    app.extensions["memos_source"].source.max_response_bytes = 4 * 1024 * 1024
    assert_fails_cleanly(app, 502, "larger than this app accepts")


def test_one_huge_markdown_message_renders_within_the_deadline(httpserver, fault_app):
    # Markdown (with tables and highlighted code) is rendered for the assistant: an answer with
    # a megabyte of it in one message must not hold a worker for tens of seconds.
    code = "```python\n" + "value = compute(value, 1)  # step\n" * 30_000 + "```\n"
    table = "| a | b |\n|---|---|\n" + "| x | y |\n" * 30_000
    items = [{"role": "assistant", "content": code + table, "create_time": "2026-01-01 10:00"},
             {"role": "user", "content": "thanks", "create_time": "2026-01-01 10:01"}]
    httpserver.expect_request(PATH).respond_with_data(envelope({"message_detail_list": items}))
    result, html, elapsed = get(fault_app(httpserver.url_for(PREFIX)), PAGE)
    assert result.status_code == 200 and elapsed < BOUND, f"{elapsed:.1f}s"
    assert html.count("value = compute(value, 1)") >= 30_000  # all of it is there


# --- odd message items: shown, not fatal --------------------------------------------------


ODD_ITEMS = [None, 1, -7, 10**30, 1.5, True, "a bare string", [], ["a", {"b": None}], {},
             {"role": 5, "content": {"nested": [1, 2]}}, {"role": None, "content": None},
             {"role": "user", "content": [{"type": "image_url", "image_url": None}, 3, None]},
             {"role": "assistant", "content": "ok", "create_time": {"$date": 1}},
             {"role": "user", "content": "timestamp junk", "chat_time": "2026-13-45 99:99"},
             {"role": "tool", "content": "far future", "create_time": 10**18},
             {"role": "user", "content": "lone \ud800 surrogate", "chat_time": "\udc00"},
             {"role": "\udfff", "content": [{"type": "\ud800", "url": "\udbff"}]},
             {"role": "assistant", "content": "year 9999", "create_time": "9999-12-31T23:59-08:00"},
             {"role": "user", "content": "year 1", "create_time": "0001-01-01 00:00:00"},
             {"role": "user", "content": "epoch max", "create_time": 253402300799999},
             {"role": "user", "content": "last", "create_time": "2026-01-01 10:00:00"}]


@pytest.mark.parametrize("display_zone", ["", "-11:00", "+14:00"])
def test_odd_items_render_and_the_fragment_reports_a_changed_conversation(httpserver,
                                                                         fault_app,
                                                                         display_zone):
    # Lone surrogates (JSON may escape them; UTF-8 cannot encode them) and times at the ends
    # of the datetime range (which overflow when moved to the display zone) once made 500s.
    httpserver.expect_request(PATH).respond_with_data(
        envelope({"message_detail_list": ODD_ITEMS}))
    app = fault_app(httpserver.url_for(PREFIX), DISPLAY_TIMEZONE=display_zone)
    for path in (PAGE, EMBED):
        result, html, elapsed = get(app, path)
        assert result.status_code == 200 and elapsed < BOUND
        assert 'role="log"' in html and "Traceback" not in html
        assert html.count("<article") == 6  # CHAT_PAGE_SIZE of them
    # A well-formed anchor naming none of these: the documented 409, with a reload control.
    result, html, elapsed = get(app, FRAGMENT, HX)
    assert result.status_code == 409 and elapsed < BOUND
    assert html.count('role="alert"') == 1 and "conversation changed" in html
    assert 'class="alert__retry" href="/chat?' in html and "Traceback" not in html
    # The page's own anchor finds the older odd items.
    result, html, _ = get(app, load_more_url(get(app, PAGE)[1]), HX)
    assert result.status_code == 200 and html.count("<article") == 6


# --- one stalled call does not hold up other requests -------------------------------------


class QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:  # keep test output readable
        pass


class RoutedUpstream(ThreadingHTTPServer):
    """MemOS stand-in: conversation "slow" stalls (at most ``stall`` s), others answer at once."""

    daemon_threads = True

    def __init__(self, stall: float) -> None:
        self.stall = stall
        self.release = threading.Event()
        self.stalled = threading.Semaphore(0)  # one per stalled request that has arrived
        super().__init__(("127.0.0.1", 0), _RoutedHandler)


class _RoutedHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if body["conversation_id"] == "slow":
            self.server.stalled.release()
            self.server.release.wait(self.server.stall)
        answer = envelope(conversation(4)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args) -> None:
        pass


@pytest.mark.parametrize("pool_size", [1, 16])
def test_a_stalled_call_does_not_hold_up_other_requests(app_factory, pool_size):
    stall = 3.0
    upstream = RoutedUpstream(stall)
    threading.Thread(target=upstream.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    base_url = f"http://127.0.0.1:{upstream.server_address[1]}{PREFIX}"
    app = app_factory(MEMOS_BASE_URL=base_url, MEMOS_API_KEY=API_KEY, MEMOS_TIMEOUT=10,
                      MEMOS_POOL_SIZE=pool_size, VIEWER_ACCESS="open")
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_port}"
    slow_results: list[requests.Response] = []
    slow_paths = ["/chat?user_id=u&conversation_id=slow",
                  f"/chat/older?user_id=u&conversation_id=slow&shown=6&depth=6&anchor={ANCHOR}"]

    def fetch_slow(path: str) -> None:
        slow_results.append(requests.get(origin + path, headers=HX, timeout=stall + 5))

    slow = [threading.Thread(target=fetch_slow, args=(path,), daemon=True) for path in slow_paths]
    try:
        started = time.monotonic()
        for thread in slow:
            thread.start()
        for _ in slow:  # both stalled calls have reached the upstream
            assert upstream.stalled.acquire(timeout=2)

        def fetch_healthy(n: int) -> tuple[int, float, str]:
            begun = time.monotonic()
            path = "/chat" if n % 2 else "/embed"
            reply = requests.get(f"{origin}{path}?user_id=u&conversation_id=fast-{n}",
                                 timeout=stall + 5)
            return reply.status_code, time.monotonic() - begun, reply.text

        sequential = [fetch_healthy(n) for n in range(5)]
        with ThreadPoolExecutor(4) as pool:
            parallel = list(pool.map(fetch_healthy, range(5, 13)))
        in_flight = time.monotonic() - started
        for status, seconds, html in sequential + parallel:
            assert status == 200 and seconds < 2.0, (status, f"{seconds:.2f}s")
            assert texts(html)[-1] == "message 3"
        # The healthy requests really overlapped the stalled ones.
        assert in_flight < stall and all(thread.is_alive() for thread in slow), \
            f"healthy requests took {in_flight:.2f}s"
    finally:
        upstream.release.set()
        for thread in slow:
            thread.join(stall + 5)
        server.shutdown()
        server.server_close()
        upstream.shutdown()
        upstream.server_close()
    assert sorted(reply.status_code for reply in slow_results) == [200, 409]
