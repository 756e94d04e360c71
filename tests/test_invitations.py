"""Admins invite coordinators by e-mail: a signed, expiring, single-use link, on both backends.

The whole path runs for real: the admin page writes the invitation and the mail in one
transaction, the app's relay and in-process worker write the mail to the development
mailbox, the invitee opens the link and completes single sign-on at a local OpenID
provider (``oidc-provider-mock``, as in tests/test_login_flow.py), and the callback
turns the invitation into a membership.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select, update

from core.db.base import utcnow
from core.db.sessions import Database
from core.identity.invitations import Invitation, create_invitation
from core.identity.models import ExternalIdentity, Membership
from core.jobs.models import OutboxMessage
from core.mail import delivery as mail_delivery
from core.mail.mailbox import list_mails, read_mail
from core.pluginhost.manager import PluginHost
from core.settings import Settings
from core.tenancy.sync import sync_tenants
from core.web.controllers.invitations import (
    INVITE_COOKIE,
    read_invite_cookie,
    sign_invite_cookie,
)
from tests.conftest import make_app
from tests.test_admin_pages import sign_in as sign_in_as_new_user
from tests.test_identity_sessions import csrf_token, tenant_ids
from tests.test_jobs_outbox import wait_until
from tests.test_login_flow import (  # noqa: F401 - `providers` is a (module-scoped) fixture
    Provider,
    audit_log,
    member_block,
    provider_block,
    providers,
    sign_in,
)

pytestmark = pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning")

Client = AsyncTestClient[Litestar]
MUENCHEN = "muenchen.localhost:8000"
AUGSBURG = "augsburg.localhost:8000"
PLATFORM = "localhost:8000"
GONE_DE = "Diese Einladung kann nicht mehr verwendet werden"


# --- fixtures ----------------------------------------------------------------------------


@dataclass
class World:
    web: Client
    db: Database
    mail_dir: Path
    providers: dict[str, Provider]  # what tests/test_login_flow.py's helpers need


def _tenant_files(directory: Path, mocks: dict[str, Provider]) -> Path:
    directory.mkdir()
    header = (
        'slug = "{0}"\nname = "{1}"\ndefault_locale = "de"\nlocales = ["de", "en"]\n'
        'theme = "{0}"\n\n'
    )
    (directory / "muenchen.toml").write_text(
        header.format("muenchen", "Mentoring München")
        + provider_block("stadt", mocks["stadt"], "TEST_STADT_SECRET")
        + member_block("stadt", "anna", '["admin"]'),
        encoding="utf-8",
    )
    (directory / "augsburg.toml").write_text(
        header.format("augsburg", "Tür an Tür")
        + provider_block("entra", mocks["entra"], "TEST_ENTRA_SECRET")
        + member_block("entra", "omar", '["admin"]'),
        encoding="utf-8",
    )
    return directory


@pytest.fixture
async def world(
    db: Database,
    settings: Settings,
    providers: dict[str, Provider],  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[World]:
    """Two tenants with their own providers; mails go to a development mailbox."""
    monkeypatch.setenv("TEST_STADT_SECRET", providers["stadt"].client_secret)
    monkeypatch.setenv("TEST_ENTRA_SECRET", providers["entra"].client_secret)
    plugins = PluginHost.load(entry_points=False)
    files = _tenant_files(tmp_path / "tenants", providers)
    await sync_tenants(db, plugins, files, settings.themes_dir)
    mail_dir = tmp_path / "mail"
    development = Settings(
        **{**settings.model_dump(), "env": "development", "smtp_url": "", "mail_dir": mail_dir}
    )
    monkeypatch.setattr(mail_delivery, "_mailer", None)  # the app configures its own
    async with AsyncTestClient(make_app(development, plugins), base_url="http://localhost") as web:
        web.follow_redirects = False
        yield World(web, db, mail_dir, providers)


@pytest.fixture
async def web(synced: Database, settings: Settings, plugins: PluginHost) -> AsyncIterator[Client]:
    async with AsyncTestClient(make_app(settings, plugins), base_url="http://localhost") as c:
        c.follow_redirects = False
        yield c


# --- helpers -----------------------------------------------------------------------------


async def invite(
    web: Client, data: dict[str, str | list[str]], host: str = MUENCHEN, lang: str = "en"
) -> httpx.Response:
    token = csrf_token(await web.get("/admin/people", headers={"host": host}))
    headers = {"host": host, "accept-language": lang}
    return await web.post("/admin/people", headers=headers, data={"_csrf_token": token, **data})


async def invitations(db: Database, slug: str) -> list[Invitation]:
    async with db.tenant_session((await tenant_ids(db))[slug]) as session:
        return list(await session.scalars(select(Invitation)))


async def mail_jobs(db: Database) -> list[OutboxMessage]:
    """Mails waiting in (or sent from) the outbox; other jobs (tenant events) are left out."""
    async with db.platform_session() as session:
        query = select(OutboxMessage).where(OutboxMessage.actor_name == "core.send_mail")
        return list(await session.scalars(query))


async def add_invitation(db: Database, slug: str, roles: tuple[str, ...] = ("admin",)) -> str:
    """An invitation made directly (no mail); returns the token of its link."""
    async with db.tenant_session((await tenant_ids(db))[slug]) as session, session.begin():
        _, token = create_invitation(session, "new@example.org", roles, None)
    return token


async def membership(db: Database, slug: str, subject: str) -> Membership | None:
    async with db.platform_session() as session:
        identity = await session.scalar(
            select(ExternalIdentity).where(ExternalIdentity.subject == subject)
        )
    if identity is None:
        return None
    async with db.tenant_session((await tenant_ids(db))[slug]) as session:
        return await session.scalar(
            select(Membership).where(Membership.user_id == identity.user_id)
        )


def set_cookie_headers(response: httpx.Response, name: str) -> list[str]:
    return [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]


def has_session_cookie(response: httpx.Response) -> bool:
    return any(
        not h.startswith("tandem_session=;") and 'tandem_session=""' not in h
        for h in set_cookie_headers(response, "tandem_session")
    )


async def open_link(web: Client, token: str, host: str = MUENCHEN) -> httpx.Response:
    return await web.get(f"/invite/{token}", headers={"host": host, "accept-language": "de"})


# --- the whole path ----------------------------------------------------------------------


async def test_an_invited_coordinator_signs_in_once_and_becomes_an_admin(world: World) -> None:
    w = world
    assert (await sign_in(w, MUENCHEN, "stadt", "anna")).status_code == 303  # type: ignore[arg-type]
    home = await w.web.get("/", headers={"host": MUENCHEN, "accept-language": "en"})
    assert '<a href="/admin/people">People</a>' in home.text
    page = await w.web.get("/admin/people", headers={"host": MUENCHEN, "accept-language": "en"})
    assert page.status_code == 200 and "Invite a coordinator" in page.text
    assert "Anna" in page.text  # the members list

    sent = await invite(w.web, {"email": "new.coord@muenchen.example", "roles": "admin"})
    assert sent.status_code == 303 and sent.headers["location"] == "/admin/people?done=sent"
    [row] = await invitations(w.db, "muenchen")
    assert row.roles == ["admin"] and row.accepted_at is None
    assert (row.expires_at - row.created_at) == timedelta(days=7)
    assert "invitation_sent" in [e.action for e in await audit_log(w.db, "muenchen")]
    listed = await w.web.get("/admin/people", headers={"host": MUENCHEN, "accept-language": "en"})
    assert "new.coord@muenchen.example" in listed.text and "/revoke" in listed.text

    # One mail, in the tenant's language, with a link to this tenant's host.
    await wait_until(lambda: _has_mail(w.mail_dir), "the invitation mail")
    [stored] = list_mails(w.mail_dir, "muenchen")
    assert stored.to == "new.coord@muenchen.example"
    message = read_mail(w.mail_dir, "muenchen", stored.name)
    assert message is not None
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert "Sie wurden eingeladen" in text
    match = re.search(r"http://muenchen\.localhost:8000/invite/([A-Za-z0-9_-]{43})\b", text)
    assert match, text
    token = match.group(1)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest() != token

    # The invitee (a stranger to the app so far) opens the link …
    w.web.cookies.clear()
    opened = await open_link(w.web, token)
    assert opened.status_code == 200, opened.text
    assert 'lang="de"' in opened.text and 'href="/login/oidc/stadt"' in opened.text
    [cookie] = set_cookie_headers(opened, INVITE_COOKIE)
    attributes = cookie.lower()
    assert "httponly" in attributes and "samesite=lax" in attributes
    assert "max-age=1800" in attributes and "domain" not in attributes
    assert token not in cookie  # only the (signed) hash travels
    invite_cookie = w.web.cookies.get(INVITE_COOKIE)
    assert invite_cookie

    # … and a second person opens it too, before the first accepts.
    done = await sign_in(w, MUENCHEN, "stadt", "newbie")  # type: ignore[arg-type]
    assert done.status_code == 303 and done.headers["location"] == "/", done.text
    assert has_session_cookie(done)
    assert any("max-age=0" in h.lower() for h in set_cookie_headers(done, INVITE_COOKIE))
    granted = await membership(w.db, "muenchen", "newbie")
    assert granted is not None and granted.roles == ["admin"]
    [row] = await invitations(w.db, "muenchen")
    assert row.accepted_at is not None and row.accepted_by_user_id == granted.user_id
    actions = [e.action for e in await audit_log(w.db, "muenchen")]
    assert actions[-3:] == ["role_changed", "invitation_accepted", "login"]
    admin_page = await w.web.get("/admin/people", headers={"host": MUENCHEN})
    assert admin_page.status_code == 200  # a coordinator now

    # Single use: the link is gone, and the second person's earlier cookie spends nothing.
    w.web.cookies.clear()
    again = await open_link(w.web, token)
    assert again.status_code == 410 and GONE_DE in again.text
    assert not set_cookie_headers(again, INVITE_COOKIE)
    w.web.cookies.set(INVITE_COOKIE, invite_cookie)
    second = await sign_in(w, MUENCHEN, "stadt", "second")  # type: ignore[arg-type]
    assert (
        second.status_code == 410 and GONE_DE in second.text and "bereits angenommen" in second.text
    )
    assert not has_session_cookie(second)
    assert await membership(w.db, "muenchen", "second") is None


async def _has_mail(mail_dir: Path) -> bool:
    return await asyncio.to_thread(
        lambda: mail_dir.exists() and bool(list_mails(mail_dir, "muenchen"))
    )


async def test_a_link_from_one_tenant_is_unknown_on_another_and_cannot_be_accepted_there(
    world: World,
) -> None:
    w = world
    token = await add_invitation(w.db, "muenchen")
    elsewhere = await open_link(w.web, token, host=AUGSBURG)
    assert elsewhere.status_code == 404 and "Einladung nicht gefunden" in elsewhere.text
    assert not set_cookie_headers(elsewhere, INVITE_COOKIE)
    assert (await open_link(w.web, token, host=PLATFORM)).status_code == 404

    # München's (valid) invitation cookie brought to Augsburg's sign-in grants nothing there.
    assert (await open_link(w.web, token)).status_code == 200
    assert w.web.cookies.get(INVITE_COOKIE)
    done = await sign_in(w, AUGSBURG, "entra", "stranger")  # type: ignore[arg-type]
    assert done.status_code == 403 and not has_session_cookie(done)  # "not a member"
    assert await membership(w.db, "augsburg", "stranger") is None
    [row] = await invitations(w.db, "muenchen")
    assert row.accepted_at is None  # still usable on München's host


async def test_an_existing_member_gets_the_invitations_roles_added(world: World) -> None:
    w = world
    token = await add_invitation(w.db, "augsburg", roles=("mentor",))
    assert (await open_link(w.web, token, host=AUGSBURG)).status_code == 200
    done = await sign_in(w, AUGSBURG, "entra", "omar")  # type: ignore[arg-type]
    assert done.status_code == 303
    granted = await membership(w.db, "augsburg", "omar")
    assert granted is not None and granted.roles == ["admin", "mentor"]


# --- the admin page ----------------------------------------------------------------------


async def test_a_mentor_cannot_invite(web: Client, synced: Database) -> None:
    await sign_in_as_new_user(web, synced, "muenchen", ["mentor", "mentee"])
    assert (await web.get("/admin/people", headers={"host": MUENCHEN})).status_code == 403
    token = csrf_token(await web.get("/", headers={"host": MUENCHEN}))
    response = await web.post(
        "/admin/people",
        headers={"host": MUENCHEN},
        data={"_csrf_token": token, "email": "x@example.org", "roles": "admin"},
    )
    assert response.status_code == 403
    assert await invitations(synced, "muenchen") == [] and await mail_jobs(synced) == []
    home = await web.get("/", headers={"host": MUENCHEN})
    assert 'href="/admin/people"' not in home.text


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"email": "not an address", "roles": "admin"},
            "invite-email",
            "Geben Sie eine E-Mail-Adresse wie name@example.org ein.",
        ),
        (
            {"email": "a@example.org\r\nBcc: b@example.org", "roles": "admin"},
            "invite-email",
            "Geben Sie eine E-Mail-Adresse wie name@example.org ein.",
        ),
        ({"email": "a@example.org"}, "invite-roles", "Wählen Sie mindestens eine Rolle."),
    ],
)
async def test_an_invalid_invitation_is_shown_inline_and_nothing_is_saved_or_sent(
    web: Client, synced: Database, data: dict[str, str], field: str, message: str
) -> None:
    await sign_in_as_new_user(web, synced, "muenchen", ["admin"])
    response = await invite(web, data, lang="de")
    assert response.status_code == 422
    assert message in response.text
    assert f'id="{field}-error"' in response.text
    assert await invitations(synced, "muenchen") == [] and await mail_jobs(synced) == []


async def test_a_missing_csrf_token_gets_403_and_saves_nothing(
    web: Client, synced: Database
) -> None:
    await sign_in_as_new_user(web, synced, "muenchen", ["admin"])
    response = await web.post(
        "/admin/people",
        headers={"host": MUENCHEN},
        data={"email": "x@example.org", "roles": "admin"},
    )
    assert response.status_code == 403
    assert await invitations(synced, "muenchen") == [] and await mail_jobs(synced) == []


async def test_an_admin_invites_with_other_roles_and_each_tenant_sees_only_its_own(
    web: Client, synced: Database
) -> None:
    await sign_in_as_new_user(web, synced, "muenchen", ["admin"])
    sent = await invite(web, {"email": "mentor@example.org", "roles": ["mentor", "mentee"]})
    assert sent.status_code == 303
    [row] = await invitations(synced, "muenchen")
    assert row.roles == ["mentor", "mentee"]
    [job] = await mail_jobs(synced)
    assert job.kwargs["to"] == "mentor@example.org" and job.kwargs["locale"] == "de"
    assert job.kwargs["context"]["link"].startswith(f"http://{MUENCHEN}/invite/")

    web.cookies.clear()
    await sign_in_as_new_user(web, synced, "augsburg", ["admin"])
    page = await web.get("/admin/people", headers={"host": AUGSBURG})
    assert page.status_code == 200 and "mentor@example.org" not in page.text
    assert await invitations(synced, "augsburg") == []


# --- expired, revoked, unknown -----------------------------------------------------------


async def test_an_expired_link_is_gone(web: Client, synced: Database) -> None:
    token = await add_invitation(synced, "muenchen")
    async with synced.tenant_session((await tenant_ids(synced))["muenchen"]) as session:
        await session.execute(update(Invitation).values(expires_at=utcnow() - timedelta(minutes=1)))
        await session.commit()
    response = await open_link(web, token)
    assert response.status_code == 410 and "abgelaufen" in response.text
    assert not set_cookie_headers(response, INVITE_COOKIE)


async def test_a_revoked_link_is_gone_and_only_its_tenants_admins_can_revoke(
    web: Client, synced: Database
) -> None:
    token = await add_invitation(synced, "muenchen")
    [row] = await invitations(synced, "muenchen")
    path = f"/admin/people/invitations/{row.id}/revoke"

    await sign_in_as_new_user(web, synced, "augsburg", ["admin"])
    page = await web.get("/admin/people", headers={"host": AUGSBURG})
    stolen = await web.post(
        path, headers={"host": AUGSBURG}, data={"_csrf_token": csrf_token(page)}
    )
    assert stolen.status_code == 404
    assert (await open_link(web, token)).status_code == 200

    web.cookies.clear()
    await sign_in_as_new_user(web, synced, "muenchen", ["admin"])
    page = await web.get("/admin/people", headers={"host": MUENCHEN})
    assert path in page.text
    revoked = await web.post(
        path, headers={"host": MUENCHEN}, data={"_csrf_token": csrf_token(page)}
    )
    assert revoked.status_code == 303
    assert path not in (await web.get("/admin/people", headers={"host": MUENCHEN})).text
    response = await open_link(web, token)
    assert response.status_code == 410 and "zurückgezogen" in response.text
    again = await web.post(path, headers={"host": MUENCHEN}, data={"_csrf_token": csrf_token(page)})
    assert again.status_code == 404


async def test_an_unknown_link_is_not_found(web: Client, synced: Database) -> None:
    for token in ("nope", "x" * 43, "y" * 500):
        response = await open_link(web, token)
        assert response.status_code == 404 and "Einladung nicht gefunden" in response.text


def test_the_invitation_cookie_is_bound_to_its_tenant_and_expires() -> None:
    secret, muenchen, augsburg = "s" * 40, uuid.uuid4(), uuid.uuid4()
    value = sign_invite_cookie(secret, muenchen, "a" * 64)
    assert read_invite_cookie(secret, muenchen, value) == "a" * 64
    assert read_invite_cookie(secret, augsburg, value) is None
    assert read_invite_cookie("t" * 40, muenchen, value) is None
    assert read_invite_cookie(secret, muenchen, "b" * 64 + value[64:]) is None
    assert read_invite_cookie(secret, muenchen, value, now=time.time() + 31 * 60) is None
    for junk in ("", "x", "a.b.c", "a.1.", None):
        assert read_invite_cookie(secret, muenchen, junk) is None
