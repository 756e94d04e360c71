"""Cleanup of ended identity data and old outbox rows, by function, job and app.

The prune functions take ``now``, so most tests fix it (``NOW``) and lay out rows
around the retention limits. The job tests go through the real path — schedule,
outbox, relay, an in-process dramatiq worker — with rows placed around the real
clock, since a job cleans up as of the moment it runs.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select, text

from core.db.base import utcnow
from core.db.sessions import Database
from core.identity.attempts import OIDCLoginAttempt, PlatformLoginAttempt
from core.identity.cleanup import (
    ENDED_SESSION_RETENTION,
    INVITATION_RETENTION,
    prune_invitations,
    prune_login_attempts,
    prune_platform_login_attempts,
    prune_sessions,
)
from core.identity.invitations import Invitation
from core.identity.models import AuthSession
from core.identity.sessions import (
    SessionPolicy,
    end_session,
    hash_token,
    load_session,
    start_session,
)
from core.jobs.broker import build_broker
from core.jobs.cleanup import COMPLETED_JOB_RETENTION, prune_outbox
from core.jobs.models import OutboxMessage, ScheduleEntry
from core.jobs.relay import relay_once
from core.jobs.schedule import load_core_tasks, run_task
from core.pluginhost.manager import PluginHost
from core.settings import Settings
from tests.conftest import APP_ROLE, MigratedDatabase, make_app
from tests.test_identity_sessions import make_user
from tests.test_jobs_outbox import drain, running_worker, tenants_without_jobs, wait_until

NOW = datetime(2031, 6, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
SHORT = SessionPolicy(idle=timedelta(minutes=30), absolute=timedelta(hours=12))
SHORT_IDLE = SessionPolicy(idle=timedelta(minutes=30), absolute=timedelta(hours=24))
LONG_IDLE = SessionPolicy(idle=timedelta(hours=4), absolute=timedelta(hours=24))


@pytest.fixture
async def tenants(synced: Database) -> dict[str, uuid.UUID]:
    return await tenants_without_jobs(synced)


async def session_count(db: Database) -> int:
    async with db.platform_session() as session:
        return await session.scalar(select(func.count()).select_from(AuthSession)) or 0


async def stored_sessions(db: Database) -> set[uuid.UUID]:
    async with db.platform_session() as session:
        return set(await session.scalars(select(AuthSession.id)))


async def _any_session(db: Database, token: str) -> AuthSession:
    """The stored row of ``token``, live or not."""
    async with db.platform_session() as session:
        row = await session.scalar(
            select(AuthSession).where(AuthSession.token_hash == hash_token(token))
        )
    assert row is not None
    return row


async def add_attempt(db: Database, tenant_id: uuid.UUID, created_at: datetime) -> uuid.UUID:
    attempt = OIDCLoginAttempt(
        state_hash=uuid.uuid4().hex * 2,
        provider_id="sso",
        issuer="https://id.example.org",
        client_id="tandem",
        nonce="n",
        code_verifier="v",
        redirect_uri="https://x.example.org/login/callback",
        created_at=created_at,
    )
    async with db.tenant_session(tenant_id) as session, session.begin():
        session.add(attempt)
    return attempt.id


async def attempt_ids(db: Database, tenant_id: uuid.UUID) -> set[uuid.UUID]:
    async with db.tenant_session(tenant_id) as session:
        return set(await session.scalars(select(OIDCLoginAttempt.id)))


async def run_jobs(db: Database, settings: Settings, plugins: PluginHost) -> None:
    """Send every outbox row and let an in-process worker run them all."""
    broker = build_broker("")
    await relay_once(db, broker)
    with running_worker(broker, settings, plugins) as worker:
        drain(broker, worker)


# --- login sessions -------------------------------------------------------------------------


async def test_sessions_that_ended_a_week_ago_go_and_live_ones_stay(
    db: Database, tenants: dict[str, uuid.UUID]
):
    user = await make_user(db, "Ada")
    muenchen = tenants["muenchen"]

    async def started(at: datetime, policy: SessionPolicy, tenant: uuid.UUID | None) -> str:
        return await start_session(db, tenant, user, policy=policy, now=at)

    live = await started(NOW - timedelta(minutes=5), SHORT, muenchen)
    live_platform = await started(NOW - timedelta(minutes=5), SHORT, None)
    revoked_long_ago = await started(NOW - 8 * DAY - timedelta(hours=1), SHORT, muenchen)
    assert await end_session(db, revoked_long_ago, muenchen, now=NOW - 8 * DAY)
    revoked_lately = await started(NOW - 6 * DAY - timedelta(hours=1), SHORT, muenchen)
    assert await end_session(db, revoked_lately, muenchen, now=NOW - 6 * DAY)
    expired_long_ago = await started(NOW - 8 * DAY - timedelta(hours=12), SHORT, None)
    # Still before its absolute end at the cutoff, but idle since 7 days and 2½ hours.
    idle_long_ago = await started(NOW - 7 * DAY - timedelta(hours=3), SHORT_IDLE, muenchen)
    # Last seen before the cutoff too, but its 4-hour idle timeout ended after it.
    idle_lately = await started(NOW - 7 * DAY - timedelta(hours=1), LONG_IDLE, muenchen)

    ids = {
        token: (await _any_session(db, token)).id
        for token in (
            live,
            live_platform,
            revoked_long_ago,
            revoked_lately,
            expired_long_ago,
            idle_long_ago,
            idle_lately,
        )
    }
    async with db.platform_session() as platform, platform.begin():
        assert await prune_sessions(platform, NOW) == 3
    assert await stored_sessions(db) == {
        ids[live],
        ids[live_platform],
        ids[revoked_lately],
        ids[idle_lately],
    }
    assert ENDED_SESSION_RETENTION == 7 * DAY
    # The live sessions still work, on their own sites.
    assert (await load_session(db, live, muenchen, now=NOW)) is not None
    assert (await load_session(db, live_platform, None, now=NOW)) is not None
    async with db.platform_session() as platform, platform.begin():
        assert await prune_sessions(platform, NOW) == 0, "nothing more to do"


async def test_the_session_cleanup_job_runs_through_the_outbox(
    db: Database, tenants: dict[str, uuid.UUID], settings: Settings, plugins: PluginHost
):
    load_core_tasks()
    user = await make_user(db, "Grace")
    now = utcnow()
    live = await start_session(db, tenants["augsburg"], user, policy=SHORT)
    ended = await start_session(db, tenants["augsburg"], user, policy=SHORT, now=now - 9 * DAY)
    ended_id = (await _any_session(db, ended)).id

    report = await run_task(db, "core.identity.prune_sessions")
    assert report.enqueued == 1
    await run_jobs(db, settings, plugins)

    assert ended_id not in await stored_sessions(db)
    assert await session_count(db) == 1
    assert await load_session(db, live, tenants["augsburg"]) is not None


# --- per tenant: login attempts and invitations ---------------------------------------------


async def test_each_tenant_job_deletes_only_its_own_stale_attempts(
    db: Database, tenants: dict[str, uuid.UUID], settings: Settings, plugins: PluginHost
):
    load_core_tasks()
    now = utcnow()
    muenchen, augsburg = tenants["muenchen"], tenants["augsburg"]
    stale_m = await add_attempt(db, muenchen, now - timedelta(minutes=11))
    fresh_m = await add_attempt(db, muenchen, now - timedelta(minutes=2))
    stale_a = await add_attempt(db, augsburg, now - timedelta(hours=3))

    report = await run_task(db, "core.identity.prune_records", tenant_ids=[muenchen])
    assert report.enqueued == 1
    await run_jobs(db, settings, plugins)
    assert await attempt_ids(db, muenchen) == {fresh_m}
    assert stale_m not in await attempt_ids(db, muenchen)
    assert await attempt_ids(db, augsburg) == {stale_a}, "another tenant's job did not touch it"

    # The scheduled fan-out then cleans augsburg in augsburg's own job.
    report = await run_task(db, "core.identity.prune_records")
    assert report.enqueued == 3
    await run_jobs(db, settings, plugins)
    assert await attempt_ids(db, augsburg) == set()
    assert await attempt_ids(db, muenchen) == {fresh_m}


async def test_prune_login_attempts_keeps_attempts_that_can_still_complete(
    db: Database, tenants: dict[str, uuid.UUID]
):
    toronto = tenants["toronto"]
    old = await add_attempt(db, toronto, NOW - timedelta(minutes=10, seconds=1))
    young = await add_attempt(db, toronto, NOW - timedelta(minutes=9, seconds=59))
    async with db.tenant_session(toronto) as session, session.begin():
        assert await prune_login_attempts(session, NOW) == 1
    assert await attempt_ids(db, toronto) == {young}
    assert old not in await attempt_ids(db, toronto)


async def test_operators_abandoned_login_attempts_go_and_young_ones_stay(db: Database):
    def attempt(created_at: datetime) -> PlatformLoginAttempt:
        return PlatformLoginAttempt(
            state_hash=uuid.uuid4().hex * 2,
            provider_id="operator",
            issuer="https://id.example.org",
            client_id="tandem-platform",
            nonce="n",
            code_verifier="v",
            redirect_uri="https://tandem.example.org/login/oidc/operator/callback",
            created_at=created_at,
        )

    old = attempt(NOW - timedelta(minutes=10, seconds=1))
    young = attempt(NOW - timedelta(minutes=9, seconds=59))
    async with db.platform_session() as session, session.begin():
        session.add_all([old, young])
    async with db.platform_session() as session, session.begin():
        assert await prune_platform_login_attempts(session, NOW) == 1
    async with db.platform_session() as session:
        assert set(await session.scalars(select(PlatformLoginAttempt.id))) == {young.id}


# Row-level security is PostgreSQL's; on SQLite the ORM filter is the only wall.
@pytest.mark.parametrize("migrated", ["postgresql"], indirect=True)
async def test_postgres_row_level_security_confines_a_tenant_job_to_its_tenant(
    db: Database, migrated: MigratedDatabase, tenants: dict[str, uuid.UUID]
):
    """Even SQL that bypasses the ORM's tenant filter deletes only the job's tenant's rows."""
    muenchen, augsburg = tenants["muenchen"], tenants["augsburg"]
    await add_attempt(db, muenchen, NOW - DAY)
    kept = await add_attempt(db, augsburg, NOW - DAY)
    async with db.tenant_session(muenchen) as session, session.begin():
        assert await session.scalar(text("SELECT current_user")) == APP_ROLE
        deleted = await session.execute(text("DELETE FROM oidc_login_attempts"))
        assert deleted.rowcount == 1
    assert await attempt_ids(db, augsburg) == {kept}
    # A platform job's session sees no tenant-owned row at all.
    async with db.platform_session() as session, session.begin():
        deleted = await session.execute(text("DELETE FROM oidc_login_attempts"))
        assert deleted.rowcount == 0
    assert await attempt_ids(db, augsburg) == {kept}


async def test_invitations_go_thirty_days_after_they_ended(
    db: Database, tenants: dict[str, uuid.UUID]
):
    muenchen, augsburg = tenants["muenchen"], tenants["augsburg"]

    def invitation(
        created: timedelta,
        lifetime: timedelta = 7 * DAY,
        accepted: timedelta | None = None,
        revoked: timedelta | None = None,
    ) -> Invitation:
        return Invitation(
            email="x@example.org",
            roles=["admin"],
            token_hash=uuid.uuid4().hex * 2,
            created_at=NOW - created,
            expires_at=NOW - created + lifetime,
            accepted_at=NOW - accepted if accepted else None,
            revoked_at=NOW - revoked if revoked else None,
        )

    rows = {
        "pending": invitation(DAY),
        "expired 31 days ago": invitation(38 * DAY),
        "expired 29 days ago": invitation(36 * DAY),
        "accepted 35 days ago": invitation(40 * DAY, accepted=35 * DAY),
        "accepted 10 days ago": invitation(12 * DAY, accepted=10 * DAY),
        "revoked 31 days ago": invitation(32 * DAY, revoked=31 * DAY),
        "revoked 2 days ago": invitation(3 * DAY, revoked=2 * DAY),
    }
    async with db.tenant_session(muenchen) as session, session.begin():
        session.add_all(rows.values())
    other = invitation(38 * DAY)
    async with db.tenant_session(augsburg) as session, session.begin():
        session.add(other)

    async with db.tenant_session(muenchen) as session, session.begin():
        assert await prune_invitations(session, NOW) == 3
    async with db.tenant_session(muenchen) as session:
        left = set(await session.scalars(select(Invitation.id)))
    assert left == {
        rows[name].id
        for name in (
            "pending",
            "expired 29 days ago",
            "accepted 10 days ago",
            "revoked 2 days ago",
        )
    }
    assert INVITATION_RETENTION == 30 * DAY
    async with db.tenant_session(augsburg) as session:
        assert set(await session.scalars(select(Invitation.id))) == {other.id}


# --- the outbox -----------------------------------------------------------------------------


async def test_completed_jobs_go_after_a_week_and_unfinished_ones_stay(
    db: Database, tenants: dict[str, uuid.UUID]
):
    def message(created: timedelta, completed: timedelta | None) -> OutboxMessage:
        return OutboxMessage(
            tenant_id=tenants["muenchen"],
            actor_name="core.send_mail",
            kwargs={},
            created_at=NOW - created,
            available_at=NOW - created,
            completed_at=NOW - completed if completed is not None else None,
        )

    old_done = message(9 * DAY, 8 * DAY)
    recent_done = message(6 * DAY, 6 * DAY)
    failed = message(30 * DAY, None)
    platform_done = message(9 * DAY, 8 * DAY)
    platform_done.tenant_id = None
    async with db.platform_session() as session, session.begin():
        session.add_all([old_done, recent_done, failed, platform_done])
    async with db.platform_session() as session, session.begin():
        assert await prune_outbox(session, NOW) == 2
    async with db.platform_session() as session:
        left = set(await session.scalars(select(OutboxMessage.id)))
    assert left == {recent_done.id, failed.id}
    assert COMPLETED_JOB_RETENTION == 7 * DAY


# --- in the running app -----------------------------------------------------------------------


async def test_the_apps_scheduler_runs_the_cleanup(
    synced: Database, migrated: MigratedDatabase, plugins: PluginHost
):
    db = synced
    await tenants_without_jobs(db)
    user = await make_user(db, "Edsger")
    live = await start_session(db, None, user, policy=SHORT)
    ended = await start_session(db, None, user, policy=SHORT, now=utcnow() - 9 * DAY)
    ended_id = (await _any_session(db, ended)).id

    settings = migrated.settings(scheduler_poll_seconds=0.05)
    async with AsyncTestClient(make_app(settings, plugins), base_url="http://localhost"):

        async def cleaned() -> bool:
            return ended_id not in await stored_sessions(db)

        await wait_until(cleaned, "the app's scheduler to remove the ended session", seconds=60)

        async def all_done() -> bool:
            async with db.platform_session() as session:
                pending = await session.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(OutboxMessage.completed_at.is_(None))
                )
                scheduled = await session.scalar(select(func.count()).select_from(ScheduleEntry))
            return pending == 0 and scheduled == len(load_core_tasks())

        await wait_until(all_done, "every scheduled cleanup job to complete", seconds=60)
    assert await load_session(db, live, None) is not None
    async with db.platform_session() as session:
        jobs = (
            await session.execute(select(OutboxMessage.actor_name, OutboxMessage.tenant_id))
        ).all()
    assert sorted(name for name, tenant in jobs if tenant is None) == [
        "core.identity.prune_sessions",
        "core.jobs.prune_outbox",
    ]
    assert sum(1 for name, _ in jobs if name == "core.identity.prune_records") == 3
