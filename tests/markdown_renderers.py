"""Markdown as other programs render it, and whether the HTML they make could run anything.

The Markdown download must carry no raw HTML and no link a browser could run in *any* common
renderer, not only CommonMark ones: Python-Markdown (alone, and with its "extra" extensions,
as MkDocs uses it) and showdown pass HTML through by looser rules, and do not know fenced code
without an extension. ``renderers()`` gives each one installed as a function from Markdown texts to
their HTML: Python-Markdown from requirements-dev.txt, showdown and marked (npm, package.json) run
with node, and pulldown-cmark (pyromark) as the reference.
"""

from __future__ import annotations

import functools
import html
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import pyromark
from required_tools import tool_missing

ROOT = Path(__file__).resolve().parent.parent
# Elements plain Markdown makes; anything else came from raw HTML.
SAFE_TAGS = frozenset({
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "em", "strong", "del", "s", "code",
    "pre", "blockquote", "ul", "ol", "li", "a", "img", "table", "thead", "tbody", "tr", "th",
    "td", "sup", "sub", "dl", "dt", "dd", "abbr", "input", "div", "span", "section", "math",
})
SAFE_ATTRIBUTES = frozenset({"href", "src", "alt", "title", "id", "class", "align", "start",
                             "type", "checked", "disabled", "colspan", "rowspan", "style",
                             "rel", "role", "aria-label", "data-footnote-ref",
                             "data-footnote-backref", "data-footnotes"})
SAFE_SCHEMES = ("http:", "https:", "mailto:")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")

# Renders each of a JSON list of Markdown texts; prints the list of HTML.
NODE_RENDER = r"""
const name = process.argv[1];
const texts = JSON.parse(require("fs").readFileSync(0, "utf8"));
let render;
if (name === "showdown") {
  const converter = new (require("showdown").Converter)();
  render = (text) => converter.makeHtml(text);
} else {
  render = (text) => require("marked").marked.parse(text);
}
process.stdout.write(JSON.stringify(texts.map(render)));
"""


# The project's node_modules (npm ci), after any NODE_PATH of the caller's.
NODE_ENV = {**os.environ, "NODE_PATH": os.pathsep.join(
    filter(None, [os.environ.get("NODE_PATH"), str(ROOT / "node_modules")]))}


class Active(HTMLParser):
    """Collects what in a piece of HTML could run or load something: tags other than those
    Markdown makes, event handlers and other attributes, links of other schemes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag not in SAFE_TAGS:
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            if name not in SAFE_ATTRIBUTES or (name == "style" and value):
                self.found.append(f"{tag} {name}={value!r}")
            elif name in ("href", "src") and value is not None:
                # Browsers drop tabs and newlines in URLs, and leading spaces and controls.
                url = re.sub(r"[\t\n\r]", "", value).lstrip("\x00- ")
                scheme = _SCHEME.match(url)
                if scheme and not scheme[0].lower().startswith(SAFE_SCHEMES):
                    self.found.append(f"{tag} {name}={value!r}")

    def handle_comment(self, data: str) -> None:
        self.found.append("<!--")

    def handle_pi(self, data: str) -> None:
        self.found.append("<?")


def active(rendered: str) -> list[str]:
    """What in ``rendered`` (HTML) could run or load something; [] when nothing."""
    parser = Active()
    parser.feed(rendered)
    parser.close()
    return parser.found


def _python_markdown(extensions: list[str]) -> Callable[[list[str]], list[str]]:
    import markdown

    return lambda texts: [markdown.markdown(text, extensions=extensions) for text in texts]


def _node(name: str) -> Callable[[list[str]], list[str]]:
    def render(texts: list[str]) -> list[str]:
        result = subprocess.run(["node", "-e", NODE_RENDER, name], input=json.dumps(texts),
                                cwd=ROOT, capture_output=True, text=True, timeout=60,
                                check=True, env=NODE_ENV)
        return json.loads(result.stdout)
    return render


def _node_has(name: str) -> bool:
    if shutil.which("node") is None:
        return False
    found = subprocess.run(["node", "-e", f"require.resolve({json.dumps(name)})"], cwd=ROOT,
                           capture_output=True, timeout=30, env=NODE_ENV)
    return found.returncode == 0


@functools.cache  # asked by every test: Node would start twice a test to find the same ones
def renderers() -> dict[str, Callable[[list[str]], list[str]]]:
    """Each renderer by name, as a function from Markdown texts to their HTML; one missing is
    a failure under CI (``make test`` installs them all) and a skip elsewhere."""
    cmark = pyromark.Markdown(options=pyromark.Options.ENABLE_TABLES)
    found: dict[str, Callable[[list[str]], list[str]]] = {
        "pulldown-cmark": lambda texts: [cmark.html(text) for text in texts]}
    missing = []
    try:
        import markdown  # noqa: F401
    except ImportError:
        missing.append("Python-Markdown (pip install -r requirements-dev.txt)")
    else:
        found["Python-Markdown"] = _python_markdown([])
        found["Python-Markdown extra"] = _python_markdown(["extra"])
    for name in ("showdown", "marked"):
        if _node_has(name):
            found[name] = _node(name)
        else:
            missing.append(f"{name} (npm ci)")
    if missing:
        tool_missing("Markdown renderers not installed: " + ", ".join(missing))
    return found


def shown_text(rendered: str) -> str:
    """The text of ``rendered`` as a reader sees it (tags dropped, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]*>", "", rendered))
