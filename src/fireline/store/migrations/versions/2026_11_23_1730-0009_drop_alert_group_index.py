"""alerts: drop ix_alerts_service_group

Revision ID: 0009
Revises: 0003
Create Date: 2026-11-23 17:30:00

Why: no query reads alerts by (service_id, group_key): grouping decisions read
`alert_groups`, and the alert list filters by service, status, integration or incident. The
index was only written, on every alert the intake stores, inside the write lock that all intake
writers share.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_alerts_service_group", table_name="alerts")


def downgrade() -> None:
    op.create_index("ix_alerts_service_group", "alerts", ["service_id", "group_key"])
