"""``/account/sessions`` (list and end your own sessions) and ``POST /logout``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from babel.dates import format_datetime
from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from core.db.sessions import Database
from core.identity.guards import CurrentUser, require_login
from core.identity.sessions import (
    ClientInfo,
    aware,
    clear_session_cookie,
    end_session,
    is_https,
    list_sessions,
    revoke_session,
    session_token,
)
from core.web.sites import request_context


@get("/account/sessions", name="account.sessions", guards=[require_login], include_in_schema=False)
async def account_sessions(
    request: Request[Any, Any, Any],
    db: NamedDependency[Database],
    current_user: NamedDependency[CurrentUser | None],
) -> Template:
    assert current_user is not None  # require_login
    locale = request_context(request).locale
    rows = await list_sessions(db, current_user.id, current_user.tenant_id)
    sessions = [
        {
            "id": row.id,
            "current": row.id == current_user.session_id,
            "user_agent": row.user_agent,
            "ip": row.ip or "",
            "created": _when(row.created_at, locale),
            "last_seen": _when(row.last_seen_at, locale),
            "created_iso": aware(row.created_at).isoformat(),
            "last_seen_iso": aware(row.last_seen_at).isoformat(),
        }
        for row in rows
    ]
    return Template("account/sessions.html", context={"sessions": sessions})


@post(
    "/account/sessions/{session_id:uuid}/revoke",
    name="account.revoke_session",
    guards=[require_login],
    include_in_schema=False,
)
async def revoke_own_session(
    request: Request[Any, Any, Any],
    db: NamedDependency[Database],
    session_id: FromPath[uuid.UUID],
    current_user: NamedDependency[CurrentUser | None],
) -> Redirect:
    assert current_user is not None  # require_login
    client = ClientInfo.from_request(request)
    if not await revoke_session(db, current_user.id, current_user.tenant_id, session_id, client):
        # Another user's session, one on another site, or one already ended: all
        # look alike, so that session ids cannot be probed.
        raise NotFoundException()
    if session_id == current_user.session_id:
        response = Redirect(path="/", status_code=303)
        clear_session_cookie(response, secure=is_https(request))
        return response
    return Redirect(path="/account/sessions", status_code=303)


@post("/logout", name="logout", include_in_schema=False)
async def logout(request: Request[Any, Any, Any], db: NamedDependency[Database]) -> Redirect:
    """End the session on the server and forget the cookie; harmless when logged out."""
    tenant = request_context(request).tenant
    await end_session(
        db, session_token(request), tenant.id if tenant else None, ClientInfo.from_request(request)
    )
    response = Redirect(path="/", status_code=303)
    clear_session_cookie(response, secure=is_https(request))
    return response


def _when(value: datetime, locale: str) -> str:
    return f"{format_datetime(aware(value).astimezone(UTC), 'medium', locale=locale)} UTC"
