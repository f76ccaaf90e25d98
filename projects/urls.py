from django.urls import path

from projects.portal import access_control, directory, migrate, networks, resources

app_name = "projects"

SUB = "resource/subscriptions/<str:subscription_id>"
RG = f"{SUB}/resourceGroups/<str:resource_group_name>"
NETWORK = f"{RG}/virtualNetworks/<str:network_name>"

urlpatterns = [
    path("migrate/", migrate.migrate_overview, name="migrate-overview"),
    path("migrate/servers/", migrate.migrate_servers, name="migrate-servers"),
    path("migrate/add-tools/", migrate.add_tools, name="add-tools"),
    path("subscriptions-blade/", resources.subscriptions, name="subscriptions"),
    path("resource-groups/", resources.resource_groups, name="resource-groups"),
    path(f"{SUB}/", resources.subscription_detail, name="subscription"),
    path(f"{SUB}/iam/", access_control.iam, name="subscription-iam"),
    path(f"{SUB}/iam/<str:assignment_id>/remove/", access_control.remove_assignment, name="subscription-iam-remove"),
    path(f"{RG}/", resources.resource_group_detail, name="resource-group"),
    path(f"{RG}/iam/", access_control.iam, name="resource-group-iam"),
    path(f"{RG}/iam/<str:assignment_id>/remove/", access_control.remove_assignment, name="resource-group-iam-remove"),
    path("virtual-networks/", networks.network_list, name="virtual-networks"),
    path(f"{NETWORK}/", networks.network_detail, name="virtual-network"),
    path(f"{NETWORK}/delete/", networks.network_delete, name="virtual-network-delete"),
    path(f"{NETWORK}/subnets/<str:subnet_name>/delete/", networks.subnet_delete, name="subnet-delete"),
    path("aad/", directory.overview, name="aad"),
    path("aad/users/", directory.users, name="aad-users"),
    path("aad/user-settings/", directory.user_settings, name="aad-user-settings"),
    path("aad/roles/", directory.roles, name="aad-roles"),
    path("aad/roles/<str:role_slug>/", directory.role_detail, name="aad-role"),
    path("aad/roles/<str:role_slug>/<int:assignment_id>/remove/", directory.role_remove, name="aad-role-remove"),
]
