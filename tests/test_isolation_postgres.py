"""The second wall: PostgreSQL row-level security, tested with raw SQL as the app role.

These tests bypass the ORM on purpose: whatever a handler, a plugin or a bug sends
to the database as the application role, rows of a tenant that is not set in the
current transaction stay invisible and unwritable.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from core.db.base import tenant_tables
from core.db.models import load_all_models
from core.db.sessions import Database
from core.pluginhost.models import TenantPlugin
from core.settings import Settings

# Only the PostgreSQL side of the shared, migrated database (SQLite has no RLS).
pytestmark = pytest.mark.parametrize("migrated", ["postgresql"], indirect=True)

COUNT = text("SELECT count(*) FROM tenant_plugins")
SET_TENANT = text("SELECT set_config('app.tenant_id', :tenant, true)")
INSERT_PLUGIN = text(
    "INSERT INTO tenant_plugins (id, tenant_id, plugin_id, enabled, settings) "
    "VALUES (:id, :tenant, :plugin, true, '{}')"
)


@dataclass
class Seeded:
    a: uuid.UUID
    b: uuid.UUID


@pytest.fixture
async def app_engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """A plain engine as the application role: no session, no tenant, no ORM."""
    engine = create_async_engine(settings.database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def seeded(settings: Settings) -> Seeded:
    """Two tenants with two plugin rows each, inserted as the owner (bypasses RLS)."""
    a, b = uuid.uuid4(), uuid.uuid4()
    owner = create_async_engine(settings.migration_database_url)
    async with owner.begin() as conn:
        for tenant, slug in [(a, "rls-a"), (b, "rls-b")]:
            await conn.execute(
                text(
                    "INSERT INTO tenants (id, slug, name, status, default_locale, locales, "
                    "theme, revision) VALUES (:id, :slug, :slug, 'active', 'en', '[]', "
                    "'default', 1)"
                ),
                {"id": tenant, "slug": slug},
            )
            for plugin in ("one", "two"):
                await conn.execute(
                    INSERT_PLUGIN, {"id": uuid.uuid4(), "tenant": tenant, "plugin": plugin}
                )
        assert (await conn.execute(COUNT)).scalar() == 4
    await owner.dispose()
    return Seeded(a, b)


async def _set_tenant(conn: AsyncConnection, tenant: uuid.UUID) -> None:
    await conn.execute(SET_TENANT, {"tenant": str(tenant)})


async def test_no_tenant_set_sees_no_rows(app_engine: AsyncEngine, seeded: Seeded) -> None:
    async with app_engine.connect() as conn:
        assert (await conn.execute(COUNT)).scalar() == 0
        for table in tenant_tables():
            assert (await conn.execute(text(f'SELECT count(*) FROM "{table}"'))).scalar() == 0
        # An empty setting (what a finished transaction leaves behind) is no tenant either.
        await conn.execute(SET_TENANT, {"tenant": ""})
        assert (await conn.execute(COUNT)).scalar() == 0


async def test_tenant_set_sees_only_its_rows(app_engine: AsyncEngine, seeded: Seeded) -> None:
    for tenant in (seeded.a, seeded.b):
        async with app_engine.connect() as conn:
            await _set_tenant(conn, tenant)
            rows = (await conn.execute(text("SELECT tenant_id FROM tenant_plugins"))).all()
            assert [row[0] for row in rows] == [tenant, tenant]


async def test_writes_without_or_for_another_tenant_are_rejected(
    app_engine: AsyncEngine, seeded: Seeded
) -> None:
    cases: list[tuple[uuid.UUID | None, uuid.UUID]] = [(None, seeded.a), (seeded.a, seeded.b)]
    for current, target in cases:
        async with app_engine.connect() as conn:
            if current is not None:
                await _set_tenant(conn, current)
            with pytest.raises(DBAPIError, match="row-level security"):
                await conn.execute(
                    INSERT_PLUGIN, {"id": uuid.uuid4(), "tenant": target, "plugin": "evil"}
                )


async def test_updates_and_deletes_cannot_reach_or_move_rows(
    app_engine: AsyncEngine, seeded: Seeded, settings: Settings
) -> None:
    async with app_engine.connect() as conn:
        await _set_tenant(conn, seeded.a)
        # B's rows are simply not there for A.
        hidden = text("UPDATE tenant_plugins SET enabled = false WHERE tenant_id = :b")
        assert (await conn.execute(hidden, {"b": seeded.b})).rowcount == 0
        gone = text("DELETE FROM tenant_plugins WHERE tenant_id = :b")
        assert (await conn.execute(gone, {"b": seeded.b})).rowcount == 0
        # A may not hand its own rows to B (WITH CHECK on the new row).
        with pytest.raises(DBAPIError, match="row-level security"):
            await conn.execute(text("UPDATE tenant_plugins SET tenant_id = :b"), {"b": seeded.b})
    async with app_engine.connect() as conn:
        await _set_tenant(conn, seeded.b)
        still_enabled = text("SELECT count(*) FROM tenant_plugins WHERE enabled")
        assert await conn.scalar(still_enabled) == 2


async def test_row_security_cannot_be_switched_off_by_the_app_role(
    app_engine: AsyncEngine, seeded: Seeded
) -> None:
    async with app_engine.connect() as conn:
        await conn.execute(text("SET row_security = off"))
        # With row_security off, a role without BYPASSRLS gets an error, never rows.
        with pytest.raises(DBAPIError, match="row-level security"):
            await conn.execute(COUNT)
    async with app_engine.connect() as conn:
        with pytest.raises(DBAPIError, match="must be owner"):
            await conn.execute(text("ALTER TABLE tenant_plugins DISABLE ROW LEVEL SECURITY"))


async def test_pooled_connection_carries_no_tenant_to_the_next_request(
    settings: Settings, seeded: Seeded
) -> None:
    # One connection in the pool, so every checkout below is the same connection.
    db = Database(settings.database_url, pool_size=1, max_overflow=0)
    backend_pid = text("SELECT pg_backend_pid()")
    tenant_setting = text("SELECT current_setting('app.tenant_id', true)")
    try:
        async with db.tenant_session(seeded.a) as session:
            pid = await session.scalar(backend_pid)
            assert await session.scalar(tenant_setting) == str(seeded.a)
            assert await session.scalar(COUNT) == 2  # raw SQL: RLS alone filters it
            await session.commit()
        async with db.engine.connect() as conn:
            assert await conn.scalar(backend_pid) == pid
            assert await conn.scalar(tenant_setting) in ("", None)
            assert await conn.scalar(COUNT) == 0
        # The same after a request that failed and rolled back.
        async with db.tenant_session(seeded.b) as session:
            assert await session.scalar(COUNT) == 2
            with pytest.raises(DBAPIError):
                await session.execute(text("SELECT 1/0"))
            await session.rollback()
        async with db.engine.connect() as conn:
            assert await conn.scalar(backend_pid) == pid
            assert await conn.scalar(tenant_setting) in ("", None)
            assert await conn.scalar(COUNT) == 0
    finally:
        await db.dispose()


async def test_tenant_session_raw_sql_is_filtered_by_rls(db: Database, seeded: Seeded) -> None:
    """Raw SQL skips the ORM filter; RLS still confines it to the session's tenant."""
    async with db.tenant_session(seeded.a) as session:
        rows = (await session.execute(text("SELECT tenant_id FROM tenant_plugins"))).all()
    assert {row[0] for row in rows} == {seeded.a}


async def test_platform_session_sees_no_tenant_owned_rows(db: Database, seeded: Seeded) -> None:
    async with db.platform_session() as session:
        assert (await session.scalars(select(TenantPlugin))).all() == []
        assert await session.scalar(COUNT) == 0
        # It does see the platform tables: that is its job.
        assert await session.scalar(text("SELECT count(*) FROM tenants")) == 2


async def test_app_role_owns_nothing_and_cannot_bypass_rls(
    app_engine: AsyncEngine, settings: Settings
) -> None:
    async with app_engine.connect() as conn:
        role = await conn.scalar(text("SELECT current_user"))
        assert role == settings.app_db_role
        owned = await conn.execute(
            text("SELECT tablename FROM pg_tables WHERE tableowner = current_user")
        )
        assert owned.all() == []
        attrs = (
            await conn.execute(
                text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
            )
        ).one()
        assert tuple(attrs) == (False, False)
        # The tables exist and belong to someone else (the migration owner).
        owners = await conn.execute(
            text("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'")
        )
        assert [row[0] for row in owners] not in ([], [role])
        expected = {t.name for t in load_all_models().metadata.sorted_tables}
        public = await conn.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        )
        assert expected <= {row[0] for row in public}
        # Migration bookkeeping is not the application's business.
        with pytest.raises(DBAPIError, match="permission denied"):
            await conn.execute(text("SELECT * FROM alembic_version"))
