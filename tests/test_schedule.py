"""Periodic jobs: the schedule table, the claim, the fan-out, the loop and the CLI.

Time is a parameter here (``run_due(db, now)``, ``Scheduler(clock=…)``): nothing
waits for a period to pass. The tasks under test live in a registry of this
module (``periodic(registry=TEST_TASKS)``), so the core's own tasks stay out of
these counts; the CLI tests run the core's tasks.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from core.db.sessions import Database
from core.identity.models import IdentityProvider
from core.jobs import JobContext, PlatformJobContext, enqueue, platform_actor
from core.jobs.actors import run_platform_job
from core.jobs.broker import build_broker
from core.jobs.models import OutboxMessage, ScheduleEntry
from core.jobs.relay import REDELIVER_MAX_ATTEMPTS, OutboxRelay, relay_once
from core.jobs.schedule import (
    PeriodicTask,
    Scheduler,
    UnknownTaskError,
    _claim_and_enqueue,
    format_interval,
    next_run_after,
    periodic,
    run_due,
    run_task,
    schedule_status,
    sync_schedule,
)
from core.pluginhost.manager import PluginHost
from core.settings import Settings
from core.tenancy.models import Tenant, TenantStatus
from tests.test_cli import Invoke, cli  # noqa: F401 - the ``cli`` fixture
from tests.test_jobs_brokers import QUEUE, real_broker
from tests.test_jobs_outbox import (
    drain,
    running_worker,
    take_message,
    tenants_without_jobs,
    wait_until,
)

# The broker tests share Redis database 15 and RabbitMQ queues: one test worker runs them all.
pytestmark = pytest.mark.xdist_group("brokers")

T0 = datetime(2031, 3, 1, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
TEST_TASKS: dict[str, PeriodicTask] = {}
RUNS: list[dict[str, Any]] = []
FAILURES_LEFT = [0]
_lock = threading.Lock()


@periodic("tests.schedule.platform", every=HOUR, scope="platform", registry=TEST_TASKS)
async def platform_task(job: PlatformJobContext) -> None:
    """Notes that it ran, and how many identity providers a platform session sees."""
    providers = list(await job.session.scalars(select(IdentityProvider)))
    with _lock:
        failing = FAILURES_LEFT[0] > 0
        FAILURES_LEFT[0] -= failing
        if failing:
            raise RuntimeError("platform task failing once")
        RUNS.append({"task": "platform", "job_id": job.job_id, "providers": len(providers)})


@periodic("tests.schedule.tenant", every=HOUR, scope="tenant", registry=TEST_TASKS)
async def tenant_task(job: JobContext) -> None:
    """Notes the tenant it ran in and the providers its session sees."""
    providers = sorted(p.provider_id for p in await job.session.scalars(select(IdentityProvider)))
    with _lock:
        RUNS.append({"task": "tenant", "tenant": job.tenant.slug, "providers": providers})


BROKER_TASKS: dict[str, PeriodicTask] = {}
periodic("tests.schedule.broker_platform", every=HOUR, scope="platform", registry=BROKER_TASKS)(
    platform_actor(name="tests.schedule.broker_platform", queue_name=QUEUE)(platform_task.body)
)


@pytest.fixture(autouse=True)
def _reset_runs() -> None:
    RUNS.clear()
    FAILURES_LEFT[0] = 0


@pytest.fixture
async def tenants(synced: Database) -> dict[str, uuid.UUID]:
    return await tenants_without_jobs(synced)


async def outbox(db: Database) -> list[tuple[str, uuid.UUID | None]]:
    """(actor, tenant) of every outbox row, sorted."""
    async with db.platform_session() as session:
        rows = await session.execute(select(OutboxMessage.actor_name, OutboxMessage.tenant_id))
        return sorted((tuple(row) for row in rows), key=lambda row: (row[0], str(row[1])))


async def schedule_row(db: Database, name: str) -> ScheduleEntry | None:
    async with db.platform_session() as session:
        return await session.get(ScheduleEntry, name)


async def complete_all_jobs(db: Database) -> None:
    """As if the workers had run every job so far."""
    async with db.platform_session() as session, session.begin():
        await session.execute(update(OutboxMessage).values(completed_at=T0))


def expected(tenant_ids: list[uuid.UUID]) -> list[tuple[str, uuid.UUID | None]]:
    rows = [("tests.schedule.platform", None)]
    rows += [("tests.schedule.tenant", tenant_id) for tenant_id in tenant_ids]
    return sorted(rows, key=lambda row: (row[0], str(row[1])))


# --- declaring tasks ----------------------------------------------------------------------


def test_declarations_are_checked():
    registry: dict[str, PeriodicTask] = {}
    with pytest.raises(ValueError, match="dotted lower-case"):
        periodic("Cleanup", every=HOUR, scope="platform", registry=registry)
    with pytest.raises(ValueError, match="scope must be one of platform, tenant"):
        periodic("tests.x", every=HOUR, scope="galaxy", registry=registry)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least"):
        periodic("tests.x", every=timedelta(seconds=5), scope="platform", registry=registry)
    with pytest.raises(ValueError, match="whole seconds"):
        periodic("tests.x", every=timedelta(minutes=1, microseconds=5), scope="platform")
    with pytest.raises(TypeError, match="a tenant task needs a TenantActor"):
        periodic("tests.x", every=HOUR, scope="tenant", registry=registry)(platform_task)
    with pytest.raises(TypeError, match="async function"):
        periodic("tests.y", every=HOUR, scope="platform", registry=registry)(lambda job: None)  # type: ignore[arg-type, return-value]
    with pytest.raises(ValueError, match="two periodic tasks"):
        periodic("tests.schedule.platform", every=HOUR, scope="tenant", registry=TEST_TASKS)(
            tenant_task
        )
    assert registry == {}
    assert TEST_TASKS["tests.schedule.platform"].description.startswith("Notes that it ran")


def test_next_run_keeps_the_cadence_and_skips_missed_periods():
    assert next_run_after(T0, HOUR, T0) == T0 + HOUR
    assert next_run_after(T0, HOUR, T0 + timedelta(minutes=59)) == T0 + HOUR
    # Down for a day and a bit: the next run is the next full hour, not 25 catch-ups.
    assert next_run_after(T0, HOUR, T0 + timedelta(days=1, minutes=5)) == T0 + 25 * HOUR
    assert next_run_after(T0 + HOUR, HOUR, T0) == T0 + HOUR  # not due yet: unchanged
    assert [format_interval(timedelta(seconds=s)) for s in (86400, 7200, 5400, 61)] == [
        "1d",
        "2h",
        "90m",
        "61s",
    ]


# --- platform jobs through the outbox -----------------------------------------------------


async def test_platform_jobs_are_enqueued_from_platform_sessions_only(
    db: Database, tenants: dict[str, uuid.UUID]
):
    async with db.tenant_session(tenants["muenchen"]) as session:
        with pytest.raises(TypeError, match="platform jobs are enqueued from a platform session"):
            enqueue(session, platform_task)
    async with db.platform_session() as session, session.begin():
        with pytest.raises(TypeError, match="tenant session"):
            enqueue(session, tenant_task)
        message = enqueue(session, platform_task)
    broker = build_broker("")
    assert await relay_once(db, broker) == 1
    sent = take_message(broker)
    assert sent.actor_name == "tests.schedule.platform"
    assert sent.kwargs == {"tenant_id": None, "job_id": str(message.id)}


async def test_a_platform_job_runs_once_sees_no_tenant_rows_and_records_failures(
    db: Database, migrated: Any, tenants: dict[str, uuid.UUID], plugins: PluginHost
):
    async with db.platform_session() as session, session.begin():
        message = enqueue(session, platform_task)
    job_id = message.id
    FAILURES_LEFT[0] = 1
    with pytest.raises(RuntimeError, match="failing once"):
        await run_platform_job(db, plugins, platform_task, job_id, {})
    async with db.platform_session() as session:
        row = await session.get(OutboxMessage, job_id)
    assert row is not None and row.completed_at is None
    assert (row.attempts, row.last_error) == (1, "RuntimeError: platform task failing once")

    assert await run_platform_job(db, plugins, platform_task, job_id, {})
    assert not await run_platform_job(db, plugins, platform_task, job_id, {}), "ran already"
    assert [run["job_id"] for run in RUNS] == [job_id]
    if migrated.backend == "postgresql":
        # Row-level security: a platform session sees no tenant-owned row.
        assert RUNS[0]["providers"] == 0
    # A tenant job's row is never run as a platform job.
    async with db.tenant_session(tenants["muenchen"]) as session, session.begin():
        tenant_message = enqueue(session, tenant_task)
    tenant_job = tenant_message.id
    assert not await run_platform_job(db, plugins, platform_task, tenant_job, {})


# --- the schedule ---------------------------------------------------------------------------


async def test_a_due_task_is_enqueued_once_per_period(db: Database, tenants: dict[str, uuid.UUID]):
    reports = await run_due(db, T0, TEST_TASKS)
    assert {(r.task, r.enqueued, r.skipped, r.next_run_at) for r in reports} == {
        ("tests.schedule.platform", 1, 0, T0 + HOUR),
        ("tests.schedule.tenant", 3, 0, T0 + HOUR),
    }
    assert await outbox(db) == expected(list(tenants.values()))
    # Asked again in the same period, by this process or another: nothing more.
    assert await run_due(db, T0, TEST_TASKS) == []
    assert await run_due(db, T0 + timedelta(minutes=59), TEST_TASKS) == []
    assert len(await outbox(db)) == 4
    row = await schedule_row(db, "tests.schedule.tenant")
    assert row is not None and row.last_enqueued_count == 3 and row.every_seconds == 3600

    # The next period, after the workers ran the first jobs: enqueued again.
    await complete_all_jobs(db)
    reports = await run_due(db, T0 + HOUR, TEST_TASKS)
    assert sorted(r.enqueued for r in reports) == [1, 3]
    assert len(await outbox(db)) == 8


async def test_a_run_is_not_enqueued_again_while_the_previous_job_is_pending(
    db: Database, tenants: dict[str, uuid.UUID]
):
    await run_due(db, T0, TEST_TASKS)
    # Workers down for an hour: the previous jobs are still waiting, so the next
    # period adds nothing beside them (the waiting job does what is due when it runs).
    async with db.platform_session() as session, session.begin():
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.tenant_id == tenants["augsburg"])
            .values(completed_at=T0)
        )
    reports = {r.task: r for r in await run_due(db, T0 + HOUR, TEST_TASKS)}
    assert (
        reports["tests.schedule.tenant"].enqueued,
        reports["tests.schedule.tenant"].skipped,
    ) == (
        1,
        2,
    )
    assert (
        reports["tests.schedule.platform"].enqueued,
        reports["tests.schedule.platform"].skipped,
    ) == (
        0,
        1,
    )
    assert (
        "skipped 1 whose previous job is not done yet" in reports["tests.schedule.platform"].line()
    )
    # A job that used up its redeliveries is left to the operator, not waited for.
    async with db.platform_session() as session, session.begin():
        await session.execute(update(OutboxMessage).values(attempts=REDELIVER_MAX_ATTEMPTS))
    reports = {r.task: r for r in await run_due(db, T0 + 2 * HOUR, TEST_TASKS)}
    assert reports["tests.schedule.platform"].enqueued == 1
    assert reports["tests.schedule.tenant"].enqueued == 3


async def test_missed_periods_run_once(db: Database, tenants: dict[str, uuid.UUID]):
    await run_due(db, T0, TEST_TASKS)
    await complete_all_jobs(db)
    # The platform was down for a day and five minutes.
    back = T0 + timedelta(days=1, minutes=5)
    reports = await run_due(db, back, TEST_TASKS)
    assert sorted((r.task, r.enqueued) for r in reports) == [
        ("tests.schedule.platform", 1),
        ("tests.schedule.tenant", 3),
    ]
    assert {r.next_run_at for r in reports} == {T0 + 25 * HOUR}
    assert await run_due(db, back + timedelta(minutes=1), TEST_TASKS) == []
    assert len(await outbox(db)) == 8  # two runs in all, not 26


async def test_two_schedulers_racing_enqueue_each_run_once(
    db: Database, settings: Settings, tenants: dict[str, uuid.UUID]
):
    # Two processes' worth of engines, each with several passes at the same moment.
    other = Database(settings.database_url)
    try:
        results = await asyncio.gather(
            *(run_due(database, T0, TEST_TASKS) for database in [db, other] * 4)
        )
    finally:
        await other.dispose()
    reports = [report for result in results for report in result]
    assert sorted(r.task for r in reports) == ["tests.schedule.platform", "tests.schedule.tenant"]
    assert await outbox(db) == expected(list(tenants.values()))


async def test_a_claim_with_a_stale_next_run_changes_nothing(
    db: Database, settings: Settings, tenants: dict[str, uuid.UUID]
):
    """The compare-and-set itself: two processes read the same due row, both claim."""
    task = TEST_TASKS["tests.schedule.platform"]
    await sync_schedule(db, T0, TEST_TASKS)
    row = await schedule_row(db, task.name)
    assert row is not None
    seen = row.next_run_at
    other = Database(settings.database_url)
    try:
        first = await _claim_and_enqueue(db, task, seen, T0)
        second = await _claim_and_enqueue(other, task, seen, T0)
    finally:
        await other.dispose()
    assert first is not None and first.enqueued == 1
    assert second is None
    assert await outbox(db) == [("tests.schedule.platform", None)]


# Row locks between transactions are PostgreSQL's (SQLite writers take turns).
@pytest.mark.parametrize("migrated", ["postgresql"], indirect=True)
async def test_postgres_a_concurrent_claim_waits_and_then_finds_the_run_taken(
    db: Database, settings: Settings, migrated: Any, tenants: dict[str, uuid.UUID]
):
    task = TEST_TASKS["tests.schedule.platform"]
    await sync_schedule(db, T0, TEST_TASKS)
    row = await schedule_row(db, task.name)
    assert row is not None
    other = Database(settings.database_url)
    try:
        async with db.engine.connect() as conn, conn.begin():
            # This process has claimed the run but not committed yet ...
            await conn.execute(
                update(ScheduleEntry)
                .where(ScheduleEntry.name == task.name)
                .values(next_run_at=T0 + HOUR)
            )
            racing = asyncio.create_task(_claim_and_enqueue(other, task, row.next_run_at, T0))
            await asyncio.sleep(0.3)
            assert not racing.done(), "the second claim waits for the first one's row lock"
        # ... and once it commits, the second claim finds next_run_at moved on.
        assert await racing is None
    finally:
        await other.dispose()
    assert await outbox(db) == []


async def test_a_tenant_task_fans_out_to_active_tenants_only(
    db: Database, tenants: dict[str, uuid.UUID]
):
    async with db.platform_session() as session, session.begin():
        await session.execute(
            update(Tenant).where(Tenant.slug == "toronto").values(status=TenantStatus.SUSPENDED)
        )
    reports = {r.task: r for r in await run_due(db, T0, TEST_TASKS)}
    assert reports["tests.schedule.tenant"].enqueued == 2
    active = [tenants["augsburg"], tenants["muenchen"]]
    assert await outbox(db) == expected(active)


async def test_declared_tasks_get_rows_and_undeclared_rows_are_left_alone(
    db: Database, tenants: dict[str, uuid.UUID]
):
    async with db.platform_session() as session, session.begin():
        session.add(
            ScheduleEntry(
                name="tests.schedule.retired",
                scope="platform",
                every_seconds=60,
                next_run_at=T0 - timedelta(days=3),
                last_enqueued_count=0,
            )
        )
    statuses = {s.name: s for s in await schedule_status(db, TEST_TASKS)}
    assert statuses["tests.schedule.platform"].next_run_at is None, "no row yet"
    assert statuses["tests.schedule.retired"].declared is False

    assert await sync_schedule(db, T0, TEST_TASKS) == ["tests.schedule.retired"]
    await run_due(db, T0, TEST_TASKS)
    retired = await schedule_row(db, "tests.schedule.retired")
    assert retired is not None and retired.last_run_at is None, "never run, never changed"
    assert {name for name, _ in await outbox(db)} == {
        "tests.schedule.platform",
        "tests.schedule.tenant",
    }
    statuses = {s.name: s for s in await schedule_status(db, TEST_TASKS)}
    assert statuses["tests.schedule.platform"].next_run_at == T0 + HOUR
    assert statuses["tests.schedule.platform"].last_run_at == T0
    assert statuses["tests.schedule.tenant"].last_enqueued_count == 3


async def test_a_shortened_interval_takes_effect_at_once(
    db: Database, tenants: dict[str, uuid.UUID]
):
    daily: dict[str, PeriodicTask] = {}
    periodic("tests.schedule.platform", every=timedelta(days=1), scope="platform", registry=daily)(
        platform_task
    )
    await run_due(db, T0, daily)
    row = await schedule_row(db, "tests.schedule.platform")
    assert row is not None and row.every_seconds == 86400
    await complete_all_jobs(db)
    # The code now says hourly: the next run is an hour after the last, not a day.
    reports = await run_due(db, T0 + HOUR, TEST_TASKS)
    assert [(r.task, r.enqueued) for r in reports if r.task == "tests.schedule.platform"] == [
        ("tests.schedule.platform", 1)
    ]
    row = await schedule_row(db, "tests.schedule.platform")
    assert row is not None and row.every_seconds == 3600


async def test_run_task_enqueues_now_and_keeps_the_schedule(
    db: Database, tenants: dict[str, uuid.UUID]
):
    await run_due(db, T0, TEST_TASKS)
    await complete_all_jobs(db)
    report = await run_task(
        db, "tests.schedule.tenant", T0 + timedelta(minutes=5), tasks=TEST_TASKS
    )
    assert (report.enqueued, report.next_run_at) == (3, T0 + HOUR)
    report = await run_task(
        db,
        "tests.schedule.tenant",
        T0 + timedelta(minutes=6),
        tenant_ids=[tenants["toronto"]],
        tasks=TEST_TASKS,
    )
    assert report.enqueued == 1
    row = await schedule_row(db, "tests.schedule.tenant")
    assert row is not None and row.last_enqueued_count == 1
    with pytest.raises(UnknownTaskError, match=r"no periodic task named 'tests\.nope'"):
        await run_task(db, "tests.nope", tasks=TEST_TASKS)
    with pytest.raises(ValueError, match="platform task"):
        await run_task(
            db, "tests.schedule.platform", tenant_ids=[tenants["toronto"]], tasks=TEST_TASKS
        )


# --- the loop -------------------------------------------------------------------------------


async def test_the_scheduler_loop_enqueues_each_period_once_by_its_clock(
    db: Database, settings: Settings, tenants: dict[str, uuid.UUID]
):
    now = [T0]
    passes = [0]

    def clock() -> datetime:
        passes[0] += 1
        return now[0]

    # Two loops, as in two processes, polling fast; time moves only when told.
    loops = [
        Scheduler(db, 0.02, clock=clock, tasks=TEST_TASKS),
        Scheduler(Database(settings.database_url), 0.02, clock=clock, tasks=TEST_TASKS),
    ]
    for loop in loops:
        loop.start()
    try:

        async def passes_from(start: int) -> bool:
            return passes[0] >= start + 10

        await wait_until(lambda: passes_from(0), "ten scheduler passes")
        assert len(await outbox(db)) == 4
        await complete_all_jobs(db)
        now[0] = T0 + HOUR
        seen = passes[0]
        await wait_until(lambda: passes_from(seen), "ten more passes")
        assert len(await outbox(db)) == 8
    finally:
        for loop in loops:
            await loop.stop()
        await loops[1]._db.dispose()
    with pytest.raises(ValueError, match="0 means"):
        Scheduler(db, 0)
    assert Scheduler.start_if_enabled(db, 0) is None


# --- end to end -----------------------------------------------------------------------------


async def test_scheduled_jobs_run_in_their_tenants_through_the_in_process_worker(
    db: Database, tenants: dict[str, uuid.UUID], settings: Settings, plugins: PluginHost
):
    await run_due(db, T0, TEST_TASKS)
    broker = build_broker("")
    assert await relay_once(db, broker) == 4
    with running_worker(broker, settings, plugins) as worker:
        drain(broker, worker)
    tenant_runs = sorted((r["tenant"], r["providers"]) for r in RUNS if r["task"] == "tenant")
    assert tenant_runs == [
        ("augsburg", ["augsburg-sso"]),
        ("muenchen", ["muenchen-sso"]),
        ("toronto", ["toronto-sso"]),
    ]
    assert [r["task"] for r in RUNS].count("platform") == 1
    async with db.platform_session() as session:
        pending = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.completed_at.is_(None))
        )
        assert list(pending) == []


@pytest.mark.parametrize("kind", ["redis", "rabbitmq"])
async def test_a_platform_job_runs_through_a_real_broker(
    kind: str,
    db: Database,
    tenants: dict[str, uuid.UUID],
    settings: Settings,
    plugins: PluginHost,
):
    with real_broker(kind) as broker:
        relay = OutboxRelay(db, broker, poll_seconds=0.2)
        relay.start()
        try:
            with running_worker(broker, settings, plugins, queues={QUEUE}):
                FAILURES_LEFT[0] = 1  # the first delivery fails; dramatiq retries it
                reports = await run_due(db, T0, BROKER_TASKS)
                assert [r.enqueued for r in reports] == [1]

                async def done() -> bool:
                    async with db.platform_session() as session:
                        row = await session.scalar(select(OutboxMessage))
                    return row is not None and row.completed_at is not None

                await wait_until(done, f"the platform job to run through {kind}", seconds=30)
        finally:
            await relay.stop()
    assert len(RUNS) == 1
    async with db.platform_session() as session:
        row = await session.scalar(select(OutboxMessage))
    assert row is not None and row.tenant_id is None and row.attempts == 2


# --- the command line -----------------------------------------------------------------------


def test_jobs_schedule_run_due_and_run(cli: Invoke):  # noqa: F811
    assert cli("tenants", "sync").exit_code == 0
    listing = cli("jobs", "schedule")
    assert listing.exit_code == 0, listing.output
    lines = listing.stdout.splitlines()
    assert lines[0].split()[:3] == ["TASK", "SCOPE", "EVERY"]
    sessions = next(line for line in lines if line.startswith("core.identity.prune_sessions"))
    assert sessions.split()[1:3] == ["platform", "1h"]
    assert "next scheduler pass" in sessions

    due = cli("jobs", "run-due")
    assert due.exit_code == 0, due.output
    assert "core.identity.prune_records: enqueued 3 job(s)" in due.stdout
    assert "core.jobs.prune_outbox: enqueued 1 job(s)" in due.stdout
    assert cli("jobs", "run-due").stdout.strip() == "nothing is due"
    records = next(
        line
        for line in cli("jobs", "schedule").stdout.splitlines()
        if line.startswith("core.identity.prune_records")
    )
    assert records.split()[-1] == "3" and "next scheduler pass" not in records

    one = cli("jobs", "run", "core.identity.prune_records", "--tenant", "augsburg")
    assert one.exit_code == 0, one.output
    assert "core.identity.prune_records: enqueued 1 job(s)" in one.stdout


def test_jobs_run_fails_readably_on_unknown_names(cli: Invoke):  # noqa: F811
    assert cli("tenants", "sync").exit_code == 0
    unknown = cli("jobs", "run", "core.identity.nope")
    assert unknown.exit_code == 2
    assert "no periodic task named 'core.identity.nope'" in unknown.stderr
    assert "core.identity.prune_sessions" in unknown.stderr, "lists the declared tasks"
    assert "Traceback" not in unknown.output

    tenant = cli("jobs", "run", "core.identity.prune_records", "--tenant", "atlantis")
    assert tenant.exit_code == 2 and "no tenant 'atlantis'" in tenant.stderr
    platform = cli("jobs", "run", "core.identity.prune_sessions", "--tenant", "augsburg")
    assert platform.exit_code == 2 and "is a platform task" in platform.stderr
