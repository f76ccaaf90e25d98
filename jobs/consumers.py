from __future__ import annotations

import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from hub import scopes
from jobs import push

# How long a socket trusts what it last read of its user's roles; a revoked role or a deactivated
# user stops receiving within this time. New subscriptions are joined on the next page load.
SCOPES_TTL_SECONDS = 5


class LiveConsumer(AsyncWebsocketConsumer):
    """One socket per portal page: the user's notifications and the jobs of what they may see."""

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close()
            return
        self.visible = await database_sync_to_async(_visible_scopes)(user)
        self.visible_read_at = time.monotonic()
        self.groups_joined = [push.user_group(user.pk)]
        self.groups_joined += [push.subscription_group(sub) for sub in {sub for sub, _ in self.visible}]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def hub_push(self, event):
        if time.monotonic() - self.visible_read_at > SCOPES_TTL_SECONDS:
            self.visible = await database_sync_to_async(_visible_scopes)(self.scope["user"])
            self.visible_read_at = time.monotonic()
        subscription_id = event.get("subscription_id")
        if subscription_id and not self._may_see(subscription_id, event.get("resource_group_name", "")):
            return
        await self.send(text_data=event["html"])

    def _may_see(self, subscription_id: str, resource_group_name: str) -> bool:
        return scopes.may_see(self.visible, subscription_id, resource_group_name)


def _visible_scopes(user) -> set[tuple[str, str | None]]:
    """Read fresh from the database (an inactive user sees nothing)."""
    scopes.forget_visible_scopes(user)
    return scopes.visible_scopes(user)
