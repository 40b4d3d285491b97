"""viewer/renderer/lexing.py gives exactly Pygments' own tokens, for every language highlighted."""

from __future__ import annotations

import html
import re
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pygments.lexer import bygroups, default, RegexLexer, using
from pygments.lexers import PythonLexer
from pygments.token import (
    Comment,
    Error,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Text,
    Whitespace,
)

from benchmarks.corpus import SLOWEST_CODE
from benchmarks.lexer_scan import adversarial
from viewer.renderer import lexing
from viewer.renderer.highlight import highlight, LANGUAGES, lexer_for, prepare

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = [ROOT / name for name in ("viewer/renderer/markdown.py", "static/chat.js",
                                    "static/chat.css",
                                    "templates/base.html", "README.md", "Makefile",
                                    "pyproject.toml", "package-lock.json", ".ci/run")]
PIECES = ["def ", "if x:", "return", " ", "\n", "\t", '"a"', "'b'", "/*", "*/", "//", "#", "--",
          "<a>", "</a>", "{{", "}}", "${x}", "0x1f", "1e5", "\\", "\\n", "(", ")", "[", "]", "{",
          "}", ";", ":", ".", ",", "=", "+", "<<", "@", "$", "%", "&", "é", "ſ", "\u212a", "中",
          "SELECT ", "ſelect", "class ", "fn ", "let ", "`", "~", "|", "^"]
code_like = st.lists(st.sampled_from(PIECES), max_size=60).map("".join)


@contextmanager
def pygments_own_loop():
    """Pygments as shipped, for comparison (the suite runs tests one at a time)."""
    RegexLexer.get_tokens_unprocessed = lexing.ORIGINAL
    try:
        yield
    finally:
        lexing.install()


def both(language: str, text: str) -> tuple[list, list]:
    prepare()
    lexer = lexer_for(language)
    ours = list(lexer.get_tokens_unprocessed(text))
    with pygments_own_loop():
        theirs = list(lexer.get_tokens_unprocessed(text))
    return ours, theirs


@pytest.mark.parametrize("language", LANGUAGES)
def test_tokens_are_pygments_own_on_real_files_and_adversarial_runs(language):
    texts = [path.read_text(encoding="utf-8") for path in SAMPLES]
    texts += [adversarial(prefix, unit, 300) for prefix in ("", "<a ", 'x = "')
              for unit in ("\n", " ", "a.", '"\\', "_", "&", "中", "ſ", "/*", "{{")]
    for text in texts:
        ours, theirs = both(language, text)
        assert ours == theirs, (language, text[:80])


@settings(max_examples=150, deadline=None)
@given(language=st.sampled_from(LANGUAGES), text=code_like)
def test_tokens_are_pygments_own_on_any_code_like_text(language, text):
    ours, theirs = both(language, text)
    assert ours == theirs


def test_the_loop_is_installed_and_skips_rules_that_cannot_match():
    prepare()
    assert RegexLexer.get_tokens_unprocessed is lexing.get_tokens_unprocessed
    root = lexing.states(lexer_for("python"))["root"]
    assert len(root["#"]) < len(root.rules) / 4  # a comment does not try 50 patterns
    assert root[lexing.NON_ASCII]  # names may start with any letter
    # "def", "del" and the like: keywords, soft keywords, "def " itself in one call to the
    # regular-expression engine; names (a long Unicode class) in another.
    segments = root.segments["d"]
    assert [joined for _, _, joined in segments] == [True, False]
    assert len(root["d"]) == 5


class Awkward(RegexLexer):
    """Rules that cannot share a pattern, or only with care: back references, named groups,
    inline and scoped flags, bygroups with a nested callback, a verbose pattern, an empty
    default rule, and a pattern longer than MAX_JOINED."""

    flags = re.MULTILINE
    tokens = {
        "root": [
            (r"(['\"])(.*?)\1", bygroups(String.Delimiter, String)),
            (r"(?P<tag><)(?P<name>\w+)>", bygroups(Punctuation, Name.Tag)),
            (r"(?i)select\b", Keyword),
            (r"(?s)/\*.*?\*/", Comment),
            (r"(%)?(?(1)a|b)c", Error),
            (r"(#)(\w+)(:)(.*)", bygroups(Punctuation, Name.Label, Punctuation,
                                          using(PythonLexer))),
            (r"(?x) \d+ \.\d*  # a decimal", Number.Float),
            (r"(\d+)(\s*)", bygroups(Number, None)),
            (r"(" + "|".join(f"w{index}" for index in range(300)) + r")\b", Name.Builtin),
            (r"^\w+(?=:)", Name.Label),
            (r"\w+$", Name.Variable),
            (r"\w+", Name, "after"),
            (r"\s+", Whitespace),
            (r"[^\w\s]", Operator),
        ],
        "after": [
            (r"[ \t]*\(", Punctuation, "#pop"),
            (r"(?-m:$)", Text, "#pop"),
            default("#pop"),
        ],
    }


AWKWARD = ["say 'it''s' \"a\" <b>x</b> SeLeCt select_ w12 w299x w300 1.5 12 3 x",
           "/* a\nb */ #tag: print('</pre>') fn(x) y\nlabel: 7\n", "", "\n\n", "é中 ſelect",
           "'unclosed\n\"also\nc bc %ac %bc", "w1 " * 50 + "end\n"]


@pytest.mark.parametrize("text", AWKWARD)
def test_rules_that_cannot_be_joined_give_pygments_own_tokens(text):
    lexer = Awkward()
    lexing.join_all(lexer)
    ours = list(lexer.get_tokens_unprocessed(text))
    with pygments_own_loop():
        theirs = list(lexer.get_tokens_unprocessed(text))
    assert ours == theirs
    root = lexing.states(lexer)["root"]
    lone = [rule[0].__self__.pattern[:9] for rule in root.rules
            if not lexing._joinable(rule, root.segments.flags)]
    assert lone == [r"(['\"])(.", "(?P<tag><", "(%)?(?(1)", r"(?x) \d+ ", "(w0|w1|w2"]
    assert any(joined for *_, joined in root.segments["s"])  # "select", names...


@pytest.mark.parametrize("language", sorted(SLOWEST_CODE))
def test_every_highlighted_language_stops_at_its_budget(language):
    """A generous guard: the slowest input the scan found (docs/lexer-scan.md) at the cap."""
    import time

    from viewer.renderer.formatting import HIGHLIGHT_CHARACTERS, MESSAGE_SECONDS

    prefix, unit = SLOWEST_CODE[language]
    code = adversarial(prefix, unit, HIGHLIGHT_CHARACTERS)
    prepare()
    # CPU time, as the budget is: on a loaded machine, wall time says little about the lexer.
    started = time.thread_time()
    result = highlight(code, lexer_for(language), started + MESSAGE_SECONDS,
                       10 * HIGHLIGHT_CHARACTERS)
    assert time.thread_time() - started < 10 * MESSAGE_SECONDS
    shown = html.unescape(re.sub(r"<[^>]+>", "", result.html))
    assert shown == code  # nothing lost, highlighted or not


def test_a_lexer_no_one_prepared_compiles_nothing_on_a_page():
    """Markdown's code blocks call lexers by name, beyond the allowlist: their rules are
    tried one by one, as Pygments would, rather than joined (compiled) on somebody's page."""

    class Nested(Awkward):
        pass

    lexer = Nested()
    ours = list(lexer.get_tokens_unprocessed(AWKWARD[1]))
    with pygments_own_loop():
        assert ours == list(lexer.get_tokens_unprocessed(AWKWARD[1]))
    segments = lexing.states(lexer)["root"].segments
    assert segments and not any(joined for found in segments.values() for *_, joined in found)


def test_a_fence_inside_markdown_code_is_not_highlighted_past_the_allowed_languages():
    """Pygments' Markdown lexer highlights a fence inside it with any lexer it names, autoit's
    quadratic one included: inside ```markdown the fence is plain text."""
    inner = "# notes\n\n```autoit\n" + " " * 3000 + "x\n```\n\n```python\ndef f(): pass\n```\n"
    started = time.thread_time()
    result = highlight(inner, lexer_for("markdown"), started + 1.0, 1_000_000)
    assert time.thread_time() - started < 0.5  # autoit's lexer: seconds
    assert "def f(): pass" in result.html.replace('<span class="w"> </span>', " ")
    assert '<span class="k">def</span>' not in result.html  # not lexed as Python
