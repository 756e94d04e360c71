"""A cohort's certificates, for its coordinators: ``/admin/cohorts/<cohort>/certificates``.

* ``…/certificates`` — the cohort's completed tandems with each holder's certificates
  (status, code, date; why one failed or was revoked), a button that issues them for
  the whole cohort in one batch, and per certificate: download, revoke (with a
  reason), issue again.
* ``…/certificates/batches/<id>`` — one batch: a ``<progress>`` bar while the jobs
  render, refreshed by ``/static/core/matching-progress.js`` polling
  ``…/batches/<id>/progress`` (JSON), or by a ``<meta>`` refresh without JavaScript;
  when done, how many were issued and which failed.

Only the tenant's coordinators (role ``admin``): 403 for anyone else signed in, 404
for a cohort, batch or certificate of another tenant (or of another cohort). Refused
input comes back with the page, the error next to its field, in the visitor's
language (422); what the certificate's state does not allow is a 409 with the reason.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from babel.numbers import format_percent
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Response, Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.applications.models import Application
from core.certificates import batches, codes, services
from core.certificates.catalog import enabled_templates
from core.certificates.models import Certificate, CertificateBatch, CertificateStatus
from core.certificates.render import ROLE_LABELS
from core.db.sessions import Database
from core.i18n import N_
from core.i18n.catalogs import gettext
from core.identity.guards import CurrentUser, require_role
from core.identity.sessions import aware
from core.mail.compose import format_date, format_datetime
from core.matching.api import cohort_of
from core.pairings.controllers import client_ip, signed_in
from core.pairings.models import Pairing
from core.pluginhost.manager import PluginHost
from core.programmes.models import Cohort
from core.programmes.schemas import InvalidInput
from core.web.forms import form_text
from core.web.sites import current_tenant, request_context

STATUS_LABELS = {
    CertificateStatus.PENDING: N_("Being rendered"),
    CertificateStatus.ISSUED: N_("Issued"),
    CertificateStatus.FAILED: N_("Failed"),
    CertificateStatus.REVOKED: N_("Revoked"),
}
NOTICES = {
    "revoked": N_("The certificate has been revoked; its verification page says so."),
    "reissued": N_("A new certificate with a new code is being rendered; the old one is revoked."),
    "nothing": N_(
        "Nothing to issue: every completed tandem has its certificates already "
        "(or no certificate template is enabled)."
    ),
}
STAGE = N_("Rendering the certificates")
MAX_REASON_INPUT = services.MAX_REASON_LENGTH + 1  # one more, so that "too long" is reported


def _day(value: datetime | None, locale: str) -> str:
    return format_date(aware(value), locale) if value is not None else ""


def _base(cohort: Cohort) -> str:
    return f"/admin/cohorts/{cohort.slug}/certificates"


async def _certificate_in(
    session: AsyncSession, cohort: Cohort, certificate_id: uuid.UUID
) -> Certificate:
    """The certificate if it belongs to a tandem of ``cohort``; else 404."""
    row = (
        await session.execute(
            select(Certificate)
            .join(Pairing, Pairing.id == Certificate.pairing_id)
            .where(Certificate.id == certificate_id, Pairing.cohort_id == cohort.id)
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFoundException()
    return row


def _certificate_view(
    certificate: Certificate,
    locale: str,
    errors: dict[str, str],
    form_for: uuid.UUID | None,
    reason: str,
) -> dict[str, Any]:
    status = CertificateStatus(certificate.status)
    mine = form_for == certificate.id
    return {
        "id": str(certificate.id),
        "role": gettext(locale, ROLE_LABELS[certificate.role]),
        "holder": certificate.holder_name,
        "status": status.value,
        "status_label": gettext(locale, STATUS_LABELS[status]),
        "code": codes.display(certificate.code),
        "issued_on": format_date(certificate.issued_on, locale),
        "language": certificate.locale,
        "error": certificate.error if status is CertificateStatus.FAILED else "",
        "revoked_on": _day(certificate.revoked_at, locale),
        "revoked_reason": certificate.revoked_reason,
        "replaced": certificate.replaced_by_id is not None,
        "download": f"/certificates/{certificate.id}.pdf"
        if services.is_downloadable(certificate)
        else "",
        "can_revoke": status is not CertificateStatus.REVOKED,
        # A pending one is on its way; a failed one is queued again by the batch button.
        "can_reissue": certificate.replaced_by_id is None
        and status in (CertificateStatus.ISSUED, CertificateStatus.REVOKED),
        "reason": reason if mine else "",
        "reason_error": errors.get("reason", "") if mine else "",
        "refused": errors.get("", "") if mine else "",
    }


async def _cohort_page(
    request: Request[Any, Any, Any],
    db: Database,
    plugins: PluginHost,
    cohort_slug: str,
    *,
    errors: dict[str, str] | None = None,
    form_for: uuid.UUID | None = None,
    reason: str = "",
    status: int = 200,
) -> Template:
    tenant = current_tenant(request)
    locale = request_context(request).locale
    errors = errors or {}
    async with db.tenant_session(tenant.id) as session:
        cohort = await cohort_of(session, cohort_slug)
        pairings = await batches.completed_pairings(session, cohort)
        by_pairing = await services.certificates_by_pairing(session, (p.id for p in pairings))
        names = await _names(session, pairings)
        latest = await batches.latest_batch(session, cohort)
        latest_progress = await batches.progress_of(session, latest) if latest else None
    counts = {s.value: 0 for s in CertificateStatus}
    tandems = []
    for pairing in pairings:
        rows = by_pairing.get(pairing.id, [])
        for row in rows:
            counts[CertificateStatus(row.status).value] += 1
        tandems.append(
            {
                "id": str(pairing.id),
                "mentee": names.get(pairing.mentee_application_id, ""),
                "mentor": names.get(pairing.mentor_application_id, ""),
                "completed_on": _day(pairing.ended_at, locale),
                "certificates": [
                    _certificate_view(row, locale, errors, form_for, reason) for row in rows
                ],
            }
        )
    done = request.query_params.get("done") or ""
    base = _base(cohort)
    return Template(
        "certificates/admin_cohort.html",
        context={
            "cohort": {"slug": cohort.slug, "name": cohort.name},
            "base": base,
            "tandems": tandems,
            "counts": counts,
            "has_templates": bool(enabled_templates(tenant, plugins)),
            "latest": None
            if latest is None or latest_progress is None
            else {
                "path": f"{base}/batches/{latest.id}",
                "created": format_datetime(aware(latest.created_at), locale),
                "finished": latest_progress.finished,
                "percent": format_percent(latest_progress.fraction, locale=locale),
            },
            "notice": gettext(locale, NOTICES[done]) if done in NOTICES else "",
        },
        status_code=status,
    )


async def _names(session: AsyncSession, pairings: list[Pairing]) -> dict[uuid.UUID, str]:
    ids = {p.mentee_application_id for p in pairings} | {p.mentor_application_id for p in pairings}
    if not ids:
        return {}
    rows = await session.execute(
        select(Application.id, Application.name).where(Application.id.in_(ids))
    )
    return {app_id: name for app_id, name in rows}


def _progress_json(progress: batches.BatchProgress, locale: str) -> dict[str, Any]:
    return {
        # The shape matching-progress.js reads (it reloads the page once "done").
        "status": "done" if progress.finished else "running",
        "progress": round(progress.fraction, 3),
        "stage": gettext(locale, STAGE),
        "total": progress.total,
        "pending": progress.pending,
        "issued": progress.issued,
        "failed": progress.failed,
        "revoked": progress.revoked,
    }


async def _batch(
    session: AsyncSession, cohort_slug: str, batch_id: uuid.UUID
) -> tuple[Cohort, CertificateBatch]:
    cohort = await cohort_of(session, cohort_slug)
    batch = await batches.batch_of(session, cohort, batch_id)
    if batch is None:
        raise NotFoundException()
    return cohort, batch


class CohortCertificatesAdmin(Controller):
    path = "/admin/cohorts/{cohort_slug:str}/certificates"
    include_in_schema = False
    guards = [require_role("admin")]

    @get("", name="admin.certificates.cohort")
    async def show(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        plugins: NamedDependency[PluginHost],
        cohort_slug: FromPath[str],
    ) -> Template:
        return await _cohort_page(request, db, plugins, cohort_slug)

    @post("/batches", name="admin.certificates.start_batch")
    async def start_batch(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        plugins: NamedDependency[PluginHost],
        current_user: NamedDependency[CurrentUser | None],
        cohort_slug: FromPath[str],
    ) -> Response[Any]:
        user = signed_in(current_user)
        tenant = current_tenant(request)
        async with db.tenant_session(tenant.id) as session, session.begin():
            cohort = await cohort_of(session, cohort_slug)
            batch = await batches.start_batch(
                session, tenant, plugins, cohort, user, ip=client_ip(request)
            )
            batch_id = batch.id if batch is not None else None
        if batch_id is None:
            return Redirect(path=_base(cohort), query_params={"done": "nothing"}, status_code=303)
        return Redirect(path=f"{_base(cohort)}/batches/{batch_id}", status_code=303)

    @get("/batches/{batch_id:uuid}", name="admin.certificates.batch")
    async def batch(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        cohort_slug: FromPath[str],
        batch_id: FromPath[uuid.UUID],
    ) -> Template:
        tenant = current_tenant(request)
        locale = request_context(request).locale
        async with db.tenant_session(tenant.id) as session:
            cohort, batch = await _batch(session, cohort_slug, batch_id)
            progress = await batches.progress_of(session, batch)
            failed = list(
                await session.scalars(
                    select(Certificate)
                    .where(
                        Certificate.batch_id == batch.id,
                        Certificate.status == CertificateStatus.FAILED,
                    )
                    .order_by(Certificate.holder_name, Certificate.id)
                )
            )
        base = _base(cohort)
        path = f"{base}/batches/{batch.id}"
        return Template(
            "certificates/admin_batch.html",
            context={
                "cohort": {"slug": cohort.slug, "name": cohort.name},
                "base": base,
                "batch": {
                    "path": path,
                    "api": f"{path}/progress",
                    "created": format_datetime(aware(batch.created_at), locale),
                    "queued": batch.total,
                    "finished": progress.finished,
                    "progress": f"{progress.fraction:.3f}",
                    "percent": format_percent(progress.fraction, locale=locale),
                    "stage": gettext(locale, STAGE),
                    "total": progress.total,
                    "done": progress.done,
                    "issued": progress.issued,
                    "failed": progress.failed,
                    "revoked": progress.revoked,
                },
                "failed": [
                    {
                        "id": str(c.id),
                        "holder": c.holder_name,
                        "role": gettext(locale, ROLE_LABELS[c.role]),
                        "error": c.error,
                    }
                    for c in failed
                ],
            },
        )

    @get("/batches/{batch_id:uuid}/progress", name="admin.certificates.batch_progress")
    async def batch_progress(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        cohort_slug: FromPath[str],
        batch_id: FromPath[uuid.UUID],
    ) -> Response[dict[str, Any]]:
        tenant = current_tenant(request)
        async with db.tenant_session(tenant.id) as session:
            _cohort, batch = await _batch(session, cohort_slug, batch_id)
            progress = await batches.progress_of(session, batch)
        return Response(
            _progress_json(progress, request_context(request).locale),
            headers={"Cache-Control": "no-store"},
        )

    @post("/{certificate_id:uuid}/revoke", name="admin.certificates.revoke")
    async def revoke(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        plugins: NamedDependency[PluginHost],
        current_user: NamedDependency[CurrentUser | None],
        cohort_slug: FromPath[str],
        certificate_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        user = signed_in(current_user)
        tenant = current_tenant(request)
        locale = request_context(request).locale
        reason = form_text(await request.form(), "reason", MAX_REASON_INPUT)
        try:
            async with db.tenant_session(tenant.id) as session, session.begin():
                cohort = await cohort_of(session, cohort_slug)
                certificate = await _certificate_in(session, cohort, certificate_id)
                await services.revoke(session, certificate, reason, user, ip=client_ip(request))
        except InvalidInput as invalid:
            return await _cohort_page(
                request,
                db,
                plugins,
                cohort_slug,
                errors=invalid.messages(locale),
                form_for=certificate_id,
                reason=reason,
                status=422,
            )
        except services.Refused as refused:
            return await _cohort_page(
                request,
                db,
                plugins,
                cohort_slug,
                errors={"": refused.text(locale)},
                form_for=certificate_id,
                status=409,
            )
        return _back(cohort, "revoked", certificate_id)

    @post("/{certificate_id:uuid}/reissue", name="admin.certificates.reissue")
    async def reissue(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        plugins: NamedDependency[PluginHost],
        current_user: NamedDependency[CurrentUser | None],
        cohort_slug: FromPath[str],
        certificate_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        user = signed_in(current_user)
        tenant = current_tenant(request)
        locale = request_context(request).locale
        # Optional: an issued certificate is revoked by re-issuing, and this says why.
        reason = form_text(await request.form(), "reason", services.MAX_REASON_LENGTH)
        try:
            async with db.tenant_session(tenant.id) as session, session.begin():
                cohort = await cohort_of(session, cohort_slug)
                certificate = await _certificate_in(session, cohort, certificate_id)
                replacement = await services.reissue(
                    session,
                    tenant,
                    plugins,
                    certificate,
                    user,
                    reason=reason,
                    ip=client_ip(request),
                )
                replacement_id = replacement.id
        except services.Refused as refused:
            return await _cohort_page(
                request,
                db,
                plugins,
                cohort_slug,
                errors={"": refused.text(locale)},
                form_for=certificate_id,
                status=409,
            )
        return _back(cohort, "reissued", replacement_id)


def _back(cohort: Cohort, done: str, certificate_id: uuid.UUID) -> Redirect:
    return Redirect(
        path=f"{_base(cohort)}?done={done}#certificate-{certificate_id}", status_code=303
    )


__all__ = ["CohortCertificatesAdmin"]
