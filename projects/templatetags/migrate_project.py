"""`{% project_context project %}`: the project in view at the top of an Azure Migrate blade, with the
"Change" selector listing the projects the user may see (as the Azure portal's Servers blade has)."""

from __future__ import annotations

from django import template

from projects import access

register = template.Library()


@register.inclusion_tag("projects/_project_context.html", takes_context=True)
def project_context(context, project):
    request = context["request"]
    projects = access.visible_projects(request.user).order_by("resource_group__subscription__display_name", "name")
    return {"project": project, "projects": projects, "request": request}
