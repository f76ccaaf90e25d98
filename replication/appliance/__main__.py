"""`python -m appliance setup|run|genpassphrase`; the installer's `setup` and `genpassphrase` scripts
call this."""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys

from appliance import VERSION, host, server, state
from appliance.hub_client import HubClient, HubError

DEFAULT_HOME = os.path.join(os.path.expanduser("~"), "MigrateHubAppliance")


def parse_listen(value: str) -> tuple[str, int]:
    host_part, _, port = value.rpartition(":")
    if not host_part or not port.isdecimal() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"--listen must be ADDRESS:PORT, e.g. 0.0.0.0:9443, not {value!r}")
    return host_part, int(port)


def setup(args) -> int:
    home = os.path.abspath(args.home)
    if args.scale_out and not args.configuration_server:
        print("--scale-out needs --configuration-server NAME: the appliance it adds to.", file=sys.stderr)
        return 2
    print(f"Migrate Hub replication appliance {VERSION}: setup in {home}")
    found = host.inspect(home)
    problems, warnings = host.shortfalls(found)
    print(
        f"Host {found.name}: {found.os}, {found.cores} cores, {found.memory_gib} GiB memory, "
        f"{found.free_disk_gib} GiB free disk, Python {found.python}"
    )
    for warning in warnings:
        print(f"  note: {warning}")
    if problems:
        for problem in problems:
            print(f"  problem: {problem}", file=sys.stderr)
        print("Setup stopped: the host does not meet the appliance requirements.", file=sys.stderr)
        return 2
    try:
        with open(args.key) as handle:
            key_text = handle.read()
    except OSError as error:
        print(f"Cannot read the registration key {args.key}: {error.strerror}.", file=sys.stderr)
        return 2
    hub_url = args.hub or _key_field(key_text, "hub")
    if not hub_url:
        print("The key does not say which hub issued it: pass --hub http://HOST:PORT.", file=sys.stderr)
        return 2
    # A key fetched over https carries the hub's own certificate authority (none if its certificate is public).
    authority = _key_field(key_text, "hubCertificateAuthority") if hub_url.startswith("https://") else None
    client = HubClient(hub_url, certificate_authority=authority)
    name = args.name or found.name
    try:
        verified = client.post("/appliance-api/v1/registration-keys/verify", {"key": key_text})
        print(
            f"Key for project {verified['project']} (target region {verified['targetRegion']}), "
            f"valid until {verified['expiresAt']}."
        )
        scale_out = {"scaleOutOf": args.configuration_server} if args.scale_out else {}
        registered = client.post(
            "/appliance-api/v1/appliances/register",
            {
                **scale_out,
                "key": key_text,
                "name": name,
                "fqdn": socket.getfqdn(),
                "ipAddresses": found.ip_addresses,
                "listen": args.listen,
                "version": VERSION,
                "host": {"os": found.os, "cores": found.cores, "memoryGiB": found.memory_gib},
            },
        )
    except HubError as error:
        print(f"Registration failed: {error.message}", file=sys.stderr)
        return 1
    state.save_registration(
        home,
        {
            "hub": hub_url,
            "hubCertificateAuthority": authority,
            "applianceId": registered["applianceId"],
            "credential": registered["credential"],
            "name": name,
            "listen": args.listen,
            "project": verified["project"],
            **scale_out,
        },
    )
    if args.scale_out:
        # Its agents register with the configuration server; no passphrase and no finalizing here.
        print(f"Registered scale-out process server {name} of appliance {args.configuration_server} with the hub.")
        print("New replications can use it: choose it as the Process Server in Replicate.")
    else:
        passphrase = state.new_passphrase(home)
        print(f"Registered appliance {name} with the hub as {registered['applianceId']}.")
        print(f"Passphrase for agents: {passphrase}  (show it again with: ./genpassphrase -v)")
        print("Next, in the portal: Discover > Select Configuration Server > Finalize registration.")
    return 0 if args.no_start else run(args)


def run(args) -> int:
    home = os.path.abspath(args.home)
    server.run(home, state.load_registration(home), args.heartbeat_seconds, args.agent_silent_seconds)
    return 0


def genpassphrase(args) -> int:
    home = os.path.abspath(args.home)
    if args.generate:
        state.load_registration(home)
        print(state.new_passphrase(home))
        print(
            "A new passphrase: agents registered with the old one lose connectivity until they register "
            "again with this one.",
            file=sys.stderr,
        )
    elif args.view:
        print(state.current_passphrase(home))
    else:
        print("Use -v to view the current passphrase, or -g to generate a new one.", file=sys.stderr)
        return 2
    return 0


def _key_field(key_text: str, name: str) -> str | None:
    import json

    try:
        value = json.loads(key_text).get(name)
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    parser = argparse.ArgumentParser(prog="appliance", description="Migrate Hub replication appliance")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--home",
        default=os.environ.get("APPLIANCE_HOME", DEFAULT_HOME),
        help="Where the appliance keeps its registration and passphrase.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    setup_parser = commands.add_parser("setup", parents=[common], help="Check the host, register with the hub, start.")
    setup_parser.add_argument("--key", required=True, help="The registration key file downloaded from the portal.")
    setup_parser.add_argument(
        "--listen",
        default="0.0.0.0:9443",
        type=lambda value: parse_listen(value) and value,
        help="Address:port agents connect to.",
    )
    setup_parser.add_argument("--name", help="The appliance's name in the portal (default: host name).")
    setup_parser.add_argument("--hub", help="The hub's URL, if not the one in the key.")
    setup_parser.add_argument("--no-start", action="store_true", help="Register, then exit without serving.")
    setup_parser.add_argument(
        "--scale-out",
        action="store_true",
        help="Install a scale-out process server of an appliance (--configuration-server), for more machines "
        "or more changed data than one appliance carries.",
    )
    setup_parser.add_argument(
        "--configuration-server", help="With --scale-out: the name of the appliance whose process server this adds to."
    )
    for sub in (setup_parser, commands.add_parser("run", parents=[common], help="Start an appliance set up earlier.")):
        sub.add_argument(
            "--heartbeat-seconds", type=float, default=float(os.environ.get("APPLIANCE_HEARTBEAT_SECONDS", 30))
        )
        sub.add_argument(
            "--agent-silent-seconds",
            type=float,
            default=300,
            help="An agent without a heartbeat for this long is reported disconnected.",
        )
    passphrase = commands.add_parser(
        "genpassphrase", parents=[common], help="View or regenerate the agents' passphrase."
    )
    passphrase.add_argument("-v", dest="view", action="store_true", help="View the current passphrase.")
    passphrase.add_argument("-g", dest="generate", action="store_true", help="Generate a new passphrase.")
    args = parser.parse_args(argv)
    return {"setup": setup, "run": run, "genpassphrase": genpassphrase}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
