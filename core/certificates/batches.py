"""A coordinator's "issue the certificates of the whole cohort", and how far it is.

:func:`start_batch` queues, in the caller's transaction, the certificates of every
completed tandem of a cohort that does not have them yet (and queues failed ones
again), all tagged with one :class:`~core.certificates.models.CertificateBatch`. The
render jobs then work through them; :func:`progress_of` counts how many are no longer
pending, which is what the batch's progress bar shows.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.certificates import services
from core.certificates.models import Certificate, CertificateBatch, CertificateStatus
from core.pairings.lifecycle import PairingState
from core.pairings.models import Pairing
from core.pluginhost.manager import PluginHost
from core.programmes.models import Cohort
from core.tenancy.snapshot import TenantSnapshot

if TYPE_CHECKING:
    from core.pairings.services import Person


@dataclass(frozen=True)
class BatchProgress:
    """How far a batch's certificates are; re-counted on every look."""

    total: int  # the batch's certificates (one queued again by a later batch moves there)
    pending: int
    issued: int
    failed: int
    revoked: int  # revoked (or re-issued) before or after their job ran

    @property
    def done(self) -> int:
        return self.total - self.pending

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0

    @property
    def finished(self) -> bool:
        return self.pending == 0


async def completed_pairings(session: AsyncSession, cohort: Cohort) -> list[Pairing]:
    """The cohort's completed tandems, oldest completion first."""
    return list(
        await session.scalars(
            select(Pairing)
            .where(Pairing.cohort_id == cohort.id, Pairing.state == PairingState.COMPLETED)
            .order_by(Pairing.ended_at, Pairing.id)
        )
    )


async def start_batch(
    session: AsyncSession,
    tenant: TenantSnapshot,
    plugins: PluginHost,
    cohort: Cohort,
    by: Person,
    *,
    ip: str | None = None,
) -> CertificateBatch | None:
    """Queue the certificates of all of ``cohort``'s completed tandems as one batch.

    Returns None, and leaves no batch behind, when there is nothing to queue: every
    holder has a live certificate already, or no template is enabled.
    """
    batch = CertificateBatch(cohort_id=cohort.id, created_by_user_id=by.id, total=0)
    session.add(batch)
    await session.flush()
    queued = 0
    for pairing in await completed_pairings(session, cohort):
        issued = await services.issue_for_pairing(
            session, tenant, plugins, pairing, by=by, batch=batch, ip=ip
        )
        queued += len(issued)
    if not queued:
        await session.delete(batch)
        await session.flush()
        return None
    batch.total = queued
    await session.flush()
    return batch


async def batch_of(
    session: AsyncSession, cohort: Cohort, batch_id: uuid.UUID
) -> CertificateBatch | None:
    """The batch ``batch_id`` of ``cohort`` (None for another cohort's or an unknown one)."""
    return await session.scalar(
        select(CertificateBatch).where(
            CertificateBatch.id == batch_id, CertificateBatch.cohort_id == cohort.id
        )
    )


async def latest_batch(session: AsyncSession, cohort: Cohort) -> CertificateBatch | None:
    return await session.scalar(
        select(CertificateBatch)
        .where(CertificateBatch.cohort_id == cohort.id)
        .order_by(CertificateBatch.created_at.desc(), CertificateBatch.id)
        .limit(1)
    )


async def progress_of(session: AsyncSession, batch: CertificateBatch) -> BatchProgress:
    counts = {
        CertificateStatus(status): int(n)
        for status, n in await session.execute(
            select(Certificate.status, func.count())
            .where(Certificate.batch_id == batch.id)
            .group_by(Certificate.status)
        )
    }
    return BatchProgress(
        total=sum(counts.values()),
        pending=counts.get(CertificateStatus.PENDING, 0),
        issued=counts.get(CertificateStatus.ISSUED, 0),
        failed=counts.get(CertificateStatus.FAILED, 0),
        revoked=counts.get(CertificateStatus.REVOKED, 0),
    )


__all__ = [
    "BatchProgress",
    "batch_of",
    "completed_pairings",
    "latest_batch",
    "progress_of",
    "start_batch",
]
