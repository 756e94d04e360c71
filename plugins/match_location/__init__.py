"""Matching by place: the same district scores highest, nearby districts nearly as much.

A score criterion (id ``match_location``). The same district (names compared after
trimming and case-folding) scores 1. Otherwise the score falls with the distance
between the two places, ``max(0, 1 - km / max_km)``: a person's own coordinates where
they are known (instance files may give them), else the centre of their district from
``districts``. A pair where either place is unknown — no district, or one that is not
in ``districts`` — scores ``unknown_score``, neither rewarded nor ruled out.

Settings (per tenant, all optional; ``districts`` defaults to Munich's 25 city
districts and a few common quarter names, see :mod:`plugins.match_location.districts`)::

    [plugins.match_location]
    weight = 1
    max_km = 15          # this far apart or further: 0
    unknown_score = 0.5

    [plugins.match_location.districts]   # replaces the default list
    "Innenstadt" = [48.369, 10.898]
    "Lechhausen" = [48.385, 10.925]
"""

from __future__ import annotations

from core.matching.criteria import Criterion
from core.pluginhost import PluginInfo, hookimpl
from core.tenancy.snapshot import TenantSnapshot
from plugins.match_location.criterion import LocationCriterion
from plugins.match_location.settings import PLUGIN_ID, LocationSettings
from plugins.match_support import N_

PLUGIN = PluginInfo(
    id=PLUGIN_ID,
    name=N_("Matching: place"),
    description=N_(
        "Scores pairs by how close they live: the same district highest, then "
        "by the distance between district centres."
    ),
    version="1.0.0",
    settings=LocationSettings,
)


@hookimpl
def register_matching_criteria(tenant: TenantSnapshot) -> list[Criterion]:
    settings = LocationSettings.model_validate(tenant.plugin_settings.get(PLUGIN_ID) or {})
    return [LocationCriterion(settings)]
