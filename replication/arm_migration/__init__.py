"""ARM: Site Recovery migration under the project's vault, as SiteRecoveryManagementClient calls it
(ARM-API.md section 4): migration items, their verbs and recovery points (items.py), policies
(policies.py), jobs (jobs.py). Every handler derives from replication.arm.VaultView, which resolves
the vault, the caller's right, the fabric and the container once; below an item, items.ItemChildView
resolves the item too, and at a job jobs.JobChildView the job. Each item verb is a class declared by
its operation, right and body (items.ItemVerbView).

Beside the handlers: inputs.py reads request bodies; plans.py turns the ids they name into Replicate's
plan (replication.replicate); shapes.py writes the item and recovery point bodies and the ids below a
vault; openapi.py declares both for the OpenAPI document. The workflows themselves are the app's
(replicate, migrate, policies)."""

from __future__ import annotations

from django.urls import path

from replication.arm import C as CONTAINER_PATH
from replication.arm import V as VAULT_PATH
from replication.arm_migration import items, jobs, policies

ITEMS = f"{CONTAINER_PATH}/replicationmigrationitems"
ITEM = f"{ITEMS}/<str:item_name>"

urlpatterns = [
    path(f"{VAULT_PATH}/replicationmigrationitems", items.MigrationItemListView.as_view()),
    path(ITEMS, items.MigrationItemListView.as_view()),
    path(ITEM, items.MigrationItemView.as_view()),
    path(f"{ITEM}/operationresults/<str:job_name>", items.MigrationItemOperationResultView.as_view()),
    path(f"{ITEM}/testmigrate", items.ItemTestMigrateView.as_view()),
    path(f"{ITEM}/testmigratecleanup", items.ItemTestMigrateCleanupView.as_view()),
    path(f"{ITEM}/migrate", items.ItemMigrateView.as_view()),
    path(f"{ITEM}/resync", items.ItemResyncView.as_view()),
    path(f"{ITEM}/pausereplication", items.ItemPauseOrResumeView.as_view(), {"action": "pausereplication"}),
    path(f"{ITEM}/resumereplication", items.ItemPauseOrResumeView.as_view(), {"action": "resumereplication"}),
    path(f"{ITEM}/migrationrecoverypoints", items.RecoveryPointListView.as_view()),
    path(f"{ITEM}/migrationrecoverypoints/<str:point_name>", items.RecoveryPointView.as_view()),
    path(f"{VAULT_PATH}/replicationpolicies", policies.PolicyListView.as_view()),
    path(f"{VAULT_PATH}/replicationpolicies/<str:policy_name>", policies.PolicyView.as_view()),
    path(f"{VAULT_PATH}/replicationjobs", jobs.JobListView.as_view()),
    path(f"{VAULT_PATH}/replicationjobs/<str:job_name>", jobs.JobView.as_view()),
    path(f"{VAULT_PATH}/replicationoperationstatus/<str:job_name>", jobs.OperationStatusView.as_view()),
]
