# ruff: noqa: F811 - test parameters named after the imported `web_world` fixture
# ruff: noqa: RUF001, RUF003 - Turkish text has a dotless ı on purpose
"""Arabic, Ukrainian and Turkish on the participant pages; the remembered language.

* Catalogues: every message that a participant-facing file uses (the one list in
  core/i18n/participant_pages.py) is translated into ar, uk and tr, placeholders kept,
  and not just copied from English.
* Pages: Arabic pages are right to left; the language switcher is on every page and
  offers the languages in their own names; dates and numbers follow the language.
* The choice is remembered: a signed-in user's choice is saved as ``User.locale`` and
  wins over the cookie and Accept-Language on any device (SQLite and PostgreSQL).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from fnmatch import fnmatchcase
from pathlib import Path

import httpx
import pytest
from babel.messages.catalog import Catalog
from babel.numbers import format_percent
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select, update

from core.applications.models import Application, ApplicationKind
from core.db.sessions import Database
from core.i18n.catalogs import gettext
from core.i18n.negotiation import saved_choice, text_direction
from core.i18n.participant_pages import (
    EXCLUDED_TEMPLATES,
    PARTICIPANT_LOCALES,
    PARTICIPANT_MODULES,
    PARTICIPANT_TEMPLATES,
    is_participant_facing,
    participant_messages,
    read_catalogue,
    untranslated,
)
from core.identity.accounts import find_or_create_user_for_identity
from core.identity.models import User
from core.mail.compose import MailRenderer, format_date, format_datetime
from core.pairings.lifecycle import PairingState
from core.pluginhost.manager import PluginHost
from core.programmes.models import Cohort, Programme
from core.settings import ROOT
from core.web.templating import TemplateRenderer
from tests.test_i18n import POT, _ids, _read, placeholder_errors
from tests.test_mail import _snapshot
from tests.test_pairings import (  # noqa: F401 - fixtures
    MUENCHEN,
    World,
    _application,
    as_user,
    form,
    mails,
    make_pairing,
    meeting_form,
    page,
    propose,
    web_world,
    world,
)
from tests.test_themes import THEMES_DIR, _request

Client = AsyncTestClient[Litestar]
TORONTO = "toronto.localhost:8000"
# Words that are the same in a language as in English (Turkish says "Mentor" and
# "Tandem" too); anything else equal to its msgid is an untranslated copy.
SAME_AS_ENGLISH = {"ar": set(), "uk": set(), "tr": {"Mentor", "Tandem"}}
SKIP = "Skip to main content"


@pytest.fixture(scope="module")
def messages() -> dict[str, set[str]]:
    return participant_messages()


# --- the list of participant-facing files -----------------------------------------------


def _source_files() -> list[str]:
    files = []
    for directory in ("core", "plugins", "themes"):
        for path in (ROOT / directory).rglob("*"):
            if path.suffix in (".py", ".html", ".txt") and "__pycache__" not in path.parts:
                files.append(path.relative_to(ROOT).as_posix())
    return files


@pytest.mark.parametrize("pattern", [*PARTICIPANT_TEMPLATES, *PARTICIPANT_MODULES])
def test_every_entry_of_the_list_names_files_that_exist(pattern: str) -> None:
    assert any(fnmatchcase(name, pattern) for name in _source_files()), (
        f"{pattern} matches nothing: renamed or removed? Update core/i18n/participant_pages.py"
    )


@pytest.mark.parametrize(
    ("path", "facing"),
    [
        ("core/templates/base.html", True),
        ("themes/toronto/templates/home.html", True),
        ("core/templates/applications/form.html", True),
        ("core/templates/pairings/tandem.html", True),
        ("core/templates/matching/self_suggestions.html", True),
        ("core/templates/certificates/verify.html", True),
        ("core/templates/mail/pairing_update.parts.txt", True),
        ("core/applications/schemas.py", True),
        (ROOT / "plugins/match_language/criterion.py", True),
        ("core/templates/certificates/admin_editor.html", False),
        ("core/templates/matching/cohort.html", False),
        ("core/templates/admin/audit.html", False),
        ("core/templates/applications/intake_list.html", False),
        ("core/templates/mail/pairing_at_risk.html", False),
        ("core/templates/operator/index.html", False),
        ("plugins/match_language/settings.py", False),
    ],
)
def test_participant_and_coordinator_pages_are_told_apart(path: str | Path, facing: bool) -> None:
    assert is_participant_facing(path) is facing
    assert EXCLUDED_TEMPLATES, "the coordinators' certificate pages are excluded"


def test_the_messages_of_participant_pages_and_their_python_are_found(
    messages: dict[str, set[str]],
) -> None:
    assert len(messages) > 500
    # Templates, application form errors, lifecycle labels, suggestion reasons, mails.
    for msgid in (
        SKIP,
        "Send application",
        "Enter your name.",
        "Choose your occupation from the list.",
        "Accept the tandem",
        "%(mentee)s and %(mentor)s live in the same district: %(district)s.",
        "Hello %(name)s,",
    ):
        assert msgid in messages, msgid
    # A coordinator-only page's text is not on the list.
    assert "Their last logged meeting was on %(date)s." not in messages


# --- the catalogues --------------------------------------------------------------------


@pytest.mark.parametrize("locale", PARTICIPANT_LOCALES)
def test_every_participant_message_is_translated(
    messages: dict[str, set[str]], locale: str
) -> None:
    missing = untranslated(read_catalogue(locale), messages)
    where = [f"{m!r} ({', '.join(sorted(messages[m]))})" for m in missing]
    assert not where, (
        f"{locale}: translate these (python -m core.i18n.participant_pages lists them): {where}"
    )


def _participant_catalogue(locale: str, messages: dict[str, set[str]]) -> Catalog:
    """Only the participant messages of the locale's catalogue (the rest may be empty)."""
    full = read_catalogue(locale)
    part = Catalog(locale=locale)
    for message in full:
        key = message.id[0] if isinstance(message.id, tuple) else message.id
        if message.id and key in messages:
            part[message.id] = message
    return part


@pytest.mark.parametrize("locale", PARTICIPANT_LOCALES)
def test_participant_translations_keep_their_placeholders(
    messages: dict[str, set[str]], locale: str
) -> None:
    catalog = _participant_catalogue(locale, messages)
    assert len(catalog) == len(messages)
    assert placeholder_errors(catalog) == []
    assert [(m.id, errors) for m, errors in catalog.check()] == []


@pytest.mark.parametrize("locale", PARTICIPANT_LOCALES)
def test_participant_translations_are_not_english_copies(
    messages: dict[str, set[str]], locale: str
) -> None:
    catalog = _participant_catalogue(locale, messages)
    copies = set()
    for message in catalog:
        msgid = message.id[0] if isinstance(message.id, tuple) else message.id
        string = message.string[0] if isinstance(message.string, tuple) else message.string
        words = re.sub(r"%\(\w+\)s", "", msgid)
        if string == msgid and re.search(r"[^\W\d_]", words):
            copies.add(msgid)
    assert copies <= SAME_AS_ENGLISH[locale], copies - SAME_AS_ENGLISH[locale]


@pytest.mark.parametrize("locale", PARTICIPANT_LOCALES)
def test_participant_catalogues_follow_the_sources(locale: str) -> None:
    """`make translations` keeps ar, uk and tr up to date like de and en."""
    catalog = read_catalogue(locale)
    assert _ids(catalog) == _ids(_read(POT)), "run `make translations`"
    assert not catalog.fuzzy
    # Plural forms as the language has them: Arabic six, Ukrainian three, Turkish one
    # (a noun after a number stays singular: "3 yıl").
    assert catalog.num_plurals == {"ar": 6, "uk": 3, "tr": 1}[locale]


def test_the_completeness_check_finds_missing_empty_fuzzy_and_half_done_plurals() -> None:
    catalog = Catalog(locale="uk")
    catalog.add("Apply", "Подати заявку")
    catalog.add("Home", "")
    catalog.add("Language", "Мова", flags=["fuzzy"])
    catalog.add(("%(n)s tandem", "%(n)s tandems"), ("%(n)s тандем", "", "%(n)s тандемів"))
    wanted = ["Apply", "Home", "Language", "Cost", "%(n)s tandem"]
    assert untranslated(catalog, wanted) == ["%(n)s tandem", "Cost", "Home", "Language"]


def test_the_checks_catch_a_lost_placeholder_and_an_english_copy() -> None:
    catalog = Catalog(locale="tr")
    catalog.add("Hello %(name)s,", "Merhaba,")
    assert placeholder_errors(catalog) == ["'Hello %(name)s,' → 'Merhaba,'"]


# --- right to left, and the switcher on every page -----------------------------------------


def test_arabic_is_written_right_to_left_and_the_others_left_to_right() -> None:
    assert text_direction("ar") == "rtl"
    assert [text_direction(code) for code in ("uk", "tr", "de", "en")] == ["ltr"] * 4


# Text the participants write themselves, in whatever script: its direction comes from
# the text (dir="auto"), not from the page, so that German goals read correctly on an
# Arabic page and Arabic notes on a German one.
OWN_TEXT = re.compile(r"<(div|td|textarea)\b[^>]*>\s*\{\{[^\n]*?\b(goals|notes)\b")


def test_participants_own_text_takes_its_direction_from_the_text() -> None:
    source = (ROOT / "core/templates/pairings/_tandem.html").read_text(encoding="utf-8")
    tags = [m.group(0) for m in OWN_TEXT.finditer(source)]
    assert len(tags) == 4  # the goals, the goals field, the meeting notes and their field
    assert all('dir="auto"' in tag for tag in tags), tags


def _templates() -> list[Path]:
    patterns = ["core/templates", "themes/*/templates", "plugins/*/templates"]
    return sorted(f for p in patterns for d in ROOT.glob(p) for f in d.rglob("*.html"))


def test_every_page_is_built_on_the_layout_with_the_switcher() -> None:
    """A template that is a page of its own extends a layout; only the base layout
    (which holds the switcher), the mail frame and documents shown inside another page
    (the certificate editor's preview frame) write <html> themselves."""
    base = (ROOT / "core/templates/base.html").read_text(encoding="utf-8")
    assert 'class="language-switcher" method="post" action="/language"' in base
    assert '<html lang="{{ locale }}" dir="{{ text_direction }}">' in base
    own_documents = []
    for path in _templates():
        source = path.read_text(encoding="utf-8")
        name = path.relative_to(ROOT).as_posix()
        if "{% extends" not in source and re.search(r"<(?:html|body)\b", source):
            own_documents.append(name)
    assert own_documents == [
        "core/templates/base.html",
        "core/templates/certificates/admin_preview_problem.html",
        "core/templates/mail/layout.html",
    ]
    for theme_base in ROOT.glob("themes/*/templates/base.html"):
        text = theme_base.read_text(encoding="utf-8")
        assert text.startswith('{% extends "core/base.html" %}'), theme_base
        assert "language-switcher" not in text and "{% block header" not in text


@pytest.mark.parametrize("offered", [("en",), ("de", "en", "ar", "uk", "tr")])
def test_the_switcher_shows_when_there_is_a_choice(
    plugins: PluginHost, offered: tuple[str, ...]
) -> None:
    renderer = TemplateRenderer(THEMES_DIR, plugins)
    context = {
        "request": _request(),
        "tenant": None,
        "site": object(),
        "sections": [],
        "offered_locales": offered,
        "csrf_input": "",
    }
    html = renderer.render("home.html", theme="muenchen", plugins=frozenset(), locale="ar",
                           context=context)  # fmt: skip
    options = re.findall(r'<option value="([^"]+)" lang="([^"]+)"', html)
    if len(offered) == 1:
        assert 'name="locale"' not in html
    else:
        assert [value for value, _ in options] == list(offered)
        assert all(value == lang for value, lang in options)


def _lang_dir(response: httpx.Response) -> tuple[str, str]:
    match = re.search(r'<html lang="([^"]+)" dir="([^"]+)">', response.text)
    assert match, "not an HTML page"
    return match.group(1), match.group(2)


async def test_arabic_pages_are_right_to_left_and_in_arabic(client: Client) -> None:
    for path in ("/", "/programmes", "/login"):
        response = await client.get(path, headers={"host": MUENCHEN, "accept-language": "ar"})
        assert response.status_code == 200, path
        assert _lang_dir(response) == ("ar", "rtl"), path
        assert gettext("ar", SKIP) in response.text
        assert SKIP not in response.text
    # The switcher names each language in itself.
    options = re.findall(r'<option value="(\w+)" lang="\w+"[^>]*>([^<]+)</option>', response.text)
    assert options == [
        ("de", "Deutsch"),
        ("en", "English"),
        ("ar", "العربية"),
        ("uk", "Українська"),
        ("tr", "Türkçe"),
    ]
    assert re.search(r'<option value="ar" lang="ar" selected>', response.text)


async def test_ukrainian_and_turkish_pages_and_errors(client: Client) -> None:
    ukrainian = await client.get("/", headers={"host": MUENCHEN, "accept-language": "uk-UA"})
    assert _lang_dir(ukrainian) == ("uk", "ltr")
    assert "Перейти до основного вмісту" in ukrainian.text
    missing = await client.get("/no-such-page", headers={"host": MUENCHEN,
                                                           "accept-language": "tr"})  # fmt: skip
    assert missing.status_code == 404
    assert _lang_dir(missing) == ("tr", "ltr")
    assert "Hata 404" in missing.text and "Sayfa bulunamadı" in missing.text


async def test_a_language_the_tenant_does_not_offer_is_not_used(client: Client) -> None:
    # Toronto offers English, Arabic and Ukrainian; not Turkish.
    turkish = await client.get("/", headers={"host": TORONTO, "accept-language": "tr"})
    assert _lang_dir(turkish)[0] == "en"
    arabic = await client.get("/", headers={"host": TORONTO, "accept-language": "tr, ar;q=0.5"})
    assert _lang_dir(arabic) == ("ar", "rtl")
    cookie = await client.get(
        "/", headers={"host": TORONTO, "accept-language": "uk", "cookie": "tandem_locale=tr"}
    )
    assert _lang_dir(cookie)[0] == "uk"


# --- the choice is remembered for signed-in users ---------------------------------------------


async def _locale_of(w: World, name: str) -> str | None:
    async with w.db.platform_session() as session:
        return await session.scalar(select(User.locale).where(User.id == w.users[name].id))


async def _choose(w: World, locale: str, lang: str = "de") -> httpx.Response:
    return await form(w, "/language", {"locale": locale, "next": "/tandem"}, lang)


async def test_a_signed_in_choice_is_saved_and_wins_on_any_device(web_world: World) -> None:
    w = web_world
    assert w.web is not None
    await make_pairing(w, PairingState.ACTIVE)
    await as_user(w, "amira")
    response = await _choose(w, "uk")
    assert response.status_code == 303 and response.headers["location"] == "/tandem"
    assert "tandem_locale=uk" in response.headers["set-cookie"]
    assert await _locale_of(w, "amira") == "uk"
    # Another device: no language cookie, a German browser. Or an old cookie there.
    w.web.cookies.delete("tandem_locale")
    for cookie in (
        {},
        {"cookie": f"tandem_locale=de; tandem_session={w.web.cookies['tandem_session']}"},
    ):
        tandem = await w.web.get("/tandem", headers={"host": MUENCHEN, "accept-language": "de",
                                                     **cookie})  # fmt: skip
        assert tandem.status_code == 200
        assert _lang_dir(tandem) == ("uk", "ltr")
        assert "Мій тандем" in tandem.text
    # Choosing again changes the saved language; Arabic turns the page around.
    await _choose(w, "ar")
    w.web.cookies.delete("tandem_locale")
    assert await _locale_of(w, "amira") == "ar"
    assert _lang_dir(await page(w, "/tandem", "de")) == ("ar", "rtl")
    # Someone else's saved language is theirs alone.
    assert await _locale_of(w, "bilal") is None


async def test_mails_follow_the_choice_in_this_tenant_only(web_world: World) -> None:
    w = web_world
    # Amira also applied in Augsburg (another tenant), in German.
    async with w.db.tenant_session(w.augsburg_id) as session, session.begin():
        programme = Programme(slug="tandem", name="Tandem", duration_weeks=16)
        session.add(programme)
        await session.flush()
        cohort = Cohort(
            programme_id=programme.id,
            slug="2027-autumn",
            name="Herbst 2027",
            applications_open_on=date.today(),
            applications_close_on=date.today(),
            starts_on=date.today(),
            ends_on=date.today() + timedelta(days=100),
        )
        session.add(cohort)
        await session.flush()
        elsewhere = _application(cohort, ApplicationKind.MENTEE, w.users["amira"], "de")
        session.add(elsewhere)
    await as_user(w, "amira")
    await _choose(w, "ar")
    async with w.db.tenant_session(w.tenant_id) as session:
        rows = await session.execute(select(Application.name, Application.locale))
        locales = {name: locale for name, locale in rows}
    assert locales["Amira"] == "ar"
    assert locales["Bilal"] == "de" and locales["Jonas"] == "en"  # other people's stay
    async with w.db.tenant_session(w.augsburg_id) as session:
        assert await session.scalar(select(Application.locale)) == "de"
    await propose(w)
    assert ("amira@apply.example", "mentee", "proposed", "ar") in await mails(w)
    assert ("jonas@apply.example", "mentor", "proposed", "en") in await mails(w)


async def test_a_signed_out_choice_stays_in_the_browser(web_world: World) -> None:
    w = web_world
    response = await _choose(w, "tr")
    assert response.status_code == 303
    assert "tandem_locale=tr" in response.headers["set-cookie"]
    async with w.db.platform_session() as session:
        assert set(await session.scalars(select(User.locale))) <= {None, "en"}
    assert _lang_dir(await page(w, "/", "de"))[0] == "tr"


async def test_a_language_the_site_does_not_offer_is_neither_saved_nor_used(
    web_world: World,
) -> None:
    w = web_world
    await as_user(w, "amira")
    response = await _choose(w, "fr")
    assert response.status_code == 303
    assert "tandem_locale" not in response.headers.get("set-cookie", "")
    assert await _locale_of(w, "amira") is None
    # A saved language München does not offer changes nothing; a regional tag counts
    # for its language.
    for saved, expected in (("fr", "de"), ("tr-TR", "tr"), ("en_GB", "en")):
        async with w.db.platform_session() as session, session.begin():
            await session.execute(
                update(User).where(User.id == w.users["amira"].id).values(locale=saved)
            )
        assert _lang_dir(await page(w, "/", "de"))[0] == expected, saved


def test_saved_choice_matches_offered_languages() -> None:
    offered = ("de", "en", "ar")
    assert saved_choice(offered, "ar") == "ar"
    assert saved_choice(offered, "de-AT") == "de"
    assert saved_choice(offered, "EN_us") == "en"
    assert saved_choice(offered, "tr") is None
    assert saved_choice(offered, None) is None
    assert saved_choice(offered, "") is None


async def test_a_sign_in_service_locale_is_a_first_guess_only(db: Database) -> None:
    issuer = "https://login.example"
    async with db.platform_session() as session, session.begin():
        user = await find_or_create_user_for_identity(session, issuer, "s1", {"locale": "de"})
        assert user.locale == "de"
        user.locale = "uk"  # the person chose Ukrainian with the switcher
    async with db.platform_session() as session, session.begin():
        again = await find_or_create_user_for_identity(
            session, issuer, "s1", {"locale": "de", "display_name": "Olena"}
        )
        assert (again.locale, again.display_name) == ("uk", "Olena")


# --- dates, numbers and names follow the language ----------------------------------------------


async def test_the_tandem_page_formats_dates_and_numbers_in_the_language(
    web_world: World,
) -> None:
    w = web_world
    pairing = await make_pairing(w, PairingState.ACTIVE)
    await as_user(w, "amira")
    for lang in ("tr", "ar", "uk", "de"):
        text = (await page(w, "/tandem", lang)).text
        proposed = format_date(pairing.proposed_at, lang)
        assert proposed in text, (lang, proposed)
        # No meetings yet: 0 of 24 hours, the percent sign where the language puts it.
        assert re.search(rf"<progress [^>]*>{re.escape(format_percent(0, locale=lang))}</progress>",
                         text), lang  # fmt: skip
    assert format_percent(0, locale="tr") == "%0"


async def test_form_errors_come_in_the_participant_s_language(web_world: World) -> None:
    w = web_world
    pairing = await make_pairing(w, PairingState.ACTIVE)
    await as_user(w, "amira")
    future = (date.today() + timedelta(days=1)).isoformat()
    response = await form(w, f"/tandem/{pairing.id}/meetings", meeting_form(held_on=future), "uk")
    assert response.status_code == 422
    assert "Зустріч не може бути в майбутньому." in response.text
    assert _lang_dir(response) == ("uk", "ltr")


async def test_the_application_form_in_turkish_names_countries_and_errors_in_turkish(
    web_world: World,
) -> None:
    w = web_world
    today = date.today()
    async with w.db.tenant_session(w.tenant_id) as session, session.begin():
        session.add(
            Cohort(
                programme_id=w.cohort.programme_id,
                slug="2028-open",
                name="2028",
                applications_open_on=today - timedelta(days=1),
                applications_close_on=today + timedelta(days=30),
                starts_on=today + timedelta(days=40),
                ends_on=today + timedelta(days=160),
            )
        )
    path = "/programmes/mentoring/cohorts/2028-open/apply/mentee"
    shown = await page(w, path, "tr")
    assert shown.status_code == 200
    assert _lang_dir(shown) == ("tr", "ltr")
    assert re.search(r'<option value="UA"[^>]*>Ukrayna</option>', shown.text)
    sent = await form(w, path, {"name": "", "email": "not-an-address"}, "tr")
    assert sent.status_code == 422
    assert "Adınızı girin." in sent.text
    assert "name@example.org gibi bir e-posta adresi girin." in sent.text
    arabic = await form(w, path, {"name": ""}, "ar")
    assert _lang_dir(arabic) == ("ar", "rtl") and "أدخل اسمك." in arabic.text


def test_date_and_time_are_joined_as_each_language_does() -> None:
    moment = datetime(2026, 3, 14, 10, 0, tzinfo=UTC)
    assert format_datetime(moment, "de") == "14. März 2026, 10:00 UTC"
    assert format_datetime(moment, "en") == "March 14, 2026, 10:00\u202fAM UTC"
    assert format_datetime(moment, "tr") == "14 Mart 2026 10:00 UTC"
    assert "،" in format_datetime(moment, "ar") and "2026" in format_datetime(moment, "ar")
    assert format_datetime(moment, "uk").startswith("14 березня 2026")


def test_a_mail_in_arabic_is_right_to_left_and_localised(plugins: PluginHost) -> None:
    tenant = _snapshot("muenchen", "München", "muenchen", ("de", "en", "ar", "uk", "tr"))
    mails = MailRenderer(TemplateRenderer(THEMES_DIR, plugins))
    context = {"name": "Amira", "kind": "mentee", "programme": "Mentoring",
               "cohort": "2027", "starts_on": "2027-03-01"}  # fmt: skip
    arabic = mails.render(tenant, "application_received", "ar", context)
    assert arabic.locale == "ar"
    assert '<html lang="ar" dir="rtl">' in arabic.html
    assert "مرحبًا Amira،" in arabic.text
    assert format_date(date(2027, 3, 1), "ar") in arabic.text
    assert arabic.subject == "تلقينا طلبك للانضمام إلى Mentoring"
    ukrainian = mails.render(tenant, "application_received", "uk", context)
    assert "1 березня 2027" in ukrainian.text and 'dir="ltr"' in ukrainian.html
