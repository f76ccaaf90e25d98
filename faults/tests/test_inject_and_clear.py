"""The Faults tab's Inject fault form and Clear command, and `/emulator/faults` on the ARM-style API:
scopes offered and accepted are the caller's directory's own, bad input is a message on the form or a
400 envelope, callers without the right get 401/403, and another directory's faults stay unseen."""

from __future__ import annotations

import pytest
from django.test import Client

from faults import services
from faults.models import Fault
from faults.scopes import scope_choices
from hub.models import ApiToken
from projects.models import User, VirtualNetwork

pytestmark = pytest.mark.django_db
REGION = "/subscriptions/11111111-1111-1111-1111-111111111111/locations/westeurope"


def vnet_test() -> str:
    return VirtualNetwork.objects.get(name="vnet-test").arm_id


def signed_in(email="admin@contoso.com") -> Client:
    client = Client()
    client.login(email=email, password="migrate-demo")
    return client


def bearer(email: str) -> dict:
    _, secret = ApiToken.issue(User.objects.get(email=email), "faults")
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def api(method: str, path: str, email: str | None = "admin@contoso.com", body=None):
    headers = bearer(email) if email else {}
    client = Client()
    call = getattr(client, method.lower())
    url = f"{path}?api-version=2024-01-01"
    if body is None:
        return call(url, **headers)
    return call(url, body, content_type="application/json", **headers)


def test_the_tenants_scopes_are_offered_by_the_registered_providers(operator):
    choices = scope_choices(operator.tenant)
    assert REGION in [choice.scope for choice in choices["targetRegion"]]
    assert vnet_test().lower() in [choice.scope for choice in choices["virtualNetwork"]]
    fabrikam = User.objects.get(email="admin@fabrikam.com").tenant
    assert vnet_test().lower() not in [choice.scope for choice in scope_choices(fabrikam)["virtualNetwork"]]


def test_the_form_injects_a_fault_and_clear_ends_it(operator):
    client = signed_in()
    page = client.get("/emulator/portal/faults/?new=1").content.decode()
    assert 'id="inject-fault"' in page and "vnet-test (rg-migrate, westeurope)" in page
    answer = client.post(
        "/emulator/portal/faults/",
        {
            "kind": "targetQuotaExceeded",
            "scope": REGION,
            "start": "now",
            "duration_minutes": "30",
            "probability": "",
            "param_targetQuotaExceeded_limit": "4",
        },
        follow=True,
    )
    assert answer.status_code == 200
    fault = Fault.objects.get()
    assert (fault.kind, fault.scope, fault.scope_kind, fault.parameters) == (
        "targetQuotaExceeded",
        REGION,
        "targetRegion",
        {"limit": 4.0},
    )
    assert fault.ends_at is not None and fault.injected_by == operator
    page = answer.content.decode()
    assert "Injected Target quota exceeded" in page and "admin@contoso.com" in page and ">Clear<" in page
    cleared = client.post(f"/emulator/portal/faults/{fault.pk}/clear/", follow=True).content.decode()
    assert "Cleared Target quota exceeded" in cleared
    fault.refresh_from_db()
    assert fault.cleared_by == operator and services.active("targetQuotaExceeded", [REGION]) is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "targetQuotaExceeded", "scope": "/subscriptions/other/locations/mars"}, "choose one from the list"),
        ({"kind": "cacheStorageFull", "scope": REGION}, "goes on a project"),
        ({"kind": "targetQuotaExceeded", "scope": REGION, "start": "at"}, "Give the time the fault starts"),
        ({"kind": "targetQuotaExceeded", "scope": REGION, "duration_minutes": "0"}, "greater than or equal to 1"),
        ({"kind": "targetQuotaExceeded", "scope": REGION, "probability": "2"}, "less than or equal to 1"),
        (
            {"kind": "targetQuotaExceeded", "scope": REGION, "param_targetQuotaExceeded_limit": "-1"},
            "greater than or equal to 0",
        ),
    ],
)
def test_bad_input_is_a_message_on_the_form(operator, fields, message):
    answer = signed_in().post("/emulator/portal/faults/", {"start": "now", **fields})
    assert answer.status_code == 400
    assert message in answer.content.decode()
    assert not Fault.objects.exists()


def test_another_directorys_fault_cannot_be_cleared(operator):
    fault = services.inject(
        tenant=operator.tenant,
        injected_by=operator,
        kind="targetQuotaExceeded",
        scope=REGION,
        scope_kind="targetRegion",
    )
    User.objects.filter(email="admin@fabrikam.com").update(is_staff=True)
    assert signed_in("admin@fabrikam.com").post(f"/emulator/portal/faults/{fault.pk}/clear/").status_code == 404
    assert "targetregion" not in signed_in("admin@fabrikam.com").get("/emulator/portal/faults/").content.decode()


def test_the_api_injects_lists_gets_and_clears(operator):
    body = {
        "properties": {
            "kind": "networkRoutesToProduction",
            "scope": vnet_test(),
            "startTime": "2020-01-01T00:00:00Z",
            "duration": "PT2H",
            "probability": 1,
        }
    }
    created = api("POST", "/emulator/faults", body=body)
    assert created.status_code == 201, created.content
    fault = created.json()
    assert fault["properties"]["scopeKind"] == "virtualNetwork"
    assert fault["properties"]["injectedBy"] == "admin@contoso.com"
    assert fault["properties"]["state"] == "Ended"  # two hours from 2020 are long over
    name = "0b1c7b7e-9a8e-4a43-9a34-6f1b5b0e8d11"
    put = api(
        "PUT", f"/emulator/faults/{name}", body={"properties": {"kind": "cacheStorageThrottled", "scope": REGION}}
    )
    assert put.status_code == 400 and put.json()["error"]["code"] == "InvalidFaultScope"
    put = api("PUT", f"/emulator/faults/{name}", body={"properties": {"kind": "targetQuotaExceeded", "scope": REGION}})
    assert put.status_code == 201 and put.json()["name"] == name
    assert put.json()["properties"]["state"] == "Active" and put.json()["properties"]["parameters"] == {"limit": 0.0}
    again = api(
        "PUT", f"/emulator/faults/{name}", body={"properties": {"kind": "targetQuotaExceeded", "scope": REGION}}
    )
    assert again.status_code == 409
    listed = api("GET", "/emulator/faults").json()["value"]
    assert {entry["name"] for entry in listed} == {fault["name"], name}
    assert api("GET", f"/emulator/faults/{name}").json()["properties"]["kind"] == "targetQuotaExceeded"
    cleared = api("DELETE", f"/emulator/faults/{name}")
    assert cleared.status_code == 200 and cleared.json()["properties"]["state"] == "Cleared"
    assert cleared.json()["properties"]["clearedBy"] == "admin@contoso.com"
    assert api("DELETE", "/emulator/faults/8b1c7b7e-9a8e-4a43-9a34-6f1b5b0e8d11").status_code == 204


@pytest.mark.parametrize(
    ("properties", "code"),
    [
        ({"kind": "gremlins", "scope": REGION}, "InvalidFaultKind"),
        ({"scope": REGION}, "InvalidRequestContent"),
        ({"kind": "targetQuotaExceeded", "scope": REGION, "duration": "soon"}, "InvalidParameter"),
        ({"kind": "targetQuotaExceeded", "scope": REGION, "duration": "P31D"}, "InvalidFault"),
        ({"kind": "targetQuotaExceeded", "scope": REGION, "duration": "P99999999999D"}, "InvalidParameter"),
        ({"kind": "targetQuotaExceeded", "scope": REGION, "startTime": "2026-02-30T10:00:00Z"}, "InvalidParameter"),
        ({"kind": "targetQuotaExceeded", "scope": REGION, "startTime": "2999-01-01T10:00:00Z"}, "InvalidParameter"),
        ({"kind": "targetQuotaExceeded", "scope": REGION, "startTime": "tomorrow"}, "InvalidParameter"),
        ({"kind": "targetQuotaExceeded", "scope": REGION, "probability": "high"}, "InvalidParameter"),
        ({"kind": "targetQuotaExceeded", "scope": REGION, "probability": 0}, "InvalidFault"),
        # A quota is used up or not: a probability makes no sense for it, and is refused.
        ({"kind": "targetQuotaExceeded", "scope": REGION, "probability": 0.5}, "InvalidFault"),
        ({"kind": "targetQuotaExceeded", "scope": REGION, "parameters": {"limit": -5}}, "InvalidFault"),
        ({"kind": "targetQuotaExceeded", "scope": REGION, "parameters": {"speed": 5}}, "InvalidFault"),
        ({"kind": "targetQuotaExceeded", "scope": REGION, "parameters": [1]}, "InvalidParameter"),
    ],
)
def test_bad_api_input_is_a_400_envelope(operator, properties, code):
    answer = api("POST", "/emulator/faults", body={"properties": properties})
    assert answer.status_code == 400, answer.content
    assert answer.json()["error"]["code"] == code
    if properties.get("probability") == 0.5:
        assert "takes no probability" in answer.json()["error"]["message"]
    assert not Fault.objects.exists()


def test_the_api_wants_an_administrator_and_keeps_directories_apart(operator):
    assert api("GET", "/emulator/faults", email=None).status_code == 401
    refused = api("GET", "/emulator/faults", email="migrator@contoso.com")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "AuthorizationFailed"
    mine = api("POST", "/emulator/faults", body={"properties": {"kind": "targetQuotaExceeded", "scope": REGION}})
    name = mine.json()["name"]
    # Fabrikam's Global Administrator (not staff) may use the API, for Fabrikam only.
    assert api("GET", "/emulator/faults", email="admin@fabrikam.com").json()["value"] == []
    assert api("GET", f"/emulator/faults/{name}", email="admin@fabrikam.com").status_code == 404
    assert api("DELETE", f"/emulator/faults/{name}", email="admin@fabrikam.com").status_code == 204
    other = api(
        "POST",
        "/emulator/faults",
        email="admin@fabrikam.com",
        body={"properties": {"kind": "targetQuotaExceeded", "scope": REGION}},
    )
    assert other.status_code == 400 and other.json()["error"]["code"] == "InvalidFaultScope"
    assert services.active("targetQuotaExceeded", [REGION]) is not None
