"""Shared fixtures: a migrated database per backend, settings, plugins, an app client.

Tests that take ``db`` (or anything built on it) run once on SQLite and once on
PostgreSQL. On PostgreSQL the schema is migrated by the owner (``postgres``) and the
application connects as a separate role with no BYPASSRLS, exactly as in production.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError

from core.db.migrate import upgrade
from core.db.models import load_all_models
from core.db.postgres import create_app_role
from core.db.sessions import Database
from core.pluginhost.manager import PluginHost
from core.settings import ROOT, Settings
from tests.services import POSTGRES_ADMIN_URL, need_postgres

os.environ.setdefault("TANDEM_ENV", "test")
APP_ROLE = "tandem_app_test"
BACKENDS = ["sqlite", "postgresql"]


class MigratedDatabase:
    """One migrated database for the whole test session; emptied between tests."""

    def __init__(self, backend: str, tmp: Path) -> None:
        self.backend = backend
        self._engine: Engine | None = None  # for emptying it, made on first use
        if backend == "sqlite":
            path = tmp / "tandem-test.db"
            self.owner_url = self.app_url = f"sqlite+aiosqlite:///{path}"
            self._sync_owner_url = f"sqlite:///{path}"
        else:
            name = f"tandem_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
            admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
                try:
                    create_app_role(conn, APP_ROLE)
                except DBAPIError:
                    # Another test worker created the (cluster-wide) role at the same
                    # moment; now it exists, and this makes sure of its options.
                    create_app_role(conn, APP_ROLE)
            admin.dispose()
            self.name = name
            self.owner_url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
            self.app_url = f"postgresql+asyncpg://{APP_ROLE}@127.0.0.1:5432/{name}"
            self._sync_owner_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        upgrade(self.settings())

    def settings(self, **overrides: object) -> Settings:
        values: dict[str, object] = {
            "env": "test",
            "root": ROOT,
            "database_url": self.app_url,
            "migration_database_url": self.owner_url,
            "app_db_role": APP_ROLE,
            "broker_url": "",
            "tenant_cache_seconds": 0,
            "outbox_poll_seconds": 0.2,
            # No scheduler loop in test apps: periodic jobs would add outbox rows that
            # tests do not expect. tests/test_schedule.py runs the scheduler itself.
            "scheduler_poll_seconds": 0,
        }
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]

    def truncate(self) -> None:
        """Delete every row. DELETE, not TRUNCATE: on PostgreSQL, TRUNCATE gives each of
        the tables and indexes a new file (about 0.8 s for this schema, before every
        test); deleting the few rows a test made takes milliseconds. The owner is a
        superuser there, so row-level security does not hide any row from it."""
        tables = [t.name for t in reversed(load_all_models().metadata.sorted_tables)]
        if self._engine is None:
            self._engine = create_engine(self._sync_owner_url)
        with self._engine.begin() as conn:
            for table in tables:
                conn.execute(text(f'DELETE FROM "{table}"'))

    def drop(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
        if self.backend == "postgresql":
            admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            admin.dispose()


_databases: dict[str, MigratedDatabase] = {}


@pytest.fixture(scope="session")
def _database_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    yield {"tmp": tmp_path_factory.mktemp("db")}
    for database in _databases.values():
        database.drop()


@pytest.fixture(params=BACKENDS)
def migrated(request: pytest.FixtureRequest, _database_registry: dict) -> MigratedDatabase:
    """The migrated database of this test's backend, emptied."""
    backend = request.param
    if backend == "postgresql":
        need_postgres()
    if backend not in _databases:
        _databases[backend] = MigratedDatabase(backend, _database_registry["tmp"])
    database = _databases[backend]
    database.truncate()
    return database


@pytest.fixture
def settings(migrated: MigratedDatabase) -> Settings:
    return migrated.settings()


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings.database_url)
    yield database
    await database.dispose()


@pytest.fixture(scope="session")
def plugins() -> PluginHost:
    """The installed plugins (entry points), as production loads them."""
    return PluginHost.load()


@pytest.fixture
async def synced(db: Database, plugins: PluginHost, settings: Settings) -> Database:
    """The database with the repository's tenants/ files applied."""
    from core.tenancy.sync import sync_tenants

    # Without the files' demo [[members]]: tests make the people they need
    # (tests/test_login_flow.py covers members).
    await sync_tenants(db, plugins, settings.tenants_dir, settings.themes_dir, members=False)
    return db


def make_app(settings: Settings, plugins: PluginHost | None = None) -> Litestar:
    from core.web.app import create_app

    return create_app(settings, plugins=plugins)


@pytest.fixture
async def client(
    synced: Database, settings: Settings, plugins: PluginHost
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """A client for the app with the demo tenants; pass ``headers={"host": …}``."""
    async with AsyncTestClient(make_app(settings, plugins), base_url="http://localhost") as c:
        yield c
