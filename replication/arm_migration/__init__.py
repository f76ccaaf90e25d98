"""ARM: Site Recovery migration under the project's vault, as SiteRecoveryManagementClient calls it
(ARM-API.md section 4): migration items, their verbs and recovery points (items.py), policies
(policies.py), jobs (jobs.py). Every handler derives from replication.arm.VaultView, which resolves
the vault, the caller's right, the fabric and the container once; items.ItemChildView resolves the
item too, jobs.JobChildView the job, and each item verb is declared by operation, right and body.

openapi.py declares each body once, for the document and the handlers: requests are read with it
(inputs.py), responses written from it (shapes.py, policies.py, jobs.py). plans.py turns the ids a
body names into Replicate's plan; the workflows are the app's (replicate, migrate, policies)."""

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
    path(f"{ITEM}/pausereplication", items.ItemPauseOrResumeView.as_view(), {"verb": "PauseReplication"}),
    path(f"{ITEM}/resumereplication", items.ItemPauseOrResumeView.as_view(), {"verb": "ResumeReplication"}),
    path(f"{ITEM}/migrationrecoverypoints", items.RecoveryPointListView.as_view()),
    path(f"{ITEM}/migrationrecoverypoints/<str:point_name>", items.RecoveryPointView.as_view()),
    path(f"{VAULT_PATH}/replicationpolicies", policies.PolicyListView.as_view()),
    path(f"{VAULT_PATH}/replicationpolicies/<str:policy_name>", policies.PolicyView.as_view()),
    path(f"{VAULT_PATH}/replicationjobs", jobs.JobListView.as_view()),
    path(f"{VAULT_PATH}/replicationjobs/<str:job_name>", jobs.JobView.as_view()),
    path(f"{VAULT_PATH}/replicationoperationstatus/<str:job_name>", jobs.OperationStatusView.as_view()),
]
