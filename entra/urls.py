"""The directory's portal pages (App registrations, the device code page) and Microsoft Entra ID at the
hub's root, per directory ({tenant}: its id or domain, or `organizations` / `common`), as the cloud
metadata's loginEndpoint names it."""

from django.urls import path

from entra import device_login, endpoints, portal

app_name = "entra"

APPLICATION = "aad/app-registrations/<str:application_id>"

urlpatterns = [
    path("aad/app-registrations/", portal.app_registrations, name="app-registrations"),
    path(f"{APPLICATION}/", portal.application_overview, name="application"),
    path(f"{APPLICATION}/delete/", portal.delete_application, name="application-delete"),
    path(f"{APPLICATION}/secrets/", portal.application_secrets, name="application-secrets"),
    path(f"{APPLICATION}/secrets/<str:key_id>/delete/", portal.remove_secret, name="secret-delete"),
    path("devicelogin", device_login.device_login, name="devicelogin"),
    path("common/discovery/instance", endpoints.instance_discovery, name="instance-discovery"),
    path("common/userrealm/<str:username>", endpoints.user_realm, name="user-realm"),
    path("<str:tenant>/v2.0/.well-known/openid-configuration", endpoints.openid_configuration, name="openid-v2"),
    path(
        "<str:tenant>/.well-known/openid-configuration",
        endpoints.openid_configuration,
        {"version": "v1.0"},
        name="openid-v1",
    ),
    path("<str:tenant>/discovery/v2.0/keys", endpoints.keys, name="keys-v2"),
    path("<str:tenant>/discovery/keys", endpoints.keys, name="keys-v1"),
    path("<str:tenant>/oauth2/v2.0/token", endpoints.token, name="token-v2"),
    path("<str:tenant>/oauth2/token", endpoints.token, name="token-v1"),
    path("<str:tenant>/oauth2/v2.0/devicecode", endpoints.device_authorization, name="devicecode-v2"),
    path("<str:tenant>/oauth2/devicecode", endpoints.device_authorization, name="devicecode-v1"),
]
