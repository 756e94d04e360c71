"""A cohort at a glance, for its coordinators: the figures behind ``/admin/cohorts/<slug>``
and ``/api/v1/cohorts/<slug>/overview``.

One function, :func:`cohort_overview`, computes every figure from the tenant session;
the page and the API only present them. What each figure means:

* **funnel** — the cohort's applications by kind and by where they stand now
  (submitted, in review, accepted, waiting list, rejected, withdrawn);
* **pairings by state** — every tandem of the cohort, once, by its current state;
* **at risk** — active tandems flagged by the daily check (no meeting for four weeks,
  :mod:`core.pairings.at_risk`), longest at risk first;
* **hours** — meeting time logged by the tandems that started and did not end early
  (active, paused, completed), against the programme's expected hours times the number
  of those tandems; ``on_target`` counts the tandems that reached the target;
* **outcomes** — :func:`core.pairings.checkins.outcomes` (each mentee once, by their
  latest follow-up; the share employed in their own or a related field);
* **mentor scarcity** — per ISCO-08 sub-major group, the mentees and the mentors still
  in play (submitted, in review, accepted or waiting) and the mentor places (their
  capacity): programmes need to see which occupations lack mentors. Groups where
  mentees outnumber the places come first.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.applications.models import Application, ApplicationKind, ApplicationStatus
from core.applications.services import status_counts
from core.identity.sessions import aware
from core.pairings.checkins import OutcomeFigures, outcomes
from core.pairings.lifecycle import PairingState
from core.pairings.models import Meeting, Pairing
from core.pairings.services import capacity_of
from core.programmes.models import Cohort, Programme

# Tandems whose hours count against the target: started, and not ended early.
HOURS_STATES = (PairingState.ACTIVE, PairingState.PAUSED, PairingState.COMPLETED)
# Applications that still count as supply or demand.
IN_PLAY = (
    ApplicationStatus.SUBMITTED,
    ApplicationStatus.IN_REVIEW,
    ApplicationStatus.ACCEPTED,
    ApplicationStatus.WAITLISTED,
)


@dataclass(frozen=True)
class AtRiskTandem:
    pairing_id: uuid.UUID
    mentee_name: str
    mentor_name: str
    since: date


@dataclass(frozen=True)
class Hours:
    logged_minutes: int
    tandems: int  # how many tandems the figures cover (HOURS_STATES)
    expected_per_tandem: int | None  # the programme's target, None if it sets none
    on_target: int  # tandems that logged at least the target

    @property
    def logged(self) -> float:
        return self.logged_minutes / 60

    @property
    def expected(self) -> int | None:
        if self.expected_per_tandem is None:
            return None
        return self.expected_per_tandem * self.tandems

    @property
    def share(self) -> float | None:
        """Logged over expected, 0 to 1 (None without a target or tandems)."""
        expected = self.expected
        return min(1.0, self.logged / expected) if expected else None


@dataclass(frozen=True)
class Scarcity:
    group: str  # ISCO-08 sub-major group, two digits
    mentees: int
    mentors: int
    places: int  # the mentors' capacity

    @property
    def gap(self) -> int:
        """Mentees without a mentor place, if every place went to this group."""
        return max(0, self.mentees - self.places)


@dataclass(frozen=True)
class CohortOverview:
    programme: Programme
    cohort: Cohort
    funnel: dict[ApplicationKind, dict[ApplicationStatus, int]]
    pairings: dict[PairingState, int]
    at_risk: list[AtRiskTandem]
    hours: Hours
    outcomes: OutcomeFigures
    scarcity: list[Scarcity]

    @property
    def applications(self) -> int:
        return sum(sum(counts.values()) for counts in self.funnel.values())

    @property
    def tandems(self) -> int:
        return sum(self.pairings.values())


async def cohort_overview(
    session: AsyncSession, programme: Programme, cohort: Cohort
) -> CohortOverview:
    funnel = {kind: await status_counts(session, cohort, kind) for kind in ApplicationKind}
    pairings = list(await session.scalars(select(Pairing).where(Pairing.cohort_id == cohort.id)))
    by_state = dict.fromkeys(PairingState, 0)
    by_state.update(Counter(PairingState(p.state) for p in pairings))
    names = await _names(session, pairings)
    return CohortOverview(
        programme=programme,
        cohort=cohort,
        funnel=funnel,
        pairings=by_state,
        at_risk=_at_risk(pairings, names),
        hours=await _hours(session, programme, pairings),
        outcomes=await outcomes(session, cohort.id),
        scarcity=await _scarcity(session, cohort),
    )


async def _names(session: AsyncSession, pairings: list[Pairing]) -> dict[uuid.UUID, str]:
    ids = {p.mentee_application_id for p in pairings} | {p.mentor_application_id for p in pairings}
    if not ids:
        return {}
    rows = await session.execute(
        select(Application.id, Application.name).where(Application.id.in_(ids))
    )
    return {application_id: name for application_id, name in rows}


def _at_risk(pairings: list[Pairing], names: dict[uuid.UUID, str]) -> list[AtRiskTandem]:
    flagged = [
        AtRiskTandem(
            p.id,
            names[p.mentee_application_id],
            names[p.mentor_application_id],
            aware(p.at_risk_since).date(),
        )
        for p in pairings
        if p.state == PairingState.ACTIVE and p.at_risk_since is not None
    ]
    return sorted(flagged, key=lambda t: (t.since, t.mentee_name))


async def _hours(session: AsyncSession, programme: Programme, pairings: list[Pairing]) -> Hours:
    counted = [p.id for p in pairings if p.state in HOURS_STATES]
    minutes: dict[uuid.UUID, int] = {}
    if counted:
        rows = await session.execute(
            select(Meeting.pairing_id, func.sum(Meeting.minutes))
            .where(Meeting.pairing_id.in_(counted))
            .group_by(Meeting.pairing_id)
        )
        minutes = {pairing_id: int(total or 0) for pairing_id, total in rows}
    target = programme.expected_hours
    on_target = (
        sum(1 for pairing_id in counted if minutes.get(pairing_id, 0) >= target * 60)
        if target
        else 0
    )
    return Hours(sum(minutes.values()), len(counted), target, on_target)


async def _scarcity(session: AsyncSession, cohort: Cohort) -> list[Scarcity]:
    applications = await session.scalars(
        select(Application).where(
            Application.cohort_id == cohort.id, Application.status.in_(IN_PLAY)
        )
    )
    mentees: Counter[str] = Counter()
    mentors: Counter[str] = Counter()
    places: Counter[str] = Counter()
    for application in applications:
        group = application.occupation_code[:2]
        if application.kind == ApplicationKind.MENTEE:
            mentees[group] += 1
        else:
            mentors[group] += 1
            places[group] += capacity_of(application)
    rows = [
        Scarcity(group, mentees[group], mentors[group], places[group])
        for group in set(mentees) | set(mentors)
    ]
    return sorted(rows, key=lambda r: (-r.gap, -r.mentees, r.group))


__all__ = [
    "AtRiskTandem",
    "CohortOverview",
    "Hours",
    "Scarcity",
    "cohort_overview",
]
