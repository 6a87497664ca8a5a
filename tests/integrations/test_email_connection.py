"""The SMTP client keeps its connection between messages, and notices when it went away."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from tests.conftest import SECRET, free_port

from fireline.config import Settings
from fireline.integrations.outbound import email as smtp_client


class Relay:
    """A real SMTP server (aiosmtpd) that notes which client connection sent each message."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.peers: list[Any] = []
        self._controller: Controller | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.peers.append(session.peer)
        return "250 OK"

    def start(self) -> None:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        assert self._controller is not None
        self._controller.stop()


@pytest.fixture
def relay() -> Iterator[Relay]:
    server = Relay(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _fresh_thread_connection() -> Iterator[None]:
    smtp_client._kept.smtp = None  # each test starts without a kept connection
    yield
    kept = getattr(smtp_client._kept, "smtp", None)
    if kept is not None:
        smtp_client._close(kept[1])
        smtp_client._kept.smtp = None


def _settings(relay: Relay) -> Settings:
    return Settings(
        database_url="sqlite://", secret_key=SECRET, smtp_host="127.0.0.1", smtp_port=relay.port
    )


def _send(settings: Settings, n: int) -> None:
    smtp_client.send_email(
        settings, smtp_client.Email(to="ana@example.com", subject=f"page {n}", text="down")
    )


def test_messages_from_one_thread_share_one_connection(relay: Relay) -> None:
    settings = _settings(relay)
    for n in range(3):
        _send(settings, n)
    assert len(relay.peers) == 3
    assert len(set(relay.peers)) == 1


def test_a_connection_the_server_dropped_is_replaced_and_the_message_still_sent(
    relay: Relay,
) -> None:
    settings = _settings(relay)
    _send(settings, 1)
    relay.stop()  # the relay restarts: the kept connection is dead
    relay.start()
    _send(settings, 2)
    assert len(relay.peers) == 2
    assert relay.peers[0] != relay.peers[1]


def test_a_connection_idle_too_long_is_not_reused(
    relay: Relay, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(smtp_client, "IDLE_LIMIT_SECONDS", 0.0)
    settings = _settings(relay)
    _send(settings, 1)
    _send(settings, 2)
    assert len(set(relay.peers)) == 2
