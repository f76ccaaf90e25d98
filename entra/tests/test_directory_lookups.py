"""What the Azure CLI looks up besides applications (azure-cli role/custom.py and core/_profile.py): the
tenants a user signs in to (`az login` without --tenant), a user by principal name (`az role
assignment create --assignee upn`) and principals by object id (`az role assignment list`)."""

from urllib.parse import quote

from entra.tests.test_graph import create_for_rbac


def users_filtered(client, expression: str):
    return client.get("/v1.0/users?$filter=" + quote(expression, safe=""))


def test_tenants_lists_the_callers_directory(graph, demo):
    (tenant,) = graph["admin"].get("/tenants?api-version=2022-12-01").json()["value"]
    assert tenant["tenantId"] == str(demo["admin"].tenant_id)
    assert (tenant["defaultDomain"], tenant["tenantCategory"]) == ("contoso.onmicrosoft.com", "Home")
    (other,) = graph["fabrikam"].get("/tenants?api-version=2022-12-01").json()["value"]
    assert other["tenantId"] == str(demo["fabrikam"].tenant_id)


def test_users_by_principal_name_within_the_directory(graph, demo):
    (viewer,) = users_filtered(graph["admin"], "userPrincipalName eq 'Viewer@contoso.com'").json()["value"]
    assert viewer["userPrincipalName"] == "viewer@contoso.com"
    assert users_filtered(graph["admin"], "mail eq 'nobody@contoso.com'").json()["value"] == []
    assert users_filtered(graph["fabrikam"], "userPrincipalName eq 'viewer@contoso.com'").json()["value"] == []
    everyone = {u["userPrincipalName"] for u in graph["admin"].get("/v1.0/users").json()["value"]}
    assert "admin@contoso.com" in everyone and "admin@fabrikam.com" not in everyone
    unsupported = users_filtered(graph["admin"], "startswith(displayName,'a')")
    assert unsupported.status_code == 400 and unsupported.json()["error"]["code"] == "Request_UnsupportedQuery"


def test_get_by_ids_names_users_and_service_principals(graph, demo):
    _, sp, _ = create_for_rbac(graph, demo, "named-by-id")
    viewer = users_filtered(graph["admin"], "userPrincipalName eq 'viewer@contoso.com'").json()["value"][0]
    body = {"ids": [viewer["id"], sp["id"], "not-a-guid"], "types": ["user", "group", "servicePrincipal"]}
    found = graph["admin"].post("/v1.0/directoryObjects/getByIds", body, content_type="application/json").json()
    assert {(o["@odata.type"], o["id"]) for o in found["value"]} == {
        ("#microsoft.graph.user", viewer["id"]),
        ("#microsoft.graph.servicePrincipal", sp["id"]),
    }
    only_users = graph["admin"].post(
        "/v1.0/directoryObjects/getByIds", {**body, "types": ["user"]}, content_type="application/json"
    )
    assert [o["id"] for o in only_users.json()["value"]] == [viewer["id"]]
    # Another directory's objects are not found, and bad input is a 400, not a 500.
    elsewhere = graph["fabrikam"].post("/v1.0/directoryObjects/getByIds", body, content_type="application/json")
    assert elsewhere.json()["value"] == []
    bad = graph["admin"].post("/v1.0/directoryObjects/getByIds", {"ids": "x"}, content_type="application/json")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "Request_BadRequest"
