"""The job outbox: one row per job, from the change that caused it to its completion."""

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
                "each row names its tenant and the actor runs inside it"
            }
        },
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    actor_name: Mapped[str] = mapped_column(String(200))
    kwargs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    available_at: Mapped[datetime] = mapped_column(default=utcnow)
    dispatched_at: Mapped[datetime | None] = mapped_column(default=None)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
