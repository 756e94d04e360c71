"""Matching by a shared meeting language and how well both speak it.

Two criteria:

* ``match_language.shared`` (filter, unless ``required = false``): the pair shares a
  meeting language that both speak at ``min_level`` or higher;
* ``match_language.level`` (score): the best level both speak a meeting language at
  (for each language the lower of the two levels; the best language counts). At
  ``min_level`` it scores ``1 / n``, one level higher ``2 / n`` … and C2 scores 1, where
  ``n`` is the number of levels from ``min_level`` to C2; below ``min_level`` 0.

Settings (per tenant, all optional)::

    [plugins.match_language]
    weight = 1              # of the score, relative to the other criteria's weights
    min_level = "B1"        # CEFR, A1 to C2
    languages = ["de"]      # meeting languages (ISO 639); empty or left out: any
    required = true         # the filter; false: only the score

Levels are the CEFR levels applicants give for each language (German and others).
"""

from __future__ import annotations

from core.matching.criteria import Criterion
from core.pluginhost import PluginInfo, hookimpl
from core.tenancy.snapshot import TenantSnapshot
from plugins.match_language.criterion import LanguageLevel, SharedLanguage
from plugins.match_language.settings import PLUGIN_ID, LanguageSettings
from plugins.match_support import N_

PLUGIN = PluginInfo(
    id=PLUGIN_ID,
    name=N_("Matching: meeting language"),
    description=N_(
        "Lets only pairs with a shared meeting language meet, and scores how "
        "well both speak it (CEFR levels)."
    ),
    version="1.0.0",
    settings=LanguageSettings,
)


@hookimpl
def register_matching_criteria(tenant: TenantSnapshot) -> list[Criterion]:
    settings = LanguageSettings.model_validate(tenant.plugin_settings.get(PLUGIN_ID) or {})
    score = LanguageLevel(settings)
    return [SharedLanguage(settings), score] if settings.required else [score]
