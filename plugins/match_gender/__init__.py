"""Matching by the mentee's wish for a mentor of the same gender — only if they asked.

Gender is never a criterion on its own: this plugin looks at it only for mentees who
asked for a mentor of the same gender (the application's "same gender" option) and
gave their gender. For them, a mentor whose self-described gender is the same (after
trimming and case-folding) keeps the wish; one with another gender or none does not.
Every other mentee is unaffected: all pairs pass, or score 1.

With ``hard = true`` (the default) it is a filter (id ``match_gender``): the wish is
kept or the pair is not proposed. With ``hard = false`` it is a score with ``weight``:
1 where the wish is kept or was not made, 0 otherwise. Settings::

    [plugins.match_gender]
    hard = true
    weight = 2      # used only with hard = false
"""

from __future__ import annotations

from core.matching.criteria import Criterion
from core.pluginhost import PluginInfo, hookimpl
from core.tenancy.snapshot import TenantSnapshot
from plugins.match_gender.criterion import GenderCriterion
from plugins.match_gender.settings import PLUGIN_ID, GenderSettings
from plugins.match_support import N_

PLUGIN = PluginInfo(
    id=PLUGIN_ID,
    name=N_("Matching: same-gender wish"),
    description=N_(
        "Keeps a mentee's wish for a mentor of the same gender, as a rule or "
        "as a preference; mentees who did not ask are unaffected."
    ),
    version="1.0.0",
    settings=GenderSettings,
)


@hookimpl
def register_matching_criteria(tenant: TenantSnapshot) -> list[Criterion]:
    settings = GenderSettings.model_validate(tenant.plugin_settings.get(PLUGIN_ID) or {})
    return [GenderCriterion(settings)]
