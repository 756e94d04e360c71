"""The operator console on the platform host: who may use it, and what it changes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from core.db.sessions import Database
from core.identity import audit
from core.identity.sessions import start_session
from core.pluginhost.manager import PluginHost
from core.settings import Settings
from core.tenancy.models import Tenant, TenantDomain, TenantStatus
from tests.conftest import make_app
from tests.test_identity_sessions import csrf_token, grant, login, make_user, tenant_ids

Client = AsyncTestClient[Litestar]
MUENCHEN = "muenchen.localhost:8000"
PLATFORM = "localhost:8000"


@pytest.fixture
async def web(synced: Database, settings: Settings, plugins: PluginHost) -> AsyncIterator[Client]:
    async with AsyncTestClient(make_app(settings, plugins), base_url="http://localhost") as c:
        c.follow_redirects = False
        yield c


@pytest.fixture
async def as_operator(web: Client, synced: Database) -> Client:
    operator = await make_user(synced, "Olgaria", operator=True)
    login(web, await start_session(synced, None, operator))
    return web


async def submit(
    client: Client, path: str, data: dict[str, str], host: str = PLATFORM, lang: str = "en"
) -> httpx.Response:
    token = csrf_token(await client.get("/", headers={"host": host}))
    headers = {"host": host, "accept-language": lang}
    return await client.post(path, headers=headers, data={"_csrf_token": token, **data})


async def tenants(db: Database) -> dict[str, Tenant]:
    async with db.platform_session() as session:
        return {t.slug: t for t in await session.scalars(select(Tenant))}


NEW = {"slug": "wien", "name": "Mentoring Wien", "locales": "de, en", "default_locale": "de",
       "theme": "default"}  # fmt: skip


async def test_only_operators_on_the_platform_host_see_the_console(
    web: Client, synced: Database
) -> None:
    ids = await tenant_ids(synced)
    response = await web.get("/operator/", headers={"host": PLATFORM})
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=/operator")
    admin = await make_user(synced, "Sabinea")
    await grant(synced, ids["muenchen"], admin, ["admin"])
    # A München admin's session does not count on the platform host: logged out there.
    login(web, await start_session(synced, ids["muenchen"], admin))
    assert (await web.get("/operator/", headers={"host": PLATFORM})).status_code == 303
    # Signed in on the platform host, but no operator.
    login(web, await start_session(synced, None, admin))
    assert (await web.get("/operator/", headers={"host": PLATFORM})).status_code == 403
    operator = await make_user(synced, "Olgaria", operator=True)
    login(web, await start_session(synced, None, operator))
    page = await web.get("/operator/", headers={"host": PLATFORM, "accept-language": "en"})
    assert page.status_code == 200
    for slug in ("augsburg", "muenchen", "toronto"):
        assert f'action="/operator/tenants/{slug}/suspend"' in page.text
    assert "tandem tenants sync" in page.text


async def test_no_operator_action_exists_on_a_tenant_host(web: Client, synced: Database) -> None:
    ids = await tenant_ids(synced)
    operator = await make_user(synced, "Olgaria", operator=True)
    await grant(synced, ids["muenchen"], operator, ["admin"])
    login(web, await start_session(synced, ids["muenchen"], operator))
    assert (await web.get("/operator/", headers={"host": MUENCHEN})).status_code == 404
    for path, data in [
        ("/operator/tenants", NEW),
        ("/operator/tenants/muenchen/suspend", {}),
        ("/operator/tenants/muenchen/reactivate", {}),
        ("/operator/tenants/muenchen/domains", {"domain": "m.example.org"}),
        ("/operator/tenants/muenchen/domains/remove", {"domain": "m.example.org"}),
    ]:
        assert (await submit(web, path, data, host=MUENCHEN)).status_code == 404, path
    assert set(await tenants(synced)) == {"augsburg", "muenchen", "toronto"}
    assert (await tenants(synced))["muenchen"].is_active


async def test_an_operator_creates_a_tenant_that_answers_at_once(
    as_operator: Client, synced: Database
) -> None:
    response = await submit(as_operator, "/operator/tenants", NEW)
    assert response.status_code == 303
    assert response.headers["location"] == "/operator/?done=created&tenant=wien"
    wien = (await tenants(synced))["wien"]
    assert (wien.name, wien.locales, wien.default_locale, wien.theme) == (
        "Mentoring Wien", ["de", "en"], "de", "default"
    )  # fmt: skip
    page = await as_operator.get(response.headers["location"], headers={"host": PLATFORM})
    assert "The programme wien was created." in page.text
    home = await as_operator.get("/", headers={"host": "wien.localhost:8000"})
    assert home.status_code == 200 and "Mentoring Wien" in home.text


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"slug": "Bad Slug!"}, "new-slug", "Use lower-case letters, digits and hyphens only"),
        ({"slug": "-wien"}, "new-slug", "Use lower-case letters, digits and hyphens only"),
        ({"slug": "admin"}, "new-slug", "reserved for the platform"),
        ({"slug": "muenchen"}, "new-slug", "exists already"),
        ({"slug": ""}, "new-slug", "Enter a short name"),
        ({"name": ""}, "new-name", "Enter the programme&#39;s name."),
        ({"name": "a\nb"}, "new-name", "at most 200 characters on one line"),
        ({"locales": "de, xx-nonsense"}, "new-locales", "Use language codes such as"),
        ({"locales": "de, de"}, "new-locales", "only once"),
        ({"default_locale": "fr"}, "new-default_locale", "must be one of the languages"),
        ({"theme": "../../etc"}, "new-theme", "Choose one of the themes offered."),
    ],
)
async def test_invalid_tenants_are_refused_with_the_problem_next_to_the_field(
    as_operator: Client, synced: Database, change: dict[str, str], field: str, message: str
) -> None:
    before = await tenants(synced)
    response = await submit(as_operator, "/operator/tenants", {**NEW, **change})
    assert response.status_code == 422
    assert message in response.text
    assert f'id="{field}-error"' in response.text  # next to its field …
    assert f'href="#{field}"' in response.text  # … and linked from the summary
    assert f'aria-describedby="{field}-hint {field}-error"' in response.text or (
        f'aria-describedby="{field}-error"' in response.text
    )
    assert set(await tenants(synced)) == set(before)


async def test_errors_come_in_the_operators_language(as_operator: Client) -> None:
    response = await submit(as_operator, "/operator/tenants", {**NEW, "slug": "admin"}, lang="de")
    assert response.status_code == 422
    assert "für die Plattform reserviert" in response.text


async def test_suspending_a_tenant_makes_it_answer_410_until_reactivated(
    as_operator: Client, synced: Database
) -> None:
    revision = (await tenants(synced))["muenchen"].revision
    assert (await as_operator.get("/", headers={"host": MUENCHEN})).status_code == 200
    response = await submit(as_operator, "/operator/tenants/muenchen/suspend", {})
    assert response.status_code == 303
    muenchen = (await tenants(synced))["muenchen"]
    assert muenchen.status == TenantStatus.SUSPENDED and muenchen.revision == revision + 1
    assert (await as_operator.get("/", headers={"host": MUENCHEN})).status_code == 410
    assert (await as_operator.get("/", headers={"host": "augsburg.localhost"})).status_code == 200
    # The tenant's admins can see what the platform did.
    async with synced.tenant_session(muenchen.id) as session:
        entries = await audit.recent_entries(session)
    assert entries[0].action == "tenant_changed" and entries[0].details == {"status": "suspended"}

    assert (
        await submit(as_operator, "/operator/tenants/muenchen/reactivate", {})
    ).status_code == 303
    assert (await as_operator.get("/", headers={"host": MUENCHEN})).status_code == 200
    assert (await submit(as_operator, "/operator/tenants/nowhere/suspend", {})).status_code == 404


async def test_custom_domains_are_added_and_removed(as_operator: Client, synced: Database) -> None:
    host = {"host": "mentoring.muenchen.example"}
    assert (await as_operator.get("/", headers=host)).status_code == 404
    response = await submit(
        as_operator, "/operator/tenants/muenchen/domains", {"domain": "Mentoring.Muenchen.Example"}
    )
    assert response.status_code == 303
    page = await as_operator.get("/", headers=host)
    assert page.status_code == 200 and "München" in page.text
    # Unique across tenants, with a clear message.
    taken = await submit(
        as_operator, "/operator/tenants/augsburg/domains", {"domain": "mentoring.muenchen.example"}
    )
    assert taken.status_code == 422
    assert "already used by another programme" in taken.text
    assert 'id="domain-augsburg-error"' in taken.text
    removed = await submit(
        as_operator,
        "/operator/tenants/muenchen/domains/remove",
        {"domain": "mentoring.muenchen.example"},
    )
    assert removed.status_code == 303
    assert (await as_operator.get("/", headers=host)).status_code == 404
    async with synced.platform_session() as session:
        assert (await session.scalars(select(TenantDomain))).all() == []


@pytest.mark.parametrize(
    ("domain", "message"),
    [
        ("https://mentoring.example.org/x", "is not a domain name"),
        ("mentoring.example.org:8443", "is not a domain name"),
        ("localhost", "is not a domain name"),
        ("", "Enter a domain name"),
        ("wien.localhost", "an address of the platform itself"),
        ("192.0.2.1", "an address of the platform itself or an IP address"),
        ("exa mple.org", "is not a domain name"),
    ],
)
async def test_bad_domains_are_refused(
    as_operator: Client, synced: Database, domain: str, message: str
) -> None:
    response = await submit(as_operator, "/operator/tenants/muenchen/domains", {"domain": domain})
    assert response.status_code == 422
    assert message in response.text
    assert 'aria-invalid="true"' in response.text
    async with synced.platform_session() as session:
        assert (await session.scalars(select(TenantDomain))).all() == []


async def test_removing_a_domain_of_another_tenant_is_not_found(
    as_operator: Client, synced: Database
) -> None:
    await submit(as_operator, "/operator/tenants/muenchen/domains", {"domain": "m.example.org"})
    response = await submit(
        as_operator, "/operator/tenants/augsburg/domains/remove", {"domain": "m.example.org"}
    )
    assert response.status_code == 404
    assert (await as_operator.get("/", headers={"host": "m.example.org"})).status_code == 200


async def test_console_forms_need_the_csrf_token(as_operator: Client, synced: Database) -> None:
    response = await as_operator.post(
        "/operator/tenants/muenchen/suspend", headers={"host": PLATFORM, "accept-language": "en"}
    )
    assert response.status_code == 403
    assert "reload the page" in response.text
    assert (await tenants(synced))["muenchen"].is_active
