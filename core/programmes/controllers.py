"""Programme pages: the public ``/programmes`` on a tenant's host, and ``/admin/programmes``.

Public (no sign-in):

* ``/programmes`` lists the published programmes; ``/programmes/<slug>`` shows one —
  duration, expected hours, meeting cadence, who can apply — with the cohorts whose
  applications are open or upcoming and an "Apply as mentee / mentor" call to action
  leading to ``/programmes/<slug>/cohorts/<cohort>/apply/{mentee,mentor}`` (the
  application forms, :mod:`core.applications`). An unpublished programme is a 404
  for everyone but the tenant's admins, who see it with a note.

Admin (role ``admin``):

* ``/admin/programmes`` lists programmes with their cohorts and each cohort's status
  (computed from its dates); ``/admin/programmes/new`` and ``/admin/programmes/<id>``
  create and edit a programme, ``…/<id>/cohorts/new`` and ``…/cohorts/<id>`` its
  cohorts. Problems are shown next to their field, in the visitor's language, with
  what they typed; nothing is stored. Deleting is refused, with the reason, while a
  programme has cohorts or a cohort has applications.

All reads and writes go through :mod:`core.programmes.services` in a tenant session,
so another tenant's programme or cohort is a 404 on every route.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Response, Template
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.sessions import Database
from core.i18n.catalogs import gettext
from core.identity.guards import CurrentUser, require_role
from core.identity.sessions import client_ip
from core.mail.compose import format_date
from core.programmes import schemas, services
from core.programmes.models import Cadence, Cohort, Programme
from core.programmes.schemas import N_, CohortStatus, InvalidInput
from core.reference.cefr import LEVELS
from core.tenancy.snapshot import TenantSnapshot
from core.web.forms import form_text
from core.web.sites import current_tenant, request_context

ADMIN_PATH = "/admin/programmes"
PUBLIC_PATH = "/programmes"
APPLICATION_KINDS = ("mentee", "mentor")

CADENCE_LABELS = {
    Cadence.WEEKLY: N_("Every week"),
    Cadence.FORTNIGHTLY: N_("Every two weeks"),
    Cadence.MONTHLY: N_("Once a month"),
    Cadence.FLEXIBLE: N_("As often as the tandem agrees"),
}
STATUS_LABELS = {
    CohortStatus.UPCOMING: N_("Upcoming"),
    CohortStatus.APPLICATIONS_OPEN: N_("Applications open"),
    CohortStatus.MATCHING: N_("Applications closed, matching"),
    CohortStatus.RUNNING: N_("Running"),
    CohortStatus.FINISHED: N_("Finished"),
}
ONE_WEEK = N_("1 week")
WEEKS = N_("%(weeks)s weeks")
WEEKS_AND_MONTHS = N_("%(weeks)s weeks (about %(months)s months)")
ONE_HOUR = N_("About 1 hour in all")
HOURS = N_("About %(hours)s hours in all")
GERMAN_LEVEL = N_("German at least at level %(level)s")
RECOGNITION = N_("For people whose foreign qualification is in the recognition procedure")
SELF_MATCHING = N_("Mentees choose their mentor from the best suggestions")
COORDINATED = N_("The coordinators pair mentees and mentors after the intake talks")
NO_REQUIREMENTS = N_("No language level or recognition procedure required")
DATE_RANGE = N_("from %(start)s to %(end)s")
NOTICES = {
    "created": N_("“%(name)s” was created."),
    "saved": N_("The changes to “%(name)s” were saved."),
    "unchanged": N_("Nothing was changed in “%(name)s”."),
    "deleted": N_("“%(name)s” was deleted."),
}
CONFIRM_MISSING = N_("Tick the box to confirm.")


def apply_path(programme_slug: str, cohort_slug: str, kind: str) -> str:
    """Where the application form for ``kind`` (mentee or mentor) of a cohort lives."""
    return f"{PUBLIC_PATH}/{programme_slug}/cohorts/{cohort_slug}/apply/{kind}"


# --- what pages show --------------------------------------------------------------------


def duration_text(weeks: int, locale: str) -> str:
    if weeks == 1:
        return gettext(locale, ONE_WEEK)
    if weeks >= 8:
        months = round(weeks * 7 / 30.44)
        return gettext(locale, WEEKS_AND_MONTHS, weeks=weeks, months=months)
    return gettext(locale, WEEKS, weeks=weeks)


def hours_text(hours: int | None, locale: str) -> str | None:
    if hours is None:
        return None
    return gettext(locale, ONE_HOUR) if hours == 1 else gettext(locale, HOURS, hours=hours)


def eligibility(programme: Programme, locale: str) -> list[str]:
    rules = []
    if programme.min_german_level:
        rules.append(gettext(locale, GERMAN_LEVEL, level=programme.min_german_level))
    if programme.requires_recognition_procedure:
        rules.append(gettext(locale, RECOGNITION))
    return rules


def cohort_view(programme: Programme, cohort: Cohort, locale: str) -> dict[str, Any]:
    status = services.cohort_status(cohort)
    is_open = status is CohortStatus.APPLICATIONS_OPEN
    return {
        "id": str(cohort.id),
        "slug": cohort.slug,
        "name": cohort.name,
        "status": status.value,
        "status_label": gettext(locale, STATUS_LABELS[status]),
        "open": is_open,
        "opens_on": format_date(cohort.applications_open_on, locale),
        "closes_on": format_date(cohort.applications_close_on, locale),
        "applications": _date_range(
            cohort.applications_open_on, cohort.applications_close_on, locale
        ),
        "mentoring": _date_range(cohort.starts_on, cohort.ends_on, locale),
        "apply": {kind: apply_path(programme.slug, cohort.slug, kind) for kind in APPLICATION_KINDS}
        if is_open
        else None,
    }


def _date_range(start: Any, end: Any, locale: str) -> str:
    return gettext(
        locale, DATE_RANGE, start=format_date(start, locale), end=format_date(end, locale)
    )


def programme_view(programme: Programme, locale: str) -> dict[str, Any]:
    paragraphs = [p.strip() for p in programme.description.split("\n\n") if p.strip()]
    return {
        "id": str(programme.id),
        "slug": programme.slug,
        "name": programme.name,
        "paragraphs": paragraphs,
        "published": programme.published,
        "url": f"{PUBLIC_PATH}/{programme.slug}",
        "duration": duration_text(programme.duration_weeks, locale),
        "hours": hours_text(programme.expected_hours, locale),
        "cadence": gettext(locale, CADENCE_LABELS[programme.cadence]),
        "matching": gettext(locale, SELF_MATCHING if programme.self_matching else COORDINATED),
        "eligibility": eligibility(programme, locale),
        "no_requirements": gettext(locale, NO_REQUIREMENTS),
    }


async def public_offers(db: Database, tenant: TenantSnapshot, locale: str) -> list[dict[str, Any]]:
    """Published programmes with open or upcoming cohorts, as the home page shows them."""
    async with db.tenant_session(tenant.id) as session:
        found = await services.offers(session)
    return [
        {
            **programme_view(offer.programme, locale),
            "cohorts": [cohort_view(offer.programme, c, locale) for c in offer.cohorts],
        }
        for offer in found
    ]


# --- public pages -----------------------------------------------------------------------


class PublicProgrammes(Controller):
    path = PUBLIC_PATH
    include_in_schema = False

    @get("", name="programmes.index")
    async def index(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
    ) -> Template:
        tenant = current_tenant(request)
        locale = request_context(request).locale
        on = services.today()
        async with db.tenant_session(tenant.id) as session:
            programmes = await services.list_programmes(
                session, include_unpublished=services.is_admin(current_user)
            )
            cohorts = await services.cohorts_of(session, [p.id for p in programmes])
        listing = [
            {
                **programme_view(p, locale),
                "cohorts": [
                    cohort_view(p, c, locale)
                    for c in services.upcoming(cohorts, on)
                    if c.programme_id == p.id
                ],
            }
            for p in programmes
        ]
        return Template("programmes/index.html", context={"programmes": listing})

    @get("/{slug:str}", name="programmes.detail")
    async def detail(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        slug: FromPath[str],
    ) -> Template:
        tenant = current_tenant(request)
        locale = request_context(request).locale
        async with db.tenant_session(tenant.id) as session:
            programme = await services.access_programme_by_slug(session, current_user, slug)
            cohorts = services.upcoming(await services.cohorts_of(session, [programme.id]))
        return Template(
            "programmes/detail.html",
            context={
                "programme": programme_view(programme, locale),
                "cohorts": [cohort_view(programme, c, locale) for c in cohorts],
                "is_admin": services.is_admin(current_user),
            },
        )


# --- admin forms --------------------------------------------------------------------------

PROGRAMME_TEXT_FIELDS = {
    "slug": schemas.MAX_SLUG_LENGTH,
    "name": schemas.MAX_NAME_LENGTH,
    "description": schemas.MAX_DESCRIPTION_LENGTH,
    "duration_weeks": 12,
    "expected_hours": 12,
    "cadence": 32,
    "min_german_level": 8,
}
PROGRAMME_CHECKBOXES = ("self_matching", "published", "requires_recognition_procedure")
COHORT_TEXT_FIELDS = {
    "slug": schemas.MAX_SLUG_LENGTH,
    "name": schemas.MAX_NAME_LENGTH,
    "applications_open_on": 32,
    "applications_close_on": 32,
    "starts_on": 32,
    "ends_on": 32,
}


@dataclass
class EditForm:
    """A programme or cohort form as shown: values as text or yes/no, errors by field."""

    values: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)


def read_form(
    form: Any, text_fields: dict[str, int], checkboxes: tuple[str, ...], *, new: bool
) -> dict[str, Any]:
    """The submitted fields, as the checks in :mod:`core.programmes.schemas` take them.

    The slug is read only on the "new" forms: it is fixed once created. Texts are cut
    one past their limit, so that "too long" is reported rather than cut silently.
    """
    raw: dict[str, Any] = {
        key: form_text(form, key, limit + 1)
        for key, limit in text_fields.items()
        if new or key != "slug"
    }
    # A description keeps its line breaks; form_text only strips its ends.
    raw.update({key: form.get(key) == "true" for key in checkboxes})
    return raw


def _display(value: Any) -> Any:
    """A stored value as its form control shows it (checkboxes keep their bool)."""
    if value is None:
        return ""
    return value if isinstance(value, bool) else str(value)


def programme_form(programme: Programme | None = None) -> EditForm:
    if programme is None:
        values = {key: _display(value) for key, value in schemas.PROGRAMME_DEFAULTS.items()}
        return EditForm({"slug": "", "name": "", "duration_weeks": "", **values})
    return EditForm({key: _display(getattr(programme, key)) for key in schemas.PROGRAMME_FIELDS})


def cohort_form(cohort: Cohort | None = None) -> EditForm:
    if cohort is None:
        return EditForm({key: "" for key in schemas.COHORT_FIELDS})
    return EditForm({key: str(getattr(cohort, key)) for key in schemas.COHORT_FIELDS})


def _shown(raw: dict[str, Any], base: EditForm) -> EditForm:
    """What the visitor typed, over the stored values (for fields the form lacks)."""
    return EditForm({**base.values, **raw})


def _with_slug(raw: dict[str, Any]) -> dict[str, Any]:
    """On a "new" form, the slug made from the name when none was typed, to show it."""
    if not raw.get("slug") and isinstance(raw.get("name"), str):
        return {**raw, "slug": schemas.slug_from_name(raw["name"])}
    return raw


def _notice(request: Request[Any, Any, Any], locale: str) -> str | None:
    done, name = request.query_params.get("done"), request.query_params.get("name")
    if done in NOTICES and name:
        return gettext(locale, NOTICES[done], name=name[: schemas.MAX_NAME_LENGTH])
    return None


def _done(path: str, kind: str, name: str) -> Redirect:
    return Redirect(path=path, query_params={"done": kind, "name": name}, status_code=303)


def _options(locale: str) -> dict[str, Any]:
    return {
        "cadences": [(c.value, gettext(locale, label)) for c, label in CADENCE_LABELS.items()],
        "levels": LEVELS,
    }


async def _cohort_views(
    session: AsyncSession, programme: Programme, locale: str
) -> list[dict[str, Any]]:
    return [
        cohort_view(programme, c, locale)
        for c in await services.cohorts_of(session, [programme.id])
    ]


class ProgrammeAdmin(Controller):
    path = ADMIN_PATH
    include_in_schema = False
    guards = [require_role("admin")]

    # --- programmes ---------------------------------------------------------------------

    @get("", name="admin.programmes")
    async def list_page(
        self, request: Request[Any, Any, Any], db: NamedDependency[Database]
    ) -> Template:
        tenant = current_tenant(request)
        locale = request_context(request).locale
        async with db.tenant_session(tenant.id) as session:
            programmes = await services.list_programmes(session, include_unpublished=True)
            cohorts = await services.cohorts_of(session, [p.id for p in programmes])
        listing = [
            {
                **programme_view(p, locale),
                "cohorts": [cohort_view(p, c, locale) for c in cohorts if c.programme_id == p.id],
            }
            for p in programmes
        ]
        return Template(
            "programmes/admin_list.html",
            context={"programmes": listing, "notice": _notice(request, locale)},
        )

    @get("/new", name="admin.new_programme")
    async def new_programme(self, request: Request[Any, Any, Any]) -> Template:
        return self._programme_page(request, None, programme_form(), [])

    @post("", name="admin.create_programme")
    async def create_programme(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
    ) -> Response[Any]:
        tenant = current_tenant(request)
        locale = request_context(request).locale
        raw = read_form(await request.form(), PROGRAMME_TEXT_FIELDS, PROGRAMME_CHECKBOXES, new=True)
        try:
            async with db.tenant_session(tenant.id) as session, session.begin():
                programme = await services.create_programme(
                    session, raw, actor=current_user, ip=client_ip(request)
                )
        except InvalidInput as invalid:
            form = EditForm(
                _shown(_with_slug(raw), programme_form()).values, invalid.messages(locale)
            )
            return self._programme_page(request, None, form, [], status_code=422)
        return _done(f"{ADMIN_PATH}/{programme.id}", "created", programme.name)

    @get("/{programme_id:uuid}", name="admin.programme")
    async def programme_page(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        programme_id: FromPath[uuid.UUID],
    ) -> Template:
        tenant = current_tenant(request)
        locale = request_context(request).locale
        async with db.tenant_session(tenant.id) as session:
            programme = await services.access_programme_by_id(
                session, current_user, programme_id, for_write=True
            )
            cohorts = await _cohort_views(session, programme, locale)
        return self._programme_page(
            request, programme, programme_form(programme), cohorts, notice=_notice(request, locale)
        )

    @post("/{programme_id:uuid}", name="admin.save_programme")
    async def save_programme(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        programme_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        tenant = current_tenant(request)
        locale = request_context(request).locale
        raw = read_form(
            await request.form(), PROGRAMME_TEXT_FIELDS, PROGRAMME_CHECKBOXES, new=False
        )
        try:
            async with db.tenant_session(tenant.id) as session, session.begin():
                programme = await services.access_programme_by_id(
                    session, current_user, programme_id, for_write=True
                )
                changed = await services.update_programme(
                    session, programme, raw, actor=current_user, ip=client_ip(request)
                )
        except InvalidInput as invalid:
            async with db.tenant_session(tenant.id) as session:
                programme = await services.access_programme_by_id(
                    session, current_user, programme_id, for_write=True
                )
                cohorts = await _cohort_views(session, programme, locale)
            form = EditForm(_shown(raw, programme_form(programme)).values, invalid.messages(locale))
            return self._programme_page(request, programme, form, cohorts, status_code=422)
        kind = "saved" if changed else "unchanged"
        return _done(f"{ADMIN_PATH}/{programme.id}", kind, programme.name)

    @post("/{programme_id:uuid}/delete", name="admin.delete_programme")
    async def delete_programme(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        programme_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        tenant = current_tenant(request)
        locale = request_context(request).locale
        confirmed = (await request.form()).get("confirm") == "yes"
        problem: str | None = None
        try:
            async with db.tenant_session(tenant.id) as session, session.begin():
                programme = await services.access_programme_by_id(
                    session, current_user, programme_id, for_write=True
                )
                name = programme.name
                if not confirmed:
                    problem = CONFIRM_MISSING
                else:
                    await services.delete_programme(
                        session, programme, actor=current_user, ip=client_ip(request)
                    )
        except services.Refused as refused:
            problem = refused.message
        if problem is None:
            return _done(ADMIN_PATH, "deleted", name)
        async with db.tenant_session(tenant.id) as session:
            programme = await services.access_programme_by_id(
                session, current_user, programme_id, for_write=True
            )
            cohorts = await _cohort_views(session, programme, locale)
        return self._programme_page(
            request,
            programme,
            programme_form(programme),
            cohorts,
            delete_error=gettext(locale, problem),
            status_code=422 if problem == CONFIRM_MISSING else 409,
        )

    def _programme_page(
        self,
        request: Request[Any, Any, Any],
        programme: Programme | None,
        form: EditForm,
        cohorts: list[dict[str, Any]],
        *,
        notice: str | None = None,
        delete_error: str | None = None,
        status_code: int = 200,
    ) -> Template:
        locale = request_context(request).locale
        return Template(
            "programmes/admin_programme.html",
            context={
                "programme": programme_view(programme, locale) if programme else None,
                "form": form,
                "cohorts": cohorts,
                "notice": notice,
                "delete_error": delete_error,
                **_options(locale),
            },
            status_code=status_code,
        )

    # --- cohorts ------------------------------------------------------------------------

    @get("/{programme_id:uuid}/cohorts/new", name="admin.new_cohort")
    async def new_cohort(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        programme_id: FromPath[uuid.UUID],
    ) -> Template:
        tenant = current_tenant(request)
        async with db.tenant_session(tenant.id) as session:
            programme = await services.access_programme_by_id(
                session, current_user, programme_id, for_write=True
            )
        return self._cohort_page(request, programme, None, cohort_form())

    @post("/{programme_id:uuid}/cohorts", name="admin.create_cohort")
    async def create_cohort(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        programme_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        tenant = current_tenant(request)
        locale = request_context(request).locale
        raw = read_form(await request.form(), COHORT_TEXT_FIELDS, (), new=True)
        try:
            async with db.tenant_session(tenant.id) as session, session.begin():
                programme = await services.access_programme_by_id(
                    session, current_user, programme_id, for_write=True
                )
                cohort = await services.create_cohort(
                    session, programme, raw, actor=current_user, ip=client_ip(request)
                )
        except InvalidInput as invalid:
            # The failed transaction expired what it loaded: read the programme afresh.
            async with db.tenant_session(tenant.id) as session:
                programme = await services.access_programme_by_id(
                    session, current_user, programme_id, for_write=True
                )
            form = EditForm(_shown(_with_slug(raw), cohort_form()).values, invalid.messages(locale))
            return self._cohort_page(request, programme, None, form, status_code=422)
        return _done(f"{ADMIN_PATH}/{programme_id}", "created", cohort.name)

    @get("/{programme_id:uuid}/cohorts/{cohort_id:uuid}", name="admin.cohort")
    async def cohort_page(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        programme_id: FromPath[uuid.UUID],
        cohort_id: FromPath[uuid.UUID],
    ) -> Template:
        tenant = current_tenant(request)
        locale = request_context(request).locale
        programme, cohort = await self._load_cohort(
            db, tenant, current_user, programme_id, cohort_id
        )
        return self._cohort_page(
            request, programme, cohort, cohort_form(cohort), notice=_notice(request, locale)
        )

    @post("/{programme_id:uuid}/cohorts/{cohort_id:uuid}", name="admin.save_cohort")
    async def save_cohort(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        programme_id: FromPath[uuid.UUID],
        cohort_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        tenant = current_tenant(request)
        locale = request_context(request).locale
        raw = read_form(await request.form(), COHORT_TEXT_FIELDS, (), new=False)
        try:
            async with db.tenant_session(tenant.id) as session, session.begin():
                programme = await services.access_programme_by_id(
                    session, current_user, programme_id, for_write=True
                )
                cohort = await services.access_cohort_by_id(
                    session, current_user, programme, cohort_id, for_write=True
                )
                changed = await services.update_cohort(
                    session, programme, cohort, raw, actor=current_user, ip=client_ip(request)
                )
        except InvalidInput as invalid:
            programme, cohort = await self._load_cohort(
                db, tenant, current_user, programme_id, cohort_id
            )
            form = EditForm(_shown(raw, cohort_form(cohort)).values, invalid.messages(locale))
            return self._cohort_page(request, programme, cohort, form, status_code=422)
        kind = "saved" if changed else "unchanged"
        return _done(f"{ADMIN_PATH}/{programme.id}/cohorts/{cohort.id}", kind, cohort.name)

    @post("/{programme_id:uuid}/cohorts/{cohort_id:uuid}/delete", name="admin.delete_cohort")
    async def delete_cohort(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        programme_id: FromPath[uuid.UUID],
        cohort_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        tenant = current_tenant(request)
        locale = request_context(request).locale
        confirmed = (await request.form()).get("confirm") == "yes"
        problem: str | None = None
        try:
            async with db.tenant_session(tenant.id) as session, session.begin():
                programme = await services.access_programme_by_id(
                    session, current_user, programme_id, for_write=True
                )
                cohort = await services.access_cohort_by_id(
                    session, current_user, programme, cohort_id, for_write=True
                )
                name = cohort.name
                if not confirmed:
                    problem = CONFIRM_MISSING
                else:
                    await services.delete_cohort(
                        session, programme, cohort, actor=current_user, ip=client_ip(request)
                    )
        except services.Refused as refused:
            problem = refused.message
        if problem is None:
            return _done(f"{ADMIN_PATH}/{programme_id}", "deleted", name)
        programme, cohort = await self._load_cohort(
            db, tenant, current_user, programme_id, cohort_id
        )
        return self._cohort_page(
            request,
            programme,
            cohort,
            cohort_form(cohort),
            delete_error=gettext(locale, problem),
            status_code=422 if problem == CONFIRM_MISSING else 409,
        )

    async def _load_cohort(
        self,
        db: Database,
        tenant: TenantSnapshot,
        user: CurrentUser | None,
        programme_id: uuid.UUID,
        cohort_id: uuid.UUID,
    ) -> tuple[Programme, Cohort]:
        async with db.tenant_session(tenant.id) as session:
            programme = await services.access_programme_by_id(
                session, user, programme_id, for_write=True
            )
            cohort = await services.access_cohort_by_id(
                session, user, programme, cohort_id, for_write=True
            )
        return programme, cohort

    def _cohort_page(
        self,
        request: Request[Any, Any, Any],
        programme: Programme,
        cohort: Cohort | None,
        form: EditForm,
        *,
        notice: str | None = None,
        delete_error: str | None = None,
        status_code: int = 200,
    ) -> Template:
        locale = request_context(request).locale
        return Template(
            "programmes/admin_cohort.html",
            context={
                "programme": programme_view(programme, locale),
                "cohort": cohort_view(programme, cohort, locale) if cohort else None,
                "form": form,
                "notice": notice,
                "delete_error": delete_error,
            },
            status_code=status_code,
        )


__all__ = ["ProgrammeAdmin", "PublicProgrammes", "apply_path", "public_offers"]
