"""``@tenant_actor``: an async job body that runs inside one tenant, at most once.

Actors are collected here and declared on a broker by ``core.jobs.broker`` when
the process builds its broker, so that importing a module never depends on which
broker exists yet.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.base import utcnow
from core.db.sessions import Database
from core.jobs.models import OutboxMessage
from core.pluginhost.manager import PluginHost
from core.tenancy.snapshot import TenantSnapshot, load_snapshot

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobContext:
    """What an actor body gets: its tenant, a tenant session in a transaction, the plugins."""

    job_id: uuid.UUID
    tenant: TenantSnapshot
    session: AsyncSession
    plugins: PluginHost


JobBody = Callable[..., Awaitable[None]]


@dataclass(frozen=True)
class TenantActor:
    name: str
    body: JobBody
    max_retries: int
    queue_name: str

    def run(self, tenant_id: str, job_id: str, **kwargs: Any) -> None:
        """The dramatiq entry point: runs the body on this worker thread's event loop."""
        runtime = JobRuntime.for_current_thread()
        runtime.loop.run_until_complete(
            run_job(
                runtime.db, runtime.plugins, self, uuid.UUID(tenant_id), uuid.UUID(job_id), kwargs
            )
        )


REGISTRY: dict[str, TenantActor] = {}


def tenant_actor(
    *, name: str | None = None, max_retries: int = 10, queue_name: str = "default"
) -> Callable[[JobBody], TenantActor]:
    def register(body: JobBody) -> TenantActor:
        actor = TenantActor(
            name=name or f"{body.__module__}.{body.__name__}",
            body=body,
            max_retries=max_retries,
            queue_name=queue_name,
        )
        if actor.name in REGISTRY and REGISTRY[actor.name].body is not body:
            raise ValueError(f"two actors are named {actor.name!r}")
        REGISTRY[actor.name] = actor
        return actor

    return register


async def run_job(
    db: Database,
    plugins: PluginHost,
    actor: TenantActor,
    tenant_id: uuid.UUID,
    job_id: uuid.UUID,
    kwargs: dict[str, Any],
) -> bool:
    """Run ``actor`` for one outbox row; return False when it had already run (or cannot)."""
    tenant = await load_snapshot(db, tenant_id)
    if tenant is None:
        log.warning("job %s: tenant %s no longer exists; dropped", job_id, tenant_id)
        return False
    async with db.tenant_session(tenant_id) as session, session.begin():
        # Claiming the row first takes its lock until commit: a concurrent second
        # delivery waits here, then finds it completed. A failure rolls the claim back.
        claimed = await session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == job_id,
                OutboxMessage.tenant_id == tenant_id,
                OutboxMessage.completed_at.is_(None),
            )
            .values(completed_at=utcnow(), attempts=OutboxMessage.attempts + 1)
        )
        if claimed.rowcount != 1:
            log.info("job %s already completed; skipped", job_id)
            return False
        await actor.body(JobContext(job_id, tenant, session, plugins), **kwargs)
    return True


class JobRuntime:
    """One event loop and database engine per worker thread (engines are loop-bound)."""

    _local = threading.local()
    _factory: Callable[[], tuple[Database, PluginHost]] | None = None

    def __init__(self, db: Database, plugins: PluginHost) -> None:
        self.loop = asyncio.new_event_loop()
        self.db = db
        self.plugins = plugins

    @classmethod
    def configure(cls, factory: Callable[[], tuple[Database, PluginHost]]) -> None:
        """Tell worker threads how to build their database and plugin host."""
        cls._factory = factory

    @classmethod
    def for_current_thread(cls) -> JobRuntime:
        runtime = getattr(cls._local, "runtime", None)
        if runtime is None:
            if cls._factory is None:
                raise RuntimeError("JobRuntime.configure() was not called in this process")
            db, plugins = cls._factory()
            runtime = cls._local.runtime = cls(db, plugins)
        return runtime
