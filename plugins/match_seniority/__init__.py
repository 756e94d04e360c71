"""Matching by experience: the mentor should have more years in the field than the mentee.

A score criterion (id ``match_seniority``): a mentor with ``margin`` or more years of
experience beyond the mentee's scores 1, one with the same or fewer years 0, linearly
in between. With ``hard = true`` it is a filter instead: only mentors with at least as
many years as the mentee. Settings (per tenant, all optional)::

    [plugins.match_seniority]
    weight = 1
    margin = 3      # years ahead for the full score
    hard = false
"""

from __future__ import annotations

from core.matching.criteria import Criterion
from core.pluginhost import PluginInfo, hookimpl
from core.tenancy.snapshot import TenantSnapshot
from plugins.match_seniority.criterion import SeniorityCriterion
from plugins.match_seniority.settings import PLUGIN_ID, SenioritySettings
from plugins.match_support import N_

PLUGIN = PluginInfo(
    id=PLUGIN_ID,
    name=N_("Matching: experience"),
    description=N_(
        "Prefers mentors with more years of experience than the mentee (or "
        "requires at least as many)."
    ),
    version="1.0.0",
    settings=SenioritySettings,
)


@hookimpl
def register_matching_criteria(tenant: TenantSnapshot) -> list[Criterion]:
    settings = SenioritySettings.model_validate(tenant.plugin_settings.get(PLUGIN_ID) or {})
    return [SeniorityCriterion(settings)]
