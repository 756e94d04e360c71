"""``/admin/identity-providers``, stored client secrets, their rotation, and sign-in with them.

The demo tenants come from the repository's files (``synced``): München and Augsburg
each have one provider from their file. Providers added here are the admin page's.
The real sign-in runs against ``oidc-provider-mock``, which checks the client secret
of a registered client, so a working sign-in proves the decrypted secret was sent.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, TypeVar

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from core.crypto import EncryptionKey, Keyring, parse_keys
from core.db.sessions import Database
from core.identity import audit
from core.identity.accounts import find_or_create_user_for_identity
from core.identity.models import AuditEntry, IdentityProvider
from core.identity.oidc import ErrorCode, OIDCError, config_from_record
from core.identity.providers import (
    decrypt_client_secret,
    encrypt_client_secret,
    env_name_owner,
    env_prefix,
)
from core.pluginhost.manager import PluginHost
from core.settings import Settings
from core.tenancy.snapshot import TenantSnapshot
from core.web.controllers import identity_providers as controller
from core.web.controllers.identity_providers import FormRules, read_form
from tests.conftest import make_app
from tests.oidc_provider import MockProvider, run_mock_providers, run_rogue_provider
from tests.test_admin_pages import sign_in, submit
from tests.test_cli import Invoke, cli  # noqa: F401 - the ``cli`` fixture
from tests.test_identity_sessions import grant, tenant_ids

# oidc-provider-mock 0.3.4 uses an authlib server hook deprecated in authlib 1.7.
pytestmark = pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning")

Client = AsyncTestClient[Litestar]
T = TypeVar("T")
MUENCHEN = "muenchen.localhost:8000"
AUGSBURG = "augsburg.localhost:8000"
PLATFORM = "localhost:8000"
PATH = "/admin/identity-providers"
SECRET = "Sup3r-Geheim:Wert/+ü-7f3a9c"
VALID = {
    "provider_id": "city",
    "name": "City Keycloak",
    "issuer": "https://login.city.example/realms/city",
    "client_id": "tandem-city",
    "scopes": "openid email",
    "secret_source": "stored",
    "client_secret": SECRET,
}


@pytest.fixture
async def web(synced: Database, settings: Settings, plugins: PluginHost) -> AsyncIterator[Client]:
    async with AsyncTestClient(make_app(settings, plugins), base_url="http://localhost") as c:
        c.follow_redirects = False
        yield c


@pytest.fixture(scope="module")
def mock() -> Iterator[MockProvider]:
    with run_mock_providers(1) as (provider,):
        provider.set_user("lena", {"name": "Lena Schmid", "email": "lena@example.org"})
        yield provider


async def providers(db: Database, slug: str) -> dict[str, IdentityProvider]:
    async with db.tenant_session((await tenant_ids(db))[slug]) as session:
        return {p.provider_id: p for p in await session.scalars(select(IdentityProvider))}


async def audit_entries(db: Database, slug: str, prefix: str = "identity_provider") -> list:
    async with db.tenant_session((await tenant_ids(db))[slug]) as session:
        entries = await audit.recent_entries(session)
    return [e for e in reversed(entries) if e.action.startswith(prefix)]


async def page(web: Client, path: str = PATH, host: str = MUENCHEN, lang: str = "en") -> str:
    response = await web.get(path, headers={"host": host, "accept-language": lang})
    assert response.status_code == 200, response.text
    return response.text


def keyring(settings: Settings) -> Keyring:
    return Keyring.from_settings(settings)


# --- listing ----------------------------------------------------------------------------


async def test_the_list_says_where_secrets_come_from_and_never_shows_one(
    web: Client, synced: Database
) -> None:
    await sign_in(web, synced, "muenchen", ["admin"])
    assert (await submit(web, PATH, VALID)).status_code == 303
    text = await page(web)
    assert "Environment variable TANDEM_OIDC_MUENCHEN_SECRET" in text
    assert "Managed in the tenant file" in text
    assert "Stored encrypted" in text and "City Keycloak" in text
    assert "https://login.city.example/realms/city" in text and "tandem-city" in text
    stored = (await providers(synced, "muenchen"))["city"]
    assert SECRET not in text and str(stored.client_secret_encrypted) not in text
    # Only the admin page's provider can be edited here.
    file_row = (await providers(synced, "muenchen"))["muenchen-sso"]
    assert f'href="{PATH}/{stored.id}"' in text and f'href="{PATH}/{file_row.id}"' not in text
    edit = await page(web, f"{PATH}/{stored.id}")
    assert SECRET not in edit and 'type="password"' in edit
    assert "A secret is stored; leave this empty to keep it." in edit
    assert f"http://{MUENCHEN}/login/oidc/city/callback" in edit
    # Linked from the admin navigation, in both languages.
    assert f'<a href="{PATH}">Sign-in services</a>' in text
    assert f'<a href="{PATH}">Anmeldedienste</a>' in await page(web, "/", lang="de")


# --- adding, editing, deleting ----------------------------------------------------------


async def test_adding_stores_the_secret_encrypted_audits_and_shows_on_login_at_once(
    web: Client, synced: Database, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    admin = await sign_in(web, synced, "muenchen", ["admin"])
    response = await submit(web, PATH, VALID)
    assert response.status_code == 303
    assert response.headers["location"] == f"{PATH}?done=added&provider=city"
    assert "“City Keycloak” was added" in await page(web, response.headers["location"])

    row = (await providers(synced, "muenchen"))["city"]
    assert (row.source, row.name, row.client_id, row.scopes) == (
        "admin",
        "City Keycloak",
        "tandem-city",
        ["openid", "email"],
    )
    assert row.client_secret_env is None
    assert row.client_secret_encrypted is not None
    assert row.client_secret_encrypted.startswith("v1:dev-insecure:")
    assert SECRET not in row.client_secret_encrypted
    assert decrypt_client_secret(keyring(settings), row) == SECRET
    assert "city" not in await providers(synced, "augsburg")

    [entry] = await audit_entries(synced, "muenchen")
    assert (entry.action, entry.actor_user_id) == ("identity_provider_added", admin)
    assert entry.details == {
        "provider": "city",
        "name": "City Keycloak",
        "issuer": "https://login.city.example/realms/city",
        "client_id": "tandem-city",
        "secret": "stored encrypted",
    }
    audit_page = await page(web, "/admin/audit")
    assert "Sign-in service added" in audit_page and SECRET not in audit_page
    login_page = await web.get("/login", headers={"host": MUENCHEN})
    assert 'href="/login/oidc/city"' in login_page.text and "City Keycloak" in login_page.text
    assert SECRET not in caplog.text


async def test_editing_keeps_an_empty_secret_and_audits_what_changed(
    web: Client, synced: Database, settings: Settings
) -> None:
    await sign_in(web, synced, "muenchen", ["admin"])
    await submit(web, PATH, VALID)
    row = (await providers(synced, "muenchen"))["city"]
    path = f"{PATH}/{row.id}"

    unchanged = await submit(web, path, {**VALID, "client_secret": ""})
    assert unchanged.status_code == 303
    assert (await providers(synced, "muenchen"))["city"].client_secret_encrypted == (
        row.client_secret_encrypted
    )
    assert len(await audit_entries(synced, "muenchen")) == 1, "nothing changed: no entry"

    renamed = await submit(
        web, path, {**VALID, "name": "Stadt-Login", "client_secret": "", "provider_id": "x"}
    )
    assert renamed.headers["location"] == f"{PATH}?done=saved&provider=city"
    after = (await providers(synced, "muenchen"))["city"]
    assert after.name == "Stadt-Login" and after.provider_id == "city", "the id stays"
    assert after.client_secret_encrypted == row.client_secret_encrypted

    await submit(web, path, {**VALID, "client_secret": "a-new-secret"})
    rotated = (await providers(synced, "muenchen"))["city"]
    assert rotated.client_secret_encrypted != row.client_secret_encrypted
    assert decrypt_client_secret(keyring(settings), rotated) == "a-new-secret"

    env = {**VALID, **ENV, "secret_env": "TANDEM_OIDC_MUENCHEN_CITY"}
    assert (await submit(web, path, env)).status_code == 303
    switched = (await providers(synced, "muenchen"))["city"]
    assert (switched.client_secret_env, switched.client_secret_encrypted) == (
        "TANDEM_OIDC_MUENCHEN_CITY",
        None,
    )
    # Back to a stored secret: now one must be pasted.
    back = await submit(web, path, {**VALID, "client_secret": ""})
    assert back.status_code == 422 and "Paste the client secret." in back.text

    changes = [e.details for e in await audit_entries(synced, "muenchen")][1:]
    assert [d["changed"] for d in changes] == [
        ["name"],
        ["name", "client_secret"],
        ["client_secret"],
    ]
    assert changes[-1]["secret"] == "environment variable TANDEM_OIDC_MUENCHEN_CITY"
    assert not any("a-new-secret" in str(d) or SECRET in str(d) for d in changes)


async def test_deleting_needs_confirmation_and_removes_it_from_login(
    web: Client, synced: Database
) -> None:
    await sign_in(web, synced, "muenchen", ["admin"])
    await submit(web, PATH, VALID)
    row = (await providers(synced, "muenchen"))["city"]

    unconfirmed = await submit(web, f"{PATH}/{row.id}/delete", {})
    assert unconfirmed.status_code == 422
    assert 'id="idp-confirm-error"' in unconfirmed.text and "Tick the box" in unconfirmed.text
    assert "city" in await providers(synced, "muenchen")

    deleted = await submit(web, f"{PATH}/{row.id}/delete", {"confirm": "yes"})
    assert deleted.headers["location"] == f"{PATH}?done=deleted&provider=city"
    # Its name is gone with it: the id stands in.
    assert "“city” was deleted" in await page(web, deleted.headers["location"])
    assert "city" not in await providers(synced, "muenchen")
    assert "/login/oidc/city" not in (await web.get("/login", headers={"host": MUENCHEN})).text
    entry = (await audit_entries(synced, "muenchen"))[-1]
    assert (entry.action, entry.details) == (
        "identity_provider_removed",
        {"provider": "city", "name": "City Keycloak"},
    )
    assert (await web.get(f"{PATH}/{row.id}", headers={"host": MUENCHEN})).status_code == 404


async def test_providers_from_the_tenant_file_are_read_only_here(
    web: Client, synced: Database
) -> None:
    await sign_in(web, synced, "muenchen", ["admin"])
    before = (await providers(synced, "muenchen"))["muenchen-sso"]
    path = f"{PATH}/{before.id}"
    for response in (
        await web.get(path, headers={"host": MUENCHEN, "accept-language": "en"}),
        await submit(web, path, {**VALID, "name": "Hijacked"}),
        await submit(web, f"{path}/delete", {"confirm": "yes"}),
    ):
        assert response.status_code == 409
        assert "“München SSO” is managed in the tenant file" in response.text
    after = (await providers(synced, "muenchen"))["muenchen-sso"]
    assert (after.name, after.updated_at) == (before.name, before.updated_at)
    assert await audit_entries(synced, "muenchen") == []


# --- invalid input ----------------------------------------------------------------------

ENV = {"secret_source": "env", "client_secret": ""}
NAMESPACE = "starts with TANDEM_OIDC_MUENCHEN_"
INVALID = [
    ("provider_id", {"provider_id": "City SSO"}, "Use lower-case letters, digits and hyphens"),
    ("provider_id", {"provider_id": "-city"}, "Use lower-case letters, digits and hyphens"),
    ("provider_id", {"provider_id": "muenchen-sso"}, "already has this id"),
    ("provider_id", {"provider_id": "email"}, "reserved for sign-in by e-mail link"),
    ("name", {"name": ""}, "Enter the name people see"),
    ("name", {"name": "x" * 201}, "Use at most 200 characters."),
    ("name", {"name": "City\x07SSO"}, "Use one line without control characters."),
    ("issuer", {"issuer": ""}, "starting with https://"),
    ("issuer", {"issuer": "http://login.city.example"}, "starting with https://"),
    ("issuer", {"issuer": "ftp://login.city.example"}, "starting with https://"),
    ("issuer", {"issuer": "https://login.city.example/?realm=x"}, "starting with https://"),
    ("issuer", {"issuer": "login.city.example"}, "starting with https://"),
    ("client_id", {"client_id": ""}, "Enter the client id"),
    ("client_id", {"client_id": "c" * 256}, "Use at most 255 characters."),
    ("scopes", {"scopes": 'openid "email"'}, "Enter scopes separated by spaces"),
    ("scopes", {"scopes": " ".join(f"s{n}" for n in range(21))}, "Enter scopes separated"),
    ("secret_source", {"secret_source": "clipboard"}, "Choose where the client secret comes"),
    ("client_secret", {"client_secret": ""}, "Paste the client secret."),
    ("client_secret", {"client_secret": "s" * 1001}, "Use at most 1000 characters."),
    ("secret_env", {**ENV, "secret_env": ""}, NAMESPACE),
    # Another tenant's variable, or the platform's own, would be sent to the issuer.
    ("secret_env", {**ENV, "secret_env": "TANDEM_SECRET_KEY"}, NAMESPACE),
    ("secret_env", {**ENV, "secret_env": "TANDEM_OIDC_AUGSBURG_SECRET"}, NAMESPACE),
    ("secret_env", {**ENV, "secret_env": "TANDEM_OIDC_MUENCHEN_"}, NAMESPACE),
    ("secret_env", {**ENV, "secret_env": "tandem_oidc_muenchen_x"}, NAMESPACE),
    ("secret_env", {**ENV, "secret_env": "TANDEM_OIDC_MUENCHEN_SECRET"}, "managed in the tenant"),
    ("client_secret", {**ENV, "secret_env": "TANDEM_OIDC_MUENCHEN_X", "client_secret": "oops"},
     "Leave this empty"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("field", "change", "message"), INVALID, ids=[f"{c[0]}-{n}" for n, c in enumerate(INVALID)]
)
async def test_invalid_input_is_shown_inline_and_nothing_is_stored(
    web: Client, synced: Database, field: str, change: dict[str, str], message: str
) -> None:
    await sign_in(web, synced, "muenchen", ["admin"])
    before = set(await providers(synced, "muenchen"))
    response = await submit(web, PATH, {**VALID, "name": "Typed Name", **change})
    assert response.status_code == 422
    text = response.text
    assert message in text
    assert f'id="idp-{field}-error"' in text and f'href="#idp-{field}"' in text
    assert 'aria-invalid="true"' in text
    if field != "name":
        assert 'value="Typed Name"' in text, "what was typed is shown again"
    assert SECRET not in text and "oops" not in text, "a secret is never shown back"
    assert set(await providers(synced, "muenchen")) == before
    assert await audit_entries(synced, "muenchen") == []


async def test_errors_are_in_german_for_german_visitors(web: Client, synced: Database) -> None:
    await sign_in(web, synced, "muenchen", ["admin"])
    bad = {"provider_id": "Stadt SSO", "name": "", "issuer": "http://x.example", "client_id": ""}
    response = await submit(web, PATH, {**VALID, **bad, "client_secret": ""}, lang="de")
    assert response.status_code == 422 and 'lang="de"' in response.text
    for expected in (
        "Verwenden Sie Kleinbuchstaben, Ziffern und Bindestriche",
        "Geben Sie den Namen ein, den die Leute auf der Anmelde-Schaltfläche sehen.",
        "beginnend mit https://",
        "Geben Sie die Client-ID ein",
        "Fügen Sie das Client-Secret ein.",
        "Bitte korrigieren Sie Folgendes",
    ):
        assert expected in response.text, expected
    env = {**VALID, **ENV, "secret_env": "TANDEM_OIDC_AUGSBURG_X"}
    german_env = await submit(web, PATH, env, lang="de")
    assert "der mit TANDEM_OIDC_MUENCHEN_ beginnt" in german_env.text
    assert set(await providers(synced, "muenchen")) == {"muenchen-sso"}


async def test_an_id_taken_after_the_check_is_an_inline_error_not_a_500(
    web: Client, synced: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As if another coordinator (or a sync) added the id between check and insert.
    real = controller._rules

    async def stale(*args: Any, **kwargs: Any) -> FormRules:
        rules = await real(*args, **kwargs)
        rules.taken_ids = set()
        return rules

    monkeypatch.setattr(controller, "_rules", stale)
    await sign_in(web, synced, "muenchen", ["admin"])
    response = await submit(web, PATH, {**VALID, "provider_id": "muenchen-sso"})
    assert response.status_code == 422
    assert 'id="idp-provider_id-error"' in response.text and "already has this id" in response.text
    assert (await providers(synced, "muenchen"))["muenchen-sso"].source == "file"
    assert await audit_entries(synced, "muenchen") == []


def _rules(**changes: Any) -> FormRules:
    tenant = TenantSnapshot(
        id=uuid.uuid4(),
        slug="a",
        name="A",
        status="active",  # type: ignore[arg-type]
        default_locale="en",
        locales=("en",),
        theme="default",
        revision=1,
    )
    values: dict[str, Any] = {
        "locale": "en",
        "tenant": tenant,
        "production": False,
        "keyring": Keyring([EncryptionKey("k1", b"\x02" * 32)]),
        "taken_ids": set(),
        "file_env_names": set(),
        "tenant_slugs": ["a", "a-b"],
    }
    return FormRules(**(values | changes))


def test_production_refuses_plain_http_issuers_and_secrets_without_keys() -> None:
    loopback = {**VALID, "issuer": "http://127.0.0.1:8010"}
    assert read_form(loopback, _rules())[1] is not None, "loopback http in development"
    production = _rules(production=True, keyring=Keyring([], missing="no keys"))
    shown, parsed = read_form(loopback, production)
    assert parsed is None
    assert set(shown.errors) == {"issuer", "client_secret"}
    assert "no encryption keys" in shown.errors["client_secret"]
    # An environment variable needs no keys.
    env = {**VALID, **ENV, "secret_env": "TANDEM_OIDC_A_CITY"}
    assert read_form(env, production)[1] is not None


def test_a_tenants_variables_do_not_reach_into_a_longer_slugs_namespace() -> None:
    assert env_prefix("a-b") == "TANDEM_OIDC_A_B_"
    assert env_name_owner("TANDEM_OIDC_A_B_SECRET", ["a", "a-b"]) == "a-b"
    assert env_name_owner("TANDEM_OIDC_A_SECRET", ["a", "a-b"]) == "a"
    assert env_name_owner("TANDEM_SECRET_KEY", ["a", "a-b"]) is None
    shown, parsed = read_form({**VALID, **ENV, "secret_env": "TANDEM_OIDC_A_B_SECRET"}, _rules())
    assert parsed is None and "TANDEM_OIDC_A_" in shown.errors["secret_env"]


# --- who may ----------------------------------------------------------------------------


async def _paths(db: Database, slug: str) -> list[str]:
    rows = await providers(db, slug)
    row = next(r for r in rows.values() if r.source == "admin")
    return [f"{PATH}/{row.id}", f"{PATH}/{row.id}/delete", f"{PATH}/{row.id}/check"]


async def test_a_mentor_gets_403_and_a_visitor_the_login_page(
    web: Client, synced: Database
) -> None:
    await sign_in(web, synced, "muenchen", ["admin"])
    await submit(web, PATH, VALID)
    edit, delete, check = await _paths(synced, "muenchen")
    await sign_in(web, synced, "muenchen", ["mentor", "mentee"])
    for path in (PATH, edit):
        assert (await web.get(path, headers={"host": MUENCHEN})).status_code == 403
    for path in (PATH, edit, delete, check):
        assert (await submit(web, path, {**VALID, "confirm": "yes"})).status_code == 403
    web.cookies.clear()
    response = await web.get(edit, headers={"host": MUENCHEN})
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")
    assert (await web.get(PATH, headers={"host": PLATFORM})).status_code == 404
    assert (await providers(synced, "muenchen"))["city"].name == "City Keycloak"


async def test_another_tenants_admin_can_neither_see_nor_change_them(
    web: Client, synced: Database
) -> None:
    await sign_in(web, synced, "muenchen", ["admin"])
    await submit(web, PATH, VALID)
    before = (await providers(synced, "muenchen"))["city"]
    edit, delete, check = await _paths(synced, "muenchen")
    # München's session on Augsburg's host counts for nothing there.
    response = await web.get(PATH, headers={"host": AUGSBURG})
    assert response.status_code == 303 and response.headers["location"].startswith("/login")

    await sign_in(web, synced, "augsburg", ["admin"])
    listing = await page(web, host=AUGSBURG)
    assert "City Keycloak" not in listing and "München SSO" not in listing
    assert (await web.get(edit, headers={"host": AUGSBURG})).status_code == 404
    for path in (edit, delete, check):
        response = await submit(web, path, {**VALID, "name": "Taken", "confirm": "yes"}, AUGSBURG)
        assert response.status_code == 404, path
    after = (await providers(synced, "muenchen"))["city"]
    assert (after.name, after.client_secret_encrypted) == (
        before.name,
        before.client_secret_encrypted,
    )
    # The same id is free in Augsburg: ids are per tenant.
    assert (await submit(web, PATH, VALID, host=AUGSBURG)).status_code == 303


# --- sign-in with a provider added here -------------------------------------------------


async def _member(db: Database, slug: str, issuer: str, subject: str) -> None:
    async with db.platform_session() as platform, platform.begin():
        user = await find_or_create_user_for_identity(platform, issuer, subject, {})
    await grant(db, (await tenant_ids(db))[slug], user, ["mentee"])


async def _sign_in_with(web: Client, mock: MockProvider, provider_id: str) -> httpx.Response:
    start = await web.get(f"/login/oidc/{provider_id}", headers={"host": MUENCHEN})
    assert start.status_code == 303, start.text
    assert start.headers["location"].startswith(mock.issuer + "/")
    params = await mock.authorize(start.headers["location"], "lena")
    return await web.get(
        f"/login/oidc/{provider_id}/callback",
        params=params,
        headers={"host": MUENCHEN, "accept-language": "en"},
    )


async def test_a_provider_added_here_signs_people_in_with_the_decrypted_secret(
    web: Client, synced: Database, mock: MockProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    right = mock.register_client(f"http://{MUENCHEN}/login/oidc/city/callback")
    wrong = mock.register_client(f"http://{MUENCHEN}/login/oidc/city-wrong/callback")
    await sign_in(web, synced, "muenchen", ["admin"])
    for provider_id, client, secret in (
        ("city", right, right.client_secret),
        # A registered client with another client's secret: the provider must refuse it.
        ("city-wrong", wrong, right.client_secret),
    ):
        form = {
            **VALID,
            "provider_id": provider_id,
            "issuer": mock.issuer,
            "client_id": client.client_id,
            "scopes": "openid email profile",
            "client_secret": secret,
        }
        assert (await submit(web, PATH, form)).status_code == 303
    await _member(synced, "muenchen", mock.issuer, "lena")

    done = await _sign_in_with(web, mock, "city")
    assert done.status_code == 303, done.text
    assert "tandem_session=" in str(done.headers.get_list("set-cookie"))
    home = await web.get("/", headers={"host": MUENCHEN})
    assert "Lena Schmid" in home.text

    refused = await _sign_in_with(web, mock, "city-wrong")
    assert refused.status_code == 400
    assert f'<code translate="no">{ErrorCode.TOKEN_EXCHANGE_FAILED}</code>' in refused.text
    # Our logs (the provider's own debug log, another party's, names its clients' secrets).
    ours = [r.getMessage() for r in caplog.records if r.name.startswith(("core", "litestar"))]
    ours += [r.getMessage() for r in caplog.records if r.name.startswith(("httpx", "aiosqlite"))]
    assert ours and not [message for message in ours if right.client_secret in message]


async def test_a_ciphertext_copied_to_another_tenant_does_not_sign_in_there(
    web: Client, synced: Database, settings: Settings
) -> None:
    await sign_in(web, synced, "muenchen", ["admin"])
    await submit(web, PATH, VALID)
    stolen = (await providers(synced, "muenchen"))["city"].client_secret_encrypted
    assert stolen is not None
    augsburg = (await tenant_ids(synced))["augsburg"]
    async with synced.tenant_session(augsburg) as session, session.begin():
        row = IdentityProvider(
            provider_id="city",
            name="Copied",
            issuer=VALID["issuer"],
            client_id="tandem-city",
            source="admin",
        )
        row.use_encrypted_secret(stolen)
        session.add(row)
    copied = (await providers(synced, "augsburg"))["city"]
    with pytest.raises(OIDCError) as caught:
        config_from_record(copied, keyring=keyring(settings))
    assert caught.value.code == ErrorCode.MISCONFIGURED and SECRET not in str(caught.value)
    response = await web.get("/login/oidc/city", headers={"host": AUGSBURG})
    assert response.status_code == 400
    assert f'<code translate="no">{ErrorCode.MISCONFIGURED}</code>' in response.text
    # In München, where it belongs, it still works.
    original = (await providers(synced, "muenchen"))["city"]
    assert config_from_record(original, keyring=keyring(settings)).client_secret == SECRET


# --- checking discovery -----------------------------------------------------------------


async def test_checking_reports_success_and_failures_readably(
    web: Client, synced: Database, mock: MockProvider
) -> None:
    await sign_in(web, synced, "muenchen", ["admin"])
    with run_rogue_provider() as rogue:
        rogue.discovery_overrides = {"issuer": "https://someone-else.example"}
        cases = [
            ("ok", mock.issuer, "stored"),
            ("unset", mock.issuer, "env"),
            ("impostor", rogue.issuer, "stored"),
            ("nowhere", "http://127.0.0.1:9/realms/x", "stored"),
        ]
        for provider_id, issuer, source in cases:
            form = {**VALID, "provider_id": provider_id, "issuer": issuer}
            if source == "env":
                form |= {**ENV, "secret_env": "TANDEM_OIDC_MUENCHEN_NEVER_SET"}
            assert (await submit(web, PATH, form)).status_code == 303
        rows = await providers(synced, "muenchen")

        async def check(provider_id: str) -> str:
            response = await submit(web, f"{PATH}/{rows[provider_id].id}/check", {})
            assert response.status_code == 200
            return response.text

        ok = await check("ok")
        assert 'role="status"' in ok and "its discovery document is valid" in ok
        assert f"{mock.issuer}/oauth2/authorize" in ok
        unset = await check("unset")
        assert "cannot read the client secret" in unset and 'role="alert"' in unset
        assert "(not set on this server)" in unset
        assert "calls itself by another issuer address" in await check("impostor")
        assert "No valid discovery document could be fetched" in await check("nowhere")
        german = await submit(web, f"{PATH}/{rows['nowhere'].id}/check", {}, lang="de")
        assert "ließ sich kein gültiges Discovery-Dokument abrufen" in german.text


# --- the model and the database ---------------------------------------------------------


async def test_exactly_one_secret_source_is_enforced_in_code_and_database(
    synced: Database,
) -> None:
    tenant_id = (await tenant_ids(synced))["muenchen"]
    values = {"name": "X", "issuer": "https://x.example", "client_id": "c", "scopes": []}
    for secret in ({}, {"client_secret_env": "TANDEM_OIDC_X", "client_secret_encrypted": "v1"}):
        async with synced.tenant_session(tenant_id) as session:
            session.add(IdentityProvider(provider_id="x", **values, **secret))
            with pytest.raises(ValueError, match="exactly one of"):
                await session.flush()
        # Past the ORM's check (a Core INSERT), the database's CHECK constraint holds.
        async with synced.tenant_session(tenant_id) as session:
            row = {"id": uuid.uuid4(), "tenant_id": tenant_id, "provider_id": "x"}
            row["source"] = "admin"
            with pytest.raises(IntegrityError):
                await session.execute(insert(IdentityProvider).values(**row, **values, **secret))
    async with synced.tenant_session(tenant_id) as session:
        bad = IdentityProvider(provider_id="x", source="plugin", client_secret_env="X", **values)
        session.add(bad)
        with pytest.raises(ValueError, match="unknown source"):
            await session.flush()
    async with synced.tenant_session(tenant_id) as session:
        count = select(func.count()).select_from(IdentityProvider)
        assert await session.scalar(count) == 1  # the file's provider only


async def test_nothing_is_written_to_the_audit_log_of_another_tenant(
    web: Client, synced: Database
) -> None:
    await sign_in(web, synced, "muenchen", ["admin"])
    await submit(web, PATH, VALID)
    augsburg = (await tenant_ids(synced))["augsburg"]
    async with synced.tenant_session(augsburg) as session:
        actions = list(await session.scalars(select(AuditEntry.action)))
    assert not [a for a in actions if a.startswith("identity_provider")]


# --- tandem secrets rotate --------------------------------------------------------------
# Synchronous, like tests/test_cli.py: the command runs its own event loop, and the
# checks of the database open a fresh one each.


def _entry(key: EncryptionKey) -> str:
    return f"{key.id}:{base64.b64encode(key.material).decode()}"


def _in_db(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    async def go() -> T:
        db = Database(settings.database_url)
        try:
            return await work(db)
        finally:
            await db.dispose()

    return asyncio.run(go())


async def _store(db: Database, slug: str, provider_id: str, ring: Keyring, secret: str) -> None:
    tenant_id = (await tenant_ids(db))[slug]
    async with db.tenant_session(tenant_id) as session, session.begin():
        row = IdentityProvider(
            provider_id=provider_id,
            name=provider_id,
            issuer="https://x.example",
            client_id="c",
            source="admin",
        )
        row.use_encrypted_secret(encrypt_client_secret(ring, tenant_id, provider_id, secret))
        session.add(row)


async def _admin_rows(db: Database) -> dict[str, IdentityProvider]:
    found = {}
    for slug in ("augsburg", "muenchen"):
        for provider_id, row in (await providers(db, slug)).items():
            if row.source == "admin":
                found[f"{slug}/{provider_id}"] = row
    return found


def _ciphertexts(settings: Settings) -> dict[str, str | None]:
    rows = _in_db(settings, _admin_rows)
    return {name: row.client_secret_encrypted for name, row in rows.items()}


def test_rotate_re_encrypts_with_the_first_key_all_or_nothing(
    cli: Invoke,  # noqa: F811 - the fixture imported above
    settings: Settings,
) -> None:
    assert cli("tenants", "sync").exit_code == 0
    k1, k2, k3 = (EncryptionKey(f"k{n}", bytes([n]) * 32) for n in (1, 2, 3))

    async def store(db: Database) -> None:
        await _store(db, "muenchen", "city", Keyring([k1]), "muenchen-secret")
        await _store(db, "augsburg", "entra", Keyring([k1]), "augsburg-secret")

    _in_db(settings, store)
    before = _ciphertexts(settings)

    # k3 cannot read anything: nothing changes, and every failure is named.
    failed = cli("secrets", "rotate", encryption_keys=_entry(k3))
    assert failed.exit_code == 2
    assert "nothing was changed" in failed.stderr
    assert "augsburg/entra: cannot be decrypted: encrypted with key 'k1'" in failed.stderr
    assert "muenchen-secret" not in failed.output and _ciphertexts(settings) == before

    keys = f"{_entry(k2)},{_entry(k1)}"
    dry = cli("secrets", "rotate", "--dry-run", encryption_keys=keys)
    assert dry.exit_code == 0 and "(dry run) muenchen/city: re-encrypted" in dry.stdout
    assert _ciphertexts(settings) == before

    done = cli("secrets", "rotate", encryption_keys=keys)
    assert done.exit_code == 0, done.output
    assert done.stdout.splitlines() == [
        "augsburg/entra: re-encrypted",
        "muenchen/city: re-encrypted",
    ]
    after = _ciphertexts(settings)
    assert all(value and value.startswith("v1:k2:") for value in after.values())
    # The old key can go now.
    rows = _in_db(settings, _admin_rows)
    assert decrypt_client_secret(Keyring([k2]), rows["muenchen/city"]) == "muenchen-secret"
    assert decrypt_client_secret(Keyring([k2]), rows["augsburg/entra"]) == "augsburg-secret"

    again = cli("secrets", "rotate", encryption_keys=keys)
    assert "muenchen/city: already encrypted with the current key" in again.stdout
    assert _ciphertexts(settings) == after


def test_rotate_in_production_without_keys_says_what_to_set(cli: Invoke) -> None:  # noqa: F811
    result = cli("secrets", "rotate", env="production", secret_key="s" * 48)
    assert result.exit_code == 1
    assert "TANDEM_ENCRYPTION_KEYS must be set in production" in result.stderr


def test_new_key_prints_a_usable_entry(cli: Invoke) -> None:  # noqa: F811
    result = cli("secrets", "new-key", "--id", "k2")
    assert result.exit_code == 0
    (key,) = parse_keys(result.stdout.strip())
    assert key.id == "k2"
    assert cli("secrets", "new-key", "--id", "bad id").exit_code == 1
