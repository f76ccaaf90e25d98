from django.urls import path

from entra import portal

app_name = "entra"

APPLICATION = "aad/app-registrations/<str:application_id>"

urlpatterns = [
    path("aad/app-registrations/", portal.app_registrations, name="app-registrations"),
    path(f"{APPLICATION}/", portal.application_overview, name="application"),
    path(f"{APPLICATION}/delete/", portal.delete_application, name="application-delete"),
    path(f"{APPLICATION}/secrets/", portal.application_secrets, name="application-secrets"),
    path(f"{APPLICATION}/secrets/<str:key_id>/delete/", portal.remove_secret, name="secret-delete"),
]
