"""Programmes and cohorts: admin pages, public pages, the JSON API and the rules behind them.

Everything runs on SQLite and PostgreSQL (the ``synced`` fixture). München is the
tenant under test; Augsburg is "another tenant", whose admins must find none of
München's programmes or cohorts on any route.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from babel.dates import format_date
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from core.applications.models import Application, ApplicationKind
from core.db.sessions import Database
from core.identity.models import AuditEntry
from core.pluginhost.manager import PluginHost
from core.programmes import services
from core.programmes.models import Cadence, Cohort, Programme
from core.programmes.schemas import (
    CohortStatus,
    InvalidInput,
    check_cohort,
    check_programme,
    slug_from_name,
)
from core.settings import Settings
from tests.conftest import make_app
from tests.test_admin_pages import AUGSBURG, MUENCHEN, sign_in, submit
from tests.test_identity_sessions import tenant_ids

Client = AsyncTestClient[Litestar]
TODAY = services.today()
PROGRAMME = {
    "name": "Mentoring für Fachkräfte",
    "slug": "fachkraefte",
    "description": "Erste Zeile.\n\nZweiter Absatz.",
    "duration_weeks": "17",
    "expected_hours": "24",
    "cadence": "fortnightly",
    "min_german_level": "B1",
    "requires_recognition_procedure": "true",
    "published": "true",
}


def window(open_days: int = -5) -> dict[str, str]:
    """Cohort dates around today: applications opened ``-open_days`` days ago."""
    opens = TODAY + timedelta(days=open_days)
    return {
        "applications_open_on": opens.isoformat(),
        "applications_close_on": (opens + timedelta(days=15)).isoformat(),
        "starts_on": (opens + timedelta(days=25)).isoformat(),
        "ends_on": (opens + timedelta(days=145)).isoformat(),
    }


@pytest.fixture
async def web(synced: Database, settings: Settings, plugins: PluginHost) -> AsyncIterator[Client]:
    async with AsyncTestClient(make_app(settings, plugins), base_url="http://localhost") as c:
        c.follow_redirects = False
        yield c


async def tenant(db: Database, slug: str = "muenchen") -> uuid.UUID:
    return (await tenant_ids(db))[slug]


async def add_programme(db: Database, tenant_slug: str = "muenchen", **raw: Any) -> Programme:
    """Through the services, as a demo-data loader would."""
    values = {"name": "Mentoring", "slug": "mentoring", "duration_weeks": 17, **raw}
    async with db.tenant_session(await tenant(db, tenant_slug)) as session, session.begin():
        return await services.create_programme(session, values)


async def add_cohort(
    db: Database, programme: Programme, tenant_slug: str = "muenchen", **raw: Any
) -> Cohort:
    values = {"name": "Frühjahr", "slug": "fruehjahr", **window(), **raw}
    async with db.tenant_session(await tenant(db, tenant_slug)) as session, session.begin():
        return await services.create_cohort(session, programme, values)


async def add_application(db: Database, cohort: Cohort) -> None:
    async with db.tenant_session(await tenant(db)) as session, session.begin():
        session.add(
            Application(
                cohort_id=cohort.id,
                kind=ApplicationKind.MENTEE,
                name="Amina",
                email="amina@example.org",
                locale="de",
                occupation_code="2142",
                consent_version="1",
            )
        )


async def programmes(db: Database, slug: str = "muenchen") -> list[Programme]:
    async with db.tenant_session(await tenant(db, slug)) as session:
        return list(await session.scalars(select(Programme).order_by(Programme.slug)))


async def cohorts(db: Database, slug: str = "muenchen") -> list[Cohort]:
    async with db.tenant_session(await tenant(db, slug)) as session:
        return list(await session.scalars(select(Cohort).order_by(Cohort.slug)))


async def audit_actions(db: Database, slug: str = "muenchen") -> list[str]:
    async with db.tenant_session(await tenant(db, slug)) as session:
        query = select(AuditEntry.action).order_by(AuditEntry.created_at, AuditEntry.id)
        return [a for a in await session.scalars(query) if "programme" in a or "cohort" in a]


async def page(web: Client, path: str, host: str = MUENCHEN, lang: str = "en") -> httpx.Response:
    return await web.get(path, headers={"host": host, "accept-language": lang})


async def api(
    web: Client,
    method: str,
    path: str,
    body: Any = None,
    *,
    host: str = MUENCHEN,
    lang: str = "en",
    csrf: bool = True,
) -> httpx.Response:
    """A JSON request with the CSRF header a script would send (cookie from a GET)."""
    headers = {"host": host, "accept-language": lang}
    if csrf:
        if "tandem_csrf" not in web.cookies:
            await web.get("/api/v1/site", headers={"host": host})
        headers["x-csrftoken"] = web.cookies["tandem_csrf"]
    return await web.request(method, path, headers=headers, json=body)


def field_errors(response: httpx.Response) -> dict[str, str]:
    assert response.headers["content-type"].startswith("application/problem+json")
    return {e["key"]: e["message"] for e in response.json()["errors"]}


# --- the rules, without the web -----------------------------------------------------------


def test_slugs_are_made_from_names() -> None:
    assert slug_from_name("Frühjahr 2027") == "fruehjahr-2027"
    assert slug_from_name("  Mentoring — Straße & Co. ") == "mentoring-strasse-co"
    assert slug_from_name("日本") == ""
    assert len(slug_from_name("x" * 100)) == 63


def test_a_new_programme_gets_defaults_and_numbers_from_text() -> None:
    values = check_programme({"name": "Mentoring", "duration_weeks": " 16 "})
    assert values["slug"] == "mentoring" and values["duration_weeks"] == 16
    assert values["cadence"] is Cadence.FORTNIGHTLY and values["published"] is True
    assert values["expected_hours"] is None and values["min_german_level"] is None
    assert (
        check_programme({"min_german_level": "b2"}, current=Programme(slug="x"))["min_german_level"]
        == "B2"
    )


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        ({"duration_weeks": 0}, "duration_weeks", "from %(min)s to %(max)s"),
        ({"duration_weeks": 105}, "duration_weeks", "from %(min)s to %(max)s"),
        ({"duration_weeks": True}, "duration_weeks", "whole number"),
        ({"duration_weeks": "4.5"}, "duration_weeks", "whole number"),
        ({"expected_hours": 501}, "expected_hours", "or leave it empty"),
        ({"expected_hours": "-1"}, "expected_hours", "or leave it empty"),
        ({"slug": "Mentoring"}, "slug", "Use lower-case"),
        ({"slug": "-x"}, "slug", "Use lower-case"),
        ({"name": "a\nb"}, "name", "one line"),
        ({"name": "x" * 201}, "name", "at most"),
        ({"description": "x\x00"}, "description", "control characters"),
        ({"cadence": "daily"}, "cadence", "Choose one"),
        ({"min_german_level": "D1"}, "min_german_level", "A1 to C2"),
        ({"published": "yes"}, "published", "yes or no"),
        ({"colour": "red"}, "colour", "no such field"),
    ],
)
def test_programme_rules(raw: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_programme({"name": "Mentoring", "duration_weeks": 16, **raw})
    assert set(caught.value.problems) == {field}
    assert message in caught.value.problems[field].message


def test_cohort_date_rules_compare_a_change_with_the_stored_dates() -> None:
    stored = Cohort(slug="c", name="C", **{k: date.fromisoformat(v) for k, v in window().items()})
    with pytest.raises(InvalidInput) as caught:
        check_cohort({"starts_on": stored.applications_close_on - timedelta(days=1)}, stored)
    assert set(caught.value.problems) == {"applications_close_on"}
    with pytest.raises(InvalidInput) as caught:
        check_cohort({"slug": "other"}, stored)
    assert "cannot be changed" in caught.value.problems["slug"].message
    same_day = stored.starts_on.isoformat()
    assert check_cohort({"applications_close_on": same_day}, stored) == {
        "applications_close_on": stored.starts_on
    }


def test_cohort_status_follows_the_dates() -> None:
    cohort = Cohort(**{k: date.fromisoformat(v) for k, v in window(open_days=0).items()})
    day = cohort.applications_open_on
    assert services.cohort_status(cohort, day - timedelta(days=1)) is CohortStatus.UPCOMING
    assert services.cohort_status(cohort, day) is CohortStatus.APPLICATIONS_OPEN
    assert services.cohort_status(cohort, cohort.applications_close_on) is (
        CohortStatus.APPLICATIONS_OPEN
    )
    assert services.cohort_status(cohort, cohort.starts_on - timedelta(days=1)) is (
        CohortStatus.MATCHING
    )
    assert services.cohort_status(cohort, cohort.ends_on) is CohortStatus.RUNNING
    assert services.cohort_status(cohort, cohort.ends_on + timedelta(days=1)) is (
        CohortStatus.FINISHED
    )


# --- admin pages --------------------------------------------------------------------------


async def test_an_admin_creates_and_edits_a_programme_and_its_cohort_on_the_pages(
    web: Client, synced: Database
) -> None:
    await sign_in(web, synced, "muenchen", ["admin"])
    listing = await page(web, "/admin/programmes")
    assert listing.status_code == 200 and 'href="/admin/programmes/new"' in listing.text
    form = await page(web, "/admin/programmes/new")
    assert '<label for="programme-name">' in form.text and 'name="_csrf_token"' in form.text

    created = await submit(web, "/admin/programmes", PROGRAMME)
    assert created.status_code == 303, created.text
    [programme] = await programmes(synced)
    assert created.headers["location"].startswith(f"/admin/programmes/{programme.id}?done=created")
    assert (programme.slug, programme.duration_weeks, programme.expected_hours) == (
        "fachkraefte", 17, 24
    )  # fmt: skip
    assert programme.min_german_level == "B1" and programme.requires_recognition_procedure
    assert programme.published and not programme.self_matching
    assert programme.description == "Erste Zeile.\n\nZweiter Absatz."

    edit = await page(web, created.headers["location"])
    assert "Mentoring für Fachkräfte" in edit.text and "was created" in edit.text
    # The edit form has no slug field to send; unchecking "published" unpublishes.
    changed = {**PROGRAMME, "name": "Mentoring 2027", "expected_hours": ""}
    del changed["published"], changed["slug"]
    saved = await submit(web, f"/admin/programmes/{programme.id}", changed)
    assert saved.status_code == 303 and "done=saved" in saved.headers["location"]
    [programme] = await programmes(synced)
    assert (programme.name, programme.expected_hours, programme.published) == (
        "Mentoring 2027", None, False
    )  # fmt: skip
    assert programme.slug == "fachkraefte" and programme.min_german_level == "B1"

    cohort_form = await page(web, f"/admin/programmes/{programme.id}/cohorts/new")
    assert '<label for="cohort-applications_open_on">' in cohort_form.text
    made = await submit(
        web, f"/admin/programmes/{programme.id}/cohorts", {"name": "Frühjahr 2027", **window()}
    )
    assert made.status_code == 303, made.text
    [cohort] = await cohorts(synced)
    assert cohort.slug == "fruehjahr-2027" and cohort.programme_id == programme.id
    later = {
        **window(),
        "name": "Frühling 2027",
        "ends_on": (cohort.ends_on + timedelta(7)).isoformat(),
    }
    saved = await submit(web, f"/admin/programmes/{programme.id}/cohorts/{cohort.id}", later)
    assert saved.status_code == 303
    [cohort] = await cohorts(synced)
    assert cohort.name == "Frühling 2027" and cohort.slug == "fruehjahr-2027"
    # The heading reads well whatever the cohort is called ("Durchgang Herbst 2026" too).
    edit_path = f"/admin/programmes/{programme.id}/cohorts/{cohort.id}"
    heading = '<h1 id="cohort-title">{}</h1>'
    assert (
        heading.format("Durchgang: Frühling 2027") in (await page(web, edit_path, lang="de")).text
    )
    assert heading.format("Cohort “Frühling 2027”") in (await page(web, edit_path)).text

    listing = await page(web, "/admin/programmes")
    assert "Frühling 2027" in listing.text and "Applications open" in listing.text
    assert await audit_actions(synced) == [
        "programme_created", "programme_updated", "cohort_created", "cohort_updated"
    ]  # fmt: skip
    log = await page(web, "/admin/audit", lang="de")
    assert "Programm angelegt" in log.text and "Durchgang geändert" in log.text


@pytest.mark.parametrize(
    ("lang", "messages"),
    [
        ("en", ["Enter a name.", "from 1 to 104", "Use lower-case letters", "or leave it empty"]),
        ("de", ["Geben Sie einen Namen ein.", "von 1 bis 104", "Kleinbuchstaben", "leer"]),
    ],
)
async def test_invalid_programme_input_is_shown_inline_and_nothing_is_stored(
    web: Client, synced: Database, lang: str, messages: list[str]
) -> None:
    await sign_in(web, synced, "muenchen", ["admin"])
    bad = {
        **PROGRAMME,
        "name": "",
        "slug": "Nicht Gültig",
        "duration_weeks": "0",
        "expected_hours": "900",
        "description": "Was ich tippte",
    }
    response = await submit(web, "/admin/programmes", bad, lang=lang)
    assert response.status_code == 422
    for message in messages:
        assert message in response.text, message
    for field in ("name", "slug", "duration_weeks", "expected_hours"):
        assert f'id="programme-{field}-error"' in response.text
    assert 'aria-invalid="true"' in response.text and 'class="error-summary"' in response.text
    assert "Was ich tippte" in response.text and 'value="Nicht Gültig"' in response.text
    assert 'value="900"' in response.text
    assert await programmes(synced) == [] and await audit_actions(synced) == []


@pytest.mark.parametrize(
    ("change", "field", "english", "german"),
    [
        ({"applications_close_on": -20}, "applications_close_on", "on or after the day they open",
         "frühestens am Tag"),
        ({"applications_close_on": 30}, "applications_close_on", "no later than the day mentoring",
         "spätestens am Tag"),
        ({"ends_on": 20}, "ends_on", "on or after the day it starts", "frühestens am Tag"),
        ({"starts_on": "2027-02-30"}, "starts_on", "Enter a date such as", "Datum"),
        ({"ends_on": "2101-01-01"}, "ends_on", "between 2000 and 2100", "zwischen 2000 und 2100"),
        ({"applications_open_on": ""}, "applications_open_on", "Fill in this field", "Füllen Sie"),
    ],
)  # fmt: skip
async def test_cohort_dates_are_checked_on_the_page_and_in_the_api(
    web: Client, synced: Database, change: dict[str, Any], field: str, english: str, german: str
) -> None:
    programme = await add_programme(synced)
    await sign_in(web, synced, "muenchen", ["admin"])
    base = window()
    opens = date.fromisoformat(base["applications_open_on"])
    dates = {
        k: (opens + timedelta(days=v)).isoformat() if isinstance(v, int) else v
        for k, v in change.items()
    }
    for lang, message in (("en", english), ("de", german)):
        response = await submit(
            web,
            f"/admin/programmes/{programme.id}/cohorts",
            {"name": "Herbst", **base, **dates},
            lang=lang,
        )
        assert response.status_code == 422
        assert f'id="cohort-{field}-error"' in response.text and message in response.text
        assert 'value="Herbst"' in response.text
    body: dict[str, Any] = {"name": "Herbst", **base, **dates}
    if body[field] == "":
        del body[field]
    response = await api(web, "POST", "/api/v1/programmes/mentoring/cohorts", body, lang="de")
    assert response.status_code == 422
    assert field in field_errors(response)
    assert await cohorts(synced) == []


async def test_duplicate_slugs_are_a_field_error_not_a_crash(web: Client, synced: Database) -> None:
    first = await add_programme(synced)
    await add_cohort(synced, first)
    other = await add_programme(synced, name="Zweites", slug="zweites")
    await add_programme(synced, "augsburg")  # another tenant may use the same slugs
    await sign_in(web, synced, "muenchen", ["admin"])
    response = await submit(web, "/admin/programmes", {**PROGRAMME, "slug": "mentoring"})
    assert response.status_code == 422
    assert "Another programme here already has this short name." in response.text
    # A cohort slug is unique across the tenant's programmes.
    response = await submit(
        web,
        f"/admin/programmes/{other.id}/cohorts",
        {"name": "X", "slug": "fruehjahr", **window()},
        lang="de",
    )
    assert response.status_code == 422 and "Durchgang" in response.text
    # Made from the name when left empty: the form shows which one is taken.
    response = await submit(
        web, "/admin/programmes", {**PROGRAMME, "name": "Mentoring", "slug": ""}
    )
    assert response.status_code == 422 and 'value="mentoring"' in response.text
    response = await api(
        web, "POST", "/api/v1/programmes", {"name": "Mentoring", "duration_weeks": 4}
    )
    assert response.status_code == 422 and "slug" in field_errors(response)
    assert len(await programmes(synced)) == 2 and len(await cohorts(synced)) == 1


async def test_deleting_is_refused_while_something_depends_on_it(
    web: Client, synced: Database
) -> None:
    programme = await add_programme(synced)
    cohort = await add_cohort(synced, programme)
    await add_application(synced, cohort)
    await sign_in(web, synced, "muenchen", ["admin"])
    base = f"/admin/programmes/{programme.id}"

    unconfirmed = await submit(web, f"{base}/delete", {})
    assert unconfirmed.status_code == 422 and "Tick the box" in unconfirmed.text
    refused = await submit(web, f"{base}/delete", {"confirm": "yes"})
    assert refused.status_code == 409 and "still has cohorts" in refused.text
    refused = await submit(web, f"{base}/cohorts/{cohort.id}/delete", {"confirm": "yes"}, lang="de")
    assert refused.status_code == 409 and "Bewerbungen" in refused.text
    response = await api(web, "DELETE", "/api/v1/programmes/mentoring/cohorts/fruehjahr")
    assert response.status_code == 409 and "applications" in response.json()["detail"]
    assert len(await cohorts(synced)) == 1

    empty = await add_cohort(synced, programme, name="Leer", slug="leer")
    gone = await submit(web, f"{base}/cohorts/{empty.id}/delete", {"confirm": "yes"})
    assert gone.status_code == 303
    assert [c.slug for c in await cohorts(synced)] == ["fruehjahr"]
    assert "cohort_deleted" in await audit_actions(synced)


# --- who may do what ----------------------------------------------------------------------


def _routes(programme: Programme, cohort: Cohort) -> list[tuple[str, str, Any]]:
    """Every programme route: (method, path, JSON body or form data)."""
    p, c = f"/admin/programmes/{programme.id}", f"/cohorts/{cohort.id}"
    a = f"/api/v1/programmes/{programme.slug}"
    cohort_body = {"name": "X", **window()}
    return [
        ("GET", p, None),
        ("POST", p, {"name": "Übernommen", "duration_weeks": "4"}),
        ("POST", f"{p}/delete", {"confirm": "yes"}),
        ("GET", f"{p}/cohorts/new", None),
        ("POST", f"{p}/cohorts", cohort_body),
        ("GET", p + c, None),
        ("POST", p + c, cohort_body),
        ("POST", f"{p}{c}/delete", {"confirm": "yes"}),
        ("GET", f"/programmes/{programme.slug}", None),
        ("GET", a, None),
        ("PATCH", a, {"name": "Übernommen"}),
        ("DELETE", a, None),
        ("GET", f"{a}/cohorts", None),
        ("POST", f"{a}/cohorts", cohort_body),
        ("GET", f"{a}/cohorts/{cohort.slug}", None),
        ("PATCH", f"{a}/cohorts/{cohort.slug}", {"name": "Übernommen"}),
        ("DELETE", f"{a}/cohorts/{cohort.slug}", None),
    ]


async def _call(web: Client, method: str, path: str, data: Any, host: str) -> httpx.Response:
    if path.startswith("/api/"):
        return await api(web, method, path, data, host=host)
    if method == "GET":
        return await page(web, path, host)
    return await submit(web, path, data or {}, host=host)


async def test_another_tenants_programmes_and_cohorts_are_not_found_on_any_route(
    web: Client, synced: Database
) -> None:
    programme = await add_programme(synced)
    cohort = await add_cohort(synced, programme)
    await sign_in(web, synced, "augsburg", ["admin"])
    for method, path, data in _routes(programme, cohort):
        response = await _call(web, method, path, data, AUGSBURG)
        assert response.status_code == 404, (method, path, response.status_code)
    # Augsburg's own list is empty, and nothing of München's changed.
    assert str(programme.id) not in (await page(web, "/admin/programmes", AUGSBURG)).text
    assert (await api(web, "GET", "/api/v1/programmes", host=AUGSBURG)).json() == []
    [stored] = await programmes(synced)
    assert stored.name == "Mentoring" and len(await cohorts(synced)) == 1
    assert await audit_actions(synced, "augsburg") == []


async def test_participants_get_403_for_writes_and_404_for_unpublished_programmes(
    web: Client, synced: Database
) -> None:
    programme = await add_programme(synced, published=False)
    cohort = await add_cohort(synced, programme)
    await sign_in(web, synced, "muenchen", ["mentor", "mentee"])
    for method, path, data in _routes(programme, cohort):
        response = await _call(web, method, path, data, MUENCHEN)
        # Admin pages and writes: 403. Reading an unpublished programme: 404.
        expected = 404 if method == "GET" and not path.startswith("/admin/") else 403
        assert response.status_code == expected, (method, path, response.status_code)
    assert (await page(web, "/admin/programmes")).status_code == 403
    assert (await api(web, "POST", "/api/v1/programmes", {"name": "X"})).status_code == 403
    assert (await api(web, "GET", "/api/v1/programmes")).json() == []
    [stored] = await programmes(synced)
    assert stored.name == "Mentoring" and len(await cohorts(synced)) == 1


async def test_signed_out_visitors_go_to_the_login_page_or_get_401(
    web: Client, synced: Database
) -> None:
    programme = await add_programme(synced)
    cohort = await add_cohort(synced, programme)
    for method, path, data in _routes(programme, cohort):
        response = await _call(web, method, path, data, MUENCHEN)
        if method == "GET" and not path.startswith("/admin/"):
            assert response.status_code == 200, path  # published: public
        elif path.startswith("/api/"):
            assert response.status_code == 401, (method, path)
        else:
            assert response.status_code == 303, (method, path)
            assert response.headers["location"].startswith("/login?next=")
    assert (await programmes(synced))[0].name == "Mentoring"


async def test_the_api_needs_the_csrf_header_for_writes(web: Client, synced: Database) -> None:
    await sign_in(web, synced, "muenchen", ["admin"])
    body = {"name": "Mentoring", "duration_weeks": 16}
    response = await api(web, "POST", "/api/v1/programmes", body, csrf=False)
    assert response.status_code == 403
    assert await programmes(synced) == []


# --- public pages -------------------------------------------------------------------------


async def test_the_public_page_shows_open_and_upcoming_cohorts_with_the_call_to_action(
    web: Client, synced: Database
) -> None:
    programme = await add_programme(
        synced,
        description="Für Menschen mit ausländischem Abschluss.",
        expected_hours=24,
        min_german_level="B1",
        requires_recognition_procedure=True,
    )
    await add_cohort(synced, programme)  # open now
    await add_cohort(synced, programme, name="Herbst", slug="herbst", **window(open_days=30))
    await add_cohort(synced, programme, name="Vorbei", slug="vorbei", **window(open_days=-400))
    hidden = await add_programme(synced, name="Geheim", slug="geheim", published=False)
    await add_cohort(synced, hidden, name="Geheimer Durchgang", slug="geheim-1")

    detail = await page(web, "/programmes/mentoring")
    assert detail.status_code == 200
    text = detail.text
    assert "Für Menschen mit ausländischem Abschluss." in text
    assert "17 weeks (about 4 months)" in text and "About 24 hours in all" in text
    assert "Every two weeks" in text and "German at least at level B1" in text
    assert "recognition procedure" in text
    assert 'href="/programmes/mentoring/cohorts/fruehjahr/apply/mentee"' in text
    assert 'href="/programmes/mentoring/cohorts/fruehjahr/apply/mentor"' in text
    assert "Herbst" in text and "Applications open on" in text
    assert "/cohorts/herbst/apply" not in text and "Vorbei" not in text

    index = await page(web, "/programmes")
    assert "Mentoring" in index.text and "Geheim" not in index.text
    assert (await page(web, "/programmes/geheim")).status_code == 404
    assert (await page(web, "/programmes/unbekannt")).status_code == 404
    home = await page(web, "/")
    assert 'href="/programmes/mentoring/cohorts/fruehjahr/apply/mentee"' in home.text
    assert "Geheimer Durchgang" not in home.text

    await sign_in(web, synced, "muenchen", ["admin"])
    seen = await page(web, "/programmes/geheim")
    assert seen.status_code == 200 and "not published" in seen.text
    assert "Geheim" in (await page(web, "/programmes")).text


async def test_dates_are_written_in_the_visitors_language(web: Client, synced: Database) -> None:
    programme = await add_programme(synced)
    cohort = await add_cohort(synced, programme)
    english = await page(web, "/programmes/mentoring", lang="en")
    german = await page(web, "/programmes/mentoring", lang="de")
    for day in (cohort.applications_open_on, cohort.starts_on, cohort.ends_on):
        assert format_date(day, "long", locale="en") in english.text
        assert format_date(day, "long", locale="de") in german.text
    assert format_date(cohort.starts_on, "long", locale="de") not in english.text
    assert "Als Mentee bewerben" in german.text and "Apply as mentee" in english.text
    assert re.search(r"vom .+ bis ", german.text)


# --- the JSON API -------------------------------------------------------------------------


async def test_the_api_creates_reads_changes_and_deletes_programmes_and_cohorts(
    web: Client, synced: Database
) -> None:
    await sign_in(web, synced, "muenchen", ["admin"])
    body = {
        "name": "Mentoring Augsburg",
        "duration_weeks": 26,
        "description": "Sechs Monate.",
        "cadence": "monthly",
        "min_german_level": "b1",
    }
    created = await api(web, "POST", "/api/v1/programmes", body)
    assert created.status_code == 201, created.text
    assert created.headers["location"] == "/api/v1/programmes/mentoring-augsburg"
    out = created.json()
    assert out["slug"] == "mentoring-augsburg" and out["min_german_level"] == "B1"
    assert out["expected_hours"] is None and out["published"] is True
    assert out["url"] == "/programmes/mentoring-augsburg"

    # PATCH sets only what it sends; the description and cadence stay.
    changed = await api(
        web, "PATCH", "/api/v1/programmes/mentoring-augsburg", {"expected_hours": 30}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["expected_hours"] == 30
    [stored] = await programmes(synced)
    assert stored.description == "Sechs Monate." and stored.cadence is Cadence.MONTHLY
    fixed = await api(web, "PATCH", "/api/v1/programmes/mentoring-augsburg", {"slug": "neu"})
    assert fixed.status_code == 422 and "slug" in field_errors(fixed)

    cohort = await api(
        web,
        "POST",
        "/api/v1/programmes/mentoring-augsburg/cohorts",
        {"name": "2027", "slug": "jahrgang-2027", **window()},
    )
    assert cohort.status_code == 201, cohort.text
    got = cohort.json()
    assert got["status"] == "applications_open" and got["programme"] == "mentoring-augsburg"
    assert got["apply_as_mentee_url"].endswith("/cohorts/jahrgang-2027/apply/mentee")
    later = (date.fromisoformat(got["ends_on"]) + timedelta(days=10)).isoformat()
    patched = await api(
        web, "PATCH", "/api/v1/programmes/mentoring-augsburg/cohorts/jahrgang-2027",
        {"ends_on": later},
    )  # fmt: skip
    assert patched.status_code == 200 and patched.json()["ends_on"] == later
    assert patched.json()["name"] == "2027"
    # Closing applications after mentoring starts breaks a rule on the stored dates.
    late = (date.fromisoformat(got["starts_on"]) + timedelta(days=1)).isoformat()
    broken = await api(
        web, "PATCH", "/api/v1/programmes/mentoring-augsburg/cohorts/jahrgang-2027",
        {"applications_close_on": late}, lang="de",
    )  # fmt: skip
    assert broken.status_code == 422
    assert "spätestens" in field_errors(broken)["applications_close_on"]

    listed = await api(web, "GET", "/api/v1/programmes/mentoring-augsburg/cohorts")
    assert [c["slug"] for c in listed.json()] == ["jahrgang-2027"]
    one = await api(web, "GET", "/api/v1/programmes/mentoring-augsburg/cohorts/jahrgang-2027")
    assert one.json()["ends_on"] == later

    refused = await api(web, "DELETE", "/api/v1/programmes/mentoring-augsburg")
    assert refused.status_code == 409
    gone = await api(web, "DELETE", "/api/v1/programmes/mentoring-augsburg/cohorts/jahrgang-2027")
    assert gone.status_code == 204
    gone = await api(web, "DELETE", "/api/v1/programmes/mentoring-augsburg")
    assert gone.status_code == 204
    assert await programmes(synced) == []
    assert await audit_actions(synced) == [
        "programme_created", "programme_updated", "cohort_created", "cohort_updated",
        "cohort_deleted", "programme_deleted",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "field", "german"),
    [
        ({"name": "X", "duration_weeks": "viele"}, "duration_weeks", "ganze Zahl"),
        (
            {"name": "X", "duration_weeks": 4, "published": "vielleicht"},
            "published",
            "Ja oder Nein",
        ),
        ({"name": "X", "duration_weeks": 4, "cadence": "daily"}, "cadence", "angebotenen"),
        ({"name": "X", "duration_weeks": 4, "colour": "red"}, "colour", "kein solches Feld"),
        ({"duration_weeks": 4}, "name", "Füllen Sie"),
        ({"name": "X", "duration_weeks": 200}, "duration_weeks", "von 1 bis 104"),
        ({"name": "", "duration_weeks": 4}, "name", "Namen"),
        (["not", "an", "object"], "", "JSON-Objekt"),
    ],
)
async def test_the_api_answers_bad_input_with_422_and_field_errors_in_german(
    web: Client, synced: Database, body: Any, field: str, german: str
) -> None:
    await sign_in(web, synced, "muenchen", ["admin"])
    response = await api(web, "POST", "/api/v1/programmes", body, lang="de")
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["status"] == 422 and problem["title"] == "Bitte prüfen Sie Ihre Eingaben"
    errors = field_errors(response)
    assert field in errors and german in errors[field], errors
    assert await programmes(synced) == []


async def test_the_api_is_documented_in_openapi(web: Client, synced: Database) -> None:
    schema = (await web.get("/api/docs/openapi.json", headers={"host": MUENCHEN})).json()
    paths = schema["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/programmes"])
    assert {"get", "patch", "delete"} <= set(paths["/api/v1/programmes/{slug}"])
    assert {"get", "post"} <= set(paths["/api/v1/programmes/{slug}/cohorts"])
    assert {"get", "patch", "delete"} <= set(
        paths["/api/v1/programmes/{slug}/cohorts/{cohort_slug}"]
    )
    components = schema["components"]["schemas"]
    assert {
        "ProgrammeCreate",
        "ProgrammePatch",
        "ProgrammeOut",
        "CohortCreate",
        "CohortOut",
    } <= set(components)
    assert "/admin/programmes" not in paths
    create = paths["/api/v1/programmes"]["post"]
    assert "201" in create["responses"] and "422" in create["responses"]


async def test_loaders_count_applications_for_the_delete_rule(synced: Database) -> None:
    programme = await add_programme(synced)
    cohort = await add_cohort(synced, programme)
    await add_application(synced, cohort)
    async with synced.tenant_session(await tenant(synced)) as session, session.begin():
        assert await services.application_count(session, [cohort.id]) == 1
        with pytest.raises(services.Refused):
            await services.delete_cohort(session, programme, cohort)
    async with synced.tenant_session(await tenant(synced)) as session:
        count = await session.scalar(select(func.count()).select_from(Cohort))
    assert count == 1
