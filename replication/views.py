from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from hub import clock
from projects.portal.migrate import project_in_view


@login_required
@require_GET
def discovered_servers(request):
    project = project_in_view(request)
    if project is None:
        return redirect("projects:migrate-servers")  # no project chosen: the Servers blade asks for one
    servers = project.discovered_servers.discovered(clock.now()).select_related("appliance")
    return render(request, "replication/discovered_servers.html", {"project": project, "servers": servers})
