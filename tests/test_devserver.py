"""``make run`` (``python app.py``, Werkzeug's server), run for real: its log carries no query
strings, it opens access for local use only on loopback and says so, and an unreachable Redis is
a warning on its stderr, not a failed page."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from viewer.devserver import local_access

ROOT = Path(__file__).resolve().parent.parent
SECRET_ID = "conversation-id-nobody-may-read-in-a-log"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.token-that-must-not-be-logged.c2ln"


class DevServer:
    """``python app.py`` in its own session, its stderr in a file."""

    def __init__(self, tmp_path: Path, port: int, **environ: str) -> None:
        self.url = f"http://127.0.0.1:{port}"
        env = {name: value for name, value in os.environ.items()
               if not name.startswith(("MEMOS_", "EMBED_", "VIEWER_", "RATE_LIMIT", "FLASK_"))}
        env.update({"HOST": "127.0.0.1", "PORT": str(port), "PYTHONUNBUFFERED": "1",
                    "MEMOS_LOCAL_DB": str(tmp_path / "dev.sqlite3"), **environ})
        self.log_path = tmp_path / "dev-server.log"
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env,
                                        stdin=subprocess.DEVNULL, stdout=self.log,
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"python app.py exited:\n{self.output()}")
            try:
                if requests.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        pytest.fail(f"python app.py did not answer /healthz:\n{self.output()}")

    def wait_exit(self) -> int:
        return self.process.wait(timeout=30)

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # as Ctrl-C in `make run`
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.log.close()  # the child wrote to its own copy of the descriptor
        return self.output()

    def output(self) -> str:
        """What it printed, without Werkzeug's colour escapes."""
        return re.sub(r"\x1b\[[0-9;]*m", "", self.log_path.read_text(errors="replace"))


@pytest.fixture
def dev_server(tmp_path, unused_port):
    started: list[DevServer] = []

    def start(**environ: str) -> DevServer:
        server = DevServer(tmp_path, unused_port, **environ)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def raw_request(url: str, request_line: str) -> bytes:
    """Send a request line as given (even a malformed one) and read the answer."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(f"{request_line}\r\nHost: 127.0.0.1\r\n\r\n".encode("latin-1"))
        connection.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


def test_the_dev_server_logs_no_query_strings(dev_server, unused_port):
    server = dev_server()
    server.wait_ready()
    query = f"user_id=demo-user&conversation_id={SECRET_ID}&token={TOKEN}"
    assert requests.get(f"{server.url}/chat?{query}", timeout=10).status_code == 200
    assert requests.get(f"{server.url}/nope?token={TOKEN}", timeout=10).status_code == 404
    # A malformed request line is quoted in the error log: without its query string too.
    answer = raw_request(server.url, f"GET /chat?token={TOKEN} HTTP/1.1 trailing-junk")
    assert b"400" in answer and TOKEN.encode() not in answer
    output = server.stop()
    assert '"GET /chat HTTP/1.1" 200' in output and '"GET /nope HTTP/1.1" 404' in output
    assert "Bad request" in output  # the error line was written, and is clean
    assert SECRET_ID not in output and TOKEN not in output and "token=" not in output


def test_make_run_opens_access_for_local_use_and_says_so(dev_server, memos_server):
    server = dev_server(MEMOS_BASE_URL=memos_server.base_url, MEMOS_API_KEY=memos_server.api_key)
    server.wait_ready()
    memos_server.store.add_messages("alice", "a", [{"role": "user", "content": "hello"}])
    page = requests.get(f"{server.url}/chat?user_id=alice&conversation_id=a", timeout=10)
    assert page.status_code == 200 and "hello" in page.text
    # A page elsewhere that points its own name at 127.0.0.1 (DNS rebinding) is refused.
    rebound = requests.get(f"{server.url}/chat?user_id=alice&conversation_id=a",
                           headers={"Host": f"attacker.example:{server.url.rsplit(':', 1)[1]}"},
                           timeout=10)
    assert rebound.status_code == 400 and "hello" not in rebound.text
    assert "only requests to localhost or 127.0.0.1" in rebound.text
    output = server.stop()
    notices = [line for line in output.splitlines() if "VIEWER_ACCESS=open" in line]
    assert len(notices) == 1 and "Open access for local use" in notices[0]
    assert memos_server.api_key not in output


def test_make_run_never_opens_access_on_a_public_address(dev_server):
    # 192.0.2.1 (TEST-NET-1) is no address of this machine: nothing could be bound there.
    server = dev_server(HOST="192.0.2.1", MEMOS_API_KEY="mpg-key",
                        MEMOS_BASE_URL="http://127.0.0.1:9/api/openmem/v1")
    assert server.wait_exit() == 1
    output = server.stop()
    assert output.startswith("Configuration error: ") and "VIEWER_ACCESS=open" in output
    assert "Traceback" not in output and "Open access for local use" not in output


def test_an_unreachable_redis_is_a_warning_on_stderr_not_a_failed_page(dev_server,
                                                                      refused_port):
    server = dev_server(RATE_LIMIT_STORAGE_URI=f"redis://127.0.0.1:{refused_port}/0")
    server.wait_ready()
    chat = f"{server.url}/chat?user_id=demo-user&conversation_id=demo-conversation"
    assert [requests.get(chat, timeout=10).status_code for _ in range(3)] == [200, 200, 200]
    output = server.stop()
    warnings = [line for line in output.splitlines() if line.startswith("WARNING rate limit:")]
    assert warnings == ["WARNING rate limit: Rate limit storage unreachable - falling back to "
                        "in-memory storage"]
    assert "Traceback" not in output


@pytest.mark.parametrize("environ, host, opened", [
    ({"MEMOS_API_KEY": "k"}, "127.0.0.1", True),
    ({"MEMOS_BASE_URL": "http://127.0.0.1:8765/api/openmem/v1"}, "localhost", True),
    ({"MEMOS_API_KEY": "k"}, "127.0.0.2", True),
    ({"MEMOS_API_KEY": "k"}, "0.0.0.0", False),
    ({"MEMOS_API_KEY": "k"}, "::1", False),  # IPv4 loopback only: its Host check is simple
    ({"MEMOS_API_KEY": "k"}, "192.168.1.10", False),
    ({"MEMOS_API_KEY": "k", "EMBED_SECRET": "s" * 32}, "127.0.0.1", False),
    ({"MEMOS_API_KEY": "k", "VIEWER_ACCESS": "signed"}, "127.0.0.1", False),
    ({}, "127.0.0.1", False),  # the embedded store is open anyway
])
def test_when_make_run_opens_access(environ, host, opened):
    settings, notice = local_access(environ, host, 5000)
    assert (settings.get("VIEWER_ACCESS") == "open") is opened
    assert (notice is not None) is opened
