"""tenant appearance: the theme a tenant's admin chose, an accent colour and a logo

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26 03:39:40.104713
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# tenants is a platform table (no tenant_id, no row-level security): nothing to enable.


def upgrade() -> None:
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chosen_theme", sa.String(length=63), nullable=True))
        batch_op.add_column(sa.Column("accent_color", sa.String(length=7), nullable=True))
        batch_op.add_column(sa.Column("logo", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("logo_type", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("logo_sha256", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.drop_column("logo_sha256")
        batch_op.drop_column("logo_type")
        batch_op.drop_column("logo")
        batch_op.drop_column("accent_color")
        batch_op.drop_column("chosen_theme")
