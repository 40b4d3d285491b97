"""Scan Pygments lexers for input that makes them slow: ``python -m benchmarks.lexer_scan``.

For each language highlighted (``viewer.renderer.highlight.LANGUAGES``; ``--all`` takes every
Pygments lexer instead) it lexes adversarial code: long runs of one character (every ASCII
punctuation mark, letters, digits, spaces, tabs, newlines, CJK), of character pairs (escapes,
comment and string openers, brackets), and of nesting, each behind a few openers (``x = ``, ``<a ``,
a quote). It times each at two sizes, in thread CPU time: a lexer that takes 4x longer for 4x the
input is linear there; 16x is quadratic. Then it highlights the worst input found at the size cap
(``HIGHLIGHT_CHARACTERS``) the way a page does, under the per-message CPU budget, and records the
longest time one token took: how far the budget can be overrun. The table goes to docs/lexer-scan.md
(``--output``).
"""

from __future__ import annotations

import argparse
import json
import string
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from pygments.lexers import get_all_lexers, get_lexer_by_name

from viewer.renderer.formatting import HIGHLIGHT_CHARACTERS, MESSAGE_SECONDS
from viewer.renderer.highlight import highlight, LANGUAGES, lexer_for, normalize_newlines, prepare

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "docs" / "lexer-scan.md"
SLOWEST_CODE = ROOT / "benchmarks" / "slowest_code.json"  # read by benchmarks/corpus.py
SMALL, LARGE = 1_000, 4_000  # characters: 4x the input
SUPERLINEAR = 8.0  # growth over 4x input above which a lexer is not linear there
MIN_MEASURABLE = 0.002  # seconds at LARGE below which a growth ratio is noise
UNITS = [*string.punctuation, " ", "\t", "\n", "\r\n", "a", "Z", "_", "0", "é", "中",
         "a ", " a", "a\n", "\\\n", "\\a", '"\\', "'\\", "/*", "*/", "<!--", "-->", "{{", "}}",
         "((", "[[", "${", "#{", "<<", ">>", '" ', "' ", "1.", "0x", "# ", "// ", "-- ", "@a",
         "$a", "%a", "&a", "a(", "a.", "a=", "=a", "a:", "- ", "* ", "``", "<a>", "</a>"]
PREFIXES = ["", "x = ", "<a ", '"', "def f(", "{"]


@dataclass(frozen=True)
class Finding:
    """The worst input found for one lexer, and what highlighting it at the cap costs."""

    language: str
    worst: str          # the input's shape: prefix + unit x count
    small: float        # seconds at SMALL characters
    large: float        # seconds at LARGE characters
    capped: float       # seconds to highlight the worst input at the cap, under the budget
    complete: bool      # whether that finished within the budget
    longest_step: float  # the longest time one token took, in seconds
    prefix: str
    unit: str

    @property
    def growth(self) -> float:
        return self.large / max(self.small, 1e-9)

    @property
    def linear(self) -> bool:
        return self.large < MIN_MEASURABLE or self.growth < SUPERLINEAR


def adversarial(prefix: str, unit: str, size: int) -> str:
    """``size`` characters of ``unit`` behind ``prefix``, line ends as highlight() makes them."""
    return normalize_newlines(prefix + unit * max(1, (size - len(prefix)) // len(unit)) + "x\n")


def lex_seconds(lexer, text: str) -> float:
    started = time.thread_time()
    for _ in lexer.get_tokens_unprocessed(text):
        pass
    return time.thread_time() - started


def longest_step(lexer, text: str, budget: float) -> float:
    """The longest CPU time one token takes, within ``budget``: highlight() reads the clock
    after every token, so this is how far it can overrun its deadline."""
    started = last = time.thread_time()
    longest = 0.0
    for _ in lexer.get_tokens_unprocessed(text):
        now = time.thread_time()
        longest, last = max(longest, now - last), now
        if now - started > budget:
            break
    return longest


def scan(language: str, lexer=None) -> Finding:
    """Find the slowest adversarial input for ``language`` and cost it at the cap."""
    lexer = lexer or lexer_for(language)
    worst = (-1.0, 0.0, "", "")
    for prefix in PREFIXES:
        for unit in UNITS:
            small = lex_seconds(lexer, adversarial(prefix, unit, SMALL))
            large = lex_seconds(lexer, adversarial(prefix, unit, LARGE))
            if large > worst[0]:
                worst = (large, small, prefix, unit)
    large, small, prefix, unit = worst
    text = adversarial(prefix, unit, HIGHLIGHT_CHARACTERS)
    started = time.thread_time()
    result = highlight(text, lexer, started + MESSAGE_SECONDS, 10 * HIGHLIGHT_CHARACTERS)
    capped = time.thread_time() - started
    step = longest_step(lexer, text, MESSAGE_SECONDS)
    shape = f"{prefix!r} + {unit!r} × {(LARGE - len(prefix)) // len(unit)}"
    return Finding(language, shape, small, large, capped, result.complete, step, prefix, unit)


def report(findings: list[Finding]) -> str:
    lines = [
        "# Lexer scan",
        "",
        "Written by `python -m benchmarks.lexer_scan` (see its docstring). For each language "
        "the viewer highlights: the slowest adversarial input found, its lexing time in thread "
        f"CPU at {SMALL:,} and {LARGE:,} characters and the growth (4x for linear, 16x for "
        f"quadratic), then what highlighting that input at the cap ({HIGHLIGHT_CHARACTERS:,} "
        f"characters) costs under the per-message budget ({MESSAGE_SECONDS * 1000:.0f} ms of "
        "CPU), and the longest time one token took (how far the budget can be overrun: the "
        "clock is read after every token).",
        "",
        "| language | slowest input | at 1k | at 4k | growth | linear there | at the cap, "
        "budgeted | finished | longest token |",
        "|---|---|--:|--:|--:|---|--:|---|--:|",
    ]
    for f in findings:
        lines.append(f"| {f.language} | `{f.worst}` | {f.small * 1000:.2f} ms | "
                     f"{f.large * 1000:.2f} ms | {f.growth:.1f}x | {'yes' if f.linear else 'no'} | "
                     f"{f.capped * 1000:.1f} ms | {'yes' if f.complete else 'cut, rest plain'} | "
                     f"{f.longest_step * 1000:.2f} ms |")
    superlinear = [f.language for f in findings if not f.linear]
    lines += ["", f"Not linear on some input: {', '.join(superlinear) or 'none'}. Those stay "
              "bounded by the budget: their highlighting stops at it and the rest of the block "
              "is shown as plain text.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.lexer_scan",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--all", action="store_true",
                        help="scan every Pygments lexer, not only the highlighted languages")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("languages", nargs="*", help="only these (Pygments aliases)")
    args = parser.parse_args(argv)
    prepare()
    if args.all:
        names = [aliases[0] for _, aliases, _, _ in get_all_lexers(plugins=False) if aliases]
    else:
        names = args.languages or list(LANGUAGES)
    findings = []
    for name in names:
        finding = scan(name, get_lexer_by_name(name, stripnl=False))
        findings.append(finding)
        print(f"{name:12} {finding.growth:5.1f}x {finding.large * 1000:8.2f} ms at {LARGE} "
              f"{finding.capped * 1000:7.1f} ms at the cap ({'done' if finding.complete else 'cut'}"
              f"), longest step {finding.longest_step * 1000:.2f} ms  {finding.worst}", flush=True)
    text = report(findings)
    if not args.languages and not args.all:
        args.output.write_text(text, encoding="utf-8")
        slowest = {f.language: [f.prefix, f.unit] for f in findings}
        SLOWEST_CODE.write_text(json.dumps(slowest, indent=1, ensure_ascii=False, sort_keys=True)
                                + "\n", encoding="utf-8")
        print(f"Written to {args.output} and {SLOWEST_CODE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
