"""Check-ins, reminders and tandems at risk, on SQLite and PostgreSQL.

Time is always a parameter: the pure rules take dates, the daily run
(:func:`run_daily_checks`) takes "now", and the one test that runs the real periodic job
through the outbox builds its tandem relative to the current time. Nothing sleeps.

The end-to-end test sends the reminders through the outbox, a dramatiq worker and a
real SMTP server on loopback (aiosmtpd, from tests/test_mail.py) and reads them there,
each in its recipient's language.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from core.applications.models import Application, ApplicationKind, ApplicationStatus
from core.db.base import utcnow
from core.db.sessions import Database
from core.identity.models import AuditEntry, User
from core.identity.sessions import start_session
from core.jobs.models import OutboxMessage
from core.jobs.schedule import load_core_tasks, run_task
from core.pairings.at_risk import (
    AT_RISK_AFTER,
    at_risk_from,
    is_at_risk,
    quiet_since,
)
from core.pairings.checkin_schedule import (
    Due,
    add_months,
    applies,
    fallen_due,
    planned_end,
    reminder_due,
    schedule,
)
from core.pairings.checkin_schemas import check_answers
from core.pairings.checkin_tasks import TASK_NAME, run_daily_checks, site_url
from core.pairings.checkins import (
    _insert_ignoring_conflicts,
    create_due_checkins,
    outcomes,
    upcoming_checkins,
)
from core.pairings.lifecycle import PairingState
from core.pairings.models import (
    CheckIn,
    CheckInKind,
    EmploymentOutcome,
    Meeting,
    MeetingFormat,
    Pairing,
    Respondent,
)
from core.pluginhost.manager import PluginHost
from core.programmes.models import Cohort, Programme
from core.programmes.schemas import InvalidInput
from core.settings import Settings
from core.tenancy.snapshot import load_snapshot
from tests.conftest import make_app
from tests.test_identity_cleanup import run_jobs
from tests.test_identity_sessions import csrf_token, grant, login, make_user
from tests.test_jobs_outbox import tenants_without_jobs
from tests.test_mail import (  # noqa: F401 - fixtures
    SmtpServer,
    mail_settings,
    parts,
    smtp_server,
)

Client = AsyncTestClient[Litestar]
MUENCHEN = "muenchen.localhost:8000"
AUGSBURG = "augsburg.localhost:8000"
BASE = "http://muenchen.localhost:8000"
D0 = date(2027, 3, 1)  # activation in the tests with fixed dates
SATISFIED = "4 \N{EN DASH} satisfied"
FOLLOW_UP_KINDS = (CheckInKind.FOLLOWUP_3M, CheckInKind.FOLLOWUP_6M)
MILESTONE_ANSWERS = {"satisfaction": "4", "meeting_frequency": "fortnightly", "comment": "Gut."}


def at(day: date, hour: int = 6) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


# --- the schedule, pure ---------------------------------------------------------------------


def by_key(dues: list[Due]) -> dict[tuple[str, str], date]:
    return {(due.kind.value, due.respondent.value): due.due_on for due in dues}


def test_due_dates_count_from_activation_and_stop_at_the_planned_end() -> None:
    # 16 weeks after 1 March is 21 June, before the cohort's end on 30 June.
    dues = by_key(schedule(D0, cohort_ends_on=date(2027, 6, 30), duration_weeks=16))
    assert dues == {
        ("start", "mentee"): date(2027, 3, 15),
        ("start", "mentor"): date(2027, 3, 15),
        ("midpoint", "mentee"): date(2027, 4, 26),
        ("midpoint", "mentor"): date(2027, 4, 26),
        ("end", "mentee"): date(2027, 6, 21),
        ("end", "mentor"): date(2027, 6, 21),
    }
    # Completed: the end is the completion day; follow-ups for the mentee only.
    done = by_key(
        schedule(
            D0, cohort_ends_on=date(2027, 6, 30), duration_weeks=16, completed_on=date(2027, 6, 20)
        )
    )
    assert done[("end", "mentee")] == done[("end", "mentor")] == date(2027, 6, 20)
    assert done[("followup_3m", "mentee")] == date(2027, 9, 20)
    assert done[("followup_6m", "mentee")] == date(2027, 12, 20)
    assert ("followup_3m", "mentor") not in done and ("followup_6m", "mentor") not in done


def test_the_planned_end_is_cut_by_the_cohort_and_short_programmes_keep_the_order() -> None:
    # Activated late: the cohort's closing day comes before 16 weeks are over.
    assert planned_end(date(2027, 5, 1), date(2027, 6, 30), 16) == date(2027, 6, 30)
    # The cohort's window is already over: the programme's duration alone counts.
    assert planned_end(date(2027, 7, 1), date(2027, 6, 30), 4) == date(2027, 7, 29)
    short = by_key(schedule(D0, cohort_ends_on=date(2027, 12, 31), duration_weeks=1))
    assert short[("start", "mentee")] == short[("midpoint", "mentee")] == date(2027, 3, 8)
    assert short[("end", "mentee")] == date(2027, 3, 8)
    # Calendar months, clamped at the month's end.
    assert add_months(date(2027, 8, 31), 6) == date(2028, 2, 29)
    assert add_months(date(2027, 11, 30), 3) == date(2028, 2, 29)
    assert add_months(date(2027, 1, 15), 12) == date(2028, 1, 15)


def test_what_falls_due_depends_on_the_state() -> None:
    dues = schedule(
        D0, cohort_ends_on=date(2027, 6, 30), duration_weeks=16, completed_on=date(2027, 6, 20)
    )
    late = date(2028, 1, 1)
    kinds = {
        state: sorted({d.kind.value for d in fallen_due(dues, state, late)})
        for state in PairingState
    }
    assert kinds[PairingState.ACTIVE] == ["end", "midpoint", "start"]
    assert kinds[PairingState.COMPLETED] == ["end", "followup_3m", "followup_6m"]
    for state in (PairingState.PAUSED, PairingState.DISSOLVED, PairingState.PROPOSED):
        assert kinds[state] == []
    # Not before the day.
    assert fallen_due(dues, PairingState.ACTIVE, date(2027, 3, 14)) == []
    assert len(fallen_due(dues, PairingState.ACTIVE, date(2027, 3, 15))) == 2
    assert not applies(CheckInKind.START, PairingState.DISSOLVED)


def test_at_most_two_reminders_a_week_apart() -> None:
    due = date(2027, 3, 15)

    def due_on(today: date, sent: int, last: date | None, completed: bool = False) -> bool:
        return reminder_due(
            due_on=due,
            reminders_sent=sent,
            reminded_at=at(last) if last else None,
            completed=completed,
            today=today,
        )

    assert not due_on(date(2027, 3, 14), 0, None)
    assert due_on(due, 0, None)
    assert due_on(date(2027, 4, 1), 0, None), "a late first run still reminds"
    assert not due_on(date(2027, 3, 21), 1, due)
    assert due_on(date(2027, 3, 22), 1, due)
    assert not due_on(date(2028, 1, 1), 2, date(2027, 3, 22)), "never a third"
    assert not due_on(due, 0, None, completed=True)


def test_at_risk_after_exactly_four_weeks_without_a_meeting() -> None:
    active = PairingState.ACTIVE
    met = date(2027, 4, 1)
    assert timedelta(days=28) == AT_RISK_AFTER
    assert not is_at_risk(active, D0, met, met + timedelta(days=27))
    assert is_at_risk(active, D0, met, met + timedelta(days=28))
    # No meeting yet: counted from activation.
    assert not is_at_risk(active, D0, None, D0 + timedelta(days=27))
    assert is_at_risk(active, D0, None, D0 + timedelta(days=28))
    # A meeting before activation (while proposed) does not make it at risk earlier.
    assert quiet_since(D0, date(2027, 2, 1)) == D0
    assert at_risk_from(D0, date(2027, 2, 1)) == D0 + timedelta(days=28)
    # Paused and other states are never at risk; nor a tandem never activated.
    for state in set(PairingState) - {active}:
        assert not is_at_risk(state, D0, None, D0 + timedelta(days=400))
    assert not is_at_risk(active, None, None, D0 + timedelta(days=400))


# --- what a check-in accepts, pure ----------------------------------------------------------


def test_answers_are_checked_per_kind_with_messages_in_german_and_english() -> None:
    checked = check_answers(CheckInKind.START, MILESTONE_ANSWERS)
    assert checked.answers == {
        "satisfaction": 4,
        "meeting_frequency": "fortnightly",
        "comment": "Gut.",
    }
    assert checked.employment_outcome is None
    follow_up = check_answers(
        CheckInKind.FOLLOWUP_6M,
        {"employment_outcome": "employed_related_field", "job_title": " Pflegefachkraft "},
    )
    assert follow_up.employment_outcome is EmploymentOutcome.EMPLOYED_RELATED_FIELD
    assert follow_up.answers == {"job_title": "Pflegefachkraft", "comment": ""}

    with pytest.raises(InvalidInput) as bad:
        check_answers(
            CheckInKind.MIDPOINT,
            {
                "satisfaction": "7",
                "meeting_frequency": "daily",
                "comment": "x" * 2001,
                "employment_outcome": "searching",
            },
        )
    english = bad.value.messages("en")
    assert english == {
        "satisfaction": "Choose how satisfied you are, from 1 to 5.",
        "meeting_frequency": "Choose one of the options offered.",
        "comment": "Use at most 2000 characters.",
        "employment_outcome": "This check-in does not ask this question.",
    }
    german = bad.value.messages("de")
    assert german["satisfaction"] == "Wählen Sie aus, wie zufrieden Sie sind, von 1 bis 5."
    assert german["employment_outcome"] == "Diese Frage gehört nicht zu diesem Check-in."
    with pytest.raises(InvalidInput) as missing:
        check_answers(CheckInKind.FOLLOWUP_3M, {"satisfaction": None, "surprise": 1})
    assert missing.value.messages("de") == {
        "employment_outcome": "Wählen Sie aus, was Sie zurzeit tun.",
        "surprise": "Es gibt kein solches Feld.",
    }
    for junk in (True, 4.5, "4.5", " ", None):
        with pytest.raises(InvalidInput):
            check_answers(CheckInKind.END, {**MILESTONE_ANSWERS, "satisfaction": junk})


# --- tandems in the database -----------------------------------------------------------------


@dataclass(frozen=True)
class Who:
    """Who asks, as the services see a signed-in person."""

    id: uuid.UUID
    roles: frozenset[str] = frozenset()


@dataclass
class Tandem:
    tenant_id: uuid.UUID
    pairing_id: uuid.UUID
    cohort: Cohort
    mentee: User
    mentor: User
    mentee_application_id: uuid.UUID


async def cohort_of(db: Database, tenant_id: uuid.UUID, slug: str = "fruehjahr") -> Cohort:
    """The tenant's test cohort (made once): 16 weeks, mentoring March to June 2027."""
    async with db.tenant_session(tenant_id) as session, session.begin():
        cohort = await session.scalar(select(Cohort).where(Cohort.slug == slug))
        if cohort is not None:
            return cohort
        programme = Programme(slug="mentoring", name="Mentoring", duration_weeks=16)
        session.add(programme)
        await session.flush()
        cohort = Cohort(
            programme_id=programme.id,
            slug=slug,
            name="Frühjahr 2027",
            applications_open_on=date(2027, 1, 1),
            applications_close_on=date(2027, 2, 15),
            starts_on=D0,
            ends_on=date(2027, 6, 30),
        )
        session.add(cohort)
        return cohort


async def participant(
    db: Database, tenant_id: uuid.UUID, cohort: Cohort, kind: ApplicationKind, locale: str
) -> tuple[User, uuid.UUID]:
    user = await make_user(db, f"{kind.value.title()}{uuid.uuid4().hex[:6]}")
    await grant(db, tenant_id, user, [kind.value])
    async with db.tenant_session(tenant_id) as session, session.begin():
        application = Application(
            cohort_id=cohort.id,
            kind=kind,
            status=ApplicationStatus.ACCEPTED,
            user_id=user.id,
            name=user.display_name,
            email=user.email or "",
            locale=locale,
            occupation_code="2221",
            consent_version="1",
        )
        session.add(application)
    return user, application.id


async def add_tandem(
    db: Database,
    tenant_id: uuid.UUID,
    *,
    activated: datetime,
    state: PairingState = PairingState.ACTIVE,
    ended: datetime | None = None,
    mentee_locale: str = "de",
    mentor_locale: str = "en",
) -> Tandem:
    """A tandem as a demo-data loader would write it (the lifecycle is tested elsewhere)."""
    cohort = await cohort_of(db, tenant_id)
    mentee, mentee_app = await participant(
        db, tenant_id, cohort, ApplicationKind.MENTEE, mentee_locale
    )
    mentor, mentor_app = await participant(
        db, tenant_id, cohort, ApplicationKind.MENTOR, mentor_locale
    )
    async with db.tenant_session(tenant_id) as session, session.begin():
        pairing = Pairing(
            cohort_id=cohort.id,
            mentee_application_id=mentee_app,
            mentor_application_id=mentor_app,
            state=state,
            proposed_at=activated - timedelta(days=3),
            mentee_accepted_at=activated,
            mentor_accepted_at=activated,
            activated_at=activated,
            ended_at=ended,
            paused_at=activated + timedelta(days=1) if state is PairingState.PAUSED else None,
        )
        session.add(pairing)
    return Tandem(tenant_id, pairing.id, cohort, mentee, mentor, mentee_app)


async def coordinator(db: Database, tenant_id: uuid.UUID, locale: str | None = None) -> User:
    user = await make_user(db, f"Koordination{uuid.uuid4().hex[:6]}")
    async with db.platform_session() as session, session.begin():
        stored = await session.get(User, user.id)
        assert stored is not None
        stored.locale = locale
    await grant(db, tenant_id, user, ["admin"])
    return user


async def daily(db: Database, tenant_id: uuid.UUID, now: datetime) -> tuple[int, int, int, int]:
    async with db.tenant_session(tenant_id) as session, session.begin():
        report = await run_daily_checks(session, now, base_url=BASE)
    return report.created, report.reminded, report.flagged, report.cleared


async def checkins_of(db: Database, tandem: Tandem) -> dict[tuple[str, str], CheckIn]:
    async with db.tenant_session(tandem.tenant_id) as session:
        rows = await session.scalars(select(CheckIn).where(CheckIn.pairing_id == tandem.pairing_id))
        return {(r.kind.value, r.respondent.value): r for r in rows}


async def mails(db: Database, template: str | None = None) -> list[dict[str, Any]]:
    """The kwargs of the mail jobs in the outbox, oldest first."""
    async with db.platform_session() as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.actor_name == "core.send_mail")
            .order_by(OutboxMessage.created_at)
        )
        found = [dict(row.kwargs) for row in rows]
    return [m for m in found if template is None or m["template"] == template]


async def pairing_row(db: Database, tandem: Tandem) -> Pairing:
    async with db.tenant_session(tandem.tenant_id) as session:
        pairing = await session.get(Pairing, tandem.pairing_id)
        assert pairing is not None
        return pairing


@pytest.fixture
async def tenants(synced: Database) -> dict[str, uuid.UUID]:
    return await tenants_without_jobs(synced)


# --- the daily run ---------------------------------------------------------------------------


async def test_a_second_run_the_same_day_creates_and_reminds_nothing(
    db: Database, tenants: dict[str, uuid.UUID]
) -> None:
    tandem = await add_tandem(db, tenants["muenchen"], activated=at(D0, 10))
    start = date(2027, 3, 15)
    assert await daily(db, tandem.tenant_id, at(start - timedelta(days=1))) == (0, 0, 0, 0)
    assert await daily(db, tandem.tenant_id, at(start)) == (2, 2, 0, 0)
    assert await daily(db, tandem.tenant_id, at(start, 18)) == (0, 0, 0, 0)
    rows = await checkins_of(db, tandem)
    assert sorted(rows) == [("start", "mentee"), ("start", "mentor")]
    assert all(r.due_on == start and r.reminders_sent == 1 for r in rows.values())
    reminders = await mails(db, "checkin_reminder")
    assert sorted((m["to"], m["locale"]) for m in reminders) == sorted(
        [(tandem.mentee.email, "de"), (tandem.mentor.email, "en")]
    )
    sent = {m["to"]: m["context"] for m in reminders}[tandem.mentee.email]
    assert sent["link"] == f"{BASE}/checkins/{rows['start', 'mentee'].id}"
    assert sent["kind"] == "start" and sent["again"] is False
    # Another tenant's run sees none of it.
    assert await daily(db, tenants["augsburg"], at(start)) == (0, 0, 0, 0)


async def test_reminders_stop_after_the_second_and_once_answered(
    db: Database, tenants: dict[str, uuid.UUID]
) -> None:
    tandem = await add_tandem(db, tenants["muenchen"], activated=at(D0))
    start = date(2027, 3, 15)
    await daily(db, tandem.tenant_id, at(start))
    rows = await checkins_of(db, tandem)
    # The mentor answers; the mentee does not.
    async with db.tenant_session(tandem.tenant_id) as session, session.begin():
        answered = await session.get(CheckIn, rows["start", "mentor"].id)
        assert answered is not None
        answered.completed_at = at(start, 12)
    for day in (3, 6):
        assert (await daily(db, tandem.tenant_id, at(start + timedelta(days=day))))[1] == 0
    assert (await daily(db, tandem.tenant_id, at(start + timedelta(days=7))))[1] == 1
    for day in (8, 14, 21, 40):  # the midpoint opens on day 42
        assert (await daily(db, tandem.tenant_id, at(start + timedelta(days=day))))[1] == 0
    rows = await checkins_of(db, tandem)
    assert rows["start", "mentee"].reminders_sent == 2
    assert rows["start", "mentor"].reminders_sent == 1
    to_mentee = [m for m in await mails(db, "checkin_reminder") if m["to"] == tandem.mentee.email]
    assert [m["context"]["again"] for m in to_mentee if m["context"]["kind"] == "start"] == [
        False,
        True,
    ]


async def test_check_ins_follow_the_state_of_the_tandem(
    db: Database, tenants: dict[str, uuid.UUID]
) -> None:
    tenant_id = tenants["muenchen"]
    dissolved = await add_tandem(
        db, tenant_id, activated=at(D0), state=PairingState.DISSOLVED, ended=at(D0 + timedelta(9))
    )
    paused = await add_tandem(db, tenant_id, activated=at(D0), state=PairingState.PAUSED)
    completed = await add_tandem(
        db, tenant_id, activated=at(D0), state=PairingState.COMPLETED, ended=at(date(2027, 6, 20))
    )
    created, reminded, _, _ = await daily(db, tenant_id, at(date(2027, 9, 20)))
    assert await checkins_of(db, dissolved) == {}
    assert await checkins_of(db, paused) == {}
    # Completed: the end for both sides and the mentee's first follow-up; no start or
    # midpoint (that time has passed), no follow-up for the mentor.
    rows = await checkins_of(db, completed)
    assert sorted(rows) == [("end", "mentee"), ("end", "mentor"), ("followup_3m", "mentee")]
    assert rows["followup_3m", "mentee"].due_on == date(2027, 9, 20)
    assert (created, reminded) == (3, 3)

    # An open start check-in of a tandem that then paused or got dissolved is not reminded.
    async with db.tenant_session(tenant_id) as session, session.begin():
        for tandem in (dissolved, paused):
            session.add(
                CheckIn(
                    pairing_id=tandem.pairing_id,
                    kind=CheckInKind.START,
                    respondent=Respondent.MENTEE,
                    due_on=date(2027, 3, 15),
                )
            )
    assert await daily(db, tenant_id, at(date(2027, 9, 21))) == (0, 0, 0, 0)
    # Six months: the new follow-up's first reminder, and the second (last) one for the
    # end and 3-month check-ins reminded three months ago.
    assert await daily(db, tenant_id, at(date(2027, 12, 20))) == (1, 4, 0, 0)


async def test_an_unusable_address_does_not_stop_the_other_reminders(
    db: Database, tenants: dict[str, uuid.UUID]
) -> None:
    tandem = await add_tandem(db, tenants["muenchen"], activated=at(D0))
    async with db.tenant_session(tandem.tenant_id) as session, session.begin():
        application = await session.get(Application, tandem.mentee_application_id)
        assert application is not None
        application.email = "kein-postfach\nBcc: x@example.org"
    assert await daily(db, tandem.tenant_id, at(date(2027, 3, 15))) == (2, 1, 0, 0)
    assert [m["to"] for m in await mails(db, "checkin_reminder")] == [tandem.mentor.email]


async def test_two_runs_racing_create_each_check_in_once(
    db: Database, tenants: dict[str, uuid.UUID]
) -> None:
    tandem = await add_tandem(db, tenants["muenchen"], activated=at(D0))
    day = date(2027, 3, 15)
    # The second run read "missing" before the first committed: the insert must not fail.
    async with db.tenant_session(tandem.tenant_id) as first, first.begin():
        assert await create_due_checkins(first, day) == 2
    async with db.tenant_session(tandem.tenant_id) as second, second.begin():
        await second.execute(
            _insert_ignoring_conflicts(second).values(
                id=uuid.uuid4(),
                pairing_id=tandem.pairing_id,
                kind=CheckInKind.START,
                respondent=Respondent.MENTEE,
                due_on=day,
                reminders_sent=0,
                answers={},
            )
        )
    assert len(await checkins_of(db, tandem)) == 2


# --- at risk ---------------------------------------------------------------------------------


async def test_a_quiet_tandem_is_flagged_once_and_cleared_by_a_meeting(
    db: Database, tenants: dict[str, uuid.UUID]
) -> None:
    tenant_id = tenants["muenchen"]
    coordinator_de = await coordinator(db, tenant_id, "de")
    coordinator_other = await coordinator(db, tenant_id, "fr")  # not offered: the default
    elsewhere = await coordinator(db, tenants["augsburg"])
    tandem = await add_tandem(db, tenant_id, activated=at(D0, 15))
    paused = await add_tandem(db, tenant_id, activated=at(D0), state=PairingState.PAUSED)
    version = (await pairing_row(db, tandem)).version

    assert (await daily(db, tenant_id, at(D0 + timedelta(days=27))))[2:] == (0, 0)
    assert (await daily(db, tenant_id, at(D0 + timedelta(days=28))))[2:] == (1, 0)
    flagged = await pairing_row(db, tandem)
    assert flagged.at_risk_since is not None
    assert flagged.at_risk_since.replace(tzinfo=UTC) == at(D0 + timedelta(days=28), 0)
    assert flagged.version == version, "the nightly flag must not make open forms stale"
    assert (await pairing_row(db, paused)).at_risk_since is None
    for day in (29, 35):
        assert (await daily(db, tenant_id, at(D0 + timedelta(days=day))))[2:] == (0, 0)

    told = await mails(db, "pairing_at_risk")
    assert sorted((m["to"], m["locale"]) for m in told) == sorted(
        [(coordinator_de.email, "de"), (coordinator_other.email, "de")]
    )
    assert elsewhere.email not in {m["to"] for m in told}
    context = told[0]["context"]
    assert context["quiet_since"] == D0.isoformat() and context["has_met"] is False
    assert context["link"] == f"{BASE}/tandem/{tandem.pairing_id}"

    async with db.tenant_session(tenant_id) as session, session.begin():
        session.add(
            Meeting(
                pairing_id=tandem.pairing_id,
                held_on=D0 + timedelta(days=36),
                minutes=60,
                format=MeetingFormat.ONLINE,
                topic="Bewerbung",
            )
        )
    assert (await daily(db, tenant_id, at(D0 + timedelta(days=36))))[2:] == (0, 1)
    assert (await pairing_row(db, tandem)).at_risk_since is None
    # Quiet again for four weeks after that meeting: a new episode, told again.
    assert (await daily(db, tenant_id, at(D0 + timedelta(days=36 + 28))))[2:] == (1, 0)
    again = (await mails(db, "pairing_at_risk"))[-1]["context"]
    assert again["has_met"] is True
    assert again["quiet_since"] == (D0 + timedelta(days=36)).isoformat()
    async with db.tenant_session(tenant_id) as session:
        actions = list(await session.scalars(select(AuditEntry.action)))
    assert actions.count("pairing_at_risk") == 2 and actions.count("pairing_at_risk_cleared") == 1


# --- the periodic job, through the outbox to a real SMTP server --------------------------------


async def test_the_daily_job_reminds_each_person_in_their_language_once(
    db: Database,
    tenants: dict[str, uuid.UUID],
    mail_settings: Settings,  # noqa: F811
    smtp_server: SmtpServer,  # noqa: F811
    plugins: PluginHost,
) -> None:
    load_core_tasks()
    tandem = await add_tandem(
        db, tenants["muenchen"], activated=utcnow() - timedelta(days=20), mentee_locale="de"
    )
    for _ in range(2):
        report = await run_task(db, TASK_NAME, tenant_ids=[tandem.tenant_id])
        assert report.enqueued == 1
        await run_jobs(db, mail_settings, plugins)  # the daily job
        await run_jobs(db, mail_settings, plugins)  # the mails it enqueued
    received = {r.recipients[0]: r.message for r in smtp_server.messages()}
    assert sorted(received) == sorted([tandem.mentee.email, tandem.mentor.email])
    assert len(smtp_server.messages()) == 2, "the second run sends nothing"
    rows = await checkins_of(db, tandem)

    german = received[tandem.mentee.email]
    assert german["Subject"].strip() == "Check-in zum Start \N{EN DASH} zwei Minuten für Ihr Tandem"
    assert german["Content-Language"] == "de"
    text, html = parts(german)
    assert "Bitte erzählen Sie uns, wie es in Ihrem Tandem läuft" in text
    assert f"http://muenchen.localhost:8000/checkins/{rows['start', 'mentee'].id}" in text
    assert "Check-in öffnen" in html

    english = received[tandem.mentor.email]
    assert english["Subject"] == "Start check-in \N{EN DASH} two minutes for your tandem"
    text, _ = parts(english)
    assert "Please tell us how your tandem is going" in text
    assert f"/checkins/{rows['start', 'mentor'].id}" in text


async def test_links_in_job_mails_point_at_the_tenants_site(
    db: Database, tenants: dict[str, uuid.UUID], settings: Settings
) -> None:
    snapshot = await load_snapshot(db, tenants["muenchen"])
    assert snapshot is not None
    assert site_url(snapshot, settings) == "http://muenchen.localhost:8000"
    production = Settings(
        **{
            **settings.model_dump(),
            "env": "production",
            "base_domain": "tandem.example.org",
            "secret_key": "x" * 40,
        }
    )
    assert site_url(snapshot, production) == "https://muenchen.tandem.example.org"
    custom = dataclasses.replace(snapshot, domains=("mentoring.muenchen.de",))
    assert site_url(custom, production) == "https://mentoring.muenchen.de"


# --- the form --------------------------------------------------------------------------------


@pytest.fixture
async def web(
    synced: Database, settings: Settings, plugins: PluginHost, tmp_path: Path
) -> AsyncIterator[Client]:
    """The app; the mails its in-process worker sends land in a temporary folder."""
    quiet = Settings(**{**settings.model_dump(), "mail_dir": tmp_path / "mail"})
    async with AsyncTestClient(make_app(quiet, plugins), base_url="http://localhost") as c:
        c.follow_redirects = False
        yield c


async def as_user(web: Client, db: Database, tenant_id: uuid.UUID, user: User) -> None:
    login(web, await start_session(db, tenant_id, user))


async def open_start_checkins(db: Database, tenant_id: uuid.UUID) -> tuple[Tandem, uuid.UUID]:
    """A tandem whose start check-ins are open; the mentee's check-in id."""
    tandem = await add_tandem(db, tenant_id, activated=at(D0))
    await daily(db, tenant_id, at(date(2027, 3, 15)))
    return tandem, (await checkins_of(db, tandem))["start", "mentee"].id


async def post_answers(
    web: Client, path: str, data: dict[str, str], host: str = MUENCHEN, lang: str = "en"
) -> httpx.Response:
    token = csrf_token(await web.get("/", headers={"host": host}))
    headers = {"host": host, "accept-language": lang}
    return await web.post(path, headers=headers, data={"_csrf_token": token, **data})


async def test_only_the_respondent_answers_and_then_it_is_read_only(
    web: Client, synced: Database, tenants: dict[str, uuid.UUID]
) -> None:
    tenant_id = tenants["muenchen"]
    tandem, checkin_id = await open_start_checkins(synced, tenant_id)
    path = f"/checkins/{checkin_id}"
    headers = {"host": MUENCHEN, "accept-language": "en"}

    signed_out = await web.get(path, headers=headers)
    assert signed_out.status_code == 303 and signed_out.headers["location"].startswith("/login")

    # The partner (the mentor) may not see the mentee's check-in, nor answer it.
    await as_user(web, synced, tenant_id, tandem.mentor)
    assert (await web.get(path, headers=headers)).status_code == 404
    assert (await post_answers(web, path, MILESTONE_ANSWERS)).status_code == 404
    # Another participant of the same tenant neither.
    other = await add_tandem(synced, tenant_id, activated=at(D0))
    await as_user(web, synced, tenant_id, other.mentee)
    assert (await web.get(path, headers=headers)).status_code == 404

    # Coordinators read it but do not answer it.
    boss = await coordinator(synced, tenant_id)
    await as_user(web, synced, tenant_id, boss)
    page = await web.get(path, headers=headers)
    assert page.status_code == 200 and "Not answered yet" in page.text
    assert 'name="satisfaction"' not in page.text
    assert (await post_answers(web, path, MILESTONE_ANSWERS)).status_code == 403

    # Another tenant's host does not know it, whoever asks.
    augsburg = tenants["augsburg"]
    stranger = await coordinator(synced, augsburg)
    await as_user(web, synced, augsburg, stranger)
    assert (await web.get(path, headers={"host": AUGSBURG})).status_code == 404
    assert (await post_answers(web, path, MILESTONE_ANSWERS, host=AUGSBURG)).status_code == 404

    # The respondent sees the form, with the note that coordinators read the answers.
    await as_user(web, synced, tenant_id, tandem.mentee)
    form = await web.get(path, headers=headers)
    assert form.status_code == 200
    assert 'name="satisfaction"' in form.text and 'name="employment_outcome"' not in form.text
    assert "coordinators read your answers, comments included" in form.text
    sent = await post_answers(web, path, MILESTONE_ANSWERS)
    assert sent.status_code == 303 and sent.headers["location"] == f"{path}?done=answered"
    done = await web.get(sent.headers["location"], headers=headers)
    assert "Thank you! Your answers have been saved." in done.text
    assert SATISFIED in done.text and "Every two weeks" in done.text
    assert 'name="satisfaction"' not in done.text
    again = await post_answers(web, path, {**MILESTONE_ANSWERS, "satisfaction": "1"})
    assert again.status_code == 409 and "had already been answered" in again.text
    stored = (await checkins_of(synced, tandem))["start", "mentee"]
    assert stored.answers == {
        "satisfaction": 4,
        "meeting_frequency": "fortnightly",
        "comment": "Gut.",
    }
    assert stored.completed_at is not None

    # The coordinator now reads the answers, comment included.
    await as_user(web, synced, tenant_id, boss)
    read = await web.get(path, headers=headers)
    assert read.status_code == 200 and "Gut." in read.text and SATISFIED in read.text


async def test_invalid_answers_are_shown_inline_in_german_and_english_and_nothing_is_stored(
    web: Client, synced: Database, tenants: dict[str, uuid.UUID]
) -> None:
    tenant_id = tenants["muenchen"]
    tandem, checkin_id = await open_start_checkins(synced, tenant_id)
    path = f"/checkins/{checkin_id}"
    await as_user(web, synced, tenant_id, tandem.mentee)
    bad = {"satisfaction": "9", "meeting_frequency": "", "comment": "y" * 2001}

    english = await post_answers(web, path, bad, lang="en")
    assert english.status_code == 422
    assert 'id="checkin-satisfaction-error"' in english.text
    assert "Choose how satisfied you are, from 1 to 5." in english.text
    assert "Choose how often you met." in english.text
    assert "Use at most 2000 characters." in english.text
    assert 'href="#checkin-satisfaction-1"' in english.text  # the summary links to the field
    assert "y" * 2000 in english.text, "what was typed comes back"

    german = await post_answers(web, path, bad, lang="de")
    assert german.status_code == 422
    assert "Wählen Sie aus, wie zufrieden Sie sind, von 1 bis 5." in german.text
    assert "Wählen Sie aus, wie oft Sie sich getroffen haben." in german.text
    stored = (await checkins_of(synced, tandem))["start", "mentee"]
    assert stored.completed_at is None and stored.answers == {}


async def test_a_follow_up_asks_for_the_employment_outcome(
    web: Client, synced: Database, tenants: dict[str, uuid.UUID]
) -> None:
    tenant_id = tenants["muenchen"]
    tandem = await add_tandem(
        synced,
        tenant_id,
        activated=at(D0),
        state=PairingState.COMPLETED,
        ended=at(date(2027, 6, 20)),
    )
    await daily(synced, tenant_id, at(date(2027, 9, 20)))
    checkin_id = (await checkins_of(synced, tandem))["followup_3m", "mentee"].id
    path = f"/checkins/{checkin_id}"
    await as_user(web, synced, tenant_id, tandem.mentee)
    form = await web.get(path, headers={"host": MUENCHEN, "accept-language": "de"})
    assert 'name="employment_outcome"' in form.text and 'name="satisfaction"' not in form.text
    assert "Ich arbeite in meinem eigenen Beruf" in form.text
    missing = await post_answers(web, path, {"job_title": "Ingenieurin"}, lang="de")
    assert missing.status_code == 422 and "Wählen Sie aus, was Sie zurzeit tun." in missing.text
    assert 'value="Ingenieurin"' in missing.text
    sent = await post_answers(
        web, path, {"employment_outcome": "employed_own_field", "job_title": "Ingenieurin"}
    )
    assert sent.status_code == 303
    stored = (await checkins_of(synced, tandem))["followup_3m", "mentee"]
    assert stored.employment_outcome is EmploymentOutcome.EMPLOYED_OWN_FIELD
    assert stored.answers == {"job_title": "Ingenieurin", "comment": ""}


async def test_participants_see_their_upcoming_check_ins(
    web: Client, synced: Database, tenants: dict[str, uuid.UUID]
) -> None:
    tenant_id = tenants["muenchen"]
    tandem, checkin_id = await open_start_checkins(synced, tenant_id)
    async with synced.tenant_session(tenant_id) as session:
        items = await upcoming_checkins(session, Who(tandem.mentee.id), date(2027, 3, 16))
    assert [(i.kind.value, i.due_on, i.checkin_id) for i in items] == [
        ("start", date(2027, 3, 15), checkin_id),
        ("midpoint", date(2027, 4, 26), None),
        ("end", date(2027, 6, 21), None),
    ]
    await as_user(web, synced, tenant_id, tandem.mentee)
    page = await web.get("/checkins", headers={"host": MUENCHEN, "accept-language": "en"})
    assert page.status_code == 200
    assert f'href="/checkins/{checkin_id}"' in page.text and "Midpoint check-in" in page.text
    # The tandem page shows them too.
    tandem_page = await web.get("/tandem", headers={"host": MUENCHEN, "accept-language": "de"})
    assert tandem_page.status_code == 200 and "Anstehende Check-ins" in tandem_page.text
    assert f'href="/checkins/{checkin_id}"' in tandem_page.text


# --- the JSON API ----------------------------------------------------------------------------


async def api(
    web: Client, method: str, path: str, body: Any = None, *, host: str = MUENCHEN, lang: str = "en"
) -> httpx.Response:
    headers = {"host": host, "accept-language": lang}
    if method != "GET":
        if "tandem_csrf" not in web.cookies:
            await web.get("/api/v1/site", headers={"host": host})
        headers["x-csrftoken"] = web.cookies["tandem_csrf"]
    return await web.request(method, path, headers=headers, json=body)


async def test_the_api_lists_and_answers_with_the_pages_permissions(
    web: Client, synced: Database, tenants: dict[str, uuid.UUID]
) -> None:
    tenant_id = tenants["muenchen"]
    tandem, checkin_id = await open_start_checkins(synced, tenant_id)
    path = f"/api/v1/checkins/{checkin_id}"
    assert (await api(web, "GET", "/api/v1/checkins")).status_code == 401

    await as_user(web, synced, tenant_id, tandem.mentee)
    mine = (await api(web, "GET", "/api/v1/checkins")).json()
    assert [(c["kind"], c["respondent"], c["answers"]) for c in mine] == [("start", "mentee", None)]
    assert mine[0]["questions"] == ["satisfaction", "meeting_frequency", "comment"]
    assert (await api(web, "GET", "/api/v1/checkins?cohort=fruehjahr")).status_code == 403
    invalid = await api(web, "POST", path, {"satisfaction": 0, "job_title": "x"}, lang="de")
    assert invalid.status_code == 422
    assert invalid.headers["content-type"].startswith("application/problem+json")
    assert {e["key"]: e["message"] for e in invalid.json()["errors"]} == {
        "satisfaction": "Wählen Sie aus, wie zufrieden Sie sind, von 1 bis 5.",
        "meeting_frequency": "Wählen Sie aus, wie oft Sie sich getroffen haben.",
        "job_title": "Diese Frage gehört nicht zu diesem Check-in.",
    }
    assert (await checkins_of(synced, tandem))["start", "mentee"].completed_at is None
    headers = {"host": MUENCHEN}
    no_csrf = await web.post(path, headers=headers, json={"satisfaction": 5})
    assert no_csrf.status_code == 403
    answered = await api(web, "POST", path, {"satisfaction": 5, "meeting_frequency": "weekly"})
    assert answered.status_code == 200
    assert answered.json()["answers"]["satisfaction"] == 5
    conflict = await api(web, "POST", path, {"satisfaction": 1, "meeting_frequency": "weekly"})
    assert conflict.status_code == 409
    assert conflict.json()["checkin"]["answers"]["satisfaction"] == 5

    # The partner: 404 on read and write.
    await as_user(web, synced, tenant_id, tandem.mentor)
    assert (await api(web, "GET", path)).status_code == 404
    assert (await api(web, "POST", path, {"satisfaction": 3})).status_code == 404
    mentor_own = (await api(web, "GET", "/api/v1/checkins")).json()
    assert [(c["kind"], c["respondent"]) for c in mentor_own] == [("start", "mentor")]

    # A coordinator lists the cohort and reads, but does not answer.
    boss = await coordinator(synced, tenant_id)
    await as_user(web, synced, tenant_id, boss)
    cohort = (await api(web, "GET", "/api/v1/checkins?cohort=fruehjahr")).json()
    assert sorted((c["respondent"], c["answers"] is not None) for c in cohort) == [
        ("mentee", True),
        ("mentor", False),
    ]
    assert (await api(web, "GET", path)).status_code == 200
    mentor_checkin = next(c for c in cohort if c["respondent"] == "mentor")
    answer = {"satisfaction": 3, "meeting_frequency": "weekly"}
    forbidden = await api(web, "POST", f"/api/v1/checkins/{mentor_checkin['id']}", answer)
    assert forbidden.status_code == 403
    assert (await api(web, "GET", "/api/v1/checkins?cohort=nope")).status_code == 404

    # Another tenant: not found, even for its coordinators.
    augsburg = tenants["augsburg"]
    await as_user(web, synced, augsburg, await coordinator(synced, augsburg))
    assert (await api(web, "GET", path, host=AUGSBURG)).status_code == 404
    assert (await api(web, "POST", path, answer, host=AUGSBURG)).status_code == 404
    assert (
        await api(web, "GET", "/api/v1/checkins?cohort=fruehjahr", host=AUGSBURG)
    ).status_code == 404


# --- outcome figures -------------------------------------------------------------------------


async def test_outcome_figures_count_each_mentee_once_by_the_latest_follow_up(
    web: Client, synced: Database, tenants: dict[str, uuid.UUID]
) -> None:
    tenant_id = tenants["muenchen"]
    completed = at(date(2027, 6, 20))
    answers = [
        # (3 months, 6 months) per mentee; None: not answered.
        (EmploymentOutcome.SEARCHING, EmploymentOutcome.EMPLOYED_OWN_FIELD),
        (EmploymentOutcome.EMPLOYED_RELATED_FIELD, None),
        (EmploymentOutcome.IN_TRAINING, EmploymentOutcome.IN_TRAINING),
        (None, None),
    ]
    tandems = []
    for _ in answers:
        tandems.append(
            await add_tandem(
                synced, tenant_id, activated=at(D0), state=PairingState.COMPLETED, ended=completed
            )
        )
    await daily(synced, tenant_id, at(date(2027, 12, 20)))
    async with synced.tenant_session(tenant_id) as session, session.begin():
        for tandem, pair in zip(tandems, answers, strict=True):
            for kind, outcome in zip(FOLLOW_UP_KINDS, pair, strict=True):
                if outcome is None:
                    continue
                row = await session.scalar(
                    select(CheckIn).where(
                        CheckIn.pairing_id == tandem.pairing_id, CheckIn.kind == kind
                    )
                )
                assert row is not None
                row.employment_outcome = outcome
                row.completed_at = at(row.due_on, 12)
        figures = await outcomes(session, tandems[0].cohort.id)
    assert figures.answered == 3
    assert figures.counts == {
        EmploymentOutcome.EMPLOYED_OWN_FIELD: 1,
        EmploymentOutcome.EMPLOYED_RELATED_FIELD: 1,
        EmploymentOutcome.OTHER_WORK: 0,
        EmploymentOutcome.IN_TRAINING: 1,
        EmploymentOutcome.SEARCHING: 0,
    }
    assert figures.employed_in_field == 2
    assert figures.share_employed_in_field == pytest.approx(2 / 3)
    assert figures.by_kind[CheckInKind.FOLLOWUP_3M][EmploymentOutcome.SEARCHING] == 1
    async with synced.tenant_session(tenants["augsburg"]) as session:
        nothing = await outcomes(session, tandems[0].cohort.id)
    assert nothing.answered == 0 and nothing.share_employed_in_field is None

    boss = await coordinator(synced, tenant_id)
    await as_user(web, synced, tenant_id, boss)
    figures_json = (await api(web, "GET", "/api/v1/checkins/outcomes?cohort=fruehjahr")).json()
    assert figures_json["answered"] == 3 and figures_json["employed_in_field"] == 2
    page = await web.get(
        "/admin/cohorts/fruehjahr/checkins", headers={"host": MUENCHEN, "accept-language": "de"}
    )
    assert page.status_code == 200
    assert "67\N{NO-BREAK SPACE}%" in page.text
    assert "In einem verwandten Berufsfeld beschäftigt" in page.text
    # The heading names the cohort once, whatever it is called (demo names say "Durchgang").
    assert '<h1 id="checkins-cohort-title">Check-ins \N{EN DASH} Frühjahr 2027</h1>' in page.text
    assert "im Durchgang" not in page.text
    english = await web.get(
        "/admin/cohorts/fruehjahr/checkins", headers={"host": MUENCHEN, "accept-language": "en"}
    )
    assert '<h1 id="checkins-cohort-title">Check-ins: Frühjahr 2027</h1>' in english.text
    augsburg = tenants["augsburg"]
    await as_user(web, synced, augsburg, await coordinator(synced, augsburg))
    outcomes_path = "/api/v1/checkins/outcomes?cohort=fruehjahr"
    assert (await api(web, "GET", outcomes_path, host=AUGSBURG)).status_code == 404
    other = await web.get("/admin/cohorts/fruehjahr/checkins", headers={"host": AUGSBURG})
    assert other.status_code == 404
    await as_user(web, synced, tenant_id, tandems[0].mentee)
    assert (await api(web, "GET", "/api/v1/checkins/outcomes?cohort=fruehjahr")).status_code == 403
    assert (
        await web.get("/admin/cohorts/fruehjahr/checkins", headers={"host": MUENCHEN})
    ).status_code == 403
