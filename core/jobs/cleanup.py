"""Removing outbox rows of jobs that completed long ago (a periodic platform task).

A completed row is kept for :data:`COMPLETED_JOB_RETENTION` so that an operator can
still see what ran recently (and a late duplicate delivery still finds its row
completed rather than missing). Rows that never completed — a job that used up its
retries, or names an actor no process knows — are kept whatever their age: they are
what an operator has to look at, and ``last_error`` says why.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.base import utcnow
from core.jobs.actors import PlatformJobContext
from core.jobs.models import OutboxMessage
from core.jobs.schedule import periodic

log = logging.getLogger(__name__)

COMPLETED_JOB_RETENTION = timedelta(days=7)


async def prune_outbox(platform: AsyncSession, now: datetime) -> int:
    """Delete outbox rows completed more than the retention before ``now``; return how many."""
    result = await platform.execute(
        delete(OutboxMessage)
        .where(OutboxMessage.completed_at < now - COMPLETED_JOB_RETENTION)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


@periodic("core.jobs.prune_outbox", every=timedelta(days=1), scope="platform")
async def prune_outbox_job(job: PlatformJobContext) -> None:
    """Delete outbox rows of jobs completed more than a week ago."""
    count = await prune_outbox(job.session, utcnow())
    log.info("outbox cleanup: %d completed job row(s) deleted", count)
