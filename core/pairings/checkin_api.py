"""``/api/v1/checkins``: check-ins and the follow-ups' employment outcomes as JSON.

Same permissions as the pages (:mod:`core.pairings.checkin_controllers`): a check-in is
visible to its respondent and to the tenant's coordinators, and only its respondent
answers it. Anyone else gets 404, as for an id that does not exist; a coordinator's
answer is a 403; a second answer is a 409; answers breaking a rule are a 422 whose
``errors`` name each field, in the caller's language, and nothing is stored. Unsafe
methods need the ``x-csrftoken`` header carrying the ``tandem_csrf`` cookie's value.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.sessions import Database
from core.i18n.catalogs import gettext
from core.identity.guards import CurrentUser, require_login, require_role
from core.identity.sessions import ClientInfo
from core.pairings import checkins, services
from core.pairings.api import _spec, problem
from core.pairings.checkin_controllers import ALREADY_ANSWERED
from core.pairings.checkin_schemas import (
    AnswersOut,
    CheckInAnswerIn,
    CheckInOut,
    OutcomeCountOut,
    OutcomesOut,
    questions_for,
)
from core.pairings.checkins import AlreadyAnswered, CheckInNotFound, CheckInRow, NotRespondent
from core.pairings.models import CheckInKind
from core.programmes.models import Cohort
from core.programmes.schemas import InvalidInput
from core.web.sites import current_tenant, request_context

CohortQuery = Annotated[
    str | None,
    QueryParameter(
        name="cohort", description="A cohort's slug: all its check-ins (coordinators only)."
    ),
]


NOT_FOUND = {404: _spec("No such check-in for you: unknown, or not yours to see.")}
ANSWER_ERRORS = {
    **NOT_FOUND,
    403: _spec("Coordinators read check-ins; only the respondent answers."),
    409: _spec("Answered already; the stored answers are in `checkin`."),
    422: _spec("Invalid answers; `errors` names each field. Nothing was stored."),
}


def _not_found(request: Request[Any, Any, Any], _exc: Exception) -> Response[Any]:
    return problem(request, 404)


def _forbidden(request: Request[Any, Any, Any], _exc: Exception) -> Response[Any]:
    return problem(request, 403)


def _invalid(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    assert isinstance(exc, InvalidInput)
    return problem(request, 422, errors=exc.messages(request_context(request).locale))


class _Answered(Exception):
    """AlreadyAnswered, with the check-in as stored (exception handlers cannot query)."""

    def __init__(self, current: CheckInOut) -> None:
        super().__init__(str(current.id))
        self.current = current


def _already_answered(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """409 with the check-in as it was stored (answered in another tab, say)."""
    assert isinstance(exc, _Answered)
    message = gettext(request_context(request).locale, ALREADY_ANSWERED)
    return problem(request, 409, message, checkin=exc.current)


def checkin_out(row: CheckInRow) -> CheckInOut:
    """The JSON of a check-in for its respondent or a coordinator (the only readers)."""
    checkin = row.checkin
    answers = None
    if checkin.completed_at is not None:
        stored = checkin.answers or {}
        answers = AnswersOut(
            satisfaction=stored.get("satisfaction"),
            meeting_frequency=stored.get("meeting_frequency"),
            employment_outcome=checkin.employment_outcome,
            job_title=stored.get("job_title"),
            comment=stored.get("comment"),
        )
    return CheckInOut(
        id=checkin.id,
        pairing_id=checkin.pairing_id,
        cohort=row.cohort_slug,
        kind=CheckInKind(checkin.kind),
        respondent=checkin.respondent,
        respondent_name=row.respondent_name,
        due_on=checkin.due_on,
        completed_at=checkin.completed_at,
        questions=list(questions_for(CheckInKind(checkin.kind))),
        answers=answers,
        url=checkins.checkin_path(checkin.id),
    )


async def _cohort(session: AsyncSession, slug: str) -> Cohort:
    cohort = await services.cohort_by_slug(session, slug)
    if cohort is None:
        raise NotFoundException()
    return cohort


async def _one(session: AsyncSession, access: checkins.CheckInAccess) -> CheckInOut:
    [row] = await checkins.checkin_rows(session, [access.checkin])
    return checkin_out(row)


class CheckInsApi(Controller):
    path = "/api/v1/checkins"
    tags = ["check-ins"]
    guards = [require_login]
    exception_handlers = {
        CheckInNotFound: _not_found,
        NotRespondent: _forbidden,
        InvalidInput: _invalid,
        _Answered: _already_answered,
    }

    @get("", name="api.checkins", responses={403: _spec("Only coordinators list a cohort.")})
    async def list_checkins(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        cohort: CohortQuery = None,
    ) -> list[CheckInOut]:
        """The check-ins you answer (open and answered), or with ``cohort`` all of a cohort's
        check-ins for its coordinators. Ordered by the day they opened."""
        assert current_user is not None
        tenant = current_tenant(request)
        async with db.tenant_session(tenant.id) as session:
            if cohort is None:
                rows = await checkins.checkins_of_user(session, current_user)
            else:
                if not current_user.has_role(services.COORDINATOR_ROLE):
                    raise PermissionDeniedException()
                found = await _cohort(session, cohort)
                rows = await checkins.checkins_of_cohort(session, found.id)
        return [checkin_out(row) for row in rows]

    @get(
        "/outcomes",
        name="api.checkin_outcomes",
        guards=[require_role("admin")],
        responses={404: _spec("No such cohort.")},
    )
    async def outcomes(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        cohort: Annotated[str, QueryParameter(name="cohort", description="The cohort's slug.")],
    ) -> OutcomesOut:
        """Employment outcomes a cohort's mentees reported in their follow-ups (coordinators).

        Each mentee counts once, by their latest follow-up; ``share_employed_in_field`` is
        the figure programmes publish (employed in their own or a related field)."""
        tenant = current_tenant(request)
        async with db.tenant_session(tenant.id) as session:
            found = await _cohort(session, cohort)
            figures = await checkins.outcomes(session, found.id)
        return OutcomesOut(
            cohort=found.slug,
            answered=figures.answered,
            counts=[OutcomeCountOut(outcome=o, count=n) for o, n in figures.counts.items()],
            employed_in_field=figures.employed_in_field,
            share_employed_in_field=figures.share_employed_in_field,
        )

    @get("/{checkin_id:uuid}", name="api.checkin", responses=NOT_FOUND)
    async def show(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        checkin_id: FromPath[uuid.UUID],
    ) -> CheckInOut:
        """One check-in: for its respondent, and read-only for coordinators."""
        assert current_user is not None
        async with db.tenant_session(current_tenant(request).id) as session:
            access = await checkins.access_checkin_by_id(session, current_user, checkin_id)
            return await _one(session, access)

    @post(
        "/{checkin_id:uuid}",
        name="api.answer_checkin",
        status_code=HTTP_200_OK,
        responses=ANSWER_ERRORS,
    )
    async def answer(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        checkin_id: FromPath[uuid.UUID],
        data: JSONBody[CheckInAnswerIn],
    ) -> CheckInOut:
        """Answer a check-in you are the respondent of. ``questions`` in the check-in says
        which fields its kind asks for; once answered it cannot be changed."""
        assert current_user is not None
        raw = {name: getattr(data, name) for name in data.__struct_fields__}
        tenant = current_tenant(request)
        try:
            async with db.tenant_session(tenant.id) as session, session.begin():
                access = await checkins.access_checkin_by_id(
                    session, current_user, checkin_id, to_answer=True
                )
                await checkins.answer_checkin(
                    session, access, raw, ip=ClientInfo.from_request(request).ip
                )
                return await _one(session, access)
        except AlreadyAnswered:
            async with db.tenant_session(tenant.id) as session:
                access = await checkins.access_checkin_by_id(session, current_user, checkin_id)
                raise _Answered(await _one(session, access)) from None


__all__ = ["CheckInsApi", "checkin_out"]
