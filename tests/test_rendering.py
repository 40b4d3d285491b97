"""Server-side Markdown rendering: what is rendered, and that hostile input stays inert."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import Markup
from pygments.formatters import HtmlFormatter

from memos_api import ContentPart, Message
from viewer.accent import contrast
from viewer.renderer.formatting import message_body, PageBudget, plain_html
from viewer.renderer.highlight import (
    DARK_STYLE,
    GENERATED_MARK,
    LIGHT_STYLE,
    pygments_css,
    with_pygments_css,
)

STYLESHEET = Path(__file__).resolve().parents[1] / "static" / "chat.css"
SAFE_HREF = re.compile(r"(?:https?|mailto):", re.IGNORECASE)


class ElementCollector(HTMLParser):
    """Every start tag in a fragment, as (tag, {attribute: value}) with values unescaped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text = ""

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text += data


def parse(html: str) -> ElementCollector:
    collector = ElementCollector()
    collector.feed(str(html))  # a Markup would escape what the parser joins to it
    collector.close()
    return collector


def render_markdown(text: str) -> Markup:
    """An assistant message's body (Markdown), formatted on a page of its own."""
    return message_body(Message("assistant", (ContentPart("text", text),)), PageBudget()).html


def elements(html: str, tag: str | None = None) -> list[dict[str, str | None]]:
    return [attrs for name, attrs in parse(html).elements if tag is None or name == tag]


def assert_inert(html: str) -> None:
    """No script or image, no event handler or style attribute, only safe links with safe rel."""
    for tag, attrs in parse(html).elements:
        assert tag not in {"script", "img", "svg", "iframe", "object", "embed", "style"}, html
        for name in attrs:
            assert not name.startswith("on"), html
            assert name != "style", html
        if tag == "a":
            assert SAFE_HREF.match(attrs.get("href") or ""), html
            rel = set((attrs.get("rel") or "").split())
            assert {"noopener", "noreferrer", "nofollow"} <= rel, html
            assert attrs.get("target") == "_blank", html


# Basic Markdown


def test_returns_markup_that_is_not_escaped_again():
    html = render_markdown("*hi*")
    assert isinstance(html, Markup)
    assert Markup("{}").format(html) == html


def test_emphasis_strikethrough_and_lists():
    html = render_markdown("*em* **strong** ~~gone~~\n\n- one\n- two\n\n3. three\n4. four")
    assert "<em>em</em>" in html and "<strong>strong</strong>" in html and "<s>gone</s>" in html
    assert '<ul>\n<li dir="auto">one</li>\n<li dir="auto">two</li>\n</ul>' in html
    assert '<ol start="3">\n<li dir="auto">three</li>' in html


def test_tables_with_alignment_as_classes_not_styles():
    html = render_markdown("| a | b | c | d |\n|:-|:-:|-:|---|\n| 1 | 2 | 3 | 4 |")
    # The table takes its direction from its first cell, which so has no dir of its own.
    assert html == Markup(
        '<table dir="auto"><thead><tr><th class="align-left">a</th>'
        '<th class="align-center" dir="auto">b</th><th class="align-right" dir="auto">c</th>'
        '<th dir="auto">d</th></tr></thead><tbody><tr><td class="align-left" dir="auto">1</td>'
        '<td class="align-center" dir="auto">2</td><td class="align-right" dir="auto">3</td>'
        '<td dir="auto">4</td></tr></tbody></table>\n')
    assert_inert(html)


def test_fenced_code_is_highlighted_with_classes_and_captioned():
    html = render_markdown("```python\ndef f(x):\n    return '<b>'\n```")
    assert html.startswith(
        '<figure class="code-block" dir="ltr">'
        '<figcaption class="code-block__lang">Python</figcaption>'
        '<pre class="highlight" tabindex="0"><code class="language-python" dir="ltr">'
        '<span class="k">def</span>'
    )
    assert '<span class="nf">f</span>' in html
    assert "&lt;b&gt;" in html and "<b>" not in html
    assert html.rstrip().endswith("</code></pre></figure>")
    assert_inert(html)


def test_fenced_code_in_an_unknown_language_is_plain_escaped_text():
    html = render_markdown("```nosuchlanguage\n<b>x</b>\n```")
    assert html == Markup(
        '<figure class="code-block" dir="ltr"><pre class="highlight" tabindex="0">'
        '<code class="language-nosuchlanguage" dir="ltr">'
        "&lt;b&gt;x&lt;/b&gt;\n</code></pre></figure>\n"
    )


def test_fenced_code_without_a_language_has_no_caption_or_class():
    html = render_markdown("```\nplain <x>\n```")
    assert html == Markup(
        '<figure class="code-block" dir="ltr"><pre class="highlight" tabindex="0">'
        '<code dir="ltr">plain &lt;x&gt;\n</code></pre></figure>\n'
    )


@pytest.mark.parametrize(
    "info, language_class",
    [
        ('"><script>', "script"),
        ("python onload=x", "python"),
        ("C++ x", "c++"),
        ('py"class=x', "pyclassx"),
    ],
)
def test_fence_info_string_never_reaches_attributes_raw(info, language_class):
    html = render_markdown(f"```{info}\nx = 1\n```")
    assert [attrs["class"] for attrs in elements(html, "code")] == [f"language-{language_class}"]
    assert "<script" not in html and "onload" not in html
    assert_inert(html)


FENCE_LANGUAGES = ["python", "PY", "c++", "C#", "", "nosuchlanguage", '"><script>', "</pre>",
                   "a&b", "code-0123456789abcdef-0.", "ſ", "中文", "x" * 300, "json", "jsx"]


@pytest.mark.parametrize("language", FENCE_LANGUAGES)
@pytest.mark.parametrize("preview", [False, True])
def test_a_code_figure_is_made_as_the_sanitizer_would_write_it(language, preview):
    """The figure around a Markdown code block skips the sanitizer: it must be what the
    sanitizer makes of the figure it used to be given, whatever the fence's language."""
    from viewer.renderer.markdown import code_figure, sanitize_html, sanitized_figure

    marker = "code-0123456789abcdef-"
    given = sanitize_html(code_figure(language, "x", [], marker), preview)
    before, after = sanitized_figure(language, preview)
    assert given == f"{before}{marker}0.{after}\n"


# Where a code block can be: each context's {} is a fence, its lines indented by the context's.
FIGURE_CONTEXTS = ["{}", "> {}", "- {}", "- [x] task\n\n  {}", "1. a\n\n   {}", "> - > {}",
                   "| a |\n|---|\n| b |\n\n{}", "text\n\n{}", "<div>\n\n{}\n\n</div>",
                   "[link](https://e.com)\n\n{}", "- " * 12 + "{}"]
HOSTILE_FENCES = ['```"><b>\n</code></pre><script>x</script>\n```', "    indented </figure>",
                  "~~~python\nx = '</pre>'\n~~~"]


@pytest.mark.parametrize("context", FIGURE_CONTEXTS)
@pytest.mark.parametrize("fence", HOSTILE_FENCES)
def test_code_figures_in_any_context_are_where_the_sanitizer_would_put_them(context, fence):
    from viewer.renderer.highlight import escape_code
    from viewer.renderer.markdown import code_figure, Limits, sanitize_html
    from viewer.renderer.markdown import render_markdown as markdown_html

    prefix = context.split("{}")[0].rsplit("\n", 1)[-1]
    indent = "> " if prefix.startswith(">") else " " * len(prefix)
    text = context.format(fence.replace("\n", "\n" + indent))
    html = render_markdown(text)
    assert_inert(html)
    assert "<script" not in html and "<b>" not in html
    # The figures as they were made before: in the Markdown, through the sanitizer.
    fences: list = []
    marker = "code-0123456789abcdef-"
    unsanitized = markdown_html(text, Limits(float("inf"), 10**6), fences, marker)
    assert fences
    for index, fence_found in enumerate(fences):
        figure = code_figure(fence_found.language, "", [], marker)
        unsanitized = unsanitized.replace(f"{marker}{index}.\n",
                                          figure.replace(f"{marker}0.", ""))
    codes = iter(fences)
    expected = re.sub(r"(<code[^>]*>)(</code></pre></figure>)",
                      lambda m: m[1] + escape_code(next(codes).code) + m[2],
                      sanitize_html(unsanitized))
    assert re.sub(r"<span[^>]*>|</span>", "", html) == expected


def test_links_get_rel_and_target():
    text = '[docs](https://example.com/a?b=1&c=2 "The \\"docs\\"") <me@example.org>'
    html = render_markdown(text)
    assert (
        '<a href="https://example.com/a?b=1&amp;c=2" title="The &quot;docs&quot;" target="_blank" '
        'rel="noopener noreferrer nofollow">docs</a>'
    ) in html
    assert (
        '<a href="mailto:me@example.org" class="autolink" target="_blank" '
        'rel="noopener noreferrer nofollow">me@example.org</a>'
    ) in html
    assert_inert(html)


def test_plain_text_is_escaped_and_kept_as_typed():
    assert plain_html((ContentPart("text", "<b>a & b</b>\n*not markdown*"),)) == Markup(
        '<p class="message__plain" dir="auto">&lt;b&gt;a &amp; b&lt;/b&gt;\n*not markdown*</p>'
    )


# Hostile input


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "<div><b>unclosed",
        '"><svg onload=alert(1)>',
        "<a href=\"javascript:alert(1)\" onclick='x()'>click</a>",
        '<p style="color:red" onmouseover="x()">hover</p>',
        "<!-- comment --><style>*{}</style>",
    ],
)
def test_raw_html_is_shown_as_text(text):
    html = render_markdown(text)
    assert parse(html).text.strip() == text
    assert [tag for tag, _ in parse(html).elements] == ["p"]
    assert_inert(html)


@pytest.mark.parametrize(
    "text",
    [
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](  javascript:alert(1))",
        "[x](java&#115;cript:alert(1))",
        "[x](&#x6A;avascript:alert(1))",
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
        "[x](vbscript:msgbox)",
        "[x](file:///etc/passwd)",
        "[x](/relative) [y](#fragment) [z]()",
        "<javascript:alert(1)>",
        "<vbscript:msgbox>",
        "[ref]\n\n[ref]: javascript:alert(1)",
        "[x](<javascript:alert(1)>)",
    ],
)
def test_links_with_other_schemes_are_not_links(text):
    html = render_markdown(text)
    assert elements(html, "a") == []
    assert_inert(html)


def test_https_image_becomes_a_link_not_an_image():
    html = render_markdown("![a pixel](https://evil.example/pixel.png)")
    assert html == Markup(
        '<p dir="auto"><a href="https://evil.example/pixel.png" target="_blank" '
        'rel="noopener noreferrer nofollow">image: a pixel</a></p>\n'
    )


def test_http_image_is_plain_text():
    assert render_markdown("![a](http://x/y.png)") == Markup('<p dir="auto">[image: a]</p>\n')


@pytest.mark.parametrize(
    "text", ["![a](data:image/png;base64,iVBORw0KGgo=)", "![a](/local.png)", "![a](x.png)"]
)
def test_images_with_other_urls_stay_as_typed(text):
    html = render_markdown(text)
    # Like a link with such a URL: not Markdown at all.
    assert html == Markup(f'<p dir="auto">{text}</p>\n')


def test_image_inside_a_link_does_not_nest_links():
    html = render_markdown("[![logo](https://example.com/logo.png)](https://example.com)")
    assert [attrs["href"] for attrs in elements(html, "a")] == ["https://example.com"]
    assert "[image: logo]" in html
    assert_inert(html)


def test_lone_surrogates_and_nul_do_not_raise():
    assert render_markdown("a\ud800b\x00c") == Markup('<p dir="auto">a?b\ufffdc</p>\n')


@pytest.mark.parametrize(
    "text", ["> " * 5000, "[" * 20000, "[a](" * 5000, "*a " * 5000, "`" * 20000, ""]
)
def test_pathological_input_renders(text):
    assert_inert(render_markdown(text))


MARKDOWN_FRAGMENTS = [
    "[", "]", "(", ")", "![", "<", ">", "`", "```", "```python\n", "~~", "*", "_", "|", "|:-|",
    "\n", "\n\n", "    ", "> ", "- ", "1. ", "#", '"', "'", "&", "&#106;", "\\", "=",
    "javascript:", "JaVaScRiPt:", "data:", "vbscript:", "https://x.example/", "http://", "mailto:",
    "<script>", "<img src=x ", " onerror=", " onload=", "style=", "<a href=", "<svg", "\x00", "\t",
]
markdownish_text = st.one_of(
    st.text(),
    st.lists(st.one_of(st.sampled_from(MARKDOWN_FRAGMENTS), st.text(max_size=3))).map("".join),
)


@settings(max_examples=400, deadline=None)
@given(markdownish_text)
def test_any_text_renders_without_raising_and_stays_inert(text):
    html = render_markdown(text)
    assert isinstance(html, Markup)
    assert "<script" not in html.lower()  # "<" is escaped in text and attribute values alike
    assert_inert(html)  # attributes parsed: text such as " onload=" may legitimately remain


# Code highlighting stylesheet


def test_committed_code_colours_are_up_to_date():
    stylesheet = STYLESHEET.read_text(encoding="utf-8")
    assert stylesheet.count(GENERATED_MARK) == 1
    assert stylesheet.endswith(pygments_css()) and with_pygments_css(stylesheet) == stylesheet, (
        "regenerate with: python -m viewer.renderer.highlight"
    )


def code_rules(css: str) -> dict[str, str]:
    """Each ``.highlight`` token class outside the media blocks, with its declarations."""
    found = {}
    for selectors, declarations in re.findall(r"^(\.highlight [^{]+) \{ (.*) \}$", css,
                                              re.MULTILINE):
        for selector in selectors.split(", "):
            assert selector.startswith(".highlight ."), selector
            assert selector.removeprefix(".highlight ") not in found, selector
            found[selector.removeprefix(".highlight ")] = declarations
    return found


def test_pygments_css_follows_the_colour_scheme_and_the_dark_theme_on_screen():
    css = pygments_css()
    assert "color: light-dark(#A90D91, #FFAD66)" in code_rules(css)[".k"]  # Keyword
    # What color-scheme cannot pick (the dark palette's italics and bold) is for the screen
    # only, a theme set or the system's: paper gets the light look whatever the theme.
    forced = css[css.index("@media screen {"):]
    assert forced.index(':root[data-theme="dark"] .highlight .cs') < forced.index("\n}")
    media = css[css.index("@media screen and (prefers-color-scheme: dark) {"):]
    assert ':root:not([data-theme="light"]) .highlight .cs' in media
    assert css.count(':root[data-theme="dark"]') == css[css.index("@media screen {"):].count(
        ':root[data-theme="dark"]')
    for media_block in re.findall(r"^@media[^{]*\{\n(.*?)^\}", css, re.MULTILINE | re.DOTALL):
        assert "color" not in media_block  # colours follow color-scheme alone
    assert "style=" not in css and "\npre " not in css  # nothing outside .highlight


COLOUR = re.compile(r"(?<![-\w])color: (?:light-dark\((\S+), (\S+)\)|(#\w+))")


def full_hex(colour: str) -> str:
    return "#" + "".join(c * 2 for c in colour[1:]) if len(colour) == 4 else colour


def test_code_colours_read_on_the_code_background():
    """Every token colour keeps WCAG AA contrast on the background code is drawn on (chat.css
    --code-bg): the palettes' own backgrounds are left out, so that one is the only one."""
    stylesheet = STYLESHEET.read_text(encoding="utf-8")
    light_bg, dark_bg = re.search(r"--code-bg: light-dark\((#\w{6}), (#\w{6})\)",
                                  stylesheet).groups()
    css = pygments_css()
    assert "background:" not in css  # only tokens' own (a diff's inserted and deleted lines)
    pairs = [(same, same) if same else (light, dark) for light, dark, same in COLOUR.findall(css)]
    assert len(pairs) > 20
    checked = 0
    for pair in pairs:
        for colour, background in zip(pair, (light_bg, dark_bg), strict=True):
            if colour != "currentcolor":  # the code's own, checked with the page's colours
                assert contrast(full_hex(colour), background) >= 4.5, (colour, background)
                checked += 1
    assert checked > 40


@pytest.mark.parametrize("style", [LIGHT_STYLE, DARK_STYLE])
def test_every_token_colour_of_both_palettes_is_drawn(style):
    """Each palette's colour for each of its tokens, on its side of ``light-dark()`` (the
    other palette's tokens are the code's own colour there): none is dropped or mixed up,
    and no light token keeps its light colour on a dark background."""
    side = 0 if style == LIGHT_STYLE else 1
    rules = code_rules(pygments_css())
    for rule in HtmlFormatter(style=style).get_token_style_defs(".h"):
        token_class = rule.split()[1]
        wanted = re.search(r"(?<![-\w])color: (#\w+)", rule)
        if wanted:
            light, dark, same = COLOUR.search(rules[token_class]).groups()
            assert (same or (light, dark)[side]) == wanted[1], (token_class, rule)
