"""``/api/v1/cohorts/<cohort>/matching``: matching runs, their proposals, locks and sending.

The same things a coordinator does on ``/admin/cohorts/<cohort>/matching``, with the
same permissions: the tenant's coordinators (role ``admin``); anyone else signed in
gets 403, a cohort of another tenant (or none) 404. Unsafe methods need the
``x-csrftoken`` header carrying the ``tandem_csrf`` cookie's value, like the rest of
the API. Errors are problem documents (RFC 9457): 422 names each field in ``errors``
(in the request's language), 409 says why the run cannot do this now.

A run is started with ``POST …/runs``: a small cohort is computed in the request and
comes back ``done`` (or ``failed``); a large one comes back ``queued`` and a job
computes it — poll ``GET …/runs/<id>`` for ``progress`` and ``stage``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, JSONBody, QueryParameter
from msgspec import Meta, Struct
from sqlalchemy.ext.asyncio import AsyncSession

from core.applications.models import Application
from core.applications.services import find_cohort
from core.db.sessions import Database
from core.i18n.catalogs import gettext
from core.identity.guards import CurrentUser, require_role
from core.identity.sessions import aware
from core.matching import (
    jobs,  # noqa: F401 - declares the run's actor before the broker is built
    services,
)
from core.matching.criteria import SCALE, CriterionKind
from core.matching.explain import Reason
from core.matching.models import (
    ConstraintKind,
    MatchConstraint,
    MatchProposal,
    MatchRun,
    MatchUnmatched,
    RunStatus,
)
from core.matching.problem import Mode, UnmatchedReason
from core.matching.tenant_criteria import criteria_for
from core.pairings.api import _spec, problem
from core.pairings.controllers import client_ip, signed_in, site_url
from core.pluginhost.manager import PluginHost
from core.programmes.models import Cohort
from core.programmes.schemas import InvalidInput
from core.web.sites import current_tenant, request_context

MAX_PAGE = 500


# --- shapes -----------------------------------------------------------------------------------


class CriterionOut(Struct, kw_only=True):
    id: str
    label: Annotated[str, Meta(description="In the request's language.")]
    kind: CriterionKind
    weight: Annotated[
        float | None, Meta(description="The tenant's weight (score criteria); null for filters.")
    ]


class PersonRefOut(Struct, kw_only=True):
    application_id: uuid.UUID
    name: str


class ConstraintOut(Struct, kw_only=True):
    id: uuid.UUID
    kind: ConstraintKind
    mentee: PersonRefOut
    mentor: PersonRefOut
    created_at: datetime


class OptionsOut(Struct, kw_only=True):
    mode: Mode
    maximise_matched: bool
    seed: int


class SkippedOut(Struct, kw_only=True):
    constraint_id: uuid.UUID
    kind: ConstraintKind
    mentee_application_id: uuid.UUID
    mentor_application_id: uuid.UUID
    reason: Annotated[str, Meta(description="mentee_not_candidate or mentor_not_candidate")]


class SummaryOut(Struct, kw_only=True):
    total_score: Annotated[
        float, Meta(description="The proposals' scores added up (each in [0, 1]).")
    ]
    total_score_millionths: int
    matched: int
    mentees: Annotated[int, Meta(description="Mentees waiting for a tandem when it ran.")]
    mentors: Annotated[int, Meta(description="Mentors with places left when it ran.")]
    places: int
    locked: Annotated[int, Meta(description="Proposals that are locked pairs.")]
    score_seconds: float
    solve_seconds: float
    proof: Annotated[dict[str, Any], Meta(description="How optimality was shown (optimal mode).")]
    blocking_pairs: Annotated[
        int | None, Meta(description="Stable mode: pairs that would rather be together.")
    ]
    paired_mentees: Annotated[int, Meta(description="Accepted mentees left out: in a tandem.")]
    full_mentors: Annotated[int, Meta(description="Accepted mentors left out: no places.")]
    skipped_constraints: list[SkippedOut]


class ComparisonOut(Struct, kw_only=True):
    previous_run_id: uuid.UUID
    kept: Annotated[int, Meta(description="Pairs both runs propose.")]
    changed: Annotated[int, Meta(description="Pairs of this run the previous did not propose.")]
    removed: Annotated[int, Meta(description="Pairs of the previous run this one drops.")]
    total_score_difference: float
    matched_difference: int


class RunOut(Struct, kw_only=True):
    id: uuid.UUID
    cohort: str
    status: RunStatus
    progress: Annotated[float, Meta(description="0 to 1.")]
    stage: Annotated[str, Meta(description="What it is doing, in the request's language.")]
    created_at: datetime
    finished_at: datetime | None
    options: OptionsOut
    weights: Annotated[dict[str, float], Meta(description="Score criterion id → weight used.")]
    filters: list[str]
    summary: SummaryOut | None
    comparison: Annotated[
        ComparisonOut | None, Meta(description="Against the previous finished run, if any.")
    ]
    proposals: int
    sent: int
    error: str | None


class ReasonOut(Struct, kw_only=True):
    criterion: str
    label: str
    kind: CriterionKind
    score: float | None
    weight: float
    sentence: Annotated[str, Meta(description="In the request's language.")]


class ProposalOut(Struct, kw_only=True):
    id: uuid.UUID
    mentee: PersonRefOut
    mentor: PersonRefOut
    score: Annotated[float, Meta(description="0 to 1.")]
    score_millionths: int
    parts: Annotated[dict[str, float], Meta(description="Score criterion id → score (0 to 1).")]
    locked: bool
    pairing_id: Annotated[uuid.UUID | None, Meta(description="Set once sent.")]
    reasons: list[ReasonOut]


class ProposalPageOut(Struct, kw_only=True):
    total: int
    offset: int
    limit: int
    proposals: list[ProposalOut]


class UnmatchedOut(Struct, kw_only=True):
    application_id: uuid.UUID
    name: str
    side: Annotated[str, Meta(description="mentee or mentor")]
    reason: UnmatchedReason
    reason_text: Annotated[str, Meta(description="In the request's language.")]


class MatchingOut(Struct, kw_only=True):
    cohort: str
    criteria: list[CriterionOut]
    inline_pairs: Annotated[
        int, Meta(description="Runs with more mentee-mentor pairs go to a background job.")
    ]
    mentees: Annotated[int, Meta(description="Accepted mentees without a tandem.")]
    mentors: Annotated[int, Meta(description="Accepted mentors.")]
    runs: list[RunOut]
    constraints: list[ConstraintOut]


class RunIn(Struct, kw_only=True, forbid_unknown_fields=True):
    """A run's choices; what is left out keeps the tenant's settings."""

    weights: Annotated[
        dict[str, float],
        Meta(description="Score criterion id → weight from 0 (left out) to 100."),
    ] = {}
    maximise_matched: Annotated[
        bool, Meta(description="First match as many mentees as possible, then the score.")
    ] = False
    mode: Annotated[str, Meta(description="optimal or stable", examples=["optimal"])] = "optimal"
    seed: Annotated[int, Meta(description="0 to 2147483647; decides among equal results.")] = 0


class ConstraintIn(Struct, kw_only=True, forbid_unknown_fields=True):
    mentee_application_id: uuid.UUID
    mentor_application_id: uuid.UUID
    kind: ConstraintKind


class SendIn(Struct, kw_only=True, forbid_unknown_fields=True):
    proposal_ids: list[uuid.UUID] = []
    all: Annotated[bool, Meta(description="Send every proposal not sent yet.")] = False


class SentOut(Struct, kw_only=True):
    proposal_id: uuid.UUID
    pairing_id: uuid.UUID


class FieldErrorOut(Struct, kw_only=True):
    key: str
    message: str


class RefusedOut(Struct, kw_only=True):
    proposal_id: uuid.UUID
    errors: list[FieldErrorOut]


class SendOut(Struct, kw_only=True):
    sent: list[SentOut]
    already_sent: list[uuid.UUID]
    refused: Annotated[
        list[RefusedOut], Meta(description="Not sent: the people are no longer free, and why.")
    ]


# --- building the shapes ----------------------------------------------------------------------


def _person(apps: dict[uuid.UUID, Application], app_id: uuid.UUID) -> PersonRefOut:
    app = apps.get(app_id)
    return PersonRefOut(application_id=app_id, name=app.name if app else "")


def _when(value: datetime | None) -> datetime | None:
    return aware(value) if value is not None else None


def summary_out(run: MatchRun) -> SummaryOut | None:
    s = run.summary or {}
    if run.status is not RunStatus.DONE or not s:
        return None
    return SummaryOut(
        total_score=round(int(s.get("total_score", 0)) / SCALE, 6),
        total_score_millionths=int(s.get("total_score", 0)),
        matched=int(s.get("matched", 0)),
        mentees=int(s.get("mentees", 0)),
        mentors=int(s.get("mentors", 0)),
        places=int(s.get("places", 0)),
        locked=int(s.get("locked", 0)),
        score_seconds=float(s.get("score_seconds", 0)),
        solve_seconds=float(s.get("solve_seconds", 0)),
        proof=dict(s.get("proof") or {}),
        blocking_pairs=s.get("blocking_pairs"),
        paired_mentees=int(s.get("paired_mentees", 0)),
        full_mentors=int(s.get("full_mentors", 0)),
        skipped_constraints=[SkippedOut(**item) for item in s.get("skipped_constraints", [])],
    )


async def run_out(
    session: AsyncSession, cohort: Cohort, run: MatchRun, locale: str, *, compare: bool = True
) -> RunOut:
    fraction, stage = services.progress_of(run)
    total, sent = await services.proposal_count(session, run)
    comparison = await services.compare(session, run) if compare else None
    options = services.options_of(run)
    return RunOut(
        id=run.id,
        cohort=cohort.slug,
        status=run.status,
        progress=round(fraction, 4),
        stage=services.stage_text(stage, locale),
        created_at=aware(run.created_at),
        finished_at=_when(run.finished_at),
        options=OptionsOut(
            mode=options.mode, maximise_matched=options.maximise_matched, seed=options.seed
        ),
        weights=dict(run.weights or {}),
        filters=list(run.filters or []),
        summary=summary_out(run),
        comparison=None
        if comparison is None
        else ComparisonOut(
            previous_run_id=comparison.previous.id,
            kept=comparison.kept,
            changed=comparison.changed,
            removed=comparison.removed,
            total_score_difference=round(comparison.score_difference / SCALE, 6),
            matched_difference=comparison.matched_difference,
        ),
        proposals=total,
        sent=sent,
        error=run.error or None,
    )


def reason_out(reason: Reason) -> ReasonOut:
    return ReasonOut(
        criterion=reason.criterion,
        label=reason.label,
        kind=CriterionKind.FILTER if reason.is_filter else CriterionKind.SCORE,
        score=None if reason.score is None else round(reason.score, 6),
        weight=reason.weight,
        sentence=reason.sentence,
    )


async def constraint_outs(
    session: AsyncSession, constraints: list[MatchConstraint]
) -> list[ConstraintOut]:
    apps = await services.applications_by_id(
        session,
        {c.mentee_application_id for c in constraints}
        | {c.mentor_application_id for c in constraints},
    )
    return [
        ConstraintOut(
            id=c.id,
            kind=c.kind,
            mentee=_person(apps, c.mentee_application_id),
            mentor=_person(apps, c.mentor_application_id),
            created_at=aware(c.created_at),
        )
        for c in constraints
    ]


def unmatched_outs(
    rows: list[MatchUnmatched], apps: dict[uuid.UUID, Application], locale: str
) -> list[UnmatchedOut]:
    outs = []
    for row in rows:
        app = apps.get(row.application_id)
        reason = UnmatchedReason(row.reason)
        outs.append(
            UnmatchedOut(
                application_id=row.application_id,
                name=app.name if app else "",
                side=app.kind.value if app else "",
                reason=reason,
                reason_text=gettext(locale, services.UNMATCHED_REASONS[reason]),
            )
        )
    return outs


# --- errors -----------------------------------------------------------------------------------


def _invalid(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    assert isinstance(exc, InvalidInput)
    return problem(request, 422, errors=exc.messages(request_context(request).locale))


def _not_done(request: Request[Any, Any, Any], _exc: Exception) -> Response[Any]:
    locale = request_context(request).locale
    return problem(request, 409, gettext(locale, services.RUN_NOT_DONE))


def _missing(request: Request[Any, Any, Any], _exc: Exception) -> Response[Any]:
    return problem(request, 404)


EXCEPTION_HANDLERS: dict[type[Exception], Any] = {
    InvalidInput: _invalid,
    services.RunNotDone: _not_done,
    services.RunNotFound: _missing,
}
COHORT_ERRORS = {
    403: _spec("Only the tenant's coordinators run matching."),
    404: _spec("No such cohort (or run) here."),
}
WRITE_ERRORS = {**COHORT_ERRORS, 422: _spec("Invalid input; `errors` names each field.")}


async def cohort_of(session: AsyncSession, slug: str) -> Cohort:
    found = await find_cohort(session, slug)
    if found is None:
        raise NotFoundException()
    return found[1]


async def _run(session: AsyncSession, cohort: Cohort, run_id: uuid.UUID) -> MatchRun:
    run = await services.run_of(session, cohort, run_id)
    if run is None:
        raise NotFoundException()
    return run


# --- the controller ---------------------------------------------------------------------------


class MatchingApi(Controller):
    path = "/api/v1/cohorts/{cohort_slug:str}/matching"
    tags = ["matching"]
    guards = [require_role("admin")]
    exception_handlers = EXCEPTION_HANDLERS

    @get("", name="api.matching", responses=COHORT_ERRORS)
    async def overview(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        plugins: NamedDependency[PluginHost],
        cohort_slug: FromPath[str],
    ) -> MatchingOut:
        """The cohort's matching: its criteria with the tenant's weights, how many people
        wait, the recent runs and the locks and exclusions."""
        tenant = current_tenant(request)
        locale = request_context(request).locale
        async with db.tenant_session(tenant.id) as session:
            cohort = await cohort_of(session, cohort_slug)
            criteria = criteria_for(plugins, tenant)
            mentees, mentors = await services.candidate_counts(session, cohort)
            runs = await services.runs_of(session, cohort)
            return MatchingOut(
                cohort=cohort.slug,
                criteria=[
                    CriterionOut(
                        id=c.id,
                        label=gettext(locale, c.label),
                        kind=c.kind,
                        weight=float(c.weight) if c.kind is CriterionKind.SCORE else None,
                    )
                    for c in criteria
                ],
                inline_pairs=services.INLINE_PAIRS,
                mentees=mentees,
                mentors=mentors,
                runs=[await run_out(session, cohort, r, locale, compare=False) for r in runs],
                constraints=await constraint_outs(
                    session, await services.constraints_of(session, cohort)
                ),
            )

    @post("/runs", name="api.matching.start", responses=WRITE_ERRORS)
    async def start(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        plugins: NamedDependency[PluginHost],
        current_user: NamedDependency[CurrentUser | None],
        cohort_slug: FromPath[str],
        data: JSONBody[RunIn],
    ) -> RunOut:
        """Run matching. Small cohorts answer ``done`` (or ``failed``) at once; large ones
        ``queued``, computed by a job: poll the run for its progress."""
        user = signed_in(current_user)
        tenant = current_tenant(request)
        locale = request_context(request).locale
        raw = {
            "weights": data.weights,
            "maximise_matched": data.maximise_matched,
            "mode": data.mode,
            "seed": data.seed,
        }
        async with db.tenant_session(tenant.id) as session:
            async with session.begin():
                cohort = await cohort_of(session, cohort_slug)
                run = await services.start_run(
                    session,
                    plugins=plugins,
                    tenant=tenant,
                    cohort=cohort,
                    raw=raw,
                    user_id=user.id,
                    ip=client_ip(request),
                )
            return await run_out(session, cohort, run, locale)

    @get("/runs", name="api.matching.runs", responses=COHORT_ERRORS)
    async def runs(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        cohort_slug: FromPath[str],
    ) -> list[RunOut]:
        """The cohort's runs, newest first (the latest 50)."""
        locale = request_context(request).locale
        async with db.tenant_session(current_tenant(request).id) as session:
            cohort = await cohort_of(session, cohort_slug)
            return [
                await run_out(session, cohort, r, locale, compare=False)
                for r in await services.runs_of(session, cohort)
            ]

    @get("/runs/{run_id:uuid}", name="api.matching.run", responses=COHORT_ERRORS)
    async def run(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        cohort_slug: FromPath[str],
        run_id: FromPath[uuid.UUID],
    ) -> RunOut:
        """One run: its status and progress, and once done its summary and how it
        compares with the previous finished run."""
        locale = request_context(request).locale
        async with db.tenant_session(current_tenant(request).id) as session:
            cohort = await cohort_of(session, cohort_slug)
            return await run_out(session, cohort, await _run(session, cohort, run_id), locale)

    @get("/runs/{run_id:uuid}/proposals", name="api.matching.proposals", responses=COHORT_ERRORS)
    async def proposals(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        plugins: NamedDependency[PluginHost],
        cohort_slug: FromPath[str],
        run_id: FromPath[uuid.UUID],
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE)] = 100,
    ) -> ProposalPageOut:
        """The run's proposals, best score first, each with its criteria's scores and
        explanations in the request's language."""
        tenant = current_tenant(request)
        locale = request_context(request).locale
        async with db.tenant_session(tenant.id) as session:
            cohort = await cohort_of(session, cohort_slug)
            run = await _run(session, cohort, run_id)
            total, _ = await services.proposal_count(session, run)
            page = await services.proposals_of(session, run, offset=offset, limit=limit)
            explainer = await services.explainer_for(session, plugins, tenant, run, page)
            apps = await services.applications_by_id(
                session,
                {p.mentee_application_id for p in page} | {p.mentor_application_id for p in page},
            )
            return ProposalPageOut(
                total=total,
                offset=offset,
                limit=limit,
                proposals=[_proposal_out(p, apps, explainer, locale) for p in page],
            )

    @get("/runs/{run_id:uuid}/unmatched", name="api.matching.unmatched", responses=COHORT_ERRORS)
    async def unmatched(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        cohort_slug: FromPath[str],
        run_id: FromPath[uuid.UUID],
    ) -> list[UnmatchedOut]:
        """The mentees and mentors the run left without a partner, and why."""
        locale = request_context(request).locale
        async with db.tenant_session(current_tenant(request).id) as session:
            cohort = await cohort_of(session, cohort_slug)
            rows = await services.unmatched_of(session, await _run(session, cohort, run_id))
            apps = await services.applications_by_id(session, {r.application_id for r in rows})
            return unmatched_outs(rows, apps, locale)

    @post(
        "/runs/{run_id:uuid}/send",
        name="api.matching.send",
        status_code=200,
        responses={**WRITE_ERRORS, 409: _spec("The run has not finished.")},
    )
    async def send(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        plugins: NamedDependency[PluginHost],
        current_user: NamedDependency[CurrentUser | None],
        cohort_slug: FromPath[str],
        run_id: FromPath[uuid.UUID],
        data: JSONBody[SendIn],
    ) -> SendOut:
        """Send proposals as tandems in state "proposed" (both people are mailed).

        Each goes on its own: one whose people are no longer free comes back in
        ``refused`` and the others still go. A proposal is sent at most once."""
        tenant = current_tenant(request)
        locale = request_context(request).locale
        async with db.tenant_session(tenant.id) as session:
            cohort = await cohort_of(session, cohort_slug)
        report = await services.send_proposals(
            db,
            plugins=plugins,
            tenant=tenant,
            cohort_id=cohort.id,
            run_id=run_id,
            proposal_ids=None if data.all else list(data.proposal_ids),
            by=signed_in(current_user),
            locale=locale,
            ip=client_ip(request),
            base_url=site_url(request),
        )
        return send_out(report, locale)

    @get("/constraints", name="api.matching.constraints", responses=COHORT_ERRORS)
    async def constraints(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        cohort_slug: FromPath[str],
    ) -> list[ConstraintOut]:
        """Locked pairs (stay matched in every run) and forbidden ones (never matched)."""
        async with db.tenant_session(current_tenant(request).id) as session:
            cohort = await cohort_of(session, cohort_slug)
            return await constraint_outs(session, await services.constraints_of(session, cohort))

    @post("/constraints", name="api.matching.add_constraint", responses=WRITE_ERRORS)
    async def add_constraint(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        cohort_slug: FromPath[str],
        data: JSONBody[ConstraintIn],
    ) -> ConstraintOut:
        """Lock or forbid a pair of accepted applications of the cohort; a pair constrained
        the other way changes its kind."""
        user = signed_in(current_user)
        async with db.tenant_session(current_tenant(request).id) as session:
            async with session.begin():
                cohort = await cohort_of(session, cohort_slug)
                constraint = await services.add_constraint(
                    session,
                    cohort,
                    data.mentee_application_id,
                    data.mentor_application_id,
                    data.kind,
                    user_id=user.id,
                    ip=client_ip(request),
                )
            [out] = await constraint_outs(session, [constraint])
            return out

    @delete(
        "/constraints/{constraint_id:uuid}",
        name="api.matching.remove_constraint",
        responses=COHORT_ERRORS,
    )
    async def remove_constraint(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        cohort_slug: FromPath[str],
        constraint_id: FromPath[uuid.UUID],
    ) -> None:
        """Remove a lock or exclusion."""
        user = signed_in(current_user)
        async with db.tenant_session(current_tenant(request).id) as session, session.begin():
            cohort = await cohort_of(session, cohort_slug)
            if not await services.remove_constraint(
                session, cohort, constraint_id, user_id=user.id, ip=client_ip(request)
            ):
                raise NotFoundException()


def _proposal_out(
    proposal: MatchProposal,
    apps: dict[uuid.UUID, Application],
    explainer: services.Explainer,
    locale: str,
) -> ProposalOut:
    return ProposalOut(
        id=proposal.id,
        mentee=_person(apps, proposal.mentee_application_id),
        mentor=_person(apps, proposal.mentor_application_id),
        score=round(proposal.score / SCALE, 6),
        score_millionths=proposal.score,
        parts=dict(proposal.parts or {}),
        locked=proposal.locked,
        pairing_id=proposal.pairing_id,
        reasons=[reason_out(r) for r in explainer.reasons(proposal, locale)],
    )


def send_out(report: services.SendReport, locale: str) -> SendOut:
    return SendOut(
        sent=[SentOut(proposal_id=p, pairing_id=q) for p, q in report.sent],
        already_sent=list(report.already_sent),
        refused=[
            RefusedOut(
                proposal_id=proposal_id,
                errors=[
                    FieldErrorOut(key=key, message=p.text(locale)) for key, p in problems.items()
                ],
            )
            for proposal_id, problems in report.refused
        ],
    )


__all__ = ["MatchingApi"]
