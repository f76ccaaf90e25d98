"""The portal's home page and its search box: the services, and the resource groups and Azure Migrate
projects the user may see."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from hub.views import SERVICES, matching_services
from projects import access


@login_required
@require_GET
def home(request):
    return render(
        request,
        "hub/home.html",
        {
            "services": [s for s in SERVICES if s.url_name][:4],
            "recent_projects": access.visible_projects(request.user).order_by("-created_at")[:5],
        },
    )


@login_required
@require_GET
def search(request):
    query = request.GET.get("q", "").strip()
    groups = access.visible_resource_groups(request.user)
    projects = access.visible_projects(request.user)
    if query:
        groups = groups.filter(name__icontains=query)
        projects = projects.filter(name__icontains=query)
    return render(
        request,
        "hub/search.html",
        {
            "query": query,
            "services": matching_services(query),
            "resource_groups": groups[:20],
            "projects": projects[:20],
        },
    )
