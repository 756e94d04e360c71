"""OpenID Connect providers a tenant lets its participants sign in with."""

from __future__ import annotations

from sqlalchemy import JSON, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, TenantScoped, Timestamps, UUIDPrimaryKey


class IdentityProvider(UUIDPrimaryKey, Timestamps, TenantScoped, Base):
    __tablename__ = "identity_providers"
    __table_args__ = (UniqueConstraint("tenant_id", "provider_id"),)

    provider_id: Mapped[str] = mapped_column(String(63))
    name: Mapped[str] = mapped_column(String(200))
    issuer: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(255))
    # The *name* of the environment variable holding the secret, never the secret.
    client_secret_env: Mapped[str] = mapped_column(String(128))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
