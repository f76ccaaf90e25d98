from django.urls import path

from projects import views

app_name = "projects"

urlpatterns = [
    path("migrate/", views.migrate_overview, name="migrate-overview"),
    path("migrate/servers/", views.migrate_servers, name="migrate-servers"),
    path("migrate/add-tools/", views.add_tools, name="add-tools"),
    path("resource-groups/", views.resource_groups, name="resource-groups"),
    path("subscriptions-blade/", views.subscriptions, name="subscriptions"),
    path(
        "resource/subscriptions/<str:subscription_id>/resourceGroups/<str:resource_group_name>/",
        views.resource_group_detail,
        name="resource-group",
    ),
]
