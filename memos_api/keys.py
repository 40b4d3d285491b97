"""API keys as given in settings and on command lines: stripped, checked, never shown."""

from __future__ import annotations

# The characters people most often leave in a key by accident, by name.
_NAMED = {"\r": "a carriage return (\\r)", "\n": "a line feed (\\n)", "\x00": "a NUL byte"}
_CR_HINT = " (a Windows line ending left by a .env file?)"


def check_api_key(value: str | None, name: str) -> str | None:
    """Return ``value`` without surrounding spaces, or None when it is unset or empty.

    Raise ValueError when the key cannot be sent in an ``Authorization`` header: it must be
    printable ASCII without spaces. The message names ``name`` (the setting or option) and
    what is wrong, and never the key itself: it ends up in logs and tracebacks.
    """
    if value is None or value == "":
        return None
    key = value.strip(" \t")  # only spaces and tabs: a stray \r or \n is reported, not hidden
    if not key:
        raise ValueError(f"{name} is set but blank; unset it, or give the key.")
    for index, char in enumerate(key):
        if "\x21" <= char <= "\x7e":
            continue
        where = "at its end" if index == len(key) - 1 else "inside it"
        hint = _CR_HINT if char == "\r" else ""
        raise ValueError(f"{name} has {_describe(char)} {where}{hint}; an API key is printable "
                         "ASCII without spaces. (The key itself is not shown.)")
    return key


def _describe(char: str) -> str:
    if char in _NAMED:
        return _NAMED[char]
    if char == " ":
        return "a space"
    if ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F:
        return f"a control character (U+{ord(char):04X})"
    return "a character outside ASCII"
