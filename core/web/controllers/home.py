"""``/``: the platform page on the base domain, the tenant's home page on its host."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.response import Template
from sqlalchemy import select

from core.db.sessions import Database
from core.identity.guards import CurrentUser
from core.pairings.dashboard import participant_home
from core.pairings.home_view import participant_view
from core.pluginhost.manager import PluginHost
from core.programmes.controllers import public_offers
from core.programmes.services import today
from core.tenancy.models import Tenant, TenantStatus
from core.tenancy.resolver import PlatformSite
from core.web.sites import request_context


@get("/", name="home", include_in_schema=False)
async def home(
    request: Request[Any, Any, Any],
    db: NamedDependency[Database],
    plugins: NamedDependency[PluginHost],
    current_user: NamedDependency[CurrentUser | None],
) -> Template:
    ctx = request_context(request)
    if isinstance(ctx.site, PlatformSite):
        return await _platform_home(request, db)
    tenant = ctx.tenant
    assert tenant is not None
    hooks = plugins.hooks_for(tenant)
    sections = [
        s for batch in hooks.extra_home_sections(tenant=tenant, locale=ctx.locale) for s in batch
    ]
    sections.sort(key=lambda section: section.order)
    # Published programmes taking applications now or soon, with "apply" links.
    offers = await public_offers(db, tenant, ctx.locale)
    # A signed-in mentee or mentor sees their tandem and next steps first.
    mine = None
    if current_user is not None:
        async with db.tenant_session(tenant.id) as session:
            found = await participant_home(session, current_user, today())
        mine = participant_view(found, ctx.locale) if found else None
    return Template("home.html", context={"sections": sections, "offers": offers, "mine": mine})


async def _platform_home(
    request: Request[Any, Any, Any], db: NamedDependency[Database]
) -> Template:
    async with db.platform_session() as session:
        tenants = (
            await session.scalars(
                select(Tenant).where(Tenant.status == TenantStatus.ACTIVE).order_by(Tenant.name)
            )
        ).all()
    port = request.url.port
    scheme = request.url.scheme
    suffix = f":{port}" if port and port not in (80, 443) else ""
    base = request_context(request).host.split(":")[0]
    listing = [
        {
            "name": t.name,
            "slug": t.slug,
            "url": f"{scheme}://{t.slug}.{base}{suffix}/",
            "locales": t.locales,
        }
        for t in tenants
    ]
    return Template("platform/home.html", context={"tenants": listing})
