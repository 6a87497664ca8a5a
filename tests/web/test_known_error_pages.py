"""Known-error pages: the list with search and the detail with symptoms and workaround."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from tests.conftest import Person

from fireline.usecases import catalog, known_errors
from fireline.usecases.context import Context
from fireline.usecases.known_errors import FixStatus, KnownErrorDraft

SignedIn = Callable[[Person], str]
XSS = "<script>alert(1)</script>"


def test_known_error_list_and_detail_show_workaround_and_fix_status(
    client: TestClient, ctx: Context, viewer: Person, signed_in: SignedIn
) -> None:
    catalog.create_service(ctx, name="payments")
    known = known_errors.create(
        ctx,
        KnownErrorDraft(
            title="Card gateway times out after certificate rotation",
            symptoms=f"HTTP 504 from /authorize {XSS}",
            root_cause="The gateway caches the old certificate chain.",
            workaround="Restart the gateway pods: `kubectl rollout restart deploy/gateway`",
            fix_status=FixStatus.IN_PROGRESS,
            services=("payments",),
            keywords=("gateway", "504"),
        ),
    )
    known_errors.create(ctx, KnownErrorDraft(title="Search index lag", workaround="Reindex"))
    signed_in(viewer)

    listing = client.get("/known-errors?q=gateway")
    assert listing.status_code == 200
    assert "Card gateway times out" in listing.text and "Search index lag" not in listing.text
    assert "Fix in progress" in listing.text
    assert XSS not in listing.text and "&lt;script&gt;" in listing.text

    detail = client.get(f"/known-errors/KE-{known.id}")
    assert detail.status_code == 200
    assert "<code>kubectl rollout restart deploy/gateway</code>" in detail.text
    assert "The gateway caches the old certificate chain." in detail.text
    assert '<span class="chip chip-service">payments</span>' in detail.text
    assert '<span class="chip">504</span>' in detail.text
    assert client.get("/known-errors/KE-999").status_code == 404
    assert client.get("/known-errors?state=odd").status_code == 422


def test_responder_updates_fix_status_workaround_and_matching(
    client: TestClient, ctx: Context, responder: Person, signed_in: SignedIn
) -> None:
    catalog.create_service(ctx, name="queue")
    known = known_errors.create(ctx, KnownErrorDraft(title="Consumer stuck", workaround="Bounce"))
    csrf = signed_in(responder)
    page = client.get(f"/known-errors/{known.id}")
    assert 'id="ke-form"' in page.text

    saved = client.post(
        f"/known-errors/{known.id}/edit",
        data={
            "csrf_token": csrf,
            "title": "Consumer stuck after rebalance",
            "fix_status": "released",
            "workaround": "Restart the **consumer** group",
            "services": [str(catalog.get_service(ctx, "queue").id)],
            "labels": "alertname=ConsumerLag",
            "keywords": "rebalance, stuck",
            "active": "on",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303
    html = client.get(saved.headers["location"]).text
    assert "Consumer stuck after rebalance" in html and "Fix released" in html
    assert "<strong>consumer</strong>" in html
    assert '<span class="chip">alertname=ConsumerLag</span>' in html
    assert '<span class="chip">rebalance</span>' in html

    bad = client.post(
        f"/known-errors/{known.id}/edit",
        data={"csrf_token": csrf, "title": "", "labels": "no-equals-sign", "active": "on"},
    )
    assert bad.status_code == 422 and "use key=value" in bad.text
    assert 'value="no-equals-sign"' not in bad.text and "no-equals-sign</textarea>" in bad.text


def test_viewer_gets_no_known_error_form(
    client: TestClient, ctx: Context, viewer: Person, signed_in: SignedIn
) -> None:
    known = known_errors.create(ctx, KnownErrorDraft(title="Consumer stuck"))
    csrf = signed_in(viewer)
    assert 'id="ke-form"' not in client.get(f"/known-errors/{known.id}").text
    refused = client.post(f"/known-errors/{known.id}/edit", data={"csrf_token": csrf, "title": "x"})
    assert refused.status_code == 403
