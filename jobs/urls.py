from django.urls import path

from jobs import views

app_name = "jobs"

urlpatterns = [
    path("", views.job_list, name="list"),
    path("notifications/", views.notification_list, name="notifications"),
    path("<str:job_id>/", views.job_detail, name="detail"),
    path("notifications/read/", views.mark_notifications_read, name="notifications-read"),
]
