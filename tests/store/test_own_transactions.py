"""The intake's PostgreSQL writer begins its own transactions (`begin_own_transactions`): the
BEGIN travels with the batch's first statements instead of in a round trip of its own. The
driver is in autocommit mode for that, so the transaction must still hold everything after
`begin`: pipelined statements, statements outside a pipeline (the ORM's, when a batch opens
an incident), until the connection commits or rolls back."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, text

from fireline.store.repos import alerts as alert_repo


def _names(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.scalars(text("SELECT name FROM services ORDER BY name")))


def _insert(conn: Any, name: str) -> None:
    alert_repo.driver_cursor(conn).execute(
        "INSERT INTO services (name, description, tier, created_at) VALUES (%s, '', 3, now())",
        (name,),
    )


@pytest.mark.parametrize(
    "backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
@pytest.mark.parametrize("pipelines", [True, False], ids=["pipelined", "no-pipeline-mode"])
def test_a_transaction_begun_by_the_writer_holds_every_statement_until_it_ends(
    engine: Engine, monkeypatch: Any, pipelines: bool
) -> None:
    if not pipelines:
        monkeypatch.setattr(alert_repo, "_pipeline_supported", lambda: False)
    conn = engine.connect()
    try:
        alert_repo.begin_own_transactions(conn)
        with conn.begin() as transaction:
            with alert_repo.pipelined(conn):
                alert_repo.begin(conn)
                _insert(conn, "in-the-pipeline")
            conn.exec_driver_sql(  # through SQLAlchemy, outside the pipeline
                "INSERT INTO services (name, description, tier, created_at) "
                "VALUES ('after-it', '', 3, now())"
            )
            transaction.rollback()
        assert _names(engine) == []

        with conn.begin() as transaction:
            with alert_repo.pipelined(conn):
                alert_repo.begin(conn)
                _insert(conn, "kept")
            alert_repo.begin(conn)  # a transaction is open: nothing
            _insert(conn, "kept-too")
            assert _names(engine) == []  # not before the commit
            transaction.commit()
        assert _names(engine) == ["kept", "kept-too"]
    finally:
        conn.invalidate()
        conn.close()
