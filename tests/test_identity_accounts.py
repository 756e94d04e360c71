"""Accounts, memberships and the audit log, on SQLite and PostgreSQL.

Accounts are linked by (issuer, subject) only; roles and audit entries belong to
one tenant and are invisible from every other.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import func, select, text

from core.db.sessions import Database
from core.identity import audit
from core.identity.accounts import (
    find_or_create_user_for_identity,
    membership_of,
    roles_of,
    set_roles,
)
from core.identity.models import (
    AuditEntry,
    ExternalIdentity,
    Membership,
    UnknownRoleError,
    User,
    normalise_roles,
)
from core.tenancy.models import Tenant
from tests.services import need_postgres

MUENCHEN_IDP = "http://127.0.0.1:8010/muenchen"
AUGSBURG_IDP = "http://127.0.0.1:8010/augsburg"


async def tenant_ids(db: Database) -> dict[str, uuid.UUID]:
    async with db.platform_session() as session:
        return {t.slug: t.id for t in await session.scalars(select(Tenant))}


async def identity_user(
    db: Database, issuer: str, subject: str, profile: dict[str, str] | None = None
) -> User:
    async with db.platform_session() as session:
        user = await find_or_create_user_for_identity(session, issuer, subject, profile)
        await session.commit()
        return user


async def count(db: Database, model: type) -> int:
    async with db.platform_session() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


# --- linking by (issuer, subject) -------------------------------------------------------


async def test_the_same_identity_finds_the_same_user_and_refreshes_the_profile(
    db: Database,
) -> None:
    first = await identity_user(
        db, MUENCHEN_IDP, "sub-1", {"email": "ada@example.org", "display_name": "Ada"}
    )
    again = await identity_user(
        db, MUENCHEN_IDP, "sub-1", {"email": "ada@new.example", "display_name": "  Ada L.  "}
    )
    assert again.id == first.id
    assert (again.email, again.display_name) == ("ada@new.example", "Ada L.")
    assert await count(db, User) == 1 and await count(db, ExternalIdentity) == 1


async def test_an_email_never_links_accounts(db: Database) -> None:
    """The same address vouched for by another issuer is another person."""
    profile = {"email": "ada@example.org", "display_name": "Ada"}
    at_muenchen = await identity_user(db, MUENCHEN_IDP, "sub-1", profile)
    at_augsburg = await identity_user(db, AUGSBURG_IDP, "other-sub", profile)
    assert at_augsburg.id != at_muenchen.id
    # Nor does a subject: it is unique only within its issuer.
    same_subject = await identity_user(db, AUGSBURG_IDP, "sub-1", profile)
    assert same_subject.id not in {at_muenchen.id, at_augsburg.id}
    assert await count(db, User) == 3


async def test_an_identity_needs_issuer_and_subject(db: Database) -> None:
    async with db.platform_session() as session:
        for issuer, subject in [("", "sub"), (MUENCHEN_IDP, ""), ("", "")]:
            with pytest.raises(ValueError, match="issuer and a subject"):
                await find_or_create_user_for_identity(session, issuer, subject, {})
    assert await count(db, User) == 0


async def test_profile_values_are_trimmed_to_fit_and_blank_ones_ignored(db: Database) -> None:
    user = await identity_user(
        db, MUENCHEN_IDP, "sub-1", {"display_name": "x" * 500, "email": "   ", "locale": "de"}
    )
    assert len(user.display_name) == 200
    assert user.email is None and user.locale == "de"


@pytest.mark.parametrize("migrated", ["postgresql"], indirect=True)
async def test_a_concurrent_first_login_uses_the_winners_user(db: Database) -> None:
    """Two first logins of one identity at once: the loser's insert conflicts, and it
    gets the winner's user instead of an error or a second account."""
    need_postgres()
    async with db.platform_session() as winner, db.platform_session() as loser:
        won = await find_or_create_user_for_identity(winner, MUENCHEN_IDP, "race", {})
        # The loser's insert waits on the winner's uncommitted unique key.
        pending = asyncio.create_task(
            find_or_create_user_for_identity(loser, MUENCHEN_IDP, "race", {})
        )
        await asyncio.sleep(0.3)
        assert not pending.done()
        await winner.commit()
        lost = await asyncio.wait_for(pending, 10)
        await loser.commit()
    assert lost.id == won.id
    assert await count(db, User) == 1


# --- memberships and roles --------------------------------------------------------------


async def test_roles_are_per_tenant(synced: Database) -> None:
    db = synced
    ids = await tenant_ids(db)
    user = await identity_user(db, MUENCHEN_IDP, "coordinator")
    async with db.tenant_session(ids["muenchen"]) as session:
        await set_roles(session, user, ["admin", "mentor"], actor=None)
        await session.commit()
    async with db.tenant_session(ids["muenchen"]) as session:
        membership = await membership_of(session, user.id)
        assert membership is not None and membership.roles == ["admin", "mentor"]
    async with db.tenant_session(ids["augsburg"]) as session:
        # A muenchen admin is nobody on augsburg.
        assert await membership_of(session, user.id) is None
        assert await roles_of(session, user.id) == frozenset()
        assert (await session.scalars(select(Membership))).all() == []


async def test_set_roles_replaces_roles_and_audits_each_change(synced: Database) -> None:
    db = synced
    ids = await tenant_ids(db)
    admin = await identity_user(db, MUENCHEN_IDP, "admin")
    person = await identity_user(db, MUENCHEN_IDP, "person")
    async with db.tenant_session(ids["muenchen"]) as session:
        await set_roles(session, person, ["mentee"], actor=admin, ip="192.0.2.1")
        # A former mentee becomes a mentor: roles are replaced, not added.
        await set_roles(session, person, ["mentor", "mentor"], actor=admin)
        await set_roles(session, person, ["mentor"], actor=admin)  # no change: no entry
        await session.commit()
    async with db.tenant_session(ids["muenchen"]) as session:
        assert await roles_of(session, person.id) == {"mentor"}
        entries = list(reversed(await audit.recent_entries(session)))
    assert [(e.action, e.details["before"], e.details["after"]) for e in entries] == [
        ("role_changed", [], ["mentee"]),
        ("role_changed", ["mentee"], ["mentor"]),
    ]
    assert all(e.actor_user_id == admin.id for e in entries)
    assert entries[0].details["user_id"] == str(person.id) and entries[0].ip == "192.0.2.1"


async def test_unknown_roles_are_refused_before_anything_is_written(synced: Database) -> None:
    db = synced
    ids = await tenant_ids(db)
    user = await identity_user(db, MUENCHEN_IDP, "person")
    async with db.tenant_session(ids["muenchen"]) as session:
        for roles in (["owner"], ["admin", "root"], "admin"):
            with pytest.raises(UnknownRoleError):
                await set_roles(session, user, roles, actor=None)  # type: ignore[arg-type]
        with pytest.raises(UnknownRoleError):
            session.add(Membership(user_id=user.id, roles=["superuser"]))
        await session.rollback()
    assert await count_in(db, ids["muenchen"], Membership) == 0
    assert await count_in(db, ids["muenchen"], AuditEntry) == 0
    assert normalise_roles(["mentee", "admin", "mentee"]) == ["admin", "mentee"]


async def count_in(db: Database, tenant_id: uuid.UUID, model: type) -> int:
    async with db.tenant_session(tenant_id) as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


# --- the audit log ------------------------------------------------------------------------


async def test_audit_entries_are_visible_only_in_their_tenant(synced: Database) -> None:
    db = synced
    ids = await tenant_ids(db)
    user = await identity_user(db, MUENCHEN_IDP, "person")
    async with db.tenant_session(ids["muenchen"]) as session:
        audit.record(session, audit.LOGIN_FAILED, None, {"reason": "state"}, "198.51.100.7")
        audit.record(session, audit.LOGIN, user, {}, None)
        await session.commit()
    async with db.tenant_session(ids["muenchen"]) as session:
        actions = {e.action for e in await audit.recent_entries(session)}
    assert actions == {"login", "login_failed"}
    for other in ("augsburg", "toronto"):
        async with db.tenant_session(ids[other]) as session:
            assert await audit.recent_entries(session) == []
            # Raw SQL bypasses the ORM's filter; on PostgreSQL, RLS still hides the rows.
            raw = await session.scalar(text("SELECT count(*) FROM audit_entries"))
            assert raw == (2 if db.dialect == "sqlite" else 0)


async def test_deleting_a_user_keeps_their_audit_entries(synced: Database) -> None:
    db = synced
    ids = await tenant_ids(db)
    user = await identity_user(db, MUENCHEN_IDP, "leaver")
    async with db.tenant_session(ids["muenchen"]) as session:
        await set_roles(session, user, ["mentee"], actor=user)
        await session.commit()
    async with db.platform_session() as session:
        await session.delete(await session.get(User, user.id))
        await session.commit()
    async with db.tenant_session(ids["muenchen"]) as session:
        entries = await audit.recent_entries(session)
        assert [(e.action, e.actor_user_id) for e in entries] == [("role_changed", None)]
        assert await membership_of(session, user.id) is None  # memberships go with the user
