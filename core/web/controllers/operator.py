"""``/operator``: the operator console on the platform host.

Operators (``User.is_operator``) list the tenants, create one, suspend or
reactivate it, and add or remove its custom domains. Every route is guarded by
:func:`~core.identity.guards.require_operator`: 404 on a tenant's host, the login
page when logged out, 403 for anyone else.

A change bumps the tenant's revision, so that every process's resolver cache
notices it within ``TANDEM_TENANT_CACHE_SECONDS``; this process forgets its cache
at once. The ``tenants/`` files stay the source of truth for the tenants they
describe: the next ``tandem tenants sync`` puts their values back.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Response, Template
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.db.sessions import Database
from core.i18n import N_
from core.i18n.catalogs import gettext
from core.identity import audit
from core.identity.guards import CurrentUser, require_operator
from core.identity.sessions import ClientInfo
from core.settings import Settings
from core.tenancy.hosts import (
    RESERVED_SLUGS,
    SLUG_PATTERN,
    CustomDomain,
    classify_host,
    is_valid_slug,
    normalise_host,
)
from core.tenancy.models import Tenant, TenantDomain, TenantStatus
from core.tenancy.service import bump_revision
from core.web.forms import form_text
from core.web.sites import request_context

MAX_FIELD_LENGTH = 500  # longer input is cut before it is checked: no field needs more


def _text(form: Any, key: str) -> str:
    return form_text(form, key, MAX_FIELD_LENGTH)


MAX_LOCALES = 20
# The confirmations a redirect may ask the page to show (?done=…).
NOTICES = frozenset({"created", "suspended", "reactivated", "domain_added", "domain_removed"})
TENANT_CHANGED = "tenant_changed"  # audit action: an operator changed the tenant


@dataclass
class FormErrors:
    """Messages (already translated) for the create form, and per tenant for its domain form."""

    create: dict[str, str] = field(default_factory=dict)
    domain: dict[str, str] = field(default_factory=dict)  # tenant slug → message


class OperatorConsole(Controller):
    path = "/operator"
    include_in_schema = False
    guards = [require_operator]

    @get("/", name="operator.index")
    async def index(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        settings: NamedDependency[Settings],
    ) -> Template:
        done = request.query_params.get("done")
        notice = {"kind": done, "slug": request.query_params.get("tenant", "")[:63]}
        return await _page(db, settings, notice=notice if done in NOTICES else None)

    @post("/tenants", name="operator.create_tenant")
    async def create_tenant(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        settings: NamedDependency[Settings],
    ) -> Response[Any]:
        locale = request_context(request).locale
        form = await request.form()
        values = {key: _text(form, key) for key in ("slug", "name", "locales", "default_locale")}
        values["theme"] = _text(form, "theme")
        themes = available_themes(settings.themes_dir)
        errors, locales = await _check_new_tenant(db, values, themes)
        if not errors:
            tenant = Tenant(
                slug=values["slug"],
                name=values["name"],
                default_locale=values["default_locale"],
                locales=locales,
                theme=values["theme"],
                status=TenantStatus.ACTIVE,
            )
            try:
                async with db.platform_session() as session, session.begin():
                    session.add(tenant)
            except IntegrityError:  # created by someone else a moment ago
                errors["slug"] = N_("A programme with this short name exists already.")
        if errors:
            translated = FormErrors(create={k: gettext(locale, v) for k, v in errors.items()})
            return await _page(db, settings, errors=translated, values=values, status=422)
        _forget_cached_sites(request)
        return _done("created", values["slug"])

    @post("/tenants/{slug:str}/suspend", name="operator.suspend")
    async def suspend(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        slug: FromPath[str],
    ) -> Redirect:
        await _set_status(request, db, current_user, slug, TenantStatus.SUSPENDED)
        return _done("suspended", slug)

    @post("/tenants/{slug:str}/reactivate", name="operator.reactivate")
    async def reactivate(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        slug: FromPath[str],
    ) -> Redirect:
        await _set_status(request, db, current_user, slug, TenantStatus.ACTIVE)
        return _done("reactivated", slug)

    @post("/tenants/{slug:str}/domains", name="operator.add_domain")
    async def add_domain(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        settings: NamedDependency[Settings],
        current_user: NamedDependency[CurrentUser | None],
        slug: FromPath[str],
    ) -> Response[Any]:
        tenant_id = await _tenant_id(db, slug)
        typed = _text(await request.form(), "domain")
        domain, problem = await _check_domain(db, typed, tenant_id, settings.base_domain)
        if problem is None:
            try:
                await _change(
                    request, db, current_user, tenant_id, {"domain_added": domain},
                    lambda session, _tenant: session.add(
                        TenantDomain(tenant_id=tenant_id, domain=domain)
                    ),
                )  # fmt: skip
            except IntegrityError:  # taken by another tenant a moment ago
                problem = N_("This domain is already used by another programme.")
        if problem is not None:
            locale = request_context(request).locale
            message = gettext(locale, problem, domain=typed)
            errors = FormErrors(domain={slug: message})
            return await _page(db, settings, errors=errors, domain_values={slug: typed}, status=422)
        return _done("domain_added", slug)

    @post("/tenants/{slug:str}/domains/remove", name="operator.remove_domain")
    async def remove_domain(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        slug: FromPath[str],
    ) -> Redirect:
        tenant_id = await _tenant_id(db, slug)
        domain = _text(await request.form(), "domain").lower()
        async with db.platform_session() as session:
            row = await session.scalar(
                select(TenantDomain).where(
                    TenantDomain.tenant_id == tenant_id, TenantDomain.domain == domain
                )
            )
        if row is None:
            raise NotFoundException()  # not this tenant's: nothing to remove

        def remove(_session: Any, tenant: Tenant) -> None:
            tenant.domains[:] = [d for d in tenant.domains if d.domain != domain]

        await _change(request, db, current_user, tenant_id, {"domain_removed": domain}, remove)
        return _done("domain_removed", slug)


# --- the page -----------------------------------------------------------------------------


async def _page(
    db: Database,
    settings: Settings,
    *,
    notice: dict[str, str] | None = None,
    errors: FormErrors | None = None,
    values: dict[str, str] | None = None,
    domain_values: dict[str, str] | None = None,
    status: int = 200,
) -> Template:
    async with db.platform_session() as session:
        tenants = (await session.scalars(select(Tenant).order_by(Tenant.slug))).all()
    listing = [
        {
            "slug": t.slug,
            "name": t.name,
            "active": t.is_active,
            "domains": sorted(d.domain for d in t.domains),
            "locales": list(t.locales or []),
            "default_locale": t.default_locale,
            "theme": t.theme,
        }
        for t in tenants
    ]
    errors = errors or FormErrors()
    summary = [(f"new-{key}", message) for key, message in errors.create.items()]
    summary += [(f"domain-{slug}", message) for slug, message in errors.domain.items()]
    return Template(
        "operator/index.html",
        context={
            "tenants": listing,
            "summary": summary,
            "themes": available_themes(settings.themes_dir),
            "notice": notice,
            "errors": errors,
            "values": values or {"locales": "de, en", "default_locale": "de", "theme": "default"},
            "domain_values": domain_values or {},
        },
        status_code=status,
    )


def _done(kind: str, slug: str) -> Redirect:
    # Post/redirect/get: reloading the confirmation does not send the form again.
    return Redirect(path="/operator/", query_params={"done": kind, "tenant": slug}, status_code=303)


def available_themes(themes_dir: Path) -> list[str]:
    return sorted(p.name for p in themes_dir.iterdir() if (p / "templates").is_dir())


# --- checks -------------------------------------------------------------------------------


async def _check_new_tenant(
    db: Database, values: dict[str, str], themes: list[str]
) -> tuple[dict[str, str], list[str]]:
    """Problems per field (untranslated messages), and the parsed list of locales."""
    errors: dict[str, str] = {}
    slug = values["slug"]
    if not slug:
        errors["slug"] = N_("Enter a short name for the programme.")
    elif slug in RESERVED_SLUGS:
        errors["slug"] = N_("This short name is reserved for the platform. Choose another one.")
    elif not SLUG_PATTERN.match(slug) or not is_valid_slug(slug):
        errors["slug"] = N_(
            "Use lower-case letters, digits and hyphens only (at most 63 characters, "
            "not starting or ending with a hyphen)."
        )
    else:
        async with db.platform_session() as session:
            if await session.scalar(select(Tenant.id).where(Tenant.slug == slug)):
                errors["slug"] = N_("A programme with this short name exists already.")
    name = values["name"]
    if not name:
        errors["name"] = N_("Enter the programme's name.")
    elif len(name) > 200 or not name.isprintable():
        errors["name"] = N_("Use at most 200 characters on one line.")
    locales = [code for code in values["locales"].replace(",", " ").split() if code]
    if not locales:
        errors["locales"] = N_("Enter at least one language code, for example “de, en”.")
    elif len(locales) > MAX_LOCALES or not all(_is_locale(code) for code in locales):
        errors["locales"] = N_("Use language codes such as “de” or “en”, separated by commas.")
    elif len(set(locales)) != len(locales):
        errors["locales"] = N_("Each language may appear only once.")
    if not values["default_locale"]:
        errors["default_locale"] = N_("Enter the default language.")
    elif "locales" not in errors and values["default_locale"] not in locales:
        errors["default_locale"] = N_("The default language must be one of the languages.")
    if values["theme"] not in themes:
        errors["theme"] = N_("Choose one of the themes offered.")
    return errors, locales


def _is_locale(code: str) -> bool:
    """A code Babel knows, written the way it writes it ("de", "pt_BR")."""
    try:
        return str(Locale.parse(code)) == code
    except (UnknownLocaleError, ValueError, TypeError):
        return False


async def _check_domain(
    db: Database, typed: str, tenant_id: uuid.UUID, base_domain: str
) -> tuple[str, str | None]:
    """The normalised domain, and what is wrong with it (an untranslated message) if anything."""
    if not typed:
        return "", N_("Enter a domain name such as mentoring.example.org.")
    host = normalise_host(typed)
    # As tenants/ files are checked (core.tenancy.files): a bare name, no scheme/port/path.
    if host is None or "." not in host or ":" in typed:
        return "", N_(
            "“%(domain)s” is not a domain name. Enter only the name, such as "
            "mentoring.example.org, without https://, port or path."
        )
    if not isinstance(classify_host(host, base_domain), CustomDomain):
        return "", N_(
            "“%(domain)s” cannot be a custom domain: it is an address of the platform "
            "itself or an IP address."
        )
    async with db.platform_session() as session:
        owner = await session.scalar(
            select(TenantDomain.tenant_id).where(TenantDomain.domain == host)
        )
    if owner == tenant_id:
        return "", N_("This programme already has the domain “%(domain)s”.")
    if owner is not None:
        return "", N_("This domain is already used by another programme.")
    return host, None


# --- changes ------------------------------------------------------------------------------


async def _tenant_id(db: Database, slug: str) -> uuid.UUID:
    async with db.platform_session() as session:
        tenant_id = await session.scalar(select(Tenant.id).where(Tenant.slug == slug))
    if tenant_id is None:
        raise NotFoundException()
    return tenant_id


async def _set_status(
    request: Request[Any, Any, Any],
    db: Database,
    operator: CurrentUser | None,
    slug: str,
    status: TenantStatus,
) -> None:
    tenant_id = await _tenant_id(db, slug)

    def apply(_session: Any, tenant: Tenant) -> None:
        tenant.status = status

    await _change(request, db, operator, tenant_id, {"status": status.value}, apply)


async def _change(
    request: Request[Any, Any, Any],
    db: Database,
    operator: CurrentUser | None,
    tenant_id: uuid.UUID,
    details: dict[str, Any],
    apply: Any,
) -> None:
    """Apply a change to the tenant, bump its revision and note it in the tenant's audit
    log (its admins see what the platform changed), all in one transaction."""
    client = ClientInfo.from_request(request)
    async with db.engine.connect() as conn, conn.begin():
        async with db.platform_session(bind=conn) as platform:
            tenant = await platform.get(Tenant, tenant_id)
            if tenant is None:
                raise NotFoundException()
            apply(platform, tenant)
            await platform.flush()
            await bump_revision(platform, tenant_id)
        async with db.tenant_session(tenant_id, bind=conn) as session:
            actor = operator.id if operator else None
            audit.record(session, TENANT_CHANGED, actor, details, client.ip)
            await session.flush()
    _forget_cached_sites(request)


def _forget_cached_sites(request: Request[Any, Any, Any]) -> None:
    # This process sees the change at once; the others within their cache's TTL.
    request.app.state.resolver.invalidate()
