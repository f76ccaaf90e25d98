"""The Azure CLI, unmodified, run as a subprocess against a live hub over TLS, the way the README tells
a user to point it at the hub (AZURE-FACTS.md section 1).

`make azure-cli` installs az into its own virtualenv, .venv-az (azure-cli pins azure-mgmt-* versions of
its own). Each AzureCli keeps its state in its own configuration directory (AZURE_CONFIG_DIR, and HOME
too) under the test session's temporary folder: its clouds, logins and token cache stay apart from
every other AzureCli and from the user's own ~/.azure. It trusts the hub's local CA
(REQUESTS_CA_BUNDLE), sends no telemetry and never checks for upgrades."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.hubs import DEMO_PASSWORD, ROOT, Hub
from tests.port_443 import https_proxy_for

AZ = ROOT / ".venv-az" / "bin" / "az"
CLOUD = "MigrateHub"
# What `az config set` turns off before anything else: MSAL's instance discovery (it would reject the
# hub as an unknown authority), telemetry, upgrade and survey prompts, and the interactive subscription
# picker of `az login`.
QUIET_CONFIG = [
    "core.instance_discovery=false",
    "core.collect_telemetry=false",
    "auto-upgrade.enable=no",
    "core.survey_message=false",
    "core.login_experience_v2=off",
]


class AzFailed(AssertionError):
    """An az command that should have succeeded exited non-zero."""


class AzureCli:
    """az with a configuration directory of its own, registered to a hub as the cloud MigrateHub."""

    def __init__(self, hub: Hub, config_dir: Path):
        if not AZ.exists():
            pytest.skip("the Azure CLI is not installed: `make azure-cli` installs it into .venv-az")
        config_dir.mkdir(parents=True, exist_ok=True)
        self.hub = hub
        self.config_dir = config_dir
        # Who is signed in, as `az account show` names them under "user".
        self.user: dict | None = None
        # Nothing of the caller's environment but PATH: no AZURE_* login, no PYTHONPATH into the suite's venv.
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "HOME": str(config_dir),
            "AZURE_CONFIG_DIR": str(config_dir),
            "REQUESTS_CA_BUNDLE": str(hub.ca_path),
            # Set in the environment too, so that even the first command (before `az config set`) sends none.
            "AZURE_CORE_COLLECT_TELEMETRY": "false",
            "AZURE_CORE_NO_COLOR": "true",
            # MSAL's user realm lookup goes to port 443 whatever the hub's port (tests/port_443.py).
            "HTTPS_PROXY": https_proxy_for(hub.https_url),
        }

    def run(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
        """az ARGS -o json, whatever its exit code."""
        return subprocess.run(
            [str(AZ), *args, "--output", "json"],
            env=self.env,
            cwd=self.config_dir,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def __call__(self, *args: str, timeout: float = 180):
        """az ARGS, which must succeed; its JSON output parsed (None when it printed nothing)."""
        result = self.run(*args, timeout=timeout)
        if result.returncode != 0:
            raise AzFailed(f"az {' '.join(args)} exited {result.returncode}:\n{result.stderr}{result.stdout}")
        return json.loads(result.stdout) if result.stdout.strip() else None

    def fails(self, *args: str) -> str:
        """az ARGS, which must fail; what it printed on stderr."""
        result = self.run(*args)
        assert result.returncode != 0, f"az {' '.join(args)} succeeded:\n{result.stdout}"
        return result.stderr

    def register_hub(self) -> AzureCli:
        """The README's commands: quiet configuration, then the hub registered from its metadata and made
        the active cloud."""
        self("config", "set", *QUIET_CONFIG)
        self("cloud", "register", "--name", CLOUD, "--endpoint-resource-manager", f"{self.hub.https_url}/")
        self("cloud", "set", "--name", CLOUD)
        return self

    def login_service_principal(self, app_id: str, secret: str, tenant: str) -> list[dict]:
        accounts = self(
            "login", "--service-principal", "--username", app_id, f"--password={secret}", "--tenant", tenant
        )
        self.user = {"name": app_id, "type": "servicePrincipal"}
        return accounts

    def login_user(self, email: str, password: str = DEMO_PASSWORD) -> list[dict]:
        accounts = self("login", "--username", email, f"--password={password}")
        self.user = {"name": email, "type": "user"}
        return accounts

    def login_device_code(self, enter_code: Callable[[str], None]) -> list[dict]:
        """`az login --use-device-code`: az prints a code, `enter_code(code)` enters and confirms it on the
        hub's /devicelogin page as a person would, and az's polling then gets that person's tokens."""
        process = subprocess.Popen(
            [str(AZ), "login", "--use-device-code", "--output", "json"],
            env=self.env,
            cwd=self.config_dir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            printed = ""
            while not (found := re.search(r"enter the code (\S+) to authenticate", printed)):
                line = process.stderr.readline()
                if not line:
                    raise AzFailed(f"az login --use-device-code printed no code:\n{printed}")
                printed += line
            enter_code(found.group(1))
            stdout, stderr = process.communicate(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        if process.returncode != 0:
            raise AzFailed(f"az login --use-device-code exited {process.returncode}:\n{printed}{stderr}")
        return json.loads(stdout)

    def rest(self, method: str, path: str, body: dict | None = None, api_version: str = "2018-09-01-preview"):
        """`az rest` on an ARM path of the hub (az prefixes its resource manager endpoint)."""
        separator = "&" if "?" in path else "?"
        args = ["rest", "--method", method, "--url", f"{path}{separator}api-version={api_version}"]
        if body is not None:
            args += ["--body", json.dumps(body)]
        return self(*args)


def signed_in_cli(hub: Hub, config_dir: Path, *, user: str | None = None, service_principal: dict | None = None):
    """A registered AzureCli signed in as a demo user (by password) or as a service principal (the JSON
    `manage.py create_service_principal` and `az ad sp create-for-rbac` print)."""
    cli = AzureCli(hub, config_dir).register_hub()
    if service_principal:
        cli.login_service_principal(
            service_principal["appId"], service_principal["password"], service_principal["tenant"]
        )
    else:
        cli.login_user(user)
    return cli


def create_service_principal(hub: Hub, name: str, role: str, scope: str) -> dict:
    """`manage.py create_service_principal`: the JSON `az ad sp create-for-rbac` prints."""
    output = hub.manage("create_service_principal", name, "--role", role, "--scopes", scope)
    return json.loads(output[output.index("{") :])


def secret_credential(hub: Hub, service_principal: dict, secret: str | None = None):
    """azure-identity's ClientSecretCredential for a principal create_service_principal made (with
    another `secret` to try a wrong one), signing in at the hub over https, trusting its authority."""
    from azure.identity import ClientSecretCredential

    return ClientSecretCredential(
        service_principal["tenant"],
        service_principal["appId"],
        secret or service_principal["password"],
        authority=hub.https_url,
        disable_instance_discovery=True,
        connection_verify=str(hub.ca_path),
    )


def environment_credential(hub: Hub, service_principal: dict, monkeypatch):
    """DefaultAzureCredential as the SDK's usual set-up gives it: the principal in AZURE_* variables,
    the hub's authority in REQUESTS_CA_BUNDLE (as az takes it too)."""
    from azure.identity import DefaultAzureCredential

    monkeypatch.setenv("AZURE_TENANT_ID", service_principal["tenant"])
    monkeypatch.setenv("AZURE_CLIENT_ID", service_principal["appId"])
    monkeypatch.setenv("AZURE_CLIENT_SECRET", service_principal["password"])
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", hub.https_url)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(hub.ca_path))
    return DefaultAzureCredential(disable_instance_discovery=True)
