"""Which certificate templates a tenant uses, and in which wording and language.

Templates come from the tenant's enabled plugins (``register_certificate_templates``),
in one stable order: sorted by id. For each role the tenant uses the first template
that is for that role. The wording of a template in one language is the tenant's own
(:class:`~core.certificates.models.CertificateWording`, edited by a coordinator) or
else the plugin's.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.certificates.models import CertificateWording
from core.pluginhost.manager import PluginHost
from core.pluginhost.types import CertificateTemplate
from core.tenancy.snapshot import TenantSnapshot

log = logging.getLogger(__name__)
FALLBACK_LANGUAGE = "en"


def enabled_templates(tenant: TenantSnapshot, plugins: PluginHost) -> list[CertificateTemplate]:
    """The templates of ``tenant``'s enabled plugins, sorted by id (one per id)."""
    answers = plugins.hooks_for(tenant).register_certificate_templates(tenant=tenant)
    found: dict[str, CertificateTemplate] = {}
    for template in sorted(_flatten(answers), key=lambda t: t.id):
        if template.id in found:
            # Two plugins claiming one id is a packaging mistake; issuing goes on with
            # the first rather than leaving every participant without a certificate.
            log.warning("certificate template %r is offered twice; the first is used", template.id)
            continue
        found[template.id] = template
    return list(found.values())


def template_for_role(
    tenant: TenantSnapshot, plugins: PluginHost, role: str
) -> CertificateTemplate | None:
    """The template ``tenant`` issues certificates of ``role`` with, if it has one."""
    return next((t for t in enabled_templates(tenant, plugins) if role in t.roles), None)


def find_template(
    tenant: TenantSnapshot, plugins: PluginHost, template_id: str
) -> CertificateTemplate | None:
    """One of ``tenant``'s enabled templates by id (None: unknown or not enabled)."""
    return next((t for t in enabled_templates(tenant, plugins) if t.id == template_id), None)


def language_for(template: CertificateTemplate, wanted: str | None, tenant: TenantSnapshot) -> str:
    """The language to word ``template`` in for someone who wants ``wanted``: that one if
    the template has it, else the tenant's default, else English, else its first."""
    for candidate in (wanted, tenant.default_locale, FALLBACK_LANGUAGE):
        if candidate and candidate in template.sources:
            return candidate
    return next(iter(template.sources))


async def tenant_wording(
    session: AsyncSession, template_id: str, locale: str
) -> CertificateWording | None:
    """The tenant's own wording of a template in one language (the session's tenant)."""
    return await session.scalar(
        select(CertificateWording).where(
            CertificateWording.template_id == template_id, CertificateWording.locale == locale
        )
    )


async def wording_of(session: AsyncSession, template: CertificateTemplate, locale: str) -> str:
    """The source ``template`` is rendered from in ``locale``: the tenant's, else the
    plugin's (in :func:`language_for`'s language when the plugin lacks ``locale``)."""
    own = await tenant_wording(session, template.id, locale)
    if own is not None:
        return own.source
    if locale in template.sources:
        return template.sources[locale]
    return template.sources[next(iter(template.sources))]


def _flatten(
    answers: Iterable[Iterable[CertificateTemplate] | None],
) -> list[CertificateTemplate]:
    templates: list[CertificateTemplate] = []
    for answer in answers:
        for template in answer or ():
            if not isinstance(template, CertificateTemplate):
                raise TypeError(
                    f"register_certificate_templates returned {template!r}, "
                    "not a CertificateTemplate"
                )
            templates.append(template)
    return templates


__all__ = [
    "enabled_templates",
    "find_template",
    "language_for",
    "template_for_role",
    "tenant_wording",
    "wording_of",
]
