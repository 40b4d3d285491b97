"""The reader's language: English, or Simplified Chinese.

It comes from ``?lang=`` first (kept by every link the page makes: see viewer/links.py), then
the browser's ``Accept-Language``, then English; an unknown ``?lang=`` is English, not an
error. Translations are ``translations/<locale>/LC_MESSAGES/messages.po`` (compiled by
``make install``, checked complete by the tests), through Flask-Babel.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, g, has_app_context, has_request_context, request
from flask_babel import Babel, get_locale, get_translations
from flask_babel.speaklater import LazyString

from .localized import LocalizedEnvironment
from .vary import add_vary

# Babel's locale -> the BCP 47 tag the page declares (<html lang>) and its links carry.
LANGUAGES = {"en": "en", "zh_Hans": "zh-Hans"}
DEFAULT_LOCALE = "en"
TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"
# What readers ask for, lower case: Simplified Chinese is asked for as these (zh-TW, zh-HK
# and zh-Hant are Traditional Chinese, which this viewer does not speak).
_ASKED = {"en": "en", "zh": "zh_Hans", "zh-cn": "zh_Hans", "zh-sg": "zh_Hans",
          "zh-hans": "zh_Hans", "zh-hans-cn": "zh_Hans", "zh-hans-sg": "zh_Hans",
          "zh-my": "zh_Hans"}


# Answers whose content no language changes: probes and an accent's stylesheet.
SAME_IN_EVERY_LANGUAGE = frozenset({"chat.healthz", "chat.readyz", "chat.accent"})


def locale_for(tag: str) -> str | None:
    """The locale for a language tag a reader asked for, or None when not spoken here."""
    tag = tag.strip().lower().replace("_", "-")
    if tag in _ASKED:
        return _ASKED[tag]
    if tag.startswith("en-"):
        return "en"
    if tag.startswith("zh-hans-"):
        return "zh_Hans"
    return None


def chosen_language() -> str | None:
    """The tag of the language ``?lang=`` chose (English for an unknown one), or None."""
    asked = request.args.get("lang")
    if asked is None or asked == "":
        return None
    return LANGUAGES[locale_for(asked[:35]) or DEFAULT_LOCALE]


def select_locale() -> str:
    """This request's locale: ``?lang=``, then Accept-Language, then English (and English
    outside a request: the command line)."""
    if not has_request_context():
        return DEFAULT_LOCALE
    chosen = chosen_language()
    if chosen is not None:
        return next(locale for locale, tag in LANGUAGES.items() if tag == chosen)
    for tag, _quality in request.accept_languages:
        if tag == "*":
            break
        locale = locale_for(tag)
        if locale:
            return locale
    return DEFAULT_LOCALE


def locale_name() -> str:
    """This request's Babel locale, as Babel's formatting functions take it (``zh_Hans``)."""
    if not has_request_context():
        return str(get_locale() or DEFAULT_LOCALE)
    # Chosen once per request, as Flask-Babel chooses it, but kept as the name: a page sent
    # from the page cache needs only that, where Flask-Babel's first call also parses a
    # babel.Locale (~10 us, a fifth of a kept page's own time).
    try:
        return g.locale_name
    except AttributeError:
        g.locale_name = name = select_locale()
        return name


def page_language() -> str:
    """The BCP 47 tag of this request's language, for ``<html lang>`` and the scripts."""
    return LANGUAGES.get(locale_name(), "en")


def _translations():
    """This request's translations (its locale is chosen once, when first asked for)."""
    if not has_app_context():  # a template rendered by itself: Flask-Babel's own default
        return get_translations()
    try:
        return g.translations
    except AttributeError:
        g.translations = found = get_translations()
        return found


def gettext(string: str, **variables) -> str:
    """``string`` in this request's language, formatted with ``variables``: Flask-Babel's
    ``gettext``, with the catalog looked up once per request (``_translations``) instead of
    for every string (6 us each, measured)."""
    text = _translations().ugettext(string)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, num: int, **variables) -> str:
    """Flask-Babel's ``ngettext`` (``num`` formatted as ``%(num)s``), through the same catalog."""
    variables.setdefault("num", num)
    return _translations().ungettext(singular, plural, num) % variables


def lazy_gettext(string: str, **variables) -> LazyString:
    """``gettext`` when the text is shown, in the language of the request showing it."""
    return LazyString(gettext, string, **variables)


def init_app(app: Flask) -> None:
    """Translate the app's pages, templates and messages into the reader's language."""
    if "jinja_env" in app.__dict__:  # the environment's class is read when it is made
        raise RuntimeError("i18n.init_app must run before the templates are first used")
    app.jinja_environment = LocalizedEnvironment  # templates compiled per language
    Babel(app, locale_selector=select_locale,
          default_translation_directories=str(TRANSLATIONS))
    # Flask-Babel's template callables look the translations up again for every string
    # (6 us, measured), and a page has some 25: look them up once per request instead.
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: _translations().ugettext(s),
        ngettext=lambda s, p, n: _translations().ungettext(s, p, n),
        pgettext=lambda c, s: _translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: _translations().unpgettext(c, s, p, n),
        newstyle=True,
    )

    @app.context_processor
    def language():
        # dir as well as lang, so that a right-to-left language, once added, mirrors the page.
        return {"page_lang": page_language(), "page_dir": get_locale().text_direction}

    @app.before_request
    def read_language() -> None:
        g.lang = chosen_language()  # kept by the links this request's page makes

    @app.after_request
    def vary_by_language(response):
        # Without ?lang=, the words follow Accept-Language: a shared cache must key on it.
        # (Cookies play no part: the app neither sets nor reads any.)
        if g.get("lang") is None and request.endpoint not in SAME_IN_EVERY_LANGUAGE:
            add_vary(response, "Accept-Language")
        return response
