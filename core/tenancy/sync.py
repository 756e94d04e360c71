"""``tandem tenants sync``: make the database match the ``tenants/`` files.

All files are validated first (schema, plugin settings, themes, domains); then
every change is applied in one transaction, so an error leaves nothing half-done.
Tenants that exist only in the database are reported and left alone, and so is what
a tenant's admins set on /admin/appearance (theme, accent colour, logo).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from core.db.sessions import Database
from core.events import publish_event
from core.identity.accounts import find_or_create_user_for_identity, roles_of, set_roles
from core.identity.models import (
    EMAIL_LOGIN_ISSUER,
    EMAIL_LOGIN_PROVIDER,
    ExternalIdentity,
    IdentityProvider,
)
from core.identity.providers import SOURCE_FILE
from core.pluginhost.info import PluginSettingsError
from core.pluginhost.manager import PluginHost
from core.pluginhost.service import plugin_rows, set_plugin_state
from core.tenancy.files import FileProblem, TenantFile, TenantFilesError, load_tenant_files
from core.tenancy.models import Tenant, TenantDomain, TenantStatus
from core.tenancy.service import bump_revision


@dataclass
class SyncReport:
    changes: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    untracked: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = list(self.changes)
        out += [f"{slug}: unchanged" for slug in self.unchanged]
        out += [
            f"{slug}: in the database but not in tenants/ (left as is)" for slug in self.untracked
        ]
        return out


async def sync_tenants(
    db: Database,
    plugins: PluginHost,
    directory: Path,
    themes_dir: Path,
    *,
    dry_run: bool = False,
    members: bool = True,
) -> SyncReport:
    """Apply the files; ``members=False`` leaves ``[[members]]`` out (tests that want
    the demo tenants without their demo people)."""
    files = load_tenant_files(directory)
    _check_references(files, plugins, themes_dir)
    report = SyncReport()
    async with db.engine.connect() as conn:
        transaction = await conn.begin()
        try:
            await _apply(db, conn, plugins, files, report, members=members)
        except BaseException:
            await transaction.rollback()
            raise
        if dry_run:
            await transaction.rollback()
        else:
            await transaction.commit()
    return report


def _check_references(files: dict[Path, TenantFile], plugins: PluginHost, themes: Path) -> None:
    problems: list[FileProblem] = []
    known_themes = {p.name for p in themes.iterdir() if p.is_dir()} if themes.is_dir() else set()
    for path, tenant in files.items():
        if tenant.theme not in known_themes:
            problems.append(
                FileProblem(
                    path,
                    "theme",
                    f"no theme '{tenant.theme}' in themes/ "
                    f"(have: {', '.join(sorted(known_themes))})",
                )
            )
        for plugin_id, plugin in tenant.plugins.items():
            try:
                info = plugins.info(plugin_id)
            except KeyError as exc:
                problems.append(FileProblem(path, f"plugins.{plugin_id}", exc.args[0]))
                continue
            try:
                info.validate_settings(plugin.settings())
            except PluginSettingsError as exc:
                problems += [
                    FileProblem(path, f"plugins.{plugin_id}.{name}", message)
                    for name, message in exc.problems
                ]
    if problems:
        raise TenantFilesError(problems)


async def _apply(
    db: Database,
    conn: AsyncConnection,
    plugins: PluginHost,
    files: dict[Path, TenantFile],
    report: SyncReport,
    *,
    members: bool = True,
) -> None:
    platform = db.platform_session(bind=conn)
    existing = {t.slug: t for t in await platform.scalars(select(Tenant))}
    # Release dropped domains first, so that a domain can move from one tenant's
    # file to another's in a single sync.
    released = _release_domains(existing, files)
    await platform.flush()
    domain_owner = {d.domain: d.tenant_id for d in await platform.scalars(select(TenantDomain))}
    wanted_slugs = {tenant.slug for tenant in files.values()}
    report.untracked = sorted(set(existing) - wanted_slugs)

    for path, wanted in files.items():
        tenant = existing.get(wanted.slug)
        changes: list[str] = []
        if tenant is None:
            tenant = Tenant(
                slug=wanted.slug,
                name=wanted.name,
                default_locale=wanted.default_locale,
                locales=wanted.locales,
                theme=wanted.theme,
                status=TenantStatus(wanted.status),
                session_idle_minutes=wanted.sessions.idle_minutes,
                session_absolute_hours=wanted.sessions.absolute_hours,
                revision=1,
                domains=[],
            )
            platform.add(tenant)
            await platform.flush()
            changes.append("created")
        else:
            changes += _update_fields(tenant, wanted)
        changes += [f"removed domain {domain}" for domain in released.get(wanted.slug, [])]
        changes += _add_domains(path, tenant, wanted, domain_owner)
        await platform.flush()

        session = db.tenant_session(tenant.id, bind=conn)
        # Rows of plugins no longer installed are left alone: they cannot be
        # validated, and hooks never reach an uninstalled plugin anyway.
        stored = set(await plugin_rows(session)) & set(plugins.infos)
        for plugin_id in sorted(set(wanted.plugins) | stored):
            plugin = wanted.plugins.get(plugin_id)
            change = await set_plugin_state(
                session,
                plugins,
                plugin_id,
                enabled=plugin is not None and plugin.enabled,
                settings=plugin.settings() if plugin is not None else None,
            )
            if change:
                changes.append(change)
        changes += await _sync_identity_providers(session, path, wanted)
        if members:
            changes += await _sync_members(platform, session, wanted)
        if changes and "created" not in changes:
            await bump_revision(session, tenant.id)
        if changes:
            # In this tenant's session, so the event commits (or rolls back) with the sync.
            publish_event(session, "tenant.updated", {"changes": changes})
        await session.flush()
        await session.close()

        if changes:
            report.changes += [f"{wanted.slug}: {change}" for change in changes]
        else:
            report.unchanged.append(wanted.slug)
    await platform.close()


def _update_fields(tenant: Tenant, wanted: TenantFile) -> list[str]:
    changes = []
    for name in ("name", "default_locale", "locales", "theme", "status"):
        old, new = getattr(tenant, name), getattr(wanted, name)
        if name == "status":
            new = TenantStatus(new)
        if old != new:
            setattr(tenant, name, new)
            change = f"{name}: {_show(old)} → {_show(new)}"
            if name == "theme" and tenant.chosen_theme:
                # The admin's choice (/admin/appearance) is theirs, never the file's.
                change += f" (the admin's choice '{tenant.chosen_theme}' stays in effect)"
            changes.append(change)
    for name in ("idle_minutes", "absolute_hours"):
        column = f"session_{name}"
        old, new = getattr(tenant, column), getattr(wanted.sessions, name)
        if old != new:
            setattr(tenant, column, new)
            changes.append(f"sessions.{name}: {_show(old)} → {_show(new)}")
    return changes


def _release_domains(
    existing: dict[str, Tenant], files: dict[Path, TenantFile]
) -> dict[str, list[str]]:
    """Remove each tenant's domains its file no longer lists; tenants without a file keep theirs."""
    released: dict[str, list[str]] = {}
    for wanted in files.values():
        tenant = existing.get(wanted.slug)
        if tenant is None:
            continue
        for row in list(tenant.domains):
            if row.domain not in wanted.domains:
                tenant.domains.remove(row)
                released.setdefault(wanted.slug, []).append(row.domain)
    return released


def _add_domains(
    path: Path, tenant: Tenant, wanted: TenantFile, owner: dict[str, object]
) -> list[str]:
    changes = []
    current = {d.domain for d in tenant.domains}
    for domain in wanted.domains:
        if owner.get(domain) not in (None, tenant.id):
            raise TenantFilesError(
                [
                    FileProblem(
                        path, "domains", f"'{domain}' belongs to another tenant in the database"
                    )
                ]
            )
        if domain not in current:
            tenant.domains.append(TenantDomain(domain=domain))
            changes.append(f"added domain {domain}")
    return changes


async def _sync_identity_providers(
    session: AsyncSession, path: Path, wanted: TenantFile
) -> list[str]:
    """The file's providers; those added on the admin page are the coordinators' and
    are left alone (an id the file shares with one of them is an error)."""
    changes = []
    rows = list(await session.scalars(select(IdentityProvider)))
    current = {p.provider_id: p for p in rows if p.source == SOURCE_FILE}
    admin_ids = {p.provider_id for p in rows if p.source != SOURCE_FILE}
    clashes = [
        FileProblem(
            path,
            f"identity_providers.{index}.id",
            f"'{spec.id}' is already used by an identity provider added on the admin page "
            "(/admin/identity-providers): choose another id, or delete that provider first",
        )
        for index, spec in enumerate(wanted.identity_providers)
        if spec.id in admin_ids
    ]
    if clashes:
        raise TenantFilesError(clashes)
    for spec in wanted.identity_providers:
        values = {
            "name": spec.name,
            "issuer": spec.issuer,
            "client_id": spec.client_id,
            "client_secret_env": spec.client_secret_env,
            "client_secret_encrypted": None,
            "scopes": spec.scopes,
        }
        row = current.pop(spec.id, None)
        if row is None:
            session.add(IdentityProvider(provider_id=spec.id, source=SOURCE_FILE, **values))
            changes.append(f"added identity provider {spec.id}")
        elif any(getattr(row, key) != value for key, value in values.items()):
            for key, value in values.items():
                setattr(row, key, value)
            changes.append(f"changed identity provider {spec.id}")
    for provider_id, row in current.items():
        await session.delete(row)
        changes.append(f"removed identity provider {provider_id}")
    return changes


async def _sync_members(
    platform: AsyncSession, session: AsyncSession, wanted: TenantFile
) -> list[str]:
    """Make sure each ``[[members]]`` entry has an account and exactly the listed roles.

    Members not in the file (people who joined later) are left alone; for the ones
    listed, the file wins, as it does for everything else it declares.
    """
    changes = []
    issuers = {p.id: p.issuer for p in wanted.identity_providers}
    # Sign-in by e-mail link: an identity of its own (the file checked the address).
    issuers[EMAIL_LOGIN_PROVIDER] = EMAIL_LOGIN_ISSUER
    for member in wanted.members:
        issuer = issuers[member.provider]  # checked when the file was loaded
        known = await platform.scalar(
            select(ExternalIdentity).where(
                ExternalIdentity.issuer == issuer, ExternalIdentity.subject == member.subject
            )
        )
        profile = {"display_name": member.name, "email": member.email or ""}
        # An existing account keeps the name and e-mail its own sign-ins gave it.
        user = await find_or_create_user_for_identity(
            platform, issuer, member.subject, None if known else profile
        )
        before = await roles_of(session, user.id)
        if set(before) != set(member.roles):
            await set_roles(session, user, member.roles, actor=None)
            verb = "added member" if not before else "changed roles of member"
            changes.append(f"{verb} {member.subject} ({', '.join(member.roles)})")
    return changes


def _show(value: object) -> str:
    if isinstance(value, list):
        return ",".join(value)
    return str(getattr(value, "value", value))
