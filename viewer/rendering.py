"""Message text as safe HTML: CommonMark with tables, rendered server-side, then sanitized."""

from __future__ import annotations

import logging
import re

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml, unescapeAll
from markdown_it.rules_core import StateCore
from markupsafe import Markup, escape
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.token import STANDARD_TYPES
from pygments.util import ClassNotFound

log = logging.getLogger(__name__)

SAFE_URL = re.compile(r"(?:https?|mailto):", re.IGNORECASE)
LINK_REL = "noopener noreferrer nofollow"
URL_SCHEMES = {"http", "https", "mailto"}
TABLE_ALIGNMENT = re.compile(r"text-align:(left|center|right)")
NOT_CLASS_CHARACTER = re.compile(r"[^a-z0-9_+-]")
# The palettes whose every token colour keeps WCAG AA contrast (4.5:1) on our code backgrounds.
LIGHT_STYLE, DARK_STYLE = "xcode", "lightbulb"

ALLOWED_TAGS = set(
    "p br hr h1 h2 h3 h4 h5 h6 strong em del s code pre blockquote ul ol li a"
    " table thead tbody tr th td figure figcaption span div".split()
)
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "code": {"class"}}
ALIGNMENT_CLASSES = {"align-left", "align-center", "align-right"}
ALLOWED_CLASSES = {
    "span": set(STANDARD_TYPES.values()) - {""},  # Pygments token classes
    "pre": {"highlight"}, "figure": {"code-block"}, "figcaption": {"code-block__lang"},
    "th": ALIGNMENT_CLASSES, "td": ALIGNMENT_CLASSES,
}  # fmt: skip
CODE_FORMATTER = HtmlFormatter(nowrap=True)


def is_safe_url(url: str) -> bool:
    """Whether a (normalized) link target uses http, https or mailto; relative URLs are not.

    It must also be one the sanitizer keeps: it drops URLs it cannot parse (``http:`` with no
    host), which would leave an ``<a>`` without an href instead of the text that was typed.
    """
    if SAFE_URL.match(url.strip()) is None:
        return False
    kept = nh3.clean(f'<a href="{escapeHtml(url)}"></a>', tags={"a"},
                     attributes={"a": {"href"}}, url_schemes=URL_SCHEMES,
                     url_relative="deny", link_rel=None)
    return "href=" in kept


def _drop_unsafe_links_and_styles(state: StateCore) -> None:
    """Unwrap links left with an unsafe href (``[x]()``); turn table alignment into classes."""
    for token in state.tokens:
        if alignment := TABLE_ALIGNMENT.fullmatch(str(token.attrs.pop("style", ""))):
            token.attrSet("class", f"align-{alignment[1]}")
        kept, in_link, unwrapping = [], False, False
        for child in token.children or []:
            if child.type == "link_open":
                in_link, unwrapping = True, not is_safe_url(str(child.attrGet("href") or ""))
            elif child.type == "image":
                child.meta["in_link"] = in_link  # a link inside a link would be invalid HTML
            if not (unwrapping and child.type in ("link_open", "link_close")):
                kept.append(child)
            if child.type == "link_close":
                in_link = unwrapping = False
        if token.children:
            token.children = kept


def _render_fence(renderer, tokens, idx, options, env) -> str:
    """A fenced code block, highlighted with Pygments classes and captioned with its language."""
    token = tokens[idx]
    language = (unescapeAll(token.info).split() or [""])[0]
    try:
        lexer = get_lexer_by_name(language) if language else None
    except ClassNotFound:
        lexer = None
    code = highlight(token.content, lexer, CODE_FORMATTER) if lexer else escapeHtml(token.content)
    name = escapeHtml(lexer.name) if lexer else ""
    caption = f'<figcaption class="code-block__lang">{name}</figcaption>' if name else ""
    language_class = NOT_CLASS_CHARACTER.sub("", language.lower())
    code_attributes = f' class="language-{language_class}"' if language_class else ""
    code_block = f'<pre class="highlight"><code{code_attributes}>{code}</code></pre>'
    return f'<figure class="code-block">{caption}{code_block}</figure>\n'


def _render_image(renderer, tokens, idx, options, env) -> str:
    """An image is never loaded: a link to it when https, otherwise its description as text."""
    token = tokens[idx]
    alt = renderer.renderInlineAsText(token.children or [], options, env).strip()
    label = f"image: {alt}" if alt else "image"
    src = str(token.attrGet("src") or "")
    if src.lower().startswith("https:") and not token.meta.get("in_link"):
        return f'<a href="{escapeHtml(src)}">{escapeHtml(label)}</a>'
    return escapeHtml(f"[{label}]")


# breaks: chat text is written line by line, so a single newline is a line break.
MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False,
                                     "breaks": True})
MARKDOWN.enable(["table", "strikethrough"])
MARKDOWN.validateLink = is_safe_url  # an unsafe link stays as the text that was typed
MARKDOWN.core.ruler.push("drop_unsafe_links_and_styles", _drop_unsafe_links_and_styles)
MARKDOWN.add_render_rule("fence", _render_fence)
MARKDOWN.add_render_rule("image", _render_image)


def sanitize_html(html: str) -> str:
    """The last line of defense: only the tags, attributes, classes and URLs we emit survive."""
    return nh3.clean(
        html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, allowed_classes=ALLOWED_CLASSES,
        url_schemes=URL_SCHEMES, url_relative="deny",
        link_rel=LINK_REL,
        # Code blocks scroll sideways: tabindex lets keyboard users focus and scroll them.
        set_tag_attribute_values={"a": {"target": "_blank"}, "pre": {"tabindex": "0"}},
    )  # fmt: skip


def render_plain(text: str) -> Markup:
    """Text shown as is (escaped), for content that is not Markdown, such as tool output."""
    return escape(text)


def render_markdown(text: str) -> Markup:
    """Markdown as sanitized HTML; never raises (falls back to the escaped text)."""
    text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates become "?"
    try:
        return Markup(sanitize_html(MARKDOWN.render(text)))
    except Exception:
        log.exception("Markdown rendering failed; showing the message unrendered")
        return render_plain(text)


def _highlight_rules(style: str, selector: str) -> list[str]:
    formatter = HtmlFormatter(style=style)
    return formatter.get_background_style_defs(selector) + formatter.get_token_style_defs(selector)


def pygments_css() -> str:
    """CSS for ``.highlight``: a light palette, and a dark one for the dark theme (set or auto)."""
    auto_dark = _highlight_rules(DARK_STYLE, ':root:not([data-theme="light"]) .highlight')
    return "\n".join([
        "/* Generated by `python -m viewer.rendering > static/pygments.css`; do not edit. */",
        *_highlight_rules(LIGHT_STYLE, ".highlight"),
        *_highlight_rules(DARK_STYLE, ':root[data-theme="dark"] .highlight'),
        "@media (prefers-color-scheme: dark) {", *("  " + rule for rule in auto_dark), "}",
    ]) + "\n"  # fmt: skip


if __name__ == "__main__":
    print(pygments_css(), end="")
