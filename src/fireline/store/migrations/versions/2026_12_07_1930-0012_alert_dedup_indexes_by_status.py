"""alerts: one dedup-key index for open alerts and one for resolved ones

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 19:30:00

Why: every new alert went into two indexes led by its dedup key: the unique one over open
alerts and `ix_alerts_dedup_integration` over all alerts. Dedup keys are random (Alertmanager
fingerprints, generated keys), so each new alert of a batch changed a leaf page of its own in
each of them, and a SQLite commit writes every changed page to its log. With random keys, at
169,000 alerts, batches of 16 written by two connections in turn cost 49 µs per alert with both
indexes and 32 µs with the unique one alone. The second index now holds only resolved alerts:
an alert enters it when it resolves (a write the resolve already makes to the status index),
and lookups ask each index for its own alerts. Its condition is written
`(status = 'resolved') IS TRUE` because, given a plain `status = 'resolved'`, both PostgreSQL
(on a new table, in cached plans too) and SQLite (even after ANALYZE) looked resolved alerts up
through `ix_alerts_status_id`, i.e. through every resolved alert. The unique index now leads
with dedup_key too, for the reason given in migration 0010.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("status <> 'resolved'")
RESOLVED = sa.text("(status = 'resolved') IS TRUE")


def upgrade() -> None:
    op.create_index(
        "ix_alerts_resolved_dedup",
        "alerts",
        ["dedup_key", "integration_id"],
        sqlite_where=RESOLVED,
        postgresql_where=RESOLVED,
    )
    op.drop_index("ix_alerts_dedup_integration", table_name="alerts")
    _open_alerts_index(["dedup_key", "integration_id"])


def downgrade() -> None:
    _open_alerts_index(["integration_id", "dedup_key"])
    op.create_index("ix_alerts_dedup_integration", "alerts", ["dedup_key", "integration_id"])
    op.drop_index("ix_alerts_resolved_dedup", table_name="alerts")


def _open_alerts_index(columns: list[str]) -> None:
    """Make the unique index of open alerts' keys again, on `columns` in this order."""
    op.drop_index("uq_alerts_open_dedup", table_name="alerts")
    op.create_index(
        "uq_alerts_open_dedup",
        "alerts",
        columns,
        unique=True,
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )
