"""job_schedule: periodic jobs (the scheduler)

Also lets ``job_outbox.tenant_id`` be NULL: a periodic task of platform scope (one
run for the whole platform, e.g. removing ended login sessions) is an outbox job
that runs in no tenant.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 20:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A platform table: the schedule has no tenant_id (tenant tasks fan out when run).
    op.create_table(
        "job_schedule",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("scope", sa.String(length=20), nullable=False),
        sa.Column("every_seconds", sa.Integer(), nullable=False),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_enqueued_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_job_schedule")),
    )
    with op.batch_alter_table("job_outbox", schema=None) as batch_op:
        batch_op.alter_column("tenant_id", existing_type=sa.Uuid(), nullable=True)


def downgrade() -> None:
    # Platform jobs cannot be kept in an outbox whose rows all name a tenant; they
    # are periodic, so the next run after an upgrade enqueues them again.
    op.execute(sa.text("DELETE FROM job_outbox WHERE tenant_id IS NULL"))
    with op.batch_alter_table("job_outbox", schema=None) as batch_op:
        batch_op.alter_column("tenant_id", existing_type=sa.Uuid(), nullable=False)
    op.drop_table("job_schedule")
