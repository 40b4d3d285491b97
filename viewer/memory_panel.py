"""What MemOS remembered of a conversation: the memory panel's reads, its groups and its search.

MemOS lists a user's memories, not a conversation's: the panel reads ``/get/memory`` pages of 50
(at most ``MEMORY_MAX_PAGES``), keeps the items whose ``conversation_id`` is this conversation's
and, when the last page read says more exist, says that some may be missing. The pages of one
user are read once for every reader opening a panel at the same time, on every instance with a
shared store, as live checks are (viewer/sharing.py; the answers' JSON: viewer/memory_codec.py):
a hundred readers of a demo make one pass, not a hundred.

Every field comes from outside. Keys, values, tags and types are plain text, escaped by the
templates, and each is cut to a bound (``Bounds``): a 100 KB value makes an item no larger
than a 2,000-character one. Times are MemOS's, parsed (memos_api/memories.py), or shown as sent.

A memory's ``sources`` name the messages it came from by role, time and content (MemOS gives no
message ids). A source is matched to the message shown with the same role and time, to the
second as pages write it (``source_key``), and, when several share them, to the one whose text
begins as the source's does. The page's script does the same on screen (static/memories.js)
for a panel loaded by htmx; a page rendered with the panel open is matched here
(``Panel.marks``), so links work both ways without JavaScript too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, tzinfo
from typing import Any
from urllib.parse import urlencode

from memos_api import (
    Memory,
    MemoryPage,
    MemOSError,
    Message,
    Preference,
    Skill,
    ToolMemory,
)
from memos_api.memories import MAX_PAGE_SIZE, MAX_SEARCH_LIMIT, MemorySource

from . import errors
from .i18n import gettext, locale_name
from .i18n import lazy_gettext as _l
from .links import Reader
from .memory_codec import MEMORY_CODEC
from .renderer.formatting import MARKDOWN_ROLES
from .renderer.markdown import words_of
from .shared_store import SharedStore
from .sharing import SharedReads
from .templating import ROLE_LABELS

SHARE_SECONDS = 2.0  # how long a pass over a user's memories is reused by other readers
KINDS = ("fact", "preference", "tool", "skill")  # the panel's groups, in this order
GROUP_TITLES = {"fact": _l("Facts"), "preference": _l("Preferences"),
                "tool": _l("Tool experience"), "skill": _l("Skills")}
# MemOS's types, in words; a type not here is shown as MemOS wrote it.
TYPE_LABELS = {
    "LongTermMemory": _l("Long-term"), "UserMemory": _l("About the user"),
    "WorkingMemory": _l("Working memory"), "ProfileMemory": _l("Profile"),
    "EventMemory": _l("Event"), "explicit_preference": _l("Stated"),
    "implicit_preference": _l("Inferred"), "ToolTrajectoryMemory": _l("Tool use"),
    "ToolSchema": _l("Tool description"),
}
# What every item may say, translated once per language rather than once per item: a panel of
# 200 memories asked gettext 1,200 times, a third of its time (benchmarks/memory_panel.py).
# The templates format the ones with a placeholder (Jinja's format filter).
WORDS = {
    "more": _l("More"), "shortened": _l("Shortened: the rest of this memory is too long to show."),
    "confidence": _l("Confidence %(percent)s%%"), "relevance": _l("Relevance"),
    "of_best": _l("%(percent)s%% of the best result"), "tags": _l("Tags"),
    "taken_from": _l("Taken from"), "elsewhere": _l("From another conversation:"),
    "rank": _l("No. %(rank)s"),
}
FAILURE_TITLE = _l("Memories could not be loaded")
SEARCH_FAILURE_TITLE = _l("The search could not be done")


_words: dict[str, dict[str, Any]] = {}


def panel_words() -> dict[str, Any]:
    """``WORDS``, the roles' labels (``roles``) and MemOS's types' (``types``), in the reader's
    language."""
    language = locale_name()
    if language not in _words:
        roles = {role: gettext(label) for role, label in ROLE_LABELS.items()}
        roles[""] = gettext("Unknown role")
        _words[language] = {name: str(words) for name, words in WORDS.items()} | {
            "roles": roles, "types": {name: str(label) for name, label in TYPE_LABELS.items()}}
    return _words[language]


@dataclass(frozen=True)
class Bounds:
    """How much of each field one item shows, in characters (and tags, sources, in number)."""

    title: int = 200
    text: int = 2000
    excerpt: int = 280   # a longer text shows this much, and the rest behind "More"
    detail: int = 1000
    label: int = 60
    tags: int = 12
    tag: int = 40
    sources: int = 8
    quote: int = 80      # the start of a source's text: shown, and matched against messages


BOUNDS = Bounds()


@dataclass(frozen=True)
class Source:
    """A message a memory came from: who said it, when, and how it began."""

    role: str
    said_at: datetime | None
    quote: str           # its first ``Bounds.quote`` characters, spaces collapsed
    cut: bool            # the quote is only the start of its text
    key: str | None      # "role|time", as ``source_key`` writes it; None without a time
    message: str | None = None  # the element id of the message on this page it names
    # What the reader sees of it: an answer's start without its Markdown marks (``**``, table
    # pipes), as the page shows it; the quote itself stays as sent, to match messages by.
    shown: str = ""
    shown_cut: bool = False


@dataclass(frozen=True)
class Item:
    """One memory, preference, tool memory or skill, as the panel shows it."""

    kind: str                      # one of KINDS
    anchor: str                    # its element id
    title: str                     # the key (or name), possibly ""
    text: str                      # the value, at most ``Bounds.text`` characters
    shortened: bool                # the value was longer: the rest is not shown
    excerpt: str | None            # when the text is long: its start, shown first
    detail: str                    # why (a preference), what was learnt (a tool), how (a skill)
    label: str                     # its type, in words
    confidence: float | None       # 0..1
    tags: tuple[str, ...]
    moment: datetime | None        # when it was last written
    moment_sent: str | None        # that time as MemOS sent it, when it could not be read
    conversation_id: str
    elsewhere: bool                # from another of the user's conversations
    sources: tuple[Source, ...]
    score: float | None = None     # search: MemOS's ``relativity``, as sent (>= 0)
    rank: int | None = None        # a search result's place in its group, from 1
    relevance: float | None = None  # its score over the group's best, 0..1

    @property
    def percent(self) -> int | None:
        """The confidence in whole percent."""
        return None if self.confidence is None else round(self.confidence * 100)

    @property
    def relevance_percent(self) -> int | None:
        """The relevance in whole percent of the group's best."""
        return None if self.relevance is None else round(self.relevance * 100)


@dataclass(frozen=True)
class Group:
    """The items of one kind, newest first (search results: best first)."""

    kind: str
    items: tuple[Item, ...]

    @property
    def title(self) -> str:
        return str(GROUP_TITLES[self.kind])


@dataclass(frozen=True)
class Failure:
    """Why the memories (or a search) could not be read: shown inside the panel."""

    status: int
    title: str
    message: str


@dataclass(frozen=True)
class Mark:
    """A message's "remembered" mark: the first memory it links to, and how many name it."""

    anchor: str
    count: int


class _Listing:
    """What the panel and a search's results both show: groups of items, or a failure."""

    groups: tuple[Group, ...]
    failure: Failure | None

    @property
    def count(self) -> int:
        return sum(len(group.items) for group in self.groups)

    @property
    def status(self) -> int:
        return self.failure.status if self.failure else 200

    @property
    def words(self) -> dict[str, Any]:
        return panel_words()


@dataclass(frozen=True)
class Results(_Listing):
    """A search of the user's memories, this conversation's ranked first."""

    reader: Reader
    query: str | None
    groups: tuple[Group, ...] = ()
    failure: Failure | None = None

    @property
    def retry_url(self) -> str:
        """The same search again (the htmx fragment)."""
        return self.reader.memory_search() + "?" + urlencode(
            [*self.reader.memory_search_fields(), ("q", self.query or "")])


@dataclass(frozen=True)
class Panel(_Listing):
    """What the panel shows: this conversation's memories by kind, or why it cannot."""

    reader: Reader
    groups: tuple[Group, ...] = ()
    more: bool = False  # the last page read said more exist: some of these may be missing
    pages: int = 0      # pages read
    failure: Failure | None = None
    results: Results | None = None  # a search made without JavaScript, shown with the panel
    marks: dict[str, Mark] = field(default_factory=dict)  # message element id -> its mark

    @property
    def close_url(self) -> str:
        """The page without the panel."""
        return self.reader.page()

    @property
    def retry_url(self) -> str:
        """The panel again, as an htmx fragment."""
        return self.reader.memories()

    @property
    def page_url(self) -> str:
        """The page with the panel open: the panel again, without JavaScript."""
        return self.reader.page(panel=True)


class MemoryPanel:
    """Reads and shapes what MemOS remembered, for the panel (built once per app)."""

    def __init__(self, source, max_pages: int, zone: tzinfo, wait: float,
                 bounds: Bounds = BOUNDS, store: SharedStore | None = None,
                 scope: str = "") -> None:
        self.source = source
        self.max_pages = max_pages
        self.zone = zone  # DISPLAY_TIMEZONE: sources are matched by time as pages write it
        self.bounds = bounds
        # Shared across instances through ``store`` (answers of the MemOS ``scope`` names
        # only), as live reads are. A failure goes to the readers that waited for its call,
        # not to later ones: a reader's "Try again" must try again.
        self.shared = SharedReads(source, ttl=SHARE_SECONDS, wait=wait, store=store,
                                  scope=scope, fetch=self._fetch, keep_errors=False,
                                  codec=MEMORY_CODEC)

    def panel(self, reader: Reader, messages: Sequence[Message] = (),
              ids: Sequence[str | None] = (), query: str | None = None) -> Panel:
        """This conversation's memories, grouped; with the ``messages`` shown (and their
        element ``ids``) their sources are matched to them, and with a ``query`` the search's
        results come too. A failure of MemOS is the panel's, never an exception."""
        results = self.search(reader, query) if query else None
        access = reader.access
        try:
            pages = self.shared.read(("pages", access.user_id, self.max_pages))
        except MemOSError as error:
            return Panel(reader, failure=_failure(error, FAILURE_TITLE), results=results)
        items = [item for item in self._items(pages, "memory")
                 if item.conversation_id == access.conversation_id]
        groups = _groups(sorted(items, key=_newest_first))
        marks: dict[str, Mark] = {}
        if messages:
            groups, marks = match_sources(groups, messages, ids, self.zone)
        return Panel(reader, groups, bool(pages) and pages[-1].has_more, len(pages),
                     results=results, marks=marks)

    def search(self, reader: Reader, query: str) -> Results:
        """The user's memories most relevant to ``query``, this conversation's first; those
        of other conversations only for a reader whose grant covers the user's."""
        access = reader.access
        try:
            page = self.shared.read(("search", access.user_id, access.conversation_id, query))
        except MemOSError as error:
            return Results(reader, query, failure=_failure(error, SEARCH_FAILURE_TITLE))
        found = self._items([page], "found")
        shown = [replace(item, elsewhere=item.conversation_id != access.conversation_id)
                 for item in found if item.conversation_id == access.conversation_id
                 or reader.searches_elsewhere]
        groups = tuple(Group(kind, tuple(_ranked([i for i in shown if i.kind == kind])))
                       for kind in KINDS if any(i.kind == kind for i in shown))
        return Results(reader, query, groups)

    def _fetch(self, key: tuple) -> list[MemoryPage] | MemoryPage:
        """What a shared read's ``key`` names: a pass over a user's memories (``pages``), or
        a search ranking a conversation's first (``search``)."""
        if key[0] == "pages":
            return self._read_pages(key[1])
        _kind, user_id, conversation_id, query = key
        return self.source.search_memory(query, user_id, conversation_id, MAX_SEARCH_LIMIT,
                                         include_preference=True, include_tool_memory=True,
                                         include_skill=True)

    def _read_pages(self, user_id: str) -> list[MemoryPage]:
        """Up to ``max_pages`` pages of the user's memories, stopping at the last."""
        pages = []
        for number in range(1, self.max_pages + 1):
            page = self.source.get_memory(user_id, number, MAX_PAGE_SIZE,
                                          include_preference=True, include_tool_memory=True)
            pages.append(page)
            if not page.has_more:
                break
        return pages

    def _items(self, pages: Iterable[MemoryPage], prefix: str) -> list[Item]:
        """The items of ``pages``, kind by kind, in MemOS's order, each once: an item's
        element id (``prefix`` and a digest of its kind, id and what is shown of it) names
        it, and one sent twice (on two pages as memories are added, or as a twin) is one."""
        made: dict[str, Item] = {}
        labels = panel_words()["types"]
        for page in pages:
            for kind in KINDS:
                for entry in _entries(page, kind):
                    item = self._item(kind, entry, prefix, labels)
                    made.setdefault(item.anchor, item)
        return list(made.values())

    def _item(self, kind: str, entry: Memory | Preference | ToolMemory | Skill,
              prefix: str, labels: dict[str, str]) -> Item:
        bounds = self.bounds
        if isinstance(entry, Memory):
            title, text, detail, kind_type = (entry.memory_key, entry.memory_value, "",
                                              entry.memory_type)
            confidence, tags, sources = entry.confidence, entry.tags, entry.sources
        elif isinstance(entry, Preference):
            title, text, detail, kind_type = ("", entry.preference, entry.reasoning,
                                              entry.preference_type)
            confidence, tags, sources = None, (), entry.sources
        elif isinstance(entry, ToolMemory):
            title, text, detail, kind_type = ("", entry.tool_value, entry.experience,
                                              entry.tool_type)
            tools = tuple(dict.fromkeys(use.used_tool for use in entry.tool_used_status
                                        if use.used_tool))
            confidence, tags, sources = None, tools, entry.sources
        else:  # Skill
            title, text, detail, kind_type = (entry.name, entry.description, entry.procedure,
                                              entry.skill_type)
            confidence, tags, sources = entry.confidence, entry.tags, ()
        moment = entry.updated_at or entry.created_at
        sent = None if moment else (entry.update_time or entry.create_time)
        title = _clamp(title, bounds.title)[0]
        shown, shortened = _clamp(text, bounds.text)
        excerpt = (_clamp(shown, bounds.excerpt)[0].rstrip() + "…"
                   if len(shown) > bounds.excerpt else None)
        digest = hashlib.sha256("\0".join((kind, entry.id, title, shown)).encode(
            "utf-8", "surrogatepass")).hexdigest()
        return Item(
            kind=kind, anchor=f"{prefix}-{digest[:12]}",
            title=title, text=shown, shortened=shortened,
            excerpt=excerpt, detail=_clamp(detail, bounds.detail)[0],
            label=labels.get(kind_type) or _clamp(kind_type, bounds.label)[0],
            confidence=confidence,
            tags=tuple(_clamp(tag, bounds.tag)[0] for tag in tags[:bounds.tags]),
            moment=moment, moment_sent=_clamp(sent, bounds.label)[0] if sent else None,
            conversation_id=entry.conversation_id, elsewhere=False,
            sources=tuple(self._source(source) for source in sources[:bounds.sources]),
            score=entry.relativity,
        )

    def _source(self, source: MemorySource) -> Source:
        start = source.text[:self.bounds.quote * 4]  # bounded: words_of is linear, but Python
        collapsed = " ".join(start.split())
        quote = collapsed[:self.bounds.quote]
        cut = len(collapsed) > len(quote) or len(source.text) > len(start)
        role = _clamp(source.role, self.bounds.label)[0]
        shown, shown_cut = quote, cut
        if role in MARKDOWN_ROLES:
            plain = " ".join(words_of(start).split())
            shown = plain[:self.bounds.quote]
            shown_cut = len(plain) > len(shown) or len(source.text) > len(start)
        return Source(role, source.said_at, quote, cut,
                      source_key(role, source.said_at, self.zone) if role else None,
                      shown=shown, shown_cut=shown_cut)


def source_key(role: str, moment: datetime | None, zone: tzinfo) -> str | None:
    """"role|time": who said a message and when, to the second in ``zone``, as a page's
    ``data-role`` and ``<time datetime>`` write it."""
    if moment is None:
        return None
    return f"{role}|{moment.astimezone(zone).isoformat(timespec='seconds')}"


def match_sources(groups: tuple[Group, ...], messages: Sequence[Message],
                  ids: Sequence[str | None], zone: tzinfo
                  ) -> tuple[tuple[Group, ...], dict[str, Mark]]:
    """``groups`` with each source linked to the message of ``messages`` it names (by its
    element id, from ``ids``), and each such message's mark."""
    shown: dict[str, list[tuple[str, Message]]] = {}
    for message, element_id in zip(messages, ids, strict=False):
        key = source_key(message.role, message.created_at, zone)
        if element_id and key:
            shown.setdefault(key, []).append((element_id, message))
    marks: dict[str, Mark] = {}
    matched_groups = []
    for group in groups:
        items = []
        for item in group.items:
            sources = tuple(replace(source, message=_named(source, shown))
                            for source in item.sources)
            for element_id in dict.fromkeys(s.message for s in sources if s.message):
                mark = marks.get(element_id)
                marks[element_id] = Mark(mark.anchor if mark else item.anchor,
                                         mark.count + 1 if mark else 1)
            items.append(replace(item, sources=sources))
        matched_groups.append(Group(group.kind, tuple(items)))
    return tuple(matched_groups), marks


def _named(source: Source, shown: dict[str, list[tuple[str, Message]]]) -> str | None:
    """The element id of the message ``source`` names among those shown, if exactly one."""
    candidates = shown.get(source.key or "", [])
    if len(candidates) > 1:
        candidates = [(element_id, message) for element_id, message in candidates
                      if " ".join(message.text[:len(source.quote) * 4].split())
                      .startswith(source.quote)]
    return candidates[0][0] if len(candidates) == 1 else None


def _entries(page: MemoryPage, kind: str) -> tuple:
    return {"fact": page.memories, "preference": page.preferences,
            "tool": page.tool_memories, "skill": page.skills}[kind]


def _groups(items: list[Item]) -> tuple[Group, ...]:
    return tuple(Group(kind, tuple(item for item in items if item.kind == kind))
                 for kind in KINDS if any(item.kind == kind for item in items))


def _newest_first(item: Item) -> tuple[bool, float]:
    return item.moment is None, -item.moment.timestamp() if item.moment else 0.0


def _ranked(found: list[Item]) -> list[Item]:
    """Search results in MemOS's order, numbered, each scored against the best of its kind:
    MemOS's ``relativity`` can be tiny (1.7e-4), so only its ratio to the best is shown."""
    best = max((item.score for item in found if item.score is not None), default=0.0)
    return [replace(item, rank=rank, relevance=item.score / best
                    if best > 0 and item.score is not None else None)
            for rank, item in enumerate(found, start=1)]


def _clamp(text: str, limit: int) -> tuple[str, bool]:
    """``text`` cut to ``limit`` characters, and whether it was cut."""
    return (text[:limit], True) if len(text) > limit else (text, False)


def _failure(error: MemOSError, title) -> Failure:
    status, message, _headers = errors.describe(error)
    return Failure(status, str(title), message)
