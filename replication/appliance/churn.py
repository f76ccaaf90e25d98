"""How much changed data the agents send through this process server: bytes per minute over the last
24 hours, and each minute's busiest machine. The heartbeat reports both, and the hub's capacity rule
(Azure's 2 TB a day per appliance, 54 MB/s peak per machine) warns when they are over."""

from __future__ import annotations

import threading
import time

DAY_MINUTES = 24 * 60


class ChurnMeter:
    def __init__(self, clock=time.time):
        self.clock = clock
        self.lock = threading.Lock()
        # minute number -> [bytes that minute, {machine id: bytes that minute}]
        self.minutes: dict[int, list] = {}

    def record(self, machine_id: str, byte_count: int) -> None:
        minute = int(self.clock() // 60)
        with self.lock:
            bucket = self.minutes.get(minute)
            if bucket is None:
                bucket = self.minutes[minute] = [0, {}]
                self._forget_before(minute - DAY_MINUTES + 1)
            bucket[0] += byte_count
            bucket[1][machine_id] = bucket[1].get(machine_id, 0) + byte_count

    def _forget_before(self, first_kept: int) -> None:
        for minute in [minute for minute in self.minutes if minute < first_kept]:
            del self.minutes[minute]

    def summary(self) -> dict:
        """The heartbeat's `load`: changed bytes over the last 24 hours and the highest one-minute average
        rate of any one machine in them (bytes per second)."""
        with self.lock:
            self._forget_before(int(self.clock() // 60) - DAY_MINUTES + 1)
            total = sum(bucket[0] for bucket in self.minutes.values())
            peak = max((max(bucket[1].values()) for bucket in self.minutes.values() if bucket[1]), default=0)
        return {"changedBytesLastDay": total, "peakMachineBytesPerSecond": round(peak / 60, 1)}
