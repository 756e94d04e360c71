"""The production artefacts: the application role command, the image, the compose file.

No Docker engine runs in CI, so the image and the compose file are checked for the
properties a reader relies on: the app connects as the role without table ownership,
only the migration step sees the owner's password, and no secret has a default.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from core.cli import main
from core.settings import ROOT, Settings
from tests.services import POSTGRES_ADMIN_URL, need_postgres

# Every character that a naive implementation would take for a placeholder or a quote.
TRICKY_PASSWORD = 'it\'s 100% :safe $1 %(p)s \\ "quoted"'


def _stored_password_matches(role: str, password: str) -> bool:
    """Check a SCRAM-SHA-256 verifier (trust auth here would accept any password)."""
    engine = create_engine(POSTGRES_ADMIN_URL)
    with engine.connect() as conn:
        stored = conn.execute(
            text("SELECT rolpassword FROM pg_authid WHERE rolname = :r"), {"r": role}
        ).scalar_one()
    engine.dispose()
    match = re.fullmatch(r"SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)", stored or "")
    assert match, f"not a SCRAM verifier: {stored!r}"
    iterations, salt, stored_key = int(match[1]), base64.b64decode(match[2]), match[3]
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    return base64.b64encode(hashlib.sha256(client_key).digest()).decode() == stored_key


@pytest.fixture
def app_role() -> Iterator[str]:
    need_postgres()
    role = f"tandem_deploy_{uuid.uuid4().hex[:8]}"
    yield role
    engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
    engine.dispose()


def _create_app_role(role: str, url: str, password_env: str | None, **env: str) -> Any:
    args = ["db", "create-app-role"] + (["--password-env", password_env] if password_env else [])
    environment = {"TANDEM_MIGRATION_DATABASE_URL": url, "TANDEM_APP_DB_ROLE": role, **env}
    return CliRunner().invoke(main, args, env=environment)


def _admin_async_url() -> str:
    return POSTGRES_ADMIN_URL.replace("+psycopg", "+asyncpg")


def test_create_app_role_sets_the_password_from_the_environment(app_role: str) -> None:
    result = _create_app_role(
        app_role, _admin_async_url(), "TANDEM_TEST_ROLE_PW", TANDEM_TEST_ROLE_PW=TRICKY_PASSWORD
    )
    assert result.exit_code == 0, result.output
    assert _stored_password_matches(app_role, TRICKY_PASSWORD)
    assert not _stored_password_matches(app_role, TRICKY_PASSWORD + "x")

    engine = create_engine(POSTGRES_ADMIN_URL)
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT rolcanlogin, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb "
                "FROM pg_roles WHERE rolname = :r"
            ),
            {"r": app_role},
        ).one()
    engine.dispose()
    assert tuple(row) == (True, False, False, False, False)


def test_create_app_role_again_changes_the_password(app_role: str) -> None:
    url = _admin_async_url()
    assert _create_app_role(app_role, url, "PW", PW="first-password").exit_code == 0
    result = _create_app_role(app_role, url, "PW", PW="second-password")
    assert result.exit_code == 0, result.output
    assert _stored_password_matches(app_role, "second-password")


def test_create_app_role_refuses_a_missing_password_variable(app_role: str) -> None:
    result = _create_app_role(app_role, _admin_async_url(), "TANDEM_NO_SUCH_VARIABLE")
    assert result.exit_code != 0
    assert "TANDEM_NO_SUCH_VARIABLE is not set" in result.output
    engine = create_engine(POSTGRES_ADMIN_URL)
    with engine.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": app_role})
        assert exists.scalar() is None, "a role without its password was created"
    engine.dispose()


def test_create_app_role_is_for_postgresql_only() -> None:
    result = _create_app_role("tandem_app", "sqlite+aiosqlite:///unused.db", None)
    assert result.exit_code != 0
    assert "PostgreSQL only" in result.output


# --- the image and the compose file ------------------------------------------------------


def _compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _environment(service: str) -> dict[str, str]:
    return {k: str(v) for k, v in _compose()["services"][service]["environment"].items()}


@pytest.mark.parametrize("service", ["web", "worker"])
def test_app_processes_connect_as_the_app_role_and_never_see_the_owner(service: str) -> None:
    env = _environment(service)
    assert env["TANDEM_DATABASE_URL"].startswith("postgresql+asyncpg://tandem_app:")
    assert env["TANDEM_APP_DB_ROLE"] == "tandem_app"
    assert "TANDEM_MIGRATION_DATABASE_URL" not in env
    assert not any("POSTGRES_PASSWORD" in value for value in env.values())
    assert env["TANDEM_BROKER_URL"] == "redis://redis:6379/0"


def test_only_the_migration_step_runs_as_the_owner() -> None:
    env = _environment("migrate")
    assert env["TANDEM_MIGRATION_DATABASE_URL"].startswith("postgresql+asyncpg://tandem:")
    command = " ".join(_compose()["services"]["migrate"]["command"])
    steps = ["db create-app-role --password-env TANDEM_APP_DB_PASSWORD", "db upgrade", "sync"]
    positions = [command.index(step) for step in steps]
    assert positions == sorted(positions), "role, then migrations, then tenants"
    for service in ("web", "worker"):
        depends = _compose()["services"][service]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"


def test_every_secret_in_the_compose_file_is_required_and_has_no_default() -> None:
    raw = (ROOT / "docker-compose.yml").read_text()
    for name in ("TANDEM_SECRET_KEY", "POSTGRES_PASSWORD", "TANDEM_APP_DB_PASSWORD"):
        uses = re.findall(r"\$\{" + name + r"([^}]*)\}", raw)
        assert uses, f"{name} is not used"
        assert all(use.startswith(":?") for use in uses), f"{name} needs ${{{name}:?…}}"


def test_production_settings_in_the_compose_file_pass_validation() -> None:
    env = _environment("web")
    values = {
        k.removeprefix("TANDEM_").lower(): v for k, v in env.items() if k.startswith("TANDEM")
    }
    # Compose fills "${X:-default}" with the default when .env leaves X out.
    values = {k: re.sub(r"^\$\{\w+:-([^}]*)\}$", r"\1", v) for k, v in values.items()}
    values["secret_key"] = "x" * 48  # what .env provides
    values["base_domain"] = "mentoring.example.org"
    settings = Settings(**values)  # type: ignore[arg-type]
    assert settings.env == "production"


def test_the_image_carries_every_data_folder_the_settings_read() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^\s*TANDEM_ROOT=/app\b", dockerfile, re.MULTILINE)
    assert re.search(r"^WORKDIR /app$", dockerfile, re.MULTILINE)
    settings = Settings(root=ROOT)
    for folder in (settings.migrations_dir, settings.tenants_dir, settings.themes_dir):
        name = folder.name
        assert re.search(rf"^COPY {name}/ {name}/$", dockerfile, re.MULTILINE), name
    assert re.search(r"^USER \d+:\d+$", dockerfile, re.MULTILINE), "runs as a numeric non-root"
    assert 'CMD ["tandem", "serve", "--host", "0.0.0.0"]' in dockerfile
