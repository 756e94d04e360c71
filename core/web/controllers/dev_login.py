"""``/dev/login``: one click to sign in as a demo user, in development only.

Like Zulip's development login: on a tenant's host the page lists that tenant's
members (anyone with a membership there) and their roles; on the platform host it
lists the operators. Each has a button that starts an ordinary session
(:func:`core.identity.sessions.start_session`) for that person on this host.

``create_app`` registers these routes only when ``TANDEM_ENV=development``; the
guard below checks again at request time, so that even a handler registered by
mistake answers 404 anywhere else.
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, get, post
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlalchemy import select

from core.db.sessions import Database
from core.identity.models import Membership, User
from core.identity.sessions import (
    ClientInfo,
    is_https,
    session_token,
    set_session_cookie,
    start_session,
)
from core.settings import Settings
from core.tenancy.snapshot import TenantSnapshot
from core.web.sites import request_context


async def development_only(
    connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler
) -> None:
    settings: Settings = connection.app.state.settings
    if not settings.is_development:
        raise NotFoundException()


class DevLogin(Controller):
    path = "/dev/login"
    include_in_schema = False
    guards = [development_only]

    @get("/", name="dev_login.index")
    async def index(
        self, request: Request[Any, Any, Any], db: NamedDependency[Database]
    ) -> Template:
        tenant = request_context(request).tenant
        people = await (_members(db, tenant) if tenant else _operators(db))
        return Template("dev_login/index.html", context={"people": people})

    @post("/{user_id:uuid}", name="dev_login.login")
    async def login(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        user_id: FromPath[uuid.UUID],
    ) -> Redirect:
        tenant = request_context(request).tenant
        people = await (_members(db, tenant) if tenant else _operators(db))
        # Only someone the page lists: no member of another tenant, no stranger.
        if not any(person["id"] == user_id for person in people):
            raise NotFoundException()
        token = await start_session(
            db,
            tenant,
            user_id,
            ClientInfo.from_request(request),
            replaces=session_token(request),
            audit_details={"method": "dev_login"},
        )
        response = Redirect(path="/", status_code=303)
        set_session_cookie(response, token, secure=is_https(request))
        return response


async def _members(db: Database, tenant: TenantSnapshot) -> list[dict[str, Any]]:
    async with db.tenant_session(tenant.id) as session:
        roles = {m.user_id: list(m.roles) for m in await session.scalars(select(Membership))}
    if not roles:
        return []
    async with db.platform_session() as platform:
        users = await platform.scalars(select(User).where(User.id.in_(roles)))
        return _listing(users, roles)


async def _operators(db: Database) -> list[dict[str, Any]]:
    async with db.platform_session() as platform:
        users = await platform.scalars(select(User).where(User.is_operator.is_(True)))
        return _listing(users, {})


def _listing(users: Any, roles: dict[uuid.UUID, list[str]]) -> list[dict[str, Any]]:
    people = [
        {
            "id": user.id,
            "name": user.display_name or user.email or str(user.id),
            "email": user.email or "",
            "roles": roles.get(user.id, []),
        }
        for user in users
    ]
    return sorted(people, key=lambda person: (person["name"].casefold(), str(person["id"])))
