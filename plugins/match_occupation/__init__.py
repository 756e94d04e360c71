"""Matching by occupation: the closer two people's ISCO-08 occupations, the higher the score.

A score criterion (id ``match_occupation``). Codes are compared level by level, as
the occupation column holds them (padded to four digits, so "214" is the minor group
214 and "21" the sub-major group 21): the same code scores ``same_unit_group``,
codes in the same minor group ``same_minor_group``, and so on up to the major group;
unrelated or unknown occupations score 0. A coarser level never scores more than a
finer one. Settings (per tenant, all optional)::

    [plugins.match_occupation]
    weight = 3                  # relative to the other criteria's weights
    same_unit_group = 1.0       # the same code
    same_minor_group = 0.8      # e.g. 2142 and 2146, or 214 and 2142
    same_sub_major_group = 0.6  # e.g. 214 and 215: both "science and engineering"
    same_major_group = 0.3      # e.g. 214 and 222: both "professionals"

The explanation names both occupations (and the group they share) in the reader's
language, from :mod:`core.reference.occupations`.
"""

from __future__ import annotations

from core.matching.criteria import Criterion
from core.pluginhost import PluginInfo, hookimpl
from core.tenancy.snapshot import TenantSnapshot
from plugins.match_occupation.criterion import OccupationCriterion
from plugins.match_occupation.settings import PLUGIN_ID, OccupationSettings
from plugins.match_support import N_

PLUGIN = PluginInfo(
    id=PLUGIN_ID,
    name=N_("Matching: occupation"),
    description=N_(
        "Scores pairs by how close their ISCO-08 occupations are: the same "
        "occupation highest, then the same minor, sub-major and major group."
    ),
    version="1.0.0",
    settings=OccupationSettings,
)


@hookimpl
def register_matching_criteria(tenant: TenantSnapshot) -> list[Criterion]:
    settings = OccupationSettings.model_validate(tenant.plugin_settings.get(PLUGIN_ID) or {})
    return [OccupationCriterion(settings)]
