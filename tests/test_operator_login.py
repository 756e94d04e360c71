"""Operator sign-in on the platform host, against a real OpenID provider on loopback.

One ``oidc-provider-mock`` plays a company's sign-in service that both the platform
(for its operators) and München (for its participants) use, with one client each:
so the same people exist at one issuer, and only the (issuer, subject) link and the
operator flag decide who may use the console. Sessions and attempts must stay on
the host they were made on in both directions.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from click.testing import Result
from litestar import Litestar
from litestar.testing import AsyncTestClient
from pydantic import ValidationError
from sqlalchemy import func, select

from core.db.sessions import Database
from core.i18n.catalogs import gettext
from core.identity.attempts import OIDCLoginAttempt, PlatformLoginAttempt
from core.identity.models import AuthSession, ExternalIdentity, User
from core.identity.operators import add_operator
from core.identity.sessions import start_session
from core.pluginhost.manager import PluginHost
from core.settings import ROOT, Settings
from core.tenancy.sync import sync_tenants
from tests import test_cli
from tests.conftest import MigratedDatabase, make_app
from tests.oidc_provider import MockProvider, run_mock_providers
from tests.test_cli import Invoke
from tests.test_identity_sessions import csrf_token, login
from tests.test_login_flow import has_logout_control

pytestmark = pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning")

Client = AsyncTestClient[Litestar]
PLATFORM = "localhost:8000"
MUENCHEN = "muenchen.localhost:8000"
DE = {"accept-language": "de"}
EN = {"accept-language": "en"}
OPERATOR_CALLBACK = f"http://{PLATFORM}/login/oidc/operator/callback"


@dataclass
class Company:
    """The sign-in service, with the platform's and München's clients."""

    mock: MockProvider
    platform_client: tuple[str, str]
    muenchen_client: tuple[str, str]


@pytest.fixture(scope="module")
def company() -> Iterator[Company]:
    with run_mock_providers(1) as (mock,):
        platform = mock.register_client(OPERATOR_CALLBACK)
        muenchen = mock.register_client(f"http://{MUENCHEN}/login/oidc/stadt/callback")
        mock.set_user("olga", {"name": "Olga Operator", "email": "olga@tandem.example"})
        mock.set_user("anna", {"name": "Anna Berger", "email": "anna@muenchen.example"})
        mock.set_user("zoe", {"name": "Zoe Fischer", "email": "zoe@example.org"})
        yield Company(
            mock,
            (platform.client_id, platform.client_secret),
            (muenchen.client_id, muenchen.client_secret),
        )


def operator_settings(migrated: MigratedDatabase, company: Company, **extra: object) -> Settings:
    client_id, secret = company.platform_client
    return migrated.settings(
        operator_oidc_issuer=company.mock.issuer,
        operator_oidc_client_id=client_id,
        operator_oidc_client_secret=secret,
        **extra,
    )


@dataclass
class World:
    web: Client
    db: Database
    company: Company
    olga: User


@pytest.fixture
async def world(
    migrated: MigratedDatabase,
    db: Database,
    company: Company,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[World]:
    settings = operator_settings(migrated, company)
    client_id, secret = company.muenchen_client
    monkeypatch.setenv("TEST_MUENCHEN_SECRET", secret)
    (tmp_path / "muenchen.toml").write_text(
        'slug = "muenchen"\nname = "Mentoring München"\ndefault_locale = "de"\n'
        'locales = ["de", "en"]\n\n[[identity_providers]]\nid = "stadt"\n'
        f'name = "Stadt SSO"\nissuer = "{company.mock.issuer}"\nclient_id = "{client_id}"\n'
        'client_secret_env = "TEST_MUENCHEN_SECRET"\n\n'
        '[[members]]\nprovider = "stadt"\nsubject = "anna"\nroles = ["mentee"]\n',
        encoding="utf-8",
    )
    plugins = PluginHost.load(entry_points=False)
    await sync_tenants(db, plugins, tmp_path, settings.themes_dir)
    async with db.platform_session() as session, session.begin():
        _, olga = await add_operator(
            session, "olga@tandem.example", "Olga", (company.mock.issuer, "olga")
        )
    async with AsyncTestClient(make_app(settings, plugins), base_url="http://localhost") as web:
        web.follow_redirects = False
        yield World(web, db, company, olga)


# --- helpers ---------------------------------------------------------------------------


async def start(w: World, host: str, path: str, headers: dict | None = None) -> str:
    response = await w.web.get(path, headers={"host": host, **(headers or {})})
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(w.company.mock.issuer + "/")
    return location


async def at_provider(w: World, host: str, path: str, sub: str) -> dict[str, str]:
    """Start a login on ``host`` and sign in at the provider as ``sub``; the callback's query."""
    return await w.company.mock.authorize(await start(w, host, path), sub)


async def operator_callback(
    w: World, params: dict[str, str], headers: dict | None = None
) -> httpx.Response:
    return await w.web.get(
        "/login/oidc/operator/callback",
        params=params,
        headers={"host": PLATFORM, **(headers or {})},
    )


async def operator_sign_in(w: World, sub: str, headers: dict | None = None) -> httpx.Response:
    params = await at_provider(w, PLATFORM, "/login/oidc/operator", sub)
    return await operator_callback(w, params, headers)


async def sessions(db: Database) -> list[AuthSession]:
    async with db.platform_session() as session:
        return list(await session.scalars(select(AuthSession)))


async def live_sessions(db: Database) -> list[AuthSession]:
    return [row for row in await sessions(db) if row.revoked_at is None]


async def platform_attempts(db: Database) -> int:
    async with db.platform_session() as session:
        return await session.scalar(select(func.count()).select_from(PlatformLoginAttempt)) or 0


async def tenant_attempts(db: Database) -> int:
    # Counted as the owner would see them: a platform session has no tenant, so the
    # tenant-owned table is read through each tenant's own session.
    from core.tenancy.models import Tenant

    async with db.platform_session() as session:
        tenant_ids = list(await session.scalars(select(Tenant.id)))
    total = 0
    for tenant_id in tenant_ids:
        async with db.tenant_session(tenant_id) as session:
            query = select(func.count()).select_from(OIDCLoginAttempt)
            total += await session.scalar(query) or 0
    return total


def sets_session_cookie(response: httpx.Response) -> bool:
    return "tandem_session=" in str(response.headers.get_list("set-cookie"))


def assert_login_error(response: httpx.Response, reference: str, locale: str = "de") -> None:
    assert response.status_code == 400, response.text
    assert f'lang="{locale}"' in response.text
    assert gettext(locale, "Sign-in did not work") in response.text
    assert f'<code translate="no">{reference}</code>' in response.text
    assert not sets_session_cookie(response)


# --- the happy path ----------------------------------------------------------------------


async def test_an_operator_signs_in_and_lands_on_the_console(world: World) -> None:
    w = world
    page = await w.web.get("/login", headers={"host": PLATFORM, **EN})
    assert page.status_code == 200
    assert "Sign in as operator" in page.text and 'href="/login/oidc/operator"' in page.text

    location = await start(w, PLATFORM, "/login/oidc/operator", DE)
    query = dict(httpx.URL(location).params)
    assert query["redirect_uri"] == OPERATOR_CALLBACK
    assert query["client_id"] == w.company.platform_client[0]
    assert query["code_challenge_method"] == "S256" and query["ui_locales"] == "de"
    assert await platform_attempts(w.db) == 1 and await tenant_attempts(w.db) == 0

    done = await operator_callback(w, await w.company.mock.authorize(location, "olga"))
    assert done.status_code == 303 and done.headers["location"] == "/operator"
    assert sets_session_cookie(done)
    assert await platform_attempts(w.db) == 0  # spent
    [row] = await live_sessions(w.db)
    assert row.tenant_id is None and row.user_id == w.olga.id

    console = await w.web.get("/operator/", headers={"host": PLATFORM, **EN})
    assert console.status_code == 200 and has_logout_control(console)
    assert 'href="/operator/"' in console.text and "Olga" in console.text


async def test_the_platform_session_is_not_valid_on_a_tenant_host(world: World) -> None:
    w = world
    assert (await operator_sign_in(w, "olga")).status_code == 303
    assert has_logout_control(await w.web.get("/", headers={"host": PLATFORM}))
    # On München's host the same cookie is nobody's: logged out, sent to sign in.
    for path, status in (("/", 200), ("/account/sessions", 303)):
        response = await w.web.get(path, headers={"host": MUENCHEN})
        assert response.status_code == status and not has_logout_control(response)
    assert response.headers["location"] == "/login?next=/account/sessions"


async def test_a_tenant_session_is_not_valid_on_the_platform_host(world: World) -> None:
    w = world
    params = await at_provider(w, MUENCHEN, "/login/oidc/stadt", "anna")
    signed_in = await w.web.get(
        "/login/oidc/stadt/callback", params=params, headers={"host": MUENCHEN}
    )
    assert signed_in.status_code == 303
    assert has_logout_control(await w.web.get("/", headers={"host": MUENCHEN}))
    platform_home = await w.web.get("/", headers={"host": PLATFORM, **EN})
    assert not has_logout_control(platform_home)
    assert '<a href="/login">Operator sign-in</a>' in platform_home.text
    console = await w.web.get("/operator/", headers={"host": PLATFORM})
    assert console.status_code == 303
    assert console.headers["location"] == "/login?next=/operator"
    # …which offers the plain operator sign-in, and that ends at the console.
    page = await w.web.get(console.headers["location"], headers={"host": PLATFORM})
    assert 'href="/login/oidc/operator"' in page.text


async def test_the_console_sends_the_operator_back_where_they_were_going(world: World) -> None:
    w = world
    page = await w.web.get("/login?next=/operator/?done=created", headers={"host": PLATFORM})
    assert 'href="/login/oidc/operator?next=/operator/%3Fdone%3Dcreated"' in page.text
    path = "/login/oidc/operator?next=/operator/%3Fdone%3Dcreated"
    done = await operator_callback(w, await at_provider(w, PLATFORM, path, "olga"))
    assert done.headers["location"] == "/operator/?done=created"
    path = "/login/oidc/operator?next=//evil.example/"
    done = await operator_callback(w, await at_provider(w, PLATFORM, path, "olga"))
    assert done.status_code == 303 and done.headers["location"] == "/"


async def test_logout_on_the_platform_host_ends_the_platform_session(world: World) -> None:
    w = world
    await operator_sign_in(w, "olga")
    page = await w.web.get("/operator/", headers={"host": PLATFORM})
    out = await w.web.post(
        "/logout", headers={"host": PLATFORM}, data={"_csrf_token": csrf_token(page)}
    )
    assert out.status_code == 303
    assert await live_sessions(w.db) == []
    assert (await w.web.get("/operator/", headers={"host": PLATFORM})).status_code == 303


# --- who may not: a readable 403, no session, a warning in the log ---------------------


@pytest.mark.parametrize(
    ("sub", "headers", "title"),
    [
        ("zoe", DE, "Dieses Konto gehört nicht zum Plattformbetrieb"),  # known to nobody here
        ("anna", EN, "This account is not an operator"),  # a München participant
    ],
)
async def test_anyone_but_an_operator_is_refused(
    world: World,
    caplog: pytest.LogCaptureFixture,
    sub: str,
    headers: dict[str, str],
    title: str,
) -> None:
    w = world
    async with w.db.platform_session() as session:
        users_before = await session.scalar(select(func.count()).select_from(User))
    with caplog.at_level(logging.WARNING, logger="core.web.controllers.operator_login"):
        response = await operator_sign_in(w, sub, headers)
    assert response.status_code == 403
    assert title in response.text and f'<code translate="no">{sub}</code>' in response.text
    assert not sets_session_cookie(response)
    assert await live_sessions(w.db) == []
    assert (await w.web.get("/operator/", headers={"host": PLATFORM})).status_code == 303
    [record] = [r for r in caplog.records if "refused" in r.getMessage()]
    assert record.levelno == logging.WARNING and repr(sub) in record.getMessage()
    async with w.db.platform_session() as session:
        # Nobody is created by trying: the platform is no sign-up page.
        assert await session.scalar(select(func.count()).select_from(User)) == users_before


async def test_an_operator_who_lost_the_role_is_refused(world: World) -> None:
    w = world
    async with w.db.platform_session() as session, session.begin():
        olga = await session.get(User, w.olga.id)
        assert olga is not None
        olga.is_operator = False
    response = await operator_sign_in(w, "olga", EN)
    assert response.status_code == 403 and "Olga" in response.text
    assert await live_sessions(w.db) == []


# --- broken or replayed callbacks -----------------------------------------------------------


async def test_a_wrong_state_is_rejected_and_the_real_one_stays(world: World) -> None:
    w = world
    params = await at_provider(w, PLATFORM, "/login/oidc/operator", "olga")
    response = await operator_callback(w, {**params, "state": "forged"}, DE)
    assert_login_error(response, "state_mismatch")
    assert await live_sessions(w.db) == [] and await platform_attempts(w.db) == 1
    missing = {key: value for key, value in params.items() if key != "state"}
    assert_login_error(await operator_callback(w, missing, EN), "state_mismatch", "en")


async def test_a_replayed_callback_is_rejected(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    w = world
    params = await at_provider(w, PLATFORM, "/login/oidc/operator", "olga")
    assert (await operator_callback(w, params)).status_code == 303
    w.web.cookies.clear()
    with caplog.at_level(logging.WARNING, logger="core.web.controllers.operator_login"):
        replay = await operator_callback(w, params, DE)
    assert_login_error(replay, "state_mismatch")
    assert len(await sessions(w.db)) == 1
    assert any("operator sign-in failed" in r.getMessage() for r in caplog.records)


async def test_a_tenant_login_cannot_complete_on_the_platform_host(world: World) -> None:
    w = world
    # Olga is an operator at this very issuer; only the attempt, which belongs to
    # München, stands between this callback and a platform session.
    params = await at_provider(w, MUENCHEN, "/login/oidc/stadt", "olga")
    response = await operator_callback(w, params, DE)
    assert_login_error(response, "state_mismatch")
    assert await live_sessions(w.db) == []
    assert await tenant_attempts(w.db) == 1  # München's attempt was not touched


async def test_a_platform_login_cannot_complete_on_a_tenant_host(world: World) -> None:
    w = world
    params = await at_provider(w, PLATFORM, "/login/oidc/operator", "anna")
    response = await w.web.get(
        "/login/oidc/stadt/callback", params=params, headers={"host": MUENCHEN, **DE}
    )
    assert_login_error(response, "state_mismatch")
    assert await live_sessions(w.db) == []
    assert await platform_attempts(w.db) == 1
    # The platform host has only its own provider; a tenant's URL is not found there.
    for path in ("/login/oidc/stadt", "/login/oidc/stadt/callback?state=x&code=y"):
        assert (await w.web.get(path, headers={"host": PLATFORM})).status_code == 404


# --- not configured ----------------------------------------------------------------------


@pytest.mark.parametrize("env", ["test", "development"])
async def test_without_configuration_the_page_explains_and_nothing_starts(
    migrated: MigratedDatabase, synced: Database, env: str
) -> None:
    settings = migrated.settings(env=env)
    async with AsyncTestClient(make_app(settings), base_url="http://localhost") as web:
        web.follow_redirects = False
        page = await web.get("/login", headers={"host": PLATFORM, **DE})
        assert page.status_code == 200
        assert gettext("de", "Operator sign-in is not configured on this platform.") in page.text
        assert "TANDEM_OPERATOR_OIDC_ISSUER" in page.text
        assert "/login/oidc/operator" not in page.text
        assert ('href="/dev/login"' in page.text) == (env == "development")
        for path in ("/login/oidc/operator", "/login/oidc/operator/callback?state=x&code=y"):
            response = await web.get(path, headers={"host": PLATFORM, **DE})
            assert response.status_code == 404 and 'lang="de"' in response.text
        # The tenant's sign-in page is untouched by all this.
        tenant = await web.get("/login", headers={"host": MUENCHEN})
        assert tenant.status_code == 200 and "Operator" not in tenant.text


async def test_the_login_page_speaks_german_and_english(world: World) -> None:
    w = world
    login(w.web, await start_session(w.db, None, w.olga))
    german = await w.web.get("/login", headers={"host": PLATFORM, **DE})
    assert 'lang="de"' in german.text
    assert gettext("de", "Sign in as operator") in german.text != "Sign in as operator"
    assert "Olga" in german.text  # already signed in: said so
    english = await w.web.get("/login", headers={"host": PLATFORM, **EN})
    assert 'lang="en"' in english.text and "Sign in as operator" in english.text


# --- settings ------------------------------------------------------------------------------


@pytest.fixture
def bare_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("TANDEM_"):
            monkeypatch.delenv(name)


SECRET = "s3cr3t-do-not-show"


def test_settings_need_all_three_and_never_show_the_secret(bare_env: None) -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(operator_oidc_issuer="https://id.example", operator_oidc_client_secret=SECRET)
    assert "TANDEM_OPERATOR_OIDC_CLIENT_ID" in str(raised.value)
    assert SECRET not in str(raised.value)
    settings = Settings(
        operator_oidc_issuer="https://id.example",
        operator_oidc_client_id="tandem",
        operator_oidc_client_secret=SECRET,
        operator_oidc_scopes="openid email",
    )
    assert SECRET not in repr(settings) and SECRET not in str(settings.model_dump())
    config = settings.operator_provider()
    assert config is not None and config.scopes == ("openid", "email")
    assert SECRET not in repr(config)
    assert Settings().operator_provider() is None


@pytest.mark.parametrize(
    ("env", "issuer", "problem"),
    [
        ("production", "http://127.0.0.1:8013", "https"),
        ("development", "http://id.example", "https"),
        ("development", "not a url", "absolute URL"),
        ("development", "https://id.example/?tenant=x", "query"),
    ],
)
def test_settings_refuse_a_bad_issuer(bare_env: None, env: str, issuer: str, problem: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(
            env=env,
            secret_key="k" * 48,
            operator_oidc_issuer=issuer,
            operator_oidc_client_id="tandem",
            operator_oidc_client_secret=SECRET,
        )
    assert problem in str(raised.value) and SECRET not in str(raised.value)


def test_production_accepts_an_https_issuer(bare_env: None) -> None:
    settings = Settings(
        env="production",
        secret_key="k" * 48,
        operator_oidc_issuer="https://login.example.org/realms/ops",
        operator_oidc_client_id="tandem",
        operator_oidc_client_secret=SECRET,
        root=ROOT,
    )
    assert settings.operator_sign_in_configured


# --- tandem operators add --subject / remove ------------------------------------------------

ISSUER = "https://login.example.org/realms/ops"
# tests/test_cli.py's `cli` fixture: runs `tandem` against this test's database.
ops_cli = test_cli.cli
OPERATOR_ENV = {
    "operator_oidc_issuer": ISSUER,
    "operator_oidc_client_id": "tandem",
    "operator_oidc_client_secret": SECRET,
}


def add(run: Invoke, email: str, subject: str, *, ok: bool = True) -> Result:
    """``tandem operators add EMAIL --subject SUBJECT`` with operator sign-in configured."""
    result = run("operators", "add", email, "--subject", subject, **OPERATOR_ENV)
    assert (result.exit_code == 0) == ok, result.output
    return result


def accounts(settings: Settings) -> list[tuple[str | None, bool, list[tuple[str, str]]]]:
    """(e-mail, is operator, identities) of every account, by e-mail."""

    async def read() -> list[tuple[str | None, bool, list[tuple[str, str]]]]:
        db = Database(settings.database_url)
        try:
            async with db.platform_session() as session:
                users = list(await session.scalars(select(User).order_by(User.email)))
                identities = list(await session.scalars(select(ExternalIdentity)))
        finally:
            await db.dispose()
        return [
            (
                user.email,
                user.is_operator,
                sorted((i.issuer, i.subject) for i in identities if i.user_id == user.id),
            )
            for user in users
        ]

    return asyncio.run(read())


def test_operators_add_with_a_subject_links_and_is_idempotent(
    ops_cli: Invoke,
    settings: Settings,
) -> None:
    first = add(ops_cli, "ops@tandem.example", "u-42")
    assert "created" in first.output and "'u-42'" in first.output and ISSUER in first.output
    again = add(ops_cli, "ops@tandem.example", "u-42")
    assert "exists already" in again.output
    assert accounts(settings) == [("ops@tandem.example", True, [(ISSUER, "u-42")])]
    assert SECRET not in first.output + again.output


def test_operators_add_links_an_existing_operator_or_account(
    ops_cli: Invoke,
    settings: Settings,
) -> None:
    # An operator made before sign-in existed gets the identity added.
    assert ops_cli("operators", "add", "ops@tandem.example").exit_code == 0
    assert "linked" in add(ops_cli, "ops@tandem.example", "u-1").output
    # Someone who already signed in somewhere with that identity becomes the operator.

    async def participant() -> None:
        db = Database(settings.database_url)
        try:
            async with db.platform_session() as session, session.begin():
                user = User(email="anna@muenchen.example", display_name="Anna")
                session.add(user)
                await session.flush()
                session.add(ExternalIdentity(user_id=user.id, issuer=ISSUER, subject="anna"))
        finally:
            await db.dispose()

    asyncio.run(participant())
    promoted = add(ops_cli, "anna@tandem.example", "anna")
    assert "anna@muenchen.example is now an operator" in promoted.output
    assert accounts(settings) == [
        ("anna@muenchen.example", True, [(ISSUER, "anna")]),
        ("ops@tandem.example", True, [(ISSUER, "u-1")]),
    ]


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--subject", "u-9"], {}, "TANDEM_OPERATOR_OIDC_ISSUER"),  # not configured
        (["--subject", ""], OPERATOR_ENV, "subject"),
        (["--subject", " u-9"], OPERATOR_ENV, "subject"),
        (["--subject", "x" * 256], OPERATOR_ENV, "subject"),
        (["--subject", "zoë"], OPERATOR_ENV, "subject"),
        (["--subject", "u-1"], OPERATOR_ENV, "another account"),  # u-1 is ops@'s
        (["--subject", "u-2"], OPERATOR_ENV, "already"),  # ops2@ signs in as u-3
    ],
)
def test_operators_add_refuses_and_changes_nothing(
    ops_cli: Invoke,
    settings: Settings,
    args: list[str],
    env: dict[str, str],
    message: str,
) -> None:
    add(ops_cli, "ops@tandem.example", "u-1")
    add(ops_cli, "ops2@tandem.example", "u-3")
    before = accounts(settings)
    email = "ops2@tandem.example" if message in ("another account", "already") else "new@x.example"
    result = ops_cli("operators", "add", email, *args, **env)
    assert result.exit_code != 0
    assert message in result.output
    assert accounts(settings) == before


def test_operators_remove_drops_the_role_and_ends_platform_sessions(
    ops_cli: Invoke,
    settings: Settings,
) -> None:
    add(ops_cli, "ops@tandem.example", "u-1")

    async def sign_in() -> None:
        db = Database(settings.database_url)
        try:
            async with db.platform_session() as session:
                user = await session.scalar(select(User))
            assert user is not None
            await start_session(db, None, user)
        finally:
            await db.dispose()

    asyncio.run(sign_in())
    removed = ops_cli("operators", "remove", "ops@tandem.example")
    assert removed.exit_code == 0, removed.output
    assert "no operator any more" in removed.output and "sessions" in removed.output
    assert accounts(settings) == [("ops@tandem.example", False, [(ISSUER, "u-1")])]

    async def live() -> int:
        db = Database(settings.database_url)
        try:
            return len(await live_sessions(db))
        finally:
            await db.dispose()

    assert asyncio.run(live()) == 0
    again = ops_cli("operators", "remove", "ops@tandem.example")
    assert again.exit_code != 0 and "no operator ops@tandem.example" in again.output
