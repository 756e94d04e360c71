"""Login attempts in the database: what a login needs between the redirect and the callback.

A :class:`DatabaseLoginAttemptStore` is made per request and bound to the request's
tenant, so an attempt started on one tenant's host is invisible on another's: a
callback that arrives on the wrong host finds nothing and fails. Rows are
tenant-owned (row-level security on PostgreSQL) and keyed by a hash of ``state``,
so the table never holds a value that could be pasted into a callback URL.

Operators sign in on the platform host, where there is no tenant: their attempts
live in a platform table of the same shape (:class:`PlatformLoginAttempt`, through
:class:`PlatformLoginAttemptStore`). Neither store reads the other's table, so an
attempt started on a tenant's host cannot complete on the platform host, nor the
other way round. Columns and the put/take logic are written once, in
:class:`LoginAttemptColumns` and :class:`AttemptStore`.

``take`` deletes the row in the same statement that reads it, so two callbacks
racing with one ``state`` cannot both get it. Attempts older than ``max_age`` are
never returned, and each ``put`` clears the tenant's stale rows, which keeps the
table at roughly "logins started in the last few minutes".
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Index, String, UniqueConstraint, delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, TenantScoped, UUIDPrimaryKey, aware
from core.db.sessions import Database
from core.identity.oidc import LoginAttempt

# As long as the relying party accepts an attempt (RelyingParty attempt_max_age).
DEFAULT_MAX_AGE = 600.0
NEXT_PATH_LENGTH = 2000


class LoginAttemptColumns:
    """The columns of both attempt tables (tenant-owned and platform)."""

    # SHA-256 (hex) of the state sent to the provider; the state itself is not stored.
    state_hash: Mapped[str] = mapped_column(String(64))
    provider_id: Mapped[str] = mapped_column(String(63))
    issuer: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(255))
    nonce: Mapped[str] = mapped_column(String(128))
    code_verifier: Mapped[str] = mapped_column(String(128))
    redirect_uri: Mapped[str] = mapped_column(String(1000))
    # Where to go after the login: a local path, checked before it is stored.
    next_path: Mapped[str] = mapped_column(String(NEXT_PATH_LENGTH), default="/")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class OIDCLoginAttempt(UUIDPrimaryKey, TenantScoped, LoginAttemptColumns, Base):
    __tablename__ = "oidc_login_attempts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "state_hash"),
        Index("ix_oidc_login_attempts_tenant_id_created_at", "tenant_id", "created_at"),
    )


class PlatformLoginAttempt(UUIDPrimaryKey, LoginAttemptColumns, Base):
    """Operators' login attempts on the platform host, where no tenant applies."""

    __tablename__ = "platform_login_attempts"
    __table_args__ = (
        UniqueConstraint("state_hash"),
        Index("ix_platform_login_attempts_created_at", "created_at"),
        {
            "info": {
                "platform_table": "operators sign in on the platform host, which has no "
                "tenant; tenant hosts never read this table, so an attempt cannot cross "
                "between a tenant and the platform"
            }
        },
    )


def hash_state(state: str) -> str:
    return hashlib.sha256(state.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TakenAttempt:
    """What the web layer needs besides the :class:`LoginAttempt`: who and where to."""

    provider_id: str
    next_path: str


class AttemptStore:
    """A :class:`~core.identity.oidc.LoginAttemptStore` for one provider, in one table.

    ``put`` stores the attempt with ``provider_id`` and ``next_path``; after a
    successful ``take`` they are in :attr:`taken`. Subclasses say which table and
    which kind of session (tenant or platform).
    """

    model: type[OIDCLoginAttempt] | type[PlatformLoginAttempt]

    def __init__(
        self,
        db: Database,
        *,
        provider_id: str = "",
        next_path: str = "/",
        max_age: float = DEFAULT_MAX_AGE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._provider_id = provider_id
        self._next_path = next_path[:NEXT_PATH_LENGTH]
        self._max_age = max_age
        self._clock = clock
        self.taken: TakenAttempt | None = None

    def _session(self) -> AsyncSession:
        raise NotImplementedError

    def _cutoff(self) -> datetime:
        return datetime.fromtimestamp(self._clock() - self._max_age, UTC)

    async def put(self, attempt: LoginAttempt) -> None:
        table = self.model
        async with self._session() as session, session.begin():
            # Abandoned logins (the person closed the tab at the provider) end here.
            await session.execute(
                delete(table)
                .where(table.created_at < self._cutoff())
                .execution_options(synchronize_session=False)
            )
            session.add(
                table(
                    state_hash=hash_state(attempt.state),
                    provider_id=self._provider_id,
                    issuer=attempt.issuer,
                    client_id=attempt.client_id,
                    nonce=attempt.nonce,
                    code_verifier=attempt.code_verifier,
                    redirect_uri=attempt.redirect_uri,
                    next_path=self._next_path,
                    created_at=datetime.fromtimestamp(attempt.created_at, UTC),
                )
            )

    async def take(self, state: str) -> LoginAttempt | None:
        """Remove and return this store's attempt for ``state``; None if unknown, used or old."""
        if not state or len(state) > 512:
            return None
        table = self.model
        async with self._session() as session, session.begin():
            # DELETE … RETURNING: reading and spending the attempt is one atomic step.
            row = (
                await session.execute(
                    delete(table)
                    .where(table.state_hash == hash_state(state))
                    .returning(
                        table.provider_id,
                        table.issuer,
                        table.client_id,
                        table.nonce,
                        table.code_verifier,
                        table.redirect_uri,
                        table.next_path,
                        table.created_at,
                    )
                    .execution_options(synchronize_session=False)
                )
            ).first()
        if row is None:
            return None
        created = aware(row.created_at)
        if created < self._cutoff():
            return None
        self.taken = TakenAttempt(row.provider_id, row.next_path)
        return LoginAttempt(
            state=state,
            nonce=row.nonce,
            code_verifier=row.code_verifier,
            issuer=row.issuer,
            client_id=row.client_id,
            redirect_uri=row.redirect_uri,
            created_at=created.timestamp(),
        )


class DatabaseLoginAttemptStore(AttemptStore):
    """Attempts of one tenant (tenant-owned rows, read through a tenant session)."""

    model = OIDCLoginAttempt

    def __init__(self, db: Database, tenant_id: uuid.UUID, **options: Any) -> None:
        super().__init__(db, **options)
        self._tenant_id = tenant_id

    def _session(self) -> AsyncSession:
        return self._db.tenant_session(self._tenant_id)


class PlatformLoginAttemptStore(AttemptStore):
    """Attempts on the platform host (operators), in their own platform table."""

    model = PlatformLoginAttempt

    def _session(self) -> AsyncSession:
        return self._db.platform_session()
