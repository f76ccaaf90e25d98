"""The base view of handlers below a migration item, and ARM's long-running-operation answer for an
ASR job."""

from __future__ import annotations

from rest_framework.response import Response

from hub.arm.views import accepted
from jobs.models import Job
from replication.arm import Vault, VaultView
from replication.arm_migration.shapes import item_or_404, job_id


class ItemChildView(VaultView):
    """Below a migration item (its verbs and recovery points): the item is a parent too, resolved
    after the container, into `self.item`."""

    def resolve_parents(self, request, item_name, **parents):
        super().resolve_parents(request, **parents)
        self.item = item_or_404(self.vault, item_name)


def job_accepted(request, vault: Vault, job: Job, resource_path: str) -> Response:
    """202 for an ASR job: Az.Migrate reads the job's name from either URL, so both keep ASR's layout."""
    response = accepted(
        request,
        location=f"{resource_path}/operationresults/{job.pk}",
        azure_async_operation=f"{vault.id}/replicationOperationStatus/{job.pk}",
    )
    response.arm_request_id = job_id(vault, job.pk)  # ASR names the job in x-ms-request-id
    return response
