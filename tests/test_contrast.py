"""The stylesheet's colour pairs meet WCAG 2.1 AA contrast (4.5:1 for body text)."""

import re
from pathlib import Path

import pytest

CSS = Path(__file__).resolve().parent.parent / "src/yiwang/web/static/web/site.css"


def luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def colours() -> dict[str, str]:
    root = re.search(r":root\s*{([^}]*)}", CSS.read_text()).group(1)
    return {name: value for name, value in re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})", root)}


@pytest.mark.parametrize("fg, bg", [
    ("fg", "bg"), ("muted", "bg"), ("link", "bg"), ("bad", "bg"), ("ok", "bg"), ("warn", "bg"),
    ("fg", "soft"), ("muted", "soft"), ("link", "soft"),
])
def test_text_colours_have_enough_contrast(fg, bg):
    c = colours()
    assert contrast(c[fg], c[bg]) >= 4.5, (fg, bg, round(contrast(c[fg], c[bg]), 2))


def test_white_on_the_header_and_buttons_has_enough_contrast():
    assert contrast("#ffffff", colours()["accent"]) >= 4.5
    assert contrast("#ffffff", "#24292f") >= 4.5  # the staff header
