"""Jobs through the real brokers: Redis and RabbitMQ, plus the broker URL and /readyz.

Each run uses its own queue (``tandem_test_<pid>``), consumed only by the worker the
test starts, and removes it afterwards, so runs on one server do not interfere.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import dramatiq
import pytest
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import dq_name, xq_name
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from core.db.sessions import Database
from core.identity.models import IdentityProvider
from core.jobs import JobContext, tenant_actor
from core.jobs.broker import BrokerURLError, build_broker
from core.jobs.relay import OutboxRelay, relay_once
from core.pluginhost.manager import PluginHost
from core.settings import Settings
from core.web.app import create_app
from tests.conftest import MigratedDatabase
from tests.services import RABBITMQ_URL, REDIS_URL, need_rabbitmq, need_redis
from tests.test_jobs_outbox import (
    completed,
    enqueue_in,
    outbox_row,
    running_worker,
    tenants_without_jobs,
    wait_until,
)

# The broker tests share Redis database 15 and RabbitMQ queues: one test worker runs them all.
pytestmark = pytest.mark.xdist_group("brokers")

QUEUE = f"tandem_test_{os.getpid()}"
RUNS: list[dict[str, Any]] = []
FAILURES_LEFT = [0]
_lock = threading.Lock()


@tenant_actor(name="tests.brokers.record", queue_name=QUEUE)
async def broker_record(job: JobContext, *, label: str) -> None:
    providers = sorted(p.provider_id for p in await job.session.scalars(select(IdentityProvider)))
    with _lock:
        failing = FAILURES_LEFT[0] > 0
        FAILURES_LEFT[0] -= failing
        if failing:
            raise RuntimeError(f"{label}: failing once")
        RUNS.append({"label": label, "tenant": job.tenant.slug, "providers": providers})


@pytest.fixture(autouse=True)
def _reset_runs() -> None:
    RUNS.clear()
    FAILURES_LEFT[0] = 0


def closed_port() -> int:
    """A local TCP port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def broker_url(kind: str) -> str:
    if kind == "redis":
        need_redis()
        return REDIS_URL
    need_rabbitmq()
    return RABBITMQ_URL


@contextlib.contextmanager
def real_broker(kind: str) -> Iterator[dramatiq.Broker]:
    """A broker for the test queue, with the queue removed and connections closed after."""
    broker = build_broker(broker_url(kind))
    try:
        yield broker
    finally:
        if isinstance(broker, RedisBroker):
            for name in (QUEUE, dq_name(QUEUE), xq_name(QUEUE)):
                broker.do_purge(name)
            broker.client.close()
        elif isinstance(broker, RabbitmqBroker):
            for name in (QUEUE, dq_name(QUEUE), xq_name(QUEUE)):
                broker.channel.queue_delete(name)
            broker.close()


@pytest.fixture
async def tenants(synced: Database) -> dict[str, uuid.UUID]:
    return await tenants_without_jobs(synced)


# --- the broker URL ----------------------------------------------------------------------


def test_no_broker_url_means_the_in_memory_broker():
    broker = build_broker("")
    assert isinstance(broker, StubBroker)
    assert "core.deliver_event" in broker.actors and "tests.brokers.record" in broker.actors


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:6379", "sqs://queue", "localhost:6379", "redis", "127.0.0.1"]
)
def test_a_broker_url_of_another_scheme_is_a_clear_error(url: str):
    with pytest.raises(BrokerURLError, match=r"TANDEM_BROKER_URL must start with redis://"):
        build_broker(url)
    assert issubclass(BrokerURLError, ValueError)


def test_the_app_refuses_to_start_with_a_bad_broker_url(migrated: MigratedDatabase):
    with pytest.raises(BrokerURLError, match="amqp://"):
        create_app(migrated.settings(broker_url="kafka://127.0.0.1:9092"))


# --- a broker that is down -----------------------------------------------------------------


async def test_jobs_wait_in_the_outbox_while_the_broker_is_down(
    db: Database, tenants: dict[str, uuid.UUID]
):
    job_id = await enqueue_in(db, tenants["muenchen"], broker_record, label="later")
    down = build_broker(f"redis://127.0.0.1:{closed_port()}/0")
    with pytest.raises(Exception, match="onnect"):
        await relay_once(db, down)
    row = await outbox_row(db, job_id)
    assert row is not None and row.dispatched_at is None, "not marked: it was not sent"
    up = build_broker("")
    assert await relay_once(db, up) == 1


@pytest.mark.parametrize("kind", ["redis", "rabbitmq"])
async def test_readyz_says_which_broker_is_failing(migrated: MigratedDatabase, kind: str):
    url = {
        "redis": f"redis://127.0.0.1:{closed_port()}/0",
        "rabbitmq": f"amqp://guest:guest@127.0.0.1:{closed_port()}/",
    }[kind]
    app = create_app(migrated.settings(broker_url=url))
    async with AsyncTestClient(app, base_url="http://127.0.0.1:8000") as client:
        response = await client.get("/readyz", headers={"host": "10.0.0.7"})
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "broker": "failing"},
    }


@pytest.mark.parametrize("kind", ["redis", "rabbitmq"])
async def test_readyz_is_ready_with_a_reachable_broker(migrated: MigratedDatabase, kind: str):
    url = broker_url(kind)
    app = create_app(migrated.settings(broker_url=url))
    try:
        async with AsyncTestClient(app, base_url="http://127.0.0.1:8000") as client:
            response = await client.get("/readyz")
    finally:
        app.state.broker.close()
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "broker": "ok"}


# --- end to end through a real broker ------------------------------------------------------


@pytest.mark.parametrize("kind", ["redis", "rabbitmq"])
async def test_committed_jobs_run_through_a_real_broker_in_their_tenants(
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
                # The first delivery fails: dramatiq retries it through the broker's
                # delay queue and the second one completes the job.
                FAILURES_LEFT[0] = 1
                muenchen = await enqueue_in(db, tenants["muenchen"], broker_record, label="m")
                augsburg = await enqueue_in(db, tenants["augsburg"], broker_record, label="a")

                async def both_done() -> bool:
                    return await completed(db, muenchen) and await completed(db, augsburg)

                await wait_until(both_done, f"both jobs to run through {kind}", seconds=30)
        finally:
            await relay.stop()

    assert sorted((run["label"], run["tenant"], run["providers"]) for run in RUNS) == [
        ("a", "augsburg", ["augsburg-sso"]),
        ("m", "muenchen", ["muenchen-sso"]),
    ]
    rows = [await outbox_row(db, job_id) for job_id in (muenchen, augsburg)]
    assert sorted(row.attempts for row in rows if row) == [1, 2]
    failed_once = max((row for row in rows if row), key=lambda row: row.attempts)
    assert "failing once" in (failed_once.last_error or "")
