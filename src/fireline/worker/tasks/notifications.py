"""Deliver notifications: pages (e-mail, signed webhook, Slack, Teams) and stakeholder
status updates. Every attempt lands on the incident timeline; failures retry with the
runner's exponential back-off and dead-letter after the job's attempt limit."""

from __future__ import annotations

import logging
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


def attempt(ctx: Context, job: JobData, delivery: Delivery) -> None:
    """Send, record the attempt, and turn failures into the runner's retry signals."""
    try:
        send(ctx, delivery)
    except (EmailError, webhook.WebhookError) as exc:
        permanent = exc.permanent
        final = permanent or job.attempts >= notifications.DELIVERY_ATTEMPTS
        notifications.record(
            ctx, delivery, status="failed", attempt=job.attempts, error=str(exc)[:500], final=final
        )
        if isinstance(exc, webhook.WebhookGone):
            notifications.disable_method(ctx, delivery.method_id, f"endpoint gone: {exc}")
        if permanent:
            raise PermanentFailure(str(exc)) from exc
        delay = getattr(exc, "retry_after", None)
        raise RetryLater(
            str(exc), delay=None if delay is None else timedelta(seconds=delay)
        ) from exc
    notifications.record(ctx, delivery, status="sent", attempt=job.attempts, job_id=job.id)


@registry.job(notifications.DELIVER_JOB)
def deliver(ctx: Context, job: JobData) -> None:
    prepared = notifications.prepare(ctx, job_id=job.id, payload=job.payload)
    if isinstance(prepared, str):
        log.info("delivery job %s skipped: %s", job.id, prepared)
        return
    attempt(ctx, job, prepared)


@registry.subscriber("incident.status_update", name="notifications.status_update")
def status_update(ctx: Context, event: Event) -> None:
    notifications.queue_status_update(ctx, event.data)


@registry.job(notifications.STATUS_UPDATE_JOB)
def deliver_status_update(ctx: Context, job: JobData) -> None:
    prepared = notifications.prepare_status_update(ctx, job_id=job.id, payload=job.payload)
    if isinstance(prepared, str):
        return
    attempt(ctx, job, prepared)
