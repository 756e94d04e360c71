"""The plugin's tables, both tenant-owned (row-level security on PostgreSQL).

* :class:`EmailLoginLink`: one row per link sent. Only the SHA-256 of the link's
  token is stored, and only from the moment the mail job makes the token (so it is
  never written anywhere, the job outbox included, except into the mail). A row
  looked up through another tenant's session does not exist there.
* :class:`EmailLoginRequest`: one row per accepted request for a link, known
  address or not, which is what the rate limits count. The address is kept only as
  a hash: people type addresses that belong to nobody here.

``core.db.models.load_all_models`` imports this module through the plugin's entry
point; migration ``0008_email_login`` creates the tables.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, TenantScoped, UUIDPrimaryKey, utcnow

NEXT_PATH_LENGTH = 2000


class EmailLoginLink(UUIDPrimaryKey, TenantScoped, Base):
    __tablename__ = "email_login_links"
    __table_args__ = (
        UniqueConstraint("tenant_id", "token_hash"),
        Index("ix_email_login_links_tenant_id_expires_at", "tenant_id", "expires_at"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"))
    # SHA-256 (hex) of the token in the link; NULL until the mail job has made the token.
    token_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    # Where to go after signing in: a local path, checked before it is stored.
    next_path: Mapped[str] = mapped_column(String(NEXT_PATH_LENGTH), default="/")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class EmailLoginRequest(UUIDPrimaryKey, TenantScoped, Base):
    __tablename__ = "email_login_requests"
    __table_args__ = (
        Index(
            "ix_email_login_requests_tenant_id_address_hash",
            "tenant_id",
            "address_hash",
            "created_at",
        ),
        Index("ix_email_login_requests_tenant_id_ip", "tenant_id", "ip", "created_at"),
        Index("ix_email_login_requests_tenant_id_created_at", "tenant_id", "created_at"),
    )

    # SHA-256 (hex) of the lower-cased address asked for.
    address_hash: Mapped[str] = mapped_column(String(64))
    # The client's address, an IPv6 one as its /64 network (one subscriber's block).
    ip: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
