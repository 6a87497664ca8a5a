"""Alert intake over HTTP: PagerDuty Events v2, Alertmanager, Grafana, generic JSON, heartbeats.

    POST /v2/enqueue                    PagerDuty Events API v2 (routing_key = integration key)
    POST /v2/change/enqueue             PagerDuty change events (service timeline)
         (both also under /pagerduty and /integrations/pagerduty, for clients that take a
          base URL and append /v2/enqueue)
    POST /hooks/alertmanager[/{key}]    Alertmanager webhook v4 (key in path or Bearer)
    POST /hooks/grafana[/{key}]         Grafana unified alerting webhook
    POST /hooks/generic[/{key}]         any JSON through the integration's field mapping
    GET|POST /hooks/heartbeat/{key}     heartbeat ping

These paths are served by a small ASGI layer in front of the FastAPI app (no dependency
injection, no per-request middleware), because monitoring tools send a lot and retry. Input is
validated on the event loop before anything is written; a request is answered only after the
group committer (`fireline.ingest.committer`) has committed it. Bad input is a 4xx naming the
field, never a 5xx; a storage failure is 503 with Retry-After so senders retry.
Integration lookups are cached per process for KEY_CACHE_SECONDS (a revoked or rotated key
keeps working in other processes for at most that long).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter
from sqlalchemy import select
from starlette.types import ASGIApp, Receive, Scope, Send

from fireline.errors import FirelineError
from fireline.ingest import parsing, routing
from fireline.ingest.committer import GroupCommitter
from fireline.ingest.limiter import TokenBuckets
from fireline.ingest.signals import IntegrationInfo, Signal, Submission
from fireline.store.models.alerts import Integration
from fireline.usecases.context import Context
from fireline.usecases.integrations import DEFAULT_RATE_LIMIT, key_digest

log = logging.getLogger("fireline.intake")

KEY_CACHE_SECONDS = 5.0
KEY_CACHE_MAX = 10_000
HEARTBEAT_KEY = "heartbeat:missed"
PD_PREFIXES = ("", "/pagerduty", "/integrations/pagerduty")
PD_EVENT_PATHS = frozenset(p + "/v2/enqueue" for p in PD_PREFIXES)
PD_CHANGE_PATHS = frozenset(p + "/v2/change/enqueue" for p in PD_PREFIXES)
HOOK_TYPES = frozenset({"alertmanager", "grafana", "generic", "heartbeat"})
JSON_HEADERS = [(b"content-type", b"application/json")]


class Intake:
    """Per-app intake state: the group committer, rate limit buckets and the key cache."""

    def __init__(self, app: ASGIApp, ctx: Context, registry: CollectorRegistry | None) -> None:
        self.app = app
        self.ctx = ctx
        self.max_body = ctx.settings.max_body_bytes
        self.committer = GroupCommitter(ctx)
        self.buckets = TokenBuckets()
        self._keys: dict[str, tuple[IntegrationInfo | None, float]] = {}
        self.events = Counter(
            "fireline_intake_events",
            "Alert intake events by source and result",
            ["source", "result"],
            registry=registry,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path in PD_EVENT_PATHS:
            await self._guard(self._pd_event, scope, receive, send, pd=True)
        elif path in PD_CHANGE_PATHS:
            await self._guard(self._pd_change, scope, receive, send, pd=True)
        elif path.startswith("/hooks/"):
            parts = path[7:].split("/")
            if parts[0] in HOOK_TYPES and len(parts) <= 2:
                await self._guard(self._hook, scope, receive, send, pd=False)
            else:
                await self.app(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    # ------------------------------------------------------------ plumbing

    async def _guard(
        self, handler: Any, scope: Scope, receive: Receive, send: Send, *, pd: bool
    ) -> None:
        try:
            status, body, headers = await handler(scope, receive)
        except parsing.BadInput as exc:
            status, body = self._bad(pd, 400 if exc.field == "body" else 422, exc)
            headers = None
        except _Reply as reply:
            status, body, headers = reply.status, reply.body, reply.headers
        except FirelineError as exc:
            status = exc.status if exc.status < 500 else 503
            body = {"error": {"code": exc.code, "message": exc.message, "field": exc.field}}
            headers = None
        except Exception:
            log.exception("intake failed")
            status, headers = 503, [(b"retry-after", b"5")]
            body = {"error": {"code": "unavailable", "message": "could not store the event; retry"}}
        payload = orjson.dumps(body)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    *JSON_HEADERS,
                    (b"content-length", str(len(payload)).encode()),
                    *(headers or ()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    def _bad(self, pd: bool, status: int, exc: parsing.BadInput) -> tuple[int, Any]:
        if pd:
            return 400, {
                "status": "invalid event",
                "message": "Event object is invalid",
                "errors": [exc.message],
            }
        code = "malformed_json" if exc.field == "body" else "invalid_field"
        return status, {"error": {"code": code, "message": exc.message, "field": exc.field}}

    async def _read(self, scope: Scope, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                raise _Reply(400, {"error": {"code": "aborted", "message": "client went away"}})
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise _Reply(
                    413,
                    {
                        "error": {
                            "code": "payload_too_large",
                            "message": f"body: larger than the limit of {self.max_body} bytes",
                            "field": "body",
                        }
                    },
                )
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def integration(self, key: str) -> IntegrationInfo | None:
        """The live integration for `key`, from the cache or the database."""
        digest = key_digest(key)
        now = time.monotonic()
        cached = self._keys.get(digest)
        if cached is not None and cached[1] > now:
            return cached[0]
        info = await asyncio.to_thread(self._load, digest)
        if len(self._keys) >= KEY_CACHE_MAX:
            self._keys.clear()
        self._keys[digest] = (info, now + KEY_CACHE_SECONDS)
        return info

    def forget_keys(self) -> None:
        self._keys.clear()

    def _load(self, digest: str) -> IntegrationInfo | None:
        with self.ctx.reading() as session:
            row = session.execute(
                select(
                    Integration.id, Integration.type, Integration.service_id, Integration.config
                ).where(Integration.key_hash == digest, Integration.revoked_at.is_(None))
            ).first()
        if row is None:
            return None
        return IntegrationInfo(
            id=row.id, type=row.type, service_id=row.service_id, config=dict(row.config or {})
        )

    def _throttle(self, info: IntegrationInfo, cost: int, *, pd: bool) -> None:
        limit = int(info.config.get("rate_limit_per_minute", DEFAULT_RATE_LIMIT))
        wait = self.buckets.take(info.id, per_minute=limit, cost=max(1, cost))
        if wait:
            self.events.labels(info.type, "throttled").inc(max(1, cost))
            body: Any = (
                {
                    "status": "throttle event",
                    "message": "Requests for this integration are arriving too quickly. "
                    "Please retry later.",
                }
                if pd
                else {
                    "error": {
                        "code": "too_many_requests",
                        "message": f"rate limit of {limit} events per minute exceeded",
                        "field": None,
                    }
                }
            )
            raise _Reply(429, body, [(b"retry-after", str(wait).encode())])

    def _route(self, info: IntegrationInfo, signals: list[Signal]) -> list[Signal]:
        rules = info.config.get("routing_rules") or ()
        kept = []
        for signal in signals:
            signal.service_id = info.service_id
            if signal.action != "trigger" or not rules or routing.route(rules, signal):
                kept.append(signal)
        return kept

    # ------------------------------------------------------------ PagerDuty

    async def _pd_event(self, scope: Scope, receive: Receive) -> tuple[int, Any, Any]:
        _method(scope, "POST", pd=True)
        raw = await self._read(scope, receive)
        body = parsing.load_json(raw)
        info = await self._pd_integration(parsing.pagerduty_key(body))
        signal = parsing.pagerduty_event(body, raw, info.config.get("severity_map") or {})
        self._throttle(info, 1, pd=True)
        kept = self._route(info, [signal])
        if kept:
            await self.committer.submit(Submission(integration=info, signals=kept))
        self.events.labels("pagerduty", "accepted" if kept else "dropped").inc()
        return (
            202,
            {"status": "success", "message": "Event processed", "dedup_key": signal.dedup_key},
            None,
        )

    async def _pd_change(self, scope: Scope, receive: Receive) -> tuple[int, Any, Any]:
        _method(scope, "POST", pd=True)
        raw = await self._read(scope, receive)
        body = parsing.load_json(raw)
        info = await self._pd_integration(parsing.pagerduty_key(body))
        change = parsing.pagerduty_change(body)
        self._throttle(info, 1, pd=True)
        await self.committer.submit(Submission(integration=info, change=change))
        self.events.labels("pagerduty_change", "accepted").inc()
        return 202, {"status": "success", "message": "Change event processed"}, None

    async def _pd_integration(self, key: str) -> IntegrationInfo:
        info = await self.integration(key) if len(key) == 32 else None
        if info is None or info.type != "pagerduty":
            raise parsing.BadInput(
                "routing_key",
                "unknown or revoked integration key"
                if info is None
                else f"belongs to a {info.type} integration; send to its own URL",
            )
        return info

    # ------------------------------------------------------------ webhooks

    async def _hook(self, scope: Scope, receive: Receive) -> tuple[int, Any, Any]:
        parts = scope["path"][7:].split("/")
        kind = parts[0]
        key = parts[1] if len(parts) == 2 else ""
        if not key:
            key = _bearer(scope)
        if kind == "heartbeat":
            _method(scope, "GET", "POST", pd=False)
        else:
            _method(scope, "POST", pd=False)
        raw = await self._read(scope, receive)
        info = await self.integration(key) if 0 < len(key) <= 64 else None
        if info is None:
            raise _Reply(
                401,
                {
                    "error": {
                        "code": "unauthenticated",
                        "message": "key: unknown or revoked integration key (send it in the "
                        "path or as 'Authorization: Bearer <key>')",
                        "field": "key",
                    }
                },
                [(b"www-authenticate", b'Bearer realm="fireline-intake"')],
            )
        if info.type != kind:
            raise _Reply(
                404,
                {
                    "error": {
                        "code": "not_found",
                        "message": f"key: belongs to a {info.type} integration, not {kind}",
                        "field": "key",
                    }
                },
            )
        if kind == "heartbeat":
            self._throttle(info, 1, pd=False)
            signal = Signal(action="resolve", dedup_key=HEARTBEAT_KEY, service_id=info.service_id)
            await self.committer.submit(Submission(integration=info, signals=[signal], ping=True))
            self.events.labels("heartbeat", "accepted").inc()
            return 200, {"status": "ok"}, None
        severity_map = info.config.get("severity_map") or {}
        body = parsing.load_json(raw)
        if kind == "generic":
            signals = parsing.generic(body, info.config.get("mapping") or {}, severity_map)
        else:
            signals = parsing.alertmanager(body, severity_map)
        self._throttle(info, len(signals), pd=False)
        kept = self._route(info, signals)
        if kept:
            await self.committer.submit(Submission(integration=info, signals=kept))
        self.events.labels(kind, "accepted").inc(len(kept))
        return 202, {"status": "success", "accepted": len(signals), "stored": len(kept)}, None


class _Reply(Exception):
    def __init__(self, status: int, body: Any, headers: Any = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers


def _method(scope: Scope, *allowed: str, pd: bool) -> None:
    if scope["method"] not in allowed:
        raise _Reply(
            405,
            {"error": {"code": "method_not_allowed", "message": f"use {' or '.join(allowed)}"}},
            [(b"allow", ", ".join(allowed).encode())],
        )


def _bearer(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if hmac.compare_digest(scheme.lower().encode(), b"bearer"):
                return token.strip()
    return ""


def install(app: Any) -> None:
    """Serve the intake paths in front of the app (outermost user middleware)."""
    ctx: Context = app.state.context
    registry = getattr(app.state, "metrics_registry", None)

    def factory(inner: ASGIApp) -> Intake:
        intake = Intake(inner, ctx, registry)
        app.state.intake = intake
        return intake

    app.add_middleware(_Factory, factory=factory)


class _Factory:
    """Adapts `factory(app)` to Starlette's `add_middleware(cls, **options)`."""

    def __new__(cls, app: ASGIApp, factory: Any) -> Any:  # type: ignore[misc]
        return factory(app)
