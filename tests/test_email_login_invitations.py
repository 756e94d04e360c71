# ruff: noqa: F811 - test parameters named after the imported `world` fixture
"""Accepting an invitation without an account anywhere, through the ``email_login`` plugin.

An applicant accepted by a coordinator (or a coordinator invited by an admin) gets an
invitation link by mail. Where the tenant enabled ``email_login``, the invitation page
offers "accept as <the invited address>": that creates the e-mail login identity for
the address, spends the invitation for it and starts a session; afterwards the person
signs in with links mailed to that address. The ``world`` fixture (tenant files,
real SMTP server, app with in-process worker) is the one of tests/test_email_login.py:
München and Augsburg have the plugin, Toronto does not.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from sqlalchemy import select, update

from core.db.base import utcnow
from core.identity import audit
from core.identity.invitations import Invitation, create_invitation
from core.identity.models import (
    EMAIL_LOGIN_ISSUER,
    AuditEntry,
    ExternalIdentity,
    Membership,
    User,
)
from core.identity.sessions import load_session
from tests.test_email_login import (  # noqa: F401 - `world` is a fixture
    AUGSBURG,
    MUENCHEN,
    OMAR,
    TORONTO,
    World,
    ask_for_link,
    confirm,
    headers,
    received_link,
    session_cookie,
    user_id_of,
    world,
)
from tests.test_identity_sessions import csrf_token
from tests.test_mail import smtp_server  # noqa: F401 - a fixture

ACCEPT = "/p/email_login/invitation"
INVITED = "Nadia.Rahimi@Example.org"  # as the applicant typed it


async def add_invitation(
    w: World, slug: str, email: str = INVITED, roles: tuple[str, ...] = ("mentee",)
) -> str:
    """An invitation as intake or /admin/people makes it; returns the token of its link."""
    async with w.db.tenant_session(w.ids[slug]) as session, session.begin():
        _, token = create_invitation(session, email, roles, None)
    return token


async def open_invitation(w: World, token: str, host: str, lang: str = "en") -> httpx.Response:
    page = await w.web.get(f"/invite/{token}", headers=headers(host, lang))
    return page


async def press_accept(w: World, page: httpx.Response, host: str) -> httpx.Response:
    return await w.web.post(
        ACCEPT, headers=headers(host, "en"), data={"_csrf_token": csrf_token(page)}
    )


async def email_identities(w: World, address: str) -> list[ExternalIdentity]:
    async with w.db.platform_session() as session:
        query = select(ExternalIdentity).where(
            ExternalIdentity.issuer == EMAIL_LOGIN_ISSUER, ExternalIdentity.subject == address
        )
        return list(await session.scalars(query))


async def roles_in(w: World, slug: str, user_id: uuid.UUID) -> list[str] | None:
    async with w.db.tenant_session(w.ids[slug]) as session:
        membership = await session.scalar(select(Membership).where(Membership.user_id == user_id))
    return list(membership.roles) if membership else None


async def test_an_invited_applicant_without_an_account_accepts_with_the_invited_address(
    world: World,
) -> None:
    w = world
    token = await add_invitation(w, "augsburg")
    page = await open_invitation(w, token, AUGSBURG)
    assert page.status_code == 200
    assert f'action="{ACCEPT}"' in page.text
    assert "Accept as Nadia.Rahimi@Example.org" in page.text

    accepted = await press_accept(w, page, AUGSBURG)
    assert accepted.status_code == 303, accepted.text
    assert accepted.headers["location"] == "/"
    cookie = session_cookie(accepted)
    assert cookie is not None
    # The identity is the lower-cased address, as for members from tenant files.
    user_id = await user_id_of(w.db, "nadia.rahimi@example.org")
    assert await roles_in(w, "augsburg", user_id) == ["mentee"]
    loaded = await load_session(w.db, cookie, tenant_id=w.ids["augsburg"])
    assert loaded is not None and loaded.user_id == user_id
    async with w.db.tenant_session(w.ids["augsburg"]) as session:
        [row] = list(await session.scalars(select(Invitation)))
        entries = list(await session.scalars(select(AuditEntry)))
    assert row.accepted_by_user_id == user_id
    logins = [e for e in entries if e.action == audit.LOGIN]
    assert [e.details.get("method") for e in logins] == ["email_invitation"]
    # The invitation cookie is cleared with the answer.
    assert any(h.startswith("tandem_invite=") for h in accepted.headers.get_list("set-cookie"))

    # Later the person signs in the ordinary way: a link mailed to that address.
    w.web.cookies.clear()
    sent = await ask_for_link(w, "nadia.rahimi@example.org", host=AUGSBURG)
    assert sent.status_code == 200
    message, host, link_token = await received_link(w)
    assert message["To"] == "nadia.rahimi@example.org" and host == AUGSBURG
    signed_in = await confirm(w, link_token, host=AUGSBURG)
    assert signed_in.status_code == 303 and session_cookie(signed_in) is not None


async def test_an_invitation_accepted_by_email_works_once(world: World) -> None:
    w = world
    token = await add_invitation(w, "augsburg")
    page = await open_invitation(w, token, AUGSBURG)
    kept = w.web.cookies.get("tandem_invite")
    assert kept
    assert (await press_accept(w, page, AUGSBURG)).status_code == 303

    # The same link again: gone, and so is a replay of the cookie it set.
    again = await open_invitation(w, token, AUGSBURG)
    assert again.status_code == 410
    w.web.cookies.set("tandem_invite", kept)
    replay = await press_accept(w, page, AUGSBURG)
    assert replay.status_code == 410 and "already been accepted" in replay.text
    assert session_cookie(replay) is None
    assert len(await email_identities(w, "nadia.rahimi@example.org")) == 1


async def test_without_the_invitation_in_the_browser_nothing_happens(world: World) -> None:
    w = world
    login = await w.web.get("/login", headers=headers(AUGSBURG, "en"))
    refused = await press_accept(w, login, AUGSBURG)
    assert refused.status_code == 400
    assert "open the link from the invitation e-mail again" in refused.text
    assert session_cookie(refused) is None


async def test_an_expired_invitation_creates_no_account(world: World) -> None:
    w = world
    token = await add_invitation(w, "augsburg")
    page = await open_invitation(w, token, AUGSBURG)
    async with w.db.tenant_session(w.ids["augsburg"]) as session, session.begin():
        await session.execute(update(Invitation).values(expires_at=utcnow() - timedelta(seconds=1)))
    expired = await press_accept(w, page, AUGSBURG)
    assert expired.status_code == 410 and "expired" in expired.text
    assert session_cookie(expired) is None
    assert await email_identities(w, "nadia.rahimi@example.org") == []


async def test_another_tenants_invitation_is_not_accepted_here(world: World) -> None:
    w = world
    token = await add_invitation(w, "augsburg")
    await open_invitation(w, token, AUGSBURG)
    assert w.web.cookies.get("tandem_invite")  # the test client sends it to every host
    # München has the plugin too, but the cookie is signed for Augsburg.
    page = await w.web.get("/login", headers=headers(MUENCHEN, "en"))
    refused = await press_accept(w, page, MUENCHEN)
    assert refused.status_code == 400 and session_cookie(refused) is None
    assert await email_identities(w, "nadia.rahimi@example.org") == []
    # … and München's own link is unknown on Augsburg's host.
    muenchen_token = await add_invitation(w, "muenchen", email="other@example.org")
    assert (await open_invitation(w, muenchen_token, AUGSBURG)).status_code == 404


async def test_a_tenant_without_the_plugin_offers_only_its_providers(world: World) -> None:
    w = world
    token = await add_invitation(w, "toronto")
    page = await open_invitation(w, token, TORONTO)
    assert page.status_code == 200
    assert ACCEPT not in page.text and "email-login" not in page.text
    assert (await press_accept(w, page, TORONTO)).status_code == 404
    assert await email_identities(w, "nadia.rahimi@example.org") == []


async def test_someone_with_an_email_identity_elsewhere_keeps_one_account(world: World) -> None:
    """Omar signs in to Augsburg by e-mail link; invited to München, he stays one user."""
    w = world
    omar = await user_id_of(w.db, OMAR)
    token = await add_invitation(w, "muenchen", email=OMAR.upper(), roles=("mentor",))
    page = await open_invitation(w, token, MUENCHEN, lang="de")
    assert "Annehmen als OMAR@EXAMPLE.ORG" in page.text
    accepted = await press_accept(w, page, MUENCHEN)
    assert accepted.status_code == 303
    assert await roles_in(w, "muenchen", omar) == ["mentor"]
    assert await roles_in(w, "augsburg", omar) == ["mentor"]
    assert len(await email_identities(w, OMAR)) == 1
    async with w.db.platform_session() as session:
        assert await session.scalar(select(User.email).where(User.id == omar)) == OMAR
