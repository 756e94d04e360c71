"""Import every model module so that ``Base.metadata`` is complete (migrations, tests).

Installed plugins keep their tables in a ``models`` module next to their code
(``plugins/email_login/models.py``); those are found through the ``tandem.plugins``
entry points, so core never names a plugin.
"""

import importlib
import importlib.util
from importlib.metadata import entry_points

from core.db.base import Base
from core.pluginhost.markers import ENTRY_POINT_GROUP


def load_all_models() -> type[Base]:
    import core.applications.models
    import core.certificates.models
    import core.identity.attempts
    import core.identity.invitations
    import core.identity.models
    import core.jobs.models
    import core.matching.models
    import core.pairings.models
    import core.pluginhost.models
    import core.programmes.models
    import core.tenancy.models  # noqa: F401

    import_plugin_models()
    return Base


def import_plugin_models() -> list[str]:
    """Import ``<plugin module>.models`` of every installed plugin that has one; return
    their names. A plugin that is a single module, or has no models, is skipped."""
    imported = []
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        name = f"{entry_point.module}.models"
        try:
            found = importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:  # the plugin is a module, not a package
            found = False
        if found:
            importlib.import_module(name)
            imported.append(name)
    return imported
