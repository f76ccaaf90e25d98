"""The appliance's own files under its home directory: its registration (with the credential the hub
issued), the passphrase agents register with, the agents, and what the hub last said to replicate.
All are readable by the appliance's user only."""

from __future__ import annotations

import json
import os
import secrets
import string

REGISTRATION_FILE = "appliance.json"
PASSPHRASE_FILE = "passphrase"
GENERATION_FILE = "passphrase.generation"
AGENTS_FILE = "agents.json"
REPLICATION_FILE = "replication.json"
PASSPHRASE_ALPHABET = string.ascii_letters + string.digits


def _write_private(path: str, text: str) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


def _replace_private(path: str, text: str) -> None:
    """Write a temporary file, fsync, rename: a crash leaves the old file or the new one."""
    temporary = path + ".tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def save_registration(home: str, registration: dict) -> None:
    _write_private(os.path.join(home, REGISTRATION_FILE), json.dumps(registration, indent=2) + "\n")


def _read_or_exit(path: str, missing: str) -> str:
    """The file's text; a file setup should have written and did not stops the program with `missing`."""
    if not os.path.exists(path):
        raise SystemExit(missing)
    with open(path) as handle:
        return handle.read()


def load_registration(home: str) -> dict:
    missing = f"No appliance is set up in {home}: run ./setup with the registration key first."
    return json.loads(_read_or_exit(os.path.join(home, REGISTRATION_FILE), missing))


def new_passphrase(home: str) -> str:
    """A new passphrase starts a new generation: agents registered with an older one are cut off."""
    passphrase = "".join(secrets.choice(PASSPHRASE_ALPHABET) for _ in range(16))
    _write_private(os.path.join(home, PASSPHRASE_FILE), passphrase + "\n")
    _write_private(os.path.join(home, GENERATION_FILE), f"{passphrase_generation(home) + 1}\n")
    return passphrase


def passphrase_generation(home: str) -> int:
    try:
        with open(os.path.join(home, GENERATION_FILE)) as handle:
            return int(handle.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def load_agents(home: str) -> dict:
    try:
        with open(os.path.join(home, AGENTS_FILE)) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {}


def save_agents(home: str, agents: dict) -> None:
    _write_private(os.path.join(home, AGENTS_FILE), json.dumps(agents, indent=2) + "\n")


def current_passphrase(home: str) -> str:
    return _read_or_exit(os.path.join(home, PASSPHRASE_FILE), f"No passphrase in {home}: run ./setup first.").strip()


def load_replication(home: str) -> list[dict]:
    """What the hub said to replicate at its last heartbeat answer, so a restarted appliance serves it
    to agents before its first heartbeat."""
    try:
        with open(os.path.join(home, REPLICATION_FILE)) as handle:
            entries = json.load(handle)
    except (OSError, ValueError):
        return []
    return [entry for entry in entries if isinstance(entry, dict)] if isinstance(entries, list) else []


def save_replication(home: str, entries: list[dict]) -> None:
    _replace_private(os.path.join(home, REPLICATION_FILE), json.dumps(entries, indent=1) + "\n")
