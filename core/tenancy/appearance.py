"""A tenant's appearance as its admins set it: theme, accent colour and logo.

Stored on the tenant row (a platform table) next to the tenant file's ``theme``,
which ``tandem tenants sync`` owns; the admin's choices are columns of their own
that sync never writes, so a sync cannot undo them (it reports when the file's
theme changes underneath an admin's choice). Every change bumps the tenant's
revision — pages, stylesheet and logo URLs change with it in every process — and
is written to the tenant's audit log in the same transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from core.db.sessions import Database
from core.identity import audit
from core.tenancy.colours import THEMES_DIR, text_on
from core.tenancy.logos import CheckedLogo
from core.tenancy.models import Tenant
from core.tenancy.service import bump_revision

APPEARANCE_CHANGED = "appearance_changed"  # audit action
# The part of the logo's SHA-256 in its URL and ETag: enough to tell versions apart.
LOGO_VERSION_LENGTH = 16


@dataclass(frozen=True)
class Appearance:
    file_theme: str  # the tenant file's, which sync keeps up to date
    chosen_theme: str | None  # the admin's; None: the file's applies
    accent: str | None  # "#rrggbb"; None: the theme's own
    logo_type: str | None
    logo_sha256: str | None

    @property
    def theme(self) -> str:
        return self.chosen_theme or self.file_theme


def appearance_of(tenant: Tenant) -> Appearance:
    return Appearance(
        file_theme=tenant.theme,
        chosen_theme=tenant.chosen_theme,
        accent=tenant.accent_color,
        logo_type=tenant.logo_type,
        logo_sha256=tenant.logo_sha256,
    )


def effective_theme(tenant: Tenant) -> str:
    return tenant.chosen_theme or tenant.theme


def logo_version(tenant: Tenant) -> str | None:
    return tenant.logo_sha256[:LOGO_VERSION_LENGTH] if tenant.logo_sha256 else None


def available_themes(themes_dir: Path = THEMES_DIR) -> list[str]:
    """The themes an admin can pick: folders of ``themes/`` with a stylesheet."""
    if not themes_dir.is_dir():
        return []
    return sorted(p.name for p in themes_dir.iterdir() if (p / "static" / "theme.css").is_file())


def accent_css(accent: str, theme: str, themes_dir: Path = THEMES_DIR) -> str:
    """The stylesheet that puts the admin's accent (and readable text on it) on the page."""
    return (
        ":root {\n"
        f"  --color-accent: {accent};\n"
        f"  --color-accent-contrast: {text_on(accent, theme, themes_dir)};\n"
        "}\n"
    )


async def load_appearance(db: Database, tenant_id: uuid.UUID) -> Appearance:
    async with db.platform_session() as session:
        tenant = await session.get(Tenant, tenant_id)
        if tenant is None:
            raise LookupError(tenant_id)
        return appearance_of(tenant)


async def load_logo(db: Database, tenant_id: uuid.UUID) -> tuple[bytes, str, str] | None:
    """The tenant's logo as (data, content type, sha256), or None."""
    async with db.platform_session() as session:
        return await logo_row(session, tenant_id)


async def logo_row(session: Any, tenant_id: uuid.UUID) -> tuple[bytes, str, str] | None:
    """As :func:`load_logo`, in a session of the caller's (tenant or platform: the
    tenants table is a platform table, readable from both)."""
    query = select(Tenant.logo, Tenant.logo_type, Tenant.logo_sha256).where(Tenant.id == tenant_id)
    row = (await session.execute(query)).one_or_none()
    if row is None or row.logo is None or row.logo_type is None:
        return None
    return row.logo, row.logo_type, row.logo_sha256 or ""


async def save_look(
    db: Database,
    tenant_id: uuid.UUID,
    *,
    theme: str | None,
    accent: str | None,
    by: uuid.UUID | None,
    ip: str | None,
) -> dict[str, str]:
    """Set the chosen theme (None: the file's) and accent (None: the theme's); the
    caller has checked both. Returns what changed (empty: nothing)."""

    def apply(tenant: Tenant) -> dict[str, str]:
        changes = {}
        if tenant.chosen_theme != theme:
            tenant.chosen_theme = theme
            changes["theme"] = _theme_note(tenant)
        if tenant.accent_color != accent:
            tenant.accent_color = accent
            changes["accent"] = accent or "the theme's own"
        return changes

    return await _change(db, tenant_id, by, ip, apply)


async def save_logo(
    db: Database,
    tenant_id: uuid.UUID,
    logo: CheckedLogo | None,
    *,
    by: uuid.UUID | None,
    ip: str | None,
) -> dict[str, str]:
    """Store the checked logo, or remove the logo (``None``)."""

    def apply(tenant: Tenant) -> dict[str, str]:
        if logo is None:
            if tenant.logo_sha256 is None:
                return {}
            tenant.logo, tenant.logo_type, tenant.logo_sha256 = None, None, None
            return {"logo": "removed"}
        if tenant.logo_sha256 == logo.sha256:
            return {}
        tenant.logo, tenant.logo_type, tenant.logo_sha256 = (
            logo.data,
            logo.content_type,
            logo.sha256,
        )
        return {"logo": f"{logo.content_type}, {len(logo.data)} bytes, sha256 {logo.sha256[:12]}"}

    return await _change(db, tenant_id, by, ip, apply)


async def reset_appearance(
    db: Database, tenant_id: uuid.UUID, *, by: uuid.UUID | None, ip: str | None
) -> dict[str, str]:
    """Back to the tenant file's theme with its own colours and no logo."""

    def apply(tenant: Tenant) -> dict[str, str]:
        changes = {}
        if tenant.chosen_theme is not None:
            tenant.chosen_theme = None
            changes["theme"] = _theme_note(tenant)
        if tenant.accent_color is not None:
            tenant.accent_color = None
            changes["accent"] = "the theme's own"
        if tenant.logo_sha256 is not None:
            tenant.logo, tenant.logo_type, tenant.logo_sha256 = None, None, None
            changes["logo"] = "removed"
        return changes

    return await _change(db, tenant_id, by, ip, apply)


def _theme_note(tenant: Tenant) -> str:
    if tenant.chosen_theme is None:
        return f"{tenant.theme} (the tenant file's)"
    return tenant.chosen_theme


async def _change(
    db: Database,
    tenant_id: uuid.UUID,
    by: uuid.UUID | None,
    ip: str | None,
    apply: Callable[[Tenant], dict[str, str]],
) -> dict[str, str]:
    """Apply, bump the revision and audit, in one transaction (nothing when unchanged)."""
    async with db.engine.connect() as conn, conn.begin():
        async with db.platform_session(bind=conn) as platform:
            # FOR UPDATE (on PostgreSQL): two admins saving at once apply one after
            # the other, each seeing the other's result.
            query = select(Tenant).where(Tenant.id == tenant_id).with_for_update()
            tenant = await platform.scalar(query)
            if tenant is None:
                raise LookupError(tenant_id)
            changes = apply(tenant)
            if not changes:
                return changes
            await platform.flush()
            await bump_revision(platform, tenant_id)
        async with db.tenant_session(tenant_id, bind=conn) as session:
            audit.record(session, APPEARANCE_CHANGED, by, changes, ip)
            await session.flush()
    return changes
