"""The ``tandem`` command, run through click's CliRunner against the test database.

The CLI reads its settings from ``TANDEM_*`` environment variables (``Settings()``
on each command, no process-wide cache), so each invocation gets the test
database's URLs in its environment. On PostgreSQL it connects as the application
role, like the web process. Tests are synchronous: the commands run their own
event loop, and the few checks of the database open a fresh one.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from core.cli import main
from core.db.sessions import Database
from core.pluginhost.service import plugin_rows
from core.settings import Settings
from core.tenancy.models import Tenant

Invoke = Callable[..., Result]
GREETING = {"title": {"de": "Willkommen"}, "message": {"de": "Neue Runde im Mai"}}


@pytest.fixture
def cli(settings: Settings) -> Invoke:
    """``cli("plugins", "list", root=...)`` runs ``tandem plugins list`` for the test DB."""
    base_env = {
        "TANDEM_ENV": "test",
        "TANDEM_DATABASE_URL": settings.database_url,
        "TANDEM_MIGRATION_DATABASE_URL": settings.migration_database_url,
        "TANDEM_APP_DB_ROLE": settings.app_db_role,
        "TANDEM_BROKER_URL": "",
        "TANDEM_ROOT": str(settings.root),
    }

    def invoke(*args: str, **env: str) -> Result:
        environment = {**base_env, **{f"TANDEM_{k.upper()}": v for k, v in env.items()}}
        return CliRunner(env=environment).invoke(main, list(args), catch_exceptions=False)

    return invoke


@pytest.fixture
def synced_cli(cli: Invoke) -> Invoke:
    result = cli("tenants", "sync")
    assert result.exit_code == 0, result.output
    return cli


def tenant_state(settings: Settings, slug: str) -> tuple[int, dict[str, Any]]:
    """(revision, {plugin id: (enabled, settings)}) of one tenant, read directly."""

    async def read() -> tuple[int, dict[str, Any]]:
        db = Database(settings.database_url)
        try:
            async with db.platform_session() as session:
                tenant = await session.scalar(select(Tenant).where(Tenant.slug == slug))
            assert tenant is not None, slug
            async with db.tenant_session(tenant.id) as session:
                rows = await plugin_rows(session)
            return tenant.revision, {k: (r.enabled, r.settings) for k, r in rows.items()}
        finally:
            await db.dispose()

    return asyncio.run(read())


def tenant_slugs(cli: Invoke) -> list[str]:
    result = cli("tenants", "list")
    assert result.exit_code == 0, result.output
    return [line.split()[0] for line in result.stdout.splitlines()]


# --- tandem tenants -----------------------------------------------------------------------


def test_tenants_sync_applies_the_files_and_reports_what_changed(cli: Invoke):
    first = cli("tenants", "sync")
    assert first.exit_code == 0, first.output
    lines = first.stdout.splitlines()
    for slug in ("augsburg", "muenchen", "toronto"):
        assert f"{slug}: created" in lines
    assert "muenchen: enabled plugin announcements" in lines
    assert tenant_slugs(cli) == ["augsburg", "muenchen", "toronto"]

    second = cli("tenants", "sync")
    assert second.exit_code == 0, second.output
    assert sorted(second.stdout.splitlines()) == [
        "augsburg: unchanged",
        "muenchen: unchanged",
        "toronto: unchanged",
    ]


def test_tenants_list_shows_locales_and_themes(synced_cli: Invoke):
    rows = {
        line.split()[0]: line.split() for line in synced_cli("tenants", "list").stdout.splitlines()
    }
    assert rows["muenchen"][1:4] == ["active", "de,en,ar,uk,tr", "muenchen"]
    assert rows["toronto"][1:4] == ["active", "en,ar,uk", "toronto"]


def test_tenants_sync_dry_run_changes_nothing(cli: Invoke):
    result = cli("tenants", "sync", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "(dry run) muenchen: created" in result.stdout.splitlines()
    assert tenant_slugs(cli) == []


def test_tenants_sync_with_errors_exits_2_and_names_file_and_field(cli: Invoke, tmp_path: Path):
    root = tmp_path / "root"
    (root / "tenants").mkdir(parents=True)
    (root / "themes").symlink_to(Path(__file__).resolve().parent.parent / "themes")
    (root / "tenants" / "alpha.toml").write_text(
        'slug = "alpha"\ndefault_locale = "de"\nlocales = ["de"]\n', encoding="utf-8"
    )
    (root / "tenants" / "beta.toml").write_text(
        'slug = "beta"\nname = "Beta"\ndefault_locale = "en"\nlocales = ["en"]\ntheme = "x"\n',
        encoding="utf-8",
    )

    result = cli("tenants", "sync", root=str(root))

    assert result.exit_code == 2
    assert result.stdout == ""
    errors = result.stderr.splitlines()
    assert errors[0] == "tenants/ has errors; nothing was changed:"
    assert "  alpha.toml: name: Field required" in errors
    # Once alpha is fixed, beta's reference to a missing theme is reported the same way.
    (root / "tenants" / "alpha.toml").write_text(
        'slug = "alpha"\nname = "Alpha"\ndefault_locale = "de"\nlocales = ["de"]\n',
        encoding="utf-8",
    )
    result = cli("tenants", "sync", root=str(root))
    assert result.exit_code == 2
    assert any(
        line.startswith("  beta.toml: theme: no theme 'x'") for line in result.stderr.splitlines()
    )
    assert tenant_slugs(cli) == []


def test_a_configuration_error_is_reported_without_a_traceback(cli: Invoke):
    result = cli("tenants", "list", env="production", secret_key="short")
    assert result.exit_code == 1
    assert "configuration error: TANDEM_SECRET_KEY must be set" in result.stderr


# --- tandem plugins -----------------------------------------------------------------------


def test_plugins_list_shows_the_installed_plugins(cli: Invoke):
    result = cli("plugins", "list")
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line for line in result.stdout.splitlines()}
    assert rows["announcements"].split()[1:3] == ["1.0.0", "Announcements"]


def test_plugins_list_for_a_tenant_shows_its_state(synced_cli: Invoke):
    muenchen = synced_cli("plugins", "list", "--tenant", "muenchen")
    augsburg = synced_cli("plugins", "list", "--tenant", "augsburg")
    assert muenchen.exit_code == augsburg.exit_code == 0

    line = next(x for x in muenchen.stdout.splitlines() if x.startswith("announcements "))
    assert "[enabled]" in line
    settings = json.loads(line[line.index("{") :])
    assert settings["title"]["de"] == "Neuer Durchgang ab Februar"
    line = next(x for x in augsburg.stdout.splitlines() if x.startswith("announcements "))
    assert line.endswith("[disabled]")


def test_plugins_list_for_an_unknown_tenant_is_an_error(synced_cli: Invoke):
    result = synced_cli("plugins", "list", "--tenant", "nowhere")
    assert result.exit_code == 1
    assert "no tenant 'nowhere'" in result.stderr


def test_plugins_show_prints_the_settings_schema(cli: Invoke):
    result = cli("plugins", "show", "announcements")
    assert result.exit_code == 0, result.output
    header, _, schema_text = result.stdout.partition("\n{")
    assert header.startswith("Announcements (announcements 1.0.0)")
    assert "home page" in header
    schema = json.loads("{" + schema_text)
    assert set(schema["properties"]) == {"title", "message", "link"}
    assert sorted(schema["required"]) == ["message", "title"]
    assert schema["properties"]["title"]["description"].startswith("Heading per language")


def test_plugins_show_for_an_unknown_plugin_is_an_error(cli: Invoke):
    result = cli("plugins", "show", "nope")
    assert result.exit_code == 1
    assert "unknown plugin 'nope' (installed: " in result.stderr
    assert "announcements" in result.stderr


def test_plugins_enable_with_valid_settings(synced_cli: Invoke, settings: Settings):
    revision, rows = tenant_state(settings, "augsburg")
    muenchen_before = tenant_state(settings, "muenchen")
    assert "announcements" not in rows

    result = synced_cli(
        "plugins", "enable", "announcements", "--tenant", "augsburg",
        "--settings", json.dumps(GREETING),
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert result.stdout == "augsburg: enabled plugin announcements\n"
    new_revision, rows = tenant_state(settings, "augsburg")
    assert new_revision == revision + 1
    assert rows["announcements"] == (True, {**GREETING, "link": None})
    assert tenant_state(settings, "muenchen") == muenchen_before  # the other tenant: untouched
    listed = synced_cli("plugins", "list", "--tenant", "augsburg").stdout
    assert "[enabled]" in next(x for x in listed.splitlines() if x.startswith("announcements "))

    again = synced_cli(
        "plugins", "enable", "announcements", "--tenant", "augsburg",
        "--settings", json.dumps(GREETING),
    )  # fmt: skip
    assert (again.exit_code, again.stdout) == (0, "augsburg: unchanged\n")
    assert tenant_state(settings, "augsburg")[0] == new_revision


@pytest.mark.parametrize(
    ("extra_args", "message"),
    [
        (["--settings", "{not json"], "--settings is not valid JSON"),
        (["--settings", '["title"]'], "--settings must be a JSON object"),
        (
            ["--settings", '{"title": {"de": "Hallo"}}'],
            "invalid settings for plugin 'announcements': message: Field required",
        ),
        (
            ["--settings", json.dumps({**GREETING, "link": "nowhere"})],
            "invalid settings for plugin 'announcements': link: ",
        ),
        (["--settings", json.dumps({**GREETING, "colour": "red"})], "colour: Extra inputs"),
        ([], "title: Field required"),  # nothing stored yet, and no settings given
    ],
)
def test_plugins_enable_with_invalid_settings_changes_nothing(
    synced_cli: Invoke, settings: Settings, extra_args: list[str], message: str
):
    before = tenant_state(settings, "augsburg")
    result = synced_cli("plugins", "enable", "announcements", "--tenant", "augsburg", *extra_args)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert message in result.stderr
    assert tenant_state(settings, "augsburg") == before


def test_plugins_disable_keeps_the_settings_for_a_later_enable(
    synced_cli: Invoke, settings: Settings
):
    revision, rows = tenant_state(settings, "muenchen")
    stored = rows["announcements"][1]
    augsburg_before = tenant_state(settings, "augsburg")

    result = synced_cli("plugins", "disable", "announcements", "--tenant", "muenchen")
    assert (result.exit_code, result.stdout) == (0, "muenchen: disabled plugin announcements\n")
    # Only announcements changed; the tenant's other plugins (matching criteria) stay.
    disabled = {**rows, "announcements": (False, stored)}
    assert tenant_state(settings, "muenchen") == (revision + 1, disabled)

    again = synced_cli("plugins", "disable", "announcements", "--tenant", "muenchen")
    assert (again.exit_code, again.stdout) == (0, "muenchen: unchanged\n")

    enabled = synced_cli("plugins", "enable", "announcements", "--tenant", "muenchen")
    assert (enabled.exit_code, enabled.stdout) == (0, "muenchen: enabled plugin announcements\n")
    assert tenant_state(settings, "muenchen")[1] == {**rows, "announcements": (True, stored)}
    assert tenant_state(settings, "augsburg") == augsburg_before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["enable", "announcements", "--tenant=nowhere", "--settings={}"], "no tenant 'nowhere'"),
        (["disable", "announcements", "--tenant", "nowhere"], "no tenant 'nowhere'"),
        (["enable", "nope", "--tenant", "muenchen", "--settings={}"], "unknown plugin 'nope'"),
        (["disable", "nope", "--tenant", "muenchen"], "unknown plugin 'nope'"),
        (["enable", "announcements"], "Missing option '--tenant'"),
    ],
)  # fmt: skip
def test_unknown_tenant_or_plugin_is_a_clear_error(
    synced_cli: Invoke, settings: Settings, args: list[str], message: str
):
    before = {slug: tenant_state(settings, slug) for slug in ("muenchen", "augsburg")}
    result = synced_cli("plugins", *args)
    assert result.exit_code != 0
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert {slug: tenant_state(settings, slug) for slug in before} == before


# --- operators ----------------------------------------------------------------------------


def operators_in(settings: Settings) -> list[tuple[str | None, str, bool]]:
    from core.identity.models import User

    async def read() -> list[tuple[str | None, str, bool]]:
        db = Database(settings.database_url)
        try:
            async with db.platform_session() as session:
                users = await session.scalars(select(User).order_by(User.email))
                return [(u.email, u.display_name, u.is_operator) for u in users]
        finally:
            await db.dispose()

    return asyncio.run(read())


def test_operators_add_creates_one_operator_and_is_idempotent(
    cli: Invoke, settings: Settings
) -> None:
    first = cli("operators", "add", "ops@tandem.example", "--name", "Ops Team")
    assert first.exit_code == 0, first.output
    again = cli("operators", "add", "ops@tandem.example", "--name", "Someone else")
    assert again.exit_code == 0, again.output
    assert operators_in(settings) == [("ops@tandem.example", "Ops Team", True)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["not-an-address"], "address"),
        (["a@b.example\nBcc: x@y.example"], "address"),
        (["ops@tandem.example", "--name", "two\nlines"], "--name"),
        (["ops@tandem.example", "--name", "x" * 201], "--name"),
    ],
)
def test_operators_add_refuses_bad_input_and_creates_nothing(
    cli: Invoke, settings: Settings, args: list[str], message: str
) -> None:
    result = cli("operators", "add", *args)
    assert result.exit_code != 0
    assert message in result.output
    assert operators_in(settings) == []
