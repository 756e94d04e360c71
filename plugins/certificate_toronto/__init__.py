"""Toronto's certificate: "Certificate of Completion" for mentees and "Certificate of
Appreciation" for mentors (and, if switched on, partner employers), US Letter
landscape, in English (and German, so that both platform languages are complete).
The wording is in ``wording/``, the layout in ``certificate.css`` (the theme's colours,
the tenant's logo when it has one). Settings (per tenant, all optional)::

    [plugins.certificate_toronto]
    company = false                       # a certificate for the mentor's employer too
    signatory_name = "Jennifer Walsh"
    signatory_title = { en = "Program Coach" }
    cosignatory_name = ""
    cosignatory_title = {}
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from core.i18n import N_
from core.pluginhost import PluginInfo, hookimpl
from core.pluginhost.types import CertificateTemplate
from core.tenancy.snapshot import TenantSnapshot
from plugins import certificate_support as support

HERE = Path(__file__).parent


class TorontoCertificateSettings(support.CertificateSettings):
    signatory_title: support.Translated = Field(
        default_factory=lambda: {"en": "Program Manager", "de": "Programmleitung"},
        title=support.SIGNATORY_ROLE_TITLE,
        description=support.SIGNATORY_ROLE_HELP,
    )


PLUGIN = PluginInfo(
    id="certificate_toronto",
    name=N_("Certificate: Toronto"),
    description=N_(
        "A certificate of completion for mentees and of appreciation for mentors "
        "(optionally for partner employers), US Letter landscape, in English and German."
    ),
    version="1.0.0",
    settings=TorontoCertificateSettings,
)


@hookimpl
def register_certificate_templates(tenant: TenantSnapshot) -> list[CertificateTemplate]:
    settings = support.read_settings(TorontoCertificateSettings, tenant, PLUGIN.id)
    return [
        support.template(
            id=PLUGIN.id,
            name=N_("Certificate of completion, Toronto"),
            package_dir=HERE,
            settings=settings,
            fallback_locale=tenant.default_locale,
            paper="letter landscape",
        )
    ]
