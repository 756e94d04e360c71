"""``@tenant_actor``: an async job body that runs inside one tenant, at most once.
``@platform_actor``: the same for work on platform tables, in a platform session.

Actors are collected here and declared on a broker by ``core.jobs.broker`` when
the process builds its broker, so that importing a module never depends on which
broker exists yet.

A delivery runs in three steps:

1. load the tenant's snapshot; a tenant that no longer exists drops the job;
2. in one tenant-session transaction, claim the outbox row (``completed_at``) and
   run the body; the claim and the body's writes commit together, or not at all;
3. if the body (or its commit) fails, record ``attempts`` and ``last_error`` in a
   separate transaction, then re-raise so that dramatiq retries the message.

A platform job (its outbox row has no tenant) skips step 1 and runs step 2 in a
platform session, which on PostgreSQL sees no tenant-owned row at all: it is meant
for platform tables (login sessions, the outbox itself). Work on tenant-owned rows
belongs in a tenant actor, one job per tenant.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
import traceback
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import dramatiq
from sqlalchemy import ColumnElement, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.base import utcnow
from core.db.sessions import Database
from core.jobs.models import OutboxMessage
from core.pluginhost.manager import PluginHost
from core.tenancy.snapshot import TenantSnapshot, load_snapshot

log = logging.getLogger(__name__)

# Keyword arguments the relay adds to every message; a job's own may not use them.
RESERVED_KWARGS = frozenset({"tenant_id", "job_id"})
MAX_ERROR_LENGTH = 4000


@dataclass(frozen=True)
class JobContext:
    """What an actor body gets: its tenant, a tenant session in a transaction, the plugins."""

    job_id: uuid.UUID
    tenant: TenantSnapshot
    session: AsyncSession
    plugins: PluginHost


@dataclass(frozen=True)
class PlatformJobContext:
    """What a platform actor body gets: a platform session in a transaction, the plugins."""

    job_id: uuid.UUID
    session: AsyncSession
    plugins: PluginHost


JobBody = Callable[..., Awaitable[None]]


@dataclass(frozen=True)
class _ActorFields:
    name: str
    body: JobBody
    max_retries: int
    queue_name: str


@dataclass(frozen=True)
class TenantActor(_ActorFields):
    def run(self, tenant_id: str | None, job_id: str, **kwargs: Any) -> None:
        """The dramatiq entry point: runs the body on this worker thread's event loop."""
        if tenant_id is None:
            # Only a hand-made message can do this: enqueue() stamps the session's tenant.
            log.error("job %s: %s is a tenant actor but the job names no tenant", job_id, self.name)
            return
        runtime = JobRuntime.for_current_thread()
        runtime.loop.run_until_complete(
            run_job(
                runtime.db, runtime.plugins, self, uuid.UUID(tenant_id), uuid.UUID(job_id), kwargs
            )
        )


@dataclass(frozen=True)
class PlatformActor(_ActorFields):
    def run(self, tenant_id: str | None, job_id: str, **kwargs: Any) -> None:
        """The dramatiq entry point (the relay sends ``tenant_id=None`` for platform jobs)."""
        if tenant_id is not None:
            log.error(
                "job %s: %s is a platform actor but the job names a tenant", job_id, self.name
            )
            return
        runtime = JobRuntime.for_current_thread()
        runtime.loop.run_until_complete(
            run_platform_job(runtime.db, runtime.plugins, self, uuid.UUID(job_id), kwargs)
        )


Actor = TenantActor | PlatformActor
REGISTRY: dict[str, Actor] = {}


A = TypeVar("A", TenantActor, PlatformActor)


def _declarer(
    kind: type[A], name: str | None, max_retries: int, queue_name: str
) -> Callable[[JobBody], A]:
    """The decorator behind tenant_actor and platform_actor: check, build, register."""
    label = "tenant" if kind is TenantActor else "platform"

    def register(body: JobBody) -> A:
        if not inspect.iscoroutinefunction(body):
            raise TypeError(f"{body.__qualname__}: a {label} actor must be an async function")
        actor = kind(
            name=name or f"{body.__module__}.{body.__name__}",
            body=body,
            max_retries=max_retries,
            queue_name=queue_name,
        )
        known = REGISTRY.get(actor.name)
        if known is not None and known.body is not body:
            raise ValueError(f"two actors are named {actor.name!r}")
        REGISTRY[actor.name] = actor
        return actor

    return register


def tenant_actor(
    *, name: str | None = None, max_retries: int = 10, queue_name: str = "default"
) -> Callable[[JobBody], TenantActor]:
    """Declare ``async def body(job: JobContext, **kwargs)`` as a job; enqueue it with
    :func:`core.jobs.enqueue`."""
    return _declarer(TenantActor, name, max_retries, queue_name)


def platform_actor(
    *, name: str | None = None, max_retries: int = 10, queue_name: str = "default"
) -> Callable[[JobBody], PlatformActor]:
    """Declare ``async def body(job: PlatformJobContext, **kwargs)`` as a job that runs
    in no tenant; enqueue it with :func:`core.jobs.enqueue` from a platform session."""
    return _declarer(PlatformActor, name, max_retries, queue_name)


async def run_job(
    db: Database,
    plugins: PluginHost,
    actor: TenantActor,
    tenant_id: uuid.UUID,
    job_id: uuid.UUID,
    kwargs: dict[str, Any],
) -> bool:
    """Run ``actor`` for one outbox row; return False when it had already run (or cannot).

    Raises whatever the body raised, after recording it on the outbox row.
    """
    tenant = await load_snapshot(db, tenant_id)
    if tenant is None:
        log.warning("job %s: tenant %s no longer exists; dropped", job_id, tenant_id)
        return False
    try:
        async with db.tenant_session(tenant_id) as session, session.begin():
            if not await _claim(session, tenant_id, job_id):
                log.info("job %s: done already, or not of tenant %s; skipped", job_id, tenant_id)
                return False
            await actor.body(JobContext(job_id, tenant, session, plugins), **kwargs)
    except Exception as exc:
        await _record_failure(db, tenant_id, job_id, exc)
        raise
    return True


async def run_platform_job(
    db: Database,
    plugins: PluginHost,
    actor: PlatformActor,
    job_id: uuid.UUID,
    kwargs: dict[str, Any],
) -> bool:
    """Run ``actor`` for one platform outbox row, like :func:`run_job` without a tenant."""
    try:
        async with db.platform_session() as session, session.begin():
            if not await _claim(session, None, job_id):
                log.info("job %s: done already, or not a platform job; skipped", job_id)
                return False
            await actor.body(PlatformJobContext(job_id, session, plugins), **kwargs)
    except Exception as exc:
        await _record_failure(db, None, job_id, exc)
        raise
    return True


def _this_job(tenant_id: uuid.UUID | None, job_id: uuid.UUID) -> list[ColumnElement[bool]]:
    # Matching the tenant (or its absence) too means that a message naming another
    # tenant than its row's, or a tenant for a platform row, never runs.
    tenant = (
        OutboxMessage.tenant_id.is_(None)
        if tenant_id is None
        else OutboxMessage.tenant_id == tenant_id
    )
    return [OutboxMessage.id == job_id, tenant, OutboxMessage.completed_at.is_(None)]


async def _claim(session: AsyncSession, tenant_id: uuid.UUID | None, job_id: uuid.UUID) -> bool:
    # The UPDATE takes the row's lock until commit: a concurrent second delivery
    # waits here, then finds the row completed. A failure of the body rolls the
    # claim back, so the next delivery runs it again.
    claimed = await session.execute(
        update(OutboxMessage)
        .where(*_this_job(tenant_id, job_id))
        .values(completed_at=utcnow(), attempts=OutboxMessage.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    return claimed.rowcount == 1


async def _record_failure(
    db: Database, tenant_id: uuid.UUID | None, job_id: uuid.UUID, exc: BaseException
) -> None:
    """Count the failed attempt and keep its error, in a transaction of its own."""
    error = "".join(traceback.format_exception_only(exc)).strip()[:MAX_ERROR_LENGTH]
    try:
        session_of = db.platform_session() if tenant_id is None else db.tenant_session(tenant_id)
        async with session_of as session, session.begin():
            await session.execute(
                update(OutboxMessage)
                .where(*_this_job(tenant_id, job_id))
                .values(attempts=OutboxMessage.attempts + 1, last_error=error)
                .execution_options(synchronize_session=False)
            )
    except Exception:
        # The original error matters more (dramatiq retries on it): only log this one.
        log.exception("job %s: could not record its failure (%s)", job_id, error)


class JobRuntime:
    """One event loop and database engine per worker thread (engines are loop-bound).

    Built lazily by the first job a thread runs; closed when the thread stops
    (:class:`JobRuntimeCleanup`, which ``core.jobs.broker`` adds to every broker).
    """

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

    @classmethod
    def close_current_thread(cls) -> None:
        """Dispose of this thread's engine and close its loop (no-op if it has none)."""
        runtime = getattr(cls._local, "runtime", None)
        if runtime is not None:
            del cls._local.runtime
            runtime.close()

    def close(self) -> None:
        try:
            self.loop.run_until_complete(self.db.dispose())
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.run_until_complete(self.loop.shutdown_default_executor())
        finally:
            self.loop.close()


class JobRuntimeCleanup(dramatiq.Middleware):
    """Closes a worker thread's :class:`JobRuntime` when the thread shuts down."""

    def before_worker_thread_shutdown(self, broker: dramatiq.Broker, thread: Any) -> None:
        try:
            JobRuntime.close_current_thread()
        except Exception:
            log.exception("closing a job worker thread's database engine failed")
