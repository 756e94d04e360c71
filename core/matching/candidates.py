"""A cohort's candidates for matching: accepted applications as :class:`Person` records.

Who takes part in a run:

* mentees whose application is accepted and who are in no open tandem
  (:data:`~core.pairings.lifecycle.OPEN_STATES`) — a mentee has one at a time;
* mentors whose application is accepted and who have places left: their capacity
  minus the open tandems they mentor in this cohort (those are their ``load``).

Locks and exclusions are the cohort's :class:`~core.matching.models.MatchConstraint`
rows whose two applications are both candidates; the others (someone withdrew, was
paired meanwhile, a mentor filled up) are reported as skipped rather than dropped
silently, so the coordinator sees why a lock did not hold.

Everything is read through the caller's tenant session, whose filter keeps every
query to its tenant; a cohort of another tenant is refused outright.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import cached_property

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.applications.models import Application, ApplicationKind, ApplicationStatus
from core.matching.criteria import Criterion
from core.matching.features import Person, encode, fold
from core.matching.models import ConstraintKind, MatchConstraint
from core.matching.problem import Pair, Problem
from core.pairings.lifecycle import OPEN_STATES
from core.pairings.models import Pairing
from core.programmes.models import Cohort
from core.reference import availability, cefr

DEFAULT_CAPACITY = 1  # a mentor application from before capacity was asked for
SKIP_REASONS = (
    "mentee_not_candidate",  # withdrawn, no longer accepted, or in an open tandem now
    "mentor_not_candidate",  # no longer accepted, or no place left
    "mentee_locked_already",  # an older lock holds this mentee
    "mentor_locks_full",  # older locks use up the mentor's places left
)


@dataclass(frozen=True)
class SkippedConstraint:
    """A lock or exclusion that does not apply to this run, and why."""

    constraint_id: uuid.UUID
    kind: ConstraintKind
    mentee_application_id: uuid.UUID
    mentor_application_id: uuid.UUID
    reason: str  # one of SKIP_REASONS


@dataclass(frozen=True)
class CohortPeople:
    """Row numbers of a cohort's problem ↔ application ids, and who was left out."""

    mentees: tuple[uuid.UUID, ...]  # application id of each mentee row
    mentors: tuple[uuid.UUID, ...]
    # Accepted, but not candidates: mentees in an open tandem, mentors with no place left.
    paired_mentees: tuple[uuid.UUID, ...] = ()
    full_mentors: tuple[uuid.UUID, ...] = ()
    skipped: tuple[SkippedConstraint, ...] = ()

    @cached_property
    def _mentee_rows(self) -> dict[uuid.UUID, int]:
        return {app: row for row, app in enumerate(self.mentees)}

    @cached_property
    def _mentor_rows(self) -> dict[uuid.UUID, int]:
        return {app: row for row, app in enumerate(self.mentors)}

    def mentee_row(self, application_id: uuid.UUID) -> int | None:
        return self._mentee_rows.get(application_id)

    def mentor_row(self, application_id: uuid.UUID) -> int | None:
        return self._mentor_rows.get(application_id)


def _session_tenant(session: AsyncSession) -> uuid.UUID:
    tenant_id = session.sync_session.info.get("tenant_id")
    if tenant_id is None:
        raise ValueError("matching reads a cohort through a tenant session only")
    return tenant_id


async def cohort_problem(
    session: AsyncSession, cohort: Cohort, criteria: tuple[Criterion, ...]
) -> tuple[Problem, CohortPeople]:
    """The matching problem of ``cohort``'s candidates under ``criteria``."""
    if cohort.tenant_id != _session_tenant(session):
        raise LookupError(f"cohort {cohort.slug!r} belongs to another tenant")
    applications = list(
        await session.scalars(
            select(Application)
            .where(
                Application.cohort_id == cohort.id,
                Application.status == ApplicationStatus.ACCEPTED,
            )
            # Row order decides ties between equal totals: keep it independent of the
            # database's whim.
            .order_by(Application.created_at, Application.id)
        )
    )
    open_pairings = (
        await session.execute(
            select(Pairing.mentee_application_id, Pairing.mentor_application_id).where(
                Pairing.cohort_id == cohort.id, Pairing.state.in_(sorted(OPEN_STATES))
            )
        )
    ).all()
    paired = {mentee for mentee, _ in open_pairings}
    load = Counter(mentor for _, mentor in open_pairings)
    persons = _person_keys(applications)

    mentee_apps: list[Application] = []
    mentor_apps: list[Application] = []
    paired_mentees: list[uuid.UUID] = []
    full_mentors: list[uuid.UUID] = []
    for app in applications:
        if app.kind == ApplicationKind.MENTEE:
            if app.id in paired:
                paired_mentees.append(app.id)
            else:
                mentee_apps.append(app)
        elif _capacity(app) - load[app.id] > 0:
            mentor_apps.append(app)
        else:
            full_mentors.append(app.id)

    mentees = [person_of(app, persons[app.id]) for app in mentee_apps]
    mentors = [
        person_of(app, persons[app.id], capacity=_capacity(app) - load[app.id], load=load[app.id])
        for app in mentor_apps
    ]
    people = CohortPeople(
        mentees=tuple(app.id for app in mentee_apps),
        mentors=tuple(app.id for app in mentor_apps),
        paired_mentees=tuple(paired_mentees),
        full_mentors=tuple(full_mentors),
    )
    places = [mentor.capacity for mentor in mentors]
    locked, forbidden, skipped = await _constraints(session, cohort, people, places)
    people = replace(people, skipped=tuple(skipped))
    mentee_side, mentor_side, vocabulary = encode(mentees, mentors)
    problem = Problem(
        mentees=mentee_side,
        mentors=mentor_side,
        vocabulary=vocabulary,
        criteria=criteria,
        locked=frozenset(locked),
        forbidden=frozenset(forbidden),
    )
    return problem, people


async def _constraints(
    session: AsyncSession, cohort: Cohort, people: CohortPeople, places: list[int]
) -> tuple[list[Pair], list[Pair], list[SkippedConstraint]]:
    """The cohort's locks and exclusions between candidates, oldest first.

    Locks that contradict older ones — a mentee locked to a second mentor, a mentor
    with more locks than places left (a tandem opened since) — are skipped: the
    solver would refuse the whole run, and the coordinator sees which lock to undo.
    """
    rows = await session.scalars(
        select(MatchConstraint)
        .where(MatchConstraint.cohort_id == cohort.id)
        .order_by(MatchConstraint.created_at, MatchConstraint.id)
    )
    locked: list[Pair] = []
    forbidden: list[Pair] = []
    skipped: list[SkippedConstraint] = []
    locked_mentees: set[int] = set()
    mentor_locks: Counter[int] = Counter()
    for row in rows:
        mentee = people.mentee_row(row.mentee_application_id)
        mentor = people.mentor_row(row.mentor_application_id)
        reason = None
        if mentee is None:
            reason = "mentee_not_candidate"
        elif mentor is None:
            reason = "mentor_not_candidate"
        elif row.kind == ConstraintKind.LOCK and mentee in locked_mentees:
            reason = "mentee_locked_already"
        elif row.kind == ConstraintKind.LOCK and mentor_locks[mentor] >= places[mentor]:
            reason = "mentor_locks_full"
        if reason is not None:
            skipped.append(
                SkippedConstraint(
                    row.id, row.kind, row.mentee_application_id, row.mentor_application_id, reason
                )
            )
        elif row.kind == ConstraintKind.LOCK:
            locked.append(Pair(mentee, mentor))
            locked_mentees.add(mentee)
            mentor_locks[mentor] += 1
        else:
            forbidden.append(Pair(mentee, mentor))
    return locked, forbidden, skipped


async def people_of(
    session: AsyncSession, application_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Person]:
    """Applications of the session's tenant as :class:`Person` records, by id.

    For pages that explain pairs of finished runs, whose people may since have been
    paired: no candidate filter, current places and loads, and the same notion of who
    is who as :func:`cohort_problem` (accounts shared by address within the cohort).
    Ids of other tenants (or of nothing) are left out.
    """
    _session_tenant(session)
    wanted = set(application_ids)
    if not wanted:
        return {}
    apps = list(await session.scalars(select(Application).where(Application.id.in_(wanted))))
    if not apps:
        return {}
    # Their cohorts' applications with the same addresses, for the account an
    # application without one belongs to.
    relatives = await session.scalars(
        select(Application).where(
            Application.cohort_id.in_({app.cohort_id for app in apps}),
            Application.email.in_({app.email for app in apps}),
            Application.user_id.is_not(None),
        )
    )
    keys = _person_keys([*apps, *(r for r in relatives if r.id not in wanted)])
    mentors = [app.id for app in apps if app.kind == ApplicationKind.MENTOR]
    load: Counter[uuid.UUID] = Counter()
    if mentors:
        load.update(
            await session.scalars(
                select(Pairing.mentor_application_id).where(
                    Pairing.mentor_application_id.in_(mentors),
                    Pairing.state.in_(sorted(OPEN_STATES)),
                )
            )
        )
    people: dict[uuid.UUID, Person] = {}
    for app in apps:
        if app.kind == ApplicationKind.MENTOR:
            places = max(_capacity(app) - load[app.id], 0)
            people[app.id] = person_of(app, keys[app.id], capacity=places, load=load[app.id])
        else:
            people[app.id] = person_of(app, keys[app.id])
    return people


def _capacity(app: Application) -> int:
    return DEFAULT_CAPACITY if app.capacity is None else app.capacity


def _person_keys(applications: list[Application]) -> dict[uuid.UUID, str]:
    """Who each application's human is: their account, else their e-mail address.

    An application without an account yet is the same human as one with an
    account and the same address, so that nobody is matched with themselves before
    they first sign in.
    """
    account_of_email = {
        fold(app.email): str(app.user_id) for app in applications if app.user_id is not None
    }
    return {
        app.id: str(app.user_id)
        if app.user_id is not None
        else account_of_email.get(fold(app.email), fold(app.email))
        for app in applications
    }


def _languages(app: Application) -> dict[str, str]:
    levels: dict[str, str] = {}
    entries = [*(app.languages or [])]
    if app.german_level:
        entries.append({"code": "de", "level": app.german_level})
    for entry in entries:
        code, level = str(entry.get("code") or "").lower(), entry.get("level")
        try:
            level = cefr.normalise(str(level))
        except cefr.UnknownLevelError:
            continue  # intake validates levels; an old row without one adds nothing
        if code and (code not in levels or cefr.rank(level) > cefr.rank(levels[code])):
            levels[code] = level
    return levels


def person_of(app: Application, person: str = "", *, capacity: int = 1, load: int = 0) -> Person:
    """An application as matching sees it; ``person`` says who the human is (see
    :func:`_person_keys`), ``capacity`` the places left and ``load`` the open tandems."""
    is_mentee = app.kind == ApplicationKind.MENTEE
    return Person(
        id=str(app.id),
        occupation=app.occupation_code if (app.occupation_code or "").isdigit() else None,
        languages=_languages(app),
        district=app.district or "",
        # Only the slots matching knows: a slot retired from the form means nothing here.
        availability=tuple(s for s in app.availability or () if s in availability.SLOTS),
        gender=app.gender or "",
        same_gender=is_mentee and bool((app.preferences or {}).get("same_gender_mentor")),
        employer=app.employer or "",
        person=person,
        years=float(app.years_experience or 0),
        capacity=capacity,
        load=load,
        name=app.name,
    )
