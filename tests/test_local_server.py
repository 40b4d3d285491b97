"""The local store over HTTP: MemOS's envelope, auth codes and limits, keep-alive, the CLI."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from memos_api import AuthError, InvalidRequestError, MemOSClient, Message
from memos_api.local import DEMO_CONVERSATION_ID, DEMO_USER_ID
from memos_api.local.gate import MAX_BODY_BYTES

USER, CHAT = "bob", "chat-9"
REPO_ROOT = Path(__file__).resolve().parent.parent


def post(server, path, body=None, *, key="default", data=None, session=requests):
    """POST ``body`` as JSON (or raw ``data``) with the right key unless told otherwise."""
    headers = {"Content-Type": "application/json"}
    if key == "default":
        headers["Authorization"] = f"Token {server.api_key}"
    elif key is not None:
        headers["Authorization"] = key
    return session.post(server.base_url + path, json=body, data=data, headers=headers,
                        timeout=5)


def envelope(response) -> dict:
    assert response.headers["Content-Type"].startswith("application/json")
    payload = response.json()
    assert set(payload) == {"code", "data", "message"}
    return payload


def test_get_and_add_answer_in_memos_envelope(memos_server):
    added = post(memos_server, "/add/message", {
        "user_id": USER, "conversation_id": CHAT,
        "messages": [{"role": "user", "content": "hi", "chat_time": "2026-02-01 10:00:00"}]})
    assert added.status_code == 200
    payload = envelope(added)
    assert payload["code"] == 0 and payload["message"] == "ok"
    assert set(payload["data"]) == {"success", "task_id", "status"}
    assert payload["data"]["success"] is True and payload["data"]["status"] == "completed"

    got = envelope(post(memos_server, "/get/message",
                        {"user_id": USER, "conversation_id": CHAT}))
    assert got["code"] == 0 and got["message"] == "ok"
    [item] = got["data"]["message_detail_list"]
    assert item["role"] == "user" and item["content"] == "hi"
    assert item["chat_time"] == "2026-02-01 10:00:00" and item["create_time"]


def test_null_optional_fields_mean_absent(memos_server):
    memos_server.store.add_messages(USER, CHAT, [{"role": "user", "content": str(i)}
                                                 for i in range(10)])
    added = envelope(post(memos_server, "/add/message", {
        "user_id": USER, "conversation_id": CHAT, "agent_id": None, "app_id": None,
        "tags": None, "info": None, "async_mode": None,
        "messages": [{"role": "user", "content": "10", "chat_time": None}]}))
    assert added["code"] == 0
    got = envelope(post(memos_server, "/get/message", {
        "user_id": USER, "conversation_id": CHAT, "message_limit_number": None,
        "conversation_limit_number": None, "source": None}))
    assert [i["content"] for i in got["data"]["message_detail_list"]] == [
        "5", "6", "7", "8", "9", "10"]


def test_bare_paths_work_too(memos_server):
    bare = memos_server.base_url.removesuffix("/api/openmem/v1")
    response = requests.post(bare + "/get/message", json={"user_id": USER,
                             "conversation_id": CHAT},
                             headers={"Authorization": f"Token {memos_server.api_key}"})
    assert envelope(response)["code"] == 0


@pytest.mark.parametrize("header, code", [
    (None, 40100),
    ("", 40100),
    ("Bearer test-key", 40130),
    ("Token", 40130),
    ("Token two words", 40130),
    ("Token wrong-key", 40132),
    ("Token test-keyX", 40132),
    ("Token t\u00e9st-key", 40132),
])
def test_auth_failures_have_memos_codes(memos_server, header, code):
    response = post(memos_server, "/get/message", {"user_id": USER, "conversation_id": CHAT},
                    key=header)
    assert response.status_code == 200
    payload = envelope(response)
    assert payload["code"] == code and payload["data"] is None and payload["message"]


@pytest.mark.parametrize("limit", [True, False, 2.5, 3.0, "3", [], {}, 0, -1])
def test_bad_limits_are_refused(memos_server, limit):
    payload = envelope(post(memos_server, "/get/message", {
        "user_id": USER, "conversation_id": CHAT, "message_limit_number": limit}))
    assert payload["code"] == 40000 and "message_limit_number" in payload["message"]


def test_limits_above_the_maximum_are_clamped(memos_server):
    memos_server.store.add_messages(USER, CHAT, [{"role": "user", "content": "x"}] * 3)
    payload = envelope(post(memos_server, "/get/message", {
        "user_id": USER, "conversation_id": CHAT, "message_limit_number": 10**12}))
    assert payload["code"] == 0 and len(payload["data"]["message_detail_list"]) == 3


@pytest.mark.parametrize("data", [b"", b"{not json", b"[1, 2]", b"null", b"\xff\xfe{",
                                  b"[" * 100_000])
def test_bodies_that_are_not_json_objects_are_refused(memos_server, data, collector_off):
    payload = envelope(post(memos_server, "/get/message", data=data))
    assert payload["code"] == 40000


def test_validation_errors_come_back_as_business_codes(memos_server):
    payload = envelope(post(memos_server, "/add/message", {
        "user_id": USER, "conversation_id": CHAT,
        "messages": [{"role": "user", "content": "ok"}, {"role": "user", "content": 5}]}))
    assert payload["code"] == 40000 and "messages[1].content" in payload["message"]
    assert memos_server.store.count(USER, CHAT) == 0
    payload = envelope(post(memos_server, "/get/message",
                            {"user_id": "u" * 101, "conversation_id": CHAT}))
    assert payload["code"] == 40010


def test_unknown_path_is_404_and_wrong_method_405(memos_server):
    missing = post(memos_server, "/add/feedback", {})
    assert missing.status_code == 404 and envelope(missing)["code"] == 40400
    wrong = requests.get(memos_server.base_url + "/get/message", timeout=5)
    assert wrong.status_code == 405 and wrong.headers["Allow"] == "POST"
    assert envelope(wrong)["code"] == 40500


def test_oversized_body_is_refused_without_reading_it(memos_server):
    url = urlsplit(memos_server.base_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
    try:
        connection.putrequest("POST", url.path + "/add/message")
        connection.putheader("Authorization", f"Token {memos_server.api_key}")
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", str(MAX_BODY_BYTES + 1))
        connection.endheaders()
        response = connection.getresponse()
        assert response.status == 413 and response.getheader("Connection") == "close"
    finally:
        connection.close()


def count_accepted_connections(monkeypatch, server) -> list:
    """Record every TCP connection the server accepts, by wrapping waitress's accept step."""
    accepted = []
    original = server.waitress.accept

    def accept():
        connection = original()
        if connection is not None:
            accepted.append(connection[1])
        return connection

    monkeypatch.setattr(server.waitress, "accept", accept)
    return accepted


def test_connections_are_kept_alive(memos_server, monkeypatch):
    accepted = count_accepted_connections(monkeypatch, memos_server.server)
    with requests.Session() as session:
        for _ in range(3):
            response = post(memos_server, "/get/message",
                            {"user_id": USER, "conversation_id": CHAT}, session=session)
            assert envelope(response)["code"] == 0
            assert response.headers.get("Connection", "").lower() != "close"
    assert len(accepted) == 1


def test_answers_are_sent_with_nagle_disabled(memos_server):
    """With Nagle on, an answer written in two parts can stall ~40 ms on a delayed ACK.

    Checked on the accepted socket itself rather than timed (the suite has no timing asserts).
    """
    with requests.Session() as session:
        post(memos_server, "/get/message", {"user_id": USER, "conversation_id": CHAT},
             session=session)
        channels = list(memos_server.server.waitress.active_channels.values())
        options = [channel.socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
                   for channel in channels]
    assert options and all(options)


def test_memos_client_end_to_end(memos_server):
    with MemOSClient(memos_server.api_key, base_url=memos_server.base_url) as client:
        result = client.add_messages(USER, CHAT, [
            {"role": "user", "content": "question", "chat_time": "2026-02-01 10:00:00"},
            {"role": "assistant", "content": [{"type": "text", "text": "answer"}]}])
        assert result.success and result.status == "completed" and result.task_id
        messages = client.get_messages(USER, CHAT)
        with pytest.raises(InvalidRequestError) as caught:
            client.add_messages(USER, "c" * 101, [{"role": "user", "content": "x"}])
        assert caught.value.code == 40011
    assert [type(m) for m in messages] == [Message, Message]
    assert [m.text for m in messages] == ["question", "answer"]
    assert messages[0].created_at.isoformat() == "2026-02-01T10:00:00+08:00"
    assert messages[1].created_at is not None and messages[1].created_at.tzinfo is not None
    assert messages == memos_server.store.get_messages(USER, CHAT)


@pytest.mark.parametrize("key, code", [("wrong-key", 40132), (None, 40100)])
def test_memos_client_raises_auth_error(memos_server, key, code):
    with MemOSClient(key, base_url=memos_server.base_url) as client:
        with pytest.raises(AuthError) as caught:
            client.get_messages(USER, CHAT)
    assert caught.value.code == code


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("inherited", ["default", "ignored"])
def test_command_line_serves_the_demo_and_stops_on_a_signal(tmp_path, signum, inherited):
    """A shell starts background jobs (``make test > log &``) with SIGINT ignored: still stop."""
    port, secret = free_port(), "cli-secret-key"
    env = {**os.environ, "MEMOS_LOCAL_API_KEY": secret, "PYTHONUNBUFFERED": "1"}

    def ignore_the_signal() -> None:  # in the child, before exec, as the shell does
        signal.signal(signum, signal.SIG_IGN)

    process = subprocess.Popen(
        [sys.executable, "-m", "memos_api.local", "--port", str(port), "--verbose",
         "--db", str(tmp_path / "cli.sqlite3")],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=ignore_the_signal if inherited == "ignored" else None)
    try:
        base_url = f"http://127.0.0.1:{port}/api/openmem/v1"
        messages = None
        deadline = time.monotonic() + 15
        while messages is None and time.monotonic() < deadline:
            assert process.poll() is None, process.stderr.read()
            try:
                with MemOSClient(secret, base_url=base_url, timeout=2, retries=0) as client:
                    messages = client.get_messages(DEMO_USER_ID, DEMO_CONVERSATION_ID, 50)
            except Exception:
                time.sleep(0.1)
        assert messages and messages[0].role == "system"
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=5)
    assert process.returncode == 0
    assert stdout == f"MemOS-compatible store on {base_url}\n"
    assert '"POST /api/openmem/v1/get/message HTTP/1.1" 200 -' in stderr  # --verbose
    assert "Traceback" not in stderr and secret not in stdout + stderr


@pytest.mark.parametrize("how", ["option", "environment"])
@pytest.mark.parametrize("key, problem", [
    ("cli-secret-key\r", "a carriage return (\\r) at its end (a Windows line ending left by a "
                         ".env file?)"),
    ("cli-secret\nkey", "a line feed (\\n) inside it"),
    ("cli-secret-k\u00e9y", "a character outside ASCII inside it"),
])
def test_command_line_refuses_an_unusable_key_without_showing_it(tmp_path, how, key, problem):
    name = "--api-key" if how == "option" else "MEMOS_LOCAL_API_KEY"
    option = ["--api-key", key] if how == "option" else []
    env = {**os.environ, "MEMOS_LOCAL_API_KEY": key if how == "environment" else ""}
    result = subprocess.run(
        [sys.executable, "-m", "memos_api.local", "--port", "0", *option,
         "--db", str(tmp_path / "cli.sqlite3")],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines()[-1] == (
        f"python -m memos_api.local: error: {name} has {problem}; an API key is printable "
        "ASCII without spaces. (The key itself is not shown.)")
    assert "secret" not in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "cli.sqlite3").exists()  # refused before anything was touched
