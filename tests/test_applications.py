"""Applying to a cohort: the public forms and the JSON API, on SQLite and PostgreSQL.

Everything runs for real: the app's relay and in-process worker deliver the
confirmation mails to an SMTP server on loopback (aiosmtpd), plugin fields come from a
plugin registered with the app's plugin host and enabled for one tenant only.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from markupsafe import escape
from sqlalchemy import select

from core.applications import schemas
from core.applications.consent import CONSENT_VERSION
from core.applications.models import Application, ApplicationKind, ApplicationStatus
from core.db.sessions import Database
from core.i18n.catalogs import gettext
from core.identity.models import AuditEntry
from core.identity.sessions import start_session
from core.jobs.models import OutboxMessage
from core.mail import delivery as mail_delivery
from core.pluginhost import PluginInfo, hookimpl
from core.pluginhost.manager import PluginHost
from core.pluginhost.service import set_plugin_state
from core.pluginhost.types import ApplicationField
from core.programmes.models import Cohort, Programme
from core.programmes.services import today
from core.settings import Settings
from core.tenancy.snapshot import TenantSnapshot
from tests.conftest import make_app
from tests.test_identity_sessions import csrf_token, grant, login, make_user, tenant_ids
from tests.test_jobs_outbox import wait_until
from tests.test_mail import SmtpServer

Client = AsyncTestClient[Litestar]
MUENCHEN = "muenchen.localhost:8000"
AUGSBURG = "augsburg.localhost:8000"
TORONTO = "toronto.localhost:8000"
SENDER = "programmes@tandem.example"
APPLY = "/programmes/{programme}/cohorts/{cohort}/apply/{kind}"


# --- a probe plugin that adds one field of each type ----------------------------------------------


class FieldsProbe:
    """Adds fields to the mentee form, labelled in the page's language."""

    PLUGIN = PluginInfo(id="probe_fields", name="Probe fields", description="test", version="0.1")

    @hookimpl
    def extra_application_fields(
        self, tenant: TenantSnapshot, kind: str, locale: str
    ) -> list[ApplicationField]:
        if kind != "mentee":
            return []
        german = locale == "de"
        return [
            ApplicationField(
                name="years_here",
                label="Jahre im Land" if german else "Years in the country",
                type="number",
                required=True,
                min=0,
                max=80,
            ),
            ApplicationField(
                name="work_permit",
                label="Arbeitserlaubnis vorhanden" if german else "Work permit",
                type="bool",
                required=True,
            ),
            ApplicationField(
                name="track",
                label="Schwerpunkt" if german else "Track",
                type="choice",
                choices=(("it", "IT"), ("care", "Pflege" if german else "Care")),
            ),
            ApplicationField(name="referrer", label="Empfohlen von" if german else "Referred by"),
        ]


PROBE = FieldsProbe()
PROBE_ANSWERS = {
    "extra-probe_fields-years_here": "3",
    "extra-probe_fields-work_permit": "on",
    "extra-probe_fields-track": "care",
}


# --- the world: three tenants, a programme and an open cohort each --------------------------------


@dataclass
class World:
    web: Client
    db: Database
    smtp: SmtpServer
    plugins: PluginHost
    tenants: dict[str, uuid.UUID]


@dataclass(frozen=True)
class Place:
    host: str
    programme: str
    cohort: str

    def apply(self, kind: str = "mentee") -> str:
        return APPLY.format(programme=self.programme, cohort=self.cohort, kind=kind)


M = Place(MUENCHEN, "mentoring", "2027-spring")
A = Place(AUGSBURG, "tandem", "2027-autumn")
T = Place(TORONTO, "tmp", "2027-winter")


async def add_programme(
    db: Database,
    tenant_id: uuid.UUID,
    programme: str,
    cohort: str,
    *,
    opens: date | None = None,
    closes: date | None = None,
    published: bool = True,
    min_german_level: str | None = None,
    requires_recognition_procedure: bool = False,
) -> Cohort:
    start = today()
    async with db.tenant_session(tenant_id) as session, session.begin():
        row = await session.scalar(select(Programme).where(Programme.slug == programme))
        if row is None:
            row = Programme(
                slug=programme,
                name=f"Mentoring {programme}",
                duration_weeks=16,
                published=published,
                min_german_level=min_german_level,
                requires_recognition_procedure=requires_recognition_procedure,
            )
            session.add(row)
            await session.flush()
        found = Cohort(
            programme_id=row.id,
            slug=cohort,
            name=f"Durchgang {cohort}",
            applications_open_on=opens or start - timedelta(days=10),
            applications_close_on=closes or start + timedelta(days=10),
            starts_on=start + timedelta(days=30),
            ends_on=start + timedelta(days=150),
        )
        session.add(found)
    return found


@pytest.fixture
async def world(
    synced: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[World]:
    smtp = SmtpServer()
    smtp.start()
    plugins = PluginHost.load(extra=[PROBE])
    tenants = await tenant_ids(synced)
    await add_programme(synced, tenants["muenchen"], M.programme, M.cohort, min_german_level="B1")
    await add_programme(synced, tenants["augsburg"], A.programme, A.cohort)
    await add_programme(synced, tenants["toronto"], T.programme, T.cohort)
    mailing = Settings(**{**settings.model_dump(), "smtp_url": smtp.url, "mail_from": SENDER})
    monkeypatch.setattr(mail_delivery, "_mailer", None)  # the app configures its own
    try:
        async with AsyncTestClient(make_app(mailing, plugins), base_url="http://localhost") as web:
            web.follow_redirects = False
            yield World(web, synced, smtp, plugins, tenants)
    finally:
        smtp.stop()


# --- helpers --------------------------------------------------------------------------------------


def mentee(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Olena Kovalenko",
        "email": "Olena.K@example.org",
        "occupation": "214",
        "field": "Bauingenieurwesen",
        "years_experience": "12",
        "qualification": "master",
        "qualification_country": "UA",
        "recognition_status": "in_progress",
        "recognition_authority": "Bayerische Ingenieurekammer-Bau",
        "german_level": "B2",
        "languages-0-code": "uk",
        "languages-0-level": "C2",
        "languages-1-code": "en",
        "languages-1-level": "B2",
        "languages-2-code": "",
        "languages-2-level": "",
        "district": "Schwabing",
        "availability": ["weekday_evening", "weekend_daytime"],
        "goals": "Understand the German construction sector.",
        "consent": "on",
        "consent_version": CONSENT_VERSION,
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def mentor(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Thomas Wagner",
        "email": "thomas@example.org",
        "occupation": "251",
        "field": "Backend development",
        "employer": "Isar Mobility GmbH",
        "position": "Lead engineer",
        "years_experience": "15",
        "languages-0-code": "de",
        "languages-0-level": "C2",
        "district": "Giesing",
        "availability": ["weekday_evening"],
        "capacity": "2",
        "motivation": "I was new here once.",
        "gender": "man",
        "consent": "on",
        "consent_version": CONSENT_VERSION,
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


async def submit(
    web: Client, place: Place, data: dict[str, Any], kind: str = "mentee", lang: str = "en"
) -> httpx.Response:
    headers = {"host": place.host, "accept-language": lang}
    page = await web.get(place.apply(kind), headers=headers)
    token = csrf_token(page)
    return await web.post(place.apply(kind), headers=headers, data={"_csrf_token": token, **data})


async def applications(db: Database, tenant_id: uuid.UUID) -> list[Application]:
    async with db.tenant_session(tenant_id) as session:
        return list(await session.scalars(select(Application).order_by(Application.created_at)))


async def outbox_events(db: Database, name: str) -> list[OutboxMessage]:
    async with db.platform_session() as session:
        rows = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.actor_name == "core.deliver_event")
        )
        return [row for row in rows if row.kwargs.get("name") == name]


async def audit_actions(db: Database, tenant_id: uuid.UUID) -> list[str]:
    async with db.tenant_session(tenant_id) as session:
        return [e.action for e in await session.scalars(select(AuditEntry))]


def mail_text(message: Any) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


async def mails_to(smtp: SmtpServer, address: str, count: int = 1) -> list[Any]:
    async def arrived() -> bool:
        return len([m for m in smtp.messages() if address in m.recipients]) >= count

    await wait_until(arrived, f"{count} mail(s) to {address}")
    return [m.message for m in smtp.messages() if address in m.recipients]


async def sign_in(world: World, slug: str, roles: list[str], name: str | None = None) -> uuid.UUID:
    user = await make_user(world.db, name or f"Person{uuid.uuid4().hex[:6]}")
    if roles:
        await grant(world.db, world.tenants[slug], user, roles)
    login(world.web, await start_session(world.db, world.tenants[slug], user))
    return user.id


def shows(page: httpx.Response, message: str) -> bool:
    return str(escape(message)) in page.text


async def enable_probe(world: World, slug: str = "muenchen") -> None:
    async with world.db.tenant_session(world.tenants[slug]) as session, session.begin():
        await set_plugin_state(session, world.plugins, "probe_fields", enabled=True)


# --- the form -------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["de", "en"])
async def test_the_mentee_form_is_labelled_in_the_page_language(world: World, lang: str) -> None:
    page = await world.web.get(M.apply(), headers={"host": MUENCHEN, "accept-language": lang})
    assert page.status_code == 200
    text = page.text
    assert f'<html lang="{lang}"' in text
    title = gettext(lang, "Apply as a mentee")
    assert f'<h1 id="apply-title">{title}</h1>' in text
    # Every control has a label.
    for control in re.findall(r'<(?:input|select|textarea)[^>]*\bid="(f-[^"]+)"', text):
        assert f'for="{control}"' in text, control
    assert '<optgroup label="2 ' in text and 'value="214"' in text
    assert 'name="languages-0-code"' in text and 'name="languages-3-level"' in text
    assert text.count('name="availability"') == 4
    assert f'name="consent_version" value="{CONSENT_VERSION}"' in text
    assert shows(page, gettext(lang, "Consent to data processing"))
    if lang == "de":
        assert "Ukrainisch" in text and "Ingenieurwesen (ohne Elektrotechnik)" in text
        assert "Werktags, abends" in text
    else:
        assert "Ukrainian" in text and "Engineering professionals" in text
    assert 'name="capacity"' not in text  # a mentor's question


async def test_the_mentor_form_asks_mentors_questions_and_knows_who_is_signed_in(
    world: World,
) -> None:
    page = await world.web.get(M.apply("mentor"), headers={"host": MUENCHEN})
    assert page.status_code == 200
    text = page.text
    for name in ("employer", "position", "capacity", "motivation"):
        assert f'name="{name}"' in text, name
    for name in ("german_level", "recognition_status", "qualification_country"):
        assert f'name="{name}"' not in text, name
    await _signed_in_people_find_their_name_filled_in(world)


async def _signed_in_people_find_their_name_filled_in(world: World) -> None:
    await sign_in(world, "muenchen", [], name="Amira")
    page = await world.web.get(M.apply(), headers={"host": MUENCHEN})
    assert 'value="Amira"' in page.text and 'value="amira@example.org"' in page.text


# --- submitting -----------------------------------------------------------------------------------


async def test_a_valid_mentee_application_is_stored_confirmed_and_audited(world: World) -> None:
    sent = await submit(world.web, M, mentee(same_gender_mentor="on", gender="Frau"), lang="de")
    assert sent.status_code == 303, sent.text
    assert sent.headers["location"] == M.apply() + "/thanks"
    thanks = await world.web.get(
        sent.headers["location"], headers={"host": MUENCHEN, "accept-language": "en"}
    )
    assert thanks.status_code == 200 and "Thank you for your application" in thanks.text

    [row] = await applications(world.db, world.tenants["muenchen"])
    assert row.kind is ApplicationKind.MENTEE and row.status is ApplicationStatus.SUBMITTED
    assert row.email == "olena.k@example.org"  # one address, whatever its case
    assert row.locale == "de" and row.user_id is None
    assert row.occupation_code == "214" and row.years_experience == 12
    assert row.languages == [{"code": "uk", "level": "C2"}, {"code": "en", "level": "B2"}]
    assert row.availability == ["weekday_evening", "weekend_daytime"]
    assert row.german_level == "B2" and row.qualification_country == "UA"
    assert row.recognition_status.value == "in_progress"
    assert row.preferences == {"same_gender_mentor": True} and row.gender == "Frau"
    assert row.consent_version == CONSENT_VERSION and row.consent_given_at is not None
    assert row.extra == {}
    assert "application_submitted" in await audit_actions(world.db, world.tenants["muenchen"])
    [event] = await outbox_events(world.db, "application.submitted")
    assert event.kwargs["payload"] == {
        "application_id": str(row.id),
        "cohort": M.cohort,
        "kind": "mentee",
        "status": "submitted",
    }

    [mail] = await mails_to(world.smtp, "olena.k@example.org")
    assert mail["Subject"].startswith("Wir haben Ihre Bewerbung")
    text = mail_text(mail)
    assert "Hallo Olena Kovalenko," in text and "als Mentee" in text


async def test_a_valid_mentor_application_is_stored_and_confirmed_in_english(
    world: World,
) -> None:
    sent = await submit(world.web, M, mentor(), kind="mentor", lang="en")
    assert sent.status_code == 303, sent.text
    [row] = await applications(world.db, world.tenants["muenchen"])
    assert row.kind is ApplicationKind.MENTOR and row.capacity == 2
    assert row.employer == "Isar Mobility GmbH" and row.position == "Lead engineer"
    assert row.gender == "man" and row.german_level is None and row.locale == "en"
    [mail] = await mails_to(world.smtp, "thomas@example.org")
    assert "applying as a mentor" in mail_text(mail)
    await _the_gender_is_kept_only_with_the_same_gender_wish(world)


async def _the_gender_is_kept_only_with_the_same_gender_wish(world: World) -> None:
    assert (await submit(world.web, M, mentee(gender="Frau"))).status_code == 303
    [row] = [
        a for a in await applications(world.db, world.tenants["muenchen"]) if a.kind == "mentee"
    ]
    assert row.gender is None and row.preferences == {}


# Each case: the form data change, the field the error is shown at, the message.
INVALID_MENTEE = [
    ({"consent": None}, "consent", schemas.NEED_CONSENT),
    ({"consent_version": "2001-01"}, "consent", schemas.CONSENT_CHANGED),
    ({"email": "olena(at)example.org"}, "email", "Enter an e-mail address like name@example.org."),
    ({"email": "a@b.c, x@y.z"}, "email", "Enter an e-mail address like name@example.org."),
    ({"name": "  "}, "name", "Enter your name."),
    ({"occupation": "2"}, "occupation", "Choose your occupation from the list."),
    ({"occupation": "9999"}, "occupation", "Choose your occupation from the list."),
    ({"languages-0-code": "xx"}, "languages-0-code", "Choose a language from the list."),
    ({"languages-1-level": ""}, "languages-1-level", "Choose a level from A1 to C2."),
    ({"languages-1-code": "uk"}, "languages-1-code", "You have named this language twice."),
    ({"qualification_country": "XX"}, "qualification_country", "Choose the country from the list."),
    ({"german_level": "B3"}, "german_level", "Choose your German level, from A1 to C2."),
    ({"german_level": ""}, "german_level", "Choose your German level, from A1 to C2."),
    ({"recognition_status": "maybe"}, "recognition_status", schemas.CHOOSE_RECOGNITION),
    ({"qualification": "phd"}, "qualification", "Choose your highest qualification."),
    ({"years_experience": "-1"}, "years_experience", schemas.YEARS),
    ({"years_experience": "zwölf"}, "years_experience", schemas.YEARS),
    ({"availability": ["sunday_brunch"]}, "availability", "Choose only from the times offered."),
    ({"district": "x" * 101}, "district", "Use at most %(max_length)s characters."),
]  # fmt: skip
INVALID_MENTOR = [
    ({"capacity": "0"}, "capacity", schemas.CAPACITY),
    ({"capacity": "6"}, "capacity", schemas.CAPACITY),
    ({"capacity": "zwei"}, "capacity", schemas.CAPACITY),
    ({"employer": ""}, "employer", "Enter your employer."),
    ({"position": ""}, "position", "Enter your position."),
    ({"consent": None}, "consent", schemas.NEED_CONSENT),
]  # fmt: skip


async def _refused(
    world: World, kind: str, data: dict[str, Any], field: str, message: str, lang: str
) -> None:
    response = await submit(world.web, M, data, kind=kind, lang=lang)
    assert response.status_code == 422, (field, response.text)
    expected = gettext(lang, message, max_length=100)
    assert expected != message or lang == "en"
    # Inline, at its field, and in the summary at the top that links to it.
    assert f'id="f-{field}-error"' in response.text, field
    assert shows(response, expected), expected
    assert f'href="#f-{field}"' in response.text
    # What was entered is still there.
    kept = 'value="Schwabing"' if kind == "mentee" else 'value="Isar Mobility GmbH"'
    assert kept in response.text or field in ("district", "employer")
    assert await applications(world.db, world.tenants["muenchen"]) == []
    assert await outbox_events(world.db, "application.submitted") == []


# One app per language, every case in it: starting an app per case would take minutes.
@pytest.mark.parametrize("lang", ["de", "en"])
async def test_invalid_input_is_refused_inline_and_nothing_is_stored(
    world: World, lang: str
) -> None:
    for change, field, message in INVALID_MENTEE:
        await _refused(world, "mentee", mentee(**change), field, message, lang)
    for change, field, message in INVALID_MENTOR:
        await _refused(world, "mentor", mentor(**change), field, message, lang)
    await _plugin_field_answers_of_the_wrong_type_are_refused(world, lang)


async def test_all_errors_are_shown_at_once_and_the_choices_kept(world: World) -> None:
    data = mentee(consent=None, occupation="", german_level="Z9", district="Au")
    response = await submit(world.web, M, data, lang="de")
    assert response.status_code == 422
    for field in ("consent", "occupation", "german_level"):
        assert f'id="f-{field}-error"' in response.text
    assert 'value="Au"' in response.text
    assert re.search(r'<option value="uk"\s+selected>', response.text)
    assert re.search(r'value="weekday_evening"\s+checked', response.text)


# --- plugin fields --------------------------------------------------------------------------------


async def test_plugin_fields_are_rendered_validated_and_stored(world: World) -> None:
    await enable_probe(world)
    page = await world.web.get(M.apply(), headers={"host": MUENCHEN, "accept-language": "de"})
    for name in ("years_here", "work_permit", "track", "referrer"):
        assert f'name="extra-probe_fields-{name}"' in page.text, name
    assert "Jahre im Land" in page.text
    # Augsburg has not enabled the plugin: no such fields there.
    other = await world.web.get(A.apply(), headers={"host": AUGSBURG})
    assert "extra-probe_fields" not in other.text
    # The mentor form of München gets nothing from this plugin.
    assert (
        "extra-probe_fields"
        not in (await world.web.get(M.apply("mentor"), headers={"host": MUENCHEN})).text
    )

    answers = {**PROBE_ANSWERS, "extra-probe_fields-referrer": "IQ Beratung"}
    sent = await submit(world.web, M, mentee(**answers), lang="de")
    assert sent.status_code == 303, sent.text
    [row] = await applications(world.db, world.tenants["muenchen"])
    assert row.extra == {
        "probe_fields": {
            "years_here": 3,
            "work_permit": True,
            "track": "care",
            "referrer": "IQ Beratung",
        }
    }


PLUGIN_ERRORS = [
    ({"extra-probe_fields-years_here": "drei"}, "years_here", "Enter a whole number."),
    ({"extra-probe_fields-years_here": "81"}, "years_here", "Enter a number of at most %(le)s."),
    ({"extra-probe_fields-years_here": ""}, "years_here", "Fill in this field."),
    ({"extra-probe_fields-work_permit": None}, "work_permit", "Please confirm this."),
    ({"extra-probe_fields-work_permit": "perhaps"}, "work_permit", "Choose yes or no."),
    ({"extra-probe_fields-track": "law"}, "track", "Choose one of the options offered."),
]


async def _plugin_field_answers_of_the_wrong_type_are_refused(world: World, lang: str) -> None:
    await enable_probe(world)
    for change, field, message in PLUGIN_ERRORS:
        answers = {k: v for k, v in {**PROBE_ANSWERS, **change}.items() if v is not None}
        response = await submit(world.web, M, mentee(**answers), lang=lang)
        assert response.status_code == 422, response.text
        assert f'id="f-extra-probe_fields-{field}-error"' in response.text
        assert shows(response, gettext(lang, message, le=80))
        assert 'value="Schwabing"' in response.text
    assert await applications(world.db, world.tenants["muenchen"]) == []


async def test_torontos_clb_question_comes_from_the_built_in_plugin(world: World) -> None:
    page = await world.web.get(T.apply(), headers={"host": TORONTO})
    assert "Canadian Language Benchmark level (CLB)" in page.text
    assert "CLB 6 or higher" in page.text
    missing = await submit(world.web, T, mentee())
    assert missing.status_code == 422
    assert 'id="f-extra-triec_fields-clb_level-error"' in missing.text
    sent = await submit(world.web, T, mentee(**{"extra-triec_fields-clb_level": "8"}))
    assert sent.status_code == 303, sent.text
    [row] = await applications(world.db, world.tenants["toronto"])
    assert row.extra == {"triec_fields": {"clb_level": 8}}


async def test_german_is_asked_where_the_programme_or_tenant_needs_it_and_optional_elsewhere(
    world: World,
) -> None:
    # München works in German and its programme asks for B1: the question is required.
    munich = await world.web.get(M.apply(), headers={"host": MUENCHEN})
    assert 'id="f-german_level" name="german_level" required' in munich.text
    # Toronto works in English and sets no minimum: optional, and may stay empty.
    toronto = await world.web.get(T.apply(), headers={"host": TORONTO})
    assert 'id="f-german_level" name="german_level" required' not in toronto.text
    assert 'id="f-german_level" name="german_level"' in toronto.text
    clb = {"extra-triec_fields-clb_level": "8"}
    wrong = await submit(world.web, T, mentee(german_level="B3", **clb))
    assert wrong.status_code == 422 and 'id="f-german_level-error"' in wrong.text
    sent = await submit(world.web, T, mentee(german_level="", **clb))
    assert sent.status_code == 303, sent.text
    [row] = await applications(world.db, world.tenants["toronto"])
    assert row.german_level is None
    # A Toronto mentee who does speak German may still say so.
    other = await submit(world.web, T, mentee(german_level="a2", email="other@example.org", **clb))
    assert other.status_code == 303, other.text
    levels = {a.german_level for a in await applications(world.db, world.tenants["toronto"])}
    assert levels == {None, "A2"}


# --- windows, duplicates, tenants -----------------------------------------------------------------


async def test_outside_the_window_the_form_says_so_and_takes_nothing(world: World) -> None:
    start = today()
    for slug, opens, closes, de, en in (
        ("2026-closed", -40, -5, "endete am", "closed on"),
        ("2028-later", 5, 40, "sind ab dem", "open on"),
    ):
        await add_programme(
            world.db,
            world.tenants["muenchen"],
            M.programme,
            slug,
            opens=start + timedelta(days=opens),
            closes=start + timedelta(days=closes),
        )
        path = APPLY.format(programme=M.programme, cohort=slug, kind="mentee")
        german = await world.web.get(path, headers={"host": MUENCHEN, "accept-language": "de"})
        assert german.status_code == 200 and de in german.text
        assert "Keine Bewerbung möglich" in german.text and 'name="consent"' not in german.text
        english = await world.web.get(path, headers={"host": MUENCHEN, "accept-language": "en"})
        assert en in english.text
        token = csrf_token(await world.web.get("/", headers={"host": MUENCHEN}))
        posted = await world.web.post(
            path,
            headers={"host": MUENCHEN, "accept-language": "en"},
            data={"_csrf_token": token, **mentee()},
        )
        assert posted.status_code == 403 and "Applications are not open" in posted.text
    assert await applications(world.db, world.tenants["muenchen"]) == []


async def test_one_application_per_address_cohort_and_kind(world: World) -> None:
    assert (await submit(world.web, M, mentee())).status_code == 303
    again = await submit(world.web, M, mentee(email="OLENA.K@example.org"), lang="de")
    assert again.status_code == 409
    assert "Für diesen Durchgang gibt es bereits eine Bewerbung" in again.text
    assert 'value="OLENA.K@example.org"' in again.text  # the form is kept
    assert len(await applications(world.db, world.tenants["muenchen"])) == 1
    # The same person may also offer to mentor (another kind).
    as_mentor = await submit(world.web, M, mentor(email="olena.k@example.org"), kind="mentor")
    assert as_mentor.status_code == 303
    assert len(await applications(world.db, world.tenants["muenchen"])) == 2


async def test_another_tenants_cohort_is_not_found_on_every_route(world: World) -> None:
    token = csrf_token(await world.web.get("/", headers={"host": AUGSBURG}))
    for kind in ("mentee", "mentor"):
        for path in (M.apply(kind), M.apply(kind) + "/thanks"):
            page = await world.web.get(path, headers={"host": AUGSBURG})
            assert page.status_code == 404, path
        posted = await world.web.post(
            M.apply(kind), headers={"host": AUGSBURG}, data={"_csrf_token": token, **mentee()}
        )
        assert posted.status_code == 404
    # A cohort of another programme, an unknown kind.
    wrong = APPLY.format(programme="nope", cohort=M.cohort, kind="mentee")
    assert (await world.web.get(wrong, headers={"host": MUENCHEN})).status_code == 404
    odd = APPLY.format(programme=M.programme, cohort=M.cohort, kind="sponsor")
    assert (await world.web.get(odd, headers={"host": MUENCHEN})).status_code == 404
    assert await applications(world.db, world.tenants["augsburg"]) == []
    await _an_unpublished_programme_takes_no_public_applications(world)


async def _an_unpublished_programme_takes_no_public_applications(world: World) -> None:
    await add_programme(
        world.db, world.tenants["augsburg"], "intern", "2027-pilot", published=False
    )
    path = APPLY.format(programme="intern", cohort="2027-pilot", kind="mentee")
    assert (await world.web.get(path, headers={"host": AUGSBURG})).status_code == 404
    await sign_in(world, "augsburg", ["admin"])
    assert (await world.web.get(path, headers={"host": AUGSBURG})).status_code == 200


# --- the applicant's own applications -------------------------------------------------------------


async def test_a_signed_in_applicant_sees_and_withdraws_their_application(world: World) -> None:
    user_id = await sign_in(world, "muenchen", ["mentee"], name="Amira")
    assert (await submit(world.web, M, mentee(email="amira@example.org"))).status_code == 303
    [row] = await applications(world.db, world.tenants["muenchen"])
    assert row.user_id == user_id

    page = await world.web.get(
        "/account/applications", headers={"host": MUENCHEN, "accept-language": "de"}
    )
    assert page.status_code == 200
    assert "Durchgang 2027-spring" in page.text and "Eingereicht" in page.text
    token = csrf_token(page)
    withdrawn = await world.web.post(
        f"/account/applications/{row.id}/withdraw",
        headers={"host": MUENCHEN},
        data={"_csrf_token": token},
    )
    assert withdrawn.status_code == 303
    [row] = await applications(world.db, world.tenants["muenchen"])
    assert row.status is ApplicationStatus.WITHDRAWN
    assert "application_withdrawn" in await audit_actions(world.db, world.tenants["muenchen"])
    again = await world.web.post(
        f"/account/applications/{row.id}/withdraw",
        headers={"host": MUENCHEN},
        data={"_csrf_token": token},
    )
    assert again.headers["location"] == "/account/applications?done=unchanged"


async def test_nobody_else_can_see_or_withdraw_an_application(world: World) -> None:
    await sign_in(world, "muenchen", ["mentee"], name="Amira")
    assert (await submit(world.web, M, mentee(email="amira@example.org"))).status_code == 303
    [row] = await applications(world.db, world.tenants["muenchen"])

    await sign_in(world, "muenchen", ["mentee"], name="Bogdan")  # another mentee
    page = await world.web.get("/account/applications", headers={"host": MUENCHEN})
    assert str(row.id) not in page.text and "Amira" not in page.text
    token = csrf_token(page)
    refused = await world.web.post(
        f"/account/applications/{row.id}/withdraw",
        headers={"host": MUENCHEN},
        data={"_csrf_token": token},
    )
    assert refused.status_code == 404
    api = await world.web.get("/api/v1/me/applications", headers={"host": MUENCHEN})
    assert api.status_code == 200 and api.json() == []
    # On another tenant's host, the application does not exist at all.
    await sign_in(world, "augsburg", ["mentee"])
    token = csrf_token(await world.web.get("/", headers={"host": AUGSBURG}))
    elsewhere = await world.web.post(
        f"/account/applications/{row.id}/withdraw",
        headers={"host": AUGSBURG},
        data={"_csrf_token": token},
    )
    assert elsewhere.status_code == 404
    [row] = await applications(world.db, world.tenants["muenchen"])
    assert row.status is ApplicationStatus.SUBMITTED

    world.web.cookies.clear()
    anonymous = await world.web.get("/account/applications", headers={"host": MUENCHEN})
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")


# --- the JSON API ---------------------------------------------------------------------------------


def api_mentee(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "kind": "mentee",
        "name": "Olena Kovalenko",
        "email": "olena@example.org",
        "occupation": "214",
        "years_experience": 12,
        "qualification": "master",
        "qualification_country": "UA",
        "recognition_status": "in_progress",
        "german_level": "B2",
        "languages": [{"code": "uk", "level": "C2"}],
        "availability": ["weekday_evening"],
        "consent": True,
        "consent_version": CONSENT_VERSION,
    }
    data.update(changes)
    return data


async def api_post(
    web: Client, host: str, path: str, body: dict[str, Any], lang: str = "en"
) -> httpx.Response:
    """A JSON client: the CSRF cookie from any page, echoed in the header."""
    await web.get("/", headers={"host": host})
    token = web.cookies.get("tandem_csrf")
    assert token
    headers = {"host": host, "accept-language": lang, "x-csrftoken": token}
    return await web.post(path, headers=headers, json=body)


SUBMIT = f"/api/v1/cohorts/{M.cohort}/applications"


async def test_the_api_takes_a_valid_application(world: World) -> None:
    await enable_probe(world)
    form = await world.web.get(
        f"/api/v1/cohorts/{M.cohort}/application-form/mentee",
        headers={"host": MUENCHEN, "accept-language": "de"},
    )
    assert form.status_code == 200
    described = form.json()
    assert described["consent_version"] == CONSENT_VERSION
    assert "speichert und verwendet" in described["consent_text"]
    assert [f["name"] for f in described["fields"]] == [
        "years_here",
        "work_permit",
        "track",
        "referrer",
    ]
    assert described["fields"][2]["choices"][1] == {"value": "care", "label": "Pflege"}

    extra = {"probe_fields": {"years_here": 4, "work_permit": True}}
    created = await api_post(world.web, MUENCHEN, SUBMIT, api_mentee(extra=extra), lang="de")
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["kind"] == "mentee" and body["status"] == "submitted"
    [row] = await applications(world.db, world.tenants["muenchen"])
    assert str(row.id) == body["id"] and row.locale == "de"
    assert row.extra == {"probe_fields": {"years_here": 4, "work_permit": True}}
    assert (await mails_to(world.smtp, "olena@example.org"))[0]["Subject"].startswith("Wir haben")

    twice = await api_post(world.web, MUENCHEN, SUBMIT, api_mentee(extra=extra))
    assert twice.status_code == 409
    assert twice.headers["content-type"].startswith("application/problem+json")
    await _the_api_is_documented(world)


@pytest.mark.parametrize("lang", ["de", "en"])
async def test_the_api_names_every_invalid_field_in_the_callers_language(
    world: World, lang: str
) -> None:
    await enable_probe(world)
    body = api_mentee(
        consent=False,
        email="nope",
        occupation="0",
        german_level="D1",
        qualification_country="XX",
        languages=[{"code": "xx", "level": "C1"}],
        extra={"probe_fields": {"years_here": "four", "work_permit": 1}, "other": {"a": 1}},
    )
    refused = await api_post(world.web, MUENCHEN, SUBMIT, body, lang=lang)
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["status"] == 422
    errors = problem["errors"]
    assert errors["consent"] == gettext(lang, schemas.NEED_CONSENT)
    assert errors["email"] == gettext(lang, "Enter an e-mail address like name@example.org.")
    assert errors["occupation"] == gettext(lang, "Choose your occupation from the list.")
    assert errors["german_level"] == gettext(lang, "Choose your German level, from A1 to C2.")
    assert errors["qualification_country"] == gettext(lang, "Choose the country from the list.")
    assert errors["languages.0.code"] == gettext(lang, "Choose a language from the list.")
    assert errors["extra.probe_fields.years_here"] == gettext(lang, "Enter a whole number.")
    assert errors["extra.probe_fields.work_permit"] == gettext(lang, "Choose yes or no.")
    assert errors["extra.other.a"] == gettext(lang, "This form has no such field.")
    assert await applications(world.db, world.tenants["muenchen"]) == []


async def _the_api_refuses_a_mentor_capacity_out_of_range_and_unknown_kinds(
    world: World,
) -> None:
    body = {
        "kind": "mentor",
        "name": "Thomas",
        "email": "t@example.org",
        "occupation": "251",
        "employer": "Isar Mobility",
        "position": "Lead",
        "capacity": 9,
        "consent": True,
        "consent_version": CONSENT_VERSION,
    }
    refused = await api_post(world.web, MUENCHEN, SUBMIT, body)
    assert refused.status_code == 422
    assert set(refused.json()["errors"]) == {"capacity"}
    odd = await api_post(world.web, MUENCHEN, SUBMIT, {**body, "kind": "sponsor"})
    assert odd.status_code == 422 and set(odd.json()["errors"]) == {"kind"}
    malformed = await api_post(world.web, MUENCHEN, SUBMIT, {**body, "capacity": "two"})
    assert malformed.status_code == 400
    assert await applications(world.db, world.tenants["muenchen"]) == []


async def test_the_api_refuses_other_tenants_closed_windows_and_bad_values(
    world: World,
) -> None:
    elsewhere = await api_post(world.web, AUGSBURG, SUBMIT, api_mentee())
    assert elsewhere.status_code == 404
    form = await world.web.get(
        f"/api/v1/cohorts/{M.cohort}/application-form/mentee", headers={"host": AUGSBURG}
    )
    assert form.status_code == 404
    start = today()
    await add_programme(
        world.db,
        world.tenants["muenchen"],
        M.programme,
        "2020-old",
        opens=start - timedelta(days=100),
        closes=start - timedelta(days=50),
    )
    closed = await api_post(
        world.web, MUENCHEN, "/api/v1/cohorts/2020-old/applications", api_mentee(), lang="de"
    )
    assert closed.status_code == 403
    assert closed.json()["detail"] == gettext(
        "de", "This cohort does not take applications at the moment."
    )
    without_csrf = await world.web.post(SUBMIT, headers={"host": MUENCHEN}, json=api_mentee())
    assert without_csrf.status_code == 403
    assert await applications(world.db, world.tenants["muenchen"]) == []
    await _the_api_refuses_a_mentor_capacity_out_of_range_and_unknown_kinds(world)


async def _the_api_is_documented(world: World) -> None:
    schema = (await world.web.get("/api/docs/openapi.json", headers={"host": MUENCHEN})).json()
    paths = schema["paths"]
    for path in (
        "/api/v1/cohorts/{cohort_slug}/applications",
        "/api/v1/cohorts/{cohort_slug}/applications/{application_id}",
        "/api/v1/cohorts/{cohort_slug}/applications/{application_id}/decision",
        "/api/v1/cohorts/{cohort_slug}/application-form/{kind}",
        "/api/v1/me/applications",
    ):
        assert path in paths, path
    listing = paths["/api/v1/cohorts/{cohort_slug}/applications"]
    assert {"get", "post"} <= set(listing)
    assert "422" in listing["post"]["responses"]
    decision = paths["/api/v1/cohorts/{cohort_slug}/applications/{application_id}/decision"]
    assert "409" in decision["post"]["responses"]
