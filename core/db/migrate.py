"""Run Alembic programmatically (no alembic.ini: the repository's top level stays clean)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from core.settings import Settings


def alembic_config(settings: Settings, url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(settings.migrations_dir))
    config.set_main_option(
        "sqlalchemy.url", (url or settings.migration_database_url).replace("%", "%%")
    )
    config.attributes["app_db_role"] = settings.app_db_role
    return config


def upgrade(settings: Settings, revision: str = "head", url: str | None = None) -> None:
    if (url or settings.migration_database_url).startswith("sqlite"):
        (settings.root / "var").mkdir(exist_ok=True)
    command.upgrade(alembic_config(settings, url), revision)


def downgrade(settings: Settings, revision: str = "base", url: str | None = None) -> None:
    command.downgrade(alembic_config(settings, url), revision)
