"""Replicate: turning the wizard's (or the ARM API's) choices into replicating servers.

- `plan.py`: what Replicate is asked (`ReplicationPlan`, a `ServerPlan` per server, `DiskChoice`),
  the `Problem`s found in it and `ReplicationInvalid` that carries them; the automatic VM size and
  an existing item's settings as a plan (`plan_for_item`).
- `rules.py`: `replication_plan_problems`, every choice checked against Azure's VM requirements
  (replication.vm_requirements, replication.sizing) and the project's state.
- `workflows.py`: `replication_enable` (one migration item and one Start replication job per
  server, or nothing), `replication_update` (Manage > Replicating machines, until replication
  starts) and `replication_activate` (Start replication's last task).

Callers import from here, `replication.replicate`; the modules are how it is arranged inside."""

from __future__ import annotations

from replication.replicate.plan import (
    DiskChoice,
    Problem,
    ReplicationInvalid,
    ReplicationPlan,
    ServerPlan,
    auto_vm_size,
    default_os_disk_id,
    plan_for_item,
)
from replication.replicate.rules import replication_plan_problems, server_plan_problems, vm_name_taken
from replication.replicate.workflows import (
    POLICY_NAME,
    replication_activate,
    replication_enable,
    replication_policy,
    replication_update,
)

__all__ = [
    "POLICY_NAME",
    "DiskChoice",
    "Problem",
    "ReplicationInvalid",
    "ReplicationPlan",
    "ServerPlan",
    "auto_vm_size",
    "default_os_disk_id",
    "plan_for_item",
    "replication_activate",
    "replication_enable",
    "replication_plan_problems",
    "replication_policy",
    "replication_update",
    "server_plan_problems",
    "vm_name_taken",
]
