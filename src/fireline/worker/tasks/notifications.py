"""Deliver notifications: pages (e-mail, signed webhook, Slack, Teams) and stakeholder
status updates. Every attempt lands on the incident timeline; failures retry with the
runner's exponential back-off and dead-letter after the job's attempt limit."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta

from fireline.integrations.outbound import chat, webhook
from fireline.integrations.outbound.email import Email, EmailError, send_email
from fireline.integrations.outbound.messages import email_message, webhook_event
from fireline.usecases import notifications
from fireline.usecases.context import Context
from fireline.usecases.notifications import Delivery
from fireline.worker.registry import Event, JobData, PermanentFailure, RetryLater, registry

log = logging.getLogger("fireline.notifications")


def send(ctx: Context, delivery: Delivery) -> None:
    """Send one delivery over its channel; raise EmailError or WebhookError on failure."""
    notice = delivery.notice
    if delivery.channel == "email":
        content = email_message(notice)
        text = content.text
        if delivery.extra_text:
            text = f"{delivery.extra_text}\n\n---\n{text}"
        send_email(
            ctx.settings,
            Email(
                to=delivery.address,
                subject=content.subject,
                text=text,
                html=None if delivery.extra_text else content.html,
                message_id=delivery.message_id,
            ),
        )
    elif delivery.channel == "webhook":
        if not delivery.secret:
            raise webhook.WebhookError("webhook has no signing secret", permanent=True)
        webhook.send_signed(
            delivery.address,
            webhook_event(notice),  # type: ignore[arg-type]
            secret=delivery.secret,
            message_id=delivery.message_id,
        )
    elif delivery.channel == "slack":
        chat.send_slack(delivery.address, notice)
    elif delivery.channel == "teams":
        chat.send_teams(delivery.address, notice)
    else:
        raise webhook.WebhookError(f"unknown channel {delivery.channel!r}", permanent=True)


def _failed(
    ctx: Context, job: JobData, delivery: Delivery, exc: EmailError | webhook.WebhookError
) -> Exception:
    """Record a failed attempt; return the runner's retry signal for it."""
    permanent = exc.permanent
    final = permanent or job.attempts >= notifications.DELIVERY_ATTEMPTS
    notifications.record(
        ctx, delivery, status="failed", attempt=job.attempts, error=str(exc)[:500], final=final
    )
    if isinstance(exc, webhook.WebhookGone):
        notifications.disable_method(ctx, delivery.method_id, f"endpoint gone: {exc}")
    if permanent:
        return PermanentFailure(str(exc))
    delay = getattr(exc, "retry_after", None)
    return RetryLater(str(exc), delay=None if delay is None else timedelta(seconds=delay))


def attempt(ctx: Context, job: JobData, delivery: Delivery) -> None:
    """Send, record the attempt, and turn failures into the runner's retry signals."""
    try:
        send(ctx, delivery)
    except (EmailError, webhook.WebhookError) as exc:
        raise _failed(ctx, job, delivery, exc) from exc
    notifications.record(ctx, delivery, status="sent", attempt=job.attempts, job_id=job.id)


# Sends of one batch run concurrently, at most this many at once per worker process, over
# the senders' shared keep-alive connections (so a burst opens at most this many to one
# endpoint, once). Each chunk of this many is recorded in one commit.
SEND_PARALLELISM = 16
UNRECORDED_MAX = 2 * SEND_PARALLELISM  # one chunk being recorded, the next one in flight
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _sender_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(SEND_PARALLELISM, thread_name_prefix="fireline-send")
        return _pool


def _send_outcome(ctx: Context, delivery: Delivery) -> Exception | None:
    try:
        send(ctx, delivery)
    except Exception as exc:
        return exc
    return None


@registry.job(notifications.DELIVER_JOB)
def deliver(ctx: Context, job: JobData) -> None:
    prepared = notifications.prepare(ctx, job_id=job.id, payload=job.payload)
    if isinstance(prepared, str):
        log.info("delivery job %s skipped: %s", job.id, prepared)
        return
    attempt(ctx, job, prepared)


def _record_sent(
    ctx: Context, sent: list[tuple[JobData, Delivery]]
) -> dict[int, BaseException | None]:
    """Record successful sends and complete their jobs in one commit (one by one if that
    fails, so one bad row does not fail the others)."""
    if not sent:
        return {}
    try:
        notifications.record_sent_many(ctx, [(job.id, job.attempts, d) for job, d in sent])
    except Exception:
        log.exception("recording %d sent deliveries at once failed; one by one", len(sent))
    else:
        return {job.id: None for job, _ in sent}
    answer: dict[int, BaseException | None] = {}
    for job, delivery in sent:
        try:
            notifications.record(ctx, delivery, status="sent", attempt=job.attempts, job_id=job.id)
        except Exception as exc:
            answer[job.id] = exc
        else:
            answer[job.id] = None
    return answer


@registry.batch(notifications.DELIVER_JOB)
def deliver_batch(ctx: Context, batch: list[JobData]) -> dict[int, BaseException | None]:
    """Deliver a tick's claimed pages: prepare all in one commit, send concurrently (bounded),
    record each chunk's successful sends with their jobs' completion in one commit while the
    next chunk is being sent."""
    prepared = notifications.prepare_many(ctx, [(job.id, job.payload) for job in batch])
    answer: dict[int, BaseException | None] = {}
    to_send: list[tuple[JobData, Delivery]] = []
    for job in batch:
        found = prepared[job.id]
        if isinstance(found, str):
            log.info("delivery job %s skipped: %s", job.id, found)
            answer[job.id] = None
        else:
            to_send.append((job, found))
    # Send in chunks of SEND_PARALLELISM and record each chunk's sends in one commit. The next
    # chunk is already being sent while one is recorded, so a worker killed mid-batch has at
    # most UNRECORDED_MAX sent but unrecorded (those go out again with the same webhook-id /
    # Message-ID after its lease runs out).
    chunks = [
        to_send[start : start + SEND_PARALLELISM]
        for start in range(0, len(to_send), SEND_PARALLELISM)
    ]
    in_flight = _start_sends(ctx, chunks[0]) if chunks else []
    for index, chunk in enumerate(chunks):
        results = [future.result() for future in in_flight]
        in_flight = _start_sends(ctx, chunks[index + 1]) if index + 1 < len(chunks) else []
        sent: list[tuple[JobData, Delivery]] = []
        for (job, delivery), error in zip(chunk, results, strict=True):
            if error is None:
                sent.append((job, delivery))
            elif isinstance(error, EmailError | webhook.WebhookError):
                answer[job.id] = _failed(ctx, job, delivery, error)
            else:
                answer[job.id] = error
        answer.update(_record_sent(ctx, sent))
    return answer


def _start_sends(
    ctx: Context, chunk: list[tuple[JobData, Delivery]]
) -> list[Future[Exception | None]]:
    pool = _sender_pool()
    return [pool.submit(_send_outcome, ctx, delivery) for _, delivery in chunk]


@registry.subscriber("incident.status_update", name="notifications.status_update")
def status_update(ctx: Context, event: Event) -> None:
    notifications.queue_status_update(ctx, event.data)


@registry.job(notifications.STATUS_UPDATE_JOB)
def deliver_status_update(ctx: Context, job: JobData) -> None:
    prepared = notifications.prepare_status_update(ctx, job_id=job.id, payload=job.payload)
    if isinstance(prepared, str):
        return
    attempt(ctx, job, prepared)
