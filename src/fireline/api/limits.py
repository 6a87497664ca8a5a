"""Request limits checked before any parsing (pure ASGI): body size (413) and NUL characters
in the path or query string (422; PostgreSQL cannot store or compare text containing NUL).
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyLimit:
    """Refuse bodies over `max_bytes`, by Content-Length up front or while streaming."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nul_in = _nul_parameter(scope)
        if nul_in is not None:
            await _send_json(
                send,
                422,
                {
                    "code": "invalid_field",
                    "message": f"{nul_in}: must not contain NUL (%00) characters",
                    "field": nul_in,
                },
            )
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    await self._reject(send)
                    return
        if any(name == b"content-length" for name, _ in scope.get("headers", [])):
            # The server enforces Content-Length, so a declared size within the limit is safe.
            await self.app(scope, receive, send)
            return
        # Chunked or unknown length: read it all (up to the limit), then replay it.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._reject(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _reject(self, send: Send) -> None:
        await _send_json(
            send,
            413,
            {
                "code": "payload_too_large",
                "message": f"body: larger than the limit of {self.max_bytes} bytes",
                "field": "body",
            },
        )


def _nul_parameter(scope: Scope) -> str | None:
    """The name of the path or query parameter holding a NUL character, if any."""
    if "\x00" in scope.get("path", ""):
        return "path"
    query: bytes = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            if "\x00" in name or "\x00" in value:
                return name.replace("\x00", "") or "query"
        return "query"
    return None


async def _send_json(send: Send, status: int, error: dict[str, str]) -> None:
    body = json.dumps({"error": error}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
