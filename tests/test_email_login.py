"""The ``email_login`` plugin: sign-in with a single-use link sent by e-mail, on both backends.

The whole path runs for real: tenant files with ``provider = "email"`` members are
applied with ``sync_tenants``; the app's relay and in-process worker send the mail to
a real SMTP server (aiosmtpd on loopback, as in tests/test_mail.py); the link from
that mail is opened, confirmed and turned into a session. The clock is controlled by
the ``now`` parameters of :mod:`plugins.email_login.links`, never by sleeping.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from core.db.base import utcnow
from core.db.models import load_all_models
from core.db.sessions import Database
from core.identity.accounts import find_or_create_user_for_identity, set_roles
from core.identity.models import EMAIL_LOGIN_ISSUER, ExternalIdentity, User
from core.identity.sessions import load_session
from core.jobs.models import OutboxMessage
from core.mail import delivery as mail_delivery
from core.pluginhost.manager import PluginHost
from core.settings import Settings
from core.tenancy.files import TenantFilesError
from core.tenancy.sync import sync_tenants
from plugins.email_login.links import (
    LinkState,
    address_hash,
    count_request,
    create_link,
    ip_bucket,
    is_limited,
    issue_token,
    link_state,
    prune,
    spend_link,
)
from plugins.email_login.models import EmailLoginLink, EmailLoginRequest
from plugins.email_login.settings import EmailLoginSettings
from tests.conftest import MigratedDatabase, make_app
from tests.test_identity_sessions import csrf_token, tenant_ids
from tests.test_jobs_outbox import wait_until
from tests.test_login_flow import audit_log
from tests.test_mail import SmtpServer, smtp_server  # noqa: F401 - a fixture

Client = AsyncTestClient[Litestar]
MUENCHEN = "muenchen.localhost:8000"
AUGSBURG = "augsburg.localhost:8000"
TORONTO = "toronto.localhost:8000"
PLATFORM = "localhost:8000"
SENDER = "programmes@tandem.example"
REQUEST = "/p/email_login/request"
LENA = "lena@example.org"  # a mentee of München, by e-mail link
OMAR = "omar@example.org"  # a mentor of Augsburg, by e-mail link
SSO_PERSON = "sso.person@example.org"  # a München member through SSO only
SENT_DE = "Sehen Sie in Ihr E-Mail-Postfach"
LINK = re.compile(r"http://([a-z.]+:8000)/p/email_login/link/([A-Za-z0-9_-]{43})\b")


# --- fixtures ----------------------------------------------------------------------------


def _tenant_files(directory: Path) -> Path:
    directory.mkdir()
    header = 'slug = "{0}"\nname = "{1}"\ndefault_locale = "{2}"\nlocales = ["de", "en"]\n\n'
    member = '[[members]]\nprovider = "email"\nsubject = "{0}"\nname = "{1}"\nroles = ["{2}"]\n\n'
    (directory / "muenchen.toml").write_text(
        header.format("muenchen", "Mentoring München", "de")
        + "[plugins.email_login]\nper_address_limit = 2\nper_ip_limit = 5\n\n"
        # Written as people type it: the address is stored lower-cased.
        + member.format("Lena@Example.org", "Lena Berger", "mentee"),
        encoding="utf-8",
    )
    (directory / "augsburg.toml").write_text(
        header.format("augsburg", "Tür an Tür", "de")
        + "[plugins.email_login]\nlink_minutes = 10\n\n"
        + member.format(OMAR, "Omar Haddad", "mentor"),
        encoding="utf-8",
    )
    # Toronto has a person with an e-mail identity but not the plugin.
    (directory / "toronto.toml").write_text(
        header.format("toronto", "Toronto Mentoring", "en")
        + member.format("tara@example.org", "Tara", "mentee"),
        encoding="utf-8",
    )
    return directory


@dataclass
class World:
    web: Client
    db: Database
    smtp: SmtpServer
    ids: dict[str, uuid.UUID]


@pytest.fixture
async def world(
    db: Database,
    settings: Settings,
    plugins: PluginHost,
    smtp_server: SmtpServer,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[World]:
    await sync_tenants(db, plugins, _tenant_files(tmp_path / "tenants"), settings.themes_dir)
    ids = await tenant_ids(db)
    # Someone who is a München member through SSO, with an address like an e-mail login.
    async with db.platform_session() as platform, platform.begin():
        sso_user = await find_or_create_user_for_identity(
            platform, "https://sso.example", "sso-sub-1", {"email": SSO_PERSON}
        )
    async with db.tenant_session(ids["muenchen"]) as session, session.begin():
        await set_roles(session, sso_user, ["mentor"], actor=None)
    configured = Settings(
        **{**settings.model_dump(), "smtp_url": smtp_server.url, "mail_from": SENDER}
    )
    monkeypatch.setattr(mail_delivery, "_mailer", None)  # the app configures its own
    async with AsyncTestClient(make_app(configured, plugins), base_url="http://localhost") as web:
        web.follow_redirects = False
        yield World(web, db, smtp_server, ids)


# --- helpers -----------------------------------------------------------------------------


def headers(host: str, lang: str = "de") -> dict[str, str]:
    return {"host": host, "accept-language": lang}


async def ask_for_link(
    w: World, email: str, host: str = MUENCHEN, lang: str = "de", login_page: str = "/login"
) -> httpx.Response:
    """Fill in the form on the sign-in page and send it, as a browser does."""
    page = await w.web.get(login_page, headers=headers(host, lang))
    assert page.status_code == 200, page.text
    form = page.text[page.text.index(f'action="{REQUEST}"') :]
    next_path = re.search(r'name="next" value="([^"]*)"', form)
    assert next_path, form
    data = {"_csrf_token": csrf_token(page), "email": email, "next": next_path.group(1)}
    return await w.web.post(REQUEST, headers=headers(host, lang), data=data)


async def link_jobs(db: Database) -> list[OutboxMessage]:
    async with db.platform_session() as session:
        query = select(OutboxMessage).where(OutboxMessage.actor_name == "email_login.send_link")
        return list(await session.scalars(query))


async def received_link(w: World, count: int = 1) -> tuple[EmailMessage, str, str]:
    """Wait for the ``count``-th mail; return it with the host and token of its link."""

    async def arrived() -> bool:
        return len(w.smtp.messages()) >= count

    await wait_until(arrived, f"mail number {count}")
    message = w.smtp.messages()[count - 1].message
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    match = LINK.search(body.get_content())
    assert match, body.get_content()
    host, token = match.group(1), match.group(2)

    # The job hands the mail over inside its transaction and commits the token's
    # hash right after: wait for that commit before the link is used.
    async def committed() -> bool:
        tenant_id = w.ids[host.split(".")[0]]
        hashes = {link.token_hash for link in await links(w.db, tenant_id)}
        return hashlib.sha256(token.encode()).hexdigest() in hashes

    await wait_until(committed, "the link's token to be committed")
    return message, host, token


async def confirm(w: World, token: str, host: str = MUENCHEN) -> httpx.Response:
    """Open the link and press its button."""
    page = await w.web.get(f"/p/email_login/link/{token}", headers=headers(host))
    assert page.status_code == 200, page.text
    form = {"_csrf_token": csrf_token(page)}
    return await w.web.post(f"/p/email_login/link/{token}", headers=headers(host), data=form)


async def press(w: World, token: str, host: str = MUENCHEN) -> httpx.Response:
    """POST a link without opening it first (a button on a page kept open, a replay)."""
    form = {"_csrf_token": csrf_token(await w.web.get("/login", headers=headers(host)))}
    return await w.web.post(f"/p/email_login/link/{token}", headers=headers(host), data=form)


def session_cookie(response: httpx.Response) -> str | None:
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        if name == "tandem_session":
            value = rest.split(";")[0]
            return value or None
    return None


def without_csrf(page: str) -> str:
    return re.sub(r'name="_csrf_token" value="[^"]+"', 'name="_csrf_token" value=""', page)


async def links(db: Database, tenant_id: uuid.UUID) -> list[EmailLoginLink]:
    async with db.tenant_session(tenant_id) as session:
        return list(await session.scalars(select(EmailLoginLink)))


async def user_id_of(db: Database, address: str) -> uuid.UUID:
    async with db.platform_session() as session:
        found = await session.scalar(
            select(ExternalIdentity.user_id).where(
                ExternalIdentity.issuer == EMAIL_LOGIN_ISSUER, ExternalIdentity.subject == address
            )
        )
    assert found is not None
    return found


async def link_made_at(
    db: Database, tenant_id: uuid.UUID, address: str, at: Any, next_path: str = "/"
) -> str:
    """A link made (and its token issued) at ``at``, as the request and job would."""
    user_id = await user_id_of(db, address)
    async with db.tenant_session(tenant_id) as session, session.begin():
        link = create_link(session, user_id, next_path, timedelta(minutes=15), at)
        await session.flush()
        token = await issue_token(session, link.id, at)
    assert token is not None
    return token


# --- the whole path ----------------------------------------------------------------------


async def test_a_member_signs_in_with_the_link_from_the_mail(world: World) -> None:
    w = world
    page = await w.web.get("/login?next=/account/sessions", headers=headers(MUENCHEN))
    assert page.status_code == 200
    assert "Mit einem Link per E-Mail anmelden" in page.text
    assert '<label for="email-login-address">E-Mail-Adresse</label>' in page.text
    assert 'name="next" value="/account/sessions"' in page.text

    # Typed as people type: spaces and capitals do not matter.
    sent = await ask_for_link(w, "  LENA@example.org ", login_page="/login?next=/account/sessions")
    assert sent.status_code == 200, sent.text
    assert SENT_DE in sent.text and "15 Minuten" in sent.text
    assert session_cookie(sent) is None

    message, host, token = await received_link(w)
    assert message["To"] == LENA and message["From"].addresses[0].addr_spec == SENDER
    assert message["Subject"] == "Ihr Anmeldelink für Mentoring München"
    assert message["Content-Language"] == "de"
    html = message.get_body(preferencelist=("html",))
    assert html is not None and f"/p/email_login/link/{token}" in html.get_content()
    assert host == MUENCHEN
    [row] = await links(w.db, w.ids["muenchen"])
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert row.expires_at - row.created_at == timedelta(minutes=15)
    assert row.next_path == "/account/sessions" and row.used_at is None

    # Opening the link (as a mail scanner would) signs nobody in and spends nothing.
    w.web.cookies.clear()
    opened = await w.web.get(f"/p/email_login/link/{token}", headers=headers(MUENCHEN))
    assert opened.status_code == 200
    assert "Bei Mentoring München anmelden" in opened.text
    assert f'<form method="post" action="/p/email_login/link/{token}">' in opened.text
    assert opened.headers["referrer-policy"] == "no-referrer"
    assert opened.headers["cache-control"] == "no-store"
    assert session_cookie(opened) is None
    assert (await links(w.db, w.ids["muenchen"]))[0].used_at is None

    done = await w.web.post(
        f"/p/email_login/link/{token}",
        headers=headers(MUENCHEN),
        data={"_csrf_token": csrf_token(opened)},
    )
    assert done.status_code == 303 and done.headers["location"] == "/account/sessions"
    cookie = session_cookie(done)
    assert cookie
    lena = await user_id_of(w.db, LENA)
    live = await load_session(w.db, cookie, w.ids["muenchen"])
    assert live is not None and live.user_id == lena
    # The session is valid on München only.
    assert await load_session(w.db, cookie, w.ids["augsburg"]) is None
    assert await load_session(w.db, cookie, None) is None
    account = await w.web.get("/account/sessions", headers=headers(MUENCHEN, "en"))
    assert account.status_code == 200 and "Signed in as Lena Berger" in account.text

    [entry] = [e for e in await audit_log(w.db, "muenchen") if e.action == "login"]
    assert entry.actor_user_id == lena and entry.details["method"] == "email_link"
    assert (await links(w.db, w.ids["muenchen"]))[0].used_at is not None


async def test_the_mail_comes_in_the_language_of_the_page(world: World) -> None:
    sent = await ask_for_link(world, OMAR, host=AUGSBURG, lang="en")
    assert sent.status_code == 200
    assert "If omar@example.org belongs to a participant of this programme" in sent.text
    assert "within 10 minutes" in sent.text
    message, host, _ = await received_link(world)
    assert host == AUGSBURG and message["Content-Language"] == "en"
    assert message["Subject"] == "Your sign-in link for Tür an Tür"
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    assert "The link works once and expires after 10 minutes, on " in body.get_content()


# --- the same answer for everyone -----------------------------------------------------------


async def test_unknown_addresses_and_other_peoples_get_the_same_answer_and_no_mail(
    world: World,
) -> None:
    w = world
    known = await ask_for_link(w, LENA)
    assert known.status_code == 200
    others = {
        "nobody@example.org": await ask_for_link(w, "nobody@example.org"),
        # A person of Augsburg, not of München.
        OMAR: await ask_for_link(w, OMAR),
        # A München member through SSO whose account carries this address: accounts
        # are never joined by e-mail, so this is no e-mail login identity.
        SSO_PERSON: await ask_for_link(w, SSO_PERSON),
        # Toronto's e-mail login person, on München's host.
        "tara@example.org": await ask_for_link(w, "tara@example.org"),
    }
    expected = without_csrf(known.text).replace(LENA, "ADDRESS")
    for address, response in others.items():
        assert response.status_code == known.status_code, address
        assert without_csrf(response.text).replace(address, "ADDRESS") == expected, address
        assert sorted(response.headers.keys()) == sorted(known.headers.keys()), address

    [job] = await link_jobs(w.db)
    assert job.kwargs["to"] == LENA and job.tenant_id == w.ids["muenchen"]
    await received_link(w)
    assert [m.recipients for m in w.smtp.messages()] == [[LENA]]
    assert len(await links(w.db, w.ids["muenchen"])) == 1
    # Every request was counted, known or not.
    async with w.db.tenant_session(w.ids["muenchen"]) as session:
        counted = await session.scalar(select(func.count()).select_from(EmailLoginRequest))
    assert counted == 5


async def test_a_member_whose_roles_were_taken_away_is_not_signed_in(world: World) -> None:
    w = world
    await ask_for_link(w, LENA)
    _, _, token = await received_link(w)
    async with w.db.tenant_session(w.ids["muenchen"]) as session, session.begin():
        await set_roles(session, await user_id_of(w.db, LENA), [], actor=None)
    refused = await confirm(w, token)
    assert refused.status_code == 403 and session_cookie(refused) is None
    assert "nicht mehr an diesem Programm teil" in refused.text
    failed = [e for e in await audit_log(w.db, "muenchen") if e.action == "login_failed"]
    assert failed[-1].details == {"method": "email_link", "reason": "no_membership"}
    # And no new link for her while she has no roles.
    await ask_for_link(w, LENA)
    assert len(await link_jobs(w.db)) == 1


# --- links that do not work ------------------------------------------------------------------


async def test_a_link_works_once(world: World) -> None:
    w = world
    await ask_for_link(w, LENA)
    _, _, token = await received_link(w)
    first = await confirm(w, token)
    assert first.status_code == 303 and session_cookie(first)

    w.web.cookies.clear()
    again = await w.web.get(f"/p/email_login/link/{token}", headers=headers(MUENCHEN))
    assert again.status_code == 410
    assert "Dieser Anmeldelink wurde bereits verwendet" in again.text
    assert "Sie wurden nicht angemeldet" in again.text or "nicht angemeldet" in again.text
    replay = await press(w, token)
    assert replay.status_code == 410 and session_cookie(replay) is None
    failed = [e for e in await audit_log(w.db, "muenchen") if e.action == "login_failed"]
    assert [e.details["reason"] for e in failed] == ["used", "used"]
    assert all(e.details["method"] == "email_link" for e in failed)
    assert len([e for e in await audit_log(w.db, "muenchen") if e.action == "login"]) == 1


async def test_an_expired_link_does_not_sign_in(world: World) -> None:
    w = world
    token = await link_made_at(w.db, w.ids["muenchen"], LENA, utcnow() - timedelta(minutes=16))
    opened = await w.web.get(f"/p/email_login/link/{token}", headers=headers(MUENCHEN, "en"))
    assert opened.status_code == 410 and "This sign-in link has expired." in opened.text
    assert 'lang="en"' in opened.text
    refused = await press(w, token)
    assert refused.status_code == 410 and session_cookie(refused) is None
    assert "Dieser Anmeldelink ist abgelaufen." in refused.text
    failed = [e for e in await audit_log(w.db, "muenchen") if e.action == "login_failed"]
    assert [e.details["reason"] for e in failed] == ["expired", "expired"]


async def test_expiry_is_exact_to_the_second(db: Database) -> None:
    ids, user = await _tenant_with_member(db)
    t0 = utcnow()
    async with db.tenant_session(ids) as session, session.begin():
        link = create_link(session, user, "/x", timedelta(minutes=15), t0)
        await session.flush()
        token = await issue_token(session, link.id, t0)
        assert token is not None
        # A token is made once: a second job run for the same link makes none.
        assert await issue_token(session, link.id, t0) is None
    end = t0 + timedelta(minutes=15)
    async with db.tenant_session(ids) as session, session.begin():
        assert await link_state(session, token, end - timedelta(seconds=1)) is LinkState.PENDING
        assert await link_state(session, token, end) is LinkState.EXPIRED
        assert await spend_link(session, token, end) is None
        spent = await spend_link(session, token, end - timedelta(seconds=1))
        assert spent is not None and (spent.user_id, spent.next_path) == (user, "/x")
        assert await spend_link(session, token, end - timedelta(seconds=1)) is None
        assert await link_state(session, token, t0) is LinkState.USED
        # An expired link gets no token either (the job ran too late).
        late = create_link(session, user, "/", timedelta(minutes=15), t0)
        await session.flush()
        assert await issue_token(session, late.id, end) is None


async def test_a_link_of_one_tenant_is_unknown_on_another(world: World) -> None:
    w = world
    await ask_for_link(w, LENA)
    _, _, token = await received_link(w)
    elsewhere = await w.web.get(f"/p/email_login/link/{token}", headers=headers(AUGSBURG))
    assert elsewhere.status_code == 404
    assert "Diesen Anmeldelink kennen wir hier nicht" in elsewhere.text
    refused = await press(w, token, host=AUGSBURG)
    assert refused.status_code == 404 and session_cookie(refused) is None
    failed = [e for e in await audit_log(w.db, "augsburg") if e.action == "login_failed"]
    assert [e.details["reason"] for e in failed] == ["unknown", "unknown"]
    # On a tenant without the plugin the route is not there at all.
    assert (
        await w.web.get(f"/p/email_login/link/{token}", headers=headers(TORONTO))
    ).status_code == 404
    # München's link is untouched by all that.
    assert (await links(w.db, w.ids["muenchen"]))[0].used_at is None
    assert (await confirm(w, token)).status_code == 303


async def test_made_up_and_oversized_tokens_are_unknown(world: World) -> None:
    for token in ("x", "A" * 43, "A" * 500):
        page = await world.web.get(f"/p/email_login/link/{token}", headers=headers(MUENCHEN))
        assert page.status_code == 404, token


# --- where the plugin is not enabled ---------------------------------------------------------


async def test_without_the_plugin_there_is_no_form_and_no_route(world: World) -> None:
    w = world
    login = await w.web.get("/login", headers=headers(TORONTO, "en"))
    assert login.status_code == 200
    assert "email-login" not in login.text and REQUEST not in login.text
    token = csrf_token(login)
    for host in (TORONTO, PLATFORM):
        assert (await w.web.get(REQUEST, headers=headers(host))).status_code == 404
        posted = await w.web.post(
            REQUEST, headers=headers(host), data={"_csrf_token": token, "email": "tara@example.org"}
        )
        assert posted.status_code == 404, host
    assert await link_jobs(w.db) == []


# --- rate limits --------------------------------------------------------------------------------


async def test_requests_are_limited_per_address_and_per_ip_alike_for_known_and_unknown(
    world: World,
) -> None:
    w = world  # München allows 2 requests per address and 5 per IP in the window
    for _ in range(2):
        assert (await ask_for_link(w, LENA)).status_code == 200
    known = await ask_for_link(w, LENA)
    assert known.status_code == 429
    assert "Zu viele Anmeldelinks angefordert" in known.text
    assert known.headers["retry-after"] == "3600"
    for _ in range(2):
        assert (await ask_for_link(w, "nobody@example.org")).status_code == 200
    unknown = await ask_for_link(w, "nobody@example.org")
    assert unknown.status_code == 429
    assert without_csrf(unknown.text) == without_csrf(known.text)
    assert unknown.headers["retry-after"] == known.headers["retry-after"]
    assert len(await link_jobs(w.db)) == 2  # the refused request sent nothing

    # Four counted from this IP; the fifth address is the last one it gets.
    assert (await ask_for_link(w, "third@example.org")).status_code == 200
    by_ip = await ask_for_link(w, "fourth@example.org")
    assert by_ip.status_code == 429
    assert without_csrf(by_ip.text) == without_csrf(known.text)
    # Augsburg counts for itself.
    assert (await ask_for_link(w, OMAR, host=AUGSBURG)).status_code == 200


async def test_limits_count_in_the_database_per_ip_and_ipv6_network(db: Database) -> None:
    tenant_id, _ = await _tenant_with_member(db)
    limits = EmailLoginSettings(per_address_limit=2, per_ip_limit=3, window_minutes=60)
    t0 = utcnow()
    async with db.tenant_session(tenant_id) as session, session.begin():
        for address in ("a@example.org", "b@example.org", "c@example.org"):
            assert not await is_limited(session, address, "192.0.2.1", limits, t0)
            count_request(session, address, "192.0.2.1", t0)
        assert await is_limited(session, "d@example.org", "192.0.2.1", limits, t0)
        # Another IP is not held back by the first one's requests …
        assert not await is_limited(session, "d@example.org", "192.0.2.2", limits, t0)
        # … but an address is, from wherever it is asked for (and in any spelling).
        count_request(session, "A@example.org", "192.0.2.2", t0)
        assert await is_limited(session, "a@EXAMPLE.org", "198.51.100.7", limits, t0)
        # The window moves on.
        later = t0 + timedelta(minutes=61)
        assert not await is_limited(session, "a@example.org", "192.0.2.1", limits, later)
        assert not await is_limited(session, "d@example.org", "192.0.2.1", limits, later)
    # One IPv6 subscriber (a /64) is one client.
    assert ip_bucket("2001:db8:1:2::1") == ip_bucket("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert ip_bucket("2001:db8:1:3::1") != ip_bucket("2001:db8:1:2::1")
    assert ip_bucket("::ffff:192.0.2.1") == "192.0.2.1"
    assert ip_bucket(None) == "unknown"
    # Another tenant sees none of these rows.
    other = await _plain_tenant(db, "augsburg")
    async with db.tenant_session(other) as session:
        assert not await is_limited(session, "a@example.org", "192.0.2.1", limits, t0)
        assert await session.scalar(select(func.count()).select_from(EmailLoginRequest)) == 0


async def test_prune_deletes_old_links_and_requests_of_its_tenant_only(db: Database) -> None:
    tenant_id, user = await _tenant_with_member(db)
    other = await _plain_tenant(db, "augsburg")
    now = utcnow()
    old, recent = now - timedelta(days=2), now - timedelta(minutes=5)
    for tenant in (tenant_id, other):
        async with db.tenant_session(tenant) as session, session.begin():
            for moment in (old, recent):
                create_link(session, user, "/", timedelta(minutes=15), moment)
                count_request(session, "a@example.org", "192.0.2.1", moment)
    async with db.tenant_session(tenant_id) as session, session.begin():
        assert await prune(session, now) == 2
    for tenant, expected in ((tenant_id, 1), (other, 2)):
        async with db.tenant_session(tenant) as session:
            assert len(list(await session.scalars(select(EmailLoginLink)))) == expected
            requests = list(await session.scalars(select(EmailLoginRequest)))
            assert len(requests) == expected
            assert {r.address_hash for r in requests} == {address_hash("a@example.org")}


# --- input --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "message", "title"),
    [
        ("de", "Geben Sie eine E-Mail-Adresse wie name@example.org ein.", "Mit einem Link"),
        ("en", "Enter an e-mail address like name@example.org.", "Sign in with a link"),
    ],
)
@pytest.mark.parametrize("typed", ["not an address", "", "a@b@c", "lena@example.org\r\nBcc: x@y"])
async def test_an_invalid_address_is_shown_again_with_the_error_in_the_page_language(
    world: World, lang: str, message: str, title: str, typed: str
) -> None:
    answer = await ask_for_link(world, typed, lang=lang)
    assert answer.status_code == 400
    assert f'lang="{lang}"' in answer.text and title in answer.text
    assert message in answer.text
    assert 'aria-invalid="true" aria-describedby="email-login-address-error"' in answer.text
    assert 'id="email-login-address-error"' in answer.text
    assert 'href="#email-login-address"' in answer.text  # the error summary links the field
    assert await link_jobs(world.db) == []
    async with world.db.tenant_session(world.ids["muenchen"]) as session:
        assert await session.scalar(select(func.count()).select_from(EmailLoginRequest)) == 0


async def test_the_form_page_of_its_own_keeps_only_a_local_next_path(world: World) -> None:
    page = await world.web.get(f"{REQUEST}?next=//evil.example/", headers=headers(MUENCHEN, "en"))
    assert page.status_code == 200 and 'name="next" value="/"' in page.text
    page = await world.web.get(f"{REQUEST}?next=/account/sessions", headers=headers(MUENCHEN))
    assert 'name="next" value="/account/sessions"' in page.text
    # A forged next in the form is checked as well.
    data = {"_csrf_token": csrf_token(page), "email": LENA, "next": "https://evil.example/"}
    assert (await world.web.post(REQUEST, headers=headers(MUENCHEN), data=data)).status_code == 200
    _, _, token = await received_link(world)
    assert (await confirm(world, token)).headers["location"] == "/"


# --- the token is nowhere in the database --------------------------------------------------------


async def test_the_token_is_stored_nowhere_in_plain_text(
    world: World, migrated: MigratedDatabase
) -> None:
    w = world
    await ask_for_link(w, LENA)
    _, _, token = await received_link(w)
    await confirm(w, token)
    digest = hashlib.sha256(token.encode()).hexdigest()
    # Every row of every table (the job outbox included), read as the database owner,
    # whom row-level security does not hide anything from.
    with_token, with_digest = [], []
    owner = Database(migrated.owner_url)
    try:
        async with owner.engine.connect() as conn:
            for table in load_all_models().metadata.sorted_tables:
                for row in (await conn.execute(select(table))).all():
                    values = repr(tuple(row))
                    with_token += [table.name] if token in values else []
                    with_digest += [table.name] if digest in values else []
    finally:
        await owner.dispose()
    assert with_token == []
    assert with_digest == ["email_login_links"]  # the search did see the plugin's rows


# --- tenant files ---------------------------------------------------------------------------------


async def test_email_members_in_tenant_files_are_identities_of_their_own(
    db: Database, plugins: PluginHost, settings: Settings, tmp_path: Path
) -> None:
    directory = _tenant_files(tmp_path / "tenants")
    report = await sync_tenants(db, plugins, directory, settings.themes_dir)
    assert "muenchen: added member lena@example.org (mentee)" in report.changes
    assert "muenchen: enabled plugin email_login" in report.changes
    async with db.platform_session() as session:
        identity = await session.scalar(
            select(ExternalIdentity).where(ExternalIdentity.subject == LENA)
        )
        assert identity is not None and identity.issuer == EMAIL_LOGIN_ISSUER
        user = await session.get(User, identity.user_id)
    assert user is not None and (user.display_name, user.email) == ("Lena Berger", LENA)
    assert (await sync_tenants(db, plugins, directory, settings.themes_dir)).changes == []

    path = directory / "muenchen.toml"
    original = path.read_text(encoding="utf-8")
    for content, expected in (
        (
            original.replace("Lena@Example.org", "lena at example"),
            "muenchen.toml: members.0: "
            'with provider = "email" the subject must be an e-mail address like name@example.org',
        ),
        (
            original
            + '[[identity_providers]]\nid = "email"\nname = "x"\nissuer = "https://x.example"\n'
            'client_id = "x"\nclient_secret_env = "X_SECRET"\n',
            "muenchen.toml: identity_providers.0.id: "
            "'email' is reserved: [[members]] use it for sign-in by e-mail link",
        ),
    ):
        path.write_text(content, encoding="utf-8")
        with pytest.raises(TenantFilesError) as raised:
            await sync_tenants(db, plugins, directory, settings.themes_dir)
        assert [str(problem) for problem in raised.value.problems] == [expected]


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"link_minutes": 16}, "link_minutes"),
        ({"link_minutes": 0}, "link_minutes"),
        ({"per_address_limit": 0}, "per_address_limit"),
        ({"window_minutes": 2000}, "window_minutes"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_settings_are_validated(plugins: PluginHost, settings: dict[str, Any], field: str) -> None:
    from core.pluginhost.info import PluginSettingsError

    with pytest.raises(PluginSettingsError) as raised:
        plugins.info("email_login").validate_settings(settings)
    assert [problem[0] for problem in raised.value.problems] == [field]
    defaults = plugins.info("email_login").validate_settings({})
    assert defaults == {
        "link_minutes": 15,
        "per_address_limit": 3,
        "per_ip_limit": 10,
        "window_minutes": 60,
    }


# --- small worlds for the service-level tests -----------------------------------------------------


async def _plain_tenant(db: Database, slug: str) -> uuid.UUID:
    from tests.test_plugins import make_tenant

    return await make_tenant(db, slug)


async def _tenant_with_member(db: Database) -> tuple[uuid.UUID, uuid.UUID]:
    tenant_id = await _plain_tenant(db, "muenchen")
    async with db.platform_session() as platform, platform.begin():
        user = await find_or_create_user_for_identity(platform, EMAIL_LOGIN_ISSUER, LENA)
    return tenant_id, user.id
