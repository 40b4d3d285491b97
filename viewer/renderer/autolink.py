"""The link policy, and bare web and e-mail addresses in text as links.

Only absolute http and https URLs with a host, and mailto addresses, are ever links
(``is_safe_url``), opened in a new tab with ``LINK_REL``.

As GitHub's extended autolinks: an ``http://`` or ``https://`` URL or an e-mail address typed
in text becomes a link, without the punctuation that ends a sentence (``.,:;!?*_~``, quotes,
and a closing parenthesis that none in the URL opened). Unlike GitHub, CJK punctuation
(``。``, ``，``, ``）``) ends a URL, since Chinese has no space after one. The links are
``class="autolink"``: print does not write their address a second time.

Linear time whatever the text: each pattern starts only where the character before it cannot
continue it (so a run of letters or dots is read once), and no part of a pattern can take what
the part after it needs.
"""

from __future__ import annotations

import re

from markupsafe import escape as escape_text

from .highlight import escape_code

LINK_REL = "noopener noreferrer nofollow"
_HOST = r"(?:[^\s/?#:@\[\]\\<>\"'`]+|\[[0-9A-Fa-f:.]+\])"
# What the sanitizer keeps too: an absolute http(s) URL with a host, or a mailto address.
SAFE_URL = re.compile(rf"https?://(?:[^\s/?#@]+@)?{_HOST}(?::[0-9]{{1,5}})?(?:[/?#][^\s<>\"\\`]*)?"
                      r"|mailto:[^\s@<>\"\\`]+@[^\s@<>\"\\`]+", re.IGNORECASE)
# Not part of a URL: spaces, what HTML and Markdown use to delimit one, CJK punctuation and
# full-width forms.
_URL_CHARACTER = r"[^\s<>\"`\\\u3000-\u303f\uff00-\uffef]"
# The host is ASCII (IDN hosts are rare; Chinese words typed right after an address are not),
# and whole: not followed by what would continue it, nor by a password or a user's "@".
_URL = (r"(?<![A-Za-z0-9+.-])https?://(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::[0-9]{1,5})?"
        rf"(?![A-Za-z0-9._@-]|:\S)(?:[/?#]{_URL_CHARACTER}*)?")
# A domain's labels are letters, digits and hyphens; at least two of them.
_EMAIL = r"(?<![A-Za-z0-9._+/:-])[A-Za-z0-9._+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
ADDRESS = re.compile(rf"(?P<url>{_URL})|(?P<email>{_EMAIL})", re.IGNORECASE)
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
        return str(escape_text(text)), 0
    out: list[str] = []
    start = count = 0
    for match in ADDRESS.finditer(text):
        found = match[0]
        if match["url"]:
            found = _trimmed(found)
            target = found
        elif found[-1] == "-":  # GFM: an address ending so is no address
            continue
        else:
            target = "mailto:" + found
        if not is_safe_url(target):  # "http://." trimmed to "http://", say
            continue
        out.append(escape_text(text[start:match.start()]))
        out.append(link(target, found))
        start = match.start() + len(found)
        count += 1
    if not count:
        return str(escape_text(text)), 0
    out.append(escape_text(text[start:]))
    return "".join(out), count
