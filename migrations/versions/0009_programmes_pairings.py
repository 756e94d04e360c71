"""programmes_pairings: programmes, cohorts, applications, pairings and what tandems do

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 20:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.db.postgres import disable_tenant_rls, enable_tenant_rls

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# All tenant-owned: row-level security on PostgreSQL.
TENANT_TABLES = (
    "programmes",
    "cohorts",
    "applications",
    "intake_notes",
    "pairings",
    "agreements",
    "meetings",
    "check_ins",
)


def upgrade() -> None:
    op.create_table(
        "programmes",
        sa.Column("slug", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("duration_weeks", sa.Integer(), nullable=False),
        sa.Column("expected_hours", sa.Integer(), nullable=True),
        sa.Column(
            "cadence",
            sa.Enum(
                "weekly",
                "fortnightly",
                "monthly",
                "flexible",
                name="cadence",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("self_matching", sa.Boolean(), nullable=False),
        sa.Column("published", sa.Boolean(), nullable=False),
        sa.Column("min_german_level", sa.String(length=2), nullable=True),
        sa.Column("requires_recognition_procedure", sa.Boolean(), nullable=False),
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
            name=op.f("fk_programmes_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programmes")),
        sa.UniqueConstraint("tenant_id", "slug", name=op.f("uq_programmes_tenant_id_slug")),
    )
    with op.batch_alter_table("programmes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_programmes_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "cohorts",
        sa.Column("programme_id", sa.Uuid(), nullable=False),
        sa.Column("slug", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("applications_open_on", sa.Date(), nullable=False),
        sa.Column("applications_close_on", sa.Date(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
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
            ["programme_id"],
            ["programmes.id"],
            name=op.f("fk_cohorts_programme_id_programmes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_cohorts_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cohorts")),
        sa.UniqueConstraint("tenant_id", "slug", name=op.f("uq_cohorts_tenant_id_slug")),
    )
    with op.batch_alter_table("cohorts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cohorts_tenant_id"), ["tenant_id"], unique=False)
        batch_op.create_index(
            "ix_cohorts_tenant_id_programme_id", ["tenant_id", "programme_id"], unique=False
        )

    op.create_table(
        "applications",
        sa.Column("cohort_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("mentee", "mentor", name="applicationkind", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "submitted",
                "in_review",
                "accepted",
                "waitlisted",
                "rejected",
                "withdrawn",
                name="applicationstatus",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("occupation_code", sa.String(length=4), nullable=False),
        sa.Column("field", sa.String(length=200), nullable=False),
        sa.Column("years_experience", sa.Integer(), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("district", sa.String(length=100), nullable=False),
        sa.Column("availability", sa.JSON(), nullable=False),
        sa.Column("gender", sa.String(length=50), nullable=True),
        sa.Column("german_level", sa.String(length=2), nullable=True),
        sa.Column(
            "qualification",
            sa.Enum(
                "secondary",
                "vocational",
                "bachelor",
                "master",
                "doctorate",
                name="qualification",
                native_enum=False,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("qualification_country", sa.String(length=2), nullable=True),
        sa.Column(
            "recognition_status",
            sa.Enum(
                "not_started",
                "in_progress",
                "partial",
                "full",
                "not_required",
                name="recognitionstatus",
                native_enum=False,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("recognition_authority", sa.String(length=200), nullable=False),
        sa.Column("goals", sa.Text(), nullable=False),
        sa.Column("preferences", sa.JSON(), nullable=False),
        sa.Column("employer", sa.String(length=200), nullable=False),
        sa.Column("position", sa.String(length=200), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("motivation", sa.Text(), nullable=False),
        sa.Column("consent_given_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("consent_version", sa.String(length=20), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("decision_reason", sa.Text(), nullable=False),
        sa.Column("invitation_id", sa.Uuid(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by_user_id", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
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
            ["cohort_id"],
            ["cohorts.id"],
            name=op.f("fk_applications_cohort_id_cohorts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_user_id"],
            ["users.id"],
            name=op.f("fk_applications_decided_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["invitation_id"],
            ["invitations.id"],
            name=op.f("fk_applications_invitation_id_invitations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_applications_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_applications_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_applications")),
        sa.UniqueConstraint(
            "tenant_id",
            "cohort_id",
            "kind",
            "email",
            name=op.f("uq_applications_tenant_id_cohort_id_kind_email"),
        ),
    )
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_applications_tenant_id"), ["tenant_id"], unique=False)
        batch_op.create_index(
            "ix_applications_tenant_id_cohort_id_kind",
            ["tenant_id", "cohort_id", "kind"],
            unique=False,
        )
        batch_op.create_index(
            "ix_applications_tenant_id_user_id", ["tenant_id", "user_id"], unique=False
        )

    op.create_table(
        "intake_notes",
        sa.Column("application_id", sa.Uuid(), nullable=False),
        sa.Column("author_user_id", sa.Uuid(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_intake_notes_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["author_user_id"],
            ["users.id"],
            name=op.f("fk_intake_notes_author_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_intake_notes_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_notes")),
    )
    with op.batch_alter_table("intake_notes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_intake_notes_tenant_id"), ["tenant_id"], unique=False)
        batch_op.create_index(
            "ix_intake_notes_tenant_id_application_id",
            ["tenant_id", "application_id"],
            unique=False,
        )

    op.create_table(
        "pairings",
        sa.Column("cohort_id", sa.Uuid(), nullable=False),
        sa.Column("mentee_application_id", sa.Uuid(), nullable=False),
        sa.Column("mentor_application_id", sa.Uuid(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "proposed",
                "active",
                "paused",
                "completed",
                "declined",
                "withdrawn",
                "dissolved",
                name="pairingstate",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("proposed_by_user_id", sa.Uuid(), nullable=True),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mentee_accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("mentor_accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("explanation", sa.JSON(), nullable=False),
        sa.Column("at_risk_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
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
            ["cohort_id"],
            ["cohorts.id"],
            name=op.f("fk_pairings_cohort_id_cohorts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["mentee_application_id"],
            ["applications.id"],
            name=op.f("fk_pairings_mentee_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["mentor_application_id"],
            ["applications.id"],
            name=op.f("fk_pairings_mentor_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["proposed_by_user_id"],
            ["users.id"],
            name=op.f("fk_pairings_proposed_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_pairings_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pairings")),
    )
    with op.batch_alter_table("pairings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pairings_tenant_id"), ["tenant_id"], unique=False)
        batch_op.create_index(
            "ix_pairings_tenant_id_cohort_id_state",
            ["tenant_id", "cohort_id", "state"],
            unique=False,
        )
        batch_op.create_index(
            "ix_pairings_tenant_id_mentee_open",
            ["tenant_id", "mentee_application_id"],
            unique=True,
            postgresql_where=sa.text("state IN ('active', 'paused', 'proposed')"),
            sqlite_where=sa.text("state IN ('active', 'paused', 'proposed')"),
        )
        batch_op.create_index(
            "ix_pairings_tenant_id_mentor_application_id",
            ["tenant_id", "mentor_application_id"],
            unique=False,
        )

    op.create_table(
        "agreements",
        sa.Column("pairing_id", sa.Uuid(), nullable=False),
        sa.Column("goals", sa.Text(), nullable=False),
        sa.Column("mentee_accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("mentor_accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_by_user_id", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
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
            ["pairing_id"],
            ["pairings.id"],
            name=op.f("fk_agreements_pairing_id_pairings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_agreements_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_user_id"],
            ["users.id"],
            name=op.f("fk_agreements_updated_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agreements")),
        sa.UniqueConstraint(
            "tenant_id", "pairing_id", name=op.f("uq_agreements_tenant_id_pairing_id")
        ),
    )
    with op.batch_alter_table("agreements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agreements_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "check_ins",
        sa.Column("pairing_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "start",
                "midpoint",
                "end",
                "followup_3m",
                "followup_6m",
                name="checkinkind",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "respondent",
            sa.Enum("mentee", "mentor", name="respondent", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reminders_sent", sa.Integer(), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column(
            "employment_outcome",
            sa.Enum(
                "employed_own_field",
                "employed_related_field",
                "other_work",
                "in_training",
                "searching",
                name="employmentoutcome",
                native_enum=False,
                length=32,
            ),
            nullable=True,
        ),
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
            ["pairing_id"],
            ["pairings.id"],
            name=op.f("fk_check_ins_pairing_id_pairings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_check_ins_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_check_ins")),
        sa.UniqueConstraint(
            "tenant_id",
            "pairing_id",
            "kind",
            "respondent",
            name=op.f("uq_check_ins_tenant_id_pairing_id_kind_respondent"),
        ),
    )
    with op.batch_alter_table("check_ins", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_check_ins_tenant_id"), ["tenant_id"], unique=False)
        batch_op.create_index(
            "ix_check_ins_tenant_id_due_on", ["tenant_id", "due_on"], unique=False
        )

    op.create_table(
        "meetings",
        sa.Column("pairing_id", sa.Uuid(), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column(
            "format",
            sa.Enum(
                "in_person", "online", "phone", name="meetingformat", native_enum=False, length=32
            ),
            nullable=False,
        ),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("created_by_user_id", sa.Uuid(), nullable=True),
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
            ["created_by_user_id"],
            ["users.id"],
            name=op.f("fk_meetings_created_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["pairing_id"],
            ["pairings.id"],
            name=op.f("fk_meetings_pairing_id_pairings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_meetings_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meetings")),
    )
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_meetings_tenant_id"), ["tenant_id"], unique=False)
        batch_op.create_index(
            "ix_meetings_tenant_id_pairing_id_held_on",
            ["tenant_id", "pairing_id", "held_on"],
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
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.drop_index("ix_meetings_tenant_id_pairing_id_held_on")
        batch_op.drop_index(batch_op.f("ix_meetings_tenant_id"))

    op.drop_table("meetings")
    with op.batch_alter_table("check_ins", schema=None) as batch_op:
        batch_op.drop_index("ix_check_ins_tenant_id_due_on")
        batch_op.drop_index(batch_op.f("ix_check_ins_tenant_id"))

    op.drop_table("check_ins")
    with op.batch_alter_table("agreements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agreements_tenant_id"))

    op.drop_table("agreements")
    with op.batch_alter_table("pairings", schema=None) as batch_op:
        batch_op.drop_index("ix_pairings_tenant_id_mentor_application_id")
        batch_op.drop_index(
            "ix_pairings_tenant_id_mentee_open",
            postgresql_where=sa.text("state IN ('active', 'paused', 'proposed')"),
            sqlite_where=sa.text("state IN ('active', 'paused', 'proposed')"),
        )
        batch_op.drop_index("ix_pairings_tenant_id_cohort_id_state")
        batch_op.drop_index(batch_op.f("ix_pairings_tenant_id"))

    op.drop_table("pairings")
    with op.batch_alter_table("intake_notes", schema=None) as batch_op:
        batch_op.drop_index("ix_intake_notes_tenant_id_application_id")
        batch_op.drop_index(batch_op.f("ix_intake_notes_tenant_id"))

    op.drop_table("intake_notes")
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.drop_index("ix_applications_tenant_id_user_id")
        batch_op.drop_index("ix_applications_tenant_id_cohort_id_kind")
        batch_op.drop_index(batch_op.f("ix_applications_tenant_id"))

    op.drop_table("applications")
    with op.batch_alter_table("cohorts", schema=None) as batch_op:
        batch_op.drop_index("ix_cohorts_tenant_id_programme_id")
        batch_op.drop_index(batch_op.f("ix_cohorts_tenant_id"))

    op.drop_table("cohorts")
    with op.batch_alter_table("programmes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_programmes_tenant_id"))

    op.drop_table("programmes")
