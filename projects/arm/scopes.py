"""The parents of every Azure-side ARM resource: the subscription and, below it, the resource group
the URL names, looked up once as the caller sees them."""

from __future__ import annotations

from hub.arm.views import ArmView
from projects import access


class ScopeView(ArmView):
    """Base of a handler at a subscription or below one of its resource groups. Before the handler
    runs it resolves `self.subscription` and `self.group` (None at subscription scope): 404 for what
    the caller may not see. Handlers take only their own resource's name."""

    def resolve_parents(self, request, subscription_id, resource_group_name=None, **own):
        self.subscription = access.get_subscription(request.user, subscription_id)
        self.group = None
        if resource_group_name is not None:
            self.group = access.get_resource_group(request.user, self.subscription, resource_group_name)

    def in_scope(self, resources):
        """The resources (rows with a resource_group) of the subscription, or of the group."""
        if self.group is not None:
            return resources.filter(resource_group=self.group)
        return resources.filter(resource_group__subscription=self.subscription)
