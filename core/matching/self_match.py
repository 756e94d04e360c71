"""Self-match mode: a mentee sees their best mentors and asks one of them.

Programmes with ``self_matching`` on let each accepted mentee of a running cohort who
has no open tandem see their top :data:`SUGGESTIONS` mentors — the same criteria,
weights, filters and coordinator exclusions as a coordinator's run, but scored for
this one mentee against the mentors who still have places. The mentee may request
one of them: that makes a proposed tandem, already accepted on the mentee's side,
which the mentor accepts or declines on the usual tandem pages
(:mod:`core.pairings.services` does the proposal, the acceptance, their audit entries,
mails and plugin events).

A request is checked against the suggestions as they are *now*, in the same
transaction that writes it: a mentor who filled up, was forbidden by a coordinator or
dropped out of the top five since the page was drawn is refused, and nothing is
stored. A mentee has one open tandem at a time; the pairing service's unique index
on open tandems makes a double-click or two tabs produce one tandem, never two.

Mentors who declined this mentee before (or whom the mentee declined) are not
suggested again: asking the same person twice helps nobody.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.applications.models import Application, ApplicationKind, ApplicationStatus
from core.matching.candidates import cohort_problem
from core.matching.criteria import SCALE, CriterionKind
from core.matching.explain import Reason, explain_pair
from core.matching.problem import Problem
from core.matching.scoring import score_rows
from core.matching.tenant_criteria import criteria_for
from core.pairings import services
from core.pairings.lifecycle import OPEN_STATES, Action, Actor, PairingState
from core.pairings.models import Pairing
from core.pluginhost.manager import PluginHost
from core.programmes.models import Cohort, Programme
from core.programmes.schemas import InvalidInput
from core.programmes.services import today
from core.tenancy.snapshot import TenantSnapshot

SUGGESTIONS = 5
SUGGESTIONS_PATH = "/matching/suggestions"  # the page (core.matching.self_match_controllers)
# What the pairing's ``explanation`` says about where it came from.
SOURCE = "self_match"


class Person(Protocol):
    """Who asks: the request's CurrentUser, or a stand-in in tests."""

    @property
    def id(self) -> uuid.UUID: ...

    @property
    def roles(self) -> frozenset[str]: ...


class NotOffered(LookupError):
    """Not a mentee of a self-matching cohort here: pages and API answer 404."""


class Refusal(StrEnum):
    OPEN_PAIRING = "open_pairing"  # the mentee has an open tandem already
    NOT_SUGGESTED = "not_suggested"  # not among the mentee's current suggestions
    CHANGED = "changed"  # a concurrent write used the same people (services.Conflict)


class RequestRefused(Exception):
    """A request that cannot be made now; nothing was written."""

    def __init__(self, refusal: Refusal, pairing_id: uuid.UUID | None = None) -> None:
        super().__init__(refusal.value)
        self.refusal = refusal
        self.pairing_id = pairing_id  # the open tandem, for OPEN_PAIRING


@dataclass(frozen=True)
class Standing:
    """A mentee's place in self-match mode: their application, cohort and open tandem."""

    mentee: Application
    cohort: Cohort
    programme: Programme
    open_pairing: Pairing | None

    @property
    def may_request(self) -> bool:
        return self.open_pairing is None


@dataclass(frozen=True)
class Pick:
    """One suggested mentor, before anything is worded for a reader."""

    mentor_row: int
    mentor_id: uuid.UUID
    score: int  # millionths
    parts: dict[str, float]  # score criterion id -> its score in [0, 1]


@dataclass(frozen=True)
class Suggestion:
    rank: int  # 1 = best
    mentor: Application
    score: int  # millionths
    parts: dict[str, float]
    reasons: list[Reason]  # in the reader's language


@dataclass(frozen=True)
class Requested:
    pairing: Pairing
    created: bool  # False: the same request was made before and still stands


@dataclass(frozen=True)
class Scored:
    """The cohort's problem with this mentee's picks, kept so that they can be explained."""

    problem: Problem
    mentee_row: int
    picks: list[Pick]


# --- who may use it ---------------------------------------------------------------------------


async def standing_of(session: AsyncSession, user: Person) -> Standing | None:
    """``user``'s accepted mentee application in a running self-matching cohort, if any.

    Someone accepted in several such cohorts uses the one starting last; a tandem
    open in any of them counts as their open tandem.
    """
    rows = (
        await session.execute(
            select(Application, Cohort, Programme)
            .join(Cohort, Cohort.id == Application.cohort_id)
            .join(Programme, Programme.id == Cohort.programme_id)
            .where(
                Application.user_id == user.id,
                Application.kind == ApplicationKind.MENTEE,
                Application.status == ApplicationStatus.ACCEPTED,
                Programme.self_matching.is_(True),
                Cohort.ends_on >= today(),
            )
            .order_by(Cohort.starts_on.desc(), Application.created_at.desc(), Application.id)
        )
    ).all()
    if not rows:
        return None
    mentee, cohort, programme = rows[0]
    open_pairing = await session.scalar(
        select(Pairing)
        .where(
            Pairing.mentee_application_id.in_([row[0].id for row in rows]),
            Pairing.state.in_(sorted(OPEN_STATES)),
        )
        .order_by(Pairing.proposed_at.desc(), Pairing.id)
        .limit(1)
    )
    return Standing(mentee, cohort, programme, open_pairing)


async def require_standing(session: AsyncSession, user: Person) -> Standing:
    standing = await standing_of(session, user)
    if standing is None:
        raise NotOffered()
    return standing


# --- suggestions ------------------------------------------------------------------------------


async def _declined_mentors(session: AsyncSession, mentee: Application) -> set[str]:
    rows = await session.scalars(
        select(Pairing.mentor_application_id).where(
            Pairing.mentee_application_id == mentee.id,
            Pairing.state == PairingState.DECLINED,
        )
    )
    return {str(mentor_id) for mentor_id in rows}


async def score_standing(
    session: AsyncSession, plugins: PluginHost, tenant: TenantSnapshot, standing: Standing
) -> Scored:
    """The mentee's best allowed mentors with places left, best first (none with an
    open tandem)."""
    criteria = criteria_for(plugins, tenant)
    problem, people = await cohort_problem(session, standing.cohort, criteria)
    row = people.mentee_row(standing.mentee.id)
    if standing.open_pairing is not None or row is None:
        return Scored(problem, -1, [])
    scored = score_rows(problem, np.array([row], dtype=np.int64))
    allowed = np.array(scored.allowed[0], dtype=bool, copy=True)
    mentors = problem.mentors
    # The scorer's filters decide; these guard what a request must never produce
    # whatever criteria a tenant enabled: a full mentor, a forbidden pair, oneself.
    allowed &= np.asarray(mentors["capacity"]) > 0
    for pair in problem.forbidden:
        if pair.mentee == row:
            allowed[pair.mentor] = False
    person = int(problem.mentees["person"][row])
    if person >= 0:
        allowed &= np.asarray(mentors["person"]) != person
    declined = await _declined_mentors(session, standing.mentee)
    if declined:
        allowed &= np.array([mentor_id not in declined for mentor_id in mentors.ids], dtype=bool)
    columns = np.flatnonzero(allowed)
    scores = np.asarray(scored.score[0])[columns]
    # Best score first; equal scores in a fixed order (the application id), so that
    # the page shows the same five each time.
    order = sorted(range(len(columns)), key=lambda i: (-int(scores[i]), mentors.ids[columns[i]]))[
        :SUGGESTIONS
    ]
    picks = []
    for i in order:
        column = int(columns[i])
        parts = {cid: float(matrix[0, column]) for cid, matrix in scored.parts.items()}
        picks.append(Pick(column, people.mentors[column], int(scores[i]), parts))
    return Scored(problem, row, picks)


async def suggestions_for(
    session: AsyncSession,
    plugins: PluginHost,
    tenant: TenantSnapshot,
    standing: Standing,
    locale: str,
) -> list[Suggestion]:
    """The mentee's top suggestions with each criterion's sentence in ``locale``."""
    if not standing.may_request:
        return []  # one open tandem at a time: nothing to choose meanwhile
    scored = await score_standing(session, plugins, tenant, standing)
    if not scored.picks:
        return []
    mentors = await _applications(session, [p.mentor_id for p in scored.picks])
    return [
        Suggestion(
            rank=rank,
            mentor=mentors[pick.mentor_id],
            score=pick.score,
            parts=pick.parts,
            reasons=explain_pair(
                scored.problem, scored.mentee_row, pick.mentor_row, pick.parts, locale
            ),
        )
        for rank, pick in enumerate(scored.picks, start=1)
    ]


async def _applications(
    session: AsyncSession, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Application]:
    rows = await session.scalars(select(Application).where(Application.id.in_(list(ids))))
    return {row.id: row for row in rows}


# --- requesting -------------------------------------------------------------------------------


async def request_mentor(
    session: AsyncSession,
    plugins: PluginHost,
    tenant: TenantSnapshot,
    user: Person,
    mentor_application_id: uuid.UUID,
    *,
    ip: str | None = None,
    base_url: str = "",
) -> Requested:
    """Propose a tandem with one of ``user``'s suggested mentors, accepted on their side.

    Asking again for the mentor of the tandem the mentee requested and that still
    waits for the mentor (a double-click, a reload) returns that tandem unchanged.
    Raises NotOffered (not a self-matching mentee here), RequestRefused (an open
    tandem already, or the mentor is not among the current suggestions), or the
    pairing service's Conflict when a concurrent write used the same people. The
    caller commits; on any exception it rolls back and nothing is stored.
    """
    standing = await require_standing(session, user)
    current = standing.open_pairing
    if current is not None:
        if _same_request(current, mentor_application_id):
            return Requested(current, created=False)  # sent twice: the first one stands
        raise RequestRefused(Refusal.OPEN_PAIRING, current.id)
    scored = await score_standing(session, plugins, tenant, standing)
    pick = next((p for p in scored.picks if p.mentor_id == mentor_application_id), None)
    if pick is None:
        raise RequestRefused(Refusal.NOT_SUGGESTED)
    mentor = await session.get(Application, mentor_application_id)
    assert mentor is not None  # it was just read as a candidate of this cohort
    explanation = {
        "source": SOURCE,
        "score": pick.score,  # millionths, as the matching pages show them
        "parts": pick.parts,
        "weights": {
            c.id: c.weight for c in scored.problem.criteria if c.kind is CriterionKind.SCORE
        },
    }
    try:
        pairing = await services.propose(
            session,
            standing.cohort,
            standing.mentee,
            mentor,
            user,
            score=pick.score / SCALE,
            explanation=explanation,
            ip=ip,
            base_url=base_url,
        )
    except InvalidInput as invalid:
        # The only way past the checks above: a concurrent request by the same
        # mentee (a double-click) won the unique index on open tandems.
        if "mentee_application_id" in invalid.problems:
            raise RequestRefused(Refusal.OPEN_PAIRING) from None
        raise RequestRefused(Refusal.NOT_SUGGESTED) from None
    await services.act(
        session,
        pairing,
        Action.ACCEPT,
        user,
        pairing.version,
        as_actor=Actor.MENTEE,
        ip=ip,
        base_url=base_url,
    )
    return Requested(pairing, created=True)


def _same_request(pairing: Pairing, mentor_application_id: uuid.UUID) -> bool:
    return (
        pairing.mentor_application_id == mentor_application_id
        and pairing.state == PairingState.PROPOSED
        and (pairing.explanation or {}).get("source") == SOURCE
    )


__all__ = [
    "SUGGESTIONS",
    "SUGGESTIONS_PATH",
    "NotOffered",
    "Refusal",
    "RequestRefused",
    "Requested",
    "Standing",
    "Suggestion",
    "request_mentor",
    "require_standing",
    "standing_of",
    "suggestions_for",
]
