"""The web UI through a TestClient: sign-in, CSRF, roles, escaping, errors, forms."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from tests.api.helpers import act, declare
from tests.conftest import Person
from tests.web.conftest import csrf_of, sign_in

from fireline.domain.roles import Role
from fireline.web.views import incidents as incident_pages

SignedIn = Callable[[Person], str]
XSS = "<script>alert(1)</script>"


def test_unauthenticated_page_redirects_to_login_with_next(client: TestClient) -> None:
    response = client.get("/incidents?status=all", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fincidents%3Fstatus%3Dall"
    root = client.get("/", follow_redirects=False)
    assert root.status_code == 303 and root.headers["location"] == "/incidents"


def test_htmx_request_without_session_gets_hx_redirect(client: TestClient) -> None:
    response = client.get("/incidents/rows", headers={"HX-Request": "true"})
    assert response.headers["HX-Redirect"].startswith("/login?next=")


def test_wrong_password_shows_error_and_sets_no_session(
    client: TestClient, responder: Person
) -> None:
    response = sign_in(client, responder.email, "not-the-password")
    assert response.status_code == 401
    assert "Wrong email or password." in response.text
    assert "fireline_session" not in response.headers.get("set-cookie", "")


def test_repeated_failures_show_the_throttle_message(client: TestClient, responder: Person) -> None:
    for _ in range(5):
        sign_in(client, responder.email, "wrong-password")
    response = sign_in(client, responder.email, responder.password)
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.text
    assert int(response.headers["Retry-After"]) > 0


def test_login_sets_a_hardened_cookie_and_follows_local_next(
    client: TestClient, responder: Person
) -> None:
    response = sign_in(client, responder.email, responder.password, next_="/teams")
    assert response.status_code == 303
    assert response.headers["location"] == "/teams"
    cookie = response.headers["set-cookie"].lower()
    assert "fireline_session=" in cookie
    assert "httponly" in cookie and "samesite=lax" in cookie


def test_login_refuses_offsite_next(client: TestClient, responder: Person) -> None:
    for target in ("https://evil.example", "//evil.example", "/\\evil.example"):
        client.cookies.clear()
        response = sign_in(client, responder.email, responder.password, next_=target)
        assert response.headers["location"] == "/incidents", target


def test_login_form_without_its_token_is_refused(client: TestClient, responder: Person) -> None:
    response = client.post(
        "/login", data={"email": responder.email, "password": responder.password}
    )
    assert response.status_code == 403
    assert "fireline_session" not in response.headers.get("set-cookie", "")


def test_post_without_csrf_token_is_refused(
    client: TestClient, responder: Person, signed_in: SignedIn
) -> None:
    incident = declare(client, responder)
    signed_in(responder)
    response = client.post(f"/incidents/{incident['ref']}/actions/acknowledge", data={})
    assert response.status_code == 403
    assert "security token" in response.text
    wrong = client.post(
        f"/incidents/{incident['ref']}/actions/acknowledge", data={"csrf_token": "forged"}
    )
    assert wrong.status_code == 403
    assert client.get(f"/api/v1/incidents/{incident['ref']}", headers=responder.headers).json()[
        "status"
    ] == ("triggered")


def test_htmx_header_token_is_accepted(
    client: TestClient, responder: Person, signed_in: SignedIn
) -> None:
    incident = declare(client, responder)
    csrf = signed_in(responder)
    response = client.post(
        f"/incidents/{incident['ref']}/notes",
        data={"body": "checked the **dashboards**"},
        headers={"HX-Request": "true", "X-CSRF-Token": csrf},
    )
    assert response.status_code == 200
    assert "<strong>dashboards</strong>" in response.text
    assert 'id="timeline"' in response.text


def test_viewer_sees_no_action_buttons_and_cannot_post_transitions(
    client: TestClient, responder: Person, viewer: Person, signed_in: SignedIn
) -> None:
    incident = declare(client, responder)
    csrf = signed_in(viewer)
    page = client.get(f"/incidents/{incident['ref']}")
    assert page.status_code == 200
    assert "/actions/" not in page.text
    assert "note-form" not in page.text
    assert "Declare incident" not in page.text
    response = client.post(
        f"/incidents/{incident['ref']}/actions/acknowledge", data={"csrf_token": csrf}
    )
    assert response.status_code == 403
    assert "text/html" in response.headers["content-type"]
    note = client.post(
        f"/incidents/{incident['ref']}/notes", data={"csrf_token": csrf, "body": "x"}
    )
    assert note.status_code == 403


def test_responder_sees_only_allowed_transitions(
    client: TestClient, responder: Person, signed_in: SignedIn
) -> None:
    incident = declare(client, responder)
    signed_in(responder)
    triggered = client.get(f"/incidents/{incident['ref']}").text
    assert "/actions/acknowledge" in triggered and "/actions/resolve" in triggered
    assert "/actions/close" not in triggered and "/actions/reopen" not in triggered
    act(client, responder, incident["ref"], "resolve")
    resolved = client.get(f"/incidents/{incident['ref']}").text
    assert "/actions/close" in resolved and "/actions/reopen" in resolved
    assert "/actions/acknowledge" not in resolved and "/actions/cancel" not in resolved


def test_script_title_is_escaped_on_list_and_detail(
    client: TestClient, responder: Person, signed_in: SignedIn
) -> None:
    incident = declare(client, responder, title=XSS, labels={"x": '"><img src=x>'})
    signed_in(responder)
    for path in ("/incidents", "/incidents/rows", f"/incidents/{incident['ref']}"):
        html = client.get(path).text
        assert XSS not in html, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path
        assert "<img src=x>" not in html, path


def test_note_markdown_is_rendered_but_raw_html_is_not(
    client: TestClient, responder: Person, signed_in: SignedIn
) -> None:
    incident = declare(client, responder)
    csrf = signed_in(responder)
    response = client.post(
        f"/incidents/{incident['ref']}/notes",
        data={"csrf_token": csrf, "body": "*rolled back* <img src=x onerror=alert(1)>"},
    )
    assert response.status_code == 200  # redirected back to the incident
    assert "<em>rolled back</em>" in response.text
    assert "<img" not in response.text.split('id="timeline"')[1]


def test_close_without_summary_shows_the_error_beside_the_form(
    client: TestClient, responder: Person, signed_in: SignedIn
) -> None:
    incident = declare(client, responder)
    act(client, responder, incident["ref"], "resolve")
    csrf = signed_in(responder)
    response = client.post(
        f"/incidents/{incident['ref']}/actions/close",
        data={"csrf_token": csrf, "resolution_summary": "DNS fixed"},
    )
    assert response.status_code == 422
    assert "closing requires confirming service is stable" in response.text
    assert "DNS fixed" in response.text  # what was typed is kept
    assert re.search(r'<details class="action-form" open>', response.text)


def test_priority_override_without_reason_is_refused_in_the_edit_form(
    client: TestClient, responder: Person, signed_in: SignedIn
) -> None:
    incident = declare(client, responder, title="Slow search")
    csrf = signed_in(responder)
    response = client.post(
        f"/incidents/{incident['ref']}/edit",
        data={"csrf_token": csrf, "title": "Slow search", "priority": "P1", "impact": "low"},
    )
    assert response.status_code == 422
    assert "Not saved." in response.text
    saved = client.post(
        f"/incidents/{incident['ref']}/edit",
        data={
            "csrf_token": csrf,
            "title": "Slow search",
            "priority": "P1",
            "priority_reason": "CEO demo",
            "impact": "low",
            "urgency": "low",
        },
    )
    assert saved.status_code == 200
    assert "CEO demo" in saved.text
    timeline = saved.text.split('id="timeline"')[1]
    change = r'priority</span>: <span class="before">P3</span> → <span class="after">P1'
    assert re.search(change, timeline)


def test_declare_form_opens_the_new_incident(
    client: TestClient, responder: Person, signed_in: SignedIn
) -> None:
    csrf = signed_in(responder)
    response = client.post(
        "/incidents/new",
        data={"csrf_token": csrf, "title": "Payments failing", "impact": "high", "urgency": "high"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    page = client.get(response.headers["location"]).text
    assert "Payments failing" in page and "prio-p1" in page
    empty = client.post("/incidents/new", data={"csrf_token": csrf, "title": " "})
    assert empty.status_code == 422
    assert "title: must not be empty" in empty.text


def test_list_keeps_filters_in_the_refresh_url(
    client: TestClient, responder: Person, signed_in: SignedIn
) -> None:
    declare(client, responder, title="Disk full", labels={"env": "prod"})
    declare(client, responder, title="Queue backlog")
    signed_in(responder)
    page = client.get("/incidents?q=disk&status=all&label=env%3Dprod").text
    assert "Disk full" in page and "Queue backlog" not in page
    assert 'hx-get="/incidents/rows?status=all&amp;label=env%3Dprod&amp;q=disk"' in page
    bad = client.get("/incidents?service=nope")
    assert bad.status_code == 200 and "no service" in bad.text


def test_unknown_incident_gets_an_html_404(
    client: TestClient, responder: Person, signed_in: SignedIn
) -> None:
    signed_in(responder)
    response = client.get("/incidents/INC-999")
    assert response.status_code == 404
    assert "text/html" in response.headers["content-type"]
    assert "Not found" in response.text
    api = client.get("/api/v1/incidents/INC-999", headers=responder.headers)
    assert api.headers["content-type"].startswith("application/json")


def test_users_page_create_is_admin_only(
    client: TestClient, admin: Person, make_person: Callable[..., Person], signed_in: SignedIn
) -> None:
    manager = make_person(Role.MANAGER)
    csrf = signed_in(manager)
    assert "user-form" not in client.get("/users").text
    refused = client.post("/users", data={"csrf_token": csrf, "email": "new@example.com"})
    assert refused.status_code == 403
    team = client.post("/teams", data={"csrf_token": csrf, "name": "Payments"})
    assert team.status_code == 200 and "Payments" in team.text
    csrf = signed_in(admin)
    created = client.post(
        "/users",
        data={"csrf_token": csrf, "email": "new@example.com", "name": "Nia", "role": "viewer"},
    )
    assert created.status_code == 200 and "new@example.com" in created.text
    duplicate = client.post("/users", data={"csrf_token": csrf, "email": "new@example.com"})
    assert duplicate.status_code == 409 and "already exists" in duplicate.text


def test_api_token_secret_is_shown_once_and_can_be_revoked(
    client: TestClient, responder: Person, signed_in: SignedIn
) -> None:
    csrf = signed_in(responder)
    created = client.post("/profile/tokens", data={"csrf_token": csrf, "name": "laptop"})
    secret = re.search(r'id="new-token"[^>]*>(flt_[^<]+)<', created.text)
    assert secret
    headers = {"Authorization": f"Bearer {secret.group(1)}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    again = client.get("/profile").text
    assert secret.group(1) not in again
    token_id = re.findall(r"/profile/tokens/(\d+)/revoke", again)[0]
    client.post(f"/profile/tokens/{token_id}/revoke", data={"csrf_token": csrf})
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_logout_ends_the_session(
    client: TestClient, responder: Person, signed_in: SignedIn
) -> None:
    csrf = signed_in(responder)
    response = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 303
    client.cookies.clear()
    assert client.get("/incidents", follow_redirects=False).status_code == 303


def test_pages_send_a_strict_content_security_policy(
    client: TestClient, responder: Person, signed_in: SignedIn
) -> None:
    signed_in(responder)
    response = client.get("/incidents")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"
    assert csrf_of(response.text)
    assert client.get("/static/htmx.min.js").status_code == 200


def test_long_lists_page_to_older_incidents(
    client: TestClient, responder: Person, signed_in: SignedIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(incident_pages, "PAGE_SIZE", 2)
    for title in ("First outage", "Second outage", "Third outage"):
        declare(client, responder, title=title)
    signed_in(responder)
    newest = client.get("/incidents").text
    assert "Third outage" in newest and "Second outage" in newest
    assert "First outage" not in newest
    older = re.search(r'href="(/incidents\?cursor=\d+)">Older incidents', newest)
    assert older
    page = client.get(older.group(1)).text
    assert "First outage" in page and "Third outage" not in page
