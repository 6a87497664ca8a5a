"""Problem pages through a TestClient: list filters, new-problem form, detail page, RCA
editor, status transitions, links, escaping and errors beside the form that caused them."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from tests.api.helpers import declare
from tests.conftest import Person

from fireline.domain.problem_lifecycle import Action
from fireline.usecases import problem_transitions, problems
from fireline.usecases.context import Context

SignedIn = Callable[[Person], str]
XSS = "<script>alert(1)</script>"


def _open(client: TestClient, csrf: str, **fields: str) -> str:
    """Submit the new-problem form; returns the new problem's reference."""
    response = client.post(
        "/problems/new",
        data={"csrf_token": csrf, "title": "Disk fills on db hosts", "priority": "P2", **fields},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    location: str = response.headers["location"]
    assert location.startswith("/problems/PRB-")
    return location.removeprefix("/problems/")


def test_new_problem_form_links_incidents_and_shows_them(
    client: TestClient, responder: Person, signed_in: SignedIn
) -> None:
    first = declare(client, responder, title="db-1 disk full")
    second = declare(client, responder, title="db-2 disk full")
    csrf = signed_in(responder)
    form = client.get(f"/problems/new?incidents={first['ref']}")
    assert form.status_code == 200
    assert f'value="{first["ref"]}"' in form.text
    assert '<option value="reactive" selected>' in form.text

    ref = _open(
        client,
        csrf,
        incidents=f"{first['ref']}, {second['ref'].lower()}",
        link_reason="same log volume",
        origin="reactive",
    )
    page = client.get(f"/problems/{ref}")

    assert page.status_code == 200
    assert '<h1 id="incident-title">Disk fills on db hosts</h1>' in page.text
    linked = page.text.split('id="incidents-heading"')[1].split("</table>")[0]
    assert "(2)" in linked
    assert f'href="/incidents/{first["ref"]}"' in linked and "db-2 disk full" in linked
    assert "same log volume" in linked
    assert "Start investigating" in page.text  # the one action allowed from "new"


def test_new_problem_form_shows_errors_next_to_the_field(
    client: TestClient, responder: Person, signed_in: SignedIn
) -> None:
    csrf = signed_in(responder)
    response = client.post(
        "/problems/new",
        data={"csrf_token": csrf, "title": "Flaky", "incidents": "INC-999", "watch_days": "9"},
    )
    assert response.status_code == 422
    assert "INC-999" in response.text and 'class="field-error"' in response.text
    assert 'value="Flaky"' in response.text  # what was typed is kept
    refused = client.post("/problems/new", data={"title": "No token"})
    assert refused.status_code == 403


def test_rca_editor_saves_whys_fishbone_factors_and_statement_together(
    client: TestClient, responder: Person, signed_in: SignedIn
) -> None:
    csrf = signed_in(responder)
    ref = _open(client, csrf)
    page = client.get(f"/problems/{ref}")
    assert 'id="rca-form"' in page.text and "No analysis yet." in page.text

    saved = client.post(
        f"/problems/{ref}/rca",
        data={
            "csrf_token": csrf,
            "version": "1",
            "why_0": "Why did the disk fill?",
            "answer_0": "Logs were not rotated",
            "why_1": "",
            "answer_1": "",
            "why_2": "Why were they not rotated?",
            "answer_2": f"The cron job was removed {XSS}",
            "fishbone_process": "No review of cron changes\n\n",
            "fishbone_technology": "logrotate disabled\nno disk alert",
            "factor_0": "Alert threshold at 99%",
            "factor_category_0": "measurement",
            "factor_1": "",
            "root_cause": "Log rotation was removed during a host migration.",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303 and saved.headers["location"].endswith("#rca")

    html = client.get(f"/problems/{ref}").text
    view = html.split('data-testid="rca-view"')[1].split('class="rca-edit"')[0]
    assert "Log rotation was removed during a host migration." in view
    assert view.index("Logs were not rotated") < view.index("The cron job was removed")
    assert XSS not in html and "&lt;script&gt;" in view
    assert "<h4>Technology</h4>" in view and "<li>no disk alert</li>" in view
    assert "Alert threshold at 99%" in view and ">measurement</span>" in view
    assert 'value="Why were they not rotated?"' in html  # the editor is refilled (row 2)
    assert "Root-cause analysis updated" in html
    exported = client.get(f"/api/v1/problems/{ref}/export?format=markdown")  # linked as "Markdown"
    assert f'href="/api/v1/problems/{ref}/export?format=markdown"' in html
    assert exported.status_code == 200 and "Log rotation was removed" in exported.text


def test_rca_error_points_at_the_box_and_keeps_the_input(
    client: TestClient, responder: Person, signed_in: SignedIn
) -> None:
    csrf = signed_in(responder)
    ref = _open(client, csrf)
    response = client.post(
        f"/problems/{ref}/rca",
        data={
            "csrf_token": csrf,
            "why_0": "Why?",
            "answer_0": "",
            "root_cause": "Unfinished thought",
        },
    )
    assert response.status_code == 422
    assert 'href="#rca-answer-0"' in response.text
    assert "Unfinished thought" in response.text
    stale = client.post(
        f"/problems/{ref}/rca", data={"csrf_token": csrf, "version": "7", "root_cause": "x"}
    )
    assert stale.status_code == 409


def test_transitions_ask_for_their_input_and_follow_the_lifecycle(
    client: TestClient, responder: Person, signed_in: SignedIn
) -> None:
    csrf = signed_in(responder)
    ref = _open(client, csrf)
    started = client.post(
        f"/problems/{ref}/actions/investigate", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert started.status_code == 303
    missing = client.post(f"/problems/{ref}/actions/identify_root_cause", data={"csrf_token": csrf})
    assert missing.status_code == 422
    assert "identifying the root cause requires a statement" in missing.text
    done = client.post(
        f"/problems/{ref}/actions/identify_root_cause",
        data={"csrf_token": csrf, "root_cause": "Cron job removed"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    page = client.get(f"/problems/{ref}").text
    assert 'data-testid="problem-status">Root cause identified</span>' in page
    assert "Mark as known error…" in page and "Start investigating" not in page
    wrong = client.post(f"/problems/{ref}/actions/close", data={"csrf_token": csrf})
    assert wrong.status_code == 409 and "cannot close" in wrong.text


def test_link_and_unlink_incidents_and_changes(
    client: TestClient, responder: Person, signed_in: SignedIn
) -> None:
    incident = declare(client, responder, title="Checkout 502s")
    csrf = signed_in(responder)
    ref = _open(client, csrf)
    linked = client.post(
        f"/problems/{ref}/incidents",
        data={"csrf_token": csrf, "incident": incident["ref"].lower(), "reason": "same 502s"},
        follow_redirects=False,
    )
    assert linked.status_code == 303
    twice = client.post(
        f"/problems/{ref}/incidents", data={"csrf_token": csrf, "incident": incident["ref"]}
    )
    assert twice.status_code == 409 and "already linked" in twice.text
    change = client.post(
        f"/problems/{ref}/changes",
        data={"csrf_token": csrf, "change_ref": "CHG-42", "description": "restore logrotate"},
        follow_redirects=False,
    )
    assert change.status_code == 303
    page = client.get(f"/problems/{ref}").text
    assert "<strong>CHG-42</strong> — restore logrotate" in page
    assert f'href="/incidents/{incident["ref"]}"' in page
    unlinked = client.post(
        f"/problems/{ref}/incidents/{incident['ref']}/unlink",
        data={"csrf_token": csrf},
        follow_redirects=False,
    )
    assert unlinked.status_code == 303
    assert "No incidents linked yet." in client.get(f"/problems/{ref}").text


def test_list_filters_by_status_and_text_and_escapes_titles(
    client: TestClient, ctx: Context, viewer: Person, signed_in: SignedIn
) -> None:
    problems.create(ctx, problems.ProblemDraft(title=f"Cache stampede {XSS}"))
    closed_one = problems.create(ctx, problems.ProblemDraft(title="Old DNS issue"))
    problem_transitions.transition(ctx, closed_one.id, Action.INVESTIGATE)
    problem_transitions.transition(
        ctx,
        closed_one.id,
        Action.RESOLVE,
        problem_transitions.transition_input(fix_description="moved to new resolvers"),
    )
    signed_in(viewer)

    open_list = client.get("/problems")
    assert open_list.status_code == 200
    assert "Cache stampede &lt;script&gt;" in open_list.text and XSS not in open_list.text
    assert "Old DNS issue" not in open_list.text
    assert "+ New problem" not in open_list.text  # viewers cannot open problems
    resolved = client.get("/problems?status=resolved")
    assert "Old DNS issue" in resolved.text and "Cache stampede" not in resolved.text
    found = client.get("/problems?status=all&q=dns")
    assert "Old DNS issue" in found.text and "Cache stampede" not in found.text
    bad = client.get("/problems?status=sideways")
    assert bad.status_code == 422 and "choose a problem status" in bad.text
    assert client.get("/problems/PRB-999").status_code == 404


def test_viewer_reads_a_problem_but_gets_no_forms_and_cannot_post(
    client: TestClient, ctx: Context, viewer: Person, signed_in: SignedIn
) -> None:
    created = problems.create(ctx, problems.ProblemDraft(title="Slow DNS"))
    ref = problems.ref_of(created)
    csrf = signed_in(viewer)
    page = client.get(f"/problems/{ref}")
    assert page.status_code == 200 and "Slow DNS" in page.text
    assert 'id="rca-form"' not in page.text and "/actions/" not in page.text
    assert 'id="link-form"' not in page.text and 'id="note-form"' not in page.text
    refused = client.post(f"/problems/{ref}/rca", data={"csrf_token": csrf, "root_cause": "x"})
    assert refused.status_code == 403
    assert client.get("/problems/new").status_code == 403
