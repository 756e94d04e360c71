"""Load plugins from the ``tandem.plugins`` entry points and call hooks per tenant."""

from __future__ import annotations

from collections.abc import Iterable
from types import ModuleType
from typing import Any

import pluggy

from core import hookspecs
from core.pluginhost.info import PluginInfo
from core.pluginhost.markers import ENTRY_POINT_GROUP, PROJECT_NAME
from core.tenancy.snapshot import TenantSnapshot


class PluginLoadError(RuntimeError):
    pass


class TenantHooks:
    """The hook relay for one set of enabled plugins (pluggy's subset_hook_caller)."""

    def __init__(self, pm: pluggy.PluginManager, disabled: list[object]) -> None:
        self._pm = pm
        self._disabled = disabled
        self._callers: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._callers:
            if not hasattr(self._pm.hook, name):
                raise AttributeError(f"no hook named {name!r}")
            self._callers[name] = self._pm.subset_hook_caller(name, self._disabled)
        return self._callers[name]


class PluginHost:
    """One per process. ``hooks_for(tenant)`` reaches only that tenant's enabled plugins."""

    def __init__(self, pm: pluggy.PluginManager, infos: dict[str, PluginInfo]) -> None:
        self.pm = pm
        self.infos = infos
        self._relays: dict[frozenset[str], TenantHooks] = {}

    @classmethod
    def load(
        cls, *, entry_points: bool = True, extra: Iterable[ModuleType | object] = ()
    ) -> PluginHost:
        pm = pluggy.PluginManager(PROJECT_NAME)
        pm.add_hookspecs(hookspecs)
        if entry_points:
            pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
        for plugin in extra:
            info = _info_of(plugin)
            pm.register(plugin, name=info.id)
        infos: dict[str, PluginInfo] = {}
        for name, plugin in pm.list_name_plugin():
            info = _info_of(plugin, name)
            if info.id != name:
                raise PluginLoadError(
                    f"plugin registered as {name!r} declares id {info.id!r}; they must match"
                )
            infos[info.id] = info
        # An implementation of a hook that does not exist is a typo or a version
        # mismatch: fail at start-up rather than never being called.
        pm.check_pending()
        return cls(pm, infos)

    def info(self, plugin_id: str) -> PluginInfo:
        try:
            return self.infos[plugin_id]
        except KeyError:
            known = ", ".join(sorted(self.infos)) or "none"
            raise KeyError(f"unknown plugin {plugin_id!r} (installed: {known})") from None

    def hooks_for(self, tenant: TenantSnapshot) -> TenantHooks:
        return self.hooks_for_plugins(tenant.enabled_plugins)

    def hooks_for_plugins(self, enabled: frozenset[str]) -> TenantHooks:
        # Keyed by the enabled set, which comes from the tenant snapshot: when a
        # tenant's plugins change, its next snapshot maps to a different relay in
        # every process, with no explicit invalidation needed.
        relay = self._relays.get(enabled)
        if relay is None:
            disabled = [
                self.pm.get_plugin(plugin_id)
                for plugin_id in self.infos
                if plugin_id not in enabled
            ]
            relay = TenantHooks(self.pm, disabled)
            self._relays[enabled] = relay
        return relay

    @property
    def all_hooks(self) -> pluggy.HookRelay:
        """Hooks of every installed plugin, for platform-wide work (not tenant pages)."""
        return self.pm.hook


def _info_of(plugin: object, name: str | None = None) -> PluginInfo:
    info = getattr(plugin, "PLUGIN", None)
    if not isinstance(info, PluginInfo):
        which = f"plugin {name!r} ({plugin!r})" if name else repr(plugin)
        raise PluginLoadError(
            f"{which} has no PLUGIN = PluginInfo(...) "
            "(from core.pluginhost import PluginInfo; see docs/plugins.md)"
        )
    return info
