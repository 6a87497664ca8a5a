"""The web UI in a real Chromium (Playwright) against a live server.

Run with the rest of the suite; they need /usr/bin/chromium (see tests/web/conftest.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from tests.conftest import LiveServer

from fireline.domain.priority import Level
from fireline.domain.roles import Role
from fireline.usecases import catalog, identity

pytestmark = pytest.mark.browser

EMAIL = "maya@example.com"
PASSWORD = "correct-horse-battery"
SCREENSHOTS = Path("/tmp")


def _user(server: LiveServer, role: Role = Role.RESPONDER) -> None:
    identity.create_user(server.ctx, email=EMAIL, name="Maya Patel", role=role, password=PASSWORD)


def _sign_in(page: Page, server: LiveServer, path: str = "/incidents") -> None:
    page.goto(server.url + path)
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(re.escape(path) + "$"))


def test_responder_works_an_incident_from_declare_to_close(
    page: Page, live_server: LiveServer
) -> None:
    _user(live_server)
    catalog.create_service(live_server.ctx, name="checkout")
    _sign_in(page, live_server)
    expect(page.get_by_text("No open incidents")).to_be_visible()

    # Declare, with the `n` shortcut.
    page.keyboard.press("n")
    expect(page).to_have_url(re.compile(r"/incidents/new$"))
    page.get_by_label("Title").fill("Checkout returns 502")
    page.get_by_label("Impact").select_option("high")
    page.get_by_label("Urgency").select_option("high")
    page.get_by_label("Services").select_option(label="checkout")
    page.get_by_role("button", name="Declare incident").click()
    expect(page).to_have_url(re.compile(r"/incidents/INC-1$"))
    expect(page.locator("#incident-title")).to_have_text("Checkout returns 502")
    head = page.locator(".incident-head")
    expect(head.get_by_test_id("status")).to_have_text("Triggered")
    expect(head.locator(".prio")).to_have_text("P1")
    expect(page.locator("#timeline .event-created")).to_contain_text("Declared INC-1")

    # Acknowledge with the `a` shortcut.
    page.keyboard.press("a")
    expect(head.get_by_test_id("status")).to_have_text("Acknowledged")
    expect(page.locator("#timeline .event-status_changed").first).to_contain_text(
        "Triggered → Acknowledged"
    )
    expect(page.get_by_role("button", name="Acknowledge")).to_have_count(0)

    # A note, posted through HTMX without leaving the page.
    page.keyboard.press("t")
    expect(page.locator("#note-body")).to_be_focused()
    page.keyboard.type("Rolled back **release 42**; error rate dropping.")
    page.get_by_role("button", name="Add note").click()
    note = page.locator("#timeline .event-note").first
    expect(note).to_contain_text("Rolled back release 42; error rate dropping.")
    expect(note.locator("strong")).to_have_text("release 42")
    expect(page.locator("#note-body")).to_have_value("")

    page.screenshot(path=str(SCREENSHOTS / "fireline-detail.png"), full_page=True)

    # Resolve, then close with summary and the stable confirmation.
    page.get_by_role("button", name="Resolve").click()
    expect(head.get_by_test_id("status")).to_have_text("Resolved")
    page.locator("summary.action-close").click()
    page.get_by_label("Resolution summary").fill("Bad release rolled back.")
    page.get_by_label("Service is stable").check()
    page.get_by_role("button", name="Close incident", exact=True).click()
    expect(head.get_by_test_id("status")).to_have_text("Closed")
    expect(page.locator(".summary-card")).to_contain_text("Bad release rolled back.")
    expect(page.locator("#timeline .event-status_changed").first).to_contain_text(
        "Resolved → Closed"
    )
    expect(page.get_by_role("button", name="Reopen")).to_be_visible()
    texts = page.locator("#timeline .event .event-title").all_text_contents()
    assert [t.split(":")[0].strip() for t in texts[:4]] == ["Status", "Status", "Note", "Status"]

    # The list shows it under "All" but not under the default "Open" filter.
    page.goto(live_server.url + "/incidents")
    expect(page.get_by_text("No open incidents")).to_be_visible()
    page.get_by_label("Status").select_option("all")
    expect(page).to_have_url(re.compile(r"status=all"))
    row = page.locator("#incident-rows tr.row")
    expect(row).to_have_count(1)
    expect(row.get_by_test_id("status")).to_have_text("Closed")


def test_list_refreshes_itself_and_keeps_filters(page: Page, live_server: LiveServer) -> None:
    from fireline.usecases import incidents
    from fireline.usecases.incidents import IncidentDraft

    _user(live_server)
    _sign_in(page, live_server, "/incidents?q=database")
    page.keyboard.press("/")
    expect(page.locator("#q")).to_be_focused()
    expect(page.locator("#q")).to_have_value("database")
    incidents.declare(live_server.ctx, IncidentDraft(title="Database failover"))
    incidents.declare(live_server.ctx, IncidentDraft(title="Cache misses"))
    # The rows poll every 10 s; fire the same refresh the page fires on becoming visible.
    page.evaluate("htmx.trigger(document.body, 'fireline:refresh')")
    expect(page.locator("#incident-rows tr.row")).to_have_count(1)
    expect(page.locator("#incident-rows")).to_contain_text("Database failover")
    expect(page.locator("#incident-rows")).not_to_contain_text("Cache misses")


def test_phone_viewport_list_has_no_horizontal_overflow(
    page: Page, live_server: LiveServer
) -> None:
    from fireline.usecases import incidents
    from fireline.usecases.incidents import IncidentDraft

    _user(live_server)
    catalog.create_service(live_server.ctx, name="payments-api-gateway-eu-west-1")
    for title in (
        "Checkout latency above SLO for customers in the EU region since the last deploy",
        "Card payments declined",
    ):
        incidents.declare(
            live_server.ctx,
            IncidentDraft(
                title=title,
                services=["payments-api-gateway-eu-west-1"],
                labels={"environment": "production", "region": "eu-west-1"},
            ),
        )
    page.set_viewport_size({"width": 375, "height": 740})
    _sign_in(page, live_server)
    expect(page.locator("#incident-rows tr.row")).to_have_count(2)
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0
    declare = page.locator(".page-head").get_by_role("link", name="+ Declare incident")
    box = declare.bounding_box()
    assert box is not None and box["height"] >= 40  # a comfortable touch target
    page.screenshot(path=str(SCREENSHOTS / "fireline-list-phone.png"), full_page=True)
    page.get_by_role("link", name="Card payments declined").click()
    expect(page.locator("#incident-title")).to_have_text("Card payments declined")
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0


def test_list_screenshot_on_desktop(page: Page, live_server: LiveServer) -> None:
    from fireline.usecases import incidents
    from fireline.usecases.incidents import IncidentDraft

    _user(live_server, Role.ADMIN)
    team = catalog.create_team(live_server.ctx, name="Payments")
    catalog.create_service(live_server.ctx, name="checkout", team=team.id)
    catalog.create_service(live_server.ctx, name="search")
    for title, impact, urgency, service in (
        ("Checkout returns 502 for all card payments", "high", "high", "checkout"),
        ("Search results slow in the EU", "medium", "high", "search"),
        ("Nightly export delayed", "medium", "medium", "search"),
        ("Typo on the status page", "low", "low", "search"),
    ):
        incidents.declare(
            live_server.ctx,
            IncidentDraft(
                title=title,
                impact=Level(impact),
                urgency=Level(urgency),
                services=[service],
                labels={"env": "prod"},
            ),
        )
    page.set_viewport_size({"width": 1280, "height": 800})
    _sign_in(page, live_server)
    rows = page.locator("#incident-rows tr.row")
    expect(rows).to_have_count(4)
    expect(rows.locator(".prio")).to_have_text(["P4", "P3", "P2", "P1"])
    page.screenshot(path=str(SCREENSHOTS / "fireline-list.png"), full_page=True)
