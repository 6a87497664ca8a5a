"""problems: origin incident, linked changes, verification index

Revision ID: 0007
Revises: 0004
Create Date: 2026-11-23 11:20:00

Why: automatic problem creation must be idempotent (a re-run job may never create a second
problem for one major incident), so the originating incident is a unique column; a problem
may be fixed by several changes, so they get their own table; and the fix-verification timer
looks problems up by verification state.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("problems", schema=None) as batch_op:
        batch_op.add_column(sa.Column("origin_incident_id", sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_problems_origin_incident_id"), ["origin_incident_id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_problems_origin_incident_id_incidents"),
            "incidents",
            ["origin_incident_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_index("ix_problems_verification", ["verification"], unique=False)

    op.create_table(
        "problem_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("problem_id", sa.Integer(), nullable=False),
        sa.Column("change_ref", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("linked_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["problem_id"],
            ["problems.id"],
            name=op.f("fk_problem_changes_problem_id_problems"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_problem_changes")),
    )
    with op.batch_alter_table("problem_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_problem_changes_problem_id"), ["problem_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("problem_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_problem_changes_problem_id"))
    op.drop_table("problem_changes")
    with op.batch_alter_table("problems", schema=None) as batch_op:
        batch_op.drop_index("ix_problems_verification")
        batch_op.drop_constraint(
            batch_op.f("fk_problems_origin_incident_id_incidents"), type_="foreignkey"
        )
        batch_op.drop_constraint(batch_op.f("uq_problems_origin_incident_id"), type_="unique")
        batch_op.drop_column("origin_incident_id")
