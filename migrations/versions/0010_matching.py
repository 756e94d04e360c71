"""matching: runs, proposals, unmatched people and coordinators' locks

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25 23:46:01.069216
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.db.postgres import disable_tenant_rls, enable_tenant_rls

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = ("match_runs", "match_constraints", "match_unmatched", "match_proposals")


def upgrade() -> None:
    op.create_table(
        "match_runs",
        sa.Column("cohort_id", sa.Uuid(), nullable=False),
        sa.Column("created_by_user_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "queued",
                "running",
                "done",
                "failed",
                name="runstatus",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("stage", sa.String(length=100), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("weights", sa.JSON(), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cohort_id"],
            ["cohorts.id"],
            name=op.f("fk_match_runs_cohort_id_cohorts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["users.id"],
            name=op.f("fk_match_runs_created_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_match_runs_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_runs")),
    )
    with op.batch_alter_table("match_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_match_runs_tenant_id"), ["tenant_id"], unique=False)
        batch_op.create_index(
            "ix_match_runs_tenant_id_cohort_id_created_at",
            ["tenant_id", "cohort_id", "created_at"],
            unique=False,
        )

    op.create_table(
        "match_constraints",
        sa.Column("cohort_id", sa.Uuid(), nullable=False),
        sa.Column("mentee_application_id", sa.Uuid(), nullable=False),
        sa.Column("mentor_application_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("lock", "forbid", name="constraintkind", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("created_by_user_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cohort_id"],
            ["cohorts.id"],
            name=op.f("fk_match_constraints_cohort_id_cohorts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["users.id"],
            name=op.f("fk_match_constraints_created_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["mentee_application_id"],
            ["applications.id"],
            name=op.f("fk_match_constraints_mentee_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["mentor_application_id"],
            ["applications.id"],
            name=op.f("fk_match_constraints_mentor_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_match_constraints_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_constraints")),
        sa.UniqueConstraint(
            "tenant_id",
            "cohort_id",
            "mentee_application_id",
            "mentor_application_id",
            name="uq_match_constraints_pair",
        ),
    )
    with op.batch_alter_table("match_constraints", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_match_constraints_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "match_unmatched",
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("application_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_match_unmatched_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["match_runs.id"],
            name=op.f("fk_match_unmatched_run_id_match_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_match_unmatched_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_unmatched")),
        sa.UniqueConstraint(
            "tenant_id",
            "run_id",
            "application_id",
            name=op.f("uq_match_unmatched_tenant_id_run_id_application_id"),
        ),
    )
    with op.batch_alter_table("match_unmatched", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_match_unmatched_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "match_proposals",
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("mentee_application_id", sa.Uuid(), nullable=False),
        sa.Column("mentor_application_id", sa.Uuid(), nullable=False),
        sa.Column("score", sa.BigInteger(), nullable=False),
        sa.Column("parts", sa.JSON(), nullable=False),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("pairing_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["mentee_application_id"],
            ["applications.id"],
            name=op.f("fk_match_proposals_mentee_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["mentor_application_id"],
            ["applications.id"],
            name=op.f("fk_match_proposals_mentor_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["pairing_id"],
            ["pairings.id"],
            name=op.f("fk_match_proposals_pairing_id_pairings"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["match_runs.id"],
            name=op.f("fk_match_proposals_run_id_match_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_match_proposals_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_proposals")),
        sa.UniqueConstraint(
            "tenant_id",
            "run_id",
            "mentee_application_id",
            name=op.f("uq_match_proposals_tenant_id_run_id_mentee_application_id"),
        ),
    )
    with op.batch_alter_table("match_proposals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_match_proposals_tenant_id"), ["tenant_id"], unique=False
        )
        batch_op.create_index(
            "ix_match_proposals_tenant_id_run_id_score",
            ["tenant_id", "run_id", "score"],
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
    with op.batch_alter_table("match_proposals", schema=None) as batch_op:
        batch_op.drop_index("ix_match_proposals_tenant_id_run_id_score")
        batch_op.drop_index(batch_op.f("ix_match_proposals_tenant_id"))

    op.drop_table("match_proposals")
    with op.batch_alter_table("match_unmatched", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_match_unmatched_tenant_id"))

    op.drop_table("match_unmatched")
    with op.batch_alter_table("match_constraints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_match_constraints_tenant_id"))

    op.drop_table("match_constraints")
    with op.batch_alter_table("match_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_match_runs_tenant_id_cohort_id_created_at")
        batch_op.drop_index(batch_op.f("ix_match_runs_tenant_id"))

    op.drop_table("match_runs")
