"""The cloud's metadata document (`GET /metadata/endpoints`), describing the hub as an Azure cloud named
MigrateHub: what `az cloud register --endpoint-resource-manager`, `ARM_CLOUD_METADATA_URL` and
Terraform's `metadata_host` read to find the resource manager, the login endpoint (the hub's own
Microsoft Entra ID, entra/) and its audiences, Graph, the portal and the DNS suffixes.

Every URL is built from the request (scheme and host), so the document is right over http or https and
by whichever name the hub is reached. The shape follows the api-version, as management.azure.com's does:
- 2022-09-01 and later, read by Terraform (hashicorp/go-azure-sdk `sdk/internal/metadata`): one object;
- 2019-05-01 and 2020-06-01, read by az from ARM_CLOUD_METADATA_URL (azure-cli-core `cloud.py`): a list of
  clouds;
- older ones, as `az cloud register` asks (2015-01-01, the Azure Stack shape): one object whose
  `galleryEndpoint`, `graphEndpoint` and `authentication` it reads (azure-cli `cloud/custom.py`)."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from hub.access_tokens import ARM_AUDIENCES

CLOUD_NAME = "MigrateHub"
LIST_SHAPED_VERSIONS = ("2019-05-01", "2020-06-01")
# Suffixes of the data-plane services, as Azure's public cloud names them: the hub emulates their
# resources (vaults, storage accounts) through ARM only, so tools need the names, not the hosts.
SUFFIXES = {
    "acrLoginServer": "azurecr.io",
    "attestationEndpoint": "attest.azure.net",
    "azureDataLakeAnalyticsCatalogAndJob": "azuredatalakeanalytics.net",
    "azureDataLakeStoreFileSystem": "azuredatalakestore.net",
    "azureFrontDoorEndpointSuffix": "azurefd.net",
    "keyVaultDns": "vault.azure.net",
    "mariadbServerEndpoint": "mariadb.database.azure.com",
    "mhsmDns": "managedhsm.azure.net",
    "mysqlServerEndpoint": "mysql.database.azure.com",
    "postgresqlServerEndpoint": "postgres.database.azure.com",
    "sqlServerHostname": "database.windows.net",
    "storage": "core.windows.net",
    "storageSyncEndpointSuffix": "afs.azure.net",
    "synapseAnalytics": "dev.azuresynapse.net",
}


def cloud(base_url: str) -> dict:
    hub = base_url.rstrip("/") + "/"
    return {
        "name": CLOUD_NAME,
        "portal": hub.rstrip("/"),
        "resourceManager": hub,
        "authentication": {
            # MSAL asks here: /{tenant}/v2.0/.well-known/openid-configuration and the token endpoint.
            "loginEndpoint": hub,
            # The first is az's resource for ARM tokens; the hub accepts tokens for either.
            "audiences": list(ARM_AUDIENCES),
            "tenant": "common",
            "identityProvider": "AAD",
        },
        # az sends Microsoft Graph calls to this URL, and asks for tokens for it: the hub serves /v1.0.
        "microsoftGraphResourceId": hub,
        "graph": hub,
        # Azure AD Graph (retired), which az still requires a value for.
        "graphAudience": "https://graph.windows.net/",
        "media": "https://rest.media.azure.net",
        "batch": "https://batch.core.windows.net/",
        "sqlManagement": "https://management.core.windows.net:8443/",
        "gallery": "https://gallery.azure.com/",
        "vmImageAliasDoc": (
            "https://raw.githubusercontent.com/Azure/azure-rest-api-specs/master/arm-compute/quickstart-templates/"
            "aliases.json"
        ),
        "activeDirectoryDataLake": "https://datalake.azure.net/",
        "appInsightsResourceId": "https://api.applicationinsights.io",
        "appInsightsTelemetryChannelResourceId": "https://dc.applicationinsights.azure.com/v2/track",
        "attestationResourceId": "https://attest.azure.net",
        "synapseAnalyticsResourceId": "https://dev.azuresynapse.net",
        "logAnalyticsResourceId": "https://api.loganalytics.io",
        "ossrDbmsResourceId": "https://ossrdbms-aad.database.windows.net",
        "suffixes": dict(SUFFIXES),
    }


@require_GET
def endpoints(request: HttpRequest):
    api_version = request.GET.get("api-version", "")
    if not api_version:
        return JsonResponse(
            {
                "error": {
                    "code": "MissingApiVersionParameter",
                    "message": "The api-version query parameter (?api-version=) is required for all requests.",
                }
            },
            status=400,
        )
    document = cloud(f"{request.scheme}://{request.get_host()}")
    if api_version in LIST_SHAPED_VERSIONS:
        return JsonResponse([document], safe=False)
    # The Azure Stack names `az cloud register` reads, beside the current ones.
    document.update(
        galleryEndpoint=document["gallery"],
        graphEndpoint=document["graphAudience"],
        portalEndpoint=document["portal"],
    )
    return JsonResponse(document)
