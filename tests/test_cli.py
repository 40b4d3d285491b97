"""``flask import-messages``: good files import, bad files import nothing and say why."""

import json

import pytest


def run_import(app, path, user="alice", conversation="imported"):
    return app.test_cli_runner().invoke(
        args=["import-messages", str(path), "--user", user, "--conversation", conversation])


def write(tmp_path, content, name="chat.json"):
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content),
                    encoding="utf-8")
    return path


MESSAGES = [
    {"role": "user", "content": "Where did we leave the budget?",
     "chat_time": "2026-02-01 10:00:00"},
    {"role": "assistant", "content": [{"type": "text", "text": "In the Q1 sheet."}]},
]


@pytest.mark.parametrize("document", [MESSAGES, {"user_id": "x", "conversation_id": "y",
                                                  "messages": MESSAGES}])
def test_import_accepts_body_or_list(app, store, tmp_path, document):
    result = run_import(app, write(tmp_path, document))
    assert result.exit_code == 0, result.output
    assert "Imported 2 messages" in result.output
    messages = store.get_messages("alice", "imported", 10)
    assert [m.text for m in messages] == ["Where did we leave the budget?", "In the Q1 sheet."]
    assert messages[0].created_at.isoformat() == "2026-02-01T10:00:00+08:00"


@pytest.mark.parametrize("content, phrase", [
    ("{not json", "not valid JSON"),
    ([], "non-empty list"),
    ({"messages": "hello"}, "non-empty list"),
    ([MESSAGES[0], "just text"], "Message 2"),
    ([{"role": "user"}], '"content"'),
    ([{"content": "hi"}], '"role"'),
    ([{"role": "user", "content": "hi", "chat_time": 5}], "chat_time"),
    ([{"role": "user", "content": "hi", "colour": "red"}], "unknown fields: colour"),
])
def test_bad_files_import_nothing(app, store, tmp_path, content, phrase):
    result = run_import(app, write(tmp_path, content))
    assert result.exit_code != 0
    assert phrase in result.output and "Traceback" not in result.output
    assert store.count("alice", "imported") == 0


def test_non_utf8_file_is_refused(app, store, tmp_path):
    path = tmp_path / "latin1.json"
    path.write_bytes('[{"role": "user", "content": "caf\xe9"}]'.encode("latin-1"))
    result = run_import(app, path)
    assert result.exit_code != 0 and "not UTF-8" in result.output


def test_too_long_ids_are_refused(app, store, tmp_path):
    result = run_import(app, write(tmp_path, MESSAGES), user="u" * 101)
    assert result.exit_code != 0 and "MemOS allows at most 100" in result.output
    assert store.count("u" * 101, "imported") == 0


def test_import_through_a_memos_server(app_factory, memos_server, tmp_path):
    app = app_factory(MEMOS_BASE_URL=memos_server.base_url, MEMOS_API_KEY=memos_server.api_key,
                      VIEWER_ACCESS="open")
    result = run_import(app, write(tmp_path, MESSAGES))
    assert result.exit_code == 0, result.output
    assert memos_server.store.count("alice", "imported") == 2


def test_upstream_rejection_is_reported(app_factory, memos_server, tmp_path):
    app = app_factory(MEMOS_BASE_URL=memos_server.base_url, MEMOS_API_KEY="wrong-key",
                      VIEWER_ACCESS="open")
    result = run_import(app, write(tmp_path, MESSAGES))
    assert result.exit_code != 0 and "Import failed: MemOS rejected the API key" in result.output
    assert "wrong-key" not in result.output


def test_control_characters_in_ids_are_refused(app, store, tmp_path):
    result = run_import(app, write(tmp_path, MESSAGES), conversation="bad\nid")
    assert result.exit_code != 0 and "control characters" in result.output
    assert store.count("alice", "bad\nid") == 0
