"""An immutable picture of one tenant, taken once per request or job.

Handlers, templates, plugins and jobs read the tenant from here rather than from a
live ORM object, so that a cached lookup can be shared safely between requests.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.sessions import Database
from core.pluginhost.models import TenantPlugin
from core.tenancy.appearance import effective_theme, logo_version
from core.tenancy.models import Tenant, TenantStatus


@dataclass(frozen=True)
class TenantSnapshot:
    id: uuid.UUID
    slug: str
    name: str
    status: TenantStatus
    default_locale: str
    locales: tuple[str, ...]
    theme: str
    revision: int
    domains: tuple[str, ...] = ()
    plugin_settings: MappingProxyType[str, dict[str, Any]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    # None: the platform default (see core.identity.sessions.SessionPolicy).
    session_idle_minutes: int | None = None
    session_absolute_hours: int | None = None
    # Set by the tenant's admins on /admin/appearance (``theme`` above is already the
    # one in effect: theirs, or the tenant file's). ``accent``: "#rrggbb" or None for
    # the theme's own; ``logo_version``: a prefix of the logo's SHA-256, None without one.
    accent: str | None = None
    logo_version: str | None = None

    @property
    def is_active(self) -> bool:
        return self.status == TenantStatus.ACTIVE

    @property
    def enabled_plugins(self) -> frozenset[str]:
        return frozenset(self.plugin_settings)


async def take_snapshot(db: Database, tenant: Tenant) -> TenantSnapshot:
    """Freeze ``tenant`` together with its enabled plugins' settings."""
    async with db.tenant_session(tenant.id) as session:
        plugin_settings = await _enabled_plugin_settings(session)
    return TenantSnapshot(
        id=tenant.id,
        slug=tenant.slug,
        name=tenant.name,
        status=tenant.status,
        default_locale=tenant.default_locale,
        locales=tuple(tenant.locales or [tenant.default_locale]),
        theme=effective_theme(tenant),
        revision=tenant.revision,
        domains=tuple(sorted(d.domain for d in tenant.domains)),
        plugin_settings=MappingProxyType(plugin_settings),
        session_idle_minutes=tenant.session_idle_minutes,
        session_absolute_hours=tenant.session_absolute_hours,
        accent=tenant.accent_color,
        logo_version=logo_version(tenant),
    )


async def load_snapshot(db: Database, tenant_id: uuid.UUID) -> TenantSnapshot | None:
    async with db.platform_session() as session:
        tenant = await session.get(Tenant, tenant_id)
    return None if tenant is None else await take_snapshot(db, tenant)


async def _enabled_plugin_settings(session: AsyncSession) -> dict[str, dict[str, Any]]:
    rows = await session.scalars(select(TenantPlugin).where(TenantPlugin.enabled.is_(True)))
    return {row.plugin_id: dict(row.settings or {}) for row in rows}
