"""Checks on query-string input; each failure is a 400 that says what was wrong."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime

from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest

from memos_api.timestamps import in_range

from .i18n import gettext
from .i18n import lazy_gettext as _l

MAX_ID_LENGTH = 100  # MemOS's own limit (its errors 40010 and 40011)
_ANCHOR = re.compile(r"[1-9]\.[0-9a-f]{16}")
MESSAGE_HEX_LENGTH = 12  # a message's element id is "m-" and this many hex digits (viewer.history)
EXPORT_FORMATS = ("json", "md", "txt")  # what /chat/export writes (viewer/export.py)
_HEX = frozenset("0123456789abcdef")
NOTHING_SHOWN = "0"  # the live anchor of an empty conversation (viewer.history)
MAX_QUERY_LENGTH = 200  # characters in a search (find in the conversation; memory search)
# Invisible characters that reorder the text after them (embeddings, overrides, isolates): in
# a search they only hide what it really is (the "Trojan Source" trick).
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


# Every character of the categories Cc, Cs, Zl and Zp (fixed by Unicode: the tests check each
# code point against unicodedata): one search instead of a category lookup per character.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029]")


def has_controls(value: str) -> bool:
    """Whether ``value`` holds a control character, a lone surrogate or a line or paragraph
    separator: never part of an id or a search."""
    return _CONTROLS.search(value) is not None


class MissingConversation(BadRequest):
    """An address without the ids that name its conversation (its page says so first)."""

    heading = _l("This link is missing its conversation")  # its error page's (viewer/errors.py)


def check_id(value: object, maximum: int = MAX_ID_LENGTH) -> str | None:
    """What is wrong with an id (a phrase), or None when it is usable."""
    if not isinstance(value, str):
        return gettext("it is not text")
    if value == "":
        return gettext("it is empty")
    if len(value) > maximum:
        return gettext("it is %(length)s characters long; MemOS allows at most %(maximum)s",
                       length=len(value), maximum=maximum)
    if value.strip() == "":
        return gettext("it is blank")
    if has_controls(value):
        return gettext("it contains control characters")
    return None


def read_id(args: Mapping[str, str], name: str, label: str) -> str:
    """A user or conversation id: present, at most 100 characters, no control characters."""
    value = args.get(name)
    if value is None or value == "":
        raise MissingConversation(gettext("The %(label)s is missing: add ?%(name)s=… to the "
                                          "address.", label=label, name=name))
    problem = check_id(value)
    if problem:
        raise BadRequest(gettext("The %(label)s is unusable: %(problem)s.", label=label,
                                 problem=problem))
    return value


def read_conversation(args: Mapping[str, str]) -> tuple[str, str]:
    """The ``user_id`` and ``conversation_id`` of a request."""
    # The labels are translated only for an error: a page that reads well needs no catalog.
    return (read_id(args, "user_id", _l("user id")),
            read_id(args, "conversation_id", _l("conversation id")))


def read_count(args: Mapping[str, str], name: str, required: bool = False) -> int | None:
    """A whole number from 1 up, or None when absent and not ``required``."""
    raw = args.get(name)
    if raw is None or raw == "":
        if required:
            raise BadRequest(gettext("The %(name)s parameter is missing.", name=name))
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
        raise BadRequest(gettext("The %(name)s must be a whole number from 1 up, not "
                                 "“%(value)s”.", name=name, value=raw[:20]))
    value = int(raw)
    if value < 1:
        raise BadRequest(gettext("The %(name)s must be at least 1, not %(value)s.", name=name,
                                 value=value))
    return value


def read_anchor(args: Mapping[str, str]) -> str:
    """The token naming the oldest messages already on screen (see viewer.history)."""
    value = args.get("anchor", "")
    if not _ANCHOR.fullmatch(value):
        raise BadRequest(gettext("The anchor parameter is missing or malformed; reload the "
                                 "page."))
    return value


def read_after(args: Mapping[str, str]) -> str:
    """The token naming the newest messages on screen, for a live check (see viewer.history)."""
    value = args.get("after", "")
    if value != NOTHING_SHOWN and not _ANCHOR.fullmatch(value):
        raise BadRequest(gettext("The after parameter is missing or malformed; reload the "
                                 "page."))
    return value


def read_since(args: Mapping[str, str]) -> datetime | None:
    """When the newest message on screen was written (ISO 8601 with an offset), if known."""
    raw = args.get("since", "")
    if raw == "":
        return None
    try:
        moment = datetime.fromisoformat(raw) if len(raw) <= 40 else None
    except ValueError:
        moment = None
    # A moment at the edge of what datetime holds would overflow when shown in a zone.
    if moment is None or moment.tzinfo is None or not in_range(moment):
        raise BadRequest(gettext("The since parameter must be a time with its offset; reload "
                                 "the page."))
    return moment


def read_format(args: Mapping[str, str]) -> str:
    """The ``format`` an export asks for: json, md or txt, else a 400 naming them."""
    value = args.get("format")
    if value is None or value == "":
        raise BadRequest(gettext("The format is missing: add &format=json, md or txt to the "
                                 "address."))
    if value not in EXPORT_FORMATS:
        raise BadRequest(gettext("The format must be json, md or txt, not “%(value)s”.",
                                 value=value[:20]))
    return value


def read_message(args: MultiDict[str, str]) -> str | None:
    """The message a permalink names (``?message=``: 12 lowercase hex digits), or None."""
    values = args.getlist("message")
    if not values:
        return None
    if len(values) > 1:
        raise BadRequest(gettext("The message parameter is given %(count)s times; a link names "
                                 "one message.", count=len(values)))
    value = values[0]
    if value == "":
        problem = gettext("it is empty")
    elif len(value) != MESSAGE_HEX_LENGTH:
        problem = gettext("it is %(length)s characters long", length=len(value))
    elif not _HEX.issuperset(value):
        problem = gettext("it has characters other than 0–9 and a–f")
    else:
        return value
    raise BadRequest(gettext("The message parameter must be the %(length)s characters (0–9, "
                             "a–f) of a message's link: %(problem)s.",
                             length=MESSAGE_HEX_LENGTH, problem=problem))


def read_query(args: MultiDict[str, str], name: str = "q") -> str | None:
    """A search (``?q=``), its ends trimmed; None when absent or blank (the page as usual).

    At most MAX_QUERY_LENGTH characters, without control characters or the invisible ones
    that reorder text: else a 400 that says which.
    """
    values = args.getlist(name)
    if not values:
        return None
    if len(values) > 1:
        raise BadRequest(gettext("The search is given %(count)s times; search for one thing "
                                 "at a time.", count=len(values)))
    value = values[0]
    if len(value) > MAX_QUERY_LENGTH:
        raise BadRequest(gettext("The search is %(length)s characters long; it can be at most "
                                 "%(maximum)s.", length=len(value), maximum=MAX_QUERY_LENGTH))
    if has_controls(value):
        raise BadRequest(gettext("The search contains control characters (such as line breaks "
                                 "or tabs); remove them and search again."))
    if not _BIDI_CONTROLS.isdisjoint(value):
        raise BadRequest(gettext("The search contains invisible characters that change the "
                                 "direction of text; remove them and search again."))
    return value.strip() or None
