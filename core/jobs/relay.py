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
import uuid
from datetime import datetime, timedelta

import dramatiq
from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.base import utcnow
from core.db.sessions import Database
from core.jobs.models import OutboxMessage
from core.jobs.outbox import on_outbox_commit, remove_outbox_commit_listener

log = logging.getLogger(__name__)

# A job sent this long ago and still not completed is sent again: covers a message
# lost by a broker (or an in-memory queue that died with its process).
REDELIVER_AFTER = timedelta(hours=1)
# ...but not forever: a job that failed this often (each dramatiq retry counts) has
# used up several rounds of retries; it stays in the outbox with its last_error for
# an operator to look at.
REDELIVER_MAX_ATTEMPTS = 30
# A row naming an actor this process does not know waits this long before the next try
# (a deployment may be rolling out the code that declares it).
UNKNOWN_ACTOR_RETRY = timedelta(minutes=5)


async def relay_once(db: Database, broker: dramatiq.Broker, limit: int = 200) -> int:
    """Send up to ``limit`` due rows; return how many were sent.

    If the broker fails part-way, the rows sent so far are still marked dispatched
    and the error is raised afterwards.
    """
    now = utcnow()
    due = (
        select(OutboxMessage)
        .where(OutboxMessage.completed_at.is_(None), OutboxMessage.available_at <= now)
        .where(
            or_(
                OutboxMessage.dispatched_at.is_(None),
                and_(
                    OutboxMessage.dispatched_at < now - REDELIVER_AFTER,
                    OutboxMessage.attempts < REDELIVER_MAX_ATTEMPTS,
                ),
            )
        )
        .order_by(OutboxMessage.created_at)
        .limit(limit)
    )
    if db.dialect == "postgresql":
        # Several relays (web processes, workers) share the table: each takes rows
        # no other one holds, and keeps them locked until they are marked.
        due = due.with_for_update(skip_locked=True)
    sent: list[uuid.UUID] = []
    unknown: dict[uuid.UUID, str] = {}
    failure: Exception | None = None
    async with db.platform_session() as session, session.begin():
        for message in await session.scalars(due):
            try:
                actor = broker.get_actor(message.actor_name)
            except dramatiq.errors.ActorNotFound:
                unknown[message.id] = message.actor_name
                continue
            kwargs = {
                **message.kwargs,
                # None for a platform job: its actor runs in no tenant.
                "tenant_id": str(message.tenant_id) if message.tenant_id is not None else None,
                "job_id": str(message.id),
            }
            try:
                await asyncio.to_thread(actor.send_with_options, kwargs=kwargs)
            except Exception as exc:
                failure = exc
                break
            sent.append(message.id)
        await _mark(session, sent, unknown, now)
    if failure is not None:
        raise failure
    return len(sent)


async def _mark(
    session: AsyncSession, sent: list[uuid.UUID], unknown: dict[uuid.UUID, str], now: datetime
) -> None:
    # Core UPDATEs, not ORM flushes: a row deleted meanwhile (its tenant was removed)
    # must not fail the batch and so cause everything in it to be sent again.
    if sent:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(sent))
            .values(dispatched_at=now)
            .execution_options(synchronize_session=False)
        )
    for message_id, actor_name in unknown.items():
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(
                available_at=now + UNKNOWN_ACTOR_RETRY,
                last_error=f"no actor named {actor_name!r} in this process",
            )
            .execution_options(synchronize_session=False)
        )


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
        # Commits may happen on worker threads with loops of their own; the loop may
        # also close between the check and the call while the process shuts down.
        if self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._wake.set)

    async def stop(self) -> None:
        remove_outbox_commit_listener(self.wake)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            # Cleared before the pass, not after: a commit during the pass sets it
            # again and is relayed by the next pass instead of waiting for the poll.
            self._wake.clear()
            try:
                while await relay_once(self._db, self._broker) > 0:
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox relay failed; retrying in %.0f s", self._poll)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll)
