"""certificates: issued certificates, batches and tenants' own wording

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 03:34:13.276509
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.db.postgres import disable_tenant_rls, enable_tenant_rls

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = ("certificate_wordings", "certificate_batches", "certificates")


def upgrade() -> None:
    op.create_table(
        "certificate_wordings",
        sa.Column("template_id", sa.String(length=100), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("updated_by_user_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_certificate_wordings_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_user_id"],
            ["users.id"],
            name=op.f("fk_certificate_wordings_updated_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificate_wordings")),
        sa.UniqueConstraint(
            "tenant_id",
            "template_id",
            "locale",
            name=op.f("uq_certificate_wordings_tenant_id_template_id_locale"),
        ),
    )
    with op.batch_alter_table("certificate_wordings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_certificate_wordings_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "certificate_batches",
        sa.Column("cohort_id", sa.Uuid(), nullable=False),
        sa.Column("created_by_user_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cohort_id"],
            ["cohorts.id"],
            name=op.f("fk_certificate_batches_cohort_id_cohorts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["users.id"],
            name=op.f("fk_certificate_batches_created_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_certificate_batches_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificate_batches")),
    )
    with op.batch_alter_table("certificate_batches", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_certificate_batches_tenant_id"), ["tenant_id"], unique=False
        )
        batch_op.create_index(
            "ix_certificate_batches_tenant_id_cohort_id", ["tenant_id", "cohort_id"], unique=False
        )

    op.create_table(
        "certificates",
        sa.Column("pairing_id", sa.Uuid(), nullable=False),
        sa.Column("application_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column(
            "role",
            sa.Enum(
                "mentee", "mentor", "company", name="certificaterole", native_enum=False, length=32
            ),
            nullable=False,
        ),
        sa.Column("template_id", sa.String(length=100), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("holder_name", sa.String(length=200), nullable=False),
        sa.Column("programme_name", sa.String(length=200), nullable=False),
        sa.Column("cohort_name", sa.String(length=200), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "issued",
                "failed",
                "revoked",
                name="certificatestatus",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("pdf", sa.LargeBinary(), nullable=True),
        sa.Column("pdf_sha256", sa.String(length=64), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("batch_id", sa.Uuid(), nullable=True),
        sa.Column("issued_by_user_id", sa.Uuid(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.String(length=500), nullable=False),
        sa.Column("replaced_by_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_certificates_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["certificate_batches.id"],
            name=op.f("fk_certificates_batch_id_certificate_batches"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["issued_by_user_id"],
            ["users.id"],
            name=op.f("fk_certificates_issued_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["pairing_id"],
            ["pairings.id"],
            name=op.f("fk_certificates_pairing_id_pairings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["replaced_by_id"],
            ["certificates.id"],
            name=op.f("fk_certificates_replaced_by_id_certificates"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_certificates_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_certificates_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificates")),
        sa.UniqueConstraint("tenant_id", "code", name=op.f("uq_certificates_tenant_id_code")),
    )
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_certificates_tenant_id"), ["tenant_id"], unique=False)
        batch_op.create_index(
            "ix_certificates_tenant_id_batch_id", ["tenant_id", "batch_id"], unique=False
        )
        batch_op.create_index(
            "ix_certificates_tenant_id_pairing_id", ["tenant_id", "pairing_id"], unique=False
        )
        batch_op.create_index(
            "ix_certificates_tenant_id_user_id", ["tenant_id", "user_id"], unique=False
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
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.drop_index("ix_certificates_tenant_id_user_id")
        batch_op.drop_index("ix_certificates_tenant_id_pairing_id")
        batch_op.drop_index("ix_certificates_tenant_id_batch_id")
        batch_op.drop_index(batch_op.f("ix_certificates_tenant_id"))

    op.drop_table("certificates")
    with op.batch_alter_table("certificate_batches", schema=None) as batch_op:
        batch_op.drop_index("ix_certificate_batches_tenant_id_cohort_id")
        batch_op.drop_index(batch_op.f("ix_certificate_batches_tenant_id"))

    op.drop_table("certificate_batches")
    with op.batch_alter_table("certificate_wordings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_certificate_wordings_tenant_id"))

    op.drop_table("certificate_wordings")
