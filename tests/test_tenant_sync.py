"""``tenants/*.toml`` → database: idempotent, reported, all or nothing (both backends).

Tenant files are written into ``tmp_path``; themes come from the repository
(``settings.themes_dir``: default, muenchen, augsburg, toronto).
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import func, select

from core.db.sessions import Database
from core.identity.models import IdentityProvider
from core.jobs.models import OutboxMessage
from core.pluginhost import PluginInfo
from core.pluginhost.manager import PluginHost
from core.pluginhost.models import TenantPlugin
from core.settings import Settings
from core.tenancy.files import TenantFilesError
from core.tenancy.models import Tenant
from core.tenancy.sync import SyncReport, sync_tenants

ALPHA = """\
slug = "alpha"
name = "Alpha Mentoring"
default_locale = "de"
locales = ["de", "en"]
theme = "muenchen"
domains = ["mentoring.alpha.example"]

[plugins.announcements]
title = { de = "Hallo", en = "Hello" }
message = { de = "Willkommen" }

[[identity_providers]]
id = "alpha-sso"
name = "Alpha SSO"
issuer = "https://sso.alpha.example/realms/alpha"
client_id = "tandem-alpha"
client_secret_env = "TANDEM_OIDC_ALPHA_SECRET"
"""

BETA = """\
slug = "beta"
name = "Beta Partnership"
default_locale = "en"
locales = ["en"]
"""

# A valid change to beta, written next to every broken file: it must not be applied.
BETA_RENAMED = BETA.replace("Beta Partnership", "Beta Partnership (renamed)")


def edit(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new)


def write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory


@pytest.fixture
def tenants_dir(tmp_path: Path) -> Path:
    return write(tmp_path / "tenants", {"alpha.toml": ALPHA, "beta.toml": BETA})


async def sync(
    db: Database, plugins: PluginHost, settings: Settings, directory: Path, **options: Any
) -> SyncReport:
    return await sync_tenants(db, plugins, directory, settings.themes_dir, **options)


async def db_state(db: Database) -> dict[str, Any]:
    """Everything sync may touch, per tenant, read the way the application reads it."""
    async with db.platform_session() as session:
        tenants = list(await session.scalars(select(Tenant).order_by(Tenant.slug)))
        outbox = await session.scalar(select(func.count()).select_from(OutboxMessage))
    state: dict[str, Any] = {"(outbox messages)": outbox}
    for tenant in tenants:
        async with db.tenant_session(tenant.id) as session:
            plugin_rows = await session.scalars(select(TenantPlugin))
            providers = await session.scalars(select(IdentityProvider))
            state[tenant.slug] = {
                "name": tenant.name,
                "status": tenant.status.value,
                "default_locale": tenant.default_locale,
                "locales": list(tenant.locales),
                "theme": tenant.theme,
                "revision": tenant.revision,
                "domains": sorted(d.domain for d in tenant.domains),
                "plugins": {p.plugin_id: (p.enabled, p.settings) for p in plugin_rows},
                "identity_providers": {
                    p.provider_id: (p.name, p.issuer, p.client_id, p.client_secret_env, p.scopes)
                    for p in providers
                },
            }
    return state


def tenants_in(state: dict[str, Any]) -> dict[str, Any]:
    return {slug: value for slug, value in state.items() if not slug.startswith("(")}


# --- creating and idempotence -------------------------------------------------------------


async def test_first_sync_creates_the_tenants_and_reports_it(
    db: Database, plugins: PluginHost, settings: Settings, tenants_dir: Path
):
    report = await sync(db, plugins, settings, tenants_dir)

    assert report.changes == [
        "alpha: created",
        "alpha: added domain mentoring.alpha.example",
        "alpha: enabled plugin announcements",
        "alpha: added identity provider alpha-sso",
        "beta: created",
    ]
    assert report.unchanged == [] and report.untracked == []
    state = tenants_in(await db_state(db))
    alpha = state["alpha"]
    assert (alpha["name"], alpha["status"], alpha["theme"]) == (
        "Alpha Mentoring",
        "active",
        "muenchen",
    )
    assert (alpha["default_locale"], alpha["locales"]) == ("de", ["de", "en"])
    assert alpha["domains"] == ["mentoring.alpha.example"]
    assert alpha["plugins"] == {
        "announcements": (
            True,
            {
                "title": {"de": "Hallo", "en": "Hello"},
                "message": {"de": "Willkommen"},
                "link": None,
            },
        )
    }
    assert alpha["identity_providers"] == {
        "alpha-sso": (
            "Alpha SSO",
            "https://sso.alpha.example/realms/alpha",
            "tandem-alpha",
            "TANDEM_OIDC_ALPHA_SECRET",
            ["openid", "email", "profile"],
        )
    }
    # Beta's own rows are empty: alpha's plugin and provider are not visible from it.
    assert state["beta"]["plugins"] == {} and state["beta"]["identity_providers"] == {}
    assert (state["beta"]["default_locale"], state["beta"]["theme"]) == ("en", "default")


async def test_a_second_sync_changes_nothing(
    db: Database, plugins: PluginHost, settings: Settings, tenants_dir: Path
):
    await sync(db, plugins, settings, tenants_dir)
    before = await db_state(db)

    report = await sync(db, plugins, settings, tenants_dir)

    assert report.changes == []
    assert report.unchanged == ["alpha", "beta"]
    assert report.lines() == ["alpha: unchanged", "beta: unchanged"]
    assert await db_state(db) == before


CHANGES = [
    pytest.param(
        ("name = \"Alpha Mentoring\"", "name = \"Alpha Mentoring e.V.\""),
        ["alpha: name: Alpha Mentoring → Alpha Mentoring e.V."],
        {"name"},
        id="name",
    ),
    pytest.param(
        ('locales = ["de", "en"]', 'locales = ["de", "en", "tr"]'),
        ["alpha: locales: de,en → de,en,tr"],
        {"locales"},
        id="locales",
    ),
    pytest.param(
        ('theme = "muenchen"', 'theme = "augsburg"'),
        ["alpha: theme: muenchen → augsburg"],
        {"theme"},
        id="theme",
    ),
    pytest.param(
        ('theme = "muenchen"', 'theme = "muenchen"\nstatus = "suspended"'),
        ["alpha: status: active → suspended"],
        {"status"},
        id="status",
    ),
    pytest.param(
        ('message = { de = "Willkommen" }', 'message = { de = "Herzlich willkommen" }'),
        ["alpha: changed settings of plugin announcements"],
        {"plugins"},
        id="plugin-setting",
    ),
    pytest.param(
        ("[plugins.announcements]\n", "[plugins.announcements]\nenabled = false\n"),
        ["alpha: disabled plugin announcements"],
        {"plugins"},
        id="plugin-disabled",
    ),
    pytest.param(
        ("[plugins.announcements]\ntitle = { de = \"Hallo\", en = \"Hello\" }\n"
         "message = { de = \"Willkommen\" }\n", ""),
        ["alpha: disabled plugin announcements"],
        {"plugins"},
        id="plugin-removed-from-file",
    ),
    pytest.param(
        ('domains = ["mentoring.alpha.example"]',
         'domains = ["mentoring.alpha.example", "Tandem.Alpha.Example"]'),
        ["alpha: added domain tandem.alpha.example"],
        {"domains"},
        id="domain-added",
    ),
    pytest.param(
        ('domains = ["mentoring.alpha.example"]', "domains = []"),
        ["alpha: removed domain mentoring.alpha.example"],
        {"domains"},
        id="domain-removed",
    ),
    pytest.param(
        ('client_id = "tandem-alpha"', 'client_id = "tandem-alpha-2"'),
        ["alpha: changed identity provider alpha-sso"],
        {"identity_providers"},
        id="identity-provider-changed",
    ),
    pytest.param(
        ('"TANDEM_OIDC_ALPHA_SECRET"', '"TANDEM_OIDC_ALPHA_SECRET_2025"'),
        ["alpha: changed identity provider alpha-sso"],
        {"identity_providers"},
        id="identity-provider-secret-variable",
    ),
    pytest.param(
        ('client_secret_env = "TANDEM_OIDC_ALPHA_SECRET"\n',
         'client_secret_env = "TANDEM_OIDC_ALPHA_SECRET"\n\n[[identity_providers]]\n'
         'id = "entra"\nname = "Entra ID"\nissuer = "https://login.example/v2.0"\n'
         'client_id = "abc"\nclient_secret_env = "TANDEM_ENTRA_SECRET"\nscopes = ["openid"]\n'),
        ["alpha: added identity provider entra"],
        {"identity_providers"},
        id="identity-provider-added",
    ),
    pytest.param(
        (ALPHA[ALPHA.index("[[identity_providers]]"):], ""),
        ["alpha: removed identity provider alpha-sso"],
        {"identity_providers"},
        id="identity-provider-removed",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("replacement", "expected", "fields"), CHANGES)
async def test_a_change_is_reported_exactly_and_bumps_the_revision(
    db: Database,
    plugins: PluginHost,
    settings: Settings,
    tenants_dir: Path,
    replacement: tuple[str, str],
    expected: list[str],
    fields: set[str],
):
    await sync(db, plugins, settings, tenants_dir)
    before = tenants_in(await db_state(db))
    write(tenants_dir, {"alpha.toml": edit(ALPHA, *replacement)})

    report = await sync(db, plugins, settings, tenants_dir)

    assert report.changes == expected
    assert report.unchanged == ["beta"]
    after = tenants_in(await db_state(db))
    changed = {key for key in after["alpha"] if after["alpha"][key] != before["alpha"][key]}
    assert changed == fields | {"revision"}
    assert after["alpha"]["revision"] > before["alpha"]["revision"]
    assert after["beta"] == before["beta"]
    # Applied once, the change is not reported again.
    again = await sync(db, plugins, settings, tenants_dir)
    assert again.changes == [] and again.unchanged == ["alpha", "beta"]


# --- files with errors: a clear message, nothing applied ----------------------------------

ERRORS = [
    pytest.param(
        {"alpha.toml": 'slug = "alpha"\nname = "Alpha\n'},
        ("alpha.toml", "(file)", "not valid TOML"),
        id="bad-toml",
    ),
    pytest.param(
        {"alpha.toml": edit(ALPHA, 'name = "Alpha Mentoring"\n', "")},
        ("alpha.toml", "name", "Field required"),
        id="missing-name",
    ),
    pytest.param(
        {"alpha.toml": edit(ALPHA, 'locales = ["de", "en"]', 'locales = ["de", "xx"]')},
        ("alpha.toml", "locales", "'xx' is not a known locale"),
        id="unknown-locale",
    ),
    pytest.param(
        {"alpha.toml": edit(ALPHA, 'default_locale = "de"', 'default_locale = "klingon"')},
        ("alpha.toml", "default_locale", "'klingon' is not a known locale"),
        id="unknown-default-locale",
    ),
    pytest.param(
        {"alpha.toml": edit(ALPHA, 'default_locale = "de"', 'default_locale = "fr"')},
        ("alpha.toml", "default_locale", "'fr' must be one of locales (de, en)"),
        id="default-locale-not-offered",
    ),
    pytest.param(
        {"admin.toml": edit(BETA, 'slug = "beta"', 'slug = "admin"')},
        ("admin.toml", "slug", "'admin' is reserved for the platform"),
        id="reserved-slug",
    ),
    pytest.param(
        {"Gamma.toml": edit(BETA, 'slug = "beta"', 'slug = "Gamma"')},
        ("Gamma.toml", "slug", "lower-case letters, digits and hyphens"),
        id="malformed-slug",
    ),
    pytest.param(
        {"gamma.toml": edit(BETA, 'slug = "beta"', 'slug = "delta"')},
        ("gamma.toml", "slug", "'delta' must match the file name 'gamma'"),
        id="slug-not-file-name",
    ),
    pytest.param(
        {"alpha.toml": ALPHA + "\n[plugins.nonexistent]\ncolour = \"red\"\n"},
        ("alpha.toml", "plugins.nonexistent", "unknown plugin 'nonexistent'"),
        id="unknown-plugin",
    ),
    pytest.param(
        {"alpha.toml": edit(ALPHA, 'title = { de = "Hallo", en = "Hello" }', "title = {de=' '}")},
        ("alpha.toml", "plugins.announcements.title", "non-empty text"),
        id="invalid-plugin-settings",
    ),
    pytest.param(
        {"alpha.toml": edit(ALPHA, "message = {", "link = 42\nmessage = {")},
        ("alpha.toml", "plugins.announcements.link", "URL"),
        id="invalid-plugin-setting-type",
    ),
    pytest.param(
        {"alpha.toml": edit(ALPHA, 'theme = "muenchen"', 'theme = "nope"')},
        ("alpha.toml", "theme", "no theme 'nope' in themes/"),
        id="unknown-theme",
    ),
    pytest.param(
        {"beta.toml": BETA_RENAMED + 'domains = ["Mentoring.Alpha.Example"]\n'},
        ("beta.toml", "domains.0", "'mentoring.alpha.example' is already used by alpha.toml"),
        id="domain-in-two-files",
    ),
    pytest.param(
        {"alpha.toml": edit(ALPHA, '"mentoring.alpha.example"', '"a.example", "A.example."')},
        ("alpha.toml", "domains", "'A.example.' is listed twice"),
        id="domain-twice-in-one-file",
    ),
    pytest.param(
        {"alpha.toml": edit(ALPHA, '"mentoring.alpha.example"', '"https://alpha.example/x"')},
        ("alpha.toml", "domains", "is not a domain name"),
        id="domain-with-scheme",
    ),
    pytest.param(
        {"alpha.toml": edit(ALPHA, "client_id = ", "client_secret = 's3cr3t-value'\nclient_id = ")},
        ("alpha.toml", "identity_providers.0.client_secret",
         "secrets are never written into tenant files: name an environment variable in "
         "client_secret_env"),
        id="inline-client-secret",
    ),
    pytest.param(
        {"alpha.toml": edit(ALPHA, '"TANDEM_OIDC_ALPHA_SECRET"', '"s3cr3t-value"')},
        ("alpha.toml", "identity_providers.0.client_secret_env", "NAME of an environment variable"),
        id="secret-as-variable-name",
    ),
    pytest.param(
        {"alpha.toml": ALPHA + ALPHA[ALPHA.index("\n[[identity_providers]]"):]},
        ("alpha.toml", "identity_providers", "each id may appear only once"),
        id="identity-provider-twice",
    ),
    pytest.param(
        {"alpha.toml": edit(ALPHA, "https://sso.alpha", "http://sso.alpha")},
        ("alpha.toml", "identity_providers.0.issuer", "must use https"),
        id="identity-provider-plain-http",
    ),
    pytest.param(
        {"alpha.toml": edit(ALPHA, "realms/alpha", "realms/alpha?x=1")},
        ("alpha.toml", "identity_providers.0.issuer", "no query or fragment"),
        id="identity-provider-issuer-query",
    ),
    pytest.param(
        {"alpha.toml": edit(ALPHA, 'theme = "muenchen"', 'theme = "muenchen"\ncolour = "red"')},
        ("alpha.toml", "colour", "Extra inputs are not permitted"),
        id="unknown-field",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("files", "problem"), ERRORS)
async def test_a_file_with_errors_is_reported_and_nothing_is_applied(
    db: Database,
    plugins: PluginHost,
    settings: Settings,
    tenants_dir: Path,
    files: dict[str, str],
    problem: tuple[str, str, str],
):
    await sync(db, plugins, settings, tenants_dir)
    before = await db_state(db)
    write(tenants_dir, {"beta.toml": BETA_RENAMED, **files})

    with pytest.raises(TenantFilesError) as caught:
        await sync(db, plugins, settings, tenants_dir)

    file_name, field, message = problem
    found = [(p.path.name, p.field, p.message) for p in caught.value.problems]
    assert any(
        (name, fld) == (file_name, field) and message in text for name, fld, text in found
    ), found
    # Only the broken file is blamed: the valid ones are fine, just not applied.
    assert {name for name, _, _ in found} == {file_name}
    assert f"{file_name}: {field}: " in str(caught.value)
    assert "s3cr3t-value" not in str(caught.value)  # never echo what looks like a secret
    assert await db_state(db) == before


async def test_every_problem_in_every_file_is_reported_at_once(
    db: Database, plugins: PluginHost, settings: Settings, tenants_dir: Path
):
    write(
        tenants_dir,
        {
            "alpha.toml": edit(ALPHA, 'theme = "muenchen"', 'theme = "nope"'),
            "beta.toml": edit(BETA, 'name = "Beta Partnership"\n', ""),
            "gamma.toml": edit(BETA, 'slug = "beta"', 'slug = "gamma"').replace(
                'locales = ["en"]', 'locales = ["xx"]'
            ),
        },
    )
    with pytest.raises(TenantFilesError) as caught:
        await sync(db, plugins, settings, tenants_dir)
    # Schema problems of all files first; references (themes, plugins) are checked
    # once every file parses, so the theme of alpha is reported on the next run.
    assert {(p.path.name, p.field) for p in caught.value.problems} == {
        ("beta.toml", "name"),
        # default_locale is checked against valid locales only: one mistake, one problem.
        ("gamma.toml", "locales"),
    }
    assert await db_state(db) == {"(outbox messages)": 0}


async def test_a_domain_owned_by_a_tenant_outside_the_files_rolls_everything_back(
    db: Database, plugins: PluginHost, settings: Settings, tmp_path: Path
):
    gamma = edit(BETA, 'slug = "beta"', 'slug = "gamma"') + 'domains = ["shared.example"]\n'
    await sync(db, plugins, settings, write(tmp_path / "old", {"gamma.toml": gamma}))
    before = await db_state(db)
    # alpha (valid, created first) and beta, which claims gamma's domain.
    directory = write(
        tmp_path / "new",
        {"alpha.toml": ALPHA, "beta.toml": BETA + 'domains = ["shared.example"]\n'},
    )

    with pytest.raises(TenantFilesError) as caught:
        await sync(db, plugins, settings, directory)

    assert [str(p) for p in caught.value.problems] == [
        "beta.toml: domains: 'shared.example' belongs to another tenant in the database"
    ]
    assert await db_state(db) == before  # alpha was created in the transaction, then undone

    write(directory, {"beta.toml": BETA})
    report = await sync(db, plugins, settings, directory)
    assert report.untracked == ["gamma"]
    assert "gamma: in the database but not in tenants/ (left as is)" in report.lines()
    assert tenants_in(await db_state(db))["gamma"] == tenants_in(before)["gamma"]


async def test_a_domain_can_move_from_one_tenant_file_to_another_in_one_sync(
    db: Database, plugins: PluginHost, settings: Settings, tenants_dir: Path
):
    await sync(db, plugins, settings, tenants_dir)
    # alpha gives up its domain and beta (processed after alpha) takes it, and the
    # other way round in a second sync: either order must work.
    write(
        tenants_dir,
        {
            "alpha.toml": edit(ALPHA, 'domains = ["mentoring.alpha.example"]', "domains = []"),
            "beta.toml": BETA + 'domains = ["mentoring.alpha.example"]\n',
        },
    )
    report = await sync(db, plugins, settings, tenants_dir)
    assert "alpha: removed domain mentoring.alpha.example" in report.changes
    assert "beta: added domain mentoring.alpha.example" in report.changes
    assert tenants_in(await db_state(db))["beta"]["domains"] == ["mentoring.alpha.example"]

    write(tenants_dir, {"alpha.toml": ALPHA, "beta.toml": BETA})
    report = await sync(db, plugins, settings, tenants_dir)
    assert "alpha: added domain mentoring.alpha.example" in report.changes
    assert "beta: removed domain mentoring.alpha.example" in report.changes
    state = tenants_in(await db_state(db))
    assert (state["alpha"]["domains"], state["beta"]["domains"]) == (
        ["mentoring.alpha.example"],
        [],
    )


# --- identity providers added on the admin page -------------------------------------------


async def add_admin_provider(db: Database, slug: str, provider_id: str) -> None:
    async with db.platform_session() as session:
        tenant_id = await session.scalar(select(Tenant.id).where(Tenant.slug == slug))
    assert tenant_id is not None
    async with db.tenant_session(tenant_id) as session, session.begin():
        row = IdentityProvider(
            provider_id=provider_id,
            name="Added by the coordinators",
            issuer="https://login.example/v2.0",
            client_id="abc",
            source="admin",
        )
        row.use_encrypted_secret("v1:k1:ciphertext-is-opaque-to-sync")
        session.add(row)


async def test_sync_leaves_providers_added_on_the_admin_page_alone(
    db: Database, plugins: PluginHost, settings: Settings, tenants_dir: Path
):
    await sync(db, plugins, settings, tenants_dir)
    await add_admin_provider(db, "alpha", "entra")
    before = await db_state(db)
    added = before["alpha"]["identity_providers"]["entra"]

    again = await sync(db, plugins, settings, tenants_dir)
    assert again.changes == [] and await db_state(db) == before

    # The file's own provider goes; the coordinators' stays as it was.
    write(tenants_dir, {"alpha.toml": ALPHA[: ALPHA.index("[[identity_providers]]")]})
    report = await sync(db, plugins, settings, tenants_dir)
    assert report.changes == ["alpha: removed identity provider alpha-sso"]
    assert tenants_in(await db_state(db))["alpha"]["identity_providers"] == {"entra": added}


async def test_a_file_provider_may_not_take_the_id_of_one_from_the_admin_page(
    db: Database, plugins: PluginHost, settings: Settings, tenants_dir: Path
):
    await sync(db, plugins, settings, tenants_dir)
    await add_admin_provider(db, "alpha", "entra")
    before = await db_state(db)
    second = (
        '\n[[identity_providers]]\nid = "entra"\nname = "Entra ID"\n'
        'issuer = "https://login.example/v2.0"\nclient_id = "abc"\n'
        'client_secret_env = "TANDEM_ENTRA_SECRET"\n'
    )
    write(tenants_dir, {"alpha.toml": ALPHA + second, "beta.toml": BETA_RENAMED})

    with pytest.raises(TenantFilesError) as caught:
        await sync(db, plugins, settings, tenants_dir)

    [problem] = caught.value.problems
    assert (problem.path.name, problem.field) == ("alpha.toml", "identity_providers.1.id")
    assert "'entra' is already used by an identity provider added on the admin page" in str(problem)
    assert await db_state(db) == before  # beta's valid change was not applied either


# --- dry run ------------------------------------------------------------------------------


async def test_dry_run_reports_but_changes_nothing(
    db: Database, plugins: PluginHost, settings: Settings, tenants_dir: Path
):
    report = await sync(db, plugins, settings, tenants_dir, dry_run=True)
    assert report.changes[0] == "alpha: created" and "beta: created" in report.changes
    assert await db_state(db) == {"(outbox messages)": 0}

    await sync(db, plugins, settings, tenants_dir)
    before = await db_state(db)
    write(tenants_dir, {"beta.toml": BETA_RENAMED})
    report = await sync(db, plugins, settings, tenants_dir, dry_run=True)
    assert report.changes == ["beta: name: Beta Partnership → Beta Partnership (renamed)"]
    assert await db_state(db) == before


# --- plugins that are no longer installed -------------------------------------------------


async def test_a_stored_plugin_that_is_no_longer_installed_is_left_alone(
    db: Database, plugins: PluginHost, settings: Settings, tenants_dir: Path
):
    extra = ModuleType("retired_plugin")
    extra.PLUGIN = PluginInfo(  # type: ignore[attr-defined]
        id="retired", name="Retired", description="Uninstalled later", version="1"
    )
    with_extra = PluginHost.load(extra=[extra])
    write(tenants_dir, {"alpha.toml": ALPHA + "\n[plugins.retired]\n"})
    await sync(db, with_extra, settings, tenants_dir)
    write(tenants_dir, {"alpha.toml": ALPHA})

    # The platform no longer has the plugin: sync must still work for everything else.
    report = await sync(db, plugins, settings, tenants_dir)

    assert report.changes == [] and report.unchanged == ["alpha", "beta"]
    assert tenants_in(await db_state(db))["alpha"]["plugins"]["retired"] == (True, {})


# --- the repository's own tenants/ --------------------------------------------------------


async def test_the_repository_tenants_sync_into_the_three_demo_tenants(
    db: Database, plugins: PluginHost, settings: Settings
):
    report = await sync(db, plugins, settings, settings.tenants_dir)
    assert {line.split(":")[0] for line in report.changes} == {"augsburg", "muenchen", "toronto"}

    state = tenants_in(await db_state(db))
    assert set(state) == {"augsburg", "muenchen", "toronto"}
    expected = {
        "muenchen": ("de", ["de", "en", "ar", "uk", "tr"], "muenchen", "Landeshauptstadt München"),
        "augsburg": ("de", ["de", "en", "ar", "uk", "tr"], "augsburg", "Tür an Tür"),
        "toronto": ("en", ["en", "ar", "uk"], "toronto", "Toronto Mentoring Partnership"),
    }
    for slug, (default_locale, locales, theme, name) in expected.items():
        tenant = state[slug]
        assert (tenant["default_locale"], tenant["locales"], tenant["theme"]) == (
            default_locale,
            locales,
            theme,
        )
        assert tenant["status"] == "active" and name in tenant["name"]
        assert (settings.themes_dir / theme / "static" / "theme.css").is_file()
        # Each signs in through its own provider, with the secret named, not written.
        [(_, _, _, secret_env, _)] = tenant["identity_providers"].values()
        assert secret_env == f"TANDEM_OIDC_{slug.upper()}_SECRET"
    assert state["muenchen"]["plugins"]["announcements"][0] is True
    assert "announcements" not in state["augsburg"]["plugins"]

    again = await sync(db, plugins, settings, settings.tenants_dir)
    assert again.changes == [] and sorted(again.unchanged) == ["augsburg", "muenchen", "toronto"]


async def test_the_example_in_the_documentation_is_a_valid_tenant_file(
    db: Database, plugins: PluginHost, settings: Settings, tmp_path: Path
):
    docs = (settings.root / "docs" / "tenants.md").read_text(encoding="utf-8")
    example = docs.split("```toml\n", 1)[1].split("```", 1)[0]
    directory = write(tmp_path / "tenants", {"muenchen.toml": example})

    report = await sync(db, plugins, settings, directory)

    assert "muenchen: created" in report.changes
    muenchen = tenants_in(await db_state(db))["muenchen"]
    assert muenchen["domains"] == ["mentoring.muenchen.de"]
    assert muenchen["plugins"]["announcements"][1]["link"] == "https://stadt.muenchen.de/mentoring"
    # Written, validated, switched off.
    assert muenchen["plugins"].get("webhooks", (False,))[0] is False
    assert list(muenchen["identity_providers"]) == ["muenchen-sso"]
