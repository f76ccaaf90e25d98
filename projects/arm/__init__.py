"""The ARM API of the Azure side, one module per resource provider."""

from projects.arm import authorization, migrate, network, resource_manager

urlpatterns = resource_manager.urlpatterns + migrate.urlpatterns + authorization.urlpatterns + network.urlpatterns
