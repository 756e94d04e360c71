"""Tenant events: published in a transaction, delivered to enabled plugins by a job."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.db.base import utcnow
from core.jobs import JobContext, enqueue, tenant_actor
from core.jobs.models import OutboxMessage
from core.pluginhost.types import Event

# Dotted lower-case names, e.g. ``tenant.updated``, ``pairing.accepted``: plugins
# select events by pattern (``pairing.*``), so names must be predictable.
EVENT_NAME = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")


def publish_event(session: AsyncSession, name: str, payload: dict[str, Any]) -> OutboxMessage:
    """Tell the tenant's plugins about ``name`` once the session commits.

    ``session`` is a tenant session: the event belongs to its tenant and is written
    to the outbox in its transaction, so a rolled-back change publishes nothing.
    ``payload`` must be JSON-serialisable.
    """
    if not EVENT_NAME.fullmatch(name) or len(name) > 100:
        raise ValueError(
            f"event names are dotted lower-case words like 'tenant.updated', not {name!r}"
        )
    return enqueue(
        session, deliver_event, name=name, payload=payload, occurred_at=utcnow().isoformat()
    )


@tenant_actor(name="core.deliver_event")
async def deliver_event(
    job: JobContext, *, name: str, payload: dict[str, Any], occurred_at: str
) -> None:
    event = Event(
        id=job.job_id,
        tenant_id=job.tenant.id,
        name=name,
        payload=payload,
        occurred_at=datetime.fromisoformat(occurred_at),
    )
    hooks = job.plugins.hooks_for(job.tenant)
    # Hook implementations are plain functions that may block (HTTP calls): keep
    # them off the event loop.
    await asyncio.to_thread(hooks.handle_event, tenant=job.tenant, event=event)
