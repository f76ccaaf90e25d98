"""Buffers kept between batches on the upload path (agent, process server, hub): a reused buffer holds
what the previous batch left, so what is sent or stored must be only the new batch's bytes, and a buffer
something still views is never written over."""

from __future__ import annotations

import asyncio
import base64
import os

import pytest

# The agent and the appliance are on sys.path from replication/tests/conftest.py, which pytest imports first.
from agent import blocks
from agent.disk_cycle import _add_records
from agent.uploader import Batch, RecordBuffers
from appliance.buffers import SMALLEST_POOLED, BufferPool

from hub import asgi


def _records(first: int, data: bytes, hashes: list[bytes], chosen: list[int]) -> bytes:
    """The records the protocol expects, built the plain way."""
    parts = []
    for index in chosen:
        block = data[index * blocks.BLOCK_SIZE : (index + 1) * blocks.BLOCK_SIZE]
        length = 0 if hashes[index] == blocks.NO_HASH else len(block)
        parts.append(blocks.RECORD.pack(first + index, length) + (block if length else b""))
    return b"".join(parts)


def test_records_written_over_a_reused_buffer_are_the_new_batchs_only():
    data = bytearray(os.urandom(10 * blocks.BLOCK_SIZE + 100))  # a short last block
    data[3 * blocks.BLOCK_SIZE : 4 * blocks.BLOCK_SIZE] = bytes(blocks.BLOCK_SIZE)
    hashes = blocks.hash_blocks(data, len(data))
    chosen = [0, 1, 3, 7, 10]  # block 3 is zero: a zero record
    expected = _records(50, bytes(data), hashes, chosen) + _records(90, bytes(data), hashes, [2, 10])

    for leftover in (bytearray(), bytearray(b"\xee" * 3), bytearray(b"\xee" * (1 << 20))):
        batch = Batch(0, leftover)
        _add_records(batch, 50, data, len(data), hashes, chosen)
        _add_records(batch, 90, data, len(data), hashes, [2, 10])
        batch.add(b"")
        assert bytes(batch.body()) == expected
        assert batch.data_bytes == 4 * blocks.BLOCK_SIZE + 200 and batch.block_count == 7


def test_the_agent_keeps_only_buffers_nothing_views():
    pool = RecordBuffers(kept=1)
    viewed, free, extra = bytearray(10), bytearray(10), bytearray(10)
    view = memoryview(viewed)
    pool.give(viewed)
    assert pool.take() is None, "a buffer still viewed could not grow: not kept"
    view.release()
    pool.give(free)
    pool.give(extra)
    assert pool.take() is free and pool.take() is None, "at most `kept` idle"


def test_the_process_server_lends_kept_buffers_for_large_bodies_only():
    pool = BufferPool(2 * SMALLEST_POOLED, kept_idle=1)
    with pool.lend(100) as small:
        assert small is None
    with pool.lend(3 * SMALLEST_POOLED) as too_large:
        assert too_large is None
    with pool.lend(SMALLEST_POOLED + 5) as first:
        assert len(first) == SMALLEST_POOLED + 5
        first[:4] = b"used"
        buffer = first.obj
    with pool.lend(SMALLEST_POOLED) as second:
        assert second.obj is buffer, "given back, then lent again"
        with pool.lend(SMALLEST_POOLED) as third:
            assert third.obj is not buffer, "a lent buffer is not lent twice"
    assert len(pool.idle) == 1


def _receive(chunks: list[bytes]):
    messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]

    async def receive():
        return messages.pop(0)

    return receive


def _pooled(chunks: list[bytes], content_type=b"application/octet-stream", kept=8 << 20):
    length = sum(len(chunk) for chunk in chunks)
    scope = {"headers": [(b"content-type", content_type), (b"content-length", str(length).encode())]}
    return asyncio.run(asgi._read_into_kept_buffer(scope, _receive(chunks), kept))


@pytest.fixture(autouse=True)
def _no_idle_hub_buffers():
    asgi._idle_body_buffers.clear()
    yield
    asgi._idle_body_buffers.clear()


def test_the_hub_copies_a_batch_body_into_a_kept_buffer_and_reuses_it_once_done():
    first_chunks = [os.urandom(65536) for _ in range(24)]
    body = _pooled(first_chunks)
    data = body.read(64 << 20)
    assert isinstance(data, memoryview) and data == b"".join(first_chunks)
    assert body.read() == b"", "read to the end"
    buffer = data.obj
    del data
    body.close()
    assert asgi._idle_body_buffers == [buffer]

    second_chunks = [b"x" * 1_500_000, b"y" * 10]
    second = _pooled(second_chunks)
    head = second.read(4)
    assert head.obj is buffer and head == b"xxxx"
    assert second.read() == b"x" * 1_499_996 + b"y" * 10, "only this body's bytes, not the first's"
    with pytest.raises(ValueError):
        second.close() or second.read()


def test_a_body_still_viewed_when_its_request_ends_is_never_reused():
    """Django closes the body while its request still holds what the view read, and a view thread can
    outlive its request (the client left, the task was cancelled): a kept buffer is written over only
    once nothing views it."""
    body = _pooled([b"a" * (2 << 20)])
    still_read = body.read()
    first_buffer = still_read.obj
    body.close()
    other = _pooled([b"b" * (2 << 20)])
    assert other.read(1).obj is not first_buffer, "another buffer while the first is still viewed"
    assert still_read == b"a" * (2 << 20)
    other.close()
    del still_read
    reused = _pooled([b"c" * (2 << 20)])
    assert reused.read(1).obj is first_buffer, "once nothing views it, it is taken again"


def test_small_json_or_unknown_length_bodies_take_the_usual_path():
    assert _pooled([b"{}" * 600_000], content_type=b"application/json") is None
    assert _pooled([b"a" * 1000]) is None, "under POOLED_BODY_MIN_BYTES"
    assert _pooled([b"a" * (2 << 20)], kept=1 << 20) is None, "over the path's bound: dropped as before"


def test_the_hub_checks_a_batch_a_megabyte_at_a_time_and_refuses_any_changed_byte(monkeypatch):
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from hub.arm.errors import ArmError
    from replication import keyvault, uploads

    key, nonce = os.urandom(32), os.urandom(12)
    monkeypatch.setattr(keyvault, "unwrap_key", lambda project, wrapped: key)
    header = {"itemId": "i", "diskId": "d", "sequence": 7, "wrappedKey": "w", "nonce": base64.b64encode(nonce).decode()}
    plaintext = os.urandom(3 * uploads.VERIFY_PIECE_BYTES + 12345)
    sealed = bytearray(AESGCM(key).encrypt(nonce, plaintext, b"i/d/7"))
    uploads.batch_verify(None, header, memoryview(sealed))
    assert uploads.batch_open(None, header, bytes(sealed)) == plaintext, "the apply still opens it whole"
    for position in (5, 2 * uploads.VERIFY_PIECE_BYTES + 3, len(sealed) - 1):
        changed = bytearray(sealed)
        changed[position] ^= 1
        with pytest.raises(ArmError) as refused:
            uploads.batch_verify(None, header, changed)
        assert refused.value.code == "BatchIntegrityCheckFailed"
    with pytest.raises(ArmError):
        uploads.batch_verify(None, {**header, "sequence": 8}, sealed)  # another batch's associated data
    with pytest.raises(ArmError):
        uploads.batch_verify(None, header, sealed[:10])


def test_a_new_buffer_is_sized_to_its_body_not_to_the_bound():
    """Review, 2026-12-06: a 1 MiB upload took a buffer of the path's whole bound (24 MiB at the hub, 17 at
    the process server), so uploads at once held their bound each, not their bodies."""
    body = _pooled([b"a" * ((1 << 20) + 10)], kept=24 << 20)
    assert len(body.read(1).obj) == 2 << 20, "the body rounded up to a power of two"
    body.close()
    large = _pooled([b"b" * (3 << 20)], kept=24 << 20)
    assert len(large.read(1).obj) == 4 << 20, "an idle buffer too small for the body is not taken"
    large.close()
    small = _pooled([b"c" * (1 << 20)], kept=24 << 20)
    assert len(small.read(1).obj) == 2 << 20, "the smallest idle buffer that fits"

    pool = BufferPool(17 << 20, kept_idle=2)
    with pool.lend(SMALLEST_POOLED + 1) as lent:
        assert len(lent.obj) == 2 * SMALLEST_POOLED
    with pool.lend(16 << 20) as lent:
        assert len(lent.obj) == 16 << 20
    with pool.lend(SMALLEST_POOLED) as lent:
        assert len(lent.obj) == 2 * SMALLEST_POOLED, "the smallest idle buffer that fits"
