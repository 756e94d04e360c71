"""Sign-in links: who may get one, how often, and spending one exactly once.

Every function works in the caller's *tenant* session, so a link or a request
counted in one tenant does not exist in another, and takes ``now`` as a parameter,
so that tests control the clock.

* :func:`find_member` — the user behind an address, if that address is an e-mail
  login identity (issuer :data:`~core.identity.models.EMAIL_LOGIN_ISSUER`) *and* the
  user has roles in the session's tenant. Never an SSO identity with that address.
* :func:`is_limited` / :func:`count_request` — the rate limits, per address and per
  IP, counted in the database so that every web process sees the same counts.
  Requests for unknown addresses count too: the answer must not tell them apart.
* :func:`create_link` writes the row; the mail job then calls :func:`issue_token`,
  which makes the random token and stores its hash, so the token is never written
  anywhere but into the mail.
* :func:`spend_link` marks a link used in one conditional ``UPDATE … RETURNING``:
  two requests racing with one link cannot both get a session.
* :func:`prune` deletes what no longer matters (called with each request for a
  link; a periodic job may call it too).
"""

from __future__ import annotations

import hashlib
import ipaddress
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.identity.accounts import membership_of
from core.identity.models import EMAIL_LOGIN_ISSUER, ExternalIdentity, email_login_subject
from core.identity.sessions import aware, hash_token, new_token
from plugins.email_login.models import NEXT_PATH_LENGTH, EmailLoginLink, EmailLoginRequest
from plugins.email_login.settings import MAX_WINDOW_MINUTES, EmailLoginSettings

MAX_TOKEN_LENGTH = 128  # ours are 43 characters; longer input is not worth hashing
# Used and expired links are kept this long, so that opening one again says "used"
# or "expired" rather than "unknown"; after that :func:`prune` deletes them.
KEEP_SPENT = timedelta(days=1)
UNKNOWN_IP = "unknown"


class LinkState(StrEnum):
    PENDING = "pending"
    USED = "used"
    EXPIRED = "expired"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class SpentLink:
    user_id: uuid.UUID
    next_path: str


def address_hash(address: str) -> str:
    return hashlib.sha256(email_login_subject(address).encode("utf-8")).hexdigest()


def ip_bucket(ip: str | None) -> str:
    """What the per-IP limit counts: the address, or for IPv6 its /64 network.

    One IPv6 subscriber usually gets a whole /64; counting single addresses there
    would give them billions of tries.
    """
    if not ip:
        return UNKNOWN_IP
    try:
        parsed = ipaddress.ip_address(ip)
    except ValueError:
        return ip[:64]
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


# --- who gets a link ------------------------------------------------------------------------


async def find_member(
    platform_session: AsyncSession, tenant_session: AsyncSession, address: str
) -> uuid.UUID | None:
    """The user with the e-mail login identity ``address`` and roles in this tenant."""
    user_id = await platform_session.scalar(
        select(ExternalIdentity.user_id).where(
            ExternalIdentity.issuer == EMAIL_LOGIN_ISSUER,
            ExternalIdentity.subject == email_login_subject(address),
        )
    )
    if user_id is None:
        return None
    membership = await membership_of(tenant_session, user_id)
    return user_id if membership is not None and membership.roles else None


# --- rate limits ----------------------------------------------------------------------------


async def is_limited(
    session: AsyncSession,
    address: str,
    ip: str | None,
    settings: EmailLoginSettings,
    now: datetime,
) -> bool:
    """Whether one more request for ``address`` from ``ip`` would exceed a limit."""
    since = now - settings.window
    table = EmailLoginRequest
    by_address = await session.scalar(
        select(func.count())
        .select_from(table)
        .where(table.address_hash == address_hash(address), table.created_at > since)
    )
    if (by_address or 0) >= settings.per_address_limit:
        return True
    by_ip = await session.scalar(
        select(func.count())
        .select_from(table)
        .where(table.ip == ip_bucket(ip), table.created_at > since)
    )
    return (by_ip or 0) >= settings.per_ip_limit


def count_request(session: AsyncSession, address: str, ip: str | None, now: datetime) -> None:
    """Count a request that was answered (refused ones are not counted, which keeps the
    table small under a flood; the limit holds either way)."""
    session.add(
        EmailLoginRequest(address_hash=address_hash(address), ip=ip_bucket(ip), created_at=now)
    )


# --- links ----------------------------------------------------------------------------------


def create_link(
    session: AsyncSession,
    user_id: uuid.UUID,
    next_path: str,
    lifetime: timedelta,
    now: datetime,
) -> EmailLoginLink:
    """A link for ``user_id``, without a token yet (the mail job makes it)."""
    link = EmailLoginLink(
        user_id=user_id,
        next_path=next_path[:NEXT_PATH_LENGTH],
        created_at=now,
        expires_at=now + lifetime,
    )
    session.add(link)
    return link


async def issue_token(session: AsyncSession, link_id: uuid.UUID, now: datetime) -> str | None:
    """Make the link's token and store its hash; None if the link cannot be used any more.

    Called by the mail job inside its transaction: if sending fails, the hash rolls
    back with it and the next attempt makes a new token.
    """
    token = new_token()
    table = EmailLoginLink
    issued = await session.execute(
        update(table)
        .where(
            table.id == link_id,
            table.token_hash.is_(None),
            table.used_at.is_(None),
            table.expires_at > now,
        )
        .values(token_hash=hash_token(token))
        .execution_options(synchronize_session=False)
    )
    return token if issued.rowcount == 1 else None  # type: ignore[attr-defined]


def _usable(token: str) -> bool:
    return bool(token) and len(token) <= MAX_TOKEN_LENGTH


async def link_state(session: AsyncSession, token: str, now: datetime) -> LinkState:
    """What the session's tenant knows of ``token`` (another tenant's link: UNKNOWN)."""
    if not _usable(token):
        return LinkState.UNKNOWN
    link = await session.scalar(
        select(EmailLoginLink).where(EmailLoginLink.token_hash == hash_token(token))
    )
    if link is None:
        return LinkState.UNKNOWN
    if link.used_at is not None:
        return LinkState.USED
    if aware(link.expires_at) <= now:
        return LinkState.EXPIRED
    return LinkState.PENDING


async def spend_link(session: AsyncSession, token: str, now: datetime) -> SpentLink | None:
    """Mark the link used and return whom it signs in; None if it is not usable."""
    if not _usable(token):
        return None
    table = EmailLoginLink
    spent = (
        await session.execute(
            update(table)
            .where(
                table.token_hash == hash_token(token),
                table.used_at.is_(None),
                table.expires_at > now,
            )
            .values(used_at=now)
            .returning(table.user_id, table.next_path)
            .execution_options(synchronize_session=False)
        )
    ).first()
    return SpentLink(spent.user_id, spent.next_path) if spent is not None else None


# --- housekeeping ---------------------------------------------------------------------------


async def prune(session: AsyncSession, now: datetime) -> int:
    """Delete the session's tenant's links that ended a day ago and requests no limit
    counts any more; return how many rows went. The caller commits."""
    links = await session.execute(
        delete(EmailLoginLink)
        .where(EmailLoginLink.expires_at < now - KEEP_SPENT)
        .execution_options(synchronize_session=False)
    )
    requests = await session.execute(
        delete(EmailLoginRequest)
        .where(EmailLoginRequest.created_at < now - timedelta(minutes=MAX_WINDOW_MINUTES))
        .execution_options(synchronize_session=False)
    )
    return int(links.rowcount or 0) + int(requests.rowcount or 0)  # type: ignore[attr-defined]
