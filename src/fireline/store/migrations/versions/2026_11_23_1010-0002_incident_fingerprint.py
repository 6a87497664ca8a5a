"""incidents.fingerprint: the alert fingerprint or dedup key an incident came from

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 10:10:00

Why: recurrence detection groups incidents by the alert that raised them. Alerts carry it
for live incidents, but imported history has no alert rows, so the incident keeps it too.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fingerprint", sa.String(length=255), nullable=True))
        batch_op.create_index(batch_op.f("ix_incidents_fingerprint"), ["fingerprint"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incidents_fingerprint"))
        batch_op.drop_column("fingerprint")
