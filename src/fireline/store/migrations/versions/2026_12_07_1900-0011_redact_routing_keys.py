"""alerts: no integration key in the raw payloads of PagerDuty events

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 19:00:00

Why: the raw body of a PagerDuty event, kept with its alert, carried the integration key in
`routing_key` (and wherever the sender repeated it). Fireline stores keys only as digests, and
whoever can read alerts could send events with it. The intake now keeps the body with the key
replaced by "[redacted]"; this does the same to what is stored: the key (as decoded from the
`routing_key` field) wherever it appears, and the field itself, also when the stored payload
was cut off inside it. Nothing to undo on downgrade: the keys are not kept anywhere.
"""

import json
import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REDACTED = "[redacted]"
CHUNK = 1000
_FIELD = re.compile(r'("routing_key"\s*:\s*")((?:[^"\\]|\\.)*)"')
_CUT_FIELD = re.compile(r'("routing_key"\s*:\s*")(?:[^"\\]|\\.)*\\?$')


def redacted(raw: str) -> str:
    """`raw` without the key of its `routing_key` field (as it was formatted otherwise)."""
    found = _FIELD.search(raw)
    if found is not None:
        try:
            key = json.loads(f'"{found.group(2)}"')
        except ValueError:
            key = ""
        if key and key != REDACTED:
            raw = raw.replace(key, REDACTED)
        raw = _FIELD.sub(rf'\g<1>{REDACTED}"', raw)
    return _CUT_FIELD.sub(rf"\g<1>{REDACTED}", raw)


def upgrade() -> None:
    conn = op.get_bind()
    alerts = sa.table("alerts", sa.column("id", sa.Integer), sa.column("raw", sa.Text))
    after = 0
    while True:
        rows = conn.execute(
            sa.text(
                "SELECT id, raw FROM alerts WHERE id > :after AND source = 'pagerduty' "
                "AND raw LIKE '%routing_key%' ORDER BY id LIMIT :chunk"
            ),
            {"after": after, "chunk": CHUNK},
        ).all()
        if not rows:
            return
        changed = [
            {"row_id": row_id, "new_raw": new}
            for row_id, raw in rows
            if (new := redacted(raw)) != raw
        ]
        if changed:
            conn.execute(
                alerts.update()
                .where(alerts.c.id == sa.bindparam("row_id"))
                .values(raw=sa.bindparam("new_raw")),
                changed,
            )
        after = rows[-1][0]


def downgrade() -> None:
    pass
