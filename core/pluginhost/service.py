"""Enable, disable and configure plugins for one tenant (inside a tenant session)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.pluginhost.manager import PluginHost
from core.pluginhost.models import TenantPlugin
from core.tenancy.service import bump_revision


async def set_plugin_state(
    session: AsyncSession,
    host: PluginHost,
    plugin_id: str,
    *,
    enabled: bool,
    settings: dict[str, Any] | None = None,
) -> str | None:
    """Apply one plugin's state for the session's tenant; return what changed, if anything.

    ``settings=None`` keeps the stored settings. Raises KeyError for an unknown plugin
    and PluginSettingsError for settings that do not fit its schema.
    """
    info = host.info(plugin_id)
    row = await session.scalar(select(TenantPlugin).where(TenantPlugin.plugin_id == plugin_id))
    current = dict(row.settings or {}) if row else {}
    wanted = info.validate_settings(current if settings is None else settings)
    if row is None:
        if not enabled:
            return None
        session.add(TenantPlugin(plugin_id=plugin_id, enabled=True, settings=wanted))
        change = f"enabled plugin {plugin_id}"
    elif row.enabled == enabled and current == wanted:
        return None
    else:
        if row.enabled != enabled:
            change = f"{'enabled' if enabled else 'disabled'} plugin {plugin_id}"
        else:
            change = f"changed settings of plugin {plugin_id}"
        row.enabled = enabled
        row.settings = wanted
    await bump_revision(session, session.sync_session.info["tenant_id"])
    return change


async def plugin_rows(session: AsyncSession) -> dict[str, TenantPlugin]:
    rows = await session.scalars(select(TenantPlugin))
    return {row.plugin_id: row for row in rows}
