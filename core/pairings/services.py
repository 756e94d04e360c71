"""Everything that reads or changes tandems: proposals, lifecycle actions, the agreement
and meetings. Pages, the JSON API and demo-data loaders all call these functions.

Rules of the lifecycle (who may do what, from which state) live in the pure table of
:mod:`core.pairings.lifecycle`; :func:`act` asks it with :func:`decide` and applies the
answer. Every write here adds its audit entry, its mails (through the outbox) and its
plugin event to the caller's *tenant session*; the caller commits once, so a change
and everything it causes are written together or not at all.

Who sees a tandem: its two participants (the users owning its mentee and mentor
applications, ``Application.user_id``) and the tenant's coordinators (role ``admin``).
Anyone else — another tenant (the tenant session finds nothing) or another participant
of the same tenant — gets :class:`PairingNotFound`, the same answer as for an id that
does not exist, so that ids reveal nothing.

Concurrency: the pairing and the agreement carry a ``version`` (SQLAlchemy's
``version_id_col``). Callers pass the version their page or client showed; a different
stored version, or a concurrent write detected at flush (``StaleDataError``), raises
:class:`Conflict` before anything is written. A proposal bumps the version of both
applications it uses, so that two coordinators proposing the same mentor at once
cannot together exceed the mentor's capacity: the second flush fails and becomes a
:class:`Conflict`.

Notes of meetings are private to the pair: :func:`meetings_of` returns them, and it is
the edges (pages, API) that leave them out for coordinators, checked by the tests.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from core.applications.models import Application, ApplicationKind, ApplicationStatus
from core.certificates.jobs import issue_on_completion
from core.db.base import utcnow
from core.db.sessions import TenantBoundSession
from core.events import publish_event
from core.identity import audit
from core.identity.models import Membership, User
from core.identity.sessions import aware
from core.mail import send_mail
from core.pairings.lifecycle import (
    OPEN_STATES,
    PARTICIPANTS,
    Action,
    Actor,
    Decision,
    PairingState,
    available_actions,
    decide,
)
from core.pairings.models import Agreement, Meeting, Pairing
from core.pairings.schemas import N_, MeetingData, check_goals, check_meeting, check_reason
from core.programmes.models import Cohort, Programme
from core.programmes.schemas import InvalidInput, Problem
from core.tenancy.models import Tenant

COORDINATOR_ROLE = "admin"
MAIL_TEMPLATE = "pairing_update"

# Audit actions (labels in core/templates/admin/audit.html). Lifecycle actions are
# audited as ``pairing_<action>``.
PAIRING_PROPOSED = "pairing_proposed"
AGREEMENT_SAVED = "agreement_saved"
AGREEMENT_ACCEPTED = "agreement_accepted"
MEETING_LOGGED = "meeting_logged"
MEETING_CHANGED = "meeting_changed"
MEETING_DELETED = "meeting_deleted"

# While these hold, the pair works on its agreement and logs meetings. A completed
# tandem may still log a last meeting it forgot; the agreement is settled by then.
AGREEMENT_STATES = frozenset({PairingState.ACTIVE, PairingState.PAUSED})
MEETING_STATES = frozenset({PairingState.ACTIVE, PairingState.PAUSED, PairingState.COMPLETED})
# The partner's e-mail address is shown once the tandem has started.
CONTACT_STATES = frozenset({PairingState.ACTIVE, PairingState.PAUSED, PairingState.COMPLETED})

NOT_FOUND = N_("Choose one of the applications offered.")
NOT_A_MENTEE = N_("This is not a mentee's application.")
NOT_A_MENTOR = N_("This is not a mentor's application.")
OTHER_COHORT = N_("This application belongs to another cohort.")
NOT_ACCEPTED = N_("Only accepted applications can be paired.")
MENTEE_PAIRED = N_("This mentee already has an open tandem.")
MENTOR_FULL = N_("This mentor has no capacity left (%(capacity)s open tandems).")
SAME_PERSON = N_("Mentee and mentor are the same person.")


def audit_action(action: Action) -> str:
    return f"pairing_{action}"


class Person(Protocol):
    """Who acts: the request's :class:`~core.identity.guards.CurrentUser`, or a stand-in."""

    @property
    def id(self) -> uuid.UUID: ...

    @property
    def roles(self) -> frozenset[str]: ...


class PairingNotFound(LookupError):
    """No such tandem for this person: unknown, another tenant's, or not theirs to see."""


class Conflict(Exception):
    """Someone else changed the record since the caller read it; nothing was written."""

    def __init__(self, pairing_id: uuid.UUID | None, what: str = "pairing") -> None:
        super().__init__(f"{what} of pairing {pairing_id} changed meanwhile")
        self.pairing_id = pairing_id
        self.what = what  # "pairing" or "agreement"


class Denied(StrEnum):
    """Why a write to the agreement or the meetings was refused (lifecycle refusals are
    :class:`~core.pairings.lifecycle.Refusal`)."""

    NOT_PARTICIPANT = "not_participant"  # coordinators read, only the pair writes
    AGREEMENT_CLOSED = "agreement_closed"  # not while proposed or after the end
    AGREEMENT_EMPTY = "agreement_empty"  # nothing written to accept yet
    AGREEMENT_ACCEPTED = "agreement_already_accepted"
    MEETINGS_CLOSED = "meetings_closed"
    MEETING_NOT_FOUND = "meeting_not_found"


class ActionDenied(Exception):
    def __init__(self, code: Denied) -> None:
        super().__init__(code.value)
        self.code = code


@dataclass(frozen=True)
class PairingAccess:
    """A tandem as one person may see it: both applications and what the person is in it."""

    pairing: Pairing
    mentee: Application
    mentor: Application
    actors: frozenset[Actor]
    user_id: uuid.UUID | None

    @property
    def is_participant(self) -> bool:
        return bool(self.actors & PARTICIPANTS)

    @property
    def is_coordinator(self) -> bool:
        return Actor.COORDINATOR in self.actors

    @property
    def state(self) -> PairingState:
        return PairingState(self.pairing.state)

    @property
    def accepted(self) -> frozenset[Actor]:
        return accepted_sides(self.pairing)

    def available_actions(self) -> list[Action]:
        return available_actions(self.state, self.actors, self.accepted)

    def side(self, as_actor: Actor | None = None) -> Actor:
        """The participant side this person acts as (ActionDenied if they are none)."""
        sides = [a for a in (Actor.MENTEE, Actor.MENTOR) if a in self.actors]
        if as_actor is not None:
            sides = [as_actor] if as_actor in sides else []
        if not sides:
            raise ActionDenied(Denied.NOT_PARTICIPANT)
        return sides[0]

    def partner_of(self, side: Actor) -> Application:
        return self.mentor if side is Actor.MENTEE else self.mentee

    @property
    def shows_contact(self) -> bool:
        return self.state in CONTACT_STATES


def accepted_sides(pairing: Pairing) -> frozenset[Actor]:
    sides = {Actor.MENTEE: pairing.mentee_accepted_at, Actor.MENTOR: pairing.mentor_accepted_at}
    return frozenset(side for side, at in sides.items() if at is not None)


def actors_of(user: Person, mentee: Application, mentor: Application) -> frozenset[Actor]:
    actors = set()
    if mentee.user_id is not None and mentee.user_id == user.id:
        actors.add(Actor.MENTEE)
    if mentor.user_id is not None and mentor.user_id == user.id:
        actors.add(Actor.MENTOR)
    if COORDINATOR_ROLE in user.roles:
        actors.add(Actor.COORDINATOR)
    return frozenset(actors)


# --- reading ----------------------------------------------------------------------------


async def access_pairing_by_id(
    session: AsyncSession, user: Person, pairing_id: uuid.UUID
) -> PairingAccess:
    """The tandem and what ``user`` is in it; PairingNotFound if they may not see it."""
    pairing = await session.get(Pairing, pairing_id)
    if pairing is None:
        raise PairingNotFound(pairing_id)
    return await _access(session, user, pairing)


async def _access(session: AsyncSession, user: Person, pairing: Pairing) -> PairingAccess:
    [access] = await _accesses(session, user, [pairing], only_visible=False)
    if not access.actors:
        raise PairingNotFound(pairing.id)
    return access


async def _accesses(
    session: AsyncSession, user: Person, pairings: Sequence[Pairing], *, only_visible: bool = True
) -> list[PairingAccess]:
    ids = {p.mentee_application_id for p in pairings} | {p.mentor_application_id for p in pairings}
    applications = await _applications(session, ids)
    result = []
    for pairing in pairings:
        mentee = applications[pairing.mentee_application_id]
        mentor = applications[pairing.mentor_application_id]
        actors = actors_of(user, mentee, mentor)
        if actors or not only_visible:
            result.append(PairingAccess(pairing, mentee, mentor, actors, user.id))
    return result


async def _applications(
    session: AsyncSession, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Application]:
    wanted = set(ids)
    if not wanted:
        return {}
    rows = await session.scalars(select(Application).where(Application.id.in_(wanted)))
    return {row.id: row for row in rows}


async def visible_pairings(
    session: AsyncSession,
    user: Person,
    *,
    cohort: Cohort | None = None,
    state: PairingState | None = None,
) -> list[PairingAccess]:
    """The tandems ``user`` may see, newest first: all of the tenant's for coordinators,
    their own for participants; optionally of one cohort and in one state."""
    query = select(Pairing).order_by(Pairing.proposed_at.desc(), Pairing.id)
    if cohort is not None:
        query = query.where(Pairing.cohort_id == cohort.id)
    if state is not None:
        query = query.where(Pairing.state == state)
    if COORDINATOR_ROLE not in user.roles:
        own = select(Application.id).where(Application.user_id == user.id)
        query = query.where(
            Pairing.mentee_application_id.in_(own) | Pairing.mentor_application_id.in_(own)
        )
    pairings = list(await session.scalars(query))
    return await _accesses(session, user, pairings)


async def own_pairings(session: AsyncSession, user: Person) -> list[PairingAccess]:
    """The tandems in which ``user`` is mentee or mentor (whatever their other roles)."""
    own = select(Application.id).where(Application.user_id == user.id)
    query = (
        select(Pairing)
        .where(Pairing.mentee_application_id.in_(own) | Pairing.mentor_application_id.in_(own))
        .order_by(Pairing.proposed_at.desc(), Pairing.id)
    )
    return await _accesses(session, user, list(await session.scalars(query)))


async def cohort_by_slug(session: AsyncSession, slug: str) -> Cohort | None:
    # A minimal lookup of our own until core.programmes.services offers one.
    return await session.scalar(select(Cohort).where(Cohort.slug == slug))


@dataclass(frozen=True)
class CohortFacts:
    """What the tandem pages show of a tandem's cohort and programme."""

    slug: str
    name: str
    expected_hours: int | None


async def cohort_facts(
    session: AsyncSession, cohort_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, CohortFacts]:
    ids = set(cohort_ids)
    if not ids:
        return {}
    rows = await session.execute(
        select(Cohort.id, Cohort.slug, Cohort.name, Programme.expected_hours)
        .join(Programme, Programme.id == Cohort.programme_id)
        .where(Cohort.id.in_(ids))
    )
    return {row[0]: CohortFacts(row[1], row[2], row[3]) for row in rows}


async def minutes_logged(
    session: AsyncSession, pairing_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """Minutes of meetings logged per tandem (0 for none)."""
    ids = set(pairing_ids)
    if not ids:
        return {}
    rows = await session.execute(
        select(Meeting.pairing_id, func.coalesce(func.sum(Meeting.minutes), 0))
        .where(Meeting.pairing_id.in_(ids))
        .group_by(Meeting.pairing_id)
    )
    totals = {pairing_id: int(total) for pairing_id, total in rows}
    return {pairing_id: totals.get(pairing_id, 0) for pairing_id in ids}


async def open_counts(
    session: AsyncSession, column: Any, application_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """Open tandems per application (``column`` is the mentee or mentor column)."""
    ids = set(application_ids)
    if not ids:
        return {}
    rows = await session.execute(
        select(column, func.count())
        .where(column.in_(ids), Pairing.state.in_(sorted(OPEN_STATES)))
        .group_by(column)
    )
    return {application_id: int(count) for application_id, count in rows}


def capacity_of(mentor: Application) -> int:
    return mentor.capacity if mentor.capacity and mentor.capacity > 0 else 1


@dataclass(frozen=True)
class Candidates:
    """Who can be paired in a cohort now: mentees without an open tandem, mentors with
    room (and how many more mentees each can take)."""

    mentees: list[Application]
    mentors: list[tuple[Application, int]]


async def proposal_candidates(session: AsyncSession, cohort: Cohort) -> Candidates:
    accepted = list(
        await session.scalars(
            select(Application)
            .where(
                Application.cohort_id == cohort.id,
                Application.status == ApplicationStatus.ACCEPTED,
            )
            .order_by(Application.name, Application.id)
        )
    )
    mentees = [a for a in accepted if a.kind == ApplicationKind.MENTEE]
    mentors = [a for a in accepted if a.kind == ApplicationKind.MENTOR]
    paired = await open_counts(session, Pairing.mentee_application_id, [a.id for a in mentees])
    load = await open_counts(session, Pairing.mentor_application_id, [a.id for a in mentors])
    return Candidates(
        mentees=[a for a in mentees if not paired.get(a.id)],
        mentors=[
            (a, capacity_of(a) - load.get(a.id, 0))
            for a in mentors
            if capacity_of(a) > load.get(a.id, 0)
        ],
    )


# --- proposing --------------------------------------------------------------------------


async def propose_by_ids(
    session: AsyncSession,
    cohort: Cohort,
    mentee_application_id: uuid.UUID | None,
    mentor_application_id: uuid.UUID | None,
    by: Person | None,
    **options: Any,
) -> Pairing:
    """:func:`propose` for the ids a form or client sent (unknown ones are problems)."""
    found = await _applications(
        session, [i for i in (mentee_application_id, mentor_application_id) if i is not None]
    )
    mentee = found.get(mentee_application_id) if mentee_application_id else None
    mentor = found.get(mentor_application_id) if mentor_application_id else None
    problems: dict[str, Problem] = {}
    if mentee is None:
        problems["mentee_application_id"] = Problem(NOT_FOUND)
    if mentor is None:
        problems["mentor_application_id"] = Problem(NOT_FOUND)
    if mentee is None or mentor is None:
        raise InvalidInput(problems)
    return await propose(session, cohort, mentee, mentor, by, **options)


async def propose(
    session: AsyncSession,
    cohort: Cohort,
    mentee_application: Application,
    mentor_application: Application,
    by: Person | None,
    score: float | None = None,
    explanation: Mapping[str, Any] | None = None,
    *,
    ip: str | None = None,
    base_url: str = "",
    now: datetime | None = None,
) -> Pairing:
    """Propose a tandem of two accepted applications of ``cohort``; both are told by mail.

    ``by`` is the coordinator (None for a system run); who may propose is the caller's
    check. Raises InvalidInput (keys ``mentee_application_id``, ``mentor_application_id``)
    when the two cannot be paired, Conflict when a concurrent proposal used them.
    """
    mentee, mentor = mentee_application, mentor_application
    now = now or utcnow()
    problems: dict[str, Problem] = {}
    mentee_problem = _eligible(mentee, ApplicationKind.MENTEE, cohort)
    if mentee_problem is None:
        counts = await open_counts(session, Pairing.mentee_application_id, [mentee.id])
        if counts.get(mentee.id):
            mentee_problem = Problem(MENTEE_PAIRED)
    mentor_problem = _eligible(mentor, ApplicationKind.MENTOR, cohort)
    if mentor_problem is None:
        counts = await open_counts(session, Pairing.mentor_application_id, [mentor.id])
        if counts.get(mentor.id, 0) >= capacity_of(mentor):
            mentor_problem = Problem(MENTOR_FULL, {"capacity": capacity_of(mentor)})
    if mentor_problem is None and mentee.user_id is not None and mentee.user_id == mentor.user_id:
        mentor_problem = Problem(SAME_PERSON)
    for key, problem in (
        ("mentee_application_id", mentee_problem),
        ("mentor_application_id", mentor_problem),
    ):
        if problem is not None:
            problems[key] = problem
    if problems:
        raise InvalidInput(problems)

    pairing = Pairing(
        cohort_id=cohort.id,
        mentee_application_id=mentee.id,
        mentor_application_id=mentor.id,
        state=PairingState.PROPOSED,
        proposed_by_user_id=by.id if by is not None else None,
        proposed_at=now,
        score=score,
        explanation=dict(explanation or {}),
    )
    session.add(pairing)
    # Touch both applications: their version bumps, so a concurrent proposal that read
    # the same open-tandem counts fails at flush instead of overbooking the mentor.
    mentee.updated_at = now
    mentor.updated_at = now
    await _flush(session, None, on_duplicate=("mentee_application_id", Problem(MENTEE_PAIRED)))
    access = PairingAccess(pairing, mentee, mentor, frozenset({Actor.COORDINATOR}), _id_of(by))
    details = {
        "pairing_id": str(pairing.id),
        "mentee": mentee.name,
        "mentor": mentor.name,
        "cohort": cohort.slug,
    }
    audit.record(session, PAIRING_PROPOSED, _id_of(by), details, ip, now=now)
    await _notify(session, access, "proposed", {Actor.MENTEE, Actor.MENTOR}, base_url=base_url)
    publish_event(session, "pairing.proposed", _event_payload(pairing, None, None))
    return pairing


def _id_of(by: Person | None) -> uuid.UUID | None:
    return by.id if by is not None else None


def _eligible(application: Application, kind: ApplicationKind, cohort: Cohort) -> Problem | None:
    if application.kind != kind:
        return Problem(NOT_A_MENTEE if kind is ApplicationKind.MENTEE else NOT_A_MENTOR)
    if application.cohort_id != cohort.id:
        return Problem(OTHER_COHORT)
    if application.status != ApplicationStatus.ACCEPTED:
        return Problem(NOT_ACCEPTED)
    return None


async def _flush(
    session: AsyncSession,
    pairing_id: uuid.UUID | None,
    *,
    on_duplicate: tuple[str, Problem] | None = None,
) -> None:
    """Flush; a concurrent change becomes Conflict (the caller's transaction rolls back)."""
    try:
        await session.flush()
    except StaleDataError:
        raise Conflict(pairing_id) from None
    except IntegrityError:
        if on_duplicate is None:
            raise
        # The unique index on a mentee's open tandem, hit by a concurrent proposal.
        raise InvalidInput(dict([on_duplicate])) from None


# --- lifecycle actions ------------------------------------------------------------------


async def act(
    session: AsyncSession,
    pairing: Pairing,
    action: Action | str,
    user: Person,
    expected_version: int,
    reason: str = "",
    as_actor: Actor | None = None,
    *,
    ip: str | None = None,
    base_url: str = "",
    now: datetime | None = None,
) -> Decision:
    """Do ``action`` on ``pairing`` as ``user``, who saw it at ``expected_version``.

    Raises PairingNotFound (not theirs to see), Conflict (changed meanwhile),
    InvalidInput (a reason that is too long), TransitionRefused (the lifecycle says
    no). Otherwise the change, its audit entry, its mails and its plugin event are
    added to ``session`` and flushed; the caller commits.
    """
    action = Action(action)
    access = await _access(session, user, pairing)
    if pairing.version != expected_version:
        raise Conflict(pairing.id)
    reason = check_reason(reason)
    source = PairingState(pairing.state)
    decision = decide(
        source, action, access.actors, accepted=access.accepted, reason=reason, as_actor=as_actor
    )
    now = now or utcnow()
    _apply(pairing, decision, reason, now)
    await _flush(session, pairing.id)

    details: dict[str, Any] = {
        "pairing_id": str(pairing.id),
        "as": decision.actor.value,
        "from": source.value,
        "to": decision.target.value,
    }
    if reason:
        details["reason"] = reason
    audit.record(session, audit_action(action), user.id, details, ip, now=now)
    event, recipients = _recipients_of(decision)
    await _notify(
        session,
        access,
        event,
        recipients,
        # The mail that the tandem started carries the partner's address: the person
        # whose acceptance started it needs it as much as the other.
        skip_user=None if event == "active" else user.id,
        reason=reason,
        base_url=base_url,
    )
    publish_event(session, f"pairing.{action}", _event_payload(pairing, decision, source))
    if decision.changes_state and decision.target is PairingState.COMPLETED:
        issue_on_completion(session, pairing)  # a job issues and renders the certificates
    await session.flush()
    return decision


def _apply(pairing: Pairing, decision: Decision, reason: str, now: datetime) -> None:
    if decision.accepted_side is Actor.MENTEE:
        pairing.mentee_accepted_at = now
    elif decision.accepted_side is Actor.MENTOR:
        pairing.mentor_accepted_at = now
    target = decision.target
    if decision.changes_state:
        pairing.state = target
    if target is PairingState.ACTIVE and decision.action is Action.ACCEPT:
        pairing.activated_at = now
    if target is PairingState.PAUSED:
        pairing.paused_at = now
    if decision.action is Action.RESUME:
        pairing.paused_at = None
    if decision.changes_state and target not in OPEN_STATES:
        pairing.ended_at = now
        if reason:
            pairing.reason = reason


def _recipients_of(decision: Decision) -> tuple[str, set[Actor]]:
    """The mail to send for a decision, and to whom (the acting side is left out)."""
    everyone = {Actor.MENTEE, Actor.MENTOR, Actor.COORDINATOR}
    if decision.action is Action.ACCEPT:
        if decision.changes_state:  # both accepted: the tandem starts
            return "active", everyone
        return "partner_accepted", set(PARTICIPANTS) - {decision.actor}
    event = {
        Action.DECLINE: "declined",
        Action.WITHDRAW: "withdrawn",
        Action.PAUSE: "paused",
        Action.RESUME: "resumed",
        Action.COMPLETE: "completed",
        Action.DISSOLVE: "dissolved",
    }[decision.action]
    return event, everyone - ({decision.actor} & PARTICIPANTS)


def _event_payload(
    pairing: Pairing, decision: Decision | None, source: PairingState | None
) -> dict[str, Any]:
    # Ids and states only: plugins (webhooks) send events elsewhere, and names and
    # e-mail addresses have no business leaving the platform that way.
    payload: dict[str, Any] = {
        "pairing_id": str(pairing.id),
        "cohort_id": str(pairing.cohort_id),
        "mentee_application_id": str(pairing.mentee_application_id),
        "mentor_application_id": str(pairing.mentor_application_id),
        "state": PairingState(pairing.state).value,
    }
    if decision is not None and source is not None:
        payload |= {"action": decision.action.value, "actor": decision.actor.value}
        payload["previous_state"] = source.value
    return payload


# --- notifications ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Recipient:
    email: str
    locale: str
    role: Actor


async def _notify(
    session: AsyncSession,
    access: PairingAccess,
    event: str,
    roles: set[Actor],
    *,
    skip_user: uuid.UUID | None = None,
    reason: str = "",
    base_url: str = "",
) -> None:
    """Mail ``event`` to the people in ``roles``, each in their own language."""
    pairing, mentee, mentor = access.pairing, access.mentee, access.mentor
    recipients: list[_Recipient] = []
    for role, application in ((Actor.MENTEE, mentee), (Actor.MENTOR, mentor)):
        acted = skip_user is not None and application.user_id == skip_user
        if role in roles and not acted:
            recipients.append(_Recipient(application.email, application.locale, role))
    if Actor.COORDINATOR in roles:
        recipients += await _coordinators(session, skip_user)
    for recipient in recipients:
        side = recipient.role
        partner = None if side is Actor.COORDINATOR else access.partner_of(side)
        context: dict[str, Any] = {
            "event": event,
            "role": side.value,
            "mentee_name": mentee.name,
            "mentor_name": mentor.name,
            "partner_name": partner.name if partner else "",
            # The address is shared once the tandem has started (mail "active").
            "partner_email": partner.email if partner and event == "active" else "",
            "reason": reason,
            "link": _link(base_url, side, pairing),
        }
        send_mail(
            session,
            to=recipient.email,
            template=MAIL_TEMPLATE,
            context=context,
            locale=recipient.locale,
        )


def _link(base_url: str, side: Actor, pairing: Pairing) -> str:
    if not base_url:
        return ""
    if side is Actor.COORDINATOR:
        return f"{base_url}/tandem/{pairing.id}"
    return f"{base_url}/tandem"


async def _coordinators(session: AsyncSession, skip_user: uuid.UUID | None) -> list[_Recipient]:
    memberships = await session.scalars(select(Membership))
    ids = {m.user_id for m in memberships if m.has_role(COORDINATOR_ROLE)} - {skip_user}
    if not ids:
        return []
    sync_session = session.sync_session
    assert isinstance(sync_session, TenantBoundSession)
    tenant = await session.get(Tenant, sync_session.tenant_id)
    default = tenant.default_locale if tenant is not None else "en"
    offered = set(tenant.locales or []) if tenant is not None else set()
    users = await session.scalars(select(User).where(User.id.in_(ids)).order_by(User.id))
    return [
        _Recipient(u.email, u.locale if u.locale in offered else default, Actor.COORDINATOR)
        for u in users
        if u.email
    ]


# --- the agreement ----------------------------------------------------------------------


async def agreement_of(session: AsyncSession, pairing: Pairing) -> Agreement | None:
    return await session.scalar(select(Agreement).where(Agreement.pairing_id == pairing.id))


def _writable_agreement(access: PairingAccess) -> None:
    if not access.is_participant:
        raise ActionDenied(Denied.NOT_PARTICIPANT)
    if access.state not in AGREEMENT_STATES:
        raise ActionDenied(Denied.AGREEMENT_CLOSED)


async def save_goals(
    session: AsyncSession,
    access: PairingAccess,
    goals: Any,
    expected_version: int,
    *,
    ip: str | None = None,
) -> Agreement:
    """Write or change the goals (either participant); clears both acceptances.

    ``expected_version`` is the agreement's version the writer saw, 0 if there was none.
    """
    _writable_agreement(access)
    agreement = await agreement_of(session, access.pairing)
    if (agreement.version if agreement else 0) != expected_version:
        raise Conflict(access.pairing.id, "agreement")
    text = check_goals(goals)
    if agreement is None:
        agreement = Agreement(pairing_id=access.pairing.id, goals=text)
        session.add(agreement)
    elif agreement.goals == text:
        return agreement  # nothing changed: acceptances stand
    else:
        agreement.goals = text
        agreement.mentee_accepted_at = None
        agreement.mentor_accepted_at = None
    agreement.updated_by_user_id = access.user_id
    await _flush_agreement(session, access)
    details = {"pairing_id": str(access.pairing.id)}
    audit.record(session, AGREEMENT_SAVED, access.user_id, details, ip)
    return agreement


async def accept_agreement(
    session: AsyncSession,
    access: PairingAccess,
    expected_version: int,
    as_actor: Actor | None = None,
    *,
    ip: str | None = None,
    now: datetime | None = None,
) -> Agreement:
    """The participant accepts the goals as they are at ``expected_version``."""
    _writable_agreement(access)
    side = access.side(as_actor)
    agreement = await agreement_of(session, access.pairing)
    if agreement is None or not agreement.goals:
        raise ActionDenied(Denied.AGREEMENT_EMPTY)
    if agreement.version != expected_version:
        raise Conflict(access.pairing.id, "agreement")
    now = now or utcnow()
    if side is Actor.MENTEE:
        if agreement.mentee_accepted_at is not None:
            raise ActionDenied(Denied.AGREEMENT_ACCEPTED)
        agreement.mentee_accepted_at = now
    else:
        if agreement.mentor_accepted_at is not None:
            raise ActionDenied(Denied.AGREEMENT_ACCEPTED)
        agreement.mentor_accepted_at = now
    await _flush_agreement(session, access)
    details = {"pairing_id": str(access.pairing.id), "as": side.value}
    audit.record(session, AGREEMENT_ACCEPTED, access.user_id, details, ip, now=now)
    return agreement


async def _flush_agreement(session: AsyncSession, access: PairingAccess) -> None:
    # Two first drafts at once collide on the unique (tenant, pairing): also a conflict.
    try:
        await session.flush()
    except (StaleDataError, IntegrityError):
        raise Conflict(access.pairing.id, "agreement") from None


# --- meetings ---------------------------------------------------------------------------


async def meetings_of(session: AsyncSession, pairing: Pairing) -> list[Meeting]:
    """The tandem's meetings, latest first, notes included: the edges hide them from
    coordinators."""
    query = (
        select(Meeting)
        .where(Meeting.pairing_id == pairing.id)
        .order_by(Meeting.held_on.desc(), Meeting.created_at.desc())
    )
    return list(await session.scalars(query))


def _writable_meetings(access: PairingAccess) -> None:
    if not access.is_participant:
        raise ActionDenied(Denied.NOT_PARTICIPANT)
    if access.state not in MEETING_STATES:
        raise ActionDenied(Denied.MEETINGS_CLOSED)


def _checked_meeting(
    access: PairingAccess, raw: Mapping[str, Any], today: date | None
) -> MeetingData:
    earliest = aware(access.pairing.proposed_at).date()
    return check_meeting(raw, today=today or utcnow().date(), earliest=earliest)


async def log_meeting(
    session: AsyncSession,
    access: PairingAccess,
    raw: Mapping[str, Any],
    *,
    ip: str | None = None,
    today: date | None = None,
) -> Meeting:
    """Log a meeting (either participant); clears the tandem's "at risk" flag."""
    _writable_meetings(access)
    data = _checked_meeting(access, raw, today)
    meeting = Meeting(
        pairing_id=access.pairing.id,
        held_on=data.held_on,
        minutes=data.minutes,
        format=data.format,
        topic=data.topic,
        notes=data.notes,
        created_by_user_id=access.user_id,
    )
    session.add(meeting)
    if access.pairing.at_risk_since is not None:
        access.pairing.at_risk_since = None
    await _flush(session, access.pairing.id)
    _audit_meeting(session, MEETING_LOGGED, access, meeting, ip)
    return meeting


async def _own_meeting(
    session: AsyncSession, access: PairingAccess, meeting_id: uuid.UUID
) -> Meeting:
    meeting = await session.scalar(
        select(Meeting).where(Meeting.id == meeting_id, Meeting.pairing_id == access.pairing.id)
    )
    if meeting is None:
        raise ActionDenied(Denied.MEETING_NOT_FOUND)
    return meeting


async def find_meeting(
    session: AsyncSession, access: PairingAccess, meeting_id: uuid.UUID
) -> Meeting:
    """One of the tandem's meetings, for a participant to edit."""
    _writable_meetings(access)
    return await _own_meeting(session, access, meeting_id)


async def change_meeting(
    session: AsyncSession,
    access: PairingAccess,
    meeting_id: uuid.UUID,
    raw: Mapping[str, Any],
    *,
    ip: str | None = None,
    today: date | None = None,
) -> Meeting:
    _writable_meetings(access)
    meeting = await _own_meeting(session, access, meeting_id)
    data = _checked_meeting(access, raw, today)
    meeting.held_on = data.held_on
    meeting.minutes = data.minutes
    meeting.format = data.format
    meeting.topic = data.topic
    meeting.notes = data.notes
    await session.flush()
    _audit_meeting(session, MEETING_CHANGED, access, meeting, ip)
    return meeting


async def delete_meeting(
    session: AsyncSession,
    access: PairingAccess,
    meeting_id: uuid.UUID,
    *,
    ip: str | None = None,
) -> None:
    _writable_meetings(access)
    meeting = await _own_meeting(session, access, meeting_id)
    await session.delete(meeting)
    await session.flush()
    _audit_meeting(session, MEETING_DELETED, access, meeting, ip)


def _audit_meeting(
    session: AsyncSession, action: str, access: PairingAccess, meeting: Meeting, ip: str | None
) -> None:
    # Never the notes: coordinators read the audit log.
    details = {
        "pairing_id": str(access.pairing.id),
        "held_on": meeting.held_on.isoformat(),
        "minutes": meeting.minutes,
    }
    audit.record(session, action, access.user_id, details, ip)
