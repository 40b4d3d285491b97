"""``flask import-messages``: good files import, bad files import nothing and say why."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from upstream_apps import upstream_app


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


# --- hostile files: one clear line, exit status 1, nothing raw reaches the terminal ----------

def write_bytes(tmp_path, data: bytes, name="chat.json"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def assert_one_line(result, line: str) -> None:
    assert isinstance(result.exception, SystemExit), result.exception  # not a traceback
    assert result.exit_code == 1
    assert result.output == f"Error: {line}\n"


@pytest.mark.parametrize("name, shown", [
    ("\x1b[31mcolour\x1b[0m", "\\x1b[31mcolour\\x1b[0m"),    # an ANSI colour sequence (C0)
    ("\x1b]0;owned\x07", "\\x1b]0;owned\\x07"),              # set the terminal's title
    ("a\x9b2Jb\x7f", "a\\x9b2Jb\\x7f"),                       # C1 CSI, and DEL
    ("evil\u202etxt.exe", "evil\\u202etxt.exe"),              # a bidirectional override
    ("line\u2028break", "line\\u2028break"),
])
def test_unknown_field_names_are_shown_escaped(app, store, tmp_path, name, shown):
    path = write(tmp_path, [{"role": "user", "content": "hi", name: "x"}])
    result = run_import(app, path)
    assert_one_line(result, f"Message 1 in {path} has unknown fields: {shown}. Nothing imported.")
    assert store.count("alice", "imported") == 0


def test_a_lone_surrogate_in_a_field_name_is_shown_escaped(app, store, tmp_path):
    path = write(tmp_path, '[{"role": "user", "content": "hi", "\\ud800x": 1}]')
    assert_one_line(run_import(app, path),
                    f"Message 1 in {path} has unknown fields: \\ud800x. Nothing imported.")


def test_the_file_name_is_shown_escaped(app, store, tmp_path):
    path = write(tmp_path, "{not json", name="\x1b[2Jchat\x1b[0m.json")
    shown = str(tmp_path / "\\x1b[2Jchat\\x1b[0m.json")
    assert_one_line(run_import(app, path), f"{shown} is not valid JSON: Expecting property name "
                                           "enclosed in double quotes: line 1 column 2 (char 1).")


def test_deep_nesting_is_one_line(app, store, tmp_path, collector_off):
    path = write(tmp_path, "[" * 100_000)
    assert_one_line(run_import(app, path), f"{path} is nested too deeply to read.")


def test_a_huge_number_is_one_line(app, store, tmp_path):
    path = write(tmp_path, '[{"role": "user", "content": "hi", "chat_time": ' + "7" * 5000 + "}]")
    assert_one_line(run_import(app, path), f"{path} holds a 5,000-digit number, too long to "
                                           "read (the limit is 4,300 digits).")
    assert store.count("alice", "imported") == 0


def test_invalid_utf8_is_one_line(app, store, tmp_path):
    path = write_bytes(tmp_path, b'[{"role": "user", "content": "caf\xe9"}]')
    assert_one_line(run_import(app, path), f"{path} is not UTF-8 text (byte 33 is not valid).")


def test_the_real_command_never_writes_an_escape_to_the_terminal(tmp_path):
    path = write(tmp_path, [{"role": "user", "content": "hi", "\x1b[31mred\x9b": "x"}])
    flask = str(Path(sys.executable).with_name("flask"))
    env = {**os.environ, "MEMOS_API_KEY": "", "MEMOS_BASE_URL": "",
           "MEMOS_LOCAL_DB": str(tmp_path / "store.sqlite3")}
    result = subprocess.run([flask, "--app", "app", "import-messages", str(path), "--user", "a",
                             "--conversation", "b"], cwd=Path(__file__).resolve().parent.parent,
                            env=env, capture_output=True, timeout=60)
    assert result.returncode == 1 and result.stdout == b""
    assert result.stderr == (f"Error: Message 1 in {path} has unknown fields: "
                             "\\x1b[31mred\\x9b. Nothing imported.\n").encode()


@pytest.mark.parametrize("remote", [False, True], ids=["embedded", "over-http"])
def test_no_nesting_depth_near_the_limit_gives_a_traceback(app_factory, memos_server, tmp_path,
                                                           remote):
    """Parsing, storing and sending each nest a little deeper: each may be the one that fails."""
    app = (upstream_app(app_factory, memos_server.base_url, MEMOS_API_KEY=memos_server.api_key)
           if remote else app_factory())
    outcomes = set()
    for depth in range(900, 1000, 3):
        path = write(tmp_path, '[{"role": "user", "content": ' + "[" * depth + "]" * depth + "}]")
        result = run_import(app, path)
        assert result.exception is None or isinstance(result.exception, SystemExit), depth
        if result.exit_code == 0:
            outcomes.add("imported")
        else:
            assert result.exit_code == 1 and result.output.startswith("Error: ")
            assert result.output.count("\n") == 1, result.output
            outcomes.add(result.output.split(" is ", 1)[-1].strip())
    assert "imported" in outcomes and "nested too deeply to read." in outcomes


# --- memories beside the messages ------------------------------------------------------------

MEMORIES = [
    {"id": "m-budget", "memory_key": "Budget", "memory_value": "The budget is in the Q1 sheet.",
     "memory_type": "LongTermMemory", "tags": ["budget"], "confidence": 0.9,
     "create_time": "2026-02-01 10:01:00",
     "sources": [{"role": "user", "content": "Where did we leave the budget?",
                  "chat_time": "2026-02-01 10:00:00"}]},
    {"preference": "Short answers.", "preference_type": "implicit_preference"},
]
PREFERENCES = [{"id": "p-sheets", "preference": "Keeps numbers in spreadsheets.",
                "reasoning": "Mentions the Q1 sheet."}]


def test_import_takes_memories_and_preferences_beside_messages(app, store, tmp_path):
    document = {"messages": MESSAGES, "memories": MEMORIES, "preferences": PREFERENCES}
    result = run_import(app, write(tmp_path, document))
    assert result.exit_code == 0, result.output
    assert "Imported 2 messages, 1 memory and 2 preferences into 'imported'" in result.output
    assert store.count("alice", "imported") == 2
    page = store.get_memory("alice")
    [memory] = page.memories
    assert memory.memory_key == "Budget" and memory.conversation_id == "imported"
    assert memory.sources[0].text == "Where did we leave the budget?"
    assert sorted(p.preference for p in page.preferences) == [
        "Keeps numbers in spreadsheets.", "Short answers."]
    assert store.search_memory("budget", "alice", "imported").memories[0].id == "m-budget"


def test_import_takes_memories_alone(app, store, tmp_path):
    result = run_import(app, write(tmp_path, {"memories": MEMORIES[:1], "messages": []}))
    assert result.exit_code == 0, result.output
    assert "Imported 1 memory into 'imported' for 'alice'." in result.output
    assert store.count("alice", "imported") == 0
    assert store.count_memories("alice") == {"memory": 1, "preference": 0}


@pytest.mark.parametrize("document, phrase", [
    ({"messages": MESSAGES, "memories": "lots"}, 'has "memories" that is not a list'),
    ({"messages": MESSAGES, "preferences": {"p": 1}}, 'has "preferences" that is not a list'),
    ({"messages": MESSAGES, "memories": [MEMORIES[0], "text"]},
     "Memory 2 in {path} is not a JSON object."),
    ({"messages": MESSAGES, "memories": [{"memory_key": "k"}]},
     'Memory 1 in {path} has no "memory_value" string.'),
    ({"messages": MESSAGES, "preferences": [{"preference_type": "explicit_preference"}]},
     'Preference 1 in {path} has no "preference" string.'),
    ({"messages": MESSAGES, "preferences": [{"memory_value": "not a preference"}]},
     'Preference 1 in {path} has no "preference" string.'),
    ({"messages": MESSAGES, "preferences": [{"preference": "p", "memory_value": 5}]},
     'Preference 1 in {path} has a "memory_value", which makes it a memory. Nothing imported.'),
    ({"messages": MESSAGES, "memories": [{"memory_value": "v", "confidence": 7}]},
     '"confidence" that is not a number from 0 to 1'),
    ({"messages": MESSAGES, "memories": [{"memory_value": "v", "create_time": "soon"}]},
     '"create_time" that is not a time'),
    ({"messages": MESSAGES, "memories": [{"memory_value": "v", "sources": "chat"}]},
     '"sources" that are not a list of objects'),
    ({"messages": MESSAGES, "memories": [MEMORIES[0]], "preferences": [{
        "id": "m-budget", "preference": "p"}]}, 'Two memories in {path} have the id "m-budget"'),
    ({"messages": [{"role": "user"}], "memories": MEMORIES}, "Message 1"),
    ({"memories": []}, "non-empty list of messages"),
])
def test_bad_memories_import_nothing(app, store, tmp_path, document, phrase):
    path = write(tmp_path, document)
    result = run_import(app, path)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert phrase.format(path=path) in result.output
    assert store.count("alice", "imported") == 0
    assert store.count_memories("alice") == {"memory": 0, "preference": 0}


def test_a_nan_in_a_memory_is_one_line(app, store, tmp_path):
    path = write(tmp_path, '{"memories": [{"memory_value": "v", "confidence": NaN}]}')
    assert_one_line(run_import(app, path), f'Memory 1 in {path} has a "confidence" that is '
                                           "not a number from 0 to 1. Nothing imported.")
    path = write(tmp_path, '{"memories": [{"memory_value": "v", "info": {"x": NaN}}]}')
    assert_one_line(run_import(app, path), f"Memory 1 in {path} cannot be stored as JSON: Out "
                                           "of range float values are not JSON compliant. "
                                           "Nothing imported.")


def test_an_escape_in_a_memory_id_is_shown_escaped(app, store, tmp_path):
    path = write(tmp_path, {"memories": [{"id": "\x1b[2J", "memory_value": "a"},
                                         {"id": "\x1b[2J", "memory_value": "b"}]})
    assert_one_line(run_import(app, path),
                    f'Two memories in {path} have the id "\\x1b[2J". Nothing imported.')


def test_memories_cannot_go_to_memos_itself(app_factory, memos_server, tmp_path):
    app = app_factory(MEMOS_BASE_URL=memos_server.base_url, MEMOS_API_KEY=memos_server.api_key,
                      VIEWER_ACCESS="open")
    path = write(tmp_path, {"messages": MESSAGES, "memories": MEMORIES})
    assert_one_line(run_import(app, path), f"{path} holds memories, which only the embedded "
                                           "store can import: MemOS extracts its own from the "
                                           "messages. Unset MEMOS_API_KEY and MEMOS_BASE_URL, "
                                           "or leave the memories out. Nothing imported.")
    assert memos_server.store.count("alice", "imported") == 0
