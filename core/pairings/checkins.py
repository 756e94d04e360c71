"""Check-ins: creating them when they fall due, reminding, answering, listing, outcomes.

The rules of *when* are pure and live in :mod:`core.pairings.checkin_schedule`; what a
check-in asks is in :mod:`core.pairings.checkin_schemas`. Everything here works in the
caller's *tenant* session and leaves the commit to the caller, so a change, its audit
entry, its mails and its plugin event are written together or not at all.

Daily (:mod:`core.pairings.checkin_tasks` runs :func:`create_due_checkins` then
:func:`send_reminders`):

* **Creating** inserts the rows that have fallen due and do not exist yet, with
  ``INSERT … ON CONFLICT DO NOTHING`` on the unique key (tenant, pairing, kind,
  respondent): two runs racing, or a run repeated the same day, create each row once.
* **Reminding** claims each reminder with a compare-and-set on ``reminders_sent``
  (``UPDATE … WHERE reminders_sent = <read value> AND completed_at IS NULL``) and
  sends the mail only when that changed the row, in the recipient's language (the
  one of their application). At most two reminders per check-in, ever.

Who may see a check-in: its respondent (the user owning the application of the
check-in's side) and the tenant's coordinators. Everyone else — the partner in the
tandem, other participants, another tenant — gets :class:`CheckInNotFound`, like an id
that does not exist. Only the respondent answers (:class:`NotRespondent` for a
coordinator); an answered check-in is read-only (:class:`AlreadyAnswered`).

Dates are UTC days: tenants have no time zone yet.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.applications.models import Application
from core.db.base import utcnow
from core.events import publish_event
from core.identity import audit
from core.identity.sessions import aware
from core.mail import MailError, send_mail
from core.pairings.checkin_schedule import (
    FOLLOW_UPS,
    MAX_REMINDERS,
    Due,
    applies,
    fallen_due,
    reminder_due,
    schedule,
)
from core.pairings.checkin_schemas import IN_FIELD, check_answers
from core.pairings.lifecycle import Actor, PairingState
from core.pairings.models import CheckIn, CheckInKind, EmploymentOutcome, Pairing, Respondent
from core.pairings.services import (
    PairingAccess,
    PairingNotFound,
    Person,
    _applications,
    access_pairing_by_id,
    own_pairings,
)
from core.programmes.models import Cohort, Programme

log = logging.getLogger(__name__)

CHECKIN_ANSWERED = "checkin_answered"  # audit action (labelled on /admin/audit)
REMINDER_TEMPLATE = "checkin_reminder"
PAGE_PATH = "/checkins"
SCHEDULED_STATES = (PairingState.ACTIVE, PairingState.COMPLETED)
# The later follow-up is the better answer to "what came of it".
_FOLLOW_UP_ORDER = {CheckInKind.FOLLOWUP_3M: 0, CheckInKind.FOLLOWUP_6M: 1}


class CheckInNotFound(LookupError):
    """No such check-in for this person: unknown, another tenant's, or not theirs."""


class NotRespondent(PermissionError):
    """A coordinator may read a check-in; only its respondent answers it."""


class AlreadyAnswered(Exception):
    """The check-in was answered before (perhaps a moment ago, in another tab)."""


def side_of(respondent: Respondent) -> Actor:
    return Actor.MENTEE if respondent is Respondent.MENTEE else Actor.MENTOR


def checkin_path(checkin_id: uuid.UUID) -> str:
    return f"{PAGE_PATH}/{checkin_id}"


# --- access -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckInAccess:
    """A check-in as one person may see it, with its tandem."""

    checkin: CheckIn
    tandem: PairingAccess

    @property
    def respondent(self) -> Respondent:
        return Respondent(self.checkin.respondent)

    @property
    def is_respondent(self) -> bool:
        return side_of(self.respondent) in self.tandem.actors

    @property
    def is_coordinator(self) -> bool:
        return self.tandem.is_coordinator

    @property
    def respondent_application(self) -> Application:
        tandem = self.tandem
        return tandem.mentee if self.respondent is Respondent.MENTEE else tandem.mentor

    @property
    def completed(self) -> bool:
        return self.checkin.completed_at is not None


async def access_checkin_by_id(
    session: AsyncSession, user: Person, checkin_id: uuid.UUID, *, to_answer: bool = False
) -> CheckInAccess:
    """The check-in if ``user`` may see it (CheckInNotFound otherwise) and, ``to_answer``,
    answer it (NotRespondent for a coordinator who is not the respondent)."""
    checkin = await session.get(CheckIn, checkin_id)
    if checkin is None:
        raise CheckInNotFound(checkin_id)
    try:
        tandem = await access_pairing_by_id(session, user, checkin.pairing_id)
    except PairingNotFound:
        raise CheckInNotFound(checkin_id) from None
    access = CheckInAccess(checkin, tandem)
    if not (access.is_respondent or access.is_coordinator):
        raise CheckInNotFound(checkin_id)  # the partner: their answers are not for them
    if to_answer and not access.is_respondent:
        raise NotRespondent(checkin_id)
    return access


# --- answering ------------------------------------------------------------------------------


async def answer_checkin(
    session: AsyncSession,
    access: CheckInAccess,
    raw: Mapping[str, Any],
    *,
    now: datetime | None = None,
    ip: str | None = None,
) -> CheckIn:
    """Store the respondent's answers; InvalidInput (nothing stored) or AlreadyAnswered.

    ``access`` must come from :func:`access_checkin_by_id` with ``to_answer=True``.
    """
    if not access.is_respondent:
        raise NotRespondent(access.checkin.id)
    checkin = access.checkin
    if checkin.completed_at is not None:
        raise AlreadyAnswered(checkin.id)
    checked = check_answers(CheckInKind(checkin.kind), raw)
    now = now or utcnow()
    # Conditional: of two submissions at once (two tabs), the second changes no row.
    result = await session.execute(
        update(CheckIn)
        .where(CheckIn.id == checkin.id, CheckIn.completed_at.is_(None))
        .values(
            answers=checked.answers,
            employment_outcome=checked.employment_outcome,
            completed_at=now,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise AlreadyAnswered(checkin.id)
    await session.refresh(checkin)
    details = {
        "checkin_id": str(checkin.id),
        "pairing_id": str(checkin.pairing_id),
        "kind": str(checkin.kind),
        "respondent": str(checkin.respondent),
    }
    audit.record(session, CHECKIN_ANSWERED, access.tandem.user_id, details, ip)
    payload: dict[str, Any] = {**details, "completed_at": now.isoformat()}
    if checked.employment_outcome is not None:
        payload["employment_outcome"] = checked.employment_outcome.value
    # Answers stay out of the event: plugins learn that (and what outcome), not comments.
    publish_event(session, "checkin.completed", payload)
    return checkin


# --- the daily run: creating and reminding -------------------------------------------------


def _insert_ignoring_conflicts(session: AsyncSession) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING`` on the check-in's unique key, for this backend."""
    keys = ["tenant_id", "pairing_id", "kind", "respondent"]
    assert session.bind is not None
    if session.bind.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(CheckIn).on_conflict_do_nothing(index_elements=keys)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(CheckIn).on_conflict_do_nothing(index_elements=keys)


@dataclass(frozen=True)
class _Scheduled:
    pairing_id: uuid.UUID
    state: PairingState
    dues: list[Due]


async def _schedules(
    session: AsyncSession, pairing_ids: Iterable[uuid.UUID] | None = None
) -> list[_Scheduled]:
    """The check-in schedule of every active or completed tandem (or of those given)."""
    query = (
        select(
            Pairing.id,
            Pairing.state,
            Pairing.activated_at,
            Pairing.ended_at,
            Cohort.ends_on,
            Programme.duration_weeks,
        )
        .join(Cohort, Cohort.id == Pairing.cohort_id)
        .join(Programme, Programme.id == Cohort.programme_id)
        .where(Pairing.state.in_(SCHEDULED_STATES), Pairing.activated_at.is_not(None))
    )
    if pairing_ids is not None:
        query = query.where(Pairing.id.in_(list(pairing_ids)))
    result = []
    for pairing_id, state, activated_at, ended_at, ends_on, weeks in await session.execute(query):
        state = PairingState(state)
        completed_on = (
            aware(ended_at).date()
            if state is PairingState.COMPLETED and ended_at is not None
            else None
        )
        dues = schedule(
            aware(activated_at).date(),
            cohort_ends_on=ends_on,
            duration_weeks=weeks,
            completed_on=completed_on,
        )
        result.append(_Scheduled(pairing_id, state, dues))
    return result


async def create_due_checkins(session: AsyncSession, today: date) -> int:
    """Create the check-ins that have fallen due by ``today`` and are missing; how many."""
    wanted = [
        (scheduled.pairing_id, due)
        for scheduled in await _schedules(session)
        for due in fallen_due(scheduled.dues, scheduled.state, today)
    ]
    if not wanted:
        return 0
    existing = {
        (row.pairing_id, CheckInKind(row.kind), Respondent(row.respondent))
        for row in await session.execute(
            select(CheckIn.pairing_id, CheckIn.kind, CheckIn.respondent).where(
                CheckIn.pairing_id.in_({pairing_id for pairing_id, _ in wanted})
            )
        )
    }
    created = 0
    for pairing_id, due in wanted:
        if (pairing_id, due.kind, due.respondent) in existing:
            continue
        now = utcnow()
        result = await session.execute(
            _insert_ignoring_conflicts(session).values(
                id=uuid.uuid4(),
                pairing_id=pairing_id,
                kind=due.kind,
                respondent=due.respondent,
                due_on=due.due_on,
                reminders_sent=0,
                answers={},
                created_at=now,
                updated_at=now,
            )
        )
        created += result.rowcount
    return created


async def send_reminders(session: AsyncSession, now: datetime, *, base_url: str) -> int:
    """Remind the respondents of unanswered check-ins that are due a reminder; how many.

    ``base_url`` (``https://muenchen.example.org``) is where the mail's link leads.
    """
    today = now.date()
    rows = await session.execute(
        select(CheckIn, Pairing)
        .join(Pairing, Pairing.id == CheckIn.pairing_id)
        .where(
            CheckIn.completed_at.is_(None),
            CheckIn.reminders_sent < MAX_REMINDERS,
            CheckIn.due_on <= today,
            Pairing.state.in_(SCHEDULED_STATES),
        )
        .order_by(CheckIn.due_on, CheckIn.id)
    )
    todo = [
        (checkin, pairing)
        for checkin, pairing in rows
        if applies(CheckInKind(checkin.kind), PairingState(pairing.state))
        and reminder_due(
            due_on=checkin.due_on,
            reminders_sent=checkin.reminders_sent,
            reminded_at=aware(checkin.reminded_at) if checkin.reminded_at else None,
            completed=False,
            today=today,
        )
    ]
    recipients = {
        checkin.id: _respondent_application_id(checkin, pairing) for checkin, pairing in todo
    }
    applications = await _applications(session, recipients.values())
    sent = 0
    for checkin, _pairing in todo:
        seen = checkin.reminders_sent
        claimed = await session.execute(
            update(CheckIn)
            .where(
                CheckIn.id == checkin.id,
                CheckIn.reminders_sent == seen,
                CheckIn.completed_at.is_(None),
            )
            .values(reminders_sent=seen + 1, reminded_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:
            continue  # answered or reminded by someone else meanwhile
        application = applications[recipients[checkin.id]]
        try:
            send_mail(
                session,
                to=application.email,
                template=REMINDER_TEMPLATE,
                context={
                    "name": application.name,
                    "kind": str(checkin.kind),
                    "due_on": checkin.due_on.isoformat(),
                    "link": f"{base_url.rstrip('/')}{checkin_path(checkin.id)}",
                    "again": seen > 0,
                },
                locale=application.locale,
            )
        except MailError as exc:
            # One unusable address must not stop every other reminder, every day.
            log.warning("check-in %s: reminder not sent: %s", checkin.id, exc)
            continue
        sent += 1
    return sent


def _respondent_application_id(checkin: CheckIn, pairing: Pairing) -> uuid.UUID:
    if checkin.respondent == Respondent.MENTEE:
        return pairing.mentee_application_id
    return pairing.mentor_application_id


# --- lists ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckInRow:
    """A check-in with what lists show of its tandem."""

    checkin: CheckIn
    cohort_slug: str
    cohort_name: str
    respondent_name: str
    partner_name: str

    @property
    def completed(self) -> bool:
        return self.checkin.completed_at is not None


async def checkin_rows(
    session: AsyncSession,
    checkins: Sequence[CheckIn],
) -> list[CheckInRow]:
    pairing_ids = {c.pairing_id for c in checkins}
    if not pairing_ids:
        return []
    pairings = {
        row.id: row
        for row in await session.scalars(select(Pairing).where(Pairing.id.in_(pairing_ids)))
    }
    cohorts = {
        row.id: row
        for row in await session.scalars(
            select(Cohort).where(Cohort.id.in_({p.cohort_id for p in pairings.values()}))
        )
    }
    applications = await _applications(
        session,
        [p.mentee_application_id for p in pairings.values()]
        + [p.mentor_application_id for p in pairings.values()],
    )
    rows = []
    for checkin in checkins:
        pairing = pairings[checkin.pairing_id]
        mentee = applications[pairing.mentee_application_id]
        mentor = applications[pairing.mentor_application_id]
        own, other = (
            (mentee, mentor) if checkin.respondent == Respondent.MENTEE else (mentor, mentee)
        )
        cohort = cohorts[pairing.cohort_id]
        rows.append(CheckInRow(checkin, cohort.slug, cohort.name, own.name, other.name))
    return rows


async def checkins_of_user(session: AsyncSession, user: Person) -> list[CheckInRow]:
    """The check-ins ``user`` answers (their side of each of their tandems), due first."""
    sides = {
        access.pairing.id: {a for a in access.actors if a in (Actor.MENTEE, Actor.MENTOR)}
        for access in await own_pairings(session, user)
    }
    if not sides:
        return []
    checkins = await session.scalars(
        select(CheckIn)
        .where(CheckIn.pairing_id.in_(list(sides)))
        .order_by(CheckIn.due_on, CheckIn.kind, CheckIn.respondent)
    )
    mine = [c for c in checkins if side_of(Respondent(c.respondent)) in sides[c.pairing_id]]
    return await checkin_rows(session, mine)


async def checkins_of_cohort(session: AsyncSession, cohort_id: uuid.UUID) -> list[CheckInRow]:
    """All check-ins of a cohort's tandems (for its coordinators), due first."""
    checkins = await session.scalars(
        select(CheckIn)
        .join(Pairing, Pairing.id == CheckIn.pairing_id)
        .where(Pairing.cohort_id == cohort_id)
        .order_by(CheckIn.due_on, CheckIn.pairing_id, CheckIn.kind, CheckIn.respondent)
    )
    return await checkin_rows(session, list(checkins))


@dataclass(frozen=True)
class UpcomingCheckIn:
    """For the tandem page: an open check-in (``checkin_id`` set) or one still to come."""

    pairing_id: uuid.UUID
    kind: CheckInKind
    respondent: Respondent
    due_on: date
    checkin_id: uuid.UUID | None = None

    @property
    def is_open(self) -> bool:
        return self.checkin_id is not None

    @property
    def path(self) -> str | None:
        return checkin_path(self.checkin_id) if self.checkin_id else None


async def upcoming_checkins(
    session: AsyncSession, user: Person, today: date
) -> list[UpcomingCheckIn]:
    """``user``'s unanswered check-ins, then those still to come, soonest first.

    Those still to come are the ones the tandem's current state will ask for: an
    active tandem's start, midpoint and end; a completed one's follow-ups.
    """
    sides = {
        access.pairing.id: {a for a in access.actors if a in (Actor.MENTEE, Actor.MENTOR)}
        for access in await own_pairings(session, user)
    }
    sides = {pairing_id: s for pairing_id, s in sides.items() if s}
    if not sides:
        return []
    created = {
        (c.pairing_id, CheckInKind(c.kind), Respondent(c.respondent)): c
        for c in await session.scalars(select(CheckIn).where(CheckIn.pairing_id.in_(list(sides))))
    }
    result = []
    for scheduled in await _schedules(session, sides):
        for due in scheduled.dues:
            if side_of(due.respondent) not in sides[scheduled.pairing_id]:
                continue
            row = created.get((scheduled.pairing_id, due.kind, due.respondent))
            if row is not None:
                if row.completed_at is None:
                    result.append(
                        UpcomingCheckIn(
                            scheduled.pairing_id, due.kind, due.respondent, row.due_on, row.id
                        )
                    )
            elif due.due_on > today and applies(due.kind, scheduled.state):
                result.append(
                    UpcomingCheckIn(scheduled.pairing_id, due.kind, due.respondent, due.due_on)
                )
    return sorted(result, key=lambda item: (not item.is_open, item.due_on, item.kind))


# --- outcome figures ------------------------------------------------------------------------


@dataclass(frozen=True)
class OutcomeFigures:
    """What a cohort's mentees answered in their follow-ups.

    ``counts`` counts each mentee once, by their latest answer (6 months before 3);
    ``by_kind`` counts each follow-up separately. ``share_employed_in_field`` is the
    figure programmes publish ("77 % work in their field or a related one"): the
    mentees employed in their own or a related field among those who answered, or
    None when nobody has answered yet.
    """

    answered: int
    counts: dict[EmploymentOutcome, int]
    by_kind: dict[CheckInKind, dict[EmploymentOutcome, int]] = field(default_factory=dict)

    @property
    def employed_in_field(self) -> int:
        return sum(self.counts[outcome] for outcome in IN_FIELD)

    @property
    def share_employed_in_field(self) -> float | None:
        return self.employed_in_field / self.answered if self.answered else None


def _zero() -> dict[EmploymentOutcome, int]:
    return dict.fromkeys(EmploymentOutcome, 0)


async def outcomes(session: AsyncSession, cohort_id: uuid.UUID) -> OutcomeFigures:
    """The employment outcomes of a cohort's answered follow-ups (see OutcomeFigures)."""
    rows = await session.execute(
        select(
            Pairing.mentee_application_id,
            CheckIn.kind,
            CheckIn.employment_outcome,
            CheckIn.completed_at,
        )
        .join(Pairing, Pairing.id == CheckIn.pairing_id)
        .where(
            Pairing.cohort_id == cohort_id,
            CheckIn.kind.in_(sorted(FOLLOW_UPS)),
            CheckIn.completed_at.is_not(None),
            CheckIn.employment_outcome.is_not(None),
        )
    )
    latest: dict[uuid.UUID, tuple[tuple[int, datetime], EmploymentOutcome]] = {}
    by_kind = {kind: _zero() for kind in sorted(FOLLOW_UPS, key=_FOLLOW_UP_ORDER.__getitem__)}
    for mentee_id, kind, outcome, completed_at in rows:
        kind, outcome = CheckInKind(kind), EmploymentOutcome(outcome)
        by_kind[kind][outcome] += 1
        rank = (_FOLLOW_UP_ORDER[kind], aware(completed_at))
        if mentee_id not in latest or latest[mentee_id][0] < rank:
            latest[mentee_id] = (rank, outcome)
    counts = _zero()
    counts.update(Counter(outcome for _, outcome in latest.values()))
    return OutcomeFigures(answered=len(latest), counts=counts, by_kind=by_kind)


__all__ = [
    "CHECKIN_ANSWERED",
    "AlreadyAnswered",
    "CheckInAccess",
    "CheckInNotFound",
    "CheckInRow",
    "NotRespondent",
    "OutcomeFigures",
    "UpcomingCheckIn",
    "access_checkin_by_id",
    "answer_checkin",
    "checkin_path",
    "checkin_rows",
    "checkins_of_cohort",
    "checkins_of_user",
    "create_due_checkins",
    "outcomes",
    "send_reminders",
    "upcoming_checkins",
]
