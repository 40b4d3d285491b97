"""Colour arithmetic for the tests that measure contrast: WCAG 2's formulas, written once."""

from __future__ import annotations

import re

_CSS_RGB = re.compile(r"rgba?\((\d+), (\d+), (\d+)(?:, ([\d.]+))?\)")


def css_rgb(value: str, opaque: bool = False) -> tuple[int, int, int]:
    """``rgb(1, 2, 3)`` or ``rgba(…)``, as getComputedStyle writes a colour, as a tuple;
    with ``opaque``, an rgba colour that is not fully opaque fails the test."""
    match = _CSS_RGB.fullmatch(value)
    assert match, f"not a computed rgb colour: {value!r}"
    assert not opaque or match[4] in (None, "1"), f"not an opaque computed colour: {value!r}"
    return int(match[1]), int(match[2]), int(match[3])


def hex_rgb(colour: str) -> tuple[int, int, int]:
    """``#rrggbb`` as a tuple."""
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def relative_luminance(rgb: tuple[int, ...]) -> float:
    """WCAG 2's relative luminance of an sRGB colour: 0 for black, 1 for white."""
    def linear(channel: int) -> float:
        value = channel / 255
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4
    red, green, blue = (linear(channel) for channel in rgb[:3])
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast_ratio(first: tuple[int, ...], second: tuple[int, ...]) -> float:
    """WCAG 2's contrast ratio, from 1 (the same colour) to 21 (black on white)."""
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)),
                             reverse=True)
    return (lighter + 0.05) / (darker + 0.05)
