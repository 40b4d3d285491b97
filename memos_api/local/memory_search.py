"""How the local store searches memories: terms from a query, SQLite FTS5 trigrams, a score.

The query is folded (NFKC, case-folded: full-width letters and capitals match), cut to
``MAX_QUERY_CHARS`` and split on spaces and control characters into at most ``MAX_TERMS``
terms, punctuation trimmed from their ends. A memory matches when it contains any term as a
substring, so Chinese, which has no spaces, matches by substring too.

Terms of three characters or more are looked up in the trigram index, each quoted as an FTS5
phrase: whatever the query holds (``"``, ``*``, ``NEAR(``, ``OR``) is text, never syntax. A
trigram index cannot answer a term of one or two characters; when a query has only such terms,
a LIKE scan over the user's newest ``MAX_SCAN_ROWS`` memories answers it instead, its pattern
escaped so ``%`` and ``_`` are literal. Beside longer terms, short ones only add to the score.

``relativity`` is the share of the query's terms (weighted by length) a memory contains: 1.0
when it holds them all, in 0..1 as MemOS documents.
"""

from __future__ import annotations

from .validation import fold

MAX_QUERY_CHARS = 1000   # the rest of a longer query is not searched
MAX_TERMS = 16
MAX_CANDIDATES = 500     # index matches scored per kind, best (bm25) first
MAX_SCAN_ROWS = 5000     # memories a LIKE scan reads per kind, newest first
TRIGRAM = 3
# Control characters separate terms: FTS5 reads a NUL as the end of its query.
_CONTROLS = dict.fromkeys([*range(0x20), *range(0x7F, 0xA0)], " ")
_EDGE_PUNCTUATION = ".,;:!?\"'()[]{}<>«»“”‘’„。，；：！？、（）《》【】「」『』"


def search_terms(query: str) -> list[str]:
    """The distinct folded terms of ``query``, in order; empty when it has none."""
    terms: list[str] = []
    for token in fold(query[:MAX_QUERY_CHARS]).translate(_CONTROLS).split():
        term = token.strip(_EDGE_PUNCTUATION) or token  # a query of only "?" still searches
        if term not in terms:
            terms.append(term)
            if len(terms) == MAX_TERMS:
                break
    return terms


def fts_expression(terms: list[str]) -> str | None:
    """An FTS5 query matching any term the trigram index can answer, or None when none can."""
    phrases = ['"' + term.replace('"', '""') + '"' for term in terms if len(term) >= TRIGRAM]
    return " OR ".join(phrases) or None


def like_pattern(term: str) -> str:
    """A LIKE pattern (``ESCAPE '\\'``) for text containing ``term`` literally."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def relativity(terms: list[str], folded: str) -> float:
    """The share of ``terms``, weighted by length, that ``folded`` contains (0..1)."""
    total = sum(len(term) for term in terms)
    found = sum(len(term) for term in terms if term in folded)
    return round(found / total, 4) if total else 0.0
