"""A theme's colours as its stylesheets define them, and WCAG 2.1 contrast.

The palette is the custom properties on ``:root`` in ``core/static/base.css``,
overridden by ``themes/<name>/static/theme.css``, with ``var()`` references
resolved — what a browser computes for ``:root``. The accent colour a tenant's admin
picks is checked against it (:func:`accent_problems`), and the colour of text drawn
on the accent is chosen from it (:func:`text_on`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from core.settings import ROOT

BASE_CSS = ROOT / "core" / "static" / "base.css"
THEMES_DIR = ROOT / "themes"
AA_TEXT = 4.5  # WCAG 2.1 SC 1.4.3, normal-size text
WHITE = "#ffffff"

_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_ROOT_BLOCK = re.compile(r":root\s*\{([^}]*)\}")
_DECLARATION = re.compile(r"(--[\w-]+)\s*:\s*([^;]+)")
_VAR = re.compile(r"^var\(\s*(--[\w-]+)\s*(?:,\s*(.+))?\)$")
HEX_COLOUR = re.compile(r"^#[0-9a-f]{6}$")
_SHORT_HEX = re.compile(r"^#([0-9a-f])([0-9a-f])([0-9a-f])$")

# Where the accent is drawn as text, as (custom property of the text, of its
# background). A pair counts only where the text's property resolves to the accent:
# a theme that gives its hero kicker a colour of its own is not affected by it.
ACCENT_TEXT_PAIRS = (
    ("--color-accent", "--color-background"),
    ("--color-accent", "--color-surface"),
    ("--color-hero-accent", "--color-hero-background"),
)


def custom_properties(css: str) -> dict[str, str]:
    """The custom properties set on ``:root`` (later declarations win, as in CSS)."""
    props: dict[str, str] = {}
    for block in _ROOT_BLOCK.findall(_COMMENT.sub("", css)):
        props.update((name, value.strip()) for name, value in _DECLARATION.findall(block))
    return props


@cache
def theme_properties(theme: str, themes_dir: Path = THEMES_DIR) -> dict[str, str]:
    """base.css's custom properties with the theme's on top (unresolved)."""
    props = custom_properties(BASE_CSS.read_text(encoding="utf-8"))
    for name in dict.fromkeys(("default", theme)):
        path = themes_dir / name / "static" / "theme.css"
        if path.is_file():
            props.update(custom_properties(path.read_text(encoding="utf-8")))
    return props


def resolve(props: dict[str, str], name: str) -> tuple[str | None, tuple[str, ...]]:
    """The value of ``name`` after following ``var()``, and the chain of names followed
    (``None`` for a loop or an undefined name)."""
    chain: list[str] = []
    while name in props and name not in chain:
        chain.append(name)
        match = _VAR.match(props[name])
        if not match:
            return props[name], tuple(chain)
        target, fallback = match.groups()
        if target not in props and fallback is not None:
            return fallback.strip(), tuple(chain)
        name = target
    return None, tuple(chain)


def normalise_hex(value: str) -> str | None:
    """``#RGB`` or ``#RRGGBB`` (any case, surrounding spaces) as ``#rrggbb``; else None."""
    value = value.strip().lower()
    if short := _SHORT_HEX.match(value):
        value = "#" + "".join(d * 2 for d in short.groups())
    return value if HEX_COLOUR.match(value) else None


def relative_luminance(hex_colour: str) -> float:
    """WCAG 2.1 relative luminance of ``#rrggbb``."""

    def channel(offset: int) -> float:
        s = int(hex_colour[offset : offset + 2], 16) / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5)


def contrast_ratio(a: str, b: str) -> float:
    lighter, darker = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


@dataclass(frozen=True)
class ContrastProblem:
    """The accent drawn as text on ``background`` (the property's name without
    ``--color-``) has only ``ratio``:1."""

    background: str
    background_colour: str
    ratio: float


def accent_problems(
    accent: str, theme: str, themes_dir: Path = THEMES_DIR
) -> list[ContrastProblem]:
    """Where ``accent`` (``#rrggbb``) would be text below WCAG AA on ``theme``, worst first."""
    props = {**theme_properties(theme, themes_dir), "--color-accent": accent}
    problems = []
    for text, background in ACCENT_TEXT_PAIRS:
        value, chain = resolve(props, text)
        bg = normalise_hex(resolve(props, background)[0] or "")
        if "--color-accent" not in chain or value != accent or bg is None:
            continue
        ratio = contrast_ratio(accent, bg)
        if ratio < AA_TEXT:
            problems.append(ContrastProblem(background.removeprefix("--color-"), bg, ratio))
    return sorted(problems, key=lambda p: p.ratio)


def text_on(colour: str, theme: str, themes_dir: Path = THEMES_DIR) -> str:
    """White, or the theme's (dark) text colour, whichever is easier to read on ``colour``."""
    dark = normalise_hex(resolve(theme_properties(theme, themes_dir), "--color-text")[0] or "")
    dark = dark or "#000000"
    if contrast_ratio(WHITE, colour) >= AA_TEXT:
        return WHITE
    return max((WHITE, dark), key=lambda c: contrast_ratio(c, colour))


def theme_colour(theme: str, name: str, themes_dir: Path = THEMES_DIR) -> str | None:
    """The solid ``#rrggbb`` value of ``--color-<name>`` in ``theme``, if it has one."""
    value = resolve(theme_properties(theme, themes_dir), f"--color-{name}")[0]
    return normalise_hex(value or "")
