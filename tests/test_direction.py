"""Right-to-left and mixed scripts: which elements get ``dir``, and that only the renderer sets it.

Each block of a message's text has ``dir="auto"`` (the browser gives it the direction of its first
strong letter), code is ``dir="ltr"``, and a quote, list item or table takes the direction of its
first block, which has no ``dir`` of its own (see viewer/renderer/markdown.py). Message content can
never add, change or remove a ``dir``: raw HTML is text, and bidi control characters stay characters
inside their own isolated paragraph. How it looks is checked in a real browser by
tests/browser/test_browser_direction.py.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_rendering import parse, render_markdown

from memos_api import ContentPart, Message
from viewer.renderer.formatting import message_body, PageBudget
from viewer.renderer.markdown import sanitize_html

TEXT_BLOCKS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "table", "th", "td"}
CODE = {"figure", "code"}
# Bidi controls: embeddings and overrides (LRE RLE PDF LRO RLO), isolates (LRI RLI FSI PDI) and
# marks (LRM RLM ALM).
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"


def directions(html: str) -> list[tuple[str, str | None]]:
    """Every start tag as (tag, its dir or None), in order."""
    return [(tag, attrs.get("dir")) for tag, attrs in parse(html).elements]


def assert_dirs_are_the_renderers(html: str) -> None:
    """``dir="auto"`` only on blocks of text, ``dir="ltr"`` on all code, nothing else."""
    for tag, attrs in parse(html).elements:
        if tag in CODE:
            assert attrs.get("dir") == "ltr", html
        elif tag in TEXT_BLOCKS:
            assert attrs.get("dir") in ("auto", None), html
        else:
            assert "dir" not in attrs, html


def plain(role: str, text: str) -> str:
    return str(message_body(Message(role, (ContentPart("text", text),)), PageBudget()).html)


# --- what gets a dir -----------------------------------------------------------------------

def test_every_block_of_text_has_dir_auto():
    html = render_markdown("# عنوان\n\n## Title\n\nمرحبا\n\nhello\n\n- واحد\n- two\n\n1. one")
    assert directions(html) == [("h1", "auto"), ("h2", "auto"), ("p", "auto"), ("p", "auto"),
                                ("ul", None), ("li", "auto"), ("li", "auto"),
                                ("ol", None), ("li", "auto")]


def test_code_is_left_to_right_in_blocks_and_inline():
    html = render_markdown("نص `x = 1` نص\n\n```python\nx = 1\n```\n\n```\nplain\n```")
    assert directions(html) == [
        ("p", "auto"), ("code", "ltr"),
        ("figure", "ltr"), ("figcaption", None), ("pre", None), ("code", "ltr"),
        ("span", None), ("span", None), ("span", None),  # x = 1, highlighted
        ("figure", "ltr"), ("pre", None), ("code", "ltr")]


def test_a_quote_takes_the_direction_of_its_first_block():
    html = render_markdown("> اقتباس\n>\n> second\n>\n> > nested\n\nafter")
    assert directions(html) == [("blockquote", "auto"), ("p", None), ("p", "auto"),
                                ("blockquote", "auto"), ("p", None), ("p", "auto")]


def test_nested_first_blocks_leave_the_direction_to_the_first_text():
    # A quote opening with a quote, or with a list: its first text decides for all of them.
    assert directions(render_markdown("> > שלום")) == [
        ("blockquote", "auto"), ("blockquote", None), ("p", None)]
    assert directions(render_markdown("> - שלום\n> - two")) == [
        ("blockquote", "auto"), ("ul", None), ("li", None), ("li", "auto")]


def test_a_loose_list_item_takes_the_direction_of_its_first_paragraph():
    html = render_markdown("- واحد\n\n  second paragraph\n- two\n  - nested")
    assert directions(html) == [("ul", None), ("li", "auto"), ("p", None), ("p", "auto"),
                                ("li", "auto"), ("p", None), ("ul", None), ("li", "auto")]


def test_a_table_takes_the_direction_of_its_first_cell():
    html = render_markdown("| الاسم | b |\n|---|--:|\n| 1 | 2 |")
    assert directions(html) == [("table", "auto"), ("thead", None), ("tr", None), ("th", None),
                                ("th", "auto"), ("tbody", None), ("tr", None), ("td", "auto"),
                                ("td", "auto")]


def test_a_container_closed_before_any_text_does_not_take_the_next_blocks_dir():
    # An empty item, a quote of code only: the block after them still has its own dir.
    assert directions(render_markdown("- \n- two")) == [("ul", None), ("li", "auto"),
                                                         ("li", "auto")]
    html = render_markdown("> ```\n> code\n> ```\n\nafter")
    assert [(tag, d) for tag, d in directions(html) if tag in ("blockquote", "p")] == [
        ("blockquote", "auto"), ("p", "auto")]


def test_users_words_and_long_previews_have_dir_auto(client, store):
    assert plain("user", "שלום\nhello") == (
        '<p class="message__plain" dir="auto">שלום\nhello</p>')
    store.add_messages("u", "c", [{"role": "user", "content": "مرحبا " * 800,
                                   "chat_time": "2026-03-01 09:00:00"}])
    page = client.get("/chat?" + urlencode({"user_id": "u", "conversation_id": "c"}))
    # The collapsed message's preview: its text as typed, in its own direction.
    assert ('<div class="message__preview"><p class="message__plain" dir="auto">مرحبا'
            in page.get_data(as_text=True))


# --- content cannot set a direction --------------------------------------------------------

@pytest.mark.parametrize("text", [
    "<p dir=rtl>typed</p>",
    '<div dir="rtl">\ntyped\n</div>',
    "a <bdo dir=rtl>typed</bdo> b",
    "a <span dir='rtl'>typed</span> b",
    '<p dir="auto" dir="rtl">typed</p>',
    "<bdi>typed</bdi>",
])
@pytest.mark.parametrize("role", ["assistant", "user"])
def test_raw_html_with_dir_is_text(text, role):
    html = plain(role, text)
    assert parse(html).text.strip() == text
    assert directions(html.replace("<br>", "")) == [("p", "auto")]  # lines kept as typed


@pytest.mark.parametrize("text", [
    '[link](https://example.com/ "title\\" dir=\\"rtl")',  # an escaped quote in a title
    "# Heading {dir=rtl}",  # attribute syntax: not enabled
    "# Heading {#id .rtl dir=rtl}",
    "```python dir=rtl\nx = 1\n```",
    '``` "dir="rtl\nx\n```',
    "![alt\" dir=\"rtl](https://example.com/a.png)",
])
def test_markdown_cannot_set_a_dir(text):
    html = render_markdown(text)
    assert_dirs_are_the_renderers(html)
    assert 'dir="rtl"' not in html


def test_bidi_controls_stay_characters_inside_their_own_paragraph():
    text = f"\u202eevil{BIDI_CONTROLS} override\n\nnext paragraph"
    html = render_markdown(text)
    assert directions(html) == [("p", "auto"), ("p", "auto")]
    first, second = (parse(f"<p{part}").text for part in html.split("<p")[1:])
    assert first == f"\u202eevil{BIDI_CONTROLS} override\n"  # as typed, and within its <p>
    assert second == "next paragraph\n"
    for role in ("user", "tool"):
        assert directions(plain(role, text)) == [("p", "auto")]
        assert parse(plain(role, text)).text == text


def test_the_sanitizer_keeps_dir_only_where_the_renderer_puts_it():
    # The last line of defence, were raw HTML ever to reach it.
    assert sanitize_html('<a href="https://x.example/" dir="rtl">a</a>') == (
        '<a href="https://x.example/" target="_blank" rel="noopener noreferrer nofollow">a</a>')
    assert sanitize_html('<em dir="rtl">a</em><ul dir="rtl"><li>b</li></ul>') == (
        "<em>a</em><ul><li>b</li></ul>")
    assert sanitize_html('<code dir="rtl">x</code>') == '<code dir="ltr">x</code>'
    assert sanitize_html('<figure class="code-block" dir="rtl"></figure>') == (
        '<figure class="code-block" dir="ltr"></figure>')
    assert sanitize_html("<code>x</code>") == '<code dir="ltr">x</code>'


BIDI_FRAGMENTS = [
    "<p dir=rtl>", "<div dir=rtl>", " dir=rtl", ' dir="rtl"', "{dir=rtl}", "\u202e", "\u2067",
    "\u200f", "\u061c", "مرحبا", "שלום", "中文", "> ", "- ", "1. ", "# ", "|", "|-|", "`",
    "```", "\n", "\n\n", "  ", "[", "](https://x.example/", ")", '"', "*",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(BIDI_FRAGMENTS), st.text(max_size=3))).map("".join))
def test_any_text_gets_only_the_renderers_dirs(text):
    assert_dirs_are_the_renderers(render_markdown(text))
