"""Accounts: find or create the user behind an external identity, and their roles per tenant.

Accounts are linked by the provider's ``(issuer, subject)`` pair only. An e-mail
address is never used to join two identities: two providers may both vouch for
"a@example.org" while meaning different people, and an attacker who can register
that address at any provider would otherwise take over the account.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.identity import audit
from core.identity.models import ExternalIdentity, Membership, User, normalise_roles

PROFILE_LIMITS = {"email": 320, "display_name": 200, "locale": 16}


async def find_or_create_user_for_identity(
    platform_session: AsyncSession,
    issuer: str,
    subject: str,
    profile: Mapping[str, Any] | None = None,
) -> User:
    """The user linked to ``(issuer, subject)``, created (with the profile) on first sight.

    The profile (``email``, ``display_name``, ``locale``) refreshes a known user's
    details; it never decides *which* user this is. Flushes but does not commit.
    """
    if not issuer or not subject:
        raise ValueError("an external identity needs both an issuer and a subject")
    fields = _profile_fields(profile or {})
    user = await _user_for(platform_session, issuer, subject)
    if user is not None:
        if user.locale:
            # The language the person chose on this site (the switcher) outlives
            # their sign-in service's default, which is only a first guess.
            fields.pop("locale", None)
        for key, value in fields.items():
            setattr(user, key, value)
        await platform_session.flush()
        return user
    try:
        # A savepoint, so that losing a race with a concurrent first login rolls
        # back only our insert and the winner's user is used.
        async with platform_session.begin_nested():
            user = User(**{"display_name": "", **fields})
            platform_session.add(user)
            await platform_session.flush()
            platform_session.add(ExternalIdentity(user_id=user.id, issuer=issuer, subject=subject))
            await platform_session.flush()
    except IntegrityError:
        winner = await _user_for(platform_session, issuer, subject)
        if winner is None:
            raise
        return winner
    return user


async def user_for_identity(
    platform_session: AsyncSession, issuer: str, subject: str
) -> User | None:
    """The user linked to ``(issuer, subject)``, or None: finds, never creates."""
    return await _user_for(platform_session, issuer, subject)


async def _user_for(session: AsyncSession, issuer: str, subject: str) -> User | None:
    query = (
        select(User)
        .join(ExternalIdentity, ExternalIdentity.user_id == User.id)
        .where(ExternalIdentity.issuer == issuer, ExternalIdentity.subject == subject)
    )
    return await session.scalar(query)


def _profile_fields(profile: Mapping[str, Any]) -> dict[str, Any]:
    """Known profile keys, trimmed to the column sizes; empty values are left out."""
    fields: dict[str, Any] = {}
    for key, limit in PROFILE_LIMITS.items():
        value = profile.get(key)
        if isinstance(value, str) and value.strip():
            fields[key] = value.strip()[:limit]
    return fields


async def membership_of(tenant_session: AsyncSession, user_id: uuid.UUID) -> Membership | None:
    """The user's membership in the session's tenant (None if they have none there)."""
    return await tenant_session.scalar(select(Membership).where(Membership.user_id == user_id))


async def roles_of(tenant_session: AsyncSession, user_id: uuid.UUID) -> frozenset[str]:
    membership = await membership_of(tenant_session, user_id)
    return frozenset(membership.roles) if membership else frozenset()


async def set_roles(
    tenant_session: AsyncSession,
    user: User | uuid.UUID,
    roles: Iterable[str],
    actor: User | uuid.UUID | None,
    *,
    ip: str | None = None,
) -> Membership:
    """Give the user exactly ``roles`` in the session's tenant, and audit the change.

    An unknown role raises :class:`~core.identity.models.UnknownRoleError` before
    anything is written. Flushes but does not commit.
    """
    user_id = user.id if isinstance(user, User) else user
    wanted = normalise_roles(list(roles))
    membership = await membership_of(tenant_session, user_id)
    before = list(membership.roles) if membership else []
    if membership is None:
        membership = Membership(user_id=user_id, roles=wanted)
        tenant_session.add(membership)
    elif before != wanted:
        membership.roles = wanted
    if before != wanted:
        audit.record(
            tenant_session,
            audit.ROLE_CHANGED,
            actor,
            {"user_id": str(user_id), "before": before, "after": wanted},
            ip,
        )
    await tenant_session.flush()
    return membership
