"""``/api/v1/programmes``: programmes and their cohorts in the versioned JSON API.

Reading is public, as on the pages: published programmes and their cohorts (the
tenant's admins also see unpublished ones; for anyone else those are 404). Writing —
``POST``, ``PATCH``, ``DELETE`` — needs the ``admin`` role (401 signed out, 403
without it) and, like every unsafe request, the CSRF header. Programmes and cohorts
are named by their slugs, as in the public addresses.

Input goes through the same checks as the admin forms
(:mod:`core.programmes.schemas`). Every problem is answered as a 422 problem document
whose ``errors`` name the field (``key``) and say what is wrong in the visitor's
language — whether the body had a wrong type (decoding) or broke a rule (a date
order, a slug taken). A delete the rules refuse is a 409 with the reason.
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.exceptions import ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from core.db.sessions import Database
from core.i18n.catalogs import gettext
from core.identity.guards import CurrentUser, require_role
from core.identity.sessions import client_ip
from core.programmes import schemas, services
from core.programmes.controllers import PUBLIC_PATH, apply_path
from core.programmes.models import Cohort, Programme
from core.programmes.schemas import (
    CohortCreate,
    CohortOut,
    CohortPatch,
    CohortStatus,
    InvalidInput,
    Problem422,
    ProgrammeCreate,
    ProgrammeOut,
    ProgrammePatch,
    given_fields,
)
from core.web.errors import error_response
from core.web.sites import current_tenant, request_context

# What a field of the wrong type should hold, for the 422 message.
_TYPE_MESSAGES = {
    "duration_weeks": schemas.WHOLE_NUMBER,
    "expected_hours": schemas.WHOLE_NUMBER,
    "cadence": schemas.CHOICE,
    "self_matching": schemas.YES_NO,
    "published": schemas.YES_NO,
    "requires_recognition_procedure": schemas.YES_NO,
    "min_german_level": schemas.LEVEL,
    "applications_open_on": schemas.DATE_INVALID,
    "applications_close_on": schemas.DATE_INVALID,
    "starts_on": schemas.DATE_INVALID,
    "ends_on": schemas.DATE_INVALID,
}
# Documents the 422 answer of the writing routes in OpenAPI.
INVALID = {
    422: ResponseSpec(
        data_container=Problem422,
        description="The input breaks a rule; nothing was stored.",
        media_type="application/problem+json",
        generate_examples=False,
    )
}
_NAMED_FIELD = re.compile(r"(missing required|unknown) field `([^`]{1,100})`")


def programme_out(programme: Programme) -> ProgrammeOut:
    return ProgrammeOut(
        slug=programme.slug,
        name=programme.name,
        description=programme.description,
        duration_weeks=programme.duration_weeks,
        expected_hours=programme.expected_hours,
        cadence=programme.cadence,
        self_matching=programme.self_matching,
        published=programme.published,
        min_german_level=programme.min_german_level,
        requires_recognition_procedure=programme.requires_recognition_procedure,
        url=f"{PUBLIC_PATH}/{programme.slug}",
    )


def cohort_out(programme: Programme, cohort: Cohort) -> CohortOut:
    status = services.cohort_status(cohort)
    is_open = status is CohortStatus.APPLICATIONS_OPEN
    return CohortOut(
        slug=cohort.slug,
        name=cohort.name,
        programme=programme.slug,
        applications_open_on=cohort.applications_open_on,
        applications_close_on=cohort.applications_close_on,
        starts_on=cohort.starts_on,
        ends_on=cohort.ends_on,
        status=status,
        apply_as_mentee_url=apply_path(programme.slug, cohort.slug, "mentee") if is_open else None,
        apply_as_mentor_url=apply_path(programme.slug, cohort.slug, "mentor") if is_open else None,
    )


def _invalid(request: Request[Any, Any, Any], problems: dict[str, str]) -> Response[Any]:
    """The 422 problem document; typed ``Any`` so that any route may return it."""
    errors = [
        {"key": key, "message": message, "source": "body"} for key, message in problems.items()
    ]
    return error_response(request, 422, detail=errors)


def handle_body_errors(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    """A body that did not decode into the request's struct: 422 with the fields named."""
    locale = request_context(request).locale
    problems: dict[str, str] = {}
    for item in exc.extra if isinstance(exc.extra, list) else []:
        key, message = str(item.get("key", "")), str(item.get("message", ""))
        named = _NAMED_FIELD.search(message)
        if named:
            missing = named.group(1).startswith("missing")
            text = schemas.MISSING if missing else schemas.UNKNOWN_FIELD
            problems.setdefault(named.group(2), gettext(locale, text))
        elif key in ("", "data"):
            problems.setdefault("", gettext(locale, schemas.NOT_AN_OBJECT))
        else:
            text = _TYPE_MESSAGES.get(key, schemas.NOT_TEXT)
            problems.setdefault(key, gettext(locale, text))
    if not problems:
        problems[""] = gettext(locale, schemas.NOT_AN_OBJECT)
    return _invalid(request, problems)


def handle_refused(request: Request[Any, Any, Any], refused: services.Refused) -> Response[Any]:
    """A change the rules refuse now (a programme with cohorts): 409 with the reason."""
    return error_response(request, 409, refused.message)


class ProgrammesApi(Controller):
    path = "/api/v1/programmes"
    tags = ["programmes"]
    exception_handlers = {
        ValidationException: handle_body_errors,
        services.Refused: handle_refused,
    }

    # --- programmes ---------------------------------------------------------------------

    @get("", name="api.programmes")
    async def list_programmes(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
    ) -> list[ProgrammeOut]:
        """This site's published programmes (for its admins, the unpublished ones too)."""
        tenant = current_tenant(request)
        async with db.tenant_session(tenant.id) as session:
            programmes = await services.list_programmes(
                session, include_unpublished=services.is_admin(current_user)
            )
        return [programme_out(p) for p in programmes]

    @post("", name="api.create_programme", guards=[require_role("admin")], responses=INVALID)
    async def create_programme(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        data: JSONBody[ProgrammeCreate],
    ) -> Response[ProgrammeOut]:
        """Create a programme (admins). 422 names each field that breaks a rule."""
        tenant = current_tenant(request)
        try:
            async with db.tenant_session(tenant.id) as session, session.begin():
                programme = await services.create_programme(
                    session, given_fields(data), actor=current_user, ip=client_ip(request)
                )
        except InvalidInput as invalid:
            return _invalid(request, invalid.messages(request_context(request).locale))
        return Response(
            programme_out(programme),
            status_code=HTTP_201_CREATED,
            headers={"location": f"{self.path}/{programme.slug}"},
        )

    @get("/{slug:str}", name="api.programme")
    async def get_programme(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        slug: FromPath[str],
    ) -> ProgrammeOut:
        """One programme by its slug."""
        tenant = current_tenant(request)
        async with db.tenant_session(tenant.id) as session:
            programme = await services.access_programme_by_slug(session, current_user, slug)
        return programme_out(programme)

    @patch(
        "/{slug:str}",
        name="api.update_programme",
        guards=[require_role("admin")],
        responses=INVALID,
    )
    async def update_programme(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        slug: FromPath[str],
        data: JSONBody[ProgrammePatch],
    ) -> Response[ProgrammeOut]:
        """Change the fields sent (admins); the others stay as they are."""
        tenant = current_tenant(request)
        try:
            async with db.tenant_session(tenant.id) as session, session.begin():
                programme = await services.access_programme_by_slug(
                    session, current_user, slug, for_write=True
                )
                await services.update_programme(
                    session,
                    programme,
                    given_fields(data),
                    actor=current_user,
                    ip=client_ip(request),
                )
        except InvalidInput as invalid:
            return _invalid(request, invalid.messages(request_context(request).locale))
        return Response(programme_out(programme))

    @delete(
        "/{slug:str}",
        name="api.delete_programme",
        guards=[require_role("admin")],
        status_code=HTTP_204_NO_CONTENT,
    )
    async def delete_programme(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        slug: FromPath[str],
    ) -> None:
        """Delete a programme without cohorts (admins); 409 while it has any."""
        tenant = current_tenant(request)
        async with db.tenant_session(tenant.id) as session, session.begin():
            programme = await services.access_programme_by_slug(
                session, current_user, slug, for_write=True
            )
            await services.delete_programme(
                session, programme, actor=current_user, ip=client_ip(request)
            )

    # --- cohorts ------------------------------------------------------------------------

    @get("/{slug:str}/cohorts", name="api.cohorts")
    async def list_cohorts(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        slug: FromPath[str],
    ) -> list[CohortOut]:
        """The programme's cohorts, earliest start first, each with its status today."""
        tenant = current_tenant(request)
        async with db.tenant_session(tenant.id) as session:
            programme = await services.access_programme_by_slug(session, current_user, slug)
            cohorts = await services.cohorts_of(session, [programme.id])
        return [cohort_out(programme, c) for c in cohorts]

    @post(
        "/{slug:str}/cohorts",
        name="api.create_cohort",
        guards=[require_role("admin")],
        responses=INVALID,
    )
    async def create_cohort(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        slug: FromPath[str],
        data: JSONBody[CohortCreate],
    ) -> Response[CohortOut]:
        """Add a cohort to the programme (admins). 422 names each field that breaks a rule."""
        tenant = current_tenant(request)
        try:
            async with db.tenant_session(tenant.id) as session, session.begin():
                programme = await services.access_programme_by_slug(
                    session, current_user, slug, for_write=True
                )
                cohort = await services.create_cohort(
                    session,
                    programme,
                    given_fields(data),
                    actor=current_user,
                    ip=client_ip(request),
                )
                body = cohort_out(programme, cohort)
        except InvalidInput as invalid:
            return _invalid(request, invalid.messages(request_context(request).locale))
        return Response(
            body,
            status_code=HTTP_201_CREATED,
            headers={"location": f"{self.path}/{slug}/cohorts/{body.slug}"},
        )

    @get("/{slug:str}/cohorts/{cohort_slug:str}", name="api.cohort")
    async def get_cohort(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        slug: FromPath[str],
        cohort_slug: FromPath[str],
    ) -> CohortOut:
        """One cohort of the programme by its slug."""
        tenant = current_tenant(request)
        async with db.tenant_session(tenant.id) as session:
            programme = await services.access_programme_by_slug(session, current_user, slug)
            cohort = await services.access_cohort_by_slug(
                session, current_user, programme, cohort_slug
            )
        return cohort_out(programme, cohort)

    @patch(
        "/{slug:str}/cohorts/{cohort_slug:str}",
        name="api.update_cohort",
        guards=[require_role("admin")],
        responses=INVALID,
    )
    async def update_cohort(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        slug: FromPath[str],
        cohort_slug: FromPath[str],
        data: JSONBody[CohortPatch],
    ) -> Response[CohortOut]:
        """Change the fields sent (admins); the date rules apply to the cohort as it will be."""
        tenant = current_tenant(request)
        try:
            async with db.tenant_session(tenant.id) as session, session.begin():
                programme = await services.access_programme_by_slug(
                    session, current_user, slug, for_write=True
                )
                cohort = await services.access_cohort_by_slug(
                    session, current_user, programme, cohort_slug, for_write=True
                )
                await services.update_cohort(
                    session, programme, cohort, given_fields(data), actor=current_user,
                    ip=client_ip(request),
                )  # fmt: skip
                body = cohort_out(programme, cohort)
        except InvalidInput as invalid:
            return _invalid(request, invalid.messages(request_context(request).locale))
        return Response(body)

    @delete(
        "/{slug:str}/cohorts/{cohort_slug:str}",
        name="api.delete_cohort",
        guards=[require_role("admin")],
        status_code=HTTP_204_NO_CONTENT,
    )
    async def delete_cohort(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        slug: FromPath[str],
        cohort_slug: FromPath[str],
    ) -> None:
        """Delete a cohort nobody has applied to (admins); 409 once it has applications."""
        tenant = current_tenant(request)
        async with db.tenant_session(tenant.id) as session, session.begin():
            programme = await services.access_programme_by_slug(
                session, current_user, slug, for_write=True
            )
            cohort = await services.access_cohort_by_slug(
                session, current_user, programme, cohort_slug, for_write=True
            )
            await services.delete_cohort(
                session, programme, cohort, actor=current_user, ip=client_ip(request)
            )


__all__ = ["ProgrammesApi", "cohort_out", "programme_out"]
