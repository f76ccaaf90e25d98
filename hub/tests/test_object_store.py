import pytest

from hub.object_store import LocalStore, ObjectMissing, split_name


@pytest.fixture
def local(tmp_path):
    return LocalStore(tmp_path)


def test_put_get_ranges_and_size(local):
    local.put("cache-1/item/disk/000001.batch", b"0123456789")
    assert local.get("cache-1/item/disk/000001.batch") == b"0123456789"
    assert local.get("cache-1/item/disk/000001.batch", 3, 4) == b"3456"
    assert local.size("cache-1/item/disk/000001.batch") == 10
    assert local.exists("cache-1/item/disk/000001.batch")


def test_missing_objects_raise_object_missing(local):
    with pytest.raises(ObjectMissing):
        local.get("cache-1/nothing")
    with pytest.raises(ObjectMissing):
        local.size("cache-1/nothing")
    local.delete("cache-1/nothing")  # deleting what is gone is not an error


def test_names_lists_a_prefix_in_order_without_partial_writes(local, tmp_path):
    for name in ("c/a/2", "c/a/1", "c/b/1", "d/a/1"):
        local.put(name, b"x")
    (tmp_path / "c" / "a" / ".3.abcd.partial").write_bytes(b"half")
    assert list(local.names("c/a/")) == ["c/a/1", "c/a/2"]
    assert list(local.names("c/")) == ["c/a/1", "c/a/2", "c/b/1"]
    local.delete_container("c")
    assert list(local.names("c/")) == []


def test_put_replaces_whole_objects(local):
    local.put("c/x", b"old")
    local.put("c/x", b"new!")
    assert local.get("c/x") == b"new!"


@pytest.mark.parametrize("name", ["nocontainer", "/abs/x", "c/../../etc/passwd", "c/"])
def test_names_that_climb_out_or_lack_a_container_are_refused(name):
    with pytest.raises(ValueError):
        split_name(name)
