"""Text shown as typed, and the chips for attachments: escaped text in, HTML out.

Users' and tools' words are not Markdown: they keep every character and line break (the CSS's
``white-space: pre-wrap``), with two exceptions readers expect of any chat: a bare web or
e-mail address is a link (viewer/renderer/autolink.py), and a block fenced by a line of three
backticks is code, in the code font and left to right (CommonMark's rule: a fence may be
indented up to three spaces, closes with at least as many backticks, and an unclosed one runs
to the end). Nothing is highlighted here. Attachments (files, images) are chips with an icon
and a label in the reader's language; an image is never loaded, its chip links to it when
its address is https.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import unquote, urlsplit

from flask_babel import format_number
from markupsafe import escape, Markup

from memos_api import ContentPart

from ..i18n import gettext, ngettext
from ..i18n import lazy_gettext as _l
from .autolink import autolinked, is_safe_url, LINK_REL
from .highlight import escape_code

FENCE = re.compile(r"^ {0,3}(`{3,})[^`\n]*$", re.MULTILINE)
NAME_CHARACTERS = 120  # of a file's name shown on its chip; the rest is an ellipsis
LINK_CHARACTERS = 20_000  # longer text (all of a message's) is shown with no links, as Markdown

# Icons: inline, so that nothing is fetched; drawn with the text's colour (static/chat.css).
_ICON = ('<svg class="chip-icon" viewBox="0 0 16 16" width="16" height="16" aria-hidden="true">'
         "{}</svg>")
FILE_ICON = Markup(_ICON.format('<path d="M4 1.5h5l3 3v10H4z"/><path d="M9 1.5v3h3"/>'))
IMAGE_ICON = Markup(_ICON.format('<rect x="1.5" y="2.5" width="13" height="11" rx="1.5"/>'
                                 '<circle cx="5.5" cy="6" r="1.25"/>'
                                 '<path d="M1.5 11.5l4-3.5 3 2.5 2-1.5 4 3"/>'))
OTHER_ICON = Markup(_ICON.format('<path d="M10.5 4.5l-5 5a1.8 1.8 0 0 0 2.5 2.5l5.5-5.5a3 3 0 0 '
                                 '0-4.2-4.2L3.8 7.8a4.2 4.2 0 0 0 6 6l4-4"/>'))
# A part's declared type (OpenAI's, Anthropic's, MemOS's), to what it is to a reader.
KINDS = {"image_url": "image", "image": "image", "input_image": "image",
         "file": "file", "input_file": "file", "document": "file",
         "input_audio": "audio", "audio": "audio"}
LABELS = {"image": (_l("Image"), IMAGE_ICON), "file": (_l("File"), FILE_ICON),
          "audio": (_l("Audio"), OTHER_ICON)}
OTHER = (_l("Attachment"), OTHER_ICON)


def plain_html(parts: tuple[ContentPart, ...], max_html: int | None = None) -> Markup:
    """Text parts as typed (escaped, whitespace kept, code fenced), other parts as chips.

    Past ``max_html`` characters of HTML, addresses are not links and fences not code; past
    ``LINK_CHARACTERS`` of text, addresses are not links (time grows with their number).
    """
    if not parts:
        return Markup('<p class="message__empty">%s</p>') % gettext("(no content)")
    links = sum(len(part.text) for part in parts if part.kind == "text") <= LINK_CHARACTERS
    html = "".join(typed_html(part.text, links) if part.kind == "text" else attachment(part)
                   for part in parts)
    if max_html is not None and len(html) > max_html:
        html = "".join(typed_html(part.text, links=False, code=False) if part.kind == "text"
                       else attachment(part) for part in parts)
    return Markup(html)


def more_parts(count: int) -> str:
    """"12 more parts of this message are not shown", in the reader's language: the parts
    past ``memos_api.models.MAX_PARTS``."""
    return ngettext("%(count)s more part of this message is not shown.",
                    "%(count)s more parts of this message are not shown.", count,
                    count=format_number(count))


def more_parts_html(count: int) -> str:
    """The same, as a quiet note at the end of the message's content."""
    return str(Markup('<p class="message__note">%s</p>') % more_parts(count))


def typed_html(text: str, links: bool = True, preview: bool = False, code: bool = True) -> str:
    """``text`` as typed: paragraphs of pre-wrapped text, and (with ``code``) fenced code as
    code blocks; (with ``links``) addresses as links. A ``preview`` (the start of a collapsed
    message) has nothing that takes focus.
    """
    out = []
    for fenced, piece in _blocks(text) if code else ((False, text),):
        if fenced:
            tabindex = "" if preview else ' tabindex="0"'  # so that keyboards can scroll it
            out.append(f'<figure class="code-block" dir="ltr"><pre{tabindex}><code dir="ltr">'
                       f"{escape_code(piece)}</code></pre></figure>")
        else:
            shown = autolinked(piece)[0] if links else str(escape(piece))
            out.append(f'<p class="message__plain" dir="auto">{shown}</p>')
    return "".join(out)


def _blocks(text: str) -> Iterator[tuple[bool, str]]:
    """The text between fences, and the code inside them, in order: (is code, text)."""
    if "```" not in text:
        yield False, text
        return
    position = 0
    while True:
        opening = FENCE.search(text, position)
        if opening is None:
            break
        # The text before the fence, without the line break that ends it.
        before = text[position:opening.start()].removesuffix("\n")
        if before:
            yield False, before
        ticks = len(opening[1])
        closing = re.compile(rf"^ {{0,3}}`{{{ticks},}}[ \t]*$", re.MULTILINE)
        found = closing.search(text, opening.end())
        code_end = found.start() if found else len(text)
        yield True, text[opening.end() + 1:code_end].removesuffix("\n")
        if found is None:
            return
        position = found.end() + 1  # and the line break after the closing fence
        if position > len(text):
            return
    if text[position:]:
        yield False, text[position:]


def attachment(part: ContentPart) -> str:
    """A chip for a non-text part: an icon, what it is, and its name or a link to it."""
    kind = KINDS.get(part.kind.lower(), "other")
    label, icon = LABELS.get(kind, OTHER)
    text = part.text.strip()
    linked = text[:8].lower() == "https://" and is_safe_url(text)
    # An image's text is its address: only one it links to is named (by its file's name).
    name = _name(text, linked) if linked or kind != "image" else ""
    inside = Markup('%s<span class="attachment__label">%s</span>') % (icon, label)
    if name:
        inside += Markup(' <span class="attachment__name" dir="auto">%s</span>') % name
    if linked:
        inside = (Markup('<a href="%s" class="attachment__link" target="_blank" rel="%s">')
                  % (text, LINK_REL)) + inside + Markup("</a>")
    return str(Markup('<p class="attachment attachment--%s">%s</p>') % (kind, inside))


def _name(text: str, linked: bool) -> str:
    """What to call an attachment: its file name, or the last part of the https address it
    links to; never an address otherwise (a ``data:`` URL can be megabytes of base64)."""
    if linked:
        path = urlsplit(text).path.rstrip("/")
        text = unquote(path.rsplit("/", 1)[-1]) if path else ""
    elif ":" in text[:12] and re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", text):
        return ""
    text = text.replace("\x00", "\ufffd")
    return text if len(text) <= NAME_CHARACTERS else text[:NAME_CHARACTERS - 1] + "…"
