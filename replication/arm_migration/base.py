"""The base views of Site Recovery migration handlers, and ARM's long-running-operation answer for
an ASR job."""

from __future__ import annotations

from rest_framework.response import Response

from hub.arm.views import accepted
from jobs.models import Job
from replication.arm import Vault, VaultView
from replication.arm_migration.shapes import item_or_404, job_id


class AsrView(VaultView):
    """A Site Recovery handler below a vault: a 202 names its job in x-ms-request-id, as ASR does."""

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        request_id = getattr(response, "asr_request_id", None)
        if request_id:
            response["x-ms-request-id"] = request_id
        return response


class ItemChildView(AsrView):
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
    response.asr_request_id = job_id(vault, job.pk)
    return response
