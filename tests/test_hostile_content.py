"""Hostile content costs bounded time and HTML, and still shows (benchmarks/corpus.py).

Each crafted message must format within about 50 ms of CPU (guarded here at 10x that, in wall
time, against regressions on a busy machine) into at most 20 times its stored size in HTML
plus a small constant; a limit hit shows the message plainly with a quiet note.
"""

from __future__ import annotations

import html
import json
import re
import time

import pytest
from pygments.token import Token

from benchmarks.corpus import HOSTILE, hostile_message
from memos_api import ContentPart, Message, message_from_api
from viewer.renderer import formatting
from viewer.renderer.formatting import message_body, PageBudget

MESSAGE_GUARD = 0.5      # seconds: 10x the ~50 ms a message may cost
PAGE_GUARD = 10.0        # seconds: a page of 50 such messages renders in well under one
SIZE_RATIO, SIZE_EXTRA = 20, 8192  # HTML per stored character, plus the article around it
# Active markup, event handlers, and link targets other than http(s) and mailto.
FORBIDDEN = re.compile(r"<(?:script|img|iframe|object|embed|svg|style)\b|\son\w+="
                       r"|\s(?:href|src)=\"(?!https?://|mailto:)", re.IGNORECASE)


def stored_size(item: dict) -> int:
    return len(json.dumps(item, ensure_ascii=False))


@pytest.fixture
def message_list(app):
    """The app's own list renderer (each call is one page: its own formatting budget)."""
    return app.jinja_env.globals["message_list"]


@pytest.mark.parametrize("name, content", HOSTILE, ids=[name for name, _ in HOSTILE])
def test_each_hostile_message_is_shown_quickly_and_within_its_size(message_list, name,
                                                                   content):
    item = hostile_message(content)
    message = message_from_api(item)
    # CPU time, as the budget is: on a loaded machine, wall time says little about rendering.
    started = time.thread_time()
    html = str(message_list([message]))
    elapsed = time.thread_time() - started
    assert elapsed < MESSAGE_GUARD, f"{name}: {elapsed:.3f} s"
    assert len(html) <= SIZE_RATIO * stored_size(item) + SIZE_EXTRA, (name, len(html))
    assert html.count("<article") == 1 and 'data-role="assistant"' in html
    assert FORBIDDEN.search(html) is None, name


def test_a_page_of_the_worst_content_renders_in_well_under_a_second(app_factory):
    app = app_factory(RENDERED_MESSAGE_CACHE=0, MEMOS_MAX_LIMIT=50)
    store = app.extensions["memos_source"]
    items = [hostile_message(content) for _, content in HOSTILE]
    items = (items * 2)[:50]
    store.add_messages("mallory", "worst", items)
    client = app.test_client()
    client.get("/chat?user_id=demo-user&conversation_id=demo-conversation")  # warm
    started = time.thread_time()
    page = client.get("/chat?user_id=mallory&conversation_id=worst&limit=50")
    elapsed = time.thread_time() - started
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.count('<article class="message') == 50
    assert elapsed < PAGE_GUARD, f"{elapsed:.2f} s"
    assert len(html) <= sum(SIZE_RATIO * stored_size(item) + SIZE_EXTRA for item in items)


def assistant(*texts: str) -> Message:
    return Message("assistant", tuple(ContentPart("text", text) for text in texts))


def test_the_markdown_limit_counts_every_part_of_a_message():
    half = "*a* " * (formatting.MARKDOWN_CHARACTERS // 8 + 1)  # over half the limit each
    body = message_body(assistant(half, half), PageBudget())
    assert body.note == formatting.TOO_LONG and body.cacheable
    assert "<em>" not in body.html and body.html.count('class="message__plain"') == 2
    single = message_body(assistant(half), PageBudget())
    assert "<em>a</em>" in single.html and single.note == ""


def test_amplifying_markdown_is_shown_plain_with_a_note():
    padded = "|" + "a|" * 2000 + "\n|" + "-|" * 2000 + "\n" + "|x|\n" * 2500
    body = message_body(assistant(padded), PageBudget())
    assert body.note == formatting.TOO_COSTLY and body.cacheable
    assert "<table" not in body.html and "|x|" in body.html


def test_deep_nesting_is_flattened_not_refused():
    body = message_body(assistant("> " * 5000 + "deep"), PageBudget())
    assert body.note == "" and "deep" in body.html
    assert body.html.count("<blockquote") == 8  # "<blockquote>" or "<blockquote dir=..."


def test_slow_code_is_highlighted_up_to_the_budget_then_plain():
    code = "{" + "\n" * 19_000 + "int x;"
    started = time.thread_time()
    body = message_body(assistant(f"```c\n{code}\n```"), PageBudget())
    assert time.thread_time() - started < MESSAGE_GUARD
    assert body.note == formatting.CODE_PLAIN and body.cacheable
    assert body.html.endswith("int x;\n</code></pre></figure>\n")  # all of the code shows


def test_languages_outside_the_allowlist_are_plain_code_without_a_note():
    body = message_body(assistant("```autoit\n" + " " * 19_000 + "x\n```"), PageBudget())
    assert body.note == "" and "<span" not in body.html and 'class="language-autoit"' in body.html


def test_code_beyond_the_highlight_cap_is_plain():
    block = "```python\n" + "x = 1\n" * 1000 + "```\n\n"  # 6,000 characters each
    body = message_body(assistant(block + block), PageBudget())
    assert body.note == formatting.CODE_PLAIN
    first, second = body.html.split("</figure>")[:2]
    assert '<span class="n">x</span>' in first and "<span" not in second


def test_a_spent_page_budget_shows_plain_and_keeps_nothing():
    body = message_body(assistant("**bold**"), PageBudget(0.0))
    assert body.note == formatting.PAGE_FULL and not body.cacheable
    assert "**bold**" in body.html
    users_words = message_body(Message("user", (ContentPart("text", "**hi**"),)), PageBudget(0))
    assert users_words.note == "" and users_words.cacheable  # never Markdown: nothing spent


def test_plain_fallback_keeps_every_character(message_list):
    text = "<b>" + "汉字 & \"quotes\" 'single'\n" * 1000
    html = str(message_list([message_from_api(hostile_message(text * 2))]))
    assert str(formatting.TOO_LONG) in html
    content = html[html.index('<div class="message__content">'):]
    assert content.count("汉字 &amp; &#34;quotes&#34; &#39;single&#39;") == 2000


class OddTokens:
    """A lexer whose tokens are what no real one yields: markup, entities, quotes, a closing
    ``</pre>``, empty values, and token types no stylesheet knows."""

    def __init__(self, tokens):
        self.tokens = tokens

    def get_tokens_unprocessed(self, code):
        position = 0
        for token_type, value in self.tokens:
            yield position, token_type, value
            position += len(value)


ODD = [(Token.Keyword, "</pre><script>"), (Token.Keyword, "&amp;"), (Token.Made.Up.Type, '"q"'),
       (Token.Made.Up.Type, "'s'"), (Token.Text.Whitespace, " \n"), (Token.Name, ""),
       (Token, "</code>"), (Token.Error, "<"), (Token.Literal.String.Weird, ">&")]


def test_odd_token_values_and_types_are_escaped_and_kept_whole():
    from viewer.renderer.highlight import highlight

    code = "".join(value for _, value in ODD)
    result = highlight(code, OddTokens(ODD), time.thread_time() + 1, 10_000)
    assert result.complete
    # One span a run of one class; no span where there is no class (whitespace, the root
    # type); unknown types take their nearest standard ancestor's (Literal.String: "s").
    assert result.html == ('<span class="k">&lt;/pre&gt;&lt;script&gt;&amp;amp;</span>'
                           '"q"\'s\' \n&lt;/code&gt;<span class="err">&lt;</span>'
                           '<span class="s">&gt;&amp;</span>')
    assert "<script" not in result.html and "</pre>" not in result.html
    assert "</code>" not in result.html and re.search(r"<(?!/?span)", result.html) is None
    assert html.unescape(re.sub(r"<[^>]+>", "", result.html)) == code


def test_highlighting_stops_at_its_html_limit_and_shows_the_rest_plain():
    from viewer.renderer.highlight import highlight

    tokens = [(Token.Keyword, "<k>"), (Token.Name, "n"), (Token.Keyword, "&")] * 50
    code = "".join(value for _, value in tokens)
    result = highlight(code, OddTokens(tokens), time.thread_time() + 1, 100)
    assert not result.complete
    assert html.unescape(re.sub(r"<[^>]+>", "", result.html)) == code
    assert len(result.html) < 100 + 6 * len(code)


def test_fence_languages_typed_are_not_kept():
    """A cache keyed by what was typed would grow with every fence's language."""
    from viewer.renderer.highlight import _lexer, LANGUAGES, lexer_for

    text = "\n\n".join(f"```py{index} x{index}\nx\n```\n\n```PY\n" for index in range(300))
    message_body(assistant(text), PageBudget())
    assert lexer_for("PY") is lexer_for("python") is lexer_for("py")
    assert lexer_for("py1") is None
    assert _lexer.cache_info().currsize <= len(LANGUAGES)


def test_a_pages_bodies_are_each_messages_own_made_in_two_passes():
    from benchmarks.fake_upstream import rich_messages
    from tests.reading import READING_MESSAGES
    from viewer.renderer.formatting import message_bodies

    messages = [message_from_api(item) for item in rich_messages(20) + READING_MESSAGES]
    assert message_bodies(messages, PageBudget()) == [message_body(message, PageBudget())
                                                      for message in messages]


SLOW_C = "```c\n{" + "\n" * 5_000 + "int x;\n```"


def test_code_left_for_the_second_pass_gets_what_its_message_had_left():
    from viewer.renderer.formatting import message_bodies

    # Under HIGHLIGHT_CHARACTERS (code past it is plain at once, given time or not): C's
    # lexer takes ~1 s over these 5,000 lines, 40 times a message's time.
    slow = SLOW_C
    budget = PageBudget()  # lexers prepared first: once per process, on nobody's page
    started = time.thread_time()
    bodies = message_bodies([assistant(slow), assistant("**hi**"), assistant(slow)], budget)
    assert time.thread_time() - started < 2 * MESSAGE_GUARD
    for body in bodies[::2]:  # each stopped at its own limit, not the page's: kept
        assert body.note == formatting.CODE_PLAIN and body.cacheable
        assert body.html.count('<span class="p">{</span>') == 1  # highlighted while time lasted
        assert body.html.endswith("int x;\n</code></pre></figure>\n")
    assert bodies[1].note == "" and "<strong>hi</strong>" in bodies[1].html


def test_code_left_for_the_second_pass_when_the_page_is_spent_is_plain_and_not_kept():
    budget = PageBudget()
    draft = formatting._draft(assistant("text\n\n```python\nx = '<b>'\n```"), budget)
    budget.deadline = time.thread_time()  # other messages' text took the rest of the page's
    body = draft.body(budget)
    assert body.note == formatting.CODE_PLAIN and not body.cacheable
    assert "<code class=\"language-python\" dir=\"ltr\">x = '&lt;b&gt;'\n</code>" in body.html
    assert "<span" not in body.html and "<p dir=\"auto\">text</p>" in body.html


def test_slow_code_on_a_page_takes_the_pages_time_at_most_and_never_its_texts():
    """Code is highlighted after every message's text: however slow the code, the text of
    each message is formatted, and the page's code stops at the page's budget."""
    from viewer.renderer.formatting import message_bodies

    slow = SLOW_C
    text = "**bold** and [a link](https://example.com/)\n\n- one\n- two\n"
    messages = [assistant(slow if index % 2 == 0 else text) for index in range(30)]
    budget = PageBudget()  # lexers prepared first: once per process, on nobody's page
    started = time.thread_time()
    bodies = message_bodies(messages, budget)
    assert time.thread_time() - started < formatting.PAGE_SECONDS + MESSAGE_GUARD
    for body in bodies[1::2]:  # 15 messages' code alone would spend the page's 0.25 s
        assert body.note == "" and body.cacheable and "<strong>bold</strong>" in body.html
    for body in bodies[::2]:
        assert body.note == formatting.CODE_PLAIN
        assert body.html.endswith("int x;\n</code></pre></figure>\n")
    assert not bodies[-2].cacheable  # the page's budget stopped it, not its own
