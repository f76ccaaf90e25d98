from django.urls import path

from faults import portal

app_name = "faults"
urlpatterns = [
    path("emulator/portal/faults/", portal.fault_list, name="list"),
]
