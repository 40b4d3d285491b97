"""Hostile messages: content crafted to make formatting slow or its HTML huge.

Shared by the tests (tests/test_hostile_content.py: each stays within the size bound and a
generous time guard) and ``make bench`` (the worst case's time and size). Each entry is a name
and a ``content`` as MemOS would return it: a string, or a list of parts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

N = 20_000  # characters: the most a message may have and still be formatted as Markdown

CODE = 9_900  # characters: just under the most code highlighted per message
# Pygments lexers found quadratic (autoit: 34 s for one 20 KB message), and the highlighted
# languages' slowest inputs found by benchmarks/lexer_scan.py (docs/lexer-scan.md).
_SLOW_CODE = {
    "autoit": " " * (N - 30) + "x", "make": "<a " + "_" * (N - 40), "basemake": "_" * (N - 40),
    "systemd": "[" * (N - 40), "sas": "\n" * (N - 40), "idris": "{-" * (N // 2 - 20),
    "cfengine3": "\n" * (N - 40), "c": "{" + "\n" * CODE, "java": "{" + "\n" * CODE,
    "cpp": "x = " + "\n" * CODE, "typescript": "a." * (CODE // 2),
    "javascript": "x = " + "'\\" * (CODE // 2), "css": "{" + "_" * CODE, "jsx": "<a " + "-" * CODE,
    "xml": "<a " + "_" * CODE, "yaml": "&" * CODE, "go": '"' + '"\\' * (CODE // 2),
    "html": "x = " + "&" * CODE, "python": "def f(" + " a" * (CODE // 2),
}

# For each highlighted language, the slowest input benchmarks/lexer_scan.py found: a prefix
# and a unit repeated (written there; docs/lexer-scan.md shows what they cost).
SLOWEST_CODE: dict[str, tuple[str, str]] = {
    language: (prefix, unit) for language, (prefix, unit) in json.loads(
        (Path(__file__).with_name("slowest_code.json")).read_text(encoding="utf-8")).items()}

HOSTILE: list[tuple[str, Any]] = [
    *((f"```{language} + slow code", f"```{language}\n{code}\n```")
      for language, code in _SLOW_CODE.items()),
    ("40 text parts of `![`", [{"type": "text", "text": "![" * (N // 2)}] * 40),
    ("reference link reused 3,300 times",
     "[a]: https://x.example/" + "A" * 9980 + "\n\n" + "[a]" * 3300),
    ("reference image reused 2,500 times",
     "[a]: https://x.example/" + "A" * 9980 + "\n\n" + "![a]" * 2490),
    ("unsafe links, shown as typed", "[x](javascript:alert(1)) " * (N // 25)),
    ("local images, shown as typed", "![a](x.png) " * (N // 12)),
    ("one long URL", "[x](https://x.example/" + "a" * (N - 40) + ")"),
    ("mailto autolinks", "<a@b.co>" * (N // 8)),
    ("http autolinks", "<http://a.b>" * (N // 12)),
    ("`![` runs", "![" * (N // 2)),
    ("`[` runs", "[" * N),
    ("`[a](` runs", "[a](" * (N // 4)),
    ("`[](` runs", "[](" * (N // 3)),
    ("link brackets nested", "[" * (N // 2) + "]" * (N // 2)),
    ("nested emphasis", "*a **a " * (N // 7)),
    ("emphasis pairs", "*a*" * (N // 3)),
    ("underscores", "_a_ " * (N // 4)),
    ("strikethrough", "~~a~~" * (N // 5)),
    ("backtick runs", "`" * N),
    ("code spans", "`a``" * (N // 4)),
    ("entities", "&amp;" * (N // 5)),
    ("numeric entities", "&#" * (N // 2)),
    ("backslashes", "\\" * N),
    ("raw HTML blocks", "<div>\n" * (N // 6)),
    ("raw inline HTML", "<a " * (N // 3)),
    ("quotes nested 20,000 deep", ">" * N),
    ("quotes nested, spaced", "> " * (N // 2)),
    ("lists nested in quotes", "> - " * (N // 4)),
    ("lists nested", "- " * (N // 2)),
    ("ordered lists nested", "1. " * (N // 3)),
    ("list lines nested", "".join(" " * i + "- a\n" for i in range(195))),
    ("many list items", "- a\n" * (N // 4)),
    ("long table", "| a | b |\n|---|---|\n" + "| x | y |\n" * (N // 10 - 3)),
    ("wide table, short rows (padding)",
     "|" + "a|" * 2000 + "\n|" + "-|" * 2000 + "\n" + "|x|\n" * ((N - 8100) // 4)),
    ("one-column table rows", "|a|\n|-|\n" + "|\n" * (N // 2 - 8)),
    ("many code blocks", "```\nx\n```\n" * (N // 10)),
    ("many highlighted blocks", "```python\nx = 1\n```\n" * (N // 20)),
    ("fence info flood", "```" + "a" * (N - 10) + "\nx\n```"),
    ("hard breaks", "a  \n" * (N // 4)),
    ("headings", "# a\n" * (N // 4)),
    ("setext headings", "a\n=\n" * (N // 4)),
    ("rules", "---\n" * (N // 4)),
    ("blank lines", "\n" * N),
    ("mixed", "*[`<a>`](x)*" * (N // 12)),
    ("CJK without spaces", "汉字" * (N // 2)),
    ("lone surrogates and NUL", "a\ud800b\x00c" * (N // 5)),
]


def hostile_message(content: Any) -> dict[str, Any]:
    """A MemOS ``message_detail_list`` item holding ``content``."""
    return {"role": "assistant", "content": content, "chat_time": "2026-03-01 09:00:00"}
