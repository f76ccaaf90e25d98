"""The official Azure SDK clients, unmodified, pointed at a hub over plain HTTP (ARM-API.md section 3)."""

from __future__ import annotations

import time

from azure.core.credentials import AccessToken
from azure.core.pipeline.policies import SansIOHTTPPolicy
from azure.mgmt.resource.resources import ResourceManagementClient


class HubCredential:
    """A TokenCredential that hands out a hub personal API token."""

    def __init__(self, token: str):
        self.token = token

    def get_token(self, *scopes, **kwargs):
        return AccessToken(self.token, int(time.time()) + 3600)


class HubBearerPolicy(SansIOHTTPPolicy):
    """Stands in for the SDK's bearer policy, which refuses tokens over plain http."""

    def __init__(self, token: str):
        self.token = token

    def on_request(self, request):
        request.http_request.headers["Authorization"] = f"Bearer {self.token}"


def client_options(hub, token: str) -> dict:
    return {
        "base_url": hub.url,
        "authentication_policy": HubBearerPolicy(token),
        "polling_interval": 1,
        "retry_total": 0,
    }


def sdk_client(client_class, hub, email: str, subscription_id: str | None = None):
    """An official SDK client, unmodified, speaking to the hub as this demo user."""
    token = hub.token(email)
    args = (subscription_id,) if subscription_id else ()
    return client_class(HubCredential(token), *args, **client_options(hub, token))


def resource_client(hub, email: str, subscription_id: str) -> ResourceManagementClient:
    return sdk_client(ResourceManagementClient, hub, email, subscription_id)


def authorization_client(hub, email: str, subscription_id: str):
    from azure.mgmt.authorization import AuthorizationManagementClient

    return sdk_client(AuthorizationManagementClient, hub, email, subscription_id)


def network_client(hub, email: str, subscription_id: str):
    from azure.mgmt.network import NetworkManagementClient

    return sdk_client(NetworkManagementClient, hub, email, subscription_id)


def site_recovery_client(hub, email: str, subscription_id: str):
    from azure.mgmt.recoveryservicessiterecovery import SiteRecoveryManagementClient

    return sdk_client(SiteRecoveryManagementClient, hub, email, subscription_id)


def recovery_services_client(hub, email: str, subscription_id: str):
    from azure.mgmt.recoveryservices import RecoveryServicesClient

    return sdk_client(RecoveryServicesClient, hub, email, subscription_id)


def compute_client(hub, email: str, subscription_id: str):
    from azure.mgmt.compute import ComputeManagementClient

    return sdk_client(ComputeManagementClient, hub, email, subscription_id)
