"""platform_login: operator sign-in on the platform host

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 20:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A platform table (no tenant, no row-level security): the platform host's login
# attempts, with the columns of the tenant-owned oidc_login_attempts (0003).
STRING_COLUMNS = (
    ("state_hash", 64),
    ("provider_id", 63),
    ("issuer", 500),
    ("client_id", 255),
    ("nonce", 128),
    ("code_verifier", 128),
    ("redirect_uri", 1000),
    ("next_path", 2000),
)


def upgrade() -> None:
    op.create_table(
        "platform_login_attempts",
        *(sa.Column(name, sa.String(length=size), nullable=False) for name, size in STRING_COLUMNS),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_login_attempts")),
        sa.UniqueConstraint("state_hash", name=op.f("uq_platform_login_attempts_state_hash")),
    )
    op.create_index(
        "ix_platform_login_attempts_created_at", "platform_login_attempts", ["created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_platform_login_attempts_created_at", table_name="platform_login_attempts")
    op.drop_table("platform_login_attempts")
