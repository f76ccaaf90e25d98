"""Faults the hub injected, as its heartbeat answers list them (the hub's replication.fault_wire): the
appliance acts on its own (cut off from the hub, an upload cap, a flapping link) and hands each agent its
own with the agent's heartbeat answer. A fault the next answer no longer lists is over: behaviour is
normal again at once.

applianceOffline: the appliance behaves as cut off from the hub. It stops heartbeating and uploading;
agents' batches are answered 503 (their uploader keeps them and retries, so their data queues on the
source), registrations are refused (discovery stops). It keeps only a probe to the hub, one small request
per heartbeat interval that records nothing there, to learn when the fault ends: a real outage would
end with the network coming back; a fault ends when the hub says so, including a clear before its end."""

from __future__ import annotations

import random
import threading
import time

APPLIANCE_KINDS = ("applianceOffline", "uploadBandwidthCap", "linkFlapping")


def strikes(fault: dict) -> bool:
    """Whether this occurrence is hit, by the fault's probability (1: always)."""
    probability = fault.get("probability", 1)
    if not isinstance(probability, int | float) or probability >= 1:
        return True
    return random.random() < probability  # noqa: S311 (not security)


class FaultsInForce:
    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.lock = threading.Lock()
        self.own: dict[str, dict] = {}  # kind -> fault
        self.agents: dict[str, list] = {}
        self.first_seen: dict[str, float] = {}  # fault id -> when this appliance first saw it (flapping's phase)
        self.failed_uploads = 0  # while the link flaps: what the hub is told

    def replace(self, answer) -> None:
        """The `faults` of a heartbeat or probe answer; an answer without them means none."""
        answer = answer if isinstance(answer, dict) else {}
        own = [f for f in answer.get("appliance") or [] if isinstance(f, dict) and f.get("kind") in APPLIANCE_KINDS]
        agents = answer.get("agents") if isinstance(answer.get("agents"), dict) else {}
        now = self.clock()
        with self.lock:
            self.own = {fault["kind"]: fault for fault in own}
            self.agents = {
                str(k): [f for f in v if isinstance(f, dict)] for k, v in agents.items() if isinstance(v, list)
            }
            ids = {str(fault.get("id")) for fault in own}
            self.first_seen = {i: self.first_seen.get(i, now) for i in ids}
            if "linkFlapping" not in self.own:
                self.failed_uploads = 0

    def _get(self, kind: str) -> dict | None:
        with self.lock:
            return self.own.get(kind)

    def offline(self) -> bool:
        fault = self._get("applianceOffline")
        return fault is not None and strikes(fault)

    def upload_cap_bytes_per_second(self) -> float:
        """The injected cap (0: none), in bytes per second from the fault's Mbps."""
        fault = self._get("uploadBandwidthCap")
        if fault is None:
            return 0.0
        mbps = (fault.get("parameters") or {}).get("mbps")
        return float(mbps) * 1_000_000 / 8 if isinstance(mbps, int | float) and mbps > 0 else 0.0

    def upload_cap_for_upload(self):
        """The cap one upload waits under (a callable, as UploadThrottle.wait_for takes it): the injected
        cap when this upload is struck, by the fault's probability; no cap when it is spared."""
        fault = self._get("uploadBandwidthCap")
        if fault is None or strikes(fault):
            return self.upload_cap_bytes_per_second
        return lambda: 0.0

    def link_down(self) -> bool:
        """Whether a flapping link is in its down part now: up for upSeconds, then down for downSeconds,
        from when this appliance first saw the fault."""
        fault = self._get("linkFlapping")
        if fault is None:
            return False
        parameters = fault.get("parameters") or {}
        up, down = float(parameters.get("upSeconds") or 10), float(parameters.get("downSeconds") or 10)
        with self.lock:
            started = self.first_seen.get(str(fault.get("id")), self.clock())
        return (self.clock() - started) % (up + down) >= up and strikes(fault)

    def upload_failed(self) -> None:
        with self.lock:
            self.failed_uploads += 1

    def for_agent(self, machine_id: str) -> list[dict]:
        with self.lock:
            return list(self.agents.get(machine_id, []))

    def problems(self) -> dict:
        """What the process server reports going wrong in itself (health error code -> details)."""
        problems = {}
        cap = self.upload_cap_bytes_per_second()
        if cap:
            problems["ProcessServerUploadCapped"] = {"mbps": round(cap * 8 / 1_000_000, 3)}
        with self.lock:
            flapping, failed = "linkFlapping" in self.own, self.failed_uploads
        if flapping and failed:
            problems["ProcessServerLinkFlapping"] = {"failedUploads": failed}
        return problems
