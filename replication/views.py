from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from hub import clock
from projects.portal.migrate import project_from_arm_id


@login_required
@require_GET
def discovered_servers(request):
    project = project_from_arm_id(request.user, request.GET.get("project", ""))
    servers = project.discovered_servers.discovered(clock.now()).select_related("appliance")
    return render(request, "replication/discovered_servers.html", {"project": project, "servers": servers})
