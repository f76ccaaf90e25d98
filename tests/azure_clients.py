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


def resource_client(hub, email: str, subscription_id: str) -> ResourceManagementClient:
    token = hub.token(email)
    return ResourceManagementClient(HubCredential(token), subscription_id, **client_options(hub, token))


def authorization_client(hub, email: str, subscription_id: str):
    from azure.mgmt.authorization import AuthorizationManagementClient

    token = hub.token(email)
    return AuthorizationManagementClient(HubCredential(token), subscription_id, **client_options(hub, token))


def network_client(hub, email: str, subscription_id: str):
    from azure.mgmt.network import NetworkManagementClient

    token = hub.token(email)
    return NetworkManagementClient(HubCredential(token), subscription_id, **client_options(hub, token))


def site_recovery_client(hub, email: str, subscription_id: str):
    from azure.mgmt.recoveryservicessiterecovery import SiteRecoveryManagementClient

    token = hub.token(email)
    return SiteRecoveryManagementClient(HubCredential(token), subscription_id, **client_options(hub, token))


def recovery_services_client(hub, email: str, subscription_id: str):
    from azure.mgmt.recoveryservices import RecoveryServicesClient

    token = hub.token(email)
    return RecoveryServicesClient(HubCredential(token), subscription_id, **client_options(hub, token))
