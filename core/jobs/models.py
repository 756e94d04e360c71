"""The job outbox (one row per job, from the change that caused it to its completion)
and the schedule of periodic jobs (one row per periodic task, see ``core.jobs.schedule``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, UUIDPrimaryKey, utcnow


class OutboxMessage(UUIDPrimaryKey, Base):
    __tablename__ = "job_outbox"
    __table_args__ = (
        Index("ix_job_outbox_pending", "dispatched_at", "available_at"),
        {
            "info": {
                "platform_table": "the relay dispatches every tenant's jobs; "
                "each row names its tenant and the actor runs inside it "
                "(NULL: a platform job, which runs in no tenant)"
            }
        },
    )

    # NULL for a platform job (``@platform_actor``): it runs in a platform session.
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("tenants.id", ondelete="CASCADE"), index=True, default=None
    )
    actor_name: Mapped[str] = mapped_column(String(200))
    kwargs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    available_at: Mapped[datetime] = mapped_column(default=utcnow)
    dispatched_at: Mapped[datetime | None] = mapped_column(default=None)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)


class ScheduleEntry(Base):
    """When a periodic task runs next, and what its last run enqueued.

    Rows are claimed by compare-and-set on ``next_run_at`` (``core.jobs.schedule``),
    so that of several scheduler loops only one enqueues each due run.
    """

    __tablename__ = "job_schedule"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    # What the code declared when the row was last synced: shown to operators, and
    # compared on each sync so that a shortened interval takes effect at once.
    scope: Mapped[str] = mapped_column(String(20))
    every_seconds: Mapped[int] = mapped_column(Integer)
    next_run_at: Mapped[datetime] = mapped_column()
    last_run_at: Mapped[datetime | None] = mapped_column(default=None)
    last_enqueued_count: Mapped[int] = mapped_column(Integer, default=0)
