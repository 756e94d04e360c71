"""Engines and the two kinds of session.

* :meth:`Database.tenant_session` is what request handlers, jobs and plugins use.
  It is bound to one tenant: every ORM ``SELECT``/``UPDATE``/``DELETE`` on a
  tenant-owned model is filtered to that tenant, new tenant-owned rows are stamped
  with it, and on PostgreSQL each transaction sets ``app.tenant_id`` (transaction-
  local) for the row-level-security policies.
* :meth:`Database.platform_session` is the operator's explicitly named path for
  platform tables (tenants, domains, the outbox). It applies no tenant filter and,
  on PostgreSQL, sets no tenant, so RLS shows it *no* tenant-owned rows at all.
  Cross-tenant work loops over tenants and opens a tenant session for each.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, with_loader_criteria
from sqlalchemy.pool import StaticPool

from core.db.base import TenantScoped


class CrossTenantWriteError(RuntimeError):
    """A tenant session was asked to write a row that belongs to another tenant."""


class TenantBoundSession(Session):
    """Synchronous session class behind tenant sessions; carries ``info['tenant_id']``."""

    @property
    def tenant_id(self) -> uuid.UUID:
        return self.info["tenant_id"]


class PlatformSession(Session):
    """Synchronous session class behind platform sessions: no tenant scoping."""


@event.listens_for(TenantBoundSession, "do_orm_execute")
def _filter_to_tenant(state: ORMExecuteState) -> None:
    if state.is_column_load or not (state.is_select or state.is_update or state.is_delete):
        return
    tenant_id = state.session.info["tenant_id"]
    state.statement = state.statement.options(
        with_loader_criteria(
            TenantScoped,
            lambda cls: cls.tenant_id == tenant_id,
            include_aliases=True,
        )
    )


@event.listens_for(TenantBoundSession, "before_flush")
def _stamp_and_guard_tenant(session: Session, _flush_context: Any, _instances: Any) -> None:
    tenant_id = session.info["tenant_id"]
    for obj in session.new:
        if isinstance(obj, TenantScoped):
            if obj.tenant_id is None:
                obj.tenant_id = tenant_id
            elif obj.tenant_id != tenant_id:
                raise CrossTenantWriteError(
                    f"{type(obj).__name__} belongs to tenant {obj.tenant_id}, "
                    f"this session to {tenant_id}"
                )
    for obj in session.dirty:
        if isinstance(obj, TenantScoped) and obj.tenant_id != tenant_id:
            raise CrossTenantWriteError(f"{type(obj).__name__} may not move to another tenant")


@event.listens_for(TenantBoundSession, "after_begin")
def _set_tenant_for_rls(
    session: Session, _transaction: SessionTransaction, connection: Connection
) -> None:
    if connection.dialect.name == "postgresql":
        # is_local=true: the setting ends with the transaction, so a pooled
        # connection never carries one request's tenant into the next.
        connection.execute(
            text("SELECT set_config('app.tenant_id', :tenant_id, true)"),
            {"tenant_id": str(session.info["tenant_id"])},
        )


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    if url.startswith("sqlite"):
        if ":memory:" in url or url.rstrip("/").endswith("sqlite+aiosqlite:"):
            kwargs.setdefault("poolclass", StaticPool)
        kwargs.setdefault("connect_args", {"timeout": 30})
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class Database:
    """Owns the engine and hands out tenant and platform sessions."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.engine = create_engine(url, **engine_kwargs)
        self._tenant_sessions = async_sessionmaker(
            self.engine, sync_session_class=TenantBoundSession, expire_on_commit=False
        )
        self._platform_sessions = async_sessionmaker(
            self.engine, sync_session_class=PlatformSession, expire_on_commit=False
        )

    def tenant_session(
        self, tenant_id: uuid.UUID, *, bind: AsyncConnection | None = None
    ) -> AsyncSession:
        """A session scoped to ``tenant_id``.

        With ``bind``, the session joins that connection's open transaction (and
        does not commit it), so that one transaction can span several tenants.
        """
        if not isinstance(tenant_id, uuid.UUID):
            raise TypeError(f"tenant_id must be a UUID, not {type(tenant_id).__name__}")
        extra = {"bind": bind} if bind is not None else {}
        return self._tenant_sessions(info={"tenant_id": tenant_id}, **extra)

    def platform_session(self, *, bind: AsyncConnection | None = None) -> AsyncSession:
        return self._platform_sessions(**({"bind": bind} if bind is not None else {}))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def dispose(self) -> None:
        await self.engine.dispose()
