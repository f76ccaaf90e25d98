"""What recording a recovery point costs the applying worker: writing a disk's manifest and chunks
(replication/point_manifests.manifest_write) for a whole replica (after a full cycle), then for a
delta of scattered changed blocks, into a local object store; and building a VM disk from the point.

No hub is started: the functions run in this process against a temporary directory, with Django's
settings loaded only for the object store's root.

    .venv/bin/python bench/point_record_cost.py [--size-mib 1024] [--changed-percent 1] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hub.settings")
MIB = 1024 * 1024


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024, choices=range(64, 8193), metavar="64..8192")
    parser.add_argument("--changed-percent", type=float, default=1.0)
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    if not 0.01 <= args.changed_percent <= 20:
        parser.error("--changed-percent must be 0.01 to 20")
    with tempfile.TemporaryDirectory(prefix="migratehub-bench-record-") as workdir:
        os.environ["REPLICATION_DIR"] = workdir
        import django

        django.setup()
        from django.conf import settings

        from replication import point_manifests
        from tests.disk_images import BLOCK, change_blocks, write_realistic_image

        settings.REPLICATION_DIR = Path(workdir)
        point_manifests.store.cache_clear()
        point_manifests.item_prefix = lambda item: "bench/points/item"
        replica = Path(workdir) / "replica.img"
        size = args.size_mib * MIB
        write_realistic_image(replica, size, seed=5)
        item, disk = SimpleNamespace(pk="item"), SimpleNamespace(pk="disk", disk_id="disk0", size_bytes=size)
        os.system("sync")
        started = time.perf_counter()
        whole, stored = point_manifests.manifest_write(item, disk, 1, replica, None, None)
        whole_seconds = time.perf_counter() - started
        count = max(1, round(size // BLOCK * args.changed_percent / 100))
        changed = change_blocks(replica, count, seed=6)
        dirty = {index * BLOCK // point_manifests.CHUNK_BYTES for index in changed}
        started = time.perf_counter()
        delta, delta_stored = point_manifests.manifest_write(item, disk, 2, replica, whole, sorted(dirty))
        delta_seconds = time.perf_counter() - started
        started = time.perf_counter()
        point_manifests.restore(item, delta, Path(workdir) / "vm.vhd", sha256=True)
        restore_seconds = time.perf_counter() - started
        result = {
            "benchmark": "point_record_cost",
            "image_bytes": size,
            "chunk_bytes": point_manifests.CHUNK_BYTES,
            "whole": {"chunks": len(whole.chunks), "stored_bytes": stored, "seconds": round(whole_seconds, 2)},
            "delta": {
                "blocks_changed": count,
                "chunks_read": len(dirty),
                "stored_bytes": delta_stored,
                "seconds": round(delta_seconds, 3),
            },
            "build_vm_disk_seconds": round(restore_seconds, 2),
        }
    print(
        f"{args.size_mib} MiB replica, {result['chunk_bytes'] // 1024} KiB chunks: whole manifest "
        f"{result['whole']['chunks']} chunks, {stored / MIB:.0f} MiB stored in {whole_seconds:.2f} s "
        f"({stored / MIB / whole_seconds:.0f} MiB/s); delta of {count} scattered blocks: {len(dirty)} chunks read, "
        f"{delta_stored / MIB:.1f} MiB stored in {delta_seconds:.3f} s; VM disk built from the point (with its "
        f"SHA-256) in {restore_seconds:.2f} s"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
