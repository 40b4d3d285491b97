"""Pages kept as sent, for a conversation that reads the same as a moment ago.

Most views of a conversation show what the last view showed: the reader reloads, a widget is
opened again, a demo is shown twice. The templates and compression are then two thirds of the
page's own CPU (docs/benchmarks.md, "Where the time goes"), spent making the same bytes.

A page is a function of its request and of what MemOS returned. Of the request: the template
(the layout), the query string as sent (ids or token, and the reader's choices: limit,
language, theme...), the mount point, the language the reader gets and the encodings they
accept. Of MemOS: the slice History made of its answer (the messages, which compare by
everything their HTML shows, and where they sit: anchors, boundary, ids). And of the clock: the
day in ``DISPLAY_TIMEZONE`` ("Today"), and the printed header's time (viewer/templating.py
``print_time``), which is why a kept page is sent for ``KEEP_SECONDS`` at most. The key holds all
of these, so a kept page is only ever sent for a request that would have rendered it byte for
byte; access is checked before (viewer/access.py), on every request.

A page whose messages were cut short by the page's formatting budget is not kept: the next
view may have the time to format them. Bounded by bytes (the compressed page and the text of
its messages, which the key holds), least recently used dropped first.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from flask import Flask, g, render_template, request, Response

from .history import Slice
from .i18n import locale_name
from .links import Reader
from .renderer import presentation
from .renderer.message_cache import bare
from .renderer.tools import render_key

KEEP_SECONDS = 10.0  # the printed header's time is at most this old (static/chat.js: exact)
CUT_SHORT = "page_cut_short"  # flag on ``g``: a message on this page was formatted plainly


class PageCache:
    """Compressed pages by everything that makes them, least recently used dropped first."""

    def __init__(self, max_bytes: int, compress: Callable[[Response], Response], zone,
                 seconds: float = KEEP_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.max_bytes = max_bytes
        self.compress = compress  # Flask-Compress's hook: a kept page is kept as sent
        self.zone = zone
        self.seconds = seconds
        self.clock = clock
        self._items: OrderedDict[tuple, tuple[float, bytes, str | None, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def render(self, template: str, page: Slice, reader: Reader) -> Response:
        """``template`` with ``page`` for ``reader``, as sent the last time it was the same."""
        if self.max_bytes <= 0:
            return self._made(template, page, reader)
        key = self._key(template, page)
        now = self.clock()
        with self._lock:
            kept = self._items.get(key)
            if kept is not None:
                if now - kept[0] < self.seconds:
                    self._items.move_to_end(key)
                    return _response(kept[1], kept[2])
                self._drop(key)
        response = self._made(template, page, reader)
        if not g.get(CUT_SHORT):
            self._keep(self._key(template, page, bare), now, response, page)
        return response

    def _made(self, template: str, page: Slice, reader: Reader) -> Response:
        return self.compress(Response(render_template(template, page=page, reader=reader,
                                                      panel=None), mimetype="text/html"))

    def _key(self, template: str, page: Slice, shown=None) -> tuple:
        """Everything ``template`` makes of ``page`` depends on, each message as ``shown``
        gives it if given (equal to it, as messages compare)."""
        messages, after = page.messages, page.after
        if shown is not None:
            messages, after = list(map(shown, messages)), after and shown(after)
        # Messages compare without ``extra`` and ``content``: render_key holds what of extra
        # a message's HTML shows (its tool calls), as the rendered-message cache's key does.
        return (template, request.query_string, request.script_root, locale_name(),
                request.headers.get("Accept-Encoding", ""), presentation.local_today(self.zone),
                tuple(zip(messages, map(render_key, page.messages), strict=True)),
                after, page.boundary, page.depth, page.anchor, page.shown, page.next_limit,
                page.max_limit, page.limit, page.newer, page.live_seconds, page.ids,
                page.target, page.missing)

    def _keep(self, key: tuple, now: float, response: Response, page: Slice) -> None:
        body = response.get_data()
        # What the entry holds: the page, the request's text in the key, the messages' text.
        size = len(body) + len(request.query_string) + len(
            request.headers.get("Accept-Encoding", "")) + sum(
            len(part.text) for message in page.messages for part in message.parts)
        if size > self.max_bytes // 8:  # no one page may crowd out the rest
            return
        with self._lock:
            if key in self._items:
                self._drop(key)
            self._items[key] = (now, body, response.headers.get("Content-Encoding"), size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                self._bytes -= self._items.popitem(last=False)[1][3]

    def _drop(self, key: tuple) -> None:
        self._bytes -= self._items.pop(key)[3]

    def __len__(self) -> int:
        return len(self._items)


def _response(body: bytes, encoding: str | None) -> Response:
    response = Response(body, mimetype="text/html")
    response.headers["Vary"] = "Accept-Encoding"  # as the compression hook leaves it
    if encoding:
        response.headers["Content-Encoding"] = encoding
    return response


def register(app: Flask, compress: Callable[[Response], Response]) -> None:
    """Keep pages in ``RENDERED_PAGE_CACHE_BYTES`` (0: none), compressed by ``compress``."""
    app.extensions["pages"] = PageCache(app.config["RENDERED_PAGE_CACHE_BYTES"], compress,
                                        app.config["DISPLAY_TIMEZONE"])
