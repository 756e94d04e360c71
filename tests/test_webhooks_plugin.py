"""The webhooks plugin, end to end: event → outbox → worker → signed POST to a real server.

The receiver is a real HTTP server on 127.0.0.1 in a thread; it records what arrives
and answers with the statuses a test scripts.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from core.db.sessions import Database
from core.events import deliver_event, publish_event
from core.jobs.actors import run_job
from core.jobs.broker import build_broker
from core.jobs.models import OutboxMessage
from core.jobs.relay import relay_once
from core.pluginhost.info import PluginSettingsError
from core.pluginhost.manager import PluginHost
from core.pluginhost.service import set_plugin_state
from core.settings import Settings
from core.tenancy.sync import sync_tenants
from plugins.webhooks import PLUGIN, WebhookError
from tests.test_jobs_brokers import closed_port
from tests.test_jobs_outbox import (
    completed,
    drain,
    outbox_row,
    running_worker,
    tenants_without_jobs,
)

SECRET_ENV = "TANDEM_TEST_WEBHOOK_SECRET"
SECRET = "a-shared-secret-for-the-tests-only"


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


class Receiver:
    """A real HTTP server on a free loopback port that records POSTs."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.statuses: list[int] = []  # answered in order; 200 once they run out
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    receiver.requests.append(Received(self.path, dict(self.headers), body))
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/hooks/tandem"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)


async def enable_webhooks(
    db: Database, plugins: PluginHost, tenant_id: uuid.UUID, url: str, **settings: Any
) -> None:
    async with db.tenant_session(tenant_id) as session, session.begin():
        await set_plugin_state(
            session,
            plugins,
            "webhooks",
            enabled=True,
            settings={"url": url, "secret_env": SECRET_ENV, **settings},
        )


async def publish(db: Database, tenant_id: uuid.UUID, name: str, payload: dict) -> uuid.UUID:
    async with db.tenant_session(tenant_id) as session, session.begin():
        message = publish_event(session, name, payload)
    return message.id


async def run_pending_jobs(db: Database, settings: Settings, plugins: PluginHost) -> int:
    """Relay every due job and let a real in-process worker run them (retries included)."""
    broker = build_broker("")
    sent = await relay_once(db, broker)
    with running_worker(broker, settings, plugins) as worker:
        drain(broker, worker)
    return sent


def expected_signature(body: bytes) -> str:
    return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


@pytest.fixture
async def tenants(synced: Database) -> dict[str, uuid.UUID]:
    return await tenants_without_jobs(synced)


# --- settings ------------------------------------------------------------------------------


def test_settings_are_validated_and_hold_no_secret():
    valid = PLUGIN.validate_settings({"url": "https://crm.example.org/hook", "secret_env": "X_Y"})
    assert valid == {
        "url": "https://crm.example.org/hook",
        "secret_env": "X_Y",
        "events": ["*"],
        "timeout_seconds": 10.0,
    }
    bad = [
        ({"url": "ftp://example.org/x", "secret_env": "X"}, "url"),
        ({"url": "not a url", "secret_env": "X"}, "url"),
        # A pasted secret instead of the variable's name:
        ({"url": "https://e.org", "secret_env": "s3cr3t-Xq9!"}, "secret_env"),
        ({"url": "https://e.org", "secret_env": "X", "events": []}, "events"),
        ({"url": "https://e.org", "secret_env": "X", "events": ["pairing accepted"]}, "events"),
        ({"url": "https://e.org", "secret_env": "X", "timeout_seconds": 0}, "timeout_seconds"),
        ({"url": "https://e.org", "secret_env": "X", "secret": "inline"}, "secret"),
        ({"secret_env": "X"}, "url"),
    ]
    for raw, field in bad:
        with pytest.raises(PluginSettingsError) as error:
            PLUGIN.validate_settings(raw)
        assert field in [name.split(".")[0] for name, _ in error.value.problems], raw


# --- delivery ------------------------------------------------------------------------------


async def test_events_reach_only_the_tenant_that_enabled_webhooks_signed(
    db: Database,
    tenants: dict[str, uuid.UUID],
    settings: Settings,
    plugins: PluginHost,
    receiver: Receiver,
):
    await enable_webhooks(db, plugins, tenants["muenchen"], receiver.url)
    ours = await publish(db, tenants["muenchen"], "pairing.accepted", {"pairing": "p-1"})
    theirs = await publish(db, tenants["augsburg"], "pairing.accepted", {"pairing": "p-2"})

    assert await run_pending_jobs(db, settings, plugins) == 2
    assert await completed(db, ours) and await completed(db, theirs)
    (request,) = receiver.requests  # augsburg did not enable webhooks: nothing from it
    assert request.path == "/hooks/tandem"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Tandem-Event"] == "pairing.accepted"
    assert request.headers["X-Tandem-Delivery"] == str(ours)
    assert hmac.compare_digest(
        request.headers["X-Tandem-Signature"], expected_signature(request.body)
    )
    body = request.json
    assert body["id"] == str(ours)
    assert body["tenant"] == {"id": str(tenants["muenchen"]), "slug": "muenchen"}
    assert body["name"] == "pairing.accepted"
    assert body["payload"] == {"pairing": "p-1"}
    assert body["occurred_at"].startswith("20")


async def test_the_event_filter_selects_what_is_sent(
    db: Database,
    tenants: dict[str, uuid.UUID],
    settings: Settings,
    plugins: PluginHost,
    receiver: Receiver,
):
    await enable_webhooks(
        db, plugins, tenants["muenchen"], receiver.url, events=["pairing.*", "tenant.updated"]
    )
    await publish(db, tenants["muenchen"], "pairing.proposed", {})
    skipped = await publish(db, tenants["muenchen"], "meeting.logged", {"minutes": 60})
    await publish(db, tenants["muenchen"], "tenant.updated", {"changes": []})

    assert await run_pending_jobs(db, settings, plugins) == 3
    assert sorted(r.headers["X-Tandem-Event"] for r in receiver.requests) == [
        "pairing.proposed",
        "tenant.updated",
    ]
    assert await completed(db, skipped), "a filtered-out event is done, not pending"


async def test_a_failing_receiver_fails_the_job_and_the_retry_delivers_it(
    db: Database,
    tenants: dict[str, uuid.UUID],
    settings: Settings,
    plugins: PluginHost,
    receiver: Receiver,
):
    await enable_webhooks(db, plugins, tenants["muenchen"], receiver.url)
    job_id = await publish(db, tenants["muenchen"], "pairing.completed", {"pairing": "p-9"})
    receiver.statuses = [500]

    await run_pending_jobs(db, settings, plugins)  # dramatiq retries after its backoff
    first, second = receiver.requests
    assert first.body == second.body, "a retry sends the same event"
    assert first.headers["X-Tandem-Delivery"] == second.headers["X-Tandem-Delivery"] == str(job_id)
    row = await outbox_row(db, job_id)
    assert row is not None and row.completed_at is not None and row.attempts == 2
    assert "answered 500" in (row.last_error or "")


async def test_an_unreachable_receiver_or_a_missing_secret_fails_the_job(
    db: Database,
    tenants: dict[str, uuid.UUID],
    plugins: PluginHost,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
):
    tenant_id = tenants["muenchen"]
    await enable_webhooks(db, plugins, tenant_id, f"http://127.0.0.1:{closed_port()}/hook")
    job_id = await publish(db, tenant_id, "pairing.accepted", {})

    async def deliver() -> bool:
        row = await outbox_row(db, job_id)
        assert row is not None
        return await run_job(db, plugins, deliver_event, tenant_id, job_id, row.kwargs)

    with pytest.raises(WebhookError, match="failed"):
        await deliver()
    row = await outbox_row(db, job_id)
    assert row is not None and row.completed_at is None and "WebhookError" in row.last_error

    await enable_webhooks(db, plugins, tenant_id, receiver.url)
    monkeypatch.delenv(SECRET_ENV)
    with pytest.raises(WebhookError, match=SECRET_ENV):
        await deliver()
    assert receiver.requests == [], "never sent unsigned"

    monkeypatch.setenv(SECRET_ENV, SECRET)
    assert await deliver()
    assert len(receiver.requests) == 1
    row = await outbox_row(db, job_id)
    assert row is not None and row.completed_at is not None and row.attempts == 3


# --- events from tenant sync ---------------------------------------------------------------


async def test_tenant_sync_publishes_tenant_updated_to_the_tenants_webhooks(
    synced: Database,
    settings: Settings,
    plugins: PluginHost,
    receiver: Receiver,
    tmp_path: Path,
):
    db = synced
    async with db.platform_session() as session:
        first = list(await session.scalars(select(OutboxMessage)))
    assert len(first) == 3 and {m.actor_name for m in first} == {"core.deliver_event"}
    assert all(m.kwargs["name"] == "tenant.updated" for m in first)
    assert all("created" in m.kwargs["payload"]["changes"] for m in first)
    assert await run_pending_jobs(db, settings, plugins) == 3
    assert receiver.requests == []  # no tenant had webhooks yet

    tenants_dir = tmp_path / "tenants"
    shutil.copytree(settings.tenants_dir, tenants_dir)
    muenchen = tenants_dir / "muenchen.toml"
    muenchen.write_text(
        muenchen.read_text(encoding="utf-8")
        + f'\n[plugins.webhooks]\nurl = "{receiver.url}"\nsecret_env = "{SECRET_ENV}"\n',
        encoding="utf-8",
    )
    # A dry run publishes nothing (its transaction rolls back)...
    await sync_tenants(db, plugins, tenants_dir, settings.themes_dir, dry_run=True, members=False)
    assert await run_pending_jobs(db, settings, plugins) == 0
    # ...the real one publishes one event, for the tenant that changed.
    report = await sync_tenants(db, plugins, tenants_dir, settings.themes_dir, members=False)
    assert report.changes == ["muenchen: enabled plugin webhooks"]
    assert await run_pending_jobs(db, settings, plugins) == 1
    (request,) = receiver.requests
    assert request.headers["X-Tandem-Event"] == "tenant.updated"
    assert request.json["tenant"]["slug"] == "muenchen"
    assert request.json["payload"] == {"changes": ["enabled plugin webhooks"]}

    # Syncing the same files again changes nothing and publishes nothing.
    await sync_tenants(db, plugins, tenants_dir, settings.themes_dir, members=False)
    assert await run_pending_jobs(db, settings, plugins) == 0
