"""The contract of hub/object_store.py: the same cases against every backend (the local folder, Azure
Blob Storage through Azurite, S3 through moto's server), so a caller never learns which one it has."""

import os
import threading
import uuid

import pytest

from hub import object_store
from hub.object_store import LocalStore, ObjectMissing, put_range, put_ranges, split_name


@pytest.fixture(params=["local", "azure", "s3"])
def backend(request, tmp_path):
    if request.param == "local":
        return LocalStore(tmp_path)
    if request.param == "s3":
        return request.getfixturevalue("moto_s3").store()
    from hub.object_store_azure import AzureBlobStore

    return AzureBlobStore(request.getfixturevalue("azurite").connection_string)


@pytest.fixture
def container():
    """A container of this test's own (Azurite is shared by the test worker's session)."""
    return f"c{uuid.uuid4().hex[:12]}"


def test_put_get_ranges_and_size(backend, container):
    name = f"{container}/item/disk/000001.batch"
    backend.put(name, b"0123456789")
    assert backend.get(name) == b"0123456789"
    assert backend.get(name, 3, 4) == b"3456"
    assert backend.get(name, 0, 4) == b"0123"  # a pack's first slot
    assert backend.get(name, 7) == b"789"
    assert backend.get(name, 8, 100) == b"89"
    assert backend.get(name, 10) == b""
    assert backend.get(name, 2, 0) == b""
    assert backend.size(name) == 10
    assert backend.exists(name)


def test_memoryview_and_large_objects_round_trip(backend, container):
    data = bytes(range(256)) * (5 * 4096 + 3)  # a little over 5 MiB: past one upload request's worth
    backend.put(f"{container}/big", memoryview(data)[1:])
    assert backend.size(f"{container}/big") == len(data) - 1
    assert backend.get(f"{container}/big", 4 * 1024 * 1024, 1000) == data[4 * 1024 * 1024 + 1 :][:1000]


def test_a_range_of_an_open_file_is_put_as_its_bytes(backend, container, tmp_path):
    data = os.urandom(200_000)
    (tmp_path / "replica.img").write_bytes(data)
    with open(tmp_path / "replica.img", "rb") as source:
        put_range(backend, f"{container}/chunk", source.fileno(), 65_536, 70_000)
        with pytest.raises(ValueError):  # past the file's end: nothing short is stored
            put_range(backend, f"{container}/short", source.fileno(), 190_000, 65_536)
    assert backend.get(f"{container}/chunk") == data[65_536 : 65_536 + 70_000]


def test_ranges_of_an_open_file_are_put_joined_as_one_object(backend, container, tmp_path):
    data = os.urandom(300_000)
    (tmp_path / "replica.img").write_bytes(data)
    ranges = [(65_536, 65_536), (0, 1000), (200_000, 99_000)]
    with open(tmp_path / "replica.img", "rb") as source:
        put_ranges(backend, f"{container}/pack", source.fileno(), ranges)
        with pytest.raises(ValueError):  # a range past the file's end: nothing is stored
            put_ranges(backend, f"{container}/short", source.fileno(), [(0, 10), (290_000, 65_536)])
    assert backend.get(f"{container}/pack") == b"".join(data[offset : offset + length] for offset, length in ranges)
    assert not backend.exists(f"{container}/short")


def test_a_local_range_put_reads_and_writes_where_the_kernel_cannot_copy(tmp_path, monkeypatch):
    def refused(*args):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(object_store.os, "copy_file_range", refused)
    data = os.urandom(100_000)
    (tmp_path / "replica.img").write_bytes(data)
    local = LocalStore(tmp_path / "store")
    with open(tmp_path / "replica.img", "rb") as source:
        local.put_range("c/chunk", source.fileno(), 1000, 90_000)
    assert local.get("c/chunk") == data[1000:91_000]


def test_missing_objects_raise_object_missing(backend, container):
    with pytest.raises(ObjectMissing):
        backend.get(f"{container}/nothing")
    with pytest.raises(ObjectMissing):
        backend.get(f"{container}/nothing", 5, 10)
    with pytest.raises(ObjectMissing):
        backend.size(f"{container}/nothing")
    assert not backend.exists(f"{container}/nothing")
    backend.delete(f"{container}/nothing")  # deleting what is gone is not an error
    backend.put(f"{container}/there", b"x")
    backend.delete(f"{container}/there")
    assert not backend.exists(f"{container}/there")
    with pytest.raises(ObjectMissing):
        backend.get(f"{container}/there")


def test_names_lists_a_prefix_in_order(backend, container):
    other = f"{container}x"
    for name in ("a/2", "a/1", "b/1", "a/10/x"):
        backend.put(f"{container}/{name}", b"x")
    backend.put(f"{other}/a/1", b"x")
    assert list(backend.names(f"{container}/a/")) == [f"{container}/a/1", f"{container}/a/10/x", f"{container}/a/2"]
    assert list(backend.names(f"{container}/")) == [
        *(f"{container}/a/1", f"{container}/a/10/x", f"{container}/a/2", f"{container}/b/1"),
    ]
    assert list(backend.names(f"{container}/nothing/")) == []
    assert list(backend.names(f"{container}/a/1")) == [f"{container}/a/1", f"{container}/a/10/x"]
    assert backend.containers(container) == [container, other]
    backend.delete_container(container)
    assert list(backend.names(f"{container}/")) == []
    assert list(backend.names(f"{other}/")) == [f"{other}/a/1"]
    backend.delete_container(container)  # twice is no error
    backend.delete_container(other)


def test_put_replaces_whole_objects(backend, container):
    backend.put(f"{container}/x", b"old")
    backend.put(f"{container}/x", b"new!")
    assert backend.get(f"{container}/x") == b"new!"


def test_racing_writers_each_leave_a_whole_object(backend, container):
    """Two uploads of one name (a resend racing the first): the object is one of them, whole."""
    versions = [bytes([n]) * (256 * 1024 + n) for n in (1, 2)]
    threads = [threading.Thread(target=backend.put, args=(f"{container}/raced", data)) for data in versions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert backend.get(f"{container}/raced") in versions


def test_local_partial_writes_are_not_listed(tmp_path):
    local = LocalStore(tmp_path)
    local.put("c/a/1", b"x")
    (tmp_path / "c" / "a" / ".3.abcd.partial").write_bytes(b"half")
    assert list(local.names("c/a/")) == ["c/a/1"]


@pytest.mark.parametrize("name", ["nocontainer", "/abs/x", "c/../../etc/passwd", "c/"])
def test_names_that_climb_out_or_lack_a_container_are_refused(backend, name):
    with pytest.raises(ValueError):
        backend.exists(name)
    with pytest.raises(ValueError):
        split_name(name)


def test_batched_writes_leave_whole_objects_and_sync_once_at_the_end(tmp_path, monkeypatch):
    from hub import object_store

    local = object_store.LocalStore(tmp_path)
    synced = []
    monkeypatch.setattr(local, "_sync_filesystem", lambda: synced.append(True))
    with object_store.batched_writes(local):
        for index in range(3):
            local.put(f"c/chunks/{index}", bytes([index]) * 10)
        assert not synced
    assert synced == [True]
    assert [local.get(f"c/chunks/{index}") for index in range(3)] == [bytes([i]) * 10 for i in range(3)]
    monkeypatch.undo()
    with object_store.batched_writes(local):  # the real syncfs(2) (or os.sync) runs
        local.put("c/x", b"y")
    assert local.get("c/x") == b"y"
