"""Template helpers: how roles, times, days and message bodies are shown."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from functools import lru_cache
from itertools import repeat
from typing import Any, NamedTuple

from babel import Locale
from babel.dates import format_date, format_datetime, format_time
from flask import Flask, g, request
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup
from werkzeug.exceptions import BadRequest

from memos_api import Message, N_

from .history import element_id as id_of
from .i18n import gettext, locale_name, page_language
from .links import start_page
from .page_cache import CUT_SHORT
from .renderer import presentation, tools
from .renderer.formatting import message_bodies, PageBudget
from .renderer.highlight import prepare
from .renderer.message_cache import MessageCache

KNOWN_ROLES = ("user", "assistant", "system", "tool")
# Translated when shown, through the request's catalog: a lazy string cost 3.2 us a message,
# twice the lookup.
ROLE_LABELS = {"user": N_("User"), "assistant": N_("Assistant"), "system": N_("System"),
               "tool": N_("Tool")}
THEMES = ("light", "dark", "auto")
# How a day separator writes a date: CLDR patterns per locale ("full" is the locale's own).
DAY_FORMATS = {"en": "EEEE, d MMMM y", "zh_Hans": "full"}


def role_class(role: str) -> str:
    """A CSS class suffix for ``role``; unknown roles share a neutral style."""
    return role if role in KNOWN_ROLES else "other"


def role_label(role: str) -> str:
    """Who said it, in words; an unknown role is shown as its own (escaped) name."""
    label = ROLE_LABELS.get(role)
    return gettext(label) if label else role or gettext("Unknown role")


def requested_theme() -> str | None:
    """``?theme=light|dark`` forces a theme; ``auto`` or nothing follows the system."""
    theme = request.args.get("theme")
    if theme in (None, "", "auto"):
        return None
    if theme not in THEMES:
        raise BadRequest(gettext("The theme must be light, dark or auto, not “%(theme)s”.",
                                 theme=theme[:20]))
    return theme


def written_date(day) -> str:
    """``day`` written out in the reader's language ("Sunday, 1 March 2026")."""
    return _written_date(day, locale_name())


@lru_cache(maxsize=1024)  # Babel's formatting, a twentieth of a small page: days repeat
def _written_date(day, locale: str) -> str:
    return format_date(day, DAY_FORMATS.get(locale, "full"), locale=locale)


def day_label(day, today) -> str:
    """"Today", "Yesterday", or the date written out, in the reader's language."""
    if day == today:
        return gettext("Today")
    if (today - day).days == 1:
        return gettext("Yesterday")
    return written_date(day)


def long_time(moment: datetime, zone) -> str:
    """``moment`` in ``zone``, written out with its offset, in the reader's language."""
    return format_datetime(moment.astimezone(zone), "long", tzinfo=zone, locale=locale_name())


def as_shown(html: Markup, element_id: str, carried: str | None, current: bool) -> Markup:
    """A message's HTML, rendered (and kept) with its ``element_id``, as this page shows it:
    without the id when a newer identical message carries it (``carried`` None), marked
    ``aria-current`` when a permalink asked for it.

    Both are rare, so the kept HTML has the id and most messages are shown as kept. The
    content cannot hold the attribute's text (its quotes are escaped), and the tag comes first.
    """
    attribute = f' id="{element_id}"'
    if carried is None:
        return Markup(str.replace(html, attribute, "", 1))
    # Focusable by script (not by Tab): a permalinked page puts the reader there.
    return Markup(str.replace(html, attribute, attribute + ' aria-current="true" tabindex="-1"',
                              1)) if current else html


def with_mark(html: Markup, mark: str) -> Markup:
    """A message's HTML with the memory panel's "remembered" ``mark`` as its last child: the
    kept HTML stays as it is, for every page without the panel."""
    text = str(html)  # Markup would escape the mark as it is added
    end = text.rfind("</article>")
    return Markup(text[:end] + mark + text[end:]) if end >= 0 else html


def script_texts() -> dict[str, str]:
    """What static/chat.js says (errors, copy buttons), in the page's language."""
    return {"network": gettext("Could not reach the server. Check the connection and try "
                               "again."),
            "timeout": gettext("The server took too long to answer. Try again."),
            "tryAgain": gettext("Try again"), "copy": gettext("Copy"),
            "copyCode": gettext("Copy code"), "copied": gettext("Copied"),
            "copyFailed": gettext("Copy failed"), "editedAt": gettext("Edited %(time)s"),
            "copyLink": gettext("Copy link"),
            # the conversation menu (partials/menu.html)
            "copyConversation": gettext("Copy conversation as Markdown"),
            "downloadFailed": gettext("The download failed (error {status}).")}


class ShownTime(NamedTuple):
    """A moment as a message shows it, in ``DISPLAY_TIMEZONE``: ISO 8601 to the second (its
    ``datetime``), written out with its offset (its title: "2026-03-01 19:10:05 +0800"), and
    its clock time ("19:10")."""

    iso: str
    full: str
    clock: str

    @classmethod
    def of(cls, moment: datetime, zone: tzinfo) -> ShownTime:
        """``moment`` in ``zone``: converted and formatted once, the other two read from the
        ISO text (three conversions and two strftime calls were ~6 us of a message's ~21)."""
        iso = moment.astimezone(zone).isoformat(timespec="seconds")
        return cls(iso, f"{iso[:10]} {iso[11:19]} {iso[19:].replace(':', '')}", iso[11:16])


class PrintTime(NamedTuple):
    """When a page was made, for its printed header: ISO 8601 and written out."""

    iso: str
    text: str


def texts_json(texts: Mapping[str, str]) -> Markup:
    """``texts`` as JSON safe in an HTML attribute or a script element, written in UTF-8:
    Chinese as ``\\u`` escapes took six bytes a character before compression. Only what HTML
    could read as markup (``<``, ``>``, ``&``, ``'``) and the line separators older
    JavaScript read as line ends (U+2028, U+2029) are escaped, as Jinja's ``tojson`` does."""
    return htmlsafe_json_dumps(texts, dumps=_unicode_json).replace(
        "\u2028", "\\u2028").replace("\u2029", "\\u2029")


# As app.json, in UTF-8 and without the spaces after "," and ":" (bytes of every first load).
_unicode_json = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode


def htmx_config(upstream_timeout: float) -> dict:
    """htmx settings for a strict CSP (no eval, no injected styles) that swaps error pages."""
    return {
        "allowEval": False,
        "allowScriptTags": False,
        "includeIndicatorStyles": False,
        "selfRequestsOnly": True,
        "historyCacheSize": 0,  # never copy conversation content into localStorage
        "timeout": int((3 * upstream_timeout + 5) * 1000),
        "responseHandling": [
            {"code": "204", "swap": False},
            {"code": "[23]..", "swap": True},
            {"code": "[45]..", "swap": True, "error": True},
        ],
    }


def register(app: Flask) -> None:
    """Install the filters and globals the templates use."""
    zone = app.config["DISPLAY_TIMEZONE"]

    @app.before_request
    def read_theme():
        g.theme = None  # so an error page for a bad theme still renders
        g.theme = requested_theme()

    # Fixed for the app's lifetime, so serialised once.
    settings = htmlsafe_json_dumps(htmx_config(app.config["MEMOS_TIMEOUT"]), dumps=_unicode_json)

    @app.context_processor
    def page_settings():
        return {"htmx_config": settings, "theme": g.get("theme"), "start_url": start_page()}

    def shown_time(moment: datetime) -> ShownTime:
        return ShownTime.of(moment, zone)

    def edited_time(moment: datetime) -> str:
        # Babel only here: edits are rare, and a message's own time (shown_time, on every
        # message) is rewritten by the script in the reader's language anyway.
        return long_time(moment, zone)

    locales: dict[str, Locale] = {}

    def written_time(moment: datetime) -> str:
        # A memory's time: its date and minute in the reader's language ("Mar 11, 2026,
        # 7:10 PM", "2026年3月11日 19:10"); static/memories.js rewrites it in their zone too.
        name = locale_name()
        locale = locales.get(name) or locales.setdefault(name, Locale.parse(name))
        local = moment.astimezone(zone)
        day = format_date(local, "medium", locale=locale)
        clock = format_time(local, "short", tzinfo=zone, locale=locale)
        return locale.datetime_formats["medium"].replace("{1}", day).replace("{0}", clock)

    def shared_day(messages, after):
        return presentation.shared_day(messages, after, zone)

    prepare()  # Pygments' lexers compile now, at start, rather than on somebody's page
    cache = MessageCache(app.config["RENDERED_MESSAGE_CACHE"],
                         app.config["RENDERED_MESSAGE_CACHE_BYTES"])

    # The list is joined here rather than in a Jinja loop: the loop's per-item calls and
    # escaping cost ~3 us a message, 3 ms of a 1000-message page (docs/benchmarks.md).
    def message_list(messages: list[Message], previous: datetime | None = None,
                     ids: Sequence[str | None] = (), current: str | None = None,
                     marks: Mapping[str, Any] | None = None) -> Markup:
        """The messages' HTML, oldest first, with a day separator above each new day.

        ``previous`` is when the message shown just above them was written, if known: its day
        gets no second separator. ``ids`` are the messages' element ids (None: no id), and
        ``current`` the one a permalink asked for, marked ``aria-current``. ``marks`` are the
        memory panel's, by element id (viewer/memory_panel.py), when the page has it open.
        """
        # Bodies first, then the template around each: one kind of work at a time keeps the
        # CPU's caches warm (~14 us a message less than alternating, measured).
        budget = PageBudget()  # formatting time for the messages of this page
        language = page_language()  # a message's HTML holds its labels in this language
        kept = [cache.get(message, language) for message in messages]
        uncached = [message for message, html in zip(messages, kept, strict=True) if html is None]
        formatted = iter(message_bodies(uncached, budget))
        bodies = [None if html is not None else next(formatted) for html in kept]
        if not all(body is None or body.cacheable for body in bodies):
            setattr(g, CUT_SHORT, True)  # the next view may have the time: not kept whole
        template = app.jinja_env.get_template("partials/message.html")
        separator = app.jinja_env.get_template("partials/day_separator.html")
        remembered = app.jinja_env.get_template("partials/remembered.html")
        html = []
        places = []  # where each message's HTML is in html
        today = presentation.local_today(zone)
        day = previous.astimezone(zone).date() if previous else None
        for (day_break, message), cached, body, carried in zip(
                presentation.day_breaks(messages, zone, today, day_label, day), kept, bodies,
                ids or repeat(""), strict=bool(ids)):
            if day_break:
                html.append(separator.render(day_break=day_break))
            if cached is None:
                cached = Markup(template.render(message=message, body=body,
                                                element_id=id_of(message)))
                if body.cacheable:
                    cache.put(message, cached, language)
            if carried is None or (carried and carried == current):
                cached = as_shown(cached, id_of(message), carried, carried == current)
            if marks and carried and carried in marks:
                cached = with_mark(cached, remembered.render(mark=marks[carried]))
            html.append(cached)
            places.append(len(html) - 1)
        # A tool's answer links to its call's chip.
        tools.link_answers(messages, ids or [""] * len(messages), html, places, id_of)
        return Markup("\n".join(html))

    message_list.cache_info = cache.info  # the message cache's hits and size
    for function in (shown_time, edited_time, written_time, role_class, role_label):
        app.add_template_filter(function)
    app.add_template_global(shared_day)
    app.add_template_global(message_list)
    texts: dict[str, str] = {}  # per language, serialised once

    @app.template_global("script_texts")
    def script_texts_json() -> str:
        locale = locale_name()
        if locale not in texts:
            texts[locale] = texts_json(script_texts())
        return texts[locale]

    # Printing (static/chat.css, partials/printed.html): the header says when the page was
    # made, in DISPLAY_TIMEZONE; static/chat.js rewrites it in the reader's zone at print time.
    # Written once a second per language: Babel's long format is a tenth of a small page.
    printed: dict[str, PrintTime] = {}  # locale -> the last one written

    @app.template_global("print_time")
    def print_time() -> PrintTime:
        now = datetime.now(zone).replace(microsecond=0)
        iso, locale = now.isoformat(), locale_name()
        last = printed.get(locale)
        if last is None or last.iso != iso:
            last = printed[locale] = PrintTime(iso, long_time(now, zone))
        return last

