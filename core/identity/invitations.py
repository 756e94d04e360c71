"""Invitations: an admin invites a coordinator by e-mail with a signed, expiring, single-use link.

Only the SHA-256 of the link's random token is stored (like session tokens), so the
table never holds a value that could be pasted into a browser. Rows are tenant-owned:
a link is looked up through the tenant session of the host it is opened on, so a
München link opened on Augsburg's host finds nothing there.

Accepting spends the invitation in one conditional ``UPDATE … RETURNING`` (not yet
accepted, not revoked, not expired), so two people racing with one link cannot both
get in; the membership and the audit entry are written in that same transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint, Uuid, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column, validates

from core.applications.models import Application
from core.db.base import Base, TenantScoped, UUIDPrimaryKey, utcnow
from core.identity import audit
from core.identity.accounts import membership_of, set_roles
from core.identity.models import ROLES, normalise_roles
from core.identity.sessions import aware, hash_token, new_token

INVITATION_LIFETIME = timedelta(days=7)
DEFAULT_ROLES = ("admin",)
MAX_TOKEN_LENGTH = 128  # ours are 43 characters; longer input is not worth hashing
# Audit actions.
INVITATION_SENT = "invitation_sent"
INVITATION_ACCEPTED = "invitation_accepted"
INVITATION_REVOKED = "invitation_revoked"


class Invitation(UUIDPrimaryKey, TenantScoped, Base):
    __tablename__ = "invitations"
    __table_args__ = (UniqueConstraint("tenant_id", "token_hash"),)

    email: Mapped[str] = mapped_column(String(320))
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    # SHA-256 (hex) of the token in the link; the token itself is only in the e-mail.
    token_hash: Mapped[str] = mapped_column(String(64))
    invited_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    accepted_at: Mapped[datetime | None] = mapped_column(default=None)
    accepted_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)

    @validates("roles")
    def _check_roles(self, _key: str, roles: list[str]) -> list[str]:
        return normalise_roles(roles)


class InvitationState(StrEnum):
    PENDING = "pending"
    EXPIRED = "expired"
    ACCEPTED = "accepted"
    REVOKED = "revoked"


def state_of(invitation: Invitation, now: datetime | None = None) -> InvitationState:
    if invitation.revoked_at is not None:
        return InvitationState.REVOKED
    if invitation.accepted_at is not None:
        return InvitationState.ACCEPTED
    if aware(invitation.expires_at) <= (now or utcnow()):
        return InvitationState.EXPIRED
    return InvitationState.PENDING


def create_invitation(
    tenant_session: AsyncSession,
    email: str,
    roles: Iterable[str],
    invited_by: uuid.UUID | None,
    *,
    ip: str | None = None,
    now: datetime | None = None,
) -> tuple[Invitation, str]:
    """Add an invitation (and its audit entry); return it with the token for the link.

    Written when the caller commits; the caller sends the mail in the same transaction.
    """
    now = now or utcnow()
    token = new_token()
    invitation = Invitation(
        email=email,
        roles=normalise_roles(list(roles)),
        token_hash=hash_token(token),
        invited_by_user_id=invited_by,
        created_at=now,
        expires_at=now + INVITATION_LIFETIME,
    )
    tenant_session.add(invitation)
    details = {"email": email, "roles": invitation.roles}
    audit.record(tenant_session, INVITATION_SENT, invited_by, details, ip)
    return invitation, token


async def find_by_token(tenant_session: AsyncSession, token: str) -> Invitation | None:
    """The session's tenant's invitation for ``token``, whatever its state."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    return await find_by_hash(tenant_session, hash_token(token))


async def find_by_hash(tenant_session: AsyncSession, token_hash: str) -> Invitation | None:
    return await tenant_session.scalar(
        select(Invitation).where(Invitation.token_hash == token_hash)
    )


async def pending_invitations(
    tenant_session: AsyncSession, now: datetime | None = None
) -> Sequence[Invitation]:
    now = now or utcnow()
    query = (
        select(Invitation)
        .where(
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > now,
        )
        .order_by(Invitation.created_at.desc())
    )
    return (await tenant_session.scalars(query)).all()


async def revoke_invitation(
    tenant_session: AsyncSession,
    invitation_id: uuid.UUID,
    actor: uuid.UUID | None,
    *,
    ip: str | None = None,
) -> bool:
    """Revoke a pending invitation of the session's tenant; False if there is none."""
    invitation = await tenant_session.get(Invitation, invitation_id)
    if invitation is None or state_of(invitation) is not InvitationState.PENDING:
        return False
    invitation.revoked_at = utcnow()
    details = {"email": invitation.email, "invitation_id": str(invitation.id)}
    audit.record(tenant_session, INVITATION_REVOKED, actor, details, ip)
    await tenant_session.flush()
    return True


async def accept_invitation(
    tenant_session: AsyncSession,
    token_hash: str,
    user_id: uuid.UUID,
    *,
    ip: str | None = None,
    now: datetime | None = None,
) -> list[str] | None:
    """Spend the invitation and give ``user_id`` its roles (added to any they hold).

    None if the invitation is unknown in this tenant, expired, revoked or used. Flushes
    but does not commit: the caller commits the membership, the spent invitation and the
    audit entries together.
    """
    now = now or utcnow()
    spent = (
        await tenant_session.execute(
            update(Invitation)
            .where(
                Invitation.token_hash == token_hash,
                Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None),
                Invitation.expires_at > now,
            )
            .values(accepted_at=now, accepted_by_user_id=user_id)
            .returning(Invitation.id, Invitation.roles, Invitation.invited_by_user_id)
            .execution_options(synchronize_session=False)
        )
    ).first()
    if spent is None:
        return None
    # An application accepted with this invitation now belongs to the person (their
    # "my applications" page shows it; their mentor or mentee profile comes from it).
    await tenant_session.execute(
        update(Application)
        .where(Application.invitation_id == spent.id, Application.user_id.is_(None))
        .values(user_id=user_id, version=Application.version + 1)
        .execution_options(synchronize_session=False)
    )
    membership = await membership_of(tenant_session, user_id)
    held = list(membership.roles) if membership else []
    roles = normalise_roles([*held, *spent.roles])
    await set_roles(tenant_session, user_id, roles, spent.invited_by_user_id, ip=ip)
    details: dict[str, Any] = {"invitation_id": str(spent.id), "roles": list(spent.roles)}
    audit.record(tenant_session, INVITATION_ACCEPTED, user_id, details, ip)
    await tenant_session.flush()
    return roles


__all__ = [
    "DEFAULT_ROLES",
    "INVITATION_LIFETIME",
    "ROLES",
    "Invitation",
    "InvitationState",
    "accept_invitation",
    "create_invitation",
    "find_by_hash",
    "find_by_token",
    "pending_invitations",
    "revoke_invitation",
    "state_of",
]
