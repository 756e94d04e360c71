"""Operators: the people who run the deployment, and the accounts they sign in with.

An operator is a :class:`~core.identity.models.User` with ``is_operator``. They sign
in on the platform host through the operators' OpenID provider (the
``TANDEM_OPERATOR_OIDC_*`` settings), and the account is found by that provider's
``(issuer, subject)`` — never by e-mail, which anyone may claim at some provider. So
an operator is linked to their subject before their first sign-in, with
:func:`add_operator` (``tandem operators add EMAIL --subject SUBJECT``).

Both functions work in the caller's platform session and do not commit, so that the
command line can report what it did only once it is written.
"""

from __future__ import annotations

import uuid
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.identity.accounts import user_for_identity
from core.identity.models import ExternalIdentity, User

# OpenID Connect Core §2: "sub" is at most 255 ASCII characters, case-sensitive.
MAX_SUBJECT_LENGTH = 255


class OperatorError(ValueError):
    """The change cannot be made as asked; the message says why (for the command line)."""


class Added(StrEnum):
    CREATED = "created"  # a new account
    LINKED = "linked"  # an operator by that e-mail, now linked to the identity
    PROMOTED = "promoted"  # the identity's existing account, now an operator
    UNCHANGED = "unchanged"


def check_subject(subject: str) -> str:
    """The subject as given, if it can be one; OperatorError otherwise."""
    if (
        not subject
        or subject != subject.strip()
        or len(subject) > MAX_SUBJECT_LENGTH
        or not subject.isascii()
        or not subject.isprintable()
    ):
        raise OperatorError(
            f"the subject must be 1 to {MAX_SUBJECT_LENGTH} printable ASCII characters "
            "without spaces around it, exactly as the provider sends it in 'sub'"
        )
    return subject


async def add_operator(
    session: AsyncSession,
    email: str,
    name: str,
    identity: tuple[str, str] | None = None,
) -> tuple[Added, User]:
    """Make sure there is an operator for ``email`` (linked to ``identity``, if given).

    Without an identity, operators are matched by e-mail among operators only. With
    ``(issuer, subject)``, the account linked to it is the operator: an existing one
    is made an operator; otherwise the operator with ``email`` is linked to it, or a
    new account is created. Running it again changes nothing. Raises
    :class:`OperatorError` if the identity belongs to one account and the e-mail to
    another operator, or if that operator has another subject at this issuer.
    """
    by_email = await session.scalar(
        select(User)
        .where(User.is_operator.is_(True), User.email == email)
        .order_by(User.created_at, User.id)
        .limit(1)
    )
    if identity is None:
        if by_email is not None:
            return Added.UNCHANGED, by_email
        return Added.CREATED, await _new_operator(session, email, name)
    issuer, subject = identity
    linked = await user_for_identity(session, issuer, subject)
    if linked is not None:
        if by_email is not None and by_email.id != linked.id:
            raise OperatorError(
                f"subject {subject!r} at {issuer} is another account than operator {email}; "
                "nothing was changed"
            )
        if linked.is_operator:
            return Added.UNCHANGED, linked
        linked.is_operator = True
        await session.flush()
        return Added.PROMOTED, linked
    if by_email is not None:
        other = await _subject_at(session, by_email.id, issuer)
        if other is not None:
            raise OperatorError(
                f"operator {email} signs in as subject {other!r} at {issuer} already; "
                "nothing was changed"
            )
        session.add(ExternalIdentity(user_id=by_email.id, issuer=issuer, subject=subject))
        await session.flush()
        return Added.LINKED, by_email
    user = await _new_operator(session, email, name)
    session.add(ExternalIdentity(user_id=user.id, issuer=issuer, subject=subject))
    await session.flush()
    return Added.CREATED, user


async def remove_operator(session: AsyncSession, email: str) -> list[uuid.UUID]:
    """Take the operator flag from every operator with ``email``; their ids.

    The accounts stay (they may take part in tenants). The caller ends their
    sessions on the platform host once this is committed.
    """
    users = list(
        await session.scalars(select(User).where(User.is_operator.is_(True), User.email == email))
    )
    if not users:
        raise OperatorError(f"there is no operator {email}")
    for user in users:
        user.is_operator = False
    await session.flush()
    return [user.id for user in users]


async def _new_operator(session: AsyncSession, email: str, name: str) -> User:
    user = User(email=email, display_name=name or email, is_operator=True)
    session.add(user)
    await session.flush()
    return user


async def _subject_at(session: AsyncSession, user_id: uuid.UUID, issuer: str) -> str | None:
    return await session.scalar(
        select(ExternalIdentity.subject).where(
            ExternalIdentity.user_id == user_id, ExternalIdentity.issuer == issuer
        )
    )
