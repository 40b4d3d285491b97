"""Who reads a conversation, how, and the URLs of every request their page can make next.

URLs are computed here, in Python, as Datasette computes ``next_url``; templates only print
them. Every link keeps what the reader chose (the access grant with its accent, the theme, live
updates off, the language, a widget's downloads and memories) and nothing else from the query
string: ``url_for`` reads ``endpoint=``,
``_method=`` or ``_external=`` as its own arguments, so stray parameters must never reach it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from urllib.parse import urlencode

from flask import current_app, g, request, url_for
from werkzeug.exceptions import BadRequest

from .access import Access, grant, is_open, refuse_memories, USER_MEMORIES
from .i18n import gettext
from .validation import EXPORT_FORMATS

LAYOUTS = {"chat": "chat.chat", "embed": "chat.embed"}  # layout -> the page's endpoint
PANEL = "memories"  # ``?panel=memories``: the page with the memory panel open (no JavaScript)
# What werkzeug's url_for leaves unescaped in a query (werkzeug.urls._urlencode): the same
# here, so that a link built by ``link`` is byte for byte the one url_for builds.
QUERY_SAFE = "!$'()*,/:;?@"
_PATHS_KEPT = 64  # endpoint paths remembered, per endpoint and mount point


# Values made only of these need no escaping (ids, tokens, anchors, numbers: most of them).
_AS_IS = re.compile(r"[A-Za-z0-9_.~!$'()*,/:;?@-]*")


def encode_query(params: dict[str, str | int | None]) -> str:
    """``params`` as a query string, leaving out None values, encoded as url_for does."""
    if all(value is None or _AS_IS.fullmatch(str(value)) for value in params.values()):
        return "&".join(f"{name}={value}" for name, value in params.items()
                        if value is not None)  # the names are this module's own
    return urlencode([(name, value) for name, value in params.items() if value is not None],
                     safe=QUERY_SAFE)


def link(endpoint: str, encoded: str = "") -> str:
    """The URL of ``endpoint`` (one without path variables) with the ``encoded`` query.

    A page makes a dozen links, and url_for's routing cost a tenth of a small page's CPU:
    the path is built once per endpoint and mount point (``request.script_root``, which a
    trusted proxy may set), and the query is joined to it.
    """
    key = (endpoint, request.script_root)
    paths = current_app.extensions.setdefault("link_paths", {})
    path = paths.get(key)
    if path is None:
        if len(paths) >= _PATHS_KEPT:  # mount points come from proxies: keep it bounded
            paths.clear()
        path = paths[key] = url_for(endpoint)
    return f"{path}?{encoded}" if encoded else path


def _joined(*encoded: str) -> str:
    return "&".join(part for part in encoded if part)


@dataclass(frozen=True)
class FindForm:
    """The menu's "Find" field: a GET form to ``action`` (the page itself), with the hidden
    fields that keep the reader's access and choices (a GET form replaces the action's own
    query string), and the query it holds."""

    action: str
    fields: tuple[tuple[str, str], ...]
    query: str = ""


@dataclass(frozen=True)
class Reader:
    """A request's reader: the conversation they may read, in which layout, and their choices."""

    access: Access
    layout: str = "chat"      # "chat", the full page; "embed", the widget
    theme: str | None = None  # forced light or dark; None follows the system
    live_off: bool = False    # ``?live=0``: no live updates on this page or the ones it links
    lang: str | None = None   # ``?lang=``, as a BCP 47 tag: the language every link keeps
    exports: bool = False     # ``?export=1``: the widget offers the downloads too
    memories_asked: bool = False  # ``?memories=1``: the widget offers the memory panel too

    def page(self, limit: int | None = None, message: str | None = None,
             panel: bool = False, memory_search: str | None = None) -> str:
        """The conversation's page (or widget), with the newest ``limit`` messages, or from
        the ``message`` a permalink names (scrolled to without JavaScript too); with the
        memory ``panel`` open, and in it the results of ``memory_search``."""
        if message:  # a permalink (rare): its anchor too
            return url_for(LAYOUTS[self.layout], **self._kept(), limit=limit, message=message,
                           panel=PANEL if panel else None, memory_search=memory_search,
                           _anchor=f"m-{message}")
        return link(LAYOUTS[self.layout], _joined(self._query, encode_query(
            {"limit": limit, "panel": PANEL if panel else None, "memory_search": memory_search})
            if limit is not None or panel or memory_search is not None else ""))

    @property
    def shows_memories(self) -> bool:
        """Whether this reader's page offers the memory panel: the full page whenever the
        access grants memories, the widget when also asked (``?memories=1``)."""
        return self.access.memories is not None and (self.layout == "chat"
                                                     or self.memories_asked)

    @property
    def searches_elsewhere(self) -> bool:
        """Whether this reader may see the user's other conversations' memories."""
        return self.access.memories == USER_MEMORIES

    def memories(self) -> str:
        """The htmx fragment with the memory panel."""
        return link("chat.memories", _joined(self._query, self._layout_query))

    def memory_search(self) -> str:
        """Where the panel's search form goes (the htmx fragment with the results)."""
        return link("chat.memory_search")

    def memory_search_fields(self) -> list[tuple[str, str]]:
        """The search form's hidden fields: a GET form replaces its action's query string."""
        fields = {**self._kept(), "layout": self._fragment_layout()}
        return [(name, value) for name, value in fields.items() if value is not None]

    def older(self, shown: int, anchor: str, depth: int) -> str:
        """The htmx fragment with the messages before the oldest of the ``shown``."""
        return link("chat.older", _joined(self._query, encode_query(
            {"shown": str(shown), "anchor": anchor, "depth": str(depth)}), self._layout_query))

    def newer(self, after: str, since: str | None) -> str:
        """The live check for messages after the newest shown ones (named by ``after``)."""
        return link("chat.newer", _joined(
            self._query, encode_query({"after": after, "since": since}), self._layout_query))

    def found(self, query: str) -> str:
        """The page listing the messages that hold ``query`` (viewer/find.py)."""
        return link(LAYOUTS[self.layout], _joined(self._query, encode_query({"q": query})))

    def find_form(self, query: str = "") -> FindForm:
        """The "Find" field of this reader's menu, holding ``query``. The query is kept in
        no other link: the conversation's pages do not carry it."""
        return FindForm(link(LAYOUTS[self.layout]),
                        tuple((name, value) for name, value in self._kept().items()
                              if value is not None), query)

    def accent_stylesheet(self) -> str | None:
        """The stylesheet giving this page its accent colour (viewer/accent.py), if it has one."""
        accent = self.access.accent
        return url_for("chat.accent", colour=accent[1:]) if accent else None

    def downloads(self) -> dict[str, str]:
        """The conversation as downloads (viewer/export.py), by format: one URL built, the
        format added to it (three ``url_for`` calls were a tenth of a small page's CPU)."""
        base = link("chat.export", self._query)  # the access parameters: never bare
        return {kind: f"{base}&format={kind}" for kind in EXPORT_FORMATS}

    @property
    def offers_downloads(self) -> bool:
        """Whether this reader's page has the conversation menu: the full page always, the
        widget when asked (``?export=1``)."""
        return self.layout == "chat" or self.exports

    def _kept(self) -> dict[str, str | None]:
        return {**self.access.params, "theme": self.theme, "live": "0" if self.live_off else None,
                "lang": self.lang, "export": "1" if self.exports else None,
                "memories": "1" if self.memories_asked else None}

    @cached_property
    def _query(self) -> str:
        """What every link of this reader's keeps, encoded once per request."""
        return encode_query(self._kept())

    @property
    def _layout_query(self) -> str:
        return "layout=embed" if self.layout == "embed" else ""

    def _fragment_layout(self) -> str | None:
        return "embed" if self.layout == "embed" else None


def kept_choices() -> dict[str, str | None]:
    """The choices every link keeps, before any conversation is open: theme and language."""
    return {"theme": g.get("theme"), "lang": g.get("lang")}


def start_page() -> str:
    """The start page, in the reader's theme and language."""
    return link("chat.index", encode_query(kept_choices()))


def read_reader(layout: str) -> Reader:
    """This request's reader: 400 for bad ids or options, 403 for a bad token."""
    secret = None if is_open() else current_app.config["EMBED_SECRET"]
    live = request.args.get("live", "")
    if live not in ("", "0", "1"):
        raise BadRequest(gettext("live must be 0 (off) or 1 (on), not “%(value)s”.",
                                 value=live[:20]))
    exports = request.args.get("export", "")
    if exports not in ("", "0", "1"):
        raise BadRequest(gettext("export must be 0 (no downloads) or 1 (downloads), not "
                                 "“%(value)s”.", value=exports[:20]))
    memories = request.args.get("memories", "")
    if memories not in ("", "0", "1"):
        raise BadRequest(gettext("memories must be 0 (no memory panel) or 1 (the memory panel), "
                                 "not “%(value)s”.", value=memories[:20]))
    access = grant(request.args, secret)
    if memories == "1" and access.memories is None:
        refuse_memories()  # asked for, as an accent is: refused as clearly
    return Reader(access, layout, g.get("theme"), live_off=live == "0", lang=g.get("lang"),
                  exports=exports == "1", memories_asked=memories == "1")


def read_memory_reader() -> Reader:
    """The reader of a memory panel request (its fragment or search): 403 when their page
    does not offer the panel."""
    reader = read_reader(fragment_layout())
    if not reader.shows_memories:
        refuse_memories()
    return reader


def read_panel(reader: Reader) -> bool:
    """Whether the page is asked with the memory panel open (``?panel=memories``): 400 for
    another panel, 403 when this reader's page does not offer it."""
    panel = request.args.get("panel", "")
    if panel == "":
        return False
    if panel != PANEL:
        raise BadRequest(gettext("panel must be memories, not “%(value)s”.", value=panel[:20]))
    if not reader.shows_memories:
        refuse_memories()
    return True


def fragment_layout() -> str:
    """The layout a fragment request (load earlier, live check) was made from."""
    return "embed" if request.args.get("layout") == "embed" else "chat"
