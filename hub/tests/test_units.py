import asyncio
import threading
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model

from hub import clock
from hub.channel_layers import ThreadSafeInMemoryChannelLayer
from hub.models import ApiToken, hash_token


@pytest.mark.django_db
def test_tokens_are_stored_hashed_and_stop_working_when_revoked():
    user = get_user_model().objects.create_user("t@example.com", "x" * 12)
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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5d", timedelta(days=5)),
        ("12h", timedelta(hours=12)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("90m", timedelta(minutes=90)),
    ],
)
def test_durations_parse(text, expected):
    assert clock.parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "5", "5x", "d5", "5d x"])
def test_bad_durations_say_how_to_write_one(text):
    with pytest.raises(ValueError, match="use e.g. 5d"):
        clock.parse_duration(text)


@pytest.mark.django_db
def test_the_clock_endpoint_is_for_staff_only(client):
    from django.core.management import call_command

    call_command("seed_demo", verbosity=0)
    client.login(email="viewer@contoso.com", password="migrate-demo")
    assert client.post("/emulator/clock", {"action": "advance", "duration": "1d"}).status_code == 302
    assert clock.offset() == timedelta(0)
    client.login(email="admin@contoso.com", password="migrate-demo")
    moved = client.post("/emulator/clock", {"action": "advance", "duration": "5d"})
    assert moved.status_code == 200 and moved.json()["offsetSeconds"] == 5 * 86400
    assert (
        client.post("/emulator/clock", {"action": "advance", "duration": "soon"}).json()["error"]["code"]
        == "InvalidDuration"
    )
    page = client.get("/").content.decode()
    assert "Emulated time" in page
    assert client.post("/emulator/clock", {"action": "reset"}).json()["offsetSeconds"] == 0
