"""Check-in pages: ``/checkins`` for participants, ``/admin/cohorts/<slug>/checkins`` for
coordinators.

* ``/checkins`` lists the signed-in person's open and coming check-ins and those they
  answered. ``/checkins/<id>`` is the survey for its respondent — and only for them:
  the tandem partner, other participants and another tenant get a 404. Coordinators
  open it read-only (answers, comments included: the form tells respondents so);
  their POST is a 403. Answers with problems come back with each problem next to its
  field, in the visitor's language, and nothing stored (422). An answered check-in is
  read-only; a second submission (another tab) gets a 409 with the stored answers.
* ``/admin/cohorts/<slug>/checkins`` shows a cohort's check-ins with their status and
  the employment outcomes of the follow-ups (:func:`core.pairings.checkins.outcomes`).

:func:`upcoming_view` turns :func:`core.pairings.checkins.upcoming_checkins` into what
the ``checkins/_upcoming.html`` macro shows, for any participant page (``/tandem``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from babel.numbers import format_percent
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath
from litestar.response import Redirect, Response, Template

from core.db.base import utcnow
from core.db.sessions import Database
from core.i18n.catalogs import gettext
from core.identity.guards import CurrentUser, require_login, require_role
from core.identity.sessions import ClientInfo, aware
from core.mail.compose import format_date
from core.pairings import checkins, services
from core.pairings.checkin_schemas import (
    MAX_COMMENT_LENGTH,
    MAX_JOB_TITLE_LENGTH,
    MAX_SATISFACTION,
    MIN_SATISFACTION,
    MeetingFrequency,
    questions_for,
)
from core.pairings.checkins import (
    AlreadyAnswered,
    CheckInAccess,
    CheckInNotFound,
    CheckInRow,
    NotRespondent,
    UpcomingCheckIn,
)
from core.pairings.models import CheckInKind, EmploymentOutcome
from core.programmes.schemas import N_, InvalidInput
from core.web.forms import form_text
from core.web.sites import current_tenant, request_context

ANSWERED = N_("Thank you! Your answers have been saved.")
ALREADY_ANSWERED = N_(
    "This check-in had already been answered, perhaps in another window. "
    "These are the answers that were saved."
)
BACK_MINE = N_("Your check-ins")
BACK_COHORT = N_("All check-ins of this cohort")
# Form fields are cut one character beyond their limit, so that "too long" is reported.
FIELD_LIMITS = {
    "satisfaction": 10,
    "meeting_frequency": 40,
    "employment_outcome": 40,
    "job_title": MAX_JOB_TITLE_LENGTH + 1,
    "comment": MAX_COMMENT_LENGTH + 1,
}


def _user(current_user: CurrentUser | None) -> CurrentUser:
    assert current_user is not None  # the guards let only signed-in people through
    return current_user


def upcoming_view(items: Sequence[UpcomingCheckIn], locale: str) -> list[dict[str, Any]]:
    """What ``checkins/_upcoming.html``'s ``upcoming_checkins`` macro shows."""
    return [
        {
            "kind": item.kind.value,
            "due_on": format_date(item.due_on, locale),
            "path": item.path,
            "is_open": item.is_open,
        }
        for item in items
    ]


def row_view(row: CheckInRow, locale: str) -> dict[str, Any]:
    checkin = row.checkin
    return {
        "id": str(checkin.id),
        "path": checkins.checkin_path(checkin.id),
        "kind": str(checkin.kind),
        "respondent": str(checkin.respondent),
        "respondent_name": row.respondent_name,
        "partner_name": row.partner_name,
        "cohort_name": row.cohort_name,
        "due_on": format_date(checkin.due_on, locale),
        "completed": checkin.completed_at is not None,
        "completed_on": format_date(aware(checkin.completed_at), locale)
        if checkin.completed_at
        else "",
        "reminded_on": format_date(aware(checkin.reminded_at), locale)
        if checkin.reminded_at
        else "",
        "employment_outcome": str(checkin.employment_outcome or ""),
    }


# --- /checkins -----------------------------------------------------------------------------


class CheckInPages(Controller):
    path = checkins.PAGE_PATH
    include_in_schema = False
    guards = [require_login]

    @get("", name="checkins.mine")
    async def mine(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
    ) -> Template:
        tenant = current_tenant(request)
        locale = request_context(request).locale
        user = _user(current_user)
        async with db.tenant_session(tenant.id) as session:
            upcoming = await checkins.upcoming_checkins(session, user, utcnow().date())
            rows = await checkins.checkins_of_user(session, user)
        done = sorted(
            (row for row in rows if row.checkin.completed_at is not None),
            key=lambda row: aware(row.checkin.completed_at),  # type: ignore[arg-type]
            reverse=True,
        )
        answered = [row_view(row, locale) for row in done]
        return Template(
            "checkins/mine.html",
            context={"upcoming": upcoming_view(upcoming, locale), "answered": answered},
        )

    @get("/{checkin_id:uuid}", name="checkins.show")
    async def show(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        checkin_id: FromPath[uuid.UUID],
    ) -> Template:
        done = request.query_params.get("done") == "answered"
        notice = gettext(request_context(request).locale, ANSWERED) if done else None
        return await _page(request, db, _user(current_user), checkin_id, notice=notice)

    @post("/{checkin_id:uuid}", name="checkins.answer")
    async def answer(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        checkin_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        tenant = current_tenant(request)
        locale = request_context(request).locale
        user = _user(current_user)
        form = await request.form()
        values = {name: form_text(form, name, limit) for name, limit in FIELD_LIMITS.items()}
        try:
            async with db.tenant_session(tenant.id) as session, session.begin():
                access = await checkins.access_checkin_by_id(
                    session, user, checkin_id, to_answer=True
                )
                # The form shows only this kind's questions; anything else is ignored.
                asked = questions_for(CheckInKind(access.checkin.kind))
                await checkins.answer_checkin(
                    session,
                    access,
                    {name: values[name] for name in asked},
                    ip=ClientInfo.from_request(request).ip,
                )
        except CheckInNotFound:
            raise NotFoundException() from None
        except NotRespondent:
            raise PermissionDeniedException() from None
        except InvalidInput as invalid:
            return await _page(
                request,
                db,
                user,
                checkin_id,
                values=values,
                errors=invalid.messages(locale),
                status_code=422,
            )
        except AlreadyAnswered:
            problem = gettext(locale, ALREADY_ANSWERED)
            return await _page(request, db, user, checkin_id, problem=problem, status_code=409)
        return Redirect(
            path=checkins.checkin_path(checkin_id),
            query_params={"done": "answered"},
            status_code=303,
        )


async def _page(
    request: Request[Any, Any, Any],
    db: Database,
    user: CurrentUser,
    checkin_id: uuid.UUID,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    notice: str | None = None,
    problem: str | None = None,
    status_code: int = 200,
) -> Template:
    tenant = current_tenant(request)
    locale = request_context(request).locale
    async with db.tenant_session(tenant.id) as session:
        try:
            access = await checkins.access_checkin_by_id(session, user, checkin_id)
        except CheckInNotFound:
            raise NotFoundException() from None
        [row] = await checkins.checkin_rows(session, [access.checkin])
    return Template(
        "checkins/form.html",
        context=_form_context(access, row, locale, values, errors, notice, problem),
        status_code=status_code,
    )


def _form_context(
    access: CheckInAccess,
    row: CheckInRow,
    locale: str,
    values: dict[str, str] | None,
    errors: dict[str, str] | None,
    notice: str | None,
    problem: str | None,
) -> dict[str, Any]:
    checkin = access.checkin
    answering = access.is_respondent and not access.completed
    answers = dict(checkin.answers or {})
    if checkin.employment_outcome is not None:
        answers["employment_outcome"] = str(checkin.employment_outcome)
    if access.is_respondent:
        back = {"path": checkins.PAGE_PATH, "label": gettext(locale, BACK_MINE)}
    else:
        path = f"/admin/cohorts/{row.cohort_slug}/checkins"
        back = {"path": path, "label": gettext(locale, BACK_COHORT)}
    return {
        "checkin": row_view(row, locale),
        "mode": "form" if answering else "read",
        "is_respondent": access.is_respondent,
        "questions": questions_for(CheckInKind(checkin.kind)),
        "answers": answers,
        "values": values or {},
        "errors": errors or {},
        "notice": notice,
        "problem": problem,
        "satisfactions": list(range(MIN_SATISFACTION, MAX_SATISFACTION + 1)),
        "frequencies": [f.value for f in MeetingFrequency],
        "outcomes": [o.value for o in EmploymentOutcome],
        "limits": {"job_title": MAX_JOB_TITLE_LENGTH, "comment": MAX_COMMENT_LENGTH},
        "back": back,
    }


# --- /admin/cohorts/<slug>/checkins ---------------------------------------------------------


def figures_view(figures: checkins.OutcomeFigures, locale: str) -> dict[str, Any]:
    share = figures.share_employed_in_field
    return {
        "answered": figures.answered,
        "employed_in_field": figures.employed_in_field,
        "share": format_percent(share, locale=locale) if share is not None else "",
        "counts": [{"outcome": o.value, "count": n} for o, n in figures.counts.items()],
    }


class CohortCheckInsAdmin(Controller):
    path = "/admin/cohorts/{cohort_slug:str}/checkins"
    include_in_schema = False
    guards = [require_role("admin")]

    @get("", name="admin.cohort_checkins")
    async def list_page(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        cohort_slug: FromPath[str],
    ) -> Template:
        tenant = current_tenant(request)
        locale = request_context(request).locale
        async with db.tenant_session(tenant.id) as session:
            cohort = await services.cohort_by_slug(session, cohort_slug)
            if cohort is None:
                raise NotFoundException()
            rows = await checkins.checkins_of_cohort(session, cohort.id)
            figures = await checkins.outcomes(session, cohort.id)
        return Template(
            "checkins/cohort.html",
            context={
                "cohort": {"slug": cohort.slug, "name": cohort.name},
                "rows": [row_view(row, locale) for row in rows],
                "figures": figures_view(figures, locale),
            },
        )


__all__ = ["CheckInPages", "CohortCheckInsAdmin", "figures_view", "upcoming_view"]
