"""email_login: the e-mail login link plugin

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 20:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.db.postgres import disable_tenant_rls, enable_tenant_rls

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Tenant-owned: a link works, and a request counts, only on the tenant it was made on.
TENANT_TABLES = ("email_login_links", "email_login_requests")


def upgrade() -> None:
    op.create_table(
        "email_login_links",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("next_path", sa.String(length=2000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_email_login_links_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_email_login_links_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_login_links")),
        sa.UniqueConstraint(
            "tenant_id", "token_hash", name=op.f("uq_email_login_links_tenant_id_token_hash")
        ),
    )
    with op.batch_alter_table("email_login_links", schema=None) as batch_op:
        batch_op.create_index(
            "ix_email_login_links_tenant_id_expires_at", ["tenant_id", "expires_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_email_login_links_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "email_login_requests",
        sa.Column("address_hash", sa.String(length=64), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_email_login_requests_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_login_requests")),
    )
    with op.batch_alter_table("email_login_requests", schema=None) as batch_op:
        batch_op.create_index(
            "ix_email_login_requests_tenant_id_address_hash",
            ["tenant_id", "address_hash", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_email_login_requests_tenant_id_ip", ["tenant_id", "ip", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_email_login_requests_tenant_id_created_at",
            ["tenant_id", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_email_login_requests_tenant_id"), ["tenant_id"], unique=False
        )

    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for table in TENANT_TABLES:
            enable_tenant_rls(bind, table)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for table in TENANT_TABLES:
            disable_tenant_rls(bind, table)
    with op.batch_alter_table("email_login_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_email_login_requests_tenant_id"))
        batch_op.drop_index("ix_email_login_requests_tenant_id_created_at")
        batch_op.drop_index("ix_email_login_requests_tenant_id_ip")
        batch_op.drop_index("ix_email_login_requests_tenant_id_address_hash")
    op.drop_table("email_login_requests")

    with op.batch_alter_table("email_login_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_email_login_links_tenant_id"))
        batch_op.drop_index("ix_email_login_links_tenant_id_expires_at")
    op.drop_table("email_login_links")
