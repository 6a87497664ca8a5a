"""On-call pages through a TestClient: schedules with their timeline and overrides, policies,
my contact methods, rules and calendar feed, and the incident's escalation panel."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from tests.api.helpers import declare
from tests.conftest import Person

from fireline.domain.roles import Role
from fireline.usecases.context import Context
from fireline.worker import runner

SignedIn = Callable[[Person], str]


def _name(person: Person) -> str:
    """The display name `make_person` gives (from the e-mail's local part)."""
    return person.email.split("@")[0].title()


def _schedule(client: TestClient, token: str, users: list[Person], **extra: str) -> str:
    """Create a daily rotation from yesterday 09:00 UTC through the form; return its URL."""
    response = client.post(
        "/oncall/schedules",
        data={
            "csrf_token": token,
            "name": extra.get("name", "Primary"),
            "time_zone": "UTC",
            "users": [str(u.id) for u in users],
            "start": "2026-03-01T09:00",
            "length_count": "1",
            "length_unit": "day",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def test_schedule_form_shows_who_is_on_call_and_a_timeline(
    client: TestClient, signed_in: SignedIn, make_person: Callable[..., Person]
) -> None:
    manager = make_person(Role.MANAGER)
    ann, ben = make_person(Role.RESPONDER), make_person(Role.RESPONDER)
    url = _schedule(client, signed_in(manager), [ann, ben])
    page = client.get(url)
    assert page.status_code == 200
    now_section = page.text.split('id="now"')[1].split("</section>")[0]
    # Day 1 (from 1 March 09:00) was Ann's; at 2 March 09:00 the pager passed to Ben.
    assert _name(ben) in now_section and _name(ann) not in now_section
    bars = re.findall(r"<title>([^<]+): 2026-03-0(\d) 09:00 UTC", page.text)
    assert (_name(ben), "2") in bars and (_name(ann), "3") in bars
    overview = client.get("/oncall").text
    row = overview.split('href="' + url + '"')[1].split("</tr>")[0]
    assert _name(ben) in row


def test_bad_schedule_is_refused_with_the_field_named(
    client: TestClient, signed_in: SignedIn, make_person: Callable[..., Person]
) -> None:
    token = signed_in(make_person(Role.MANAGER))
    response = client.post(
        "/oncall/schedules",
        data={
            "csrf_token": token,
            "name": "X",
            "time_zone": "Mars/Olympus",
            "start": "2026-03-01T09:00",
        },
    )
    assert response.status_code == 422
    assert "Not created." in response.text and "time_zone" in response.text


def test_override_puts_the_cover_on_call_and_can_be_removed(
    client: TestClient, signed_in: SignedIn, make_person: Callable[..., Person]
) -> None:
    ann, cover = make_person(Role.RESPONDER), make_person(Role.RESPONDER)
    url = _schedule(client, signed_in(make_person(Role.MANAGER)), [ann])
    token = signed_in(cover)
    added = client.post(
        f"{url}/overrides",
        data={
            "csrf_token": token,
            "user": str(cover.id),
            "start": "2026-03-02T08:00",
            "end": "2026-03-02T12:00",
            "reason": "dentist",
        },
        follow_redirects=False,
    )
    assert added.status_code == 303
    response = client.get(url)
    assert response.status_code == 200, response.text[-3000:]
    page = response.text
    assert _name(cover) in page.split('id="now"')[1].split("</section>")[0]
    assert "dentist" in page
    backwards = client.post(
        f"{url}/overrides",
        data={
            "csrf_token": token,
            "user": str(cover.id),
            "start": "2026-03-02T12:00",
            "end": "2026-03-02T08:00",
        },
    )
    assert backwards.status_code == 422 and "Not saved." in backwards.text
    override_id = re.search(r"/overrides/(\d+)/delete", page)
    assert override_id
    client.post(f"{url}/overrides/{override_id.group(1)}/delete", data={"csrf_token": token})
    assert _name(ann) in client.get(url).text.split('id="now"')[1].split("</section>")[0]


def test_forms_without_the_csrf_token_are_refused(
    client: TestClient, signed_in: SignedIn, make_person: Callable[..., Person]
) -> None:
    signed_in(make_person(Role.MANAGER))
    response = client.post("/oncall/schedules", data={"name": "No token"})
    assert response.status_code == 403
    assert (
        client.post("/oncall/me/methods", data={"kind": "email", "address": "a@b.c"}).status_code
        == 403
    )


def test_my_contact_methods_rules_and_calendar_feed(
    client: TestClient, signed_in: SignedIn, make_person: Callable[..., Person]
) -> None:
    ann = make_person(Role.RESPONDER)
    token = signed_in(ann)
    created = client.post(
        "/oncall/me/methods",
        data={"csrf_token": token, "kind": "webhook", "address": "https://hooks.example.com/p"},
    )
    assert created.status_code == 200
    assert re.search(r'id="webhook-secret">whsec_', created.text)
    assert "whsec_" not in client.get("/oncall/me").text  # shown once only
    bad = client.post(
        "/oncall/me/methods", data={"csrf_token": token, "kind": "email", "address": "not-mail"}
    )
    assert bad.status_code == 422 and "address" in bad.text
    method_id = re.search(r'<option value="(\d+)">webhook', client.get("/oncall/me").text)
    assert method_id
    rule = client.post(
        "/oncall/me/rules",
        data={"csrf_token": token, "contact_method_id": method_id.group(1), "delay_minutes": "2"},
        follow_redirects=False,
    )
    assert rule.status_code == 303
    assert "2 min" in client.get("/oncall/me").text.split('id="rules"')[1]
    _schedule(client, signed_in(make_person(Role.MANAGER)), [ann])
    signed_in(ann)
    page = client.post("/oncall/me/feed", data={"csrf_token": csrf_of_me(client)})
    feed = re.search(r'id="feed-url">([^<]+)<', page.text)
    assert feed
    calendar = client.get(feed.group(1).replace("&amp;", "&"))
    assert calendar.status_code == 200 and "BEGIN:VEVENT" in calendar.text


def csrf_of_me(client: TestClient) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/oncall/me").text)
    assert found
    return found.group(1)


def test_policy_pages_and_paging_someone_from_the_incident(
    client: TestClient,
    signed_in: SignedIn,
    make_person: Callable[..., Person],
    admin: Person,
    ctx: Context,
) -> None:
    manager, ann, ben = (
        make_person(Role.MANAGER),
        make_person(Role.RESPONDER),
        make_person(Role.RESPONDER),
    )
    token = signed_in(manager)
    created = client.post(
        "/oncall/policies",
        data={
            "csrf_token": token,
            "name": "Checkout",
            "targets": [f"user:{ann.id}"],
            "delay_minutes": "5",
        },
        follow_redirects=False,
    )
    assert created.status_code == 303
    url = created.headers["location"]
    empty = client.post(f"{url}/levels", data={"csrf_token": token, "delay_minutes": "5"})
    assert empty.status_code == 422 and "at least one target" in empty.text
    client.post(
        f"{url}/levels",
        data={"csrf_token": token, "targets": [f"user:{ben.id}"], "delay_minutes": "10"},
    )
    service = client.post(
        "/api/v1/services", json={"name": "checkout"}, headers=admin.headers
    ).json()
    client.post(f"{url}/services", data={"csrf_token": token, "service": str(service["id"])})
    policy_page = client.get(url).text
    levels = policy_page.split('id="levels"')[1].split("</section>")[0]
    assert levels.index(_name(ann)) < levels.index(_name(ben)) and "after 10 min" in levels
    assert "checkout" in policy_page.split('id="services"')[1]

    incident = declare(client, admin, services=[service["id"]])
    detail = client.get(f"/incidents/{incident['ref']}").text
    assert f'hx-get="/incidents/{incident["ref"]}/oncall-panel"' in detail
    runner.drain(ctx)
    panel = client.get(f"/incidents/{incident['ref']}/oncall-panel").text
    assert "<strong>active</strong>" in panel and "level 1" in panel and 'id="page-form"' in panel
    token = signed_in(ann)
    paged = client.post(
        f"/incidents/{incident['ref']}/page",
        data={"csrf_token": token, "target": f"user:{ben.id}"},
        follow_redirects=False,
    )
    assert paged.status_code == 303
    events = client.get(
        f"/api/v1/incidents/{incident['ref']}/timeline", headers=admin.headers
    ).json()
    paging = [
        e for e in events["events"] if e["kind"] == "escalation" and e["data"]["action"] == "paged"
    ]
    assert paging and paging[0]["data"]["user_ids"] == [ben.id]
    nobody = client.post(
        f"/incidents/{incident['ref']}/page", data={"csrf_token": token, "target": ""}
    )
    assert nobody.status_code == 422 and "choose whom to page" in nobody.text
