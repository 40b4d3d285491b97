"""A host's accent colour for the widget (``?accent=#0a7``), and the palette made from it.

A host names one colour, ``#rgb`` or ``#rrggbb`` and nothing else; the widget uses it for user
bubbles and links. Readability decides the rest, by WCAG 2's relative luminance: the text on a
bubble is white or near-black, whichever contrasts more, and when neither reaches 4.5:1 the
bubble is darkened or lightened until one does; links take the accent darkened for the light
theme and lightened for the dark one, until they reach 4.5:1 on that theme's surfaces.

The palette reaches the page as a stylesheet of its own (``stylesheet``, served at
``/accent/<rrggbb>.css``): the pages' Content-Security-Policy allows styles from this origin
only, with no inline style and no nonce, and a stylesheet whose URL names its colour needs
neither. It only sets static/chat.css's custom properties, so every rule drawing with
``--user-bg``, ``--user-text`` or ``--accent`` follows it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from werkzeug.exceptions import BadRequest

from .i18n import gettext

_ACCENT = re.compile(r"#(?:[0-9a-fA-F]{3}){1,2}")
CANONICAL = re.compile(r"[0-9a-f]{6}")  # how a stylesheet's URL names its colour
MINIMUM_CONTRAST = 4.5  # WCAG 2 AA for body text
WHITE = "#ffffff"
NEAR_BLACK = "#111418"  # the dark theme's page colour (static/chat.css --bg)
# Where links are drawn in each theme (static/chat.css: --bg, --surface, --quiet-bg,
# --code-bg): a link colour must read on every one of them.
LIGHT_SURFACES = ("#ffffff", "#f5f6f8", "#eceef3", "#f3f4f7")
DARK_SURFACES = ("#111418", "#1a1f27", "#232a35", "#0d1117")
STEPS = 100  # how finely a colour is darkened or lightened: 1% of the way at a time


def canonical(value: object) -> str | None:
    """``value`` as lowercase ``#rrggbb`` when it is ``#rgb`` or ``#rrggbb``, else None."""
    if not isinstance(value, str) or not _ACCENT.fullmatch(value):
        return None
    digits = value[1:].lower()
    return "#" + (digits if len(digits) == 6 else "".join(char * 2 for char in digits))


def read_accent(args: Mapping[str, str]) -> str | None:
    """The ``accent`` a request asks for, as ``#rrggbb``; None when absent; else a 400."""
    value = args.get("accent")
    if value is None or value == "":
        return None
    accent = canonical(value)
    if accent is None:
        raise BadRequest(gettext("The accent must be a colour written #rgb or #rrggbb (such as "
                                 "#0a7 or #00aa77), not “%(value)s”.", value=value[:20]))
    return accent


def luminance(colour: str) -> float:
    """WCAG 2's relative luminance of ``#rrggbb``: 0 for black, 1 for white."""
    def linear(channel: int) -> float:
        value = channel / 255
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4
    red, green, blue = (linear(channel) for channel in _channels(colour))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(first: str, second: str) -> float:
    """WCAG 2's contrast ratio of two colours, from 1 (the same) to 21 (black on white)."""
    lighter, darker = sorted((luminance(first), luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def mix(colour: str, toward: str, share: float) -> str:
    """``colour`` moved ``share`` (0..1) of the way to ``toward``, channel by channel."""
    return "#" + "".join(f"{round(own + (target - own) * share):02x}"
                         for own, target in zip(_channels(colour), _channels(toward),
                                                strict=True))


def _channels(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _nearest_readable(colour: str, toward: str, against: tuple[str, ...]) -> str:
    """``colour``, or the first step from it to ``toward`` reading at 4.5:1 on all of
    ``against`` (mixing with black or white moves luminance one way only, so it comes)."""
    for step in range(STEPS + 1):
        candidate = mix(colour, toward, step / STEPS)
        if min(contrast(candidate, surface) for surface in against) >= MINIMUM_CONTRAST:
            return candidate
    return toward


def _text_on(colour: str) -> str:
    """White or near-black, whichever contrasts more with ``colour``."""
    return WHITE if contrast(colour, WHITE) >= contrast(colour, NEAR_BLACK) else NEAR_BLACK


@dataclass(frozen=True)
class Palette:
    """The colours made from one accent, each pair at 4.5:1 or more."""

    bubble: str       # a user message's background: the accent, adjusted only if it must be
    bubble_text: str  # its text and links: white or near-black
    link_light: str   # links (and the focus ring) in the light theme
    link_dark: str    # ... and in the dark theme
    text_on_link_light: str  # a button filled with the link colour, light theme
    text_on_link_dark: str


@lru_cache(maxsize=256)
def palette(accent: str) -> Palette:
    """The palette for ``accent`` (``#rrggbb``)."""
    text = _text_on(accent)
    # Away from the text: white text wants a darker bubble, near-black a lighter one.
    bubble = _nearest_readable(accent, "#000000" if text == WHITE else WHITE, (text,))
    link_light = _nearest_readable(accent, "#000000", LIGHT_SURFACES)
    link_dark = _nearest_readable(accent, WHITE, DARK_SURFACES)
    return Palette(bubble, text, link_light, link_dark, _text_on(link_light),
                   _text_on(link_dark))


@lru_cache(maxsize=256)
def stylesheet(accent: str) -> str:
    """The CSS giving the page ``accent``'s palette: custom properties of static/chat.css."""
    colours = palette(accent)
    return (f"/* The accent {accent}: user bubbles and links (viewer/accent.py). */\n"
            ":root {\n"
            f"  --user-bg: {colours.bubble};\n"
            f"  --user-text: {colours.bubble_text};\n"
            f"  --user-link: {colours.bubble_text};\n"
            f"  --accent: light-dark({colours.link_light}, {colours.link_dark});\n"
            f"  --accent-text: light-dark({colours.text_on_link_light}, "
            f"{colours.text_on_link_dark});\n"
            "}\n")
