from django.urls import path

from replication import views
from replication.portal import discover, migration, monitor, planner, replicate, row_menus

app_name = "replication"

urlpatterns = [
    path("migrate/discovered-servers/", views.discovered_servers, name="discovered-servers"),
    *discover.urlpatterns,
    *replicate.urlpatterns,
    *monitor.urlpatterns,
    *migration.urlpatterns,
    *row_menus.urlpatterns,
    *planner.urlpatterns,
]
