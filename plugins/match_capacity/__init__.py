"""Matching by mentor capacity: prefer mentors with more of their places still free.

A score criterion (id ``match_capacity``) that depends on the mentor only:
``capacity / (capacity + load)``, where ``capacity`` is the places the mentor has left
in this run and ``load`` the mentees they already have. A mentor with all places free
scores 1, one with 1 of 3 free 1/3. It spreads mentees over mentors instead of filling
the first mentors up. Settings::

    [plugins.match_capacity]
    weight = 0.5
"""

from __future__ import annotations

from core.matching.criteria import Criterion
from core.pluginhost import PluginInfo, hookimpl
from core.tenancy.snapshot import TenantSnapshot
from plugins.match_capacity.criterion import CapacityCriterion
from plugins.match_capacity.settings import PLUGIN_ID, CapacitySettings
from plugins.match_support import N_

PLUGIN = PluginInfo(
    id=PLUGIN_ID,
    name=N_("Matching: mentor capacity"),
    description=N_(
        "Prefers mentors with more of their places still free, so that mentees "
        "are spread over the mentors."
    ),
    version="1.0.0",
    settings=CapacitySettings,
)


@hookimpl
def register_matching_criteria(tenant: TenantSnapshot) -> list[Criterion]:
    settings = CapacitySettings.model_validate(tenant.plugin_settings.get(PLUGIN_ID) or {})
    return [CapacityCriterion(settings)]
