"""What a coordinator's matching leaves behind: runs, their proposals, and locks.

* :class:`MatchRun` — one run for a cohort: the options and weights it used, its
  progress while a job computes it, and a summary (total score, matched count,
  timings, how optimality was shown). Runs are kept, so that a what-if run can be
  compared with the one before.
* :class:`MatchProposal` — a pair the run proposes, with its score, the score of each
  criterion, and the pairing it became once the coordinator sent it.
* :class:`MatchUnmatched` — someone the run left without a partner, and why.
* :class:`MatchConstraint` — a pair the coordinator locked (stays matched in every
  re-run) or forbade (never matched). Per cohort, not per run.

Proposals point at *applications*, like pairings: matching reads accepted
applications, and a pairing is made from two of them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, TenantScoped, UUIDPrimaryKey, utcnow
from core.db.types import str_enum


class RunStatus(StrEnum):
    QUEUED = "queued"  # waiting for a worker (large runs)
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ConstraintKind(StrEnum):
    LOCK = "lock"
    FORBID = "forbid"


class MatchRun(UUIDPrimaryKey, TenantScoped, Base):
    __tablename__ = "match_runs"
    __table_args__ = (
        Index(
            "ix_match_runs_tenant_id_cohort_id_created_at", "tenant_id", "cohort_id", "created_at"
        ),
    )

    cohort_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("cohorts.id", ondelete="CASCADE"))
    created_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    status: Mapped[RunStatus] = mapped_column(str_enum(RunStatus), default=RunStatus.QUEUED)
    progress: Mapped[float] = mapped_column(Float, default=0.0)  # 0 to 1
    stage: Mapped[str] = mapped_column(String(100), default="")  # what it is doing now
    # {"mode": "optimal", "maximise_matched": false, "seed": 0}
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The score criteria's weights this run used, {criterion id: weight}; filters: [ids].
    weights: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    filters: Mapped[list[str]] = mapped_column(JSON, default=list)
    # total_score (millionths), matched, mentees, mentors, score_seconds, solve_seconds,
    # proof {...}, blocking_pairs
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str] = mapped_column(Text, default="")


class MatchProposal(UUIDPrimaryKey, TenantScoped, Base):
    __tablename__ = "match_proposals"
    __table_args__ = (
        UniqueConstraint("tenant_id", "run_id", "mentee_application_id"),
        Index("ix_match_proposals_tenant_id_run_id_score", "tenant_id", "run_id", "score"),
    )

    run_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("match_runs.id", ondelete="CASCADE"))
    mentee_application_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("applications.id", ondelete="CASCADE")
    )
    mentor_application_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("applications.id", ondelete="CASCADE")
    )
    score: Mapped[int] = mapped_column(BigInteger)  # millionths
    parts: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set when the coordinator sent it and it became a proposed pairing.
    pairing_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("pairings.id", ondelete="SET NULL"), default=None
    )


class MatchUnmatched(UUIDPrimaryKey, TenantScoped, Base):
    __tablename__ = "match_unmatched"
    __table_args__ = (UniqueConstraint("tenant_id", "run_id", "application_id"),)

    run_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("match_runs.id", ondelete="CASCADE"))
    application_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("applications.id", ondelete="CASCADE")
    )
    reason: Mapped[str] = mapped_column(String(32))  # core.matching.problem.UnmatchedReason


class MatchConstraint(UUIDPrimaryKey, TenantScoped, Base):
    __tablename__ = "match_constraints"
    __table_args__ = (
        UniqueConstraint(
            "tenant_id",
            "cohort_id",
            "mentee_application_id",
            "mentor_application_id",
            name="uq_match_constraints_pair",  # the generated name is over PostgreSQL's 63
        ),
    )

    cohort_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("cohorts.id", ondelete="CASCADE"))
    mentee_application_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("applications.id", ondelete="CASCADE")
    )
    mentor_application_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("applications.id", ondelete="CASCADE")
    )
    kind: Mapped[ConstraintKind] = mapped_column(str_enum(ConstraintKind))
    created_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
