"""The intake's integration key cache: one lookup per key at a time, and rotated or revoked
keys looked up again."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from tests.intake import helpers

from fireline.api import intake as intake_module
from fireline.clock import FrozenClock
from fireline.config import Settings
from fireline.store.models.alerts import Integration
from fireline.usecases import integrations
from fireline.usecases.context import Context


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_requests_that_find_a_key_expired_together_share_one_lookup(
    ctx: Context, settings: Settings, engine: Engine, clock: FrozenClock, monkeypatch: Any
) -> None:
    """A busy sender's requests find its key's cache entry expired all at once (here: every
    time). They wait for one lookup of the key in the database, not one each."""
    monkeypatch.setattr(intake_module, "KEY_CACHE_SECONDS", 0.0)
    app, key = helpers.app_and_key(ctx, settings, engine, clock)
    looked_up: list[str] = []

    async def scenario() -> list[int]:
        assert await helpers.post(app, "/v2/enqueue", helpers.trigger(key, "warm-up")) == 202
        intake = app.state.intake
        load = intake._load

        def slow_load(digest: str) -> Any:
            looked_up.append(digest)
            time.sleep(0.05)  # the database is busy
            return load(digest)

        intake._load = slow_load
        return list(
            await asyncio.gather(
                *(
                    helpers.post(app, "/v2/enqueue", helpers.trigger(key, f"k-{i}"))
                    for i in range(8)
                )
            )
        )

    assert asyncio.run(scenario()) == [202] * 8
    assert len(looked_up) == 1
    assert len(helpers.alerts(ctx)) == 9


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_key_revoked_while_it_is_looked_up_is_looked_up_again(
    ctx: Context, settings: Settings, engine: Engine, clock: FrozenClock
) -> None:
    """A lookup that read the key before it was revoked in this process answers the requests
    that waited for it, but is not kept: the next request looks the key up again and is
    refused."""
    app, key = helpers.app_and_key(ctx, settings, engine, clock)

    async def scenario() -> tuple[int, int]:
        await helpers.post(app, "/v2/enqueue", {})  # (the intake is made with the first)
        intake = app.state.intake
        load = intake._load

        def load_then_revoke(digest: str) -> Any:
            found = load(digest)
            with ctx.reading() as session:
                [integration_id] = session.scalars(select(Integration.id)).all()
            integrations.revoke(ctx, integration_id)
            intake.forget_keys()  # what the API does after a revoke
            return found

        intake._load = load_then_revoke
        during = await helpers.post(app, "/v2/enqueue", helpers.trigger(key, "during"))
        intake._load = load
        after = await helpers.post(app, "/v2/enqueue", helpers.trigger(key, "after"))
        return during, after

    during, after = asyncio.run(scenario())
    assert during == 202  # read before the revoke
    assert after == 400
    assert [a.dedup_key for a in helpers.alerts(ctx)] == ["during"]
