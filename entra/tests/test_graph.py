"""Graph's applications and servicePrincipals, called in the order and shape the Azure CLI calls them
(azure-cli role/custom.py: create_service_principal_for_rbac, list/show/delete)."""

from urllib.parse import quote

from entra.models import Application
from projects.models import RoleAssignment, User


def odata_filter(expression: str) -> str:
    return "?$filter=" + quote(expression, safe="")


def create_for_rbac(graph, demo, name: str, role_id: str = "b24988ac-6180-42a0-ab88-20f7382dd24c"):
    """The calls of `az ad sp create-for-rbac --name NAME --role Contributor --scopes /subscriptions/...`."""
    client = graph["admin"]
    existing = client.get("/v1.0/servicePrincipals" + odata_filter(f"displayName eq '{name}'")).json()
    assert existing["value"] == [] and existing["@odata.context"].endswith("/v1.0/$metadata#servicePrincipals")
    apps = client.get("/v1.0/applications" + odata_filter(f"startswith(displayName,'{name}')")).json()["value"]
    assert apps == []
    app = client.post("/v1.0/applications", {"displayName": name}, content_type="application/json")
    assert app.status_code == 201, app.content
    app = app.json()
    assert app["passwordCredentials"] == [] and app["displayName"] == name
    password = client.post(
        f"/v1.0/applications/{app['id']}/addPassword",
        {
            "passwordCredential": {
                "displayName": "rbac",
                "startDateTime": "2026-01-01T00:00:00Z",
                "endDateTime": "2027-12-01T00:00:00Z",
            }
        },
        content_type="application/json",
    ).json()
    assert password["secretText"] and password["hint"] == password["secretText"][:3]
    sp = client.post(
        "/v1.0/servicePrincipals", {"appId": app["appId"], "accountEnabled": True}, content_type="application/json"
    )
    assert sp.status_code == 201
    sp = sp.json()
    assert sp["servicePrincipalType"] == "Application" and sp["appId"] == app["appId"]
    assert sp["appOwnerOrganizationId"] == str(demo["admin"].tenant_id)
    scope = f"/subscriptions/{demo['contoso'].pk}"
    put = client.put(
        f"{scope}/providers/Microsoft.Authorization/roleAssignments/6a3c2a0e-1111-4a5b-9c1d-000000000001"
        "?api-version=2022-04-01",
        {
            "properties": {
                "roleDefinitionId": f"{scope}/providers/Microsoft.Authorization/roleDefinitions/{role_id}",
                "principalId": sp["id"],
                "principalType": "ServicePrincipal",
            }
        },
        content_type="application/json",
    )
    assert put.status_code == 201, put.content
    assert put.json()["properties"]["principalType"] == "ServicePrincipal"
    return app, sp, password


def test_create_for_rbac_as_az_calls_it(graph, demo):
    app, sp, password = create_for_rbac(graph, demo, "ci-pipeline")
    principal = User.objects.get(object_id=sp["id"])
    assert RoleAssignment.objects.filter(principal=principal, role_name="Contributor").exists()
    # The secret is stored hashed only; Graph lists its hint and key id, never the text again.
    listed = graph["admin"].get(f"/v1.0/applications/{app['id']}").json()["passwordCredentials"]
    assert listed == [{**password, "secretText": None}] or (
        listed[0]["keyId"] == password["keyId"] and listed[0]["secretText"] is None
    )
    assert listed[0]["endDateTime"] == "2027-12-01T00:00:00Z"


def test_sp_list_and_show_as_az_does(graph, demo):
    app, sp, _ = create_for_rbac(graph, demo, "lister")
    client = graph["admin"]
    everything = client.get("/v1.0/servicePrincipals").json()["value"]
    assert [p["id"] for p in everything] == [sp["id"]]
    by_prefix = client.get("/v1.0/servicePrincipals" + odata_filter("startswith(displayName,'list')")).json()
    assert [p["appId"] for p in by_prefix["value"]] == [app["appId"]]
    # az ad sp show --id APPID resolves the id through servicePrincipalNames, then GETs the object.
    names = odata_filter(f"servicePrincipalNames/any(c:c eq '{app['appId']}')")
    assert client.get("/v1.0/servicePrincipals" + names).json()["value"][0]["id"] == sp["id"]
    assert client.get(f"/v1.0/servicePrincipals/{sp['id']}").json()["displayName"] == "lister"
    by_app_id = client.get("/v1.0/servicePrincipals" + odata_filter(f"appId eq '{app['appId']}'")).json()
    assert len(by_app_id["value"]) == 1
    # An object id: the names filter finds nothing, and az then GETs it as an id.
    assert (
        client.get("/v1.0/servicePrincipals" + odata_filter(f"servicePrincipalNames/any(c:c eq '{sp['id']}')")).json()[
            "value"
        ]
        == []
    )


def test_app_delete_as_az_does_removes_principal_and_roles(graph, demo):
    app, sp, _ = create_for_rbac(graph, demo, "short-lived")
    client = graph["admin"]
    found = client.get("/v1.0/applications" + odata_filter(f"appId eq '{app['appId']}'")).json()["value"]
    assert client.delete(f"/v1.0/applications/{found[0]['id']}").status_code == 204
    assert not Application.objects.filter(pk=app["id"]).exists()
    assert not RoleAssignment.objects.filter(principal__object_id=sp["id"]).exists()
    gone = client.get(f"/v1.0/servicePrincipals/{sp['id']}")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "Request_ResourceNotFound"


def test_re_running_create_for_rbac_patches_the_application(graph, demo):
    app, _, password = create_for_rbac(graph, demo, "again")
    client = graph["admin"]
    assert (
        client.patch(
            f"/v1.0/applications/{app['id']}", {"displayName": "again"}, content_type="application/json"
        ).status_code
        == 204
    )
    removed = client.post(
        f"/v1.0/applications/{app['id']}/removePassword", {"keyId": password["keyId"]}, content_type="application/json"
    )
    assert removed.status_code == 204
    assert client.get(f"/v1.0/applications/{app['id']}").json()["passwordCredentials"] == []


def test_the_directory_setting_gates_graph_as_the_portal(graph, demo):
    refused = graph["appdev"].post("/v1.0/applications", {"displayName": "nope"}, content_type="application/json")
    assert refused.status_code == 403
    error = refused.json()["error"]
    # az looks for these words to explain that directory permission is needed.
    assert error["code"] == "Authorization_RequestDenied" and "insufficient privileges" in error["message"].lower()
    assert not Application.objects.filter(display_name="nope").exists()


def test_only_the_owner_or_a_global_administrator_changes_an_application(graph, demo):
    app, sp, _ = create_for_rbac(graph, demo, "owned-by-admin")
    for method, path, body in [
        ("post", f"/v1.0/applications/{app['id']}/addPassword", {}),
        ("delete", f"/v1.0/applications/{app['id']}", None),
        ("delete", f"/v1.0/servicePrincipals/{sp['id']}", None),
        ("patch", f"/v1.0/applications/{app['id']}", {"displayName": "renamed"}),
    ]:
        response = getattr(graph["migrator"], method)(path, body, content_type="application/json")
        assert response.status_code == 403, (method, path)
        assert response.json()["error"]["code"] == "Authorization_RequestDenied"
    assert Application.objects.get(pk=app["id"]).display_name == "owned-by-admin"


def test_another_directory_sees_nothing(graph, demo):
    app, sp, _ = create_for_rbac(graph, demo, "contoso-only")
    fabrikam = graph["fabrikam"]
    assert fabrikam.get("/v1.0/applications").json()["value"] == []
    assert fabrikam.get("/v1.0/servicePrincipals").json()["value"] == []
    for path in (f"/v1.0/applications/{app['id']}", f"/v1.0/servicePrincipals/{sp['id']}"):
        assert fabrikam.get(path).status_code == 404
        assert fabrikam.delete(path).status_code == 404
    stolen = fabrikam.post("/v1.0/servicePrincipals", {"appId": app["appId"]}, content_type="application/json")
    assert stolen.status_code == 400
    assert Application.objects.filter(pk=app["id"]).exists()


def test_bad_input_gets_graph_errors_not_500s(graph, demo):
    client = graph["admin"]
    cases = [
        ("get", "/v1.0/applications" + odata_filter("owners/any(o:o eq 'x')"), None, 400),
        ("get", "/v1.0/applications/not-a-guid", None, 404),
        ("post", "/v1.0/applications", {"displayName": ""}, 400),
        ("post", "/v1.0/applications", ["x"], 400),
        ("post", "/v1.0/servicePrincipals", {"appId": "nope"}, 400),
    ]
    for method, path, body, status in cases:
        response = getattr(client, method)(path, body, content_type="application/json")
        assert response.status_code == status, (path, response.content)
        assert "error" in response.json()
    app = client.post("/v1.0/applications", {"displayName": "dated"}, content_type="application/json").json()
    for end in ("tomorrow", "2001-01-01T00:00:00Z", 12):
        response = client.post(
            f"/v1.0/applications/{app['id']}/addPassword",
            {"passwordCredential": {"endDateTime": end}},
            content_type="application/json",
        )
        assert response.status_code == 400, end
    bad_key = client.post(
        f"/v1.0/applications/{app['id']}/removePassword", {"keyId": "x"}, content_type="application/json"
    )
    assert bad_key.status_code == 400
    unknown_key = client.post(
        f"/v1.0/applications/{app['id']}/removePassword",
        {"keyId": "00000000-0000-0000-0000-000000000000"},
        content_type="application/json",
    )
    assert unknown_key.status_code == 404


def test_graph_needs_a_token(demo, client):
    assert client.get("/v1.0/applications").status_code == 401


def test_a_role_assignment_refuses_a_principal_type_that_is_not_the_principals(graph, demo):
    user = demo["migrator"]
    scope = f"/subscriptions/{demo['contoso'].pk}"
    response = graph["admin"].put(
        f"{scope}/providers/Microsoft.Authorization/roleAssignments/6a3c2a0e-1111-4a5b-9c1d-000000000002"
        "?api-version=2022-04-01",
        {
            "properties": {
                "roleDefinitionId": "acdd72a7-3385-48ef-bd42-f606fba81ae7",
                "principalId": str(user.object_id),
                "principalType": "ServicePrincipal",
            }
        },
        content_type="application/json",
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "UnmatchedPrincipalType"


def test_directory_objects_by_ids_names_users_and_service_principals(graph, demo):
    _, sp, _ = create_for_rbac(graph, demo, "named")
    fabrikam_admin = str(demo["fabrikam"].object_id)
    ids = [sp["id"], str(demo["migrator"].object_id), fabrikam_admin, "junk"]
    body = {"ids": ids, "types": ["user", "group", "servicePrincipal", "directoryObjectPartnerReference"]}
    found = graph["admin"].post("/v1.0/directoryObjects/getByIds", body, content_type="application/json").json()
    by_type = {o["@odata.type"]: o for o in found["value"]}
    assert by_type["#microsoft.graph.servicePrincipal"]["servicePrincipalNames"] == [sp["appId"]]
    assert by_type["#microsoft.graph.user"]["userPrincipalName"] == "migrator@contoso.com"
    assert len(found["value"]) == 2  # another directory's user is not found
    too_many = graph["admin"].post(
        "/v1.0/directoryObjects/getByIds", {"ids": ["x"] * 1001}, content_type="application/json"
    )
    assert too_many.status_code == 400
