from django.apps import AppConfig


class EntraConfig(AppConfig):
    name = "entra"
    verbose_name = "Microsoft Entra ID: app registrations, service principals, sign-in endpoints"
