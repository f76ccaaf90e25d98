from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "projects"
    verbose_name = "Azure side: directory, subscriptions, resource groups, Azure Migrate projects"

    def ready(self):
        # Job scenarios of this app register themselves with the jobs app.
        # The platform's scope checks (jobs list, bell, websocket) read role assignments through this.
        from hub import scopes
        from projects import jobs  # noqa: F401
        from projects.access import read_visible_scopes

        scopes.provide_reader(read_visible_scopes)
