"""Conflict of interest: nobody is paired with themselves or with a colleague.

A filter (id ``match_conflict``). A pair is not allowed when mentee and mentor are the
same person (the ``person`` column: the same e-mail address or account on both
sides — a former mentee who returns as a mentor is both), or, with ``same_employer``
on, when both gave the same employer (compared after trimming and case-folding; an
empty employer never conflicts). Settings::

    [plugins.match_conflict]
    same_employer = true
"""

from __future__ import annotations

from core.matching.criteria import Criterion
from core.pluginhost import PluginInfo, hookimpl
from core.tenancy.snapshot import TenantSnapshot
from plugins.match_conflict.criterion import ConflictCriterion
from plugins.match_conflict.settings import PLUGIN_ID, ConflictSettings
from plugins.match_support import N_

PLUGIN = PluginInfo(
    id=PLUGIN_ID,
    name=N_("Matching: conflict of interest"),
    description=N_(
        "Never pairs someone with themselves, nor (by default) a mentee with a "
        "mentor from their own employer."
    ),
    version="1.0.0",
    settings=ConflictSettings,
)


@hookimpl
def register_matching_criteria(tenant: TenantSnapshot) -> list[Criterion]:
    settings = ConflictSettings.model_validate(tenant.plugin_settings.get(PLUGIN_ID) or {})
    return [ConflictCriterion(settings)]
