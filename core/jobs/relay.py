"""Send committed outbox rows to the broker.

Runs as an asyncio task in every web process and in ``tandem worker``. It wakes when
a session that enqueued a job commits, and polls as a fallback (another process's
commits, a broker that was down). Several relays may run at once: on PostgreSQL
rows are claimed with ``FOR UPDATE SKIP LOCKED``; a duplicate send is harmless
because actors are idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

import dramatiq
from sqlalchemy import or_, select

from core.db.base import utcnow
from core.db.sessions import Database
from core.jobs.models import OutboxMessage
from core.jobs.outbox import on_outbox_commit, remove_outbox_commit_listener

log = logging.getLogger(__name__)

# A job sent this long ago and still not completed is sent again: covers a message
# lost by a broker (or an in-memory queue that died with its process).
REDELIVER_AFTER = timedelta(hours=1)


async def relay_once(db: Database, broker: dramatiq.Broker, limit: int = 200) -> int:
    """Send up to ``limit`` due rows; return how many were sent."""
    now = utcnow()
    due = (
        select(OutboxMessage)
        .where(OutboxMessage.completed_at.is_(None), OutboxMessage.available_at <= now)
        .where(
            or_(
                OutboxMessage.dispatched_at.is_(None),
                OutboxMessage.dispatched_at < now - REDELIVER_AFTER,
            )
        )
        .order_by(OutboxMessage.created_at)
        .limit(limit)
    )
    if db.dialect == "postgresql":
        due = due.with_for_update(skip_locked=True)
    sent = 0
    async with db.platform_session() as session, session.begin():
        for message in await session.scalars(due):
            try:
                actor = broker.get_actor(message.actor_name)
            except dramatiq.errors.ActorNotFound:
                message.last_error = f"no actor named {message.actor_name!r} in this process"
                message.available_at = now + timedelta(minutes=5)
                continue
            kwargs = {
                **message.kwargs,
                "tenant_id": str(message.tenant_id),
                "job_id": str(message.id),
            }
            await asyncio.to_thread(actor.send_with_options, kwargs=kwargs)
            message.dispatched_at = now
            sent += 1
    return sent


class OutboxRelay:
    def __init__(self, db: Database, broker: dramatiq.Broker, poll_seconds: float) -> None:
        self._db = db
        self._broker = broker
        self._poll = poll_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        on_outbox_commit(self.wake)
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    def wake(self) -> None:
        # Commits may happen on worker threads with loops of their own.
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    async def stop(self) -> None:
        remove_outbox_commit_listener(self.wake)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                while await relay_once(self._db, self._broker) > 0:
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox relay failed; retrying in %.0f s", self._poll)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll)
            self._wake.clear()
