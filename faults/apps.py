from django.apps import AppConfig


class FaultsConfig(AppConfig):
    name = "faults"
    verbose_name = "Injected faults: rehearse what goes wrong"

    def ready(self):
        from hub.emulator_blade import register_tab

        register_tab("faults", "Faults", "faults:list", order=10)
