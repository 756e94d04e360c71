"""Small operations on tenants shared by sync, the CLI and the operator console."""

from __future__ import annotations

import uuid

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from core.tenancy.models import Tenant


async def bump_revision(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    """Mark the tenant as changed so every process's caches pick up the change."""
    await session.execute(
        update(Tenant).where(Tenant.id == tenant_id).values(revision=Tenant.revision + 1)
    )
