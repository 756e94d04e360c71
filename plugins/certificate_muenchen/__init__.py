"""München's "Urkunde": the certificate handed out at the closing event in the town hall.

One design (A4 landscape) for mentees, mentors and — unless switched off — the partner
companies that lend their staff as mentors; the wording says what each of them did.
German and English wording in ``wording/``, the layout in ``certificate.css`` (the
theme's colours, the tenant's logo when it has one). Settings (per tenant, all
optional)::

    [plugins.certificate_muenchen]
    company = true                        # also a certificate for the mentor's employer
    signatory_name = "Sabine Huber"
    signatory_title = { de = "Koordination Mentoring-Partnerschaft", en = "Coordinator" }
    cosignatory_name = ""                 # a second signature, e.g. the department head
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


class MuenchenCertificateSettings(support.CertificateSettings):
    company: bool = Field(
        default=True, title=support.COMPANY_TITLE, description=support.COMPANY_HELP
    )
    signatory_title: support.Translated = Field(
        default_factory=lambda: {
            "de": "Koordination Mentoring-Partnerschaft",
            "en": "Mentoring Partnership coordination",
        },
        title=support.SIGNATORY_ROLE_TITLE,
        description=support.SIGNATORY_ROLE_HELP,
    )


PLUGIN = PluginInfo(
    id="certificate_muenchen",
    name=N_("Certificate: München"),
    description=N_(
        'The "Urkunde" of the closing event: for mentees, mentors and partner companies, '
        "A4 landscape, in German and English."
    ),
    version="1.0.0",
    settings=MuenchenCertificateSettings,
)


@hookimpl
def register_certificate_templates(tenant: TenantSnapshot) -> list[CertificateTemplate]:
    settings = support.read_settings(MuenchenCertificateSettings, tenant, PLUGIN.id)
    return [
        support.template(
            id=PLUGIN.id,
            name=N_("Certificate (Urkunde), München"),
            package_dir=HERE,
            settings=settings,
            fallback_locale=tenant.default_locale,
            paper="A4 landscape",
        )
    ]
