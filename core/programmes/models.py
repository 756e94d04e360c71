"""A tenant runs programmes; each programme takes people in through cohorts.

* :class:`Programme`: what a tenant offers — duration, expected hours, meeting cadence,
  whether mentees may pick their own mentor, and the eligibility rules its intake
  checks (for example German at least B1, or "only people already in the recognition
  procedure", as some IQ programmes require).
* :class:`Cohort` (German: *Durchgang*): one intake, with an application window and a
  mentoring window. Its slug is unique in the tenant so that the command line can
  name it (``--cohort 2027-spring``).
"""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, TenantScoped, Timestamps, UUIDPrimaryKey
from core.db.types import str_enum


class Cadence(StrEnum):
    """How often a tandem is expected to meet."""

    WEEKLY = "weekly"
    FORTNIGHTLY = "fortnightly"
    MONTHLY = "monthly"
    FLEXIBLE = "flexible"


class Programme(UUIDPrimaryKey, Timestamps, TenantScoped, Base):
    __tablename__ = "programmes"
    __table_args__ = (UniqueConstraint("tenant_id", "slug"),)

    slug: Mapped[str] = mapped_column(String(63))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    duration_weeks: Mapped[int] = mapped_column(Integer)
    # TRIEC: 24 hours over 4 months. None: the programme sets no target.
    expected_hours: Mapped[int | None] = mapped_column(Integer, default=None)
    cadence: Mapped[Cadence] = mapped_column(str_enum(Cadence), default=Cadence.FORTNIGHTLY)
    # Mentees see their best suggestions and request a mentor themselves.
    self_matching: Mapped[bool] = mapped_column(Boolean, default=False)
    # Shown on the tenant's public programme page with an "apply" call to action.
    published: Mapped[bool] = mapped_column(Boolean, default=True)
    # Eligibility, checked and shown at intake. A CEFR level ("B1") or None.
    min_german_level: Mapped[str | None] = mapped_column(String(2), default=None)
    requires_recognition_procedure: Mapped[bool] = mapped_column(Boolean, default=False)


class Cohort(UUIDPrimaryKey, Timestamps, TenantScoped, Base):
    __tablename__ = "cohorts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "slug"),
        Index("ix_cohorts_tenant_id_programme_id", "tenant_id", "programme_id"),
    )

    programme_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("programmes.id", ondelete="CASCADE")
    )
    slug: Mapped[str] = mapped_column(String(63))
    name: Mapped[str] = mapped_column(String(200))
    # Both windows include their first and last day.
    applications_open_on: Mapped[date] = mapped_column(Date)
    applications_close_on: Mapped[date] = mapped_column(Date)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)

    def accepts_applications(self, today: date) -> bool:
        return self.applications_open_on <= today <= self.applications_close_on
