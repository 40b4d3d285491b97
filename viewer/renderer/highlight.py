"""Code highlighting with Pygments, bounded: an allowlist of lexers, a size cap and a CPU budget.

Many Pygments lexers take time quadratic in crafted input (autoit on a run of spaces: 34 s for
20 KB; C and Java on a run of newlines after ``<a``), and one message's code can be anything.
So only the common languages in ``LANGUAGES`` are highlighted, each checked by
``benchmarks/lexer_scan.py`` against adversarial input; lexing stops at a deadline (thread CPU
time, checked every few tokens) and the rest of the block is shown as plain text.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer, RegexLexer
from pygments.lexers import get_all_lexers, get_lexer_by_name
from pygments.token import _TokenType, STANDARD_TYPES, Token

from . import lexing

# Languages people paste into chats, by Pygments' main alias; every alias of each is accepted
# (``py``, ``js``, ``sh``, ``c++`` ...). Each one is scanned by benchmarks/lexer_scan.py.
LANGUAGES = (
    "bash", "c", "cpp", "csharp", "css", "dart", "diff", "docker", "go", "graphql", "haskell",
    "html", "java", "javascript", "json", "jsx", "kotlin", "lua", "markdown", "perl",
    "php", "powershell", "python", "ruby", "rust", "scss", "splus", "sql",
    "swift", "text", "toml", "tsx", "typescript", "xml", "yaml",
)
# The palettes whose every token colour keeps WCAG AA contrast (4.5:1) on our code backgrounds.
LIGHT_STYLE, DARK_STYLE = "xcode", "lightbulb"


def escape_code(text: str) -> str:
    """``text`` escaped for an HTML text node (never an attribute value)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _aliases() -> dict[str, str]:
    """Every alias of the allowed lexers, mapped to the lexer's main alias."""
    found = {}
    for _, aliases, _, _ in get_all_lexers(plugins=False):
        if aliases and aliases[0] in LANGUAGES:
            found.update((alias, aliases[0]) for alias in aliases)
    return found


ALIASES = _aliases()


def lexer_for(language: str) -> Lexer | None:
    """The lexer for a fence's language (any case), or None when it is not allowed."""
    main = ALIASES.get(language.lower())
    return _lexer(main) if main else None


@cache  # one lexer per allowed language, shared: lexers keep no state between calls. (Keyed by
def _lexer(main: str) -> Lexer:  # what was typed, the cache grew with every fence's language.)
    # stripnl off: the block is shown with its blank lines, as typed. Markdown's lexer would
    # highlight a fence inside it with any of Pygments' 500 lexers, past LANGUAGES (some are
    # quadratic: autoit took 4.9 s on 6,000 spaces): the inner fence is shown as plain code.
    options = {"handlecodeblocks": False} if main == "markdown" else {}
    return get_lexer_by_name(main, stripnl=False, **options)


@cache  # once per process
def prepare() -> None:
    """Load every allowed lexer now, and lex with viewer/renderer/lexing.py's loop.

    Pygments compiles a lexer's patterns when it is first used, and viewer/renderer/lexing.py reads
    and joins them (Python: ~0.1 s; all languages ~1.3 s): that must not fall on a page, inside
    its formatting budget.
    """
    lexing.install()
    for language in LANGUAGES:
        lexer = lexer_for(language)
        if isinstance(lexer, RegexLexer):
            lexing.join_all(lexer)


def _css_class(token_type: _TokenType) -> str:
    """The class Pygments' HtmlFormatter gives a token type (its nearest standard ancestor);
    none for whitespace, which has no colour to show."""
    if token_type in Token.Text.Whitespace:
        return ""
    while token_type not in STANDARD_TYPES:
        token_type = token_type.parent or Token
    return STANDARD_TYPES[token_type]


class _Classes(dict):
    """Each token type's class, found as token types come up (a lookup per token: a miss
    costs a method call, a hit nothing more than a dict's)."""

    def __missing__(self, token_type: _TokenType) -> str:
        found = self[token_type] = _css_class(token_type)
        return found


_CLASSES = _Classes()


@dataclass(frozen=True)
class Highlighted:
    """A code block's HTML (the inside of ``<code>``) and whether all of it is highlighted."""

    html: str
    complete: bool


def highlight(code: str, lexer: Lexer, deadline: float, max_html: int) -> Highlighted:
    """``code`` as Pygments class spans, until thread CPU time reaches ``deadline`` or the
    HTML passes ``max_html`` characters; whatever is left is shown as escaped plain text."""
    code = normalize_newlines(code)
    html: list[str] = []
    size, stop = 0, len(code)  # stop: where highlighting stopped, if it did
    last_class, run = "", ""  # consecutive tokens of one class share a span, as Pygments does
    classes, add, clock = _CLASSES, html.append, time.perf_counter
    # Some lexers take time quadratic in crafted input, up to a millisecond per token, so the
    # clock is read every few tokens: the wall clock (~50 ns), and this thread's CPU time
    # (~500 ns) only once the wall clock says the budget may be spent.
    wall_deadline = time.perf_counter() + deadline - time.thread_time()
    count = 0
    for position, token_type, value in lexer.get_tokens_unprocessed(code):
        css_class = classes[token_type]
        if css_class != last_class:
            if run:
                span = _span(last_class, run)
                add(span)
                size += len(span)
                if size > max_html:
                    run, stop = "", position
                    break
            last_class, run = css_class, value
        else:
            run += value
        count += 1
        if count & 3 == 0 and clock() > wall_deadline:
            left = deadline - time.thread_time()
            if left <= 0:
                run = run[:-len(value)] if value else run  # this token and the rest: plain
                stop = position
                break
            wall_deadline = clock() + left
    if run:
        add(_span(last_class, run))
    if stop < len(code):
        add(escape_code(code[stop:]))
    return Highlighted("".join(html), complete=stop >= len(code))


def _span(css_class: str, text: str) -> str:
    if "&" in text or "<" in text or ">" in text:  # rarely: escaping costs three passes
        text = escape_code(text)
    return f'<span class="{css_class}">{text}</span>' if css_class else text


def normalize_newlines(code: str) -> str:
    """Code with its line ends as ``\\n``, as Pygments lexes it."""
    return code.replace("\r\n", "\n").replace("\r", "\n")


def _palette(style: str) -> dict[str, dict[str, str]]:
    """The token classes of ``style`` (in Pygments' order), each with the properties it sets:
    its colours, not its background: a code block is drawn on --code-bg (static/chat.css)
    whole, its language line too; the palettes were chosen to read on it. (The dark palette's
    own background, lighter, outranked it and drew the block in two tones; the light one's was
    outranked, and never drawn.)"""
    found = {}
    for rule in HtmlFormatter(style=style).get_token_style_defs(".h"):
        selector, _, declarations = rule.partition(" { ")
        declarations = declarations.partition(" }")[0]
        found[selector.removeprefix(".h ")] = dict(
            declaration.split(": ", 1) for declaration in declarations.split("; "))
    return found


# Code colours end static/chat.css, one stylesheet for the first load rather than two: a second
# file cost a response's headers too (~600 bytes of a 30 KB budget). Everything from this line
# on is written by ``python -m viewer.renderer.highlight``.
GENERATED_MARK = ("/* Code highlighting: generated by `python -m viewer.renderer.highlight`, "
                  "which rewrites the file from here; do not edit. */")
STYLESHEET = Path(__file__).resolve().parents[2] / "static" / "chat.css"
# What a token a palette leaves alone has: the code's own colour, no background.
UNSET = {"color": "currentcolor", "background-color": "transparent"}
COLOURS = tuple(UNSET)


def with_pygments_css(stylesheet: str) -> str:
    """``stylesheet`` with its generated section (from ``GENERATED_MARK`` on) made anew."""
    head, _, _ = stylesheet.partition(GENERATED_MARK)
    return head.rstrip("\n") + "\n\n" + pygments_css()


def pygments_css() -> str:
    """CSS for ``.highlight``: each token's colours as ``light-dark(light, dark)``, as every
    colour of static/chat.css, so that ``color-scheme`` picks the palette: the dark one for the
    dark theme (set or the system's) on screen, the light one on paper whatever the theme.
    Tokens sharing colours share a rule. A palette's bold and italic cannot follow
    ``color-scheme``: those (the dark palette's alone) are rules for the dark theme on screen.

    One rule per token and palette, the dark ones twice (a theme set, the system's), came to
    11 KB: a sixth of the first load's stylesheet after compression."""
    light, dark = _palette(LIGHT_STYLE), _palette(DARK_STYLE)
    if any(set(properties) - set(COLOURS) for properties in light.values()):
        raise ValueError(f"{LIGHT_STYLE} sets more than colours: light-dark() cannot say it")
    colours: dict[str, list[str]] = {}  # declarations -> token classes
    fonts: dict[str, list[str]] = {}
    for token_class in {**light, **dark}:
        shown = []
        for name in COLOURS:
            pair = [palette.get(token_class, {}).get(name) for palette in (light, dark)]
            if any(pair):
                first, second = (value or UNSET[name] for value in pair)
                shown.append(f"{name}: " + (first if first == second else
                                              f"light-dark({first}, {second})"))
        if shown:
            colours.setdefault("; ".join(shown), []).append(token_class)
        font = [f"{name}: {value}" for name, value in dark.get(token_class, {}).items()
                if name not in COLOURS]
        if font:
            fonts.setdefault("; ".join(font), []).append(token_class)

    def rules(prefix: str, grouped: dict[str, list[str]]) -> list[str]:
        return [", ".join(f"{prefix}.highlight {c}" for c in classes) + f" {{ {declarations} }}"
                for declarations, classes in grouped.items()]

    return "\n".join([
        GENERATED_MARK,
        *rules("", colours),
        "@media screen {", *("  " + rule for rule in rules(':root[data-theme="dark"] ', fonts)),
        "}",
        "@media screen and (prefers-color-scheme: dark) {",
        *("  " + rule for rule in rules(':root:not([data-theme="light"]) ', fonts)), "}",
    ]) + "\n"


if __name__ == "__main__":
    STYLESHEET.write_text(with_pygments_css(STYLESHEET.read_text(encoding="utf-8")),
                          encoding="utf-8")
