"""A page of Replicating machines read as its rows read it: the columns a row shows (monitoring_rows,
status.item_status and the health rules' conditions), in two narrow queries, into plain attribute
holders rather than model instances. Apart from replication.monitoring, which decides when a page may
be read this way (no injected fault's rule can hold) and reads models otherwise."""

from __future__ import annotations

from jobs.models import State
from projects.models import MigrateProject
from replication.models import MigrationItem, ProtectedDisk


class _Listed:
    """Attributes given by name: a listed item's server, appliance, policy or disk."""

    def __init__(self, **values):
        self.__dict__.update(values)


class _ListedJob(_Listed):
    _STATE_LABELS = dict(State.choices)

    def get_state_display(self) -> str:
        return self._STATE_LABELS.get(self.state, self.state)


class _ListedDisks(list):
    def all(self):  # as item.disks.all() gives them
        return self


# What a row of Replicating machines reads of an item (monitoring_rows.row_html, status.item_status and
# the health rules' conditions), by the attribute paths they read: the item's own, then its relations'.
_LISTED_ITEM_FIELDS = (
    "pk",
    "project_id",
    "server_id",
    "appliance_id",
    "policy_id",
    "current_job_id",
    "test_network_id",
    "target_resource_group_id",
    "target_vm_name",
    "migration_state",
    "test_migrate_state",
    "created_at",
    "replication_started_at",
    "initial_replication_completed_at",
    "replication_stopped_at",
    "last_recovery_point_at",
    "last_upload_at",
    "throughput_bytes_per_second",
    "throughput_window_started_at",
    "throughput_window_bytes",
)
_LISTED_RELATED_FIELDS = {
    "server": ("name", "agent_connected", "agent_last_heartbeat_at", "agent_problems", "agent_status"),
    "appliance": ("name", "last_heartbeat_at", "problems"),
    "policy": ("rpo_threshold_minutes",),
    "current_job": ("state", "friendly_name"),
}
_LISTED_DISK_FIELDS = (
    "disk_id",
    "included",
    "size_bytes",
    "scanned_bytes",
    "data_total_bytes",
    "data_scanned_bytes",
    "transferred_bytes",
    "resync_required",
    "resync_reason",
)


def read_listed_rows(ids, project: MigrateProject) -> list[_Listed]:
    """The page's items as their rows read them (see _LISTED_ITEM_FIELDS), in the order of `ids`: the
    columns a row shows in two narrow queries, not each item, server, appliance, policy and disk read
    whole into a model instance (with 50 rows, about two thirds of the CPU a page spent reading them).
    Only while no injected fault's rule can hold (rules_in_force): those read more of an item (its
    target group, its test network), and a page then reads models (monitoring._read_rows, monitoring.list_page)."""
    if not ids:
        return []
    related = list(_LISTED_RELATED_FIELDS.items())
    columns = list(_LISTED_ITEM_FIELDS) + [f"{name}__{field}" for name, fields in related for field in fields]
    disks: dict = {}
    for item_id, *values in (
        ProtectedDisk.objects.filter(item_id__in=ids).order_by().values_list("item_id", *_LISTED_DISK_FIELDS)
    ):
        disks.setdefault(item_id, _ListedDisks()).append(_Listed(**dict(zip(_LISTED_DISK_FIELDS, values, strict=True))))
    by_id = {}
    own = len(_LISTED_ITEM_FIELDS)
    for row in MigrationItem.objects.filter(pk__in=ids).order_by().values_list(*columns):
        item = _Listed(**dict(zip(_LISTED_ITEM_FIELDS, row[:own], strict=True)))
        item.project, item.disks = project, disks.get(item.pk, _ListedDisks())
        start = own
        for name, fields in related:
            values = row[start : start + len(fields)]
            start += len(fields)
            if getattr(item, f"{name}_id") is None:
                setattr(item, name, None)
            else:
                kind = _ListedJob if name == "current_job" else _Listed
                setattr(item, name, kind(pk=getattr(item, f"{name}_id"), **dict(zip(fields, values, strict=True))))
        by_id[item.pk] = item
    return [by_id[pk] for pk in ids if pk in by_id]
