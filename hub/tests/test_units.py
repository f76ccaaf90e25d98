import asyncio
import threading
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync

from hub import clock
from hub.channel_layers import ThreadSafeInMemoryChannelLayer
from hub.models import ApiToken, hash_token
from projects.models import User


@pytest.mark.django_db
def test_tokens_are_stored_hashed_and_stop_working_when_revoked():
    user = User.objects.create_user("t@example.com", "x" * 12)
    token, secret = ApiToken.issue(user, "ci")
    assert secret not in (token.token_hash, token.hint) and token.token_hash == hash_token(secret)
    assert ApiToken.authenticate(secret).user == user
    assert ApiToken.authenticate(secret + "x") is None
    token.revoke()
    assert ApiToken.authenticate(secret) is None


@pytest.mark.django_db
def test_the_clock_moves_forward_only():
    before = clock.now()
    later = clock.advance(timedelta(days=5))
    assert later - before >= timedelta(days=5)
    clock.advance(timedelta(days=-3))
    assert clock.now() >= later


def test_the_embedded_layer_delivers_sends_from_another_thread():
    # With the stock in-memory layer the receiving loop is never woken (nothing else runs on it),
    # so the message would not arrive before the join below gives up.
    layer = ThreadSafeInMemoryChannelLayer()
    received = {}

    async def listen():
        channel = await layer.new_channel()
        await layer.group_add("watchers", channel)
        ready.set()
        message = await layer.receive(channel)
        received["message"] = message

    ready = threading.Event()
    listener = threading.Thread(target=lambda: asyncio.run(listen()))
    listener.start()
    ready.wait(5)
    async_to_sync(layer.group_send)("watchers", {"type": "hub.push", "html": "<p id=x></p>"})
    listener.join(5)
    assert received.get("message", {}).get("html") == "<p id=x></p>"
