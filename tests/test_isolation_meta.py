"""Meta-tests: CI fails when a table escapes the isolation rules.

* Every table with a ``tenant_id`` is either tenant-owned (:class:`TenantScoped`)
  or a platform table that says why in ``info["platform_table"]``.
* Every unique constraint and index of a tenant-owned table leads with
  ``tenant_id``, so uniqueness is per tenant and lookups stay within one tenant.
* On PostgreSQL every tenant-owned table has row-level security enabled *and
  forced*, and each of its policies compares against ``app.tenant_id``.

The checks are plain functions so that they are first tested against a
deliberately broken schema: a meta-test that cannot fail proves nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from sqlalchemy import (
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.ext.asyncio import create_async_engine

from core.db.base import tenant_tables
from core.db.models import load_all_models
from core.settings import Settings

TENANT_COLUMN = "tenant_id"


def unclassified_tables(tables: Iterable[Table], tenant_owned: set[str]) -> list[str]:
    """Tables with a tenant_id that are neither tenant-owned nor a justified platform table."""
    problems = []
    for table in tables:
        reason = table.info.get("platform_table")
        if table.name in tenant_owned and reason:
            problems.append(f"{table.name}: tenant-owned but also marked platform_table")
        elif (
            TENANT_COLUMN in table.c
            and table.name not in tenant_owned
            and not (isinstance(reason, str) and reason.strip())
        ):
            problems.append(f"{table.name}: has tenant_id but no platform_table reason")
    return problems


def misordered_keys(table: Table) -> list[str]:
    """Unique constraints and indexes of a tenant-owned table that do not lead with tenant_id."""
    problems = []
    keys: list[UniqueConstraint | Index] = [
        c for c in table.constraints if isinstance(c, UniqueConstraint)
    ]
    keys += list(table.indexes)
    for key in keys:
        columns = [column.name for column in key.columns]
        if columns == [TENANT_COLUMN] and isinstance(key, Index) and not key.unique:
            continue  # the plain tenant_id index every tenant-owned table has
        if not columns or columns[0] != TENANT_COLUMN:
            label = key.name or "+".join(columns)
            problems.append(f"{table.name}.{label}: {columns} does not start with tenant_id")
    return problems


def bad_tenant_columns(table: Table) -> list[str]:
    column = table.c.get(TENANT_COLUMN)
    if column is None:
        return [f"{table.name}: no tenant_id column"]
    targets = {fk.target_fullname for fk in column.foreign_keys}
    problems = []
    if column.nullable:
        problems.append(f"{table.name}.tenant_id is nullable")
    if targets != {"tenants.id"}:
        problems.append(f"{table.name}.tenant_id references {targets or 'nothing'}")
    return problems


@pytest.fixture(scope="module")
def metadata() -> MetaData:
    return load_all_models().metadata


# --- the checks catch what they should -----------------------------------------------


def _broken_schema() -> MetaData:
    meta = MetaData()
    Table("tenants", meta, Column("id", Uuid, primary_key=True))
    Table(
        "leaky",  # tenant-owned, but keys that ignore the tenant
        meta,
        Column("id", Integer),
        Column("tenant_id", Uuid, ForeignKey("tenants.id"), nullable=True, index=True),
        Column("email", String(50), unique=True),
        Column("code", String(10)),
        PrimaryKeyConstraint("id"),
        UniqueConstraint("code", "tenant_id"),
        Index("ix_leaky_code", "code"),
        Index("ix_leaky_tenant_code", "tenant_id", "code"),  # fine: leads with tenant_id
    )
    Table("stray", meta, Column("tenant_id", Uuid))  # neither owned nor justified
    Table("shrug", meta, Column("tenant_id", Uuid), info={"platform_table": "  "})
    Table("vouched", meta, Column("tenant_id", Uuid), info={"platform_table": "a reason"})
    return meta


def test_checks_reject_a_broken_schema() -> None:
    meta = _broken_schema()
    leaky = meta.tables["leaky"]
    assert unclassified_tables(meta.tables.values(), {"leaky"}) == [
        "stray: has tenant_id but no platform_table reason",
        "shrug: has tenant_id but no platform_table reason",
    ]
    assert unclassified_tables([meta.tables["vouched"]], {"vouched"}) == [
        "vouched: tenant-owned but also marked platform_table"
    ]
    problems = misordered_keys(leaky)
    assert sorted(problems) == [
        "leaky.code+tenant_id: ['code', 'tenant_id'] does not start with tenant_id",
        "leaky.email: ['email'] does not start with tenant_id",
        "leaky.ix_leaky_code: ['code'] does not start with tenant_id",
    ]
    assert bad_tenant_columns(leaky) == ["leaky.tenant_id is nullable"]
    assert bad_tenant_columns(meta.tables["stray"]) == [
        "stray.tenant_id is nullable",
        "stray.tenant_id references nothing",
    ]


# --- the real schema (no database needed) --------------------------------------------


def test_there_are_tenant_owned_tables(metadata: MetaData) -> None:
    owned = tenant_tables()
    assert {"tenant_plugins", "identity_providers"} <= set(owned)
    assert set(owned) <= set(metadata.tables)


def test_every_tenant_id_table_is_tenant_owned_or_justified(metadata: MetaData) -> None:
    assert unclassified_tables(metadata.tables.values(), set(tenant_tables())) == []


def test_tenant_owned_tables_have_a_real_tenant_column(metadata: MetaData) -> None:
    problems = [p for name in tenant_tables() for p in bad_tenant_columns(metadata.tables[name])]
    assert problems == []


def test_unique_constraints_and_indexes_lead_with_tenant_id(metadata: MetaData) -> None:
    problems = [p for name in tenant_tables() for p in misordered_keys(metadata.tables[name])]
    assert problems == []


# --- the real database: forced RLS policies on PostgreSQL ----------------------------

RLS_STATE = text(
    "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = 'public' AND c.relkind = 'r'"
)
POLICIES = text(
    "SELECT tablename, policyname, permissive, cmd, qual, with_check "
    "FROM pg_policies WHERE schemaname = 'public'"
)
TENANT_ID_COLUMNS = text(
    "SELECT table_name FROM information_schema.columns "
    "WHERE table_schema = 'public' AND column_name = 'tenant_id'"
)


@pytest.mark.parametrize("migrated", ["postgresql"], indirect=True)
async def test_every_tenant_table_has_a_forced_tenant_policy(
    settings: Settings, metadata: MetaData
) -> None:
    engine = create_async_engine(settings.migration_database_url)
    try:
        async with engine.connect() as conn:
            rls = {row[0]: (row[1], row[2]) for row in await conn.execute(RLS_STATE)}
            policies = (await conn.execute(POLICIES)).all()
            with_tenant_id = {row[0] for row in await conn.execute(TENANT_ID_COLUMNS)}
    finally:
        await engine.dispose()

    owned = tenant_tables()
    assert {name: rls.get(name) for name in owned} == {name: (True, True) for name in owned}
    for name in owned:
        table_policies = [p for p in policies if p.tablename == name]
        assert table_policies, f"{name} has no row-level-security policy"
        for policy in table_policies:
            # Permissive policies are OR-ed: a single lax one would open the table.
            assert "app.tenant_id" in (policy.qual or ""), policy
            assert policy.with_check is None or "app.tenant_id" in policy.with_check, policy
        assert any(p.cmd == "ALL" for p in table_policies), f"{name}: no policy for all commands"
    # A table in the database with a tenant_id must be one the models classify.
    unknown = with_tenant_id - set(owned)
    assert all(metadata.tables[name].info.get("platform_table") for name in unknown), unknown
