"""The OpenAPI document's response shapes are the hub's: over a server replicating with a recovery point
and a test-migrated VM (the richest state), every documented GET's answer validates against the
schema the document declares for it. The fuzz run (tests/test_fuzz_openapi.py) checks the same on the
demo data, which has no appliance, replication or VM."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import jsonschema
import pytest
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator

from replication.tests.test_arm_migration_verbs import (  # noqa: F401 (`item`, `ready` are fixtures)
    NICS,
    RG_PATH,
    SUB,
    VMS,
    body_test_migrate,
    client_for,
    get,
    item,
    job_of,
    post,
    ready,
    run,
)

pytestmark = pytest.mark.django_db


def _json_schema(node):
    """OpenAPI 3.0's `nullable` as JSON Schema's null type, so jsonschema can read the document."""
    if isinstance(node, dict):
        node = {key: _json_schema(value) for key, value in node.items()}
        if node.pop("nullable", False):
            node = {"anyOf": [node, {"type": "null"}]}
        return node
    if isinstance(node, list):
        return [_json_schema(value) for value in node]
    return node


@pytest.fixture(scope="module")
def document():
    return _json_schema(SchemaGenerator().get_schema(request=None, public=True))


def declared_schema(document, path: str, status: int, method: str = "get") -> dict:
    for template, operations in document["paths"].items():
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path, re.IGNORECASE) and method in operations:
            response = operations[method]["responses"][str(status)]
            return {**response["content"]["application/json"]["schema"], "components": document["components"]}
    raise AssertionError(f"{method.upper()} {path} is not documented")


def test_every_answer_has_the_shape_the_document_declares(item, document):  # noqa: F811
    client = client_for()
    assert run(job_of(post(client, f"{item.path}/testMigrate", body_test_migrate()))).state == "Succeeded"
    vault = item.vault_id
    fabric = f"{vault}/replicationFabrics/migrate-fabric"
    container = f"{fabric}/replicationProtectionContainers/migrate-container"
    provider = get(client, f"{fabric}/replicationRecoveryServicesProviders").json()["value"][0]["name"]
    job = get(client, f"{vault}/replicationJobs").json()["value"][0]["name"]
    project = item.item.project
    group = f"/subscriptions/{SUB}/resourceGroups/{project.resource_group.name}"
    migrate = f"{group}/providers/Microsoft.Migrate/migrateProjects/{project.name}"
    paths = [
        "/subscriptions",
        f"/subscriptions/{SUB}",
        f"/subscriptions/{SUB}/locations",
        f"/subscriptions/{SUB}/resourcegroups",
        RG_PATH,
        f"/subscriptions/{SUB}/resources",
        f"{RG_PATH}/resources",
        f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleAssignments",
        f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions",
        f"{RG_PATH}/providers/Microsoft.Network/virtualNetworks",
        f"{RG_PATH}/providers/Microsoft.Network/virtualNetworks/vnet-test",
        f"{RG_PATH}/providers/Microsoft.Network/virtualNetworks/vnet-test/subnets",
        f"{group}/providers/Microsoft.Migrate/migrateProjects",
        migrate,
        f"{migrate}/solutions",
        f"{migrate}/solutions/Servers-Migration-ServerMigration",
        vault,
        f"/subscriptions/{SUB}/providers/Microsoft.KeyVault/vaults",
        f"/subscriptions/{SUB}/providers/Microsoft.Storage/storageAccounts",
        f"/subscriptions/{SUB}/providers/Microsoft.Compute/locations/westeurope/vmSizes",
        f"{vault}/replicationFabrics",
        fabric,
        f"{vault}/replicationProtectionContainers",
        container,
        f"{vault}/replicationRecoveryServicesProviders",
        f"{fabric}/replicationRecoveryServicesProviders/{provider}",
        f"{container}/replicationProtectableItems",
        f"{container}/replicationProtectableItems/{item.item.server_id}",
        f"{vault}/replicationMigrationItems",
        item.path,
        f"{item.path}/migrationRecoveryPoints",
        urlsplit(item.last_point_id).path,
        f"{vault}/replicationPolicies",
        f"{vault}/replicationPolicies/{item.item.policy.name}",
        f"{vault}/replicationJobs",
        f"{vault}/replicationJobs/{job}",
        f"{vault}/replicationOperationStatus/{job}",
        VMS,
        f"{VMS}/web01-Test",
        f"{VMS}/web01-Test/instanceView",
        NICS,
        f"{NICS}/web01-Test-nic",
        "/v1.0/me",
    ]
    for path in paths:
        response = get(client, path)
        assert response.status_code == 200, (path, response.content[:300])
        jsonschema.validate(response.json(), declared_schema(document, path, 200))
    expanded = get(client, VMS, **{"$expand": "instanceView"})
    jsonschema.validate(expanded.json(), declared_schema(document, VMS, 200))
    refused = get(client, f"{VMS}/nothing-here")
    assert refused.status_code == 404
    with pytest.raises(jsonschema.ValidationError):  # the schemas do constrain: an id is a string
        jsonschema.validate({"value": [{**expanded.json()["value"][0], "id": 1}]}, declared_schema(document, VMS, 200))
    error = {"$ref": "#/components/schemas/ErrorResponse", "components": document["components"]}
    jsonschema.validate(refused.json(), error)


def test_graph_answers_have_the_shape_the_document_declares(document):
    call_command("seed_demo", verbosity=0)
    client = client_for()

    def checked(method: str, path: str, status: int, body=None) -> dict:
        response = getattr(client, method)(path, body, format="json") if body is not None else client.get(path)
        assert response.status_code == status, (path, response.content[:300])
        jsonschema.validate(response.json(), declared_schema(document, path, status, method))
        return response.json()

    application = checked("post", "/v1.0/applications", 201, {"displayName": "shapes"})
    password = f"/v1.0/applications/{application['id']}/addPassword"
    checked("post", password, 200, {"passwordCredential": {"displayName": "ci"}})
    checked("get", "/v1.0/applications", 200)
    checked("get", f"/v1.0/applications/{application['id']}", 200)
    principals = checked("get", "/v1.0/servicePrincipals", 200)["value"]
    checked("get", f"/v1.0/servicePrincipals/{principals[0]['id']}", 200)
    checked("post", "/v1.0/servicePrincipals", 201, {"appId": application["appId"]})
    me = checked("get", "/v1.0/me", 200)
    checked("post", "/v1.0/directoryObjects/getByIds", 200, {"ids": [me["id"], principals[0]["id"]]})
