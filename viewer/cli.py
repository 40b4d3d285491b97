"""Commands: ``flask import-messages`` loads a conversation (and what MemOS remembered of it);
``flask embed-url`` signs a link; ``flask revoke-link`` takes one back."""

from __future__ import annotations

import json
import sys
import time
import unicodedata
from dataclasses import dataclass
from datetime import datetime, UTC
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import click
import jwt
from flask import current_app, Flask
from flask.cli import with_appcontext

from memos_api import MemOSError
from memos_api.local.validation import memory_kind, memory_problem, PREFERENCE

from .accent import canonical
from .access import ALGORITHM, CONVERSATION_MEMORIES, MEMORY_GRANTS, new_link_id, sign
from .i18n import LANGUAGES, locale_for
from .revocation import (
    ID_ONLY_SECONDS,
    KEEP_AFTER_EXPIRY,
    MAX_LINK_ID_LENGTH,
    RevocationError,
)
from .validation import check_id

ALLOWED_KEYS = {"role", "content", "chat_time", "tool_calls", "tool_call_id"}
_PLURALS = {"message": "messages", "memory": "memories", "preference": "preferences"}
# Shown escaped: C0/C1 controls and DEL (terminal escape sequences), format characters
# (bidirectional overrides), lone surrogates (unprintable) and line/paragraph separators.
_UNPRINTABLE = ("Cc", "Cf", "Cs", "Zl", "Zp")


class _NumberTooLong(ValueError):
    """A JSON integer with more digits than Python converts."""


def printable(text: object) -> str:
    """``text`` with every character that could act on a terminal escaped (``\\x1b``)."""
    return "".join(_escape(char) if unicodedata.category(char) in _UNPRINTABLE else char
                   for char in str(text))


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 \
        else f"\\U{code:08x}"


@dataclass(frozen=True)
class ImportFile:
    """What an import file holds, checked: messages, and memories (preferences among them)."""

    messages: list[dict]
    memories: list[dict]


def read_import_file(path: Path) -> ImportFile:
    """The messages and memories of an import file.

    The file is an ``/add/message`` body (or just its message list), optionally with
    ``memories`` (``/get/memory`` items: facts, or preferences told by their ``preference``
    field) and ``preferences`` (preference items) beside ``messages``; with memories,
    ``messages`` may be left out. Every failure is a ClickException: one line, exit status 1,
    anything quoted escaped.
    """
    shown = printable(path)
    document = _read_json(path, shown)
    if not isinstance(document, dict):
        return ImportFile(_checked_messages(document, shown), [])
    memories = [*_checked_memories(document, "memories", shown),
                *_checked_memories(document, "preferences", shown)]
    seen: set[str] = set()
    for memory_id in (item.get("id") for item in memories):
        if memory_id in seen:
            raise click.ClickException(f'Two memories in {shown} have the id '
                                       f'"{printable(memory_id)}". Nothing imported.')
        if memory_id is not None:
            seen.add(memory_id)
    messages = document.get("messages")
    if memories and messages in (None, []):
        return ImportFile([], memories)
    return ImportFile(_checked_messages(messages, shown), memories)


def _read_json(path: Path, shown: str) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise click.ClickException(f"{shown} is not UTF-8 text (byte {error.start:,} is "
                                   "not valid).") from None
    except OSError as error:
        raise click.ClickException(f"{shown} cannot be read: {printable(error.strerror)}.") \
            from None
    try:
        document = json.loads(text, parse_int=_whole_number)
    except json.JSONDecodeError as error:
        raise click.ClickException(f"{shown} is not valid JSON: {printable(error)}.") from None
    except RecursionError:
        raise click.ClickException(f"{shown} is nested too deeply to read.") from None
    except _NumberTooLong as error:
        raise click.ClickException(f"{shown} holds a {error.args[0]:,}-digit number, too long "
                                   f"to read (the limit is {sys.get_int_max_str_digits():,} "
                                   "digits).") from None
    except ValueError as error:  # any other parser failure
        raise click.ClickException(f"{shown} cannot be read as JSON: {printable(error)}.") \
            from None
    return document


def _checked_messages(messages: object, shown: str) -> list[dict]:
    if not isinstance(messages, list) or not messages:
        raise click.ClickException(f"{shown} must hold a non-empty list of messages, or an "
                                   'object with one under "messages" (or with "memories").')
    for number, message in enumerate(messages, start=1):
        problem = _message_problem(message)
        if problem:
            raise click.ClickException(f"Message {number} in {shown} {problem}. "
                                       "Nothing imported.")
    return messages


def _checked_memories(document: dict, key: str, shown: str) -> list[dict]:
    """The items under ``key`` ("memories" or "preferences"), each checked."""
    items = document.get(key)
    if items is None:
        return []
    if not isinstance(items, list):
        raise click.ClickException(f'{shown} has "{key}" that is not a list. Nothing imported.')
    label, kind = ("Preference", PREFERENCE) if key == "preferences" else ("Memory", None)
    for number, item in enumerate(items, start=1):
        problem = memory_problem(item, kind)
        if not problem and kind == PREFERENCE and memory_kind(item) != PREFERENCE:
            # The store tells a preference by its fields, and would check and keep this one
            # as a fact, after the messages were stored.
            problem = 'has a "memory_value", which makes it a memory'
        if problem:
            raise click.ClickException(f"{label} {number} in {shown} {printable(problem)}. "
                                       "Nothing imported.")
    return items


def _whole_number(digits: str) -> int:
    try:
        return int(digits)
    except ValueError:  # over sys.get_int_max_str_digits(): int() refuses to convert it
        raise _NumberTooLong(len(digits.lstrip("-"))) from None


def _message_problem(message: object) -> str | None:
    if not isinstance(message, dict):
        return "is not a JSON object"
    if not isinstance(message.get("role"), str) or not message["role"]:
        return 'has no "role" string'
    if not isinstance(message.get("content"), (str, list)):
        return 'has no "content" (a string or a list of parts)'
    if message.get("chat_time") is not None and not isinstance(message["chat_time"], str):
        return 'has a "chat_time" that is not a string'
    unknown = set(message) - ALLOWED_KEYS
    if unknown:
        return f"has unknown fields: {', '.join(printable(name) for name in sorted(unknown))}"
    return None


def _check_id(value: str, label: str) -> str:
    problem = check_id(value)
    if problem:
        raise click.BadParameter(f"the {label} is unusable: {problem}.")
    return value


@click.command("import-messages")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--user", "user_id", required=True, help="user_id to store the messages under.")
@click.option("--conversation", "conversation_id", required=True,
              help="conversation_id to store the messages under.")
@with_appcontext
def import_messages(file: Path, user_id: str, conversation_id: str) -> None:
    """Import FILE (JSON in the /add/message shape) into a conversation.

    Beside "messages", the file may hold "memories" and "preferences" (/get/memory items),
    which only the embedded store can take.
    """
    _check_id(user_id, "user id")
    _check_id(conversation_id, "conversation id")
    contents = read_import_file(file)
    source = current_app.extensions["memos_source"]
    add_memories = getattr(source, "add_memories", None)
    if contents.memories and add_memories is None:
        raise click.ClickException(
            f"{printable(file)} holds memories, which only the embedded store can import: "
            "MemOS extracts its own from the messages. Unset MEMOS_API_KEY and MEMOS_BASE_URL, "
            "or leave the memories out. Nothing imported.")
    result = None
    try:
        if contents.messages:
            result = source.add_messages(user_id, conversation_id, contents.messages)
        if contents.memories:
            add_memories(user_id, contents.memories, conversation_id=conversation_id)
    except MemOSError as error:
        raise click.ClickException(f"Import failed: {printable(error)}") from None
    except RecursionError:  # parsed, but one level too deep to encode with the request
        raise click.ClickException(f"{printable(file)} is nested too deeply to import.") \
            from None
    click.echo(f"Imported {_imported(contents)} into {conversation_id!r} for {user_id!r}"
               + (f" (task {result.task_id}, {result.status})." if result else "."))


def _imported(contents: ImportFile) -> str:
    """"2 messages, 3 memories and 1 preference": what was imported, by kind."""
    preferences = sum(memory_kind(item) == PREFERENCE for item in contents.memories)
    counts = [(len(contents.messages), "message"),
              (len(contents.memories) - preferences, "memory"), (preferences, "preference")]
    parts = [f"{count} {noun if count == 1 else _PLURALS[noun]}" for count, noun in counts
             if count]
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


@click.command("embed-url")
@click.argument("user_id")
@click.argument("conversation_id")
@click.option("--ttl", type=click.IntRange(min=1), default=3600, show_default=True,
              help="Seconds until the link expires (at most EMBED_MAX_TTL).")
@click.option("--base-url", default="http://127.0.0.1:5000", show_default=True,
              help="Where this viewer is served.")
@click.option("--lang", default=None,
              help="The widget's language: en, or zh-CN (zh, zh-Hans, zh-SG) for Chinese.")
@click.option("--accent", default=None,
              help="The widget's accent colour for user bubbles and links, #rgb or #rrggbb "
                   "(signed into the token).")
@click.option("--memories", type=click.Choice(MEMORY_GRANTS), is_flag=False,
              flag_value=CONVERSATION_MEMORIES, default=None,
              help="Grant what MemOS remembered: alone (or 'conversation'), this "
                   "conversation's memories; 'user', the user's others too, and search across "
                   "them. The link then opens the widget with its memory panel (memories=1).")
@with_appcontext
def embed_url(user_id: str, conversation_id: str, ttl: int, base_url: str,
              lang: str | None, accent: str | None, memories: str | None) -> None:
    """Print a signed /embed link for one conversation (needs EMBED_SECRET)."""
    secret = current_app.config["EMBED_SECRET"]
    if not secret:
        raise click.ClickException("EMBED_SECRET is not set, so the viewer is in open mode and "
                                   "links need no token. Set it to sign links.")
    if not base_url.startswith(("http://", "https://")):
        raise click.BadParameter("must start with http:// or https://", param_hint="--base-url")
    _check_id(user_id, "user id")
    _check_id(conversation_id, "conversation id")
    language = ""
    if lang is not None:
        locale = locale_for(lang)
        if locale is None:
            raise click.BadParameter(f"{printable(lang)} is not a language this viewer speaks: "
                                     f"use one of {', '.join(LANGUAGES.values())}.",
                                     param_hint="--lang")
        language = f"&lang={LANGUAGES[locale]}"
    if accent is not None and canonical(accent) is None:
        raise click.BadParameter(f"{printable(accent)} is not a colour written #rgb or #rrggbb "
                                 "(such as #0a7).", param_hint="--accent")
    if ttl > current_app.config["EMBED_MAX_TTL"]:
        raise click.BadParameter(f"{ttl} seconds is longer than links may last here "
                                 f"(EMBED_MAX_TTL={current_app.config['EMBED_MAX_TTL']}).",
                                 param_hint="--ttl")
    link_id = new_link_id()
    token = sign(user_id, conversation_id, secret, ttl,
                 canonical(accent) if accent is not None else None, link_id, memories)
    shown = "&memories=1" if memories else ""
    click.echo(f"{base_url.rstrip('/')}/embed?token={token}{language}{shown}")
    # On stderr: the link alone on stdout stays easy to capture in a script.
    click.echo(f"Link id: {link_id} (revoke it with: flask --app app revoke-link {link_id})",
               err=True)


@click.command("revoke-link")
@click.argument("link", required=False)
@click.option("--list", "show", is_flag=True, help="List the revoked links still in force.")
@with_appcontext
def revoke_link(link: str | None, show: bool) -> None:
    """Revoke a signed link before it expires: every instance refuses it from its next request.

    LINK is the link's id (which embed-url printed), its token, or the whole link. A token
    carrying no id (signed by a backend that adds none) cannot be revoked by itself: change
    EMBED_SECRET to revoke every link at once. An id another backend made that starts with
    "-" goes after "--": revoke-link -- -abc.
    """
    secret = current_app.config["EMBED_SECRET"]
    if not secret:
        raise click.ClickException("EMBED_SECRET is not set, so the viewer is in open mode and "
                                   "has no signed links to revoke.")
    revocations = current_app.extensions["revocations"]
    if show:
        if link is not None:
            raise click.UsageError("give a link to revoke, or --list, not both")
        entries = revocations.listing()
        for entry in entries:
            until = ("for good" if entry.expires is None else "until " + datetime.fromtimestamp(
                entry.expires, UTC).strftime("%Y-%m-%d %H:%M:%S UTC"))
            where = " (this machine only)" if entry.local_only else ""
            click.echo(f"{printable(entry.link_id)}  {until}{where}")
        if not entries:
            click.echo("No revoked links.", err=True)
        return
    if link is None:
        raise click.UsageError("give the link to revoke (its id, token or URL), or --list")
    link_id, expires = _link_to_revoke(link.strip(), secret)
    if expires is not None and expires <= time.time():
        click.echo(f"Link {printable(link_id)} has expired already: every instance refuses "
                   "it. Nothing to revoke.")
        return
    try:
        shared = revocations.revoke(link_id, None if expires is None
                                    else expires + KEEP_AFTER_EXPIRY)
    except RevocationError as error:
        raise click.ClickException(f"Nothing revoked: {printable(error)}.") from None
    if not shared:
        raise click.ClickException(
            f"Link {printable(link_id)} is revoked on this machine only: the shared store "
            "(SHARED_STORE_URL) does not answer. Run this again once it does, so that every "
            "instance refuses it.")
    click.echo(f"Revoked link {printable(link_id)}: every instance refuses it from its next "
               "request.")


def _link_to_revoke(link: str, secret: str) -> tuple[str, float | None]:
    """The id of the link ``link`` names, and when its token expires (None: by id, unknown)."""
    if "token=" in link:  # a whole link
        link = parse_qs(urlsplit(link).query).get("token", [""])[0]
    if link.count(".") != 2:  # an id, as embed-url printed it
        if not 0 < len(link) <= MAX_LINK_ID_LENGTH or any(
                char.isspace() or unicodedata.category(char) in _UNPRINTABLE for char in link):
            raise click.BadParameter(f"{printable(link)} is neither a link id nor a token.",
                                     param_hint="LINK")
        return link, time.time() + ID_ONLY_SECONDS
    try:
        claims = jwt.decode(link, secret, algorithms=[ALGORITHM],
                            options={"verify_exp": False, "require": ["exp"]})
    except jwt.InvalidTokenError as error:
        raise click.ClickException(f"This token is not one this viewer signed or accepts "
                                   f"({type(error).__name__}): nothing revoked.") from None
    if "jti" not in claims:
        raise click.ClickException(
            "This token has no id (jti claim), so it cannot be revoked by itself; it stays "
            "valid until it expires. Change EMBED_SECRET to revoke every link at once.")
    return claims["jti"], float(claims["exp"])


def register(app: Flask) -> None:
    """Add the commands to ``flask --app app``."""
    app.cli.add_command(import_messages)
    app.cli.add_command(embed_url)
    app.cli.add_command(revoke_link)
