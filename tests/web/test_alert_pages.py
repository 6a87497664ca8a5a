"""Alert pages: integrations (key shown once, rotate, delete), alert list and detail, noise,
silences and maintenance windows, through a signed-in TestClient."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from tests.conftest import Person
from tests.intake import helpers as h

from fireline.usecases.context import Context

SignedIn = Callable[[Person], str]
KEY = re.compile(r'<code id="new-key">([0-9a-f]{32})</code>')


def _create_integration(client: TestClient, token: str, service_id: int, kind: str) -> str:
    response = client.post(
        "/alerts/integrations",
        data={"csrf_token": token, "name": f"{kind} prod", "type": kind, "service": service_id},
    )
    assert response.status_code == 200, response.text
    found = KEY.search(response.text)
    assert found, "the new key is shown"
    return found.group(1)


def test_admin_creates_rotates_and_deletes_an_integration_key_shown_once(
    client: TestClient, ctx: Context, admin: Person, signed_in: SignedIn
) -> None:
    service_id = h.service(ctx)
    token = signed_in(admin)
    key = _create_integration(client, token, service_id, "pagerduty")
    page = client.get("/alerts/integrations").text
    assert key not in page and key[:6] in page and "pagerduty prod" in page
    assert client.post("/v2/enqueue", json=h.trigger(key, "a")).status_code == 202
    [integration_id] = re.findall(r'data-integration="(\d+)"', page)

    rotated = client.post(
        f"/alerts/integrations/{integration_id}/rotate", data={"csrf_token": token}
    )
    new_key = KEY.search(rotated.text)
    assert new_key and new_key.group(1) != key
    assert client.post("/v2/enqueue", json=h.trigger(key, "b")).status_code == 400
    assert client.post("/v2/enqueue", json=h.trigger(new_key.group(1), "b")).status_code == 202

    client.post(f"/alerts/integrations/{integration_id}/delete", data={"csrf_token": token})
    assert client.post("/v2/enqueue", json=h.trigger(new_key.group(1), "c")).status_code == 400
    assert "No integrations yet." in client.get("/alerts/integrations").text


def test_integration_form_errors_are_shown_and_responders_cannot_create(
    client: TestClient,
    ctx: Context,
    admin: Person,
    responder: Person,
    signed_in: SignedIn,
) -> None:
    h.service(ctx)
    token = signed_in(admin)
    response = client.post(
        "/alerts/integrations",
        data={"csrf_token": token, "name": "x", "type": "nagios", "service": "checkout"},
    )
    assert response.status_code == 422 and "type: must be one of" in response.text
    token = signed_in(responder)
    page = client.get("/alerts/integrations").text
    assert 'id="integration-form"' not in page
    refused = client.post(
        "/alerts/integrations",
        data={"csrf_token": token, "name": "x", "type": "generic", "service": "checkout"},
    )
    assert refused.status_code == 403


def test_alert_list_filters_and_detail_shows_labels_annotations_and_raw_payload(
    client: TestClient, ctx: Context, admin: Person, signed_in: SignedIn
) -> None:
    h.service(ctx)
    key = h.integration(client, admin, type="alertmanager")["key"]
    disk = h.am_alert("DiskFull", "fp-disk", team="storage")
    disk["annotations"]["description"] = "<script>alert(1)</script>"
    cpu = h.am_alert("CpuHot", "fp-cpu", status="resolved")
    client.post(f"/hooks/alertmanager/{key}", json=h.am_payload(disk))
    client.post(f"/hooks/alertmanager/{key}", json=h.am_payload(h.am_alert("CpuHot", "fp-cpu")))
    client.post(f"/hooks/alertmanager/{key}", json=h.am_payload(cpu))
    signed_in(admin)

    open_page = client.get("/alerts").text
    assert "DiskFull on fp-disk" in open_page and "CpuHot on fp-cpu" not in open_page
    everything = client.get("/alerts?status=all").text
    assert "CpuHot on fp-cpu" in everything
    assert "CpuHot" not in client.get("/alerts?status=all&q=disk").text

    [alert_id] = re.findall(r'data-alert="(\d+)"', open_page)
    detail = client.get(f"/alerts/{alert_id}")
    assert detail.status_code == 200
    labels = detail.text.split('id="alert-labels"')[1].split("</table>")[0]
    assert "<code>team</code></th><td>storage" in labels
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in detail.text
    assert "<script>alert(1)" not in detail.text
    raw = detail.text.split('id="alert-raw">')[1].split("</pre>")[0]
    assert "fp-disk" in raw and "generatorURL" in raw
    assert client.get("/alerts/999999").status_code == 404


def test_responder_marks_an_alert_as_noise_and_filters_by_it(
    client: TestClient, ctx: Context, admin: Person, responder: Person, signed_in: SignedIn
) -> None:
    h.service(ctx)
    key = h.integration(client, admin)["key"]
    client.post("/v2/enqueue", json=h.trigger(key, "noisy"))
    [alert] = h.alerts(ctx)
    token = signed_in(responder)
    empty = client.post(f"/alerts/{alert.id}/noise", data={"csrf_token": token, "reason": " "})
    assert empty.status_code == 422 and "reason: must not be empty" in empty.text
    response = client.post(
        f"/alerts/{alert.id}/noise", data={"csrf_token": token, "reason": "never actionable"}
    )
    assert response.status_code == 200  # followed the redirect back to the detail page
    assert "never actionable" in response.text
    assert f'data-alert="{alert.id}"' in client.get("/alerts?status=all&flag=noise").text
    assert h.alerts(ctx)[0].noise is True
    report = client.get("/alerts/noise").text.split('id="noise-report"')[1]
    assert "pagerduty source" in report and '<td data-label="Noise">1</td>' in report


def test_silence_and_maintenance_forms_suppress_new_alerts(
    client: TestClient, ctx: Context, admin: Person, responder: Person, signed_in: SignedIn
) -> None:
    service_id = h.service(ctx)
    key = h.integration(client, admin, type="alertmanager")["key"]
    token = signed_in(responder)
    bad = client.post(
        "/alerts/silences",
        data={"csrf_token": token, "matchers": "env", "reason": "x", "hours": "2"},
    )
    assert bad.status_code == 422 and "matchers: line 1" in bad.text
    created = client.post(
        "/alerts/silences",
        data={"csrf_token": token, "matchers": "env=~stag.*", "reason": "flaky", "hours": "2"},
    )
    assert created.status_code == 200 and "env=~stag.*" in created.text
    url = f"/hooks/alertmanager/{key}"
    client.post(url, json=h.am_payload(h.am_alert("Noisy", "s1", env="staging")))
    assert h.alerts(ctx)[-1].suppressed

    [silence_id] = re.findall(r'data-silence="(\d+)"', created.text)
    client.post(f"/alerts/silences/{silence_id}/expire", data={"csrf_token": token})
    client.post(url, json=h.am_payload(h.am_alert("Noisy", "s2", env="staging")))
    assert not h.alerts(ctx)[-1].suppressed

    too_long = client.post(
        "/alerts/maintenance",
        data={"csrf_token": token, "service": service_id, "hours": "99999", "reason": "db"},
    )
    assert too_long.status_code == 422 and "hours:" in too_long.text
    window = client.post(
        "/alerts/maintenance",
        data={"csrf_token": token, "service": service_id, "hours": "1", "reason": "db upgrade"},
    )
    assert "db upgrade" in window.text
    client.post(url, json=h.am_payload(h.am_alert("Down", "m1")))
    assert (h.alerts(ctx)[-1].suppressed_reason or "").startswith("maintenance:")
    [window_id] = re.findall(r'data-window="(\d+)"', window.text)
    client.post(f"/alerts/maintenance/{window_id}/end", data={"csrf_token": token})
    client.post(url, json=h.am_payload(h.am_alert("Down", "m2")))
    assert not h.alerts(ctx)[-1].suppressed
