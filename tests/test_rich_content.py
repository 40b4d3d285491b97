"""Rich content inside a message: hostile cases first, then what a reader sees.

Bare addresses as links in every role, task lists as checkboxes, code fenced in users' text, the
rendered preview of a collapsed message, tool calls as chips and tools' answers, attachments as
chips (viewer/renderer/). Each costs bounded time and HTML: timings are generous guards against
quadratic behaviour, not measurements.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from html import unescape

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_rendering import assert_inert, elements, parse

from memos_api import ContentPart, Message, message_from_api
from viewer.renderer import formatting, presentation
from viewer.renderer.autolink import autolinked
from viewer.renderer.formatting import Body, message_body, PageBudget
from viewer.renderer.jsontext import pretty_json
from viewer.renderer.markdown import sanitize_html
from viewer.renderer.tools import MAX_CALLS

GUARD = 0.5  # seconds of CPU: ten times what a message may cost (formatting.MESSAGE_SECONDS)
REL = {"noopener", "noreferrer", "nofollow"}
FORECAST_CALL = {"id": "call_wx_7", "type": "function",
                 "function": {"name": "get_weather_forecast",
                              "arguments": '{"city": "Lisbon", "dates": ["2026-05-14"]}'}}


def body_of(role: str, content: object = None, budget: PageBudget | None = None,
            **extra) -> Body:
    message = message_from_api({"role": role, "content": content, **extra})
    return message_body(message, budget or PageBudget())


def html_of(body: Body) -> str:
    return "".join(str(part or "") for part in (body.answer, body.preview, body.html, body.calls))


def text_of(html: str) -> str:
    return parse(html).text


def cpu(function, *args):
    started = time.thread_time()
    result = function(*args)
    return result, time.thread_time() - started


def links(html: str) -> list[dict]:
    return elements(str(html), "a")


@pytest.fixture
def message_list(app):
    """The app's own list renderer (each call is one page)."""
    return app.jinja_env.globals["message_list"]


# --- hostile: addresses ---------------------------------------------------------------------

ADDRESS_FLOODS = {
    "http:// repeated": "http://" * 3000,
    "a@ repeated": "a@" * 10_000,
    "dots": "." * 20_000,
    "letters then @": "a" * 20_000 + "@",
    "dotted host then a colon": "http://" + "a." * 10_000 + ":",
    "e-mails back to back": "a@b.co@" * 3000,
    "parentheses": "https://x.example/" + "(" * 10_000 + ")" * 10_000,
    "trailing punctuation": "https://x.example/" + ".,;:!?)" * 3000,
    "closing parentheses": "https://x.example/" + ")" * 20_000,
    "full stops": "https://x.example/" + "." * 20_000,
}


@pytest.mark.parametrize("text", ADDRESS_FLOODS.values(), ids=ADDRESS_FLOODS.keys())
def test_finding_addresses_takes_linear_time(text):
    _, once = cpu(autolinked, text)
    _, four_times = cpu(autolinked, text * 4)
    assert once < 0.1, f"{once:.3f} s for {len(text)} characters"
    # Quadratic time would be 16 times as long; noise on a busy machine is the constant.
    assert four_times < 10 * once + 0.05, (once, four_times)


@pytest.mark.parametrize("role", ["assistant", "user", "tool", "robot"])
@pytest.mark.parametrize("text", ADDRESS_FLOODS.values(), ids=ADDRESS_FLOODS.keys())
def test_address_floods_render_quickly_and_within_the_html_budget(role, text):
    body, elapsed = cpu(message_body, message_from_api({"role": role, "content": text}),
                        PageBudget())
    assert elapsed < GUARD, f"{elapsed:.3f} s"
    assert len(html_of(body)) <= formatting.HTML_RATIO * len(text) + 2 * formatting.HTML_EXTRA
    assert_inert(html_of(body))


@pytest.mark.parametrize("role", ["user", "assistant"])
def test_a_very_long_message_is_shown_as_typed_without_links_quickly(role):
    text = "see https://example.com/x or a@b.co, " * 60_000  # 2 MB, 120,000 addresses
    body, elapsed = cpu(message_body, Message(role, (ContentPart("text", text),)), PageBudget())
    assert elapsed < GUARD, f"{elapsed:.3f} s"
    assert "<a " not in body.html and body.html.count("https://example.com/x") == 60_000
    ordinary = "word " * 400_000 + "a@b.co"  # one address: only it is looked at
    _, elapsed = cpu(autolinked, ordinary)
    assert elapsed < 0.1, f"{elapsed:.3f} s"


@pytest.mark.parametrize("text", [
    "javascript:alert(1)", "JAVASCRIPT://alert(1)", "data:text/html,<script>x</script>",
    "vbscript:msgbox", "file:///etc/passwd", "ftp://example.com/x", "http://", "https://.",
    'https://x.example/"onmouseover="alert(1)', "https://x.example/<img src=x onerror=y>",
    "http://user:secret@x.example/", "mailto:", "@example.com", "me@localhost",
    "www.example.com", "xhttps://example.com",
])
@pytest.mark.parametrize("role", ["assistant", "user"])
def test_only_http_https_and_mailto_addresses_become_links(role, text):
    html = html_of(body_of(role, f"see {text} now"))
    assert_inert(html)
    for link in links(html):
        assert re.match(r"(?:https?://[^\s\"<>]+|mailto:[^\s@\"<>]+@[^\s@\"<>]+)$",
                        link["href"]), link


@pytest.mark.parametrize("text", [
    "`https://in-code.example`",
    "```\nhttps://in-a-fence.example\n```",
    "    https://indented-code.example",
    "[the https://inner.example text](https://outer.example)",
    "![https://alt.example](https://img.example/a.png)",
])
def test_no_autolink_inside_code_or_another_link(text):
    html = str(body_of("assistant", text).html)
    assert "autolink" not in html
    assert all("inner" not in link["href"] and "alt" not in link["href"]
               for link in links(html))


def test_no_autolink_inside_code_fenced_in_a_users_text():
    html = str(body_of("user", "```\nhttps://in-a-fence.example\n```\nhttps://out.example").html)
    assert [link["href"] for link in links(html)] == ["https://out.example"]


# --- addresses: what a reader sees ------------------------------------------------------------

@pytest.mark.parametrize("role", ["assistant", "system", "user", "tool", "robot"])
def test_bare_addresses_are_links_in_every_role(role):
    html = str(body_of(role, "Book at https://www.visitlisboa.com/en or mail hotel@example.pt.")
               .html)
    found = links(html)
    assert [link["href"] for link in found] == ["https://www.visitlisboa.com/en",
                                                "mailto:hotel@example.pt"]
    for link in found:
        assert link["class"] == "autolink" and link["target"] == "_blank"
        assert set(link["rel"].split()) == REL
    assert "hotel@example.pt</a>." in html  # the full stop is the sentence's


def test_markdown_autolinks_are_autolinks_too():
    found = links(body_of("assistant", "<https://example.com/a> and <me@example.org>").html)
    assert [(link["href"], link["class"]) for link in found] == [
        ("https://example.com/a", "autolink"), ("mailto:me@example.org", "autolink")]
    written = links(body_of("assistant", "[docs](https://example.com/docs)").html)
    assert "class" not in written[0]  # a link the writer made is printed with its address


@pytest.mark.parametrize("text, url", [
    ("see https://example.com.", "https://example.com"),
    ("is it https://example.com/a?", "https://example.com/a"),
    ("(https://example.com/a)", "https://example.com/a"),
    ("https://en.wikipedia.org/wiki/Tram_(disambiguation)!",
     "https://en.wikipedia.org/wiki/Tram_(disambiguation)"),
    ('"https://example.com/q?x=1"', "https://example.com/q?x=1"),
    ("'https://example.com/x'", "https://example.com/x"),
    ("https://example.com/a;b, then", "https://example.com/a;b"),
    ("https://example.com: the site", "https://example.com"),
    ("https://example.com/snake_case_!", "https://example.com/snake_case"),
    ("官网：https://www.visitportugal.com。", "https://www.visitportugal.com"),
    ("访问https://example.com获取", "https://example.com"),
    ("https://zh.wikipedia.org/wiki/里斯本，", "https://zh.wikipedia.org/wiki/里斯本"),
    ("http://localhost:5000/x#top.", "http://localhost:5000/x#top"),
    ("mail first.last+tag@mail.example.co.uk.", "mailto:first.last+tag@mail.example.co.uk"),
])
@pytest.mark.parametrize("role", ["assistant", "user"])
def test_trailing_punctuation_is_not_part_of_the_address(role, text, url):
    assert [link["href"] for link in links(body_of(role, text).html)] == [url]


# --- hostile: task lists ----------------------------------------------------------------------

@pytest.mark.parametrize("raw", [
    '<input type="text" name="q" value="x" onclick="alert(1)">',
    '<input type="submit" formaction="https://evil.example">',
    '<input type="checkbox" autofocus>',
    '<input type="hidden" name="csrf" value="x">',
])
def test_the_sanitizer_only_keeps_disabled_checkboxes(raw):
    [found] = elements(sanitize_html(raw), "input")
    assert found == {"type": "checkbox", "disabled": ""}


def test_task_list_markers_elsewhere_are_text():
    for text in ("[x] not in a list", "`- [x] code`", "```\n- [x] fenced\n```"):
        assert "<input" not in body_of("assistant", text).html
    users = str(body_of("user", "- [x] as typed").html)
    assert "<input" not in users and "- [x] as typed" in users


def test_a_task_without_text_shows_its_marker_not_a_nameless_checkbox():
    html = str(body_of("assistant", "- [x]\n- [ ] named").html)
    assert html.count("<input") == 1 and "[x]" in text_of(html)
    assert html.count('class="task-list-item"') == 1


def test_deep_and_many_task_lists_stay_bounded():
    deep = "".join("  " * depth + "- [x] level\n" for depth in range(40))
    body, elapsed = cpu(message_body, Message("assistant", (ContentPart("text", deep),)),
                        PageBudget())
    assert elapsed < GUARD and body.html.count("<input") <= 40
    many = "- [ ] x\n" * 2500  # 20 KB
    body, elapsed = cpu(message_body, Message("assistant", (ContentPart("text", many),)),
                        PageBudget())
    assert elapsed < GUARD
    assert len(html_of(body)) <= formatting.HTML_RATIO * len(many) + 2 * formatting.HTML_EXTRA


# --- task lists: what a reader sees ---------------------------------------------------------

def test_task_lists_are_disabled_checkboxes_checked_as_typed_and_named_by_their_item():
    html = str(body_of("assistant", "Pack:\n\n- [x] light layers\n- [ ] an **umbrella**\n"
                                    "- [X] shoes").html)
    boxes = elements(html, "input")
    assert [("checked" in box, box["type"], box["disabled"]) for box in boxes] == [
        (True, "checkbox", ""), (False, "checkbox", ""), (True, "checkbox", "")]
    # Each checkbox is inside a label holding its item's text: that names it.
    labels = re.findall(r"<label><input[^>]*>(.*?)</label>", html)
    assert [text_of(label) for label in labels] == ["light layers", "an umbrella", "shoes"]
    assert html.count('<li class="task-list-item"') == 3


def test_loose_and_nested_task_lists():
    html = str(body_of("assistant", "- [x] one\n\n- [ ] two\n  - [x] nested\n").html)
    assert html.count("<input") == 3 and html.count("</label>") == 3
    assert_inert(html)


# --- hostile: code fenced in users' words -----------------------------------------------------

def test_fence_floods_in_users_words_are_linear():
    for text in ("```\n" * 10_000, "```\n" + "x\n" * 10_000, " ```" * 10_000,
                 "````\n```\n" * 5000):
        body, elapsed = cpu(message_body, Message("user", (ContentPart("text", text),)),
                            PageBudget())
        assert elapsed < GUARD, repr(text[:10])
        # Thousands of empty code blocks would be 12 times the text: it is shown as typed.
        assert len(body.html) <= formatting.HTML_RATIO * len(text) + formatting.HTML_EXTRA


def test_code_fenced_in_a_users_words_is_a_code_block_and_nothing_else_changes():
    text = "Why does this fail?\n```python\nprint('<b>' & 1)\n```\n**not bold** <i>as typed</i>"
    html = str(body_of("user", text).html)
    assert html == (
        '<p class="message__plain" dir="auto">Why does this fail?</p>'
        '<figure class="code-block" dir="ltr"><pre tabindex="0"><code dir="ltr">'
        "print('&lt;b&gt;' &amp; 1)</code></pre></figure>"
        '<p class="message__plain" dir="auto">**not bold** &lt;i&gt;as typed&lt;/i&gt;</p>')


def test_an_unclosed_fence_runs_to_the_end_and_inline_backticks_are_text():
    html = str(body_of("user", "start\n  ```\ncode\nmore").html)
    assert html.endswith('<code dir="ltr">code\nmore</code></pre></figure>')
    assert "<figure" not in body_of("user", "say ```this``` inline").html


# --- hostile: tool calls ----------------------------------------------------------------------

ODD_TOOL_CALLS = {
    "none": None,
    "a string": "get_weather(city='Lisbon')",
    "a number": 7,
    "an object": {"id": "c1", "function": {"name": "single", "arguments": "{}"}},
    "odd items": [None, 1, "x", [], {}, {"function": "not an object"}],
    "odd fields": [{"id": ["x"], "function": {"name": 5, "arguments": {"a": [1, 2]}}},
                   {"id": None, "function": {"name": None, "arguments": None}},
                   {"function": {"name": True, "arguments": 12}}],
    "markup in names": [{"id": '"><script>alert(1)</script>',
                         "function": {"name": "<img src=x onerror=alert(1)>",
                                      "arguments": '{"q": "<script>alert(2)</script>"}'}}],
    "flat": [{"name": "flat_call", "arguments": '{"a": 1}'}],
}


@pytest.mark.parametrize("calls", ODD_TOOL_CALLS.values(), ids=ODD_TOOL_CALLS.keys())
def test_odd_tool_calls_render_inert(calls, message_list):
    message = message_from_api({"role": "assistant", "content": "Let me check.",
                                "tool_calls": calls})
    html = str(message_list([message]))
    assert "<script" not in html and "<img" not in html
    assert_inert(html.replace("<svg", "<i"))  # our own icons only: svg checked below
    assert re.findall(r"<svg[^>]*>", html) == [
        '<svg class="chip-icon" viewBox="0 0 16 16" width="16" height="16" aria-hidden="true">'
    ] * html.count("<svg")
    assert "Let me check." in html


def test_markup_in_a_call_is_shown_as_text():
    body = body_of("assistant", "", tool_calls=ODD_TOOL_CALLS["markup in names"])
    assert "&lt;img src=x onerror=alert(1)&gt;" in body.calls
    assert 'alert(2)' in text_of(body.calls) and "<script" not in body.calls


def test_legacy_function_call_is_a_chip():
    body = body_of("assistant", None, function_call={"name": "old_style", "arguments": "{}"})
    assert "old_style" in body.calls


@pytest.mark.parametrize("arguments", [
    '{"text": "' + "x" * 2_000_000 + '"}',       # a 2 MB string
    "[" * 100_000 + "]" * 100_000,               # nesting deeper than Python's stack
    "[" * 30 + "0," * 4000 + "0" + "]" * 30,      # each level adds to every line's indent
    '{"a": ' * 5000 + "1" + "}" * 5000,
    "not json at all {",
])
def test_costly_arguments_are_shown_as_typed_within_bounds(arguments, collector_off):
    calls = [{"id": "c", "function": {"name": "f", "arguments": arguments}}]
    message = message_from_api({"role": "assistant", "content": "", "tool_calls": calls})
    body, elapsed = cpu(message_body, message, PageBudget())
    assert elapsed < GUARD, f"{elapsed:.3f} s"
    assert len(body.calls) <= formatting.HTML_RATIO * len(arguments) + formatting.HTML_EXTRA
    shown = unescape(text_of(body.calls))
    assert arguments in shown.replace("\n", "") or arguments in shown  # all of it, as typed


def test_deep_argument_values_not_text_are_shown_as_far_as_they_can_be():
    deep: dict = {}
    inner = deep
    for _ in range(2000):
        inner["a"] = {}
        inner = inner["a"]
    body = body_of("assistant", "", tool_calls=[{"function": {"name": "deep", "arguments": deep}}])
    assert "deep" in body.calls


def test_many_tool_calls_are_capped_and_counted():
    calls = [{"id": f"c{n}", "function": {"name": f"tool_{n}", "arguments": "{}"}}
             for n in range(1000)]
    body = body_of("assistant", "", tool_calls=calls)
    assert body.calls.count('class="tool-call"') == MAX_CALLS
    assert f"{1000 - MAX_CALLS} more tool calls are not shown." in body.calls


def test_call_ids_never_reach_an_attribute_raw(message_list):
    call_id = '"><b id="x'
    call = {"id": call_id, "function": {"name": "f", "arguments": "{}"}}
    messages = [message_from_api(item) for item in (
        {"role": "assistant", "content": "", "tool_calls": [call],
         "chat_time": "2026-03-01 09:00:00"},
        {"role": "tool", "content": "ok", "tool_call_id": call_id,
         "chat_time": "2026-03-01 09:00:01"})]
    html = str(message_list(messages))
    key = hashlib.sha256(call_id.encode()).hexdigest()[:16]
    assert f'data-call="{key}"' in html
    ids = re.findall(r' id="([^"]*)"', html)
    assert all(re.fullmatch(r"m-[0-9a-f]{12}(?:-call-[0-9a-f]{8})?|day-[0-9-]{10}", found)
               for found in ids), ids
    assert "&#34;&gt;&lt;b id=&#34;x" in html  # shown, escaped


# --- tool calls: what a reader sees ---------------------------------------------------------

def test_a_tool_call_is_a_chip_opening_to_its_arguments_indented():
    body = body_of("assistant", "Let me look that up.", tool_calls=[FORECAST_CALL])
    assert text_of(body.html).strip() == "Let me look that up."
    [chip] = re.findall(r'<details class="tool-call".*?</details>', body.calls, re.S)
    summary = re.search(r"<summary>(.*?)</summary>", chip, re.S)[1]
    assert text_of(summary) == "Called get_weather_forecast"
    assert '<code dir="ltr">get_weather_forecast</code>' in summary
    arguments = json.loads(FORECAST_CALL["function"]["arguments"])
    code = re.search(r'<code class="language-json">(.*?)</code>', chip, re.S)[1]
    assert unescape(text_of(code)) == json.dumps(arguments, indent=2, ensure_ascii=False)


def test_arguments_that_are_not_json_are_shown_as_typed():
    call = {"id": "c", "function": {"name": "shell", "arguments": "ls -la <dir>"}}
    body = body_of("assistant", "", tool_calls=[call])
    assert '<code dir="ltr">ls -la &lt;dir&gt;</code>' in body.calls


def test_a_call_without_arguments_is_a_chip_that_does_not_open():
    body = body_of("assistant", "", tool_calls=[{"id": "c", "function": {"name": "now"}}])
    assert "<details" not in body.calls and '<p class="tool-call"' in body.calls


def test_nothing_said_but_tools_called_shows_only_the_chips(message_list):
    message = message_from_api({"role": "assistant", "content": None,
                                "tool_calls": [FORECAST_CALL]})
    html = str(message_list([message]))
    assert "message__content" not in html and "(no content)" not in html
    assert 'class="tool-call"' in html
    nothing = str(message_list([message_from_api({"role": "assistant", "content": None})]))
    assert "(no content)" in nothing


def test_an_answer_links_to_its_calls_chip_on_the_same_page(message_list):
    items = [{"role": "assistant", "content": "Checking.", "tool_calls": [FORECAST_CALL],
              "chat_time": "2026-03-01 09:00:00"},
             {"role": "tool", "content": '{"high": 23}', "tool_call_id": "call_wx_7",
              "chat_time": "2026-03-01 09:00:01"},
             {"role": "tool", "content": "late", "tool_call_id": "call_elsewhere",
              "chat_time": "2026-03-01 09:00:02"}]
    html = str(message_list([message_from_api(item) for item in items]))
    chip_id = re.search(r'<details class="tool-call" data-call="[0-9a-f]{16}" id="([^"]+)"',
                        html)[1]
    answers = re.findall(r'<p class="tool-answer">.*?</p>', html, re.S)
    assert text_of(answers[0]) == "Answer to call call_wx_7"
    assert f'<a class="tool-answer__call" href="#{chip_id}">' in answers[0]
    assert text_of(answers[1]) == "Answer to call call_elsewhere"
    assert "<a" not in answers[1]  # its call is not on this page


def test_reused_call_ids_link_each_answer_to_the_latest_call_above_it(message_list):
    call = {"id": "call_0", "function": {"name": "lookup", "arguments": "{}"}}
    items = []
    for turn in range(2):
        items += [{"role": "assistant", "content": f"turn {turn}", "tool_calls": [call],
                   "chat_time": f"2026-03-01 09:0{turn}:00"},
                  {"role": "tool", "content": f"answer {turn}", "tool_call_id": "call_0",
                   "chat_time": f"2026-03-01 09:0{turn}:01"}]
    html = str(message_list([message_from_api(item) for item in items]))
    chip_ids = re.findall(r'<details class="tool-call" data-call="[0-9a-f]+" id="([^"]+)"', html)
    targets = re.findall(r'<a class="tool-answer__call" href="#([^"]+)"', html)
    assert len(set(chip_ids)) == 2 and targets == chip_ids


def test_the_cache_tells_apart_messages_that_differ_only_in_their_tool_calls(message_list):
    first, second = (message_from_api({"role": "assistant", "content": "Checking.",
                                       "tool_calls": [{"id": "c", "function": {"name": name}}]})
                     for name in ("first_tool", "second_tool"))
    assert first == second  # messages compare without their extra fields
    assert "first_tool" in message_list([first])
    assert "second_tool" in message_list([second])
    assert "first_tool" in message_list([first])  # kept, and still told apart


# --- tools' answers -------------------------------------------------------------------------

FORECAST = {"city": "Lisbon", "units": "metric", "days": [
    {"date": f"2026-05-{day}", "high": 23, "low": 15, "rain_mm": 0.4, "summary": "sunny"}
    for day in range(14, 21)]}


def test_a_json_answer_is_indented_in_the_code_font_and_collapsed_when_long():
    body = body_of("tool", json.dumps(FORECAST), tool_call_id="call_wx_7")
    code = re.search(r'<code class="language-json">(.*?)</code>', body.html, re.S)[1]
    assert unescape(text_of(code)) == json.dumps(FORECAST, indent=2)
    assert body.preview is not None  # long: collapsed, its first lines shown
    preview = unescape(text_of(re.search(r"<code[^>]*>(.*?)</code>", body.preview, re.S)[1]))
    assert preview.startswith('{\n  "city": "Lisbon",') and preview.endswith("…")
    assert "tabindex" not in body.preview and "<a" not in body.preview
    assert text_of(body.answer) == "Answer to call call_wx_7"


def test_a_short_json_answer_is_indented_and_not_collapsed():
    body = body_of("tool", '{"ok": true, "rows": 3}')
    assert body.preview is None and "language-json" in body.html
    code = re.search(r'<code class="language-json">(.*?)</code>', body.html, re.S)[1]
    assert unescape(text_of(code)) == '{\n  "ok": true,\n  "rows": 3\n}'


def test_a_json_answer_keeps_what_was_typed():
    text = '{"price": 1.50, "big": 1e400, "id": 12345678901234567890123, "a": 1, "a": 2}'
    shown = unescape(text_of(body_of("tool", text).html))
    for kept in ("1.50", "1e400", "12345678901234567890123", '"a": 1', '"a": 2'):
        assert kept in shown


@pytest.mark.parametrize("text", [
    "Sunny, 23 °C.", '"a JSON string"', "42", "{not json", "[1, 2", '{"a": 1} trailing',
])
def test_an_answer_that_is_not_a_json_object_is_shown_as_typed(text):
    html = str(body_of("tool", text).html)
    assert "<figure" not in html and unescape(text_of(html)) == text


@pytest.mark.parametrize("text", [
    "[" * 50_000 + "]" * 50_000,
    "[" * 20 + "[0]," * 4000 + "[0]" + "]" * 20,
    '{"blob": "' + "x" * 19_000 + '"}',
    "[" + "0," * 9000 + "0]",
])
def test_costly_json_answers_are_bounded(text):
    body, elapsed = cpu(message_body, Message("tool", (ContentPart("text", text),)),
                        PageBudget())
    assert elapsed < GUARD, f"{elapsed:.3f} s"
    assert len(html_of(body)) <= formatting.HTML_RATIO * len(text) + 2 * formatting.HTML_EXTRA


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(st.lists(JSON_VALUES, max_size=4) | st.dictionaries(st.text(max_size=6), JSON_VALUES,
                                                             max_size=4))
def test_pretty_json_writes_what_json_dumps_writes(value):
    text = json.dumps(value)
    expected = json.dumps(value, indent=2, ensure_ascii=False)
    if not expected.isascii():
        expected = expected.encode("utf-8", "replace").decode()
    assert pretty_json(text, 10**6) == expected


# --- collapsed messages: their preview ------------------------------------------------------

ITINERARY = ("# Full itinerary\n\n## Day 1: Lisbon\n\n"
             + "".join(f"- **Stop {n}:** see the *sights* and `code {n}`\n" for n in range(8))
             + "\n## Day 2: Belém\n\n" + "Details follow. " * 300)
MARKERS = re.compile(r"(?m)^#|\*\*|```|^- ")


def test_a_collapsed_answers_preview_is_rendered_not_its_source():
    body = body_of("assistant", ITINERARY)
    assert body.preview is not None
    tags = [tag for tag, _ in parse(body.preview).elements]
    assert {"h1", "h2", "ul", "li", "strong", "em", "code"} <= set(tags)
    assert MARKERS.search(unescape(text_of(body.preview))) is None
    # Nothing in it takes focus: its links are text, its code does not scroll.
    assert "<a " not in body.preview and "tabindex" not in body.preview
    assert "Full itinerary" in text_of(body.html)


def test_a_preview_closes_a_code_fence_it_cuts():
    text = "Here is the script:\n\n```python\n" + "print('hello')\n" * 80 + "```\n"
    body = body_of("assistant", text)
    assert "```" not in text_of(body.preview)
    assert body.preview.count('<figure class="code-block"') == 1
    assert '<span class="nb">print</span>' in body.preview  # highlighted as in the message


def test_a_preview_is_whole_lines_within_its_limits():
    for text in (ITINERARY, "line\n" * 500, "word " * 3000, "x" * 5000, "| a | b |\n" * 600):
        start = presentation.preview_source(text)
        assert len(start) <= presentation.PREVIEW_CHARACTERS + 1
        assert start.count("\n") < presentation.PREVIEW_LINES
        assert text.startswith(start.removesuffix("…"))  # the ellipsis only marks the cut


@pytest.mark.parametrize("line", ["|-" + " " * 20_000 + "x", "|-" * 10_000 + "x",
                                  "-" * 20_000 + ":x", "`" * 20_000 + "x`"])
def test_choosing_a_preview_takes_linear_time_whatever_line_follows_it(line):
    text = "line\n" * 11 + "| head |\n"
    _, once = cpu(presentation.preview_source, text + line)
    _, four_times = cpu(presentation.preview_source, text + line * 4)
    assert once < 0.1 and four_times < 10 * once + 0.05, (once, four_times)


def test_a_preview_never_ends_on_a_tables_header_row():
    text = "\n".join(f"line {n}" for n in range(11)) + "\n| Day | Base |\n|---|---|\n" \
        + "| 1 | Lisbon |\n" * 60
    body = body_of("assistant", text)
    assert "|" not in text_of(body.preview)


def test_a_users_long_message_previews_as_typed():
    text = "**not bold**\n" * 60
    body = body_of("user", text)
    assert text_of(body.preview).startswith("**not bold**\n**not bold**")
    assert "<strong>" not in body.preview


def test_a_preview_counts_against_the_messages_html_budget():
    # Its first 1,200 characters are dense with addresses (each link some 100 characters of
    # HTML): with its preview, the message would pass its budget.
    dense = "a@b.co " * 170
    text = dense + "\n\n" + "plain words here. " * 170
    body = body_of("assistant", text)
    assert body.note == "" and body.html.count("autolink") == 170  # the message: formatted
    budget = formatting.HTML_RATIO * len(text) + formatting.HTML_EXTRA
    assert len(body.html) + len(body.preview) <= budget
    assert "<a" not in body.preview and "a@b.co" in body.preview  # the preview: as typed


def test_a_spent_page_budget_shows_the_preview_plain_and_keeps_nothing():
    body = body_of("assistant", ITINERARY, PageBudget(0.0))
    assert body.note == formatting.PAGE_FULL and not body.cacheable
    assert "# Full itinerary" in text_of(body.preview)


def test_a_short_message_has_no_preview():
    assert body_of("assistant", "# Short\n\nJust this.").preview is None


def test_a_preview_is_kept_with_its_message(app, message_list):
    message = message_from_api({"role": "assistant", "content": ITINERARY})
    first = str(message_list([message]))
    hits = message_list.cache_info().hits
    again = str(message_list([message]))
    assert again == first and message_list.cache_info().hits == hits + 1
    assert first.count('<div class="message__preview">') == 1
    assert first.index("message__preview") < first.index('<details class="message__more">')


def test_show_less_is_in_the_opened_message_hidden_until_the_script_shows_it(message_list):
    html = str(message_list([message_from_api({"role": "assistant", "content": ITINERARY})]))
    details = html[html.index('<details class="message__more">'):html.index("</details>")]
    assert details.rstrip().endswith(
        '<button type="button" class="message__less" hidden>Show less</button>')


# --- attachments ----------------------------------------------------------------------------

IMAGE = {"type": "image_url", "image_url": {"url": "https://images.example.org/hotel-view.jpg"}}
FILE = {"type": "file", "file": {"filename": "statement-2026-02.csv"}}


def test_attachments_are_chips_with_an_icon_a_label_and_their_name():
    html = str(body_of("user", [{"type": "text", "text": "Here:"}, FILE, IMAGE]).html)
    chips = re.findall(r'<p class="attachment attachment--(\w+)">(.*?)</p>', html, re.S)
    assert [(kind, text_of(inside)) for kind, inside in chips] == [
        ("file", "File statement-2026-02.csv"), ("image", "Image hotel-view.jpg")]
    assert all('<svg class="chip-icon"' in inside for _, inside in chips)
    [link] = links(chips[1][1])
    assert link["href"] == IMAGE["image_url"]["url"] and set(link["rel"].split()) == REL
    assert "<img" not in html


@pytest.mark.parametrize("url", [
    "http://images.example.org/a.png", "data:image/png;base64," + "A" * 100_000,
    "javascript:alert(1)", "/relative.png", "",
])
def test_an_image_not_on_https_is_only_its_label(url):
    html = str(body_of("assistant", [{"type": "image_url", "image_url": {"url": url}}]).html)
    assert links(html) == [] and text_of(html) == "Image"
    assert len(html) < 1000


def test_attachment_names_are_escaped_and_cut_short():
    name = '<script>alert(1)</script>"' + "x" * 500
    html = str(body_of("assistant", [{"type": "file", "file": {"filename": name}}]).html)
    assert "<script" not in html and "&lt;script&gt;" in html
    assert len(text_of(html)) < 200 and text_of(html).endswith("…")


def test_attachment_labels_are_in_the_readers_language(client, store):
    store.add_messages("u", "files", [{"role": "user", "content": [FILE, IMAGE],
                                       "chat_time": "2026-03-01 09:00:00"}])
    page = client.get("/chat?user_id=u&conversation_id=files&lang=zh-Hans").get_data(
        as_text=True)
    labels = re.findall(r'<span class="attachment__label">([^<]*)</span>', page)
    assert labels == ["文件", "图片"]
