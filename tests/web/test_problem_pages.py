"""Problem pages in a real Chromium (Playwright): open a problem from an incident, write its
root-cause analysis and read it back; the pages fit a phone's width."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from tests.conftest import LiveServer

from fireline.domain.roles import Role
from fireline.usecases import catalog, identity, incidents
from fireline.usecases.incidents import History, IncidentDraft

pytestmark = pytest.mark.browser

EMAIL = "sam@example.com"
PASSWORD = "correct-horse-battery"
SCREENSHOTS = Path("/tmp")


def _sign_in(page: Page, server: LiveServer, path: str) -> None:
    identity.create_user(
        server.ctx, email=EMAIL, name="Sam Okafor", role=Role.RESPONDER, password=PASSWORD
    )
    page.goto(server.url + path)
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(re.escape(path) + "$"))


def _no_horizontal_overflow(page: Page) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0


def test_responder_opens_a_problem_from_an_incident_and_writes_its_rca(
    page: Page, live_server: LiveServer
) -> None:
    catalog.create_service(live_server.ctx, name="orders-db")
    incidents.declare(
        live_server.ctx,
        IncidentDraft(title="orders-db disk full on db-3", services=["orders-db"]),
    )
    _sign_in(page, live_server, "/incidents/INC-1")

    # The incident page loads its problem panels lazily (below the description) and offers
    # to open a problem.
    panel = page.locator("#problem-related")
    expect(panel).to_contain_text("Not linked to a problem.")
    panel.get_by_role("link", name="Open a problem from INC-1").click()
    expect(page).to_have_url(re.compile(r"/problems/new\?"))
    expect(page.get_by_label("Linked incidents")).to_have_value("INC-1")
    page.get_by_label("Title").fill("Disk fills on orders-db hosts")
    page.get_by_label("Priority").select_option("P2")
    page.get_by_label("Affected services").select_option(label="orders-db")
    page.get_by_role("button", name="Open problem").click()
    expect(page).to_have_url(re.compile(r"/problems/PRB-1$"))
    expect(page.locator("#incident-title")).to_have_text("Disk fills on orders-db hosts")
    expect(page.locator("#incidents")).to_contain_text("orders-db disk full on db-3")

    # The RCA editor is open while there is no analysis; fill every part and save once.
    page.get_by_label("Why 1", exact=True).fill("Why did the disk fill?")
    page.get_by_label("Answer 1", exact=True).fill("Old WAL files were never removed")
    page.get_by_label("Why 2", exact=True).fill("Why were they kept?")
    page.get_by_label("Answer 2", exact=True).fill("Archiving failed silently")
    page.get_by_label("Technology").fill("archive_command returns 0 on failure\nno disk alert")
    page.get_by_label("Process").fill("No runbook for WAL growth")
    page.get_by_label("Factor 1", exact=True).fill("Disk alert threshold at 99%")
    page.get_by_label("Category of factor 1").select_option("measurement")
    page.locator("#rca-root-cause").fill("WAL archiving failed without any signal.")
    page.get_by_role("button", name="Save analysis").click()

    expect(page).to_have_url(re.compile(r"/problems/PRB-1#rca$"))
    view = page.get_by_test_id("rca-view")
    expect(view.locator(".root-cause")).to_have_text("WAL archiving failed without any signal.")
    expect(view.locator(".whys li")).to_have_count(2)
    expect(view.locator(".whys li").nth(1)).to_contain_text("Archiving failed silently")
    technology = view.locator(".bone").filter(has_text="Technology")
    expect(technology.locator("li")).to_have_text(
        ["archive_command returns 0 on failure", "no disk alert"]
    )
    expect(view.locator(".factors")).to_contain_text("Disk alert threshold at 99%")
    expect(page.locator("#timeline")).to_contain_text("Root-cause analysis updated")

    # The root cause now satisfies the "root cause identified" guard without retyping it.
    page.get_by_role("button", name="Start investigating").click()
    page.locator("summary", has_text="Root cause identified").click()
    expect(page.locator("#act-identify_root_cause")).to_have_value(
        "WAL archiving failed without any signal."
    )
    page.get_by_role("button", name="Root cause identified").click()
    expect(page.locator(".incident-head").get_by_test_id("problem-status")).to_have_text(
        "Root cause identified"
    )
    page.keyboard.press("e")  # the same shortcut as on incidents opens the field editor
    expect(page.locator("#edit-title")).to_be_focused()
    page.keyboard.press("Escape")
    page.screenshot(path=str(SCREENSHOTS / "fireline-problem.png"), full_page=True)

    # On a phone the detail page and the editor still fit the width.
    page.set_viewport_size({"width": 375, "height": 740})
    page.reload()
    page.locator("summary", has_text="Edit the analysis").click()
    expect(page.get_by_label("Why 3", exact=True)).to_be_visible()
    _no_horizontal_overflow(page)
    page.screenshot(path=str(SCREENSHOTS / "fireline-problem-phone.png"), full_page=True)


def test_trends_page_charts_fit_a_phone(page: Page, live_server: LiveServer) -> None:
    catalog.create_service(live_server.ctx, name="search-api")
    now = live_server.ctx.clock.now()
    for days in (1, 2, 2, 5):
        detected = now - timedelta(days=days)
        incidents.declare(
            live_server.ctx,
            IncidentDraft(
                title="Search latency",
                services=["search-api"],
                detected_at=detected,
                history=History(resolved_at=detected + timedelta(hours=2)),
            ),
        )
    page.set_viewport_size({"width": 1280, "height": 900})
    _sign_in(page, live_server, "/trends")
    chart = page.get_by_role("img", name=re.compile(r"^Incidents per service"))
    expect(chart).to_be_visible()
    expect(chart.locator("rect")).not_to_have_count(0)
    page.screenshot(path=str(SCREENSHOTS / "fireline-trends.png"), full_page=True)
    expect(page.get_by_role("link", name="+ Proactive problem")).to_have_attribute(
        "href", "/problems/new"
    )
    page.get_by_label("Range", exact=True).select_option("90d")  # submits on change
    expect(page).to_have_url(re.compile(r"range=90d"))
    expect(page.locator(".trend-range")).to_contain_text("by week")
    page.set_viewport_size({"width": 375, "height": 740})
    _no_horizontal_overflow(page)
    page.screenshot(path=str(SCREENSHOTS / "fireline-trends-phone.png"), full_page=True)
