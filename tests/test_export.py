"""``GET /chat/export``: each format, the truncation flag, access, bad input, hostile content,
file names, and the JSON round trip back into a store (the CLI and the local server's HTTP)."""

import gc
import gzip
import json
import re
import time
import tracemalloc
from html import unescape

import pyromark
import pytest
import requests
from flask import request
from upstream_apps import upstream_app
from werkzeug import Response

from memos_api import ContentPart, Message
from viewer import export
from viewer.access import sign
from viewer.export import api_message, file_name
from viewer.links import read_reader
from viewer.renderer.markdown import is_safe_url

SECRET = "export-tests-secret-0123456789abcdefghij"
OPEN = "/chat/export?user_id=u1&conversation_id=c1"
CONTENT_TYPES = {"json": "application/json; charset=utf-8",
                 "md": "text/markdown; charset=utf-8", "txt": "text/plain; charset=utf-8"}
# Every extension a Markdown viewer may turn on, so that the check sees what any would.
EVERY_OPTION = (pyromark.Options.ENABLE_TABLES | pyromark.Options.ENABLE_FOOTNOTES
                | pyromark.Options.ENABLE_STRIKETHROUGH | pyromark.Options.ENABLE_TASKLISTS
                | pyromark.Options.ENABLE_SMART_PUNCTUATION
                | pyromark.Options.ENABLE_HEADING_ATTRIBUTES | pyromark.Options.ENABLE_MATH
                | pyromark.Options.ENABLE_GFM | pyromark.Options.ENABLE_DEFINITION_LIST
                | pyromark.Options.ENABLE_SUPERSCRIPT | pyromark.Options.ENABLE_SUBSCRIPT
                | pyromark.Options.ENABLE_WIKILINKS)
VIEWER = pyromark.Markdown(options=EVERY_OPTION)

# A conversation with one of everything the JSON must carry back as it came.
TRICKY = [
    {"role": "system", "content": "You answer briefly.", "chat_time": "2026-03-01 09:00:00"},
    {"role": "user", "content": "你好！今天天气怎么样？🌤️👨‍👩‍👧",
     "chat_time": "2026-03-01 09:00:05"},
    {"role": "assistant", "content": "  leading spaces, trailing ones  \n\n\n\ttab\r\nCRLF\n",
     "chat_time": "2026-03-01 09:00:06"},
    {"role": "user", "content": [
        {"type": "text", "text": "看这张图"},
        {"type": "image_url", "image_url": {"url": "https://example.com/chart.png",
                                            "detail": "high"}},
        {"type": "file", "file": {"file_name": "报告.pdf", "file_data": "JVBERi0xLjQK"}}],
     "chat_time": "2026-03-02T10:00:00+08:00"},
    {"role": "tool", "content": "{\"temp\": 21}", "tool_call_id": "call_1",
     "chat_time": "2026-03-02 10:00:08"},
    {"role": "assistant", "content": "", "chat_time": "2026-03-02 10:00:09"},
]


@pytest.fixture
def app(app_factory):
    app = app_factory(MEMOS_MAX_LIMIT=50, RATE_LIMIT="0", DISPLAY_TIMEZONE="+08:00")
    app.extensions["memos_source"].add_messages("u1", "c1", TRICKY)
    return app


@pytest.fixture
def client(app):
    return app.test_client()


def download(client, query, kind, status=200):
    """The answer, read whole and closed, as a server closes it once sent."""
    response = client.get(f"{query}&format={kind}")
    response.get_data()
    response.close()
    assert response.status_code == status, response.text[:300]
    return response


# --- each format -------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["json", "md", "txt"])
def test_each_format_is_a_utf8_download_named_after_the_conversation(client, kind):
    response = download(client, OPEN, kind)
    assert response.headers["Content-Type"] == CONTENT_TYPES[kind]
    assert response.headers["Content-Disposition"] == \
        f'attachment; filename="conversation-c1.{kind}"'
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    text = response.get_data().decode("utf-8")  # strict: the body is UTF-8
    assert "你好！今天天气怎么样？🌤️👨‍👩‍👧" in text


@pytest.mark.parametrize("kind", ["json", "md", "txt"])
def test_downloads_are_compressed_for_clients_that_accept_it(client, kind):
    response = client.get(f"{OPEN}&format={kind}", headers={"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(response.data).decode("utf-8").count("你好") == 1


def test_json_is_the_add_message_body_oldest_first(client, store):
    document = download(client, OPEN, "json").get_json()
    assert list(document) == ["user_id", "conversation_id", "truncated", "messages"]
    assert (document["user_id"], document["conversation_id"]) == ("u1", "c1")
    assert document["truncated"] is False
    messages = document["messages"]
    assert [m["role"] for m in messages] == [m["role"] for m in TRICKY]
    assert [m["content"] for m in messages] == [m["content"] for m in TRICKY]  # as they came
    assert messages[3]["content"][2]["file"]["file_data"] == "JVBERi0xLjQK"
    assert messages[3]["chat_time"] == "2026-03-02T10:00:00+08:00"  # as MemOS wrote it
    assert messages[4]["chat_time"] == "2026-03-02 10:00:08"
    assert messages[4]["tool_call_id"] == "call_1"


def test_a_missing_chat_time_is_written_in_memos_timezone(app_factory):
    app = app_factory(MEMOS_TIMEZONE="UTC", DISPLAY_TIMEZONE="+08:00")
    app.extensions["memos_source"].add_messages("u1", "c1", [
        {"role": "user", "content": "epoch", "chat_time": None}])
    document = download(app.test_client(), OPEN, "json").get_json()
    written = document["messages"][0]["chat_time"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", written)
    assert abs(time.mktime(time.strptime(written + " +0000", "%Y-%m-%d %H:%M:%S %z"))
               - time.mktime(time.gmtime())) < 120


def test_markdown_is_a_transcript_with_days_authors_and_times(client):
    text = download(client, OPEN, "md").text.replace("\u202f", " ")  # CLDR's before "AM"
    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert headings == [
        "# c1", "## Sunday, 1 March 2026", "### System · 9:00 AM", "### User · 9:00 AM",
        "### Assistant · 9:00 AM", "## Monday, 2 March 2026", "### User · 10:00 AM",
        "### Tool · 10:00 AM", "### Assistant · 10:00 AM"]
    assert "- User: u1" in text and "- 6 messages" in text and "Exported " in text
    assert "\n    你好！今天天气怎么样？🌤️👨‍👩‍👧\n" in text  # users' words as typed, as code
    assert "You answer briefly." in text  # assistant and system Markdown kept as Markdown
    assert ("    看这张图\n\n    [image_url: https://example.com/chart.png]\n\n"
            "    [file: 报告.pdf]\n") in text
    html = VIEWER.html(text)
    assert "<h1>c1</h1>" in html and "<p>You answer briefly.</p>" in html


def test_text_has_the_same_structure_without_markup(client):
    text = download(client, OPEN, "txt").text.replace("\u202f", " ")
    margin = [line for line in text.splitlines() if line and not line.startswith("    ")]
    assert margin[:2] == ["c1", "User: u1"]
    assert margin[4:] == ["Sunday, 1 March 2026", "System · 9:00 AM", "User · 9:00 AM",
                          "Assistant · 9:00 AM", "Monday, 2 March 2026", "User · 10:00 AM",
                          "Tool · 10:00 AM", "Assistant · 10:00 AM"]
    assert "    [file: 报告.pdf]" in text and "    \ttab" in text
    assert "```" not in text and "#" not in text and "\r" not in text


def test_labels_follow_the_readers_language(client):
    md = download(client, OPEN + "&lang=zh-CN", "md").get_data(as_text=True)
    assert "## 2026年3月1日星期日" in md and "### 用户 · 09:00" in md and "### 助手" in md
    assert "- 用户：u1" in md and "- 6 条消息" in md and "导出于" in md
    txt = download(client, OPEN + "&lang=zh-CN", "txt").get_data(as_text=True)
    assert "\n系统 · 09:00\n" in txt and "\n工具 · 10:00\n" in txt


def test_an_empty_conversation_exports_an_empty_list(client):
    document = download(client, "/chat/export?user_id=u1&conversation_id=none", "json")
    assert document.get_json()["messages"] == []
    assert "- 0 messages" in download(client, "/chat/export?user_id=u1&conversation_id=none",
                                      "md").text


# --- never a silent partial export -------------------------------------------------------------

@pytest.mark.parametrize("count, truncated", [(4, False), (5, True), (7, True)])
def test_a_full_answer_says_older_messages_may_exist(app_factory, count, truncated):
    app = app_factory(MEMOS_MAX_LIMIT=5)
    app.extensions["memos_source"].add_messages("u1", "c1", [
        {"role": "user", "content": f"m{n}", "chat_time": f"2026-03-01 10:00:{n:02d}"}
        for n in range(count)])
    client = app.test_client()
    document = download(client, OPEN, "json").get_json()
    assert document["truncated"] is truncated
    assert [m["content"] for m in document["messages"]] == \
        [f"m{n}" for n in range(max(0, count - 5), count)]
    note = "Older messages may exist, but the MemOS API returns at most the 5 most recent"
    for kind in ("md", "txt"):
        head = download(client, OPEN, kind).text.split("\n\n", 2)[:2]
        assert (note in "\n".join(head)) is truncated


# --- access ------------------------------------------------------------------------------------

@pytest.fixture
def signed(app_factory):
    app = app_factory(EMBED_SECRET=SECRET)
    store = app.extensions["memos_source"]
    store.add_messages("alice", "a", [{"role": "user", "content": "alice's words"}])
    store.add_messages("bob", "b", [{"role": "user", "content": "bob's secret"}])
    return app


def test_signed_mode_takes_the_token_and_nothing_else(signed):
    client = signed.test_client()
    with signed.app_context():
        alice, bob = sign("alice", "a", SECRET, 600), sign("bob", "b", SECRET, 600)
        expired = sign("alice", "a", SECRET, -5)
    for kind in ("json", "md", "txt", "pdf", ""):
        for query in ("/chat/export?user_id=bob&conversation_id=b",
                      "/chat/export?token=junk", f"/chat/export?token={expired}",
                      f"/chat/export?token={alice}&conversation_id=b",
                      f"/chat/export?token={alice}&user_id=bob"):
            refused = client.get(f"{query}&format={kind}")
            assert refused.status_code == 403, (query, kind)
            assert "Content-Disposition" not in refused.headers
            assert "secret" not in refused.text and "alice&#39;s" not in refused.text
    mine = download(client, f"/chat/export?token={alice}", "json").get_json()
    assert [m["content"] for m in mine["messages"]] == ["alice's words"]
    theirs = download(client, f"/chat/export?token={bob}&user_id=bob", "txt").text
    assert "bob's secret" in theirs and "alice" not in theirs


@pytest.mark.parametrize("query, phrase", [
    ("/chat/export?conversation_id=c1&format=md", "user id is missing"),
    ("/chat/export?user_id=u1&conversation_id=a%0ab&format=md", "control characters"),
    (OPEN + "&format=md&live=2", "live must be"),
    (OPEN + "&format=md&export=yes", "export must be 0"),
])
def test_open_mode_checks_the_ids_and_options(client, query, phrase):
    response = client.get(query)
    assert response.status_code == 400 and phrase in unescape(response.text)


# --- bad formats -------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["pdf", "JSON", "md ", "x" * 500, "../json"])
def test_a_bad_format_is_a_400_that_lists_the_formats(client, value):
    response = client.get("/chat/export", query_string={
        "user_id": "u1", "conversation_id": "c1", "format": value})
    text = unescape(response.text)
    assert response.status_code == 400 and "Content-Disposition" not in response.headers
    assert "json, md or txt" in text and 'role="alert"' in text
    assert "x" * 21 not in text  # quoted, but only its start


def test_a_missing_format_says_so(client):
    response = client.get(OPEN)
    assert response.status_code == 400 and "format is missing" in response.text


def test_a_bad_format_is_explained_in_chinese(client):
    response = client.get(OPEN + "&format=pdf&lang=zh-CN")
    assert response.status_code == 400 and "格式必须是 json、md 或 txt" in response.text


# --- upstream failures: the page's statuses, never half a file ---------------------------------

UPSTREAM_FAILURES = [
    (Response('{"detail": "boom"}', 500, content_type="application/json"), 502),
    (Response("slow down", 429, headers={"Retry-After": "7"}), 503),
    (Response('{"code": 40132, "data": null, "message": "expired"}',
              content_type="application/json"), 502),
    (Response('{"code": 40103, "data": null, "message": "no user"}',
              content_type="application/json"), 404),
]


@pytest.mark.parametrize("answer, status", UPSTREAM_FAILURES)
def test_upstream_failures_are_the_pages_errors(app_factory, httpserver, answer, status):
    httpserver.expect_request("/api/openmem/v1/get/message").respond_with_response(answer)
    # A timeout long enough for a loaded machine: only the stall test below should time out.
    app = upstream_app(app_factory, httpserver.url_for("/api/openmem/v1"), MEMOS_API_KEY="k",
                       MEMOS_TIMEOUT=5)
    response = app.test_client().get(OPEN + "&format=json")
    assert response.status_code == status
    assert response.mimetype == "text/html" and "Content-Disposition" not in response.headers
    assert 'role="alert"' in response.text and "format=json" in response.text  # retry link
    if status == 503:
        assert response.headers["Retry-After"] == "7"


def test_a_stalled_upstream_is_a_504(app_factory, httpserver):
    def stall(_request):
        time.sleep(1.5)
        return Response("{}", content_type="application/json")

    httpserver.expect_request("/api/openmem/v1/get/message").respond_with_handler(stall)
    app = upstream_app(app_factory, httpserver.url_for("/api/openmem/v1"), MEMOS_API_KEY="k",
                       MEMOS_TIMEOUT=0.3, MEMOS_DEADLINE=0.8)
    response = app.test_client().get(OPEN + "&format=md")
    assert response.status_code == 504 and "Content-Disposition" not in response.headers


def test_the_export_asks_memos_once_for_max_limit(app_factory, httpserver):
    httpserver.expect_request("/api/openmem/v1/get/message").respond_with_json(
        {"code": 0, "data": {"message_detail_list": []}, "message": "ok"})
    app = upstream_app(app_factory, httpserver.url_for("/api/openmem/v1"), MEMOS_API_KEY="k")
    query = "/chat/export?user_id=once&conversation_id=c1&format=txt"
    assert app.test_client().get(query).status_code == 200
    [asked] = [request.get_json() for request, _ in httpserver.log
               if request.get_json()["user_id"] == "once"]  # a stalled test's retry may linger
    assert asked["message_limit_number"] == 50


# --- hostile content ---------------------------------------------------------------------------

HOSTILE = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "before <!-- hidden --> after",
    "<div>\n*block* of HTML\n</div>",
    "<details open><summary>x</summary>y</details>",
    "[click me](javascript:alert(1))",
    "<javascript:alert(1)>",
    "![pixel](javascript:alert(2))",
    "[defined][evil]\n\n[evil]: javascript:alert(3)",
    "[elsewhere][far]",  # defined in another message: must not become a link
    "[far]: javascript:alert(4)",
    "[data](data:text/html;base64,PHNjcmlwdD4=)",
    "```` a run of four, then ``````` seven\n```\nand an unclosed fence",
    "```python\nnever closed",
    "# Not a heading of the transcript\n\n## nor this",
    "Setext?\n---",
    "Also\n===",
    "---\n\n***",
    "> quote\n> # heading in a quote",
    "- list\n  # heading in a list",
    "x &lt;script&gt; entity",
    "\x1b[31mred\x1b[0m and a bell\x07",
    "&#60;img src=x onerror=alert(5)&#62;",
    "$$x$$ and $y$",
    "[[wiki link]]",
    "plain text that is fine",
]
ROLES = ["user", "assistant", "system", "tool", "**x**", "<b>bold</b>", "# role"]


@pytest.fixture
def hostile_app(app_factory):
    app = app_factory(MEMOS_MAX_LIMIT=1000)
    store = app.extensions["memos_source"]
    messages = [{"role": role, "content": content,
                 "chat_time": f"2026-03-{1 + n % 3:02d} 10:{n // 60 % 60:02d}:{n % 60:02d}"}
                for n, (role, content) in enumerate((role, content) for role in ROLES
                                                   for content in HOSTILE)]
    messages.append({"role": "assistant", "content": [
        {"type": "text", "text": "<b>in a part</b>"},
        {"type": "image_url", "image_url": {"url": "javascript:alert(6)"}}],
        "chat_time": "2026-03-03 23:59:59"})
    store.add_messages("u<b>*1*</b>", "# c [x](javascript:1) <i>", messages)
    return app


HOSTILE_QUERY = ("/chat/export?user_id=u%3Cb%3E*1*%3C/b%3E"
                 "&conversation_id=%23%20c%20%5Bx%5D(javascript:1)%20%3Ci%3E")


def rendered_events(markdown: str) -> list:
    return [event for event in VIEWER.events(markdown) if isinstance(event, dict)]


def test_hostile_markdown_renders_no_html_no_unsafe_link_and_keeps_its_outline(hostile_app):
    response = download(hostile_app.test_client(), HOSTILE_QUERY, "md")
    markdown = response.text
    events = rendered_events(markdown)
    kinds = {next(iter(event)) for event in events}
    assert not kinds & {"Html", "InlineHtml"}, kinds
    for event in events:
        start = event.get("Start")
        if isinstance(start, dict) and ({"Link", "Image"} & set(start)):
            details = start.get("Link") or start.get("Image")
            assert is_safe_url(details["dest_url"]), details
    headings = [event["Start"]["Heading"]["level"] for event in events
                if isinstance(event.get("Start"), dict) and "Heading" in event["Start"]]
    messages = len(ROLES) * len(HOSTILE) + 1
    assert headings == ["H1"] + _outline(headings[1:]), headings
    assert headings.count("H3") == messages and headings.count("H2") == 3
    html = VIEWER.html(markdown).lower()
    for tag in ("<script", "<img", "<!--", "<div", "<details", "<b>", "<i>", "<summary"):
        assert tag not in html
    assert not re.search(r'(href|src)="(?!https?:|mailto:|#)', html)
    assert "\x1b" not in markdown and "\x07" not in markdown and "\\x1b[31mred" in markdown
    title = html.split("\n", 1)[0]
    assert title == "<h1># c [x](javascript:1) &lt;i&gt;</h1>"  # the id, shown as text


def _outline(levels: list[str]) -> list[str]:
    """``levels`` when they form days (H2) holding messages (H3); else what breaks it."""
    return levels if all(level in ("H2", "H3") for level in levels) else ["broken"]


def test_hostile_user_words_are_code_as_typed(hostile_app):
    markdown = download(hostile_app.test_client(), HOSTILE_QUERY, "md").text
    blocks = []
    code = None
    for event in VIEWER.events(markdown):
        if event == {"Start": {"CodeBlock": "Indented"}}:
            code = []
        elif isinstance(event, dict) and "Text" in event and code is not None:
            code.append(event["Text"])
        elif isinstance(event, dict) and event.get("End") == "CodeBlock" and code is not None:
            blocks.append("".join(code))
            code = None
    for content in HOSTILE:
        shown = re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", lambda m: f"\\x{ord(m[0]):02x}", content)
        assert shown + "\n" in blocks, content  # a user's message, word for word


def test_hostile_text_keeps_content_indented_and_controls_escaped(hostile_app):
    text = download(hostile_app.test_client(), HOSTILE_QUERY, "txt").text
    margin = [line for line in text.splitlines() if line and not line.startswith("    ")]
    authors = [line for line in margin if " · " in line]
    assert len(authors) == len(ROLES) * len(HOSTILE) + 1
    assert margin[0] == "# c [x](javascript:1) <i>" and margin[1] == "User: u<b>*1*</b>"
    assert "\x1b" not in text and "\x07" not in text


def test_hostile_json_keeps_everything_as_it_came(hostile_app):
    document = download(hostile_app.test_client(), HOSTILE_QUERY, "json").get_json()
    contents = [m["content"] for m in document["messages"]]
    assert sorted(contents[:-1]) == sorted(HOSTILE * len(ROLES))
    assert document["messages"][-1]["content"][1]["image_url"]["url"] == "javascript:alert(6)"


def test_a_huge_export_is_bounded_in_time(app_factory):
    app = app_factory(MEMOS_MAX_LIMIT=1000)
    store = app.extensions["memos_source"]
    worst = ["[a](b" * 4000, "`" * 20_000, "<" * 20_000, "> " * 10_000 + "x",
             "*" * 20_000, "[x]: javascript:" + "a" * 20_000, "- " * 10_000]
    store.add_messages("u1", "big", [{"role": ("assistant", "user")[n % 2],
                                      "content": worst[n % len(worst)]} for n in range(1000)])
    client = app.test_client()
    for kind in ("md", "txt", "json"):
        started = time.process_time()
        response = download(client, "/chat/export?user_id=u1&conversation_id=big", kind)
        assert time.process_time() - started < 30  # generous: about 1 s here
        assert len(response.data) < 60 * 1024 * 1024


# --- file names --------------------------------------------------------------------------------

@pytest.mark.parametrize("conversation_id, name", [
    ("c1", "conversation-c1.md"),
    ("../../etc/passwd", "conversation-etc_passwd.md"),
    ('a"b;c', "conversation-a_b_c.md"),
    ("line\nbreak\r\x00", "conversation-line_break.md"),
    ("..hidden", "conversation-hidden.md"),
    ("support-42.v2_final", "conversation-support-42.v2_final.md"),
    ("x" * 100, f"conversation-{'x' * 64}.md"),
])
def test_file_names_keep_only_safe_characters(conversation_id, name):
    assert file_name(conversation_id, "md") == name


@pytest.mark.parametrize("conversation_id", ["会话", "...", "///", "💬"])
def test_an_id_with_no_safe_character_gets_a_digest(conversation_id):
    name = file_name(conversation_id, "txt")
    assert re.fullmatch(r"conversation-[0-9a-f]{12}\.txt", name)
    assert name != file_name(conversation_id + "2", "txt")


def test_the_header_carries_the_safe_name(client, store):
    store.add_messages("u1", 'a"b;c 会话', [{"role": "user", "content": "hi"}])
    response = client.get("/chat/export", query_string={
        "user_id": "u1", "conversation_id": 'a"b;c 会话', "format": "json"})
    assert response.headers["Content-Disposition"] == \
        'attachment; filename="conversation-a_b_c.json"'


# --- the links that offer them -----------------------------------------------------------------

def export_links(page: str) -> list[str]:
    return [unescape(url) for url in re.findall(r'href="(/chat/export[^"]*)"', page)]


def test_the_page_offers_the_three_downloads_keeping_choices(client):
    page = client.get("/chat?user_id=u1&conversation_id=c1&theme=dark&lang=zh-CN&live=0").text
    links = export_links(page)
    assert [re.search(r"format=(\w+)", link)[1] for link in links] == ["json", "md", "txt"]
    assert all("lang=zh-Hans" in link and "theme=dark" in link and "live=0" in link
               for link in links)
    assert 'title="对话菜单"' in page and ">下载为 JSON</a>" in page
    for link in links:
        assert client.get(link).status_code == 200


def test_the_widget_offers_them_only_when_asked(client):
    plain = client.get("/embed?user_id=u1&conversation_id=c1").text
    assert not export_links(plain) and 'class="menu' not in plain
    asked = client.get("/embed?user_id=u1&conversation_id=c1&export=1").text
    assert len(export_links(asked)) == 3
    live = re.search(r'data-live-url="([^"]*)"', asked)[1]
    assert "export=1" in unescape(live)  # kept by the widget's own links
    assert client.get("/embed?user_id=u1&conversation_id=c1&export=2").status_code == 400


def test_signed_pages_link_downloads_with_the_token_only(signed):
    with signed.app_context():
        token = sign("alice", "a", SECRET, 600)
    page = signed.test_client().get(f"/chat?token={token}").text
    links = export_links(page)
    assert links and all(f"token={token}" in link and "user_id" not in link for link in links)
    assert signed.test_client().get(links[0]).status_code == 200


# --- the JSON round trip through a fresh store -------------------------------------------------

def as_stored(items: list[dict]) -> list[tuple]:
    return [(item["role"], item["content"], item["chat_time"] or item["create_time"])
            for item in items]


def test_json_goes_back_through_the_command_line(app, store, app_factory, tmp_path):
    exported = download(app.test_client(), OPEN, "json")
    path = tmp_path / "conversation-c1.json"
    path.write_bytes(exported.data)
    fresh = app_factory(MEMOS_LOCAL_DB=str(tmp_path / "fresh.sqlite3"))
    result = fresh.test_cli_runner().invoke(
        args=["import-messages", str(path), "--user", "u1", "--conversation", "c1"])
    assert result.exit_code == 0, result.output
    again = fresh.extensions["memos_source"].get_message_dicts("u1", "c1", 50)
    assert as_stored(again) == as_stored(store.get_message_dicts("u1", "c1", 50))
    assert again[4]["tool_call_id"] == "call_1"


def test_json_goes_back_through_the_local_servers_add_message(app, store, memos_server):
    document = json.loads(download(app.test_client(), OPEN, "json").data)
    answer = requests.post(f"{memos_server.base_url}/add/message", json=document, timeout=10,
                           headers={"Authorization": f"Token {memos_server.api_key}"})
    assert answer.json()["code"] == 0, answer.text
    again = memos_server.store.get_message_dicts("u1", "c1", 50)
    assert as_stored(again) == as_stored(store.get_message_dicts("u1", "c1", 50))


def test_a_lone_surrogate_survives_the_round_trip(app_factory, memos_server):
    app = app_factory()
    app.extensions["memos_source"].add_messages("u1", "c1", [
        {"role": "user", "content": "half \ud83d pair", "chat_time": "2026-03-01 10:00:00"}])
    exported = download(app.test_client(), OPEN, "json")
    exported.data.decode("ascii")  # escaped, since UTF-8 cannot hold it
    answer = requests.post(f"{memos_server.base_url}/add/message", data=exported.data,
                           timeout=10, headers={"Content-Type": "application/json",
                                                "Authorization": f"Token {memos_server.api_key}"})
    assert answer.json()["code"] == 0
    [item] = memos_server.store.get_message_dicts("u1", "c1", 5)
    assert item["content"] == "half \ud83d pair"


def test_messages_not_read_from_memos_export_their_text():
    message = Message("user", (ContentPart("text", "a"), ContentPart("text", "b")))
    assert api_message(message, None) == {"role": "user", "content": "a\n\nb"}


# --- the cost of checking Markdown ---------------------------------------------------------------

DENSE = "*a **b [c](https://x.example/) `d` " * 570  # 20 KB of markup to check, safe all along


def test_markdown_past_its_checking_budget_is_code_never_raw(app, monkeypatch):
    answer = "**Bold** and a [link](https://example.com/)."
    app.extensions["memos_source"].add_messages("u1", "c1", [
        {"role": "assistant", "content": answer, "chat_time": "2026-03-03 09:00:00"}])
    client = app.test_client()
    assert f"\n\n{answer}\n" in download(client, OPEN, "md").text  # within budget: Markdown
    monkeypatch.setattr("viewer.export.CHECK_SECONDS", 0.0)
    markdown = download(client, OPEN, "md").text
    assert f"\n\n{answer}\n" not in markdown and f"\n\n    {answer}\n" in markdown
    kinds = {next(iter(event)) for event in VIEWER.events(markdown) if isinstance(event, dict)}
    assert not kinds & {"Html", "InlineHtml"}


def test_an_export_of_dense_markup_costs_about_a_pages_budget(app_factory):
    app = app_factory(MEMOS_MAX_LIMIT=300, RATE_LIMIT="0")
    app.extensions["memos_source"].add_messages("u", "dense", [
        {"role": "assistant", "content": DENSE, "chat_time": "2026-03-01 10:00:00"}] * 300)
    client = app.test_client()
    started = time.thread_time()
    markdown = download(client, "/chat/export?user_id=u&conversation_id=dense", "md").text
    # A generous guard: checking all 300 took 0.8 s of CPU; the budget is 0.25 s, and the
    # rest (reading 6 MB, escaping, fencing) is linear. Past the budget: fenced, never raw.
    assert time.thread_time() - started < 2.5
    assert markdown.count("\n    *a **b") > 0 and markdown.count("### ") == 300


# --- the memory of a download --------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["txt", "md", "json"])
def test_a_download_costs_a_small_multiple_of_its_size_in_memory(app_factory, kind):
    """Written as it is sent, a message at a time: a 15 MB answer of short lines took 196 MiB
    to write as text (a list of 1.4 million lines, then joined, then encoded)."""
    app = app_factory(RATE_LIMIT="0")
    app.extensions["memos_source"].add_messages("u", "big", [
        {"role": "assistant", "content": "short line\n" * 1_000_000}])  # 11 MB
    with app.test_request_context(f"/chat/export?user_id=u&conversation_id=big&format={kind}"):
        transcript = app.extensions["history"].export(read_reader("chat"))
        zone = app.config["DISPLAY_TIMEZONE"]
        tracemalloc.start()
        try:
            size = sum(len(chunk) for chunk in export.make(transcript, kind, zone, zone).chunks)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert size > 11_000_000
    # The message's text, as an indented code block, and that in UTF-8 (3.5x for md here).
    assert peak < 4 * size, f"{peak / 2**20:.0f} MiB to write {size / 2**20:.0f} MiB"


# --- downloads at once --------------------------------------------------------------------------
# A download holds a thread while its client reads it, however slowly; MAX_DOWNLOADS_IN_FLIGHT
# bounds how many are sent at once (tests/test_slow_clients.py: under gunicorn).

def slots_left(app) -> int:
    downloads = app.extensions["downloads"]
    held = [release for release in iter(downloads.take, None)]
    for release in held:
        release()
    return len(held)


@pytest.mark.parametrize("lang, heading, words", [
    ("", "Too many downloads at once",
     "Too many downloads are being sent right now. Try again in a minute."),
    ("zh-Hans", "同时进行的下载太多", "正在发送的下载太多了，请一分钟后再试。")])
def test_past_the_limit_a_download_is_a_503_saying_when_to_try_again(app_factory, lang,
                                                                      heading, words):
    app = app_factory(MAX_DOWNLOADS_IN_FLIGHT=2, RATE_LIMIT="0")
    client = app.test_client()
    held = [app.extensions["downloads"].take() for _ in range(2)]  # two being sent
    query = f"{OPEN}&lang={lang}" if lang else OPEN
    response = download(client, query, "json", status=503)
    assert response.headers["Retry-After"] == "30"
    assert words in unescape(response.text) and "Content-Disposition" not in response.headers
    assert f'<h1 class="alert__title">{heading}</h1>' in response.text
    assert response.headers["Cache-Control"] == "no-store"
    assert client.get("/healthz").status_code == 200  # pages are not downloads
    held[0]()
    held[0]()  # a slot is given back once, however often it is released
    assert download(client, OPEN, "json").status_code == 200
    assert slots_left(app) == 1


def test_a_download_gives_its_slot_back_when_sent_or_not(app_factory, httpserver):
    app = app_factory(MAX_DOWNLOADS_IN_FLIGHT=1, RATE_LIMIT="0")
    app.extensions["memos_source"].add_messages("u1", "c1", TRICKY)
    client = app.test_client()
    for kind in ("json", "md", "txt"):  # each read to its end
        assert download(client, OPEN, kind).data
    assert slots_left(app) == 1
    streamed = client.get(OPEN + "&format=md", buffered=False)
    assert slots_left(app) == 0  # held while it is being sent...
    next(streamed.response)
    streamed.close()  # ...and given back by a client gone before the end
    assert slots_left(app) == 1
    # Refused before it starts (bad format, no access): no slot taken.
    download(client, OPEN, "pdf", status=400)
    assert client.get("/chat/export?user_id=u1&format=md").status_code == 400
    assert slots_left(app) == 1
    # MemOS failing: the error page, and the slot back.
    httpserver.expect_request("/api/openmem/v1/get/message").respond_with_data("nope", 500)
    failing = upstream_app(app_factory, httpserver.url_for("/api/openmem/v1"), MEMOS_API_KEY="k",
                           MAX_DOWNLOADS_IN_FLIGHT=1)
    assert failing.test_client().get(OPEN + "&format=json").status_code == 502
    assert slots_left(failing) == 1


def test_a_download_dropped_unsent_gives_its_slot_back(app_factory):
    app = app_factory(MAX_DOWNLOADS_IN_FLIGHT=1, RATE_LIMIT="0")
    app.extensions["memos_source"].add_messages("u1", "c1", TRICKY)

    @app.after_request
    def replacing(response):  # a hook answering otherwise: the download is never closed
        if request.endpoint == "chat.export":
            return Response("replaced", 500)
        return response

    client = app.test_client()
    for _ in range(3):
        assert download(client, OPEN, "md", status=500).text == "replaced"
    gc.collect()
    assert slots_left(app) == 1


def test_the_limit_is_a_whole_number_of_at_least_one(app_factory):
    from viewer.settings import ConfigError

    for bad in ("0", "-1", "two", "1.5"):
        with pytest.raises(ConfigError, match="MAX_DOWNLOADS_IN_FLIGHT"):
            app_factory(MAX_DOWNLOADS_IN_FLIGHT=bad)
