"""The fleet simulator: N simulated agents, in one process, registering with an appliance and
heartbeating, each reporting a machine built from a shipped profile (OS, size, disk layout), so a
manager's view fills with realistic servers.

  ./fleet --appliance 127.0.0.1:9443 --passphrase-file pass.txt --count 50 [--duration 600]
          [--replicate [--used-mib 16] [--state-dir fleet-state]]

Simulated agents use the same protocol as real ones; each gets a stable identity from its index,
so running the simulator again updates the same servers instead of adding more. With --replicate,
agents the hub replicates send their disks as synthetic disks with --used-mib MiB in use, through
the same replication engine as a real agent (state per agent under --state-dir); Migrate with
shutdown stops a simulated agent's disks changing and sends its final cycle, as for a real agent (no
shutdown command: there is no workload to stop)."""

from __future__ import annotations

import argparse
import copy
import ipaddress
import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from agent import VERSION, client, disks
from agent.blocks import LEGACY_BATCH_DATA
from agent.replicator import Replicator

PROFILES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "profiles")


def load_profiles(folder: str) -> list[tuple[str, dict]]:
    profiles = []
    for name in sorted(os.listdir(folder)):
        if name.endswith(".json"):
            with open(os.path.join(folder, name)) as handle:
                profiles.append((name[:-5], json.load(handle)))
    if not profiles:
        raise SystemExit(f"No machine profiles (*.json) in {folder}.")
    return profiles


def simulated_machine(index: int, profiles: list[tuple[str, dict]], prefix: str) -> tuple[str, dict]:
    """The index-th machine: profiles in turn, each copy with its own name, identity and address."""
    profile_name, profile = profiles[index % len(profiles)]
    machine = copy.deepcopy(profile)
    machine["hostName"] = f"{prefix}{machine.get('hostName', profile_name)}-{index + 1:04d}"
    address = str(ipaddress.IPv4Address("10.100.0.0") + index + 10)
    for nic in machine.get("nics", []):
        nic["ipAddresses"] = [address]
    return f"fleet-{prefix}{index + 1:05d}", machine


class Fleet:
    def __init__(
        self,
        endpoint: str,
        passphrase: str,
        count: int,
        profiles,
        prefix: str,
        workers: int,
        replicate_used_bytes: int = 0,
        state_dir: str = "fleet-state",
    ):
        self.endpoint, self.passphrase, self.count = client.endpoint(endpoint), passphrase, count
        self.profiles, self.prefix, self.workers = profiles, prefix, workers
        self.agents: dict[str, dict] = {}
        self.machines: dict[str, dict] = {}
        self.replicators: dict[str, Replicator] = {}
        self.replicate_used_bytes, self.state_dir = replicate_used_bytes, state_dir
        self.lock = threading.Lock()
        self.failures: list[str] = []

    def register_one(self, index: int) -> None:
        machine_id, machine = simulated_machine(index, self.profiles, self.prefix)
        body = {"machineId": machine_id, "passphrase": self.passphrase, "agentVersion": VERSION, "machine": machine}
        try:
            registered = client.post(self.endpoint, "/agent-api/v1/register", body)
        except client.ApplianceError as error:
            with self.lock:
                self.failures.append(f"{machine['hostName']}: {error.message}")
            return
        with self.lock:
            self.agents[machine_id] = registered
            self.machines[machine_id] = machine

    def heartbeat_all(self) -> int:
        def beat(registered):
            try:
                answer = client.post(
                    self.endpoint,
                    "/agent-api/v1/heartbeat",
                    {"agentId": registered["agentId"], "secret": registered["secret"]},
                )
            except client.ApplianceError:
                return False
            if self.replicate_used_bytes and "replication" in answer:
                self.replicate(registered, answer["replication"] if isinstance(answer["replication"], dict) else None)
            return True

        with ThreadPoolExecutor(self.workers) as pool:
            return sum(pool.map(beat, list(self.agents.values())))

    def replicate(self, registered: dict, entry: dict | None) -> None:
        """Hand the hub's entry to the agent's replicator, started the first time there is one."""
        machine_id = registered["agentId"]
        with self.lock:
            replicator = self.replicators.get(machine_id)
            if replicator is None and entry is not None:
                specs = [
                    {
                        "diskId": str(disk["diskId"]),
                        "sizeBytes": int(disk["sizeBytes"]),
                        "synthetic": {
                            **disks.default_synthetic(machine_id, str(disk["diskId"]), int(disk["sizeBytes"])),
                            "usedBytes": min(self.replicate_used_bytes, int(disk["sizeBytes"])),
                        },
                    }
                    for disk in self.machines.get(machine_id, {}).get("disks", [])
                ]
                credentials = {"appliance": self.endpoint, **registered}
                replicator = self.replicators[machine_id] = Replicator(
                    os.path.join(self.state_dir, machine_id),
                    machine_id,
                    specs,
                    lambda: credentials,
                    log=lambda line: print(f"{machine_id}: {line}", flush=True),
                    # Hundreds of replicators share this process: 4 MiB batches keep its memory as it was.
                    batch_data_limit=LEGACY_BATCH_DATA,
                )
                replicator.start()
        if replicator is not None:
            replicator.update(entry)

    def register_all(self) -> float:
        started = time.monotonic()
        with ThreadPoolExecutor(self.workers) as pool:
            list(pool.map(self.register_one, range(self.count)))
        return time.monotonic() - started


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="fleet", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--appliance", required=True, help="the appliance's IP (or IP:port)")
    parser.add_argument("--passphrase-file", required=True)
    parser.add_argument("--count", type=int, default=10, help="how many simulated agents (1 to 5000)")
    parser.add_argument("--profiles", default=PROFILES_DIR, help="a folder of machine profiles (*.json)")
    parser.add_argument("--prefix", default="", help="a name prefix, to run several fleets side by side")
    parser.add_argument("--heartbeat-seconds", type=float, default=30)
    parser.add_argument("--duration", type=float, default=0, help="seconds to keep heartbeating (0: register and exit)")
    parser.add_argument("--workers", type=int, default=16, help="concurrent requests to the appliance")
    parser.add_argument("--replicate", action="store_true", help="replicate the servers the hub replicates")
    parser.add_argument("--used-mib", type=int, default=16, help="used space of each synthetic disk (--replicate)")
    parser.add_argument("--state-dir", default="fleet-state", help="where replicating agents keep their state")
    args = parser.parse_args(argv)
    if not 1 <= args.count <= 5000:
        parser.error("--count must be between 1 and 5000")
    with open(args.passphrase_file) as handle:
        passphrase = handle.read().strip()
    fleet = Fleet(
        args.appliance,
        passphrase,
        args.count,
        load_profiles(args.profiles),
        args.prefix,
        args.workers,
        replicate_used_bytes=args.used_mib * 1024 * 1024 if args.replicate else 0,
        state_dir=os.path.abspath(args.state_dir),
    )
    seconds = fleet.register_all()
    print(f"Registered {len(fleet.agents)} of {args.count} simulated agents in {seconds:.1f} s.", flush=True)
    for failure in fleet.failures[:5]:
        print(f"  failed: {failure}", file=sys.stderr)
    deadline = time.monotonic() + args.duration
    while time.monotonic() < deadline:
        time.sleep(min(args.heartbeat_seconds, max(deadline - time.monotonic(), 0)))
        alive = fleet.heartbeat_all()
        print(f"Heartbeats: {alive} of {len(fleet.agents)} connected.", flush=True)
    return 0 if not fleet.failures else 1


if __name__ == "__main__":
    sys.exit(main())
