"""A stored batch whose records lie outside the disk (a block past its end, a length past the block's
or the batch's) is skipped and the disk resent in full, like an unreadable one: it must not fail every
apply of the item."""

from __future__ import annotations

import struct

import pytest

from replication import uploads
from replication.tests.encoder import MIB, ProcessServer, apply

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "payload",
    [
        struct.pack("<QI", MIB // 4096, 0),  # the block just past the 1 MiB disk's end
        struct.pack("<QI", 2**64 - 1, 0),  # the largest block number the record can carry
        struct.pack("<QI", 3, 5000) + b"x" * 5000,  # longer than a block
        struct.pack("<QI", 3, 4096) + b"x" * 10,  # longer than what the batch holds
        struct.pack("<QI", 3, 0)[:7],  # a record cut short
    ],
    ids=["past-the-end", "largest-block-number", "longer-than-a-block", "longer-than-the-batch", "cut-short"],
)
def test_records_outside_the_disk_resend_it_instead_of_failing_the_apply(replicating, payload):
    item = replicating
    uploads.batch_store(item.appliance, ProcessServer(item.project).body(item, "disk0", 1, 1, payload, full=True))
    apply(item)  # does not raise
    disk = item.disks.get(disk_id="disk0")
    assert disk.resync_required and disk.applied_sequence == 1
