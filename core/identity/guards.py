"""Who is asking: the request's logged-in user, and guards for pages that need one.

The session cookie is read and the session loaded at most once per request; the
result is kept in the ASGI scope, where the ``current_user`` dependency, the
guards and the templates (``current_user()``) all find it. A session counts only
on the site it was started on (see :mod:`core.identity.sessions`).

* :func:`require_login` — anonymous visitors are sent to ``/login?next=…``
  (API and JSON clients get a 401 problem document instead);
* :func:`require_role` — a role in *this* tenant; logged in without it: 403 page;
* :func:`require_operator` — the operator console, on the platform host only.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

from jinja2 import pass_context
from jinja2.runtime import Context
from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, NotFoundException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.response import Redirect
from litestar.types import Guard

from core.db.sessions import Database
from core.i18n.catalogs import gettext
from core.i18n.negotiation import saved_choice
from core.identity.accounts import roles_of
from core.identity.models import ROLES, User
from core.identity.sessions import load_session, session_token
from core.tenancy.resolver import PlatformSite
from core.web.errors import wants_json
from core.web.sites import SCOPE_KEY, RequestContext

USER_SCOPE_KEY = "tandem.user"
LOGIN_PATH = "/login"
# Paths that never need to know the user (and should not cost a session lookup).
ANONYMOUS_PREFIXES = ("/static/", "/healthz", "/readyz")


@dataclass(frozen=True)
class CurrentUser:
    """The logged-in user as this request sees them: roles are those in this tenant."""

    id: uuid.UUID
    display_name: str
    email: str | None
    locale: str | None
    is_operator: bool
    roles: frozenset[str]
    session_id: uuid.UUID
    tenant_id: uuid.UUID | None

    def has_role(self, role: str) -> bool:
        return role in self.roles

    @property
    def label(self) -> str:
        """How to name the user on a page."""
        return self.display_name or self.email or ""


class LoginRequiredError(NotAuthorizedException):
    """Raised by the guards for anonymous visitors; becomes a redirect to the login page."""


async def resolve_current_user(
    connection: ASGIConnection[Any, Any, Any, Any],
) -> CurrentUser | None:
    """The request's user (None when logged out), loaded once and kept in the scope."""
    scope: dict[str, Any] = connection.scope  # type: ignore[assignment]
    if USER_SCOPE_KEY not in scope:
        user = scope[USER_SCOPE_KEY] = await _load_current_user(connection)
        if user is not None:
            _adopt_saved_locale(scope, user.locale)
    return scope[USER_SCOPE_KEY]


def _adopt_saved_locale(scope: dict[str, Any], saved: str | None) -> None:
    """A signed-in user's saved language wins over the cookie and Accept-Language.

    core.web.sites chooses the request's locale before routing, when nobody knows the
    user yet; the user is loaded (once) before any handler or page runs, so this is
    the first moment the choice can be corrected, and everything rendered later reads
    the corrected context. A language the site does not offer changes nothing.
    """
    ctx: RequestContext | None = scope.get(SCOPE_KEY)
    choice = saved_choice(ctx.offered_locales, saved) if ctx is not None else None
    if ctx is not None and choice is not None and choice != ctx.locale:
        scope[SCOPE_KEY] = replace(ctx, locale=choice)


def cached_current_user(connection: ASGIConnection[Any, Any, Any, Any]) -> CurrentUser | None:
    """The user if this request has loaded them already; never touches the database."""
    return connection.scope.get(USER_SCOPE_KEY)  # type: ignore[call-overload, no-any-return]


async def _load_current_user(
    connection: ASGIConnection[Any, Any, Any, Any],
) -> CurrentUser | None:
    ctx: RequestContext | None = connection.scope.get(SCOPE_KEY)  # type: ignore[call-overload]
    if ctx is None or ctx.site is None:
        return None
    token = session_token(connection)
    if token is None:
        return None
    db: Database = connection.app.state.db
    tenant_id = ctx.tenant.id if ctx.tenant else None
    row = await load_session(db, token, tenant_id)
    if row is None:
        return None
    async with db.platform_session() as platform:
        user = await platform.get(User, row.user_id)
    if user is None:
        return None
    roles: frozenset[str] = frozenset()
    if tenant_id is not None:
        async with db.tenant_session(tenant_id) as session:
            roles = await roles_of(session, user.id)
    return CurrentUser(
        id=user.id,
        display_name=user.display_name,
        email=user.email,
        locale=user.locale,
        is_operator=user.is_operator,
        roles=roles,
        session_id=row.id,
        tenant_id=tenant_id,
    )


# --- wiring: dependency, before-request hook, template global ---------------------------


async def provide_current_user(request: Request[Any, Any, Any]) -> CurrentUser | None:
    """The ``current_user`` dependency."""
    return await resolve_current_user(request)


async def load_user_before_request(request: Request[Any, Any, Any]) -> None:
    """Load the user for every page, so that the layout can show the logout control."""
    if not request.url.path.startswith(ANONYMOUS_PREFIXES):
        await resolve_current_user(request)


@pass_context
def template_current_user(context: Context) -> CurrentUser | None:
    request = context.get("request")
    return cached_current_user(request) if request is not None else None


# --- guards ----------------------------------------------------------------------------


async def require_login(
    connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler
) -> None:
    if await resolve_current_user(connection) is None:
        raise LoginRequiredError()


def require_role(role: str) -> Guard:
    """A guard: the user holds ``role`` in the request's tenant (404 on the platform host)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        ctx: RequestContext = connection.scope[SCOPE_KEY]  # type: ignore[literal-required]
        if ctx.tenant is None:
            raise NotFoundException()
        user = await resolve_current_user(connection)
        if user is None:
            raise LoginRequiredError()
        if not user.has_role(role):
            raise PermissionDeniedException()

    guard.__name__ = f"require_role_{role}"
    return guard


async def require_operator(
    connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler
) -> None:
    ctx: RequestContext = connection.scope[SCOPE_KEY]  # type: ignore[literal-required]
    if not isinstance(ctx.site, PlatformSite):
        raise NotFoundException()  # the console does not exist on a tenant's host
    user = await resolve_current_user(connection)
    if user is None:
        raise LoginRequiredError()
    if not user.is_operator:
        raise PermissionDeniedException()


def handle_login_required(
    request: Request[Any, Any, Any], _exc: LoginRequiredError
) -> Response[Any]:
    """Browsers go to the login page and come back; API clients get a 401 problem."""
    if wants_json(request):
        locale = request.scope[SCOPE_KEY].locale  # type: ignore[literal-required]
        problem = {
            "type": "about:blank",
            "title": gettext(locale, "Please sign in to continue."),
            "status": 401,
        }
        return Response(problem, status_code=401, media_type="application/problem+json")
    return Redirect(path=login_url(request), status_code=303)


def login_url(request: Request[Any, Any, Any]) -> str:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    return f"{LOGIN_PATH}?next={quote(target, safe='/')}"
