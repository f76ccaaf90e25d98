"""azure-identity's credentials, unmodified, against a live hub over TLS (issue 12, item 6): a service
principal's ClientSecretCredential pointed at the hub's login endpoint, DefaultAzureCredential from the
environment variables automation sets, and a user's UsernamePasswordCredential. They drive the
management SDK clients against the hub's resource manager with the audience its metadata document
names, through the SDKs' own bearer-token policy: no custom policy, no hand-made token."""

from __future__ import annotations

import warnings

import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError
from azure.identity import UsernamePasswordCredential
from azure.mgmt.recoveryservicessiterecovery import SiteRecoveryManagementClient
from azure.mgmt.resource.resources import ResourceManagementClient

from tests.appliances import project_with_resources
from tests.azure_cli import create_service_principal, environment_credential, secret_credential
from tests.hubs import CONTOSO, DEMO_PASSWORD, unique
from tests.port_443 import https_proxy_for
from tests.test_arm_site_recovery import vault_name

pytestmark = pytest.mark.live

# The Azure CLI's public client id: the one a user's password sign-in goes through, as `az login -u` does.
AZURE_CLI_CLIENT_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"


@pytest.fixture(scope="module")
def cloud(live_hub) -> dict:
    """The hub's cloud metadata document, as az and Terraform read it."""
    response = requests.get(
        f"{live_hub.https_url}/metadata/endpoints", params={"api-version": "2022-09-01"}, verify=live_hub.ca_path
    )
    response.raise_for_status()
    return response.json()


@pytest.fixture(scope="module")
def sdk_options(live_hub, cloud) -> dict:
    """What a management client needs besides its credential: the resource manager, the audience of
    its tokens, and the hub's CA."""
    audience = cloud["authentication"]["audiences"][0]
    return {
        "base_url": cloud["resourceManager"],
        "credential_scopes": [f"{audience.rstrip('/')}/.default"],
        "connection_verify": str(live_hub.ca_path),
        "polling_interval": 1,
    }


@pytest.fixture(scope="module")
def contributor(live_hub) -> dict:
    return create_service_principal(live_hub, unique("identity-sdk"), "Contributor", f"/subscriptions/{CONTOSO}")


def test_a_client_secret_credential_drives_resource_manager_and_site_recovery(
    live_hub, cloud, sdk_options, contributor
):
    assert cloud["authentication"]["loginEndpoint"].rstrip("/") == live_hub.https_url
    credential = secret_credential(live_hub, contributor)
    resources = ResourceManagementClient(credential, CONTOSO, **sdk_options)
    group = unique("rg-identity")
    created = resources.resource_groups.create_or_update(group, {"location": "westeurope"})
    assert created.properties.provisioning_state == "Succeeded"
    assert group in [g.name for g in resources.resource_groups.list()]
    resources.resource_groups.begin_delete(group).result()
    assert resources.resource_groups.check_existence(group) is False

    _, project_path = project_with_resources(live_hub, "identity")
    vault = vault_name(live_hub, project_path)
    site_recovery = SiteRecoveryManagementClient(credential, CONTOSO, **sdk_options)
    # No appliance yet: an empty fabric list, and Site Recovery's own 404 for a server it does not know.
    assert list(site_recovery.replication_fabrics.list("rg-migrate", vault)) == []
    with pytest.raises(ResourceNotFoundError):
        site_recovery.replication_migration_items.get(
            "rg-migrate", vault, "migrate-fabric", "migrate-container", "no-such-server"
        )


def test_a_wrong_secret_is_refused_with_entras_error(live_hub, contributor):
    credential = secret_credential(live_hub, contributor, "not-the-secret")
    with pytest.raises(ClientAuthenticationError) as refused:
        credential.get_token("https://management.core.windows.net//.default")
    assert "AADSTS7000215" in str(refused.value)


def test_default_azure_credential_from_the_environment(live_hub, sdk_options, contributor, monkeypatch):
    # The CA through the environment, as az takes it, this time: the SDK's requests transport reads it.
    credential = environment_credential(live_hub, contributor, monkeypatch)
    options = {key: value for key, value in sdk_options.items() if key != "connection_verify"}
    resources = ResourceManagementClient(credential, CONTOSO, **options)
    assert "rg-migrate" in [g.name for g in resources.resource_groups.list()]


def test_a_user_signs_in_with_a_password_and_keeps_their_role(live_hub, sdk_options, monkeypatch):
    # MSAL's user realm lookup goes to port 443 whatever the hub's port (tests/port_443.py).
    monkeypatch.setenv("HTTPS_PROXY", https_proxy_for(live_hub.https_url))

    def user_credential(email: str) -> UsernamePasswordCredential:
        with warnings.catch_warnings():  # deprecated by azure-identity (no MFA), still what scripts use
            warnings.simplefilter("ignore", DeprecationWarning)
            return UsernamePasswordCredential(
                AZURE_CLI_CLIENT_ID,
                email,
                DEMO_PASSWORD,
                tenant_id="organizations",
                authority=live_hub.https_url,
                disable_instance_discovery=True,
                connection_verify=str(live_hub.ca_path),
            )

    admin = ResourceManagementClient(user_credential("admin@contoso.com"), CONTOSO, **sdk_options)
    assert "rg-migrate" in [g.name for g in admin.resource_groups.list()]
    viewer = ResourceManagementClient(user_credential("viewer@contoso.com"), CONTOSO, **sdk_options)
    assert "rg-migrate" in [g.name for g in viewer.resource_groups.list()]
    with pytest.raises(HttpResponseError) as refused:
        viewer.resource_groups.create_or_update(unique("rg-denied"), {"location": "westeurope"})
    assert refused.value.status_code == 403 and refused.value.error.code == "AuthorizationFailed"
