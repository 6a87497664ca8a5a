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
Integration lookups are cached per process by key digest for KEY_CACHE_SECONDS, one lookup per
key at a time; a rotate or revoke clears the cache of the process that made it, so a revoked or
rotated key keeps working in the other server processes for at most that long. `front(app)` is
what `fireline serve` runs: intake paths skip the FastAPI stack entirely.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
import time
from collections.abc import Iterator
from typing import Any, NamedTuple

import orjson
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import select
from starlette.types import ASGIApp, Receive, Scope, Send

from fireline.domain.alert_grouping import Action, AlertEvent, Severity, remap_severity
from fireline.domain.alert_rules import route
from fireline.errors import FirelineError, InvalidField
from fireline.ingest.committer import GroupCommitter
from fireline.ingest.limiter import TokenBuckets
from fireline.integrations.inbound import InvalidEvent
from fireline.integrations.inbound.alertmanager import parse_alertmanager
from fireline.integrations.inbound.generic import GenericMapping, parse_generic
from fireline.integrations.inbound.grafana import parse_grafana
from fireline.integrations.inbound.pagerduty_v2 import (
    parse_change_event,
    parse_pagerduty_event,
    stored_raw,
)
from fireline.store.models.alerts import Integration
from fireline.usecases.context import Context
from fireline.usecases.integrations import DEFAULT_RATE_LIMIT, info_of, key_digest
from fireline.usecases.submissions import Incoming, IntegrationInfo, Submission, cap_raw

log = logging.getLogger("fireline.intake")

KEY_CACHE_SECONDS = 2.0
KEY_CACHE_MAX = 10_000
HEARTBEAT_KEY = "heartbeat:missed"
PD_PREFIXES = ("", "/pagerduty", "/integrations/pagerduty")
PD_EVENT_PATHS = frozenset(p + "/v2/enqueue" for p in PD_PREFIXES)
PD_CHANGE_PATHS = frozenset(p + "/v2/change/enqueue" for p in PD_PREFIXES)
HOOK_TYPES = frozenset({"alertmanager", "grafana", "generic", "heartbeat"})
HOOK_PARSERS = {"alertmanager": parse_alertmanager, "grafana": parse_grafana}
JSON_HEADERS = [(b"content-type", b"application/json")]


class Intake:
    """Per-app intake state: the group committer, rate limit buckets and the key cache."""

    def __init__(self, app: ASGIApp, ctx: Context, registry: CollectorRegistry | None) -> None:
        self.app = app
        self.ctx = ctx
        self.max_body = ctx.settings.max_body_bytes
        self.committer = GroupCommitter(ctx)
        self.buckets = TokenBuckets(ctx.clock)
        self._keys: dict[str, tuple[_Source | None, float]] = {}
        self._loading: dict[str, asyncio.Future[_Source | None]] = {}
        self._generation = 0  # of the keys: `forget_keys` makes lookups under way stale
        self.events = _Tally()
        if registry is not None:
            registry.register(self.events)

    def _count(self, source: str, result: str, amount: int = 1) -> None:
        """Add to the events counter (`fireline_intake_events`)."""
        counts = self.events.counts
        counts[source, result] = counts.get((source, result), 0) + amount

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if handles(scope["path"]):
            await self.serve(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one request for an intake path (`handles(path)` is true)."""
        path: str = scope["path"]
        if path in PD_EVENT_PATHS:
            await self._guard(self._pd_event, scope, receive, send, pd=True)
        elif path in PD_CHANGE_PATHS:
            await self._guard(self._pd_change, scope, receive, send, pd=True)
        else:
            await self._guard(self._hook, scope, receive, send, pd=False)

    # ------------------------------------------------------------ plumbing

    async def _guard(
        self, handler: Any, scope: Scope, receive: Receive, send: Send, *, pd: bool
    ) -> None:
        try:
            status, body, headers = await handler(scope, receive)
        except InvalidField as exc:
            status, body = self._bad(pd, exc)
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

    def _bad(self, pd: bool, exc: InvalidField) -> tuple[int, Any]:
        errors = exc.errors if isinstance(exc, InvalidEvent) else [exc.message]
        if pd:
            body = {"status": "invalid event", "message": "Event object is invalid"}
            return 400, {**body, "errors": errors}
        malformed = isinstance(exc, _BadJson)
        return 400 if malformed else 422, {
            "error": {
                "code": "malformed_json" if malformed else "invalid_field",
                "message": exc.message,
                "field": exc.field,
                "errors": errors,
            }
        }

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

    async def integration(self, key: str) -> _Source | None:
        """The live integration for `key`, from the cache or the database. One lookup per key
        at a time: the requests that find the key's entry expired meanwhile wait for it (each
        used to look it up itself: under load a dozen lookups per key and process every time
        the entry expired)."""
        digest = key_digest(key)
        cached = self._keys.get(digest)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        loading = self._loading.get(digest)
        if loading is None:
            loading = self._loading[digest] = asyncio.ensure_future(self._fetch(digest))
        # (shielded: a request that goes away does not cancel the others' lookup)
        return await asyncio.shield(loading)

    async def _fetch(self, digest: str) -> _Source | None:
        generation = self._generation
        started = time.monotonic()
        try:
            info = await asyncio.to_thread(self._load, digest)
        finally:
            if self._loading.get(digest) is asyncio.current_task():
                del self._loading[digest]
        if generation == self._generation:  # else keys changed meanwhile: not kept
            if len(self._keys) >= KEY_CACHE_MAX:
                self._keys.clear()
            self._keys[digest] = (info, started + KEY_CACHE_SECONDS)
        return info

    def forget_keys(self) -> None:
        """Keys were rotated or revoked: look every key up again (also those being looked up
        now, which may have read them before the change)."""
        self._keys.clear()
        self._loading.clear()
        self._generation += 1

    def _load(self, digest: str) -> _Source | None:
        with self.ctx.reading() as session:
            row = session.execute(
                select(
                    Integration.id,
                    Integration.type,
                    Integration.service_id,
                    Integration.config,
                    Integration.name,
                ).where(Integration.key_hash == digest, Integration.revoked_at.is_(None))
            ).first()
        if row is None:
            return None
        info = info_of(
            id=row.id,
            type=row.type,
            service_id=row.service_id,
            config=row.config,
            name=row.name,
        )
        mapping = None
        if info.type == "generic":
            raw = dict(info.config.get("mapping") or {})
            words = {**{k: v.value for k, v in info.severity_map.items()}}
            raw["severity_map"] = {**words, **(raw.get("severity_map") or {})}
            mapping = GenericMapping.from_mapping(raw)
        return _Source(info, mapping)

    def _throttle(self, info: IntegrationInfo, cost: int, *, pd: bool) -> None:
        limit = int(info.config.get("rate_limit_per_minute", DEFAULT_RATE_LIMIT))
        wait = self.buckets.take(info.id, per_minute=limit, cost=max(1, cost))
        if wait:
            self._count(info.type, "throttled", max(1, cost))
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

    def _route(
        self, info: IntegrationInfo, events: list[AlertEvent], raws: list[bytes | None]
    ) -> list[Incoming]:
        """Apply the integration's severity words and routing rules; drop what they drop."""
        kept = []
        for event, raw in zip(events, raws, strict=True):
            event = remap_severity(event, info.severity_map)
            service_id = info.service_id
            if event.action is Action.TRIGGER and info.rules:
                outcome = route(event, info.rules, default_service_id=service_id)
                if outcome.dropped:
                    continue
                event, service_id = outcome.event, outcome.service_id
            text, truncated = cap_raw(raw)
            kept.append(Incoming(event, service_id, text, truncated))
        return kept

    # ------------------------------------------------------------ PagerDuty

    async def _pd_event(self, scope: Scope, receive: Receive) -> tuple[int, Any, Any]:
        _method(scope, "POST", pd=True)
        raw = await self._read(scope, receive)
        body = _json(raw)
        [event] = parse_pagerduty_event(body, raw_size=len(raw))
        key = event.routing_key or ""
        info = await self._pd_integration(key)
        self._throttle(info, 1, pd=True)
        kept = self._route(info, [event], [stored_raw(raw, body, key)])
        if kept:
            await self.committer.submit(Submission(integration=info, alerts=kept))
        self._count("pagerduty", "accepted" if kept else "dropped")
        return (
            202,
            {"status": "success", "message": "Event processed", "dedup_key": event.dedup_key},
            None,
        )

    async def _pd_change(self, scope: Scope, receive: Receive) -> tuple[int, Any, Any]:
        _method(scope, "POST", pd=True)
        raw = await self._read(scope, receive)
        change = parse_change_event(_json(raw), raw_size=len(raw))
        info = await self._pd_integration(change.routing_key)
        self._throttle(info, 1, pd=True)
        data = {
            "summary": change.summary,
            "source": change.source,
            "timestamp": change.occurred_at.isoformat() if change.occurred_at else None,
            "custom_details": dict(change.details),
            "links": [{"href": link.href, "text": link.text} for link in change.links],
        }
        await self.committer.submit(Submission(integration=info, change=data))
        self._count("pagerduty_change", "accepted")
        return 202, {"status": "success", "message": "Change event processed"}, None

    async def _pd_integration(self, key: str) -> IntegrationInfo:
        found = await self.integration(key)
        if found is None or found.info.type != "pagerduty":
            raise InvalidField(
                "routing_key",
                "unknown or revoked integration key"
                if found is None
                else f"belongs to a {found.info.type} integration; send to its own URL",
            )
        return found.info

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
        found = await self.integration(key) if 0 < len(key) <= 64 else None
        if found is None:
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
        info = found.info
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
            ping = AlertEvent(
                source="heartbeat",
                action=Action.RESOLVE,
                dedup_key=HEARTBEAT_KEY,
                summary="",
                severity=Severity.INFO,
            )
            alerts = [Incoming(ping, info.service_id)]
            await self.committer.submit(Submission(integration=info, alerts=alerts, ping=True))
            self._count("heartbeat", "accepted")
            return 200, {"status": "ok"}, None
        body = _json(raw)
        if kind == "generic":
            events = parse_generic(body, found.mapping, raw_size=len(raw))
        else:
            events = HOOK_PARSERS[kind](body, raw_size=len(raw))
        self._throttle(info, len(events), pd=False)
        kept = self._route(info, events, _raw_items(body, raw, len(events)))
        if kept:
            await self.committer.submit(Submission(integration=info, alerts=kept))
        self._count(kind, "accepted", len(kept))
        return 202, {"status": "success", "accepted": len(events), "stored": len(kept)}, None


def handles(path: str) -> bool:
    """Whether `path` is one of the intake's paths."""
    if path in PD_EVENT_PATHS or path in PD_CHANGE_PATHS:
        return True
    if path.startswith("/hooks/"):
        parts = path[7:].split("/")
        return parts[0] in HOOK_TYPES and len(parts) <= 2
    return False


def front(app: Any) -> ASGIApp:
    """The ASGI callable to serve in production: intake paths go straight to the intake layer.

    The intake answers its own errors and needs nothing from the FastAPI stack (exception
    handlers, per-request middleware), which costs about a fifth of a small intake request.
    Builds the app's middleware stack now, so no middleware can be added afterwards. The
    intake checks body size and its keys itself, so the outer `BodyLimit` is not needed there.
    """
    inner = getattr(app, "fastapi", app)  # create_app wraps the FastAPI app in BodyLimit
    inner.middleware_stack = inner.build_middleware_stack()
    intake: Intake = inner.state.intake

    async def serve(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and handles(scope["path"]):
            await intake.serve(scope, receive, send)
        else:
            await app(scope, receive, send)

    return serve


class _Tally(Collector):
    """The counter `fireline_intake_events`, by source and result, kept in a plain dict that
    only the event loop writes: a prometheus_client `Counter` takes a lock in every `inc()`,
    which cost about a twentieth of a small intake request."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], int] = {}

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "fireline_intake_events",
            "Alert intake events by source and result",
            labels=["source", "result"],
        )
        for (source, result), count in list(self.counts.items()):  # (a copy: another thread)
            family.add_metric([source, result], count)
        yield family


class _Source(NamedTuple):
    """A cached integration: its intake facts and, for generic ones, the field mapping."""

    info: IntegrationInfo
    mapping: GenericMapping | None


class _BadJson(InvalidField):
    """The body is not JSON at all (400 rather than 422)."""


# A JSON string's NUL (only ever written as this escape: raw control characters are invalid),
# i.e. `\u0000` preceded by an even number of backslashes (`\\u0000` is a backslash and text).
_NUL_ESCAPE = re.compile(rb"(?<!\\)((?:\\\\)*)\\u0000")


def _json(raw: bytes) -> Any:
    """The parsed body, with every NUL character in its strings and keys as U+FFFD.

    PostgreSQL text cannot hold NUL, and an alert should neither be refused over one stray
    byte (Alertmanager would resend the whole batch every interval) nor fail to store; the
    replacement character shows where it was. SQLite stores the same, so both agree."""
    if b"\\u0000" in raw:
        raw = _NUL_ESCAPE.sub(rb"\1\\ufffd", raw)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _BadJson("body", f"not valid JSON ({exc})") from None


def _raw_items(body: Any, raw: bytes, count: int) -> list[bytes | None]:
    """The raw payload stored with each alert: its own entry of a batch, else the whole body."""
    items = body.get("alerts") if isinstance(body, dict) else body
    if isinstance(items, list) and len(items) == count:
        return [orjson.dumps(item) for item in items]
    return [raw] * count


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
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if hmac.compare_digest(scheme.lower().encode(), b"bearer"):
                return token.strip()
    return ""


_HOOK_KEY = re.compile(r"^(/hooks/[^/?]+/)[^/?]+")


class HideKeys(logging.Filter):
    """Access log lines name webhook paths without their key (`/hooks/<kind>/[redacted]`):
    the key is the integration's secret, and logs are read by more people than keys are."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3:
            path = args[2]
            if isinstance(path, str) and path.startswith("/hooks/"):
                record.args = (*args[:2], _HOOK_KEY.sub(r"\1[redacted]", path), *args[3:])
        return True


_HIDE_KEYS = HideKeys()


def install(app: Any) -> None:
    """Serve the intake paths in front of the app (outermost user middleware), and keep their
    keys out of the server's access log."""
    logging.getLogger("uvicorn.access").addFilter(_HIDE_KEYS)
    ctx: Context = app.state.context
    registry = getattr(app.state, "metrics_registry", None)

    def factory(inner: ASGIApp) -> Intake:
        intake = Intake(inner, ctx, registry)
        app.state.intake = intake
        return intake

    app.add_middleware(_Factory, factory=factory)


class _Factory:
    """Adapts `factory(app)` to Starlette's `add_middleware(cls, **options)`."""

    def __new__(cls, app: ASGIApp, factory: Any) -> Any:
        return factory(app)
