"""Pygments' RegexLexer loop, trying at each position only the rules that can match there.

Pygments lexes by trying a state's rules in order at each position until one matches: ~35 failed
regular-expression calls per token for Python, most of a code block's formatting time. Most
rules can only start with a few characters (a quote, a digit, ``#``), so for each state and
character we keep the rules that can start with it, in their order, found once per lexer class
from the patterns themselves (``re._parser``, CPython's own parser). Only rules that cannot
possibly match are skipped, so the tokens are the same as Pygments' own: the tests compare them
for every language we highlight, and lexing Python is ~4x faster.

``install()`` puts ``get_tokens_unprocessed`` in place of ``RegexLexer``'s, so lexers that call
it from their own (C, C++, PHP...) and nested lexers (``using``) take it too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from re import _constants as sre
from re import _parser as sre_parser

from pygments.lexer import RegexLexer
from pygments.token import _TokenType, Error, Whitespace

ORIGINAL = RegexLexer.get_tokens_unprocessed  # Pygments' own loop, for the tests
ANY = None  # a rule that may start with any character (or match the empty string)
NON_ASCII = "\x80"  # stands for every non-ASCII character in the tables
_REPEATS = (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT)
_CATEGORIES = {sre.CATEGORY_DIGIT: str.isdecimal, sre.CATEGORY_SPACE: str.isspace,
               sre.CATEGORY_WORD: lambda char: char.isalnum() or char == "_"}


def _first(sequence, ignore_case: bool) -> tuple[list | None, bool]:
    """What a parsed pattern's first character can be (a list of tests, or ANY), and
    whether the pattern can match the empty string. Anything unusual gives ANY."""
    tests: list = []
    for op, argument in sequence:
        found, empty = _first_of(op, argument, ignore_case)
        if found is ANY:
            return ANY, True
        tests.extend(found)
        if not empty:
            return tests, False
    return tests, True


def _first_of(op, argument, ignore_case: bool) -> tuple[list | None, bool]:
    if op is sre.LITERAL:
        return _literal(chr(argument), ignore_case), False
    if op is sre.IN:
        tests = []
        for item, value in argument:
            if item is sre.LITERAL:
                found = _literal(chr(value), ignore_case)
            elif item is sre.RANGE and not (ignore_case and value[1] > 127):
                found = [("range", value, ignore_case)]
            elif item is sre.CATEGORY and value in _CATEGORIES:
                found = [("category", _CATEGORIES[value])]
            else:  # negated sets, other categories: could be almost anything
                return ANY, True
            if found is ANY:
                return ANY, True
            tests.extend(found)
        return tests, False
    if op is sre.BRANCH:
        tests, empty = [], False
        for alternative in argument[1]:
            found, alternative_empty = _first(alternative, ignore_case)
            if found is ANY:
                return ANY, True
            tests.extend(found)
            empty = empty or alternative_empty
        return tests, empty
    if op is sre.SUBPATTERN:
        _, add_flags, del_flags, sequence = argument
        if (add_flags | del_flags) & ~(re.IGNORECASE | re.VERBOSE | re.MULTILINE | re.DOTALL):
            return ANY, True
        case = (ignore_case or bool(add_flags & re.IGNORECASE)) and not del_flags & re.IGNORECASE
        return _first(sequence, case)
    if op in _REPEATS:
        low, _, sequence = argument
        found, empty = _first(sequence, ignore_case)
        return found, found is ANY or empty or low == 0
    if op is sre.ATOMIC_GROUP:
        return _first(argument, ignore_case)
    if op in (sre.AT, sre.ASSERT, sre.ASSERT_NOT):  # zero-width: what follows decides
        return [], True
    return ANY, True  # "any character", negations, back references...


def _literal(char: str, ignore_case: bool) -> list | None:
    if not ignore_case:
        return [("chars", char)]
    # Case folding reaches beyond ASCII ("k" matches the Kelvin sign): non-ASCII characters
    # are always tried against such rules (see _may_be_non_ascii).
    return [("folded", char.lower() + char.upper())] if char.isascii() else ANY


def _passes(tests: list, char: str) -> bool:
    """Whether an ASCII ``char`` can be a pattern's first character."""
    for test in tests:
        kind = test[0]
        if kind in ("chars", "folded"):
            if char in test[1]:
                return True
        elif kind == "range":
            (low, high), ignore_case = test[1], test[2]
            variants = (char, char.lower(), char.upper()) if ignore_case else (char,)
            if any(low <= ord(variant) <= high for variant in variants):
                return True
        elif test[1](char):
            return True
    return False


def _may_be_non_ascii(tests: list) -> bool:
    """Whether a pattern's first character can be outside ASCII."""
    for test in tests:
        kind = test[0]
        if kind in ("category", "folded") or (kind == "range" and (test[1][1] > 127 or test[2])):
            return True
        if kind == "chars" and not test[1].isascii():
            return True
    return False


class _State(dict):
    """One lexer state: for each first character (or NON_ASCII), the rules worth trying."""

    def __init__(self, rules: list) -> None:
        super().__init__()
        self.rules = rules
        self.firsts = []
        for rule in rules:
            pattern = rule[0].__self__
            try:
                parsed = sre_parser.parse(pattern.pattern, pattern.flags & ~re.UNICODE)
                found, empty = _first(parsed, bool(pattern.flags & re.IGNORECASE))
            except Exception:  # a pattern this reading does not understand: always try it
                found, empty = ANY, True
            if pattern.flags & (re.ASCII | re.LOCALE) or empty:
                found = ANY
            self.firsts.append(found)

    def __missing__(self, char: str) -> tuple:
        """Found once per character actually met (at most 129 of them)."""
        if char == NON_ASCII:
            rules = tuple(rule for rule, tests in zip(self.rules, self.firsts, strict=True)
                          if tests is ANY or _may_be_non_ascii(tests))
        else:
            rules = tuple(rule for rule, tests in zip(self.rules, self.firsts, strict=True)
                          if tests is ANY or _passes(tests, char))
        self[char] = rules
        return rules


def states(lexer: RegexLexer) -> dict[str, _State]:
    """The dispatch tables of ``lexer``'s class, made on first use."""
    cls = type(lexer)
    found = cls.__dict__.get("_dispatch_states")
    if found is None:
        found = {name: _State(rules) for name, rules in lexer._tokens.items()}
        cls._dispatch_states = found  # per class, like Pygments' own _tokens
    return found


def get_tokens_unprocessed(self: RegexLexer, text: str,
                           stack: tuple[str, ...] = ("root",)) -> Iterator:
    """``RegexLexer.get_tokens_unprocessed``, trying only the rules that can match."""
    pos, end = 0, len(text)
    tables = states(self)
    statestack = list(stack)
    state = tables[statestack[-1]]
    while 1:
        if pos < end:
            char = text[pos]
            rules = state[char if char < "\x80" else NON_ASCII]
        else:
            rules = state.rules  # rules that match the empty string may still apply
        for rexmatch, action, new_state in rules:
            m = rexmatch(text, pos)
            if m:
                if action is not None:
                    if type(action) is _TokenType:
                        yield pos, action, m.group()
                    else:
                        yield from action(self, m)
                pos = m.end()
                if new_state is not None:
                    if isinstance(new_state, tuple):
                        for name in new_state:
                            if name == "#pop":
                                if len(statestack) > 1:
                                    statestack.pop()
                            elif name == "#push":
                                statestack.append(statestack[-1])
                            else:
                                statestack.append(name)
                    elif isinstance(new_state, int):
                        if abs(new_state) >= len(statestack):
                            del statestack[1:]
                        else:
                            del statestack[new_state:]
                    elif new_state == "#push":
                        statestack.append(statestack[-1])
                    else:
                        raise AssertionError(f"wrong state def: {new_state!r}")
                    state = tables[statestack[-1]]
                break
        else:  # no rule matched: as Pygments does, reset at a line end, else one error char
            if pos >= end:
                break
            if text[pos] == "\n":
                statestack = ["root"]
                state = tables["root"]
                yield pos, Whitespace, "\n"
            else:
                yield pos, Error, text[pos]
            pos += 1


def install() -> None:
    """Make every RegexLexer use ``get_tokens_unprocessed`` above."""
    RegexLexer.get_tokens_unprocessed = get_tokens_unprocessed
