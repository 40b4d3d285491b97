"""The Markdown download runs nothing in any common renderer (tests/markdown_renderers.py).

Found by trying to break it: an assistant answer ``Summary. <svg/onload=...//>`` was kept as
Markdown, since CommonMark reads it as text (markdown-it and cmark-gfm escape it), but
Python-Markdown and showdown pass it through as HTML, and a browser runs the handler.
"""

from __future__ import annotations

import pytest

from memos_api import message_from_api
from tests.markdown_renderers import active, renderers, shown_text
from tests.test_export import download, HOSTILE
from viewer.export import clean, markdown_body, one_line

ISSUE = [  # the issue's own, as an assistant, a user and a tool would send them
    "Summary. <svg/onload=document.body.id=document.domain+1//>",
    "\\<script>document.body.id=1\\</script>",
    "Look: <img/src=x/onerror=document.body.id=2//>",
    "<iframe/src=javascript:document.body.id=3>",
    "<details/open/ontoggle=document.body.id=4>",
    "Fine text.\n\n```html\n<script>document.body.id=5</script>\n```\n\nMore.",
    "```\nfence\n\n<script>document.body.id=6</script>\n```",
    "[ok](https://example.com)\n\n```\n[x]: javascript:document.body.id=7\n```\n\n[run][x]",
    "A paragraph{: onclick=\"document.body.id=8\" }\n\n## T {: onmouseover=alert(9) }",
    "[x](&#106;avascript:alert(10))",
    "[x](java\tscript:alert(11))",
    "[x]( javascript:alert(12))",
    "[x] [y]\n\n[y]:javascript:alert(13)",
    "<a href=\"javascript:alert(14)\">a</a>",
    "x\u2028<script>alert(15)</script>",
    "x\u2029<img src=x onerror=alert(16)>",
    "\u202e# not a heading",
]
ROLES = ("assistant", "user", "tool", "system")


@pytest.fixture(scope="module")
def transcript(tmp_path_factory):
    from app import create_app

    app = create_app({"TESTING": True, "MEMOS_API_KEY": "", "MEMOS_BASE_URL": "",
                      "RATE_LIMIT": "0", "MEMOS_MAX_LIMIT": 1000,
                      "MEMOS_LOCAL_DB": str(tmp_path_factory.mktemp("md") / "s.sqlite3")})
    messages = [{"role": role, "content": content, "chat_time": "2026-03-01 10:00:00"}
                for role in ROLES for content in ISSUE + HOSTILE]
    store = app.extensions["memos_source"]
    store.add_messages("u<svg/onload=alert(1)//>", "c<img/src=x/onerror=alert(2)//>", messages)
    query = ("/chat/export?user_id=u%3Csvg/onload=alert(1)//%3E"
             "&conversation_id=c%3Cimg/src=x/onerror=alert(2)//%3E")
    return download(app.test_client(), query, "md").text


@pytest.mark.parametrize("name", ["pulldown-cmark", "Python-Markdown", "Python-Markdown extra",
                                  "showdown", "marked"])
def test_no_renderer_makes_anything_that_could_run(transcript, name):
    [rendered] = renderers()[name]([transcript])
    assert active(rendered) == [], name
    assert rendered.count("<h3") == len(ROLES) * len(ISSUE + HOSTILE)  # the outline holds
    text = shown_text(rendered)
    assert "Summary. <svg/onload=document.body.id=document.domain+1//>" in text
    assert "u<svg/onload=alert(1)//>" in text  # ids too, shown as they are


@pytest.mark.parametrize("name", ["pulldown-cmark", "Python-Markdown", "Python-Markdown extra",
                                  "showdown", "marked"])
def test_each_message_alone_makes_nothing_that_could_run(name):
    """Each hostile message in a transcript of its own: nothing after it closes what it
    opens."""
    cases = [(role, content) for role in ROLES for content in ISSUE + HOSTILE]
    bodies = [markdown_body(message_from_api({"role": role, "content": content}))
              for role, content in cases]
    rendered = renderers()[name]([f"### Assistant\n\n{body}\n" for body in bodies])
    for case, html in zip(cases, rendered, strict=True):
        assert active(html) == [], (name, *case)


@pytest.mark.parametrize("text", ["a\u202eb", "x\u2066y\u2069", "\u200f\u061c\u200e",
                                  "line\u2028# heading\u2029para"])
def test_marks_that_reorder_or_break_lines_are_shown_escaped(text):
    for body in (clean(text), one_line(text), markdown_body(message_from_api(
            {"role": "assistant", "content": text}))):
        assert not set(body) & set("\u202e\u2066\u2069\u200f\u061c\u200e\u2028\u2029")
    assert clean("a\u202eb") == "a\\u202eb"
