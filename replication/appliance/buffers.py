"""Buffers of the process server's largest byte strings (an agent's batch body, its ciphertext), kept
between batches. A 16 MiB batch read or encrypted into new memory paid the kernel's page faults and
zeroing for every page; a kept buffer's pages are already there. Only a few are kept idle, so the
appliance's memory stays bounded when a fleet's burst of batches is over."""

from __future__ import annotations

import threading
from contextlib import contextmanager

KEPT_IDLE = 4
# Smaller bodies (a delta cycle's few blocks, the fleet's) are read as they were: lending them a
# 17 MiB buffer would cost more than it saves.
SMALLEST_POOLED = 1024 * 1024


class BufferPool:
    def __init__(self, buffer_bytes: int, kept_idle: int = KEPT_IDLE):
        self.buffer_bytes, self.kept_idle = buffer_bytes, kept_idle
        self.lock = threading.Lock()
        self.idle: list[bytearray] = []

    @contextmanager
    def lend(self, length: int):
        """A writable memoryview of `length` bytes (their content is left over from earlier use), given
        back when the block ends; None when `length` is not worth a buffer or does not fit one."""
        if not SMALLEST_POOLED <= length <= self.buffer_bytes:
            yield None
            return
        with self.lock:
            # By position, not list.remove: that compares the buffers' bytes.
            fitting = [position for position, buffer in enumerate(self.idle) if len(buffer) >= length]
            buffer = self.idle.pop(min(fitting, key=lambda position: len(self.idle[position]))) if fitting else None
        if buffer is None:
            # Sized to the body (rounded up to a power of two), not to the largest batch: a 1 MiB body
            # holds 1 MiB, and several at once hold what their bodies need.
            buffer = bytearray(min(self.buffer_bytes, 1 << (length - 1).bit_length()))
        try:
            yield memoryview(buffer)[:length]
        finally:
            with self.lock:
                if len(self.idle) < self.kept_idle:
                    self.idle.append(buffer)
