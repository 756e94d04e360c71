"""Certificate pages for participants and the public verification page.

* ``/certificates`` lists the signed-in person's certificates (issued ones to
  download, pending ones as "being prepared", revoked ones as revoked);
  ``/certificates/<id>.pdf`` downloads one — for its holder and the tenant's
  coordinators. Another tenant's id, or someone else's, is a 404 like an unknown one.
* ``/verify`` is a form for a code read off the paper; ``/verify/<code>`` (the QR
  code's address) confirms the holder's name, the programme, the role and the date of
  issue — nothing more — or says that the code is unknown (404) or revoked. Codes are
  looked up in the host's tenant only: another tenant's code is unknown here.
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Response, Template

from core.certificates import codes, services
from core.certificates.models import Certificate, CertificateStatus
from core.certificates.render import ROLE_LABELS
from core.db.sessions import Database
from core.i18n import N_
from core.i18n.catalogs import gettext
from core.identity.guards import CurrentUser, require_login
from core.mail.compose import format_date
from core.web.sites import current_tenant, request_context

STATUS_LABELS = {
    CertificateStatus.PENDING: N_("Being prepared"),
    CertificateStatus.ISSUED: N_("Issued"),
    CertificateStatus.FAILED: N_("Being prepared"),  # the coordinators see why
    CertificateStatus.REVOKED: N_("Revoked"),
}
NOT_READY = N_("This certificate is still being prepared. Please try again in a few minutes.")
REVOKED = N_("This certificate has been revoked and can no longer be downloaded.")
NOT_A_CODE = N_(
    "This is not a verification code. A code has 12 letters and digits, for example 7K3M-Q9TZ-2B4X."
)
CODE_REQUIRED = N_("Enter the code printed on the certificate.")
MAX_CODE_INPUT = 48


def _row(certificate: Certificate, locale: str) -> dict[str, Any]:
    status = CertificateStatus(certificate.status)
    return {
        "id": str(certificate.id),
        "role": gettext(locale, ROLE_LABELS[certificate.role]),
        "holder": certificate.holder_name,
        "programme": certificate.programme_name,
        "cohort": certificate.cohort_name,
        "issued_on": format_date(certificate.issued_on, locale),
        "status": status.value,
        "status_label": gettext(locale, STATUS_LABELS[status]),
        "revoked_on": format_date(certificate.revoked_at, locale) if certificate.revoked_at else "",
        "code": codes.display(certificate.code),
        "downloadable": services.is_downloadable(certificate),
    }


class ParticipantCertificates(Controller):
    path = "/certificates"
    include_in_schema = False
    guards = [require_login]

    @get("", name="certificates.mine")
    async def mine(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
    ) -> Template:
        return await _mine_page(request, db, _signed_in(current_user))

    @get("/{file_name:str}", name="certificates.download")
    async def download(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        file_name: FromPath[str],
    ) -> Response[Any]:
        user = _signed_in(current_user)
        certificate_id = _id_of_pdf(file_name)
        tenant = current_tenant(request)
        async with db.tenant_session(tenant.id) as session:
            try:
                certificate = await services.access_certificate_by_id(session, user, certificate_id)
            except services.CertificateNotFound:
                raise NotFoundException() from None
            pdf = await services.pdf_of(session, certificate)
        if certificate.status == CertificateStatus.REVOKED:
            return await _mine_page(request, db, user, problem=REVOKED, status_code=410)
        if not services.is_downloadable(certificate) or not pdf:
            return await _mine_page(request, db, user, problem=NOT_READY, status_code=409)
        name = services.download_name(certificate)
        return Response(
            content=pdf,
            media_type="application/pdf",
            headers={
                "content-disposition": f'attachment; filename="{name}"',
                # Personal data: never kept by shared caches or the browser's disk cache.
                "cache-control": "private, no-store",
            },
        )


def _signed_in(current_user: CurrentUser | None) -> CurrentUser:
    assert current_user is not None  # require_login lets only signed-in people through
    return current_user


def _id_of_pdf(file_name: str) -> uuid.UUID:
    stem, dot, extension = file_name.rpartition(".")
    if not dot or extension != "pdf":
        raise NotFoundException()
    try:
        return uuid.UUID(stem)
    except ValueError:
        raise NotFoundException() from None


async def _mine_page(
    request: Request[Any, Any, Any],
    db: Database,
    user: CurrentUser,
    *,
    problem: str | None = None,
    status_code: int = 200,
) -> Template:
    tenant = current_tenant(request)
    locale = request_context(request).locale
    async with db.tenant_session(tenant.id) as session:
        rows = [_row(c, locale) for c in await services.certificates_of(session, user)]
    return Template(
        "certificates/mine.html",
        context={
            "certificates": rows,
            "problem": gettext(locale, problem) if problem else None,
        },
        status_code=status_code,
    )


class VerifyPages(Controller):
    """Public: anyone holding a certificate's paper (an employer, an authority) checks it."""

    path = "/verify"
    include_in_schema = False

    @get("", name="certificates.verify_form")
    async def form(self, request: Request[Any, Any, Any]) -> Response[Any]:
        current_tenant(request)  # only on a tenant's host
        locale = request_context(request).locale
        typed = request.query_params.get("code")
        if typed is None:
            return _verify_form(locale, "", None)
        typed = typed[:MAX_CODE_INPUT]
        if not typed.strip():
            return _verify_form(locale, typed, CODE_REQUIRED, 422)
        code = codes.normalise(typed)
        if code is None:
            return _verify_form(locale, typed, NOT_A_CODE, 422)
        return Redirect(path=f"/verify/{code}", status_code=303)

    @get("/{code:str}", name="certificates.verify")
    async def verify(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        code: FromPath[str],
    ) -> Template:
        tenant = current_tenant(request)
        locale = request_context(request).locale
        async with db.tenant_session(tenant.id) as session:
            certificate = await services.find_by_code(session, code)
        # A pending or failed certificate has never been handed out: its code is on no
        # paper, so it is as unknown as a made-up one.
        if certificate is None or certificate.status not in (
            CertificateStatus.ISSUED,
            CertificateStatus.REVOKED,
        ):
            return Template(
                "certificates/verify.html",
                context={"outcome": "unknown", "typed": code[:MAX_CODE_INPUT]},
                status_code=404,
            )
        # Only what the paper states and anyone holding it can read: no e-mail, no
        # partner, no reason for a revocation.
        facts = {
            "holder": certificate.holder_name,
            "programme": certificate.programme_name,
            "role": gettext(locale, ROLE_LABELS[certificate.role]),
            "issued_on": format_date(certificate.issued_on, locale),
            "code": codes.display(certificate.code),
        }
        if certificate.status == CertificateStatus.REVOKED:
            assert certificate.revoked_at is not None
            facts["revoked_on"] = format_date(certificate.revoked_at, locale)
            outcome = "revoked"
        else:
            outcome = "valid"
        return Template(
            "certificates/verify.html",
            context={"outcome": outcome, "certificate": facts},
        )


def _verify_form(locale: str, typed: str, error: str | None, status_code: int = 200) -> Template:
    return Template(
        "certificates/verify.html",
        context={
            "outcome": "form",
            "typed": typed,
            "error": gettext(locale, error) if error else None,
        },
        status_code=status_code,
    )


__all__ = ["ParticipantCertificates", "VerifyPages"]
