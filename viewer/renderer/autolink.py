"""The link policy, and bare web and e-mail addresses in text as links.

Only absolute http and https URLs with a host, and mailto addresses, are ever links
(``is_safe_url``), opened in a new tab with ``LINK_REL``.

As GitHub's extended autolinks: an ``http://`` or ``https://`` URL or an e-mail address typed
in text becomes a link, without the punctuation that ends a sentence (``.,:;!?*_~``, quotes,
and a closing parenthesis that none in the URL opened). Unlike GitHub, CJK punctuation
(``。``, ``，``, ``）``) ends a URL, since Chinese has no space after one. The links are
``class="autolink"``: print does not write their address a second time.

Quick and linear whatever the text: only the places where ``://`` and ``@`` are typed are
looked at (found by ``str.find``), each read forward by a pattern that cannot backtrack past
the next such place, and back (an address's start) no further than the previous one.
"""

from __future__ import annotations

import re

from .highlight import escape_code

LINK_REL = "noopener noreferrer nofollow"
_HOST = r"(?:[^\s/?#:@\[\]\\<>\"'`]+|\[[0-9A-Fa-f:.]+\])"
# What the sanitizer keeps too: an absolute http(s) URL with a host, or a mailto address.
SAFE_URL = re.compile(rf"https?://(?:[^\s/?#@]+@)?{_HOST}(?::[0-9]{{1,5}})?(?:[/?#][^\s<>\"\\`]*)?"
                      r"|mailto:[^\s@<>\"\\`]+@[^\s@<>\"\\`]+", re.IGNORECASE)
# Not part of a URL: spaces, what HTML and Markdown use to delimit one, CJK punctuation and
# full-width forms.
_URL_CHARACTER = r"[^\s<>\"`\\\u3000-\u303f\uff00-\uffef]"
# After "http://": the host, ASCII (IDN hosts are rare; Chinese words typed right after an
# address are not) and whole, not followed by what would continue it, nor by a password or a
# user's "@"; then the port and path.
URL_REST = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::[0-9]{1,5})?"
                      rf"(?![A-Za-z0-9._@-]|:\S)(?:[/?#]{_URL_CHARACTER}*)?")
# After an e-mail address's "@": labels of letters, digits and hyphens; at least two.
DOMAIN = re.compile(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
LOCAL = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-")
NOT_BEFORE_EMAIL = LOCAL | {"/", ":"}  # a path, or a URL's password
NOT_BEFORE_URL = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")
TRAILING = ".,:;!?*_~'\"”’»…"


def is_safe_url(url: str) -> bool:
    """Whether a link target is an absolute http(s) URL with a host, or a mailto address.

    Anything else (relative, ``javascript:``, ``data:``, ``http:`` with no host) is shown as
    the text that was typed: the sanitizer would drop such a URL and leave a link to nowhere.
    """
    return SAFE_URL.fullmatch(url) is not None


def escape(text: str) -> str:
    """``text`` escaped for HTML text and double-quoted attribute values."""
    return escape_code(text).replace('"', "&quot;")


def escape_text(text: str) -> str:
    """``text`` escaped as markupsafe escapes it (the text as typed is shown so elsewhere),
    quicker on many short pieces."""
    return escape_code(text).replace('"', "&#34;").replace("'", "&#39;")


def link(url: str, text: str) -> str:
    """An autolink to ``url`` (already checked), showing ``text``."""
    return (f'<a href="{escape(url)}" class="autolink" target="_blank" rel="{LINK_REL}">'
            f"{escape_text(text)}</a>")


def _trimmed(url: str) -> str:
    """``url`` without the punctuation after it that belongs to the sentence."""
    opened, closed = url.count("("), url.count(")")
    end = len(url)
    while end:
        last = url[end - 1]
        if last in TRAILING:
            end -= 1
        elif last == ")" and closed > opened:
            end -= 1
            closed -= 1
        else:
            break
    return url[:end]


def autolinked(text: str) -> tuple[str, int]:
    """``text`` escaped for HTML, its bare addresses made links; and how many links."""
    if "://" not in text and "@" not in text:  # most text: no address to look for
        return escape_text(text), 0
    out: list[str] = []
    shown = count = 0  # text before ``shown`` is in out
    for start, end, target in _addresses(text):
        out.append(escape_text(text[shown:start]))
        out.append(link(target, text[start:end]))
        shown = end
        count += 1
    if not count:
        return escape_text(text), 0
    out.append(escape_text(text[shown:]))
    return "".join(out), count


def _addresses(text: str):
    """Each address in ``text``, in order: (start, end, the link's target)."""
    done = 0  # the end of the last address found: nothing before it is looked at again
    scheme = text.find("://")
    at = text.find("@")
    previous_at = -1
    while scheme >= 0 or at >= 0:
        if scheme >= 0 and (at < 0 or scheme < at):
            found = _url(text, scheme, done)
            scheme = text.find("://", scheme + 3)
        else:
            found = _email(text, at, max(done, previous_at + 1))
            previous_at, at = at, text.find("@", at + 1)
        if found is None:
            continue
        yield found
        done = found[1]
        if scheme >= 0 and scheme < done:
            scheme = text.find("://", done)
        if at >= 0 and at < done:
            previous_at, at = at, text.find("@", done)


def _url(text: str, scheme: int, floor: int) -> tuple[int, int, str] | None:
    """The URL whose "://" is at ``scheme``, if it is one, starting at ``floor`` or later."""
    if text[max(scheme - 5, 0):scheme].lower() == "https":
        start = scheme - 5
    elif text[max(scheme - 4, 0):scheme].lower() == "http":
        start = scheme - 4
    else:
        return None
    if start < floor or (start > 0 and text[start - 1] in NOT_BEFORE_URL):
        return None  # "xhttp://" is not a URL
    rest = URL_REST.match(text, scheme + 3)
    if rest is None:
        return None
    url = _trimmed(text[start:rest.end()])
    return (start, start + len(url), url) if is_safe_url(url) else None


def _email(text: str, at: int, floor: int) -> tuple[int, int, str] | None:
    """The e-mail address whose "@" is at ``at``, if it is one, starting at ``floor`` or later."""
    start = at
    while start > floor and text[start - 1] in LOCAL:
        start -= 1
    if start == at or (start > 0 and text[start - 1] in NOT_BEFORE_EMAIL):
        return None  # nothing before the "@", or not the start of an address
    domain = DOMAIN.match(text, at + 1)
    if domain is None or domain[0][-1] == "-":  # GFM: an address ending so is no address
        return None
    target = "mailto:" + text[start:domain.end()]
    return (start, domain.end(), target) if is_safe_url(target) else None
