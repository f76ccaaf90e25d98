"""The embedded channel layer.

Channels' InMemoryChannelLayer keeps asyncio queues bound to the event loop that reads them (daphne's).
The embedded Celery worker runs in another thread with its own loop; a send from there would wait for
daphne's loop to wake up by chance. Sends are handed to the receiving loop instead.
"""

from __future__ import annotations

import asyncio

from channels.layers import InMemoryChannelLayer


class ThreadSafeInMemoryChannelLayer(InMemoryChannelLayer):
    _receiving_loop: asyncio.AbstractEventLoop | None = None

    async def receive(self, channel):
        self._receiving_loop = asyncio.get_running_loop()
        return await super().receive(channel)

    async def send(self, channel, message):
        await self._on_receiving_loop(super().send(channel, message))

    async def group_send(self, group, message):
        await self._on_receiving_loop(super().group_send(group, message))

    async def _on_receiving_loop(self, coroutine):
        loop = self._receiving_loop
        if loop is None or loop is asyncio.get_running_loop() or loop.is_closed():
            await coroutine
            return
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, loop))
