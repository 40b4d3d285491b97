"""Every kind of page the viewer serves is valid HTML, per the Nu Html Checker (vnu).

The pages are rendered with Flask's test client, written to temporary files and checked in one
``java -jar vnu.jar`` run (the jar comes from the ``vnu-jar`` npm dev dependency; ``make test``
installs it and, if ``java`` is missing, Debian's headless JRE). Without Java or the jar the test
is skipped locally, but fails under CI (``CI=true``), where a missing tool must not pass silently.

``MARKDOWN_USER``/``MARKDOWN_CONVERSATION``/``MARKDOWN_MESSAGES`` (a conversation exercising
everything the Markdown renderer produces) are shared with ``browser/test_accessibility.py``.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlencode

import pytest
from reading import READING_CONVERSATION_ID, READING_USER_ID
from reading import seed as seed_reading
from required_tools import tool_missing

ROOT = Path(__file__).resolve().parents[1]
VNU_JAR = ROOT / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
VNU_TIMEOUT_S = 120
CANARY = "canary-invalid"

DEMO_USER, DEMO_CONVERSATION = "demo-user", "demo-conversation"
MARKDOWN_USER, MARKDOWN_CONVERSATION = "md-user", "markdown-heavy"
LONG_URL = ("https://example.com/a/very/long/path/that/keeps/going/" + "segment/" * 12
            + "?query=" + "x" * 80)
LONG_CODE_LINE = ("const report = rows.map((row) => `${row.date} ${row.category ?? 'Uncategorized'}"
                  " ${row.amount}`).join('\\n');  // a line wider than the message bubble")
LONG_WORD = "Donaudampfschifffahrtsgesellschaftskapitänswitwe" * 3

MARKDOWN_MESSAGES = [
    {"role": "user", "chat_time": "2026-03-01 09:00:00",
     "content": f"Can you format this nicely? Source: {LONG_URL}\nAnd why is {LONG_WORD} so long?"},
    {"role": "assistant", "chat_time": "2026-03-01 09:00:30", "content": """\
# Summary

Here is **everything**, with *emphasis*, ~~strikethrough~~ and `inline code`.

## Steps

1. Read the [documentation](https://example.com/docs "The docs").
2. Install the tools:
   - `pip install -r requirements.txt`
   - `npm ci`
3. Run it.

### Comparison

| Tool | Language | Stars |
|:-----|:--------:|------:|
| flask | Python | 68000 |
| htmx | JavaScript | 40000 |

> A quote, with a [link inside](https://example.org/quoted).
>
> > And a nested one.
"""},
    {"role": "assistant", "chat_time": "2026-03-01 09:01:00", "content": f"""\
The code, in two languages:

```python
def total(rows: list[dict]) -> int:
    \"\"\"Sum the amounts.\"\"\"
    return sum(int(row["amount"]) for row in rows if row.get("amount"))
```

```js
const total = rows.reduce((sum, row) => sum + Number(row.amount ?? 0), 0);
console.log(`total: ${{total}}`);
{LONG_CODE_LINE}
```

```
plain fenced block without a language
```

A bare long URL: {LONG_URL}

A long word: {LONG_WORD}

---

An image becomes a link: ![a diagram](https://example.com/diagram.png)
"""},
    {"role": "user", "chat_time": "2026-03-02 10:00:00",
     "content": "<b>not bold</b> & *not markdown* for users"},
    {"role": "assistant", "chat_time": "2026-03-02 10:01:00",
     "content": "A long answer, collapsed behind a toggle:\n\n"
                + "\n".join(f"- point {n}: {'detail ' * 6}" for n in range(45))},
    {"role": "system", "chat_time": "2026-03-02 10:02:00",
     "content": "You are a helpful assistant. " * 20},
    {"role": "tool", "chat_time": "2026-03-02 10:02:30",
     "content": '{"result": "ok", "rows": 3}'},
]


# Tool calls and attachments at their oddest: a call id repeated, markup in names, an answer
# whose call is not on the page, an image that is not https, a file name with quotes.
TOOLS_MESSAGES = [
    {"role": "assistant", "chat_time": "2026-03-01 09:00:00", "content": "",
     "tool_calls": [{"id": "call_0", "type": "function",
                     "function": {"name": "<b>lookup</b>", "arguments": '{"q": "a \\"b\\""}'}},
                    {"id": "call_0", "function": {"name": "lookup", "arguments": "not json"}},
                    {"id": '"><i id="x', "function": {"name": "noargs"}}]},
    {"role": "tool", "chat_time": "2026-03-01 09:00:01", "tool_call_id": "call_0",
     "content": json.dumps({"rows": [{"n": n, "text": "<row>"} for n in range(6)]})},
    {"role": "tool", "chat_time": "2026-03-01 09:00:02", "tool_call_id": '"><i id="x',
     "content": "done"},
    {"role": "tool", "chat_time": "2026-03-01 09:00:03", "tool_call_id": "call_elsewhere",
     "content": "[1, 2"},
    {"role": "user", "chat_time": "2026-03-01 09:01:00",
     "content": [{"type": "image_url", "image_url": {"url": "http://example.com/a.png"}},
                 {"type": "file", "file": {"filename": 'say "hi" <there>.txt'}},
                 {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
                 {"type": "text", "text": "```\nunclosed <code>"}]},
]


def chat_path(user: str, conversation: str, **extra) -> str:
    return "/chat?" + urlencode({"user_id": user, "conversation_id": conversation, **extra})


def as_document(fragment: str, title: str) -> str:
    """An htmx fragment inside the smallest valid document, so vnu can check it."""
    title = html.escape(title)
    return (f'<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{title}</title>\n</head>\n<body>\n<h1>{title}</h1>\n"
            f"<main>\n{fragment}\n</main>\n</body>\n</html>\n")


def fetch(client, path: str, status: int, **options) -> str:
    response = client.get(path, **options)
    assert response.status_code == status, f"GET {path}: {response.status_code}, not {status}"
    return response.get_data(as_text=True)


def live_url(page: str) -> str:
    """The live check's URL on a page (its ``#live`` element's ``data-live-url``)."""
    found = re.search(r'id="live"[^>]*?data-live-url="([^"]+)"', page, re.S)
    assert found, "the page has no #live with a data-live-url"
    return html.unescape(found.group(1))


def collect_live(client, store, small_cap_client) -> dict[str, str]:
    """name -> HTML of the live updates' pages and fragments (static/chat.js appends these)."""
    hx = {"HX-Request": "true"}
    pages = {"demo-chat-live-off": fetch(client, chat_path(DEMO_USER, DEMO_CONVERSATION,
                                                            live="0"), 200)}
    assert 'data-live-url' not in pages["demo-chat-live-off"]
    demo = fetch(client, chat_path(DEMO_USER, DEMO_CONVERSATION), 200)
    store.add_messages(DEMO_USER, DEMO_CONVERSATION, [  # after the demo's newest, a new day
        message | {"chat_time": f"2026-04-01 09:00:0{n}"}
        for n, message in enumerate(MARKDOWN_MESSAGES[1:3])])
    pages["newer-fragment"] = as_document(
        fetch(client, live_url(demo), 200, headers=hx), "newer fragment")
    # An empty conversation's first messages replace its "no messages yet" note (out of band).
    empty = fetch(client, chat_path("nobody", "live-empty"), 200)
    store.add_messages("nobody", "live-empty", MARKDOWN_MESSAGES[:2])
    pages["newer-first-fragment"] = as_document(
        fetch(client, live_url(empty), 200, headers=hx), "newer first fragment")
    # The messages on screen are gone upstream: the notice offering a reload.
    changed = re.sub(r"after=[^&]+", "after=1.0123456789abcdef", live_url(demo))  # not there
    pages["newer-changed-fragment"] = as_document(
        fetch(client, changed, 409, headers=hx), "newer changed fragment")
    # More arrived than one request returns (MEMOS_MAX_LIMIT 20): the gap marker.
    small_store = small_cap_client.application.extensions["memos_source"]
    small_store.add_messages(MARKDOWN_USER, MARKDOWN_CONVERSATION, MARKDOWN_MESSAGES)
    before = fetch(small_cap_client, chat_path(MARKDOWN_USER, MARKDOWN_CONVERSATION), 200)
    small_store.add_messages(MARKDOWN_USER, MARKDOWN_CONVERSATION, [
        {"role": "user", "content": f"burst {n}", "chat_time": f"2026-03-03 09:00:{n:02d}"}
        for n in range(25)])
    gap = fetch(small_cap_client, live_url(before), 200, headers=hx)
    assert 'class="live-gap"' in gap
    pages["newer-gap-fragment"] = as_document(gap, "newer gap fragment")
    return pages


def collect_pages(client, store, upstream_down_client, signed_client) -> dict[str, str]:
    """name -> HTML of every kind of page (and fragment, wrapped) the viewer serves."""
    store.add_messages(MARKDOWN_USER, MARKDOWN_CONVERSATION, MARKDOWN_MESSAGES)
    demo = fetch(client, chat_path(DEMO_USER, DEMO_CONVERSATION), 200)
    pages = {
        "landing": fetch(client, "/", 200),
        "demo-chat": demo,
        "markdown-chat": fetch(client, chat_path(MARKDOWN_USER, MARKDOWN_CONVERSATION,
                                                 limit=len(MARKDOWN_MESSAGES)), 200),
        "error-400": fetch(client, chat_path("", "x"), 400),
        "error-404": fetch(client, "/no/such/page", 404),
        "empty-conversation": fetch(client, chat_path("nobody", "nothing-here"), 200),
    }
    # Rich content: previews, task lists, tool calls and answers, attachments.
    seed_reading(store)
    for name, language in (("reading-chat", "en"), ("reading-chat-zh", "zh-Hans")):
        pages[name] = fetch(client, chat_path(READING_USER_ID, READING_CONVERSATION_ID,
                                              limit=61, lang=language), 200)
    store.add_messages("tools-user", "tools", TOOLS_MESSAGES)
    pages["tools-chat"] = fetch(client, chat_path("tools-user", "tools"), 200)
    older = re.search(r'id="load-more"[^>]*?(?:data-)?hx-get="([^"]+)"', demo, re.S)
    assert older, "the demo conversation has no #load-more with an htmx GET"
    fragment = fetch(client, html.unescape(older.group(1)), 200, headers={"HX-Request": "true"})
    pages["older-fragment"] = as_document(fragment, "older fragment")
    permalink = re.findall(r' id="m-([0-9a-f]{12})"', demo)[1]
    pages["permalinked"] = fetch(client, chat_path(DEMO_USER, DEMO_CONVERSATION,
                                                   message=permalink), 200)
    assert 'aria-current="true"' in pages["permalinked"]
    pages["permalink-not-found"] = fetch(client, chat_path(DEMO_USER, DEMO_CONVERSATION,
                                                           message="0123456789ab"), 200)

    pages["landing-signed"] = fetch(signed_client, "/", 200)
    fetch(signed_client, chat_path(DEMO_USER, DEMO_CONVERSATION), 403)  # no token; counted
    pages["error-429"] = fetch(signed_client, chat_path(DEMO_USER, DEMO_CONVERSATION), 429)

    down = upstream_down_client.get(chat_path("u", "c"))
    assert down.status_code in (502, 503, 504), f"MemOS unreachable gave {down.status_code}"
    pages[f"upstream-{down.status_code}"] = down.get_data(as_text=True)

    # The widget, in a host's accent (it links one more stylesheet), and refusing a bad one.
    widget = {"user_id": DEMO_USER, "conversation_id": DEMO_CONVERSATION, "theme": "dark"}
    pages["widget-accent"] = fetch(client, "/embed?" + urlencode({**widget, "accent": "#0a7"}),
                                   200)
    pages["widget-bad-accent"] = fetch(client, "/embed?" + urlencode({**widget, "accent": "red"}),
                                       400)

    # Forced themes, once the app has them (they change <html> and <meta name=color-scheme>).
    themed = client.get(chat_path(DEMO_USER, DEMO_CONVERSATION, theme="dark"))
    if themed.status_code == 200:
        pages["demo-chat-theme-dark"] = themed.get_data(as_text=True)
        pages["landing-theme-light"] = fetch(client, "/?theme=light", 200)
    return pages


def vnu_command() -> list[str]:
    java = shutil.which("java")
    missing = [what for what, there in (("java", java), (str(VNU_JAR), VNU_JAR.is_file()))
               if not there]
    if missing:
        tool_missing(f"HTML validity check needs {' and '.join(missing)}: run `make test` "
                     "(npm ci installs vnu-jar; `make java` installs default-jre-headless)")
    return [java, "-jar", str(VNU_JAR), "--format", "json", "--stdout", "--exit-zero-always"]


def describe(message: dict, names: dict[str, str]) -> str:
    where = names.get(message.get("url", ""), message.get("url", "?"))
    line = message.get("lastLine", message.get("firstLine", "?"))
    column = message.get("firstColumn", "?")
    kind = "/".join(filter(None, [message.get("type"), message.get("subType")]))
    extract = " ".join(message.get("extract", "").split())
    return f"{where}:{line}:{column} [{kind}] {message.get('message')}\n    near: {extract!r}"


@pytest.fixture
def upstream_down_client(app_factory, refused_port):
    """The viewer in front of a MemOS base URL where nothing listens."""
    app = app_factory(MEMOS_BASE_URL=f"http://127.0.0.1:{refused_port}/api/openmem/v1/",
                      MEMOS_API_KEY="test-key", MEMOS_TIMEOUT=1, VIEWER_ACCESS="open")
    return app.test_client()


@pytest.fixture
def small_cap_client(app_factory, tmp_path):
    """The viewer on its own embedded store, asking MemOS for at most 20 messages at once."""
    app = app_factory(MEMOS_MAX_LIMIT=20, MEMOS_LOCAL_DB=str(tmp_path / "small-cap.sqlite3"))
    return app.test_client()


@pytest.fixture
def signed_client(app_factory):
    """The viewer in signed mode, allowing one conversation request a minute."""
    app = app_factory(EMBED_SECRET="an-embed-secret-that-is-long-enough-32b",
                      RATE_LIMIT="1/minute")
    return app.test_client()


def test_every_page_is_valid_html(client, store, upstream_down_client, signed_client,
                                  small_cap_client, tmp_path):
    command = vnu_command()
    pages = collect_pages(client, store, upstream_down_client, signed_client)
    pages |= collect_live(client, store, small_cap_client)
    assert_valid_html(command, pages, tmp_path)


def assert_valid_html(command: list[str], pages: dict[str, str], directory: Path) -> None:
    """vnu finds no error in any of ``pages`` (name -> HTML), written to ``directory``.

    Also used by browser/test_browser_chinese.py, for pages as a browser left them."""
    # A known-bad document proves that vnu really parsed the files it was given.
    canary = as_document("<p>canary</span>", "canary")
    names: dict[str, str] = {}
    for name, text in [*pages.items(), (CANARY, canary)]:
        path = directory / f"{name}.html"
        path.write_text(text, encoding="utf-8")
        names[path.as_uri()] = name
        names[f"file:{path}"] = name  # vnu writes file:/tmp/..., not file:///tmp/...

    done = subprocess.run([*command, *(directory / f"{n}.html" for n in [*pages, CANARY])],
                          capture_output=True, text=True, timeout=VNU_TIMEOUT_S, check=False)
    try:
        messages = json.loads(done.stdout)["messages"]
    except (ValueError, KeyError) as error:
        pytest.fail(f"vnu gave no JSON report ({error}); exit {done.returncode}\n"
                    f"stdout: {done.stdout[:2000]}\nstderr: {done.stderr[:2000]}")

    assert any(names.get(m.get("url")) == CANARY and m.get("type") == "error"
               for m in messages), f"vnu did not flag the canary's stray </span>: {messages}"
    messages = [m for m in messages if names.get(m.get("url")) != CANARY]
    errors = [m for m in messages if m.get("type") in ("error", "non-document-error")]
    assert not errors, (
        f"{len(errors)} HTML error(s) in {len(pages)} pages ({', '.join(pages)}):\n"
        + "\n".join(describe(m, names) for m in errors)
        + summarize_warnings([m for m in messages if m not in errors], names))


def summarize_warnings(messages: list[dict], names: dict[str, str]) -> str:
    """Warnings and info do not fail the test; list each kind once, with where it occurs."""
    seen: dict[str, set[str]] = {}
    for message in messages:
        where = names.get(message.get("url", ""), "?")
        seen.setdefault(message.get("message", "?"), set()).add(where)
    return "".join(f"\n(not failing) {text} [{', '.join(sorted(pages))}]"
                   for text, pages in seen.items())


def collect_memory_panel(client, store, upstream_down_client, signed_client) -> dict[str, str]:
    """name -> HTML of the memory panel's pages and fragments (viewer/memory_panel.py)."""
    hx = {"HX-Request": "true"}
    demo = chat_path(DEMO_USER, DEMO_CONVERSATION)
    hostile = '<b>bold?</b> "quoted" & \u202eevil\u2066'
    store.add_memories(DEMO_USER, [
        {"id": "hostile", "memory_type": hostile, "memory_key": hostile,
         "memory_value": hostile + " " + "long " * 200, "tags": [hostile, "x" * 300],
         "confidence": 0.5,
         "sources": [{"role": hostile, "chat_time": "2026-03-09 20:14:35",
                      "content": hostile}]},
        {"id": "elsewhere", "memory_key": "Another conversation's", "memory_value": "csv too",
         "conversation_id": "another"}], conversation_id=DEMO_CONVERSATION)
    pages = {
        "panel-page": fetch(client, demo + "&panel=memories&limit=40", 200),
        "panel-page-zh": fetch(client, demo + "&panel=memories&lang=zh-Hans&theme=dark", 200),
        "panel-page-search": fetch(client, demo + "&panel=memories&memory_search=csv", 200),
        "panel-fragment": as_document(fetch(client, demo.replace("/chat?", "/chat/memories?"),
                                            200, headers=hx), "memory panel"),
        # Results go inside the panel, under its h2.
        "panel-search-fragment": as_document("<h2>Memories</h2>" + fetch(
            client, demo.replace("/chat?", "/chat/memories/search?") + "&q=csv", 200,
            headers=hx), "memory search"),
        "panel-bad-search-fragment": as_document("<h2>Memories</h2>" + fetch(
            client, demo.replace("/chat?", "/chat/memories/search?") + "&q=a%0Ab", 400,
            headers=hx), "memory search refused"),
        "widget-with-panel": fetch(client, "/embed?" + urlencode(
            {"user_id": DEMO_USER, "conversation_id": DEMO_CONVERSATION, "memories": "1",
             "export": "1", "panel": "memories"}), 200),
    }
    down = upstream_down_client.get("/chat/memories?user_id=u&conversation_id=c", headers=hx)
    assert down.status_code in (502, 503, 504), down.status_code
    pages["panel-failure-fragment"] = as_document(down.get_data(as_text=True), "panel failure")
    refused = signed_client.get("/chat/memories?token=x", headers=hx)
    assert refused.status_code == 403
    pages["panel-refused-fragment"] = as_document(refused.get_data(as_text=True),
                                                  "panel refused")
    assert 'class="message__remembered no-print"' in pages["panel-page"]
    return pages


def test_memory_panel_pages_are_valid_html(client, store, upstream_down_client, signed_client,
                                           tmp_path):
    command = vnu_command()
    pages = collect_memory_panel(client, store, upstream_down_client, signed_client)
    assert_valid_html(command, pages, tmp_path)
