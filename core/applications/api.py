"""The applications JSON API, under ``/api/v1``; documented at ``/api/docs``.

The same rules as the pages, through the same services and checks:

* ``GET  /api/v1/cohorts/{cohort}/application-form/{kind}`` — public: the consent text
  and version to show, and the tenant's plugin fields;
* ``POST /api/v1/cohorts/{cohort}/applications`` — public: submit (201; 422 with an
  error per field, in the request's language; 409 for a second application; 403
  outside the application window);
* ``GET  /api/v1/cohorts/{cohort}/applications`` — coordinators: the list, filtered
  like the page, with counts per status;
* ``GET  /api/v1/cohorts/{cohort}/applications/{id}`` — coordinators: everything,
  with eligibility and intake notes;
* ``POST …/{id}/notes``, ``POST …/{id}/review``, ``POST …/{id}/decision`` —
  coordinators. ``review`` and ``decision`` take the ``version`` the client last saw:
  if someone else changed the application since, the answer is 409 with the current
  state in ``current``, and nothing is changed;
* ``GET  /api/v1/me/applications`` and ``POST /api/v1/me/applications/{id}/withdraw``
  — the signed-in applicant's own.

Unsafe methods need the CSRF header (``x-csrftoken``, the value of the ``tandem_csrf``
cookie), like every form on the site.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.response import Response
from msgspec import Struct

from core.applications import eligibility, labels, schemas, services
from core.applications.consent import CONSENT_VERSION, consent_text
from core.applications.fields import PluginField, collect
from core.applications.models import (
    Application,
    ApplicationKind,
    ApplicationStatus,
    IntakeNote,
)
from core.db.sessions import Database
from core.i18n.catalogs import gettext
from core.identity.guards import CurrentUser, require_login, require_role
from core.identity.sessions import client_ip
from core.pluginhost.manager import PluginHost
from core.reference import languages, occupations
from core.web.errors import N_, TITLES
from core.web.sites import current_tenant, request_context

CLOSED = N_("This cohort does not take applications at the moment.")
DUPLICATE = N_("There is already an application with this e-mail address for this cohort.")
CONFLICT = N_(
    "Someone else changed this application in the meantime. Nothing was changed; "
    "'current' shows how it stands now."
)
UNKNOWN_KIND = N_("Choose mentee or mentor.")
NOT_ALLOWED = N_("Choose one of the options offered.")
WITHDRAW_REFUSED = N_("This application can no longer be withdrawn.")


# --- shapes -----------------------------------------------------------------------------------


class LanguageIn(Struct):
    code: str = ""
    level: str = ""


class ApplicationIn(Struct, kw_only=True):
    """A new application. Which fields a kind needs: see the form description."""

    kind: str
    name: str = ""
    email: str = ""
    occupation: str = ""
    field: str = ""
    years_experience: int | None = None
    languages: list[LanguageIn] = msgspec.field(default_factory=list)
    district: str = ""
    availability: list[str] = msgspec.field(default_factory=list)
    # Mentees.
    qualification: str = ""
    qualification_country: str = ""
    recognition_status: str = ""
    recognition_authority: str = ""
    german_level: str = ""
    goals: str = ""
    same_gender_mentor: bool = False
    gender: str = ""
    # Mentors.
    employer: str = ""
    position: str = ""
    capacity: int | None = None
    motivation: str = ""
    # The version of the consent text that was shown (see the form description).
    consent: bool = False
    consent_version: str = ""
    # {"<plugin-id>": {"<field>": value}}
    extra: dict[str, dict[str, Any]] = msgspec.field(default_factory=dict)


class ChoiceOut(Struct):
    value: str
    label: str


class FieldOut(Struct):
    plugin: str
    name: str
    label: str
    type: str
    required: bool
    help: str
    choices: list[ChoiceOut]
    min: int | None
    max: int | None


class FormOut(Struct):
    kind: str
    consent_version: str
    consent_text: str
    fields: list[FieldOut]


class SubmittedOut(Struct):
    id: uuid.UUID
    cohort: str
    kind: str
    status: str


class LanguageOut(Struct):
    code: str
    name: str
    level: str


class ApplicationOut(Struct):
    id: uuid.UUID
    cohort: str
    kind: str
    status: str
    status_label: str
    version: int
    name: str
    email: str
    locale: str
    user_id: uuid.UUID | None
    occupation: str
    occupation_title: str
    field: str
    years_experience: int
    languages: list[LanguageOut]
    district: str
    availability: list[str]
    gender: str | None
    german_level: str | None
    qualification: str | None
    qualification_country: str | None
    recognition_status: str | None
    recognition_authority: str
    goals: str
    preferences: dict[str, Any]
    employer: str
    position: str
    capacity: int | None
    motivation: str
    consent_version: str
    consent_given_at: datetime
    extra: dict[str, dict[str, Any]]
    decision_reason: str
    decided_at: datetime | None
    created_at: datetime


class SummaryOut(Struct):
    id: uuid.UUID
    kind: str
    status: str
    version: int
    name: str
    email: str
    occupation: str
    german_level: str | None
    recognition_status: str | None
    created_at: datetime


class ListOut(Struct):
    applications: list[SummaryOut]
    counts: dict[str, int]
    total: int


class CheckOut(Struct):
    rule: str
    passed: bool
    message: str


class EligibilityOut(Struct):
    eligible: bool
    checks: list[CheckOut]
    note: str


class NoteOut(Struct):
    id: uuid.UUID
    body: str
    author_user_id: uuid.UUID | None
    created_at: datetime


class DetailOut(Struct):
    application: ApplicationOut
    eligibility: EligibilityOut
    notes: list[NoteOut]


class NoteIn(Struct):
    body: str


class VersionIn(Struct):
    version: int


class DecisionIn(Struct):
    decision: str  # "accepted", "waitlisted" or "rejected"
    version: int
    reason: str = ""


class OwnOut(Struct):
    id: uuid.UUID
    programme: str
    cohort: str
    kind: str
    status: str
    status_label: str
    decision_reason: str
    created_at: datetime
    can_withdraw: bool


class ProblemOut(Struct):
    type: str
    title: str
    status: int
    detail: str = ""
    errors: dict[str, str] | None = None


class ConflictOut(Struct):
    type: str
    title: str
    status: int
    detail: str
    current: ApplicationOut


COORDINATORS = [require_role("admin")]
PROBLEM = ResponseSpec(
    data_container=ProblemOut, media_type="application/problem+json", description="Problem"
)
INVALID = ResponseSpec(
    data_container=ProblemOut,
    media_type="application/problem+json",
    description="Invalid input: 'errors' names each field, in the request's language",
)
STALE = ResponseSpec(
    data_container=ConflictOut,
    media_type="application/problem+json",
    description="Someone else changed the application meanwhile; 'current' is its state now",
)


# --- conversions ------------------------------------------------------------------------------


def application_out(application: Application, cohort_slug: str, locale: str) -> ApplicationOut:
    return ApplicationOut(
        id=application.id,
        cohort=cohort_slug,
        kind=application.kind.value,
        status=application.status.value,
        status_label=gettext(locale, labels.STATUSES[application.status]),
        version=application.version,
        name=application.name,
        email=application.email,
        locale=application.locale,
        user_id=application.user_id,
        occupation=application.occupation_code,
        occupation_title=occupations.title(application.occupation_code, locale),
        field=application.field,
        years_experience=application.years_experience,
        languages=[
            LanguageOut(row["code"], languages.name(row["code"], locale), row["level"])
            for row in application.languages
        ],
        district=application.district,
        availability=list(application.availability),
        gender=application.gender,
        german_level=application.german_level,
        qualification=application.qualification.value if application.qualification else None,
        qualification_country=application.qualification_country,
        recognition_status=application.recognition_status.value
        if application.recognition_status
        else None,
        recognition_authority=application.recognition_authority,
        goals=application.goals,
        preferences=dict(application.preferences),
        employer=application.employer,
        position=application.position,
        capacity=application.capacity,
        motivation=application.motivation,
        consent_version=application.consent_version,
        consent_given_at=application.consent_given_at,
        extra=dict(application.extra),
        decision_reason=application.decision_reason,
        decided_at=application.decided_at,
        created_at=application.created_at,
    )


def _note_out(note: IntakeNote) -> NoteOut:
    return NoteOut(note.id, note.body, note.author_user_id, note.created_at)


def _field_out(item: PluginField) -> FieldOut:
    spec = item.field
    return FieldOut(
        plugin=item.plugin_id,
        name=spec.name,
        label=spec.label,
        type=spec.type,
        required=spec.required,
        help=spec.help,
        choices=[ChoiceOut(value, text) for value, text in spec.choices],
        min=spec.min,
        max=spec.max,
    )


def _invalid(errors: dict[str, str]) -> ValidationException:
    """422 with an error per field; the error handler makes it a problem document."""
    return ValidationException(status_code=422, extra=errors)


def _problem(request: Request[Any, Any, Any], status: int, detail: str) -> Response[Any]:
    locale = request_context(request).locale
    body = {
        "type": "about:blank",
        "title": gettext(locale, TITLES[status]),
        "status": status,
        "detail": gettext(locale, detail),
    }
    return Response(body, status_code=status, media_type="application/problem+json")


def _stale(
    request: Request[Any, Any, Any], application: Application, cohort_slug: str
) -> Response[Any]:
    locale = request_context(request).locale
    body = {
        "type": "about:blank",
        "title": gettext(locale, TITLES[409]),
        "status": 409,
        "detail": gettext(locale, CONFLICT),
        "current": msgspec.to_builtins(application_out(application, cohort_slug, locale)),
    }
    return Response(body, status_code=409, media_type="application/problem+json")


def _kind(value: str, locale: str) -> ApplicationKind:
    try:
        return ApplicationKind(value)
    except ValueError:
        raise _invalid({"kind": gettext(locale, UNKNOWN_KIND)}) from None


# --- public -----------------------------------------------------------------------------------


class ApplicationsApi(Controller):
    path = "/api/v1/cohorts/{cohort_slug:str}"
    tags = ["applications"]

    @get(
        "/application-form/{kind:str}",
        name="api.applications.form",
        responses={404: PROBLEM},
    )
    async def form(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        plugins: NamedDependency[PluginHost],
        current_user: NamedDependency[CurrentUser | None],
        cohort_slug: FromPath[str],
        kind: FromPath[str],
    ) -> FormOut:
        """What the application form of ``kind`` (mentee or mentor) asks beyond the core
        fields, and the consent text with the version to send back. Public."""
        tenant = current_tenant(request)
        locale = request_context(request).locale
        if kind not in {k.value for k in ApplicationKind}:
            raise NotFoundException()
        async with db.tenant_session(tenant.id) as session:
            await services.access_cohort(session, cohort_slug, public=True, user=current_user)
        fields = collect(plugins, tenant, kind, locale)
        return FormOut(
            kind=kind,
            consent_version=CONSENT_VERSION,
            consent_text=consent_text(locale, tenant.name),
            fields=[_field_out(item) for item in fields],
        )

    @post(
        "/applications",
        name="api.applications.submit",
        responses={403: PROBLEM, 404: PROBLEM, 409: PROBLEM, 422: INVALID},
    )
    async def submit(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        plugins: NamedDependency[PluginHost],
        current_user: NamedDependency[CurrentUser | None],
        cohort_slug: FromPath[str],
        data: JSONBody[ApplicationIn],
    ) -> SubmittedOut:
        """Apply to the cohort as a mentee or mentor. Public; a signed-in caller's account
        is linked to the application. Answers in the request's language."""
        tenant = current_tenant(request)
        locale = request_context(request).locale
        async with db.tenant_session(tenant.id) as session:
            programme, cohort = await services.access_cohort(
                session, cohort_slug, public=True, user=current_user
            )
        if not cohort.accepts_applications(services.today()):
            return _problem(request, 403, CLOSED)  # type: ignore[return-value]
        kind = _kind(data.kind, locale)
        fields = collect(plugins, tenant, kind.value, locale)
        raw = schemas.raw_from_api(msgspec.to_builtins(data), fields)
        required = schemas.german_required(programme.min_german_level, tenant.locales)
        checked, errors = schemas.validate(
            kind, raw, fields, locale, german_level_required=required
        )
        if checked is None:
            raise _invalid(schemas.api_errors(errors, fields))
        try:
            async with db.tenant_session(tenant.id) as session, session.begin():
                application = await services.submit_application(
                    session,
                    programme=programme,
                    cohort=cohort,
                    data=checked,
                    locale=locale,
                    user_id=current_user.id if current_user else None,
                    ip=client_ip(request),
                )
        except services.DuplicateApplicationError:
            return _problem(request, 409, DUPLICATE)  # type: ignore[return-value]
        except services.ApplicationsClosedError:
            return _problem(request, 403, CLOSED)  # type: ignore[return-value]
        return SubmittedOut(application.id, cohort.slug, kind.value, application.status.value)

    # --- coordinators --------------------------------------------------------------------------

    @get(
        "/applications",
        name="api.intake.list",
        guards=COORDINATORS,
        responses={403: PROBLEM, 404: PROBLEM, 422: INVALID},
    )
    async def list_applications(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        cohort_slug: FromPath[str],
        kind: FromQuery[str | None] = None,
        status_filter: Annotated[str | None, QueryParameter(name="status")] = None,
        occupation: Annotated[
            str | None,
            QueryParameter(description="An ISCO-08 group code; matches it and its subgroups"),
        ] = None,
        german_level: FromQuery[str | None] = None,
        recognition: FromQuery[str | None] = None,
        q: Annotated[str | None, QueryParameter(description="Part of the name or e-mail")] = None,
    ) -> ListOut:
        """The cohort's applications, oldest first, with counts per status (of ``kind``).
        Coordinators only."""
        tenant = current_tenant(request)
        locale = request_context(request).locale
        params = {
            "kind": kind,
            "status": status_filter,
            "occupation": occupation,
            "german_level": german_level,
            "recognition": recognition,
            "q": q,
        }
        filters, _, invalid = schemas.parse_filters(params)
        if invalid:
            raise _invalid({name: gettext(locale, NOT_ALLOWED) for name in invalid})
        async with db.tenant_session(tenant.id) as session:
            _, cohort = await services.access_cohort(session, cohort_slug)
            rows = await services.list_applications(session, cohort, filters)
            counts = await services.status_counts(session, cohort, filters.kind)
        return ListOut(
            applications=[
                SummaryOut(
                    id=a.id,
                    kind=a.kind.value,
                    status=a.status.value,
                    version=a.version,
                    name=a.name,
                    email=a.email,
                    occupation=a.occupation_code,
                    german_level=a.german_level,
                    recognition_status=a.recognition_status.value if a.recognition_status else None,
                    created_at=a.created_at,
                )
                for a in rows
            ],
            counts={status.value: count for status, count in counts.items()},
            total=sum(counts.values()),
        )

    @get(
        "/applications/{application_id:uuid}",
        name="api.intake.detail",
        guards=COORDINATORS,
        responses={403: PROBLEM, 404: PROBLEM},
    )
    async def detail(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        cohort_slug: FromPath[str],
        application_id: FromPath[uuid.UUID],
    ) -> DetailOut:
        """One application with its eligibility check and intake notes. Coordinators only."""
        tenant = current_tenant(request)
        locale = request_context(request).locale
        async with db.tenant_session(tenant.id) as session:
            target = await services.access_intake_target(session, cohort_slug, application_id)
            notes = await services.notes_of(session, target.application)
        result = eligibility.check(target.programme, target.application, locale)
        return DetailOut(
            application=application_out(target.application, cohort_slug, locale),
            eligibility=EligibilityOut(
                eligible=result.eligible,
                checks=[CheckOut(c.rule, c.passed, c.message) for c in result.checks],
                note=result.note,
            ),
            notes=[_note_out(n) for n in notes],
        )

    @post(
        "/applications/{application_id:uuid}/notes",
        guards=COORDINATORS,
        name="api.intake.add_note",
        responses={403: PROBLEM, 404: PROBLEM, 422: INVALID},
    )
    async def add_note(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        cohort_slug: FromPath[str],
        application_id: FromPath[uuid.UUID],
        data: JSONBody[NoteIn],
    ) -> NoteOut:
        """Add an intake-talk note (seen by coordinators only). Coordinators only."""
        tenant = current_tenant(request)
        locale = request_context(request).locale
        body, error = services.check_note(data.body, locale)
        if error is not None:
            raise _invalid({"body": error})
        async with db.tenant_session(tenant.id) as session, session.begin():
            target = await services.access_intake_target(session, cohort_slug, application_id)
            actor = current_user.id if current_user else None
            note = services.add_note(
                session, target.application, body, actor, ip=client_ip(request)
            )
            await session.flush()
        return _note_out(note)

    @post(
        "/applications/{application_id:uuid}/review",
        guards=COORDINATORS,
        name="api.intake.review",
        status_code=200,
        responses={403: PROBLEM, 404: PROBLEM, 409: STALE},
    )
    async def review(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        cohort_slug: FromPath[str],
        application_id: FromPath[uuid.UUID],
        data: JSONBody[VersionIn],
    ) -> ApplicationOut:
        """Move a submitted application to ``in_review`` (the intake talk). Send the
        ``version`` you last saw. Coordinators only."""
        tenant = current_tenant(request)
        locale = request_context(request).locale
        actor = current_user.id if current_user else None
        try:
            async with db.tenant_session(tenant.id) as session, session.begin():
                target = await services.access_intake_target(session, cohort_slug, application_id)
                await services.start_review(
                    session, target, actor, seen_version=data.version, ip=client_ip(request)
                )
        except (services.StaleApplicationError, services.ApplicationStateError):
            return await self._current(request, db, cohort_slug, application_id)  # type: ignore[return-value]
        return application_out(target.application, cohort_slug, locale)

    @post(
        "/applications/{application_id:uuid}/decision",
        guards=COORDINATORS,
        name="api.intake.decide",
        status_code=200,
        responses={403: PROBLEM, 404: PROBLEM, 409: STALE, 422: INVALID},
    )
    async def decide(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        cohort_slug: FromPath[str],
        application_id: FromPath[uuid.UUID],
        data: JSONBody[DecisionIn],
    ) -> ApplicationOut:
        """Accept, waitlist or reject (a rejection needs a ``reason``, which the applicant
        is told). The applicant gets an e-mail in their language; an accepted one an
        invitation to sign in. Send the ``version`` you last saw. Coordinators only."""
        tenant = current_tenant(request)
        locale = request_context(request).locale
        decision, reason, errors = services.check_decision(data.decision, data.reason, locale)
        if errors or decision is None:
            raise _invalid(errors)
        actor = current_user.id if current_user else None
        base_url = f"{request.url.scheme}://{request_context(request).host}"
        try:
            async with db.tenant_session(tenant.id) as session, session.begin():
                target = await services.access_intake_target(session, cohort_slug, application_id)
                await services.decide(
                    session, target, decision, reason, actor, seen_version=data.version,
                    base_url=base_url, ip=client_ip(request),
                )  # fmt: skip
        except (services.StaleApplicationError, services.ApplicationStateError):
            return await self._current(request, db, cohort_slug, application_id)  # type: ignore[return-value]
        return application_out(target.application, cohort_slug, locale)

    async def _current(
        self,
        request: Request[Any, Any, Any],
        db: Database,
        cohort_slug: str,
        application_id: uuid.UUID,
    ) -> Response[Any]:
        tenant = current_tenant(request)
        async with db.tenant_session(tenant.id) as session:
            target = await services.access_intake_target(session, cohort_slug, application_id)
        return _stale(request, target.application, cohort_slug)


# --- the applicant's own --------------------------------------------------------------------------


def _own_out(own: services.OwnApplication, locale: str) -> OwnOut:
    application = own.application
    return OwnOut(
        id=application.id,
        programme=own.programme.name,
        cohort=own.cohort.slug,
        kind=application.kind.value,
        status=application.status.value,
        status_label=gettext(locale, labels.STATUSES[application.status]),
        decision_reason=application.decision_reason
        if application.status is ApplicationStatus.REJECTED
        else "",
        created_at=application.created_at,
        can_withdraw=own.can_withdraw,
    )


class MyApplicationsApi(Controller):
    path = "/api/v1/me/applications"
    tags = ["applications"]
    guards = [require_login]

    @get("", name="api.applications.mine")
    async def mine(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
    ) -> list[OwnOut]:
        """The signed-in person's applications in this tenant, newest first."""
        tenant = current_tenant(request)
        locale = request_context(request).locale
        assert current_user is not None  # the guard
        async with db.tenant_session(tenant.id) as session:
            owns = await services.applications_of(session, current_user.id)
        return [_own_out(own, locale) for own in owns]

    @post(
        "/{application_id:uuid}/withdraw",
        name="api.applications.withdraw",
        status_code=200,
        responses={404: PROBLEM, 409: PROBLEM},
    )
    async def withdraw(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        application_id: FromPath[uuid.UUID],
    ) -> OwnOut:
        """Withdraw one of your own applications (not once it was rejected or withdrawn, nor
        while it holds you in an open tandem: 409 with the reason)."""
        tenant = current_tenant(request)
        locale = request_context(request).locale
        assert current_user is not None  # the guard
        try:
            async with db.tenant_session(tenant.id) as session, session.begin():
                own = await services.access_own_application_by_id(
                    session, current_user.id, application_id
                )
                await services.withdraw(session, own, current_user.id, ip=client_ip(request))
        except services.InTandemError:
            return _problem(request, 409, services.IN_TANDEM)  # type: ignore[return-value]
        except (services.ApplicationStateError, services.StaleApplicationError):
            return _problem(request, 409, WITHDRAW_REFUSED)  # type: ignore[return-value]
        return _own_out(own, locale)
