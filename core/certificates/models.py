"""What certificates leave behind: issued certificates, batches, tenants' own wording.

* :class:`Certificate` — one PDF for one holder of one completed pairing: the mentee,
  the mentor, or the mentor's employer (a partner-company certificate). It keeps the
  facts it certifies as they were when it was issued (name, programme, role, date),
  so that ``/verify/<code>`` confirms what the paper says even after a profile changed.
  Rows are created *pending* in the transaction that completes the pairing (or starts
  a batch); a job renders the PDF and marks them *issued*. Revoking keeps the row (the
  verification page then says "revoked"); re-issuing revokes and creates a new one
  with a new code, linked by ``replaced_by_id``.
* :class:`CertificateBatch` — a coordinator's "issue for the whole cohort": its
  progress is the share of its certificates that are no longer pending.
* :class:`CertificateWording` — a tenant's own edited source of a plugin's template
  in one language. Rendered in Jinja2's sandbox; never saved unless it renders.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, deferred, mapped_column

from core.db.base import Base, TenantScoped, Timestamps, UUIDPrimaryKey, utcnow
from core.db.types import str_enum


class CertificateRole(StrEnum):
    MENTEE = "mentee"
    MENTOR = "mentor"
    COMPANY = "company"  # the mentor's employer, where the tenant wants one


class CertificateStatus(StrEnum):
    PENDING = "pending"  # waiting for the job that renders it
    ISSUED = "issued"
    FAILED = "failed"  # the template failed to render; ``error`` says why
    REVOKED = "revoked"


class Certificate(UUIDPrimaryKey, Timestamps, TenantScoped, Base):
    __tablename__ = "certificates"
    __table_args__ = (
        Index("ix_certificates_tenant_id_pairing_id", "tenant_id", "pairing_id"),
        Index("ix_certificates_tenant_id_user_id", "tenant_id", "user_id"),
        Index("ix_certificates_tenant_id_batch_id", "tenant_id", "batch_id"),
        UniqueConstraint("tenant_id", "code"),
    )

    pairing_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("pairings.id", ondelete="CASCADE")
    )
    # The application it was issued for (mentee's or mentor's; the mentor's for a
    # company certificate) and, when that person has an account, who may download it.
    application_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("applications.id", ondelete="CASCADE")
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    role: Mapped[CertificateRole] = mapped_column(str_enum(CertificateRole))
    template_id: Mapped[str] = mapped_column(String(100))
    locale: Mapped[str] = mapped_column(String(16))
    # Printed on it and confirmed by /verify/<code>, frozen at issue.
    holder_name: Mapped[str] = mapped_column(String(200))
    programme_name: Mapped[str] = mapped_column(String(200))
    cohort_name: Mapped[str] = mapped_column(String(200))
    issued_on: Mapped[date] = mapped_column(Date)
    # Unguessable, upper-case Crockford base32 without separators. /verify/<code> looks
    # it up on the tenant's own host only.
    code: Mapped[str] = mapped_column(String(32))
    status: Mapped[CertificateStatus] = mapped_column(
        str_enum(CertificateStatus), default=CertificateStatus.PENDING
    )
    pdf: Mapped[bytes | None] = deferred(mapped_column(LargeBinary, default=None))
    pdf_sha256: Mapped[str] = mapped_column(String(64), default="")
    error: Mapped[str] = mapped_column(Text, default="")
    batch_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("certificate_batches.id", ondelete="SET NULL"), default=None
    )
    issued_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_reason: Mapped[str] = mapped_column(String(500), default="")
    replaced_by_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("certificates.id", ondelete="SET NULL"), default=None
    )


class CertificateBatch(UUIDPrimaryKey, TenantScoped, Base):
    __tablename__ = "certificate_batches"
    __table_args__ = (
        Index("ix_certificate_batches_tenant_id_cohort_id", "tenant_id", "cohort_id"),
    )

    cohort_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("cohorts.id", ondelete="CASCADE"))
    created_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    total: Mapped[int] = mapped_column(Integer, default=0)


class CertificateWording(UUIDPrimaryKey, Timestamps, TenantScoped, Base):
    __tablename__ = "certificate_wordings"
    __table_args__ = (UniqueConstraint("tenant_id", "template_id", "locale"),)

    template_id: Mapped[str] = mapped_column(String(100))
    locale: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(Text)
    updated_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
