from django.urls import path

from events import portal

app_name = "events"
urlpatterns = [
    path("migrate/event-subscriptions/", portal.event_subscriptions, name="subscriptions"),
    path("migrate/event-subscriptions/create/", portal.create_subscription, name="create"),
    path("migrate/event-subscriptions/<uuid:subscription_id>/", portal.subscription_detail, name="detail"),
    path("migrate/event-subscriptions/<uuid:subscription_id>/delete/", portal.delete_subscription, name="delete"),
]
