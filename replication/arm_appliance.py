"""ARM calls for Discover's appliance steps, so automation needs no browser (docs/api.md):
- the registration key: `PUT {vault}/certificates/{name}`, as RecoveryServicesClient.vault_certificates
  .create uploads a vault credential in Azure; the answer's `properties.certificate` is the key file
  (base64), valid five days like the portal's download (replication.keys);
- the installer: POST `{project}/solutions/Servers-Migration-ServerMigration/getConfig` answers
  `publisherSasUri`, a signed download link valid for an hour (replication.installer_links);
- Finalize registration: POST `{provider}/finalizeRegistration`, an ASR-style 202 with its job.
Each calls the service the portal's button calls."""

from __future__ import annotations

import base64
import hashlib

from django.http import HttpResponse
from django.urls import path
from django.views.decorators.http import require_GET
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from hub.arm.bodies import json_object
from hub.arm.errors import ArmError
from hub.arm.views import accepted
from hub.ids import parse_uuid
from projects import access
from projects.arm.migrate import PROJECT, ProjectPartView
from projects.models import MigrateProject, Solution
from replication import services
from replication.arm import F, V, VaultView
from replication.installer import build_appliance_installer
from replication.installer_links import (
    DOWNLOAD_PATH,
    installer_link,
    installer_link_problem,
    storage_authentication_failed,
    storage_error,
)
from replication.keys import key_file_name, registration_key_issue
from replication.portal.discover import discover_url

SERVER_MIGRATION_SOLUTION = "Servers-Migration-ServerMigration"


class VaultCertificateView(VaultView):
    permissions = {"put": access.REGISTER_APPLIANCE}

    @extend_schema(operation_id="VaultCertificates_Create", request=dict, responses={200: dict})
    def put(self, request, certificate_name, **parents):
        """Issue a registration key, as the portal's Download does (the app-registration gate applies).
        A certificate the body uploads is not used: the hub signs its own key."""
        json_object(request.data)
        vault, project = self.vault, self.vault.project
        key, text = registration_key_issue(
            user=request.user, project=project, hub_url=request.build_absolute_uri("/"), vault=vault.resource
        )
        tenant = str(project.subscription.tenant_id)
        hub_url = request.build_absolute_uri("/").rstrip("/")
        return Response(
            {
                "id": f"{vault.id}/certificates/{certificate_name}",
                "name": certificate_name,
                "type": "Microsoft.RecoveryServices/vaults/certificates",
                "properties": {
                    "authType": "AAD",
                    "certificate": base64.b64encode(text.encode()).decode(),
                    "friendlyName": key_file_name(project, key),
                    "issuer": "CN=Migrate Hub",
                    # Azure's vault certificates carry the vault's numeric resource id.
                    "resourceId": int.from_bytes(vault.resource.pk.bytes[:7], "big"),
                    "subject": f"CN={certificate_name}",
                    "thumbprint": hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest().upper(),
                    "validFrom": key.issued_at.isoformat(),
                    "validTo": key.expires_at.isoformat(),
                    "aadAuthority": f"{hub_url}/{tenant}",
                    "aadTenantId": tenant,
                    # The appliance's Azure AD app is the key itself here: it has no separate identity.
                    "servicePrincipalClientId": str(key.pk),
                    "servicePrincipalObjectId": str(key.pk),
                    "azureManagementEndpointAudience": hub_url,
                    "serviceResourceId": vault.id,
                },
            }
        )


class FinalizeRegistrationView(VaultView):
    # ARM checks the action; the portal's service then checks the right to register an appliance.
    permissions = {"post": access.FINALIZE_APPLIANCE_REGISTRATION}

    @extend_schema(
        operation_id="ReplicationRecoveryServicesProviders_FinalizeRegistration", request=None, responses={202: None}
    )
    def post(self, request, provider_name, **parents):
        """The portal's Finalize registration for this appliance: 202, then poll its job."""
        appliance = next((a for a in self.appliances if a.pk == parse_uuid(provider_name)), None)
        if appliance is None:
            raise ArmError(404, "ProviderNotFound", f"Recovery services provider '{provider_name}' was not found.")
        job = services.appliance_finalize_start(
            user=request.user, appliance=appliance, link=discover_url(self.vault.project)
        )
        response = accepted(
            request,
            location=self.vault.provider_id(appliance),
            azure_async_operation=f"{self.vault.id}/replicationOperationStatus/{job.pk}",
        )
        response.arm_request_id = f"{self.vault.id}/replicationJobs/{job.pk}"
        return response


class SolutionConfigView(ProjectPartView):
    permissions = {"post": access.GET_SOLUTION_CONFIG}

    @extend_schema(operation_id="Solutions_GetConfig", request=None, responses={200: dict})
    def post(self, request, solution_name, **parents):
        """The appliance installer's download link (SolutionConfig.publisherSasUri)."""
        project = self.project
        if solution_name.lower() != SERVER_MIGRATION_SOLUTION.lower() or not project.has_tool(
            Solution.Tool.SERVER_MIGRATION
        ):
            raise ArmError(
                404,
                "ResourceNotFound",
                f"The Resource 'Microsoft.Migrate/migrateProjects/{project.name}/solutions/{solution_name}' "
                f"under resource group '{project.resource_group.name}' was not found: the installer link is "
                f"{SERVER_MIGRATION_SOLUTION}'s, once the tool is added.",
            )
        link, _ = installer_link(project)
        return Response({"publisherSasUri": request.build_absolute_uri(link)})


@require_GET
def installer_download(request):
    """The installer behind a signed link; no sign-in, as a SAS URL needs none."""
    project_id = request.GET.get("project", "")
    problem = installer_link_problem(project_id, request.GET.get("se", ""), request.GET.get("sig", ""))
    if problem:
        return storage_authentication_failed(problem)
    project = MigrateProject.objects.filter(pk=parse_uuid(project_id)).first()
    if project is None:
        return storage_error(404, "BlobNotFound", "The specified blob does not exist: the project was deleted.")
    response = HttpResponse(build_appliance_installer(), content_type="application/gzip")
    response["Content-Disposition"] = f'attachment; filename="MigrateHubAppliance-{project.name}.tar.gz"'
    return response


urlpatterns = [
    path(f"{V}/certificates/<str:certificate_name>", VaultCertificateView.as_view()),
    path(
        f"{F}/replicationrecoveryservicesproviders/<str:provider_name>/finalizeregistration",
        FinalizeRegistrationView.as_view(),
    ),
    path(f"{PROJECT}/solutions/<str:solution_name>/getconfig", SolutionConfigView.as_view()),
    path(DOWNLOAD_PATH.lstrip("/"), installer_download, name="appliance-installer-download"),
]
