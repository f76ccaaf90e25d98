"""The Mobility service installer repository (the tutorial's ...\\pushinstallsvc\\repository), served
as an HTTP listing. The installers are built from the agent package shipped inside the appliance."""

from __future__ import annotations

import html
import io
import os
import tarfile

from appliance import VERSION

LISTING_PATH = "/pushinstallsvc/repository"
AGENT_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "agent")
LINUX_INSTALLER = f"Microsoft-ASR_UA_{VERSION}_Linux_release.tar.gz"
WINDOWS_INSTALLER = f"Microsoft-ASR_UA_{VERSION}_Windows_release.tar.gz"


def _tarball(scripts: list[str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name in sorted(os.listdir(os.path.join(AGENT_DIR, "agent"))):
            if name.endswith(".py"):
                archive.add(os.path.join(AGENT_DIR, "agent", name), arcname=f"agent/{name}")
        for script in scripts:
            info = archive.gettarinfo(os.path.join(AGENT_DIR, script), arcname=script)
            info.mode = 0o755
            with open(os.path.join(AGENT_DIR, script), "rb") as handle:
                archive.addfile(info, handle)
    return buffer.getvalue()


def installers() -> dict:
    """File name -> a function building it (so a listing costs nothing)."""
    return {
        LINUX_INSTALLER: lambda: _tarball(["install", "UnifiedAgentConfigurator.sh"]),
        WINDOWS_INSTALLER: lambda: _tarball(["UnifiedAgent.exe", "UnifiedAgentConfigurator.exe"]),
    }


def listing_html() -> str:
    rows = "".join(
        f'<li><a href="{LISTING_PATH}/{html.escape(name)}">{html.escape(name)}</a></li>' for name in installers()
    )
    return f"<!doctype html><title>pushinstallsvc\\repository</title><h1>pushinstallsvc\\repository</h1><ul>{rows}</ul>"
