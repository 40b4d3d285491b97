"""Pygments' RegexLexer loop, trying at each position only the rules that can match there.

Pygments lexes by trying a state's rules in order at each position until one matches: ~35 failed
regular-expression calls per token for Python, most of a code block's formatting time. Most
rules can only start with a few characters (a quote, a digit, ``#``), so for each state and
character we keep the rules that can start with it, in their order, found once per lexer class
from the patterns themselves (``re._parser``, CPython's own parser). Only rules that cannot
possibly match are skipped, so the tokens are the same as Pygments' own: the tests compare them
for every language we highlight, and lexing Python is ~4x faster.

Then the rules left for a state and character are joined into one pattern, ``(rule1)|(rule2)|...``:
the regular-expression engine tries them in the same order, in one call rather than one per
rule, and the outer group that matched (``lastindex``) says which rule it was (the loop's
Python, not the matching, is most of the time left: Python lexes another 20% faster). A rule
whose action is ``bygroups`` of token types is read from that match's groups, as Pygments'
callback would; any other callback gets its rule's own match. Rules that cannot be joined
(back references, named groups, verbose or ASCII patterns) are tried on their own, and so are
long ones (Unicode classes, word lists): compiling them again would cost more at start than
their own call costs per token. All of it is made once per process, at start (``join_all``:
~0.7 s of CPU and ~3.5 MB for all the languages highlighted).

``install()`` puts ``get_tokens_unprocessed`` in place of ``RegexLexer``'s, so lexers that call
it from their own (C, C++, PHP...) and nested lexers (``using``) take it too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from re import _constants as sre
from re import _parser as sre_parser

from pygments.lexer import bygroups, RegexLexer
from pygments.token import _TokenType, Error, Token, Whitespace

ORIGINAL = RegexLexer.get_tokens_unprocessed  # Pygments' own loop, for the tests
ANY = None  # a rule that may start with any character (or match the empty string)
NON_ASCII = "\x80"  # stands for every non-ASCII character in the tables
ASCII = [chr(code) for code in range(128)]
_REPEATS = (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT)
_BYGROUPS = bygroups(Token).__code__  # the code every bygroups() callback shares
_SCOPED_FLAGS = {re.IGNORECASE: "i", re.MULTILINE: "m", re.DOTALL: "s"}
_LEADING_FLAGS = re.compile(r"(?:\(\?[imsu]+\))*")  # global inline flags, at the start only
_BACK_REFERENCE = re.compile(r"\\[1-9]|\(\?\(")  # (or an octal escape: then not joined either)
MAX_JOINED = 1000  # characters of a pattern: a longer one is tried on its own
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


def _ascii_starts(tests: list) -> set[str]:
    """The ASCII characters that can be a pattern's first character."""
    found: set[str] = set()
    for test in tests:
        kind = test[0]
        if kind in ("chars", "folded"):
            found.update(char for char in test[1] if char.isascii())
        elif kind == "range":
            (low, high), ignore_case = test[1], test[2]
            for code in range(low, min(high, 127) + 1):
                char = chr(code)
                # A letter in the range matches itself in either case.
                found.update((char, char.lower(), char.upper()) if ignore_case else (char,))
        else:
            found.update(char for char in ASCII if test[1](char))
    return found


def _may_be_non_ascii(tests: list) -> bool:
    """Whether a pattern's first character can be outside ASCII."""
    for test in tests:
        kind = test[0]
        if kind in ("category", "folded") or (kind == "range" and (test[1][1] > 127 or test[2])):
            return True
        if kind == "chars" and not test[1].isascii():
            return True
    return False


def _group_types(action) -> tuple[tuple[int, _TokenType], ...] | None:
    """For ``bygroups`` of token types (or None): each group's number and type; else None."""
    code = getattr(action, "__code__", None)
    if code is not _BYGROUPS:
        return None
    args = action.__closure__[code.co_freevars.index("args")].cell_contents
    if not all(arg is None or type(arg) is _TokenType for arg in args):
        return None
    return tuple((number, arg) for number, arg in enumerate(args, 1) if arg is not None)


def _joinable(rule: tuple, flags: int) -> str | None:
    """The source to put in a joined pattern for ``rule``, or None when it must be tried on
    its own: when its groups would be renumbered under it (back references, named groups),
    when its flags cannot be scoped to it, or when it is long (recompiling a long pattern, a
    Unicode class or a word list, costs milliseconds, and its own compiled copy is at hand)."""
    pattern = rule[0].__self__
    # Leading inline flags are in pattern.flags already; they may not be inside a group.
    source = pattern.pattern[_LEADING_FLAGS.match(pattern.pattern).end():]
    if (len(source) > MAX_JOINED or pattern.groupindex or _BACK_REFERENCE.search(source)
            or (pattern.flags | flags) & (re.VERBOSE | re.ASCII | re.LOCALE)):
        return None
    if pattern.flags == flags:
        return source
    added, removed = pattern.flags & ~flags, flags & ~pattern.flags
    if (added | removed) & ~sum(_SCOPED_FLAGS):
        return None
    return ("(?" + "".join(name for flag, name in _SCOPED_FLAGS.items() if added & flag)
            + ("-" if removed else "")
            + "".join(name for flag, name in _SCOPED_FLAGS.items() if removed & flag)
            + f":{source})")


def _segments(rules: tuple, flags: int) -> tuple:
    """``rules`` in order as segments: ``(match, steps, joined)``. A joined segment is runs of
    rules in one pattern, ``steps`` giving each rule (and its groups' token types, see
    ``_group_types``) by its outer group's number; a lone rule is its own pattern, at 0."""
    segments: list = []
    run: list = []  # (source, rule) of joinable rules not yet in a segment

    def close() -> None:
        if len(run) == 1:
            segments.append(_lone(run[0][1]))
        elif run:
            parts, steps, number = [], {}, 0
            for source, rule in run:
                number += 1
                steps[number] = (*rule, _group_types(rule[1]))
                parts.append(f"({source})")
                number += rule[0].__self__.groups
            try:
                segments.append((re.compile("|".join(parts), flags).match, steps, True))
            except (re.error, RecursionError, OverflowError):
                segments.extend(_lone(rule) for _, rule in run)
        run.clear()

    for rule in rules:
        source = _joinable(rule, flags)
        if source is None:
            close()
            segments.append(_lone(rule))
        else:
            run.append((source, rule))
    close()
    return tuple(segments)


def _lone(rule: tuple) -> tuple:
    return rule[0], {0: (*rule, _group_types(rule[1]))}, False


class _Segments(dict):
    """A state's segments (see ``_segments``) for each first character (or NON_ASCII), and
    for the end of the text (``""``). Rules are joined only with ``join`` (see join_all): a
    lexer no one prepared (one Markdown's code blocks call by name) tries them on its own,
    rather than compiling patterns on somebody's page."""

    def __init__(self, state: _State, cache: dict, flags: int) -> None:
        super().__init__()
        self.state, self.cache, self.flags = state, cache, flags
        self.join = False

    def __missing__(self, char: str) -> tuple:
        rules = self.state[char] if char else tuple(self.state.rules)
        if not self.join:
            found = tuple(_lone(rule) for rule in rules)
        else:
            found = self.cache.get(rules)
            if found is None:
                found = self.cache[rules] = _segments(rules, self.flags)
        self[char] = found
        return found


class _State(dict):
    """One lexer state: for each first character (or NON_ASCII), the rules worth trying."""

    def __init__(self, rules: list, cache: dict, starts: dict, interned: dict,
                 flags: int) -> None:
        super().__init__()
        self.rules = rules
        self.interned = interned
        self.segments = _Segments(self, cache, flags)
        self.starts = []  # for each rule, the keys it may start with (or ANY)
        for rule in rules:
            found = starts.get(rule[0], False)
            if found is False:  # rules included in several states are read once
                found = starts[rule[0]] = _starts(rule[0].__self__)
            self.starts.append(found)

    def __missing__(self, char: str) -> tuple:
        """Found once per character (at most 129 of them); most characters of a state, and
        many of the states that include others, share their rules: one tuple each, not tens
        of thousands for the garbage collector to go through."""
        rules = tuple(rule for rule, keys in zip(self.rules, self.starts, strict=True)
                      if keys is ANY or char in keys)
        rules = self[char] = self.interned.setdefault(rules, rules)
        return rules


def _starts(pattern: re.Pattern) -> frozenset[str] | None:
    """The ASCII characters (and NON_ASCII) ``pattern`` may match first, or ANY."""
    try:
        parsed = sre_parser.parse(pattern.pattern, pattern.flags & ~re.UNICODE)
        tests, empty = _first(parsed, bool(pattern.flags & re.IGNORECASE))
    except Exception:  # a pattern this reading does not understand: always try it
        return ANY
    if pattern.flags & (re.ASCII | re.LOCALE) or empty or tests is ANY:
        return ANY
    keys = _ascii_starts(tests)
    if _may_be_non_ascii(tests):
        keys.add(NON_ASCII)
    return frozenset(keys)


def states(lexer: RegexLexer) -> dict[str, _State]:
    """The dispatch tables of ``lexer``'s class, made on first use."""
    cls = type(lexer)
    found = cls.__dict__.get("_dispatch_states")
    if found is None:
        cache: dict = {}  # segments by rules: states that include others share many
        starts: dict = {}
        interned: dict = {}
        # Python adds re.UNICODE to every pattern compiled from text.
        flags = re.compile("", lexer.flags).flags
        found = {name: _State(rules, cache, starts, interned, flags)
                 for name, rules in lexer._tokens.items()}
        cls._dispatch_states = found  # per class, like Pygments' own _tokens
    return found


def join_all(lexer: RegexLexer) -> None:
    """Make the segments of every state and character now, not on somebody's page."""
    for state in states(lexer).values():
        state.segments.join = True
        for char in ASCII:
            state.segments[char]
        state.segments[NON_ASCII]
        state.segments[""]


def get_tokens_unprocessed(self: RegexLexer, text: str,
                           stack: tuple[str, ...] = ("root",)) -> Iterator:
    """``RegexLexer.get_tokens_unprocessed``, trying only the rules that can match."""
    pos, end = 0, len(text)
    tables = states(self)
    statestack = list(stack)
    segments = tables[statestack[-1]].segments
    while 1:
        if pos < end:
            char = text[pos]
            tried = segments[char if char < "\x80" else NON_ASCII]
        else:
            tried = segments[""]  # rules that match the empty string may still apply
        for match, steps, joined in tried:
            m = match(text, pos)
            if m:
                number = m.lastindex if joined else 0  # a rule's outer group closes last
                rexmatch, action, new_state, groups = steps[number]
                if groups is not None:
                    for group, token_type in groups:
                        data = m.group(number + group)
                        if data:
                            yield m.start(number + group), token_type, data
                elif type(action) is _TokenType:
                    yield pos, action, m.group(number)
                elif action is not None:
                    yield from action(self, rexmatch(text, pos) if joined else m)
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
                    segments = tables[statestack[-1]].segments
                break
        else:  # no rule matched: as Pygments does, reset at a line end, else one error char
            if pos >= end:
                break
            if text[pos] == "\n":
                statestack = ["root"]
                segments = tables["root"].segments
                yield pos, Whitespace, "\n"
            else:
                yield pos, Error, text[pos]
            pos += 1


def install() -> None:
    """Make every RegexLexer use ``get_tokens_unprocessed`` above."""
    RegexLexer.get_tokens_unprocessed = get_tokens_unprocessed
