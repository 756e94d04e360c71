"""Matching by availability: how many of the mentee's time slots suit the mentor too.

A score criterion (id ``match_availability``): the number of time slots both gave,
divided by the number the mentee gave (all of the mentee's slots suit the mentor: 1;
none: 0). A pair where either gave no slots scores ``unknown_score``. Slots are the
coarse ones of :mod:`core.reference.availability` (weekdays/weekends, day/evening).

Settings (per tenant, all optional)::

    [plugins.match_availability]
    weight = 1
    unknown_score = 0.5
"""

from __future__ import annotations

from core.matching.criteria import Criterion
from core.pluginhost import PluginInfo, hookimpl
from core.tenancy.snapshot import TenantSnapshot
from plugins.match_availability.criterion import AvailabilityCriterion
from plugins.match_availability.settings import PLUGIN_ID, AvailabilitySettings
from plugins.match_support import N_

PLUGIN = PluginInfo(
    id=PLUGIN_ID,
    name=N_("Matching: availability"),
    description=N_(
        "Scores pairs by the share of the mentee's time slots the mentor is free at too."
    ),
    version="1.0.0",
    settings=AvailabilitySettings,
)


@hookimpl
def register_matching_criteria(tenant: TenantSnapshot) -> list[Criterion]:
    settings = AvailabilitySettings.model_validate(tenant.plugin_settings.get(PLUGIN_ID) or {})
    return [AvailabilityCriterion(settings)]
