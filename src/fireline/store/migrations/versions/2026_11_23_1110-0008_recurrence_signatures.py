"""recurrence signatures: incident_signatures, incident_terms, recurrence_term_stats

Revision ID: 0008
Revises: 0002
Create Date: 2026-11-23 11:10:00

Why: "similar past incidents" must answer in under 100 ms with 100,000 incidents stored.
Tokenising and weighing the whole history per request cannot; an inverted index of each
incident's masked words (filled by the worker when incidents change) and a periodic snapshot
of word frequencies can. All three tables are derived data and can be rebuilt at any time.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "incident_signatures",
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("words", sa.Text(), nullable=False),
        sa.Column("indexed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_signatures_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_incident_signatures")),
    )
    op.create_table(
        "incident_terms",
        sa.Column("term", sa.String(length=80), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_terms_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("term", "incident_id", name=op.f("pk_incident_terms")),
    )
    op.create_index(
        op.f("ix_incident_terms_incident_id"), "incident_terms", ["incident_id"], unique=False
    )
    op.create_table(
        "recurrence_term_stats",
        sa.Column("term", sa.String(length=80), nullable=False),
        sa.Column("documents", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("term", name=op.f("pk_recurrence_term_stats")),
    )


def downgrade() -> None:
    op.drop_table("recurrence_term_stats")
    op.drop_index(op.f("ix_incident_terms_incident_id"), table_name="incident_terms")
    op.drop_table("incident_terms")
    op.drop_table("incident_signatures")
