"""``/dev/login``: one-click sign-in as a demo user, in development only, on both backends."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from core.db.sessions import Database
from core.identity import audit
from core.pluginhost.manager import PluginHost
from core.settings import Settings
from core.tenancy.models import Tenant
from core.web.controllers.dev_login import DevLogin
from tests.conftest import make_app
from tests.test_identity_sessions import csrf_token, grant, make_user, tenant_ids

Client = AsyncTestClient[Litestar]
MUENCHEN = "muenchen.localhost:8000"
AUGSBURG = "augsburg.localhost:8000"
PLATFORM = "localhost:8000"


def with_env(settings: Settings, env: str) -> Settings:
    return Settings(**{**settings.model_dump(), "env": env, "secret_key": "k" * 40})


async def client_for(app: Litestar, *, https: bool = False) -> AsyncIterator[Client]:
    # Production sets the CSRF cookie Secure: its forms work over HTTPS only.
    base_url = "https://localhost" if https else "http://localhost"
    async with AsyncTestClient(app, base_url=base_url) as client:
        client.follow_redirects = False
        yield client


@pytest.fixture
async def dev(synced: Database, settings: Settings, plugins: PluginHost) -> AsyncIterator[Client]:
    async for client in client_for(make_app(with_env(settings, "development"), plugins)):
        yield client


async def sign_in(client: Client, host: str, user_id: object) -> tuple[int, str]:
    token = csrf_token(await client.get("/dev/login/", headers={"host": host}))
    response = await client.post(
        f"/dev/login/{user_id}", headers={"host": host}, data={"_csrf_token": token}
    )
    return response.status_code, response.headers.get("location", "")


async def test_a_tenant_lists_its_members_and_signs_them_in(dev: Client, synced: Database) -> None:
    ids = await tenant_ids(synced)
    ada, bo = await make_user(synced, "Adelheid"), await make_user(synced, "Bodwin")
    operator = await make_user(synced, "Olgaria", operator=True)
    await grant(synced, ids["muenchen"], ada, ["admin", "mentor"])
    await grant(synced, ids["augsburg"], bo, ["mentee"])

    page = await dev.get("/dev/login/", headers={"host": MUENCHEN, "accept-language": "en"})
    assert page.status_code == 200
    assert "Adelheid" in page.text and "Coordinator (admin), Mentor " in page.text
    assert "Bodwin" not in page.text and "Olgaria" not in page.text
    assert f'action="/dev/login/{ada.id}"' in page.text

    assert await sign_in(dev, MUENCHEN, ada.id) == (303, "/")
    sessions = await dev.get("/account/sessions", headers={"host": MUENCHEN})
    assert sessions.status_code == 200 and "Adelheid" in sessions.text
    async with synced.tenant_session(ids["muenchen"]) as session:
        entries = await audit.recent_entries(session)
    assert entries[0].action == "login" and entries[0].details["method"] == "dev_login"

    # Nobody who is not listed on this host: another tenant's member, an operator.
    for stranger in (bo, operator):
        assert (await sign_in(dev, MUENCHEN, stranger.id))[0] == 404
    # The München session does not count on Augsburg, which lists only Bo.
    augsburg = await dev.get("/dev/login/", headers={"host": AUGSBURG})
    assert "Bodwin" in augsburg.text and "Adelheid" not in augsburg.text
    assert "Signed in as" not in augsburg.text


async def test_the_platform_host_lists_operators_and_opens_the_console(
    dev: Client, synced: Database
) -> None:
    ids = await tenant_ids(synced)
    operator = await make_user(synced, "Olgaria", operator=True)
    ada = await make_user(synced, "Adelheid")
    await grant(synced, ids["muenchen"], ada, ["admin"])
    page = await dev.get("/dev/login/", headers={"host": PLATFORM, "accept-language": "de"})
    assert page.status_code == 200
    assert "Olgaria" in page.text and "Adelheid" not in page.text
    assert "Entwicklungs-Anmeldung" in page.text  # in the visitor's language
    assert (await sign_in(dev, PLATFORM, ada.id))[0] == 404
    assert await sign_in(dev, PLATFORM, operator.id) == (303, "/")
    assert (await dev.get("/operator/", headers={"host": PLATFORM})).status_code == 200


async def test_a_tenant_without_members_says_so(dev: Client, synced: Database) -> None:
    async with synced.platform_session() as session, session.begin():
        session.add(Tenant(slug="leer", name="Leer", default_locale="en", locales=["en"]))
    page = await dev.get("/dev/login/", headers={"host": "leer.localhost:8000"})
    assert page.status_code == 200
    assert "has no members yet" in page.text
    assert not re.search(r'action="/dev/login/[0-9a-f-]{36}"', page.text)


async def test_signing_in_needs_the_csrf_token(dev: Client, synced: Database) -> None:
    operator = await make_user(synced, "Olgaria", operator=True)
    response = await dev.post(f"/dev/login/{operator.id}", headers={"host": PLATFORM})
    assert response.status_code == 403
    assert "tandem_session" not in response.headers.get("set-cookie", "")


@pytest.mark.parametrize("env", ["production", "test"])
async def test_dev_login_does_not_exist_outside_development(
    synced: Database, settings: Settings, plugins: PluginHost, env: str
) -> None:
    operator = await make_user(synced, "Olgaria", operator=True)
    app = make_app(with_env(settings, env), plugins)
    assert not [r for r in app.routes if r.path.startswith("/dev/login")]
    async for client in client_for(app, https=env == "production"):
        for host in (PLATFORM, MUENCHEN):
            assert (await client.get("/dev/login/", headers={"host": host})).status_code == 404
            token = csrf_token(await client.get("/", headers={"host": host}))
            response = await client.post(
                f"/dev/login/{operator.id}", headers={"host": host}, data={"_csrf_token": token}
            )
            assert response.status_code == 404
            assert "tandem_session" not in response.headers.get("set-cookie", "")


async def test_even_registered_by_mistake_it_answers_404_in_production(
    synced: Database, settings: Settings, plugins: PluginHost
) -> None:
    """No setting turns it on: the handlers themselves check the environment."""
    operator = await make_user(synced, "Olgaria", operator=True)
    app = make_app(with_env(settings, "production"), plugins)
    app.register(DevLogin)
    async for client in client_for(app, https=True):
        assert (await client.get("/dev/login/", headers={"host": PLATFORM})).status_code == 404
        token = csrf_token(await client.get("/", headers={"host": PLATFORM}))
        response = await client.post(
            f"/dev/login/{operator.id}", headers={"host": PLATFORM}, data={"_csrf_token": token}
        )
        assert response.status_code == 404
