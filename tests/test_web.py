"""The web layer end to end: host → site, pages, errors, API, headers, CSRF, locales."""

from __future__ import annotations

import asyncio
import random
import re
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import update

from core.db.sessions import Database
from core.i18n.catalogs import gettext
from core.pluginhost.manager import PluginHost
from core.tenancy.models import Tenant, TenantStatus
from tests.conftest import MigratedDatabase, make_app

Client = AsyncTestClient[Litestar]

MUENCHEN = "muenchen.localhost:8000"
AUGSBURG = "augsburg.localhost:8000"
TORONTO = "toronto.localhost:8000"
PLATFORM = "localhost:8000"
TENANT_NAMES = {
    "muenchen": "Landeshauptstadt München",
    "augsburg": "Tür an Tür",
    "toronto": "Toronto Mentoring Partnership",
}
# muenchen's announcement (the plugin is enabled for muenchen only), in both languages.
MUENCHEN_ANNOUNCEMENT = ("Neuer Durchgang ab Februar", "New round starting in February")
SECURITY_HEADERS = {
    "content-security-policy": "frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "strict-origin-when-cross-origin",
}
GARBAGE_HOSTS = [
    "",
    "..",
    "a b",
    "-x.localhost",
    "x" * 300,
    f"{'a' * 64}.localhost",
    "muenchen.localhost:99999",
    "muenchen.localhost:abc",
    "[::1]:8000",
    "[::1",
    "127.0.0.1",
    "1.2.3.4:80",
    "2130706433",
    "a.muenchen.localhost",
    "muenchen.localhost/../x",
    "muenchen.localhost\\evil",
    "user@muenchen.localhost",
    "%6duenchen.localhost",
    "muenchen.localhost%00",
    "<script>.localhost",
    "muenchen.localhost, toronto.localhost",
]
MUENCHEN_FILE = Path(__file__).parents[1] / "tenants" / "muenchen.toml"
MUENCHEN_PLUGINS = tomllib.loads(MUENCHEN_FILE.read_text(encoding="utf-8"))["plugins"]


async def get(client: Client, host: str, path: str = "/", **headers: str) -> httpx.Response:
    return await client.get(path, headers={"host": host, **headers})


def html_tag(response: httpx.Response) -> str:
    match = re.search(r"<html[^>]*>", response.text)
    assert match, "not an HTML page"
    return match.group(0)


def page_lang(response: httpx.Response) -> str:
    match = re.search(r'lang="([^"]+)"', html_tag(response))
    assert match
    return match.group(1)


def csrf_token(response: httpx.Response) -> str:
    match = re.search(r'name="_csrf_token" value="([^"]+)"', response.text)
    assert match, "the page has no CSRF field"
    return match.group(1)


def is_html(response: httpx.Response) -> bool:
    return response.headers["content-type"].startswith("text/html")


def is_problem(response: httpx.Response) -> bool:
    return response.headers["content-type"].startswith("application/problem+json")


def assert_security_headers(response: httpx.Response) -> None:
    for name, expected in SECURITY_HEADERS.items():
        assert expected in response.headers.get(name, ""), (name, response.headers.get(name))


async def set_status(db: Database, slug: str, status: TenantStatus) -> None:
    """Suspend (or reactivate) a tenant the way the operator does: a platform session."""
    async with db.platform_session() as session, session.begin():
        await session.execute(update(Tenant).where(Tenant.slug == slug).values(status=status))


# --- tenant and platform pages ---------------------------------------------------------


async def test_each_demo_tenant_home_page(client: Client) -> None:
    for slug, lang in [("muenchen", "de"), ("augsburg", "de"), ("toronto", "en")]:
        response = await get(client, f"{slug}.localhost:8000")
        assert response.status_code == 200, slug
        assert is_html(response)
        assert TENANT_NAMES[slug] in response.text
        assert f'href="/static/themes/{slug}/theme.css"' in response.text
        for other in set(TENANT_NAMES) - {slug}:
            assert f"/static/themes/{other}/" not in response.text, (slug, other)
            assert TENANT_NAMES[other] not in response.text, (slug, other)
        assert page_lang(response) == lang, slug
        assert 'dir="ltr"' in html_tag(response)
        css = await get(client, f"{slug}.localhost:8000", f"/static/themes/{slug}/theme.css")
        assert css.status_code == 200
        assert css.headers["content-type"].startswith("text/css")


async def test_platform_page_lists_the_tenants_with_links(client: Client) -> None:
    response = await get(client, PLATFORM)
    assert response.status_code == 200
    assert is_html(response)
    assert page_lang(response) == "en"
    for slug, name in TENANT_NAMES.items():
        assert name in response.text
        assert f'href="http://{slug}.localhost:8000/"' in response.text
    # The platform's page is no tenant's page.
    assert "/static/themes/default/theme.css" in response.text
    for announcement in MUENCHEN_ANNOUNCEMENT:
        assert announcement not in response.text


async def test_platform_links_follow_the_port_used(client: Client) -> None:
    response = await get(client, "localhost")
    assert 'href="http://toronto.localhost/"' in response.text


async def test_platform_page_leaves_out_a_suspended_tenant(
    client: Client, synced: Database
) -> None:
    await set_status(synced, "augsburg", TenantStatus.SUSPENDED)
    response = await get(client, PLATFORM)
    assert response.status_code == 200
    assert TENANT_NAMES["augsburg"] not in response.text
    assert TENANT_NAMES["toronto"] in response.text


async def test_a_tenant_never_shows_another_tenant_s_plugin_data(client: Client) -> None:
    muenchen = await get(client, MUENCHEN)
    assert MUENCHEN_ANNOUNCEMENT[0] in muenchen.text
    muenchen_en = await get(client, MUENCHEN, **{"accept-language": "en"})
    assert MUENCHEN_ANNOUNCEMENT[1] in muenchen_en.text
    for host in (AUGSBURG, TORONTO):
        for language in ("de", "en"):
            other = await get(client, host, **{"accept-language": language})
            assert other.status_code == 200
            for text in MUENCHEN_ANNOUNCEMENT:
                assert text not in other.text, (host, language)
        api = await get(client, host, "/api/v1/site")
        # Their own plugins (augsburg has email_login) are theirs; München's is not.
        assert "announcements" not in api.json()["tenant"]["plugins"]


async def test_base_layout_is_accessible(client: Client) -> None:
    text = (await get(client, MUENCHEN)).text
    assert re.search(r'<a class="skip-link" href="#main">[^<]+</a>', text)
    assert text.index('href="#main"') < text.index("<header")  # the first thing to tab to
    assert "<header" in text and "<footer" in text
    assert re.search(r'<nav aria-label="[^"]+"', text)
    assert re.search(r'<main id="main"', text)
    select = re.search(r'<select id="([^"]+)" name="locale">', text)
    assert select, "no language select"
    assert re.search(rf'<label for="{select.group(1)}">[^<]+</label>', text)
    # The form works without JavaScript: a real POST with a submit button.
    assert '<form class="language-switcher" method="post" action="/language">' in text
    assert '<button type="submit">' in text


# --- unknown, reserved, garbage and suspended hosts --------------------------------------


async def test_unknown_reserved_and_ip_hosts_get_a_404_page(client: Client) -> None:
    for host in ["nosuch.localhost:8000", "www.localhost", "admin.localhost", "127.0.0.1"]:
        response = await get(client, host)
        assert response.status_code == 404, host
        assert is_html(response)
        assert_security_headers(response)
        for slug, name in TENANT_NAMES.items():
            assert name not in response.text, host
            assert f"/static/themes/{slug}/" not in response.text  # no fallback tenant
        for text in MUENCHEN_ANNOUNCEMENT:
            assert text not in response.text


async def test_unknown_host_page_speaks_the_visitor_s_language(client: Client) -> None:
    response = await get(client, "nosuch.localhost:8000", **{"accept-language": "de-DE,de;q=0.9"})
    assert response.status_code == 404
    assert page_lang(response) == "de"
    # Whatever the German catalogue says (English until it exists), the page says it.
    assert gettext("de", "Page not found") in response.text
    english = await get(client, "nosuch.localhost:8000", **{"accept-language": "en"})
    assert page_lang(english) == "en"
    assert "Page not found" in english.text


async def test_unknown_host_on_any_path_is_404(client: Client) -> None:
    for path in ("/", "/language", "/api/v1/site", "/static/themes/muenchen/theme.css"):
        response = await get(client, "nosuch.localhost", path)
        assert response.status_code == 404, path
    problem = await get(client, "nosuch.localhost", "/api/v1/site")
    assert is_problem(problem)
    assert problem.json()["status"] == 404


async def test_probes_answer_on_any_host(client: Client) -> None:
    hosts = ["127.0.0.1", "10.0.0.7:8000", "[::1]:8000", "nosuch.localhost", "www.localhost", ""]
    for host in hosts:
        for path in ("/healthz", "/readyz"):
            response = await get(client, host, path)
            assert response.status_code == 200, (host, path, response.text)
            assert response.json()["status"] == "ok"


async def test_probes_answer_for_a_suspended_tenant_host(client: Client, synced: Database) -> None:
    await set_status(synced, "toronto", TenantStatus.SUSPENDED)
    assert (await get(client, TORONTO, "/healthz")).status_code == 200
    assert (await get(client, TORONTO, "/")).status_code == 410


async def test_garbage_host_headers_never_cause_a_server_error(client: Client) -> None:
    rng = random.Random(20240101)  # fixed seed: a failure can be reproduced
    alphabet = "abcxyz019-._:[]@/\\%&? \t" + "äß\u00ff"
    fuzzed = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(60)]
    for host in GARBAGE_HOSTS + fuzzed:
        for path in ("/", "/api/v1/site", "/nope"):
            try:
                response = await get(client, host, path)
            except (httpx.LocalProtocolError, UnicodeEncodeError):
                continue  # the client itself refuses to send this header
            assert response.status_code in (200, 404), (host, path, response.status_code)
            assert_security_headers(response)


async def test_raw_host_headers_never_cause_a_server_error(client: Client) -> None:
    """Headers the HTTP client would refuse to send, straight through ASGI."""
    cases: list[list[tuple[bytes, bytes]]] = [
        [],  # no Host header at all (HTTP/1.0)
        [(b"host", b"\xff\xfe.localhost")],
        [(b"host", "münchen.localhost".encode())],
        [(b"host", b"x" * 5000)],
        [(b"host", b"muenchen.localhost\r\nx: y")],
        # Two Host headers: forbidden by RFC 9112, so neither of them counts.
        [(b"host", b"muenchen.localhost"), (b"host", b"toronto.localhost")],
    ]
    ok = await asyncio.to_thread(
        client.blocking_portal.call, raw_get, client.app, [(b"host", b"muenchen.localhost")]
    )
    assert ok[0] == 200  # the raw path itself works
    for headers in cases:
        # The app lives on the client's own event loop (its portal thread); calling
        # it from this loop would share database connections across loops.
        status, response_headers = await asyncio.to_thread(
            client.blocking_portal.call, raw_get, client.app, headers
        )
        assert status == 404, (headers, status)  # none of these names a site
        assert b"x-content-type-options" in response_headers


async def raw_get(app: Any, headers: list[tuple[bytes, bytes]]) -> tuple[int, dict[bytes, bytes]]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    await app(scope, receive, send)
    start = next(m for m in messages if m["type"] == "http.response.start")
    return start["status"], dict(start["headers"])


async def test_suspended_tenant_gets_a_410_page(client: Client, synced: Database) -> None:
    assert (await get(client, AUGSBURG)).status_code == 200
    await set_status(synced, "augsburg", TenantStatus.SUSPENDED)
    response = await get(client, AUGSBURG)
    assert response.status_code == 410
    assert is_html(response)
    assert_security_headers(response)
    assert page_lang(response) == "de"  # the tenant's language, not the platform's
    api = await get(client, AUGSBURG, "/api/v1/site")
    assert api.status_code == 410
    assert is_problem(api)
    assert api.json()["status"] == 410
    # Its neighbours carry on.
    assert (await get(client, MUENCHEN)).status_code == 200
    await set_status(synced, "augsburg", TenantStatus.ACTIVE)
    assert (await get(client, AUGSBURG)).status_code == 200


async def test_unknown_path_on_a_tenant_is_a_404_page(client: Client) -> None:
    response = await get(client, MUENCHEN, "/no/such/page")
    assert response.status_code == 404
    assert is_html(response)
    assert_security_headers(response)
    assert page_lang(response) == "de"
    assert TENANT_NAMES["muenchen"] in response.text  # the tenant's own frame
    assert TENANT_NAMES["toronto"] not in response.text
    assert '<a class="button" href="/">' in response.text  # a way back home


async def test_json_clients_get_problem_documents_outside_the_api(client: Client) -> None:
    response = await get(client, MUENCHEN, "/no/such/page", accept="application/json")
    assert response.status_code == 404
    assert is_problem(response)
    assert response.json()["status"] == 404


# --- the JSON API ------------------------------------------------------------------------


async def test_api_site_for_a_tenant(client: Client) -> None:
    response = await get(client, MUENCHEN, "/api/v1/site")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["kind"] == "tenant"
    assert body["locale"] == "de"
    tenant = body["tenant"]
    assert tenant["slug"] == "muenchen"
    assert tenant["locales"] == ["de", "en", "ar", "uk", "tr"]
    # Exactly the plugins München's tenant file enables, in a stable order.
    assert tenant["plugins"] == sorted(MUENCHEN_PLUGINS)
    assert "announcements" in tenant["plugins"] and "email_login" not in tenant["plugins"]
    toronto = (await get(client, TORONTO, "/api/v1/site")).json()
    assert toronto["tenant"]["slug"] == "toronto"
    assert toronto["locale"] == "en"


async def test_api_site_for_the_platform(client: Client) -> None:
    body = (await get(client, PLATFORM, "/api/v1/site")).json()
    assert body["kind"] == "platform"
    assert body.get("tenant") is None


API_ERRORS = [
    ("GET", "/api/v1/nope", 404),
    ("GET", "/api/v2/site", 404),
    ("GET", "/api/", 404),
    ("DELETE", "/api/v1/site", 405),
    ("PUT", "/api/v1/site", 405),
]


async def test_api_errors_are_problem_documents(client: Client) -> None:
    for method, path, status in API_ERRORS:
        response = await client.request(method, path, headers={"host": MUENCHEN})
        assert response.status_code == status, (method, path)
        assert is_problem(response), (method, path)
        problem = response.json()
        assert problem["status"] == status
        assert problem["title"]
        assert_security_headers(response)


async def test_api_docs_are_served(client: Client) -> None:
    schema = await get(client, MUENCHEN, "/api/docs/openapi.json")
    assert schema.status_code == 200
    assert "/api/v1/site" in schema.json()["paths"]


# --- X-Forwarded-Host --------------------------------------------------------------------


async def test_forwarded_host_is_ignored_by_default(client: Client) -> None:
    response = await get(client, PLATFORM, **{"x-forwarded-host": TORONTO})
    assert response.status_code == 200
    assert 'href="http://toronto.localhost:8000/"' in response.text  # still the platform page
    assert "/static/themes/toronto/theme.css" not in response.text
    unknown = await get(client, "nosuch.localhost", **{"x-forwarded-host": TORONTO})
    assert unknown.status_code == 404


@pytest.fixture
async def proxied_client(
    synced: Database, migrated: MigratedDatabase, plugins: PluginHost
) -> AsyncIterator[Client]:
    """An app behind a proxy it trusts with the original host."""
    app = make_app(migrated.settings(trust_forwarded_host=True), plugins)
    async with AsyncTestClient(app, base_url="http://localhost") as client:
        yield client


async def test_forwarded_host_is_used_when_trusted(proxied_client: Client) -> None:
    response = await get(proxied_client, "10.0.0.5:8000", **{"x-forwarded-host": TORONTO})
    assert response.status_code == 200
    assert TENANT_NAMES["toronto"] in response.text
    unknown = await get(proxied_client, MUENCHEN, **{"x-forwarded-host": "nosuch.localhost"})
    assert unknown.status_code == 404
    # Without the header, the Host header still works.
    assert (await get(proxied_client, MUENCHEN)).status_code == 200
    # In a chain, only the right-most value (written by our proxy) counts: a client
    # cannot pick a tenant by sending its own X-Forwarded-Host in front of it.
    chained = await get(
        proxied_client, "10.0.0.5:8000", **{"x-forwarded-host": f"{MUENCHEN}, {TORONTO}"}
    )
    assert TENANT_NAMES["toronto"] in chained.text
    assert TENANT_NAMES["muenchen"] not in chained.text


async def test_probes_answer_head_requests(client: Client) -> None:
    for path in ("/healthz", "/readyz"):
        response = await client.head(path, headers={"host": "10.1.2.3"})
        assert response.status_code == 200, path
        assert response.content == b""


async def test_unknown_host_page_offers_no_links_into_itself(client: Client) -> None:
    response = await get(client, "nosuch.localhost")
    assert response.status_code == 404
    assert 'action="/language"' not in response.text
    assert "main-nav" not in response.text


# --- security headers --------------------------------------------------------------------


async def test_security_headers_on_pages_errors_and_api(client: Client) -> None:
    responses = [
        await get(client, MUENCHEN),
        await get(client, PLATFORM),
        await get(client, MUENCHEN, "/nope"),
        await get(client, "nosuch.localhost"),
        await get(client, "127.0.0.1"),
        await get(client, MUENCHEN, "/api/v1/site"),
        await get(client, MUENCHEN, "/api/v1/nope"),
        await get(client, "127.0.0.1", "/healthz"),
        await client.post("/language", headers={"host": MUENCHEN}),  # CSRF failure
    ]
    for response in responses:
        assert_security_headers(response)
    # Pages allow no inline script and no framing.
    csp = responses[0].headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp


# --- CSRF and the language form ----------------------------------------------------------


async def test_language_post_without_token_is_a_403_page(client: Client) -> None:
    await get(client, MUENCHEN)  # the visitor has a CSRF cookie, but sends no token
    response = await client.post(
        "/language", headers={"host": MUENCHEN}, data={"locale": "en", "next": "/"}
    )
    assert response.status_code == 403
    assert is_html(response)
    assert "tandem_locale" not in response.headers.get("set-cookie", "")


async def test_language_post_with_a_wrong_token_is_403(client: Client) -> None:
    token = csrf_token(await get(client, MUENCHEN))
    forged = token[:-4] + ("0000" if not token.endswith("0000") else "1111")
    response = await client.post(
        "/language",
        headers={"host": MUENCHEN},
        data={"locale": "en", "next": "/", "_csrf_token": forged},
    )
    assert response.status_code == 403
    assert "tandem_locale" not in response.headers.get("set-cookie", "")


async def choose(client: Client, host: str, locale: str, next_path: str = "/") -> httpx.Response:
    page = await get(client, host)
    # A tenant with one language shows no form; the token is the cookie's value then.
    token = csrf_token(page) if 'name="_csrf_token"' in page.text else client.cookies["tandem_csrf"]
    return await client.post(
        "/language",
        headers={"host": host},
        data={"locale": locale, "next": next_path, "_csrf_token": token},
        follow_redirects=False,
    )


async def test_language_choice_redirects_and_is_remembered(client: Client) -> None:
    response = await choose(client, MUENCHEN, "en", "/some/page?x=1")
    assert response.status_code == 303
    assert response.headers["location"] == "/some/page?x=1"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("tandem_locale=en;")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    # The choice beats the browser's preference …
    after = await get(client, MUENCHEN, **{"accept-language": "de"})
    assert page_lang(after) == "en"
    assert MUENCHEN_ANNOUNCEMENT[1] in after.text
    # … and switching back works the same way.
    back = await choose(client, MUENCHEN, "de")
    assert back.headers["set-cookie"].startswith("tandem_locale=de;")
    assert page_lang(await get(client, MUENCHEN, **{"accept-language": "en"})) == "de"


OPEN_REDIRECT_ATTEMPTS = [
    "https://evil.example/",
    "http://evil.example",
    "//evil.example/path",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "/\r\n/evil.example",
    "javascript:alert(1)",
    "evil.example",
    "",
]


async def test_language_form_is_no_open_redirect(client: Client) -> None:
    for target in OPEN_REDIRECT_ATTEMPTS:
        response = await choose(client, MUENCHEN, "en", target)
        assert response.status_code == 303, target
        location = response.headers["location"]
        # Browsers drop tabs and newlines and read "\\" as "/" before they follow a URL.
        as_browser_reads_it = re.sub(r"[\t\r\n]", "", location).replace("\\", "/")
        assert as_browser_reads_it.startswith("/"), (target, location)
        assert not as_browser_reads_it.startswith("//"), (target, location)
        assert urlsplit(as_browser_reads_it).netloc == "", (target, location)


async def test_an_unoffered_locale_is_not_stored(client: Client) -> None:
    for host, locale in [(MUENCHEN, "fr"), (MUENCHEN, "xx"), (MUENCHEN, ""), (TORONTO, "de")]:
        response = await choose(client, host, locale)
        assert response.status_code == 303, (host, locale)
        assert response.headers["location"] == "/"
        assert "tandem_locale" not in response.headers.get("set-cookie", ""), (host, locale)


async def test_language_form_without_a_locale_is_a_400_page(client: Client) -> None:
    token = csrf_token(await get(client, MUENCHEN))
    response = await client.post(
        "/language", headers={"host": MUENCHEN}, data={"_csrf_token": token}
    )
    assert response.status_code == 400
    assert is_html(response)


# --- locale negotiation ------------------------------------------------------------------


LOCALE_CASES = [  # host, locale cookie, Accept-Language, expected locale
    (MUENCHEN, None, None, "de"),  # tenant default
    (MUENCHEN, None, "en", "en"),  # Accept-Language beats the default
    (MUENCHEN, None, "fr-CA, en-GB;q=0.8, de;q=0.5", "en"),  # best offered match
    (MUENCHEN, None, "de;q=0.3, en;q=0.9", "en"),  # quality, not order
    (MUENCHEN, None, "fr, es", "de"),  # nothing offered: the default
    (MUENCHEN, None, "garbage;;;q=x,,", "de"),  # malformed: ignored
    (MUENCHEN, "en", "de", "en"),  # the visitor's choice beats Accept-Language
    (MUENCHEN, "fr", "en", "en"),  # an unoffered choice is ignored
    (MUENCHEN, "fr", None, "de"),
    (TORONTO, None, "de", "en"),  # toronto offers only English
    (TORONTO, "de", "de", "en"),
    (AUGSBURG, "en", None, "en"),
    (PLATFORM, None, "de", "de"),  # the platform offers en and de
    (PLATFORM, None, None, "en"),
]


async def test_locale_order(client: Client) -> None:
    for host, cookie, accept, expected in LOCALE_CASES:
        client.cookies.clear()
        if cookie:
            client.cookies.set("tandem_locale", cookie)
        headers = {"accept-language": accept} if accept else {}
        case = (host, cookie, accept)
        response = await get(client, host, **headers)
        assert response.status_code == 200, case
        assert page_lang(response) == expected, case
        api = await get(client, host, "/api/v1/site", **headers)
        assert api.json()["locale"] == expected, case


async def test_language_select_offers_only_the_tenant_s_locales(client: Client) -> None:
    muenchen = (await get(client, MUENCHEN)).text
    options = re.findall(r'<option value="([^"]+)"', muenchen)
    assert options == ["de", "en", "ar", "uk", "tr"]
    toronto = (await get(client, TORONTO)).text
    assert re.findall(r'<option value="([^"]+)"', toronto) == ["en", "ar", "uk"]
    # A tenant with one language shows no form: tests/test_i18n_participant_languages.py.
