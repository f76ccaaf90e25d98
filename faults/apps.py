from django.apps import AppConfig


class FaultsConfig(AppConfig):
    name = "faults"
    verbose_name = "Injected faults: rehearse what goes wrong"

    def ready(self):
        from hub.emulator_blade import register_tab

        register_tab("faults", "Faults", "faults:list", order=10)
        from faults.project_scopes import project_scopes
        from faults.scopes import register_scope_provider

        register_scope_provider("projects", project_scopes)
