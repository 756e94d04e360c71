"""Resolve the site (platform or tenant) and the locale, once, before routing.

Litestar runs app-level middleware only for routes that matched, so this wraps
the router itself: an unknown host gets its 404 page whatever the path, and
handlers, templates and plugins read the result from the request scope.
"""

from __future__ import annotations

from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from typing import Any

from litestar import Request
from litestar.datastructures import URL
from litestar.exceptions import NotFoundException
from litestar.types import ASGIApp, ExceptionHandlersMap, Receive, Scope, Send
from litestar.utils.scope.state import ScopeState

from core.i18n.catalogs import SOURCE_LOCALE
from core.i18n.negotiation import LOCALE_COOKIE, choose_locale
from core.tenancy.resolver import (
    PlatformSite,
    Site,
    TenantResolver,
    TenantSite,
    TenantSuspendedError,
)
from core.tenancy.snapshot import TenantSnapshot

SCOPE_KEY = "tandem"
PLATFORM_LOCALES = ("en", "de")
# Probes answer on any host, a bare IP included (load balancers, orchestrators).
HOST_INDEPENDENT_PATHS = frozenset({"/healthz", "/readyz"})


@dataclass(frozen=True)
class RequestContext:
    host: str
    site: Site | None
    locale: str
    offered_locales: tuple[str, ...]

    @property
    def tenant(self) -> TenantSnapshot | None:
        return self.site.tenant if isinstance(self.site, TenantSite) else None

    @property
    def theme(self) -> str:
        return self.tenant.theme if self.tenant else "default"

    @property
    def plugins(self) -> frozenset[str]:
        return self.tenant.enabled_plugins if self.tenant else frozenset()


class SiteResolution:
    def __init__(
        self,
        app: ASGIApp,
        resolver: TenantResolver,
        trust_forwarded_host: bool,
        exception_handlers: ExceptionHandlersMap,
    ) -> None:
        self.app = app
        self.resolver = resolver
        self.trust_forwarded_host = trust_forwarded_host
        self.exception_handlers = exception_handlers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        # Routing has not happened yet; without this the error pages for an unknown
        # host would not find the application's exception handlers.
        ScopeState.from_scope(scope).exception_handlers = self.exception_handlers
        _pin_urls(scope)
        headers = _headers(scope)
        host = headers.get("host", "")
        if sum(1 for name, _ in scope["headers"] if name.lower() == b"host") > 1:
            # Two Host headers (RFC 9112 forbids it): parts of the stack would
            # disagree about which one counts, so neither names a site.
            host = ""
        if self.trust_forwarded_host and headers.get("x-forwarded-host"):
            # The right-most value is the one our own proxy wrote; values to its
            # left came from the client and may be forged.
            host = headers["x-forwarded-host"].split(",")[-1].strip()
        chosen = _cookie(headers.get("cookie", ""), LOCALE_COOKIE)
        accept = headers.get("accept-language")
        # A provisional context, so that an error page for this host is still
        # rendered in the visitor's language.
        scope[SCOPE_KEY] = RequestContext(
            host,
            None,
            choose_locale(PLATFORM_LOCALES, chosen, accept, SOURCE_LOCALE),
            PLATFORM_LOCALES,
        )
        if scope["path"] not in HOST_INDEPENDENT_PATHS:
            try:
                site = await self.resolver.resolve(host)  # raises → 404 / 410 page
            except TenantSuspendedError as exc:
                # The 410 page speaks to the tenant's visitors, in their language.
                t = exc.tenant
                locale = choose_locale(t.locales, chosen, accept, t.default_locale)
                scope[SCOPE_KEY] = RequestContext(host, None, locale, t.locales)
                raise
            offered = site.tenant.locales if isinstance(site, TenantSite) else PLATFORM_LOCALES
            default = site.tenant.default_locale if isinstance(site, TenantSite) else SOURCE_LOCALE
            scope[SCOPE_KEY] = RequestContext(
                host, site, choose_locale(offered, chosen, accept, default), offered
            )
        await self.app(scope, receive, send)


def request_context(request: Request[Any, Any, Any]) -> RequestContext:
    return request.scope[SCOPE_KEY]  # type: ignore[literal-required]


def current_site(request: Request[Any, Any, Any]) -> Site | None:
    return request_context(request).site


def current_tenant(request: Request[Any, Any, Any]) -> TenantSnapshot:
    """The request's tenant; a 404 on the platform host, where no tenant is."""
    tenant = request_context(request).tenant
    if tenant is None:
        raise NotFoundException()
    return tenant


def require_platform(request: Request[Any, Any, Any]) -> PlatformSite:
    site = request_context(request).site
    if not isinstance(site, PlatformSite):
        raise NotFoundException()
    return site


def _pin_urls(scope: Scope) -> None:
    """Pin ``request.url`` to one without the host when the Host header cannot be parsed.

    Litestar builds the URL from the Host header on first use and raises on a bad
    port ("muenchen.localhost:99999"); error pages and templates read it, so such a
    header would turn the unknown-host 404 into a 500.
    """
    try:
        URL.from_scope(scope)
    except ValueError:
        without_host: Any = {
            **scope,
            "headers": [h for h in scope["headers"] if h[0] != b"host"],
            "server": None,
        }
        state = ScopeState.from_scope(scope)
        state.url = URL.from_scope(without_host)
        state.base_url = URL.from_scope({**without_host, "path": "/", "query_string": b""})


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def _cookie(header: str, name: str) -> str | None:
    jar = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:  # a malformed Cookie header: treat as no choice made
        return None
    morsel = jar.get(name)
    return morsel.value if morsel else None
