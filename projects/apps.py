from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "projects"
    verbose_name = "Azure side: directory, subscriptions, resource groups, Azure Migrate projects"

    def ready(self):
        # Job scenarios of this app register themselves with the jobs app.
        from projects import jobs  # noqa: F401
