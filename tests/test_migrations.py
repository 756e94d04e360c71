"""Migrations build exactly the models, tear down cleanly, and build again.

Each backend gets its own empty database here (not the shared, already migrated
test database), because the point is to start from nothing.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Engine

from core.db.base import tenant_tables
from core.db.migrate import alembic_config, downgrade, upgrade
from core.db.models import load_all_models
from core.db.postgres import POLICY_NAME, create_app_role
from core.settings import ROOT, Settings
from tests.conftest import APP_ROLE
from tests.services import POSTGRES_ADMIN_URL, need_postgres


@dataclass
class FreshDatabase:
    backend: str
    settings: Settings
    inspector_engine: Engine  # synchronous, as the owner: for comparing and inspecting


def _settings(url: str) -> Settings:
    return Settings(
        env="test", root=ROOT, database_url=url, migration_database_url=url, app_db_role=APP_ROLE
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FreshDatabase]:
    if request.param == "sqlite":
        path = tmp_path / "migrations.db"
        engine = create_engine(f"sqlite:///{path}")
        yield FreshDatabase("sqlite", _settings(f"sqlite+aiosqlite:///{path}"), engine)
        engine.dispose()
        return
    need_postgres()
    name = f"tandem_migrations_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        create_app_role(conn, APP_ROLE)  # so that the grants are exercised too
    engine = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}")
    try:
        url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
        yield FreshDatabase("postgresql", _settings(url), engine)
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _differences(engine: Engine) -> list[Any]:
    """What autogenerate would write to make the database match the models."""
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        # Nothing is ignored: the models and the migrations agree exactly today.
        # Should an unavoidable difference appear (a dialect reflecting a type
        # differently), filter it here with a comment saying why it is harmless.
        return compare_metadata(context, load_all_models().metadata)


def _tables(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(inspect(conn).get_table_names())


def _policies(engine: Engine) -> dict[str, set[str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT tablename, policyname FROM pg_policies WHERE schemaname = 'public'")
        )
        policies: dict[str, set[str]] = {}
        for table, policy in rows:
            policies.setdefault(table, set()).add(policy)
        return policies


def _current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _revisions_oldest_first(settings: Settings) -> list[tuple[str, str]]:
    """(revision, the revision to downgrade to) for every migration, oldest first."""
    script = ScriptDirectory.from_config(alembic_config(settings))
    steps = []
    for revision in reversed(list(script.walk_revisions())):
        down = revision.down_revision
        assert not isinstance(down, tuple), f"{revision.revision}: merge revisions need care"
        steps.append((revision.revision, down or "base"))
    return steps


def test_migrations_have_a_single_head() -> None:
    script = ScriptDirectory.from_config(alembic_config(_settings("sqlite://")))
    assert len(script.get_heads()) == 1, script.get_heads()


def test_upgrade_matches_models_and_downgrade_leaves_nothing(fresh: FreshDatabase) -> None:
    engine, settings = fresh.inspector_engine, fresh.settings
    model_tables = set(load_all_models().metadata.tables)
    head = ScriptDirectory.from_config(alembic_config(settings)).get_current_head()

    upgrade(settings)
    assert _current_revision(engine) == head
    assert _tables(engine) == model_tables | {"alembic_version"}
    assert _differences(engine) == []
    if fresh.backend == "postgresql":
        assert _policies(engine) == {name: {POLICY_NAME} for name in tenant_tables()}
        _assert_app_role_grants(engine)

    downgrade(settings)
    assert _current_revision(engine) is None
    assert _tables(engine) == {"alembic_version"}
    if fresh.backend == "postgresql":
        assert _policies(engine) == {}
    # The comparison is live: from an empty schema it wants every model table back.
    added = {diff[1].name for diff in _differences(engine) if diff[0] == "add_table"}
    assert added == model_tables

    # Stairway: every migration can go up, down and up again on its own.
    for revision, previous in _revisions_oldest_first(settings):
        upgrade(settings, revision)
        downgrade(settings, previous)
        upgrade(settings, revision)
    assert _current_revision(engine) == head
    assert _differences(engine) == []
    if fresh.backend == "postgresql":
        assert _policies(engine) == {name: {POLICY_NAME} for name in tenant_tables()}


def _assert_app_role_grants(engine: Engine) -> None:
    """The app role may use the data but not the migration bookkeeping."""
    check = text("SELECT has_table_privilege(:role, :table, :privilege)")
    with engine.connect() as conn:
        for table in tenant_tables():
            for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE"):
                params = {"role": APP_ROLE, "table": table, "privilege": privilege}
                assert conn.scalar(check, params) is True, params
        params = {"role": APP_ROLE, "table": "alembic_version", "privilege": "SELECT"}
        assert conn.scalar(check, params) is False
