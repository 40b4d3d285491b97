"""The pages: landing, a conversation (full or as a widget), "load earlier", live checks, the
memory panel and its search, health.

Each conversation view reads its input, asks ``History`` (built once per app) and renders what
it returns; the URLs a page offers come with the slices it renders.
"""

from __future__ import annotations

from flask import abort, Blueprint, current_app, redirect, render_template, request, url_for

from memos_api import MemOSError
from memos_api.local import DEMO_CONVERSATION_ID, DEMO_USER_ID, LocalStore

from . import errors, export, find
from .accent import CANONICAL, stylesheet
from .access import conversation_view, is_open
from .history import ConversationChanged, History
from .links import fragment_layout, kept_choices, read_memory_reader, read_panel, read_reader
from .memory_panel import MemoryPanel
from .page_cache import PageCache
from .validation import (
    read_after,
    read_anchor,
    read_count,
    read_format,
    read_message,
    read_query,
    read_since,
)

bp = Blueprint("chat", __name__)
TEMPLATES = {"chat": "chat.html", "embed": "embed.html"}


def history() -> History:
    """This app's ``History`` (built in ``create_app``)."""
    return current_app.extensions["history"]


def pages() -> PageCache:
    """This app's ``PageCache`` (built in ``create_app``)."""
    return current_app.extensions["pages"]


def memories() -> MemoryPanel:
    """This app's ``MemoryPanel`` (built in ``create_app``)."""
    return current_app.extensions["memories"]


@bp.get("/")
def index():
    """The landing page: a form to open any conversation in open mode, and the demo."""
    open_access = is_open()
    # Only the embedded store holds the demo conversation (seeded at start).
    demo = open_access and isinstance(history().source.source, LocalStore)
    kept = kept_choices()
    demo_url = url_for("chat.chat", user_id=DEMO_USER_ID, conversation_id=DEMO_CONVERSATION_ID,
                       **kept) if demo else None
    return render_template("index.html", open_access=open_access, demo_url=demo_url,
                           kept={name: value for name, value in kept.items() if value})


@bp.get("/chat")
@conversation_view
def chat():
    """A conversation's newest messages, as a page."""
    return _conversation("chat")


@bp.get("/embed")
@conversation_view
def embed():
    """The same conversation, chromeless, for an iframe on another site."""
    return _conversation("embed")


def _conversation(layout: str):
    reader = read_reader(layout)
    query = read_query(request.args)  # ?q=: the messages that hold it, instead
    if query:
        return _found(layout, reader, query)
    limit = read_count(request.args, "limit")
    message = read_message(request.args)  # a permalink: show the window around it
    panel = read_panel(reader)  # the memory panel open: a page made for no JavaScript
    searched = read_query(request.args, "memory_search") if panel else None
    try:
        page = (history().around(reader, message, limit) if message
                else history().latest(reader, limit))
    except MemOSError as error:
        return errors.page(TEMPLATES[layout], error, reader,
                           history().page_url(reader, limit, message),
                           panel=memories().panel(reader, query=searched) if panel else None)
    if not panel:
        return pages().render(TEMPLATES[layout], page, reader)
    return render_template(TEMPLATES[layout], page=page, reader=reader, panel=memories().panel(
        reader, page.messages, page.ids, searched))


def _found(layout: str, reader, query: str):
    """The page listing the messages that hold ``query``: one read, the export's (as much
    of the conversation as MemOS returns), searched here (viewer/find.py)."""
    try:
        transcript = history().export(reader)
    except MemOSError as error:
        return errors.page(TEMPLATES[layout], error, reader, reader.found(query))
    found = find.find(transcript, query, current_app.config["DISPLAY_TIMEZONE"])
    return render_template(TEMPLATES[layout], found=found, reader=reader)


@bp.get("/chat/older")
@conversation_view
def older():
    """The messages before those on screen, as an htmx fragment to put above them."""
    reader = read_reader(fragment_layout())
    shown = read_count(request.args, "shown", required=True)
    expanded = history().expanded_url(reader, shown)
    if "HX-Request" not in request.headers:  # not htmx: the full page does the same job
        return redirect(expanded)
    anchor, depth = read_anchor(request.args), read_count(request.args, "depth", required=True)
    try:
        page = history().older(reader, anchor, depth, shown)
    except (MemOSError, ConversationChanged) as error:
        return errors.fragment(error, expanded, reader.older(shown, anchor, depth))
    return render_template("partials/older.html", page=page, reader=reader)


@bp.get("/chat/newer")
@conversation_view
def newer():
    """Live check: the messages after the newest on screen, to put below them; 204 if none.

    ``Live-Refresh: 1``: the host page asked for this check because its chat just posted, so
    an answer shared from moments ago (viewer/sharing.py) would miss what it posted.
    """
    reader = read_reader(fragment_layout())
    if "HX-Request" not in request.headers:  # a plain request: the page has them all
        return redirect(reader.page())
    after, since = read_after(request.args), read_since(request.args)
    refresh = request.headers.get("Live-Refresh") == "1"
    try:
        fresh = history().newer(reader, after, since, refresh=refresh)
    except (MemOSError, ConversationChanged) as error:
        return errors.live(error, reader.page())
    if not fresh.messages:
        return "", 204  # nothing new: no body, no template
    return render_template("partials/newer.html", fresh=fresh), 200, {
        "Live-Next": fresh.newer_url}


@bp.get("/chat/memories", endpoint="memories")
@conversation_view
def memory_panel():
    """The memory panel, as an htmx fragment beside (or over) the conversation."""
    reader = read_memory_reader()
    if "HX-Request" not in request.headers:  # not htmx: the page with the panel open
        return redirect(reader.page(panel=True))
    panel = memories().panel(reader)
    return render_template("partials/memories.html", panel=panel), panel.status


@bp.get("/chat/memories/search", endpoint="memory_search")
@conversation_view
def memory_search():
    """A search of the user's memories, this conversation's first, as an htmx fragment."""
    reader = read_memory_reader()
    query = read_query(request.args)
    if "HX-Request" not in request.headers:  # the search form without JavaScript
        return redirect(reader.page(panel=True, memory_search=query))
    results = memories().search(reader, query) if query else None
    return render_template("partials/memory_results.html", results=results,
                           reader=reader), results.status if results else 200


@bp.get("/chat/export", endpoint="export")
@conversation_view
def export_conversation():
    """The conversation as a download: JSON, Markdown or text (viewer/export.py)."""
    reader = read_reader("chat")  # first: without access, every format is a 403
    kind = read_format(request.args)
    release = export.start_download()  # 503 when too many are being sent
    try:
        transcript = history().export(reader)
        config = current_app.config
        made = export.make(transcript, kind, config["MEMOS_TIMEZONE"],
                           config["DISPLAY_TIMEZONE"])
    except MemOSError as error:
        release()
        return errors.page(TEMPLATES["chat"], error, reader, reader.downloads()[kind])
    except BaseException:
        release()
        raise
    return export.response(made, release)


@bp.get("/accent/<colour>.css")
def accent(colour: str):
    """The custom properties giving a page the accent ``#colour`` (viewer/accent.py). Pages
    link it by its canonical name, six lowercase hex digits; no other name is served."""
    if not CANONICAL.fullmatch(colour):
        abort(404)
    return stylesheet("#" + colour), 200, {"Content-Type": "text/css; charset=utf-8"}


@bp.get("/healthz")
def healthz():
    """Liveness: the process answers."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():
    """Readiness: the message source answers (checked at most every few seconds), with the
    breaker's state and the shared store's."""
    return current_app.extensions["readiness"].report()
