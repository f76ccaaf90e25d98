"""{{ location|region_name }}: a region as the portal names it ("West Europe"); the API keeps the id."""

from __future__ import annotations

from django import template

from projects.regions import region_display_name

register = template.Library()


@register.filter
def region_name(location) -> str:
    return region_display_name(location)
