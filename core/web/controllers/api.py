"""The versioned JSON API (``/api/v1``); documented at ``/api/docs``."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from msgspec import Struct

from core.tenancy.resolver import PlatformSite
from core.web.sites import request_context


class TenantOut(Struct):
    slug: str
    name: str
    default_locale: str
    locales: list[str]
    theme: str
    plugins: list[str]


class SiteOut(Struct):
    kind: str
    locale: str
    tenant: TenantOut | None = None


class ApiV1(Controller):
    path = "/api/v1"
    tags = ["site"]

    @get("/site", name="api.site")
    async def site(self, request: Request[Any, Any, Any]) -> SiteOut:
        """The site this host serves: the platform, or a tenant with its languages and plugins."""
        ctx = request_context(request)
        if isinstance(ctx.site, PlatformSite) or ctx.tenant is None:
            return SiteOut(kind="platform", locale=ctx.locale)
        t = ctx.tenant
        return SiteOut(
            kind="tenant",
            locale=ctx.locale,
            tenant=TenantOut(
                slug=t.slug,
                name=t.name,
                default_locale=t.default_locale,
                locales=list(t.locales),
                theme=t.theme,
                plugins=sorted(t.enabled_plugins),
            ),
        )
