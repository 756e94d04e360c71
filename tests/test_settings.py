"""Settings from TANDEM_* environment variables, and the production secret-key guard."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from core.cli import main
from core.db.sessions import Database
from core.settings import DEV_SECRET_KEY, MIN_SECRET_KEY_LENGTH, ROOT, Settings

STRONG_KEY = secrets.token_urlsafe(48)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No TANDEM_* variable from the caller's shell or from conftest leaks in."""
    for name in list(os.environ):
        if name.startswith("TANDEM_"):
            monkeypatch.delenv(name)
    return monkeypatch


def test_development_defaults(clean_env: pytest.MonkeyPatch) -> None:
    settings = Settings()
    assert settings.env == "development"
    assert settings.is_development
    assert settings.database_url == f"sqlite+aiosqlite:///{ROOT / 'var' / 'tandem.db'}"
    assert settings.migration_database_url == settings.database_url
    assert settings.broker_url == ""  # in-process worker
    assert settings.base_domain == "localhost"
    assert settings.secret_key == DEV_SECRET_KEY
    assert settings.trust_forwarded_host is False
    assert settings.tenant_cache_seconds == 5.0
    assert settings.port == 8000
    assert settings.tenants_dir == ROOT / "tenants"
    assert settings.themes_dir == ROOT / "themes"
    assert settings.migrations_dir == ROOT / "migrations"


def test_sqlite_default_follows_the_root(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = Settings(root=tmp_path)
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'var' / 'tandem.db'}"
    assert settings.tenants_dir == tmp_path / "tenants"


def test_environment_variables_are_read(clean_env: pytest.MonkeyPatch) -> None:
    values = {
        "TANDEM_DATABASE_URL": "postgresql+asyncpg://tandem_app@db:5432/tandem",
        "TANDEM_MIGRATION_DATABASE_URL": "postgresql+asyncpg://tandem@db:5432/tandem",
        "TANDEM_APP_DB_ROLE": "tandem_web",
        "TANDEM_BROKER_URL": "redis://redis:6379/0",
        "TANDEM_BASE_DOMAIN": "Mentoring.Example.ORG.",
        "TANDEM_SECRET_KEY": STRONG_KEY,
        "TANDEM_TRUST_FORWARDED_HOST": "true",
        "TANDEM_TENANT_CACHE_SECONDS": "0.5",
        "TANDEM_OUTBOX_POLL_SECONDS": "1.5",
        "TANDEM_PORT": "9000",
    }
    for name, value in values.items():
        clean_env.setenv(name, value)
    settings = Settings()
    assert settings.database_url == values["TANDEM_DATABASE_URL"]
    assert settings.migration_database_url == values["TANDEM_MIGRATION_DATABASE_URL"]
    assert settings.app_db_role == "tandem_web"
    assert settings.broker_url == "redis://redis:6379/0"
    assert settings.base_domain == "mentoring.example.org"  # normalised
    assert settings.secret_key == STRONG_KEY
    assert settings.trust_forwarded_host is True
    assert settings.tenant_cache_seconds == 0.5
    assert settings.outbox_poll_seconds == 1.5
    assert settings.port == 9000


def test_migrations_default_to_the_application_url(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("TANDEM_DATABASE_URL", "sqlite+aiosqlite:////tmp/x.db")
    assert Settings().migration_database_url == "sqlite+aiosqlite:////tmp/x.db"


def test_unknown_tandem_variables_are_ignored(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("TANDEM_OIDC_MUENCHEN_SECRET", "s3cret")  # read by name elsewhere
    assert Settings().env == "development"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TANDEM_ENV", "staging"),
        ("TANDEM_TENANT_CACHE_SECONDS", "-1"),
        ("TANDEM_TENANT_CACHE_SECONDS", "soon"),
        ("TANDEM_OUTBOX_POLL_SECONDS", "0"),
        ("TANDEM_PORT", "http"),
        ("TANDEM_PORT", "70000"),
        ("TANDEM_TRUST_FORWARDED_HOST", "maybe"),
        ("TANDEM_BASE_DOMAIN", "localhost:8000"),
        ("TANDEM_BASE_DOMAIN", "https://tandem.example.org"),
        ("TANDEM_BASE_DOMAIN", "127.0.0.1"),
        ("TANDEM_BASE_DOMAIN", ""),
        ("TANDEM_BASE_DOMAIN", "a b"),
    ],
)
def test_invalid_values_are_refused(clean_env: pytest.MonkeyPatch, name: str, value: str) -> None:
    clean_env.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()


@pytest.mark.parametrize(
    "key",
    [
        None,  # not set at all: the development default
        DEV_SECRET_KEY,
        "",
        "short",
        "x" * (MIN_SECRET_KEY_LENGTH - 1),
    ],
)
def test_production_refuses_a_weak_secret_key(
    clean_env: pytest.MonkeyPatch, key: str | None
) -> None:
    clean_env.setenv("TANDEM_ENV", "production")
    if key is not None:
        clean_env.setenv("TANDEM_SECRET_KEY", key)
    with pytest.raises(ValidationError) as raised:
        Settings()
    message = str(raised.value)
    assert "TANDEM_SECRET_KEY" in message
    assert f"at least {MIN_SECRET_KEY_LENGTH} characters" in message
    assert "secrets.token_urlsafe" in message  # says how to make one


def test_production_starts_with_a_strong_key(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("TANDEM_ENV", "production")
    clean_env.setenv("TANDEM_SECRET_KEY", STRONG_KEY)
    settings = Settings()
    assert settings.env == "production"
    assert not settings.is_development
    assert settings.secret_key == STRONG_KEY


@pytest.mark.parametrize("env", ["development", "test"])
def test_weak_keys_are_fine_outside_production(clean_env: pytest.MonkeyPatch, env: str) -> None:
    clean_env.setenv("TANDEM_ENV", env)
    clean_env.setenv("TANDEM_SECRET_KEY", "short")
    assert Settings().secret_key == "short"


# --- the tandem command ------------------------------------------------------------------


def test_cli_refuses_production_without_a_real_key(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("TANDEM_ENV", "production")
    clean_env.setenv("TANDEM_SECRET_KEY", "too-short")
    result = CliRunner().invoke(main, ["tenants", "list"])
    assert result.exit_code != 0
    assert "configuration error" in result.output
    assert "TANDEM_SECRET_KEY" in result.output
    assert "Traceback" not in result.output
    # A clean usage error, not a crash.
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_cli_names_the_variable_that_is_wrong(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("TANDEM_TENANT_CACHE_SECONDS", "-3")
    result = CliRunner().invoke(main, ["tenants", "list"])
    assert result.exit_code != 0
    assert "TANDEM_TENANT_CACHE_SECONDS" in result.output
    assert "Traceback" not in result.output


def test_cli_works_in_production_with_a_strong_key(
    synced: Database, settings: Settings, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("TANDEM_ENV", "production")
    clean_env.setenv("TANDEM_SECRET_KEY", STRONG_KEY)
    clean_env.setenv("TANDEM_DATABASE_URL", settings.database_url)
    result = CliRunner().invoke(main, ["tenants", "list"])
    assert result.exit_code == 0, result.output
    slugs = [line.split()[0] for line in result.output.splitlines() if line.strip()]
    assert slugs == ["augsburg", "muenchen", "toronto"]
    assert "suspended" not in result.output
