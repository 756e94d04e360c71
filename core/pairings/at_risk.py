"""Tandems at risk: active, and no meeting for four weeks.

The rule (:func:`is_at_risk`) is pure. A tandem is at risk on day D when it is
*active* and at least :data:`AT_RISK_AFTER` (28 days) have passed since it was last
quiet-reset: its latest meeting, or its activation when it has met since then not
at all (a meeting logged before activation, while the tandem was proposed, does not
count from earlier than the activation). Exactly 28 days after the last meeting it is
at risk; 27 days after, not yet. Paused tandems are never at risk (the pause is the
agreed reason not to meet), nor are proposed, completed or ended ones.

:func:`refresh_at_risk` applies the rule every day (from the periodic task in
:mod:`core.pairings.checkin_tasks`): it sets ``Pairing.at_risk_since`` to the day the
tandem crossed the line and clears it once a meeting is logged or the tandem is no
longer active. The tenant's coordinators are told by e-mail **once**, when the flag
is set: setting it is a conditional ``UPDATE … WHERE at_risk_since IS NULL``, and only
the run that changed the row sends the mails. A tandem that recovers and falls quiet
again is a new episode and is told again.

The flag is written with an ``UPDATE`` statement, not through the ORM's unit of work,
so the tandem's ``version`` does not change: a coordinator who has the tandem open
does not get a conflict because the nightly check flagged it.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.events import publish_event
from core.identity import audit
from core.identity.sessions import aware
from core.mail import MailError, send_mail
from core.pairings.lifecycle import PairingState
from core.pairings.models import Meeting, Pairing
from core.pairings.services import _applications, _coordinators
from core.programmes.models import Cohort

log = logging.getLogger(__name__)

AT_RISK_AFTER = timedelta(days=28)
MAIL_TEMPLATE = "pairing_at_risk"
# Audit actions (labelled on /admin/audit); the system acts, so they have no actor.
PAIRING_AT_RISK = "pairing_at_risk"
PAIRING_AT_RISK_CLEARED = "pairing_at_risk_cleared"


def quiet_since(activated_on: date, last_meeting_on: date | None) -> date:
    """The day from which the four weeks count."""
    if last_meeting_on is None:
        return activated_on
    return max(activated_on, last_meeting_on)


def at_risk_from(activated_on: date, last_meeting_on: date | None) -> date:
    """The first day on which the tandem counts as at risk, unless it meets before."""
    return quiet_since(activated_on, last_meeting_on) + AT_RISK_AFTER


def is_at_risk(
    state: PairingState, activated_on: date | None, last_meeting_on: date | None, on: date
) -> bool:
    """Whether a tandem in ``state`` is at risk on day ``on`` (see the module docstring)."""
    if state is not PairingState.ACTIVE or activated_on is None:
        return False
    return on >= at_risk_from(activated_on, last_meeting_on)


@dataclass(frozen=True)
class AtRiskReport:
    flagged: list[uuid.UUID]
    cleared: list[uuid.UUID]


@dataclass(frozen=True)
class _Flagged:
    pairing: Pairing
    quiet_since: date
    met: bool  # whether it met since activation (else the weeks count from activation)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


async def refresh_at_risk(session: AsyncSession, today: date, *, base_url: str) -> AtRiskReport:
    """Flag the tenant's tandems that became at risk by ``today``; clear the others.

    The coordinators of a newly flagged tandem are mailed, in their languages, with a
    link under ``base_url`` (``https://muenchen.example.org``) to the tandem's page.
    """
    last_meeting = (
        select(Meeting.pairing_id, func.max(Meeting.held_on).label("held_on"))
        .where(Meeting.held_on <= today)
        .group_by(Meeting.pairing_id)
        .subquery()
    )
    rows = await session.execute(
        select(Pairing, last_meeting.c.held_on)
        .outerjoin(last_meeting, last_meeting.c.pairing_id == Pairing.id)
        .where((Pairing.state == PairingState.ACTIVE) | Pairing.at_risk_since.is_not(None))
        .order_by(Pairing.id)
    )
    flagged: list[_Flagged] = []
    cleared: list[uuid.UUID] = []
    for pairing, held_on in rows:
        activated_on = aware(pairing.activated_at).date() if pairing.activated_at else None
        state = PairingState(pairing.state)
        if is_at_risk(state, activated_on, held_on, today):
            if pairing.at_risk_since is None:
                assert activated_on is not None
                quiet = quiet_since(activated_on, held_on)
                # Not set on the ORM object: its flush would bump the version.
                if await _set_flag(session, pairing.id, _midnight(quiet + AT_RISK_AFTER)):
                    met = held_on is not None and held_on >= activated_on
                    flagged.append(_Flagged(pairing, quiet, met=met))
        elif pairing.at_risk_since is not None and await _clear_flag(session, pairing.id):
            cleared.append(pairing.id)
    for pairing_id in cleared:
        audit.record(session, PAIRING_AT_RISK_CLEARED, None, {"pairing_id": str(pairing_id)})
    if flagged:
        await _tell_coordinators(session, flagged, base_url)
    return AtRiskReport([f.pairing.id for f in flagged], cleared)


async def _set_flag(session: AsyncSession, pairing_id: uuid.UUID, since: datetime) -> bool:
    result = await session.execute(
        update(Pairing)
        .where(
            Pairing.id == pairing_id,
            Pairing.at_risk_since.is_(None),
            Pairing.state == PairingState.ACTIVE,
        )
        .values(at_risk_since=since)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


async def _clear_flag(session: AsyncSession, pairing_id: uuid.UUID) -> bool:
    result = await session.execute(
        update(Pairing)
        .where(Pairing.id == pairing_id, Pairing.at_risk_since.is_not(None))
        .values(at_risk_since=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


async def _tell_coordinators(session: AsyncSession, flagged: list[_Flagged], base_url: str) -> None:
    pairings = [f.pairing for f in flagged]
    applications = await _applications(
        session,
        [p.mentee_application_id for p in pairings] + [p.mentor_application_id for p in pairings],
    )
    cohorts = {
        row.id: row
        for row in await session.scalars(
            select(Cohort).where(Cohort.id.in_({p.cohort_id for p in pairings}))
        )
    }
    coordinators = await _coordinators(session, None)
    for item in flagged:
        pairing, quiet = item.pairing, item.quiet_since
        since = _midnight(quiet + AT_RISK_AFTER)
        mentee = applications[pairing.mentee_application_id]
        mentor = applications[pairing.mentor_application_id]
        cohort = cohorts[pairing.cohort_id]
        details = {"pairing_id": str(pairing.id), "cohort": cohort.slug, "quiet_since": str(quiet)}
        audit.record(session, PAIRING_AT_RISK, None, details)
        publish_event(session, "pairing.at_risk", {**details, "at_risk_since": since.isoformat()})
        for coordinator in coordinators:
            try:
                send_mail(
                    session,
                    to=coordinator.email,
                    template=MAIL_TEMPLATE,
                    context={
                        "mentee_name": mentee.name,
                        "mentor_name": mentor.name,
                        "cohort_name": cohort.name,
                        "quiet_since": quiet.isoformat(),
                        "has_met": item.met,
                        "link": f"{base_url.rstrip('/')}/tandem/{pairing.id}",
                    },
                    locale=coordinator.locale,
                )
            except MailError as exc:  # an address from a sign-in service that is unusable
                log.warning("tandem %s at risk: coordinator not told: %s", pairing.id, exc)


__all__ = [
    "AT_RISK_AFTER",
    "PAIRING_AT_RISK",
    "PAIRING_AT_RISK_CLEARED",
    "AtRiskReport",
    "at_risk_from",
    "is_at_risk",
    "quiet_since",
    "refresh_at_risk",
]
