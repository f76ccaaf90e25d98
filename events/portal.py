"""The Event subscriptions blade of Azure Migrate: a project's webhook subscriptions, creating and
deleting one, and each one's delivery log (every attempt, and the dead-lettered events)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from events import services
from events.models import MAX_DELIVERY_ATTEMPTS, MAX_TTL_MINUTES, DeliveryState, EventSubscription
from hub.arm.errors import ArmError
from projects import access
from projects.portal.migrate import project_from_arm_id

LOG_SHOWN = 100


class EventSubscriptionForm(forms.Form):
    name = forms.CharField(label="Name", max_length=64)
    endpoint_url = forms.CharField(label="Subscriber endpoint", max_length=2000)
    event_types = forms.MultipleChoiceField(
        label="Event types",
        choices=[(event_type, event_type.removeprefix("Microsoft.Migrate.")) for event_type in services.EVENT_TYPES],
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    subject_begins_with = forms.CharField(label="Subject begins with", max_length=600, required=False)
    subject_ends_with = forms.CharField(label="Subject ends with", max_length=600, required=False)
    max_delivery_attempts = forms.IntegerField(
        label="Max delivery attempts", min_value=1, max_value=MAX_DELIVERY_ATTEMPTS, initial=MAX_DELIVERY_ATTEMPTS
    )
    event_ttl_minutes = forms.IntegerField(
        label="Event time to live (minutes)", min_value=1, max_value=MAX_TTL_MINUTES, initial=MAX_TTL_MINUTES
    )
    secret = forms.CharField(
        label="Signing secret", max_length=200, required=False, widget=forms.PasswordInput(render_value=False)
    )

    def spec(self) -> services.SubscriptionSpec:
        data = self.cleaned_data
        return services.SubscriptionSpec(
            endpoint_url=data["endpoint_url"].strip(),
            secret=data["secret"] or None,
            included_event_types=list(data["event_types"]),
            subject_begins_with=data["subject_begins_with"].strip(),
            subject_ends_with=data["subject_ends_with"].strip(),
            max_delivery_attempts=data["max_delivery_attempts"],
            event_ttl_minutes=data["event_ttl_minutes"],
        )


FIELD_OF = {
    "name": "name",
    "endpointUrl": "endpoint_url",
    "includedEventTypes": "event_types",
    "maxDeliveryAttempts": "max_delivery_attempts",
    "eventTimeToLiveInMinutes": "event_ttl_minutes",
    "webhook-secret": "secret",
}


def _project(request, arm_id: str):
    if arm_id:
        return project_from_arm_id(request.user, arm_id)
    return max(access.visible_projects(request.user), key=lambda project: project.created_at, default=None)


def _page(request, project, *, form=None, new_secret=None, created=None, status=200):
    group = project.resource_group if project else None
    subscriptions = []
    denied = ""
    if project is not None:
        subscriptions = (
            EventSubscription.objects.visible_to(request.user)
            .filter(subscription=group.subscription, scope_id__iexact=project.arm_id)
            .annotate(
                delivered_count=Count("deliveries", filter=Q(deliveries__state=DeliveryState.DELIVERED)),
                retrying_count=Count(
                    "deliveries", filter=Q(deliveries__state__in=(DeliveryState.PENDING, DeliveryState.RETRYING))
                ),
                dead_lettered_count=Count("deliveries", filter=Q(deliveries__state=DeliveryState.DEAD_LETTERED)),
            )
            .order_by("name")
        )
        denied = access.denial(request.user, services.WRITE_EVENT_SUBSCRIPTION, group.subscription, group.name)
    return render(
        request,
        "events/event_subscriptions.html",
        {
            "blade": "event-subscriptions",
            "project": project,
            "projects": list(access.visible_projects(request.user)),
            "subscriptions": subscriptions,
            "form": form,
            "show_form": form is not None or request.GET.get("new") == "1",
            "blank_form": form or EventSubscriptionForm(),
            "change_denied": denied,
            "new_secret": new_secret,
            "created": created,
        },
        status=status,
    )


@login_required
@require_GET
def event_subscriptions(request):
    return _page(request, _project(request, request.GET.get("project", "")))


@login_required
@require_POST
def create_subscription(request):
    project = _project(request, request.POST.get("project", ""))
    if project is None:
        raise Http404("No such project")
    group = project.resource_group
    form = EventSubscriptionForm(request.POST)
    try:
        access.authorize(request.user, services.WRITE_EVENT_SUBSCRIPTION, group.subscription, group.name)
    except ArmError as error:
        form.add_error(None, error.portal_message)
        return _page(request, project, form=form, status=403)
    if not form.is_valid():
        return _page(request, project, form=form, status=400)
    try:
        subscription, created, shown = services.event_subscription_put(
            subscription=group.subscription,
            resource_group_name=group.name,
            scope_id=project.arm_id,
            name=form.cleaned_data["name"].strip(),
            spec=form.spec(),
            created_by=request.user,
        )
    except services.InvalidSubscription as invalid:
        form.add_error(FIELD_OF.get(invalid.field_name), invalid.message)
        return _page(request, project, form=form, status=400)
    # The page is rendered, not redirected to: the secret is shown in this answer only.
    return _page(request, project, new_secret=shown, created=subscription)


def _subscription_or_404(request, subscription_id) -> EventSubscription:
    found = EventSubscription.objects.visible_to(request.user).filter(pk=subscription_id).first()
    if found is None:
        raise Http404("No such event subscription")
    return found


@login_required
@require_GET
def subscription_detail(request, subscription_id):
    subscription = _subscription_or_404(request, subscription_id)
    state = request.GET.get("state", "")
    deliveries = subscription.deliveries.select_related("event").prefetch_related("attempt_log")
    if state in DeliveryState.values:
        deliveries = deliveries.filter(state=state)
    counts = dict(
        subscription.deliveries.order_by().values("state").annotate(count=Count("pk")).values_list("state", "count")
    )
    return render(
        request,
        "events/event_subscription.html",
        {
            "blade": "event-subscriptions",
            "subscription": subscription,
            "deliveries": list(deliveries[:LOG_SHOWN]),
            "log_shown": LOG_SHOWN,
            "state": state,
            "states": [(value, label, counts.get(value, 0)) for value, label in DeliveryState.choices],
            "change_denied": access.denial(
                request.user,
                services.DELETE_EVENT_SUBSCRIPTION,
                subscription.subscription,
                subscription.resource_group_name,
            ),
        },
    )


@login_required
@require_POST
def delete_subscription(request, subscription_id):
    subscription = _subscription_or_404(request, subscription_id)
    try:
        access.authorize(
            request.user,
            services.DELETE_EVENT_SUBSCRIPTION,
            subscription.subscription,
            subscription.resource_group_name,
        )
    except ArmError as error:
        messages.error(request, error.portal_message)
        return redirect("events:detail", subscription.pk)
    scope = subscription.scope_id
    services.event_subscription_delete(event_subscription=subscription)
    messages.success(request, f"Deleted the event subscription {subscription.name}.")
    return redirect(reverse("events:subscriptions") + "?" + urlencode({"project": scope}))
