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
from tests.hubs import CONTOSO, unique

pytestmark = pytest.mark.live
MIGRATE_API = "2018-09-01-preview"

# A group of its own with a project whose resources exist, a registered appliance and one discovered
# server replicating into the group; prints the names the test needs as JSON.
SET_UP = """
import json

from jobs.services import job_run
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
project, _ = project_services.migrate_project_create_or_update(
    user=admin, resource_group=group, name=params["project"], location="westeurope"
)
project_services.tool_register(user=admin, project=project, tool="ServerMigration")
job_run(
    project_services.create_resources_start(
        user=admin, project=project, target_region="westeurope", machines_virtualized="physical"
    ).pk
)
project = MigrateProject.objects.get(pk=project.pk)
appliance, _ = services.appliance_register(key_text=issue(project)[1], name=params["project"] + "-ps")
Appliance.objects.filter(pk=appliance.pk).update(state=Appliance.State.FINALIZED)
appliance.refresh_from_db()
server = services.server_report(
    appliance=appliance,
    machine_id="m-" + params["server"],
    agent_version="9.60",
    machine={
        "hostName": params["server"], "osType": "Linux", "osName": "Ubuntu", "osVersion": "22.04",
        "architecture": "x86_64", "cores": 2, "memoryMB": 4096,
        "disks": [{"diskId": "disk0", "sizeBytes": 1048576, "isOsDisk": True}],
        "nics": [{"nicId": "nic0", "ipAddresses": ["192.168.7.11"], "isPrimary": True}],
    },
)
services.server_discover(server.pk)
server.refresh_from_db()
(job,) = replication_enable(
    admin,
    project,
    ReplicationPlan(
        appliance=appliance,
        target_resource_group=group,
        target_network=VirtualNetwork.objects.get(name="vnet-prod"),
        target_subnet="default",
        hybrid_benefit=False,
        servers=[ServerPlan(server=server, vm_name=params["server"], os_disk_id="disk0", disks=[DiskChoice("disk0")])],
        guest_credentials_required=False,
    ),
)
job_run(job.pk)  # the worker may run it as well: running a job twice is harmless
print(json.dumps({"vault": project_services.project_vault(project).name, "item": str(server.pk)}))
"""


def in_hub(hub, script: str, **params) -> str:
    return hub.manage("shell", "-c", f"PARAMS = {json.dumps(params)!r}\n{script}")


def test_a_group_with_a_protected_server_refuses_then_goes_once_replication_stopped(live_hub):
    group, project, server = unique("rg-del"), unique("del")[:20], unique("srv")
    made = json.loads(
        in_hub(live_hub, SET_UP, subscription=CONTOSO, group=group, project=project, server=server)
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
