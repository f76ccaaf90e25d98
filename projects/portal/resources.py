"""Portal blades for subscriptions and resource groups."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from hub.http import not_found_as_404
from projects import access
from projects.portal.migrate import servers_url


@login_required
@require_GET
def resource_groups(request):
    groups = access.visible_resource_groups(request.user).prefetch_related("migrate_projects")
    return render(request, "projects/resource_groups.html", {"groups": groups})


@login_required
@require_GET
def resource_group_detail(request, subscription_id, resource_group_name):
    with not_found_as_404():
        group = access.get_group(request.user, subscription_id, resource_group_name)
    subscription = group.subscription
    projects = access.visible_projects(request.user).filter(resource_group=group)
    roles = access.roles_at(request.user, subscription, group.name)
    return render(
        request,
        "projects/resource_group_detail.html",
        {
            "group": group,
            "projects": projects,
            "networks": access.visible_networks(request.user).filter(resource_group=group),
            "migration_resources": access.visible_migration_resources(request.user).filter(resource_group=group),
            "servers_url": servers_url,
            "roles": roles,
        },
    )


@login_required
@require_GET
def subscriptions(request):
    subs = access.visible_subscriptions(request.user).select_related("tenant")
    rows = [(s, access.roles_at(request.user, s)) for s in subs]
    return render(request, "projects/subscriptions.html", {"rows": rows})


@login_required
@require_GET
def subscription_detail(request, subscription_id):
    with not_found_as_404():
        subscription = access.get_subscription(request.user, subscription_id)
    groups = access.visible_resource_groups(request.user).filter(subscription=subscription)
    return render(
        request,
        "projects/subscription_detail.html",
        {"subscription": subscription, "groups": groups, "roles": access.roles_at(request.user, subscription)},
    )
