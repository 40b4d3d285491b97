"""Find interface text left in English on a page meant to be in another language.

A page's reader-facing text is its visible text plus the attributes a reader meets through
assistive technology or the scripts (``title``, ``aria-label``, ``alt``, ``placeholder``,
``value`` of buttons, ``data-text-*`` phrases and the ``chat-texts`` meta). Message contents
are the conversation's own words, not ours, so the callers leave them out (or seed them in
the page's language).

Used by tests/test_i18n.py (server-rendered pages, pseudo-locale) and the Chinese browser tests.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlsplit

# Words that stay as they are in any language: names, protocols, and the units of ids.
ALLOWED = {"MemOS", "API", "ID", "IDs", "HTTP", "HTTPS", "JSON", "HS256", "URL", "htmx",
           "JavaScript", "Token", "Markdown", "UTC", "GMT"}
# A word: Latin letters, possibly joined by apostrophes. An identifier (user_id, demo-user,
# a conversation id in a heading) is not interface text: it is the reader's own data, or a
# parameter name the API defines.
_TOKEN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_'’.:/-]*")
_PLACEHOLDER = re.compile(r"\{[a-z_]+\}|%\([a-z_]+\)[sd]")
_WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)?")
# Attributes whose words a reader meets (screen readers, tooltips, the scripts' phrases).
_READER_ATTRIBUTES = {"title", "aria-label", "aria-description", "alt", "placeholder"}
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
         "track", "wbr"}
# Elements whose text is not the interface's: scripts, and the conversation's own words.
_SKIPPED_TAGS = {"script", "style", "template", "code", "pre"}
_SKIPPED_CLASSES = {"message__content", "message__preview"}


class _ReaderText(HTMLParser):
    """Collect the reader-facing texts of a page, skipping scripts and message contents."""

    def __init__(self, keep_messages: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.keep_messages = keep_messages
        self.texts: list[str] = []
        self.skipping = 0  # depth inside a skipped element

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if self.skipping:
            self.skipping += tag not in _VOID
            return
        for name, value in values.items():
            if name in _READER_ATTRIBUTES or name.startswith("data-text-"):
                self.texts.append(value)
        if tag == "input" and values.get("type") in {"submit", "button", "reset"}:
            self.texts.append(values.get("value", ""))
        if tag == "meta" and values.get("name") == "chat-texts":
            self.texts += [str(phrase) for phrase in json.loads(values["content"]).values()]
        classes = set(values.get("class", "").split())
        if tag in _SKIPPED_TAGS or (not self.keep_messages and classes & _SKIPPED_CLASSES):
            self.skipping = 1

    def handle_endtag(self, tag: str) -> None:
        if self.skipping and tag not in _VOID:
            self.skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self.skipping and data.strip():
            self.texts.append(data)


def english_words(text: str, identifiers: set[str] = frozenset()) -> list[str]:
    """The English words in ``text``, other than names, identifiers and ``identifiers``."""
    found = []
    text = _PLACEHOLDER.sub(" ", text)  # the scripts fill {count} and %(time)s in at run time
    for token in _TOKEN.findall(text):
        if token in identifiers or token in ALLOWED or "_" in token or "/" in token:
            continue
        if any(character.isdigit() for character in token) or "-" in token.strip("-"):
            continue  # ids (demo-user, 40101, c1), versions and dates
        found.extend(word for word in _WORD.findall(token) if word not in ALLOWED)
    return found


def reader_texts(page: str, *, keep_messages: bool = False) -> list[str]:
    """The texts of a server-rendered ``page`` a reader meets (message contents left out)."""
    parser = _ReaderText(keep_messages)
    parser.feed(page)
    parser.close()
    return parser.texts


def untranslated(page: str, identifiers: set[str] = frozenset()) -> list[str]:
    """English words left in ``page``'s interface text (sorted, each once)."""
    words = set()
    for text in reader_texts(page):
        words.update(english_words(text, identifiers))
    return sorted(words)


def echoed(url: str) -> set[str]:
    """The words of ``url``'s query: an error may quote a parameter and its value."""
    query = parse_qsl(urlsplit(url).query, keep_blank_values=True)
    return {word for pair in query for part in pair for word in re.findall(r"\w+", part)}
