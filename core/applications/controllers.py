"""Pages: the public application forms, the applicant's own list, the coordinators' intake.

* ``/programmes/<programme>/cohorts/<cohort>/apply/mentee`` and ``…/apply/mentor`` —
  public (signed-in visitors get their name and address filled in, and the application
  is linked to their account). Outside the cohort's application window the page says
  so and takes nothing.
* ``/account/applications`` — a signed-in person's applications in this tenant, with
  their status; withdraw one.
* ``/admin/cohorts/<cohort>/applications`` — coordinators (role ``admin``): the list
  with filters and counts, one application with its eligibility, notes and decisions.

The pages are thin: validation lives in :mod:`core.applications.schemas`, every read
and write in :mod:`core.applications.services`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Response, Template
from markupsafe import Markup, escape
from sqlalchemy import select

from core.applications import eligibility, labels, schemas, services
from core.applications.consent import CONSENT_TITLE, CONSENT_VERSION, consent_text
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
from core.identity.models import User
from core.identity.sessions import client_ip
from core.mail.compose import format_date, format_datetime
from core.pluginhost.manager import PluginHost
from core.programmes.models import Cohort, Programme
from core.reference import availability, cefr, countries, languages, occupations
from core.tenancy.snapshot import TenantSnapshot
from core.web.errors import N_
from core.web.sites import current_tenant, request_context

LANGUAGE_ROWS = 4  # blank rows offered; more appear as rows are filled (no JavaScript)
DUPLICATE = N_(
    "There is already an application with this e-mail address for this cohort. "
    "If you want to change it, please write to the programme's coordinators."
)
NOT_YET_OPEN = N_("Applications for %(cohort)s open on %(date)s.")
CLOSED = N_("Applications for %(cohort)s closed on %(date)s.")


def _kind(value: str) -> ApplicationKind:
    try:
        return ApplicationKind(value)
    except ValueError:
        raise NotFoundException() from None


def _base_url(request: Request[Any, Any, Any]) -> str:
    return f"{request.url.scheme}://{request_context(request).host}"


def _choices(locale: str) -> dict[str, Any]:
    """What the selects and checkboxes of the forms and filters offer, in ``locale``."""
    return {
        "occupation_groups": occupations.choices(locale),
        "language_choices": languages.choices(locale),
        "country_choices": countries.choices(locale),
        "cefr_levels": cefr.LEVELS,
        "slots": list(availability.SLOTS),
        "labels": labels.translated(locale),
    }


# --- the application form -------------------------------------------------------------------


def aria(name: str, errors: dict[str, str], hint: Any = False) -> Markup:
    """`` aria-invalid`` and ``aria-describedby`` for control ``f-<name>``: its hint and
    its inline error, when it has them (a template helper)."""
    described = [f"f-{name}-hint"] if hint else []
    attributes = ""
    if errors.get(name):
        described.append(f"f-{name}-error")
        attributes += ' aria-invalid="true"'
    if described:
        attributes += f' aria-describedby="{escape(" ".join(described))}"'
    return Markup(attributes)


@dataclass
class FormState:
    raw: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)
    notice: str = ""


def _blank_form(user: CurrentUser | None) -> dict[str, Any]:
    return {
        "name": user.display_name if user else "",
        "email": (user.email or "") if user else "",
        "languages": [],
        "availability": [],
        "extra": {},
    }


def _language_rows(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    filled = [row for row in rows if row.get("code") or row.get("level")]
    blanks = max(LANGUAGE_ROWS - len(filled), 1)
    # Keep the submitted rows in place (errors name them by index), then add blanks.
    shown = list(rows) if rows else []
    while len(shown) < len(filled) + blanks:
        shown.append({"code": "", "level": ""})
    return shown[: schemas.MAX_LANGUAGES]


def _form_page(
    request: Request[Any, Any, Any],
    *,
    programme: Programme,
    cohort: Cohort,
    kind: ApplicationKind,
    fields: list[PluginField],
    state: FormState,
    status_code: int = 200,
) -> Template:
    locale = request_context(request).locale
    tenant = current_tenant(request)
    path = f"/programmes/{programme.slug}/cohorts/{cohort.slug}/apply/{kind.value}"
    context = {
        **_choices(locale),
        "programme": programme,
        "cohort": cohort,
        "kind": kind.value,
        "action": path,
        "form": state.raw,
        "language_rows": _language_rows(state.raw.get("languages") or []),
        "errors": state.errors,
        "notice": state.notice,
        "plugin_fields": fields,
        "german_required": schemas.german_required(programme.min_german_level, tenant.locales),
        "aria": aria,
        "consent_title": gettext(locale, CONSENT_TITLE),
        "consent_text": consent_text(locale, tenant.name),
        "consent_version": CONSENT_VERSION,
        "closes_on": format_date(cohort.applications_close_on, locale),
    }
    return Template("applications/form.html", context=context, status_code=status_code)


def _closed_page(
    request: Request[Any, Any, Any], programme: Programme, cohort: Cohort, status_code: int
) -> Template:
    locale = request_context(request).locale
    not_yet = services.today() < cohort.applications_open_on
    when = cohort.applications_open_on if not_yet else cohort.applications_close_on
    message = gettext(
        locale,
        NOT_YET_OPEN if not_yet else CLOSED,
        cohort=cohort.name,
        date=format_date(when, locale),
    )
    return Template(
        "applications/closed.html",
        context={"programme": programme, "cohort": cohort, "message": message},
        status_code=status_code,
    )


class ApplicationForms(Controller):
    path = "/programmes/{programme_slug:str}/cohorts/{cohort_slug:str}/apply"
    include_in_schema = False

    @get("/{kind:str}", name="applications.form")
    async def show(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        plugins: NamedDependency[PluginHost],
        current_user: NamedDependency[CurrentUser | None],
        programme_slug: FromPath[str],
        cohort_slug: FromPath[str],
        kind: FromPath[str],
    ) -> Template:
        tenant = current_tenant(request)
        which = _kind(kind)
        async with db.tenant_session(tenant.id) as session:
            programme, cohort = await services.access_programme_cohort(
                session, current_user, programme_slug, cohort_slug
            )
        if not cohort.accepts_applications(services.today()):
            return _closed_page(request, programme, cohort, 200)
        fields = collect(plugins, tenant, which.value, request_context(request).locale)
        state = FormState(_blank_form(current_user))
        return _form_page(
            request, programme=programme, cohort=cohort, kind=which, fields=fields, state=state
        )

    @post("/{kind:str}", name="applications.submit")
    async def submit(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        plugins: NamedDependency[PluginHost],
        current_user: NamedDependency[CurrentUser | None],
        programme_slug: FromPath[str],
        cohort_slug: FromPath[str],
        kind: FromPath[str],
    ) -> Response[Any]:
        tenant = current_tenant(request)
        locale = request_context(request).locale
        which = _kind(kind)
        async with db.tenant_session(tenant.id) as session:
            programme, cohort = await services.access_programme_cohort(
                session, current_user, programme_slug, cohort_slug
            )
        if not cohort.accepts_applications(services.today()):
            return _closed_page(request, programme, cohort, 403)
        fields = collect(plugins, tenant, which.value, locale)
        raw = schemas.raw_from_form(await request.form(), fields)
        required = schemas.german_required(programme.min_german_level, tenant.locales)
        data, errors = schemas.validate(which, raw, fields, locale, german_level_required=required)
        page = {"programme": programme, "cohort": cohort, "kind": which, "fields": fields}
        if data is None:
            return _form_page(request, **page, state=FormState(raw, errors), status_code=422)
        try:
            async with db.tenant_session(tenant.id) as session, session.begin():
                await services.submit_application(
                    session,
                    programme=programme,
                    cohort=cohort,
                    data=data,
                    locale=locale,
                    user_id=current_user.id if current_user else None,
                    ip=client_ip(request),
                )
        except services.DuplicateApplicationError:
            state = FormState(raw, {"email": gettext(locale, DUPLICATE)})
            return _form_page(request, **page, state=state, status_code=409)
        except services.ApplicationsClosedError:  # closed between the two reads
            return _closed_page(request, programme, cohort, 403)
        return Redirect(path=f"{request.url.path}/thanks", status_code=303)

    @get("/{kind:str}/thanks", name="applications.thanks")
    async def thanks(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        programme_slug: FromPath[str],
        cohort_slug: FromPath[str],
        kind: FromPath[str],
    ) -> Template:
        tenant = current_tenant(request)
        which = _kind(kind)
        async with db.tenant_session(tenant.id) as session:
            programme, cohort = await services.access_programme_cohort(
                session, current_user, programme_slug, cohort_slug
            )
        context = {
            "programme": programme,
            "cohort": cohort,
            "kind": which.value,
            "signed_in": current_user is not None,
        }
        return Template("applications/thanks.html", context=context)


# --- the applicant's own applications ---------------------------------------------------------


def _own_rows(owns: list[services.OwnApplication], locale: str) -> list[dict[str, Any]]:
    return [
        {
            "id": str(own.application.id),
            "programme": own.programme.name,
            "cohort": own.cohort.name,
            "kind": own.application.kind.value,
            "status": own.application.status.value,
            "submitted": format_datetime(own.application.created_at, locale),
            "reason": own.application.decision_reason
            if own.application.status is ApplicationStatus.REJECTED
            else "",
            "can_withdraw": own.can_withdraw,
            "in_tandem": own.in_tandem and own.application.status in services.WITHDRAWABLE,
        }
        for own in owns
    ]


class MyApplications(Controller):
    path = "/account/applications"
    include_in_schema = False
    guards = [require_login]

    @get("", name="applications.mine")
    async def mine(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
    ) -> Template:
        tenant = current_tenant(request)
        locale = request_context(request).locale
        assert current_user is not None  # the guard
        async with db.tenant_session(tenant.id) as session:
            owns = await services.applications_of(session, current_user.id)
        done = request.query_params.get("done")
        context = {
            "applications": _own_rows(owns, locale),
            "labels": labels.translated(locale),
            "notice": done if done in ("withdrawn", "unchanged", "in_tandem") else None,
        }
        return Template("applications/mine.html", context=context)

    @post("/{application_id:uuid}/withdraw", name="applications.withdraw")
    async def withdraw(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        application_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        tenant = current_tenant(request)
        assert current_user is not None  # the guard
        done = "withdrawn"
        try:
            async with db.tenant_session(tenant.id) as session, session.begin():
                own = await services.access_own_application_by_id(
                    session, current_user.id, application_id
                )
                await services.withdraw(session, own, current_user.id, ip=client_ip(request))
        except services.InTandemError:
            done = "in_tandem"
        except (services.ApplicationStateError, services.StaleApplicationError):
            done = "unchanged"  # already decided or withdrawn: the list shows how it stands
        return Redirect(path="/account/applications", query_params={"done": done}, status_code=303)


# --- intake (coordinators) ----------------------------------------------------------------------


def _intake_base(cohort: Cohort) -> str:
    return f"/admin/cohorts/{cohort.slug}/applications"


async def _names(db: Database, ids: set[uuid.UUID | None]) -> dict[uuid.UUID, str]:
    """Coordinators' names for notes and decisions (users are platform rows)."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    async with db.platform_session() as platform:
        users = await platform.scalars(select(User).where(User.id.in_(wanted)))
        return {u.id: u.display_name or u.email or "" for u in users}


@dataclass
class DecisionForm:
    decision: str = ""
    reason: str = ""
    errors: dict[str, str] = field(default_factory=dict)


def _extra_rows(application: Application, fields: list[PluginField]) -> list[dict[str, Any]]:
    """The plugin answers with today's labels; answers to fields no longer offered keep
    their stored key as the label, so nothing stored is hidden from coordinators."""
    labelled = {(f.plugin_id, f.field.name): f.field for f in fields}
    rows = []
    for plugin_id, answers in sorted((application.extra or {}).items()):
        for name, value in answers.items():
            spec = labelled.get((plugin_id, name))
            if spec is not None and spec.type == "choice":
                value = dict(spec.choices).get(value, value)
            rows.append({"label": spec.label if spec else f"{plugin_id}.{name}", "value": value})
    return rows


async def _detail_page(
    request: Request[Any, Any, Any],
    db: Database,
    plugins: PluginHost,
    target: services.IntakeTarget,
    notes: list[IntakeNote],
    *,
    decision: DecisionForm | None = None,
    note_error: str = "",
    note_body: str = "",
    conflict: bool = False,
    status_code: int = 200,
) -> Template:
    tenant: TenantSnapshot = current_tenant(request)
    locale = request_context(request).locale
    programme, cohort, application = target.programme, target.cohort, target.application
    names = await _names(db, {application.decided_by_user_id, *(n.author_user_id for n in notes)})
    fields = collect(plugins, tenant, application.kind.value, locale)
    done = request.query_params.get("done")
    context = {
        **_choices(locale),
        "programme": programme,
        "cohort": cohort,
        "application": application,
        "base": _intake_base(cohort),
        "occupation": occupations.title(application.occupation_code, locale),
        "country": countries.name(application.qualification_country, locale)
        if application.qualification_country
        else "",
        "spoken": [
            {"name": languages.name(row["code"], locale), "level": row["level"]}
            for row in application.languages
        ],
        "extra_rows": _extra_rows(application, fields),
        "eligibility": eligibility.check(programme, application, locale),
        "notes": [
            {
                "body": n.body,
                "author": names.get(n.author_user_id, "") if n.author_user_id else "",
                "when": format_datetime(n.created_at, locale),
            }
            for n in notes
        ],
        "submitted": format_datetime(application.created_at, locale),
        "decided": format_datetime(application.decided_at, locale)
        if application.decided_at
        else "",
        "decided_by": names.get(application.decided_by_user_id, "")
        if application.decided_by_user_id
        else "",
        "can_review": application.status is ApplicationStatus.SUBMITTED,
        "can_decide": application.status in services.DECIDABLE,
        "decision": decision or DecisionForm(),
        "note_error": note_error,
        "note_body": note_body,
        "conflict": conflict,
        "notice": done if done in ("note", "review", "decided") else None,
    }
    return Template("applications/intake_detail.html", context=context, status_code=status_code)


def _version(form: Any) -> int | None:
    value = form.get("version")
    return int(value) if isinstance(value, str) and value.isdigit() and len(value) < 10 else None


def _form_text(form: Any, key: str) -> str:
    value = form.get(key)
    return value if isinstance(value, str) else ""


class Intake(Controller):
    path = "/admin/cohorts/{cohort_slug:str}/applications"
    include_in_schema = False
    guards = [require_role("admin")]

    @get("", name="intake.list")
    async def list_page(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        cohort_slug: FromPath[str],
    ) -> Template:
        tenant = current_tenant(request)
        locale = request_context(request).locale
        # Unknown filter values are ignored (a hand-edited URL shows everything).
        filters, chosen, _ = schemas.parse_filters(request.query_params)
        async with db.tenant_session(tenant.id) as session:
            programme, cohort = await services.access_cohort(session, cohort_slug)
            # Where the form does not ask for German (Toronto), neither filter nor column
            # is offered, and a German level in the URL must not narrow the list unseen.
            asks_german = schemas.german_required(programme.min_german_level, tenant.locales)
            if not asks_german:
                filters = replace(filters, german_level=None)
                chosen["german_level"] = ""
            rows = await services.list_applications(session, cohort, filters)
            counts = await services.status_counts(session, cohort, filters.kind)
        base = _intake_base(cohort)
        without_status = {k: v for k, v in chosen.items() if v and k != "status"}
        context = {
            **_choices(locale),
            "programme": programme,
            "cohort": cohort,
            "base": base,
            "filters": chosen,
            "asks_german": asks_german,
            "applications": [
                {
                    "id": str(a.id),
                    "name": a.name,
                    "email": a.email,
                    "kind": a.kind.value,
                    "status": a.status.value,
                    "occupation": occupations.title(a.occupation_code, locale),
                    "occupation_code": a.occupation_code,
                    "german_level": a.german_level or "",
                    "recognition": a.recognition_status.value if a.recognition_status else "",
                    "submitted": format_date(a.created_at, locale),
                }
                for a in rows
            ],
            "counts": [
                {
                    "status": status.value,
                    "count": count,
                    "url": f"{base}?{urlencode({**without_status, 'status': status.value})}",
                }
                for status, count in counts.items()
            ],
            "total": sum(counts.values()),
            "all_url": f"{base}?{urlencode(without_status)}" if without_status else base,
            "limited": len(rows) >= services.LIST_LIMIT,
        }
        return Template("applications/intake_list.html", context=context)

    @get("/{application_id:uuid}", name="intake.detail")
    async def detail(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        plugins: NamedDependency[PluginHost],
        cohort_slug: FromPath[str],
        application_id: FromPath[uuid.UUID],
    ) -> Template:
        return await self._page(request, db, plugins, cohort_slug, application_id)

    @post("/{application_id:uuid}/notes", name="intake.add_note")
    async def add_note(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        plugins: NamedDependency[PluginHost],
        current_user: NamedDependency[CurrentUser | None],
        cohort_slug: FromPath[str],
        application_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        tenant = current_tenant(request)
        locale = request_context(request).locale
        body, error = services.check_note(_form_text(await request.form(), "body"), locale)
        async with db.tenant_session(tenant.id) as session, session.begin():
            target = await services.access_intake_target(session, cohort_slug, application_id)
            if error is None:
                actor = current_user.id if current_user else None
                services.add_note(session, target.application, body, actor, ip=client_ip(request))
        if error is not None:
            return await self._page(
                request, db, plugins, cohort_slug, application_id,
                note_error=error, note_body=body, status_code=422,
            )  # fmt: skip
        return _back(target, "note")

    @post("/{application_id:uuid}/review", name="intake.review")
    async def review(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        plugins: NamedDependency[PluginHost],
        current_user: NamedDependency[CurrentUser | None],
        cohort_slug: FromPath[str],
        application_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        tenant = current_tenant(request)
        seen = _version(await request.form())
        actor = current_user.id if current_user else None
        try:
            async with db.tenant_session(tenant.id) as session, session.begin():
                target = await services.access_intake_target(session, cohort_slug, application_id)
                await services.start_review(
                    session, target, actor, seen_version=seen, ip=client_ip(request)
                )
        except (services.StaleApplicationError, services.ApplicationStateError):
            return await self._page(
                request, db, plugins, cohort_slug, application_id, conflict=True, status_code=409
            )
        return _back(target, "review")

    @post("/{application_id:uuid}/decision", name="intake.decide")
    async def decide(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        plugins: NamedDependency[PluginHost],
        current_user: NamedDependency[CurrentUser | None],
        cohort_slug: FromPath[str],
        application_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        tenant = current_tenant(request)
        locale = request_context(request).locale
        form = await request.form()
        decision, reason, errors = services.check_decision(
            _form_text(form, "decision"), _form_text(form, "reason"), locale
        )
        choice = DecisionForm(_form_text(form, "decision"), reason, errors)
        if decision is None or errors:
            return await self._page(
                request, db, plugins, cohort_slug, application_id,
                decision=choice, status_code=422,
            )  # fmt: skip
        actor = current_user.id if current_user else None
        try:
            async with db.tenant_session(tenant.id) as session, session.begin():
                target = await services.access_intake_target(session, cohort_slug, application_id)
                await services.decide(
                    session, target, decision, reason, actor, seen_version=_version(form),
                    base_url=_base_url(request), ip=client_ip(request),
                )  # fmt: skip
        except (services.StaleApplicationError, services.ApplicationStateError):
            # 409: the current state, and what this coordinator chose, so nothing is lost.
            return await self._page(
                request, db, plugins, cohort_slug, application_id,
                decision=choice, conflict=True, status_code=409,
            )  # fmt: skip
        return _back(target, "decided")

    async def _page(
        self,
        request: Request[Any, Any, Any],
        db: Database,
        plugins: PluginHost,
        cohort_slug: str,
        application_id: uuid.UUID,
        **options: Any,
    ) -> Template:
        """The application as it stands now (after a conflict too), with ``options``."""
        tenant = current_tenant(request)
        async with db.tenant_session(tenant.id) as session:
            target = await services.access_intake_target(session, cohort_slug, application_id)
            notes = list(await services.notes_of(session, target.application))
        return await _detail_page(request, db, plugins, target, notes, **options)


def _back(target: services.IntakeTarget, done: str) -> Redirect:
    return Redirect(
        path=f"{_intake_base(target.cohort)}/{target.application.id}",
        query_params={"done": done},
        status_code=303,
    )
