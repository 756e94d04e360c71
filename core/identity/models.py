"""Identity: people, how they sign in, what they may do in each tenant, and what they did.

* :class:`User` is platform-wide: one person may take part in several tenants.
* :class:`ExternalIdentity` links a user to an account at an identity provider by
  ``(issuer, subject)`` — never by e-mail, which providers let people change and
  which two providers may vouch for differently.
* :class:`Membership` (tenant-owned) holds a user's roles in one tenant.
* :class:`AuthSession` is a server-side login session; only a hash of its token is
  stored, so a leaked table does not let anyone sign in.
* :class:`AuditEntry` (tenant-owned) records logins, logouts and role changes.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    event,
)
from sqlalchemy.orm import Mapped, Mapper, mapped_column, validates

from core.db.base import Base, TenantScoped, Timestamps, UUIDPrimaryKey, utcnow

# admin = the programme's coordinators; a person may hold several roles at once.
ROLES = ("admin", "mentor", "mentee")

# Sign-in by a link sent by e-mail (the email_login plugin) is an identity of its own:
# issuer EMAIL_LOGIN_ISSUER, subject the lower-cased address. It is never joined to an
# SSO identity that happens to carry the same address. In tenant files, [[members]]
# name it as provider = EMAIL_LOGIN_PROVIDER (so no identity provider may use that id).
EMAIL_LOGIN_ISSUER = "urn:tandem:email-login"
EMAIL_LOGIN_PROVIDER = "email"


def email_login_subject(address: str) -> str:
    """The subject of an e-mail login identity: the (already checked) address, lower-cased."""
    return address.strip().lower()


class UnknownRoleError(ValueError):
    """A role outside :data:`ROLES`."""


def normalise_roles(roles: Any) -> list[str]:
    """Known roles only, each once, in the canonical order of :data:`ROLES`."""
    if isinstance(roles, str) or not all(isinstance(r, str) for r in roles):
        raise UnknownRoleError("roles must be a list of role names")
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise UnknownRoleError(f"unknown role(s): {', '.join(unknown)}")
    return [role for role in ROLES if role in roles]


# Where a tenant's identity provider is configured: its tenants/ file (``tandem
# tenants sync`` owns it) or the admin page (sync never touches it).
PROVIDER_SOURCES = ("file", "admin")


class IdentityProvider(UUIDPrimaryKey, Timestamps, TenantScoped, Base):
    """OpenID Connect providers a tenant lets its participants sign in with.

    The client secret comes from exactly one place: an environment variable named
    in ``client_secret_env``, or ``client_secret_encrypted`` (see
    :mod:`core.identity.providers`). Set them with :meth:`use_secret_env` and
    :meth:`use_encrypted_secret`, which clear the other.
    """

    __tablename__ = "identity_providers"
    __table_args__ = (
        UniqueConstraint("tenant_id", "provider_id"),
        CheckConstraint(
            "(client_secret_env IS NULL) <> (client_secret_encrypted IS NULL)",
            name="one_secret_source",
        ),
        CheckConstraint("source IN ('file', 'admin')", name="source"),
    )

    provider_id: Mapped[str] = mapped_column(String(63))
    name: Mapped[str] = mapped_column(String(200))
    issuer: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(255))
    # The *name* of the environment variable holding the secret, never the secret.
    client_secret_env: Mapped[str | None] = mapped_column(String(128), default=None)
    # AES-GCM ciphertext bound to this tenant and provider id; never the secret itself.
    client_secret_encrypted: Mapped[str | None] = mapped_column(Text, default=None)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    source: Mapped[str] = mapped_column(String(16), default="file")

    def use_secret_env(self, name: str) -> None:
        self.client_secret_env = name
        self.client_secret_encrypted = None

    def use_encrypted_secret(self, ciphertext: str) -> None:
        self.client_secret_encrypted = ciphertext
        self.client_secret_env = None


@event.listens_for(IdentityProvider, "before_insert")
@event.listens_for(IdentityProvider, "before_update")
def _check_identity_provider(_mapper: Mapper[Any], _conn: Any, row: IdentityProvider) -> None:
    # The CHECK constraints say the same; this names the mistake before the database does.
    if (row.client_secret_env is None) == (row.client_secret_encrypted is None):
        raise ValueError(
            f"identity provider {row.provider_id!r}: set exactly one of "
            "client_secret_env and client_secret_encrypted"
        )
    if row.source is not None and row.source not in PROVIDER_SOURCES:  # None: the default
        raise ValueError(f"identity provider {row.provider_id!r}: unknown source {row.source!r}")


class User(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "users"

    # Informational only (and may be absent): accounts are never matched by it.
    email: Mapped[str | None] = mapped_column(String(320), default=None)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    locale: Mapped[str | None] = mapped_column(String(16), default=None)
    # The people who run the deployment: the operator console on the platform host.
    is_operator: Mapped[bool] = mapped_column(Boolean, default=False)


class ExternalIdentity(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "external_identities"
    __table_args__ = (UniqueConstraint("issuer", "subject"),)

    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # OpenID Connect: "iss" is a URL of at most a few hundred characters, "sub" is
    # at most 255 ASCII characters and unique only within its issuer.
    issuer: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(255))


class Membership(UUIDPrimaryKey, Timestamps, TenantScoped, Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("tenant_id", "user_id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"))
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)

    @validates("roles")
    def _check_roles(self, _key: str, roles: list[str]) -> list[str]:
        # A JSON column cannot carry a portable CHECK constraint; every write of
        # roles goes through the ORM, so the check lives here.
        return normalise_roles(roles)

    def has_role(self, role: str) -> bool:
        return role in (self.roles or [])


class AuthSession(UUIDPrimaryKey, Base):
    __tablename__ = "auth_sessions"
    __table_args__ = {
        "info": {
            "platform_table": "a request's session is looked up by its token before any "
            "tenant scope applies; the row names the one tenant (or, when NULL, the "
            "platform host) it is valid on, and load_session checks that"
        }
    }

    # SHA-256 (hex) of the random token in the cookie; the token itself is never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # NULL: a session on the platform host (operators); otherwise valid on that tenant only.
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("tenants.id", ondelete="CASCADE"), index=True, default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()  # absolute end, whatever the activity
    idle_timeout_seconds: Mapped[int] = mapped_column(Integer)
    user_agent: Mapped[str] = mapped_column(String(500), default="")
    ip: Mapped[str | None] = mapped_column(String(45), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class AuditEntry(UUIDPrimaryKey, TenantScoped, Base):
    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_tenant_id_created_at", "tenant_id", "created_at"),)

    # Kept when the actor's account is deleted, with the actor unknown from then on.
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    action: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ip: Mapped[str | None] = mapped_column(String(45), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
