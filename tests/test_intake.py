"""Intake: coordinators list, read, note and decide; applicants are told by e-mail.

On SQLite and PostgreSQL, with decision mails delivered by the app's worker to a real
SMTP server on loopback. The world (tenants, programmes, cohorts, the probe plugin)
comes from tests/test_applications.py.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from core.applications import services
from core.applications.consent import CONSENT_VERSION
from core.applications.models import (
    Application,
    ApplicationKind,
    ApplicationStatus,
    IntakeNote,
    Qualification,
    RecognitionStatus,
)
from core.applications.schemas import ApplicationData
from core.db.base import utcnow
from core.i18n.catalogs import gettext
from core.identity.accounts import roles_of
from core.identity.invitations import Invitation, accept_invitation
from core.identity.sessions import hash_token
from core.pairings.lifecycle import PairingState
from core.pairings.models import Pairing
from core.programmes.models import Programme
from tests import test_applications
from tests.test_applications import (
    AUGSBURG,
    MUENCHEN,
    TORONTO,
    A,
    M,
    T,
    World,
    applications,
    audit_actions,
    enable_probe,
    mail_text,
    mails_to,
    outbox_events,
    shows,
    sign_in,
)
from tests.test_identity_sessions import csrf_token, make_user

world = test_applications.world  # the fixture: tenants, programmes, cohorts, SMTP
INTAKE = f"/admin/cohorts/{M.cohort}/applications"
API = f"/api/v1/cohorts/{M.cohort}/applications"


# --- helpers --------------------------------------------------------------------------------------


async def add_application(
    world: World,
    name: str,
    *,
    slug: str = "muenchen",
    cohort: str = M.cohort,
    kind: ApplicationKind = ApplicationKind.MENTEE,
    locale: str = "de",
    occupation: str = "214",
    german_level: str | None = "B2",
    recognition: RecognitionStatus | None = RecognitionStatus.IN_PROGRESS,
    user_id: uuid.UUID | None = None,
    extra: dict[str, dict[str, Any]] | None = None,
) -> Application:
    """An application as the form would store it (without the confirmation mail)."""
    mentor = kind is ApplicationKind.MENTOR
    data = ApplicationData(
        kind=kind,
        name=name,
        email=f"{name.lower()}@example.org",
        occupation_code=occupation,
        consent_version=CONSENT_VERSION,
        languages=[{"code": "uk", "level": "C2"}],
        availability=["weekday_evening"],
        german_level=None if mentor else german_level,
        qualification=None if mentor else Qualification.MASTER,
        qualification_country=None if mentor else "UA",
        recognition_status=None if mentor else recognition,
        employer="Isar Mobility" if mentor else "",
        position="Lead" if mentor else "",
        capacity=2 if mentor else None,
        extra=extra or {},
    )
    async with world.db.tenant_session(world.tenants[slug]) as session, session.begin():
        found = await services.find_cohort(session, cohort)
        assert found is not None
        return await services.submit_application(
            session,
            programme=found[0],
            cohort=found[1],
            data=data,
            locale=locale,
            user_id=user_id,
            send_confirmation=False,
        )


async def current(world: World, application: Application, slug: str = "muenchen") -> Application:
    async with world.db.tenant_session(world.tenants[slug]) as session:
        row = await session.get(Application, application.id)
        assert row is not None
        return row


async def post_form(
    world: World, path: str, data: dict[str, str], *, lang: str = "en", host: str = MUENCHEN
) -> httpx.Response:
    token = csrf_token(await world.web.get("/", headers={"host": host}))
    headers = {"host": host, "accept-language": lang}
    return await world.web.post(path, headers=headers, data={"_csrf_token": token, **data})


async def api(
    world: World,
    method: str,
    path: str,
    body: Any = None,
    *,
    lang: str = "en",
    host: str = MUENCHEN,
) -> httpx.Response:
    await world.web.get("/", headers={"host": host})
    token = world.web.cookies.get("tandem_csrf") or ""
    headers = {"host": host, "accept-language": lang, "x-csrftoken": token}
    if method == "GET":
        return await world.web.get(path, headers=headers, params=body)
    return await world.web.post(path, headers=headers, json=body)


def version_in(page: httpx.Response) -> str:
    match = re.search(r'name="version" value="(\d+)"', page.text)
    assert match, "the page offers no decision"
    return match.group(1)


async def decision_mails(world: World, address: str) -> list[Any]:
    return [m.message for m in world.smtp.messages() if address in m.recipients]


# --- the list -------------------------------------------------------------------------------------


async def test_coordinators_filter_the_list_and_see_counts_per_status(world: World) -> None:
    olena = await add_application(world, "Olena", german_level="B2")
    await add_application(
        world,
        "Ahmad",
        occupation="251",
        german_level="A2",
        recognition=RecognitionStatus.NOT_STARTED,
    )
    await add_application(
        world, "Priya", occupation="241", german_level="C1", recognition=RecognitionStatus.FULL
    )
    await add_application(world, "Thomas", kind=ApplicationKind.MENTOR, occupation="25")
    await add_application(world, "Elsewhere", slug="augsburg", cohort=A.cohort)
    admin = await sign_in(world, "muenchen", ["admin"])
    async with world.db.tenant_session(world.tenants["muenchen"]) as session, session.begin():
        target = await services.access_intake_target(session, M.cohort, olena.id)
        await services.start_review(session, target, admin, seen_version=None)

    async def names(**params: str) -> list[str]:
        page = await world.web.get(
            INTAKE, params=params, headers={"host": MUENCHEN, "accept-language": "de"}
        )
        assert page.status_code == 200, page.text
        return re.findall(
            r'<a href="/admin/cohorts/[^"]+/applications/[^"]+">([^<]+)</a>', page.text
        )

    assert await names() == ["Olena", "Ahmad", "Priya", "Thomas"]  # oldest first, own tenant
    assert await names(kind="mentor") == ["Thomas"]
    assert await names(status="in_review") == ["Olena"]
    assert await names(occupation="25") == ["Ahmad", "Thomas"]  # the group and its subgroups
    assert await names(occupation="2") == ["Olena", "Ahmad", "Priya", "Thomas"]
    assert await names(german_level="A2") == ["Ahmad"]
    assert await names(recognition="full") == ["Priya"]
    assert await names(q="OLE") == ["Olena"]
    assert await names(q="priya@example") == ["Priya"]
    assert await names(q="%") == []  # a wildcard is just a character
    assert await names(kind="sponsor", german_level="Z9") == ["Olena", "Ahmad", "Priya", "Thomas"]

    page = await world.web.get(INTAKE, headers={"host": MUENCHEN, "accept-language": "de"})
    assert "Alle: 4" in page.text and "Eingereicht: 3" in page.text and "In Prüfung: 1" in page.text
    mentors = await world.web.get(
        INTAKE, params={"kind": "mentor"}, headers={"host": MUENCHEN, "accept-language": "en"}
    )
    assert "All: 1" in mentors.text and "Submitted: 1" in mentors.text
    # Each filter control is labelled.
    for control in re.findall(r'<(?:input|select)[^>]*\bid="(filter-[^"]+)"', page.text):
        assert f'for="{control}"' in page.text
    assert 'id="filter-german"' in page.text and '<th scope="col">Deutsch</th>' in page.text


async def test_only_a_form_that_asks_for_german_offers_the_german_level_filter(
    world: World,
) -> None:
    """Toronto's form does not require German: no filter and no column for it, and a level
    in the URL does not narrow the list unseen. Augsburg works in German: both are there."""
    await add_application(world, "Maria", slug="toronto", cohort=T.cohort, german_level=None)
    await add_application(world, "Wei", slug="toronto", cohort=T.cohort, german_level="A2")
    await sign_in(world, "toronto", ["admin"])
    page = await world.web.get(
        f"/admin/cohorts/{T.cohort}/applications",
        params={"german_level": "B2"},
        headers={"host": TORONTO, "accept-language": "en"},
    )
    assert page.status_code == 200
    assert 'id="filter-german"' not in page.text and 'name="german_level"' not in page.text
    assert ">German level<" not in page.text and '<th scope="col">German</th>' not in page.text
    assert "Maria" in page.text and "Wei" in page.text

    await add_application(world, "Aylin", slug="augsburg", cohort=A.cohort, german_level="B2")
    await sign_in(world, "augsburg", ["admin"])
    languages = (("de", "Deutsch", "Deutschniveau"), ("en", "German", "German level"))
    for lang, german, level in languages:
        headers = {"host": AUGSBURG, "accept-language": lang}
        path = f"/admin/cohorts/{A.cohort}/applications"
        page = await world.web.get(path, headers=headers)
        assert f'<label for="filter-german">{level}</label>' in page.text
        assert f'<th scope="col">{german}</th>' in page.text and "Aylin" in page.text
        page = await world.web.get(path, params={"german_level": "A2"}, headers=headers)
        assert "Aylin" not in page.text, "the filter applies"


# --- one application ------------------------------------------------------------------------------


async def test_the_detail_shows_every_field_and_the_eligibility_check(world: World) -> None:
    async with world.db.tenant_session(world.tenants["muenchen"]) as session, session.begin():
        await session.execute(
            update(Programme)
            .where(Programme.slug == M.programme)
            .values(requires_recognition_procedure=True)
        )
    await enable_probe(world)
    ahmad = await add_application(
        world,
        "Ahmad",
        german_level="A2",
        recognition=RecognitionStatus.NOT_STARTED,
        extra={"probe_fields": {"years_here": 2, "work_permit": True}},
    )
    olena = await add_application(world, "Olena", german_level="B2")
    thomas = await add_application(world, "Thomas", kind=ApplicationKind.MENTOR)
    await sign_in(world, "muenchen", ["admin"])

    page = await world.web.get(
        f"{INTAKE}/{ahmad.id}", headers={"host": MUENCHEN, "accept-language": "de"}
    )
    assert page.status_code == 200
    text = page.text
    assert "Teilnahmevoraussetzungen nicht erfüllt" in text
    assert "Das Deutschniveau A2 liegt unter dem Mindestniveau B1 des Programms." in text
    assert "Anerkennungsverfahren begonnen hat; diese Bewerbung sagt: Noch nicht begonnen" in text
    for shown in ("ahmad@example.org", "Ingenieurwesen (ohne Elektrotechnik)", "Ukrainisch (C2)",
                  "Ukraine", "Master oder gleichwertiger Abschluss", "Werktags, abends",
                  "Jahre im Land", "Arbeitserlaubnis vorhanden", "Ja"):  # fmt: skip
        assert shown in text, shown

    eligible = await world.web.get(
        f"{INTAKE}/{olena.id}", headers={"host": MUENCHEN, "accept-language": "en"}
    )
    assert '<h2 id="eligibility-title">Eligible</h2>' in eligible.text
    assert shows(eligible, "German level B2 meets the programme's minimum of B1.")
    assert "The recognition procedure has been started (In progress)." in eligible.text
    mentor = await world.web.get(
        f"{INTAKE}/{thomas.id}", headers={"host": MUENCHEN, "accept-language": "en"}
    )
    assert shows(mentor, "The programme's eligibility rules apply to mentees only.")
    assert "Isar Mobility" in mentor.text and "2 mentees" in mentor.text

    detail = await api(world, "GET", f"{API}/{ahmad.id}", lang="de")
    assert detail.status_code == 200
    body = detail.json()
    assert body["eligibility"]["eligible"] is False
    assert [c["rule"] for c in body["eligibility"]["checks"]] == [
        "german_level",
        "recognition_procedure",
    ]
    assert body["application"]["extra"] == {"probe_fields": {"years_here": 2, "work_permit": True}}
    assert body["application"]["occupation_title"] == "Ingenieurwesen (ohne Elektrotechnik)"


async def test_intake_notes_are_for_coordinators_only(world: World) -> None:
    olena = await add_application(world, "Olena")
    await sign_in(world, "muenchen", ["admin"])
    empty = await post_form(world, f"{INTAKE}/{olena.id}/notes", {"body": "  "}, lang="de")
    assert empty.status_code == 422
    assert 'id="note-body-error"' in empty.text and "Schreiben Sie zuerst die Notiz." in empty.text
    added = await post_form(
        world, f"{INTAKE}/{olena.id}/notes", {"body": "Erstgespräch am 3.3.: sehr motiviert."}
    )
    assert added.status_code == 303
    page = await world.web.get(added.headers["location"], headers={"host": MUENCHEN})
    assert "Erstgespräch am 3.3.: sehr motiviert." in page.text
    noted = await api(world, "POST", f"{API}/{olena.id}/notes", {"body": "Called back."})
    assert noted.status_code == 201 and noted.json()["body"] == "Called back."
    assert (await api(world, "POST", f"{API}/{olena.id}/notes", {"body": ""})).status_code == 422
    assert "intake_note_added" in await audit_actions(world.db, world.tenants["muenchen"])

    # The applicant, signed in, sees their application but never the notes.
    await sign_in(world, "muenchen", ["mentee"])
    async with world.db.tenant_session(world.tenants["muenchen"]) as session, session.begin():
        await session.execute(
            update(Application)
            .where(Application.id == olena.id)
            .values(user_id=(await make_user(world.db, "Olena")).id)
        )
    assert (
        await world.web.get(f"{INTAKE}/{olena.id}", headers={"host": MUENCHEN})
    ).status_code == 403
    refused = await post_form(world, f"{INTAKE}/{olena.id}/notes", {"body": "sneaky"})
    assert refused.status_code == 403
    async with world.db.tenant_session(world.tenants["muenchen"]) as session:
        bodies = [n.body for n in await session.scalars(select(IntakeNote))]
    assert "sneaky" not in bodies and len(bodies) == 2


# --- decisions and their mails --------------------------------------------------------------------


async def test_review_then_reject_with_a_reason_in_the_applicants_language(world: World) -> None:
    ahmad = await add_application(world, "Ahmad", locale="en", german_level="A2")
    await sign_in(world, "muenchen", ["admin"])
    page = await world.web.get(f"{INTAKE}/{ahmad.id}", headers={"host": MUENCHEN})
    reviewed = await post_form(world, f"{INTAKE}/{ahmad.id}/review", {"version": version_in(page)})
    assert reviewed.status_code == 303
    assert (await current(world, ahmad)).status is ApplicationStatus.IN_REVIEW
    assert len(await outbox_events(world.db, "application.in_review")) == 1

    page = await world.web.get(f"{INTAKE}/{ahmad.id}", headers={"host": MUENCHEN})
    for lang in ("de", "en"):
        refused = await post_form(
            world,
            f"{INTAKE}/{ahmad.id}/decision",
            {"decision": "rejected", "reason": " ", "version": version_in(page)},
            lang=lang,
        )
        assert refused.status_code == 422
        assert 'id="decision-reason-error"' in refused.text
        assert shows(refused, gettext(lang, "Give a reason: the applicant is told it."))
    no_choice = await post_form(
        world, f"{INTAKE}/{ahmad.id}/decision", {"reason": "x", "version": version_in(page)}
    )
    assert no_choice.status_code == 422 and 'id="decision-error"' in no_choice.text
    assert (await current(world, ahmad)).status is ApplicationStatus.IN_REVIEW

    reason = "The programme needs German at level B1; please apply again after your course."
    decided = await post_form(
        world,
        f"{INTAKE}/{ahmad.id}/decision",
        {"decision": "rejected", "reason": reason, "version": version_in(page)},
        lang="de",  # the coordinator's page language does not matter for the mail
    )
    assert decided.status_code == 303, decided.text
    row = await current(world, ahmad)
    assert row.status is ApplicationStatus.REJECTED and row.decision_reason == reason
    assert row.decided_at is not None and row.decided_by_user_id is not None
    [mail] = await mails_to(world.smtp, "ahmad@example.org")
    assert mail["Subject"] == "Your application for Mentoring mentoring"
    assert mail["Content-Language"] == "en"
    assert reason in mail_text(mail) and "Unfortunately" in mail_text(mail)
    actions = await audit_actions(world.db, world.tenants["muenchen"])
    assert "application_in_review" in actions and "application_rejected" in actions
    [event] = await outbox_events(world.db, "application.rejected")
    assert event.kwargs["payload"]["application_id"] == str(ahmad.id)
    assert "reason" not in event.kwargs["payload"]  # events carry no personal data
    # A final state offers no further decision.
    final = await world.web.get(
        f"{INTAKE}/{ahmad.id}", headers={"host": MUENCHEN, "accept-language": "en"}
    )
    assert 'name="decision"' not in final.text and "Reason: " in final.text


async def test_accepting_invites_the_applicant_who_then_owns_the_application(
    world: World,
) -> None:
    olena = await add_application(world, "Olena", locale="de")
    await sign_in(world, "muenchen", ["admin"])
    page = await world.web.get(f"{INTAKE}/{olena.id}", headers={"host": MUENCHEN})
    decided = await post_form(
        world,
        f"{INTAKE}/{olena.id}/decision",
        {"decision": "accepted", "reason": "", "version": version_in(page)},
    )
    assert decided.status_code == 303
    notice = await world.web.get(
        decided.headers["location"], headers={"host": MUENCHEN, "accept-language": "en"}
    )
    assert "The decision has been saved" in notice.text

    row = await current(world, olena)
    assert row.status is ApplicationStatus.ACCEPTED and row.invitation_id is not None
    [mail] = await mails_to(world.smtp, "olena@example.org")
    assert mail["Subject"] == "Ihre Bewerbung für Mentoring mentoring wurde angenommen"
    text = mail_text(mail)
    assert "Sie haben einen Platz als Mentee" in text
    match = re.search(r"http://muenchen\.localhost:8000/invite/([A-Za-z0-9_-]{43})\b", text)
    assert match, text
    token = match.group(1)
    async with world.db.tenant_session(world.tenants["muenchen"]) as session:
        invitation = await session.get(Invitation, row.invitation_id)
        assert invitation is not None
        assert invitation.roles == ["mentee"] and invitation.email == "olena@example.org"
    world.web.cookies.clear()
    opened = await world.web.get(f"/invite/{token}", headers={"host": MUENCHEN})
    assert opened.status_code == 200  # the hand-off into sign-in

    # Signing in through the invitation (the login callback calls this) links the account.
    newcomer = await make_user(world.db, "OlenaK")
    async with world.db.tenant_session(world.tenants["muenchen"]) as session, session.begin():
        roles = await accept_invitation(session, hash_token(token), newcomer.id)
    assert roles == ["mentee"]
    row = await current(world, olena)
    assert row.user_id == newcomer.id
    async with world.db.tenant_session(world.tenants["muenchen"]) as session:
        assert await roles_of(session, newcomer.id) == {"mentee"}
    mine = await sign_in_as(world, newcomer.id)
    assert "Angenommen" in mine.text or "Accepted" in mine.text


async def sign_in_as(world: World, user_id: uuid.UUID) -> httpx.Response:
    from core.identity.sessions import start_session
    from tests.test_identity_sessions import login

    login(world.web, await start_session(world.db, world.tenants["muenchen"], user_id))
    return await world.web.get("/account/applications", headers={"host": MUENCHEN})


async def test_accepting_someone_who_applied_signed_in_grants_the_role_at_once(
    world: World,
) -> None:
    person = await make_user(world.db, "Former")
    former = await add_application(
        world, "Former", kind=ApplicationKind.MENTOR, locale="en", user_id=person.id
    )
    await sign_in(world, "muenchen", ["admin"])
    decided = await api(
        world, "POST", f"{API}/{former.id}/decision", {"decision": "accepted", "version": 1}
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "accepted"
    async with world.db.tenant_session(world.tenants["muenchen"]) as session:
        assert await roles_of(session, person.id) == {"mentor"}
        assert (await session.scalars(select(Invitation))).all() == []
    [mail] = await mails_to(world.smtp, "former@example.org")
    assert "http://muenchen.localhost:8000/login" in mail_text(mail)
    assert "glad to have you as a mentor" in mail_text(mail)
    await _the_audit_page_names_application_actions(world)


async def test_a_waitlisted_applicant_is_told_and_can_still_be_accepted(world: World) -> None:
    thomas = await add_application(world, "Thomas", kind=ApplicationKind.MENTOR, locale="en")
    await sign_in(world, "muenchen", ["admin"])
    waitlisted = await api(
        world, "POST", f"{API}/{thomas.id}/decision", {"decision": "waitlisted", "version": 1}
    )
    assert waitlisted.status_code == 200 and waitlisted.json()["version"] == 2
    [mail] = await mails_to(world.smtp, "thomas@example.org")
    assert mail["Subject"] == "Your application for Mentoring mentoring: waiting list"
    accepted = await api(
        world, "POST", f"{API}/{thomas.id}/decision", {"decision": "accepted", "version": 2}
    )
    assert accepted.status_code == 200
    mails = await mails_to(world.smtp, "thomas@example.org", count=2)
    assert "has been accepted" in mails[1]["Subject"]
    assert len(await outbox_events(world.db, "application.waitlisted")) == 1
    assert len(await outbox_events(world.db, "application.accepted")) == 1


# --- two coordinators at once ---------------------------------------------------------------------


async def test_the_second_of_two_concurrent_decisions_gets_a_conflict_page(world: World) -> None:
    olena = await add_application(world, "Olena", locale="de")
    await sign_in(world, "muenchen", ["admin"], name="Sabine")
    seen_by_sabine = version_in(
        await world.web.get(f"{INTAKE}/{olena.id}", headers={"host": MUENCHEN})
    )
    await sign_in(world, "muenchen", ["admin"], name="Jonas")
    seen_by_jonas = version_in(
        await world.web.get(f"{INTAKE}/{olena.id}", headers={"host": MUENCHEN})
    )

    first = await post_form(
        world,
        f"{INTAKE}/{olena.id}/decision",
        {"decision": "accepted", "reason": "", "version": seen_by_jonas},
    )
    assert first.status_code == 303
    await sign_in(world, "muenchen", ["admin"], name="Sabine")
    reason = "Deutsch noch zu schwach für diesen Durchgang."
    second = await post_form(
        world,
        f"{INTAKE}/{olena.id}/decision",
        {"decision": "rejected", "reason": reason, "version": seen_by_sabine},
        lang="de",
    )
    assert second.status_code == 409
    text = second.text
    assert "Jemand anderes hat diese Bewerbung inzwischen geändert" in text
    assert "Angenommen" in text  # the current state
    assert reason in text  # nothing Sabine wrote is lost
    row = await current(world, olena)
    assert row.status is ApplicationStatus.ACCEPTED and row.decision_reason == ""
    await mails_to(world.smtp, "olena@example.org")
    assert len(await decision_mails(world, "olena@example.org")) == 1
    assert len(await outbox_events(world.db, "application.rejected")) == 0

    # The API says the same, with the current state.
    stale = await api(
        world,
        "POST",
        f"{API}/{olena.id}/decision",
        {"decision": "rejected", "reason": reason, "version": int(seen_by_sabine)},
    )
    assert stale.status_code == 409
    assert stale.json()["current"]["status"] == "accepted"
    assert stale.json()["current"]["version"] == row.version
    await _a_withdrawn_application_cannot_be_decided(world)


async def test_a_race_the_version_check_cannot_see_is_caught_by_the_row_version(
    world: World,
) -> None:
    olena = await add_application(world, "Olena")
    tenant = world.tenants["muenchen"]
    # Both coordinators read version 1; the first commits, the second then writes.
    async with world.db.tenant_session(tenant) as first, world.db.tenant_session(tenant) as second:
        mine = await services.access_intake_target(first, M.cohort, olena.id)
        theirs = await services.access_intake_target(second, M.cohort, olena.id)
        await first.commit()
        await second.commit()  # both have read; no transaction holds a lock now
        base = "http://muenchen.localhost:8000"
        async with first.begin():
            await services.decide(
                first, mine, ApplicationStatus.ACCEPTED, "", None, seen_version=1, base_url=base
            )
        with pytest.raises(services.StaleApplicationError):
            async with second.begin():
                await services.decide(
                    second, theirs, ApplicationStatus.REJECTED, "No.", None,
                    seen_version=1, base_url=base,
                )  # fmt: skip
    row = await current(world, olena)
    assert row.status is ApplicationStatus.ACCEPTED and row.version == 2
    assert len(await outbox_events(world.db, "application.rejected")) == 0


async def _a_withdrawn_application_cannot_be_decided(world: World) -> None:
    olena = await add_application(world, "Olena2")
    async with world.db.tenant_session(world.tenants["muenchen"]) as session, session.begin():
        await session.execute(
            update(Application)
            .where(Application.id == olena.id)
            .values(status=ApplicationStatus.WITHDRAWN)
        )
    await sign_in(world, "muenchen", ["admin"])
    refused = await post_form(
        world, f"{INTAKE}/{olena.id}/decision", {"decision": "accepted", "version": "1"}
    )
    assert refused.status_code == 409
    assert (await current(world, olena)).status is ApplicationStatus.WITHDRAWN
    review = await api(world, "POST", f"{API}/{olena.id}/review", {"version": 1})
    assert review.status_code == 409


# --- who may see intake ---------------------------------------------------------------------------


def intake_routes(application_id: uuid.UUID, cohort: str = M.cohort) -> list[tuple[str, str, Any]]:
    page = f"/admin/cohorts/{cohort}/applications"
    api_path = f"/api/v1/cohorts/{cohort}/applications"
    accept = {"decision": "accepted", "version": 1}
    return [
        ("GET", page, None),
        ("GET", f"{page}/{application_id}", None),
        ("POST", f"{page}/{application_id}/notes", {"body": "x"}),
        ("POST", f"{page}/{application_id}/review", {"version": "1"}),
        ("POST", f"{page}/{application_id}/decision", {"decision": "accepted", "version": "1"}),
        ("API-GET", api_path, None),
        ("API-GET", f"{api_path}/{application_id}", None),
        ("API-POST", f"{api_path}/{application_id}/notes", {"body": "x"}),
        ("API-POST", f"{api_path}/{application_id}/review", {"version": 1}),
        ("API-POST", f"{api_path}/{application_id}/decision", accept),
    ]  # fmt: skip


async def call(world: World, method: str, path: str, body: Any, host: str) -> httpx.Response:
    if method == "GET":
        return await world.web.get(path, headers={"host": host})
    if method == "POST":
        return await post_form(world, path, body, host=host)
    return await api(world, method.removeprefix("API-"), path, body, host=host)


async def test_mentees_and_mentors_get_403_on_every_intake_route(world: World) -> None:
    olena = await add_application(world, "Olena")
    for role in ("mentee", "mentor"):
        await sign_in(world, "muenchen", [role])
        for method, path, body in intake_routes(olena.id):
            response = await call(world, method, path, body, MUENCHEN)
            assert response.status_code == 403, (role, method, path)
    world.web.cookies.clear()
    for method, path, body in intake_routes(olena.id):
        if method == "GET":
            response = await call(world, method, path, body, MUENCHEN)
            assert response.status_code == 303 and "/login" in response.headers["location"]
        elif method.startswith("API"):
            response = await call(world, method, path, body, MUENCHEN)
            assert response.status_code == 401, (method, path)
    row = await current(world, olena)
    assert row.status is ApplicationStatus.SUBMITTED and row.version == 1


async def test_another_tenants_cohort_and_applications_are_not_found(world: World) -> None:
    olena = await add_application(world, "Olena")
    elsewhere = await add_application(world, "Aylin", slug="augsburg", cohort=A.cohort)
    # Augsburg's coordinator, on Augsburg's host, with München's cohort and application.
    await sign_in(world, "augsburg", ["admin"])
    for method, path, body in intake_routes(olena.id):
        response = await call(world, method, path, body, AUGSBURG)
        assert response.status_code == 404, (method, path)
    # München's coordinator, with Augsburg's application under München's cohort, or
    # Augsburg's cohort.
    await sign_in(world, "muenchen", ["admin"])
    for method, path, body in intake_routes(elsewhere.id)[1:5] + intake_routes(elsewhere.id)[6:]:
        response = await call(world, method, path, body, MUENCHEN)
        assert response.status_code == 404, (method, path)
    for method, path, body in intake_routes(elsewhere.id, A.cohort):
        response = await call(world, method, path, body, MUENCHEN)
        assert response.status_code == 404, (method, path)
    assert (await current(world, olena)).version == 1
    assert (await current(world, elsewhere, "augsburg")).version == 1


# --- the API list and the audit page --------------------------------------------------------------


async def test_the_api_lists_with_filters_and_refuses_unknown_values(world: World) -> None:
    await add_application(world, "Olena", german_level="B2")
    await add_application(world, "Ahmad", occupation="251", german_level="A2")
    await add_application(world, "Thomas", kind=ApplicationKind.MENTOR, occupation="25")
    await sign_in(world, "muenchen", ["admin"])
    listed = await api(world, "GET", API)
    assert listed.status_code == 200
    body = listed.json()
    assert [a["name"] for a in body["applications"]] == ["Olena", "Ahmad", "Thomas"]
    assert body["counts"]["submitted"] == 3 and body["total"] == 3
    filtered = await api(world, "GET", API, {"occupation": "25", "kind": "mentee"})
    assert [a["name"] for a in filtered.json()["applications"]] == ["Ahmad"]
    by_status = await api(world, "GET", API, {"status": "accepted"})
    assert by_status.json()["applications"] == []
    refused = await api(world, "GET", API, {"status": "maybe", "german_level": "Z1"}, lang="de")
    assert refused.status_code == 422
    assert refused.json()["errors"] == {
        "status": "Wählen Sie eine der angebotenen Möglichkeiten.",
        "german_level": "Wählen Sie eine der angebotenen Möglichkeiten.",
    }
    reject = await api(
        world, "POST", f"{API}/{body['applications'][1]['id']}/decision",
        {"decision": "rejected", "version": 1}, lang="de",
    )  # fmt: skip
    assert reject.status_code == 422
    assert reject.json()["errors"] == {
        "reason": gettext("de", "Give a reason: the applicant is told it.")
    }


async def _the_audit_page_names_application_actions(world: World) -> None:
    olena = await add_application(world, "Olena")
    await sign_in(world, "muenchen", ["admin"])
    await api(world, "POST", f"{API}/{olena.id}/decision", {"decision": "accepted", "version": 1})
    page = await world.web.get("/admin/audit", headers={"host": MUENCHEN, "accept-language": "de"})
    assert "Bewerbung eingereicht" in page.text and "Bewerbung angenommen" in page.text
    assert set(await audit_actions(world.db, world.tenants["muenchen"])) >= {
        "application_submitted",
        "application_accepted",
        "invitation_sent",
    }
    assert await applications(world.db, world.tenants["augsburg"]) == []


# --- an accepted applicant in a tandem ------------------------------------------------------------


async def test_an_applicant_in_an_open_tandem_cannot_withdraw_the_application(
    world: World,
) -> None:
    olena_id = await sign_in(world, "muenchen", ["mentee"], name="Olena")
    olena = await add_application(world, "Olena", user_id=olena_id)
    thomas = await add_application(world, "Thomas", kind=ApplicationKind.MENTOR)
    tenant = world.tenants["muenchen"]
    async with world.db.tenant_session(tenant) as session, session.begin():
        await session.execute(
            update(Application)
            .where(Application.id.in_([olena.id, thomas.id]))
            .values(status=ApplicationStatus.ACCEPTED)
        )
        found = await services.find_cohort(session, M.cohort)
        assert found is not None
        pairing = Pairing(
            cohort_id=found[1].id,
            mentee_application_id=olena.id,
            mentor_application_id=thomas.id,
            state=PairingState.ACTIVE,
            activated_at=utcnow(),
        )
        session.add(pairing)
    withdraw = f"/account/applications/{olena.id}/withdraw"
    texts = {
        lang: (
            gettext(lang, services.IN_TANDEM),
            gettext(
                lang,
                "You are in a tandem: to leave the programme, please talk to your "
                "coordinator or end the tandem first.",
            ),
        )
        for lang in ("de", "en")
    }
    assert texts["de"][0].startswith("Über diese Bewerbung sind Sie in einem Tandem")
    for lang, (refusal, hint) in texts.items():
        page = await world.web.get(
            "/account/applications", headers={"host": MUENCHEN, "accept-language": lang}
        )
        assert f'action="{withdraw}"' not in page.text, "no button while in a tandem"
        assert shows(page, hint)
        response = await post_form(world, withdraw, {}, lang=lang)
        assert response.headers["location"] == "/account/applications?done=in_tandem"
        notice = await world.web.get(
            response.headers["location"], headers={"host": MUENCHEN, "accept-language": lang}
        )
        assert shows(notice, refusal)
        refused = await api(
            world, "POST", f"/api/v1/me/applications/{olena.id}/withdraw", lang=lang
        )
        assert refused.status_code == 409 and refused.json()["detail"] == refusal
    listed = await api(world, "GET", "/api/v1/me/applications")
    assert [one["can_withdraw"] for one in listed.json()] == [False]
    assert (await current(world, olena)).status is ApplicationStatus.ACCEPTED
    assert "application_withdrawn" not in await audit_actions(world.db, tenant)

    # The mentor's side is held the same way; another tenant does not see either.
    async with world.db.tenant_session(tenant) as session, session.begin():
        await session.execute(
            update(Application).where(Application.id == thomas.id).values(user_id=olena_id)
        )
        own = await services.access_own_application_by_id(session, olena_id, thomas.id)
        assert own.in_tandem and not own.can_withdraw
        with pytest.raises(services.InTandemError):
            await services.withdraw(session, own, olena_id)
    async with world.db.tenant_session(world.tenants["augsburg"]) as session:
        assert await services.in_open_tandems(session, [olena.id, thomas.id]) == set()
        assert await services.own_application(session, olena_id, olena.id) is None

    # Once the tandem has ended, the application can be withdrawn.
    async with world.db.tenant_session(tenant) as session, session.begin():
        await session.execute(
            update(Pairing)
            .where(Pairing.id == pairing.id)
            .values(state=PairingState.COMPLETED, ended_at=utcnow())
        )
    page = await world.web.get("/account/applications", headers={"host": MUENCHEN})
    assert f'action="{withdraw}"' in page.text
    done = await post_form(world, withdraw, {})
    assert done.headers["location"] == "/account/applications?done=withdrawn"
    assert (await current(world, olena)).status is ApplicationStatus.WITHDRAWN
