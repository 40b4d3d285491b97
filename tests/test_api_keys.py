"""MEMOS_API_KEY is stripped and checked at start; an unusable key is never shown."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import traceback
from pathlib import Path

import pytest
from upstream_apps import upstream_app, upstream_environ

from memos_api import MemOSClient
from memos_api.local import DEMO_CONVERSATION_ID, DEMO_USER_ID
from viewer.settings import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent
SECRET = "mpg-secret-0123456789"
RULE = "an API key is printable ASCII without spaces. (The key itself is not shown.)"
UNUSABLE = [  # (key, what the message says is wrong)
    (SECRET + "\r", "has a carriage return (\\r) at its end (a Windows line ending left by a "
                    ".env file?)"),
    (SECRET + "\n", "has a line feed (\\n) at its end"),
    (SECRET[:8] + "\r\n" + SECRET[8:], "has a carriage return (\\r) inside it (a Windows line "
                                       "ending left by a .env file?)"),
    (SECRET[:8] + " " + SECRET[8:], "has a space inside it"),
    (SECRET + "\x1b[2J", "has a control character (U+001B) inside it"),
    (SECRET + "\x85", "has a control character (U+0085) at its end"),
    (SECRET + "\u00e9", "has a character outside ASCII at its end"),
]


@pytest.mark.parametrize("key, problem", UNUSABLE)
def test_an_unusable_key_stops_the_app_without_being_shown(app_factory, key, problem):
    with pytest.raises(ConfigError) as caught:
        app_factory(MEMOS_API_KEY=key)
    assert str(caught.value) == f"MEMOS_API_KEY {problem}; {RULE}"
    shown = "".join(traceback.format_exception(caught.value))
    assert SECRET[8:] not in shown and SECRET[:8] not in shown


def test_a_blank_key_is_refused_rather_than_ignored(app_factory):
    with pytest.raises(ConfigError, match="MEMOS_API_KEY is set but blank"):
        app_factory(MEMOS_API_KEY=" \t ")


def test_spaces_around_the_key_are_dropped(app_factory, memos_server):
    memos_server.store.seed_demo()
    app = upstream_app(app_factory, memos_server.base_url,
                       MEMOS_API_KEY=f"  {memos_server.api_key}\t")
    assert app.config["MEMOS_API_KEY"] == memos_server.api_key
    response = app.test_client().get(
        f"/chat?user_id={DEMO_USER_ID}&conversation_id={DEMO_CONVERSATION_ID}")
    assert response.status_code == 200 and 'data-role="assistant"' in response.text


def test_the_client_refuses_an_unusable_key_without_showing_it():
    with pytest.raises(ValueError) as caught:
        MemOSClient(SECRET + "\r", base_url="http://127.0.0.1:9/api/openmem/v1")
    assert SECRET not in str(caught.value) and "carriage return" in str(caught.value)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run(command: list[str], tmp_path: Path, key: str) -> subprocess.CompletedProcess:
    env = upstream_environ(os.environ, MEMOS_API_KEY=key, PORT=str(free_port()),
                           MEMOS_LOCAL_DB=str(tmp_path / "unused.sqlite3"))
    return subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("key, problem", UNUSABLE[:2])
def test_python_app_py_says_what_is_wrong_in_one_line(tmp_path, key, problem):
    result = run([sys.executable, "app.py"], tmp_path, key)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == f"Configuration error: MEMOS_API_KEY {problem}; {RULE}\n"


def test_the_flask_command_line_says_it_in_one_line(tmp_path):
    flask = str(Path(sys.executable).with_name("flask"))
    result = run([flask, "--app", "app", "embed-url", "u", "c"], tmp_path, SECRET + "\r")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == f"Error: MEMOS_API_KEY {UNUSABLE[0][1]}; {RULE}\n"


def test_gunicorn_never_shows_the_key(tmp_path):
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    result = run([gunicorn, "--bind", "127.0.0.1:0", "--workers", "1", "app:create_app()"],
                 tmp_path, SECRET + "\r")
    assert result.returncode != 0 and "Worker failed to boot" in result.stderr
    assert f"MEMOS_API_KEY {UNUSABLE[0][1]}" in result.stderr
    assert SECRET not in result.stdout + result.stderr
