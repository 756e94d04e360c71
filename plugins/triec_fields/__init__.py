"""TRIEC-style application fields: the Canadian Language Benchmark (CLB) level of mentees.

TRIEC's Mentoring Partnership in Toronto measures English with the Canadian Language
Benchmarks rather than the CEFR, and takes mentees from a minimum level (CLB 6 by
default). This plugin adds that question to the mentee form; the answer is stored
with the application (``extra["triec_fields"]["clb_level"]``) and shown at intake.

Settings (per tenant, all optional)::

    [plugins.triec_fields]
    min_clb = 6   # the level named in the question's help text
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from core.i18n import N_
from core.i18n.catalogs import gettext
from core.pluginhost import PluginInfo, hookimpl
from core.pluginhost.types import ApplicationField
from core.tenancy.snapshot import TenantSnapshot

CLB_LABEL = N_("Canadian Language Benchmark level (CLB) in English")
CLB_HELP = N_(
    "From your most recent language assessment, 1 to 12. The programme asks for CLB "
    "%(minimum)s or higher."
)


class TriecFieldSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_clb: int = Field(
        default=6,
        ge=1,
        le=12,
        title=N_("Minimum CLB level"),
        description=N_("The lowest level mentees should have, named in the question (1 to 12)"),
    )


PLUGIN = PluginInfo(
    id="triec_fields",
    name=N_("TRIEC application fields"),
    description=N_("Asks mentees for their Canadian Language Benchmark (CLB) level."),
    version="1.0.0",
    settings=TriecFieldSettings,
)


@hookimpl
def extra_application_fields(
    tenant: TenantSnapshot, kind: str, locale: str
) -> list[ApplicationField]:
    if kind != "mentee":
        return []
    settings = TriecFieldSettings.model_validate(tenant.plugin_settings.get(PLUGIN.id, {}))
    return [
        ApplicationField(
            name="clb_level",
            label=gettext(locale, CLB_LABEL),
            type="number",
            required=True,
            min=1,
            max=12,
            help=gettext(locale, CLB_HELP, minimum=settings.min_clb),
        )
    ]
