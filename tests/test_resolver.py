"""TenantResolver: host → site, with a per-process cache that expires after a TTL."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import event, select, update

from core.db.sessions import Database
from core.pluginhost.manager import PluginHost
from core.pluginhost.service import set_plugin_state
from core.tenancy.models import Tenant, TenantDomain, TenantStatus
from core.tenancy.resolver import (
    PlatformSite,
    TenantResolver,
    TenantSite,
    TenantSuspendedError,
    UnknownHostError,
)

TTL = 5.0
TENANT_FILES = Path(__file__).parents[1] / "tenants"


def tenant_file_plugins(slug: str) -> frozenset[str]:
    """The plugins ``tenants/<slug>.toml`` enables."""
    text = (TENANT_FILES / f"{slug}.toml").read_text(encoding="utf-8")
    return frozenset(tomllib.loads(text).get("plugins", {}))


class FakeClock:
    """A monotonic clock the test moves by hand, so that TTLs need no sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_resolver(db: Database, clock: FakeClock, ttl: float = TTL) -> TenantResolver:
    return TenantResolver(db, "localhost", ttl, clock=clock)


@contextmanager
def count_queries(db: Database) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)


async def tenant_by_slug(db: Database, slug: str) -> Tenant:
    async with db.platform_session() as session:
        tenant = await session.scalar(select(Tenant).where(Tenant.slug == slug))
    assert tenant is not None
    return tenant


async def set_status(db: Database, slug: str, status: TenantStatus) -> None:
    async with db.platform_session() as session, session.begin():
        await session.execute(update(Tenant).where(Tenant.slug == slug).values(status=status))


async def rename(db: Database, slug: str, name: str) -> None:
    async with db.platform_session() as session, session.begin():
        await session.execute(update(Tenant).where(Tenant.slug == slug).values(name=name))


async def add_domain(db: Database, slug: str, domain: str) -> None:
    tenant = await tenant_by_slug(db, slug)
    async with db.platform_session() as session, session.begin():
        session.add(TenantDomain(tenant_id=tenant.id, domain=domain))


# --- what a host resolves to -------------------------------------------------------------


async def test_subdomain_resolves_to_its_tenant_with_plugins(
    synced: Database, clock: FakeClock
) -> None:
    site = await make_resolver(synced, clock).resolve("muenchen.localhost:8000")
    assert isinstance(site, TenantSite)
    tenant = site.tenant
    assert site.host == "muenchen.localhost:8000"
    assert tenant.slug == "muenchen"
    assert tenant.name == "Landeshauptstadt München \N{EN DASH} Mentoring-Partnerschaft"
    assert tenant.default_locale == "de"
    assert tenant.locales == ("de", "en", "ar", "uk", "tr")
    assert tenant.theme == "muenchen"
    assert tenant.is_active
    assert tenant.enabled_plugins == tenant_file_plugins("muenchen")
    assert "announcements" in tenant.enabled_plugins
    settings = tenant.plugin_settings["announcements"]
    assert settings["title"]["de"] == "Neuer Durchgang ab Februar"


async def test_each_tenant_gets_its_own_snapshot_not_another_s(
    synced: Database, clock: FakeClock
) -> None:
    resolver = make_resolver(synced, clock)
    muenchen = await resolver.resolve("muenchen.localhost")
    augsburg = await resolver.resolve("augsburg.localhost")
    toronto = await resolver.resolve("TORONTO.localhost.")
    assert isinstance(muenchen, TenantSite)
    assert isinstance(augsburg, TenantSite)
    assert isinstance(toronto, TenantSite)
    assert {muenchen.tenant.id, augsburg.tenant.id, toronto.tenant.id} == {
        (await tenant_by_slug(synced, slug)).id for slug in ("muenchen", "augsburg", "toronto")
    }
    assert len({muenchen.tenant.id, augsburg.tenant.id, toronto.tenant.id}) == 3
    # The announcements plugin is muenchen's; its settings never leak into the others.
    assert augsburg.tenant.enabled_plugins == tenant_file_plugins("augsburg")
    assert toronto.tenant.enabled_plugins == tenant_file_plugins("toronto")
    assert "announcements" not in augsburg.tenant.enabled_plugins | toronto.tenant.enabled_plugins
    assert set(augsburg.tenant.plugin_settings) == tenant_file_plugins("augsburg")
    assert "email_login" in augsburg.tenant.enabled_plugins
    assert "triec_fields" in toronto.tenant.enabled_plugins
    assert toronto.tenant.locales == ("en", "ar", "uk")
    assert toronto.tenant.default_locale == "en"


async def test_base_domain_is_the_platform(synced: Database, clock: FakeClock) -> None:
    site = await make_resolver(synced, clock).resolve("localhost:8000")
    assert site == PlatformSite("localhost:8000")


async def test_custom_domain_resolves_to_its_tenant(synced: Database, clock: FakeClock) -> None:
    await add_domain(synced, "augsburg", "mentoring.tuerantuer.de")
    resolver = make_resolver(synced, clock)
    site = await resolver.resolve("Mentoring.TuerAnTuer.de:443")
    assert isinstance(site, TenantSite)
    assert site.tenant.slug == "augsburg"
    assert site.tenant.domains == ("mentoring.tuerantuer.de",)
    # The domain belongs to augsburg alone; a neighbour of it names no tenant.
    with pytest.raises(UnknownHostError):
        await resolver.resolve("other.tuerantuer.de")


@pytest.mark.parametrize(
    "host",
    [
        "nosuchtenant.localhost:8000",
        "www.localhost",
        "admin.localhost:8000",
        "a.muenchen.localhost",
        "127.0.0.1:8000",
        "[::1]:8000",
        "",
        "mentoring.example.org",
        "muenchen.localhost:99999",
    ],
)
async def test_unknown_reserved_and_garbage_hosts_are_unknown(
    synced: Database, clock: FakeClock, host: str
) -> None:
    with pytest.raises(UnknownHostError) as raised:
        await make_resolver(synced, clock).resolve(host)
    assert raised.value.host == host
    assert raised.value.reason


async def test_no_tenant_at_all_means_no_fallback(db: Database, clock: FakeClock) -> None:
    """An empty platform: a tenant host is unknown, never some default tenant."""
    with pytest.raises(UnknownHostError):
        await make_resolver(db, clock).resolve("muenchen.localhost")
    assert await make_resolver(db, clock).resolve("localhost") == PlatformSite("localhost")


async def test_suspended_tenant_raises_with_its_snapshot(
    synced: Database, clock: FakeClock
) -> None:
    await set_status(synced, "augsburg", TenantStatus.SUSPENDED)
    resolver = make_resolver(synced, clock)
    with pytest.raises(TenantSuspendedError) as raised:
        await resolver.resolve("augsburg.localhost")
    assert raised.value.tenant.slug == "augsburg"
    assert raised.value.tenant.status == TenantStatus.SUSPENDED
    # Suspending one tenant leaves the others alone.
    site = await resolver.resolve("muenchen.localhost")
    assert isinstance(site, TenantSite)


async def test_suspended_tenant_via_custom_domain_is_suspended_too(
    synced: Database, clock: FakeClock
) -> None:
    await add_domain(synced, "toronto", "mentoring.example.ca")
    await set_status(synced, "toronto", TenantStatus.SUSPENDED)
    with pytest.raises(TenantSuspendedError):
        await make_resolver(synced, clock).resolve("mentoring.example.ca")


# --- caching -----------------------------------------------------------------------------


async def test_a_cached_lookup_runs_no_query(synced: Database, clock: FakeClock) -> None:
    resolver = make_resolver(synced, clock)
    with count_queries(synced) as first:
        await resolver.resolve("muenchen.localhost")
    assert first, "the first lookup must go to the database"
    with count_queries(synced) as second:
        again = await resolver.resolve("muenchen.localhost")
        with pytest.raises(UnknownHostError):
            await resolver.resolve("nosuch.localhost")
    assert isinstance(again, TenantSite)
    assert len(second) > 0  # the unknown host was looked up once …
    with count_queries(synced) as third:
        await resolver.resolve("muenchen.localhost")
        with pytest.raises(UnknownHostError):  # … and its miss is cached too
            await resolver.resolve("nosuch.localhost")
    assert third == []


async def test_cache_is_per_host_string(synced: Database, clock: FakeClock) -> None:
    resolver = make_resolver(synced, clock)
    first = await resolver.resolve("muenchen.localhost")
    other_port = await resolver.resolve("muenchen.localhost:8000")
    assert isinstance(first, TenantSite) and isinstance(other_port, TenantSite)
    assert first.tenant.id == other_port.tenant.id
    assert other_port.host == "muenchen.localhost:8000"  # not the first host's answer


async def test_change_is_invisible_until_the_ttl_passes(synced: Database, clock: FakeClock) -> None:
    resolver = make_resolver(synced, clock)
    before = await resolver.resolve("muenchen.localhost")
    assert isinstance(before, TenantSite)
    await rename(synced, "muenchen", "München (renamed)")

    clock.advance(TTL - 0.1)
    cached = await resolver.resolve("muenchen.localhost")
    assert isinstance(cached, TenantSite)
    assert cached.tenant.name == before.tenant.name

    clock.advance(0.2)
    fresh = await resolver.resolve("muenchen.localhost")
    assert isinstance(fresh, TenantSite)
    assert fresh.tenant.name == "München (renamed)"


async def test_a_cached_miss_expires_too(synced: Database, clock: FakeClock) -> None:
    resolver = make_resolver(synced, clock)
    with pytest.raises(UnknownHostError):
        await resolver.resolve("mentoring.muenchen.de")
    await add_domain(synced, "muenchen", "mentoring.muenchen.de")
    with pytest.raises(UnknownHostError):
        await resolver.resolve("mentoring.muenchen.de")
    clock.advance(TTL + 1)
    site = await resolver.resolve("mentoring.muenchen.de")
    assert isinstance(site, TenantSite) and site.tenant.slug == "muenchen"


async def test_zero_ttl_means_no_cache(synced: Database, clock: FakeClock) -> None:
    resolver = make_resolver(synced, clock, ttl=0)
    await resolver.resolve("toronto.localhost")
    await set_status(synced, "toronto", TenantStatus.SUSPENDED)
    with pytest.raises(TenantSuspendedError):
        await resolver.resolve("toronto.localhost")


async def test_two_processes_both_see_a_change_after_their_ttl(
    synced: Database, clock: FakeClock, plugins: PluginHost
) -> None:
    """Two resolvers on one database stand for two web processes."""
    web1 = make_resolver(synced, clock)
    web2 = make_resolver(synced, clock)
    before = tenant_file_plugins("augsburg")  # without announcements
    after = before | {"announcements"}
    for resolver in (web1, web2):
        site = await resolver.resolve("augsburg.localhost")
        assert isinstance(site, TenantSite)
        assert site.tenant.enabled_plugins == before

    # "web1" enables a plugin for augsburg and suspends toronto.
    augsburg = await tenant_by_slug(synced, "augsburg")
    async with synced.tenant_session(augsburg.id) as session, session.begin():
        await set_plugin_state(
            session,
            plugins,
            "announcements",
            enabled=True,
            settings={"title": {"de": "Hallo"}, "message": {"de": "Willkommen"}},
        )
    web1.invalidate()

    # The process that made the change sees it at once …
    site1 = await web1.resolve("augsburg.localhost")
    assert isinstance(site1, TenantSite)
    assert site1.tenant.enabled_plugins == after
    # … the other one still answers from its cache …
    stale = await web2.resolve("augsburg.localhost")
    assert isinstance(stale, TenantSite)
    assert stale.tenant.enabled_plugins == before
    assert stale.tenant.revision < site1.tenant.revision
    # … until its TTL has passed.
    clock.advance(TTL + 0.01)
    site2 = await web2.resolve("augsburg.localhost")
    assert isinstance(site2, TenantSite)
    assert site2.tenant.enabled_plugins == after
    assert site2.tenant.revision == site1.tenant.revision


async def test_suspension_reaches_every_process_and_invalidate_is_immediate(
    synced: Database, clock: FakeClock
) -> None:
    web1 = make_resolver(synced, clock)
    web2 = make_resolver(synced, clock)
    await web1.resolve("toronto.localhost")
    await web2.resolve("toronto.localhost")

    await set_status(synced, "toronto", TenantStatus.SUSPENDED)
    web1.invalidate()
    with pytest.raises(TenantSuspendedError):
        await web1.resolve("toronto.localhost")
    assert isinstance(await web2.resolve("toronto.localhost"), TenantSite)
    clock.advance(TTL)
    for resolver in (web1, web2):  # both now hold a fresh "suspended" answer
        with pytest.raises(TenantSuspendedError):
            await resolver.resolve("toronto.localhost")

    # Reactivation travels the same way.
    await set_status(synced, "toronto", TenantStatus.ACTIVE)
    web2.invalidate()
    assert isinstance(await web2.resolve("toronto.localhost"), TenantSite)
    with pytest.raises(TenantSuspendedError):
        await web1.resolve("toronto.localhost")
    clock.advance(TTL)
    assert isinstance(await web1.resolve("toronto.localhost"), TenantSite)


async def test_made_up_hosts_cannot_grow_the_cache_without_bound(
    synced: Database, clock: FakeClock
) -> None:
    resolver = TenantResolver(synced, "localhost", TTL, clock=clock, max_entries=3)
    await resolver.resolve("muenchen.localhost")
    for n in range(3):  # a flood of unknown subdomains pushes the oldest entry out
        with pytest.raises(UnknownHostError):
            await resolver.resolve(f"flood{n}.localhost")
    with count_queries(synced) as evicted:
        assert isinstance(await resolver.resolve("muenchen.localhost"), TenantSite)
    assert evicted, "the evicted entry is looked up again"
    with count_queries(synced) as kept, pytest.raises(UnknownHostError):
        await resolver.resolve("flood2.localhost")
    assert kept == [], "the newest entries stay cached"


async def test_expired_entries_are_dropped_before_live_ones(
    synced: Database, clock: FakeClock
) -> None:
    resolver = TenantResolver(synced, "localhost", TTL, clock=clock, max_entries=2)
    with pytest.raises(UnknownHostError):
        await resolver.resolve("old.localhost")
    clock.advance(TTL - 1)
    await resolver.resolve("muenchen.localhost")
    clock.advance(2)  # "old" has expired, "muenchen" has not
    await resolver.resolve("augsburg.localhost")
    with count_queries(synced) as queries:
        await resolver.resolve("muenchen.localhost")
        await resolver.resolve("augsburg.localhost")
    assert queries == []


async def test_each_cached_miss_raises_a_fresh_exception(
    synced: Database, clock: FakeClock
) -> None:
    """Re-raising one cached instance would chain every request's frames onto it."""
    resolver = make_resolver(synced, clock)
    await set_status(synced, "toronto", TenantStatus.SUSPENDED)
    for host, error_type in [
        ("nosuch.localhost", UnknownHostError),
        ("toronto.localhost", TenantSuspendedError),
    ]:
        raised = []
        for _ in range(3):
            with pytest.raises(error_type) as info:
                await resolver.resolve(host)
            raised.append(info.value)
        assert len({id(error) for error in raised}) == 3
        assert str(raised[0]) == str(raised[2])
