"""Replicate: turning the wizard's (or the ARM API's) choices into replicating servers.

- `plan.py`: what Replicate is asked (`ReplicationPlan`, a `ServerPlan` per server, `DiskChoice`),
  the `Problem`s found in it and `ReplicationInvalid` that carries them; the automatic VM size and
  an existing item's settings as a plan (`plan_for_item`).
- `rules.py`: `replication_plan_problems`, every choice checked against Azure's VM requirements
  (replication.vm_requirements, replication.sizing) and the project's state.
- `workflows.py`: `replication_enable` (one migration item and one Start replication job per
  server, or nothing), `replication_update` (Manage > Replicating machines, until replication
  starts; `refuse_locked_settings` says why) and `replication_activate` (Start replication's last task).

Callers import from here, `replication.replicate`; the modules are how it is arranged inside."""

from __future__ import annotations

from replication.policies import POLICY_NAME, replication_policy
from replication.replicate.plan import (
    DiskChoice,
    Problem,
    ReplicationInvalid,
    ReplicationPlan,
    ServerPlan,
    auto_vm_size,
    default_os_disk_id,
    plan_for_item,
    plan_for_server,
)
from replication.replicate.rules import replication_plan_problems, server_plan_problems, vm_name_taken
from replication.replicate.workflows import (
    refuse_locked_settings,
    replication_activate,
    replication_enable,
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
    "plan_for_server",
    "refuse_locked_settings",
    "replication_activate",
    "replication_enable",
    "replication_plan_problems",
    "replication_policy",
    "replication_update",
    "server_plan_problems",
    "vm_name_taken",
]
