"""The directory's portal pages (App registrations, the device code page) and Microsoft Entra ID at the
hub's root, per directory ({tenant}: its id or domain, or `organizations` / `common`), as the cloud
metadata's loginEndpoint names it."""

from django.urls import path

from entra import device_login, endpoints, portal

app_name = "entra"

APPLICATION = "aad/app-registrations/<str:application_id>"


def both_versions(v2_route: str, view, name: str, v1_kwargs: dict | None = None) -> list:
    """An endpoint at its v2.0 path and at its v1 path, the same without `v2.0/` (named `{name}-v2` and
    `{name}-v1`); `v1_kwargs` go to the view at the v1 path, where its answer differs by version."""
    v1_route = v2_route.replace("v2.0/", "", 1)
    return [path(v2_route, view, name=f"{name}-v2"), path(v1_route, view, v1_kwargs, name=f"{name}-v1")]


urlpatterns = [
    path("aad/app-registrations/", portal.app_registrations, name="app-registrations"),
    path(f"{APPLICATION}/", portal.application_overview, name="application"),
    path(f"{APPLICATION}/delete/", portal.delete_application, name="application-delete"),
    path(f"{APPLICATION}/secrets/", portal.application_secrets, name="application-secrets"),
    path(f"{APPLICATION}/secrets/<str:key_id>/delete/", portal.remove_secret, name="secret-delete"),
    path("devicelogin", device_login.device_login, name="devicelogin"),
    path("common/discovery/instance", endpoints.instance_discovery, name="instance-discovery"),
    path("common/userrealm/<str:username>", endpoints.user_realm, name="user-realm"),
    *both_versions(
        "<str:tenant>/v2.0/.well-known/openid-configuration",
        endpoints.openid_configuration,
        "openid",
        {"version": "v1.0"},
    ),
    *both_versions("<str:tenant>/discovery/v2.0/keys", endpoints.keys, "keys"),
    *both_versions("<str:tenant>/oauth2/v2.0/token", endpoints.token, "token"),
    *both_versions("<str:tenant>/oauth2/v2.0/devicecode", endpoints.device_authorization, "devicecode"),
]
