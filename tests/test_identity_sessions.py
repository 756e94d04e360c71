"""Server-side sessions, their cookie, the guards and the account pages, on both backends.

Users are logged in without OpenID Connect: ``start_session`` directly, and the
token set as the client's cookie. A client's cookies go with every request
whatever the Host header, which is exactly a cookie replayed on another host.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from litestar import Litestar, Request, get
from litestar.params import FromPath
from litestar.response import Response
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from core.db.sessions import Database
from core.identity import audit
from core.identity.accounts import set_roles
from core.identity.guards import require_operator, require_role
from core.identity.models import AuthSession, User
from core.identity.sessions import (
    ClientInfo,
    SessionPolicy,
    end_session,
    list_sessions,
    load_session,
    revoke_session,
    set_session_cookie,
    start_session,
)
from core.pluginhost.manager import PluginHost
from core.settings import Settings
from core.tenancy.files import TenantFilesError, load_tenant_files
from core.tenancy.models import Tenant
from core.tenancy.snapshot import load_snapshot
from core.web.sites import request_context
from tests.conftest import make_app

Client = AsyncTestClient[Litestar]
MUENCHEN = "muenchen.localhost:8000"
AUGSBURG = "augsburg.localhost:8000"
PLATFORM = "localhost:8000"
T0 = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)


# --- helpers ------------------------------------------------------------------------------


async def tenant_ids(db: Database) -> dict[str, uuid.UUID]:
    async with db.platform_session() as session:
        return {t.slug: t.id for t in await session.scalars(select(Tenant))}


async def make_user(db: Database, name: str, *, operator: bool = False) -> User:
    async with db.platform_session() as session:
        user = User(display_name=name, email=f"{name.lower()}@example.org", is_operator=operator)
        session.add(user)
        await session.commit()
        return user


async def grant(db: Database, tenant_id: uuid.UUID, user: User, roles: list[str]) -> None:
    async with db.tenant_session(tenant_id) as session:
        await set_roles(session, user, roles, actor=None)
        await session.commit()


async def stored(db: Database, token: str) -> AuthSession | None:
    digest = hashlib.sha256(token.encode()).hexdigest()
    async with db.platform_session() as session:
        return await session.scalar(select(AuthSession).where(AuthSession.token_hash == digest))


def login(client: Client, token: str, *, secure: bool = False) -> None:
    client.cookies.set("__Host-tandem_session" if secure else "tandem_session", token)


def session_set_cookie(response: httpx.Response) -> str:
    """The response's one Set-Cookie header for the session (CSRF cookies come too)."""
    headers = [
        h for h in response.headers.get_list("set-cookie") if "tandem_session=" in h.split(";")[0]
    ]
    assert len(headers) == 1, response.headers.get_list("set-cookie")
    return headers[0]


def csrf_token(response: httpx.Response) -> str:
    match = re.search(r'name="_csrf_token" value="([^"]+)"', response.text)
    assert match, "the page has no CSRF field"
    return match.group(1)


async def post_form(client: Client, host: str, path: str, page: str = "/") -> httpx.Response:
    """Submit a form the way a browser does: token from a page of the same host."""
    token = csrf_token(await client.get(page, headers={"host": host}))
    return await client.post(path, headers={"host": host}, data={"_csrf_token": token})


# Test-only routes: an admin page, an operator page, and a "login" that sets the cookie
# as the OpenID Connect callback will.
@get("/test/admin", guards=[require_role("admin")])
async def admin_page() -> str:
    return "admin area"


@get("/test/console", guards=[require_operator])
async def console_page() -> str:
    return "operator console"


@get("/test/login/{user_id:uuid}")
async def fake_login(
    request: Request[Any, Any, Any], user_id: FromPath[uuid.UUID]
) -> Response[str]:
    ctx = request_context(request)
    db: Database = request.app.state.db
    token = await start_session(db, ctx.tenant, user_id, ClientInfo.from_request(request))
    response = Response("logged in")
    set_session_cookie(response, token, secure=request.url.scheme == "https")
    return response


async def app_client(
    settings: Settings, plugins: PluginHost, base_url: str
) -> AsyncIterator[Client]:
    app = make_app(settings, plugins)
    for handler in (admin_page, console_page, fake_login):
        app.register(handler)
    async with AsyncTestClient(app, base_url=base_url) as client:
        client.follow_redirects = False  # the redirects are what is tested
        yield client


@pytest.fixture
async def web(synced: Database, settings: Settings, plugins: PluginHost) -> AsyncIterator[Client]:
    async for client in app_client(settings, plugins, "http://localhost"):
        yield client


@pytest.fixture
async def web_https(
    synced: Database, settings: Settings, plugins: PluginHost
) -> AsyncIterator[Client]:
    async for client in app_client(settings, plugins, "https://localhost.local"):
        yield client


# --- tokens: new each login, hashed at rest ------------------------------------------------


async def test_every_login_gets_a_new_token_stored_only_as_its_hash(synced: Database) -> None:
    db = synced
    ids = await tenant_ids(db)
    user = await make_user(db, "Ada")
    client = ClientInfo("Firefox", "192.0.2.1")
    first = await start_session(db, ids["muenchen"], user, client, now=T0)
    second = await start_session(db, ids["muenchen"], user, client, now=T0)
    assert first != second and len(first) >= 43
    row = await stored(db, first)
    assert row is not None and row.user_id == user.id and row.tenant_id == ids["muenchen"]
    assert row.token_hash == hashlib.sha256(first.encode()).hexdigest()
    assert first not in {str(value) for value in vars(row).values()}
    assert (row.user_agent, row.ip) == ("Firefox", "192.0.2.1")
    # Login is audited in the tenant, in the same transaction as the session.
    async with db.tenant_session(ids["muenchen"]) as session:
        entries = await audit.recent_entries(session)
    assert [e.action for e in entries] == ["login", "login"]
    assert {e.details["session_id"] for e in entries} == {
        str(row.id),
        str((await stored(db, second)).id),  # type: ignore[union-attr]
    }


async def test_a_login_ends_the_session_the_browser_had_before(synced: Database) -> None:
    db = synced
    ids = await tenant_ids(db)
    user = await make_user(db, "Ada")
    old = await start_session(db, ids["muenchen"], user, now=T0)
    new = await start_session(db, ids["muenchen"], user, now=T0, replaces=old)
    assert await load_session(db, old, ids["muenchen"], T0) is None
    assert await load_session(db, new, ids["muenchen"], T0) is not None


@pytest.mark.parametrize("token", [None, "", "not-a-token", "x" * 10_000])
async def test_unknown_tokens_find_nothing(synced: Database, token: str | None) -> None:
    ids = await tenant_ids(synced)
    assert await load_session(synced, token, ids["muenchen"], T0) is None
    assert await end_session(synced, token, ids["muenchen"], now=T0) is False


# --- timeouts -----------------------------------------------------------------------------


async def test_idle_timeout_ends_a_quiet_session(synced: Database) -> None:
    db = synced
    ids = await tenant_ids(db)
    token = await start_session(db, ids["muenchen"], await make_user(db, "Ada"), now=T0)
    assert await load_session(db, token, ids["muenchen"], T0 + timedelta(minutes=29)) is not None
    # Seen at 29 minutes: idle from then on.
    assert await load_session(db, token, ids["muenchen"], T0 + timedelta(minutes=58)) is not None
    assert await load_session(db, token, ids["muenchen"], T0 + timedelta(minutes=89)) is None
    # Expired stays expired, even at a time that would have been within the idle window.
    assert await load_session(db, token, ids["muenchen"], T0 + timedelta(minutes=70)) is not None
    token2 = await start_session(db, ids["muenchen"], await make_user(db, "Bo"), now=T0)
    assert await load_session(db, token2, ids["muenchen"], T0 + timedelta(minutes=30)) is None


async def test_activity_is_written_at_most_once_a_minute(synced: Database) -> None:
    db = synced
    ids = await tenant_ids(db)
    token = await start_session(db, ids["muenchen"], await make_user(db, "Ada"), now=T0)
    await load_session(db, token, ids["muenchen"], T0 + timedelta(seconds=50))
    row = await stored(db, token)
    assert row is not None and row.last_seen_at.replace(tzinfo=UTC) == T0
    await load_session(db, token, ids["muenchen"], T0 + timedelta(seconds=70))
    row = await stored(db, token)
    assert row is not None
    assert row.last_seen_at.replace(tzinfo=UTC) == T0 + timedelta(seconds=70)


async def test_absolute_timeout_ends_even_an_active_session(synced: Database) -> None:
    db = synced
    ids = await tenant_ids(db)
    token = await start_session(db, ids["muenchen"], await make_user(db, "Ada"), now=T0)
    moment = T0
    while moment + timedelta(minutes=20) < T0 + timedelta(hours=12):
        moment += timedelta(minutes=20)
        assert await load_session(db, token, ids["muenchen"], moment) is not None, moment
    assert await load_session(db, token, ids["muenchen"], T0 + timedelta(hours=12)) is None


async def test_tenant_timeouts_come_from_the_tenant_file_within_limits(
    synced: Database, tmp_path: Any
) -> None:
    db = synced
    ids = await tenant_ids(db)
    async with db.platform_session() as session:
        tenant = await session.get(Tenant, ids["augsburg"])
        assert tenant is not None
        tenant.session_idle_minutes, tenant.session_absolute_hours = 10, 2
        await session.commit()
    snapshot = await load_snapshot(db, ids["augsburg"])
    assert snapshot is not None
    assert SessionPolicy.for_tenant(snapshot) == SessionPolicy(
        timedelta(minutes=10), timedelta(hours=2)
    )
    token = await start_session(db, snapshot, await make_user(db, "Ada"), now=T0)
    assert await load_session(db, token, ids["augsburg"], T0 + timedelta(minutes=9)) is not None
    assert await load_session(db, token, ids["augsburg"], T0 + timedelta(minutes=20)) is None
    # Values outside the limits (written by hand, say) are clamped, not obeyed.
    wild = dataclasses.replace(snapshot, session_idle_minutes=1, session_absolute_hours=1000)
    assert SessionPolicy.for_tenant(wild) == SessionPolicy(
        timedelta(minutes=5), timedelta(hours=24)
    )
    assert SessionPolicy.for_tenant(None) == SessionPolicy(
        timedelta(minutes=30), timedelta(hours=12)
    )
    # The tenant file refuses values outside the limits, naming the field.
    base = 'slug = "alpha"\nname = "Alpha"\nlocales = ["en"]\ndefault_locale = "en"\n'
    for section, field in [("idle_minutes = 1", "idle_minutes"), ("absolute_hours = 48", "")]:
        (tmp_path / "alpha.toml").write_text(base + "[sessions]\n" + section + "\n")
        with pytest.raises(TenantFilesError, match=f"sessions.{field or 'absolute_hours'}"):
            load_tenant_files(tmp_path)
    (tmp_path / "alpha.toml").write_text(base + "[sessions]\nidle_minutes = 15\n")
    loaded = next(iter(load_tenant_files(tmp_path).values()))
    assert (loaded.sessions.idle_minutes, loaded.sessions.absolute_hours) == (15, None)


# --- a session is valid on its own site only -----------------------------------------------


async def test_a_session_is_valid_only_on_its_own_site(synced: Database) -> None:
    db = synced
    ids = await tenant_ids(db)
    user = await make_user(db, "Ada", operator=True)
    sites: dict[str, uuid.UUID | None] = {
        "muenchen": ids["muenchen"],
        "augsburg": ids["augsburg"],
        "platform": None,
    }
    tokens = {name: await start_session(db, site, user, now=T0) for name, site in sites.items()}
    for name, token in tokens.items():
        for other, site in sites.items():
            found = await load_session(db, token, site, T0)
            assert (found is not None) == (name == other), (name, other)


async def test_a_cookie_replayed_on_another_host_is_not_a_login(
    web: Client, synced: Database
) -> None:
    ids = await tenant_ids(synced)
    user = await make_user(synced, "Ada")
    await grant(synced, ids["muenchen"], user, ["admin"])
    await grant(synced, ids["augsburg"], user, ["admin"])
    login(web, await start_session(synced, ids["muenchen"], user))
    assert (await web.get("/test/admin", headers={"host": MUENCHEN})).status_code == 200
    for host in (AUGSBURG, PLATFORM):
        response = await web.get("/account/sessions", headers={"host": host})
        assert response.status_code == 303, host
        assert response.headers["location"] == "/login?next=/account/sessions"
    # Even though she is an admin there too, augsburg does not take muenchen's cookie.
    response = await web.get("/test/admin", headers={"host": AUGSBURG})
    assert response.status_code == 303
    # ... and logging out on augsburg does not end the muenchen session.
    await post_form(web, AUGSBURG, "/logout")
    assert (await web.get("/test/admin", headers={"host": MUENCHEN})).status_code == 200


# --- listing and revoking your own sessions ----------------------------------------------


async def test_users_list_and_revoke_only_their_own_sessions(synced: Database) -> None:
    db = synced
    ids = await tenant_ids(db)
    ada, bo = await make_user(db, "Ada"), await make_user(db, "Bo")
    muc = ids["muenchen"]
    ada_1 = await start_session(db, muc, ada, ClientInfo("laptop"), now=T0)
    await start_session(db, muc, ada, ClientInfo("phone"), now=T0 + timedelta(minutes=1))
    await start_session(db, ids["augsburg"], ada, ClientInfo("augsburg"), now=T0)
    bo_1 = await start_session(db, muc, bo, ClientInfo("bo"), now=T0)
    listed = await list_sessions(db, ada.id, muc, T0 + timedelta(minutes=2))
    assert [s.user_agent for s in listed] == ["phone", "laptop"]  # this site only, newest first

    bo_row, ada_row = await stored(db, bo_1), await stored(db, ada_1)
    assert bo_row is not None and ada_row is not None
    assert not await revoke_session(db, ada.id, muc, bo_row.id, now=T0)  # not hers
    assert await load_session(db, bo_1, muc, T0) is not None
    augsburg_row = (await list_sessions(db, ada.id, ids["augsburg"], T0))[0]
    assert not await revoke_session(db, ada.id, muc, augsburg_row.id, now=T0)  # other site
    assert not await revoke_session(db, ada.id, muc, uuid.uuid4(), now=T0)

    assert await revoke_session(db, ada.id, muc, ada_row.id, ClientInfo(ip="192.0.2.9"), now=T0)
    assert await load_session(db, ada_1, muc, T0) is None
    assert not await revoke_session(db, ada.id, muc, ada_row.id, now=T0)  # already ended
    assert [s.user_agent for s in await list_sessions(db, ada.id, muc, T0)] == ["phone"]
    async with db.tenant_session(muc) as session:
        revoked = [e for e in await audit.recent_entries(session) if e.action == "session_revoked"]
    assert [(e.actor_user_id, e.ip) for e in revoked] == [(ada.id, "192.0.2.9")]


async def test_the_sessions_page_lists_and_ends_sessions(web: Client, synced: Database) -> None:
    ids = await tenant_ids(synced)
    ada, bo = await make_user(synced, "Ada"), await make_user(synced, "Bo")
    other = await start_session(synced, ids["muenchen"], ada, ClientInfo("Old tablet"))
    bo_token = await start_session(synced, ids["muenchen"], bo, ClientInfo("Bo's phone"))
    login(web, await start_session(synced, ids["muenchen"], ada, ClientInfo("This laptop")))

    page = await web.get("/account/sessions", headers={"host": MUENCHEN, "accept-language": "en"})
    assert page.status_code == 200
    assert "Old tablet" in page.text and "This laptop" in page.text
    assert "Bo&#39;s phone" not in page.text and "Bo's phone" not in page.text
    assert "This device" in page.text

    other_row, bo_row = await stored(synced, other), await stored(synced, bo_token)
    assert other_row is not None and bo_row is not None
    path = f"/account/sessions/{bo_row.id}/revoke"
    response = await post_form(web, MUENCHEN, path, "/account/sessions")
    assert response.status_code == 404  # someone else's session: not found, not ended
    assert await load_session(synced, bo_token, ids["muenchen"]) is not None

    path = f"/account/sessions/{other_row.id}/revoke"
    response = await post_form(web, MUENCHEN, path, "/account/sessions")
    assert response.status_code == 303 and response.headers["location"] == "/account/sessions"
    assert await load_session(synced, other, ids["muenchen"]) is None
    # Without the CSRF token the form is refused.
    response = await web.post(path, headers={"host": MUENCHEN})
    assert response.status_code == 403


async def test_the_page_is_in_the_visitors_language(web: Client, synced: Database) -> None:
    ids = await tenant_ids(synced)
    login(web, await start_session(synced, ids["muenchen"], await make_user(synced, "Ada")))
    page = await web.get("/account/sessions", headers={"host": MUENCHEN, "accept-language": "de"})
    assert "Ihre Sitzungen" in page.text and "Sitzung beenden" in page.text
    assert "Abmelden" in page.text and "Angemeldet als Ada" in page.text


# --- logout -------------------------------------------------------------------------------


async def test_logout_ends_the_session_on_the_server(web: Client, synced: Database) -> None:
    ids = await tenant_ids(synced)
    ada = await make_user(synced, "Ada")
    token = await start_session(synced, ids["muenchen"], ada)
    login(web, token)
    home = await web.get("/", headers={"host": MUENCHEN, "accept-language": "en"})
    assert 'action="/logout"' in home.text and "Signed in as Ada" in home.text

    response = await post_form(web, MUENCHEN, "/logout")
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = session_set_cookie(response)
    assert cookie.startswith('tandem_session="";') and "Max-Age=0" in cookie
    assert await load_session(synced, token, ids["muenchen"]) is None
    # A copy of the cookie kept somewhere is useless now.
    login(web, token)
    assert (await web.get("/account/sessions", headers={"host": MUENCHEN})).status_code == 303
    home = await web.get("/", headers={"host": MUENCHEN})
    assert 'action="/logout"' not in home.text
    async with synced.tenant_session(ids["muenchen"]) as session:
        actions = [e.action for e in await audit.recent_entries(session)]
    assert actions == ["logout", "login"]
    # Logging out again, or while logged out, is harmless.
    assert (await post_form(web, MUENCHEN, "/logout")).status_code == 303


# --- the cookie ---------------------------------------------------------------------------


async def test_session_cookie_over_http(web: Client, synced: Database) -> None:
    user = await make_user(synced, "Ada")
    response = await web.get(f"/test/login/{user.id}", headers={"host": MUENCHEN})
    cookie = session_set_cookie(response)
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert cookie.startswith("tandem_session=")
    assert attributes == {"httponly", "path", "samesite"}  # no Domain: host-only
    assert "Path=/" in cookie and "SameSite=lax" in cookie
    assert (await web.get("/account/sessions", headers={"host": MUENCHEN})).status_code == 200


async def test_session_cookie_over_https(web_https: Client, synced: Database) -> None:
    web = web_https
    ids = await tenant_ids(synced)
    user = await make_user(synced, "Ada")
    response = await web.get(f"/test/login/{user.id}", headers={"host": MUENCHEN})
    cookie = session_set_cookie(response)
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert cookie.startswith("__Host-tandem_session=")
    assert attributes == {"httponly", "path", "samesite", "secure"}
    assert "Path=/" in cookie and "SameSite=lax" in cookie
    assert (await web.get("/account/sessions", headers={"host": MUENCHEN})).status_code == 200

    # Over HTTPS a cookie without the prefix (which a sibling host could have set) is ignored.
    web.cookies.clear()
    login(web, await start_session(synced, ids["muenchen"], user), secure=False)
    assert (await web.get("/account/sessions", headers={"host": MUENCHEN})).status_code == 303
    web.cookies.clear()
    login(web, await start_session(synced, ids["muenchen"], user), secure=True)
    assert (await web.get("/account/sessions", headers={"host": MUENCHEN})).status_code == 200
    response = await post_form(web, MUENCHEN, "/logout")
    cookie = session_set_cookie(response)
    assert cookie.startswith('__Host-tandem_session="";') and "Secure" in cookie


# --- guards -------------------------------------------------------------------------------


async def test_admin_pages_need_the_admin_role_in_this_tenant(
    web: Client, synced: Database
) -> None:
    ids = await tenant_ids(synced)
    mentor, admin = await make_user(synced, "Mentor"), await make_user(synced, "Admin")
    await grant(synced, ids["muenchen"], mentor, ["mentor", "mentee"])
    await grant(synced, ids["muenchen"], admin, ["admin"])
    await grant(synced, ids["augsburg"], admin, ["mentor"])

    response = await web.get("/test/admin", headers={"host": MUENCHEN})
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/test/admin"
    response = await web.get("/test/admin?x=1&y=2", headers={"host": MUENCHEN})
    assert response.headers["location"] == "/login?next=/test/admin%3Fx%3D1%26y%3D2"
    api = await web.get("/test/admin", headers={"host": MUENCHEN, "accept": "application/json"})
    assert api.status_code == 401 and api.json()["status"] == 401

    login(web, await start_session(synced, ids["muenchen"], mentor))
    page = await web.get("/test/admin", headers={"host": MUENCHEN, "accept-language": "en"})
    assert page.status_code == 403 and "You may not see this page" in page.text

    login(web, await start_session(synced, ids["muenchen"], admin))
    page = await web.get("/test/admin", headers={"host": MUENCHEN})
    assert page.status_code == 200 and page.text == "admin area"
    # A muenchen admin is a mentor on augsburg: no admin pages there.
    login(web, await start_session(synced, ids["augsburg"], admin))
    assert (await web.get("/test/admin", headers={"host": AUGSBURG})).status_code == 403
    # There are no tenant admin pages on the platform host.
    assert (await web.get("/test/admin", headers={"host": PLATFORM})).status_code == 404


async def test_the_operator_console_is_for_operators_on_the_platform_host(
    web: Client, synced: Database
) -> None:
    ids = await tenant_ids(synced)
    operator, someone = await make_user(synced, "Op", operator=True), await make_user(synced, "S")
    response = await web.get("/test/console", headers={"host": PLATFORM})
    assert response.status_code == 303
    login(web, await start_session(synced, None, someone))
    assert (await web.get("/test/console", headers={"host": PLATFORM})).status_code == 403
    login(web, await start_session(synced, None, operator))
    response = await web.get("/test/console", headers={"host": PLATFORM})
    assert response.status_code == 200 and response.text == "operator console"
    # Not on a tenant's host, even with an operator's session there.
    login(web, await start_session(synced, ids["muenchen"], operator))
    assert (await web.get("/test/console", headers={"host": MUENCHEN})).status_code == 404
    # Platform sessions write no tenant's audit log.
    for tenant_id in ids.values():
        async with synced.tenant_session(tenant_id) as session:
            actions = [e.action for e in await audit.recent_entries(session)]
        assert actions == (["login"] if tenant_id == ids["muenchen"] else [])


async def test_sync_stores_the_session_timeouts_of_the_tenant_file(
    db: Database, plugins: PluginHost, settings: Settings, tmp_path: Any
) -> None:
    from core.tenancy.sync import sync_tenants

    base = 'slug = "alpha"\nname = "Alpha"\nlocales = ["en"]\ndefault_locale = "en"\n'
    (tmp_path / "alpha.toml").write_text(base + "[sessions]\nidle_minutes = 15\n")
    report = await sync_tenants(db, plugins, tmp_path, settings.themes_dir)
    assert report.changes == ["alpha: created"]
    alpha = (await tenant_ids(db))["alpha"]
    snapshot = await load_snapshot(db, alpha)
    assert snapshot is not None
    assert (snapshot.session_idle_minutes, snapshot.session_absolute_hours) == (15, None)

    (tmp_path / "alpha.toml").write_text(base + "[sessions]\nabsolute_hours = 8\n")
    report = await sync_tenants(db, plugins, tmp_path, settings.themes_dir)
    assert report.changes == [
        "alpha: sessions.idle_minutes: 15 → None",
        "alpha: sessions.absolute_hours: None → 8",
    ]
    snapshot = await load_snapshot(db, alpha)
    assert snapshot is not None
    assert SessionPolicy.for_tenant(snapshot) == SessionPolicy(
        timedelta(minutes=30), timedelta(hours=8)
    )
