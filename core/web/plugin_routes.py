"""Plugins' own pages: the ``register_routes`` handlers, mounted at ``/p/<plugin-id>``.

As in pretix, a plugin's URLs exist only for the tenants that enabled it. Each
plugin's handlers go into one :class:`~litestar.Router` whose middleware answers 404
unless the request's site is a tenant with that plugin enabled — so on the platform
host and on every other tenant the routes look exactly like paths that do not exist.

A router middleware rather than a guard: Litestar runs a route's middleware before
its CSRF check and its guards, so a POST without a CSRF token to a disabled plugin is
a 404 as well, not a 403 that would tell the route is there. The enabled set comes
from the tenant snapshot resolved before routing, so switching a plugin on or off
takes effect with the tenant's next snapshot, without a restart.

Handlers are collected once, when the application is built, from every installed
plugin; pluggy's hook implementations say which plugin returned which handlers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from litestar import Router
from litestar.exceptions import ImproperlyConfiguredException, NotFoundException
from litestar.types import ASGIApp, Receive, Scope, Send

from core.pluginhost.manager import PluginHost, PluginLoadError
from core.web.sites import SCOPE_KEY, RequestContext

PLUGIN_PREFIX = "/p"
# A plugin id becomes a path segment: keep it to what needs no escaping.
_PATH_SAFE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def plugin_path(plugin_id: str) -> str:
    """Where a plugin's routes live: ``/p/<plugin-id>``."""
    return f"{PLUGIN_PREFIX}/{plugin_id}"


def plugin_routers(plugins: PluginHost) -> list[Router]:
    """One router per plugin that registers routes, each answering only where it is enabled.

    Raises :class:`PluginLoadError` at start-up for a plugin whose id cannot be a path
    segment or whose ``register_routes`` returns something Litestar cannot mount.
    """
    routers: list[Router] = []
    implementations = plugins.all_hooks.register_routes.get_hookimpls()
    for impl in sorted(implementations, key=lambda impl: impl.plugin_name):
        plugin_id = impl.plugin_name
        handlers = impl.function()
        if not handlers:
            continue
        if not isinstance(handlers, Sequence) or isinstance(handlers, str):
            raise PluginLoadError(
                f"plugin {plugin_id!r}: register_routes must return a list of route "
                f"handlers, not {type(handlers).__name__}"
            )
        if not _PATH_SAFE_ID.match(plugin_id):
            raise PluginLoadError(
                f"plugin {plugin_id!r} registers routes, so its id must be lower-case "
                "letters, digits, '-' and '_' (it becomes the path /p/<plugin-id>)"
            )
        try:
            router = Router(
                path=plugin_path(plugin_id),
                route_handlers=list(handlers),
                middleware=[only_where_enabled(plugin_id)],
                include_in_schema=False,
            )
        except (ImproperlyConfiguredException, TypeError, ValueError) as exc:
            raise PluginLoadError(
                f"plugin {plugin_id!r}: register_routes returned handlers that cannot be "
                f"mounted: {exc}"
            ) from exc
        routers.append(router)
    return routers


def only_where_enabled(plugin_id: str) -> Callable[..., ASGIApp]:
    """Router middleware: 404 unless the site is a tenant that enabled ``plugin_id``."""

    def middleware(app: ASGIApp) -> ASGIApp:
        async def gate(scope: Scope, receive: Receive, send: Send) -> None:
            context: Any = scope.get(SCOPE_KEY)  # type: ignore[call-overload]
            tenant = context.tenant if isinstance(context, RequestContext) else None
            if tenant is None or plugin_id not in tenant.enabled_plugins:
                raise NotFoundException()
            await app(scope, receive, send)

        return gate

    return middleware
