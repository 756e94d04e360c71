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
from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import event, inspect, text
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
from sqlalchemy.sql.elements import BindParameter, ClauseElement

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
    tenant_id = state.session.info["tenant_id"]
    if state.is_insert or state.is_update:
        _guard_bulk_write(state, tenant_id)
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.is_column_load:
        # SQLAlchemy leaves loader criteria out of refreshes and expired-attribute
        # loads; filter them by hand so that an object of another tenant attached
        # without a load (add() of a detached object) cannot be refreshed from B.
        mapper = state.bind_mapper
        if mapper is not None and issubclass(mapper.class_, TenantScoped):
            state.statement = state.statement.where(mapper.class_.tenant_id == tenant_id)
        return
    # session.get() also arrives here when the object is not in the identity map.
    state.statement = state.statement.options(
        with_loader_criteria(
            TenantScoped,
            lambda cls: cls.tenant_id == tenant_id,
            include_aliases=True,
        )
    )


_UNKNOWN = object()  # a tenant_id given as a SQL expression: its value cannot be checked


def _guard_bulk_write(state: ORMExecuteState, tenant_id: uuid.UUID) -> None:
    """ORM ``insert()``/``update()`` statements may write only this tenant's id.

    The loader criteria narrow *which* rows an UPDATE touches, not the values it
    sets, and an INSERT has no criteria at all; without this check
    ``update(Model).values(tenant_id=other)`` would move rows to another tenant.
    """
    mapper = state.bind_mapper
    if mapper is None or not issubclass(mapper.class_, TenantScoped):
        return
    if state.is_insert and state.statement.select is not None:
        # INSERT ... FROM SELECT: the tenant ids come from a query that cannot be
        # checked before it runs, and SQLite has no RLS to catch a wrong one.
        raise CrossTenantWriteError(
            f"{mapper.class_.__name__}: INSERT ... FROM SELECT is not allowed in a tenant session"
        )
    written = list(_statement_tenant_ids(state.statement))
    written += [row["tenant_id"] for row in _parameter_rows(state) if "tenant_id" in row]
    for value in written:
        if value is _UNKNOWN or value != tenant_id:
            raise CrossTenantWriteError(
                f"{mapper.class_.__name__}: this session may write only tenant {tenant_id}"
            )
    if state.is_insert:
        _stamp_bulk_insert(state, tenant_id)


def _parameter_rows(state: ORMExecuteState) -> list[dict[str, Any]]:
    params = state.parameters
    if not params:
        return []
    return list(params) if isinstance(params, list) else [params]


def _stamp_bulk_insert(state: ORMExecuteState, tenant_id: uuid.UUID) -> None:
    """New rows from an ORM bulk INSERT get the tenant, as rows added to the session do."""
    if isinstance(state.parameters, list):
        state.parameters = [{"tenant_id": tenant_id, **row} for row in state.parameters]
    elif state.parameters:
        state.parameters = {"tenant_id": tenant_id, **state.parameters}
    elif not state.statement._multi_values and not _statement_sets_tenant(state.statement):
        state.statement = state.statement.values(tenant_id=tenant_id)


def _statement_sets_tenant(statement: Any) -> bool:
    return any(_is_tenant_column(key) for key in (statement._values or {}))


def _statement_tenant_ids(statement: Any) -> Iterator[Any]:
    """Values a DML statement assigns to ``tenant_id`` in ``values()``/``ordered_values()``.

    SQLAlchemy offers no public accessor for a statement's VALUES/SET clause, so
    this reads ``_values`` and ``_multi_values`` (what its own ORM bulk persistence
    reads). tests/test_isolation_orm.py fails if their shape ever changes.
    """
    rows: list[Any] = [statement._values or {}]
    for batch in statement._multi_values:
        rows.extend(batch)
    columns = [column.key for column in statement.table.columns]
    for row in rows:
        pairs = row.items() if isinstance(row, Mapping) else zip(columns, row, strict=False)
        for key, value in pairs:
            if _is_tenant_column(key):
                yield _literal_value(value)


def _is_tenant_column(key: Any) -> bool:
    return (key if isinstance(key, str) else getattr(key, "key", None)) == "tenant_id"


def _literal_value(value: Any) -> Any:
    if isinstance(value, BindParameter):
        return value.value
    if isinstance(value, ClauseElement):
        return _UNKNOWN
    return value


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
    # Updates and deletes are checked against the stored tenant as well as the new
    # value: an object of another tenant attached with add()/merge(load=False) must
    # neither be deleted nor "moved" into this tenant by setting its tenant_id.
    for obj in [*session.dirty, *session.deleted]:
        if isinstance(obj, TenantScoped) and _tenant_ids_of(obj) - {tenant_id}:
            raise CrossTenantWriteError(
                f"{type(obj).__name__} belongs to another tenant or may not move to one"
            )


def _tenant_ids_of(obj: TenantScoped) -> set[Any]:
    history = inspect(obj).attrs.tenant_id.history
    return {obj.tenant_id, *history.unchanged, *history.deleted}


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
