"""Matching pages for coordinators: ``/admin/cohorts/<cohort>/matching``.

* ``…/matching`` — the form to run matching (a weight per score criterion, the mode,
  "first match as many mentees as possible", the seed), the cohort's recent runs, and
  its locked and forbidden pairs with a form to add one.
* ``…/matching/runs/<id>`` — one run. While a job computes it: a ``<progress>`` bar
  and the stage (``aria-live``), refreshed by ``/static/core/matching-progress.js``
  polling the API, or by a ``<meta>`` refresh without JavaScript. When done: the
  summary, the comparison with the previous run, the proposals best first with each
  criterion's score as a bar and its sentence, buttons to lock or forbid a pair,
  check boxes to send proposals, and the people left unmatched with the reason. A
  failed run shows its error.

Only the tenant's coordinators (role ``admin``): 403 for anyone else signed in, 404
for a cohort or run of another tenant. Refused input comes back with the page, the
errors next to their fields and in the visitor's language (422).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from babel.numbers import format_decimal, format_percent
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Response, Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.applications.models import Application, ApplicationKind, ApplicationStatus
from core.db.sessions import Database
from core.i18n.catalogs import gettext
from core.identity.guards import CurrentUser, require_role
from core.identity.sessions import aware
from core.mail.compose import format_datetime
from core.matching import (
    jobs,  # noqa: F401 - declares the run's actor before the broker is built
    services,
)
from core.matching.api import cohort_of
from core.matching.criteria import SCALE, Criterion
from core.matching.models import ConstraintKind, MatchProposal, MatchRun, RunStatus
from core.matching.problem import Mode, UnmatchedReason
from core.matching.tenant_criteria import criteria_for
from core.pairings.controllers import client_ip, signed_in, site_url
from core.pluginhost.manager import PluginHost
from core.programmes.models import Cohort
from core.programmes.schemas import N_, InvalidInput
from core.web.forms import form_text
from core.web.sites import current_tenant, request_context

PAGE_SIZE = 50
MAX_SENT_IDS = 20_000  # a form cannot carry more check boxes than a run has proposals

STATUS_LABELS = {
    RunStatus.QUEUED: N_("Waiting for a worker"),
    RunStatus.RUNNING: N_("Running"),
    RunStatus.DONE: N_("Done"),
    RunStatus.FAILED: N_("Failed"),
}
MODE_LABELS = {
    Mode.OPTIMAL: N_("Best total score (optimal)"),
    Mode.STABLE: N_("Stable: no mentee and mentor would both rather be together"),
}
KIND_LABELS = {ConstraintKind.LOCK: N_("Locked"), ConstraintKind.FORBID: N_("Forbidden")}
NOTICES = {
    "lock": N_("The pair is locked: every run keeps it."),
    "forbid": N_("The pair is forbidden: no run proposes it."),
    "removed": N_("The lock or exclusion has been removed."),
}
PROOF_TEXT = N_(
    "Optimal, and proven: the solver kept %(kept)s of %(pairs)s possible pairs, and the "
    "prices of its solution show that none of the other %(pruned)s could raise the total "
    "(rounds: %(rounds)s; mentees checked again: %(rechecked)s)."
)
PROOF_ALL_PAIRS = N_("Optimal, and proven: the solver weighed all %(pairs)s possible pairs.")
PROOF_MISSING = N_("The solver gave no proof of optimality for this run.")
STABLE_TEXT = N_(
    "Stable mode. Blocking pairs (a mentee and a mentor who would both rather be "
    "together): %(count)s."
)


def _number(value: float, locale: str, digits: int = 2) -> str:
    return format_decimal(round(value, digits), format="#,##0." + "#" * digits, locale=locale)


def _percent(value: float, locale: str) -> str:
    return format_percent(value, locale=locale)


def _when(value: datetime | None, locale: str) -> str:
    return format_datetime(aware(value), locale) if value is not None else ""


def _signed(value: float, text: str) -> str:
    return f"+{text}" if value > 0 else text


def _field_id(criterion_id: str) -> str:
    return "weight-" + "".join(c if c.isalnum() or c in "-_" else "-" for c in criterion_id)


# --- the cohort's matching page ---------------------------------------------------------------


@dataclass
class RunForm:
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def _run_raw(form: Any) -> dict[str, Any]:
    """The run's choices as :func:`services.check_run` reads them, from form fields."""
    weights = {
        key.removeprefix("weights."): form_text(form, key, 40)
        for key in form
        if isinstance(key, str) and key.startswith("weights.") and len(key) <= 140
    }
    return {
        "weights": weights,
        "mode": form_text(form, "mode", 20),
        "maximise_matched": bool(form_text(form, "maximise_matched", 10)),
        "seed": form_text(form, "seed", 20),
    }


def _criteria_view(
    criteria: tuple[Criterion, ...], form: RunForm, locale: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    scores, filters = [], []
    given = form.values.get("weights") or {}
    for c in services.score_criteria(criteria):
        key = f"weights.{c.id}"
        scores.append(
            {
                "id": c.id,
                "name": key,
                "field_id": _field_id(c.id),
                "label": gettext(locale, c.label),
                "default": _number(float(c.weight), locale),
                "value": given.get(c.id, f"{float(c.weight):g}"),
                "error": form.errors.get(key),
            }
        )
    for c in services.filter_criteria(criteria):
        filters.append({"id": c.id, "label": gettext(locale, c.label)})
    return scores, filters


def run_row(run: MatchRun, locale: str) -> dict[str, Any]:
    summary = run.summary or {}
    fraction, _stage = services.progress_of(run)
    options = services.options_of(run)
    return {
        "id": str(run.id),
        "status": run.status.value,
        "status_label": gettext(locale, STATUS_LABELS[run.status]),
        "created": _when(run.created_at, locale),
        "mode": gettext(locale, MODE_LABELS[options.mode]),
        "matched": summary.get("matched"),
        "total": _number(int(summary.get("total_score", 0)) / SCALE, locale)
        if run.status is RunStatus.DONE
        else "",
        "percent": _percent(fraction, locale),
    }


async def _accepted(
    session: AsyncSession, cohort: Cohort
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    rows = await session.scalars(
        select(Application)
        .where(Application.cohort_id == cohort.id, Application.status == ApplicationStatus.ACCEPTED)
        .order_by(Application.name, Application.id)
    )
    mentees, mentors = [], []
    for app in rows:
        item = {"id": str(app.id), "name": app.name}
        (mentees if app.kind is ApplicationKind.MENTEE else mentors).append(item)
    return mentees, mentors


async def _cohort_page(
    request: Request[Any, Any, Any],
    db: Database,
    plugins: PluginHost,
    cohort_slug: str,
    *,
    run_form: RunForm | None = None,
    constraint_form: RunForm | None = None,
    status: int = 200,
) -> Template:
    tenant = current_tenant(request)
    locale = request_context(request).locale
    run_form = run_form or RunForm()
    constraint_form = constraint_form or RunForm()
    async with db.tenant_session(tenant.id) as session:
        cohort = await cohort_of(session, cohort_slug)
        criteria = criteria_for(plugins, tenant)
        mentees, mentors = await services.candidate_counts(session, cohort)
        runs = await services.runs_of(session, cohort, limit=20)
        constraints = await services.constraints_of(session, cohort)
        apps = await services.applications_by_id(
            session,
            {c.mentee_application_id for c in constraints}
            | {c.mentor_application_id for c in constraints},
        )
        accepted_mentees, accepted_mentors = await _accepted(session, cohort)
    scores, filters = _criteria_view(criteria, run_form, locale)
    known = {s["name"] for s in scores} | {"mode", "maximise_matched", "seed"}
    values = run_form.values
    notice = NOTICES.get(request.query_params.get("done") or "")
    return Template(
        "matching/cohort.html",
        context={
            "cohort": {"slug": cohort.slug, "name": cohort.name},
            "scores": scores,
            "filters": filters,
            "values": {
                "mode": values.get("mode") or Mode.OPTIMAL.value,
                "maximise_matched": bool(values.get("maximise_matched")),
                "seed": values.get("seed", "0"),
            },
            "modes": [{"value": m.value, "label": gettext(locale, MODE_LABELS[m])} for m in Mode],
            "errors": run_form.errors,
            # Errors of fields the form does not show (a criterion that went away).
            "other_errors": [m for k, m in run_form.errors.items() if k not in known],
            "counts": {
                "mentees": mentees,
                "mentors": mentors,
                "pairs": _number(mentees * mentors, locale, 0),
                "inline": mentees * mentors <= services.INLINE_PAIRS,
                "limit": _number(services.INLINE_PAIRS, locale, 0),
            },
            "runs": [run_row(r, locale) for r in runs],
            "constraints": [
                {
                    "id": str(c.id),
                    "kind": ConstraintKind(c.kind).value,
                    "kind_label": gettext(locale, KIND_LABELS[ConstraintKind(c.kind)]),
                    "mentee": apps[c.mentee_application_id].name
                    if c.mentee_application_id in apps
                    else "",
                    "mentor": apps[c.mentor_application_id].name
                    if c.mentor_application_id in apps
                    else "",
                }
                for c in constraints
            ],
            "mentees": accepted_mentees,
            "mentors": accepted_mentors,
            "constraint": constraint_form,
            "notice": gettext(locale, notice) if notice else "",
        },
        status_code=status,
    )


# --- a run's page -----------------------------------------------------------------------------


def _proof_text(run: MatchRun, locale: str) -> str:
    summary = run.summary or {}
    options = services.options_of(run)
    if options.mode is Mode.STABLE:
        blocking = summary.get("blocking_pairs")
        return gettext(locale, STABLE_TEXT, count=blocking if blocking is not None else "?")
    proof = summary.get("proof") or {}
    if not proof.get("proven"):
        return gettext(locale, PROOF_MISSING)
    kept = int(proof.get("candidates", 0))
    pruned = int(proof.get("pruned", 0))
    if not pruned:
        return gettext(locale, PROOF_ALL_PAIRS, pairs=_number(kept, locale, 0))
    return gettext(
        locale,
        PROOF_TEXT,
        pairs=_number(kept + pruned, locale, 0),
        kept=_number(kept, locale, 0),
        pruned=_number(pruned, locale, 0),
        rounds=proof.get("rounds", 1),
        rechecked=_number(int(proof.get("rows_rechecked", 0)), locale, 0),
    )


def _summary_view(run: MatchRun, locale: str) -> dict[str, Any]:
    s = run.summary or {}
    total = int(s.get("total_score", 0)) / SCALE
    matched = int(s.get("matched", 0))
    return {
        "total": _number(total, locale),
        "average": _percent(total / matched, locale) if matched else "",
        "matched": matched,
        "mentees": int(s.get("mentees", 0)),
        "mentors": int(s.get("mentors", 0)),
        "places": int(s.get("places", 0)),
        "locked": int(s.get("locked", 0)),
        "paired_mentees": int(s.get("paired_mentees", 0)),
        "full_mentors": int(s.get("full_mentors", 0)),
        "score_seconds": _number(float(s.get("score_seconds", 0)), locale, 3),
        "solve_seconds": _number(float(s.get("solve_seconds", 0)), locale, 3),
        "proof": _proof_text(run, locale),
        "skipped": len(s.get("skipped_constraints") or []),
    }


def _proposal_view(
    proposal: MatchProposal,
    apps: dict[uuid.UUID, Application],
    explainer: services.Explainer,
    locale: str,
) -> dict[str, Any]:
    mentee = apps.get(proposal.mentee_application_id)
    mentor = apps.get(proposal.mentor_application_id)
    reasons = explainer.reasons(proposal, locale)
    return {
        "id": str(proposal.id),
        "mentee_id": str(proposal.mentee_application_id),
        "mentor_id": str(proposal.mentor_application_id),
        "mentee": mentee.name if mentee else "",
        "mentor": mentor.name if mentor else "",
        "score": _percent(proposal.score / SCALE, locale),
        "locked": proposal.locked,
        "sent": proposal.pairing_id is not None,
        "pairing_path": f"/tandem/{proposal.pairing_id}" if proposal.pairing_id else "",
        "scores": [
            {
                "label": r.label,
                "value": f"{r.score:.3f}",
                "text": _percent(r.score or 0.0, locale),
                "weight": _number(r.weight, locale),
                "sentence": r.sentence,
            }
            for r in reasons
            if not r.is_filter
        ],
        "filters": [{"label": r.label, "sentence": r.sentence} for r in reasons if r.is_filter],
    }


async def _run_page(
    request: Request[Any, Any, Any],
    db: Database,
    plugins: PluginHost,
    cohort_slug: str,
    run_id: uuid.UUID,
    *,
    report: services.SendReport | None = None,
    send_error: str = "",
    status: int = 200,
) -> Template:
    tenant = current_tenant(request)
    locale = request_context(request).locale
    page_text = request.query_params.get("page") or "1"
    page = int(page_text) if page_text.isdigit() and 0 < len(page_text) < 7 else 1
    async with db.tenant_session(tenant.id) as session:
        cohort = await cohort_of(session, cohort_slug)
        run = await services.run_of(session, cohort, run_id)
        if run is None:
            raise NotFoundException()
        total, sent = await services.proposal_count(session, run)
        pages = max(1, -(-total // PAGE_SIZE))
        page = min(page, pages)
        proposals = await services.proposals_of(
            session, run, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE
        )
        unmatched = await services.unmatched_of(session, run)
        reported = {p for p, _ in (report.refused if report else [])}
        apps = await services.applications_by_id(
            session,
            {p.mentee_application_id for p in proposals}
            | {p.mentor_application_id for p in proposals}
            | {u.application_id for u in unmatched},
        )
        explainer = (
            await services.explainer_for(session, plugins, tenant, run, proposals)
            if run.status is RunStatus.DONE
            else services.Explainer(())
        )
        comparison = await services.compare(session, run)
        refused_proposals = await services.proposals_by_id(session, run, reported)
        refused_apps = await services.applications_by_id(
            session,
            {p.mentee_application_id for p in refused_proposals.values()}
            | {p.mentor_application_id for p in refused_proposals.values()},
        )
    fraction, stage = services.progress_of(run)
    options = services.options_of(run)
    done = request.query_params.get("done") or ""
    weights = []
    # All of the tenant's criteria: one weighed 0 took no part but is named all the same.
    labels = {c.id: gettext(locale, c.label) for c in criteria_for(plugins, tenant)}
    for criterion_id, weight in sorted((run.weights or {}).items()):
        weights.append(
            {"label": labels.get(criterion_id, criterion_id), "weight": _number(weight, locale)}
        )
    unmatched_view: dict[str, list[dict[str, str]]] = {"mentee": [], "mentor": []}
    for row in unmatched:
        app = apps.get(row.application_id)
        if app is None:
            continue
        unmatched_view[app.kind.value].append(
            {
                "name": app.name,
                "reason": row.reason,
                "reason_text": gettext(
                    locale, services.UNMATCHED_REASONS[UnmatchedReason(row.reason)]
                ),
            }
        )
    report_view = None
    if report is not None:
        report_view = {
            "sent": len(report.sent),
            "already": len(report.already_sent),
            "refused": [
                {
                    "mentee": refused_apps[refused_proposals[p].mentee_application_id].name
                    if p in refused_proposals
                    else "",
                    "mentor": refused_apps[refused_proposals[p].mentor_application_id].name
                    if p in refused_proposals
                    else "",
                    "messages": [problem.text(locale) for problem in problems.values()],
                }
                for p, problems in report.refused
            ],
        }
    path = f"/admin/cohorts/{cohort.slug}/matching/runs/{run.id}"
    return Template(
        "matching/run.html",
        context={
            "cohort": {"slug": cohort.slug, "name": cohort.name},
            "run": {
                "id": str(run.id),
                "path": path,
                "api": f"/api/v1/cohorts/{cohort.slug}/matching/runs/{run.id}",
                "status": run.status.value,
                "status_label": gettext(locale, STATUS_LABELS[run.status]),
                "finished": run.status in (RunStatus.DONE, RunStatus.FAILED),
                "progress": f"{fraction:.3f}",
                "percent": _percent(fraction, locale),
                "stage": services.stage_text(stage, locale),
                "created": _when(run.created_at, locale),
                "finished_at": _when(run.finished_at, locale),
                "error": run.error,
                "mode": gettext(locale, MODE_LABELS[options.mode]),
                "maximise_matched": options.maximise_matched,
                "seed": options.seed,
                "weights": weights,
            },
            "summary": _summary_view(run, locale) if run.status is RunStatus.DONE else None,
            "comparison": None
            if comparison is None
            else {
                "path": f"/admin/cohorts/{cohort.slug}/matching/runs/{comparison.previous.id}",
                "created": _when(comparison.previous.created_at, locale),
                "kept": comparison.kept,
                "changed": comparison.changed,
                "removed": comparison.removed,
                "score": _signed(
                    comparison.score_difference,
                    _number(comparison.score_difference / SCALE, locale),
                ),
                "matched": _signed(
                    comparison.matched_difference, str(comparison.matched_difference)
                ),
            },
            "proposals": [_proposal_view(p, apps, explainer, locale) for p in proposals],
            "counts": {"total": total, "sent": sent, "unsent": total - sent},
            "pager": {
                "page": page,
                "pages": pages,
                "previous": f"{path}?page={page - 1}" if page > 1 else "",
                "next": f"{path}?page={page + 1}" if page < pages else "",
                "first": (page - 1) * PAGE_SIZE + 1,
                "last": (page - 1) * PAGE_SIZE + len(proposals),
            },
            "unmatched": unmatched_view,
            "report": report_view,
            "send_error": send_error,
            "notice": gettext(locale, NOTICES[done]) if done in NOTICES else "",
        },
        status_code=status,
    )


# --- the controller ---------------------------------------------------------------------------


def _safe_next(cohort_slug: str, raw: str) -> str:
    """Where a constraint form leads back to: a matching page of this cohort only."""
    base = f"/admin/cohorts/{cohort_slug}/matching"
    if raw == base or (raw.startswith(base + "/runs/") and "//" not in raw and "?" not in raw):
        return raw
    return base


class MatchingPages(Controller):
    path = "/admin/cohorts/{cohort_slug:str}/matching"
    include_in_schema = False
    guards = [require_role("admin")]

    @get("", name="admin.matching")
    async def show(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        plugins: NamedDependency[PluginHost],
        cohort_slug: FromPath[str],
    ) -> Template:
        return await _cohort_page(request, db, plugins, cohort_slug)

    @post("", name="admin.matching.start")
    async def start(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        plugins: NamedDependency[PluginHost],
        current_user: NamedDependency[CurrentUser | None],
        cohort_slug: FromPath[str],
    ) -> Response[Any]:
        user = signed_in(current_user)
        tenant = current_tenant(request)
        raw = _run_raw(await request.form())
        try:
            async with db.tenant_session(tenant.id) as session, session.begin():
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
                run_id = run.id
        except InvalidInput as invalid:
            form = RunForm(raw, invalid.messages(request_context(request).locale))
            return await _cohort_page(request, db, plugins, cohort_slug, run_form=form, status=422)
        return Redirect(
            path=f"/admin/cohorts/{cohort_slug}/matching/runs/{run_id}", status_code=303
        )

    @get("/runs/{run_id:uuid}", name="admin.matching.run")
    async def run(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        plugins: NamedDependency[PluginHost],
        cohort_slug: FromPath[str],
        run_id: FromPath[uuid.UUID],
    ) -> Template:
        return await _run_page(request, db, plugins, cohort_slug, run_id)

    @post("/runs/{run_id:uuid}/send", name="admin.matching.send")
    async def send(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        plugins: NamedDependency[PluginHost],
        current_user: NamedDependency[CurrentUser | None],
        cohort_slug: FromPath[str],
        run_id: FromPath[uuid.UUID],
    ) -> Template:
        tenant = current_tenant(request)
        locale = request_context(request).locale
        form = await request.form()
        send_all = bool(form_text(form, "all", 10))
        chosen = [
            value.strip()[:40]
            for value in form.getall("proposal", [])[:MAX_SENT_IDS]
            if isinstance(value, str)
        ]
        async with db.tenant_session(tenant.id) as session:
            cohort = await cohort_of(session, cohort_slug)
        try:
            report = await services.send_proposals(
                db,
                plugins=plugins,
                tenant=tenant,
                cohort_id=cohort.id,
                run_id=run_id,
                proposal_ids=None if send_all else chosen,
                by=signed_in(current_user),
                locale=locale,
                ip=client_ip(request),
                base_url=site_url(request),
            )
        except services.RunNotFound:
            raise NotFoundException() from None
        except services.RunNotDone:
            return await _run_page(
                request,
                db,
                plugins,
                cohort_slug,
                run_id,
                send_error=gettext(locale, services.RUN_NOT_DONE),
                status=409,
            )
        except InvalidInput as invalid:
            message = " ".join(dict.fromkeys(invalid.messages(locale).values()))
            return await _run_page(
                request, db, plugins, cohort_slug, run_id, send_error=message, status=422
            )
        return await _run_page(request, db, plugins, cohort_slug, run_id, report=report)

    @post("/constraints", name="admin.matching.add_constraint")
    async def add_constraint(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        plugins: NamedDependency[PluginHost],
        current_user: NamedDependency[CurrentUser | None],
        cohort_slug: FromPath[str],
    ) -> Response[Any]:
        user = signed_in(current_user)
        tenant = current_tenant(request)
        form = await request.form()
        # A result page's button sends the pair as one value: "<kind>:<mentee>:<mentor>".
        pair = form_text(form, "pair", 100).split(":")
        if len(pair) == 3:
            kind, mentee, mentor = pair
        else:
            kind = form_text(form, "kind", 20)
            mentee = form_text(form, "mentee_application_id", 40)
            mentor = form_text(form, "mentor_application_id", 40)
        values = {"kind": kind, "mentee_application_id": mentee, "mentor_application_id": mentor}
        try:
            async with db.tenant_session(tenant.id) as session, session.begin():
                cohort = await cohort_of(session, cohort_slug)
                constraint = await services.add_constraint(
                    session, cohort, mentee, mentor, kind, user_id=user.id, ip=client_ip(request)
                )
                done = ConstraintKind(constraint.kind).value
        except InvalidInput as invalid:
            errors = invalid.messages(request_context(request).locale)
            return await _cohort_page(
                request,
                db,
                plugins,
                cohort_slug,
                constraint_form=RunForm(values, errors),
                status=422,
            )
        back = _safe_next(cohort_slug, form_text(form, "next", 200))
        return Redirect(path=back, query_params={"done": done}, status_code=303)

    @post("/constraints/{constraint_id:uuid}/delete", name="admin.matching.remove_constraint")
    async def remove_constraint(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        cohort_slug: FromPath[str],
        constraint_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        user = signed_in(current_user)
        async with db.tenant_session(current_tenant(request).id) as session, session.begin():
            cohort = await cohort_of(session, cohort_slug)
            if not await services.remove_constraint(
                session, cohort, constraint_id, user_id=user.id, ip=client_ip(request)
            ):
                raise NotFoundException()
        return Redirect(
            path=f"/admin/cohorts/{cohort_slug}/matching",
            query_params={"done": "removed"},
            status_code=303,
        )


__all__ = ["MatchingPages"]
