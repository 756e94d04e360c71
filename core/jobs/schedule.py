"""Periodic jobs: tasks declared in code, enqueued through the outbox every so often.

Declaring a task
----------------
A task is an async job body with ``@periodic`` on it::

    @periodic("core.identity.prune_sessions", every=timedelta(hours=1), scope="platform")
    async def prune_sessions_job(job: PlatformJobContext) -> None: ...

    @periodic("core.identity.prune_records", every=timedelta(hours=1), scope="tenant")
    async def prune_records_job(job: JobContext) -> None: ...

``periodic`` makes the body a :func:`~core.jobs.actors.platform_actor` or a
:func:`~core.jobs.actors.tenant_actor` named like the task (or takes an actor made
with one of them, of the matching kind) and adds the task to :data:`TASKS`.

* ``scope="platform"``: one job per run, in a platform session. On PostgreSQL a
  platform session sees no tenant-owned row at all, so platform tasks clean
  platform tables only (login sessions, the outbox).
* ``scope="tenant"``: one job per run and *active* tenant, each in its tenant's
  session, so row-level security confines it to that tenant's rows. Suspended
  tenants are skipped.

Bodies take no arguments besides the job: a run does "everything that is due
now", never "the work of period N". That makes catching up simple: a run that
was missed (the platform was down for a day) happens once, not once per missed
period, and a run is not enqueued for a tenant (or the platform) whose previous
job of the task has not completed yet (still retrying, or waiting for a worker).
Tasks are declared where the code they clean lives; the modules that declare
core tasks are listed in :data:`CORE_TASK_MODULES`, which :func:`load_core_tasks`
imports before a process builds its broker (so that the actors exist on it).

Running them
------------
A :class:`Scheduler` loop runs next to the outbox relay in every web process and
every ``tandem worker``, every ``TANDEM_SCHEDULER_POLL_SECONDS`` (0 disables it).
Each pass (:func:`run_due`):

1. inserts a ``job_schedule`` row, due at once, for each declared task that has
   none (``INSERT … ON CONFLICT DO NOTHING``: several processes may try); rows of
   tasks no longer declared are left alone and reported (``tandem jobs schedule``);
2. for each due row, in one transaction: claims the run by compare-and-set,
   ``UPDATE job_schedule SET next_run_at = <next> WHERE name = ? AND next_run_at =
   <the value read>``, and, only if that changed the row, enqueues the jobs. A
   second process racing for the same run changes no row (on PostgreSQL its
   UPDATE waits for the first to commit and then finds the new ``next_run_at``; on
   SQLite writers take turns) and enqueues nothing. The claim and the jobs commit
   together: if enqueueing fails, the run is still due.

``next_run_at`` advances in whole periods from where it was, to the first one
after now: an hourly task keeps its minute, and missed periods are skipped.

Later, plugins
--------------
A plugin module that declares ``@periodic`` tasks registers them when the plugin
host imports it, before the broker is built, so nothing more is needed for
platform tasks. A tenant task of a plugin would today fan out to every active
tenant; the step still to take is a filter on the tenants that enabled the plugin
(``TenantSnapshot.enabled_plugins``), e.g. a ``plugin=`` argument to ``periodic``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from core.db.base import aware, utcnow
from core.db.sessions import Database
from core.jobs.actors import (
    Actor,
    JobBody,
    PlatformActor,
    TenantActor,
    platform_actor,
    tenant_actor,
)
from core.jobs.models import OutboxMessage, ScheduleEntry
from core.jobs.outbox import enqueue, notify_outbox_commit
from core.jobs.relay import REDELIVER_MAX_ATTEMPTS
from core.tenancy.models import Tenant, TenantStatus

log = logging.getLogger(__name__)

Scope = Literal["platform", "tenant"]
SCOPES: tuple[Scope, ...] = ("platform", "tenant")
# Dotted lower-case names, like actors' and events' (``core.identity.prune_sessions``).
TASK_NAME = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
MAX_NAME_LENGTH = 200
MIN_INTERVAL = timedelta(minutes=1)
# Modules whose import declares the core's periodic tasks (see load_core_tasks).
CORE_TASK_MODULES = ("core.identity.cleanup", "core.jobs.cleanup", "core.pairings.checkin_tasks")


class UnknownTaskError(KeyError):
    """No periodic task of that name is declared in this code."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        listed = ", ".join(sorted(known)) or "none"
        super().__init__(f"no periodic task named {name!r} (declared: {listed})")
        self.name = name

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class PeriodicTask:
    name: str
    every: timedelta
    scope: Scope
    actor: Actor

    @property
    def every_seconds(self) -> int:
        return int(self.every.total_seconds())

    @property
    def description(self) -> str:
        doc = (self.actor.body.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""


TASKS: dict[str, PeriodicTask] = {}


def periodic(
    name: str,
    *,
    every: timedelta,
    scope: Scope,
    max_retries: int = 3,
    queue_name: str = "default",
    registry: dict[str, PeriodicTask] | None = None,
) -> Callable[[JobBody | Actor], Actor]:
    """Declare a periodic task; see the module's docstring.

    ``registry`` is for tests, which keep their tasks out of :data:`TASKS`.
    """
    if not TASK_NAME.fullmatch(name) or len(name) > MAX_NAME_LENGTH:
        raise ValueError(
            f"periodic task names are dotted lower-case words like 'core.prune_x', not {name!r}"
        )
    if scope not in SCOPES:
        raise ValueError(f"{name}: scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    if every < MIN_INTERVAL or every % timedelta(seconds=1):
        raise ValueError(f"{name}: 'every' must be whole seconds and at least {MIN_INTERVAL}")
    tasks = TASKS if registry is None else registry

    def declare(target: JobBody | Actor) -> Actor:
        kind = PlatformActor if scope == "platform" else TenantActor
        if isinstance(target, TenantActor | PlatformActor):
            if not isinstance(target, kind):
                raise TypeError(f"{name}: a {scope} task needs a {kind.__name__}")
            actor: Actor = target
        else:
            make = platform_actor if scope == "platform" else tenant_actor
            actor = make(name=name, max_retries=max_retries, queue_name=queue_name)(target)
        task = PeriodicTask(name=name, every=every, scope=scope, actor=actor)
        known = tasks.get(name)
        if known is not None and known.actor.body is not actor.body:
            raise ValueError(f"two periodic tasks are named {name!r}")
        tasks[name] = task
        return actor

    return declare


def load_core_tasks() -> dict[str, PeriodicTask]:
    """Import the modules that declare the core's tasks; return all declared tasks."""
    for module in CORE_TASK_MODULES:
        importlib.import_module(module)
    return TASKS


# --- the schedule table ---------------------------------------------------------------------


def next_run_after(scheduled: datetime, every: timedelta, now: datetime) -> datetime:
    """The first run of the series ``scheduled + k·every`` that is later than ``now``."""
    if scheduled > now:
        return scheduled
    return scheduled + ((now - scheduled) // every + 1) * every


async def sync_schedule(
    db: Database, now: datetime, tasks: Mapping[str, PeriodicTask]
) -> list[str]:
    """Add rows for declared tasks that have none; return the names of undeclared rows.

    A task whose interval (or scope) changed in the code gets the new one, and, when
    the interval was shortened, a next run no later than one new interval after
    its last run.
    """
    async with db.platform_session() as session, session.begin():
        rows = {row.name: row for row in await session.scalars(select(ScheduleEntry))}
        for task in tasks.values():
            row = rows.get(task.name)
            if row is None:
                await session.execute(
                    _insert_ignoring_conflicts(db.dialect).values(
                        name=task.name,
                        scope=task.scope,
                        every_seconds=task.every_seconds,
                        next_run_at=now,
                        last_run_at=None,
                        last_enqueued_count=0,
                    )
                )
            elif (row.scope, row.every_seconds) != (task.scope, task.every_seconds):
                since = aware(row.last_run_at) if row.last_run_at is not None else now
                await session.execute(
                    update(ScheduleEntry)
                    # Conditional like a claim: a concurrent claim or sync wins.
                    .where(
                        ScheduleEntry.name == task.name,
                        ScheduleEntry.next_run_at == row.next_run_at,
                    )
                    .values(
                        scope=task.scope,
                        every_seconds=task.every_seconds,
                        next_run_at=min(aware(row.next_run_at), since + task.every),
                    )
                    .execution_options(synchronize_session=False)
                )
    undeclared = sorted(set(rows) - set(tasks))
    for name in undeclared:
        if name not in _reported_undeclared:
            _reported_undeclared.add(name)
            log.warning("job_schedule has a row for %r, which this code does not declare", name)
    return undeclared


_reported_undeclared: set[str] = set()


def _insert_ignoring_conflicts(dialect: str) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(ScheduleEntry).on_conflict_do_nothing(index_elements=["name"])
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(ScheduleEntry).on_conflict_do_nothing(index_elements=["name"])


# --- running due tasks ---------------------------------------------------------------------


@dataclass(frozen=True)
class RunReport:
    """What one run of a task enqueued."""

    task: str
    enqueued: int
    # Tenants (or the platform) left out because their previous job is not done yet.
    skipped: int
    next_run_at: datetime

    def line(self) -> str:
        text = f"{self.task}: enqueued {self.enqueued} job(s)"
        if self.skipped:
            text += f", skipped {self.skipped} whose previous job is not done yet"
        return text + f"; next run {self.next_run_at:%Y-%m-%d %H:%M:%S} UTC"


async def run_due(
    db: Database, now: datetime | None = None, tasks: Mapping[str, PeriodicTask] | None = None
) -> list[RunReport]:
    """Enqueue every declared task that is due at ``now``; one process wins each run."""
    now = now or utcnow()
    tasks = TASKS if tasks is None else tasks
    await sync_schedule(db, now, tasks)
    async with db.platform_session() as session:
        due = (
            await session.execute(
                select(ScheduleEntry.name, ScheduleEntry.next_run_at)
                .where(ScheduleEntry.name.in_(list(tasks)), ScheduleEntry.next_run_at <= now)
                .order_by(ScheduleEntry.next_run_at, ScheduleEntry.name)
            )
        ).all()
    reports = []
    for name, seen in due:
        report = await _claim_and_enqueue(db, tasks[name], seen, now)
        if report is not None:
            reports.append(report)
    if reports:
        notify_outbox_commit()
    return reports


async def _claim_and_enqueue(
    db: Database, task: PeriodicTask, seen: datetime, now: datetime
) -> RunReport | None:
    following = next_run_after(aware(seen), task.every, now)
    async with db.engine.connect() as conn, conn.begin():
        # The claim is the transaction's first statement: on SQLite it takes the
        # write lock before anything is read, so no stale snapshot can be upgraded.
        async with db.platform_session(bind=conn) as platform:
            claimed = await platform.execute(
                update(ScheduleEntry)
                .where(ScheduleEntry.name == task.name, ScheduleEntry.next_run_at == seen)
                .values(next_run_at=following, last_run_at=now)
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:
                log.debug("%s: another process claimed the run due at %s", task.name, seen)
                return None
            targets = await _targets(platform, task)
            busy = await _busy(platform, task)
        todo = [target for target in targets if target not in busy]
        await _enqueue_jobs(db, conn, task, todo)
        await _record_count(db, conn, task, len(todo))
    report = RunReport(task.name, len(todo), len(targets) - len(todo), following)
    log.info("periodic %s", report.line())
    return report


async def run_task(
    db: Database,
    name: str,
    now: datetime | None = None,
    *,
    tenant_ids: Iterable[uuid.UUID] | None = None,
    tasks: Mapping[str, PeriodicTask] | None = None,
) -> RunReport:
    """Enqueue ``name`` now, whatever its schedule (the operator's ``tandem jobs run``).

    ``next_run_at`` stays as it is. ``tenant_ids`` narrows a tenant task to those
    tenants, whatever their status. Raises :class:`UnknownTaskError`.
    """
    now = now or utcnow()
    tasks = TASKS if tasks is None else tasks
    task = tasks.get(name)
    if task is None:
        raise UnknownTaskError(name, tasks)
    if tenant_ids is not None and task.scope != "tenant":
        raise ValueError(f"{name} is a platform task: it runs for no tenant in particular")
    await sync_schedule(db, now, tasks)
    async with db.engine.connect() as conn, conn.begin():
        async with db.platform_session(bind=conn) as platform:
            if tenant_ids is None:
                targets = await _targets(platform, task)
            else:
                targets = list(tenant_ids)
            await platform.execute(
                update(ScheduleEntry)
                .where(ScheduleEntry.name == task.name)
                .values(last_run_at=now)
                .execution_options(synchronize_session=False)
            )
            following = await platform.scalar(
                select(ScheduleEntry.next_run_at).where(ScheduleEntry.name == task.name)
            )
        await _enqueue_jobs(db, conn, task, targets)
        await _record_count(db, conn, task, len(targets))
    notify_outbox_commit()
    report = RunReport(task.name, len(targets), 0, aware(following or now))
    log.info("periodic %s (run by hand)", report.line())
    return report


async def _targets(platform: AsyncSession, task: PeriodicTask) -> list[uuid.UUID | None]:
    """Who a run is for: the platform (None), or every active tenant."""
    if task.scope == "platform":
        return [None]
    active = await platform.scalars(
        select(Tenant.id).where(Tenant.status == TenantStatus.ACTIVE).order_by(Tenant.slug)
    )
    return list(active)


async def _busy(platform: AsyncSession, task: PeriodicTask) -> set[uuid.UUID | None]:
    """Tenants (None: the platform) with a job of this task that is not done yet.

    A job that used up its redeliveries is no longer waited for: it stays in the
    outbox for an operator, and the task runs again.
    """
    pending = await platform.scalars(
        select(OutboxMessage.tenant_id)
        .where(
            OutboxMessage.actor_name == task.actor.name,
            OutboxMessage.completed_at.is_(None),
            OutboxMessage.attempts < REDELIVER_MAX_ATTEMPTS,
        )
        .distinct()
    )
    return set(pending)


async def _enqueue_jobs(
    db: Database, conn: AsyncConnection, task: PeriodicTask, targets: Iterable[uuid.UUID | None]
) -> None:
    # Sessions bound to the claim's connection join its transaction: the jobs commit
    # with the claim or not at all. A tenant job is written from its tenant's session.
    for tenant_id in targets:
        session = (
            db.platform_session(bind=conn)
            if tenant_id is None
            else db.tenant_session(tenant_id, bind=conn)
        )
        async with session:
            enqueue(session, task.actor)
            await session.flush()


async def _record_count(
    db: Database, conn: AsyncConnection, task: PeriodicTask, count: int
) -> None:
    async with db.platform_session(bind=conn) as platform:
        await platform.execute(
            update(ScheduleEntry)
            .where(ScheduleEntry.name == task.name)
            .values(last_enqueued_count=count)
            .execution_options(synchronize_session=False)
        )


# --- what operators see ---------------------------------------------------------------------


@dataclass(frozen=True)
class TaskStatus:
    name: str
    scope: str
    every: timedelta
    declared: bool  # False: a row left by code that no longer declares the task
    next_run_at: datetime | None  # None: no row yet, due on the first scheduler pass
    last_run_at: datetime | None
    last_enqueued_count: int


async def schedule_status(
    db: Database, tasks: Mapping[str, PeriodicTask] | None = None
) -> list[TaskStatus]:
    """Every declared task and every row in ``job_schedule``, by name (reads only)."""
    tasks = TASKS if tasks is None else tasks
    async with db.platform_session() as session:
        rows = {row.name: row for row in await session.scalars(select(ScheduleEntry))}
    statuses = []
    for name in sorted(set(tasks) | set(rows)):
        task, row = tasks.get(name), rows.get(name)
        if row is None:
            assert task is not None
            statuses.append(
                TaskStatus(name, task.scope, task.every, True, None, None, 0),
            )
            continue
        statuses.append(
            TaskStatus(
                name=name,
                scope=task.scope if task else row.scope,
                every=task.every if task else timedelta(seconds=row.every_seconds),
                declared=task is not None,
                next_run_at=aware(row.next_run_at),
                last_run_at=aware(row.last_run_at) if row.last_run_at else None,
                last_enqueued_count=row.last_enqueued_count,
            )
        )
    return statuses


def format_interval(every: timedelta) -> str:
    """``1d``, ``6h``, ``90m``, ``45s``: the largest unit that divides the interval."""
    seconds = int(every.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


# --- the loop ------------------------------------------------------------------------------


class Scheduler:
    """Runs :func:`run_due` every ``poll_seconds`` until stopped.

    Every web process and worker runs one; the claim makes that safe. ``clock``
    is what "now" is (tests move it instead of waiting).
    """

    def __init__(
        self,
        db: Database,
        poll_seconds: float,
        *,
        clock: Callable[[], datetime] = utcnow,
        tasks: Mapping[str, PeriodicTask] | None = None,
    ) -> None:
        if poll_seconds <= 0:
            raise ValueError("poll_seconds must be positive (0 means: run no scheduler)")
        self._db = db
        self._poll = poll_seconds
        self._clock = clock
        self._tasks = tasks
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def start_if_enabled(cls, db: Database, poll_seconds: float) -> Scheduler | None:
        """Start a scheduler, unless ``TANDEM_SCHEDULER_POLL_SECONDS`` is 0."""
        if poll_seconds <= 0:
            log.info("scheduler disabled (TANDEM_SCHEDULER_POLL_SECONDS=0)")
            return None
        scheduler = cls(db, poll_seconds)
        scheduler.start()
        return scheduler

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="job-scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def run_once(self) -> list[RunReport]:
        return await run_due(self._db, self._clock(), self._tasks)

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("job scheduler pass failed; retrying in %.0f s", self._poll)
            await asyncio.sleep(self._poll)
