"""Message text as safe HTML: CommonMark with tables, rendered server-side within limits.

pulldown-cmark (through pyromark) parses: it runs in linear time by design and bounds how far
link references expand, where markdown-it-py took 0.2 s on 20 KB of ``![`` and turned 20 KB of
reference links into 16 MB of HTML. Its events become HTML here, so that raw HTML shows as
text, only http, https and mailto links survive, images are never loaded, and quotes and lists
nested past ``MAX_DEPTH`` are flattened. The HTML may grow to ``Limits.max_html`` characters
and take until ``Limits.deadline`` (thread CPU time); past either, ``LimitReached`` is raised.
Fenced code is left as a marker for the caller to fill in (viewer/renderer/highlight.py), with
the figure around it: both are made by our own code, from the allowlisted lexer's name and a
class of ``[a-z0-9_+-]``, exactly as the sanitizer would write them (a quarter of its time
went to parsing and writing them again).
Bare addresses in text become links (viewer/renderer/autolink.py), never inside code or a link;
task list items (``- [x]``) become disabled checkboxes, each inside a label with its item's
first line, which names it.

Direction: each block of text (paragraph, heading, list item, quote, table cell) has
``dir="auto"``, so the browser lays it out in the direction of its first strong letter (right to
left for Arabic or Hebrew) inside a page in the reader's direction. A quote, list item or table
takes the direction of its first block, which therefore has no ``dir`` of its own (the browser
skips elements that have one). Code, in blocks and inline, is ``dir="ltr"``.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import nh3
import pyromark

from ..i18n import gettext
from .autolink import autolinked, escape, is_safe_url, LINK_REL
from .highlight import escape_code, lexer_for

# Single tildes are read as subscript only so that they can be printed as typed: "~5 min".
PARSER = pyromark.Markdown(options=pyromark.Options.ENABLE_TABLES
                           | pyromark.Options.ENABLE_STRIKETHROUGH
                           | pyromark.Options.ENABLE_SUBSCRIPT
                           | pyromark.Options.ENABLE_TASKLISTS)
MAX_DEPTH = 8       # nested block quotes and lists shown as such; deeper ones are flattened
CHECK_EVERY = 128   # events between two looks at the clock and the output's size
URL_SCHEMES = {"http", "https", "mailto"}
ALIGNMENTS = {"Left": ' class="align-left"', "Center": ' class="align-center"',
              "Right": ' class="align-right"'}
NOT_CLASS_CHARACTER = re.compile(r"[^a-z0-9_+-]")
ALLOWED_TAGS = set(
    "p br hr h1 h2 h3 h4 h5 h6 strong em s code pre blockquote ul ol li a"
    " table thead tbody tr th td figure figcaption label input".split()
)
# dir is only ever "auto" here (see the module docstring): raw HTML never reaches the sanitizer.
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "code": {"class"},
                      "input": {"checked"},
                      **{tag: {"dir"} for tag in "p h1 h2 h3 h4 h5 h6 li blockquote table th td"
                         .split()}}
ALIGNMENT_CLASSES = {"align-left", "align-center", "align-right"}
ALLOWED_CLASSES = {
    "pre": {"highlight"}, "figure": {"code-block"}, "figcaption": {"code-block__lang"},
    "th": ALIGNMENT_CLASSES, "td": ALIGNMENT_CLASSES,
    "a": {"autolink"}, "li": {"task-list-item"},
}
# Set whatever came: a checkbox is only ever shown, never ticked by the reader.
FORCED_ATTRIBUTES = {"input": {"type": "checkbox", "disabled": ""},
                     # Code reads left to right, whatever the text around it.
                     "figure": {"dir": "ltr"}, "code": {"dir": "ltr"}}
_TAGS = {"Paragraph": ("<p>", "</p>\n"),  # opened with its dir, in _Renderer.run()
         "Emphasis": ("<em>", "</em>"),
         "Strong": ("<strong>", "</strong>"), "Strikethrough": ("<s>", "</s>"),
         "Subscript": ("~", "~"),  # see PARSER
         # No whitespace inside tables: it means nothing there, and each would be a text node
         # for the sanitizer to parse and write again (about 15 a table).
         "TableHead": ("<thead><tr>", "</tr></thead><tbody>"), "TableRow": ("<tr>", "</tr>")}


_LINKS = {"Link", "Image"}
_INLINE = {"Emphasis", "Strong", "Strikethrough", "Subscript"}  # inside a task item's label
DIR_AUTO = ' dir="auto"'
_AUTOLINK = ' class="autolink"'  # an address typed as <https://...>: see autolink.py


class LimitReached(Exception):
    """Formatting would take longer, or make more HTML, than a message may."""


@dataclass(frozen=True)
class Limits:
    """How far one message's formatting may go."""

    deadline: float  # thread CPU time (``time.thread_time()``) at which to give up
    max_html: int    # characters of HTML it may produce


@dataclass(frozen=True)
class Fence:
    """A fenced or indented code block, left for the caller to highlight; ``before`` and
    ``after`` are the figure's HTML around the code when the marker stands for all of it."""

    language: str  # the first word of the fence's info string, as typed ("" for none)
    code: str
    before: str = ""
    after: str = ""
    unsanitized: int = 0  # characters of HTML the figure counted for, unsanitized, but code


# Built once: nh3.clean() would build the same sanitizer again for every message (a third of
# its time).
SANITIZER = nh3.Cleaner(tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                        allowed_classes=ALLOWED_CLASSES, url_schemes=URL_SCHEMES,
                        url_relative="deny", link_rel=LINK_REL,
                        # Code scrolls sideways: tabindex lets keyboard users scroll it.
                        set_tag_attribute_values={"a": {"target": "_blank"},
                                                  "pre": {"tabindex": "0"},
                                                  **FORCED_ATTRIBUTES})
# A collapsed message's preview repeats its first lines, faded and cut: nothing in it takes
# focus (no links, no scrolling code), so Tab goes from the message to "Show full message".
PREVIEW_SANITIZER = nh3.Cleaner(tags=ALLOWED_TAGS - {"a"}, attributes=ALLOWED_ATTRIBUTES,
                                allowed_classes=ALLOWED_CLASSES, url_schemes=URL_SCHEMES,
                                url_relative="deny", set_tag_attribute_values=FORCED_ATTRIBUTES)


def sanitize_html(html: str, preview: bool = False) -> str:
    """The last line of defense: only the tags, attributes, classes and URLs we emit survive
    (in a ``preview``, no links and nothing else that takes focus)."""
    return (PREVIEW_SANITIZER if preview else SANITIZER).clean(html)


def render_markdown(text: str, limits: Limits, fences: list[Fence], marker: str,
                    preview: bool = False) -> str:
    """``text`` as (unsanitized) HTML; each code block, its figure included, becomes
    ``marker`` + its index in ``fences``, where it is appended (as it is to be sanitized for a
    ``preview`` or not). The limit on HTML counts the figures."""
    if not text.isascii():  # lone surrogates (JSON can carry them) become "?"
        text = text.encode("utf-8", "replace").decode("utf-8")
    return _Renderer(text.replace("\x00", "\ufffd"), limits, fences, marker, preview).run()


class _Renderer:
    """One pass over one text's events."""

    def __init__(self, text: str, limits: Limits, fences: list[Fence], marker: str,
                 preview: bool) -> None:
        self.text, self.limits, self.fences, self.marker = text, limits, fences, marker
        self.preview = preview
        self.out: list[str] = []
        self.size = self.counted = 0
        self.spans: list[dict] | None = None  # where each event was typed, found when needed
        self.source = b""

    def check(self, clock: bool = True) -> None:
        """Raise LimitReached once the HTML (or, with ``clock``, the time) passes its limit."""
        self.size += sum(map(len, self.out[self.counted:]))
        self.counted = len(self.out)
        if self.size > self.limits.max_html or (clock and
                                                time.thread_time() > self.limits.deadline):
            raise LimitReached()

    def typed(self, index: int) -> str:
        """What the writer typed for the ``index``-th event (from 1): shown, escaped, when a
        construct is not rendered. Rare, so the text is parsed again, with ranges, for it."""
        if self.spans is None:
            self.spans = [span for _, span in PARSER.events_with_range(self.text,
                                                                       merge_text=True)]
            self.source = self.text.encode("utf-8")  # the ranges count bytes
        span = self.spans[index - 1]
        return escape(self.source[span["start"]:span["end"]].decode("utf-8"))

    def run(self) -> str:
        out, add = self.out, self.out.append
        containers: list[bool] = []  # open quotes and lists: shown, or flattened past MAX_DEPTH
        columns: tuple[str, ...] = ()
        column, cell, links = 0, "td", 0
        skip = 0  # > 0 inside a link or image shown as typed, or inside an image's description
        alt: list[str] | None = None  # the description of the image being read
        code: list[str] | None = None
        language = ""
        image: dict = {}
        items: list[int] = []  # where each open list item's <li> is in out (-1: flattened)
        label = 0  # while a task item's label is open: where its text starts in out
        # True while the innermost quote, list item or table has shown nothing yet: its first
        # block gets no dir, so that the container takes its direction (module docstring).
        opening = False
        for count, event in enumerate(PARSER.events(self.text), 1):
            if count % CHECK_EVERY == 0:
                self.check()
            if type(event) is str:  # SoftBreak, HardBreak (both shown as a line break), Rule
                if not skip:
                    add("<hr>\n" if event == "Rule" else "<br>\n")
                continue
            ((kind, value),) = event.items()
            if label and (kind == "End" and value in ("Paragraph", "Item") or kind == "Start"
                          and (value not in _INLINE if type(value) is str
                               else not value.keys() & _LINKS)):
                self._close_label(label, items[-1])
                label = 0
            if skip:
                if kind == "Start" and type(value) is dict and value.keys() & _LINKS:
                    skip += 1
                elif kind == "End" and value in ("Link", "Image"):
                    skip -= 1
                    if not skip and alt is not None:
                        add(self._image(image, "".join(alt).strip(), links))
                        alt = None
                elif alt is not None and kind in ("Text", "Code"):
                    alt.append(value)
            elif kind == "Text":  # then Start and End: the commonest events first
                opening = False
                if code is not None:
                    code.append(value)
                elif links:
                    add(escape(value))
                else:
                    html, found = autolinked(value)
                    add(html)
                    if found:
                        self.check(clock=False)  # each link is some 80 characters more
            elif kind == "Start":
                if type(value) is str:
                    if value == "Paragraph" or value == "HtmlBlock":  # the latter shown as text
                        add("<p>" if opening else '<p dir="auto">')
                        opening = False
                    elif value == "TableCell":
                        alignment = columns[column] if column < len(columns) else ""
                        add(f"<{cell}{ALIGNMENTS.get(alignment, '')}"
                            f"{'' if opening else DIR_AUTO}>")
                        column += 1
                        opening = False
                    elif value in _TAGS:
                        add(_TAGS[value][0])
                        if value == "TableHead":
                            cell = "th"
                        if value in ("TableHead", "TableRow"):
                            column = 0
                    elif value == "Item":
                        items.append(len(out) if containers[-1] else -1)
                        if containers[-1]:
                            add("<li>" if opening else '<li dir="auto">')
                            opening = True
                    continue
                ((tag, detail),) = value.items()
                if tag == "Link":
                    opening = False
                    url = detail["dest_url"]
                    url = "mailto:" + url if detail["link_type"] == "Email" else url
                    if not is_safe_url(url):
                        add(self.typed(count))  # not Markdown at all: as it was typed
                        skip = 1
                        continue
                    title = f' title="{escape(detail["title"])}"' if detail["title"] else ""
                    auto = _AUTOLINK if detail["link_type"] in ("Autolink", "Email") else ""
                    add(f'<a href="{escape(url)}"{title}{auto} rel="{LINK_REL}" target="_blank">')
                    links += 1
                    self.check(clock=False)  # a reference can repeat a long URL many times
                elif tag == "Image":
                    skip, image, opening = 1, detail, False
                    if is_safe_url(detail["dest_url"]):
                        alt = []
                    else:
                        add(self.typed(count))
                elif tag == "CodeBlock":
                    code = []
                    language = "" if detail == "Indented" else (detail["Fenced"].split() or [""])[0]
                elif tag in ("BlockQuote", "List"):
                    shown = len(containers) < MAX_DEPTH
                    containers.append(shown)
                    if shown and tag == "BlockQuote":
                        add("<blockquote>\n" if opening else '<blockquote dir="auto">\n')
                        opening = True
                    elif shown:
                        add("<ul>\n" if detail is None
                            else "<ol>\n" if detail == 1 else f'<ol start="{int(detail)}">\n')
                elif tag == "Heading":
                    add(f"<h{detail['level'][1]}{'' if opening else DIR_AUTO}>")
                    opening = False
                elif tag == "Table":
                    columns, cell = detail, "td"
                    add("<table>" if opening else '<table dir="auto">')
                    opening = True
                else:  # footnotes, metadata and the like are not enabled: shown as typed
                    add(self.typed(count))
                    skip, opening = 1, False
            elif kind == "End":
                if type(value) is str:
                    if value == "TableCell":
                        add(f"</{cell}>")
                    elif value in _TAGS:
                        add(_TAGS[value][1])
                        if value == "TableHead":
                            cell = "td"
                    elif value == "Item":
                        add("</li>\n" if items.pop() >= 0 else "\n")
                        opening = False
                    elif value == "Link":
                        add("</a>")
                        links -= 1
                    elif value == "CodeBlock":
                        add(self._fence(language, "".join(code or ())))
                        code = None
                    elif value == "Table":
                        add("</tbody></table>\n")
                        opening = False
                    elif value == "HtmlBlock":
                        out[-1] = out[-1].removesuffix("<br>\n")
                        add("</p>\n")
                    continue
                ((tag, detail),) = value.items()
                if tag == "Heading":
                    add(f"</h{detail[1]}>\n")
                elif tag in ("BlockQuote", "List") and containers.pop():
                    add("</blockquote>\n" if tag == "BlockQuote"
                        else "</ol>\n" if detail else "</ul>\n")
                    opening = False
            elif kind == "TaskListMarker":
                if items and items[-1] >= 0:
                    start = items[-1]
                    out[start] = out[start].replace("<li", '<li class="task-list-item"', 1)
                    checked = " checked" if value else ""
                    add(f'<label><input type="checkbox" disabled{checked}>')
                    label = len(out)
                else:  # a flattened list's item
                    add("[x] " if value else "[ ] ")
                opening = False
            elif kind == "Code":
                add(f'<code dir="ltr">{escape(value)}</code>')
                opening = False
            elif kind == "Html":  # a line of an HTML block: shown as text
                add(escape(value).replace("\n", "<br>\n"))
            elif kind == "InlineHtml":
                add(escape(value))
                opening = False
            else:  # footnote references, math and the like are not enabled: shown as typed
                add(self.typed(count))
                opening = False
        if label:  # (an item always ends before its list: this is only in case)
            add("</label>")
        self.check()
        return "".join(out)

    def _close_label(self, start: int, item: int) -> None:
        """End the label of the task item at ``item`` in the output, whose text starts at
        ``start``; with no text, the checkbox would have no name, so the item shows its marker
        as typed."""
        out = self.out
        if len(out) > start:
            out.append("</label>")
        else:
            out[start - 1] = "[x]" if "checked" in out[start - 1] else "[ ]"
            out[item] = out[item].replace(' class="task-list-item"', "", 1)

    def _image(self, image: dict, alt: str, links: int) -> str:
        """An image is never loaded: a link to it when https, otherwise its description."""
        label = escape(gettext("image: %(description)s", description=alt) if alt
                       else gettext("image"))
        url = image["dest_url"]
        if url[:6].lower() == "https:" and not links:  # a link inside a link is invalid HTML
            return f'<a href="{escape(url)}" rel="{LINK_REL}" target="_blank">{label}</a>'
        return f"[{label}]"

    def _fence(self, language: str, code: str) -> str:
        """A code block, figure and all, left as a marker (see the module docstring)."""
        before, after = sanitized_figure(language, self.preview)
        marker = f"{self.marker}{len(self.fences)}.\n"
        # Limits count the figure as the sanitizer would have been given it: as they did.
        unsanitized = len(figure_html(language, "", True))
        self.fences.append(Fence(language, code, before, after, unsanitized))
        self.size += unsanitized
        return marker


def sanitized_figure(language: str, preview: bool) -> tuple[str, str]:
    """A code block's figure before and after its code, as the sanitizer writes
    ``code_figure`` (in a ``preview``, not focusable)."""
    lexer = lexer_for(language)
    caption = (f'<figcaption class="code-block__lang">{escape_code(lexer.name)}</figcaption>'
               if lexer else "")
    language_class = NOT_CLASS_CHARACTER.sub("", language.lower())
    attributes = f' class="language-{language_class}"' if language_class else ""
    tabindex = "" if preview else ' tabindex="0"'
    return (f'<figure class="code-block" dir="ltr">{caption}'
            f'<pre class="highlight"{tabindex}><code{attributes} dir="ltr">',
            "</code></pre></figure>")


def code_figure(language: str, code: str, fences: list[Fence], marker: str,
                focusable: bool = True) -> str:
    """A code block's figure, ``code`` left in ``fences`` and shown as ``marker`` and its index
    there. It scrolls sideways: unless it is in a preview, Tab can reach it to scroll it."""
    fences.append(Fence(language, code))
    return figure_html(language, f"{marker}{len(fences) - 1}.", focusable) + "\n"


def figure_html(language: str, inside: str, focusable: bool) -> str:
    """A code block's figure around ``inside``, unsanitized."""
    lexer = lexer_for(language)
    caption = f'<figcaption class="code-block__lang">{lexer.name}</figcaption>' if lexer else ""
    language_class = NOT_CLASS_CHARACTER.sub("", language.lower())
    attributes = f' class="language-{language_class}"' if language_class else ""
    tabindex = ' tabindex="0"' if focusable else ""
    return (f'<figure class="code-block" dir="ltr">{caption}'
            f'<pre class="highlight"{tabindex}><code{attributes}>{inside}</code></pre></figure>')


# Where a block ends, the words before it and after it are apart: a line break in the text.
_BLOCK_ENDS = frozenset({"Paragraph", "Item", "CodeBlock", "TableHead", "TableRow", "Table",
                         "HtmlBlock", "BlockQuote"})


def words_of(text: str) -> str:
    """Markdown ``text`` as a reader sees it, in plain text: its words and code without the
    marks that format them (``**``, ``#``, backticks, link targets). Raw HTML, shown as text
    on the page, stays. Linear in ``text`` (pulldown-cmark), and nothing is rendered."""
    if not text.isascii():  # lone surrogates (JSON can carry them) become "?"
        text = text.encode("utf-8", "replace").decode("utf-8")
    out: list[str] = []
    add = out.append
    for event in PARSER.events(text.replace("\x00", "\ufffd")):
        if type(event) is str:  # SoftBreak, HardBreak, Rule
            add("\n")
            continue
        ((kind, value),) = event.items()
        if kind in ("Text", "Code", "Html", "InlineHtml"):
            add(value)
        elif kind == "End":
            if value == "TableCell":
                add(" ")
            elif type(value) is dict or value in _BLOCK_ENDS:  # headings and lists are dicts
                add("\n")
    return "".join(out).strip()

