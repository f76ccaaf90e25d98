from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView

from hub import cloud_metadata, emulator, emulator_blade, health, snapshot_api, snapshot_portal, views
from hub.arm.views import NotFoundView

# The composition root: the one module that names every app's URLs (the home page and search list
# resources, so their views live in projects).
from projects.portal import home

hub_patterns = (
    [
        path("", home.home, name="home"),
        path("signin/", views.SignInView.as_view(), name="signin"),
        path("signout/", auth_views.LogoutView.as_view(next_page="hub:signin"), name="signout"),
        path("services/", views.all_services, name="all-services"),
        path("search/", home.search, name="search"),
        path("settings/api-tokens/", views.api_tokens, name="api-tokens"),
        path("settings/api-tokens/<int:token_id>/revoke/", views.revoke_api_token, name="revoke-api-token"),
        path("emulator/portal/", emulator_blade.blade, name="emulator-blade"),
        path("emulator/portal/clock/", emulator_blade.clock_tab, name="emulator-clock-tab"),
        path("emulator/portal/snapshots/", snapshot_portal.snapshots_tab, name="emulator-snapshots-tab"),
        path("emulator/portal/snapshots/save/", snapshot_portal.snapshot_save, name="emulator-snapshot-save"),
        path("emulator/portal/snapshots/restore/", snapshot_portal.snapshot_restore, name="emulator-snapshot-restore"),
        path("emulator/portal/snapshots/delete/", snapshot_portal.snapshot_delete, name="emulator-snapshot-delete"),
        path("emulator/portal/snapshots/reset/", snapshot_portal.snapshot_reset, name="emulator-snapshot-reset"),
    ],
    "hub",
)


def at_root(*modules: str) -> list:
    """Each module's URL patterns from the site root, in this order (the first to match answers)."""
    return [path("", include(module)) for module in modules]


urlpatterns = [
    # First: the appliance API (every replication batch upload) is resolved without trying the portal's
    # and ARM's hundreds of patterns before it; its paths start with "appliance-api/", which nothing
    # else serves.
    *at_root("replication.appliance_api"),
    path("", include(hub_patterns)),
    # entra.urls: App registrations, and Microsoft Entra ID per directory at the root (the metadata's loginEndpoint).
    *at_root("projects.urls", "replication.urls", "entra.urls"),
    path("jobs/", include("jobs.urls")),
    *at_root("events.urls", "faults.urls"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("api/schema/", SpectacularAPIView.as_view(), name="openapi-schema"),
    path("emulator/clock", emulator.clock_control, name="emulator-clock"),
    path("emulator/snapshots", snapshot_api.SnapshotsView.as_view(), name="emulator-snapshots"),
    # The cloud's metadata; `az cloud register` asks for "<resource manager>/" + "/metadata/...", hence //.
    re_path(r"^(?:/)?metadata/endpoints$", cloud_metadata.endpoints, name="cloud-metadata"),
    # The ARM API lives at the site root, as on management.azure.com.
    *at_root(
        "projects.arm",
        "replication.arm",
        "replication.arm_appliance",
        "replication.arm_migration",
        "replication.arm_compute",
        "replication.arm_planning",
        "projects.graph",
        "entra.graph",
        "events.arm",
    ),
    # A catch-all, not an operation of the OpenAPI document (schema=None keeps it out).
    re_path(r"^(subscriptions|providers)(/.*)?$", NotFoundView.as_view(schema=None)),
]

# Django's own refusals: the ARM envelope under the API prefixes (unrouted Graph and appliance-API
# paths included), portal pages elsewhere.
handler400 = "hub.error_pages.bad_request"
handler403 = "hub.error_pages.permission_denied"
handler404 = "hub.error_pages.page_not_found"
handler500 = "hub.error_pages.server_error"
