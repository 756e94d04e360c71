"""identity_provider_secrets: encrypted client secrets and admin-managed identity providers

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 20:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ONE_SECRET_SOURCE = "(client_secret_env IS NULL) <> (client_secret_encrypted IS NULL)"
SOURCES = "source IN ('file', 'admin')"


def upgrade() -> None:
    # identity_providers keeps its row-level security (0001): columns change, the
    # table and its policy stay.
    with op.batch_alter_table("identity_providers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("client_secret_encrypted", sa.Text(), nullable=True))
        # Every provider so far came from a tenants/ file.
        batch_op.add_column(
            sa.Column("source", sa.String(length=16), nullable=False, server_default="file")
        )
        batch_op.alter_column(
            "client_secret_env", existing_type=sa.String(length=128), nullable=True
        )
        batch_op.create_check_constraint(
            op.f("ck_identity_providers_one_secret_source"), ONE_SECRET_SOURCE
        )
        batch_op.create_check_constraint(op.f("ck_identity_providers_source"), SOURCES)
    # The default only filled the existing rows; new ones always say where they come from.
    with op.batch_alter_table("identity_providers", schema=None) as batch_op:
        batch_op.alter_column("source", existing_type=sa.String(length=16), server_default=None)


def downgrade() -> None:
    # Providers with a stored secret cannot exist without the column that holds it:
    # they are deleted (their admins would have to add them again). On PostgreSQL the
    # forced tenant policy would hide every row from the owner, so it is lifted for
    # the delete only.
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    if postgres:
        op.execute('ALTER TABLE "identity_providers" NO FORCE ROW LEVEL SECURITY')
    op.execute('DELETE FROM "identity_providers" WHERE client_secret_env IS NULL')
    if postgres:
        op.execute('ALTER TABLE "identity_providers" FORCE ROW LEVEL SECURITY')
    with op.batch_alter_table("identity_providers", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_identity_providers_source"), type_="check")
        batch_op.drop_constraint(op.f("ck_identity_providers_one_secret_source"), type_="check")
        batch_op.alter_column(
            "client_secret_env", existing_type=sa.String(length=128), nullable=False
        )
        batch_op.drop_column("source")
        batch_op.drop_column("client_secret_encrypted")
