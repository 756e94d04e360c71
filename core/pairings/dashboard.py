"""A participant's home: their tandems, what to do next, hours, check-ins, applications.

:func:`participant_home` gathers what the tenant's home page (``/``) shows a signed-in
mentee or mentor, from the services that own each part (tandems and meetings from
:mod:`core.pairings.services`, check-ins from :mod:`core.pairings.checkins`,
applications from :mod:`core.applications.services`). It returns None for someone with
neither a tandem nor an application here, who then sees the public home page.

Next steps are codes (:class:`Step`), worded by the page. For each open or completed
tandem, in the order a tandem meets them:

* proposed — ``accept_proposal`` until this side accepted, then ``await_partner``;
* active or paused — ``write_goals`` (no agreement yet), ``accept_goals`` (this side
  has not accepted the goals), ``log_first_meeting`` (no meeting yet),
  ``meet_again`` (flagged at risk: no meeting for four weeks), ``resume`` (paused);
* any — ``answer_checkin`` for each check-in open for this person in the tandem.

A mentee of a self-matching programme without an open tandem gets the path of their
suggested mentors (:mod:`core.matching.self_match`) instead of waiting for a proposal.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.applications.services import OwnApplication, applications_of
from core.matching.self_match import SUGGESTIONS_PATH, standing_of
from core.pairings.checkins import UpcomingCheckIn, upcoming_checkins
from core.pairings.lifecycle import Actor, PairingState
from core.pairings.models import Agreement, CheckInKind, Meeting
from core.pairings.services import (
    AGREEMENT_STATES,
    CohortFacts,
    PairingAccess,
    Person,
    cohort_facts,
    minutes_logged,
    own_pairings,
)

# Tandems shown on the home page: the ones still going, and the completed (follow-ups).
SHOWN_STATES = frozenset(
    {PairingState.PROPOSED, PairingState.ACTIVE, PairingState.PAUSED, PairingState.COMPLETED}
)


class Step(StrEnum):
    ACCEPT_PROPOSAL = "accept_proposal"
    AWAIT_PARTNER = "await_partner"
    WRITE_GOALS = "write_goals"
    ACCEPT_GOALS = "accept_goals"
    LOG_FIRST_MEETING = "log_first_meeting"
    MEET_AGAIN = "meet_again"
    RESUME = "resume"
    ANSWER_CHECKIN = "answer_checkin"


@dataclass(frozen=True)
class NextStep:
    step: Step
    path: str
    checkin_kind: CheckInKind | None = None  # for ANSWER_CHECKIN


@dataclass(frozen=True)
class HomeTandem:
    access: PairingAccess
    side: Actor
    cohort: CohortFacts
    minutes: int
    steps: list[NextStep]

    @property
    def partner_name(self) -> str:
        return self.access.partner_of(self.side).name

    @property
    def path(self) -> str:
        return f"/tandem/{self.access.pairing.id}"


@dataclass(frozen=True)
class ParticipantHome:
    tandems: list[HomeTandem]
    upcoming: list[UpcomingCheckIn]
    applications: list[OwnApplication]
    suggestions_path: str | None = None  # self-match mode: where to choose a mentor


def _side(access: PairingAccess) -> Actor | None:
    for side in (Actor.MENTEE, Actor.MENTOR):
        if side in access.actors:
            return side
    return None


def next_steps(
    access: PairingAccess,
    side: Actor,
    agreement: Agreement | None,
    meetings: int,
    open_checkins: list[UpcomingCheckIn],
) -> list[NextStep]:
    """What this side of the tandem should do next (see the module docstring)."""
    pairing, state = access.pairing, access.state
    path = f"/tandem/{pairing.id}"
    steps: list[NextStep] = []
    if state is PairingState.PROPOSED:
        own = side in access.accepted
        steps.append(NextStep(Step.AWAIT_PARTNER if own else Step.ACCEPT_PROPOSAL, path))
    if state in AGREEMENT_STATES:
        if agreement is None or not agreement.goals:
            steps.append(NextStep(Step.WRITE_GOALS, f"{path}#agreement"))
        else:
            accepted = (
                agreement.mentee_accepted_at
                if side is Actor.MENTEE
                else agreement.mentor_accepted_at
            )
            if accepted is None:
                steps.append(NextStep(Step.ACCEPT_GOALS, f"{path}#agreement"))
        if meetings == 0:
            steps.append(NextStep(Step.LOG_FIRST_MEETING, f"{path}#meetings"))
        elif state is PairingState.ACTIVE and pairing.at_risk_since is not None:
            steps.append(NextStep(Step.MEET_AGAIN, f"{path}#meetings"))
        if state is PairingState.PAUSED:
            steps.append(NextStep(Step.RESUME, path))
    for item in open_checkins:
        if item.pairing_id == pairing.id and item.is_open and item.path:
            steps.append(NextStep(Step.ANSWER_CHECKIN, item.path, item.kind))
    return steps


async def _meeting_counts(
    session: AsyncSession, pairing_ids: list[uuid.UUID]
) -> dict[uuid.UUID, int]:
    if not pairing_ids:
        return {}
    rows = await session.execute(
        select(Meeting.pairing_id, func.count())
        .where(Meeting.pairing_id.in_(pairing_ids))
        .group_by(Meeting.pairing_id)
    )
    return {pairing_id: int(count) for pairing_id, count in rows}


async def participant_home(
    session: AsyncSession, user: Person, today: date
) -> ParticipantHome | None:
    """``user``'s home in the session's tenant, or None when they take part in nothing."""
    applications = await applications_of(session, user.id)
    accesses = [
        a for a in await own_pairings(session, user) if a.state in SHOWN_STATES and _side(a)
    ]
    if not applications and not accesses:
        return None
    ids = [a.pairing.id for a in accesses]
    facts = await cohort_facts(session, {a.pairing.cohort_id for a in accesses})
    minutes = await minutes_logged(session, ids)
    meetings = await _meeting_counts(session, ids)
    agreements = {
        row.pairing_id: row
        for row in (
            await session.scalars(select(Agreement).where(Agreement.pairing_id.in_(ids)))
            if ids
            else []
        )
    }
    upcoming = await upcoming_checkins(session, user, today)
    standing = await standing_of(session, user)
    suggestions = SUGGESTIONS_PATH if standing is not None and standing.may_request else None
    tandems = []
    for access in accesses:
        side = _side(access)
        assert side is not None
        pairing_id = access.pairing.id
        steps = next_steps(
            access, side, agreements.get(pairing_id), meetings.get(pairing_id, 0), upcoming
        )
        tandems.append(
            HomeTandem(
                access, side, facts[access.pairing.cohort_id], minutes.get(pairing_id, 0), steps
            )
        )
    # Open tandems first, then the completed ones; newest proposal first within each.
    tandems.sort(key=lambda t: t.access.state is PairingState.COMPLETED)
    return ParticipantHome(tandems, upcoming, applications, suggestions)


__all__ = ["HomeTandem", "NextStep", "ParticipantHome", "Step", "next_steps", "participant_home"]
