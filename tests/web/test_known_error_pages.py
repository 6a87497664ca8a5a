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
