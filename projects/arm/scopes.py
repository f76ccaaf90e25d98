"""The parents of every Azure-side ARM resource: the subscription and, below it, the resource group
the URL names, looked up once as the caller sees them; the caller's right is checked there."""

from __future__ import annotations

from collections.abc import Callable

from hub.arm.views import ArmView
from projects import access


class ScopeView(ArmView):
    """Base of a handler at a subscription or below one of its resource groups. Before the handler
    runs it resolves `self.subscription` and `self.group` (None at subscription scope): 404 for what
    the caller may not see. Then the permission the class declares for the method (`permissions`,
    method name -> access.Permission) is checked at that scope: 403 `AuthorizationFailed` without it.
    Handlers take only their own resource's name."""

    # A permission, or a callable of the route's keywords giving one (a VM's action by its name).
    permissions: dict[str, access.Permission | Callable[[dict], access.Permission]] = {}

    def resolve_scope(self, request, subscription_id, resource_group_name=None, **own):
        if resource_group_name is None:
            self.subscription = access.get_subscription(request.user, subscription_id)
            self.group = None
        else:
            self.group = access.get_group(request.user, subscription_id, resource_group_name)
            self.subscription = self.group.subscription

    def authorize(self, request, permission: access.Permission) -> None:
        access.authorize(request.user, permission, self.subscription, self.group.name if self.group else None)

    def in_scope(self, resources):
        """The resources (rows with a resource_group) of the subscription, or of the group."""
        if self.group is not None:
            return resources.filter(resource_group=self.group)
        return resources.filter(resource_group__subscription=self.subscription)
