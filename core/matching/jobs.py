"""The job that computes a large matching run, and its progress on the run's row.

:func:`core.matching.services.start_run` leaves a run with more pairs than
:data:`~core.matching.services.INLINE_PAIRS` *queued* and enqueues
:data:`run_matching` in the same transaction. The job computes it with
:func:`~core.matching.services.compute_run` inside the job's transaction (the
outbox claim and the results commit together, so a second delivery finds the run
done and does nothing).

Progress goes to the row in transactions of its own, every :data:`STEP` of the way
or when the stage changes, so that the page's progress bar moves while the job's
transaction is still open. The solver reports from its thread; the job's event loop
polls what it reported and does the writing, so that every progress write has
finished before the results are written (a late one can never set a done run back).
On SQLite, the job's transaction holds the database's only write lock until the end,
so progress writes would wait for it: there the progress is kept in this process
(:data:`~core.matching.services.LIVE_PROGRESS`, which the pages read; in development
the web process runs the jobs) and the row shows it when the run ends.

A run whose criteria or solver fail is marked *failed* with the error and the job
ends normally: a deterministic failure would fail again on every retry. Database
errors do roll the job back, and dramatiq retries it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Awaitable
from typing import TypeVar

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.sessions import Database
from core.jobs import JobContext, tenant_actor
from core.jobs.actors import JobRuntime
from core.matching import services
from core.matching.models import MatchRun, RunStatus
from core.pluginhost.manager import PluginHost
from core.programmes.models import Cohort
from core.tenancy.snapshot import TenantSnapshot

log = logging.getLogger(__name__)

ACTOR_NAME = "core.matching.run"
STEP = 0.03  # write progress every 3 % of the way
POLL_SECONDS = 0.25  # how often the loop looks at what the solver reported

T = TypeVar("T")


class ProgressReporter(services.RunReporter):
    """Writes a run's progress to its row in short transactions of their own."""

    def __init__(
        self,
        db: Database,
        tenant_id: uuid.UUID,
        run_id: uuid.UUID,
        *,
        step: float = STEP,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.db = db
        self.tenant_id = tenant_id
        self.run_id = run_id
        self.step = step
        self.poll_seconds = poll_seconds
        # SQLite serialises writers and the job's transaction holds the lock (see above).
        self.writes_row = db.dialect != "sqlite"
        self._lock = threading.Lock()
        self._reported: tuple[float, str] | None = None
        self._written: tuple[float, str] = (-1.0, "")
        self.writes = 0  # progress transactions committed (tests look)

    def progress(self, fraction: float, stage: str) -> None:
        with self._lock:
            self._reported = (fraction, stage)

    async def stage(self, fraction: float, stage: str) -> None:
        self.progress(fraction, stage)
        await self._flush(force=True)

    async def follow(self, work: Awaitable[T]) -> T:
        task = asyncio.ensure_future(work)
        while True:
            done, _ = await asyncio.wait({task}, timeout=self.poll_seconds)
            await self._flush()
            if done:
                return task.result()

    async def _flush(self, *, force: bool = False) -> None:
        with self._lock:
            reported = self._reported
        if reported is None:
            return
        fraction, stage = reported
        last_fraction, last_stage = self._written
        if not force and stage == last_stage and fraction - last_fraction < self.step:
            return
        self._written = reported
        services.LIVE_PROGRESS[self.run_id] = reported
        if self.writes_row:
            await self._write(fraction, stage)

    async def _write(self, fraction: float, stage: str) -> None:
        try:
            async with self.db.tenant_session(self.tenant_id) as session, session.begin():
                await session.execute(
                    update(MatchRun)
                    # Never touch a run that has ended (a retried job, a second delivery).
                    .where(
                        MatchRun.id == self.run_id,
                        MatchRun.status.in_([RunStatus.QUEUED, RunStatus.RUNNING]),
                    )
                    .values(status=RunStatus.RUNNING, progress=fraction, stage=stage[:100])
                    .execution_options(synchronize_session=False)
                )
            self.writes += 1
        except Exception:
            # Progress is a courtesy: the run goes on without it.
            log.exception("could not write the progress of matching run %s", self.run_id)


async def execute_run(
    session: AsyncSession,
    db: Database,
    tenant: TenantSnapshot,
    plugins: PluginHost,
    run_id: uuid.UUID,
    *,
    reporter: ProgressReporter | None = None,
) -> bool:
    """Compute the queued run ``run_id`` in ``session`` (the job's transaction).

    Returns False when there is nothing to do: no such run (its cohort was deleted),
    or it ended already.
    """
    run = await session.get(MatchRun, run_id)
    if run is None or run.status in (RunStatus.DONE, RunStatus.FAILED):
        return False
    cohort = await session.get(Cohort, run.cohort_id)
    if cohort is None:
        return False
    reporter = reporter or ProgressReporter(db, tenant.id, run.id)
    # What the reporter last kept in LIVE_PROGRESS stays until the run's row says it
    # ended (services.progress_of forgets it then).
    await services.compute_run(
        session, run, cohort, plugins=plugins, tenant=tenant, reporter=reporter
    )
    return True


@tenant_actor(name=ACTOR_NAME, max_retries=3)
async def run_matching(job: JobContext, run_id: str) -> None:
    """Compute a queued matching run (see the module's documentation)."""
    db = JobRuntime.for_current_thread().db
    await execute_run(job.session, db, job.tenant, job.plugins, uuid.UUID(run_id))


__all__ = ["ACTOR_NAME", "ProgressReporter", "execute_run", "run_matching"]
