"""The ``tandem`` command: serve, migrate, sync tenants, manage plugins, run workers."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click
from pydantic import ValidationError

from core.settings import Settings

T = TypeVar("T")


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        messages = "; ".join(_config_error(err) for err in exc.errors())
        raise click.ClickException(f"configuration error: {messages}") from None


def _config_error(err: Any) -> str:
    """One readable line per error, naming the environment variable when there is one."""
    message = err["msg"].removeprefix("Value error, ")
    field = ".".join(str(part) for part in err.get("loc", ()))
    return f"TANDEM_{field.upper()}: {message}" if field else message


def _run(coro_factory: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(coro_factory())  # type: ignore[arg-type]


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log more.")
def main(verbose: bool) -> None:
    """Tandem: mentoring partnerships for many organisations on one platform."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


# --- database ---------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database migrations."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply migrations (as the table owner, TANDEM_MIGRATION_DATABASE_URL)."""
    from core.db.migrate import upgrade

    upgrade(_settings(), revision)


@db.command("downgrade")
@click.argument("revision", default="base")
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION (default: base, an empty database)."""
    from core.db.migrate import downgrade

    downgrade(_settings(), revision)


@db.command("create-app-role")
@click.option(
    "--password-env",
    default=None,
    help="Environment variable holding the role's password (none: trust auth).",
)
def db_create_app_role(password_env: str | None) -> None:
    """Create the PostgreSQL login role the application connects as (TANDEM_APP_DB_ROLE).

    Connects with TANDEM_MIGRATION_DATABASE_URL (a role allowed to create roles).
    """
    import os

    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    from core.db.postgres import create_app_role

    settings = _settings()
    url = settings.migration_database_url
    if not url.startswith("postgresql"):
        raise click.ClickException("create-app-role is for PostgreSQL only")
    password = None
    if password_env:
        password = os.environ.get(password_env)
        # A typo in the variable's name must not leave a role without a password.
        if not password:
            raise click.ClickException(f"environment variable {password_env} is not set")

    async def go() -> None:
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(create_app_role, settings.app_db_role, password)
        finally:
            await engine.dispose()

    _run(go)
    click.echo(f"role {settings.app_db_role} is ready (LOGIN, NOBYPASSRLS, owns nothing)")


# --- tenants ----------------------------------------------------------------------------


@main.group()
def tenants() -> None:
    """The tenants/ files and the tenants in the database."""


@tenants.command("sync")
@click.option("--dry-run", is_flag=True, help="Report what would change, change nothing.")
def tenants_sync(dry_run: bool) -> None:
    """Make the database match the tenants/ files (idempotent)."""
    from core.db.sessions import Database
    from core.pluginhost.manager import PluginHost
    from core.tenancy.files import TenantFilesError
    from core.tenancy.sync import sync_tenants

    settings = _settings()

    async def go() -> list[str]:
        db = Database(settings.database_url)
        try:
            report = await sync_tenants(
                db, PluginHost.load(), settings.tenants_dir, settings.themes_dir, dry_run=dry_run
            )
        finally:
            await db.dispose()
        return report.lines()

    try:
        lines = _run(go)
    except TenantFilesError as exc:
        click.echo("tenants/ has errors; nothing was changed:", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(2)
    prefix = "(dry run) " if dry_run else ""
    for line in lines:
        click.echo(prefix + line)


@tenants.command("list")
def tenants_list() -> None:
    """List the tenants in the database."""
    from sqlalchemy import select

    from core.db.sessions import Database
    from core.tenancy.models import Tenant

    settings = _settings()

    async def go() -> list[Tenant]:
        db = Database(settings.database_url)
        try:
            async with db.platform_session() as session:
                return list(await session.scalars(select(Tenant).order_by(Tenant.slug)))
        finally:
            await db.dispose()

    for tenant in _run(go):
        click.echo(
            f"{tenant.slug:20} {tenant.status.value:10} {','.join(tenant.locales):8} "
            f"{tenant.theme:12} {tenant.name}"
        )


# --- plugins ----------------------------------------------------------------------------


@main.group()
def plugins() -> None:
    """Installed plugins and their per-tenant state."""


@plugins.command("list")
@click.option("--tenant", "slug", default=None, help="Show which plugins this tenant enabled.")
def plugins_list(slug: str | None) -> None:
    """List installed plugins (and, with --tenant, their state there)."""
    from core.pluginhost.manager import PluginHost

    host = PluginHost.load()
    state: dict[str, Any] = {}
    if slug:
        state = _run(lambda: _tenant_plugin_state(slug))
    for plugin_id, info in sorted(host.infos.items()):
        line = f"{plugin_id:20} {info.version:8} {info.name}"
        if slug:
            row = state.get(plugin_id)
            line += "  [enabled]" if row and row["enabled"] else "  [disabled]"
            if row and row["enabled"]:
                line += " " + json.dumps(row["settings"], ensure_ascii=False)
        click.echo(line)


@plugins.command("show")
@click.argument("plugin_id")
def plugins_show(plugin_id: str) -> None:
    """Describe a plugin and print its settings schema."""
    from core.pluginhost.manager import PluginHost

    try:
        info = PluginHost.load().info(plugin_id)
    except KeyError as exc:
        raise click.ClickException(exc.args[0]) from None
    click.echo(f"{info.name} ({info.id} {info.version})\n{info.description}\n")
    click.echo(json.dumps(info.settings_schema(), indent=2, ensure_ascii=False))


@plugins.command("enable")
@click.argument("plugin_id")
@click.option("--tenant", "slug", required=True)
@click.option(
    "--settings",
    "settings_json",
    default=None,
    help='Settings as JSON, e.g. \'{"title": {"en": "Hello"}}\'; omitted: keep.',
)
def plugins_enable(plugin_id: str, slug: str, settings_json: str | None) -> None:
    """Enable PLUGIN_ID for a tenant, with settings validated against its schema."""
    settings = None
    if settings_json is not None:
        try:
            settings = json.loads(settings_json)
        except json.JSONDecodeError as exc:
            raise click.ClickException(f"--settings is not valid JSON: {exc}") from None
        if not isinstance(settings, dict):
            raise click.ClickException("--settings must be a JSON object")
    _change_plugin(slug, plugin_id, enabled=True, settings=settings)


@plugins.command("disable")
@click.argument("plugin_id")
@click.option("--tenant", "slug", required=True)
def plugins_disable(plugin_id: str, slug: str) -> None:
    """Disable PLUGIN_ID for a tenant (its settings are kept)."""
    _change_plugin(slug, plugin_id, enabled=False, settings=None)


def _change_plugin(slug: str, plugin_id: str, *, enabled: bool, settings: Any) -> None:
    from core.db.sessions import Database
    from core.pluginhost.info import PluginSettingsError
    from core.pluginhost.manager import PluginHost
    from core.pluginhost.service import set_plugin_state

    app_settings = _settings()
    host = PluginHost.load()

    async def go() -> str | None:
        db = Database(app_settings.database_url)
        try:
            tenant = await _tenant_by_slug(db, slug)
            async with db.tenant_session(tenant.id) as session, session.begin():
                return await set_plugin_state(
                    session, host, plugin_id, enabled=enabled, settings=settings
                )
        finally:
            await db.dispose()

    try:
        change = _run(go)
    except KeyError as exc:
        raise click.ClickException(exc.args[0]) from None
    except PluginSettingsError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{slug}: {change}" if change else f"{slug}: unchanged")


async def _tenant_by_slug(db: Any, slug: str) -> Any:
    from sqlalchemy import select

    from core.tenancy.models import Tenant

    async with db.platform_session() as session:
        tenant = await session.scalar(select(Tenant).where(Tenant.slug == slug))
    if tenant is None:
        raise KeyError(f"no tenant {slug!r}")
    return tenant


async def _tenant_plugin_state(slug: str) -> dict[str, Any]:
    from core.db.sessions import Database
    from core.pluginhost.service import plugin_rows

    db = Database(_settings().database_url)
    try:
        tenant = await _tenant_by_slug(db, slug)
        async with db.tenant_session(tenant.id) as session:
            rows = await plugin_rows(session)
            return {pid: {"enabled": r.enabled, "settings": r.settings} for pid, r in rows.items()}
    except KeyError as exc:
        raise click.ClickException(exc.args[0]) from None
    finally:
        await db.dispose()


# --- operators --------------------------------------------------------------------------


@main.group()
def operators() -> None:
    """The people who run the deployment (the operator console on the platform host)."""


@operators.command("add")
@click.argument("email")
@click.option("--name", default="", help="Display name (default: the e-mail address).")
def operators_add(email: str, name: str) -> None:
    """Create an operator with EMAIL (nothing happens if one with it exists)."""
    from sqlalchemy import select

    from core.db.sessions import Database
    from core.identity.models import User
    from core.mail.compose import MailError, check_address

    try:
        email = check_address(email)
    except MailError as exc:
        raise click.ClickException(str(exc)) from None
    name = name.strip()
    if len(name) > 200 or not name.isprintable():
        raise click.ClickException("--name must be one line of at most 200 characters")
    settings = _settings()

    async def go() -> bool:
        db = Database(settings.database_url)
        try:
            async with db.platform_session() as session, session.begin():
                # Matched by e-mail among operators only: an e-mail never joins accounts.
                found = await session.scalar(
                    select(User.id).where(User.is_operator.is_(True), User.email == email)
                )
                if found is not None:
                    return False
                session.add(User(email=email, display_name=name or email, is_operator=True))
                return True
        finally:
            await db.dispose()

    created = _run(go)
    click.echo(f"operator {email} created" if created else f"operator {email} exists already")


# --- serving ----------------------------------------------------------------------------


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=None, type=int, help="Default: TANDEM_PORT (8000).")
@click.option("--reload", is_flag=True, help="Restart on code changes (development).")
def serve(host: str, port: int | None, reload: bool) -> None:
    """Serve the web application (with an in-process job worker when no broker is set)."""
    import uvicorn

    settings = _settings()
    uvicorn.run(
        "core.web.asgi:app",
        host=host,
        port=port or settings.port,
        reload=reload,
        proxy_headers=settings.trust_forwarded_host,
        server_header=False,
    )


@main.command("worker")
@click.option("--threads", default=4, show_default=True, help="Worker threads.")
def worker(threads: int) -> None:
    """Run job workers and the outbox relay (needs TANDEM_BROKER_URL)."""
    import dramatiq

    import core.events  # noqa: F401 - declares the core actors
    from core.db.sessions import Database
    from core.jobs.actors import JobRuntime
    from core.jobs.broker import build_broker
    from core.jobs.relay import OutboxRelay
    from core.mail import configure_mail  # also declares core.send_mail
    from core.pluginhost.manager import PluginHost

    settings = _settings()
    if not settings.broker_url:
        raise click.ClickException(
            "TANDEM_BROKER_URL is not set: without a broker the web process runs jobs itself"
        )
    configure_mail(settings)
    host = PluginHost.load()
    broker = build_broker(settings.broker_url)
    JobRuntime.configure(lambda: (Database(settings.database_url), host))
    job_worker = dramatiq.Worker(broker, worker_threads=threads)
    job_worker.start()

    async def relay_until_stopped() -> None:
        db = Database(settings.database_url)
        relay = OutboxRelay(db, broker, settings.outbox_poll_seconds)
        relay.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        click.echo(f"worker running with {threads} threads; Ctrl-C to stop")
        await stop.wait()
        await relay.stop()
        await db.dispose()

    try:
        asyncio.run(relay_until_stopped())
    finally:
        job_worker.stop()
        broker.close()
