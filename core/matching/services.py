"""Matching runs for coordinators: start one, compute it (here or in a job), read and
compare the results, lock or forbid pairs, and send proposals as tandems.

Pages (:mod:`core.matching.controllers`), the JSON API (:mod:`core.matching.api`) and
the job (:mod:`core.matching.jobs`) all call these functions; who may call them
(the tenant's coordinators) is the edges' check. Everything reads and writes through
the caller's *tenant session*, so another tenant's cohort is simply not found.

A run, step by step:

1. :func:`check_run` checks the coordinator's choices — a weight per score criterion
   (the tenant's plugin settings are the defaults; a what-if run changes them for
   this run only, 0 leaves a criterion out), the mode, "first match as many mentees as
   possible" and the seed — and raises :class:`InvalidInput` before anything is stored.
2. :func:`start_run` stores a :class:`MatchRun` with those choices. A cohort with at most
   :data:`INLINE_PAIRS` mentee-mentor pairs is computed at once, in the caller's
   transaction; a larger one is left *queued* with a job enqueued in that same
   transaction (the outbox), and the job computes it.
3. :func:`compute_run` builds the cohort's problem (:mod:`core.matching.candidates`),
   solves it in a thread (the event loop keeps serving) and stores proposals, unmatched
   people and a summary; a failure of the criteria or the solver marks the run
   *failed* with its error instead.

Sending (:func:`send_proposals`) makes each chosen proposal a pairing in state
*proposed* through :func:`core.pairings.services.propose`, in one transaction per
proposal with its mails: a proposal whose people are no longer free is reported and
the others still go. The proposal row records the pairing, set only if it was unset,
so the same proposal never becomes two tandems.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import uuid
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from core.applications.models import Application, ApplicationKind, ApplicationStatus
from core.db.base import utcnow
from core.db.sessions import Database
from core.i18n.catalogs import gettext
from core.identity import audit
from core.jobs import enqueue
from core.matching.candidates import CohortPeople, cohort_problem, people_of
from core.matching.criteria import SCALE, Criterion, CriterionKind
from core.matching.explain import Reason, explain_people
from core.matching.features import Person
from core.matching.models import (
    ConstraintKind,
    MatchConstraint,
    MatchProposal,
    MatchRun,
    MatchUnmatched,
    RunStatus,
)
from core.matching.problem import Mode, Options, Problem, Solution, UnmatchedReason
from core.matching.solver import solve
from core.matching.tenant_criteria import criteria_for
from core.pairings import services as pairings
from core.pairings.lifecycle import OPEN_STATES
from core.pairings.messages import PROPOSAL_CONFLICT
from core.pairings.models import Pairing
from core.pluginhost.manager import PluginHost
from core.programmes.models import Cohort
from core.programmes.schemas import CHOICE, N_, YES_NO, InvalidInput
from core.programmes.schemas import Problem as FieldProblem
from core.tenancy.snapshot import TenantSnapshot

log = logging.getLogger(__name__)

# Runs with more mentee-mentor pairs than this go to a job; smaller ones answer at
# once (a few hundred milliseconds at most on a small machine).
INLINE_PAIRS = 200_000
MAX_WEIGHT = 100
MAX_SEED = 2**31 - 1
MAX_ERROR_LENGTH = 4000
# How far a run is when each of its steps starts; the solver reports in between.
READ_SHARE, SOLVE_SHARE = 0.05, 0.9

# Audit actions (labels in core/templates/admin/audit.html).
RUN_STARTED = "match_run_started"
CONSTRAINT_ADDED = "match_constraint_added"
CONSTRAINT_REMOVED = "match_constraint_removed"

STAGE_QUEUED = N_("Waiting for a worker")
STAGE_READING = N_("Reading the applications")
STAGE_SOLVING = N_("Finding the best tandems")
STAGE_SAVING = N_("Saving the proposals")
STAGE_DONE = N_("Done")
STAGE_FAILED = N_("Failed")
# What the solvers say they are doing (core.matching.solver, stable, scoring), as msgids.
SOLVER_STAGES = {
    "scoring": N_("Scoring every pair"),
    "solving": STAGE_SOLVING,
    "checking optimality": N_("Proving that no better result exists"),
    "proposing": N_("Mentees propose, mentors choose"),
    "checking stability": N_("Looking for blocking pairs"),
}

WEIGHT_INVALID = N_(
    "Enter a weight from 0 to %(max)s, such as 1 or 2.5; 0 leaves the criterion out."
)
UNKNOWN_CRITERION = N_("This programme has no score criterion “%(id)s”.")
SEED_INVALID = N_("Enter a whole number from 0 to %(max)s.")
UNKNOWN_FIELD = N_("There is no such field.")
NOTHING_CHOSEN = N_("Choose at least one proposal to send.")
NOT_IN_RUN = N_("This proposal does not belong to this run.")
ALREADY_SENT = N_("This proposal has been sent already.")
RUN_NOT_DONE = N_("Only the proposals of a finished run can be sent.")
CONSTRAINT_NOT_FOUND = N_("Choose one of the applications offered.")
ALREADY_LOCKED = N_("This mentee is locked with %(mentor)s already; remove that lock first.")
LOCKS_FILL_MENTOR = N_("Locks take all of this mentor's places (%(capacity)s) already.")
SAME_PAIR = {
    ConstraintKind.LOCK: N_("This pair is locked already."),
    ConstraintKind.FORBID: N_("This pair is forbidden already."),
}

UNMATCHED_REASONS = {
    UnmatchedReason.NO_ALLOWED_MENTOR: N_(
        "No mentor fits: a criterion or an exclusion rules out every mentor."
    ),
    UnmatchedReason.CAPACITY_EXHAUSTED: N_("The mentors who fit have no places left in this run."),
    UnmatchedReason.NOT_CHOSEN: N_("Has places left that the best result did not need."),
    UnmatchedReason.NO_ALLOWED_MENTEE: N_(
        "No mentee fits: a criterion or an exclusion rules out every mentee."
    ),
    UnmatchedReason.NO_PLACES: N_("Has no places left."),
}


# --- a run's choices --------------------------------------------------------------------------


@dataclass(frozen=True)
class RunChoices:
    """What the coordinator chose for one run."""

    weights: dict[str, float]  # every score criterion of the tenant; 0 leaves it out
    mode: Mode = Mode.OPTIMAL
    maximise_matched: bool = False
    seed: int = 0

    def options(self) -> Options:
        return Options(mode=self.mode, maximise_matched=self.maximise_matched, seed=self.seed)

    def options_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode.value,
            "maximise_matched": self.maximise_matched,
            "seed": self.seed,
        }


def options_of(run: MatchRun) -> Options:
    stored = run.options or {}
    return Options(
        mode=Mode(stored.get("mode", Mode.OPTIMAL)),
        maximise_matched=bool(stored.get("maximise_matched", False)),
        seed=int(stored.get("seed", 0)),
    )


def score_criteria(criteria: Iterable[Criterion]) -> list[Criterion]:
    return [c for c in criteria if c.kind is CriterionKind.SCORE]


def filter_criteria(criteria: Iterable[Criterion]) -> list[Criterion]:
    return [c for c in criteria if c.kind is CriterionKind.FILTER]


def default_weights(criteria: Iterable[Criterion]) -> dict[str, float]:
    return {c.id: float(c.weight) for c in score_criteria(criteria)}


_DECIMAL = re.compile(r"^[0-9]{1,6}(?:[.,][0-9]{1,6})?$")
_WHOLE = re.compile(r"^[0-9]{1,12}$")


class _Bad(Exception):
    def __init__(self, problem: FieldProblem) -> None:
        self.problem = problem


def _weight(raw: Any) -> float:
    bad = _Bad(FieldProblem(WEIGHT_INVALID, {"max": MAX_WEIGHT}))
    if isinstance(raw, bool):
        raise bad
    if isinstance(raw, str):
        text = raw.strip()
        if not _DECIMAL.match(text):
            raise bad
        raw = float(text.replace(",", "."))
    if not isinstance(raw, int | float) or not math.isfinite(raw) or not 0 <= raw <= MAX_WEIGHT:
        raise bad
    return float(raw)


def _seed(raw: Any) -> int:
    bad = _Bad(FieldProblem(SEED_INVALID, {"max": MAX_SEED}))
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return 0
    if isinstance(raw, bool):
        raise bad
    if isinstance(raw, str):
        text = raw.strip()
        if not _WHOLE.match(text):
            raise bad
        raw = int(text)
    if not isinstance(raw, int) or not 0 <= raw <= MAX_SEED:
        raise bad
    return raw


def _mode(raw: Any) -> Mode:
    if raw is None or raw == "":
        return Mode.OPTIMAL
    try:
        return Mode(raw.strip() if isinstance(raw, str) else raw)
    except ValueError:
        raise _Bad(FieldProblem(CHOICE)) from None


def _flag(raw: Any) -> bool:
    if raw is None:
        return False
    if not isinstance(raw, bool):
        raise _Bad(FieldProblem(YES_NO))
    return raw


def check_run(raw: Mapping[str, Any], criteria: Sequence[Criterion]) -> RunChoices:
    """The run's choices from ``raw`` (form values or a decoded JSON body), or InvalidInput.

    Keys: ``weights`` (criterion id → weight; missing ones keep the tenant's), ``mode``,
    ``maximise_matched``, ``seed``. Errors are keyed ``weights.<id>`` and by field name.
    """
    problems: dict[str, FieldProblem] = {}
    for key in sorted(set(raw) - {"weights", "mode", "maximise_matched", "seed"}):
        problems[key] = FieldProblem(UNKNOWN_FIELD)
    weights = default_weights(criteria)
    given = raw.get("weights") or {}
    if not isinstance(given, Mapping):
        problems["weights"] = FieldProblem(WEIGHT_INVALID, {"max": MAX_WEIGHT})
        given = {}
    for criterion_id, value in given.items():
        key = f"weights.{criterion_id}"
        if criterion_id not in weights:
            problems[key] = FieldProblem(UNKNOWN_CRITERION, {"id": str(criterion_id)[:100]})
            continue
        try:
            weights[criterion_id] = _weight(value)
        except _Bad as bad:
            problems[key] = bad.problem
    values: dict[str, Any] = {}
    for key, read in (("mode", _mode), ("maximise_matched", _flag), ("seed", _seed)):
        try:
            values[key] = read(raw.get(key))
        except _Bad as bad:
            problems[key] = bad.problem
    if problems:
        raise InvalidInput(problems)
    return RunChoices(weights=weights, **values)


def run_criteria(
    plugins: PluginHost, tenant: TenantSnapshot, weights: Mapping[str, float]
) -> tuple[Criterion, ...]:
    """The tenant's criteria with a run's weights: 0 leaves a score criterion out.

    Weights of criteria the tenant no longer has (a plugin disabled since the run was
    queued) are ignored: the run uses what the tenant has now.
    """
    base = criteria_for(plugins, tenant)
    known = {c.id for c in score_criteria(base)}
    positive = {k: float(w) for k, w in weights.items() if k in known and w > 0}
    chosen = criteria_for(plugins, tenant, positive) if positive else base
    return tuple(
        c for c in chosen if c.kind is CriterionKind.FILTER or float(weights.get(c.id, 1)) > 0
    )


# --- progress ---------------------------------------------------------------------------------


T = TypeVar("T")


class RunReporter:
    """Where a run says how far it is. This one tells nobody (runs in a request);
    :class:`core.matching.jobs.ProgressReporter` writes it to the run's row."""

    def progress(self, fraction: float, stage: str) -> None:
        """The solver's callback (:data:`~core.matching.problem.Progress`), from its thread."""

    async def stage(self, fraction: float, stage: str) -> None:
        """A step of the run starts (called on the event loop)."""

    async def follow(self, work: Awaitable[T]) -> T:
        """Wait for the solver, reporting its progress meanwhile."""
        return await work


QUIET = RunReporter()
# Progress of runs computed by a job in this process, by run id. On SQLite the job's
# transaction holds the database's only write lock while it runs, so its progress
# cannot reach the row before the end; pages read it from here instead (development,
# where the web process runs the jobs itself).
LIVE_PROGRESS: dict[uuid.UUID, tuple[float, str]] = {}


# --- starting and computing a run -------------------------------------------------------------


async def candidate_counts(session: AsyncSession, cohort: Cohort) -> tuple[int, int]:
    """Accepted mentees without an open tandem, and accepted mentors (an upper bound of
    the candidates, cheap to count: it decides whether a run goes to a job)."""
    rows = await session.execute(
        select(Application.kind, func.count())
        .where(Application.cohort_id == cohort.id, Application.status == ApplicationStatus.ACCEPTED)
        .group_by(Application.kind)
    )
    counts = {ApplicationKind(kind): int(n) for kind, n in rows}
    paired = await session.scalar(
        select(func.count(func.distinct(Pairing.mentee_application_id))).where(
            Pairing.cohort_id == cohort.id, Pairing.state.in_(sorted(OPEN_STATES))
        )
    )
    mentees = max(0, counts.get(ApplicationKind.MENTEE, 0) - int(paired or 0))
    return mentees, counts.get(ApplicationKind.MENTOR, 0)


async def start_run(
    session: AsyncSession,
    *,
    plugins: PluginHost,
    tenant: TenantSnapshot,
    cohort: Cohort,
    raw: Mapping[str, Any],
    user_id: uuid.UUID | None,
    ip: str | None = None,
) -> MatchRun:
    """Check the choices, store the run, and compute it now or enqueue its job.

    Raises InvalidInput (nothing stored). Returns the run: *done* or *failed* when
    computed here, *queued* otherwise. The caller commits.
    """
    base = criteria_for(plugins, tenant)
    choices = check_run(raw, base)
    run = MatchRun(
        cohort_id=cohort.id,
        created_by_user_id=user_id,
        status=RunStatus.QUEUED,
        progress=0.0,
        stage=STAGE_QUEUED,
        options=choices.options_json(),
        weights=choices.weights,
        filters=[c.id for c in filter_criteria(base)],
    )
    session.add(run)
    await session.flush()
    audit.record(
        session,
        RUN_STARTED,
        user_id,
        {"run_id": str(run.id), "cohort": cohort.slug, **choices.options_json()},
        ip,
    )
    mentees, mentors = await candidate_counts(session, cohort)
    if mentees * mentors > INLINE_PAIRS:
        from core.matching.jobs import run_matching  # the job module imports this one

        enqueue(session, run_matching, run_id=str(run.id))
        return run
    await compute_run(session, run, cohort, plugins=plugins, tenant=tenant)
    return run


async def compute_run(
    session: AsyncSession,
    run: MatchRun,
    cohort: Cohort,
    *,
    plugins: PluginHost,
    tenant: TenantSnapshot,
    reporter: RunReporter = QUIET,
) -> None:
    """Compute ``run`` and store its results in ``session`` (the caller commits).

    A criterion or solver failure marks the run failed with the error; database errors
    propagate (the caller's transaction is lost anyway).
    """
    # The row is not touched here before the end: a job writes its progress to it from
    # other transactions, which would wait for this one's row lock.
    try:
        await reporter.stage(0.0, STAGE_READING)
        criteria = run_criteria(plugins, tenant, run.weights or {})
        problem, people = await cohort_problem(session, cohort, criteria)
        await reporter.stage(READ_SHARE, STAGE_SOLVING)

        def progress(fraction: float, stage: str) -> None:
            share = READ_SHARE + SOLVE_SHARE * min(max(float(fraction), 0.0), 1.0)
            reporter.progress(share, SOLVER_STAGES.get(stage, stage) or STAGE_SOLVING)

        options = options_of(run)
        solution = await reporter.follow(asyncio.to_thread(solve, problem, options, progress))
    except SQLAlchemyError:
        raise
    except Exception as exc:
        log.exception("matching run %s of cohort %s failed", run.id, cohort.slug)
        mark_failed(run, exc)
        return
    await reporter.stage(READ_SHARE + SOLVE_SHARE, STAGE_SAVING)
    await store_solution(session, run, problem, people, solution)


def mark_failed(run: MatchRun, exc: BaseException) -> None:
    run.status = RunStatus.FAILED
    run.stage = STAGE_FAILED
    run.error = (f"{type(exc).__name__}: {exc}")[:MAX_ERROR_LENGTH]
    run.finished_at = utcnow()


def _plain(value: Any) -> Any:
    """JSON-safe plain values from what a solver reports (numpy numbers included)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


async def store_solution(
    session: AsyncSession,
    run: MatchRun,
    problem: Problem,
    people: CohortPeople,
    solution: Solution,
) -> None:
    """Write a solved run: its proposals, its unmatched people and its summary."""
    if solution.proposals:
        await session.execute(
            insert(MatchProposal),
            [
                {
                    "id": uuid.uuid4(),
                    "run_id": run.id,
                    "mentee_application_id": people.mentees[p.mentee],
                    "mentor_application_id": people.mentors[p.mentor],
                    "score": int(p.score),
                    "parts": {k: round(float(v), 6) for k, v in p.parts.items()},
                    "locked": bool(p.locked),
                }
                for p in solution.proposals
            ],
        )
    unmatched = [
        {
            "id": uuid.uuid4(),
            "run_id": run.id,
            "application_id": people.mentees[u.index],
            "reason": UnmatchedReason(u.reason).value,
        }
        for u in solution.unmatched_mentees
    ] + [
        {
            "id": uuid.uuid4(),
            "run_id": run.id,
            "application_id": people.mentors[u.index],
            "reason": UnmatchedReason(u.reason).value,
        }
        for u in solution.unmatched_mentors
    ]
    if unmatched:
        await session.execute(insert(MatchUnmatched), unmatched)
    run.summary = {
        "total_score": int(solution.total_score),
        "matched": solution.matched,
        "mentees": len(problem.mentees),
        "mentors": len(problem.mentors),
        "places": int(problem.mentors["capacity"].sum()) if len(problem.mentors) else 0,
        "locked": sum(1 for p in solution.proposals if p.locked),
        "score_seconds": round(float(solution.score_seconds), 4),
        "solve_seconds": round(float(solution.solve_seconds), 4),
        "proof": _plain(dict(solution.proof)),
        "blocking_pairs": solution.blocking_pairs,
        "paired_mentees": len(people.paired_mentees),
        "full_mentors": len(people.full_mentors),
        "skipped_constraints": [
            {
                "constraint_id": str(s.constraint_id),
                "kind": ConstraintKind(s.kind).value,
                "mentee_application_id": str(s.mentee_application_id),
                "mentor_application_id": str(s.mentor_application_id),
                "reason": s.reason,
            }
            for s in people.skipped
        ],
    }
    run.status = RunStatus.DONE
    run.progress = 1.0
    run.stage = STAGE_DONE
    run.error = ""
    run.finished_at = utcnow()
    await session.flush()


# --- reading runs -----------------------------------------------------------------------------


async def runs_of(session: AsyncSession, cohort: Cohort, limit: int = 50) -> list[MatchRun]:
    """The cohort's runs, newest first."""
    return list(
        await session.scalars(
            select(MatchRun)
            .where(MatchRun.cohort_id == cohort.id)
            .order_by(MatchRun.created_at.desc(), MatchRun.id.desc())
            .limit(limit)
        )
    )


async def run_of(session: AsyncSession, cohort: Cohort, run_id: uuid.UUID) -> MatchRun | None:
    """Run ``run_id`` if it is one of ``cohort``'s (another cohort's run: None)."""
    run = await session.get(MatchRun, run_id)
    return run if run is not None and run.cohort_id == cohort.id else None


def progress_of(run: MatchRun) -> tuple[float, str]:
    """How far the run is: the row's values, or newer ones from a job in this process."""
    if run.status not in (RunStatus.QUEUED, RunStatus.RUNNING):
        LIVE_PROGRESS.pop(run.id, None)
    elif run.id in LIVE_PROGRESS:
        return LIVE_PROGRESS[run.id]
    return float(run.progress), run.stage


def stage_text(stage: str, locale: str) -> str:
    """A run's stage in ``locale`` (a solver's own words pass through untranslated)."""
    return gettext(locale, stage) if stage else ""


async def previous_run(session: AsyncSession, run: MatchRun) -> MatchRun | None:
    """The cohort's latest finished run started before ``run``: what it is compared with."""
    return await session.scalar(
        select(MatchRun)
        .where(
            MatchRun.cohort_id == run.cohort_id,
            MatchRun.status == RunStatus.DONE,
            MatchRun.id != run.id,
            MatchRun.created_at <= run.created_at,
        )
        .order_by(MatchRun.created_at.desc(), MatchRun.id.desc())
        .limit(1)
    )


async def proposals_of(
    session: AsyncSession, run: MatchRun, *, offset: int = 0, limit: int | None = None
) -> list[MatchProposal]:
    """The run's proposals, best score first."""
    query = (
        select(MatchProposal)
        .where(MatchProposal.run_id == run.id)
        .order_by(MatchProposal.score.desc(), MatchProposal.mentee_application_id)
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    return list(await session.scalars(query))


async def proposals_by_id(
    session: AsyncSession, run: MatchRun, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, MatchProposal]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = await session.scalars(
        select(MatchProposal).where(MatchProposal.run_id == run.id, MatchProposal.id.in_(wanted))
    )
    return {row.id: row for row in rows}


async def proposal_count(session: AsyncSession, run: MatchRun) -> tuple[int, int]:
    """The run's proposals, and how many of them have been sent."""
    row = (
        await session.execute(
            select(func.count(), func.count(MatchProposal.pairing_id)).where(
                MatchProposal.run_id == run.id
            )
        )
    ).one()
    return int(row[0]), int(row[1])


async def unmatched_of(session: AsyncSession, run: MatchRun) -> list[MatchUnmatched]:
    return list(
        await session.scalars(
            select(MatchUnmatched)
            .where(MatchUnmatched.run_id == run.id)
            .order_by(MatchUnmatched.reason, MatchUnmatched.application_id)
        )
    )


async def applications_by_id(
    session: AsyncSession, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Application]:
    wanted = set(ids)
    if not wanted:
        return {}
    found: dict[uuid.UUID, Application] = {}
    chunk = sorted(wanted)
    for start in range(0, len(chunk), 500):  # keeps IN lists short on both databases
        rows = await session.scalars(
            select(Application).where(Application.id.in_(chunk[start : start + 500]))
        )
        found.update({row.id: row for row in rows})
    return found


@dataclass(frozen=True)
class Comparison:
    """A run against the cohort's previous finished one."""

    previous: MatchRun
    kept: int  # pairs in both runs
    changed: int  # pairs of this run that the previous one did not propose
    removed: int  # pairs of the previous run that this one does not propose
    score_difference: int  # total score, millionths (this minus previous)
    matched_difference: int


async def compare(session: AsyncSession, run: MatchRun) -> Comparison | None:
    """How ``run`` differs from the previous finished run (None: there is none)."""
    if run.status is not RunStatus.DONE:
        return None
    previous = await previous_run(session, run)
    if previous is None:
        return None

    async def pairs(of: MatchRun) -> set[tuple[uuid.UUID, uuid.UUID]]:
        rows = await session.execute(
            select(MatchProposal.mentee_application_id, MatchProposal.mentor_application_id).where(
                MatchProposal.run_id == of.id
            )
        )
        return {(a, b) for a, b in rows}

    now, before = await pairs(run), await pairs(previous)
    summary, earlier = run.summary or {}, previous.summary or {}
    return Comparison(
        previous=previous,
        kept=len(now & before),
        changed=len(now - before),
        removed=len(before - now),
        score_difference=int(summary.get("total_score", 0)) - int(earlier.get("total_score", 0)),
        matched_difference=len(now) - len(before),
    )


# --- explanations -----------------------------------------------------------------------------


@dataclass
class Explainer:
    """Explains a finished run's proposals with the criteria and weights it used.

    People are read from their applications as they are now; a proposal's scores
    (``parts``) are the run's.
    """

    criteria: tuple[Criterion, ...]
    people: dict[uuid.UUID, Person] = field(default_factory=dict)

    def reasons(self, proposal: MatchProposal, locale: str) -> list[Reason]:
        mentee = self.people.get(proposal.mentee_application_id)
        mentor = self.people.get(proposal.mentor_application_id)
        if mentee is None or mentor is None:
            return []
        return explain_people(self.criteria, mentee, mentor, proposal.parts or {}, locale)


async def explainer_for(
    session: AsyncSession,
    plugins: PluginHost,
    tenant: TenantSnapshot,
    run: MatchRun,
    proposals: Sequence[MatchProposal],
) -> Explainer:
    criteria = run_criteria(plugins, tenant, run.weights or {})
    ids = {p.mentee_application_id for p in proposals} | {
        p.mentor_application_id for p in proposals
    }
    return Explainer(criteria, await people_of(session, ids))


# --- locks and exclusions ---------------------------------------------------------------------


async def constraints_of(session: AsyncSession, cohort: Cohort) -> list[MatchConstraint]:
    return list(
        await session.scalars(
            select(MatchConstraint)
            .where(MatchConstraint.cohort_id == cohort.id)
            .order_by(MatchConstraint.created_at, MatchConstraint.id)
        )
    )


async def _application(
    session: AsyncSession, cohort: Cohort, application_id: Any, kind: ApplicationKind
) -> tuple[Application | None, FieldProblem | None]:
    try:
        wanted = (
            application_id
            if isinstance(application_id, uuid.UUID)
            else uuid.UUID(str(application_id))
        )
    except ValueError:
        return None, FieldProblem(CONSTRAINT_NOT_FOUND)
    app = await session.get(Application, wanted)
    if app is None:
        return None, FieldProblem(CONSTRAINT_NOT_FOUND)
    if app.kind != kind:
        message = pairings.NOT_A_MENTEE if kind is ApplicationKind.MENTEE else pairings.NOT_A_MENTOR
        return None, FieldProblem(message)
    if app.cohort_id != cohort.id:
        return None, FieldProblem(pairings.OTHER_COHORT)
    if app.status != ApplicationStatus.ACCEPTED:
        return None, FieldProblem(pairings.NOT_ACCEPTED)
    return app, None


async def add_constraint(
    session: AsyncSession,
    cohort: Cohort,
    mentee_application_id: Any,
    mentor_application_id: Any,
    kind: Any,
    *,
    user_id: uuid.UUID | None,
    ip: str | None = None,
) -> MatchConstraint:
    """Lock (stays matched in every re-run) or forbid (never matched) a pair.

    A pair already constrained the other way changes its kind. A mentee has at most one
    lock, and a mentor no more locks than places. Raises InvalidInput (keys
    ``mentee_application_id``, ``mentor_application_id``, ``kind``).
    """
    problems: dict[str, FieldProblem] = {}
    try:
        chosen = ConstraintKind(kind.strip() if isinstance(kind, str) else kind)
    except ValueError:
        problems["kind"] = FieldProblem(CHOICE)
        chosen = ConstraintKind.FORBID
    mentee, problem = await _application(
        session, cohort, mentee_application_id, ApplicationKind.MENTEE
    )
    if problem is not None:
        problems["mentee_application_id"] = problem
    mentor, problem = await _application(
        session, cohort, mentor_application_id, ApplicationKind.MENTOR
    )
    if problem is not None:
        problems["mentor_application_id"] = problem
    if mentee is None or mentor is None or problems:
        raise InvalidInput(problems)

    existing = await constraints_of(session, cohort)
    same = next(
        (
            c
            for c in existing
            if c.mentee_application_id == mentee.id and c.mentor_application_id == mentor.id
        ),
        None,
    )
    if same is not None and same.kind == chosen:
        raise InvalidInput({"kind": FieldProblem(SAME_PAIR[chosen])})
    if chosen is ConstraintKind.LOCK:
        other = next(
            (
                c
                for c in existing
                if c.kind == ConstraintKind.LOCK
                and c.mentee_application_id == mentee.id
                and c is not same
            ),
            None,
        )
        if other is not None:
            locked_with = await session.get(Application, other.mentor_application_id)
            name = locked_with.name if locked_with is not None else ""
            raise InvalidInput(
                {"mentee_application_id": FieldProblem(ALREADY_LOCKED, {"mentor": name})}
            )
        capacity = pairings.capacity_of(mentor)
        locks = sum(
            1
            for c in existing
            if c.kind == ConstraintKind.LOCK and c.mentor_application_id == mentor.id
        )
        if locks >= capacity:
            raise InvalidInput(
                {"mentor_application_id": FieldProblem(LOCKS_FILL_MENTOR, {"capacity": capacity})}
            )
    if same is not None:
        same.kind = chosen
        same.created_by_user_id = user_id
        same.created_at = utcnow()
        constraint = same
    else:
        constraint = MatchConstraint(
            cohort_id=cohort.id,
            mentee_application_id=mentee.id,
            mentor_application_id=mentor.id,
            kind=chosen,
            created_by_user_id=user_id,
        )
        session.add(constraint)
    await session.flush()
    audit.record(
        session,
        CONSTRAINT_ADDED,
        user_id,
        {
            "cohort": cohort.slug,
            "kind": chosen.value,
            "mentee": mentee.name,
            "mentor": mentor.name,
        },
        ip,
    )
    return constraint


async def remove_constraint(
    session: AsyncSession,
    cohort: Cohort,
    constraint_id: uuid.UUID,
    *,
    user_id: uuid.UUID | None,
    ip: str | None = None,
) -> bool:
    """Remove a lock or exclusion of ``cohort``; False if there is no such one."""
    constraint = await session.get(MatchConstraint, constraint_id)
    if constraint is None or constraint.cohort_id != cohort.id:
        return False
    await session.execute(delete(MatchConstraint).where(MatchConstraint.id == constraint.id))
    audit.record(
        session,
        CONSTRAINT_REMOVED,
        user_id,
        {"cohort": cohort.slug, "kind": ConstraintKind(constraint.kind).value},
        ip,
    )
    return True


# --- sending proposals ------------------------------------------------------------------------


class RunNotDone(Exception):
    """Proposals of a run that is not finished cannot be sent."""


class RunNotFound(LookupError):
    """No such run of this cohort (or of this tenant)."""


@dataclass
class SendReport:
    """What became of each proposal the coordinator sent."""

    sent: list[tuple[uuid.UUID, uuid.UUID]] = field(default_factory=list)  # proposal, pairing
    already_sent: list[uuid.UUID] = field(default_factory=list)
    refused: list[tuple[uuid.UUID, dict[str, FieldProblem]]] = field(default_factory=list)


async def _chosen_proposals(
    session: AsyncSession, run: MatchRun, proposal_ids: Sequence[Any] | None
) -> list[MatchProposal]:
    everything = await proposals_of(session, run)
    if proposal_ids is None:
        return everything
    by_id = {p.id: p for p in everything}
    problems: dict[str, FieldProblem] = {}
    chosen: list[MatchProposal] = []
    for raw in proposal_ids:
        try:
            proposal = by_id.get(raw if isinstance(raw, uuid.UUID) else uuid.UUID(str(raw)))
        except ValueError:
            proposal = None
        if proposal is None:
            problems[f"proposal_ids.{raw}"[:120]] = FieldProblem(NOT_IN_RUN)
        elif proposal not in chosen:
            chosen.append(proposal)
    if problems:
        raise InvalidInput(problems)
    if not chosen:
        raise InvalidInput({"proposal_ids": FieldProblem(NOTHING_CHOSEN)})
    return chosen


async def send_proposals(
    db: Database,
    *,
    plugins: PluginHost,
    tenant: TenantSnapshot,
    cohort_id: uuid.UUID,
    run_id: uuid.UUID,
    proposal_ids: Sequence[Any] | None,
    by: pairings.Person,
    locale: str,
    ip: str | None = None,
    base_url: str = "",
) -> SendReport:
    """Send ``proposal_ids`` of the run (None: all not yet sent) as proposed tandems.

    Raises RunNotFound (no such run of the cohort), RunNotDone, InvalidInput (an id not
    of this run, or none chosen) before anything is sent. Then each proposal goes in a
    transaction of its own, with the pairing's mails; one whose people are no longer
    free is reported in ``refused`` and the others still go.
    """
    async with db.tenant_session(tenant.id) as session:
        run = await session.get(MatchRun, run_id)
        if run is None or run.cohort_id != cohort_id:
            raise RunNotFound(run_id)
        if run.status is not RunStatus.DONE:
            raise RunNotDone(run_id)
        chosen = await _chosen_proposals(session, run, proposal_ids)
        explainer = await explainer_for(session, plugins, tenant, run, chosen)
    report = SendReport()
    for proposal in chosen:
        if proposal.pairing_id is not None:
            if proposal_ids is not None:
                report.already_sent.append(proposal.id)
            continue
        try:
            pairing_id = await _send_one(
                db, tenant.id, cohort_id, run, proposal, explainer, by, locale, ip, base_url
            )
        except InvalidInput as refusal:
            report.refused.append((proposal.id, refusal.problems))
        except pairings.Conflict:
            report.refused.append((proposal.id, {"": FieldProblem(PROPOSAL_CONFLICT)}))
        except _AlreadySent:
            report.already_sent.append(proposal.id)
        else:
            report.sent.append((proposal.id, pairing_id))
    return report


class _AlreadySent(Exception):
    pass


async def _send_one(
    db: Database,
    tenant_id: uuid.UUID,
    cohort_id: uuid.UUID,
    run: MatchRun,
    proposal: MatchProposal,
    explainer: Explainer,
    by: pairings.Person,
    locale: str,
    ip: str | None,
    base_url: str,
) -> uuid.UUID:
    async with db.tenant_session(tenant_id) as session, session.begin():
        cohort = await session.get(Cohort, cohort_id)
        mentee = await session.get(Application, proposal.mentee_application_id)
        mentor = await session.get(Application, proposal.mentor_application_id)
        if cohort is None or mentee is None or mentor is None:
            raise InvalidInput({"": FieldProblem(pairings.NOT_FOUND)})
        reasons = explainer.reasons(proposal, locale)
        pairing = await pairings.propose(
            session,
            cohort,
            mentee,
            mentor,
            by,
            score=proposal.score / SCALE,
            explanation={
                "run_id": str(run.id),
                "proposal_id": str(proposal.id),
                "score": proposal.score,
                "parts": dict(proposal.parts or {}),
                "weights": dict(run.weights or {}),
                "locale": locale,
                "reasons": [
                    {"criterion": r.criterion, "score": r.score, "sentence": r.sentence}
                    for r in reasons
                ],
            },
            ip=ip,
            base_url=base_url,
        )
        # Compare-and-set: of two sends of one proposal racing, one records its pairing;
        # the other rolls back its tandem (and its mails) with this exception.
        claimed = await session.execute(
            update(MatchProposal)
            .where(MatchProposal.id == proposal.id, MatchProposal.pairing_id.is_(None))
            .values(pairing_id=pairing.id)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:
            raise _AlreadySent(proposal.id)
        return pairing.id


__all__ = [
    "INLINE_PAIRS",
    "LIVE_PROGRESS",
    "Comparison",
    "Explainer",
    "RunChoices",
    "RunNotDone",
    "RunNotFound",
    "RunReporter",
    "SendReport",
    "add_constraint",
    "check_run",
    "compare",
    "compute_run",
    "constraints_of",
    "explainer_for",
    "proposals_of",
    "remove_constraint",
    "run_criteria",
    "run_of",
    "runs_of",
    "send_proposals",
    "start_run",
    "unmatched_of",
]
