"""The local store's server against hostile clients, on real sockets.

Refusals from the head alone (before any body is read), cross-site requests, DNS rebinding,
ambiguous framing, connection caps, and slow clients. Timings are only generous guards.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests

from memos_api.local import make_server
from memos_api.local.gate import Gate, Head, MAX_BODY_BYTES
from memos_api.local.server import Limits

GET = "/api/openmem/v1/get/message"
ADD = "/api/openmem/v1/add/message"
KEY = "hardening-key"
BODY = json.dumps({"user_id": "u", "conversation_id": "c",
                   "messages": [{"role": "user", "content": "planted"}]}).encode()
GUARD = 20  # seconds: only a guard against hangs, never a measurement


@contextmanager
def running(store, **options) -> Iterator:
    """A local server for ``store`` on 127.0.0.1, served in a thread while the block runs."""
    server = make_server(store, "127.0.0.1", 0, **options)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stop()
        thread.join(timeout=5)
    assert not thread.is_alive()


def head(port: int, *lines: str, method: str = "POST", path: str = GET,
         host: str | None = "default", key: str | None = KEY,
         content_type: str | None = "application/json") -> bytes:
    """A request head; ``None`` leaves a header out, ``lines`` adds raw ones."""
    headers = [f"{method} {path} HTTP/1.1"]
    if host is not None:
        headers.append(f"Host: {f'127.0.0.1:{port}' if host == 'default' else host}")
    if key is not None:
        headers.append(f"Authorization: Token {key}")
    if content_type is not None:
        headers.append(f"Content-Type: {content_type}")
    return ("\r\n".join([*headers, *lines]) + "\r\n\r\n").encode("latin-1")


def exchange(port: int, data: bytes) -> tuple[http.client.HTTPResponse, dict]:
    """Send raw bytes on a new connection; the answer and its JSON envelope."""
    with socket.create_connection(("127.0.0.1", port), timeout=GUARD) as sock:
        sock.sendall(data)
        response = http.client.HTTPResponse(sock)
        response.begin()
        payload = json.loads(response.read())
    assert set(payload) == {"code", "data", "message"} and payload["message"]
    return response, payload


# --- refused from the head alone --------------------------------------------------------------

REFUSED_HEADS = [  # (what, head options, extra lines, HTTP status, MemOS code)
    ("wrong key", {"key": "wrong"}, [], 200, 40132),
    ("no key", {"key": None}, [], 200, 40100),
    ("foreign Host", {"host": "evil.example"}, [], 421, 42100),
    ("text/plain", {"content_type": "text/plain"}, [], 415, 41500),
    ("too large", {}, [], 413, 41300),
]


@pytest.mark.parametrize("what, options, lines, status, code", REFUSED_HEADS,
                         ids=[case[0] for case in REFUSED_HEADS])
def test_refusals_come_before_the_body_is_sent(local_store, what, options, lines, status,
                                               code):
    """The head promises a body that never comes: the answer cannot have waited for it."""
    length = MAX_BODY_BYTES + (1 if what == "too large" else 0)
    with running(local_store, api_key=KEY) as server:
        data = head(server.port, f"Content-Length: {length}", *lines, path=ADD, **options)
        response, payload = exchange(server.port, data)
    assert (response.status, payload["code"]) == (status, code)
    assert response.getheader("Connection") == "close"  # the unread body is not parsed
    assert local_store.count("u", "c") == 0


def test_a_refused_client_that_expects_100_continue_never_sends_its_body(local_store):
    with running(local_store, api_key=KEY) as server:
        refused = head(server.port, f"Content-Length: {len(BODY)}", "Expect: 100-continue",
                       path=ADD, key="wrong")
        with socket.create_connection(("127.0.0.1", server.port), timeout=GUARD) as sock:
            sock.sendall(refused)
            first = b"".join(iter(lambda: sock.recv(65536), b""))  # read until it closes
        accepted = head(server.port, f"Content-Length: {len(BODY)}", "Expect: 100-continue",
                        path=ADD)
        with socket.create_connection(("127.0.0.1", server.port), timeout=GUARD) as sock:
            sock.sendall(accepted)
            interim = sock.recv(65536)
            sock.sendall(BODY)
            response = http.client.HTTPResponse(sock)
            response.begin()
            payload = json.loads(response.read())
    assert first.startswith(b"HTTP/1.1 200 OK\r\n") and b'"code":40132' in first
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert payload["code"] == 0 and local_store.count("u", "c") == 1


def test_wrong_key_with_a_large_upload_gets_its_answer(memos_server):
    """What the import CLI meets with a wrong key: the refusal, not a reset connection."""
    body = json.dumps({"user_id": "u", "conversation_id": "c",
                       "messages": [{"role": "user", "content": "x" * 4_000_000}]})
    response = requests.post(memos_server.base_url + "/add/message", data=body, timeout=GUARD,
                             headers={"Authorization": "Token wrong",
                                      "Content-Type": "application/json"})
    assert response.json()["code"] == 40132
    assert memos_server.store.count("u", "c") == 0


# --- cross-site requests ----------------------------------------------------------------------

@pytest.mark.parametrize("content_type", [
    "text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x", None, "", "application/json-patch+json",
    "application/json, text/plain",
])
def test_a_cross_site_no_cors_post_cannot_write(local_store, content_type):
    """What a visited page can send without a preflight (fetch mode "no-cors", or a form)."""
    with running(local_store) as server:  # no key: the Content-Type rule alone must hold
        headers = {"Origin": "https://evil.example"}
        if content_type is not None:
            headers["Content-Type"] = content_type
        response = requests.post(server.base_url + "/add/message", data=BODY, headers=headers,
                                 timeout=GUARD)
    assert response.status_code == 415 and response.json()["code"] == 41500
    assert not [name for name in response.headers if name.lower().startswith("access-control")]
    assert local_store.count("u", "c") == 0


def test_json_with_parameters_or_capitals_is_accepted(local_store):
    with running(local_store) as server:
        for content_type in ("application/json; charset=utf-8", "Application/JSON"):
            response = requests.post(server.base_url + "/add/message", data=BODY, timeout=GUARD,
                                     headers={"Content-Type": content_type})
            assert response.json()["code"] == 0
    assert local_store.count("u", "c") == 2


def test_cors_preflight_is_never_allowed(local_store):
    with running(local_store) as server:
        response = requests.options(server.base_url + "/add/message", timeout=GUARD, headers={
            "Origin": "https://evil.example", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type"})
    assert response.status_code == 405 and response.headers["Allow"] == "POST"
    assert not [name for name in response.headers if name.lower().startswith("access-control")]


# --- DNS rebinding ----------------------------------------------------------------------------

@pytest.mark.parametrize("host, served", [
    ("127.0.0.1:{port}", True),
    ("localhost:{port}", True),
    ("[::1]:{port}", True),
    ("LocalHost:{port}", True),
    ("evil.example:{port}", False),  # a rebound name: the page's own host, our address
    ("127.0.0.1.nip.example:{port}", False),
    ("localhost.:{port}", False),
    ("127.0.0.1:{other}", False),
    ("127.0.0.1", False),
    ("127.0.0.2:{port}", False),
    ("127.0.0.1:{port}@evil.example", False),
    ("[::1]x:{port}", False),
    ("", False),
    (None, False),
])
def test_host_must_name_this_server(memos_server, host, served):
    port = int(memos_server.base_url.split(":")[2].split("/")[0])
    value = None if host is None else host.format(port=port, other=port + 1)
    response, payload = exchange(port, head(port, "Content-Length: 2", host=value,
                                            key=memos_server.api_key) + b"{}")
    if served:
        assert response.status == 200 and payload["code"] == 40002  # reached the endpoint
    else:
        assert response.status == 421 and payload["code"] == 42100
        assert f"127.0.0.1:{port}" in payload["message"]


def test_a_foreign_host_learns_nothing_about_paths(memos_server):
    port = int(memos_server.base_url.split(":")[2].split("/")[0])
    for method, path in (("GET", "/nope"), ("POST", "/nope"), ("OPTIONS", GET)):
        response, payload = exchange(port, head(port, method=method, path=path,
                                                host=f"evil.example:{port}"))
        assert (response.status, payload["code"]) == (421, 42100)


def test_a_wildcard_address_accepts_ip_literals_and_localhost_only():
    """Not bound for real (tests stay on loopback): the gate's rule for 0.0.0.0 and ::."""
    for address in ("0.0.0.0", "::"):
        gate = Gate(address, 8765, None)

        def status(host: str, gate: Gate = gate) -> int | None:
            answer = gate.check(Head("POST", GET, host, None, "application/json", "2"))
            return None if answer is None else answer.status

        assert status("192.0.2.7:8765") is None and status("[2001:db8::1]:8765") is None
        assert status("localhost:8765") is None and status("127.0.0.1:8765") is None
        assert status("evil.example:8765") == 421 and status("192.0.2.7:8766") == 421


# --- ambiguous framing ------------------------------------------------------------------------

@pytest.mark.parametrize("lines, status, code", [
    ([f"Content-Length: {len(BODY)}", f"Content-Length: {len(BODY) + 1}"], 400, 40000),
    ([f"Content-Length: {len(BODY)}", f"Content-Length: {len(BODY)}"], 400, 40000),
    ([f"Content-Length: {len(BODY)}, {len(BODY)}"], 400, 40000),
    ([f"Content-Length: +{len(BODY)}"], 400, 40000),
    (["Content-Length: -1"], 400, 40000),
    (["Content-Length: " + "9" * 5000], 400, 40000),  # int() refuses it: still answered
    (["Transfer-Encoding: chunked"], 411, 41100),
    (["Transfer-Encoding: chunked", f"Content-Length: {len(BODY)}"], 411, 41100),
    (["Transfer-Encoding: gzip"], 501, 50100),
])
def test_ambiguous_framing_is_refused(memos_server, lines, status, code):
    port = int(memos_server.base_url.split(":")[2].split("/")[0])
    response, payload = exchange(port, head(port, *lines, path=ADD, key=memos_server.api_key)
                                 + BODY)
    assert (response.status, payload["code"]) == (status, code)
    assert response.getheader("Connection") == "close"
    assert memos_server.store.count("u", "c") == 0


def test_an_oversized_head_is_refused(memos_server):
    port = int(memos_server.base_url.split(":")[2].split("/")[0])
    response, payload = exchange(port, head(port, "X-Padding: " + "a" * 70_000))
    assert (response.status, payload["code"]) == (431, 43100)


# --- connection caps and slow clients ---------------------------------------------------------

def wait_until(condition) -> None:
    deadline = time.monotonic() + GUARD
    while not condition():
        assert time.monotonic() < deadline, "condition never met"
        time.sleep(0.02)


def complete_request(port: int) -> bytes:
    return head(port, f"Content-Length: {len(BODY)}", path=ADD) + BODY


def test_connections_beyond_the_cap_wait_until_one_closes(local_store):
    with running(local_store, api_key=KEY, limits=Limits(max_connections=3)) as server:
        idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(3)]
        try:
            wait_until(lambda: len(server.waitress.active_channels) == 3)
            with socket.create_connection(("127.0.0.1", server.port), timeout=1) as extra:
                extra.sendall(complete_request(server.port))
                with pytest.raises(TimeoutError):  # queued in the backlog, not served
                    extra.recv(1)
                assert local_store.count("u", "c") == 0
                idle.pop().close()
                extra.settimeout(GUARD)
                response = http.client.HTTPResponse(extra)
                response.begin()
                assert json.loads(response.read())["code"] == 0
        finally:
            for sock in idle:
                sock.close()
    assert local_store.count("u", "c") == 1


def seconds_until_closed(sock: socket.socket, trickle: bytes = b"") -> float:
    """How long the server keeps ``sock`` open, sending ``trickle`` a byte every 0.25 s."""
    started = time.monotonic()
    sock.settimeout(0.25)
    for byte in trickle or bytes(200):
        try:
            if sock.recv(1) == b"":
                return time.monotonic() - started
        except TimeoutError:
            if trickle:
                sock.sendall(bytes([byte]))
        except ConnectionResetError:
            return time.monotonic() - started
        assert time.monotonic() - started < GUARD, "the server never closed it"
    raise AssertionError("the server never closed it")


def test_a_silent_connection_is_closed(local_store):
    with running(local_store, api_key=KEY, limits=Limits(idle_timeout=1)) as server:
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(b"POST " + GET.encode() + b" HTTP/1.1\r\nHo")
            assert seconds_until_closed(sock) < GUARD


def test_a_trickling_request_is_dropped_after_the_read_timeout(local_store):
    """One byte every 0.25 s keeps waitress's idle clock fresh; the read timeout still ends it."""
    limits = Limits(idle_timeout=3, read_timeout=1)
    with running(local_store, api_key=KEY, limits=limits) as server:
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            assert seconds_until_closed(sock, trickle=complete_request(server.port)) < GUARD
    assert local_store.count("u", "c") == 0


def test_slow_uploads_hold_no_worker_thread(local_store):
    """With one worker thread, four clients stalled mid-body do not delay a fifth."""
    with running(local_store, api_key=KEY, limits=Limits(threads=1)) as server:
        stalled = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(4)]
        try:
            for sock in stalled:
                sock.sendall(complete_request(server.port)[:-10])  # head and most of the body
            response, payload = exchange(server.port, complete_request(server.port))
            assert payload["code"] == 0
        finally:
            for sock in stalled:
                sock.close()
    assert local_store.count("u", "c") == 1


@pytest.mark.parametrize("path, body", [
    ("/get/message", '{"user_id": "\\ud800", "conversation_id": "c"}'),
    ("/add/message", '{"user_id": "\\ud800", "conversation_id": "c",'
                     ' "messages": [{"role": "user", "content": "x"}]}'),
    ("/add/message", '{"user_id": "u", "conversation_id": "\\udfff",'
                     ' "messages": [{"role": "user", "content": "x"}]}'),
    ("/get/memory", '{"user_id": "\\ud800"}'),
    ("/search/memory", '{"user_id": "\\udbff", "query": "x"}'),
])
def test_a_lone_surrogate_in_an_id_is_a_40000_not_a_traceback(memos_server, caplog, path,
                                                               body):
    # JSON may escape a lone surrogate; SQLite's UTF-8 cannot hold one (it was a 50000).
    response = requests.post(memos_server.base_url + path, data=body, timeout=10,
                             headers={"Authorization": f"Token {memos_server.api_key}",
                                      "Content-Type": "application/json"})
    answer = response.json()
    assert answer["code"] == 40000 and "lone surrogate" in answer["message"], answer
    assert "Traceback" not in caplog.text
