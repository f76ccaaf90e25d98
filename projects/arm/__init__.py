"""The ARM API of the Azure side, one module per resource provider."""

from projects.arm import authorization, migrate, migration_resources, network, resource_manager

urlpatterns = (
    resource_manager.urlpatterns
    + migrate.urlpatterns
    + migration_resources.urlpatterns
    + authorization.urlpatterns
    + network.urlpatterns
)
