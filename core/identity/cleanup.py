"""Removing identity data nobody needs any more, as periodic jobs (``core.jobs.schedule``).

What goes, and when:

* **Login sessions** (``auth_sessions``, a platform table) are deleted
  :data:`ENDED_SESSION_RETENTION` (7 days) after they ended — revoked, past
  ``expires_at``, or idle for longer than their idle timeout, whichever came first.
  Ended sessions are never shown to their user (``/account/sessions`` lists live
  ones only), so the week is not for the user: the audit log names sessions by id,
  and for a week after a suspicious login or logout the session's browser and
  address can still be looked up. Live sessions are never touched.
* **Login attempts** (``oidc_login_attempts`` per tenant, and the operators'
  ``platform_login_attempts`` with the sessions job) are deleted once older
  than the relying party accepts them (10 minutes): a login that was abandoned at
  the provider. Starting a login already clears its tenant's stale attempts; this
  catches tenants where nobody starts one.
* **Invitations** (per tenant) are deleted :data:`INVITATION_RETENTION` (30 days)
  after they ended — accepted, revoked or expired. The admin's page lists pending
  invitations only; the retention is for the people who were invited: for a month,
  an old link still says "already accepted", "withdrawn" or "expired" (410) rather
  than "not found". The audit log keeps who invited and who accepted.

The prune functions take the session and ``now``, so tests and operators can call
them directly; the jobs call them with the current time and log the counts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.base import utcnow
from core.identity.attempts import DEFAULT_MAX_AGE, OIDCLoginAttempt, PlatformLoginAttempt
from core.identity.invitations import Invitation
from core.identity.models import AuthSession
from core.identity.sessions import aware
from core.jobs import JobContext, PlatformJobContext
from core.jobs.schedule import periodic

log = logging.getLogger(__name__)

ENDED_SESSION_RETENTION = timedelta(days=7)
LOGIN_ATTEMPT_MAX_AGE = timedelta(seconds=DEFAULT_MAX_AGE)
INVITATION_RETENTION = timedelta(days=30)
# Ids per DELETE … WHERE id IN (…): well below every backend's parameter limit.
DELETE_BATCH = 500


async def prune_sessions(platform: AsyncSession, now: datetime) -> int:
    """Delete login sessions that ended more than the retention before ``now``."""
    cutoff = now - ENDED_SESSION_RETENTION
    result = await platform.execute(
        delete(AuthSession)
        .where(or_(AuthSession.revoked_at < cutoff, AuthSession.expires_at < cutoff))
        .execution_options(synchronize_session=False)
    )
    count = result.rowcount
    # An idle session ended at last_seen_at + its idle timeout, which portable SQL
    # cannot add up; such an end before the cutoff implies last_seen_at before it,
    # so only those rows are read and checked here.
    candidates = await platform.execute(
        select(AuthSession.id, AuthSession.last_seen_at, AuthSession.idle_timeout_seconds).where(
            AuthSession.last_seen_at < cutoff
        )
    )
    idle = [
        row.id
        for row in candidates
        if aware(row.last_seen_at) + timedelta(seconds=row.idle_timeout_seconds) < cutoff
    ]
    for start in range(0, len(idle), DELETE_BATCH):
        result = await platform.execute(
            delete(AuthSession)
            .where(AuthSession.id.in_(idle[start : start + DELETE_BATCH]))
            .execution_options(synchronize_session=False)
        )
        count += result.rowcount
    return count


async def prune_platform_login_attempts(platform: AsyncSession, now: datetime) -> int:
    """Delete operators' login attempts too old to be completed (abandoned at the provider)."""
    result = await platform.execute(
        delete(PlatformLoginAttempt)
        .where(PlatformLoginAttempt.created_at < now - LOGIN_ATTEMPT_MAX_AGE)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


@dataclass(frozen=True)
class TenantPruneCounts:
    login_attempts: int
    invitations: int


async def prune_login_attempts(tenant_session: AsyncSession, now: datetime) -> int:
    """Delete the session's tenant's login attempts too old to be completed."""
    result = await tenant_session.execute(
        delete(OIDCLoginAttempt)
        .where(OIDCLoginAttempt.created_at < now - LOGIN_ATTEMPT_MAX_AGE)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


async def prune_invitations(tenant_session: AsyncSession, now: datetime) -> int:
    """Delete the session's tenant's invitations that ended more than the retention ago.

    An invitation can only be accepted or revoked while pending, so it ended no
    later than ``expires_at``; a pending one is never before the cutoff.
    """
    cutoff = now - INVITATION_RETENTION
    result = await tenant_session.execute(
        delete(Invitation)
        .where(
            or_(
                Invitation.expires_at < cutoff,
                Invitation.accepted_at < cutoff,
                Invitation.revoked_at < cutoff,
            )
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


async def prune_tenant_records(tenant_session: AsyncSession, now: datetime) -> TenantPruneCounts:
    return TenantPruneCounts(
        login_attempts=await prune_login_attempts(tenant_session, now),
        invitations=await prune_invitations(tenant_session, now),
    )


@periodic("core.identity.prune_sessions", every=timedelta(hours=1), scope="platform")
async def prune_sessions_job(job: PlatformJobContext) -> None:
    """Delete login sessions that ended more than a week ago, and stale operator logins."""
    now = utcnow()
    count = await prune_sessions(job.session, now)
    attempts = await prune_platform_login_attempts(job.session, now)
    log.info(
        "session cleanup: %d ended session(s), %d operator login attempt(s) deleted",
        count,
        attempts,
    )


@periodic("core.identity.prune_records", every=timedelta(hours=1), scope="tenant")
async def prune_records_job(job: JobContext) -> None:
    """Delete a tenant's abandoned login attempts and invitations ended 30 days ago."""
    counts = await prune_tenant_records(job.session, utcnow())
    log.info(
        "identity cleanup for %s: %d login attempt(s), %d invitation(s) deleted",
        job.tenant.slug,
        counts.login_attempts,
        counts.invitations,
    )
