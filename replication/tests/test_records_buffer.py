"""A batch's records are decompressed into one buffer an apply task reuses (apply_records.RecordsBuffer):
each batch comes out whole and exact whatever came before it, and a bad frame is refused as before."""

from __future__ import annotations

import os

import pytest
import zstandard

from replication.apply_records import MAX_RECORDS_BYTES, RecordsBuffer


def frame(data: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=1).compress(data)


def test_batches_of_changing_sizes_come_out_exact_and_share_one_buffer():
    buffer = RecordsBuffer()
    sizes = [1 << 20, (1 << 20) - 4108, 1 << 20, (1 << 20) + 8216, 700 * 1024]
    shared = None
    for number, size in enumerate(sizes):
        data = os.urandom(size // 2) + bytes(size - size // 2)
        records = buffer.decompress(frame(data))
        assert bytes(records) == data, number
        if size >= (1 << 20) - 4108:  # not less than half the last: the same allocation, resized
            shared = shared or records
            assert records is shared
    assert buffer.decompress(frame(b"")) == b""


def test_a_batch_far_smaller_than_the_buffer_gets_its_own_bytes():
    buffer = RecordsBuffer()
    big = buffer.decompress(frame(bytes(1 << 20)))
    small = buffer.decompress(frame(b"x" * 1000))
    assert small == b"x" * 1000 and small is not big and len(big) == 1 << 20


def test_a_frame_without_a_declared_size_is_decompressed_as_before():
    data = os.urandom(5000)
    streamed = zstandard.ZstdCompressor(level=1, write_content_size=False).compressobj()
    compressed = streamed.compress(data) + streamed.flush()
    assert zstandard.frame_content_size(compressed) == -1
    assert RecordsBuffer().decompress(compressed) == data


def test_a_view_still_held_of_the_last_records_does_not_stop_the_next_batch():
    buffer = RecordsBuffer()
    first = buffer.decompress(frame(b"a" * 10000))
    held = memoryview(first)
    second = buffer.decompress(frame(b"b" * 8000))
    assert second == b"b" * 8000 and held.tobytes() == b"a" * 10000


@pytest.mark.parametrize(
    "compressed",
    [
        frame(b"z" * 10000)[:-5],  # cut short
        b"\x28\xb5\x2f\xfd" + bytes(20),  # a zstd magic number, then garbage
    ],
)
def test_a_corrupt_frame_raises_zstd_error(compressed):
    buffer = RecordsBuffer()
    buffer.decompress(frame(b"q" * 20000))
    with pytest.raises(zstandard.ZstdError):
        buffer.decompress(compressed)


def test_a_frame_declaring_more_than_a_batch_may_hold_is_refused():
    compressed = frame(bytes(MAX_RECORDS_BYTES + 1))
    with pytest.raises(zstandard.ZstdError):
        RecordsBuffer().decompress(compressed)
