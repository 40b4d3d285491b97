"""Find in a conversation: the messages that hold a query, each shown as snippets of its text
with the matches marked.

Matching is on each message's text as its reader sees it (its text parts; an answer's Markdown
without the marks that format it: ``reading_text``) and the query, both normalised as
``normalise`` does: NFKC, then case folded, then NFKC again (case folding can undo NFKC's
forms), so that full-width ``ＡＢＣ`` finds ``abc``, ``ﬁ`` finds ``fi`` and Chinese matches by
substring. A message matches when its whole normalised text holds the normalised query: one
C-speed pass per message, linear in the text read (CPython's ``str.find`` is linear in the worst
case for long needles). Reading answers without their marks is not C-speed: it has a CPU budget
(``SEARCH_SECONDS``), past which older answers are searched as typed.

What a result shows is a plain-text snippet of that text around each match, not the rendered
message: rendered HTML (Markdown, highlighted code) would have to be walked text node by text
node to put ``<mark>`` in without breaking its markup, and a match may straddle formatting
(``**in**side``) or sit in code. A snippet is a bounded number of characters, escaped by the
template piece by piece, with ``<mark>`` around the pieces that matched: it can never land
inside a tag or inside code's HTML, and it shows a match in code as typed.

NFKC changes lengths (``㍿`` is ``株式会社``, ``ｶﾞ`` is ``ガ``, ``ß`` folds to ``ss``), so
positions found in the normalised text are mapped back to the original text: the text is
normalised cluster by cluster (a character and the combining marks after it, which NFKC may
join; at most ``MAX_CLUSTER`` characters), and each normalised character remembers the cluster
it came from. A match starting or ending inside a cluster marks the whole cluster. That mapping
is a Python loop, so it is done only for the messages listed, only as far as their last
snippet, and within a CPU budget (``FIND_SECONDS``): past it, a result shows the start of its
message unmarked.
"""

from __future__ import annotations

import bisect
import functools
import re
import time
import unicodedata
from dataclasses import dataclass
from datetime import tzinfo

from babel import Locale
from babel.dates import format_date, format_time

from memos_api import Message

from .history import element_id, ID_PREFIX, Transcript
from .i18n import locale_name
from .links import FindForm, Reader
from .renderer.formatting import PAGE_SECONDS, reading_text

MAX_RESULTS = 50     # messages listed, newest first; the others that match are counted
MAX_SNIPPETS = 3     # snippets of one message, each about a match; other matches are counted
MAX_SPANS = 100      # matches placed in one message's snippets (a one-letter query is dense)
CONTEXT = 60         # characters of the message shown before and after a match
MAX_MARKED = 200     # characters of one match shown (a query's normalised form may be long)
WORD_SLACK = 16      # characters a snippet's end may move to fall between words
FIND_SECONDS = PAGE_SECONDS  # thread CPU the snippets of one results page may take
SEARCH_SECONDS = PAGE_SECONDS  # ... and reading answers without their Markdown, for the search
_BUDGET_STRIDE = 2048  # characters mapped between two looks at the clock
_READING_STRIDE = 8    # messages read between two looks at the clock
# Characters in one cluster at most: Unicode's stream-safe format allows 30 marks in a row, and
# a longer run (a million, crafted) would be one cluster, mapped in one go past the budget.
MAX_CLUSTER = 32
ELLIPSIS = "…"
_SPACE = re.compile(r"\s+")
# C0 and C1 controls (whitespace is collapsed first) and noncharacters: not valid in HTML text.
_UNSHOWABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\ufdd0-\ufdef\ufffe\uffff]")
# Conjoining jamo vowels and trailing consonants join the syllable before them under NFKC,
# though their combining class is 0.
_JAMO_JOINERS = range(0x1160, 0x1200)


def normalise(text: str) -> str:
    """``text`` as find compares it: NFKC, case folded, NFKC again."""
    if text.isascii():  # most text: the same result, without the two normalisations
        return text.lower()
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


@dataclass(frozen=True)
class Snippet:
    """Part of a message's text, as pieces of text and whether each is a match."""

    pieces: tuple[tuple[str, bool], ...]


@dataclass(frozen=True)
class Result:
    """A message that holds the query: where it is, when it was written, and what to show."""

    message: Message
    url: str                      # the message in the conversation (its permalink)
    written: str | None           # its date and time, in the reader's zone and language
    snippets: tuple[Snippet, ...]
    count: int                    # matches in the whole message

    @property
    def more(self) -> int:
        """Matches in the message that no snippet marks."""
        return max(0, self.count - sum(piece[1] for snippet in self.snippets
                                       for piece in snippet.pieces))


@dataclass(frozen=True)
class Found:
    """What a find found in one read of the conversation, and the links its page offers."""

    reader: Reader
    query: str
    results: list[Result]  # newest first, at most MAX_RESULTS
    total: int             # messages that match, listed or not
    searched: int          # messages read
    truncated: bool        # the read held ``max_limit`` messages: older ones may exist
    max_limit: int

    @property
    def more(self) -> int:
        """Messages that match but are not listed."""
        return self.total - len(self.results)

    @property
    def back_url(self) -> str:
        """The conversation's page, as the reader had it, without the query."""
        return self.reader.page()

    @property
    def find_form(self) -> FindForm:
        """The menu's find field, holding this query."""
        return self.reader.find_form(self.query)

    @property
    def downloads(self) -> dict[str, str] | None:
        """The menu's downloads (as the conversation's page has them)."""
        return (self.reader.downloads() if self.searched and self.reader.offers_downloads
                else None)


def find(transcript: Transcript, query: str, zone: tzinfo) -> Found:
    """The messages of ``transcript`` that hold ``query``, newest first (the latest are the
    likeliest to be looked for, as in chat apps), their times written in ``zone``."""
    wanted = normalise(query)
    reader = transcript.reader
    total, listed = 0, []
    as_typed, reading_until = False, time.thread_time() + SEARCH_SECONDS
    for index, message in enumerate(reversed(transcript.messages) if wanted else ()):
        # words_of is a Python loop over Markdown's events: 5 ms for an answer of 20,000
        # characters dense with marks, 4.8 s for 1000 of them. Past the budget (the clock
        # looked at every few messages: it costs 1 us), older messages are searched as typed.
        if not as_typed and index % _READING_STRIDE == 0:
            as_typed = time.thread_time() > reading_until
        text = message.text if as_typed else reading_text(message)
        folded = normalise(text)
        if wanted in folded:
            total += 1
            if len(listed) < MAX_RESULTS:
                listed.append((message, text, folded))
    deadline = time.thread_time() + FIND_SECONDS
    results = []
    for message, text, folded in listed:
        snippets = _snippets(text, folded, wanted, deadline) or (_opening(text),)
        hex_id = element_id(message).removeprefix(ID_PREFIX)
        results.append(Result(message, reader.page(message=hex_id), _written(message, zone),
                              snippets, folded.count(wanted)))
    return Found(reader, query, results, total, len(transcript.messages),
                 transcript.truncated, transcript.max_limit)


def _written(message: Message, zone: tzinfo) -> str | None:
    """When ``message`` was written, date and time (static/chat.js rewrites it in the
    reader's own zone)."""
    if message.created_at is None:
        return None
    locale = locale_name()
    moment = message.created_at.astimezone(zone)
    return Locale.parse(locale).datetime_formats["medium"].format(
        format_time(moment, "short", tzinfo=zone, locale=locale),
        format_date(moment, "medium", locale=locale))


# --- snippets ------------------------------------------------------------------------------

def _snippets(text: str, folded: str, wanted: str, deadline: float) -> tuple[Snippet, ...]:
    """Up to MAX_SNIPPETS snippets of ``text``, each about a match with every match inside
    it marked; () when they cannot be placed (the CPU budget is spent, or the cluster-wise
    normalisation found none)."""
    leaders = _leaders(folded, wanted)
    if not leaders:
        return ()
    # As far as the last snippet may reach, and a little more: cluster by cluster, the text
    # may differ from its whole normalisation where clusters meet (Hangul jamo, say).
    needed = leaders[-1] + len(wanted) + 3 * CONTEXT
    spans = _original_spans(text, folded, wanted, needed, deadline)
    return tuple(_windows(text, spans))


def _leaders(folded: str, wanted: str) -> list[int]:
    """Where the snippets' first matches are in ``folded``, about: the first match, then the
    first one clear of the snippet before (whose text runs about CONTEXT past its match)."""
    found: list[int] = []
    start = folded.find(wanted)
    while start >= 0 and len(found) < MAX_SNIPPETS:
        found.append(start)
        start = folded.find(wanted, start + len(wanted) + 2 * CONTEXT)
    return found


def _windows(text: str, spans: list[tuple[int, int]]) -> list[Snippet]:
    """The snippets of ``text`` for ``spans``: one about the first, marking every match in
    it (a match running past its end ends it), then one about the first match clear of it."""
    snippets: list[Snippet] = []
    at = 0
    while at < len(spans) and len(snippets) < MAX_SNIPPETS:
        begin, finish = _cut_before(text, spans[at][0]), _cut_after(text, spans[at][1])
        if at:  # never back over a match left unmarked
            begin = max(begin, spans[at - 1][1])
        group = []
        while at < len(spans) and spans[at][0] < finish:
            group.append(spans[at])
            finish = max(finish, spans[at][1])
            at += 1
        snippets.append(_snippet(text, group, begin, finish))
        while at < len(spans) and spans[at][0] < finish + CONTEXT:
            at += 1  # too near to show again: counted, not shown
    return snippets


def _original_spans(text: str, folded: str, wanted: str, needed: int,
                    deadline: float) -> list[tuple[int, int]]:
    """The matches' spans in ``text`` (start, end), found again in its normalised form as
    far as ``needed`` characters of it (at most MAX_SPANS), mapped back cluster by cluster."""
    plain = text.lower() if text.isascii() else text.casefold()
    if len(plain) == len(text) and plain == folded:
        # Case folding maps each character to one or more: same length, one each, so a
        # position in ``folded`` is the same position in ``text``.
        return _matches(folded, wanted, needed)
    normalised, origins = _mapped(text, needed, deadline)
    if origins is None:
        return []
    starts = origins + [len(text)]  # the cluster after the last one starts at the end
    spans: list[tuple[int, int]] = []
    for at, _end in _matches(normalised, wanted, len(normalised)):
        start, end = starts[at], _cluster_end(starts, at + len(wanted) - 1)
        if spans and start < spans[-1][1]:  # two matches in one cluster ("s" in "ß")
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
        else:
            spans.append((start, end))
    return spans


def _cluster_end(starts: list[int], at: int) -> int:
    """Where the cluster that made normalised character ``at`` ends in the text: where the
    next one starts (``starts`` never decreases, and ends with the text's length)."""
    return starts[bisect.bisect_right(starts, starts[at], at)]


def _matches(folded: str, wanted: str, limit: int) -> list[tuple[int, int]]:
    """The first MAX_SPANS matches in ``folded[:limit]``."""
    spans = []
    start = folded.find(wanted, 0, limit)
    while start >= 0 and len(spans) < MAX_SPANS:
        spans.append((start, start + len(wanted)))
        start = folded.find(wanted, start + len(wanted), limit)
    return spans


def _mapped(text: str, needed: int, deadline: float) -> tuple[str, list[int] | None]:
    """``text`` normalised cluster by cluster, until at least ``needed`` characters, with
    the start of each normalised character's cluster in ``text``; None past the budget."""
    out: list[str] = []
    origins: list[int] = []
    produced = 0
    cache: dict[str, str] = {}
    index, size = 0, len(text)
    checked = 0
    while index < size and produced < needed:
        end = index + 1
        while end < size and end - index < MAX_CLUSTER and _joins(text[end]):
            end += 1
        cluster = text[index:end]
        normal = cache.get(cluster)
        if normal is None:
            normal = cache[cluster] = normalise(cluster)
        out.append(normal)
        origins.extend([index] * len(normal))
        produced += len(normal)
        if end - checked >= _BUDGET_STRIDE:
            checked = end
            if time.thread_time() > deadline:
                return "", None
        index = end
    return "".join(out), origins


def _joins(char: str) -> bool:
    """Whether ``char`` belongs to the cluster before it: NFKC may compose them."""
    return char >= "\u0300" and _composes(char)


@functools.lru_cache(maxsize=4096)
def _composes(char: str) -> bool:
    # A combining mark, or a character that NFKC makes one (half-width katakana's voicing
    # marks: ｶﾞ is ガ), or a conjoining jamo that joins the syllable before it.
    return (unicodedata.combining(char) != 0 or ord(char) in _JAMO_JOINERS
            or unicodedata.combining(unicodedata.normalize("NFKC", char)[0]) != 0)


def _snippet(text: str, spans: list[tuple[int, int]], begin: int, finish: int) -> Snippet:
    """``text[begin:finish]`` with ``spans`` marked (each shown up to MAX_MARKED)."""
    pieces: list[tuple[str, bool]] = []
    position = begin
    for start, end in spans:
        if start > position:
            pieces.append((text[position:start], False))
        shown = min(end, start + MAX_MARKED)
        pieces.append((text[start:shown], True))
        if shown < end:
            pieces.append((ELLIPSIS, False))
        position = end
    if finish > position:
        pieces.append((text[position:finish], False))
    return Snippet(_tidied(pieces, ELLIPSIS if begin > 0 else "",
                           ELLIPSIS if finish < len(text) else ""))


def _cut_before(text: str, start: int) -> int:
    """Where a snippet starts, about CONTEXT characters before ``start``: after a space if
    one is near (not in the middle of a word), never between a character and its marks."""
    begin = max(0, start - CONTEXT)
    if begin == 0:
        return 0
    space = text.find(" ", begin, begin + WORD_SLACK)
    begin = space + 1 if 0 <= space < start else begin
    for _ in range(WORD_SLACK):
        if begin == 0 or not _joins(text[begin]):
            break
        begin -= 1
    return begin


def _cut_after(text: str, end: int) -> int:
    """Where a snippet ends, about CONTEXT characters after ``end`` (see ``_cut_before``)."""
    finish = min(len(text), end + CONTEXT)
    if finish == len(text):
        return finish
    space = text.rfind(" ", finish - WORD_SLACK, finish)
    finish = space if space > end else finish
    for _ in range(WORD_SLACK):
        if finish == len(text) or not _joins(text[finish]):
            break
        finish += 1
    return finish


def _tidied(pieces: list[tuple[str, bool]], lead: str, tail: str) -> tuple[tuple[str, bool], ...]:
    """The pieces on one line (runs of white space as one space, the ends trimmed),
    unshowable characters replaced, and the ellipses that say the text goes on."""
    tidy = [(_UNSHOWABLE.sub("\ufffd", _SPACE.sub(" ", piece)), marked)
            for piece, marked in pieces]
    if tidy and not tidy[0][1]:
        tidy[0] = (lead + tidy[0][0].lstrip(), False)
    elif lead:
        tidy.insert(0, (lead, False))
    if tidy and not tidy[-1][1]:
        tidy[-1] = (tidy[-1][0].rstrip() + tail, False)
    elif tail:
        tidy.append((tail, False))
    return tuple(piece for piece in tidy if piece[0])


def _opening(text: str) -> Snippet:
    """The start of a message, unmarked: what a result shows when its matches could not be
    placed."""
    shown = text[:2 * CONTEXT]
    return Snippet(_tidied([(shown, False)], "", ELLIPSIS if len(text) > len(shown) else ""))
