"""Tenant and TenantDomain: platform tables, read by the operator and the resolver."""

from __future__ import annotations

import enum
import uuid

from sqlalchemy import JSON, Enum, ForeignKey, Integer, LargeBinary, String, Uuid
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from core.db.base import Base, Timestamps, UUIDPrimaryKey


class TenantStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class Tenant(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "tenants"

    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[TenantStatus] = mapped_column(
        Enum(
            TenantStatus,
            native_enum=False,
            length=20,
            values_callable=lambda e: [m.value for m in e],
        ),
        default=TenantStatus.ACTIVE,
    )
    default_locale: Mapped[str] = mapped_column(String(16), default="en")
    locales: Mapped[list[str]] = mapped_column(JSON, default=list)
    theme: Mapped[str] = mapped_column(String(63), default="default")
    # Bumped on every change to the tenant or its plugins, so that caches in every
    # process (tenant lookups, per-tenant hook callers) notice within one TTL.
    revision: Mapped[int] = mapped_column(Integer, default=1)
    # ``[sessions]`` in the tenant file; NULL means the platform default
    # (core.identity.sessions.SessionPolicy clamps whatever is stored).
    session_idle_minutes: Mapped[int | None] = mapped_column(Integer, default=None)
    session_absolute_hours: Mapped[int | None] = mapped_column(Integer, default=None)
    # The tenant's admins set these on /admin/appearance (core.tenancy.appearance);
    # `tandem tenants sync` never touches them. ``chosen_theme`` wins over ``theme``
    # (the tenant file's) while it is set; NULL everywhere means "as the theme has it".
    chosen_theme: Mapped[str | None] = mapped_column(String(63), default=None)
    accent_color: Mapped[str | None] = mapped_column(String(7), default=None)  # "#rrggbb"
    # Checked and cleaned on upload (core.tenancy.logos); deferred so that the
    # resolver's lookups never load the image.
    logo: Mapped[bytes | None] = deferred(mapped_column(LargeBinary, default=None))
    logo_type: Mapped[str | None] = mapped_column(String(32), default=None)
    logo_sha256: Mapped[str | None] = mapped_column(String(64), default=None)

    domains: Mapped[list[TenantDomain]] = relationship(
        back_populates="tenant", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def is_active(self) -> bool:
        return self.status == TenantStatus.ACTIVE


class TenantDomain(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "tenant_domains"
    __table_args__ = {
        "info": {"platform_table": "the resolver maps a host to its tenant before one is known"}
    }

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    domain: Mapped[str] = mapped_column(String(253), unique=True)

    tenant: Mapped[Tenant] = relationship(back_populates="domains")
