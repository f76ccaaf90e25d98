"""ARM: Microsoft.EventGrid/eventSubscriptions, an extension resource on a resource group, an Azure
Migrate project or a Recovery Services vault, as EventGridManagementClient calls it
(`event_subscriptions.begin_create_or_update(scope, name, ...)`, `get`, `begin_delete`,
`list_by_resource`, `list_global_by_resource_group`, `list_global_by_subscription`).

Readers of the scope read; writing and deleting need Contributor or Owner there. The signing secret
is a static, secret delivery attribute named `webhook-secret` (Event Grid's way to give a webhook a
secret header value): given on PUT or made by the hub, it appears in the answer of the PUT that made
it and never again."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from django.urls import path
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from events import services
from events.models import EventSubscription
from hub.arm.bodies import BodyReader
from hub.arm.errors import ArmError
from hub.arm.routes import RG, SUB
from hub.arm.schema import arm_list_of, free_form, free_form_list, proxy_resource
from hub.arm.views import arm_list, arm_time, deletion
from projects import access
from projects.arm.scopes import ScopeView
from projects.models import MigrationResource

TYPE = "Microsoft.EventGrid/eventSubscriptions"
SECRET_ATTRIBUTE = "webhook-secret"
# The resources a subscription may sit on, by their lower-cased type (the URL arrives lower-cased).
RESOURCE_SCOPES = {
    "microsoft.migrate/migrateprojects": "Microsoft.Migrate/migrateProjects",
    "microsoft.recoveryservices/vaults": MigrationResource.Kind.RECOVERY_SERVICES_VAULT,
}

C = serializers.CharField
EVENT_SUBSCRIPTION = proxy_resource(
    "EventSubscription",
    {
        "topic": C(),
        "provisioningState": C(),
        "destination": free_form(help_text='{"endpointType": "WebHook", "properties": {"endpointBaseUrl", ...}}'),
        "filter": free_form(help_text="includedEventTypes, subjectBeginsWith, subjectEndsWith, isSubjectCaseSensitive"),
        "labels": serializers.ListField(child=C()),
        "eventDeliverySchema": C(),
        "retryPolicy": free_form(help_text="maxDeliveryAttempts, eventTimeToLiveInMinutes"),
        "deadLetterDestination": free_form(),
    },
    systemData=free_form(),
)
EVENT_SUBSCRIPTION_INPUT = inline_serializer(
    "EventSubscriptionInput",
    {
        "properties": inline_serializer(
            "EventSubscriptionInputProperties",
            {
                "destination": free_form(),
                "filter": free_form(),
                "labels": serializers.ListField(child=C(), required=False),
                "eventDeliverySchema": C(required=False),
                "retryPolicy": free_form(),
                "deadLetterDestination": free_form(),
                "deliveryAttributeMappings": free_form_list(),
            },
        )
    },
)


def body(subscription: EventSubscription, shown_secret: str | None = None) -> dict:
    url = urlsplit(subscription.endpoint_url)
    mappings = [
        {
            "name": SECRET_ATTRIBUTE,
            "type": "Static",
            # The secret's value only in the answer that made it; null ever after, as Event Grid hides secrets.
            "properties": {"value": shown_secret, "isSecret": True},
        }
    ]
    return {
        "id": subscription.arm_id,
        "name": subscription.name,
        "type": TYPE,
        "systemData": {
            "createdBy": subscription.created_by.email if subscription.created_by else None,
            "createdAt": arm_time(subscription.created_at),
            "lastModifiedAt": arm_time(subscription.updated_at),
        },
        "properties": {
            "topic": subscription.scope_id,
            "provisioningState": subscription.provisioning_state,
            "destination": {
                "endpointType": "WebHook",
                "properties": {
                    # As Event Grid: the URL without its query string, which may carry a secret.
                    "endpointBaseUrl": urlunsplit((url.scheme, url.netloc, url.path, "", "")),
                    "maxEventsPerBatch": 1,
                    "preferredBatchSizeInKilobytes": 64,
                    "deliveryAttributeMappings": mappings,
                },
            },
            "filter": {
                "includedEventTypes": subscription.included_event_types or None,
                "subjectBeginsWith": subscription.subject_begins_with,
                "subjectEndsWith": subscription.subject_ends_with,
                "isSubjectCaseSensitive": subscription.subject_case_sensitive,
                "enableAdvancedFilteringOnArrays": False,
            },
            "labels": subscription.labels,
            "eventDeliverySchema": "EventGridSchema",
            "retryPolicy": {
                "maxDeliveryAttempts": subscription.max_delivery_attempts,
                "eventTimeToLiveInMinutes": subscription.event_ttl_minutes,
            },
            # Dead letters stay in the hub's delivery log (portal: Event subscriptions > Delivery log).
            "deadLetterDestination": None,
        },
    }


def read_spec(request) -> services.SubscriptionSpec:
    properties = BodyReader.of(request).child("properties", required=True)
    destination = properties.child("destination", required=True)
    endpoint_type = destination.text("endpointType", required=True)
    if endpoint_type is not None and endpoint_type.lower() != "webhook":
        destination.fail("endpointType", "Only WebHook destinations are emulated: set endpointType to 'WebHook'.")
    target = destination.child("properties", required=True)
    endpoint_url = target.text("endpointUrl", required=True, max_length=2000)
    secret = None
    for mapping in target.children("deliveryAttributeMappings") or []:
        if (mapping.text("name") or "").lower() == SECRET_ATTRIBUTE:
            secret = mapping.child("properties").text("value", max_length=200)
    event_filter = properties.child("filter")
    types = event_filter.raw("includedEventTypes")
    if types is not None and (not isinstance(types, list) or not all(isinstance(t, str) for t in types)):
        event_filter.fail("includedEventTypes", "'properties.filter.includedEventTypes' must be a list of strings.")
        types = None
    retry = properties.child("retryPolicy")
    attempts = retry.integer("maxDeliveryAttempts", low=1, high=30)
    ttl = retry.integer("eventTimeToLiveInMinutes", low=1, high=1440)
    labels = properties.raw("labels")
    if labels is not None and (not isinstance(labels, list) or not all(isinstance(label, str) for label in labels)):
        properties.fail("labels", "'properties.labels' must be a list of strings.")
        labels = None
    schema = properties.text("eventDeliverySchema")
    if schema is not None and schema.lower() != "eventgridschema":
        properties.fail("eventDeliverySchema", "Only the EventGridSchema delivery schema is emulated.")
    properties.raise_errors()
    return services.SubscriptionSpec(
        endpoint_url=endpoint_url or "",
        secret=secret or None,
        included_event_types=list(types or []),
        subject_begins_with=event_filter.text("subjectBeginsWith", max_length=600) or "",
        subject_ends_with=event_filter.text("subjectEndsWith", max_length=600) or "",
        subject_case_sensitive=event_filter.flag("isSubjectCaseSensitive", default=False),
        max_delivery_attempts=attempts or 30,
        event_ttl_minutes=ttl or 1440,
        labels=list(labels or []),
    )


class ScopedView(ScopeView):
    """The scope the URL names: its resource group, or a project or vault in it (404 unless visible)."""

    def resolve_parents(self, request, namespace=None, resource_type=None, resource_name=None, **route):
        if self.group is None:
            self.scope_id = None
            return
        if namespace is None:
            self.scope_id = self.group.arm_id
            return
        kind = RESOURCE_SCOPES.get(f"{namespace}/{resource_type}")
        if kind is None:
            raise ArmError(
                400,
                "InvalidScope",
                f"Event subscriptions here sit on a resource group, an Azure Migrate project or a Recovery "
                f"Services vault, not on '{namespace}/{resource_type}'.",
            )
        if kind == "Microsoft.Migrate/migrateProjects":
            resource = access.get_project(request.user, self.group, resource_name)
        else:
            resource = access.get_migration_resource(request.user, self.group, kind, resource_name)
        self.scope_id = resource.arm_id

    def subscriptions(self, request):
        visible = EventSubscription.objects.visible_to(request.user).select_related("created_by")
        if self.group is None:
            return visible.filter(subscription=self.subscription)
        visible = visible.filter(subscription=self.subscription, resource_group_name__iexact=self.group.name)
        if self.scope_id != self.group.arm_id:
            visible = visible.filter(scope_id__iexact=self.scope_id)
        return visible


class EventSubscriptionListView(ScopedView):
    @extend_schema(operation_id="EventSubscriptions_List", responses={200: arm_list_of(EVENT_SUBSCRIPTION)})
    def get(self, request, **route):
        return arm_list([body(subscription) for subscription in self.subscriptions(request)])


class EventSubscriptionView(ScopedView):
    permissions = {"put": services.WRITE_EVENT_SUBSCRIPTION, "delete": services.DELETE_EVENT_SUBSCRIPTION}

    def lookup(self, request, name: str) -> EventSubscription:
        found = self.subscriptions(request).filter(scope_id__iexact=self.scope_id, name__iexact=name).first()
        if found is None:
            raise ArmError(
                404, "ResourceNotFound", f"The event subscription '{name}' was not found on '{self.scope_id}'."
            )
        return found

    @extend_schema(operation_id="EventSubscriptions_Get", responses={200: EVENT_SUBSCRIPTION})
    def get(self, request, event_subscription_name, **route):
        return Response(body(self.lookup(request, event_subscription_name)))

    @extend_schema(
        operation_id="EventSubscriptions_CreateOrUpdate",
        request=EVENT_SUBSCRIPTION_INPUT,
        responses={201: EVENT_SUBSCRIPTION},
    )
    def put(self, request, event_subscription_name, **route):
        spec = read_spec(request)
        try:
            subscription, _, shown = services.event_subscription_put(
                subscription=self.subscription,
                resource_group_name=self.group.name,
                scope_id=self.scope_id,
                name=event_subscription_name,
                spec=spec,
                created_by=request.user,
            )
        except services.InvalidSubscription as invalid:
            raise ArmError(400, "InvalidRequest", invalid.message, invalid.field_name) from None
        # Event Grid answers 201 to every PUT, a replacement too (the SDK accepts nothing else); a new
        # endpoint is Creating until it passes the handshake, and the SDK polls the GET till then.
        return Response(body(subscription, shown), status=201)

    @extend_schema(operation_id="EventSubscriptions_Delete", responses={200: None, 204: None})
    def delete(self, request, event_subscription_name, **route):
        return deletion(
            lambda: self.lookup(request, event_subscription_name),
            lambda found: services.event_subscription_delete(event_subscription=found),
        )


COLLECTION = "providers/microsoft.eventgrid/eventsubscriptions"
RESOURCE = f"{RG}/providers/<str:namespace>/<str:resource_type>/<str:resource_name>"


urlpatterns = [
    path(f"{SUB}/{COLLECTION}", EventSubscriptionListView.as_view()),
    path(f"{RG}/{COLLECTION}", EventSubscriptionListView.as_view()),
    path(f"{RG}/{COLLECTION}/<str:event_subscription_name>", EventSubscriptionView.as_view()),
    path(f"{RESOURCE}/{COLLECTION}", EventSubscriptionListView.as_view()),
    path(f"{RESOURCE}/{COLLECTION}/<str:event_subscription_name>", EventSubscriptionView.as_view()),
]
