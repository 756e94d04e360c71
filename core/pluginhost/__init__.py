"""The plugin host: one pluggy PluginManager, hooks called per tenant.

Plugins import only from here::

    from core.pluginhost import PluginInfo, hookimpl
"""

from core.pluginhost.info import PluginInfo, PluginSettingsError
from core.pluginhost.markers import hookimpl, hookspec

__all__ = ["PluginInfo", "PluginSettingsError", "hookimpl", "hookspec"]
