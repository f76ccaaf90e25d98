"""A replicating server's local state: item.json and the per-disk files beside it, under the
replicator's state folder (one replicating server per agent):
  item.json                   the item, its cycles, per disk the next sequence and the checkpoint
  <disk>.hashes-<cycle>.bin   the disk's block hashes as of that completed cycle
  <disk>.journal              (index, hash) of every block acknowledged in the running cycle
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import threading

from agent.blocks import write_atomically

STATE_FILE = "item.json"


def _safe_name(disk_id: str) -> str:
    readable = re.sub(r"[^A-Za-z0-9_.-]", "_", disk_id)[:40]
    return f"{readable}-{hashlib.sha256(disk_id.encode()).hexdigest()[:8]}"


class ItemState:
    """item.json and the per-disk files beside it. Saved whole and atomically; `lock` orders the saves
    of the cycle thread and of the thread checkpointing acknowledged batches."""

    def __init__(self, folder: str):
        self.folder = folder
        self.lock = threading.Lock()
        try:
            with open(os.path.join(folder, STATE_FILE)) as handle:
                self.values = json.load(handle)
        except (OSError, ValueError):
            self.values = {}

    @property
    def exists(self) -> bool:
        return bool(self.values.get("itemId"))

    def save(self) -> None:
        with self.lock:
            os.makedirs(self.folder, exist_ok=True)
            write_atomically(os.path.join(self.folder, STATE_FILE), json.dumps(self.values, indent=1).encode())

    def hashes_path(self, disk_id: str, cycle: int) -> str:
        return os.path.join(self.folder, f"{_safe_name(disk_id)}.hashes-{cycle}.bin")

    def journal_path(self, disk_id: str) -> str:
        return os.path.join(self.folder, f"{_safe_name(disk_id)}.journal")

    def forget_disk(self, disk_id: str) -> None:
        prefix = _safe_name(disk_id) + "."
        for name in os.listdir(self.folder) if os.path.isdir(self.folder) else []:
            if name.startswith(prefix):
                os.unlink(os.path.join(self.folder, name))
        self.values.get("disks", {}).pop(disk_id, None)

    def forget(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        self.values = {}
