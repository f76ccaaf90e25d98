"""The ARM API of the Azure side, one module per resource provider; scopes.py holds ScopeView, the base
that resolves a URL's subscription and resource group once for all of them; responses.py declares
their response bodies for the OpenAPI document."""

from projects.arm import authorization, migrate, migration_resources, network, resource_manager, storage_accounts

urlpatterns = (
    resource_manager.urlpatterns
    + migrate.urlpatterns
    + migration_resources.urlpatterns
    + storage_accounts.urlpatterns
    + authorization.urlpatterns
    + network.urlpatterns
)
