"""Deletes as Azure does them, through the official SDK clients against a live hub: a resource group
whose vault still protects a server refuses with ResourceGroupDeletionBlocked (carrying Site
Recovery's ServiceResourceNotEmpty) and stays; the project refuses with 409 the same way; once
replication is stopped (Site Recovery's client), the group goes with everything in it.

The replicating server is set up inside the live hub through `manage.py shell` with Replicate's
service, as tests/test_arm_migration_verbs_sdk.py does; it stays in initial seeding (no data is
needed for a deletion to refuse)."""

from __future__ import annotations

import json

import pytest
from azure.core.exceptions import HttpResponseError

from tests.azure_clients import network_client, resource_client, site_recovery_client
from tests.hub_scripts import A_REPLICATING_SERVER, in_hub
from tests.hubs import CONTOSO, unique

pytestmark = pytest.mark.live
MIGRATE_API = "2018-09-01-preview"

# A group of its own with a project whose resources exist, a registered appliance and one discovered
# server replicating into the group; prints the names the test needs as JSON.
SET_UP = (
    """
import json

from jobs.tests.runs import job_run_to_end
from projects import services as project_services
from projects.models import MigrateProject, Subscription, User, VirtualNetwork
from replication import services
from replication.models import Appliance
from replication.replicate import DiskChoice, ReplicationPlan, ServerPlan, replication_enable
from replication.tests.conftest import issue

params = json.loads(PARAMS)
admin = User.objects.get(email="admin@contoso.com")
subscription = Subscription.objects.get(pk=params["subscription"])
group, _ = project_services.resource_group_create_or_update(
    user=admin, subscription=subscription, name=params["group"], location="westeurope"
)
"""
    + A_REPLICATING_SERVER
    + """print(json.dumps({"vault": project_services.project_vault(project).name, "item": str(server.pk)}))
"""
)


def test_a_group_with_a_protected_server_refuses_then_goes_once_replication_stopped(live_hub):
    group, project, server = unique("rg-del"), unique("del")[:20], unique("srv")
    made = json.loads(
        in_hub(live_hub, SET_UP, subscription=CONTOSO, group=group, project=project, server=server, ip="192.168.7.11")
        .strip()
        .splitlines()[-1]
    )
    resources = resource_client(live_hub, "admin@contoso.com", CONTOSO)
    networks = network_client(live_hub, "admin@contoso.com", CONTOSO)
    networks.virtual_networks.begin_create_or_update(
        group,
        "vnet-del",
        {"location": "westeurope", "properties": {"addressSpace": {"addressPrefixes": ["10.70.0.0/16"]}}},
    ).result()

    with pytest.raises(HttpResponseError) as refused:
        resources.resource_groups.begin_delete(group).result()
    error = refused.value.error
    assert error.code == "ResourceGroupDeletionBlocked"
    assert f"Microsoft.RecoveryServices/vaults/{made['vault']}" in error.message
    assert "ServiceResourceNotEmpty" in error.message and server in error.message
    assert resources.resource_groups.get(group).properties.provisioning_state == "Succeeded", "rolled back"
    assert networks.virtual_networks.get(group, "vnet-del").name == "vnet-del", "nothing was deleted"

    project_id = (
        f"/subscriptions/{CONTOSO}/resourceGroups/{group}/providers/Microsoft.Migrate/migrateProjects/{project}"
    )
    with pytest.raises(HttpResponseError) as project_refused:
        resources.resources.begin_delete_by_id(project_id, api_version=MIGRATE_API).result()
    assert project_refused.value.status_code == 409
    assert project_refused.value.error.code == "ServiceResourceNotEmpty"

    site_recovery = site_recovery_client(live_hub, "admin@contoso.com", CONTOSO)
    site_recovery.replication_migration_items.begin_delete(
        group, made["vault"], "migrate-fabric", "migrate-container", made["item"]
    ).result()

    resources.resource_groups.begin_delete(group).result()
    assert resources.resource_groups.check_existence(group) is False
    assert live_hub.api("GET", project_id).status_code == 404
    names = [r.name for r in resources.resources.list()]
    assert made["vault"] not in names and project not in names


def test_a_reader_cannot_delete_a_group_or_act_on_a_project(live_hub):
    group = live_hub.new_resource_group("rg-reader")
    reader = resource_client(live_hub, "viewer@contoso.com", CONTOSO)
    with pytest.raises(HttpResponseError) as refused:
        reader.resource_groups.begin_delete(group).result()
    assert (refused.value.status_code, refused.value.error.code) == (403, "AuthorizationFailed")

    project = f"/subscriptions/{CONTOSO}/resourceGroups/{group}/providers/Microsoft.Migrate/migrateProjects/proj-reader"
    assert live_hub.api("PUT", project, json={"location": "westeurope"}).status_code == 201
    refreshed = live_hub.api("POST", f"{project}/refreshSummary", email="viewer@contoso.com")
    assert refreshed.status_code == 403 and refreshed.json()["error"]["code"] == "AuthorizationFailed"
    assert "refreshSummary/action" in refreshed.json()["error"]["message"]
    # A migration item's verb: refused before the vault is looked up (ARM checks RBAC first).
    site_recovery = site_recovery_client(live_hub, "viewer@contoso.com", CONTOSO)
    with pytest.raises(HttpResponseError) as verb_refused:
        site_recovery.replication_migration_items.begin_resync(
            group, "v", "migrate-fabric", "migrate-container", "any", {"properties": {"providerSpecificDetails": {}}}
        ).result()
    assert (verb_refused.value.status_code, verb_refused.value.error.code) == (403, "AuthorizationFailed")
    reader.resource_groups.get(group)  # and reads stay open
