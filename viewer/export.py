"""A conversation as a file: JSON in the ``/add/message`` shape, a Markdown transcript, or text.

``History.export`` reads the conversation once, as widely as the API allows, before anything
is sent, so a failure is an error page, never half a download; this module writes that
``Transcript`` as a file while it is sent, a message at a time.

- **JSON** is the ``/add/message`` request body (``user_id``, ``conversation_id``, ``messages``
  with ``role``, ``content``, ``chat_time``, and ``tool_calls``/``tool_call_id`` when a message
  had them), plus ``truncated`` at the top. ``content`` is written as MemOS sent it (a list of
  parts stays that list), ``chat_time`` too when it was text; otherwise the time MemOS stored
  it, as ``YYYY-MM-DD HH:MM:SS`` in ``MEMOS_TIMEZONE``, which is how it reads such times back.
- **Markdown** reads as a transcript: the conversation id as the title, a day heading for each
  day, a heading per message with its author and time. Another viewer may render it, so it
  carries no raw HTML and no link it could run, in any common reader (CommonMark ones, and
  Python-Markdown and showdown, which take more as HTML): users' and tools' words (shown as
  typed) are always an indented code block, and assistant or system Markdown is one too
  unless, parsed alone, it holds no HTML, no heading of its own (it would break the
  transcript's outline), no unclosed block (checked by a heading put after it) and only
  http(s)/mailto links and definitions, and, read as text, no ``<`` at all, no attribute
  list and no other scheme where any reader might take an address (``portable``). Everything
  else (ids, roles, labels) is escaped character by character, ``<``, ``>`` and ``&`` as
  entities.
- **Text** has the same structure without markup: content lines indented four spaces.

Markdown and text show a message's first ``MAX_PARTS`` parts, as pages do, and say how many
more it has; JSON keeps them all.

Control characters other than tabs and newlines are shown escaped (``\\x1b``) in Markdown and
text, so a file sent to a terminal cannot act on it, and so are line and paragraph separators
and the marks that reorder text (``\\u202e``), so no line can pose as another; JSON keeps
every character.
"""

from __future__ import annotations

import hashlib
import html
import json
import math
import re
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, tzinfo
from functools import reduce
from operator import or_

import pyromark
from babel.dates import format_datetime, format_time
from flask import current_app, Flask, Response, stream_with_context
from werkzeug.exceptions import ServiceUnavailable

from memos_api import Message

from .bulkhead import Bulkhead
from .history import Transcript
from .i18n import gettext, locale_name, ngettext
from .i18n import lazy_gettext as _l
from .renderer.formatting import MARKDOWN_CHARACTERS, MARKDOWN_ROLES, PAGE_SECONDS
from .renderer.markdown import is_safe_url
from .renderer.plain import more_parts
from .renderer.presentation import day_breaks
from .templating import role_label, written_date

# format -> (Content-Type, file name extension)
FORMATS = {"json": ("application/json; charset=utf-8", "json"),  # by validation.EXPORT_FORMATS
           "md": ("text/markdown; charset=utf-8", "md"),
           "txt": ("text/plain; charset=utf-8", "txt")}
API_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # how MemOS writes times (the local store too)
API_EXTRAS = ("tool_calls", "tool_call_id")  # optional /add/message fields a message may carry
CHECK_SECONDS = PAGE_SECONDS  # thread CPU one Markdown export may spend checking content
NAME_CHARACTERS = 64  # of the conversation id, in a file name
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
# C0 and C1 controls and DEL, but tab and newline; line and paragraph separators, at which
# some readers (JavaScript's ^ and $) break lines, so that a line could begin with HTML or a
# heading there; and the marks that reorder text (bidirectional overrides, embeddings,
# isolates and marks), with which a line can show something else than it holds. Then also
# tab and newline, for one-line fields.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e"
                      "\u2066-\u2069]")
_ONE_LINE_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e"
                               "\u2066-\u2069]")
# Marks that make markup anywhere in a line, and those that do only at its start (a list
# item, a quote, an underline): escaped with a backslash, which CommonMark allows before any
# ASCII punctuation; ``[`` escaped makes no link. ``<``, ``>`` and ``&`` are written as
# entities instead: Python-Markdown keeps a backslash before ``<``, and so the HTML after it.
_MARKUP = re.compile(r"([\\`*_\[\]|~^#{}$])")
_ENTITIES = str.maketrans({"<": "&lt;", ">": "&gt;", "&": "&amp;"})
_LEADING = re.compile(r"^(\s*)([-+=>]|\d+(?=[.)]))")
# Content is checked as the most permissive viewer would read it: every extension pyromark
# has (math, wiki links, footnotes...) but metadata blocks, which only open a document.
CHECKER = pyromark.Markdown(options=reduce(or_, (
    flag for name, flag in vars(pyromark.Options).items()
    if name.startswith("ENABLE_") and not name.endswith("METADATA_BLOCKS"))))
_SENTINEL = "\n\n###### end\n"  # a heading after the content: is it still one, and the only?


@dataclass(frozen=True)
class ExportFile:
    """An export: its bytes, made as they are sent (a message at a time), type and name."""

    chunks: Iterator[bytes]
    mimetype: str
    filename: str


def make(transcript: Transcript, kind: str, memos_zone: tzinfo,
         display_zone: tzinfo) -> ExportFile:
    """``transcript`` as a file of ``kind`` (json, md, txt).

    The file is written while it is sent, a message at a time, so that a download costs a
    small multiple of its largest message in memory, not of the whole file (a 15 MB answer of
    short lines took 196 MiB as text, in a list of 1.4 million lines). The transcript is read
    before: what is written from it cannot fail.
    """
    if kind == "json":
        chunks = to_json(transcript, memos_zone)
    elif kind == "md":
        chunks = _encoded(to_markdown(transcript, display_zone))
    else:
        chunks = _encoded(to_text(transcript, display_zone))
    mimetype, extension = FORMATS[kind]
    return ExportFile(chunks, mimetype, file_name(transcript.reader.access.conversation_id,
                                                  extension))


CHUNK_CHARACTERS = 64 * 1024  # small pieces are sent together, up to about this much


def _encoded(pieces: Iterator[str]) -> Iterator[bytes]:
    """``pieces`` in UTF-8, small ones gathered into chunks, a large one on its own (never
    copied into a bigger string first)."""
    gathered: list[str] = []
    size = 0
    for piece in pieces:
        if size + len(piece) > CHUNK_CHARACTERS and gathered:
            yield "".join(gathered).encode("utf-8")
            gathered, size = [], 0
        if len(piece) > CHUNK_CHARACTERS:
            yield piece.encode("utf-8")
            continue
        gathered.append(piece)
        size += len(piece)
    if gathered:
        yield "".join(gathered).encode("utf-8")


def response(export: ExportFile, release: Callable[[], None]) -> Response:
    """The file as a download, streamed (in the request's context: its language, its zone),
    its slot released (``release``) once the server is done with it, sent or not."""
    streamed = Response(stream_with_context(export.chunks), headers={
        "Content-Type": export.mimetype,
        "Content-Disposition": f'attachment; filename="{export.filename}"'})
    streamed.call_on_close(release)  # as soon as the server closes the answer
    # And when the answer is dropped unclosed (a hook failing after the view: Flask sends a
    # 500 instead), once its chunks are: a slot lost so would be lost until a restart.
    weakref.finalize(export.chunks, release)
    return streamed


# A download holds a thread while it is sent, as long as its client takes to read it: at
# GUNICORN_SEND_TIMEOUT a write, a 20 MB one could be read for hours. Downloads at once are
# bounded (MAX_DOWNLOADS_IN_FLIGHT), so clients that read slowly, or not at all, can never hold
# the threads pages need.
DOWNLOAD_RETRY_SECONDS = 30


class DownloadsBusy(ServiceUnavailable):
    """Every download slot is taken: ``MAX_DOWNLOADS_IN_FLIGHT`` are being sent."""

    heading = _l("Too many downloads at once")  # its error page's (viewer/errors.py)


def start_download() -> Callable[[], None]:
    """A slot for one download, released by calling what is returned; 503 when
    ``MAX_DOWNLOADS_IN_FLIGHT`` downloads are already being sent."""
    release = current_app.extensions["downloads"].take()
    if release is None:
        raise DownloadsBusy(gettext("Too many downloads are being sent right now. Try again "
                                    "in a minute."), retry_after=DOWNLOAD_RETRY_SECONDS)
    return release


def init_app(app: Flask) -> None:
    """Bound the downloads sent at once to ``MAX_DOWNLOADS_IN_FLIGHT``."""
    app.extensions["downloads"] = Bulkhead(app.config["MAX_DOWNLOADS_IN_FLIGHT"])


def file_name(conversation_id: str, extension: str) -> str:
    """``conversation-<id>.<extension>``, the id reduced to letters, digits, ``.``, ``_``, ``-``
    (never empty, no leading dot); an id with none of those is named by a digest instead."""
    stem = _UNSAFE_NAME.sub("_", conversation_id).strip("._-")[:NAME_CHARACTERS].rstrip("._-")
    stem = re.sub(r"_{2,}", "_", stem)
    if not stem:
        stem = hashlib.sha256(conversation_id.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"conversation-{stem}.{extension}"


# --- JSON --------------------------------------------------------------------------------------

def to_json(transcript: Transcript, memos_zone: tzinfo) -> Iterator[bytes]:
    """The ``/add/message`` request body that stores these messages again, and ``truncated``:
    its fields one a line, and each message compact on a line of its own."""
    access = transcript.reader.access
    head = {"user_id": access.user_id, "conversation_id": access.conversation_id,
            "truncated": transcript.truncated}
    yield b"\n".join([b"{", *(b"  %s: %s," % (_json(key), _json(value))
                              for key, value in head.items())])
    if not transcript.messages:
        yield b'\n  "messages": []\n}\n'
        return
    yield b'\n  "messages": ['
    last = len(transcript.messages) - 1
    for index, message in enumerate(transcript.messages):
        yield b"\n    %s%s" % (_json(api_message(message, memos_zone)),
                                b"," if index < last else b"")
    yield b"\n  ]\n}\n"


def _json(value: object) -> bytes:
    """``value`` as compact JSON in UTF-8, every character as it is, but a lone surrogate
    (which MemOS sent escaped, and UTF-8 cannot hold) escaped again.

    Compact, not indented: Python's indenting encoder is its pure-Python one, 60 times slower
    (2.4 s for a message of 2,000,000 empty parts).
    """
    try:
        return json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value).encode("ascii")


def api_message(message: Message, memos_zone: tzinfo) -> dict:
    """One message as ``/add/message`` takes it."""
    content = message.content if message.content is not None else message.text
    item = {"role": message.role, "content": content}
    if message.chat_time is not None:
        item["chat_time"] = message.chat_time
    elif message.created_at is not None:
        item["chat_time"] = message.created_at.astimezone(memos_zone).strftime(API_TIME_FORMAT)
    item.update((key, message.extra[key]) for key in API_EXTRAS if key in message.extra)
    return item


# --- Markdown and text ---------------------------------------------------------------------

def _visible(code: int) -> str:
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


# What each control becomes, for str.translate: one pass that writes only the result, where a
# substitution would first make a list of two strings per control (15 MB of them: 1.5 GB).
_VISIBLE = {code: _visible(code) for code in range(0x10000)
            if _ONE_LINE_CONTROL.match(chr(code))}
_VISIBLE_KEEPING_LINES = {code: shown for code, shown in _VISIBLE.items()
                          if _CONTROL.match(chr(code))}


def clean(text: str) -> str:
    """``text`` with newlines for line breaks and other controls shown escaped."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.translate(_VISIBLE_KEEPING_LINES) if _CONTROL.search(text) else text


def one_line(text: str) -> str:
    """``text`` on one line: every control and line break shown escaped."""
    return text.translate(_VISIBLE) if _ONE_LINE_CONTROL.search(text) else text


def escape_markdown(text: str) -> str:
    """``text`` as Markdown that shows exactly it, on one line: no markup, no HTML."""
    escaped = _MARKUP.sub(r"\\\1", one_line(text)).translate(_ENTITIES)
    return _LEADING.sub(_escape_leading, escaped, count=1)


def _escape_leading(match: re.Match) -> str:
    space, mark = match.groups()
    if mark[0].isdigit():  # "1." or "1)": the mark is the character after the digits
        return f"{space}{mark}\\"
    return f"{space}\\{mark}"


def code_block(text: str) -> str:
    """``text`` as an indented code block: every line four spaces in.

    Not a fence: Python-Markdown and Markdown.pl know no fences without an extension, and
    read HTML at the start of a line inside one as HTML. Every Markdown reader since the
    first treats indented lines after a blank one as code, and none reads HTML in them.
    """
    return _indent(text.strip("\n"))


def renders_safely(text: str) -> bool:
    """Whether ``text``, as Markdown between two headings of the transcript, adds no HTML, no
    heading, no open block and only safe links (and link definitions) to it, read by
    CommonMark and by looser readers alike (``portable``)."""
    if len(text) > MARKDOWN_CHARACTERS or not portable(text):
        return False
    definitions = CHECKER.reference_definitions(text)
    if not all(is_safe_url(found["dest"]) for found in definitions.values()):
        return False
    headings = 0
    events = list(CHECKER.events(text + _SENTINEL))
    for event in events:
        if not isinstance(event, dict):
            continue
        (kind, value), = event.items()
        if kind in ("Html", "InlineHtml"):
            return False
        if kind == "Start" and isinstance(value, dict):
            (tag, details), = value.items()
            if tag == "Heading":
                headings += 1
            elif tag in ("Link", "Image") and not is_safe_url(details["dest_url"]):
                return False
    return headings == 1 and len(events) >= 3 and events[-2] == {"Text": "end"}


# Where a reader may take a link's address: after "](" or a definition's "]:", with spaces or a
# line break between (readers differ on those); the address runs to a space or bracket.
_DESTINATION = re.compile(r"\]\s*[(:]\s*([^\s()<>]*)")
# Python-Markdown's attr_list (in "extra", as MkDocs uses it) reads {: key=value} after a
# block or an inline element as attributes: onclick, or an href of its own.
_ATTRIBUTES = re.compile(r"\{[^{}\n]*=[^{}\n]*\}")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_IGNORED_IN_URLS = re.compile(r"[\x00-\x20\\]+")  # browsers drop tabs and newlines; and ``\``


def portable(text: str) -> bool:
    """Whether ``text`` is safe however a Markdown reader reads it, not only as CommonMark
    does: no ``<`` at all (HTML, autolinks; Python-Markdown and showdown take more as HTML
    than CommonMark, and read it inside fences they do not know), no attribute list, and
    only http(s) and mailto wherever any reader could take a link's address, its entities
    decoded and what browsers ignore in a URL dropped. Fenced code is read like the rest: a
    reader without fences reads its definitions too."""
    if "<" in text or _ATTRIBUTES.search(text):
        return False
    for match in _DESTINATION.finditer(text):
        address = _IGNORED_IN_URLS.sub("", html.unescape(match[1]))
        scheme = _SCHEME.match(address)
        if scheme and scheme[1].lower() not in ("http", "https", "mailto"):
            return False
    return True


def _part_label(kind: str, label: str) -> str:
    return f"[{kind}: {label}]" if label else f"[{kind}]"


def markdown_body(message: Message, deadline: float = math.inf) -> str:
    """A message's content as Markdown that renders safely (see the module's docstring);
    a code block without a look once this thread's CPU time is past ``deadline``. Parts past
    ``MAX_PARTS`` are counted in a note, as on the page."""
    body = _markdown_content(message, deadline)
    if message.more_parts:
        body += f"\n\n*{escape_markdown(more_parts(message.more_parts))}*"
    return body


def _markdown_content(message: Message, deadline: float) -> str:
    if not message.parts:
        return f"*{escape_markdown(gettext('(no content)'))}*"
    texts = [clean(part.text) if part.kind == "text" else None for part in message.parts]
    raw = "\n\n".join(one_line(_part_label(part.kind, part.text)) if text is None else text
                      for part, text in zip(message.parts, texts, strict=True))
    if not raw.strip():  # blank: an empty code block would show nothing either
        return f"*{escape_markdown(gettext('(no content)'))}*"
    if message.role in MARKDOWN_ROLES and time.thread_time() < deadline:
        formatted = "\n\n".join(escape_markdown(_part_label(part.kind, part.text))
                                if text is None else text.strip("\n")
                                for part, text in zip(message.parts, texts, strict=True))
        if renders_safely(formatted):
            return formatted
    return code_block(raw)


def _author(message: Message, zone: tzinfo) -> str:
    """Who wrote ``message`` and when (the time in ``zone``, in the reader's language)."""
    author = role_label(message.role)
    if message.created_at is None:
        return author
    time = format_time(message.created_at, "short", tzinfo=zone, locale=locale_name())
    return f"{author} · {time}"


def _days(messages: list[Message], zone: tzinfo) -> Iterator[tuple[str | None, Message]]:
    """Each message with the absolute date to write above it, when a new day starts."""
    # Absolute dates: a file outlives "today".
    for day_break, message in day_breaks(messages, zone, None, lambda day, _: written_date(day)):
        yield (day_break.label if day_break else None), message


def _zone_name(zone: tzinfo, moment: datetime) -> str:
    offset = moment.astimezone(zone).strftime("%z")
    utc = f"UTC{offset[:3]}:{offset[3:]}" if offset else "UTC"
    key = getattr(zone, "key", None)  # an IANA zone
    return f"{key} ({utc})" if key else utc


def _summary(transcript: Transcript, zone: tzinfo) -> list[str]:
    """The lines under the title: whose, when exported, how many, and whether all."""
    now = datetime.now(zone)
    count = len(transcript.messages)
    lines = [gettext("User: %(user)s", user=transcript.reader.access.user_id),
             gettext("Exported %(time)s (times in %(zone)s)",
                     time=format_datetime(now, "medium", tzinfo=zone, locale=locale_name()),
                     zone=_zone_name(zone, now)),
             ngettext("%(num)d message", "%(num)d messages", count)]
    if transcript.truncated:
        lines.append(gettext("Older messages may exist, but the MemOS API returns at most the "
                             "%(count)s most recent messages of a conversation.",
                             count=transcript.max_limit))
    return lines


def to_markdown(transcript: Transcript, zone: tzinfo) -> Iterator[str]:
    """The transcript in Markdown: a title, then day and message headings (see above); the
    title and summary first, then a message at a time."""
    # Checking is the costly part (a parse with every extension): crafted content gets the
    # CPU time a page gets for formatting, then is a code block, which is always safe.
    deadline = time.thread_time() + CHECK_SECONDS
    yield "\n".join([f"# {escape_markdown(transcript.reader.access.conversation_id)}", "",
                     *(f"- {escape_markdown(line)}" for line in _summary(transcript, zone))])
    for day, message in _days(transcript.messages, zone):
        if day:
            yield f"\n\n## {escape_markdown(day)}"
        yield f"\n\n### {escape_markdown(_author(message, zone))}\n\n"
        yield markdown_body(message, deadline)
    yield "\n"


def to_text(transcript: Transcript, zone: tzinfo) -> Iterator[str]:
    """The transcript as plain text: structure lines at the margin, content indented; the
    title and summary first, then a message at a time."""
    yield "\n".join([one_line(transcript.reader.access.conversation_id),
                     *(one_line(line) for line in _summary(transcript, zone))])
    for day, message in _days(transcript.messages, zone):
        if day:
            yield f"\n\n{one_line(day)}"
        yield f"\n\n{one_line(_author(message, zone))}"
        for block in _indented(message):
            yield "\n"
            yield block
    yield "\n"


def _indent(text: str) -> str:
    """``text`` with every line that is not empty indented four spaces, by a few copies of it
    (a substitution would make a list of two strings a line: 15 MB of short lines, 135 MiB)."""
    text = "    " + text.replace("\n", "\n    ")
    # Empty lines stay empty; two passes, since one skips every other line of a run.
    text = text.replace("\n    \n", "\n\n").replace("\n    \n", "\n\n")
    text = text.removeprefix("    ") if text.startswith("    \n") or text == "    " else text
    return text.removesuffix("    ") if text.endswith("\n    ") else text


def _indented(message: Message) -> Iterator[str]:
    """The message's parts, each line that is not empty indented four spaces (one pass over
    each part: a list of its lines would cost ~60 bytes a line)."""
    if not message.parts:
        yield "    " + gettext("(no content)")
    for part in message.parts:
        text = clean(part.text) if part.kind == "text" else one_line(
            _part_label(part.kind, part.text))
        yield _indent(text)
    if message.more_parts:
        yield "    " + more_parts(message.more_parts)
