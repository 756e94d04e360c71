"""Background jobs: dramatiq actors fed by a transactional outbox.

``enqueue(session, actor, **kwargs)`` writes an outbox row in the caller's
transaction; the relay sends it to the broker after commit; the actor runs in the
message's tenant (or, for a platform actor, in none) and marks the row completed in
its own transaction, which makes every actor idempotent (a second delivery finds
the row completed and does nothing). ``@periodic`` (``core.jobs.schedule``) runs
an actor every so often, once per period across all processes.
"""

from core.jobs.actors import JobContext, PlatformJobContext, platform_actor, tenant_actor
from core.jobs.outbox import enqueue

__all__ = ["JobContext", "PlatformJobContext", "enqueue", "platform_actor", "tenant_actor"]
