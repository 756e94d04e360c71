"""Write jobs into the outbox inside the caller's transaction."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from core.db.sessions import PlatformSession, TenantBoundSession
from core.jobs.actors import RESERVED_KWARGS, PlatformActor
from core.jobs.models import OutboxMessage

if TYPE_CHECKING:
    from core.jobs.actors import Actor

_after_commit_listeners: list[Any] = []


def enqueue(session: AsyncSession, actor: Actor, **kwargs: Any) -> OutboxMessage:
    """Add a job for ``actor`` to the session's tenant; it is sent only if the session commits.

    A tenant actor's job is enqueued from a tenant session and runs in its tenant; a
    platform actor's job from a platform session, and runs in none.
    ``kwargs`` must be JSON-serialisable; ``tenant_id`` and ``job_id`` are added by
    the relay and may not be among them.
    """
    sync_session = session.sync_session
    tenant_id = None
    if isinstance(actor, PlatformActor):
        if not isinstance(sync_session, PlatformSession):
            raise TypeError(f"{actor.name}: platform jobs are enqueued from a platform session")
    elif isinstance(sync_session, TenantBoundSession):
        tenant_id = sync_session.tenant_id
    else:
        raise TypeError("jobs are enqueued from a tenant session: they run inside one tenant")
    clash = RESERVED_KWARGS & kwargs.keys()
    if clash:
        raise ValueError(f"{actor.name}: job arguments may not be named {sorted(clash)}")
    try:
        # Fail here, in the caller's code, rather than at flush or in the worker.
        json.dumps(kwargs, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{actor.name}: job arguments must be JSON-serialisable: {exc}") from None
    message = OutboxMessage(tenant_id=tenant_id, actor_name=actor.name, kwargs=kwargs)
    session.add(message)
    sync_session.info["outbox_dirty"] = True
    return message


def on_outbox_commit(callback: Any) -> None:
    """Call ``callback()`` after any session that enqueued a job commits (wakes the relay)."""
    _after_commit_listeners.append(callback)


def remove_outbox_commit_listener(callback: Any) -> None:
    if callback in _after_commit_listeners:
        _after_commit_listeners.remove(callback)


def notify_outbox_commit() -> None:
    """Wake the relays by hand: for jobs enqueued through sessions bound to a connection
    whose transaction the caller commits (the sessions themselves never commit)."""
    for callback in list(_after_commit_listeners):
        callback()


@event.listens_for(Session, "after_commit")
def _wake_relays(session: Session) -> None:
    if session.info.pop("outbox_dirty", False):
        notify_outbox_commit()


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop("outbox_dirty", None)
