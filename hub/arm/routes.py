"""URL patterns of ARM resources: the subscription and resource-group prefixes every provider starts
from, and the routes of a tracked resource type, which every provider repeats.

Keyword segments arrive lower-cased (hub.arm.middleware); names keep the client's casing."""

from __future__ import annotations

from django.urls import path

SUB = "subscriptions/<str:subscription_id>"
RG = f"{SUB}/resourcegroups/<str:resource_group_name>"


def at_both_scopes(collection: str, list_view, scopes: tuple[str, str] = (SUB, RG), **initkwargs) -> list:
    """A list served at two scopes, by default a subscription and each of its resource groups
    (`resource_group_name` absent at the first). `initkwargs` set the view's attributes, as `as_view`
    does."""
    view = list_view.as_view(**initkwargs)
    return [path(f"{scope}/{collection}", view) for scope in scopes]


def tracked_resource(collection: str, list_view, item_view, name: str, **initkwargs) -> list:
    """A resource type in resource groups (`providers/{namespace}/{type}`): its list at both scopes
    and each resource at `{RG}/{collection}/<name>`."""
    item = path(f"{RG}/{collection}/<str:{name}>", item_view.as_view(**initkwargs))
    return [*at_both_scopes(collection, list_view, **initkwargs), item]
