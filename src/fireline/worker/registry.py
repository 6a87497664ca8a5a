"""What the worker knows how to do: job handlers, event subscribers, periodic tasks.

Capabilities register themselves in modules under `fireline.worker.tasks` (each module there
is imported by `load()`), so adding a timer or a subscriber never touches the runner:

    @registry.job("escalation.step")
    def step(ctx: Context, job: JobData) -> None: ...

    @registry.subscriber("incident.triggered", name="escalation.start")
    def start(ctx: Context, event: Event) -> None: ...

    @registry.periodic("heartbeats.check", every=timedelta(minutes=1))
    def check(ctx: Context, now: datetime) -> None: ...

Handlers own their transactions (they call use cases). Raising `RetryLater` or any error
retries the job with back-off; `PermanentFailure` dead-letters it at once.
"""

from __future__ import annotations

import fnmatch
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fireline.usecases.context import Context


@dataclass(frozen=True, slots=True)
class JobData:
    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    due_at: datetime


@dataclass(frozen=True, slots=True)
class Event:
    type: str
    data: dict[str, Any]
    at: str
    job_id: int


class RetryLater(Exception):
    """Retry this job after `delay` (e.g. a rate-limited webhook with Retry-After)."""

    def __init__(self, message: str, *, delay: timedelta | None = None) -> None:
        super().__init__(message)
        self.delay = delay


class PermanentFailure(Exception):
    """The job can never succeed (e.g. a webhook answered 410 Gone): dead-letter it now."""


JobHandler = Callable[[Context, JobData], None]
# A batch handler gets every claimed job of its kind from one tick and returns, per job id,
# None (done: the handler completed the job in its effect's commit) or the exception that
# job raised (the runner retries or dead-letters it as for a single job). A job it leaves
# out of the answer is run on its own through the kind's single-job handler.
BatchHandler = Callable[[Context, list[JobData]], dict[int, BaseException | None]]
EventHandler = Callable[[Context, Event], None]
PeriodicHandler = Callable[[Context, datetime], None]


@dataclass(frozen=True, slots=True)
class Periodic:
    name: str
    every: timedelta
    handler: PeriodicHandler


@dataclass
class Registry:
    jobs: dict[str, JobHandler] = field(default_factory=dict)
    subscribers: dict[str, tuple[str, EventHandler]] = field(default_factory=dict)
    periodics: dict[str, Periodic] = field(default_factory=dict)
    batches: dict[str, BatchHandler] = field(default_factory=dict)

    def batch(self, kind: str) -> Callable[[BatchHandler], BatchHandler]:
        """Register a handler for all of a tick's claimed jobs of `kind` at once (the kind
        keeps its single-job handler for anything the batch hands back)."""

        def register(fn: BatchHandler) -> BatchHandler:
            self.batches[kind] = fn
            return fn

        return register

    def job(self, kind: str) -> Callable[[JobHandler], JobHandler]:
        def register(fn: JobHandler) -> JobHandler:
            self.jobs[kind] = fn
            return fn

        return register

    def subscriber(self, pattern: str, *, name: str) -> Callable[[EventHandler], EventHandler]:
        """Subscribe `name` to event types matching `pattern` (shell-style: `incident.*`)."""

        def register(fn: EventHandler) -> EventHandler:
            self.subscribers[name] = (pattern, fn)
            return fn

        return register

    def periodic(
        self, name: str, *, every: timedelta
    ) -> Callable[[PeriodicHandler], PeriodicHandler]:
        def register(fn: PeriodicHandler) -> PeriodicHandler:
            self.periodics[name] = Periodic(name=name, every=every, handler=fn)
            return fn

        return register

    def subscribers_for(self, event_type: str) -> list[str]:
        return sorted(
            name
            for name, (pattern, _) in self.subscribers.items()
            if fnmatch.fnmatchcase(event_type, pattern)
        )


registry = Registry()
_loaded = False


def load() -> Registry:
    """Import every module in `fireline.worker.tasks` so their registrations run (once)."""
    global _loaded
    if not _loaded:
        from fireline.worker import tasks

        for module in pkgutil.iter_modules(tasks.__path__):
            importlib.import_module(f"{tasks.__name__}.{module.name}")
        _loaded = True
    return registry
