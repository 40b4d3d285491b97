"""The pages: landing, a conversation, its "load earlier" fragment, and health."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from memos_api import MemOSError
from memos_api.local import DEMO_CONVERSATION_ID, DEMO_USER_ID

from . import history
from .failures import describe
from .validation import read_anchor, read_conversation, read_count

bp = Blueprint("chat", __name__)


def _source():
    return current_app.extensions["memos_source"]


@bp.get("/")
def index():
    """The landing page: the demo conversation and a form to open any other."""
    return render_template("index.html", demo_user=DEMO_USER_ID,
                           demo_conversation=DEMO_CONVERSATION_ID)


@bp.get("/chat")
def chat():
    """A conversation's newest messages, rendered in full."""
    user_id, conversation_id = read_conversation(request.args)
    config = current_app.config
    limit = read_count(request.args, "limit", config["CHAT_PAGE_SIZE"], config["MEMOS_MAX_LIMIT"])
    context = {"user_id": user_id, "conversation_id": conversation_id}
    try:
        page = history.latest(_source(), user_id, conversation_id, limit,
                              config["MEMOS_MAX_LIMIT"])
    except MemOSError as error:
        status, message, headers = describe(error)
        retry = url_for("chat.chat", **request.args)
        return render_template("chat.html", error=message, retry_url=retry, **context), \
            status, headers
    return render_template("chat.html", page=page, shown=len(page.messages), **context)


@bp.get("/chat/older")
def older():
    """The messages before those on screen, as an htmx fragment to put above them."""
    user_id, conversation_id = read_conversation(request.args)
    config = current_app.config
    cap = config["MEMOS_MAX_LIMIT"]
    shown = read_count(request.args, "shown", None, cap)
    if "HX-Request" not in request.headers:  # not htmx: the full page does the same job
        return redirect(url_for("chat.chat", user_id=user_id, conversation_id=conversation_id,
                                limit=min(cap, shown + config["CHAT_PAGE_SIZE"])))
    anchor = read_anchor(request.args)
    depth = read_count(request.args, "depth", None, cap)
    context = {"user_id": user_id, "conversation_id": conversation_id}
    try:
        page = history.older(_source(), user_id, conversation_id, anchor, depth,
                             config["CHAT_PAGE_SIZE"], cap)
    except (MemOSError, history.ConversationChanged) as error:
        status, message, headers = describe(error)
        headers.update({"HX-Retarget": "#history-head", "HX-Reswap": "innerHTML"})
        retry = {"anchor": anchor, "depth": depth} if status != 409 else None
        reload_url = url_for("chat.chat", user_id=user_id, conversation_id=conversation_id,
                             limit=min(cap, shown + config["CHAT_PAGE_SIZE"]))
        return render_template("partials/load_error.html", error=message, retry=retry,
                               reload_url=reload_url, shown=shown, **context), status, headers
    return render_template("partials/older.html", page=page,
                           shown=shown + len(page.messages), **context)


@bp.get("/healthz")
def healthz():
    """Liveness: the process answers."""
    return {"status": "ok"}
