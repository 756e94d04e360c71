"""A pairing (tandem) is one mentor and one mentee in a cohort, and what they do together.

* :class:`Pairing` moves through the states of :mod:`core.pairings.lifecycle`. It
  points at the two *applications* (not users): a proposal can be made before the
  people have accounts, and the applications carry what the matching used.
  ``version`` is an optimistic lock: of two coordinators acting at once, the second
  gets a conflict instead of silently overwriting the first.
* :class:`Agreement` (Tandemvereinbarung): the goals agreed at the first meeting,
  accepted by both with a timestamp. Changing the goals clears both acceptances.
* :class:`Meeting`: a logged meeting. ``notes`` are private to the pair: pages and
  the API never show them to coordinators.
* :class:`CheckIn`: a short survey due at start, midpoint and end, and 3 and 6
  months after completion (those two record the employment outcome, the figure
  programmes report to funders). Rows are created when they fall due.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, TenantScoped, Timestamps, UUIDPrimaryKey, utcnow
from core.db.types import str_enum
from core.pairings.lifecycle import OPEN_STATES, PairingState

_OPEN_STATES_SQL = "state IN ({})".format(", ".join(f"'{s}'" for s in sorted(OPEN_STATES)))


class Pairing(UUIDPrimaryKey, Timestamps, TenantScoped, Base):
    __tablename__ = "pairings"
    __table_args__ = (
        Index("ix_pairings_tenant_id_cohort_id_state", "tenant_id", "cohort_id", "state"),
        Index("ix_pairings_tenant_id_mentor_application_id", "tenant_id", "mentor_application_id"),
        # A mentee is in at most one open tandem at a time (a mentor may have several,
        # up to their capacity, which the services check).
        Index(
            "ix_pairings_tenant_id_mentee_open",
            "tenant_id",
            "mentee_application_id",
            unique=True,
            postgresql_where=text(_OPEN_STATES_SQL),
            sqlite_where=text(_OPEN_STATES_SQL),
        ),
    )

    cohort_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("cohorts.id", ondelete="CASCADE"))
    mentee_application_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("applications.id", ondelete="CASCADE")
    )
    mentor_application_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("applications.id", ondelete="CASCADE")
    )
    state: Mapped[PairingState] = mapped_column(
        str_enum(PairingState), default=PairingState.PROPOSED
    )
    proposed_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    proposed_at: Mapped[datetime] = mapped_column(default=utcnow)
    mentee_accepted_at: Mapped[datetime | None] = mapped_column(default=None)
    mentor_accepted_at: Mapped[datetime | None] = mapped_column(default=None)
    activated_at: Mapped[datetime | None] = mapped_column(default=None)
    paused_at: Mapped[datetime | None] = mapped_column(default=None)
    # When it reached its final state (completed, declined, withdrawn, dissolved).
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    # Why it was declined, withdrawn or dissolved (dissolving requires one).
    reason: Mapped[str] = mapped_column(Text, default="")
    # From the matching run that proposed it: total score and per-criterion parts.
    score: Mapped[float | None] = mapped_column(Float, default=None)
    explanation: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Set by the periodic check when no meeting was logged for 4 weeks; cleared by one.
    at_risk_since: Mapped[datetime | None] = mapped_column(default=None)

    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}


class Agreement(UUIDPrimaryKey, Timestamps, TenantScoped, Base):
    __tablename__ = "agreements"
    __table_args__ = (UniqueConstraint("tenant_id", "pairing_id"),)

    pairing_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("pairings.id", ondelete="CASCADE")
    )
    goals: Mapped[str] = mapped_column(Text, default="")
    mentee_accepted_at: Mapped[datetime | None] = mapped_column(default=None)
    mentor_accepted_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), default=None
    )

    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}


class MeetingFormat(StrEnum):
    IN_PERSON = "in_person"
    ONLINE = "online"
    PHONE = "phone"


class Meeting(UUIDPrimaryKey, Timestamps, TenantScoped, Base):
    __tablename__ = "meetings"
    __table_args__ = (
        Index("ix_meetings_tenant_id_pairing_id_held_on", "tenant_id", "pairing_id", "held_on"),
    )

    pairing_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("pairings.id", ondelete="CASCADE")
    )
    held_on: Mapped[date] = mapped_column(Date)
    minutes: Mapped[int] = mapped_column(Integer)
    format: Mapped[MeetingFormat] = mapped_column(str_enum(MeetingFormat))
    topic: Mapped[str] = mapped_column(String(200), default="")
    notes: Mapped[str] = mapped_column(Text, default="")  # private to the pair
    created_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), default=None
    )


class CheckInKind(StrEnum):
    START = "start"
    MIDPOINT = "midpoint"  # Zwischenbilanz
    END = "end"
    FOLLOWUP_3M = "followup_3m"
    FOLLOWUP_6M = "followup_6m"


class EmploymentOutcome(StrEnum):
    """What the follow-ups ask: the figure programmes report."""

    EMPLOYED_OWN_FIELD = "employed_own_field"
    EMPLOYED_RELATED_FIELD = "employed_related_field"
    OTHER_WORK = "other_work"
    IN_TRAINING = "in_training"
    SEARCHING = "searching"


class Respondent(StrEnum):
    MENTEE = "mentee"
    MENTOR = "mentor"


class CheckIn(UUIDPrimaryKey, Timestamps, TenantScoped, Base):
    __tablename__ = "check_ins"
    __table_args__ = (
        UniqueConstraint("tenant_id", "pairing_id", "kind", "respondent"),
        Index("ix_check_ins_tenant_id_due_on", "tenant_id", "due_on"),
    )

    pairing_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("pairings.id", ondelete="CASCADE")
    )
    kind: Mapped[CheckInKind] = mapped_column(str_enum(CheckInKind))
    respondent: Mapped[Respondent] = mapped_column(str_enum(Respondent))
    due_on: Mapped[date] = mapped_column(Date)
    # The last reminder sent, and how many were (at most two: see core.pairings.checkins).
    reminded_at: Mapped[datetime | None] = mapped_column(default=None)
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    # {"satisfaction": 4, "comment": "..."}: the survey's answers.
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    employment_outcome: Mapped[EmploymentOutcome | None] = mapped_column(
        str_enum(EmploymentOutcome), default=None
    )
