from django.urls import path

from replication import views

app_name = "replication"

urlpatterns = [path("migrate/discovered-servers/", views.discovered_servers, name="discovered-servers")]
