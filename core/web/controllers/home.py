"""``/``: the platform page on the base domain, the tenant's home page on its host."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.response import Template
from sqlalchemy import select

from core.db.sessions import Database
from core.pluginhost.manager import PluginHost
from core.tenancy.models import Tenant, TenantStatus
from core.tenancy.resolver import PlatformSite
from core.web.sites import request_context


@get("/", name="home", include_in_schema=False)
async def home(
    request: Request[Any, Any, Any],
    db: NamedDependency[Database],
    plugins: NamedDependency[PluginHost],
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
    return Template("home.html", context={"sections": sections})


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
