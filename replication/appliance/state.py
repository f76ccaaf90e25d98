"""The appliance's own files under its home directory: its registration (with the credential the hub
issued) and the passphrase agents register with. Both are readable by the appliance's user only."""

from __future__ import annotations

import json
import os
import secrets
import string

REGISTRATION_FILE = "appliance.json"
PASSPHRASE_FILE = "passphrase"
PASSPHRASE_ALPHABET = string.ascii_letters + string.digits


def _write_private(path: str, text: str) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


def save_registration(home: str, registration: dict) -> None:
    _write_private(os.path.join(home, REGISTRATION_FILE), json.dumps(registration, indent=2) + "\n")


def load_registration(home: str) -> dict:
    path = os.path.join(home, REGISTRATION_FILE)
    if not os.path.exists(path):
        raise SystemExit(f"No appliance is set up in {home}: run ./setup with the registration key first.")
    with open(path) as handle:
        return json.load(handle)


def new_passphrase(home: str) -> str:
    passphrase = "".join(secrets.choice(PASSPHRASE_ALPHABET) for _ in range(16))
    _write_private(os.path.join(home, PASSPHRASE_FILE), passphrase + "\n")
    return passphrase


def current_passphrase(home: str) -> str:
    path = os.path.join(home, PASSPHRASE_FILE)
    if not os.path.exists(path):
        raise SystemExit(f"No passphrase in {home}: run ./setup first.")
    with open(path) as handle:
        return handle.read().strip()
