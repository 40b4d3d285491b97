"""Open access only on purpose: VIEWER_ACCESS is decided once at start, and the landing page
offers only what works in that mode."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from app import create_app
from viewer.settings import ConfigError

ROOT = Path(__file__).resolve().parent.parent
SECRET = "an-embed-secret-that-is-long-enough-32b"
UPSTREAM = "http://127.0.0.1:9/api/openmem/v1"  # never called: these apps only start


@pytest.mark.parametrize("settings, phrase", [
    # A real upstream with no choice made: refuse, and say how to choose.
    ({"MEMOS_API_KEY": "mpg-key"}, "set EMBED_SECRET .* or VIEWER_ACCESS=open"),
    ({"MEMOS_BASE_URL": UPSTREAM}, "set EMBED_SECRET .* or VIEWER_ACCESS=open"),
    ({"MEMOS_BASE_URL": UPSTREAM, "MEMOS_API_KEY": "k", "VIEWER_ACCESS": ""},
     "set EMBED_SECRET .* or VIEWER_ACCESS=open"),
    # Contradictions and unknown values.
    ({"VIEWER_ACCESS": "open", "EMBED_SECRET": SECRET}, "contradicts EMBED_SECRET"),
    ({"MEMOS_API_KEY": "k", "VIEWER_ACCESS": "open", "EMBED_SECRET": SECRET},
     "contradicts EMBED_SECRET"),
    ({"VIEWER_ACCESS": "signed"}, "VIEWER_ACCESS=signed needs EMBED_SECRET"),
    ({"MEMOS_API_KEY": "k", "VIEWER_ACCESS": "signed"}, "VIEWER_ACCESS=signed needs EMBED_SECRET"),
    ({"VIEWER_ACCESS": "public"}, "VIEWER_ACCESS must be open or signed, got 'public'"),
    ({"MEMOS_API_KEY": "k", "VIEWER_ACCESS": "yes"}, "VIEWER_ACCESS must be open or signed"),
])
def test_unchosen_or_contradictory_access_is_refused_at_start(app_factory, settings, phrase):
    with pytest.raises(ConfigError, match=phrase):
        app_factory(**settings)


@pytest.mark.parametrize("settings, mode", [
    ({}, "open"),  # the embedded demo store: no choice needed
    ({"EMBED_SECRET": SECRET}, "signed"),
    ({"EMBED_SECRET": SECRET, "VIEWER_ACCESS": "signed"}, "signed"),
    ({"MEMOS_BASE_URL": UPSTREAM, "VIEWER_ACCESS": "open"}, "open"),
    ({"MEMOS_API_KEY": "k", "VIEWER_ACCESS": " Open "}, "open"),
    ({"MEMOS_API_KEY": "k", "EMBED_SECRET": SECRET}, "signed"),
])
def test_access_is_resolved_once_to_open_or_signed(app_factory, settings, mode):
    assert app_factory(**settings).config["VIEWER_ACCESS"] == mode


def test_the_refusal_says_how_to_choose(app_factory):
    with pytest.raises(ConfigError) as refused:
        app_factory(MEMOS_API_KEY="mpg-secret-key")
    message = str(refused.value)
    assert "EMBED_SECRET" in message and "signed links" in message
    assert "VIEWER_ACCESS=open" in message and "your own authentication" in message
    assert "mpg-secret-key" not in message


def test_the_environment_alone_never_opens_a_real_upstream(monkeypatch, tmp_path):
    for name in ("EMBED_SECRET", "VIEWER_ACCESS", "MEMOS_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MEMOS_API_KEY", "mpg-from-the-environment")
    monkeypatch.setenv("MEMOS_LOCAL_DB", str(tmp_path / "unused.db"))
    with pytest.raises(ConfigError, match="VIEWER_ACCESS=open"):
        create_app()


def test_gunicorn_refuses_to_start_open_on_a_real_upstream(tmp_path, unused_port):
    environ = {name: value for name, value in os.environ.items()
               if not name.startswith(("MEMOS_", "EMBED_", "VIEWER_", "RATE_LIMIT", "GUNICORN"))}
    environ.update({"MEMOS_API_KEY": "mpg-key", "MEMOS_BASE_URL": UPSTREAM,
                    "MEMOS_LOCAL_DB": str(tmp_path / "unused.db"), "HOST": "127.0.0.1",
                    "PORT": str(unused_port), "WEB_CONCURRENCY": "1"})
    gunicorn = Path(sys.executable).with_name("gunicorn")
    process = subprocess.Popen([str(gunicorn), "--config", "gunicorn.conf.py",
                                "--no-control-socket", "app:create_app()"],
                               cwd=ROOT, env=environ, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    try:
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    assert process.returncode != 0  # it never served
    assert "set EMBED_SECRET" in output and "VIEWER_ACCESS=open" in output


# --- the landing page -----------------------------------------------------------------------

def test_signed_mode_offers_no_form_and_says_how_conversations_open(app_factory):
    html = app_factory(EMBED_SECRET=SECRET).test_client().get("/").get_data(as_text=True)
    assert "<form" not in html and 'name="user_id"' not in html
    assert 'id="signed-links"' in html and "signed token" in html
    assert "demo" not in html.lower()  # the demo link would need a token: not offered


def test_open_mode_on_the_demo_store_offers_the_form_and_a_working_demo_link(app_factory):
    client = app_factory().test_client()
    html = client.get("/").get_data(as_text=True)
    assert '<form class="open-form" action="/chat" method="get">' in html
    assert 'id="signed-links"' not in html
    demo = "/chat?user_id=demo-user&conversation_id=demo-conversation"
    assert f'href="{demo.replace("&", "&amp;")}"' in html
    assert client.get(demo).status_code == 200


def test_open_mode_on_a_real_upstream_offers_the_form_but_no_demo(app_factory, memos_server):
    app = app_factory(MEMOS_BASE_URL=memos_server.base_url, MEMOS_API_KEY=memos_server.api_key,
                      VIEWER_ACCESS="open")
    html = app.test_client().get("/").get_data(as_text=True)
    assert '<form class="open-form"' in html
    assert "demo" not in html.lower()  # that conversation lives only in the embedded store


def test_signed_mode_refuses_ids_in_the_query(app_factory):
    client = app_factory(EMBED_SECRET=SECRET).test_client()
    response = client.get("/chat?user_id=demo-user&conversation_id=demo-conversation")
    assert response.status_code == 403 and "data-role=" not in response.get_data(as_text=True)
