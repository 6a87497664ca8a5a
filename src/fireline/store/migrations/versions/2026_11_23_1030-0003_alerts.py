"""alerts: integrations, alerts, service alert settings, silences, maintenance windows

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-23 10:30:00

Why: alerts from monitoring become records of their own (dedup, grouping, noise control)
before they open incidents. The partial unique index `uq_alerts_open_dedup` keeps at most one
open alert per (integration, dedup key) even with several server processes writing at once.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alert_silences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=True),
        sa.Column(
            "matchers",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_alert_silences_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_alert_silences_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_silences")),
    )
    with op.batch_alter_table("alert_silences", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_silences_ends_at"), ["ends_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_alert_silences_service_id"), ["service_id"], unique=False
        )

    op.create_table(
        "integrations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("key_prefix", sa.String(length=8), nullable=False),
        sa.Column(
            "config",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_event_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_integrations_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_integrations")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_integrations_key_hash")),
    )
    with op.batch_alter_table("integrations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_integrations_service_id"), ["service_id"], unique=False
        )

    op.create_table(
        "maintenance_windows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_maintenance_windows_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_maintenance_windows_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_windows")),
    )
    with op.batch_alter_table("maintenance_windows", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_maintenance_windows_service_id"), ["service_id"], unique=False
        )

    op.create_table(
        "service_alert_settings",
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column(
            "settings",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_service_alert_settings_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("service_id", name=op.f("pk_service_alert_settings")),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("integration_id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("dedup_key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=255), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("summary", sa.String(length=1024), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column(
            "labels",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "annotations",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "links",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("group_key", sa.String(length=255), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("occurrence_count", sa.Integer(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=True),
        sa.Column("raw_truncated", sa.Boolean(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("flapping", sa.Boolean(), nullable=False),
        sa.Column("suppressed", sa.Boolean(), nullable=False),
        sa.Column("suppressed_reason", sa.String(length=200), nullable=True),
        sa.Column("noise", sa.Boolean(), nullable=False),
        sa.Column("noise_reason", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_alerts_incident_id_incidents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_alerts_integration_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_alerts_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index("ix_alerts_incident_id", ["incident_id"], unique=False)
        batch_op.create_index(
            "ix_alerts_integration_dedup", ["integration_id", "dedup_key", "id"], unique=False
        )
        batch_op.create_index("ix_alerts_service_group", ["service_id", "group_key"], unique=False)
        batch_op.create_index("ix_alerts_service_id_id", ["service_id", "id"], unique=False)
        batch_op.create_index("ix_alerts_status_id", ["status", "id"], unique=False)
        batch_op.create_index(
            "uq_alerts_open_dedup",
            ["integration_id", "dedup_key"],
            unique=True,
            sqlite_where=sa.text("status <> 'resolved'"),
            postgresql_where=sa.text("status <> 'resolved'"),
        )

    op.create_table(
        "alert_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("group_key", sa.String(length=255), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_alert_groups_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_alert_groups_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_groups")),
    )
    with op.batch_alter_table("alert_groups", schema=None) as batch_op:
        batch_op.create_index(
            "ix_alert_groups_service_key", ["service_id", "group_key"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_alert_groups_incident_id"), ["incident_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("alert_groups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_groups_incident_id"))
        batch_op.drop_index("ix_alert_groups_service_key")

    op.drop_table("alert_groups")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_alerts_open_dedup",
            sqlite_where=sa.text("status <> 'resolved'"),
            postgresql_where=sa.text("status <> 'resolved'"),
        )
        batch_op.drop_index("ix_alerts_status_id")
        batch_op.drop_index("ix_alerts_service_id_id")
        batch_op.drop_index("ix_alerts_service_group")
        batch_op.drop_index("ix_alerts_integration_dedup")
        batch_op.drop_index("ix_alerts_incident_id")

    op.drop_table("alerts")
    op.drop_table("service_alert_settings")
    with op.batch_alter_table("maintenance_windows", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_maintenance_windows_service_id"))

    op.drop_table("maintenance_windows")
    with op.batch_alter_table("integrations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_integrations_service_id"))

    op.drop_table("integrations")
    with op.batch_alter_table("alert_silences", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_silences_service_id"))
        batch_op.drop_index(batch_op.f("ix_alert_silences_ends_at"))

    op.drop_table("alert_silences")
