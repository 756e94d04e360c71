"""Tenant admin pages: plugins (enable, disable, settings from the schema) and the audit log."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from core.db.sessions import Database
from core.identity import audit
from core.identity.sessions import start_session
from core.pluginhost.manager import PluginHost
from core.pluginhost.service import plugin_rows
from core.settings import Settings
from core.tenancy.snapshot import load_snapshot
from tests.conftest import make_app
from tests.test_identity_sessions import csrf_token, grant, login, make_user, tenant_ids

Client = AsyncTestClient[Litestar]
MUENCHEN = "muenchen.localhost:8000"
AUGSBURG = "augsburg.localhost:8000"
PLATFORM = "localhost:8000"
VALID = {
    "enabled": "true",
    "setting-title-de": "Sommerfest",
    "setting-title-en": "Summer party",
    "setting-message-de": "Am 1. Juli im Hof.",
    "setting-message-en": "On 1 July in the courtyard.",
    "setting-link": "https://example.org/fest",
}


@pytest.fixture
async def web(synced: Database, settings: Settings, plugins: PluginHost) -> AsyncIterator[Client]:
    async with AsyncTestClient(make_app(settings, plugins), base_url="http://localhost") as c:
        c.follow_redirects = False
        yield c


async def sign_in(web: Client, db: Database, slug: str, roles: list[str]) -> uuid.UUID:
    tenant_id = (await tenant_ids(db))[slug]
    user = await make_user(db, f"Person{uuid.uuid4().hex[:6]}")
    await grant(db, tenant_id, user, roles)
    login(web, await start_session(db, tenant_id, user))
    return user.id


async def submit(
    client: Client, path: str, data: dict[str, str], host: str = MUENCHEN, lang: str = "en"
) -> httpx.Response:
    token = csrf_token(await client.get("/", headers={"host": host}))
    headers = {"host": host, "accept-language": lang}
    return await client.post(path, headers=headers, data={"_csrf_token": token, **data})


async def stored(db: Database, slug: str) -> dict[str, tuple[bool, dict]]:
    tenant_id = (await tenant_ids(db))[slug]
    async with db.tenant_session(tenant_id) as session:
        return {k: (r.enabled, dict(r.settings)) for k, r in (await plugin_rows(session)).items()}


async def revision(db: Database, slug: str) -> int:
    snapshot = await load_snapshot(db, (await tenant_ids(db))[slug])
    assert snapshot is not None
    return snapshot.revision


async def test_the_plugin_page_renders_fields_from_the_schema(
    web: Client, synced: Database
) -> None:
    await sign_in(web, synced, "muenchen", ["admin"])
    page = await web.get("/admin/plugins", headers={"host": MUENCHEN, "accept-language": "en"})
    assert page.status_code == 200
    text = page.text
    # Per-language texts: one field per tenant language, filled from the stored settings.
    assert 'name="setting-title-de"' in text and 'name="setting-title-en"' in text
    assert "Neuer Durchgang ab Februar" in text
    assert 'type="url"' in text and 'name="setting-link"' in text
    # The webhooks plugin: URL, environment variable name, events (one per line), a number.
    for name in ("setting-url", "setting-secret_env", "setting-events", "setting-timeout_seconds"):
        assert f'name="{name}"' in text, name
    assert text.count('name="_csrf_token"') >= 2
    assert '<label for="plugin-announcements-enabled">' in text


async def test_an_admin_enables_a_plugin_with_valid_settings(web: Client, synced: Database) -> None:
    await sign_in(web, synced, "muenchen", ["admin"])
    off = await submit(web, "/admin/plugins/announcements", {})
    assert off.status_code == 303
    assert (await stored(synced, "muenchen"))["announcements"][0] is False
    assert "Neuer Durchgang" not in (await web.get("/", headers={"host": MUENCHEN})).text
    before = await revision(synced, "muenchen")

    response = await submit(web, "/admin/plugins/announcements", VALID)
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/plugins?done=saved&plugin=announcements"
    enabled, settings = (await stored(synced, "muenchen"))["announcements"]
    assert enabled and settings["title"] == {"de": "Sommerfest", "en": "Summer party"}
    assert settings["link"] == "https://example.org/fest"
    assert await revision(synced, "muenchen") == before + 1
    home = await web.get("/", headers={"host": MUENCHEN, "accept-language": "de"})
    assert "Sommerfest" in home.text
    page = await web.get(response.headers["location"], headers={"host": MUENCHEN})
    assert "Saved" in page.text or "Gespeichert" in page.text
    # Augsburg is untouched, and the change is in München's audit log.
    assert "announcements" not in await stored(synced, "augsburg")
    audit_page = await web.get("/admin/audit", headers={"host": MUENCHEN, "accept-language": "en"})
    assert "Plugin changed" in audit_page.text and "enabled plugin announcements" in audit_page.text


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"setting-title-de": "", "setting-title-en": ""}, "title", "non-empty text"),
        ({"setting-link": "not a link"}, "link", "Enter a full web address"),
        ({"setting-link": "ftp://example.org"}, "link", "starting with https:// or http://"),
    ],
)
async def test_invalid_settings_are_shown_inline_and_nothing_is_saved(
    web: Client, synced: Database, change: dict[str, str], field: str, message: str
) -> None:
    await sign_in(web, synced, "muenchen", ["admin"])
    before, rev = await stored(synced, "muenchen"), await revision(synced, "muenchen")
    response = await submit(web, "/admin/plugins/announcements", {**VALID, **change})
    assert response.status_code == 422
    assert message in response.text
    assert f'id="plugin-announcements-{field}-error"' in response.text
    assert "Am 1. Juli im Hof." in response.text, "what was typed is shown again"
    assert await stored(synced, "muenchen") == before
    assert await revision(synced, "muenchen") == rev


async def test_number_and_list_settings_and_messages_in_german(
    web: Client, synced: Database
) -> None:
    await sign_in(web, synced, "augsburg", ["admin"])
    data = {
        "enabled": "true",
        "setting-url": "https://crm.example.org/hook",
        "setting-secret_env": "TANDEM_HOOK_SECRET",
        "setting-events": "pairing.*\n\ntenant.updated\n",
        "setting-timeout_seconds": "viele",
    }
    bad = await submit(web, "/admin/plugins/webhooks", data, host=AUGSBURG, lang="de")
    assert bad.status_code == 422
    assert "Geben Sie eine Zahl ein" in bad.text
    assert "webhooks" not in await stored(synced, "augsburg")
    bad = await submit(
        web, "/admin/plugins/webhooks", {**data, "setting-timeout_seconds": "61"}, host=AUGSBURG
    )
    assert bad.status_code == 422 and "at most 60" in bad.text
    good = await submit(
        web, "/admin/plugins/webhooks", {**data, "setting-timeout_seconds": "5"}, host=AUGSBURG
    )
    assert good.status_code == 303
    enabled, settings = (await stored(synced, "augsburg"))["webhooks"]
    assert enabled and settings["events"] == ["pairing.*", "tenant.updated"]
    assert settings["timeout_seconds"] == 5.0


async def test_one_tenants_admin_cannot_reach_anothers_pages(web: Client, synced: Database) -> None:
    await sign_in(web, synced, "muenchen", ["admin"])
    before = await stored(synced, "augsburg")
    # The München cookie on Augsburg's host: logged out there.
    for path in ("/admin/plugins", "/admin/audit"):
        response = await web.get(path, headers={"host": AUGSBURG})
        assert response.status_code == 303 and response.headers["location"].startswith("/login")
    response = await submit(web, "/admin/plugins/announcements", VALID, host=AUGSBURG)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert await stored(synced, "augsburg") == before
    # Nor on the platform host, where there is no tenant.
    assert (await web.get("/admin/plugins", headers={"host": PLATFORM})).status_code == 404


async def test_a_mentor_gets_403(web: Client, synced: Database) -> None:
    await sign_in(web, synced, "muenchen", ["mentor", "mentee"])
    before = await stored(synced, "muenchen")
    for path in ("/admin/plugins", "/admin/audit"):
        assert (await web.get(path, headers={"host": MUENCHEN})).status_code == 403
    assert (await submit(web, "/admin/plugins/announcements", {})).status_code == 403
    assert await stored(synced, "muenchen") == before


async def test_a_missing_csrf_token_gets_the_403_page(web: Client, synced: Database) -> None:
    await sign_in(web, synced, "muenchen", ["admin"])
    before = await stored(synced, "muenchen")
    response = await web.post(
        "/admin/plugins/announcements", headers={"host": MUENCHEN, "accept-language": "en"}
    )
    assert response.status_code == 403
    assert "reload the page" in response.text and "<html" in response.text
    assert await stored(synced, "muenchen") == before


async def test_unknown_plugins_are_not_found(web: Client, synced: Database) -> None:
    await sign_in(web, synced, "muenchen", ["admin"])
    assert (await submit(web, "/admin/plugins/nope", {"enabled": "true"})).status_code == 404


async def test_the_audit_log_is_paged_newest_first_and_per_tenant(
    web: Client, synced: Database
) -> None:
    ids = await tenant_ids(synced)
    admin = await sign_in(web, synced, "muenchen", ["admin"])
    t0 = datetime(2030, 1, 1, tzinfo=UTC)
    async with synced.tenant_session(ids["muenchen"]) as session:
        for n in range(60):
            details = {"n": f"entry-{n:02d}"}
            audit.record(
                session, "login", admin, details, "192.0.2.7", now=t0 + timedelta(minutes=n)
            )
        await session.commit()
    async with synced.tenant_session(ids["augsburg"]) as session:
        audit.record(session, "login", None, {"n": "augsburg-secret"}, now=t0)
        await session.commit()

    first = await web.get("/admin/audit", headers={"host": MUENCHEN, "accept-language": "en"})
    assert first.status_code == 200
    text = first.text
    assert text.index("entry-59") < text.index("entry-58"), "newest first"
    assert "entry-10" in text and "entry-09" not in text  # 50 per page (+ the test's login)
    assert "192.0.2.7" in text and "Signed in" in text
    assert "augsburg-secret" not in text
    assert 'href="/admin/audit?page=2"' in text
    second = await web.get("/admin/audit?page=2", headers={"host": MUENCHEN})
    assert "entry-09" in second.text and "entry-00" in second.text
    assert "entry-10" not in second.text
    for junk in ("abc", "-1", "0", "9" * 40):
        response = await web.get(f"/admin/audit?page={junk}", headers={"host": MUENCHEN})
        assert response.status_code == 200, junk


async def test_the_plugin_page_speaks_the_pages_language(web: Client, synced: Database) -> None:
    """Names, descriptions and settings in the page's language, languages named in it too."""
    await sign_in(web, synced, "muenchen", ["admin"])
    de = (await web.get("/admin/plugins", headers={"host": MUENCHEN, "accept-language": "de"})).text
    for text in (
        '<h2 id="plugin-announcements-title">Ankündigungen</h2>',
        "Zeigt oben auf der Startseite einen Hinweis der Koordination.",
        '<h2 id="plugin-email_login-title">Anmeldelinks per E-Mail</h2>',
        "Gültigkeit eines Links (Minuten)",
        "Wie lange ein Link gilt, in Minuten (5 bis 15)",
        "Links pro IP-Adresse",
        '<h2 id="plugin-triec_fields-title">TRIEC-Bewerbungsfelder</h2>',
        "Mindest-CLB-Niveau",
        "Umgebungsvariable mit dem Geheimnis",
        '<h2 id="plugin-match_availability-title">Matching: Verfügbarkeit</h2>',
        "Gewichtung",
        # The language in the page's language: "Überschrift auf Englisch", not "… English".
        ">Überschrift auf Englisch</label>",
        ">Überschrift auf Deutsch</label>",
        "Überschrift je Sprache: ein paar Worte über dem Text",
        "„Ankündigungen“ auf dieser Website verwenden",
    ):
        assert text in de, text
    for english in (
        "Shows a notice from the coordinators",
        "Link Minutes",
        "Per Ip Limit",
        "Min Clb",
        "Secret Env",
        "Matching: availability",
        "auf English",
    ):
        assert english not in de, english
    en = (await web.get("/admin/plugins", headers={"host": MUENCHEN, "accept-language": "en"})).text
    for text in (
        '<h2 id="plugin-announcements-title">Announcements</h2>',
        "Link lifetime (minutes)",
        "Links per IP address",
        "Minimum CLB level",
        "Environment variable with the secret",
        ">Heading in English</label>",
        ">Heading in German</label>",
    ):
        assert text in en, text
    assert "Deutsch" not in en.split("<main", 1)[-1].split("</main>")[0]


async def test_plugin_forms_fold_away_unless_there_is_something_to_see(
    web: Client, synced: Database
) -> None:
    await sign_in(web, synced, "muenchen", ["admin"])
    english = {"host": MUENCHEN, "accept-language": "en"}
    page = (await web.get("/admin/plugins", headers=english)).text
    folded = re.findall(r'<details class="plugin-form" id="plugin-([a-z_]+)-form"( open)?>', page)
    assert len(folded) >= 12 and not any(opened for _, opened in folded)
    # Each card keeps its name, description and state outside the fold.
    card = page.split('aria-labelledby="plugin-announcements-title">', 1)[1].split("<details", 1)[0]
    assert "Announcements" in card and "home page" in card and "Enabled" in card
    assert "<summary>Turn on or off, settings" in page

    saved = await submit(web, "/admin/plugins/announcements", VALID)
    page = (await web.get(saved.headers["location"], headers=english)).text
    opened = re.findall(r'<details class="plugin-form" id="plugin-([a-z_]+)-form" open>', page)
    assert opened == ["announcements"]

    bad = await submit(
        web,
        "/admin/plugins/webhooks",
        {
            "enabled": "true",
            "setting-url": "https://crm.example.org/hook",
            "setting-secret_env": "TANDEM_HOOK_SECRET",
            "setting-events": "pairing.*\nnot a pattern!",
        },
        lang="de",
    )
    assert bad.status_code == 422
    opened = re.findall(r'<details class="plugin-form" id="plugin-([a-z_]+)-form" open>', bad.text)
    assert opened == ["webhooks"]
    # The plugin's own message, translated, under the translated label in the summary.
    message = "ein Ereignismuster darf nur Buchstaben, Ziffern und die Zeichen . _ - * ? enthalten"
    assert f"Ereignisse: Dieser Wert ist ungültig: {message}" in bad.text
    assert "webhooks" not in await stored(synced, "muenchen")
