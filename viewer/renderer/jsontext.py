"""JSON text indented for reading, at a bounded cost: tool calls' arguments, tools' answers.

``pretty_json`` writes one JSON object or array as ``json.dumps(value, indent=2,
ensure_ascii=False)`` would, but keeps what the writer typed that Python would change:
numbers as written (``1.50``, ``1e400``, 5,000-digit integers), keys repeated in an object,
and the order of keys. It gives up (None, so that the text is shown as typed) on anything
else: text that is not JSON, nesting deeper than ``MAX_DEPTH``, or a result longer than the
caller's limit. Indentation is what makes JSON grow (each level of ``[[[[0]]]]`` adds a line
and two spaces to every line inside it), so the limit is checked as the text is written, and
the writing is a loop, not a recursion that deep JSON could exhaust.
"""

from __future__ import annotations

import json
import time

MAX_CHARACTERS = 20_000  # longer text is not parsed (as for Markdown: formatting.py)
MAX_DEPTH = 32
CHECK_EVERY = 256  # pieces written between two looks at the clock
INDENT = "  "


class _Number(str):
    """A number, as it was written."""


class _Object(list):
    """An object's (key, value) pairs, in order, repeated keys kept."""


_NOTHING = object()  # no value to write (a container was closed)


def _parse(text: str) -> object:
    return json.loads(text, parse_int=_Number, parse_float=_Number, parse_constant=_Number,
                      object_pairs_hook=_Object)


def pretty_json(text: str, limit: int, deadline: float = float("inf")) -> str | None:
    """``text`` indented when it is a JSON object or array, within ``limit`` characters and
    before ``deadline`` (thread CPU time)."""
    start = text.lstrip()[:1]
    if start not in ("{", "[") or len(text) > MAX_CHARACTERS:
        return None
    try:
        value = _parse(text)
    except (ValueError, RecursionError):  # not JSON; nesting deeper than Python's stack
        return None
    return _written(value, limit, deadline)


def pretty_value(value: object, limit: int, deadline: float = float("inf")) -> str | None:
    """``value`` (as ``json.loads`` gives it) as indented JSON, as ``pretty_json``."""
    return _written(value, limit, deadline)


def _written(value: object, limit: int, deadline: float) -> str | None:
    out: list[str] = []
    size = 0
    # The containers being written, innermost last: [their children, whether an object,
    # whether none has been written yet].
    frames: list[list] = []
    prefix = ""
    while True:
        if value is not _NOTHING:
            if isinstance(value, dict | list | tuple):
                if len(frames) >= MAX_DEPTH:
                    return None
                is_object = isinstance(value, _Object | dict)
                frames.append([iter(value.items() if isinstance(value, dict) else value),
                               is_object, True])
                piece = prefix + ("{" if is_object else "[")
            else:
                scalar = _scalar(value)
                if scalar is None:
                    return None
                piece = prefix + scalar
            size += len(piece)
            if size > limit:
                return None
            out.append(piece)
            if len(out) % CHECK_EVERY == 0 and time.thread_time() > deadline:
                return None
        if not frames:
            written = "".join(out)
            # "\ud800" is valid JSON, but a lone surrogate cannot be sent as UTF-8: "?".
            return written if written.isascii() else written.encode("utf-8", "replace").decode()
        frame = frames[-1]
        child = next(frame[0], _NOTHING)
        if child is _NOTHING:
            frames.pop()
            closing = "}" if frame[1] else "]"
            piece = closing if frame[2] else "\n" + INDENT * len(frames) + closing
            size += len(piece)
            if size > limit:
                return None
            out.append(piece)
            value = _NOTHING
            continue
        prefix = ("\n" if frame[2] else ",\n") + INDENT * len(frames)
        frame[2] = False
        if frame[1]:
            key, value = child
            prefix += _key(key) + ": "
        else:
            value = child


def _key(key: object) -> str:
    return json.dumps(key if isinstance(key, str) else str(key), ensure_ascii=False)


def _scalar(value: object) -> str | None:
    """A string, number, true, false or null as JSON (None: cannot be written)."""
    if isinstance(value, _Number):
        return str.__str__(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        try:
            return json.dumps(value)
        except ValueError:  # an integer too long for Python to write
            return None
    return json.dumps(str(value), ensure_ascii=False)
