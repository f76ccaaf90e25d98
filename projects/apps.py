from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "projects"
    verbose_name = "Azure side: directory, subscriptions, resource groups, Azure Migrate projects"

    def ready(self):
        # Job scenarios of this app register themselves with the jobs app.
        # The platform's scope checks (jobs list, bell, websocket) read role assignments through this.
        from hub import scopes
        from hub.arm import auth
        from projects import jobs  # noqa: F401
        from projects.access import read_visible_scopes, subscription_tenant

        scopes.provide_reader(read_visible_scopes)
        # A token of another directory on a subscription is refused with Azure's 401 (hub.arm.auth).
        auth.provide_subscription_tenant_reader(subscription_tenant)
