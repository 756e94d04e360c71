"""Issuing, rendering, revoking and finding certificates.

Pages, the coordinators' batches (:mod:`core.certificates.batches`), the jobs and the
demo loader call these functions with a *tenant session*; each adds its rows, audit
entries and jobs to that session and the caller commits once.

* :func:`issue_for_pairing` creates *pending* certificates for a completed tandem —
  the mentee's, the mentor's and, where the tenant enables a company template and the
  mentor named an employer, the company's — and enqueues one render job per row. A
  holder who already has a certificate of that tandem (pending, issued, or revoked:
  a revocation is deliberate, :func:`reissue` undoes it) gets no second one; a
  *failed* one is queued again as it is (same code).
* :func:`render_certificate` renders a pending one with its template (the tenant's
  wording where a coordinator edited it) and the tenant's look. A template that fails
  marks it *failed* with the reason, for the coordinators to see; nothing retries it.
* :func:`revoke` and :func:`reissue` keep the old row, so that ``/verify/<code>`` of
  an old paper says "revoked" rather than "unknown".

Who may read one (:func:`access_certificate_by_id`): its holder, and the tenant's
coordinators. Anyone else — another tenant (the tenant session finds nothing) or
another participant — gets :class:`CertificateNotFound`, the same answer as for an id
that does not exist.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.applications.models import Application
from core.certificates import catalog, codes, jobs
from core.certificates.models import (
    Certificate,
    CertificateBatch,
    CertificateRole,
    CertificateStatus,
)
from core.certificates.render import CertificateFacts, TemplateProblem, render_pdf
from core.db.base import utcnow
from core.i18n import N_
from core.i18n.catalogs import gettext
from core.identity import audit
from core.jobs import enqueue
from core.mail.delivery import send_mail
from core.pairings.lifecycle import PairingState
from core.pairings.models import Meeting, Pairing
from core.pluginhost.manager import PluginHost
from core.pluginhost.types import CertificateTemplate
from core.programmes.models import Cohort, Programme
from core.programmes.schemas import ONE_LINE, TOO_LONG, InvalidInput, Problem
from core.tenancy.look import tenant_look
from core.tenancy.snapshot import TenantSnapshot

if TYPE_CHECKING:
    from core.pairings.services import Person

COORDINATOR_ROLE = "admin"
READY_MAIL = "certificate_ready"  # core/templates/mail/certificate_ready.*
MAX_REASON_LENGTH = 500  # Certificate.revoked_reason

# Audit actions (labels in core/templates/admin/audit.html).
CERTIFICATE_ISSUED = "certificate_issued"
CERTIFICATE_REVOKED = "certificate_revoked"
CERTIFICATE_REISSUED = "certificate_reissued"

# Why something was refused (msgids; :meth:`Refused.text` translates).
NOT_COMPLETED = N_("Certificates are issued for completed tandems only.")
ALREADY_REVOKED = N_("This certificate has been revoked already.")
ALREADY_REPLACED = N_("This certificate has been re-issued already.")
NO_TEMPLATE = N_(
    "No certificate template for this role is enabled. Enable a certificate plugin first."
)
NO_EMPLOYER = N_("The mentor has not named an employer, so there is no company certificate.")
REASON_REQUIRED = N_("Say why the certificate is revoked.")

# What a failed certificate's ``error`` says (for coordinators; English like the
# template errors WeasyPrint and Jinja2 give).
TEMPLATE_GONE = "the certificate template {id!r} is no longer enabled for this organisation"


class CertificateNotFound(LookupError):
    """No such certificate for this person: unknown, another tenant's, or not theirs."""


class Refused(Exception):
    """A request the certificate's state does not allow; ``message`` is a msgid."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def text(self, locale: str) -> str:
        return gettext(locale, self.message)


# --- issuing ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Holder:
    role: CertificateRole
    application: Application  # the mentor's for a company certificate
    name: str


async def issue_for_pairing(
    session: AsyncSession,
    tenant: TenantSnapshot,
    plugins: PluginHost,
    pairing: Pairing,
    *,
    by: Person | None = None,
    batch: CertificateBatch | None = None,
    ip: str | None = None,
    today: date | None = None,
) -> list[Certificate]:
    """Queue the certificates of a completed tandem (see the module's documentation).

    Returns the rows queued now: new ones, and failed ones queued again. Raises
    :class:`Refused` (:data:`NOT_COMPLETED`) for a tandem that is not completed.
    """
    if PairingState(pairing.state) is not PairingState.COMPLETED:
        raise Refused(NOT_COMPLETED)
    mentee, mentor = await _applications_of(session, pairing)
    cohort, programme = await _cohort_and_programme(session, pairing.cohort_id)
    # Per role, the certificate that stands in the way of a new one. Failed ones sort
    # first, so that any other (pending, issued, revoked) wins over them.
    rows = await session.scalars(
        select(Certificate)
        .where(Certificate.pairing_id == pairing.id)
        .order_by(Certificate.status != CertificateStatus.FAILED)
    )
    existing = {CertificateRole(c.role): c for c in rows}
    templates = catalog.enabled_templates(tenant, plugins)
    today = today or utcnow().date()
    queued: list[Certificate] = []
    for holder in _holders(mentee, mentor):
        template = next((t for t in templates if holder.role in t.roles), None)
        if template is None:
            continue
        known = existing.get(holder.role)
        if known is not None and known.status == CertificateStatus.FAILED:
            known.status = CertificateStatus.PENDING
            known.error = ""
            known.template_id = template.id
            known.batch_id = batch.id if batch is not None else known.batch_id
            queued.append(known)
        elif known is None:
            certificate = _new_certificate(
                tenant, template, holder, pairing, cohort, programme, today, by, batch
            )
            session.add(certificate)
            queued.append(certificate)
    await session.flush()
    for certificate in queued:
        details = _details(certificate)
        if batch is not None:
            details["batch_id"] = str(batch.id)
        audit.record(session, CERTIFICATE_ISSUED, _id_of(by), details, ip)
        enqueue(session, jobs.render_certificate_job, certificate_id=str(certificate.id))
    return queued


def _holders(mentee: Application, mentor: Application) -> list[_Holder]:
    holders = [
        _Holder(CertificateRole.MENTEE, mentee, mentee.name),
        _Holder(CertificateRole.MENTOR, mentor, mentor.name),
    ]
    if mentor.employer.strip():
        holders.append(_Holder(CertificateRole.COMPANY, mentor, mentor.employer.strip()))
    return holders


def _new_certificate(
    tenant: TenantSnapshot,
    template: CertificateTemplate,
    holder: _Holder,
    pairing: Pairing,
    cohort: Cohort,
    programme: Programme,
    today: date,
    by: Person | None,
    batch: CertificateBatch | None,
) -> Certificate:
    application = holder.application
    return Certificate(
        pairing_id=pairing.id,
        application_id=application.id,
        # The mentor receives the company's certificate to hand it on.
        user_id=application.user_id,
        role=holder.role,
        template_id=template.id,
        locale=catalog.language_for(template, application.locale, tenant),
        holder_name=holder.name[:200],
        programme_name=programme.name,
        cohort_name=cohort.name,
        issued_on=today,
        code=codes.new_code(),
        status=CertificateStatus.PENDING,
        batch_id=batch.id if batch is not None else None,
        issued_by_user_id=_id_of(by),
    )


# --- rendering --------------------------------------------------------------------------


async def render_certificate(
    session: AsyncSession, tenant: TenantSnapshot, plugins: PluginHost, certificate: Certificate
) -> Certificate:
    """Render a pending certificate into its PDF (issued) or record why not (failed).

    Does nothing to one that is not pending (a second delivery of the job, or one
    revoked before its job ran).
    """
    if certificate.status != CertificateStatus.PENDING:
        return certificate
    template = catalog.find_template(tenant, plugins, certificate.template_id)
    if template is None:
        return await _failed(session, certificate, TEMPLATE_GONE.format(id=certificate.template_id))
    source = await catalog.wording_of(session, template, certificate.locale)
    facts = await facts_of(session, tenant, certificate)
    look = await tenant_look(session, tenant)
    try:
        pdf = render_pdf(template, source, facts, certificate.locale, look)
    except TemplateProblem as problem:
        where = f" (line {problem.line})" if problem.line else ""
        return await _failed(session, certificate, f"{problem.message}{where}")
    certificate.pdf = pdf
    certificate.pdf_sha256 = hashlib.sha256(pdf).hexdigest()
    certificate.status = CertificateStatus.ISSUED
    certificate.error = ""
    await _tell_holder(session, tenant, certificate)
    await session.flush()
    return certificate


async def _tell_holder(
    session: AsyncSession, tenant: TenantSnapshot, certificate: Certificate
) -> None:
    """Mail a mentee or mentor that their certificate is ready, in its language.

    A company certificate goes to no one by mail: the mentor downloads it with their
    own, from the same page.
    """
    if certificate.role == CertificateRole.COMPANY:
        return
    application = await session.get(Application, certificate.application_id)
    if application is None or not application.email:
        return
    from core.pairings.checkin_tasks import site_url  # see verify_url
    from core.settings import get_settings

    send_mail(
        session,
        to=application.email,
        template=READY_MAIL,
        context={
            "name": certificate.holder_name,
            "programme": certificate.programme_name,
            "cohort": certificate.cohort_name,
            "code": codes.display(certificate.code),
            "link": f"{site_url(tenant, get_settings())}/certificates",
        },
        locale=certificate.locale,
    )


async def _failed(session: AsyncSession, certificate: Certificate, error: str) -> Certificate:
    certificate.status = CertificateStatus.FAILED
    certificate.error = error
    await session.flush()
    return certificate


async def facts_of(
    session: AsyncSession, tenant: TenantSnapshot, certificate: Certificate
) -> CertificateFacts:
    """What ``certificate`` states: its frozen facts plus the tandem's dates and meetings."""
    pairing = await session.get(Pairing, certificate.pairing_id)
    assert pairing is not None  # the foreign key cascades: a certificate has its tandem
    mentee, mentor = await _applications_of(session, pairing)
    partner = {
        CertificateRole.MENTEE: mentor.name,
        CertificateRole.MENTOR: mentee.name,
        CertificateRole.COMPANY: mentor.name,
    }[CertificateRole(certificate.role)]
    meetings, minutes = (
        await session.execute(
            select(func.count(), func.coalesce(func.sum(Meeting.minutes), 0)).where(
                Meeting.pairing_id == pairing.id
            )
        )
    ).one()
    return CertificateFacts(
        holder_name=certificate.holder_name,
        role=CertificateRole(certificate.role).value,
        partner_name=partner,
        programme_name=certificate.programme_name,
        cohort_name=certificate.cohort_name,
        tenant_name=tenant.name,
        started_on=_day(pairing.activated_at),
        completed_on=_day(pairing.ended_at),
        issued_on=certificate.issued_on,
        meetings=int(meetings),
        hours=int(minutes) / 60,
        code=codes.display(certificate.code),
        verify_url=verify_url(tenant, certificate.code),
    )


def verify_url(tenant: TenantSnapshot, code: str) -> str:
    """The address printed (and in the QR code) on a certificate: on the tenant's host."""
    # Imported here: the daily checks import the pairing services, which import the
    # certificates' jobs and so this module.
    from core.pairings.checkin_tasks import site_url
    from core.settings import get_settings

    return f"{site_url(tenant, get_settings())}/verify/{code}"


def _day(moment: datetime | None) -> date | None:
    return moment.date() if moment is not None else None


# --- revoking and re-issuing ------------------------------------------------------------


def check_revoke_reason(raw: Any) -> str:
    """The reason a coordinator gave for revoking; InvalidInput (key ``reason``) if bad."""
    text = raw.strip() if isinstance(raw, str) else ""
    if not text:
        raise InvalidInput({"reason": Problem(REASON_REQUIRED)})
    if len(text) > MAX_REASON_LENGTH:
        raise InvalidInput({"reason": Problem(TOO_LONG, {"max_length": MAX_REASON_LENGTH})})
    if not text.isprintable():
        raise InvalidInput({"reason": Problem(ONE_LINE)})
    return text


async def revoke(
    session: AsyncSession,
    certificate: Certificate,
    reason: Any,
    by: Person | None,
    *,
    ip: str | None = None,
    now: datetime | None = None,
) -> Certificate:
    """Revoke ``certificate``: its page under /verify says so from now on.

    Raises InvalidInput (``reason`` missing or too long) and :class:`Refused`
    (:data:`ALREADY_REVOKED`).
    """
    text = check_revoke_reason(reason)
    if certificate.status == CertificateStatus.REVOKED:
        raise Refused(ALREADY_REVOKED)
    _mark_revoked(certificate, text, now)
    await session.flush()
    details = _details(certificate) | {"reason": text}
    audit.record(session, CERTIFICATE_REVOKED, _id_of(by), details, ip, now=now)
    return certificate


async def reissue(
    session: AsyncSession,
    tenant: TenantSnapshot,
    plugins: PluginHost,
    certificate: Certificate,
    by: Person | None,
    *,
    reason: str = "",
    ip: str | None = None,
    today: date | None = None,
) -> Certificate:
    """A new certificate (new code, today's date, the holder's name as it is now) in
    place of ``certificate``, which is revoked (if it was not) and points to it.

    Raises :class:`Refused`: :data:`ALREADY_REPLACED`, :data:`NO_TEMPLATE`,
    :data:`NO_EMPLOYER`.
    """
    if certificate.replaced_by_id is not None:
        raise Refused(ALREADY_REPLACED)
    role = CertificateRole(certificate.role)
    template = catalog.template_for_role(tenant, plugins, role)
    if template is None:
        raise Refused(NO_TEMPLATE)
    pairing = await session.get(Pairing, certificate.pairing_id)
    assert pairing is not None
    mentee, mentor = await _applications_of(session, pairing)
    holder = next((h for h in _holders(mentee, mentor) if h.role is role), None)
    if holder is None:
        raise Refused(NO_EMPLOYER)
    cohort, programme = await _cohort_and_programme(session, pairing.cohort_id)
    replacement = _new_certificate(
        tenant,
        template,
        holder,
        pairing,
        cohort,
        programme,
        today or utcnow().date(),
        by,
        None,
    )
    session.add(replacement)
    await session.flush()
    if certificate.status != CertificateStatus.REVOKED:
        _mark_revoked(certificate, reason.strip()[:MAX_REASON_LENGTH], None)
    certificate.replaced_by_id = replacement.id
    await session.flush()
    details = _details(replacement) | {"replaces": str(certificate.id)}
    if reason.strip():
        details["reason"] = reason.strip()[:MAX_REASON_LENGTH]
    audit.record(session, CERTIFICATE_REISSUED, _id_of(by), details, ip)
    enqueue(session, jobs.render_certificate_job, certificate_id=str(replacement.id))
    return replacement


def _mark_revoked(certificate: Certificate, reason: str, now: datetime | None) -> None:
    certificate.status = CertificateStatus.REVOKED
    certificate.revoked_at = now or utcnow()
    certificate.revoked_reason = reason


# --- reading ----------------------------------------------------------------------------


async def access_certificate_by_id(
    session: AsyncSession, user: Person, certificate_id: uuid.UUID
) -> Certificate:
    """The certificate if ``user`` holds it or coordinates the tenant; else
    CertificateNotFound."""
    certificate = await session.get(Certificate, certificate_id)
    if certificate is None:
        raise CertificateNotFound(certificate_id)
    holder = certificate.user_id is not None and certificate.user_id == user.id
    if not (holder or COORDINATOR_ROLE in user.roles):
        raise CertificateNotFound(certificate_id)
    return certificate


async def certificates_of(session: AsyncSession, user: Person) -> list[Certificate]:
    """The certificates ``user`` holds, newest first; one re-issued is left out (its
    replacement is there)."""
    query = (
        select(Certificate)
        .where(Certificate.user_id == user.id, Certificate.replaced_by_id.is_(None))
        .order_by(Certificate.issued_on.desc(), Certificate.created_at.desc(), Certificate.id)
    )
    return list(await session.scalars(query))


async def certificates_by_pairing(
    session: AsyncSession, pairing_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[Certificate]]:
    """Every certificate of these tandems (revoked ones too), oldest first, per tandem."""
    ids = set(pairing_ids)
    found: dict[uuid.UUID, list[Certificate]] = {pairing_id: [] for pairing_id in ids}
    if not ids:
        return found
    rows = await session.scalars(
        select(Certificate)
        .where(Certificate.pairing_id.in_(ids))
        .order_by(Certificate.created_at, Certificate.id)
    )
    for row in rows:
        found[row.pairing_id].append(row)
    return found


async def find_by_code(session: AsyncSession, typed: str) -> Certificate | None:
    """The session's tenant's certificate with this code (as typed; None if unknown)."""
    code = codes.normalise(typed)
    if code is None:
        return None
    return await session.scalar(select(Certificate).where(Certificate.code == code))


async def pdf_of(session: AsyncSession, certificate: Certificate) -> bytes | None:
    """The stored PDF (a deferred column, loaded only when it is downloaded)."""
    return await session.scalar(select(Certificate.pdf).where(Certificate.id == certificate.id))


def download_name(certificate: Certificate) -> str:
    """A file name for the PDF: the role and code (no personal names in file names)."""
    return f"certificate-{CertificateRole(certificate.role).value}-{certificate.code}.pdf"


def is_downloadable(certificate: Certificate) -> bool:
    return certificate.status == CertificateStatus.ISSUED


# --- internals --------------------------------------------------------------------------


async def _applications_of(
    session: AsyncSession, pairing: Pairing
) -> tuple[Application, Application]:
    ids = [pairing.mentee_application_id, pairing.mentor_application_id]
    rows = {
        a.id: a for a in await session.scalars(select(Application).where(Application.id.in_(ids)))
    }
    return rows[pairing.mentee_application_id], rows[pairing.mentor_application_id]


async def _cohort_and_programme(
    session: AsyncSession, cohort_id: uuid.UUID
) -> tuple[Cohort, Programme]:
    row = (
        await session.execute(
            select(Cohort, Programme)
            .join(Programme, Programme.id == Cohort.programme_id)
            .where(Cohort.id == cohort_id)
        )
    ).one()
    return row[0], row[1]


def _details(certificate: Certificate) -> dict[str, Any]:
    # Ids and the role, no names: the audit log outlives a participant's data.
    return {
        "certificate_id": str(certificate.id),
        "pairing_id": str(certificate.pairing_id),
        "role": CertificateRole(certificate.role).value,
        "template_id": certificate.template_id,
    }


def _id_of(by: Person | None) -> uuid.UUID | None:
    return by.id if by is not None else None


__all__ = [
    "ALREADY_REPLACED",
    "ALREADY_REVOKED",
    "CERTIFICATE_ISSUED",
    "CERTIFICATE_REISSUED",
    "CERTIFICATE_REVOKED",
    "NOT_COMPLETED",
    "NO_EMPLOYER",
    "NO_TEMPLATE",
    "REASON_REQUIRED",
    "CertificateNotFound",
    "Refused",
    "access_certificate_by_id",
    "certificates_by_pairing",
    "certificates_of",
    "check_revoke_reason",
    "download_name",
    "facts_of",
    "find_by_code",
    "is_downloadable",
    "issue_for_pairing",
    "pdf_of",
    "reissue",
    "render_certificate",
    "revoke",
    "verify_url",
]
