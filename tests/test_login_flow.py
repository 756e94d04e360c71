"""Single sign-on through the app, against real OpenID providers on loopback.

Two ``oidc-provider-mock`` instances stand for two tenants' providers. The tenants
come from tenant files written here and applied with ``sync_tenants`` (members
included), so the whole path a deployment takes is exercised. The browser is the
app's test client for our hosts and httpx for the provider's form; its cookies go
with every request whatever the Host header, which is exactly a replayed cookie.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from core.db.sessions import Database
from core.i18n.catalogs import gettext
from core.identity import audit
from core.identity.attempts import DatabaseLoginAttemptStore, OIDCLoginAttempt
from core.identity.models import AuthSession, ExternalIdentity, Membership, User
from core.identity.oidc import ErrorCode, LoginAttempt
from core.pluginhost import PluginInfo, hookimpl
from core.pluginhost.manager import PluginHost
from core.settings import Settings
from core.tenancy.files import TenantFilesError
from core.tenancy.models import Tenant, TenantStatus
from core.tenancy.snapshot import TenantSnapshot
from core.tenancy.sync import sync_tenants
from core.web.controllers.login import ERROR_MESSAGES, safe_next
from tests.conftest import make_app
from tests.oidc_provider import MockProvider, run_mock_providers

# oidc-provider-mock 0.3.4 uses an authlib server hook deprecated in authlib 1.7.
pytestmark = pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning")

Client = AsyncTestClient[Litestar]
MUENCHEN = "muenchen.localhost:8000"
AUGSBURG = "augsburg.localhost:8000"
PLATFORM = "localhost:8000"
DE = {"accept-language": "de"}
LOGIN_FAILED_DE = "Die Anmeldung hat nicht funktioniert"


# --- providers, tenant files, the app --------------------------------------------------


@dataclass
class Provider:
    mock: MockProvider
    client_id: str
    client_secret: str


@pytest.fixture(scope="module")
def providers() -> Iterator[dict[str, Provider]]:
    """München's city SSO and Augsburg's Entra stand-in: own keys, own clients, own users."""
    with run_mock_providers(2) as (stadt, entra):
        result = {}
        for name, mock, host in (("stadt", stadt, MUENCHEN), ("entra", entra, AUGSBURG)):
            client = mock.register_client(f"http://{host}/login/oidc/{name}/callback")
            result[name] = Provider(mock, client.client_id, client.client_secret)
        stadt.set_user("anna", {"name": "Anna Berger", "email": "anna@muenchen.example"})
        stadt.set_user("zoe", {"name": "Zoe Fischer", "email": "zoe@example.org"})
        stadt.set_user("nick", {"name": "Nikola Petrović", "nickname": "Niko"})
        entra.set_user("omar", {"given_name": "Omar", "family_name": "Haddad", "locale": "en"})
        yield result


def provider_block(provider_id: str, provider: Provider, env: str) -> str:
    return (
        f'[[identity_providers]]\nid = "{provider_id}"\nname = "{provider_id.title()} SSO"\n'
        f'issuer = "{provider.mock.issuer}"\nclient_id = "{provider.client_id}"\n'
        f'client_secret_env = "{env}"\n\n'
    )


def member_block(provider_id: str, subject: str, roles: str) -> str:
    return f'[[members]]\nprovider = "{provider_id}"\nsubject = "{subject}"\nroles = {roles}\n\n'


def tenant_files(directory: Path, providers: dict[str, Provider]) -> Path:
    header = 'slug = "{0}"\nname = "{1}"\ndefault_locale = "de"\nlocales = ["de", "en"]\n'
    stadt, entra = providers["stadt"], providers["entra"]
    (directory / "muenchen.toml").write_text(
        header.format("muenchen", "Mentoring München")
        + 'theme = "muenchen"\n\n[plugins.nicknames]\n\n'
        + provider_block("stadt", stadt, "TEST_STADT_SECRET")
        + member_block("stadt", "anna", '["mentee"]')
        + member_block("stadt", "nick", '["mentor"]'),
        encoding="utf-8",
    )
    # Augsburg signs in through its own provider; it also lists München's city SSO
    # under the same id (a provider two programmes share), so that a München
    # callback replayed on Augsburg's host reaches the attempt check.
    (directory / "augsburg.toml").write_text(
        header.format("augsburg", "Tür an Tür")
        + 'theme = "augsburg"\n\n'
        + provider_block("entra", entra, "TEST_ENTRA_SECRET")
        + provider_block("stadt", stadt, "TEST_STADT_SECRET")
        + member_block("entra", "omar", '["admin", "mentor"]')
        + member_block("stadt", "anna", '["mentor"]'),
        encoding="utf-8",
    )
    return directory


class NicknamePlugin:
    """A tenant plugin implementing ``map_claims``: shows people by their nickname."""

    def __init__(self) -> None:
        self.PLUGIN = PluginInfo(
            id="nicknames", name="Nicknames", description="Display nicknames.", version="1"
        )
        self.calls: list[tuple[str, str]] = []

    @hookimpl
    def map_claims(
        self, tenant: TenantSnapshot, provider_id: str, claims: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        self.calls.append((tenant.slug, provider_id))
        nickname = claims.get("nickname")
        return {"name": nickname} if nickname else None


@dataclass
class World:
    web: Client
    db: Database
    providers: dict[str, Provider]
    nicknames: NicknamePlugin


@pytest.fixture
async def world(
    db: Database,
    settings: Settings,
    providers: dict[str, Provider],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[World]:
    monkeypatch.setenv("TEST_STADT_SECRET", providers["stadt"].client_secret)
    monkeypatch.setenv("TEST_ENTRA_SECRET", providers["entra"].client_secret)
    nicknames = NicknamePlugin()
    plugins = PluginHost.load(entry_points=False, extra=[nicknames])
    await sync_tenants(db, plugins, tenant_files(tmp_path, providers), settings.themes_dir)
    async with AsyncTestClient(make_app(settings, plugins), base_url="http://localhost") as web:
        web.follow_redirects = False  # every redirect is part of what is tested
        yield World(web, db, providers, nicknames)


# --- helpers ---------------------------------------------------------------------------


async def start(w: World, host: str, provider_id: str, query: str = "") -> str:
    """Open /login/oidc/<id> on ``host``; return where the app sends the browser."""
    response = await w.web.get(f"/login/oidc/{provider_id}{query}", headers={"host": host})
    assert response.status_code == 303, response.text
    return response.headers["location"]


async def at_provider(w: World, provider: str, location: str, sub: str, **kw: Any) -> dict:
    assert location.startswith(w.providers[provider].mock.issuer + "/")
    return await w.providers[provider].mock.authorize(location, sub, **kw)


async def callback(
    w: World, host: str, provider_id: str, params: Mapping[str, str], headers: dict | None = None
) -> httpx.Response:
    return await w.web.get(
        f"/login/oidc/{provider_id}/callback",
        params=dict(params),
        headers={"host": host, **(headers or {})},
    )


async def sign_in(w: World, host: str, provider: str, sub: str) -> httpx.Response:
    location = await start(w, host, provider)
    return await callback(w, host, provider, await at_provider(w, provider, location, sub))


async def session_rows(db: Database) -> list[AuthSession]:
    async with db.platform_session() as session:
        return list(await session.scalars(select(AuthSession)))


async def live_sessions(db: Database) -> int:
    return sum(1 for row in await session_rows(db) if row.revoked_at is None)


async def tenant_id(db: Database, slug: str) -> uuid.UUID:
    async with db.platform_session() as session:
        found = await session.scalar(select(Tenant.id).where(Tenant.slug == slug))
    assert found is not None
    return found


async def audit_log(db: Database, slug: str) -> list[audit.AuditEntry]:
    async with db.tenant_session(await tenant_id(db, slug)) as session:
        return list(reversed(await audit.recent_entries(session)))


async def attempt_count(db: Database, slug: str) -> int:
    async with db.tenant_session(await tenant_id(db, slug)) as session:
        return await session.scalar(select(func.count()).select_from(OIDCLoginAttempt)) or 0


def has_logout_control(page: httpx.Response) -> bool:
    return bool(re.search(r'<form method="post" action="/logout">', page.text))


def csrf_token(page: httpx.Response) -> str:
    match = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert match, "the page has no CSRF field"
    return match.group(1)


def assert_german_error(response: httpx.Response, status: int, reference: str) -> None:
    assert response.status_code == status, response.text
    assert 'lang="de"' in response.text
    assert LOGIN_FAILED_DE in response.text
    assert f'<code translate="no">{reference}</code>' in response.text
    assert "set-cookie" not in response.headers or "tandem_session=" not in str(
        response.headers.get_list("set-cookie")
    )


# --- the happy path, two tenants, two providers ----------------------------------------


async def test_sign_in_on_two_tenants_through_their_own_providers(world: World) -> None:
    w = world
    login_page = await w.web.get("/login", headers={"host": MUENCHEN, **DE})
    assert login_page.status_code == 200
    assert 'href="/login/oidc/stadt"' in login_page.text
    assert "/login/oidc/entra" not in login_page.text  # Augsburg's provider is not listed here

    location = await start(w, MUENCHEN, "stadt")
    query = dict(httpx.URL(location).params)
    assert query["redirect_uri"] == f"http://{MUENCHEN}/login/oidc/stadt/callback"
    assert query["code_challenge_method"] == "S256" and query["ui_locales"] == "de"
    assert await attempt_count(w.db, "muenchen") == 1
    done = await callback(w, MUENCHEN, "stadt", await at_provider(w, "stadt", location, "anna"))
    assert done.status_code == 303 and done.headers["location"] == "/"
    assert "tandem_session=" in str(done.headers.get_list("set-cookie"))
    assert await attempt_count(w.db, "muenchen") == 0  # spent

    home = await w.web.get("/", headers={"host": MUENCHEN})
    assert has_logout_control(home) and "Anna Berger" in home.text

    # The same person through the same issuer on Augsburg, where they are a mentor,
    # and Omar through Augsburg's own provider: each a session on its own host.
    w.web.cookies.clear()
    done = await sign_in(w, AUGSBURG, "entra", "omar")
    assert done.status_code == 303
    home = await w.web.get("/", headers={"host": AUGSBURG})
    assert has_logout_control(home) and "Omar Haddad" in home.text

    rows = await session_rows(w.db)
    assert {row.tenant_id for row in rows} == {
        await tenant_id(w.db, "muenchen"),
        await tenant_id(w.db, "augsburg"),
    }
    async with w.db.platform_session() as session:
        identities = {
            (i.issuer, i.subject) for i in await session.scalars(select(ExternalIdentity))
        }
    assert (w.providers["stadt"].mock.issuer, "anna") in identities
    assert (w.providers["entra"].mock.issuer, "omar") in identities
    [login] = [e for e in await audit_log(w.db, "augsburg") if e.action == "login"]
    assert login.details["provider"] == "entra"


async def test_members_from_the_tenant_files_are_linked_by_issuer_and_subject(
    world: World,
) -> None:
    w = world
    async with w.db.platform_session() as session:
        anna = await session.scalar(
            select(User)
            .join(ExternalIdentity, ExternalIdentity.user_id == User.id)
            .where(ExternalIdentity.subject == "anna")
        )
    assert anna is not None
    roles = {}
    for slug in ("muenchen", "augsburg"):
        async with w.db.tenant_session(await tenant_id(w.db, slug)) as session:
            membership = await session.scalar(
                select(Membership).where(Membership.user_id == anna.id)
            )
            roles[slug] = membership.roles if membership else None
    assert roles == {"muenchen": ["mentee"], "augsburg": ["mentor"]}


async def test_login_returns_to_a_local_next_page_only(world: World) -> None:
    w = world
    page = await w.web.get("/login?next=/account/sessions", headers={"host": MUENCHEN})
    assert 'href="/login/oidc/stadt?next=/account/sessions"' in page.text
    location = await start(w, MUENCHEN, "stadt", "?next=/account/sessions")
    done = await callback(w, MUENCHEN, "stadt", await at_provider(w, "stadt", location, "anna"))
    assert done.headers["location"] == "/account/sessions"

    location = await start(w, MUENCHEN, "stadt", "?next=//evil.example/x")
    done = await callback(w, MUENCHEN, "stadt", await at_provider(w, "stadt", location, "anna"))
    assert done.headers["location"] == "/"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/account/sessions?x=1", "/account/sessions?x=1"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("javascript:alert(1)", "/"),
        ("/ok\r\nSet-Cookie: x", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_safe_next_keeps_only_local_paths(value: str | None, expected: str) -> None:
    assert safe_next(value) == expected


async def test_a_new_login_replaces_the_session_the_browser_had(world: World) -> None:
    w = world
    await sign_in(w, MUENCHEN, "stadt", "anna")
    await sign_in(w, MUENCHEN, "stadt", "anna")
    rows = await session_rows(w.db)
    assert len(rows) == 2 and sum(row.revoked_at is None for row in rows) == 1


async def test_map_claims_of_the_tenants_plugin_sets_the_profile(world: World) -> None:
    w = world
    await sign_in(w, MUENCHEN, "stadt", "nick")
    home = await w.web.get("/", headers={"host": MUENCHEN})
    assert has_logout_control(home) and "Niko" in home.text and "Petrović" not in home.text
    assert w.nicknames.calls == [("muenchen", "stadt")]
    # Augsburg has not enabled the plugin: the hook does not reach it there.
    await sign_in(w, AUGSBURG, "entra", "omar")
    assert w.nicknames.calls == [("muenchen", "stadt")]


async def test_logout_ends_the_session_on_the_server(world: World) -> None:
    w = world
    await sign_in(w, MUENCHEN, "stadt", "anna")
    home = await w.web.get("/", headers={"host": MUENCHEN})
    out = await w.web.post(
        "/logout", headers={"host": MUENCHEN}, data={"_csrf_token": csrf_token(home)}
    )
    assert out.status_code == 303
    [row] = await session_rows(w.db)
    assert row.revoked_at is not None
    assert not has_logout_control(await w.web.get("/", headers={"host": MUENCHEN}))
    assert [e.action for e in await audit_log(w.db, "muenchen")][-2:] == ["login", "logout"]


# --- rejections: a readable German page, no session ------------------------------------


async def assert_rejected_without_session(
    w: World, response: httpx.Response, status: int, reference: str
) -> None:
    assert_german_error(response, status, reference)
    assert await live_sessions(w.db) == 0
    assert not has_logout_control(await w.web.get("/", headers={"host": MUENCHEN}))
    failures = [e for e in await audit_log(w.db, "muenchen") if e.action == "login_failed"]
    assert failures and failures[-1].details["reason"] == reference


async def test_missing_state_is_rejected(world: World) -> None:
    w = world
    params = await at_provider(w, "stadt", await start(w, MUENCHEN, "stadt"), "anna")
    del params["state"]
    response = await callback(w, MUENCHEN, "stadt", params, DE)
    await assert_rejected_without_session(w, response, 400, "state_mismatch")


async def test_wrong_state_is_rejected_and_does_not_spend_the_real_one(world: World) -> None:
    w = world
    params = await at_provider(w, "stadt", await start(w, MUENCHEN, "stadt"), "anna")
    response = await callback(w, MUENCHEN, "stadt", {**params, "state": "forged"}, DE)
    await assert_rejected_without_session(w, response, 400, "state_mismatch")
    assert await attempt_count(w.db, "muenchen") == 1


async def test_a_replayed_callback_is_rejected(world: World) -> None:
    w = world
    params = await at_provider(w, "stadt", await start(w, MUENCHEN, "stadt"), "anna")
    assert (await callback(w, MUENCHEN, "stadt", params)).status_code == 303
    [first] = await session_rows(w.db)
    w.web.cookies.clear()
    replay = await callback(w, MUENCHEN, "stadt", params, DE)
    assert_german_error(replay, 400, "state_mismatch")
    assert [row.id for row in await session_rows(w.db)] == [first.id]


async def test_a_denied_authorization_is_rejected(world: World) -> None:
    w = world
    location = await start(w, MUENCHEN, "stadt")
    params = await at_provider(w, "stadt", location, "anna", deny=True)
    # RFC 6749 §4.1.2.1 returns the state with an error; oidc-provider-mock leaves
    # it out, so it is put back here as a conforming provider would send it.
    state = httpx.URL(location).params["state"]
    response = await callback(w, MUENCHEN, "stadt", {**params, "state": state}, DE)
    await assert_rejected_without_session(w, response, 400, "provider_error")
    assert await attempt_count(w.db, "muenchen") == 0  # an error spends the attempt too


async def test_a_callback_on_another_tenants_host_is_rejected(world: World) -> None:
    w = world
    params = await at_provider(w, "stadt", await start(w, MUENCHEN, "stadt"), "anna")
    # Anna is an Augsburg member too, and Augsburg lists the same provider: only
    # the attempt, which belongs to München, stands between this and a session.
    response = await callback(w, AUGSBURG, "stadt", params, DE)
    assert_german_error(response, 400, "state_mismatch")
    assert await live_sessions(w.db) == 0
    [failure] = [e for e in await audit_log(w.db, "augsburg") if e.action == "login_failed"]
    assert failure.details == {"provider": "stadt", "reason": "state_mismatch"}
    # München's attempt was not touched by Augsburg and still completes at home.
    assert await attempt_count(w.db, "muenchen") == 1
    assert (await callback(w, MUENCHEN, "stadt", params)).status_code == 303


async def test_a_provider_the_tenant_does_not_have_is_not_found(world: World) -> None:
    w = world
    for path in ("/login/oidc/entra", "/login/oidc/entra/callback?state=x&code=y"):
        response = await w.web.get(path, headers={"host": MUENCHEN, **DE})
        assert response.status_code == 404 and 'lang="de"' in response.text
    assert await live_sessions(w.db) == 0


async def test_a_session_cookie_is_not_valid_on_another_tenant(world: World) -> None:
    w = world
    await sign_in(w, MUENCHEN, "stadt", "anna")  # Anna is a member of Augsburg as well
    assert has_logout_control(await w.web.get("/", headers={"host": MUENCHEN}))
    elsewhere = await w.web.get("/", headers={"host": AUGSBURG, **DE})
    assert elsewhere.status_code == 200 and not has_logout_control(elsewhere)
    sessions_page = await w.web.get("/account/sessions", headers={"host": AUGSBURG})
    assert sessions_page.status_code == 303
    assert sessions_page.headers["location"].startswith("/login?next=")


async def test_a_suspended_tenant_cannot_be_signed_in_to(world: World) -> None:
    w = world
    location = await start(w, MUENCHEN, "stadt")
    params = await at_provider(w, "stadt", location, "anna")
    async with w.db.platform_session() as session, session.begin():
        tenant = await session.get(Tenant, await tenant_id(w.db, "muenchen"))
        assert tenant is not None
        tenant.status = TenantStatus.SUSPENDED
    for response in (
        await callback(w, MUENCHEN, "stadt", params, DE),
        await w.web.get("/login/oidc/stadt", headers={"host": MUENCHEN, **DE}),
        await w.web.get("/login", headers={"host": MUENCHEN, **DE}),
    ):
        assert response.status_code == 410 and 'lang="de"' in response.text
    assert await live_sessions(w.db) == 0
    # Augsburg is not affected.
    assert (await sign_in(w, AUGSBURG, "entra", "omar")).status_code == 303


async def test_a_person_without_membership_gets_a_page_explaining_how_to_apply(
    world: World,
) -> None:
    w = world
    response = await sign_in(w, MUENCHEN, "stadt", "zoe")
    assert response.status_code == 403
    assert 'lang="de"' in response.text and "Zoe Fischer" in response.text
    assert 'href="/#how-it-works"' in response.text
    assert gettext("de", "You are not part of this programme yet") in response.text
    assert await live_sessions(w.db) == 0
    [failure] = [e for e in await audit_log(w.db, "muenchen") if e.action == "login_failed"]
    assert failure.details["reason"] == "no_membership" and failure.actor_user_id is not None


async def test_a_missing_client_secret_is_a_readable_error(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = world
    monkeypatch.delenv("TEST_STADT_SECRET")
    response = await w.web.get("/login/oidc/stadt", headers={"host": MUENCHEN, **DE})
    await assert_rejected_without_session(w, response, 400, "misconfigured")
    assert w.providers["stadt"].client_secret not in response.text


async def test_tenant_providers_do_not_exist_on_the_platform_host(world: World) -> None:
    # The platform's /login is for operators (tests/test_operator_login.py).
    w = world
    for path in ("/login/oidc/stadt", "/login/oidc/stadt/callback?state=x"):
        response = await w.web.get(path, headers={"host": PLATFORM})
        assert response.status_code == 404, path
    page = await w.web.get("/login", headers={"host": PLATFORM})
    assert page.status_code == 200 and "/login/oidc/stadt" not in page.text


def test_every_error_code_has_a_german_message() -> None:
    assert set(ERROR_MESSAGES) == set(ErrorCode)
    for code, message in ERROR_MESSAGES.items():
        assert gettext("de", message) != message, code


# --- the attempt store -----------------------------------------------------------------


def attempt(state: str, created_at: float) -> LoginAttempt:
    return LoginAttempt(
        state=state,
        nonce="n-" + state,
        code_verifier="v" * 86,
        issuer="http://127.0.0.1:1",
        client_id="c",
        redirect_uri="http://muenchen.localhost:8000/login/oidc/stadt/callback",
        created_at=created_at,
    )


async def test_the_attempt_store_is_single_use_tenant_scoped_and_expires(world: World) -> None:
    db = world.db
    muenchen, augsburg = await tenant_id(db, "muenchen"), await tenant_id(db, "augsburg")
    now = time.time()
    store = DatabaseLoginAttemptStore(db, muenchen, provider_id="stadt", next_path="/x")
    await store.put(attempt("s1", now))
    async with db.tenant_session(muenchen) as session:
        [row] = await session.scalars(select(OIDCLoginAttempt))
    assert row.state_hash != "s1" and len(row.state_hash) == 64  # only a hash is stored

    assert await DatabaseLoginAttemptStore(db, augsburg).take("s1") is None
    taken = await store.take("s1")
    assert taken is not None and taken.nonce == "n-s1" and taken.state == "s1"
    assert store.taken is not None and store.taken.next_path == "/x"
    assert await store.take("s1") is None

    late = DatabaseLoginAttemptStore(db, muenchen, max_age=600, clock=lambda: now + 601)
    await store.put(attempt("s2", now))
    assert await late.take("s2") is None
    # Stale rows go when anyone starts a login in that tenant.
    await store.put(attempt("s3", now - 601))
    await store.put(attempt("s4", now))
    assert await attempt_count(db, "muenchen") == 1


async def test_sync_reports_members_once_and_refuses_unknown_providers_and_roles(
    db: Database, settings: Settings, providers: dict[str, Provider], tmp_path: Path
) -> None:
    directory = tenant_files(tmp_path, providers)
    path = directory / "muenchen.toml"
    text = path.read_text(encoding="utf-8").replace("[plugins.nicknames]\n", "")
    path.write_text(text, encoding="utf-8")
    plugins = PluginHost.load(entry_points=False)
    report = await sync_tenants(db, plugins, directory, settings.themes_dir)
    assert "muenchen: added member anna (mentee)" in report.changes
    assert "augsburg: added member omar (admin, mentor)" in report.changes
    again = await sync_tenants(db, plugins, directory, settings.themes_dir)
    assert again.changes == []

    path.write_text(text.replace('["mentor"]', '["mentee", "mentor"]'), encoding="utf-8")
    report = await sync_tenants(db, plugins, directory, settings.themes_dir)
    assert report.changes[:1] == ["muenchen: changed roles of member nick (mentor, mentee)"]

    unknown = text.replace(
        'provider = "stadt"\nsubject = "anna"', 'provider = "x"\nsubject = "anna"'
    )
    for content, expected in (
        (
            text.replace('["mentor"]', '["mentor", "boss"]'),
            "muenchen.toml: members.1.roles: unknown role(s): boss",
        ),
        (
            unknown,
            "muenchen.toml: members.0.provider: no identity provider 'x' in this file "
            "(have: stadt)",
        ),
    ):
        path.write_text(content, encoding="utf-8")
        with pytest.raises(TenantFilesError) as raised:
            await sync_tenants(db, plugins, directory, settings.themes_dir)
        assert [str(problem) for problem in raised.value.problems] == [expected]


async def test_the_demo_tenants_have_an_admin_a_mentor_and_a_mentee(
    db: Database, settings: Settings
) -> None:
    plugins = PluginHost.load()
    report = await sync_tenants(db, plugins, settings.tenants_dir, settings.themes_dir)
    assert sum("added member" in line for line in report.changes) == 10
    for slug in ("muenchen", "augsburg", "toronto"):
        async with db.tenant_session(await tenant_id(db, slug)) as session:
            roles = sorted(r for m in await session.scalars(select(Membership)) for r in m.roles)
        # Augsburg has a second mentee, who signs in by e-mail link (no SSO account).
        extra = ["mentee"] if slug == "augsburg" else []
        assert roles == sorted(["admin", "mentee", "mentor", *extra]), slug
    async with db.platform_session() as session:
        coordinator = await session.scalar(
            select(ExternalIdentity).where(
                ExternalIdentity.subject == "coordinator@muenchen.example"
            )
        )
    assert coordinator is not None and coordinator.issuer == "http://127.0.0.1:8010"
