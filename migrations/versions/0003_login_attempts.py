"""login attempts: OpenID Connect state, nonce and PKCE verifier between redirect and callback

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 10:12:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.db.postgres import disable_tenant_rls, enable_tenant_rls

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Tenant-owned: an attempt is found only on the host of the tenant that started it.
TENANT_TABLES = ("oidc_login_attempts",)


def upgrade() -> None:
    op.create_table(
        "oidc_login_attempts",
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("provider_id", sa.String(length=63), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("nonce", sa.String(length=128), nullable=False),
        sa.Column("code_verifier", sa.String(length=128), nullable=False),
        sa.Column("redirect_uri", sa.String(length=1000), nullable=False),
        sa.Column("next_path", sa.String(length=2000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_oidc_login_attempts_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oidc_login_attempts")),
        sa.UniqueConstraint(
            "tenant_id", "state_hash", name=op.f("uq_oidc_login_attempts_tenant_id_state_hash")
        ),
    )
    with op.batch_alter_table("oidc_login_attempts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_oidc_login_attempts_tenant_id"), ["tenant_id"], unique=False
        )
        batch_op.create_index(
            "ix_oidc_login_attempts_tenant_id_created_at",
            ["tenant_id", "created_at"],
            unique=False,
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
    with op.batch_alter_table("oidc_login_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_oidc_login_attempts_tenant_id_created_at")
        batch_op.drop_index(batch_op.f("ix_oidc_login_attempts_tenant_id"))

    op.drop_table("oidc_login_attempts")
