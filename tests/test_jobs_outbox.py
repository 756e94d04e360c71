"""The transactional outbox, the relay and tenant actors, on SQLite and PostgreSQL.

Jobs here go through dramatiq's in-memory broker and a real in-process ``Worker``
(as in the embedded default); tests/test_jobs_brokers.py runs the same path against
real Redis and RabbitMQ servers.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from typing import Any

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import delete, select, update

import core.events  # noqa: F401 - declares core.deliver_event like the app does
from core.db.base import utcnow
from core.db.sessions import Database
from core.identity.models import IdentityProvider
from core.jobs import JobContext, enqueue, tenant_actor
from core.jobs.actors import JobRuntime, run_job
from core.jobs.broker import build_broker
from core.jobs.models import OutboxMessage
from core.jobs.outbox import on_outbox_commit, remove_outbox_commit_listener
from core.jobs.relay import REDELIVER_MAX_ATTEMPTS, OutboxRelay, relay_once
from core.pluginhost.manager import PluginHost
from core.pluginhost.models import TenantPlugin
from core.settings import Settings
from core.tenancy.models import Tenant

# --- actors used by these tests -----------------------------------------------------------

RUNS: list[dict[str, Any]] = []
RUNTIMES: list[JobRuntime] = []
FAILURES_LEFT = [0]
_lock = threading.Lock()


@tenant_actor(name="tests.jobs.record")
async def record(job: JobContext, *, label: str, delay: float = 0.0) -> None:
    """Writes down what the job saw: its tenant and that tenant's rows."""
    providers = sorted(p.provider_id for p in await job.session.scalars(select(IdentityProvider)))
    if delay:
        await asyncio.sleep(delay)  # keeps the claim open so a duplicate overlaps it
    with _lock:
        RUNS.append(
            {
                "label": label,
                "job_id": job.job_id,
                "tenant": job.tenant.slug,
                "tenant_id": job.tenant.id,
                "providers": providers,
                "plugins": job.tenant.enabled_plugins,
            }
        )
        RUNTIMES.append(JobRuntime.for_current_thread())


@tenant_actor(name="tests.jobs.flaky", max_retries=3)
async def flaky(job: JobContext, *, marker: str) -> None:
    """Writes a row, then fails while FAILURES_LEFT says so."""
    job.session.add(TenantPlugin(plugin_id=marker, enabled=False, settings={}))
    await job.session.flush()
    with _lock:
        failing = FAILURES_LEFT[0] > 0
        FAILURES_LEFT[0] -= failing
    if failing:
        raise RuntimeError(f"boom while writing {marker}")


@pytest.fixture(autouse=True)
def _reset_actor_records() -> Iterator[None]:
    RUNS.clear()
    RUNTIMES.clear()
    FAILURES_LEFT[0] = 0
    yield


# --- helpers shared with the other job tests ----------------------------------------------


async def tenants_without_jobs(db: Database) -> dict[str, uuid.UUID]:
    """Slug → id of the tenants, with the outbox emptied of the sync's own events."""
    async with db.platform_session() as session, session.begin():
        await session.execute(delete(OutboxMessage))
        return {t.slug: t.id for t in await session.scalars(select(Tenant))}


@pytest.fixture
async def tenants(synced: Database) -> dict[str, uuid.UUID]:
    return await tenants_without_jobs(synced)


async def enqueue_in(db: Database, tenant_id: uuid.UUID, actor: Any, **kwargs: Any) -> uuid.UUID:
    """Enqueue one job in a committed transaction of ``tenant_id``; return its id."""
    async with db.tenant_session(tenant_id) as session, session.begin():
        message = enqueue(session, actor, **kwargs)
    return message.id


async def outbox_row(db: Database, job_id: uuid.UUID) -> OutboxMessage | None:
    async with db.platform_session() as session:
        return await session.get(OutboxMessage, job_id)


async def wait_until(
    check: Callable[[], Awaitable[bool]], what: str, seconds: float = 15.0
) -> None:
    """Poll ``check`` until it is true; fail after ``seconds``."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        await asyncio.sleep(0.05)


async def completed(db: Database, job_id: uuid.UUID) -> bool:
    row = await outbox_row(db, job_id)
    return row is not None and row.completed_at is not None


@contextlib.contextmanager
def running_worker(
    broker: dramatiq.Broker,
    settings: Settings,
    plugins: PluginHost,
    *,
    threads: int = 2,
    queues: set[str] | None = None,
) -> Iterator[dramatiq.Worker]:
    """A real dramatiq Worker in this process, stopped (and its engines closed) on exit."""
    JobRuntime.configure(lambda: (Database(settings.database_url), plugins))
    worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=50, queues=queues)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop(timeout=30_000)


def take_message(broker: StubBroker, queue: str = "default") -> dramatiq.Message[Any]:
    """The next message waiting in the in-memory broker (stored encoded)."""
    return dramatiq.Message.decode(broker.queues[queue].get_nowait())


def drain(broker: StubBroker, worker: dramatiq.Worker) -> None:
    broker.join("default", timeout=30_000, fail_fast=True)
    worker.join()


# --- the outbox: nothing sent unless committed ---------------------------------------------


async def test_rolled_back_job_is_never_sent_and_a_committed_one_is_sent_once(
    db: Database, tenants: dict[str, uuid.UUID]
):
    broker = build_broker("")
    wakes: list[int] = []

    def count_wake() -> None:
        wakes.append(1)

    on_outbox_commit(count_wake)
    try:
        with pytest.raises(RuntimeError, match="change failed"):
            async with db.tenant_session(tenants["muenchen"]) as session, session.begin():
                enqueue(session, record, label="rolled back")
                await session.flush()  # the row was written, then the transaction fails
                raise RuntimeError("change failed")
        assert await relay_once(db, broker) == 0
        assert wakes == []
        assert broker.queues["default"].qsize() == 0

        job_id = await enqueue_in(db, tenants["muenchen"], record, label="committed")
        assert wakes == [1]
    finally:
        remove_outbox_commit_listener(count_wake)

    async with db.platform_session() as session:
        rows = list(await session.scalars(select(OutboxMessage)))
    assert [(r.id, r.tenant_id, r.actor_name) for r in rows] == [
        (job_id, tenants["muenchen"], "tests.jobs.record")
    ]
    assert await relay_once(db, broker) == 1
    assert await relay_once(db, broker) == 0, "a dispatched row is not sent again"
    message = take_message(broker)
    assert message.kwargs == {
        "label": "committed",
        "tenant_id": str(tenants["muenchen"]),
        "job_id": str(job_id),
    }
    row = await outbox_row(db, job_id)
    assert row is not None and row.dispatched_at is not None and row.completed_at is None


async def test_enqueue_refuses_what_could_not_run_correctly(
    db: Database, tenants: dict[str, uuid.UUID]
):
    async with db.platform_session() as session:
        with pytest.raises(TypeError, match="tenant session"):
            enqueue(session, record, label="no tenant")
    async with db.tenant_session(tenants["muenchen"]) as session:
        with pytest.raises(ValueError, match="tenant_id"):
            enqueue(session, record, label="x", tenant_id=str(tenants["augsburg"]))
        with pytest.raises(TypeError, match="JSON-serialisable"):
            enqueue(session, record, label=object())
        with pytest.raises(TypeError, match="JSON-serialisable"):
            enqueue(session, record, label=float("nan"))
    with pytest.raises(TypeError, match="async function"):
        tenant_actor(name="tests.jobs.sync")(lambda job: None)  # type: ignore[arg-type]


# --- actors: the right tenant, at most once ------------------------------------------------


async def test_committed_jobs_run_inside_their_own_tenant(
    db: Database, tenants: dict[str, uuid.UUID], settings: Settings, plugins: PluginHost
):
    muenchen = await enqueue_in(db, tenants["muenchen"], record, label="m")
    augsburg = await enqueue_in(db, tenants["augsburg"], record, label="a")
    broker = build_broker("")
    assert await relay_once(db, broker) == 2
    with running_worker(broker, settings, plugins) as worker:
        drain(broker, worker)

    seen = {run["label"]: run for run in RUNS}
    assert set(seen) == {"m", "a"} and len(RUNS) == 2
    # Each job got its own tenant's snapshot and a session that sees only its rows,
    # though both tenants have identity providers.
    assert seen["m"]["job_id"] == muenchen
    assert seen["m"]["tenant"] == "muenchen" and seen["m"]["tenant_id"] == tenants["muenchen"]
    assert seen["m"]["providers"] == ["muenchen-sso"]
    assert "announcements" in seen["m"]["plugins"]
    assert seen["a"]["job_id"] == augsburg
    assert seen["a"]["tenant"] == "augsburg" and seen["a"]["providers"] == ["augsburg-sso"]
    assert "announcements" not in seen["a"]["plugins"]
    for job_id in (muenchen, augsburg):
        row = await outbox_row(db, job_id)
        assert row is not None and row.completed_at is not None
        assert (row.attempts, row.last_error) == (1, None)


async def test_a_message_naming_another_tenant_never_runs_there(
    db: Database, tenants: dict[str, uuid.UUID], plugins: PluginHost
):
    job_id = await enqueue_in(db, tenants["muenchen"], record, label="m")
    # A message for muenchen's row that claims to be augsburg's (forged or corrupted):
    assert not await run_job(db, plugins, record, tenants["augsburg"], job_id, {"label": "m"})
    assert RUNS == []
    assert not await completed(db, job_id)
    # The genuine message still runs, in muenchen.
    assert await run_job(db, plugins, record, tenants["muenchen"], job_id, {"label": "m"})
    assert [run["tenant"] for run in RUNS] == ["muenchen"]


async def test_the_same_message_delivered_twice_runs_the_body_once(
    db: Database, tenants: dict[str, uuid.UUID], settings: Settings, plugins: PluginHost
):
    job_id = await enqueue_in(db, tenants["augsburg"], record, label="twice", delay=0.3)
    broker = build_broker("")
    assert await relay_once(db, broker) == 1
    # As if the relay died after sending, before marking the row: it sends again.
    async with db.platform_session() as session, session.begin():
        await session.execute(update(OutboxMessage).values(dispatched_at=None))
    assert await relay_once(db, broker) == 1
    assert broker.queues["default"].qsize() == 2

    # Two worker threads take the two copies at once; the second waits for the
    # first one's claim and then finds the row completed.
    with running_worker(broker, settings, plugins, threads=2) as worker:
        drain(broker, worker)
    assert [run["job_id"] for run in RUNS] == [job_id]
    row = await outbox_row(db, job_id)
    assert row is not None and row.completed_at is not None and row.attempts == 1
    # A late third copy does nothing either.
    assert not await run_job(db, plugins, record, tenants["augsburg"], job_id, {"label": "twice"})
    assert len(RUNS) == 1


async def test_a_failing_body_is_recorded_rolled_back_and_runs_again(
    db: Database, tenants: dict[str, uuid.UUID], plugins: PluginHost
):
    tenant_id = tenants["muenchen"]
    job_id = await enqueue_in(db, tenant_id, flaky, marker="flaky-row")
    FAILURES_LEFT[0] = 1

    with pytest.raises(RuntimeError, match="boom while writing flaky-row"):
        await run_job(db, plugins, flaky, tenant_id, job_id, {"marker": "flaky-row"})
    row = await outbox_row(db, job_id)
    assert row is not None and row.completed_at is None
    assert row.attempts == 1
    assert row.last_error == "RuntimeError: boom while writing flaky-row"
    async with db.tenant_session(tenant_id) as session:
        written = await session.scalar(
            select(TenantPlugin).where(TenantPlugin.plugin_id == "flaky-row")
        )
    assert written is None, "the body's writes roll back with its failure"

    assert await run_job(db, plugins, flaky, tenant_id, job_id, {"marker": "flaky-row"})
    row = await outbox_row(db, job_id)
    assert row is not None and row.completed_at is not None and row.attempts == 2
    async with db.tenant_session(tenant_id) as session:
        rows = list(
            await session.scalars(select(TenantPlugin).where(TenantPlugin.plugin_id == "flaky-row"))
        )
    assert len(rows) == 1
    # ...in its own tenant only.
    async with db.tenant_session(tenants["augsburg"]) as session:
        assert (
            await session.scalar(select(TenantPlugin).where(TenantPlugin.plugin_id == "flaky-row"))
            is None
        )


async def test_a_job_of_a_deleted_tenant_is_dropped_cleanly(
    db: Database, tenants: dict[str, uuid.UUID], settings: Settings, plugins: PluginHost
):
    gone = await enqueue_in(db, tenants["toronto"], record, label="gone")
    kept = await enqueue_in(db, tenants["muenchen"], record, label="kept")
    broker = build_broker("")
    assert await relay_once(db, broker) == 2
    async with db.platform_session() as session, session.begin():
        await session.delete(await session.get(Tenant, tenants["toronto"]))

    with running_worker(broker, settings, plugins) as worker:
        drain(broker, worker)  # fail_fast: raises if a message was dead-lettered
    assert [run["label"] for run in RUNS] == ["kept"]
    assert broker.dead_letters == []
    assert await outbox_row(db, gone) is None, "the outbox row went with its tenant"
    assert await completed(db, kept)


# --- the relay -----------------------------------------------------------------------------


async def test_the_relay_wakes_on_commit_without_waiting_for_its_poll(
    db: Database, tenants: dict[str, uuid.UUID]
):
    broker = build_broker("")
    relay = OutboxRelay(db, broker, poll_seconds=60)
    relay.start()
    try:

        async def dispatched(job_id: uuid.UUID) -> bool:
            row = await outbox_row(db, job_id)
            return row is not None and row.dispatched_at is not None

        first = await enqueue_in(db, tenants["muenchen"], record, label="1")
        await wait_until(lambda: dispatched(first), "the first job to be relayed", seconds=5)
        # The relay now sleeps for up to 60 s; only the commit can wake it this soon.
        second = await enqueue_in(db, tenants["augsburg"], record, label="2")
        await wait_until(lambda: dispatched(second), "the commit to wake the relay", seconds=5)
    finally:
        await relay.stop()
    assert broker.queues["default"].qsize() == 2


async def test_the_relay_parks_jobs_of_unknown_actors(db: Database, tenants: dict[str, uuid.UUID]):
    async with db.platform_session() as session, session.begin():
        row = OutboxMessage(
            tenant_id=tenants["muenchen"], actor_name="tests.jobs.not_deployed", kwargs={}
        )
        session.add(row)
    broker = build_broker("")
    assert await relay_once(db, broker) == 0
    parked = await outbox_row(db, row.id)
    assert parked is not None and parked.dispatched_at is None
    assert "tests.jobs.not_deployed" in (parked.last_error or "")
    assert await relay_once(db, broker) == 0, "it waits before the next try"
    assert broker.queues["default"].qsize() == 0


async def test_the_relay_sends_lost_jobs_again_but_not_forever(
    db: Database, tenants: dict[str, uuid.UUID]
):
    lost = await enqueue_in(db, tenants["muenchen"], record, label="lost")
    dead = await enqueue_in(db, tenants["muenchen"], record, label="dead")
    fresh = await enqueue_in(db, tenants["muenchen"], record, label="fresh")
    long_ago = utcnow() - timedelta(hours=2)
    async with db.platform_session() as session, session.begin():
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_([lost, dead]))
            .values(dispatched_at=long_ago)
        )
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == dead)
            .values(attempts=REDELIVER_MAX_ATTEMPTS, last_error="RuntimeError: always")
        )
        await session.execute(
            update(OutboxMessage).where(OutboxMessage.id == fresh).values(dispatched_at=utcnow())
        )
    broker = build_broker("")
    assert await relay_once(db, broker) == 1
    assert take_message(broker).kwargs["job_id"] == str(lost)


# --- worker threads clean up -----------------------------------------------------------------


async def test_stopping_the_worker_closes_its_threads_loops_and_engines(
    db: Database, tenants: dict[str, uuid.UUID], settings: Settings, plugins: PluginHost
):
    await enqueue_in(db, tenants["muenchen"], record, label="one")
    broker = build_broker("")
    await relay_once(db, broker)
    with running_worker(broker, settings, plugins, threads=1) as worker:
        drain(broker, worker)
        (runtime,) = RUNTIMES
        assert not runtime.loop.is_closed()
    assert runtime.loop.is_closed()
    assert runtime.db.engine.sync_engine.pool.checkedout() == 0
