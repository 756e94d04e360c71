"""The audit log a tenant's admins can read: who signed in, out, failed to, changed roles.

Entries are tenant-owned and written through the caller's *tenant* session, so that
an entry commits (or rolls back) with the change it describes and is visible only
in its tenant.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.identity.models import AuditEntry, User

LOGIN = "login"
LOGOUT = "logout"
LOGIN_FAILED = "login_failed"
ROLE_CHANGED = "role_changed"
SESSION_REVOKED = "session_revoked"


def record(
    tenant_session: AsyncSession,
    action: str,
    actor: User | uuid.UUID | None,
    details: dict[str, Any] | None = None,
    ip: str | None = None,
    *,
    now: datetime | None = None,
) -> AuditEntry:
    """Add an entry to the session's tenant; it is written when the caller commits."""
    actor_id = actor.id if isinstance(actor, User) else actor
    entry = AuditEntry(action=action, actor_user_id=actor_id, details=dict(details or {}), ip=ip)
    if now is not None:
        entry.created_at = now
    tenant_session.add(entry)
    return entry


async def recent_entries(
    tenant_session: AsyncSession, limit: int = 100, *, offset: int = 0
) -> Sequence[AuditEntry]:
    """The tenant's newest entries first (the tenant session filters to its tenant);
    ``offset`` skips that many, for pages further back."""
    query = (
        select(AuditEntry)
        .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return (await tenant_session.scalars(query)).all()
