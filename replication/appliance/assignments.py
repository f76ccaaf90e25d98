"""What the hub replicates through this appliance, as its heartbeat answers say: one entry per
replicating server (docs/replication-protocol.md). Agents get their own entry with each heartbeat;
the process server accepts batches only for an agent's own item and disks."""

from __future__ import annotations

import threading

from appliance import state


class ReplicationAssignments:
    def __init__(self, home: str):
        self.home = home
        self.lock = threading.Lock()
        self.entries = state.load_replication(home)
        self.by_machine = self._index(self.entries)

    @staticmethod
    def _index(entries: list[dict]) -> dict[str, dict]:
        return {str(entry["machineId"]): entry for entry in entries if entry.get("machineId") and entry.get("itemId")}

    def replace(self, entries: list) -> None:
        """The hub's latest list; kept on disk when it changed."""
        entries = [entry for entry in entries if isinstance(entry, dict)]
        with self.lock:
            if entries == self.entries:
                return
            self.entries, self.by_machine = entries, self._index(entries)
            state.save_replication(self.home, entries)

    def entry_for(self, machine_id: str) -> dict | None:
        with self.lock:
            return self.by_machine.get(machine_id)
