"""The MemOS client against real loopback HTTP servers (never a mocked ``requests``).

Well-formed answers come from pytest-httpserver. Faults it cannot produce (a stall, a reset,
a trickle, chunked bodies, counted TCP connections) come from tiny socket servers bound to
127.0.0.1 in a thread. Timeouts and backoffs are small so the whole module runs in seconds.
"""

from __future__ import annotations

import gzip
import json
import socket
import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, UTC

import pytest
from raw_server import RawServer

from memos_api import (
    AddResult,
    AuthError,
    BadResponseError,
    DEFAULT_BASE_URL,
    GLOBAL_BASE_URL,
    InvalidRequestError,
    MemOSClient,
    MemOSError,
    Message,
    NotFoundError,
    RateLimitedError,
    resolve_base_url,
    UpstreamError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)

API_KEY = "mpg-SECRET-key-0123456789"
PREFIX = "/api/openmem/v1"
GET = PREFIX + "/get/message"
ADD = PREFIX + "/add/message"
RETRIES = 2

GATEWAY_HTML = (
    "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway"
    "</h1></center><hr><center>nginx</center></body></html>"
)


def make_client(base_url: str, **options) -> MemOSClient:
    settings = dict(timeout=0.5, connect_timeout=0.5, deadline=5.0, retries=RETRIES,
                    backoff=0.01, max_retry_after=0.2)
    settings.update(options)
    api_key = settings.pop("api_key", API_KEY)
    return MemOSClient(api_key, base_url, **settings)


def envelope(data: object = None, code: object = 0, message: str = "ok") -> dict:
    return {"code": code, "data": data, "message": message}


def messages_data(*items: object) -> dict:
    return {"message_detail_list": list(items)}


OK_ENVELOPE = envelope(messages_data({"role": "user", "content": "hi",
                                      "create_time": "2024-05-01 10:00:00"}))


@pytest.fixture
def base_url(httpserver) -> str:
    return httpserver.url_for(PREFIX)


@pytest.fixture
def client(base_url):
    with make_client(base_url) as memos:
        yield memos


def requests_seen(httpserver, path: str = GET) -> int:
    return sum(1 for request, _ in httpserver.log if request.path == path)


def raised(call) -> MemOSError:
    with pytest.raises(MemOSError) as info:
        call()
    return info.value


# --- tiny socket servers for faults --------------------------------------------------------


def http_response(body: bytes, status: str = "200 OK", headers: str = "") -> bytes:
    return (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{headers}\r\n").encode() + body


OK_BYTES = json.dumps(OK_ENVELOPE).encode()


def reset(conn: socket.socket) -> None:
    """Close with an RST instead of a FIN."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def keep_alive(conn: socket.socket, server: RawServer) -> None:
    while server.read_request(conn) is not None:
        conn.sendall(http_response(OK_BYTES))


def stall_before_headers(conn: socket.socket, server: RawServer) -> None:
    server.read_request(conn)
    server.release.wait(5)


def stall_mid_body(conn: socket.socket, server: RawServer) -> None:
    server.read_request(conn)
    conn.sendall(http_response(OK_BYTES)[:-10])
    server.release.wait(5)


def trickle(conn: socket.socket, server: RawServer) -> None:
    """Answer a 2000-byte body one byte every 20 ms: each read succeeds, the whole never ends."""
    server.read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 2000\r\n\r\n")
    for _ in range(2000):
        if server.release.wait(0.02):
            return
        conn.sendall(b" ")


def reset_mid_body(conn: socket.socket, server: RawServer) -> None:
    server.read_request(conn)
    conn.sendall(http_response(OK_BYTES)[:-10])
    time.sleep(0.02)
    reset(conn)


def reset_before_answer(conn: socket.socket, server: RawServer) -> None:
    server.read_request(conn)
    reset(conn)


def closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


# --- request shape -------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", "/"])
def test_get_messages_posts_json_with_token_auth(httpserver, suffix):
    httpserver.expect_request(GET, method="POST").respond_with_json(OK_ENVELOPE)
    with make_client(httpserver.url_for(PREFIX) + suffix) as memos:
        memos.get_messages("user-1", "conv-1", limit=12)

    assert len(httpserver.log) == 1
    request = httpserver.log[0][0]
    assert request.method == "POST"
    assert request.path == GET  # no doubled slash when the base URL ends with one
    assert request.headers["Authorization"] == f"Token {API_KEY}"
    assert request.headers["Content-Type"].startswith("application/json")
    assert json.loads(request.get_data()) == {
        "user_id": "user-1", "conversation_id": "conv-1", "message_limit_number": 12}


def test_default_limit_is_sent_as_null(httpserver, client):
    httpserver.expect_request(GET, method="POST").respond_with_json(OK_ENVELOPE)
    client.get_messages("u", "c")
    assert json.loads(httpserver.log[0][0].get_data())["message_limit_number"] is None


@pytest.mark.parametrize("api_key", ["", None])
def test_no_authorization_header_without_a_key(httpserver, base_url, api_key):
    httpserver.expect_request(GET, method="POST").respond_with_json(OK_ENVELOPE)
    with make_client(base_url, api_key=api_key) as memos:
        memos.get_messages("u", "c")
    assert "Authorization" not in httpserver.log[0][0].headers


# --- successful answers --------------------------------------------------------------------


@pytest.mark.parametrize("code", [0, 200, "0"])
def test_success_is_parsed_into_messages(httpserver, client, code):
    items = [
        {"role": "user", "content": "Hello", "create_time": "2024-05-01 10:00:00",
         "update_time": "2024-05-01 10:00:00"},
        {"role": "assistant", "content": "Hi there", "create_time": "2024-05-01 10:00:05",
         "update_time": "2024-05-01 10:30:00"},
    ]
    httpserver.expect_request(GET, method="POST").respond_with_json(
        envelope(messages_data(*items), code=code))

    messages = client.get_messages("u", "c")

    assert all(isinstance(message, Message) for message in messages)
    assert [(m.role, m.text) for m in messages] == [("user", "Hello"), ("assistant", "Hi there")]
    assert messages[0].created_at == datetime(2024, 5, 1, 2, 0, tzinfo=UTC)  # UTC+8
    assert messages[1].created_at == datetime(2024, 5, 1, 2, 0, 5, tzinfo=UTC)
    assert messages[1].updated_at == datetime(2024, 5, 1, 2, 30, tzinfo=UTC)
    assert messages[1].edited and not messages[0].edited


def test_messages_keep_the_server_order(httpserver, client):
    items = [{"role": "user", "content": str(n), "create_time": f"2024-05-01 10:00:0{9 - n}"}
             for n in range(5)]
    httpserver.expect_request(GET).respond_with_json(envelope(messages_data(*items)))
    assert [m.text for m in client.get_messages("u", "c")] == ["0", "1", "2", "3", "4"]


def test_empty_conversation_is_an_empty_list(httpserver, client):
    httpserver.expect_request(GET).respond_with_json(envelope(messages_data()))
    assert client.get_messages("u", "c") == []


def test_gzip_encoded_answer_is_decoded(httpserver, client):
    httpserver.expect_request(GET).respond_with_data(
        gzip.compress(OK_BYTES), headers={"Content-Encoding": "gzip"},
        content_type="application/json")
    assert [m.text for m in client.get_messages("u", "c")] == ["hi"]


def test_chunked_answer_is_read():
    def chunked(conn, server):
        server.read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        for start in range(0, len(OK_BYTES), 7):
            piece = OK_BYTES[start:start + 7]
            conn.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
        conn.sendall(b"0\r\n\r\n")

    with RawServer(chunked) as server, make_client(server.url) as memos:
        assert [m.text for m in memos.get_messages("u", "c")] == ["hi"]


def test_add_messages_sends_messages_and_returns_result(httpserver, client):
    httpserver.expect_request(ADD, method="POST").respond_with_json(
        envelope({"success": True, "task_id": "task-9", "status": "running"}))
    sent = [{"role": "user", "content": "hello", "chat_time": "2024-05-01 10:00:00"},
            {"role": "assistant", "content": [{"type": "text", "text": "hey"}]}]

    result = client.add_messages("u", "c", sent, async_mode=False)

    assert result == AddResult(success=True, task_id="task-9", status="running")
    request = httpserver.log[0][0]
    assert request.headers["Authorization"] == f"Token {API_KEY}"
    assert json.loads(request.get_data()) == {
        "user_id": "u", "conversation_id": "c", "messages": sent, "async_mode": False}


@pytest.mark.parametrize("missing", ["success", "task_id", "status"])
def test_add_answer_missing_a_field_is_a_bad_response(httpserver, client, missing):
    data = {"success": True, "task_id": "t", "status": "completed"}
    del data[missing]
    httpserver.expect_request(ADD).respond_with_json(envelope(data))
    with pytest.raises(BadResponseError):
        client.add_messages("u", "c", [{"role": "user", "content": "x"}])


# --- HTTP-level failures -------------------------------------------------------------------


@pytest.mark.parametrize("body, content_type", [
    (json.dumps({"detail": "Internal Server Error"}), "application/json"),
    (json.dumps({"code": 500, "message": "boom", "data": None}), "application/json"),
    (json.dumps({"code": 50000, "message": "", "data": None}), "application/json"),
    ("Internal Server Error", "text/plain"),
])
def test_http_500_is_an_upstream_error(httpserver, client, body, content_type):
    httpserver.expect_request(GET).respond_with_data(body, status=500,
                                                     content_type=content_type)
    error = raised(lambda: client.get_messages("u", "c"))
    assert type(error) is UpstreamError
    assert requests_seen(httpserver) == 1  # a 500 is not transient: no retry


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_errors_are_retried_then_unavailable(httpserver, client, status):
    httpserver.expect_request(GET).respond_with_data(GATEWAY_HTML, status=status,
                                                     content_type="text/html")
    error = raised(lambda: client.get_messages("u", "c"))
    assert isinstance(error, UpstreamUnavailableError)
    assert error.http_status == status
    assert "<html" not in str(error)
    assert requests_seen(httpserver) == RETRIES + 1


def test_gateway_error_then_success_recovers(httpserver, client):
    httpserver.expect_ordered_request(GET).respond_with_data(GATEWAY_HTML, status=502)
    httpserver.expect_ordered_request(GET).respond_with_json(OK_ENVELOPE)
    assert [m.text for m in client.get_messages("u", "c")] == ["hi"]
    assert requests_seen(httpserver) == 2


def test_rate_limit_with_small_retry_after_is_retried(httpserver, client):
    httpserver.expect_request(GET).respond_with_data(
        "slow down", status=429, headers={"Retry-After": "0.05"})
    started = time.monotonic()
    error = raised(lambda: client.get_messages("u", "c"))
    assert isinstance(error, RateLimitedError)
    assert error.retry_after == pytest.approx(0.05)
    assert requests_seen(httpserver) == RETRIES + 1
    assert time.monotonic() - started >= RETRIES * 0.05  # it did wait as asked


def test_rate_limit_without_retry_after_is_retried_with_backoff(httpserver, client):
    httpserver.expect_request(GET).respond_with_data("slow down", status=429)
    error = raised(lambda: client.get_messages("u", "c"))
    assert isinstance(error, RateLimitedError) and error.retry_after is None
    assert requests_seen(httpserver) == RETRIES + 1


def test_rate_limit_with_long_retry_after_is_not_retried(httpserver, client):
    httpserver.expect_request(GET).respond_with_data(
        "slow down", status=429, headers={"Retry-After": "30"})
    started = time.monotonic()
    error = raised(lambda: client.get_messages("u", "c"))
    assert isinstance(error, RateLimitedError)
    assert error.retry_after == 30
    assert requests_seen(httpserver) == 1
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("status", [401, 403])
def test_auth_statuses_with_html_are_auth_errors(httpserver, client, status):
    httpserver.expect_request(GET).respond_with_data(
        f"<html><body><h1>{status} Forbidden</h1></body></html>", status=status,
        content_type="text/html")
    error = raised(lambda: client.get_messages("u", "c"))
    assert isinstance(error, AuthError)
    assert API_KEY not in str(error)
    assert requests_seen(httpserver) == 1


def test_http_400_echoing_the_status_as_code_is_an_invalid_request(httpserver, client):
    # MemOS's open-source server answers validation errors as HTTP 400 {"code": 400, ...}.
    httpserver.expect_request(GET).respond_with_json(
        {"code": 400, "message": "user_id: field required", "data": None}, status=400)
    error = raised(lambda: client.get_messages("u", "c"))
    assert isinstance(error, InvalidRequestError)
    assert "field required" not in str(error)


def test_http_404_html_is_not_found(httpserver, client):
    httpserver.expect_request(GET).respond_with_data("<h1>Not Found</h1>", status=404,
                                                     content_type="text/html")
    assert isinstance(raised(lambda: client.get_messages("u", "c")), NotFoundError)


# --- unreadable answers --------------------------------------------------------------------


@pytest.mark.parametrize("body", [
    "{not json", "", "<html><body>OK</body></html>", "[" * 100_000,
])
def test_invalid_json_with_200_is_a_bad_response(httpserver, client, body, collector_off):
    httpserver.expect_request(GET).respond_with_data(body, content_type="application/json")
    with pytest.raises(BadResponseError):
        client.get_messages("u", "c")
    assert requests_seen(httpserver) == 1


@pytest.mark.parametrize("value", [[], [OK_ENVELOPE], "a string", 42, None, True])
def test_json_that_is_not_an_object_is_a_bad_response(httpserver, client, value):
    httpserver.expect_request(GET).respond_with_json(value)
    with pytest.raises(BadResponseError):
        client.get_messages("u", "c")


@pytest.mark.parametrize("answer", [
    {"data": messages_data(), "message": "ok"},  # no code
    {"code": None, "data": messages_data()},
    {"code": "zero", "data": messages_data()},
    {"code": True, "data": messages_data()},
    envelope(None),  # data: null
    {"code": 0, "message": "ok"},  # no data
    envelope({}),  # no message_detail_list
    envelope({"message_detail_list": None}),
    envelope({"message_detail_list": "not a list"}),
    envelope({"message_detail_list": {"0": {"role": "user"}}}),
    envelope([{"role": "user", "content": "data is a list"}]),
])
def test_envelope_defects_are_bad_responses(httpserver, client, answer):
    httpserver.expect_request(GET).respond_with_json(answer)
    with pytest.raises(BadResponseError):
        client.get_messages("u", "c")


def test_answer_larger_than_the_cap_is_a_bad_response(httpserver, base_url):
    big = envelope(messages_data(*[{"role": "user", "content": "x" * 100}] * 100))
    body = json.dumps(big)
    httpserver.expect_request(GET).respond_with_data(body, content_type="application/json")
    with make_client(base_url, max_response_bytes=4096) as memos:
        with pytest.raises(BadResponseError, match="larger"):
            memos.get_messages("u", "c")
    with make_client(base_url, max_response_bytes=len(body)) as memos:
        assert len(memos.get_messages("u", "c")) == 100


def test_compressed_answer_is_capped_by_its_decoded_size(httpserver, base_url):
    bomb = json.dumps(envelope(messages_data({"content": " " * 200_000}))).encode()
    httpserver.expect_request(GET).respond_with_data(
        gzip.compress(bomb), headers={"Content-Encoding": "gzip"},
        content_type="application/json")
    with make_client(base_url, max_response_bytes=50_000) as memos:
        with pytest.raises(BadResponseError):
            memos.get_messages("u", "c")


# --- business errors (HTTP 200, code != 0) -------------------------------------------------


@pytest.mark.parametrize("code, expected", [
    (40132, AuthError),
    (40100, AuthError),
    (40300, RateLimitedError),
    (40000, InvalidRequestError),
    (40002, InvalidRequestError),
    (40010, InvalidRequestError),
    (40011, InvalidRequestError),
    (40001, NotFoundError),
    (40103, NotFoundError),
    (50000, UpstreamError),
    (50004, UpstreamUnavailableError),
])
def test_business_codes_map_to_exceptions(httpserver, client, code, expected):
    httpserver.expect_request(GET).respond_with_json(envelope(None, code=code, message=""))
    error = raised(lambda: client.get_messages("u", "c"))
    assert isinstance(error, expected)
    if expected is UpstreamError:
        assert not isinstance(error, UpstreamUnavailableError)
    assert error.code == code
    assert str(error).strip()  # our own wording, never empty


def test_business_error_as_string_code_is_mapped(httpserver, client):
    httpserver.expect_request(GET).respond_with_json(envelope(None, code="40132"))
    assert isinstance(raised(lambda: client.get_messages("u", "c")), AuthError)


def test_invalid_key_error_never_shows_the_key(httpserver, client):
    httpserver.expect_request(GET).respond_with_json(
        envelope(None, code=40132, message=f"Invalid token: Token {API_KEY}"))
    error = raised(lambda: client.get_messages("u", "c"))
    assert isinstance(error, AuthError)
    assert API_KEY not in str(error) and API_KEY not in repr(error)
    assert requests_seen(httpserver) == 1  # a bad key is never retried


def test_unknown_code_names_the_code(httpserver, client):
    httpserver.expect_request(GET).respond_with_json(
        envelope(None, code=41234, message="参数错误 {0}"))
    error = raised(lambda: client.get_messages("u", "c"))
    assert "41234" in str(error)
    assert "{0}" not in str(error)


@pytest.mark.parametrize("service_message", ["", "...{0}", "Invalid param: {0}", "{}", "%s"])
@pytest.mark.parametrize("code", [40000, 40001, 40132, 50000, 41234, 59999, 70001])
def test_placeholder_service_messages_never_reach_the_user(httpserver, client, code,
                                                           service_message):
    httpserver.expect_request(GET).respond_with_json(
        envelope(None, code=code, message=service_message))
    error = raised(lambda: client.get_messages("u", "c"))
    text = str(error)
    assert text.strip()
    assert "{0}" not in text and "{}" not in text and "%s" not in text


def test_business_rate_limit_is_retried(httpserver, client):
    httpserver.expect_request(GET).respond_with_json(envelope(None, code=40300))
    assert isinstance(raised(lambda: client.get_messages("u", "c")), RateLimitedError)
    assert requests_seen(httpserver) == RETRIES + 1


def test_business_invalid_request_is_not_retried(httpserver, client):
    httpserver.expect_request(GET).respond_with_json(envelope(None, code=40000))
    raised(lambda: client.get_messages("u", "c"))
    assert requests_seen(httpserver) == 1


# --- writes are not retried once sent ------------------------------------------------------


@pytest.mark.parametrize("status", [502, 503, 504, 429])
def test_add_messages_is_not_retried_after_a_transient_answer(httpserver, client, status):
    httpserver.expect_request(ADD).respond_with_data(GATEWAY_HTML, status=status,
                                                     headers={"Retry-After": "0"})
    error = raised(lambda: client.add_messages("u", "c", [{"role": "user", "content": "x"}]))
    assert isinstance(error, UpstreamUnavailableError | RateLimitedError)
    assert requests_seen(httpserver, ADD) == 1


def test_add_messages_is_not_retried_after_a_reset():
    with RawServer(reset_before_answer) as server, make_client(server.url) as memos:
        with pytest.raises(UpstreamUnavailableError):
            memos.add_messages("u", "c", [{"role": "user", "content": "x"}])
    assert server.accepted == 1


def test_add_messages_to_a_closed_port_is_unavailable_within_bounds():
    with make_client(f"http://127.0.0.1:{closed_port()}", retries=3) as memos:
        started = time.monotonic()
        with pytest.raises(UpstreamUnavailableError):
            memos.add_messages("u", "c", [{"role": "user", "content": "x"}])
        assert time.monotonic() - started < 3


# --- transport faults ----------------------------------------------------------------------


@pytest.mark.parametrize("stall", [stall_before_headers, stall_mid_body])
def test_a_stall_times_out_quickly(stall):
    with RawServer(stall) as server:
        with make_client(server.url, timeout=0.3) as memos:
            started = time.monotonic()
            with pytest.raises(UpstreamTimeoutError):
                memos.get_messages("u", "c")
            assert time.monotonic() - started < 3


def test_reset_mid_response_is_unavailable_and_retried():
    with RawServer(reset_mid_body) as server, make_client(server.url) as memos:
        with pytest.raises(UpstreamUnavailableError):
            memos.get_messages("u", "c")
    assert server.accepted == RETRIES + 1


def test_reset_before_the_answer_is_unavailable():
    with RawServer(reset_before_answer) as server, make_client(server.url) as memos:
        with pytest.raises(UpstreamUnavailableError):
            memos.get_messages("u", "c")
    assert server.accepted == RETRIES + 1


def test_connection_refused_is_unavailable_after_bounded_retries():
    with make_client(f"http://127.0.0.1:{closed_port()}{PREFIX}", retries=3) as memos:
        started = time.monotonic()
        error = raised(lambda: memos.get_messages("u", "c"))
        assert isinstance(error, UpstreamUnavailableError)
        assert time.monotonic() - started < 3


def test_reset_then_success_recovers():
    answers = iter([reset_before_answer, keep_alive])

    def flaky(conn, server):
        next(answers)(conn, server)

    with RawServer(flaky) as server, make_client(server.url) as memos:
        assert [m.text for m in memos.get_messages("u", "c")] == ["hi"]
    assert server.accepted == 2


# --- the overall deadline ------------------------------------------------------------------


def test_trickling_answer_cannot_outlast_the_deadline():
    # Every read gets a byte well within the 0.3 s read timeout; only the deadline stops it.
    with RawServer(trickle) as server:
        with make_client(server.url, timeout=0.3, deadline=0.8) as memos:
            started = time.monotonic()
            with pytest.raises(UpstreamTimeoutError):
                memos.get_messages("u", "c")
            assert time.monotonic() - started < 0.8 + 1.0


def test_deadline_shorter_than_the_timeout_wins():
    with RawServer(stall_before_headers) as server:
        with make_client(server.url, timeout=5, connect_timeout=5, deadline=0.5) as memos:
            started = time.monotonic()
            with pytest.raises(UpstreamTimeoutError):
                memos.get_messages("u", "c")
            assert time.monotonic() - started < 0.5 + 1.0


def test_retries_stop_at_the_deadline(httpserver, base_url):
    httpserver.expect_request(GET).respond_with_data(GATEWAY_HTML, status=503)
    with make_client(base_url, retries=100, backoff=0.05, deadline=0.6) as memos:
        started = time.monotonic()
        with pytest.raises(UpstreamUnavailableError):
            memos.get_messages("u", "c")
        assert time.monotonic() - started < 0.6 + 1.0
    assert 1 < requests_seen(httpserver) < 101


def test_no_retry_is_started_without_time_left_to_answer(httpserver, base_url):
    # After a 503 and its backoff, less than MIN_ATTEMPT_SECONDS would be left: the 503 is
    # the answer, not a timeout from an attempt that had no chance.
    httpserver.expect_request(GET).respond_with_data(GATEWAY_HTML, status=503)
    with make_client(base_url, retries=5, backoff=0.05, deadline=0.12) as memos:
        with pytest.raises(UpstreamUnavailableError) as raised:
            memos.get_messages("u", "c")
    assert not isinstance(raised.value, UpstreamTimeoutError)
    assert requests_seen(httpserver) == 1


def test_default_deadline_bounds_retries_and_timeouts():
    memos = MemOSClient(None, "http://127.0.0.1:9", timeout=1.0, connect_timeout=0.5)
    assert memos.deadline == pytest.approx(2 * 1.0 + 0.5)
    memos.close()


# --- connection reuse and pool size --------------------------------------------------------


def test_sequential_calls_reuse_one_connection():
    with RawServer(keep_alive) as server, make_client(server.url) as memos:
        for _ in range(3):
            assert [m.text for m in memos.get_messages("u", "c")] == ["hi"]
    assert len(server.requests) == 3
    assert server.accepted == 1


def test_error_answers_keep_the_connection_reusable():
    answers = iter([http_response(b'{"code": 40000, "message": "", "data": null}'),
                    http_response(OK_BYTES)])

    def answer(conn, server):
        while server.read_request(conn) is not None:
            conn.sendall(next(answers))

    with RawServer(answer) as server, make_client(server.url) as memos:
        with pytest.raises(InvalidRequestError):
            memos.get_messages("u", "c")
        assert [m.text for m in memos.get_messages("u", "c")] == ["hi"]
    assert server.accepted == 1


@pytest.mark.parametrize("pool_size, connections", [(3, 3), (1, 5)])
def test_pool_size_bounds_the_connections_kept(pool_size, connections):
    # Each request waits until three are in flight, forcing three concurrent connections.
    # A pool of 3 keeps them all for the second round; a pool of 1 keeps one, so the second
    # round has to open two more.
    barrier = threading.Barrier(3, timeout=3)

    def together(conn, server):
        while server.read_request(conn) is not None:
            barrier.wait()
            conn.sendall(http_response(OK_BYTES))

    with RawServer(together) as server, make_client(server.url, pool_size=pool_size) as memos:
        with ThreadPoolExecutor(3) as pool:
            for _ in range(2):
                results = list(pool.map(lambda _: memos.get_messages("u", "c"), range(3)))
                assert all([m.text for m in result] == ["hi"] for result in results)
        barrier.abort()
    assert len(server.requests) == 6
    assert server.accepted == connections


# --- construction and configuration --------------------------------------------------------


def test_repr_never_contains_the_key(base_url):
    with make_client(base_url) as memos:
        assert API_KEY not in repr(memos)
        assert API_KEY not in str(memos)
        assert base_url.rstrip("/") in repr(memos)


@pytest.mark.parametrize("url", ["ftp://memos.example/api", "memos.memtensor.cn/api/openmem/v1",
                                 "", "file:///etc/passwd", "javascript:alert(1)"])
def test_non_http_base_url_is_rejected(url):
    with pytest.raises(ValueError):
        MemOSClient(API_KEY, url)


@pytest.mark.parametrize("url", ["http://127.0.0.1:1/x", "https://memos.memtensor.cn/api"])
def test_http_and_https_base_urls_are_accepted(url):
    MemOSClient(API_KEY, url).close()


@pytest.mark.parametrize("argument, environ, expected", [
    ("http://arg.example/v1", {"MEMOS_BASE_URL": "http://env.example/v1",
                               "MEMOS_IS_GLOBAL": "true"}, "http://arg.example/v1"),
    (None, {"MEMOS_BASE_URL": "http://env.example/v1", "MEMOS_IS_GLOBAL": "true"},
     "http://env.example/v1"),
    (None, {"MEMOS_IS_GLOBAL": "true"}, GLOBAL_BASE_URL),
    (None, {"MEMOS_IS_GLOBAL": "TRUE"}, GLOBAL_BASE_URL),
    (None, {"MEMOS_IS_GLOBAL": "1"}, GLOBAL_BASE_URL),
    (None, {"MEMOS_IS_GLOBAL": " yes "}, GLOBAL_BASE_URL),
    (None, {"MEMOS_IS_GLOBAL": "false"}, DEFAULT_BASE_URL),
    (None, {"MEMOS_IS_GLOBAL": "0"}, DEFAULT_BASE_URL),
    (None, {"MEMOS_IS_GLOBAL": ""}, DEFAULT_BASE_URL),
    (None, {"MEMOS_BASE_URL": "", "MEMOS_IS_GLOBAL": "true"}, GLOBAL_BASE_URL),
    ("", {"MEMOS_BASE_URL": "http://env.example/v1"}, "http://env.example/v1"),
    (None, {}, DEFAULT_BASE_URL),
])
def test_resolve_base_url_precedence(argument, environ, expected):
    assert resolve_base_url(argument, environ=environ) == expected


def test_base_urls_are_https():
    assert DEFAULT_BASE_URL == "https://memos.memtensor.cn/api/openmem/v1"
    assert GLOBAL_BASE_URL == "https://api.memt.ai/platform/api/openmem/v1"


def test_proxy_settings_are_read_once_from_the_environment(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "")
    client = MemOSClient("k", "https://memos.example/api/openmem/v1")
    assert client.session.proxies.get("https") == "http://proxy.internal:3128"
    assert client.session.trust_env is False
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert "http" not in MemOSClient("k", "http://127.0.0.1:9/api").session.proxies


# --- answers that come again (memos_api/answers.py) ----------------------------------------

def large_items(word: str, count: int = 300) -> list[dict]:
    return [{"role": "user" if n % 2 else "assistant", "content": f"{word} {n} " + "x" * 100,
             "create_time": f"2024-05-01 10:{n // 60:02d}:{n % 60:02d}"} for n in range(count)]


@pytest.mark.parametrize("count", [1, 9, 300])
def test_an_answer_that_comes_again_gives_the_same_messages(httpserver, client, count):
    httpserver.expect_request(GET).respond_with_json(envelope(messages_data(
        *large_items("first", count))))
    first = client.get_messages("u", "c", count)
    again = client.get_messages("u", "c", count)
    assert again == first and again is not first
    assert all(new is old for new, old in zip(again, first, strict=True))  # not parsed again
    again.append("anything")  # the caller's own list
    assert client.get_messages("u", "c", count) == first
    # Another reader whose answer is byte for byte the same (a shared conversation): the
    # same messages, as parsing them would give.
    assert client.get_messages("someone-else", "c", count) == first


def test_a_changed_answer_is_parsed_and_no_other_reader_gets_a_kept_one(httpserver, client):
    httpserver.expect_ordered_request(GET).respond_with_json(envelope(messages_data(
        *large_items("alice"))))
    httpserver.expect_ordered_request(GET).respond_with_json(envelope(messages_data(
        *large_items("alice"), {"role": "user", "content": "one more"})))
    httpserver.expect_ordered_request(GET).respond_with_json(envelope(messages_data(
        *large_items("bob"))))
    httpserver.expect_ordered_request(GET).respond_with_json(envelope(messages_data(
        *large_items("alice"))))
    alice = client.get_messages("alice", "c", 300)
    grown = client.get_messages("alice", "c", 300)
    assert grown[:-1] == alice and grown[-1].text == "one more"
    bob = client.get_messages("bob", "c", 300)  # another reader: their own answer, parsed
    assert all(message.text.startswith("bob") for message in bob)
    assert [m.text for m in client.get_messages("alice", "c", 300)] == [m.text for m in alice]


def test_an_answer_changed_only_in_its_middle_is_parsed_again(httpserver, client):
    """Answers are found by their length and ends, then compared whole: a message edited in
    the middle to text of the same length shares the place, not the messages."""
    items = large_items("same")
    edited = [dict(item) for item in items]
    edited[150]["content"] = edited[150]["content"].replace("x", "y")
    httpserver.expect_ordered_request(GET).respond_with_json(envelope(messages_data(*items)))
    httpserver.expect_ordered_request(GET).respond_with_json(envelope(messages_data(*edited)))
    httpserver.expect_ordered_request(GET).respond_with_json(envelope(messages_data(*items)))
    before = client.get_messages("u", "c", 300)
    after = client.get_messages("u", "c", 300)
    assert "y" * 100 in after[150].text and "x" * 100 in before[150].text
    assert after[:150] == before[:150] and after[151:] == before[151:]
    assert client.get_messages("u", "c", 300)[150].text == before[150].text


def test_an_error_after_a_kept_answer_is_still_an_error(httpserver, client):
    httpserver.expect_ordered_request(GET).respond_with_json(envelope(messages_data(
        *large_items("kept"))))
    httpserver.expect_ordered_request(GET).respond_with_json(envelope(code=40100,
                                                                      message="no"))
    client.get_messages("u", "c", 300)
    assert isinstance(raised(lambda: client.get_messages("u", "c", 300)), MemOSError)


def test_kept_answers_stay_within_their_bytes():
    from memos_api.answers import KeptAnswers

    kept = KeptAnswers(max_bytes=400_000)
    for n in range(50):
        raw = bytes([n % 256]) * 90_000
        kept.put(raw, [])
        assert kept._bytes <= 400_000
    assert kept.get(bytes([49]) * 90_000) == []
    assert kept.get(bytes([0]) * 90_000) is None  # dropped long ago
    assert kept.get(bytes([48]) * 89_999 + b"x") is None  # other bytes
    small = KeptAnswers(max_bytes=30_000)
    for n in range(100):  # small answers: their place (both ends) counts as much as they do
        small.put(b"%05d" % n * 200, [])
        assert small._bytes <= 30_000
    assert len(small._items) <= 15
    kept.put(b"x" * 200_000, [])  # over a quarter of the bound: not kept
    assert kept.get(b"x" * 200_000) is None
