"""Augsburg's participation certificate ("Teilnahmebescheinigung") for Tür an Tür's
mentoring: an A4 portrait document that states what the tandem did, for the mentee
and — as confirmation of volunteering — for the mentor; optionally for the mentor's
employer. German and English wording in ``wording/``, the layout in
``certificate.css`` (the theme's colours, the tenant's logo when it has one).
Settings (per tenant, all optional)::

    [plugins.certificate_augsburg]
    company = false                       # a certificate for the mentor's employer too
    signatory_name = "Claudia Schmid"
    signatory_title = { de = "Projektkoordination", en = "Project coordinator" }
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


class AugsburgCertificateSettings(support.CertificateSettings):
    signatory_title: support.Translated = Field(
        default_factory=lambda: {
            "de": "Projektkoordination Mentoring",
            "en": "Mentoring project coordination",
        },
        title=support.SIGNATORY_ROLE_TITLE,
        description=support.SIGNATORY_ROLE_HELP,
    )


PLUGIN = PluginInfo(
    id="certificate_augsburg",
    name=N_("Certificate: Augsburg"),
    description=N_(
        "A participation certificate for mentees and a confirmation of volunteering for "
        "mentors (optionally one for partner companies), A4 portrait, in German and English."
    ),
    version="1.0.0",
    settings=AugsburgCertificateSettings,
)


@hookimpl
def register_certificate_templates(tenant: TenantSnapshot) -> list[CertificateTemplate]:
    settings = support.read_settings(AugsburgCertificateSettings, tenant, PLUGIN.id)
    return [
        support.template(
            id=PLUGIN.id,
            name=N_("Participation certificate, Augsburg"),
            package_dir=HERE,
            settings=settings,
            fallback_locale=tenant.default_locale,
            paper="A4",
        )
    ]
