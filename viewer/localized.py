"""Templates compiled once per language, with their fixed texts translated in.

A page has some 25 texts like ``{{ _("Download as JSON") }}``. Looked up at render time, each
costs a Jinja context call, a catalog lookup and a Markup format: a fifth of a small page's
CPU (docs/benchmarks.md). Each language gets its own overlay of the app's Jinja environment
instead, whose templates are compiled with every ``_("literal")`` (no arguments) replaced by its
translation, marked safe as the runtime ``_`` returns it: Jinja then folds it into the
template's constant text. Texts with arguments, ``ngettext`` and ``pgettext`` stay calls.

Only translations are folded, never anything a request brings, so a compiled template is the
same for every reader of a language; there is one overlay per locale the app speaks
(viewer/i18n.py ``LANGUAGES``), each with the base environment's template cache size. Outside
a request (a template rendered by itself) the base environment renders, translating at run
time as before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from flask import g, has_request_context
from flask.templating import Environment
from jinja2.ext import Extension
from jinja2.lexer import Token, TokenStream

TRANSLATE = "_"  # the name the templates translate with (babel.cfg extracts it)


class LocalizedEnvironment(Environment):
    """Flask's template environment, handing each request its language's overlay."""

    translate: Callable[[str], str] | None = None  # set on a language's overlay only

    def get_template(self, name, parent=None, globals=None):  # noqa: A002 (Jinja's name)
        if self.translate is None:
            if has_request_context():
                return self.for_language().get_template(name, parent, globals)
            return super().get_template(name, parent, globals)
        # A page includes and imports some 18 templates: without reloading (not debug), each
        # compiled one is kept by name, sparing Jinja's locked LRU cache and its loader checks.
        if self.auto_reload or globals or not isinstance(name, str):
            return super().get_template(name, parent, globals)
        if parent is not None:
            name = self.join_path(name, parent)
        compiled = self.__dict__.setdefault("compiled", {})
        found = compiled.get(name)
        if found is None:
            found = compiled[name] = super().get_template(name)
        return found

    def make_globals(self, d):
        """A language's templates see the globals as one dict, made when each is compiled:
        Jinja's default, a ChainMap over the environment's, is walked key by key when a page
        starts and at every ``{% from ... import %}`` (a twentieth of a small page). Every
        global is registered in ``create_app``, before the first page."""
        if self.translate is None:
            return super().make_globals(d)
        return {**self.globals, **(d or {})}

    def for_language(self) -> Environment:
        """The overlay of this request's language, made on its first page, and kept for the
        request (a page asks for templates a few times: looking the locale up costs more)."""
        overlay = g.get("template_overlay")
        if overlay is not None and overlay.linked_to is self:
            return overlay
        from .i18n import _translations, locale_name  # i18n imports this module

        locale = locale_name()
        overlays = self.__dict__.setdefault("language_overlays", {})
        overlay = overlays.get(locale)
        if overlay is None:
            overlay = self.overlay(cache_size=getattr(self.cache, "capacity", 400))
            overlay.translate = _translations().ugettext
            overlay.add_extension(FoldTranslations)
            overlay.__dict__.pop("compiled", None)  # its own, not a copy of the base's
            overlay = overlays.setdefault(locale, overlay)
        g.template_overlay = overlay
        return overlay


class FoldTranslations(Extension):
    """Replace ``_("literal")`` by its translation, as constant safe text."""

    def filter_stream(self, stream: TokenStream) -> Iterable[Token]:
        translate = getattr(self.environment, "translate", None)
        if translate is None:
            return stream
        return TokenStream(_folded(list(stream), translate), stream.name, stream.filename)


def _folded(tokens: list[Token], translate: Callable[[str], str]) -> Iterator[Token]:
    index = 0
    while index < len(tokens):
        token = tokens[index]
        window = tokens[index:index + 4]
        if (token.type == "name" and token.value == TRANSLATE and len(window) == 4
                and [t.type for t in window[1:]] == ["lparen", "string", "rparen"]
                and (index == 0 or tokens[index - 1].type != "dot")):
            text = _constant(translate, window[2].value)
            if text is not None:
                # Jinja's newstyle gettext: the translation is markup, formatted with no
                # arguments ("%%" -> "%"); ``|safe`` keeps it markup, and folds at compile time.
                yield Token(token.lineno, "string", text)
                yield Token(token.lineno, "pipe", "|")
                yield Token(token.lineno, "name", "safe")
                index += 4
                continue
        yield token
        index += 1


def _constant(translate: Callable[[str], str], text: str) -> str | None:
    try:
        return translate(text) % {}
    except (KeyError, TypeError, ValueError):  # needs arguments: leave it to run time
        return None
