"""The pages: landing, a conversation (full or as a widget), "load earlier", and health."""

from __future__ import annotations

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for

from memos_api import MemOSError
from memos_api.local import DEMO_CONVERSATION_ID, DEMO_USER_ID, LocalStore

from . import history
from .access import conversation_view, grant
from .failures import describe, FRAGMENT_ERROR_HEADERS
from .validation import read_anchor, read_count

bp = Blueprint("chat", __name__)
LAYOUTS = {"page": ("chat.html", "chat.chat"), "embed": ("embed.html", "chat.embed")}


def _source():
    return current_app.extensions["memos_source"]


def _access():
    config = current_app.config
    signed = config["VIEWER_ACCESS"] == "signed"
    return grant(request.args, config["EMBED_SECRET"] if signed else None)


@bp.get("/")
def index():
    """The landing page: a form to open any conversation in open mode, and the demo."""
    open_access = current_app.config["VIEWER_ACCESS"] == "open"
    # Only the embedded store holds the demo conversation (seeded at start).
    demo = open_access and isinstance(_source().source, LocalStore)
    demo_url = url_for("chat.chat", user_id=DEMO_USER_ID,
                       conversation_id=DEMO_CONVERSATION_ID) if demo else None
    return render_template("index.html", open_access=open_access, demo_url=demo_url)


@bp.get("/chat")
@conversation_view
def chat():
    """A conversation's newest messages, as a page."""
    return _conversation("page")


@bp.get("/embed")
@conversation_view
def embed():
    """The same conversation, chromeless, for an iframe on another site."""
    return _conversation("embed")


def _conversation(layout: str):
    template, endpoint = LAYOUTS[layout]
    access = _access()
    config = current_app.config
    limit = read_count(request.args, "limit", config["CHAT_PAGE_SIZE"], config["MEMOS_MAX_LIMIT"])
    context = {"access": access, "layout": layout, "page_endpoint": endpoint}
    try:
        page = history.latest(_source(), access.user_id, access.conversation_id, limit,
                              config["MEMOS_MAX_LIMIT"])
    except MemOSError as error:
        status, message, headers = describe(error)
        # Never **request.args: url_for reads endpoint=, _method=, _external=... as its own.
        retry = url_for(endpoint, **access.params, theme=g.theme,
                        limit=limit if request.args.get("limit") else None)
        return render_template(template, error=message, retry_url=retry, **context), \
            status, headers
    return render_template(template, page=page, shown=len(page.messages), **context)


@bp.get("/chat/older")
@conversation_view
def older():
    """The messages before those on screen, as an htmx fragment to put above them."""
    access = _access()
    config = current_app.config
    cap = config["MEMOS_MAX_LIMIT"]
    layout = "embed" if request.args.get("layout") == "embed" else "page"
    endpoint = LAYOUTS[layout][1]
    shown = read_count(request.args, "shown", None, cap)
    bigger_page = url_for(endpoint, **access.params, theme=g.theme,
                          limit=min(cap, shown + config["CHAT_PAGE_SIZE"]))
    if "HX-Request" not in request.headers:  # not htmx: the full page does the same job
        return redirect(bigger_page)
    anchor = read_anchor(request.args)
    depth = read_count(request.args, "depth", None, cap)
    context = {"access": access, "layout": layout, "page_endpoint": endpoint, "shown": shown}
    try:
        page = history.older(_source(), access.user_id, access.conversation_id, anchor, depth,
                             config["CHAT_PAGE_SIZE"], cap)
    except (MemOSError, history.ConversationChanged) as error:
        status, message, headers = describe(error)
        headers.update(FRAGMENT_ERROR_HEADERS)
        retry = {"anchor": anchor, "depth": depth} if status != 409 else None
        return render_template("partials/load_error.html", error=message, retry=retry,
                               reload_url=bigger_page, **context), status, headers
    context["shown"] = shown + len(page.messages)
    return render_template("partials/older.html", page=page, **context)


@bp.get("/healthz")
def healthz():
    """Liveness: the process answers."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():
    """Readiness: the message source answers (checked at most every few seconds)."""
    ready, detail = current_app.extensions["readiness"]()
    body = {"status": "ready" if ready else "unavailable", "detail": detail}
    return body, 200 if ready else 503
