"""The appliance installer: a tar.gz holding the appliance program and its scripts, built from this
repository's replication/appliance package so it is always the code the hub was tested with."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

APPLIANCE_DIR = Path(__file__).resolve().parent / "appliance"
AGENT_DIR = Path(__file__).resolve().parent / "agent"  # the appliance serves it from its repository
ROOT = "MigrateHubAppliance"
README = """Migrate Hub replication appliance

1. Copy this folder and the registration key (.MigrateHubKey) to the appliance machine (Linux, Python 3).
2. Run the setup with the key:   ./setup --key <key file> --listen <address>:<port>
   It checks the host, registers with the hub and starts the configuration and process servers.
3. In the portal: Discover > Select Configuration Server > Finalize registration.
4. Agents register with the passphrase:   ./genpassphrase -v   shows it.
   Do not regenerate it (./genpassphrase -g) lightly: agents registered with the old one disconnect.
Later starts:   ./run
Simulated machines, for demos and dashboards:
   agent/fleet --appliance 127.0.0.1:<port> --passphrase-file <file> --count 50 --duration 3600
"""


def _add(archive: tarfile.TarFile, name: str, data: bytes, mode: int) -> None:
    info = tarfile.TarInfo(f"{ROOT}/{name}")
    info.size, info.mode = len(data), mode
    archive.addfile(info, io.BytesIO(data))


def build_appliance_installer() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for source in sorted(APPLIANCE_DIR.glob("*.py")):
            _add(archive, f"appliance/{source.name}", source.read_bytes(), 0o644)
        for script in sorted((APPLIANCE_DIR / "scripts").iterdir()):
            _add(archive, script.name, script.read_bytes(), 0o755)
        for source in sorted((AGENT_DIR / "agent").glob("*.py")):
            _add(archive, f"agent/agent/{source.name}", source.read_bytes(), 0o644)
        for script in (
            "install",
            "UnifiedAgentConfigurator.sh",
            "UnifiedAgent.exe",
            "UnifiedAgentConfigurator.exe",
            "fleet",
        ):
            _add(archive, f"agent/{script}", (AGENT_DIR / script).read_bytes(), 0o755)
        for profile in sorted((AGENT_DIR / "profiles").glob("*.json")):
            _add(archive, f"agent/profiles/{profile.name}", profile.read_bytes(), 0o644)
        _add(archive, "README.txt", README.encode(), 0o644)
    return buffer.getvalue()
