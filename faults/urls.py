from django.urls import path

from faults import api, portal

app_name = "faults"
urlpatterns = [
    path("emulator/portal/faults/", portal.fault_list, name="list"),
    path("emulator/portal/faults/scopes/", portal.scope_search, name="scopes"),
    path("emulator/portal/faults/<uuid:fault_id>/clear/", portal.clear_fault, name="clear"),
    *api.urlpatterns,
]
