"""Running hubs for the tests: real processes, started the way `make run` starts them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
import requests
import urllib3

ROOT = Path(__file__).resolve().parent.parent
CONTOSO = "11111111-1111-1111-1111-111111111111"
FABRIKAM = "22222222-2222-2222-2222-222222222222"
DEMO_USERS = ["admin@contoso.com", "migrator@contoso.com", "viewer@contoso.com", "admin@fabrikam.com"]
DEMO_PASSWORD = "migrate-demo"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@dataclass
class Hub:
    url: str
    env: dict
    # HTTPS beside `url` (same host), with a certificate from the hub's local authority at ca_path.
    https_url: str | None = None
    process: subprocess.Popen | None = None
    tokens: dict[str, str] = field(default_factory=dict)
    log_path: Path | None = None
    # With separate_worker, `serve --no-worker` and a Celery worker the test can kill and restart.
    separate_worker: bool = False
    worker: subprocess.Popen | None = None
    # One web process, so that `process` is the one serving (tests and bench/ watch or kill it); a hub
    # started with more runs them as children of `process`, under its supervisor.
    web_processes: int = 1

    @property
    def ca_path(self) -> Path:
        """The hub's local certificate authority: `verify=` for requests, REQUESTS_CA_BUNDLE for az."""
        return Path(self.env["DATA_DIR"]) / "tls" / "ca.pem"

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=120
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def token(self, email: str) -> str:
        if email not in self.tokens:
            self.tokens[email] = self.manage("create_api_token", email, "--name", "tests").strip().splitlines()[-1]
        return self.tokens[email]

    def api(self, method: str, path: str, email: str = "admin@contoso.com", **kwargs) -> requests.Response:
        params = kwargs.pop("params", {"api-version": "2018-09-01-preview"})
        headers = {"Authorization": f"Bearer {self.token(email)}", **kwargs.pop("headers", {})}
        return requests.request(method, self.url + path, params=params, headers=headers, timeout=30, **kwargs)

    def new_resource_group(self, prefix: str) -> str:
        """A Contoso resource group in West Europe, created by its admin under a unique name starting
        with `prefix`; returns the name."""
        name = unique(prefix)
        self.api("PUT", f"/subscriptions/{CONTOSO}/resourcegroups/{name}", json={"location": "westeurope"})
        return name

    def start(self) -> None:
        port = int(self.url.rsplit(":", 1)[1])
        self.log_path = Path(self.env["DATA_DIR"]) / "serve.log"
        if self.separate_worker:
            self.start_worker()
        self.process = launch(
            [
                sys.executable,
                "manage.py",
                "serve",
                "--port",
                str(port),
                "--https-port",
                self.https_url.rsplit(":", 1)[1] if self.https_url else "0",
                "--web-processes",
                str(self.web_processes),
                *(["--no-worker"] if self.separate_worker else []),
            ],
            self.log_path,
            cwd=ROOT,
            env=self.env,
            mode="w",
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"The hub exited early:\n{self.log_path.read_text()}")
            try:
                if requests.get(self.url + "/signin/", timeout=1).status_code == 200 and self.https_answers():
                    return
            except (requests.ConnectionError, requests.Timeout):  # not up yet, or a busy machine
                time.sleep(0.2)
        raise RuntimeError(f"The hub did not answer within 60 s:\n{self.log_path.read_text()}")

    def https_answers(self) -> bool:
        """Whether the https port serves, whoever issued its certificate (tests verify it; a hub given
        TLS_CERT_FILE is not served by its own authority)."""
        if self.https_url is None:
            return True
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
            return requests.get(self.https_url + "/healthz", timeout=1, verify=False).status_code == 200

    def start_worker(self) -> subprocess.Popen:
        self.worker = launch(
            [sys.executable, "-m", "celery", "-A", "hub", "worker", "--concurrency", "2", "--loglevel", "WARNING"],
            Path(self.env["DATA_DIR"]) / "worker.log",
            cwd=ROOT,
            env=self.env,
        )
        return self.worker

    def worker_children(self) -> list[int]:
        """The pids of the Celery workers `serve` runs as its children (none when embedded); its other
        children (web processes) are left out."""
        pids = []
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            try:
                children = (task / "children").read_text().split()
            except FileNotFoundError:
                continue  # a thread of serve's that just ended
            for pid in children:
                try:
                    command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                except FileNotFoundError:
                    continue  # it just ended
                if b"celery" in command and b"worker" in command:
                    pids.append(int(pid))
        return pids

    def kill_worker(self) -> None:
        """SIGKILL, as a crash would: no chance to hand back unacknowledged tasks."""
        if self.worker and self.worker.poll() is None:
            os.killpg(self.worker.pid, signal.SIGKILL)
            self.worker.wait(timeout=20)

    def stop(self) -> None:
        for process in (self.worker, self.process):
            if process and process.poll() is None:
                terminate_group(process)


def launch(command: list, log_path: Path, *, cwd: Path, env: dict | None = None, mode: str = "a") -> subprocess.Popen:
    """Start a background program of a test in a session of its own (terminate_group stops it and its
    children together), its output written to `log_path`."""
    log = open(log_path, mode)  # noqa: SIM115 (lives as long as the process)
    return subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def terminate_group(process: subprocess.Popen) -> None:
    """SIGTERM the process's group (it was started in a new session), SIGKILL if it outlives 20 s."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def base_env(data_dir: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    env.update(
        {
            "DATA_DIR": str(data_dir),
            "DEMO_PASSWORD": DEMO_PASSWORD,
            "DEBUG": "false",
            "PYTHONUNBUFFERED": "1",
            "DISCOVERY_DELAY_SECONDS": "1",
            # Delta cycles every 2 s, so tests see several recovery points quickly.
            "REPLICATION_CYCLE_SECONDS": "2",
        }
    )
    return env


def recreate_database(database_url: str, name: str) -> str:
    """A fresh database beside the one in database_url; returns its URL."""
    base, _, _ = database_url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    return f"{base}/{name}"


def production_hub(
    data_dir: Path,
    database_url: str,
    redis_url: str,
    *,
    name: str = "live",
    separate_worker: bool = False,
    extra_env: dict[str, str] | None = None,
    web_processes: int = 1,
) -> Hub:
    """PostgreSQL + Redis, uvicorn with a separate Celery worker process: the docker-compose topology.
    A second hub at once needs its own `name` (its database) and Redis DB. `extra_env` is set for the
    hub, its worker and its manage.py commands (CELERY_VISIBILITY_TIMEOUT, say)."""
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    env = base_env(data_dir)
    # Derived from the suite's database name, so two suites with different DATABASE_URLs can run at once.
    live_name = database_url.rstrip("/").rsplit("/", 1)[-1].split("?")[0] + f"_{name}"
    env.update(
        {
            "DATABASE_URL": recreate_database(database_url, live_name),
            "REDIS_URL": redis_url,
            "CHANNEL_PREFIX": f"migratehub-{name}",
            **(extra_env or {}),
        }
    )
    hub = Hub(
        url=f"http://127.0.0.1:{free_port()}",
        https_url=f"https://127.0.0.1:{free_port()}",
        env=env,
        separate_worker=separate_worker,
        web_processes=web_processes,
    )
    hub.manage("migrate", "--noinput", "-v0")
    hub.manage("seed_demo")
    hub.start()
    return hub


def module_hub_fixture(name: str, redis_db_offset: int, **options):
    """A module-scoped fixture that starts module_production_hub(name, redis_db_offset, **options) for
    the module's tests and stops it after them."""

    @pytest.fixture(scope="module")
    def module_hub(tmp_path_factory):
        hub = module_production_hub(
            tmp_path_factory.mktemp(f"{name}-hub"), name=name, redis_db_offset=redis_db_offset, **options
        )
        yield hub
        hub.stop()

    return module_hub


def module_production_hub(
    data_dir: Path,
    *,
    name: str,
    redis_db_offset: int,
    extra_env: dict[str, str] | None = None,
    web_processes: int = 1,
) -> Hub:
    """A production hub with a separate worker for one test module, beside the session's live hub: its
    own database (`name`) and the Redis DB `redis_db_offset` after the suite's (modulo 16), so flushing
    it disturbs nobody. Skips the test without DATABASE_URL and REDIS_URL."""
    database_url = os.environ.get("DATABASE_URL")
    redis_url = os.environ.get("REDIS_URL")
    if not database_url or not redis_url:
        pytest.skip("needs DATABASE_URL and REDIS_URL (make test sets them)")
    base, _, number = redis_url.rpartition("/")
    return production_hub(
        data_dir,
        database_url,
        f"{base}/{(int(number or 0) + redis_db_offset) % 16}",
        name=name,
        separate_worker=True,
        extra_env=extra_env,
        web_processes=web_processes,
    )


def embedded_hub(data_dir: Path, *, extra_env: dict[str, str] | None = None) -> Hub:
    """The `make run` default: SQLite, in-process worker, in-memory broker and channel layer."""
    hub = Hub(
        url=f"http://127.0.0.1:{free_port()}",
        https_url=f"https://127.0.0.1:{free_port()}",
        env={**base_env(data_dir), **(extra_env or {})},
    )
    hub.manage("migrate", "--noinput", "-v0")
    hub.manage("seed_demo")
    hub.start()
    return hub
