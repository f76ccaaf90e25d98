"""`{% project_context project %}`: the project in view at the top of an Azure Migrate blade, with the
"Change" selector listing the projects the user may see (as the Azure portal's Servers blade has)."""

from __future__ import annotations

from django import template

from projects.portal.project_in_view import listed_projects

register = template.Library()


@register.inclusion_tag("projects/_project_context.html", takes_context=True)
def project_context(context, project):
    request = context["request"]
    # The blade's project_in_view has read them for this request already (one query for both).
    projects = listed_projects(request)
    return {"project": project, "projects": projects, "request": request}
