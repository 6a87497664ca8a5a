"""Alembic environment: runs against the connection handed over by `fireline.store.migrate`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

from fireline.store.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        engine = engine_from_config(
            config.get_section(config.config_ini_section) or {},
            prefix="sqlalchemy.",
            poolclass=pool.NullPool,
        )
        with engine.connect() as conn:
            _run(conn)
        return
    _run(connection)


# Per-dialect objects that only migrations create (0005): the SQLite FTS5 search table with its
# shadow tables, and the PostgreSQL trigram index. Autogenerate must not try to drop them.
def _include_name(name: str | None, type_: str, _parents: object) -> bool:
    if type_ == "table" and name is not None and name.startswith("incidents_search"):
        return False
    return not (type_ == "index" and name == "ix_incidents_search_text_trgm")


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table
        compare_type=True,
        include_name=_include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
