"""list indexes: trigram search over incidents.search_text

Revision ID: 0005
Revises: 0001
Create Date: 2026-11-23 11:00:00

Why: the incident list's free-text filter is `search_text LIKE '%term%'`. With 100,000
incidents a rare term reads every row (30-50 ms on SQLite, more with filters), far over the
50 ms p95 budget of the list API. PostgreSQL gets a pg_trgm GIN index, which its planner uses
for LIKE directly. SQLite gets an external-content FTS5 table with the trigram tokenizer
(SQLite >= 3.34), kept in step with `incidents` by triggers; the repository walks its matches
newest first and still applies the LIKE, so results are exactly those of the plain scan.

Both objects exist only here, per dialect (models cannot express them portably), and
migrations/env.py leaves them out of autogenerate comparisons.

Caution for later SQLite migrations: a batch operation that recreates `incidents` (copy, drop,
rename) drops these triggers. Such a migration must create them again (the statements below,
then the 'rebuild'); tests/test_seed.py::test_search_finds_new_and_changed_incidents fails
when it does not.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRGM_INDEX = "ix_incidents_search_text_trgm"

_SQLITE_TRIGGERS = {
    "incidents_search_ai": """
        CREATE TRIGGER incidents_search_ai AFTER INSERT ON incidents BEGIN
            INSERT INTO incidents_search(rowid, search_text) VALUES (new.id, new.search_text);
        END""",
    "incidents_search_ad": """
        CREATE TRIGGER incidents_search_ad AFTER DELETE ON incidents BEGIN
            INSERT INTO incidents_search(incidents_search, rowid, search_text)
            VALUES ('delete', old.id, old.search_text);
        END""",
    "incidents_search_au": """
        CREATE TRIGGER incidents_search_au AFTER UPDATE OF search_text ON incidents
        WHEN old.search_text IS NOT new.search_text BEGIN
            INSERT INTO incidents_search(incidents_search, rowid, search_text)
            VALUES ('delete', old.id, old.search_text);
            INSERT INTO incidents_search(rowid, search_text) VALUES (new.id, new.search_text);
        END""",
}


def create_sqlite_search() -> None:
    """(Re)create the FTS5 table and its triggers, and index every existing incident."""
    drop_sqlite_search()
    op.execute(
        "CREATE VIRTUAL TABLE incidents_search USING fts5("
        "search_text, content='incidents', content_rowid='id', tokenize='trigram')"
    )
    for ddl in _SQLITE_TRIGGERS.values():
        op.execute(ddl)
    op.execute("INSERT INTO incidents_search(incidents_search) VALUES ('rebuild')")


def drop_sqlite_search() -> None:
    for name in _SQLITE_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute("DROP TABLE IF EXISTS incidents_search")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        # pg_trgm is a trusted extension: the database owner may create it without superuser.
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.create_index(
            TRGM_INDEX,
            "incidents",
            ["search_text"],
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        )
    elif dialect == "sqlite":
        create_sqlite_search()


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        # The extension stays: other objects may use it, and dropping it needs more rights.
        op.drop_index(TRGM_INDEX, table_name="incidents")
    elif dialect == "sqlite":
        drop_sqlite_search()
