"""The jobs behind certificates: issue them when a tandem is completed, render each one.

Completing a tandem (:func:`core.pairings.services.act`) calls :func:`issue_on_completion`
in its transaction; that enqueues :data:`issue_certificates_job`, which knows the
tenant's plugins (the lifecycle service does not) and calls
:func:`core.certificates.services.issue_for_pairing`. That in turn enqueues one
:data:`render_certificate_job` per certificate, so that one broken template or a slow
render holds up nobody else's certificate.

A template that fails to render marks the certificate *failed* and the job ends
normally (the same template would fail again on every retry); database errors roll
the job back and dramatiq retries it.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from core.certificates import services
from core.certificates.models import Certificate
from core.jobs import JobContext, enqueue, tenant_actor
from core.pairings.lifecycle import PairingState
from core.pairings.models import Pairing

ISSUE_ACTOR = "core.certificates.issue"
RENDER_ACTOR = "core.certificates.render"


@tenant_actor(name=ISSUE_ACTOR, max_retries=3)
async def issue_certificates_job(job: JobContext, pairing_id: str) -> None:
    """Queue the certificates of a completed tandem (nothing if it is gone or reopened)."""
    pairing = await job.session.get(Pairing, uuid.UUID(pairing_id))
    if pairing is None or PairingState(pairing.state) is not PairingState.COMPLETED:
        return
    await services.issue_for_pairing(job.session, job.tenant, job.plugins, pairing)


@tenant_actor(name=RENDER_ACTOR, max_retries=3)
async def render_certificate_job(job: JobContext, certificate_id: str) -> None:
    """Render one pending certificate (nothing if it is gone or no longer pending)."""
    certificate = await job.session.get(Certificate, uuid.UUID(certificate_id))
    if certificate is None:
        return
    await services.render_certificate(job.session, job.tenant, job.plugins, certificate)


def issue_on_completion(session: AsyncSession, pairing: Pairing) -> None:
    """Called in the transaction that completes ``pairing``: its certificates follow."""
    enqueue(session, issue_certificates_job, pairing_id=str(pairing.id))


__all__ = [
    "ISSUE_ACTOR",
    "RENDER_ACTOR",
    "issue_certificates_job",
    "issue_on_completion",
    "render_certificate_job",
]
