"""The first wall: tenant sessions scope every ORM statement to their tenant.

Each test runs on SQLite and on PostgreSQL. On SQLite the ORM is the *only* wall,
so these tests are what stands between one tenant and another's data there.
Every test sets up two tenants with look-alike rows and attacks B from A.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import (
    Column,
    ForeignKey,
    MetaData,
    String,
    Table,
    Uuid,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.ext.asyncio import AsyncAttrs, create_async_engine
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    aliased,
    joinedload,
    make_transient_to_detached,
    mapped_column,
    relationship,
    selectinload,
)
from sqlalchemy.orm.exc import ObjectDeletedError

from core.db.base import TenantScoped, UUIDPrimaryKey
from core.db.postgres import enable_tenant_rls
from core.db.sessions import CrossTenantWriteError, Database
from core.identity.models import IdentityProvider
from core.pluginhost.models import TenantPlugin
from core.settings import Settings
from core.tenancy.models import Tenant


@dataclass
class TwoTenants:
    a: uuid.UUID
    b: uuid.UUID
    a_plugin: uuid.UUID
    b_plugin: uuid.UUID
    b_provider: uuid.UUID


def _provider(provider_id: str, **extra: object) -> IdentityProvider:
    return IdentityProvider(
        provider_id=provider_id,
        name=provider_id.title(),
        issuer=f"https://{provider_id}.example",
        client_id="tandem",
        client_secret_env="OIDC_SECRET",
        **extra,
    )


async def _seed(db: Database, tenant_id: uuid.UUID, only: str) -> tuple[uuid.UUID, uuid.UUID]:
    """Rows that look alike in both tenants ("shared") plus one of each tenant's own."""
    async with db.tenant_session(tenant_id) as session:
        shared = TenantPlugin(plugin_id="shared", settings={"owner": only})
        provider = _provider("keycloak")
        session.add_all([shared, TenantPlugin(plugin_id=only), provider])
        await session.commit()
        return shared.id, provider.id


@pytest.fixture
async def tenants(db: Database) -> TwoTenants:
    async with db.platform_session() as platform:
        a, b = Tenant(slug="iso-a", name="A"), Tenant(slug="iso-b", name="B")
        platform.add_all([a, b])
        await platform.commit()
    a_plugin, _ = await _seed(db, a.id, "only-a")
    b_plugin, b_provider = await _seed(db, b.id, "only-b")
    return TwoTenants(a.id, b.id, a_plugin, b_plugin, b_provider)


async def _plugins(db: Database, tenant_id: uuid.UUID) -> dict[str, bool]:
    async with db.tenant_session(tenant_id) as session:
        rows = await session.scalars(select(TenantPlugin))
        return {row.plugin_id: row.enabled for row in rows}


# --- reading -------------------------------------------------------------------------


async def test_select_sees_only_own_rows(db: Database, tenants: TwoTenants) -> None:
    for tenant_id, own in [(tenants.a, "only-a"), (tenants.b, "only-b")]:
        async with db.tenant_session(tenant_id) as session:
            plugins = (await session.scalars(select(TenantPlugin))).all()
            providers = (await session.scalars(select(IdentityProvider))).all()
            count = await session.scalar(select(func.count()).select_from(TenantPlugin))
        assert {p.plugin_id for p in plugins} == {"shared", own}
        assert {p.tenant_id for p in plugins} == {tenant_id}
        assert [p.tenant_id for p in providers] == [tenant_id]
        assert count == 2


async def test_where_on_other_tenants_id_finds_nothing(db: Database, tenants: TwoTenants) -> None:
    async with db.tenant_session(tenants.a) as session:
        by_tenant = await session.scalars(
            select(TenantPlugin).where(TenantPlugin.tenant_id == tenants.b)
        )
        by_id = await session.scalars(
            select(TenantPlugin).where(TenantPlugin.id == tenants.b_plugin)
        )
        assert by_tenant.all() == []
        assert by_id.all() == []


async def test_get_by_primary_key_of_other_tenant_returns_none(
    db: Database, tenants: TwoTenants
) -> None:
    async with db.tenant_session(tenants.a) as session:
        assert await session.get(TenantPlugin, tenants.b_plugin) is None
        assert await session.get(IdentityProvider, tenants.b_provider) is None
        # populate_existing bypasses nothing: it still goes through the filtered load.
        assert await session.get(TenantPlugin, tenants.b_plugin, populate_existing=True) is None
        own = await session.get(TenantPlugin, tenants.a_plugin)
        assert own is not None and own.tenant_id == tenants.a
    async with db.tenant_session(tenants.b) as session:
        assert await session.get(TenantPlugin, tenants.a_plugin) is None
        assert (await session.get(TenantPlugin, tenants.b_plugin)) is not None


async def test_smuggled_object_of_other_tenant_cannot_be_refreshed(
    db: Database, tenants: TwoTenants
) -> None:
    """An object claiming B's primary key, attached without a load, reads nothing of B."""
    async with db.tenant_session(tenants.a) as session:
        forged = TenantPlugin(id=tenants.b_plugin, tenant_id=tenants.a, plugin_id="?")
        make_transient_to_detached(forged)  # pretend it was loaded earlier
        session.add(forged)
        with pytest.raises(InvalidRequestError, match="Could not refresh"):
            await session.refresh(forged)
        session.expire(forged)  # an expired attribute loads like a refresh does
        with pytest.raises(ObjectDeletedError):
            await session.run_sync(lambda _sync: forged.settings)


async def test_subqueries_and_exists_are_filtered(db: Database, tenants: TwoTenants) -> None:
    async with db.tenant_session(tenants.a) as session:
        inner = select(TenantPlugin.id).where(TenantPlugin.plugin_id == "shared").subquery()
        assert await session.scalar(select(func.count()).select_from(inner)) == 1
        other_exists = exists().where(TenantPlugin.id == tenants.b_plugin)
        assert await session.scalar(select(other_exists)) is False


async def test_joins_and_aliases_are_filtered(db: Database, tenants: TwoTenants) -> None:
    async with db.tenant_session(tenants.a) as session:
        # Platform table joined to a tenant table: B's plugins do not appear under B.
        rows = await session.execute(
            select(Tenant.slug, TenantPlugin.plugin_id)
            .join(TenantPlugin, TenantPlugin.tenant_id == Tenant.id)
            .order_by(TenantPlugin.plugin_id)
        )
        assert rows.all() == [("iso-a", "only-a"), ("iso-a", "shared")]
        # Self-join through aliased(): "shared" exists in both tenants, so an
        # unfiltered alias would pair A's row with B's.
        other = aliased(TenantPlugin)
        pairs = await session.execute(
            select(TenantPlugin.tenant_id, other.tenant_id).join(
                other, other.plugin_id == TenantPlugin.plugin_id
            )
        )
        assert set(pairs.all()) == {(tenants.a, tenants.a)}
        # Two tenant tables joined on the tenant column.
        joined = await session.execute(
            select(IdentityProvider.tenant_id, TenantPlugin.tenant_id).join(
                TenantPlugin, TenantPlugin.plugin_id == "shared"
            )
        )
        assert joined.all() == [(tenants.a, tenants.a)]


# --- bulk statements -----------------------------------------------------------------


async def test_bulk_update_changes_only_own_rows(db: Database, tenants: TwoTenants) -> None:
    async with db.tenant_session(tenants.a) as session:
        result = await session.execute(update(TenantPlugin).values(enabled=False))
        targeted = await session.execute(
            update(TenantPlugin).where(TenantPlugin.id == tenants.b_plugin).values(enabled=False)
        )
        await session.commit()
    assert result.rowcount == 2
    assert targeted.rowcount == 0
    assert await _plugins(db, tenants.a) == {"shared": False, "only-a": False}
    assert await _plugins(db, tenants.b) == {"shared": True, "only-b": True}


async def test_bulk_delete_removes_only_own_rows(db: Database, tenants: TwoTenants) -> None:
    async with db.tenant_session(tenants.a) as session:
        targeted = await session.execute(
            delete(IdentityProvider).where(IdentityProvider.id == tenants.b_provider)
        )
        result = await session.execute(delete(TenantPlugin))
        await session.commit()
    assert targeted.rowcount == 0
    assert result.rowcount == 2
    assert await _plugins(db, tenants.a) == {}
    assert await _plugins(db, tenants.b) == {"shared": True, "only-b": True}
    async with db.tenant_session(tenants.b) as session:
        assert await session.get(IdentityProvider, tenants.b_provider) is not None


async def test_bulk_update_cannot_move_rows_to_other_tenant(
    db: Database, tenants: TwoTenants
) -> None:
    async with db.tenant_session(tenants.a) as session:
        with pytest.raises(CrossTenantWriteError):
            await session.execute(update(TenantPlugin).values(tenant_id=tenants.b))
        with pytest.raises(CrossTenantWriteError):
            await session.execute(
                update(TenantPlugin).ordered_values((TenantPlugin.tenant_id, tenants.b))
            )
        # A SQL expression cannot be checked before it runs, so it is refused.
        with pytest.raises(CrossTenantWriteError):
            await session.execute(update(TenantPlugin).values(tenant_id=Tenant.id))
    assert await _plugins(db, tenants.a) == {"shared": True, "only-a": True}
    assert await _plugins(db, tenants.b) == {"shared": True, "only-b": True}


async def test_bulk_insert_is_stamped_and_cannot_target_other_tenant(
    db: Database, tenants: TwoTenants
) -> None:
    async with db.tenant_session(tenants.a) as session:
        for statement, params in [
            (insert(TenantPlugin), [{"tenant_id": tenants.b, "plugin_id": "evil"}]),
            (insert(TenantPlugin).values(tenant_id=tenants.b, plugin_id="evil"), None),
            (insert(TenantPlugin).values([{"tenant_id": tenants.b, "plugin_id": "evil"}]), None),
        ]:
            with pytest.raises(CrossTenantWriteError):
                await session.execute(statement, params)
        copy_b = select(literal(tenants.b, Uuid), literal("evil"))
        with pytest.raises(CrossTenantWriteError, match="FROM SELECT"):
            await session.execute(
                insert(TenantPlugin).from_select(["tenant_id", "plugin_id"], copy_b)
            )
        await session.execute(insert(TenantPlugin), [{"plugin_id": "bulk-1"}])
        # Naming its own tenant is fine.
        await session.execute(insert(TenantPlugin), {"plugin_id": "bulk-2", "tenant_id": tenants.a})
        await session.execute(insert(TenantPlugin).values(plugin_id="bulk-3"))
        await session.commit()
    assert set(await _plugins(db, tenants.a)) == {"shared", "only-a", "bulk-1", "bulk-2", "bulk-3"}
    assert set(await _plugins(db, tenants.b)) == {"shared", "only-b"}


# --- unit-of-work writes -------------------------------------------------------------


async def test_new_rows_get_tenant_id_automatically(db: Database, tenants: TwoTenants) -> None:
    async with db.tenant_session(tenants.a) as session:
        plugin = TenantPlugin(plugin_id="fresh")
        session.add(plugin)
        await session.commit()
    assert plugin.tenant_id == tenants.a
    assert "fresh" not in await _plugins(db, tenants.b)


async def test_adding_row_for_other_tenant_raises(db: Database, tenants: TwoTenants) -> None:
    async with db.tenant_session(tenants.a) as session:
        session.add(TenantPlugin(plugin_id="evil", tenant_id=tenants.b))
        with pytest.raises(CrossTenantWriteError):
            await session.commit()
    assert "evil" not in await _plugins(db, tenants.b)


async def test_own_row_cannot_be_moved_to_other_tenant(db: Database, tenants: TwoTenants) -> None:
    async with db.tenant_session(tenants.a) as session:
        plugin = await session.get(TenantPlugin, tenants.a_plugin)
        assert plugin is not None
        plugin.tenant_id = tenants.b
        with pytest.raises(CrossTenantWriteError):
            await session.commit()
    assert await _plugins(db, tenants.b) == {"shared": True, "only-b": True}


async def test_detached_object_of_other_tenant_cannot_be_changed_or_deleted(
    db: Database, tenants: TwoTenants
) -> None:
    async with db.tenant_session(tenants.b) as session:
        b_plugin = await session.get(TenantPlugin, tenants.b_plugin)
    assert b_plugin is not None
    # Deleting it through A's session.
    async with db.tenant_session(tenants.a) as session:
        await session.delete(await session.merge(b_plugin, load=False))
        with pytest.raises(CrossTenantWriteError):
            await session.commit()
    # "Moving" it into A by rewriting its tenant_id.
    async with db.tenant_session(tenants.a) as session:
        attached = await session.merge(b_plugin, load=False)
        attached.tenant_id = tenants.a
        attached.enabled = False
        with pytest.raises(CrossTenantWriteError):
            await session.commit()
    # A normal merge loads by primary key, finds nothing, and refuses to insert a copy.
    async with db.tenant_session(tenants.a) as session:
        await session.merge(b_plugin)
        with pytest.raises(CrossTenantWriteError):
            await session.commit()
    assert await _plugins(db, tenants.b) == {"shared": True, "only-b": True}
    assert await _plugins(db, tenants.a) == {"shared": True, "only-a": True}


# --- relationships -------------------------------------------------------------------
# The platform's tenant models have no relationship between them yet, so two small
# models on their own metadata (never part of the application's schema) stand in.


class _RelBase(AsyncAttrs, DeclarativeBase):
    metadata = MetaData()


# Only so that TenantScoped's foreign key to tenants.id resolves; never created.
Table("tenants", _RelBase.metadata, Column("id", Uuid, primary_key=True))


class Shelf(UUIDPrimaryKey, TenantScoped, _RelBase):
    __tablename__ = "iso_test_shelves"

    name: Mapped[str] = mapped_column(String(50))
    books: Mapped[list[Book]] = relationship(back_populates="shelf", order_by="Book.title")


class Book(UUIDPrimaryKey, TenantScoped, _RelBase):
    __tablename__ = "iso_test_books"

    title: Mapped[str] = mapped_column(String(50))
    shelf_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("iso_test_shelves.id"))
    shelf: Mapped[Shelf] = relationship(back_populates="books")


REL_TABLES = [Shelf.__table__, Book.__table__]


@pytest.fixture
async def rel_tables(db: Database, settings: Settings) -> AsyncIterator[None]:
    """Create the stand-in tables as the owner (with RLS and grants on PostgreSQL)."""
    owner = create_async_engine(settings.migration_database_url)
    async with owner.begin() as conn:
        await conn.run_sync(_RelBase.metadata.create_all, tables=REL_TABLES)
        if conn.dialect.name == "postgresql":
            for table in REL_TABLES:
                await conn.run_sync(enable_tenant_rls, table.name)
                await conn.execute(
                    text(
                        f'GRANT SELECT, INSERT, UPDATE, DELETE ON "{table.name}" '
                        f'TO "{settings.app_db_role}"'
                    )
                )
    yield
    async with owner.begin() as conn:
        await conn.run_sync(_RelBase.metadata.drop_all, tables=REL_TABLES)
    await owner.dispose()


async def test_relationship_loading_is_filtered(
    db: Database, tenants: TwoTenants, rel_tables: None
) -> None:
    async with db.tenant_session(tenants.a) as session:
        a_shelf = Shelf(name="a-shelf")
        session.add(a_shelf)
        await session.commit()
    async with db.tenant_session(tenants.b) as session:
        b_shelf = Shelf(name="b-shelf")
        # B's book points at A's shelf: A must still not see it in a_shelf.books.
        session.add_all([b_shelf, Book(title="b-book", shelf_id=a_shelf.id)])
        await session.commit()
    async with db.tenant_session(tenants.a) as session:
        # A's book points at B's shelf: the reference must load as nothing.
        session.add_all(
            [Book(title="a-book", shelf=a_shelf), Book(title="a-orphan", shelf_id=b_shelf.id)]
        )
        await session.commit()

    for option in (selectinload(Shelf.books), joinedload(Shelf.books)):
        async with db.tenant_session(tenants.a) as session:
            shelves = (await session.scalars(select(Shelf).options(option))).unique().all()
            assert [(s.name, [b.title for b in s.books]) for s in shelves] == [
                ("a-shelf", ["a-book"])
            ]
    async with db.tenant_session(tenants.a) as session:
        shelf = await session.get(Shelf, a_shelf.id)
        assert shelf is not None
        assert [b.title for b in await shelf.awaitable_attrs.books] == ["a-book"]
        orphan = await session.scalar(select(Book).where(Book.title == "a-orphan"))
        assert orphan is not None
        assert await orphan.awaitable_attrs.shelf is None
        joined = await session.execute(select(Book.title, Shelf.name).join(Book.shelf))
        assert joined.all() == [("a-book", "a-shelf")]
