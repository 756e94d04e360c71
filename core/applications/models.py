"""Applications and intake.

One :class:`Application` per person and cohort, as mentee or as mentor. Mentee and
mentor applications share a table because matching reads them side by side
(occupation, languages, district, availability); the columns only one side uses
are NULL for the other, and :mod:`core.applications.schemas` says which are required
for which kind.

An application may come from someone without an account yet (the public form asks
for a name and an e-mail address); ``user_id`` is set once the person signs in —
for example through the invitation sent when the application is accepted — or at
once when a signed-in participant applies (former mentees come back as mentors).

Fields that a tenant's plugins add to the form are kept in ``extra``, under the
plugin's id: ``{"<plugin-id>": {"field": value}}``.

``version`` makes concurrent decisions safe: two coordinators deciding at once —
the second one's write finds another version and fails instead of overwriting.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, TenantScoped, Timestamps, UUIDPrimaryKey, utcnow
from core.db.types import str_enum


class ApplicationKind(StrEnum):
    MENTEE = "mentee"
    MENTOR = "mentor"


class ApplicationStatus(StrEnum):
    """Where an application stands in intake."""

    SUBMITTED = "submitted"  # new, nobody has looked at it yet
    IN_REVIEW = "in_review"  # intake talk (Erstgespräch) planned or held
    ACCEPTED = "accepted"  # may be matched
    WAITLISTED = "waitlisted"  # eligible, no place (or no mentor) this time
    REJECTED = "rejected"  # with a reason the applicant is told
    WITHDRAWN = "withdrawn"  # by the applicant


class RecognitionStatus(StrEnum):
    """Recognition (Anerkennung) of a foreign qualification."""

    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    PARTIAL = "partial"
    FULL = "full"
    NOT_REQUIRED = "not_required"


class Qualification(StrEnum):
    """Highest qualification, in ISCED-like broad levels."""

    SECONDARY = "secondary"
    VOCATIONAL = "vocational"
    BACHELOR = "bachelor"
    MASTER = "master"
    DOCTORATE = "doctorate"


class Application(UUIDPrimaryKey, Timestamps, TenantScoped, Base):
    __tablename__ = "applications"
    __table_args__ = (
        Index("ix_applications_tenant_id_cohort_id_kind", "tenant_id", "cohort_id", "kind"),
        Index("ix_applications_tenant_id_user_id", "tenant_id", "user_id"),
        # One application per address, cohort and kind (addresses stored lower-case).
        UniqueConstraint("tenant_id", "cohort_id", "kind", "email"),
    )

    cohort_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("cohorts.id", ondelete="CASCADE"))
    kind: Mapped[ApplicationKind] = mapped_column(str_enum(ApplicationKind))
    status: Mapped[ApplicationStatus] = mapped_column(
        str_enum(ApplicationStatus), default=ApplicationStatus.SUBMITTED
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    # Contact: how the applicant is told about decisions, in their language.
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    locale: Mapped[str] = mapped_column(String(16))

    # Both kinds. Occupation: an ISCO-08 code (core.reference.occupations).
    occupation_code: Mapped[str] = mapped_column(String(4))
    field: Mapped[str] = mapped_column(String(200), default="")
    years_experience: Mapped[int] = mapped_column(Integer, default=0)
    # [{"code": "uk", "level": "C2"}, ...]: ISO 639 codes, CEFR levels.
    languages: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    district: Mapped[str] = mapped_column(String(100), default="")
    # Time slots such as "weekday_evening" (core.reference.availability).
    availability: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Optional and self-described; used only when a mentee asks for a mentor of the
    # same gender, never as a matching criterion on its own.
    gender: Mapped[str | None] = mapped_column(String(50), default=None)

    # Mentees.
    german_level: Mapped[str | None] = mapped_column(String(2), default=None)
    qualification: Mapped[Qualification | None] = mapped_column(
        str_enum(Qualification), default=None
    )
    qualification_country: Mapped[str | None] = mapped_column(String(2), default=None)
    recognition_status: Mapped[RecognitionStatus | None] = mapped_column(
        str_enum(RecognitionStatus), default=None
    )
    recognition_authority: Mapped[str] = mapped_column(String(200), default="")
    goals: Mapped[str] = mapped_column(Text, default="")
    # {"same_gender_mentor": true}
    preferences: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    # Mentors.
    employer: Mapped[str] = mapped_column(String(200), default="")
    position: Mapped[str] = mapped_column(String(200), default="")
    capacity: Mapped[int | None] = mapped_column(Integer, default=None)
    motivation: Mapped[str] = mapped_column(Text, default="")

    # Consent to data processing: when, and to which wording (its version).
    consent_given_at: Mapped[datetime] = mapped_column(default=utcnow)
    consent_version: Mapped[str] = mapped_column(String(20))

    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    decision_reason: Mapped[str] = mapped_column(Text, default="")
    # The invitation sent with an acceptance: accepting it sets ``user_id``.
    invitation_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("invitations.id", ondelete="SET NULL"), default=None
    )
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    decided_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), default=None
    )

    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}


class IntakeNote(UUIDPrimaryKey, TenantScoped, Base):
    """What a coordinator noted during the intake talk; read by coordinators only."""

    __tablename__ = "intake_notes"
    __table_args__ = (
        Index("ix_intake_notes_tenant_id_application_id", "tenant_id", "application_id"),
    )

    application_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("applications.id", ondelete="CASCADE")
    )
    author_user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
