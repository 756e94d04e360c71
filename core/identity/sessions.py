"""Server-side login sessions.

The browser holds only a random token; the database holds its SHA-256 hash, the
user, the one site the session is valid on (a tenant, or NULL for the platform
host), and its timeouts. So:

* every login gets a new token (no session fixation), and ``replaces`` ends the
  session the browser presented before;
* logging out or revoking a session ends it on the server at once;
* a stolen database table holds no usable token;
* a token is valid on its own site only: a ``muenchen`` cookie replayed on
  ``augsburg`` or on the platform host finds no session there;
* a session ends after ``idle`` without a request, and at ``expires_at`` whatever
  the activity. ``last_seen_at`` is written at most once a minute, so an idle
  timeout may end a session up to a minute early but a page view costs no write.

The cookie is host-only (no ``Domain``), ``HttpOnly``, ``SameSite=Lax``, and under
HTTPS ``Secure`` with the ``__Host-`` prefix, which browsers accept only from the
exact host, with ``Path=/`` and over HTTPS — no sibling subdomain can plant one.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from litestar import Response
from litestar.connection import ASGIConnection
from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.base import aware, utcnow
from core.db.sessions import Database
from core.identity import audit
from core.identity.models import AuthSession, User
from core.tenancy.snapshot import TenantSnapshot

SESSION_COOKIE = "tandem_session"
SECURE_SESSION_COOKIE = "__Host-tandem_session"
DEFAULT_IDLE = timedelta(minutes=30)
DEFAULT_ABSOLUTE = timedelta(hours=12)
# What a tenant may choose (``[sessions]`` in its file); anything else is clamped.
IDLE_LIMITS = (timedelta(minutes=5), timedelta(minutes=240))
ABSOLUTE_LIMITS = (timedelta(hours=1), timedelta(hours=24))
TOUCH_INTERVAL = timedelta(minutes=1)
MAX_TOKEN_LENGTH = 128  # ours are 43 characters; longer input is not worth hashing
USER_AGENT_LENGTH = 500


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta = DEFAULT_IDLE
    absolute: timedelta = DEFAULT_ABSOLUTE

    @classmethod
    def for_tenant(cls, tenant: TenantSnapshot | None) -> SessionPolicy:
        """The tenant's timeouts, clamped to the platform's limits; defaults otherwise."""
        if tenant is None:
            return cls()
        idle = DEFAULT_IDLE
        absolute = DEFAULT_ABSOLUTE
        if tenant.session_idle_minutes is not None:
            idle = timedelta(minutes=tenant.session_idle_minutes)
        if tenant.session_absolute_hours is not None:
            absolute = timedelta(hours=tenant.session_absolute_hours)
        return cls(_clamp(idle, IDLE_LIMITS), _clamp(absolute, ABSOLUTE_LIMITS))


def _clamp(value: timedelta, limits: tuple[timedelta, timedelta]) -> timedelta:
    return min(max(value, limits[0]), limits[1])


@dataclass(frozen=True)
class ClientInfo:
    """What we note about the browser a session was started from (shown to its owner)."""

    user_agent: str = ""
    ip: str | None = None

    @classmethod
    def from_request(cls, request: ASGIConnection[Any, Any, Any, Any]) -> ClientInfo:
        agent = request.headers.get("user-agent", "")[:USER_AGENT_LENGTH]
        return cls(agent, request.client.host if request.client else None)


def client_ip(request: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The address a request came from, as the audit log and sessions note it."""
    return ClientInfo.from_request(request).ip


# --- tokens and cookies -----------------------------------------------------------------


def new_token() -> str:
    return secrets.token_urlsafe(32)  # 256 random bits


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def is_https(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    return connection.url.scheme == "https"


def cookie_name(secure: bool) -> str:
    return SECURE_SESSION_COOKIE if secure else SESSION_COOKIE


def session_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The token the request carries. Under HTTPS only the ``__Host-`` cookie counts:
    a plain-named one could have been planted by another subdomain."""
    return connection.cookies.get(cookie_name(is_https(connection))) or None


def set_session_cookie(response: Response[Any], token: str, *, secure: bool) -> None:
    # No Max-Age: the browser forgets the cookie when it closes, and the server
    # ends the session by its own timeouts anyway.
    response.set_cookie(
        cookie_name(secure), token, path="/", secure=secure, httponly=True, samesite="lax"
    )


def clear_session_cookie(response: Response[Any], *, secure: bool) -> None:
    # Same attributes as when set: a browser ignores a __Host- cookie without Secure.
    response.set_cookie(
        cookie_name(secure), "", max_age=0, path="/", secure=secure, httponly=True, samesite="lax"
    )


# --- the sessions -------------------------------------------------------------------------


async def start_session(
    db: Database,
    tenant: TenantSnapshot | uuid.UUID | None,
    user: User | uuid.UUID,
    client: ClientInfo | None = None,
    *,
    policy: SessionPolicy | None = None,
    now: datetime | None = None,
    replaces: str | None = None,
    audit_details: dict[str, Any] | None = None,
) -> str:
    """Create a session for ``user`` on ``tenant`` (None: the platform host); return its token.

    The token is new on every call. ``replaces`` is the token the browser presented
    before logging in; that session is ended. On a tenant, a ``login`` audit entry
    is written in the same transaction as the session.
    """
    now = now or utcnow()
    client = client or ClientInfo()
    tenant_id = tenant.id if isinstance(tenant, TenantSnapshot) else tenant
    if policy is None:
        policy = SessionPolicy.for_tenant(tenant if isinstance(tenant, TenantSnapshot) else None)
    user_id = user.id if isinstance(user, User) else user
    token = new_token()
    row = AuthSession(
        token_hash=hash_token(token),
        user_id=user_id,
        tenant_id=tenant_id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + policy.absolute,
        idle_timeout_seconds=int(policy.idle.total_seconds()),
        user_agent=client.user_agent[:USER_AGENT_LENGTH],
        ip=client.ip,
    )
    async with db.engine.connect() as conn, conn.begin():
        # One transaction for the session and its audit entry (two kinds of session).
        async with db.platform_session(bind=conn) as platform:
            if replaces:
                await _revoke(platform, AuthSession.token_hash == hash_token(replaces), now)
            platform.add(row)
            await platform.flush()
        if tenant_id is not None:
            async with db.tenant_session(tenant_id, bind=conn) as session:
                details = {"session_id": str(row.id), **(audit_details or {})}
                audit.record(session, audit.LOGIN, user_id, details, client.ip, now=now)
                await session.flush()
    return token


async def load_session(
    db: Database,
    token: str | None,
    tenant_id: uuid.UUID | None,
    now: datetime | None = None,
) -> AuthSession | None:
    """The live session for ``token`` on this site (``tenant_id``; None: the platform host).

    None when there is no such session, or it was revoked, has expired (absolutely
    or through idleness), or belongs to another site. Notes the activity.
    """
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    now = now or utcnow()
    async with db.platform_session() as platform:
        row = await platform.scalar(
            select(AuthSession).where(AuthSession.token_hash == hash_token(token))
        )
        if row is None or row.tenant_id != tenant_id or not is_live(row, now):
            return None
        if now - aware(row.last_seen_at) >= TOUCH_INTERVAL:
            row.last_seen_at = now
            await platform.commit()
    return row


def is_live(row: AuthSession, now: datetime) -> bool:
    if row.revoked_at is not None or now >= aware(row.expires_at):
        return False
    return now < aware(row.last_seen_at) + timedelta(seconds=row.idle_timeout_seconds)


async def end_session(
    db: Database,
    token: str | None,
    tenant_id: uuid.UUID | None,
    client: ClientInfo | None = None,
    *,
    now: datetime | None = None,
) -> bool:
    """Log out: end the session of ``token`` on this site. False if there was none."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return False
    return await _end(
        db,
        AuthSession.token_hash == hash_token(token),
        tenant_id,
        audit.LOGOUT,
        client,
        now or utcnow(),
    )


async def list_sessions(
    db: Database, user_id: uuid.UUID, tenant_id: uuid.UUID | None, now: datetime | None = None
) -> Sequence[AuthSession]:
    """The user's live sessions on this site, most recently active first."""
    now = now or utcnow()
    async with db.platform_session() as platform:
        rows = await platform.scalars(
            select(AuthSession)
            .where(AuthSession.user_id == user_id, _on_site(tenant_id))
            .where(AuthSession.revoked_at.is_(None))
            .order_by(AuthSession.last_seen_at.desc(), AuthSession.created_at.desc())
        )
        return [row for row in rows if is_live(row, now)]


async def revoke_session(
    db: Database,
    user_id: uuid.UUID,
    tenant_id: uuid.UUID | None,
    session_id: uuid.UUID,
    client: ClientInfo | None = None,
    *,
    now: datetime | None = None,
) -> bool:
    """End one of the user's own sessions on this site. False (→ 404) for anyone else's."""
    return await _end(
        db,
        (AuthSession.id == session_id) & (AuthSession.user_id == user_id),
        tenant_id,
        audit.SESSION_REVOKED,
        client,
        now or utcnow(),
    )


async def end_sessions_of(db: Database, user_id: uuid.UUID, tenant_id: uuid.UUID | None) -> bool:
    """End all of the user's sessions on this site (an operator who is one no more, on
    the platform host: ``tenant_id`` None). False if there were none."""
    which = AuthSession.user_id == user_id
    return await _end(db, which, tenant_id, audit.SESSION_REVOKED, None, utcnow())


async def _end(
    db: Database,
    which: ColumnElement[bool],
    tenant_id: uuid.UUID | None,
    action: str,
    client: ClientInfo | None,
    now: datetime,
) -> bool:
    client = client or ClientInfo()
    async with db.engine.connect() as conn, conn.begin():
        async with db.platform_session(bind=conn) as platform:
            ended = await _revoke(platform, which & _on_site(tenant_id), now)
        if ended and tenant_id is not None:
            async with db.tenant_session(tenant_id, bind=conn) as session:
                for session_id, user_id in ended:
                    details = {"session_id": str(session_id)}
                    audit.record(session, action, user_id, details, client.ip, now=now)
                await session.flush()
    return bool(ended)


async def _revoke(
    platform: AsyncSession, which: ColumnElement[bool], now: datetime
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Mark matching live sessions revoked; return their (id, user id)."""
    result = await platform.execute(
        update(AuthSession)
        .where(which, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now)
        .returning(AuthSession.id, AuthSession.user_id)
        .execution_options(synchronize_session=False)
    )
    return [(row.id, row.user_id) for row in result]


def _on_site(tenant_id: uuid.UUID | None) -> ColumnElement[bool]:
    if tenant_id is None:
        return AuthSession.tenant_id.is_(None)
    return AuthSession.tenant_id == tenant_id
