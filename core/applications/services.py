"""Every read and write of applications and intake; the pages and the API call these.

All functions take a *tenant* session: another tenant's cohort or application is
simply not found (None → 404 at the edge). Writes do not commit: the caller's
transaction holds the change, its audit entry, its plugin event and its mail (both
through the outbox), so they happen together or not at all.

Intake, step by step:

* :func:`submit_application` — public; one application per address, cohort and kind;
  confirmation mail in the applicant's language.
* :func:`start_review` — the coordinator plans or holds the intake talk (Erstgespräch).
* :func:`add_note` — what was said in that talk; coordinators only.
* :func:`decide` — accept, waitlist or reject (with a reason). Accepting invites the
  applicant (:mod:`core.identity.invitations`) with the role ``mentee`` or ``mentor``;
  signing in through that invitation links the application to the account.
* :func:`withdraw` — the applicant, signed in, takes the application back; not while
  it holds them in an open tandem (proposed, active or paused), which a coordinator or
  the tandem's own end must settle first.

Decisions are safe against two coordinators at once: the caller passes the
``version`` it showed, a different current version is a :class:`StaleApplicationError`
(409), and the row's ``version_id_col`` catches a race the comparison cannot see.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from litestar.exceptions import NotFoundException
from sqlalchemy import Select, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from core.applications.models import (
    Application,
    ApplicationKind,
    ApplicationStatus,
    IntakeNote,
)
from core.applications.schemas import MAX_SEARCH_LENGTH, ApplicationData, Filters
from core.db.base import utcnow
from core.events import publish_event
from core.i18n import N_
from core.i18n.catalogs import gettext
from core.identity import audit
from core.identity.accounts import membership_of, set_roles
from core.identity.guards import CurrentUser
from core.identity.invitations import create_invitation
from core.identity.models import normalise_roles
from core.mail import send_mail
from core.pairings.lifecycle import OPEN_STATES
from core.pairings.models import Pairing
from core.programmes.models import Cohort, Programme
from core.programmes.services import (
    access_cohort_by_slug,
    access_programme_by_slug,
    is_admin,
    today,
)

# Audit actions.
APPLICATION_SUBMITTED = "application_submitted"
APPLICATION_IN_REVIEW = "application_in_review"
APPLICATION_ACCEPTED = "application_accepted"
APPLICATION_WAITLISTED = "application_waitlisted"
APPLICATION_REJECTED = "application_rejected"
APPLICATION_WITHDRAWN = "application_withdrawn"
INTAKE_NOTE_ADDED = "intake_note_added"

DECISIONS = (
    ApplicationStatus.ACCEPTED,
    ApplicationStatus.WAITLISTED,
    ApplicationStatus.REJECTED,
)
# Where a decision can be made from: a waitlisted applicant can still get a place.
DECIDABLE = frozenset(
    {ApplicationStatus.SUBMITTED, ApplicationStatus.IN_REVIEW, ApplicationStatus.WAITLISTED}
)
WITHDRAWABLE = frozenset(
    {
        ApplicationStatus.SUBMITTED,
        ApplicationStatus.IN_REVIEW,
        ApplicationStatus.WAITLISTED,
        ApplicationStatus.ACCEPTED,
    }
)
MAX_NOTE_LENGTH = 5000
MAX_REASON_LENGTH = 2000
LIST_LIMIT = 500


class ApplicationsClosedError(Exception):
    """The cohort does not take applications today."""


class DuplicateApplicationError(Exception):
    """This address has applied to this cohort as this kind already."""


class StaleApplicationError(Exception):
    """Someone else changed the application since the caller saw it."""


class ApplicationStateError(Exception):
    """The application's status does not allow this step (already decided, withdrawn…)."""


class InTandemError(ApplicationStateError):
    """The application holds its applicant in an open tandem: withdrawing it would leave
    the partner in a tandem with someone who is no longer in the programme."""


IN_TANDEM = N_(
    "You are in a tandem through this application, so it cannot be withdrawn here. "
    "Please talk to your coordinator, or end the tandem first."
)


class ReasonRequiredError(ValueError):
    """A rejection needs a reason: the applicant is told it."""


# --- cohorts ------------------------------------------------------------------------------


async def find_cohort(session: AsyncSession, cohort_slug: str) -> tuple[Programme, Cohort] | None:
    """The session's tenant's cohort ``cohort_slug`` (unique in a tenant) with its programme.

    The intake and API URLs name only the cohort; :mod:`core.programmes.services` looks
    cohorts up within a programme.
    """
    query = (
        select(Programme, Cohort)
        .join(Cohort, Cohort.programme_id == Programme.id)
        .where(Cohort.slug == cohort_slug)
    )
    row = (await session.execute(query)).first()
    return (row[0], row[1]) if row else None


# --- submitting ---------------------------------------------------------------------------


def _event_payload(application: Application, cohort: Cohort) -> dict[str, Any]:
    # No personal data: events leave the platform (webhooks); receivers fetch the rest.
    return {
        "application_id": str(application.id),
        "cohort": cohort.slug,
        "kind": str(application.kind),
        "status": str(application.status),
    }


async def submit_application(
    session: AsyncSession,
    *,
    programme: Programme,
    cohort: Cohort,
    data: ApplicationData,
    locale: str,
    user_id: uuid.UUID | None = None,
    ip: str | None = None,
    on: date | None = None,
    send_confirmation: bool = True,
) -> Application:
    """Add the application, its audit entry, its event and the confirmation mail.

    Raises :class:`ApplicationsClosedError` outside the cohort's window and
    :class:`DuplicateApplicationError` for a second application of the same address,
    kind and cohort (also when two arrive at once: the unique constraint decides).
    """
    if not cohort.accepts_applications(on or today()):
        raise ApplicationsClosedError()
    if await _has_applied(session, cohort.id, data.kind, data.email):
        raise DuplicateApplicationError()
    application = Application(
        id=uuid.uuid4(),
        cohort_id=cohort.id,
        status=ApplicationStatus.SUBMITTED,
        user_id=user_id,
        locale=locale,
        consent_given_at=utcnow(),
        **_model_fields(data),
    )
    session.add(application)
    try:
        await session.flush()
    except IntegrityError:
        raise DuplicateApplicationError() from None
    details = {"application_id": str(application.id), "cohort": cohort.slug, "kind": data.kind}
    audit.record(session, APPLICATION_SUBMITTED, user_id, details, ip)
    publish_event(session, "application.submitted", _event_payload(application, cohort))
    if send_confirmation:
        send_mail(
            session,
            to=application.email,
            template="application_received",
            context=_mail_context(application, programme, cohort),
            locale=locale,
        )
    return application


def _model_fields(data: ApplicationData) -> dict[str, Any]:
    return asdict(data)  # the same names as the model's columns


async def _has_applied(
    session: AsyncSession, cohort_id: uuid.UUID, kind: ApplicationKind, email: str
) -> bool:
    query = select(Application.id).where(
        Application.cohort_id == cohort_id,
        Application.kind == kind,
        Application.email == email.lower(),
    )
    return (await session.scalar(query)) is not None


def _mail_context(
    application: Application, programme: Programme, cohort: Cohort, **more: Any
) -> dict[str, Any]:
    return {
        "name": application.name,
        "kind": str(application.kind),
        "programme": programme.name,
        "cohort": cohort.name,
        "starts_on": cohort.starts_on.isoformat(),
        **more,
    }


# --- the coordinators' list -----------------------------------------------------------------


async def list_applications(
    session: AsyncSession, cohort: Cohort, filters: Filters | None = None
) -> Sequence[Application]:
    """The cohort's applications matching ``filters``, oldest first (first come, first seen)."""
    filters = filters or Filters()
    query = select(Application).where(Application.cohort_id == cohort.id)
    if filters.kind is not None:
        query = query.where(Application.kind == filters.kind)
    if filters.status is not None:
        query = query.where(Application.status == filters.status)
    if filters.occupation:
        query = query.where(Application.occupation_code.startswith(filters.occupation))
    if filters.german_level:
        query = query.where(Application.german_level == filters.german_level)
    if filters.recognition is not None:
        query = query.where(Application.recognition_status == filters.recognition)
    if filters.text:
        text = filters.text[:MAX_SEARCH_LENGTH]
        query = query.where(
            Application.name.icontains(text, autoescape=True)
            | Application.email.icontains(text.lower(), autoescape=True)
        )
    query = query.order_by(Application.created_at, Application.id).limit(LIST_LIMIT)
    return (await session.scalars(query)).all()


async def status_counts(
    session: AsyncSession, cohort: Cohort, kind: ApplicationKind | None = None
) -> dict[ApplicationStatus, int]:
    """How many of the cohort's applications (of ``kind``) are in each status."""
    query = (
        select(Application.status, func.count())
        .where(Application.cohort_id == cohort.id)
        .group_by(Application.status)
    )
    if kind is not None:
        query = query.where(Application.kind == kind)
    counts = {status: 0 for status in ApplicationStatus}
    for status, count in (await session.execute(query)).all():
        counts[ApplicationStatus(status)] = count
    return counts


async def get_application(
    session: AsyncSession, cohort: Cohort, application_id: uuid.UUID
) -> Application | None:
    """The application if it belongs to ``cohort`` (and so to the session's tenant)."""
    return await session.scalar(
        select(Application).where(
            Application.id == application_id, Application.cohort_id == cohort.id
        )
    )


async def notes_of(session: AsyncSession, application: Application) -> Sequence[IntakeNote]:
    query = (
        select(IntakeNote)
        .where(IntakeNote.application_id == application.id)
        .order_by(IntakeNote.created_at, IntakeNote.id)
    )
    return (await session.scalars(query)).all()


# --- intake steps ---------------------------------------------------------------------------


ENTER_NOTE = N_("Write the note first.")
ENTER_REASON = N_("Give a reason: the applicant is told it.")
CHOOSE_DECISION = N_("Choose accept, waiting list or reject.")
TOO_LONG = N_("Use at most %(max_length)s characters.")


def check_note(body: str, locale: str) -> tuple[str, str | None]:
    """The note's text, stripped, and an error in ``locale`` (empty or too long)."""
    body = body.strip()
    if not body:
        return body, gettext(locale, ENTER_NOTE)
    if len(body) > MAX_NOTE_LENGTH:
        return body[: MAX_NOTE_LENGTH + 1], gettext(locale, TOO_LONG, max_length=MAX_NOTE_LENGTH)
    return body, None


def check_decision(
    decision: str, reason: str, locale: str
) -> tuple[ApplicationStatus | None, str, dict[str, str]]:
    """The decision, its stripped reason, and errors by field (``decision``, ``reason``)."""
    chosen = next((d for d in DECISIONS if d.value == decision), None)
    reason = reason.strip()
    errors: dict[str, str] = {}
    if chosen is None:
        errors["decision"] = gettext(locale, CHOOSE_DECISION)
    if len(reason) > MAX_REASON_LENGTH:
        reason = reason[: MAX_REASON_LENGTH + 1]
        errors["reason"] = gettext(locale, TOO_LONG, max_length=MAX_REASON_LENGTH)
    elif chosen is ApplicationStatus.REJECTED and not reason:
        errors["reason"] = gettext(locale, ENTER_REASON)
    return chosen, reason, errors


def add_note(
    session: AsyncSession,
    application: Application,
    body: str,
    author: uuid.UUID | None,
    *,
    ip: str | None = None,
) -> IntakeNote:
    """Add a coordinators-only note; ``body`` must be non-empty (checked by the caller)."""
    note = IntakeNote(
        id=uuid.uuid4(), application_id=application.id, author_user_id=author, body=body
    )
    session.add(note)
    details = {"application_id": str(application.id), "note_id": str(note.id)}
    audit.record(session, INTAKE_NOTE_ADDED, author, details, ip)
    return note


def _check_version(application: Application, seen_version: int | None) -> None:
    if seen_version is not None and seen_version != application.version:
        raise StaleApplicationError()


async def _flush(session: AsyncSession) -> None:
    try:
        await session.flush()
    except StaleDataError:
        # Another transaction changed the row between our read and our write.
        raise StaleApplicationError() from None


async def start_review(
    session: AsyncSession,
    target: IntakeTarget,
    actor: uuid.UUID | None,
    *,
    seen_version: int | None,
    ip: str | None = None,
) -> None:
    """``submitted`` → ``in_review``: the intake talk is planned or held."""
    cohort, application = target.cohort, target.application
    _check_version(application, seen_version)
    if application.status is not ApplicationStatus.SUBMITTED:
        raise ApplicationStateError()
    application.status = ApplicationStatus.IN_REVIEW
    details = {"application_id": str(application.id), "cohort": cohort.slug}
    audit.record(session, APPLICATION_IN_REVIEW, actor, details, ip)
    publish_event(session, "application.in_review", _event_payload(application, cohort))
    await _flush(session)


async def decide(
    session: AsyncSession,
    target: IntakeTarget,
    decision: ApplicationStatus,
    reason: str,
    actor: uuid.UUID | None,
    *,
    seen_version: int | None,
    base_url: str,
    ip: str | None = None,
) -> None:
    """Accept, waitlist or reject; tell the applicant by mail in their language.

    ``base_url`` (``https://muenchen.example.org``) is where the acceptance mail's link
    leads: ``/invite/<token>`` for someone without an account here yet, ``/login`` for
    someone who applied signed in (they get the role at once).
    """
    programme, cohort, application = target.programme, target.cohort, target.application
    if decision not in DECISIONS:
        raise ValueError(f"not a decision: {decision!r}")
    _check_version(application, seen_version)
    if application.status not in DECIDABLE:
        raise ApplicationStateError()
    reason = reason.strip()
    if decision is ApplicationStatus.REJECTED and not reason:
        raise ReasonRequiredError()
    more: dict[str, Any] = {"reason": reason}
    if decision is ApplicationStatus.ACCEPTED:
        more.update(await _grant_access(session, application, actor, base_url, ip))
    application.status = decision
    application.decision_reason = reason
    application.decided_at = utcnow()
    application.decided_by_user_id = actor
    details = {
        "application_id": str(application.id),
        "cohort": cohort.slug,
        "kind": str(application.kind),
    }
    if reason:
        details["reason"] = reason
    audit.record(session, f"application_{decision.value}", actor, details, ip)
    publish_event(session, f"application.{decision.value}", _event_payload(application, cohort))
    send_mail(
        session,
        to=application.email,
        template=f"application_{decision.value}",
        context=_mail_context(application, programme, cohort, **more),
        locale=application.locale,
    )
    await _flush(session)


async def _grant_access(
    session: AsyncSession,
    application: Application,
    actor: uuid.UUID | None,
    base_url: str,
    ip: str | None,
) -> dict[str, Any]:
    role = str(application.kind)
    base = base_url.rstrip("/")
    if application.user_id is not None:
        membership = await membership_of(session, application.user_id)
        held = list(membership.roles) if membership else []
        if role not in held:
            roles = normalise_roles([*held, role])
            await set_roles(session, application.user_id, roles, actor, ip=ip)
        return {"link": f"{base}/login", "invited": False}
    invitation, token = create_invitation(session, application.email, [role], actor, ip=ip)
    # Written before the application changes (no relationship orders the two rows), so
    # the application gets one UPDATE, one new version, pointing at an existing row.
    await session.flush()
    application.invitation_id = invitation.id
    return {
        "link": f"{base}/invite/{token}",
        "invited": True,
        "expires_at": invitation.expires_at.isoformat(),
    }


# --- the applicant's side -------------------------------------------------------------------


@dataclass(frozen=True)
class OwnApplication:
    application: Application
    cohort: Cohort
    programme: Programme
    in_tandem: bool = False  # an open tandem (proposed, active, paused) joins this one

    @property
    def can_withdraw(self) -> bool:
        return self.application.status in WITHDRAWABLE and not self.in_tandem


def _own_query(user_id: uuid.UUID) -> Select[tuple[Application, Cohort, Programme]]:
    return (
        select(Application, Cohort, Programme)
        .join(Cohort, Cohort.id == Application.cohort_id)
        .join(Programme, Programme.id == Cohort.programme_id)
        .where(Application.user_id == user_id)
    )


async def applications_of(session: AsyncSession, user_id: uuid.UUID) -> list[OwnApplication]:
    """The user's applications in the session's tenant, newest first."""
    query = _own_query(user_id).order_by(Application.created_at.desc(), Application.id)
    rows = (await session.execute(query)).all()
    paired = await in_open_tandems(session, [row[0].id for row in rows])
    return [OwnApplication(*row, in_tandem=row[0].id in paired) for row in rows]


async def in_open_tandems(
    session: AsyncSession, application_ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    """Those of the applications that an open tandem joins (as mentee's or mentor's)."""
    if not application_ids:
        return set()
    ids = list(application_ids)
    query = select(Pairing.mentee_application_id, Pairing.mentor_application_id).where(
        Pairing.state.in_(OPEN_STATES),
        or_(Pairing.mentee_application_id.in_(ids), Pairing.mentor_application_id.in_(ids)),
    )
    found = {one for pair in (await session.execute(query)).all() for one in pair}
    return found & set(ids)


async def own_application(
    session: AsyncSession, user_id: uuid.UUID, application_id: uuid.UUID
) -> OwnApplication | None:
    """The application if it is ``user_id``'s; someone else's is not found (404), not 403,
    so that ids cannot be probed."""
    row = (
        await session.execute(_own_query(user_id).where(Application.id == application_id))
    ).first()
    if row is None:
        return None
    return OwnApplication(*row, in_tandem=bool(await in_open_tandems(session, [application_id])))


async def withdraw(
    session: AsyncSession,
    own: OwnApplication,
    user_id: uuid.UUID,
    *,
    ip: str | None = None,
) -> None:
    application = own.application
    if application.status not in WITHDRAWABLE:
        raise ApplicationStateError()
    if await in_open_tandems(session, [application.id]):
        raise InTandemError()
    application.status = ApplicationStatus.WITHDRAWN
    details = {"application_id": str(application.id), "cohort": own.cohort.slug}
    audit.record(session, APPLICATION_WITHDRAWN, user_id, details, ip)
    publish_event(session, "application.withdrawn", _event_payload(application, own.cohort))
    await _flush(session)


# --- access checks for the pages and the API (Zulip style: tenant and permission at once) ---


async def access_cohort(
    session: AsyncSession,
    cohort_slug: str,
    *,
    public: bool = False,
    user: CurrentUser | None = None,
) -> tuple[Programme, Cohort]:
    """The cohort or a 404. ``public`` (the forms, the submit API) finds a cohort of an
    unpublished programme only for the tenant's admins, as the programme pages do."""
    found = await find_cohort(session, cohort_slug)
    if found is None or (public and not found[0].published and not is_admin(user)):
        raise NotFoundException()
    return found


async def access_programme_cohort(
    session: AsyncSession, user: CurrentUser | None, programme_slug: str, cohort_slug: str
) -> tuple[Programme, Cohort]:
    """The programme's cohort for the public form (both named in its URL), or a 404."""
    programme = await access_programme_by_slug(session, user, programme_slug)
    return programme, await access_cohort_by_slug(session, user, programme, cohort_slug)


async def access_application_by_id(
    session: AsyncSession, cohort: Cohort, application_id: uuid.UUID
) -> Application:
    """The cohort's application or a 404 (coordinators only reach this: the route's guard)."""
    application = await get_application(session, cohort, application_id)
    if application is None:
        raise NotFoundException()
    return application


@dataclass(frozen=True)
class IntakeTarget:
    """An application with its cohort and programme: what every intake step works on."""

    programme: Programme
    cohort: Cohort
    application: Application


async def access_intake_target(
    session: AsyncSession, cohort_slug: str, application_id: uuid.UUID
) -> IntakeTarget:
    """The cohort's application with both, or a 404 (another tenant's, another cohort's)."""
    programme, cohort = await access_cohort(session, cohort_slug)
    application = await access_application_by_id(session, cohort, application_id)
    return IntakeTarget(programme, cohort, application)


async def access_own_application_by_id(
    session: AsyncSession, user_id: uuid.UUID, application_id: uuid.UUID
) -> OwnApplication:
    """The user's own application, or a 404 for anyone else's."""
    own = await own_application(session, user_id, application_id)
    if own is None:
        raise NotFoundException()
    return own
