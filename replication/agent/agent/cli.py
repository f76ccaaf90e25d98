"""The agent's commands, behind the tutorial's scripts:

  ./install -r MS -q [-d PREFIX]                                  (Linux installer)
  UnifiedAgentConfigurator.sh -i <appliance IP> -P <passphrase file> [-S <machine profile>]
                              [--shutdown-command "<command>"]
  UnifiedAgent.exe /Role "MS" /Silent [/InstallLocation PREFIX]  (Windows installer, rehearsed on Linux)
  UnifiedAgentConfigurator.exe /CSEndPoint <ip> /PassphraseFilePath <file>
  svagents [--foreground]                                          (the service: heartbeats, replication)

Installing copies the agent into PREFIX/Vx (default /usr/local/ASR, or any folder, so it can run
unprivileged). Configuring registers the machine with the appliance and starts the service. Once
the hub replicates the machine, the service replicates its disks to the appliance's process server
(docs/replication-protocol.md), keeping its state in Vx/var/replication; AGENT_CYCLE_SECONDS (or
--cycle-seconds when configuring) overrides the policy's cycle interval, for rehearsals.

Migrate with shutdown: the service runs the shutdown command (--shutdown-command when configuring,
else AGENT_SHUTDOWN_COMMAND) once, then sends the final sync. The command should stop what writes to
the disks (services, or the file systems' writers), not power the machine off: the service must still
run to send the final changes. With no command, the source's owner stops it."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

from agent import VERSION, client, inventory
from agent.faults import FAULTS
from agent.replicator import Replicator

DEFAULT_PREFIX = "/usr/local/ASR"
STATE_FILE = "drscout.json"


def _vx(prefix: str) -> str:
    return os.path.join(os.path.abspath(prefix), "Vx")


def _here() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def install(prefix: str, role: str, quiet: bool) -> int:
    if role.upper() != "MS":
        print(f"Role {role!r} is not supported: use MS (Mobility service).", file=sys.stderr)
        return 2
    vx = _vx(prefix)
    for folder in ("bin", "lib/agent", "etc", "var"):
        os.makedirs(os.path.join(vx, folder), exist_ok=True)
    for name in os.listdir(os.path.join(_here(), "agent")):
        if name.endswith(".py"):
            shutil.copy2(os.path.join(_here(), "agent", name), os.path.join(vx, "lib", "agent", name))
    launcher = '#!/bin/sh\nPYTHONPATH="$(dirname "$0")/../lib" exec python3 -m agent.cli {command} "$@"\n'
    windows_launcher = (
        "#!/usr/bin/env python3\nimport os, sys\n"
        "sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))\n"
        "from agent.cli import main\nsys.exit(main(['configure-windows', *sys.argv[1:]]))\n"
    )
    for script, text in (
        ("UnifiedAgentConfigurator.sh", launcher.format(command="configure")),
        ("svagents", launcher.format(command="service")),
        ("UnifiedAgentConfigurator.exe", windows_launcher),
    ):
        path = os.path.join(vx, "bin", script)
        with open(path, "w") as handle:
            handle.write(text)
        os.chmod(path, 0o755)
    if not quiet:
        print(f"Mobility service {VERSION} installed in {vx}.")
    print(f"Next: {os.path.join(vx, 'bin', 'UnifiedAgentConfigurator.sh')} -i <appliance IP> -P <passphrase file>")
    return 0


def _vx_root() -> str:
    """Installed: PREFIX/Vx (this file is in Vx/lib/agent). Unpacked installer: its own folder."""
    base = _here()
    root = os.path.dirname(base) if os.path.basename(base) == "lib" else base
    for folder in ("etc", "var"):
        os.makedirs(os.path.join(root, folder), exist_ok=True)
    return root


def _state_path() -> str:
    return os.path.join(_vx_root(), "etc", STATE_FILE)


def _load_state() -> dict:
    try:
        with open(_state_path()) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {}


def _save_state(values: dict) -> None:
    path = _state_path()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(values, handle, indent=2)


def configure(
    endpoint_address: str,
    passphrase_file: str,
    profile: str | None,
    start_service: bool,
    heartbeat_seconds: float,
    cycle_seconds: float | None = None,
    shutdown_command: str | None = None,
) -> int:
    try:
        with open(passphrase_file) as handle:
            passphrase = handle.read().strip()
    except OSError as error:
        print(f"Cannot read the passphrase file {passphrase_file}: {error.strerror}.", file=sys.stderr)
        return 2
    machine_id, machine = inventory.profile_machine(profile) if profile else inventory.real_machine()
    try:
        machine, disks = inventory.disk_sources(machine, profile)
    except ValueError as error:
        print(f"The machine profile {profile} names a disk that cannot be read. {error}", file=sys.stderr)
        return 2
    base_url = client.endpoint(endpoint_address)
    try:
        registered = client.post(
            base_url,
            "/agent-api/v1/register",
            {"machineId": machine_id, "passphrase": passphrase, "agentVersion": VERSION, "machine": machine},
        )
    except client.ApplianceError as error:
        print(f"Registration with the appliance failed: {error.message}", file=sys.stderr)
        return 1
    _save_state(
        {
            "appliance": base_url,
            "agentId": registered["agentId"],
            "secret": registered["secret"],
            "serverId": registered["serverId"],
            "configurationServerId": registered.get("configurationServerId"),
            "heartbeatSeconds": heartbeat_seconds,
            "cycleSeconds": cycle_seconds,
            "shutdownCommand": shutdown_command or None,
            "status": "Connected",
            "machineId": machine_id,
            "disks": disks,
        }
    )
    print(f"Registered {machine.get('hostName', machine_id)} with the appliance at {base_url}.")
    if start_service:
        root = _vx_root()
        log = open(os.path.join(root, "var", "svagents.log"), "a")  # noqa: SIM115 (the service's, kept open)
        process = subprocess.Popen(
            [sys.executable, "-m", "agent.cli", "service"],
            env={**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(os.path.abspath(__file__)))},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        with open(os.path.join(root, "var", "svagents.pid"), "w") as handle:
            handle.write(str(process.pid))
        print(f"Mobility service started (pid {process.pid}, log {os.path.join(root, 'var', 'svagents.log')}).")
    return 0


def _cycle_seconds(values: dict) -> float | None:
    configured = values.get("cycleSeconds") or os.environ.get("AGENT_CYCLE_SECONDS")
    return float(configured) if configured else None


def _shutdown_command(values: dict) -> str | None:
    return values.get("shutdownCommand") or os.environ.get("AGENT_SHUTDOWN_COMMAND") or None


def service() -> int:
    """Heartbeat forever. Re-reads the state each time, so a re-registration takes effect at once.
    The appliance's answer says whether, and what, to replicate; a replicator thread does it."""
    last_status = None
    current: dict = {}
    replicator: Replicator | None = None
    replicating_item = None
    while True:
        values = _load_state()
        if not values:
            print("Not configured: run UnifiedAgentConfigurator.sh first.", file=sys.stderr)
            return 2
        current.update(values)
        try:
            answer = client.post(
                values["appliance"],
                "/agent-api/v1/heartbeat",
                {
                    "agentId": values["agentId"],
                    "secret": values["secret"],
                    # What this agent is, as it says (an injected fault may make it say otherwise), and
                    # what goes wrong with it.
                    "agentVersion": FAULTS.reported_version(VERSION),
                    "configurationServerId": FAULTS.reported_configuration_server(values.get("configurationServerId")),
                    "problems": FAULTS.problems(),
                },
            )
            status = "Connected"
            if answer.get("status") == "Refused":
                status = f"Refused by the appliance: {answer.get('refusal')}"
            FAULTS.replace(answer.get("faults"), values.get("disks") or [])
        except client.ApplianceError as error:
            answer, status = {}, f"Disconnected: {error.message}"
        if status != last_status:
            print(status, flush=True)
            values["status"] = status
            _save_state(values)
            last_status = status
        if "replication" in answer:  # absent: an appliance that predates replication, or no answer
            entry = answer["replication"] if isinstance(answer["replication"], dict) else None
            if entry is not None and replicator is None:
                replicator = Replicator(
                    os.path.join(_vx_root(), "var", "replication"),
                    str(values.get("machineId") or values["agentId"]),
                    values.get("disks") or [],
                    lambda: current,
                    cycle_seconds=_cycle_seconds(values),
                    shutdown_command=_shutdown_command(values),
                )
                replicator.start()
            item = entry and entry.get("itemId")
            if item != replicating_item:
                print(
                    f"Replicating {len(entry.get('disks') or [])} disks as item {item}."
                    if item
                    else "Not replicating.",
                    flush=True,
                )
                replicating_item = item
            if replicator is not None:
                replicator.shutdown_command = _shutdown_command(values)  # a re-configuration counts at once
                replicator.update(entry)
        time.sleep(float(values.get("heartbeatSeconds", 30)))


WINDOWS_FLAGS = {"role", "silent", "installlocation", "csendpoint", "passphrasefilepath", "profile"}
WINDOWS_SWITCHES = {"silent"}  # flags that take no value


def _windows_flags(argv: list[str]) -> dict:
    """`/Role "MS" /Silent /CSEndPoint 10.0.0.5` -> {"role": "MS", "silent": True, "csendpoint": "10.0.0.5"}.
    Only known flag names count as flags, so a value may be a Linux path such as /tmp/pass.txt."""
    flags, index = {}, 0
    while index < len(argv):
        key = argv[index].lstrip("/-").lower()
        if key not in WINDOWS_FLAGS:
            raise SystemExit(
                f"Unknown option {argv[index]!r}: use {', '.join('/' + f for f in sorted(WINDOWS_FLAGS))}."
            )
        if key in WINDOWS_SWITCHES:
            flags[key], index = True, index + 1
        elif index + 1 < len(argv):
            flags[key], index = argv[index + 1], index + 2
        else:
            raise SystemExit(f"Option {argv[index]} needs a value.")
    return flags


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv.pop(0) if argv else ""
    if command == "install":
        parser = argparse.ArgumentParser(prog="install")
        parser.add_argument("-r", dest="role", required=True, help="MS: the Mobility service")
        parser.add_argument("-q", dest="quiet", action="store_true", help="quiet")
        parser.add_argument(
            "-d", dest="prefix", default=DEFAULT_PREFIX, help=f"install folder (default {DEFAULT_PREFIX})"
        )
        args = parser.parse_args(argv)
        return install(args.prefix, args.role, args.quiet)
    if command == "install-windows":
        flags = _windows_flags(argv)
        return install(
            str(flags.get("installlocation", DEFAULT_PREFIX)), str(flags.get("role", "")), bool(flags.get("silent"))
        )
    if command == "configure":
        parser = argparse.ArgumentParser(prog="UnifiedAgentConfigurator.sh")
        parser.add_argument("-i", dest="endpoint", required=True, help="the appliance's IP address (or IP:port)")
        parser.add_argument("-P", dest="passphrase_file", required=True, help="file holding the passphrase")
        parser.add_argument("-S", dest="profile", help="a machine profile (JSON) to report instead of this machine")
        parser.add_argument("--no-service", action="store_true", help="register only; do not start svagents")
        parser.add_argument(
            "--heartbeat-seconds", type=float, default=float(os.environ.get("AGENT_HEARTBEAT_SECONDS", 30))
        )
        parser.add_argument(
            "--cycle-seconds",
            type=float,
            help="replicate every this many seconds instead of the replication policy's interval (rehearsals)",
        )
        parser.add_argument(
            "--shutdown-command",
            help="a shell command that stops the workloads writing to the disks, run once when the machine is "
            "migrated with shutdown, before the final sync (default: $AGENT_SHUTDOWN_COMMAND)",
        )
        args = parser.parse_args(argv)
        return configure(
            args.endpoint,
            args.passphrase_file,
            args.profile,
            not args.no_service,
            args.heartbeat_seconds,
            args.cycle_seconds,
            args.shutdown_command,
        )
    if command == "configure-windows":
        flags = _windows_flags(argv)
        if "csendpoint" not in flags or "passphrasefilepath" not in flags:
            print("Use: UnifiedAgentConfigurator.exe /CSEndPoint <ip> /PassphraseFilePath <file>", file=sys.stderr)
            return 2
        return configure(
            str(flags["csendpoint"]),
            str(flags["passphrasefilepath"]),
            flags.get("profile"),
            True,
            float(os.environ.get("AGENT_HEARTBEAT_SECONDS", 30)),
        )
    if command == "service":
        return service()
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
