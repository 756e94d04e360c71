"""Every user-facing string is translatable, and German and English are complete.

* Templates: no visible text outside gettext (a Jinja2 AST + HTML walk).
* Catalogues: ``messages.pot`` and each ``.po`` match what the sources say today;
  every message is translated, none fuzzy; placeholders survive translation.
* Pages: a tenant page really comes out in German or English.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from jinja2 import Environment, nodes
from litestar import Litestar
from litestar.testing import AsyncTestClient

from core.i18n.catalogs import LOCALE_DIR, gettext
from core.settings import ROOT

Client = AsyncTestClient[Litestar]
LOCALES = ("de", "en")
SOURCE_DIRS = ("core", "plugins", "themes")  # as in `make translations`
POT = LOCALE_DIR / "messages.pot"
MUENCHEN = "muenchen.localhost"

# --- (a) no visible text outside gettext ---------------------------------------------

# Attributes whose values people read or hear (screen readers, tooltips, inputs).
VISIBLE_ATTRIBUTES = frozenset(
    {
        "alt",
        "title",
        "placeholder",
        "label",
        "aria-label",
        "aria-description",
        "aria-roledescription",
        "aria-placeholder",
        "aria-valuetext",
    }
)
VOID_ELEMENTS = frozenset(
    {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "source",
        "track",
        "wbr",
    }
)
# Stands in for whatever an expression prints: it has no letters, and it is valid in
# text, attribute values, and attribute or tag names alike.
PLACEHOLDER = "0"
LETTER = re.compile(r"[^\W\d_]")


def template_files() -> list[Path]:
    patterns = ["core/templates", "themes/*/templates", "plugins/*/templates"]
    files = [f for pattern in patterns for d in ROOT.glob(pattern) for f in d.rglob("*.html")]
    return sorted(files)


def _literal_parts(expr: nodes.Node | None) -> list[str]:
    """String constants an expression can print as they are (not arguments of calls)."""
    if isinstance(expr, nodes.Const):
        return [expr.value] if isinstance(expr.value, str) else []
    if isinstance(expr, nodes.CondExpr):  # "a" if x else "b": both may be printed
        return _literal_parts(expr.expr1) + _literal_parts(expr.expr2)
    if isinstance(expr, nodes.Filter | nodes.MarkSafe | nodes.MarkSafeIfAutoescape):
        return _literal_parts(getattr(expr, "node", None) or getattr(expr, "expr", None))
    if isinstance(expr, nodes.Concat):
        return [part for child in expr.nodes for part in _literal_parts(child)]
    if isinstance(expr, nodes.Add):
        return _literal_parts(expr.left) + _literal_parts(expr.right)
    return []  # a call (gettext included), a variable, an attribute …


def static_html(env: Environment, source: str) -> str:
    """The template's markup in source order, each expression replaced by what it
    prints literally (or a placeholder). Both branches of an ``if`` are kept: the
    HTML parser copes, and text in either branch is shown to someone."""
    parts = []
    for output in env.parse(source).find_all(nodes.Output):
        for child in output.nodes:
            if isinstance(child, nodes.TemplateData):
                parts.append(child.data)
            else:
                parts.append(PLACEHOLDER + " ".join(_literal_parts(child)))
    return "".join(parts)


class _VisibleText(HTMLParser):
    """Collects text a person would see or hear, skipping ``translate="no"`` elements
    (proper names), scripts, styles and comments."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._open: list[tuple[str, bool]] = []  # (tag, exempt from translation)

    @property
    def _exempt(self) -> bool:
        return any(exempt for _, exempt in self._open)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._check_attributes(tag, attrs)
        exempt = tag in ("script", "style") or dict(attrs).get("translate") == "no"
        if tag not in VOID_ELEMENTS:
            self._open.append((tag, exempt))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._check_attributes(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        # Forgiving, like browsers: close up to the matching element if it is open.
        for index in range(len(self._open) - 1, -1, -1):
            if self._open[index][0] == tag:
                del self._open[index:]
                break

    def handle_data(self, data: str) -> None:
        if not self._exempt and LETTER.search(data):
            self.found.append(data.strip())

    def _check_attributes(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._exempt:
            return
        values = dict(attrs)
        visible = set(VISIBLE_ATTRIBUTES)
        if tag == "input" and values.get("type") in ("submit", "button", "reset"):
            visible.add("value")
        if tag == "meta" and values.get("name") in ("description", "keywords"):
            visible.add("content")
        for name, value in attrs:
            if name in visible and value and LETTER.search(value):
                self.found.append(f"{name}={value!r}")


def untranslated_text(env: Environment, source: str) -> list[str]:
    parser = _VisibleText()
    parser.feed(static_html(env, source))
    parser.close()
    return parser.found


@pytest.fixture(scope="module")
def i18n_env() -> Environment:
    return Environment(extensions=["jinja2.ext.i18n"])


def test_there_are_templates_to_check() -> None:
    names = {f.relative_to(ROOT).as_posix() for f in template_files()}
    assert "core/templates/base.html" in names
    assert any(name.startswith("themes/") for name in names)
    assert any(name.startswith("plugins/") for name in names)


@pytest.mark.parametrize("path", template_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_template_has_no_text_outside_gettext(i18n_env: Environment, path: Path) -> None:
    found = untranslated_text(i18n_env, path.read_text(encoding="utf-8"))
    assert not found, (
        f"wrap these in {{{{ _('…') }}}} (or mark a proper name translate=no): {found}"
    )


@pytest.mark.parametrize(
    "source",
    [
        "<p>Hello</p>",
        "<p>{{ _('Hello') }} world</p>",
        '<img src="x.png" alt="A mentor">',
        '<a href="/" title="Home">{{ _("Home") }}</a>',
        '<nav aria-label="Main"></nav>',
        '<input type="submit" value="Send">',
        '<input name="q" placeholder="Search">',
        '<meta name="description" content="Mentoring">',
        "<title>{{ tenant.name if tenant else 'Tandem' }}</title>",
        "<h1>{{ 'Welcome'|upper }}</h1>",
        "{% if x %}<p>Only sometimes</p>{% endif %}",
        "{% block footer %}<p>Run by us</p>{% endblock %}",
        "<p>&Auml;rger</p>",
        '<span translate="no">Tür an Tür</span> <b>and more</b>',
    ],
)
def test_the_checker_finds_text_outside_gettext(i18n_env: Environment, source: str) -> None:
    assert untranslated_text(i18n_env, source), source


@pytest.mark.parametrize(
    "source",
    [
        "<p>{{ _('Hello') }}</p>",
        '<a href="/about" class="nav-link" aria-current="page">{{ _("About") }}</a>',
        '<img src="/x.png" alt="">',
        "<nav aria-label=\"{{ _('Main') }}\"></nav>",
        '<option value="{{ c }}" {% if c == l %}selected{% endif %}>{{ n }}</option>',
        '<input type="hidden" name="next" value="{{ path }}">',
        '<svg viewBox="0 0 4 4" aria-hidden="true"><path d="M0 0 L4 4"/></svg>',
        "<p>{{ _('Error %(status)s', status=status) }} &middot; 2025 &ndash; {{ n }}</p>",
        '<span translate="no">Tür an Tür</span>',
        "<!-- a comment for developers --><style>p { color: red }</style>",
        "{# a Jinja comment #}<p>{% trans %}Hello{% endtrans %}</p>",
        '<a class="{{ "active" if on else "" }}" href="/">{{ _("Home") }}</a>',
    ],
)
def test_the_checker_accepts_translated_markup(i18n_env: Environment, source: str) -> None:
    assert untranslated_text(i18n_env, source) == []


# --- (b) catalogues complete and up to date ------------------------------------------


def _extracted_ids() -> set[str]:
    """What `make translations` would extract today, computed in memory."""
    with (LOCALE_DIR / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    ids = set()
    for directory in SOURCE_DIRS:
        for _filename, _lineno, message, _comments, context in extract_from_dir(
            ROOT / directory, method_map, options_map
        ):
            msgid = message[0] if isinstance(message, list | tuple) else message
            ids.add(_key(msgid, context))
    return ids


def _read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as po_file:
        return read_po(po_file, locale=locale)


def _key(msgid: str, context: str | None) -> str:
    return msgid if context is None else f"{context}\x04{msgid}"


def _ids(catalog: Catalog) -> set[str]:
    return {_key(m.id[0] if isinstance(m.id, tuple) else m.id, m.context) for m in catalog if m.id}


@pytest.fixture(scope="module")
def extracted() -> set[str]:
    ids = _extracted_ids()
    assert len(ids) > 50, "the extraction found almost nothing; is babel.cfg right?"
    return ids


@pytest.fixture(scope="module")
def catalogs() -> dict[str, Catalog]:
    return {
        locale: _read(LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po", locale)
        for locale in LOCALES
    }


def test_messages_pot_matches_the_sources(extracted: set[str]) -> None:
    in_pot = _ids(_read(POT))
    assert not extracted - in_pot, "new strings: run `make translations`"
    assert not in_pot - extracted, "strings no longer in the sources: run `make translations`"


@pytest.mark.parametrize("locale", LOCALES)
def test_catalogue_matches_the_sources(
    extracted: set[str], catalogs: dict[str, Catalog], locale: str
) -> None:
    in_po = _ids(catalogs[locale])
    missing, stale = extracted - in_po, in_po - extracted
    assert not missing, f"{locale}: not in the catalogue, run `make translations`: {missing}"
    assert not stale, f"{locale}: no longer in the sources, run `make translations`: {stale}"


def incomplete(catalog: Catalog, template: Catalog) -> list[str]:
    """Messages of the template that the catalogue lacks, leaves empty or marks fuzzy."""
    problems = []
    for wanted in template:
        if not wanted.id:
            continue
        message = catalog.get(wanted.id, wanted.context)
        strings = message.string if message is not None else None
        strings = strings if isinstance(strings, tuple) else (strings,)
        if message is None:
            problems.append(f"missing: {wanted.id!r}")
        elif message.fuzzy:
            problems.append(f"fuzzy: {wanted.id!r}")
        elif not all(s and s.strip() for s in strings):
            problems.append(f"untranslated: {wanted.id!r}")
    return problems


@pytest.mark.parametrize("locale", LOCALES)
def test_catalogue_is_complete(catalogs: dict[str, Catalog], locale: str) -> None:
    assert not catalogs[locale].fuzzy, f"{locale}: the whole catalogue is marked fuzzy"
    assert incomplete(catalogs[locale], _read(POT)) == []


def test_english_is_the_source_text(catalogs: dict[str, Catalog]) -> None:
    differing = [m.id for m in catalogs["en"] if m.id and m.string != m.id]
    assert differing == []


def test_german_really_is_translated(catalogs: dict[str, Catalog]) -> None:
    """A German catalogue that copies English would pass "complete"; this does not."""
    german = [m for m in catalogs["de"] if m.id]
    same = [m.id for m in german if m.string == m.id]
    # Words that are the same in both languages (Tandem, Matching, Start …) are few.
    assert len(same) <= 5, same
    assert catalogs["de"].get("For mentees").string == "Für Mentees"


def test_completeness_check_reports_missing_empty_and_fuzzy() -> None:
    template = Catalog()
    for msgid in ("Apply", "Home", "Language", "Cost"):
        template.add(msgid)
    catalog = Catalog(locale="de")
    catalog.add("Apply", "Bewerben")
    catalog.add("Home", "")
    catalog.add("Language", "Sprache", flags=["fuzzy"])
    assert incomplete(catalog, template) == [
        "untranslated: 'Home'",
        "fuzzy: 'Language'",
        "missing: 'Cost'",
    ]


@pytest.mark.parametrize("locale", LOCALES)
def test_catalogue_compiles(catalogs: dict[str, Catalog], locale: str) -> None:
    buffer = io.BytesIO()
    write_mo(buffer, catalogs[locale], use_fuzzy=False)
    assert buffer.tell() > 1000


# --- (d) placeholders survive translation --------------------------------------------

PLACEHOLDER_PATTERN = re.compile(r"%(?:\((\w+)\))?[-#0 +]?\d*(?:\.\d+)?[diouxXeEfFgGcrs%]")


def placeholder_errors(catalog: Catalog) -> list[str]:
    errors = []
    for message in catalog:
        if not message.id or not message.string:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = Counter(PLACEHOLDER_PATTERN.findall(ids[0]))
        for string in strings:
            if Counter(PLACEHOLDER_PATTERN.findall(string)) != wanted:
                errors.append(f"{ids[0]!r} → {string!r}")
    return errors


@pytest.mark.parametrize("locale", LOCALES)
def test_placeholders_survive_translation(catalogs: dict[str, Catalog], locale: str) -> None:
    catalog = catalogs[locale]
    assert placeholder_errors(catalog) == []
    # Babel's own checks (python-format flags and all) agree.
    assert [(m.id, errs) for m, errs in catalog.check()] == []
    # The flag that tells translators "keep the placeholders" is set where it matters.
    assert "python-format" in catalog.get("Error %(status)s").flags


def test_placeholder_check_catches_a_lost_or_renamed_placeholder() -> None:
    catalog = Catalog(locale="de")
    catalog.add("Error %(status)s", "Fehler")  # lost
    catalog.add("%(count)s tandems", "%(anzahl)s Tandems")  # renamed
    catalog.add("%(name)s, hello", "Hallo %(name)s")  # moved: fine
    assert len(placeholder_errors(catalog)) == 2


def test_gettext_fills_placeholders_in_german() -> None:
    assert gettext("de", "Error %(status)s", status=404) == "Fehler 404"
    assert gettext("en", "Error %(status)s", status=410) == "Error 410"


# --- (c) pages come out in the visitor's language -------------------------------------

GERMAN = ("Für Mentees", "Zum Hauptinhalt springen", "So funktioniert eine Mentoring-Partnerschaft")
ENGLISH = ("For mentees", "Skip to main content", "How a mentoring partnership works")


def _html_lang(text: str) -> str:
    match = re.search(r'<html lang="([^"]+)"', text)
    assert match, "not an HTML page"
    return match.group(1)


async def test_tenant_page_in_german_and_in_english(client: Client) -> None:
    german = await client.get("/", headers={"host": MUENCHEN, "accept-language": "de-DE,de;q=0.9"})
    assert german.status_code == 200
    assert _html_lang(german.text) == "de"
    for de, en in zip(GERMAN, ENGLISH, strict=True):
        assert de in german.text
        assert en not in german.text

    english = await client.get("/", headers={"host": MUENCHEN, "accept-language": "en-GB"})
    assert _html_lang(english.text) == "en"
    for de, en in zip(GERMAN, ENGLISH, strict=True):
        assert en in english.text
        assert de not in english.text


async def test_tenant_page_falls_back_to_the_tenant_language(client: Client) -> None:
    # München is German by default; a language it does not offer changes nothing.
    french = await client.get("/", headers={"host": MUENCHEN, "accept-language": "fr-FR"})
    assert _html_lang(french.text) == "de"
    assert GERMAN[0] in french.text
    # Toronto does not offer German: a German visitor still gets English.
    toronto = await client.get("/", headers={"host": "toronto.localhost", "accept-language": "de"})
    assert _html_lang(toronto.text) == "en"
    assert ENGLISH[0] in toronto.text
    assert GERMAN[0] not in toronto.text


async def test_the_chosen_language_beats_accept_language(client: Client) -> None:
    response = await client.get(
        "/",
        headers={"host": MUENCHEN, "accept-language": "de", "cookie": "tandem_locale=en"},
    )
    assert _html_lang(response.text) == "en"
    assert ENGLISH[0] in response.text


async def test_error_page_placeholders_are_filled_in_german(client: Client) -> None:
    response = await client.get(
        "/no-such-page", headers={"host": MUENCHEN, "accept-language": "de"}
    )
    assert response.status_code == 404
    assert "Fehler 404" in response.text
    assert "Seite nicht gefunden" in response.text
    assert "%(status)s" not in response.text
    english = await client.get("/no-such-page", headers={"host": MUENCHEN, "accept-language": "en"})
    assert "Error 404" in english.text
