"""Themes: readable colours (WCAG 2.1 AA), right-to-left safe CSS, accessible pages,
and each tenant's own look and footer.

The colour checks read the custom properties of ``core/static/base.css`` and each
``themes/<name>/static/theme.css`` (the theme wins), resolve ``var()`` references and
compute contrast exactly as WCAG 2.1 defines it.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from litestar import Litestar, Request
from litestar.testing import AsyncTestClient

from core.pluginhost.manager import PluginHost
from core.settings import ROOT
from core.tenancy.appearance import accent_css
from core.tenancy.colours import accent_problems
from core.web.templating import TemplateRenderer

Client = AsyncTestClient[Litestar]
BASE_CSS = ROOT / "core" / "static" / "base.css"
THEMES_DIR = ROOT / "themes"
THEMES = sorted(p.name for p in THEMES_DIR.iterdir() if (p / "static" / "theme.css").is_file())
TENANT_THEMES = ("muenchen", "augsburg", "toronto")

# --- colours and contrast ------------------------------------------------------------

AA_TEXT = 4.5  # WCAG 2.1 SC 1.4.3, normal-size text
AA_NON_TEXT = 3.0  # SC 1.4.11, focus indicators and other UI parts

# (foreground, background, where the pair is used). Every rule in base.css that draws
# text takes its colours from one of these pairs.
TEXT_PAIRS = [
    ("text", "background", "body text on the page"),
    ("text", "surface", "body text on cards, the skip link, form fields"),
    ("muted", "background", "lead paragraphs"),
    ("muted", "surface", "secondary text on cards (fact labels, tenant languages)"),
    ("primary", "background", "links on the page"),
    ("primary", "surface", "links on cards"),
    ("accent", "background", "error codes, the hero kicker"),
    ("accent", "surface", "accented text on cards"),
    ("primary-contrast", "primary", "step numbers, buttons in the primary colour"),
    ("accent-contrast", "accent", "step numbers and buttons where a theme uses the accent"),
    ("header-text", "header-background", "navigation and tagline in the header"),
    ("header-brand", "header-background", "the programme's name in the header"),
    ("utility-text", "utility-background", "the language bar"),
    ("hero-text", "hero-background", "hero heading, lead and secondary button"),
    ("hero-accent", "hero-background", "the hero kicker"),
    ("cta-text", "cta", "call-to-action buttons"),
    ("footer-text", "footer-background", "footer text"),
    ("footer-link", "footer-background", "footer links"),
]
# Backgrounds a focused element can sit on.
FOCUS_BACKGROUNDS = [
    "background",
    "surface",
    "header-background",
    "utility-background",
    "hero-background",
    "footer-background",
    "cta",
]

COMMENT = re.compile(r"/\*.*?\*/", re.S)
ROOT_BLOCK = re.compile(r":root\s*\{([^}]*)\}")
DECLARATION = re.compile(r"(--[\w-]+)\s*:\s*([^;]+)")
VAR = re.compile(r"^var\(\s*(--[\w-]+)\s*(?:,\s*(.+))?\)$")
HEX = re.compile(r"^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
RGB = re.compile(r"^rgb\(\s*(\d+)[\s,]+(\d+)[\s,]+(\d+)\s*\)$")


def custom_properties(css: str) -> dict[str, str]:
    """The custom properties set on ``:root`` (later declarations win, as in CSS)."""
    props: dict[str, str] = {}
    for block in ROOT_BLOCK.findall(COMMENT.sub("", css)):
        for name, value in DECLARATION.findall(block):
            props[name] = value.strip()
    return props


def palette(theme: str) -> dict[str, str]:
    css = BASE_CSS.read_text(encoding="utf-8")
    theme_css = (THEMES_DIR / theme / "static" / "theme.css").read_text(encoding="utf-8")
    return {**custom_properties(css), **custom_properties(theme_css)}


def resolve(props: dict[str, str], name: str, seen: tuple[str, ...] = ()) -> str:
    """The final value of ``--<name>``, following ``var()`` (with fallbacks)."""
    if name in seen:
        raise ValueError(f"custom properties refer to each other in a loop: {seen}")
    if name not in props:
        raise KeyError(f"{name} is not defined in base.css or the theme")
    value = props[name]
    match = VAR.match(value)
    if not match:
        return value
    target, fallback = match.groups()
    if target not in props and fallback is not None:
        return fallback.strip()
    return resolve(props, target, (*seen, name))


def parse_colour(value: str) -> tuple[int, int, int]:
    value = value.strip().lower()
    if value in ("white", "black"):
        return (255, 255, 255) if value == "white" else (0, 0, 0)
    if match := HEX.match(value):
        digits = match.group(1)
        if len(digits) == 3:
            digits = "".join(d * 2 for d in digits)
        return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)
    if match := RGB.match(value):
        return int(match.group(1)), int(match.group(2)), int(match.group(3))
    # Transparent or mixed colours cannot be checked here; themes use solid ones.
    raise ValueError(f"not a solid colour this test understands: {value!r}")


def relative_luminance(rgb: tuple[int, int, int]) -> float:
    """WCAG 2.1 relative luminance (sRGB, threshold 0.03928 as the spec writes it)."""

    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    lighter, darker = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def colour(props: dict[str, str], name: str) -> tuple[int, int, int]:
    return parse_colour(resolve(props, f"--color-{name}"))


def test_contrast_ratio_matches_known_values() -> None:
    assert contrast_ratio((0, 0, 0), (255, 255, 255)) == pytest.approx(21.0)
    assert contrast_ratio((255, 255, 255), (0, 0, 0)) == pytest.approx(21.0)
    assert contrast_ratio((18, 52, 86), (18, 52, 86)) == pytest.approx(1.0)
    # #767676 is the lightest grey that passes AA on white; #777777 just fails.
    assert contrast_ratio(parse_colour("#767676"), parse_colour("#fff")) == pytest.approx(
        4.54, abs=0.01
    )
    assert contrast_ratio(parse_colour("#777777"), parse_colour("white")) < AA_TEXT


def test_colour_parsing_and_var_resolution() -> None:
    assert parse_colour("#1D4E89") == (0x1D, 0x4E, 0x89)
    assert parse_colour("#fa0") == (255, 170, 0)
    assert parse_colour("rgb(1 2 3)") == (1, 2, 3)
    with pytest.raises(ValueError):
        parse_colour("rgb(0 0 0 / 0.5)")
    props = custom_properties(
        "/* :root { --x: #000; } */ :root { --a: var(--b); --b: #123456; --c: var(--nope, #fff); }"
        ":root { --b: #654321; } .other { --a: red; }"
    )
    assert "--x" not in props  # commented out
    assert resolve(props, "--a") == "#654321"  # later :root wins; other selectors ignored
    assert resolve(props, "--c") == "#fff"
    with pytest.raises(ValueError):
        resolve({"--a": "var(--b)", "--b": "var(--a)"}, "--a")
    with pytest.raises(KeyError):
        resolve(props, "--missing")


def test_every_tenant_theme_is_checked() -> None:
    assert set(TENANT_THEMES) <= set(THEMES)
    assert "default" in THEMES


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize(
    ("fg", "bg", "use"), TEXT_PAIRS, ids=[f"{f}-on-{b}" for f, b, _ in TEXT_PAIRS]
)
def test_text_contrast_meets_wcag_aa(theme: str, fg: str, bg: str, use: str) -> None:
    props = palette(theme)
    ratio = contrast_ratio(colour(props, fg), colour(props, bg))
    assert ratio >= AA_TEXT, f"{theme}: {fg} on {bg} ({use}) is {ratio:.2f}:1"


@pytest.mark.parametrize("theme", THEMES)
def test_focus_ring_is_visible_everywhere(theme: str) -> None:
    """The ring is the focus colour with a text-coloured halo: one of the two must
    stand out from whatever the focused element sits on."""
    props = palette(theme)
    ring = [colour(props, "focus"), colour(props, "text")]
    for bg in FOCUS_BACKGROUNDS:
        best = max(contrast_ratio(c, colour(props, bg)) for c in ring)
        assert best >= AA_NON_TEXT, f"{theme}: focus ring on {bg} is {best:.2f}:1"


def test_contrast_check_fails_for_a_poor_theme() -> None:
    props = {**custom_properties(BASE_CSS.read_text()), "--color-muted": "#9a9a9a"}
    assert contrast_ratio(colour(props, "muted"), colour(props, "surface")) < AA_TEXT


def test_tenant_themes_look_different() -> None:
    looks = {
        theme: tuple(
            resolve(palette(theme), f"--color-{name}")
            for name in ("primary", "accent", "header-background", "hero-background")
        )
        for theme in TENANT_THEMES
    }
    assert len(set(looks.values())) == len(TENANT_THEMES), looks
    fonts = {resolve(palette(t), "--font-heading") for t in TENANT_THEMES}
    assert len(fonts) >= 2


# --- an accent colour set by a tenant's admin (/admin/appearance) ---------------------

# Dark and mid-tone accents the admin page accepts on some themes and refuses on others.
ACCENTS = [
    "#5b2a86", "#8a1538", "#0b5d1e", "#1a1a1a", "#7a4b00", "#c4262e", "#d1343b", "#e0301e",
    "#0077cc", "#2e8540", "#ff9900", "#ffd700", "#ffffff", "#767676", "#777777",
]  # fmt: skip


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("accent", ACCENTS)
def test_the_admin_page_accepts_exactly_the_accents_that_keep_every_pair_readable(
    theme: str, accent: str
) -> None:
    """What the page refuses is computed by the app (core.tenancy.colours); here the
    stylesheet the app serves for an accent is laid over the theme and every text pair
    checked with this file's own WCAG arithmetic: the app must accept a colour exactly
    when no pair falls below AA, and then pick readable text for it."""
    props = {**palette(theme), **custom_properties(accent_css(accent, theme))}
    assert resolve(props, "--color-accent") == accent
    failing = [
        f"{fg} on {bg}: {contrast_ratio(colour(props, fg), colour(props, bg)):.2f}:1"
        for fg, bg, _ in TEXT_PAIRS
        if contrast_ratio(colour(props, fg), colour(props, bg)) < AA_TEXT
    ]
    refused = accent_problems(accent, theme)
    if refused:
        assert failing, f"{theme}: {accent} refused, yet every pair passes"
        worst = contrast_ratio(parse_colour(accent), colour(props, refused[0].background))
        assert refused[0].ratio == pytest.approx(worst)
    else:
        assert failing == [], f"{theme}: {accent} accepted, yet {failing}"
        assert contrast_ratio(colour(props, "accent-contrast"), parse_colour(accent)) >= AA_TEXT


def test_accents_are_neither_all_accepted_nor_all_refused() -> None:
    verdicts = {bool(accent_problems(a, t)) for a in ACCENTS for t in TENANT_THEMES}
    assert verdicts == {True, False}


# --- right-to-left: logical properties only -----------------------------------------

PHYSICAL = [
    re.compile(r"(?<![\w-])(?:margin|padding|border)-(?:left|right)\b"),
    re.compile(r"(?<![\w-])border-(?:top|bottom)-(?:left|right)-radius\b"),
    re.compile(r"(?<![\w-])(?:left|right)\s*:"),
    re.compile(r"(?<![\w-])(?:text-align|float|clear)\s*:\s*(?:left|right)\b"),
]


def physical_properties(css: str) -> list[str]:
    css = COMMENT.sub("", css)
    return [m.group(0) for pattern in PHYSICAL for m in pattern.finditer(css)]


def stylesheets() -> list[Path]:
    return sorted([*ROOT.glob("core/static/**/*.css"), *THEMES_DIR.glob("*/static/**/*.css")])


@pytest.mark.parametrize("path", stylesheets(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_css_uses_logical_properties_only(path: Path) -> None:
    found = physical_properties(path.read_text(encoding="utf-8"))
    assert not found, f"use margin-inline-start, inset-inline-end, text-align: start …: {found}"


def test_physical_property_check_catches_each_kind() -> None:
    bad = (
        ".a { margin-left: 1rem } .b { padding-right: 0 } .c { border-left: 1px solid }"
        ".d { left: 0 } .e { text-align: right } .f { float: left }"
        ".g { border-top-left-radius: 2px }"
    )
    assert len(physical_properties(bad)) == 7
    good = (
        "/* margin-left is fine in a comment */ .a { margin-inline-start: 1rem; "
        "inset-inline-end: 0; text-align: start; border-inline-start: 0; "
        "scroll-margin-block: 1rem; }"
    )
    assert physical_properties(good) == []


def _request(path: str = "/") -> Request:
    """A real request object, as Litestar builds it from an ASGI scope."""
    return Request(
        {  # type: ignore[arg-type]
            "type": "http",
            "method": "GET",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "scheme": "http",
            "query_string": b"",
            "headers": [(b"host", b"muenchen.localhost")],
            "server": ("muenchen.localhost", 80),
            "client": ("127.0.0.1", 50000),
            "app": None,
            "state": {},
            "path_params": {},
        }
    )


@pytest.mark.parametrize("theme", TENANT_THEMES)
def test_a_right_to_left_language_sets_dir_rtl(plugins: PluginHost, theme: str) -> None:
    renderer = TemplateRenderer(THEMES_DIR, plugins)
    context = {
        "request": _request(),
        "tenant": None,
        "site": None,
        "sections": [],
        "offered_locales": ("ar", "en"),
        "csrf_input": "",
    }
    arabic = renderer.render(
        "home.html", theme=theme, plugins=frozenset(), locale="ar", context=context
    )
    assert '<html lang="ar" dir="rtl">' in arabic
    english = renderer.render(
        "home.html", theme=theme, plugins=frozenset(), locale="en", context=context
    )
    assert '<html lang="en" dir="ltr">' in english


# --- the pages themselves -------------------------------------------------------------

# Who runs each programme, in each language the tenant offers; never on another tenant.
OPERATORS = {
    "muenchen": {
        "de": "Landeshauptstadt München, Sozialreferat",
        "en": "Department of Social Services (Sozialreferat)",
    },
    "augsburg": {
        "de": "Integrationsprojekte gGmbH, einer gemeinnützigen Organisation in Augsburg",
        "en": "Integrationsprojekte gGmbH, a non-profit organisation in Augsburg",
    },
    "toronto": {
        "en": "collaboration of employers, professional associations and community agencies",
    },
}


async def _page(client: Client, slug: str, language: str, path: str = "/") -> str:
    response = await client.get(
        path, headers={"host": f"{slug}.localhost", "accept-language": language}
    )
    assert response.status_code in (200, 404), response.status_code
    return response.text


async def test_each_tenant_footer_names_its_own_operator(client: Client) -> None:
    for slug, texts in OPERATORS.items():
        for language, text in texts.items():
            page = await _page(client, slug, language)
            footer = page[page.index("<footer") :]
            assert text in footer, (slug, language)
            for other, other_texts in OPERATORS.items():
                if other != slug:
                    for other_text in other_texts.values():
                        assert other_text not in page, (slug, language, other)


async def test_each_tenant_uses_its_own_templates(client: Client) -> None:
    heroes = {
        "muenchen": "Starten Sie Ihre Karriere in München",
        "augsburg": "Türen in den Beruf öffnen",
        "toronto": "Your experience counts.",
    }
    for slug, hero in heroes.items():
        page = await _page(client, slug, "de")
        assert hero in page
        assert f'<body class="theme-{slug}">' in page
        for other, other_hero in heroes.items():
            if other != slug:
                assert other_hero not in page, (slug, other)


class _Structure(HTMLParser):
    """Collects what the accessibility checks below look at."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.ids: list[str] = []
        self.headings: list[int] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.tags.append((tag, values))
        if values.get("id"):
            self.ids.append(values["id"] or "")
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))

    handle_startendtag = handle_starttag

    def count(self, tag: str) -> int:
        return sum(1 for t, _ in self.tags if t == tag)

    def with_tag(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for t, attrs in self.tags if t == tag]


def accessibility_problems(html: str) -> list[str]:
    page = _Structure()
    page.feed(html)
    problems = []
    html_tag = page.with_tag("html")
    if not html_tag or not html_tag[0].get("lang") or html_tag[0].get("dir") not in ("ltr", "rtl"):
        problems.append("<html> needs lang and dir")
    for landmark in ("header", "main", "footer"):
        if page.count(landmark) != 1:
            problems.append(f"expected one <{landmark}>, found {page.count(landmark)}")
    if any(not nav.get("aria-label") for nav in page.with_tag("nav")):
        problems.append("every <nav> needs an aria-label")
    if page.headings.count(1) != 1:
        problems.append(f"expected one <h1>, found {page.headings.count(1)}")
    for before, after in zip(page.headings, page.headings[1:], strict=False):
        if after > before + 1:
            problems.append(f"heading level jumps from h{before} to h{after}")
    duplicates = {i for i in page.ids if page.ids.count(i) > 1}
    if duplicates:
        problems.append(f"duplicate ids: {sorted(duplicates)}")
    for attrs in (a for _, a in page.tags):
        for ref in ("aria-labelledby", "aria-describedby"):
            for target in (attrs.get(ref) or "").split():
                if target not in page.ids:
                    problems.append(f"{ref}={target!r} points nowhere")
    for anchor in page.with_tag("a"):
        href = anchor.get("href") or ""
        if href.startswith("#") and href[1:] not in page.ids:
            problems.append(f"link to missing #{href[1:]}")
    for img in page.with_tag("img"):
        if img.get("alt") is None:
            problems.append("an <img> without alt")
    for svg in page.with_tag("svg"):
        if svg.get("aria-hidden") != "true" and not svg.get("aria-label"):
            problems.append("an <svg> that is neither hidden nor labelled")
    labelled = {label.get("for") for label in page.with_tag("label")}
    for control in (
        page.with_tag("select")
        + page.with_tag("textarea")
        + [i for i in page.with_tag("input") if i.get("type") not in ("hidden", "submit")]
    ):
        if control.get("id") not in labelled and not control.get("aria-label"):
            problems.append(f"form control without a label: {control}")
    if not any(m.get("name") == "viewport" for m in page.with_tag("meta")):
        problems.append("no viewport meta tag (the layout would not be responsive)")
    return problems


def test_accessibility_check_finds_problems() -> None:
    broken = (
        '<html><header></header><nav></nav><main><h1>A</h1><h3 id="x">B</h3><h1 id="x">C</h1>'
        '<img src="a.png"><svg></svg><select id="s"></select>'
        '<section aria-labelledby="nowhere"></section><a href="#gone">x</a></main>'
    )
    problems = accessibility_problems(broken)
    for expected in (
        "<html> needs lang and dir",
        "expected one <footer>, found 0",
        "every <nav> needs an aria-label",
        "expected one <h1>, found 2",
        "heading level jumps from h1 to h3",
        "duplicate ids: ['x']",
        "aria-labelledby='nowhere' points nowhere",
        "link to missing #gone",
        "an <img> without alt",
        "an <svg> that is neither hidden nor labelled",
        "no viewport meta tag (the layout would not be responsive)",
    ):
        assert expected in problems
    assert any(p.startswith("form control without a label") for p in problems)


async def test_pages_are_structurally_accessible(client: Client) -> None:
    pages = {
        f"{slug} {language}{path}": await _page(client, slug, language, path)
        for slug in TENANT_THEMES
        for language in ("de", "en")
        for path in ("/", "/no-such-page")
    }
    platform = await client.get("/", headers={"host": "localhost"})
    pages["platform"] = platform.text
    for name, html in pages.items():
        assert accessibility_problems(html) == [], name
        # The skip link comes first and lands on <main>.
        assert html.index('class="skip-link" href="#main"') < html.index("<header"), name
        assert '<main id="main" tabindex="-1">' in html, name


def test_base_css_has_focus_styles_and_a_small_screen_layout() -> None:
    css = COMMENT.sub("", BASE_CSS.read_text(encoding="utf-8"))
    assert re.search(r":focus-visible\s*\{[^}]*outline:\s*3px solid", css)
    assert "outline: none" not in css.replace("main:focus { outline: none; }", "")
    assert re.search(r"@media \(max-width: \d+rem\)", css)
    assert "prefers-reduced-motion" in css
