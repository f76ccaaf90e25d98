"""The hub web process's cost per batch upload, in process: CPU (time.process_time) and SQL statements
per upload, through the hub's own ASGI application (hub.asgi: body receive, middleware, URL resolution,
the view, batch_store), not over a socket. Run with pytest (it needs the test database):

    DATABASE_URL=... REDIS_URL=... ./scripts/run-tests -p no:cacheprovider bench/upload_view_cost.py -s

Each size (4 MiB and 16 MiB of block data, content like the realistic image's mixture of text, records
and random bytes, compressed and encrypted as the process server does) is uploaded `UPLOADS` times to a
disk whose apply lease a "worker" holds (the steady state of a replication: an upload flags the holder
rather than queueing a task); the best of 3 rounds is printed, per upload and per MiB of block data.
Measures, asserts nothing."""

from __future__ import annotations

import asyncio
import os
import random
import time

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from replication import apply_lease
from replication.models import ProtectedDisk
from replication.tests.conftest import MIB, finalized_appliance_and_credential, replicating_item
from replication.tests.test_data_path import ProcessServer

pytestmark = pytest.mark.django_db(transaction=True)

UPLOADS = 24
ROUNDS = 3
BLOCK = 4096
CHUNK = 64 * 1024  # what uvicorn hands the application per body message, about


def realistic_records(data_bytes: int, seed: int) -> bytes:
    """Records of 4 KiB blocks: a third text-like, a third record-like, a third random."""
    rng = random.Random(seed)
    words = [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz ") for _ in range(rng.randint(3, 9))) for _ in range(300)]
    out = bytearray()
    for index in range(data_bytes // BLOCK):
        kind = index % 3
        if kind == 0:
            block = b" ".join(rng.choice(words) for _ in range(900))[:BLOCK].ljust(BLOCK, b".")
        elif kind == 1:
            block = b"".join(
                rng.randrange(1 << 32).to_bytes(4, "little")
                + bytes(12)
                + b"record-%08d" % rng.randrange(10**8)
                + bytes(4)
                for _ in range(BLOCK // 32)
            )
        else:
            block = rng.randbytes(BLOCK)
        out += index.to_bytes(8, "little") + BLOCK.to_bytes(4, "little") + block
    return bytes(out)


def asgi_post(application, path: str, body: bytes, credential: str) -> int:
    """POST body through the ASGI application as uvicorn would, in 64 KiB messages; the status."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/octet-stream"),
            (b"content-length", str(len(body)).encode()),
            (b"authorization", f"Appliance {credential}".encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    view = memoryview(body)
    pieces = [view[start : start + CHUNK] for start in range(0, len(body), CHUNK)] or [b""]
    sent = {"status": None}
    position = 0
    done = asyncio.Event()

    async def receive():
        nonlocal position
        if position < len(pieces):
            piece = bytes(pieces[position])
            position += 1
            return {"type": "http.request", "body": piece, "more_body": position < len(pieces)}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        if message["type"] == "http.response.start":
            sent["status"] = message["status"]
        elif message["type"] == "http.response.body" and not message.get("more_body"):
            done.set()

    async def call():
        await application(scope, receive, send)

    asyncio.run(call())
    return sent["status"]


@pytest.mark.parametrize("data_mib", [4, 16])
def test_upload_cost(settings, tmp_path, django_capture_on_commit_callbacks, data_mib):
    from hub.asgi import application

    settings.REPLICATION_DIR = tmp_path / "replication"
    item = replicating_item(django_capture_on_commit_callbacks, "uploadcost", (4096 * MIB, MIB))
    appliance, credential = finalized_appliance_and_credential(item.project, "appliance-cost")
    item.appliance = appliance
    item.save(update_fields=["appliance"])
    ps = ProcessServer(item.project)
    payload = realistic_records(data_mib * MIB, seed=data_mib)
    path = f"/appliance-api/v1/appliances/{appliance.pk}/replication/batches"
    sequence = 0
    results = []
    for _ in range(ROUNDS):
        bodies = []
        for _ in range(UPLOADS):
            sequence += 1
            bodies.append(ps.body(item, "disk0", sequence, 1, payload, full=True, scanned=sequence * data_mib * MIB))
        assert apply_lease.lease_take(item.pk, "bench-holder")
        connections.close_all()
        started = time.process_time()
        for body in bodies:
            assert asgi_post(application, path, body, credential) == 201
        results.append((time.process_time() - started) / UPLOADS)

    with CaptureQueriesContext(connection) as queries:
        sequence += 1
        body = ps.body(item, "disk0", sequence, 1, payload, full=True, scanned=sequence * data_mib * MIB)
        from replication import uploads

        uploads.batch_store(appliance, body)
    best = min(results)
    print(
        f"\n{data_mib} MiB of block data, {len(bodies[0]) / MIB:.2f} MiB on the wire: best of {ROUNDS} rounds of "
        f"{UPLOADS} uploads {best * 1000:.2f} ms CPU per upload ({best * 1000 / data_mib:.2f} ms per MiB of data); "
        f"rounds {', '.join(f'{value * 1000:.2f}' for value in results)} ms; "
        f"{len(queries)} statements in batch_store; load {os.getloadavg()[0]:.1f}"
    )
    assert ProtectedDisk.objects.get(item=item, disk_id="disk0").stored_sequence == sequence


def test_progress_push_cost(settings, tmp_path, django_capture_on_commit_callbacks):
    """What one progress push (replication/push.py) costs, by part: best of 5, CPU ms."""
    from django.template.loader import render_to_string

    from hub import clock
    from replication import monitoring, push
    from replication.selectors import server_migration_counts

    settings.REPLICATION_DIR = tmp_path / "replication"
    item = replicating_item(django_capture_on_commit_callbacks, "pushcost", (4096 * MIB, MIB))
    project = item.project

    def best(call):
        times = []
        for _ in range(5):
            started = time.process_time()
            call()
            times.append(time.process_time() - started)
        return min(times) * 1000

    now = clock.now()
    parts = {
        "whole push (item_changed)": lambda: push.item_changed(item.pk),
        "progress push (item_progress)": lambda: getattr(push, "item_progress", push.item_changed)(item.pk),
        "counts": lambda: render_to_string(
            "projects/_server_migration_counts.html",
            {"project": project, "counts": server_migration_counts(project, now)},
        ),
        "health summary": lambda: monitoring.health_summary(project, now),
        "transfer chart": lambda: monitoring.transfer_chart(project, now),
    }
    lines = [f"{name}: {best(call):.2f} ms" for name, call in parts.items()]
    print("\nprogress push, CPU per part (best of 5): " + "; ".join(lines) + f"; load {os.getloadavg()[0]:.1f}")
