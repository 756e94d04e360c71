"""Shared fixtures: a migrated database per backend, settings, plugins, an app client.

Tests that take ``db`` (or anything built on it) run once on SQLite and once on
PostgreSQL. On PostgreSQL the schema is migrated by the owner (``postgres``) and the
application connects as a separate role with no BYPASSRLS, exactly as in production.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import DBAPIError

from core.db.migrate import upgrade
from core.db.models import load_all_models
from core.db.postgres import create_app_role
from core.db.sessions import Database
from core.pluginhost.manager import PluginHost
from core.settings import ROOT, Settings
from tests.services import POSTGRES_ADMIN_URL, need_postgres
from tests.speedups import memoize_handler_signatures

os.environ.setdefault("TANDEM_ENV", "test")
memoize_handler_signatures()
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
        with self._owner().begin() as conn:
            for table in reversed(self._tables()):
                conn.execute(text(f'DELETE FROM "{table}"'))

    def is_empty(self) -> bool:
        """No row in any table (one query)."""
        probe = " UNION ALL ".join(f'SELECT 1 FROM "{t}"' for t in self._tables())
        with self._owner().connect() as conn:
            return conn.execute(text(f"SELECT 1 FROM ({probe}) AS probe LIMIT 1")).first() is None

    def _tables(self) -> list[str]:
        """Every table, parents before children."""
        return _table_names()

    def _owner(self) -> Engine:
        if self._engine is None:
            self._engine = create_engine(self._sync_owner_url)
        return self._engine

    def save_rows(self, name: str) -> None:
        """Copy every row into a snapshot called ``name``, inside the database server (a
        schema on PostgreSQL, an attached file on SQLite): rows go back exactly as they
        were, with no round trip through Python types."""
        with self._snapshot(name) as (conn, schema):
            if self.backend == "postgresql":
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            for table in self._tables():
                conn.execute(text(f'CREATE TABLE "{schema}"."{table}" AS SELECT * FROM "{table}"'))

    def restore_rows(self, name: str, *, empty_first: bool = True) -> None:
        """Put back the rows :meth:`save_rows` copied, emptying the database first unless
        the caller knows it is empty."""
        if empty_first:
            self.truncate()
        with self._snapshot(name) as (conn, schema):
            for table in self._tables():
                conn.execute(text(f'INSERT INTO "{table}" SELECT * FROM "{schema}"."{table}"'))

    @contextmanager
    def _snapshot(self, name: str) -> Iterator[tuple[Connection, str]]:
        """A transaction that sees the snapshot ``name`` as the schema it yields."""
        schema = f"snapshot_{name}"
        with self._owner().connect() as conn:
            if self.backend == "sqlite":  # attached per connection, outside a transaction
                path = self._sync_owner_url.removeprefix("sqlite:///") + f".{name}"
                conn.exec_driver_sql(f"ATTACH DATABASE '{path}' AS \"{schema}\"")
                conn.commit()
            try:
                with conn.begin():
                    yield conn, schema
            finally:
                if self.backend == "sqlite":
                    conn.exec_driver_sql(f'DETACH DATABASE "{schema}"')

    def drop(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
        if self.backend == "postgresql":
            admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            admin.dispose()


@cache
def _table_names() -> list[str]:
    return [t.name for t in load_all_models().metadata.sorted_tables]


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


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Make ``--dist loadgroup`` send each ``xdist_group`` to one test worker again.

    pytest-xdist marks a test's group by appending ``@group`` to its node id, which it
    sets through ``item._nodeid``; pytest 9 reads the id from ``item._id`` instead, so
    no test got a group (the broker tests, which share Redis database 15, ran on several
    workers at once). Where xdist's suffix did not take, this sets it.
    """
    if not getattr(config.option, "loadgroup", False):  # only in xdist's test workers
        return
    from _pytest.nodeid import NodeId

    for item in items:
        groups = {
            str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
            for mark in item.iter_markers("xdist_group")
        }
        suffix = "@" + "_".join(sorted(groups))
        if groups and not item.nodeid.endswith(suffix):
            item._id = NodeId.parse(item.nodeid + suffix)  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def plugins() -> PluginHost:
    """The installed plugins (entry points), as production loads them."""
    return PluginHost.load()


# Snapshots of a freshly synced database, by (backend, tenants/, themes/, plugins).
_synced_snapshots: dict[tuple[str, str, str, int], str] = {}


@pytest.fixture
async def synced(
    db: Database, plugins: PluginHost, settings: Settings, migrated: MigratedDatabase
) -> Database:
    """The database with the repository's tenants/ files applied.

    Applying them into an empty database always gives the same rows, so each test worker
    syncs once per backend and later tests get a copy of those rows (tests/test_tenant_sync.py
    and tests/test_cli.py run the sync itself). A database that is not empty any more
    (another fixture wrote first) is synced for real.
    """
    from core.tenancy.sync import sync_tenants

    key = (migrated.backend, str(settings.tenants_dir), str(settings.themes_dir), id(plugins))
    snapshot = _synced_snapshots.get(key)
    if migrated.is_empty():
        if snapshot is not None:
            migrated.restore_rows(snapshot, empty_first=False)
            return db
    else:
        snapshot = ""  # not a fresh sync: nothing to keep
    # Without the files' demo [[members]]: tests make the people they need
    # (tests/test_login_flow.py covers members).
    await sync_tenants(db, plugins, settings.tenants_dir, settings.themes_dir, members=False)
    if snapshot is None:
        snapshot = _synced_snapshots[key] = f"synced_{len(_synced_snapshots)}"
        migrated.save_rows(snapshot)
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
