"""The coordinators' template editor: check, preview, save and restore a tenant's wording.

A wording is checked by rendering it, in the sandbox, with made-up facts
(:func:`~core.certificates.render.sample_facts`) for every role its template is for —
a branch that breaks only for mentors is found before a mentor's certificate fails —
and laying one of them out as a PDF. Only a wording that passes is saved; saving the
plugin's own source again removes the tenant's copy, so the template follows the
plugin's updates once more.
"""

from __future__ import annotations

import uuid
from dataclasses import replace

from babel.numbers import format_decimal
from sqlalchemy.ext.asyncio import AsyncSession

from core.certificates.catalog import tenant_wording
from core.certificates.models import CertificateWording
from core.certificates.render import (
    MAX_SOURCE_LENGTH,
    CertificateFacts,
    TemplateProblem,
    render_document,
    render_pdf,
    sample_facts,
)
from core.i18n import N_
from core.i18n.catalogs import gettext
from core.identity import audit
from core.pluginhost.types import CertificateTemplate
from core.tenancy.look import Look
from core.tenancy.snapshot import TenantSnapshot

WORDING_SAVED = "certificate_wording_saved"
WORDING_RESTORED = "certificate_wording_restored"

EMPTY = N_("The template is empty.")
TOO_LONG = N_("The template is longer than %(max)s characters.")
NOT_ALLOWED = N_(
    "This template reaches for something a certificate may not use (Python internals, "
    "the platform's settings or other data); only the placeholders are available."
)
UNKNOWN_PLACEHOLDER = N_(
    "“%(name)s” is not a placeholder. The placeholders are listed next to the editor."
)
NO_INCLUDES = N_("A certificate template cannot include, import or extend other templates.")
SYNTAX = N_("The template has a syntax error.")
CANNOT_RENDER = N_("The template cannot be rendered.")
AT_LINE = N_("Line %(line)s: %(problem)s")


def normalise_source(raw: str) -> str:
    """What a textarea sent, with the line ends the line numbers are counted by."""
    return raw.replace("\r\n", "\n").replace("\r", "\n")


def preview_facts(
    tenant: TenantSnapshot, role: str, locale: str, verify_base: str
) -> CertificateFacts:
    """Made-up facts for a preview, with the tenant's own name on them."""
    return replace(sample_facts(locale, verify_base), tenant_name=tenant.name, role=role)


def preview_pdf(
    template: CertificateTemplate,
    source: str,
    tenant: TenantSnapshot,
    role: str,
    locale: str,
    look: Look,
    verify_base: str,
) -> bytes:
    """The wording as a PDF with made-up facts; raises TemplateProblem (nothing rendered)."""
    _check_not_empty(source)
    facts = preview_facts(tenant, role, locale, verify_base)
    return render_pdf(template, source, facts, locale, look)


def check_wording(
    template: CertificateTemplate,
    source: str,
    tenant: TenantSnapshot,
    locale: str,
    look: Look,
    verify_base: str,
) -> None:
    """Raise TemplateProblem unless ``source`` renders for every role of ``template``
    and lays out as a PDF."""
    check_body(template, source, tenant, locale, look, verify_base)
    # The layout once as well: what the sandbox lets through, WeasyPrint must manage.
    preview_pdf(template, source, tenant, template.roles[0], locale, look, verify_base)


def check_body(
    template: CertificateTemplate,
    source: str,
    tenant: TenantSnapshot,
    locale: str,
    look: Look,
    verify_base: str,
) -> None:
    """The sandbox's part of :func:`check_wording` for every role (milliseconds, no PDF)."""
    _check_not_empty(source)
    for role in template.roles:
        render_document(
            template, source, preview_facts(tenant, role, locale, verify_base), locale, look
        )


async def save_wording(
    session: AsyncSession,
    tenant: TenantSnapshot,
    template: CertificateTemplate,
    locale: str,
    source: str,
    look: Look,
    *,
    verify_base: str,
    by: uuid.UUID,
    ip: str | None = None,
) -> None:
    """Check ``source`` and keep it as the tenant's wording (a TemplateProblem saves nothing).

    The plugin's own source removes the tenant's copy instead of storing a duplicate.
    """
    check_wording(template, source, tenant, locale, look, verify_base)
    row = await tenant_wording(session, template.id, locale)
    if source == template.sources.get(locale):
        if row is not None:
            await session.delete(row)
    elif row is None:
        session.add(
            CertificateWording(
                template_id=template.id, locale=locale, source=source, updated_by_user_id=by
            )
        )
    else:
        row.source = source
        row.updated_by_user_id = by
    details = {"template": template.id, "locale": locale, "length": len(source)}
    audit.record(session, WORDING_SAVED, by, details, ip)


async def restore_original(
    session: AsyncSession,
    template: CertificateTemplate,
    locale: str,
    *,
    by: uuid.UUID,
    ip: str | None = None,
) -> bool:
    """Drop the tenant's wording of ``template`` in ``locale``; False if there was none."""
    row = await tenant_wording(session, template.id, locale)
    if row is None:
        return False
    await session.delete(row)
    audit.record(session, WORDING_RESTORED, by, {"template": template.id, "locale": locale}, ip)
    return True


def explain(problem: TemplateProblem, locale: str) -> str:
    """The problem for the coordinator, in their language, with its line when known.

    Jinja's own detail (English) follows the translated sentence where it adds
    something, such as the attribute a template tried to reach.
    """
    message, kind = problem.message, problem.kind
    if kind == "empty":
        text = gettext(locale, EMPTY)
    elif kind == "too_long":
        text = gettext(locale, TOO_LONG, max=format_decimal(MAX_SOURCE_LENGTH, locale=locale))
    elif kind == "not_allowed":
        text = f"{gettext(locale, NOT_ALLOWED)} ({problem.detail})"
    elif kind == "undefined":
        text = gettext(locale, UNKNOWN_PLACEHOLDER, name=problem.detail)
    elif kind == "includes":
        text = gettext(locale, NO_INCLUDES)
    elif kind == "syntax":
        text = f"{gettext(locale, SYNTAX)} ({message})"
    else:
        text = f"{gettext(locale, CANNOT_RENDER)} ({message})"
    if problem.line is not None:
        return gettext(locale, AT_LINE, line=problem.line, problem=text)
    return text


def _check_not_empty(source: str) -> None:
    if not source.strip():
        raise TemplateProblem(EMPTY, kind="empty")


__all__ = [
    "WORDING_RESTORED",
    "WORDING_SAVED",
    "check_body",
    "check_wording",
    "explain",
    "normalise_source",
    "preview_facts",
    "preview_pdf",
    "restore_original",
    "save_wording",
]
