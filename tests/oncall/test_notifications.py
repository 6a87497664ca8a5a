"""Contact methods, rules and deliveries over real SMTP and HTTP, one-click links."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from standardwebhooks import Webhook
from tests.conftest import Person
from tests.oncall.conftest import Mailbox, Receiver
from tests.oncall.helpers import attach, declare, method, ok, policy, service, timeline

from fireline.clock import FrozenClock
from fireline.domain.roles import Role
from fireline.store.models import Job
from fireline.store.models.oncall import ContactMethod
from fireline.usecases.context import Context
from fireline.worker import runner


def _paged_incident(
    client: TestClient, admin: Person, who: Person, *, delay: int = 5
) -> dict[str, object]:
    sid = service(client, admin)
    attach(client, admin, sid, policy(client, admin, [([("user", who.id)], delay)]))
    return declare(client, admin, services=[sid], urgency="high")


def test_email_ack_link_acknowledges_without_login_and_stops_escalation(
    client: TestClient,
    ctx: Context,
    clock: FrozenClock,
    smtp: Mailbox,
    admin: Person,
    make_person: Callable[..., Person],
) -> None:
    alice, bob = make_person(Role.RESPONDER), make_person(Role.RESPONDER)
    sid = service(client, admin)
    attach(
        client,
        admin,
        sid,
        policy(client, admin, [([("user", alice.id)], 5), ([("user", bob.id)], 5)]),
    )
    incident = declare(client, admin, services=[sid], title="Payments <failing>")
    runner.drain(ctx)
    [mail] = smtp.to(alice.email)
    assert mail["Subject"].startswith("[Fireline] ")
    assert incident["ref"] in mail["Subject"] and "Payments <failing>" in mail["Subject"]
    text = smtp.body(mail)
    ack = re.search(r"Acknowledge: (http://testserver/actions/\S+)", text)
    assert ack is not None and "Resolve: http://testserver/actions/" in text
    path = ack.group(1).removeprefix("http://testserver")
    page = client.get(path)
    assert page.status_code == 200 and "<form" in page.text and incident["ref"] in page.text
    assert (
        ok(client.get(f"/api/v1/incidents/{incident['ref']}", headers=admin.headers))["status"]
        == "triggered"
    )  # GET changes nothing
    done = client.post(path)
    assert done.status_code == 200, done.text
    assert (
        ok(client.get(f"/api/v1/incidents/{incident['ref']}", headers=admin.headers))["status"]
        == "acknowledged"
    )
    runner.drain(ctx)
    clock.advance(minutes=30)
    runner.drain(ctx)
    assert smtp.to(bob.email) == []
    again = client.post(path)
    assert again.status_code == 409 and "already been used" in again.text
    assert client.get("/actions/fla_nonsense").status_code == 404
    changed = timeline(client, admin, incident["ref"], "status_changed")
    assert changed[-1]["actor"] == alice.email


def test_expired_link_is_refused(
    client: TestClient,
    ctx: Context,
    clock: FrozenClock,
    smtp: Mailbox,
    admin: Person,
    responder: Person,
) -> None:
    incident = _paged_incident(client, admin, responder)
    runner.drain(ctx)
    text = smtp.body(smtp.to(responder.email)[0])
    link = re.search(r"Resolve: http://testserver(/actions/\S+)", text)
    assert link is not None
    clock.advance(timedelta(hours=25))
    response = client.post(link.group(1))
    assert response.status_code == 410 and "expired" in response.text
    assert (
        ok(client.get(f"/api/v1/incidents/{incident['ref']}", headers=admin.headers))["status"]
        == "triggered"
    )


def test_webhook_is_signed_and_verifiable(
    client: TestClient,
    ctx: Context,
    receiver: Receiver,
    admin: Person,
    responder: Person,
) -> None:
    created = method(client, responder, "webhook", f"{receiver.url}/hook")
    assert created["secret"].startswith("whsec_")
    listed = ok(
        client.get(f"/api/v1/users/{responder.id}/contact-methods", headers=responder.headers)
    )
    assert listed[0]["secret"] is None  # shown once only
    incident = _paged_incident(client, admin, responder)
    runner.drain(ctx)
    [request] = receiver.at("/hook")
    payload = Webhook(created["secret"]).verify(request.body, request.headers)
    assert payload["type"] == "incident.paged"
    assert payload["data"]["ref"] == incident["ref"]
    assert payload["data"]["ack_url"].startswith("http://testserver/actions/")
    [event] = timeline(client, admin, incident["ref"], "notification")
    assert event["data"]["channel"] == "webhook" and event["data"]["status"] == "sent"
    assert event["data"]["target"] == receiver.url


def test_slack_and_teams_payload_shapes(
    client: TestClient,
    ctx: Context,
    receiver: Receiver,
    admin: Person,
    responder: Person,
) -> None:
    method(client, responder, "slack", f"{receiver.url}/slack")
    method(client, responder, "teams", f"{receiver.url}/teams")
    incident = _paged_incident(client, admin, responder)
    runner.drain(ctx)
    slack = receiver.at("/slack")[0].json()
    assert incident["ref"] in slack["text"]
    assert [b["type"] for b in slack["blocks"]] == ["header", "section", "context"]
    assert "|Acknowledge>" in slack["blocks"][2]["elements"][0]["text"]
    teams = receiver.at("/teams")[0].json()
    card = teams["attachments"][0]["content"]
    assert teams["type"] == "message" and card["type"] == "AdaptiveCard"
    assert [a["title"] for a in card["actions"]] == ["Open", "Acknowledge", "Resolve"]


def test_smtp_down_retries_later_and_never_blocks_the_request(
    client: TestClient,
    ctx: Context,
    clock: FrozenClock,
    smtp: Mailbox,
    admin: Person,
    responder: Person,
    app: object,
) -> None:
    from tests.conftest import free_port

    dead = ctx.settings.model_copy(update={"smtp_port": free_port()})
    broken = Context(sessions=ctx.sessions, clock=clock, settings=dead)
    incident = _paged_incident(client, admin, responder)  # the request itself succeeds
    runner.drain(broken)
    with ctx.reading() as session:
        job = session.scalars(select(Job).where(Job.kind == "notify.deliver")).one()
    assert job.state == "pending" and job.attempts == 1 and job.due_at > clock.now()
    failed = timeline(client, admin, incident["ref"], "notification")
    assert failed[0]["data"]["status"] == "failed" and failed[0]["data"]["error"]
    clock.advance(minutes=1)  # the SMTP server is back
    runner.drain(ctx)
    assert len(smtp.to(responder.email)) == 1
    statuses = [
        e["data"]["status"] for e in timeline(client, admin, incident["ref"], "notification")
    ]
    assert statuses == ["failed", "sent"]


def test_webhook_gone_disables_the_method_and_dead_letters(
    client: TestClient,
    ctx: Context,
    receiver: Receiver,
    admin: Person,
    responder: Person,
) -> None:
    created = method(client, responder, "webhook", f"{receiver.url}/gone")
    receiver.status["/gone"] = 410
    incident = _paged_incident(client, admin, responder)
    runner.drain(ctx)
    with ctx.reading() as session:
        row = session.get(ContactMethod, created["id"])
        job = session.scalars(select(Job).where(Job.kind == "notify.deliver")).one()
    assert row is not None and not row.enabled and "410" in (row.disabled_reason or "")
    assert job.state == "dead"
    [event] = timeline(client, admin, incident["ref"], "notification")
    assert event["data"]["status"] == "failed" and event["data"]["final"] is True


def test_server_error_is_retried_with_backoff(
    client: TestClient,
    ctx: Context,
    clock: FrozenClock,
    receiver: Receiver,
    admin: Person,
    responder: Person,
) -> None:
    method(client, responder, "webhook", f"{receiver.url}/flaky")
    receiver.status["/flaky"] = 503
    _paged_incident(client, admin, responder)
    runner.drain(ctx)
    receiver.status["/flaky"] = 200
    clock.advance(minutes=2)
    runner.drain(ctx)
    sent = receiver.at("/flaky")
    assert len(sent) == 2 and sent[0].headers["webhook-id"] == sent[1].headers["webhook-id"]


def test_invalid_contact_methods_are_refused_with_the_field(
    client: TestClient,
    responder: Person,
    make_person: Callable[..., Person],
) -> None:
    url = f"/api/v1/users/{responder.id}/contact-methods"
    for body, field in (
        ({"kind": "email", "address": "not-an-email"}, "address"),
        ({"kind": "webhook", "address": "ftp://example.com/x"}, "address"),
        ({"kind": "slack", "address": "http://user:pw@example.com/x"}, "address"),
        ({"kind": "pager", "address": "a@b.example"}, "kind"),
    ):
        response = client.post(url, json=body, headers=responder.headers)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["field"] == field
    rule = client.post(
        f"/api/v1/users/{responder.id}/notification-rules",
        json={"contact_method_id": 12345},
        headers=responder.headers,
    )
    assert rule.status_code == 422 and rule.json()["error"]["field"] == "contact_method_id"
    other = make_person(Role.RESPONDER)
    assert client.get(url, headers=other.headers).status_code == 403


def test_stakeholder_status_update_is_emailed(
    client: TestClient,
    ctx: Context,
    smtp: Mailbox,
    admin: Person,
    responder: Person,
    make_person: Callable[..., Person],
) -> None:
    boss = make_person(Role.VIEWER)
    incident = declare(client, responder, stakeholders=[boss.id])
    ok(
        client.post(
            f"/api/v1/incidents/{incident['ref']}/status-updates",
            json={"body": "Payments are recovering.", "audience": "stakeholders"},
            headers=responder.headers,
        ),
        201,
    )
    runner.drain(ctx)
    [mail] = smtp.to(boss.email)
    assert "Payments are recovering." in smtp.body(mail)
    assert timeline(client, admin, incident["ref"], "notification")[0]["data"]["status"] == "sent"
