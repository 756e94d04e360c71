"""Turn a request's host into a :class:`Site`, with a short-lived cache.

Every process caches lookups for ``TANDEM_TENANT_CACHE_SECONDS``; changes made by
another process (a suspension, a plugin enabled) are therefore seen everywhere
within that time, with no message bus between processes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select

from core.db.sessions import Database
from core.tenancy.hosts import (
    CustomDomain,
    InvalidHost,
    PlatformHost,
    ReservedHost,
    TenantSubdomain,
    classify_host,
)
from core.tenancy.models import Tenant, TenantDomain
from core.tenancy.snapshot import TenantSnapshot, take_snapshot


class UnknownHostError(LookupError):
    """No tenant answers on this host (404)."""

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(f"{host}: {reason}")
        self.host = host
        self.reason = reason


class TenantSuspendedError(LookupError):
    """The tenant exists but is suspended (410)."""

    def __init__(self, tenant: TenantSnapshot) -> None:
        super().__init__(f"tenant {tenant.slug} is suspended")
        self.tenant = tenant


@dataclass(frozen=True)
class PlatformSite:
    """The operator's host: the platform page, no tenant."""

    host: str


@dataclass(frozen=True)
class TenantSite:
    host: str
    tenant: TenantSnapshot


Site = PlatformSite | TenantSite


class TenantResolver:
    def __init__(
        self,
        db: Database,
        base_domain: str,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 10_000,
    ) -> None:
        self._db = db
        self._base_domain = base_domain
        self._ttl = ttl_seconds
        self._clock = clock
        # Bounded: the Host header is chosen by the client, so a flood of made-up
        # hosts must not grow this process's memory without limit.
        self._max_entries = max(1, max_entries)
        self._cache: dict[str, tuple[float, Site | LookupError]] = {}

    async def resolve(self, host: str) -> Site:
        """Return the site for ``host`` or raise UnknownHostError / TenantSuspendedError."""
        now = self._clock()
        cached = self._cache.get(host)
        if cached is not None and cached[0] > now:
            outcome = cached[1]
        else:
            outcome = await self._lookup(host)
            self._remember(host, now + self._ttl, outcome)
        if isinstance(outcome, LookupError):
            raise _fresh(outcome)
        return outcome

    def _remember(self, host: str, expires: float, outcome: Site | LookupError) -> None:
        self._cache.pop(host, None)
        if len(self._cache) >= self._max_entries:
            now = self._clock()
            for key in [k for k, (until, _) in self._cache.items() if until <= now]:
                del self._cache[key]
        while len(self._cache) >= self._max_entries:
            del self._cache[next(iter(self._cache))]  # the oldest entry
        self._cache[host] = (expires, outcome)

    def invalidate(self) -> None:
        """Forget every cached lookup in this process (after a local change)."""
        self._cache.clear()

    async def _lookup(self, host: str) -> Site | LookupError:
        kind = classify_host(host, self._base_domain)
        match kind:
            case PlatformHost():
                return PlatformSite(host)
            case InvalidHost(reason):
                return UnknownHostError(host, reason)
            case ReservedHost(name):
                return UnknownHostError(host, f"'{name}' is reserved and names no tenant")
            case TenantSubdomain(slug):
                condition = Tenant.slug == slug
            case CustomDomain(domain):
                condition = Tenant.id.in_(
                    select(TenantDomain.tenant_id).where(TenantDomain.domain == domain)
                )
        async with self._db.platform_session() as session:
            tenant = await session.scalar(select(Tenant).where(condition))
        if tenant is None:
            return UnknownHostError(host, "no tenant has this address")
        snapshot = await take_snapshot(self._db, tenant)
        if not snapshot.is_active:
            return TenantSuspendedError(snapshot)
        return TenantSite(host, snapshot)


def _fresh(error: LookupError) -> LookupError:
    """A new exception for each request: re-raising the cached instance would grow its
    traceback with every request (keeping their frames alive) and share it across tasks."""
    if isinstance(error, UnknownHostError):
        return UnknownHostError(error.host, error.reason)
    if isinstance(error, TenantSuspendedError):
        return TenantSuspendedError(error.tenant)
    return type(error)(*error.args)
