"""docker-compose.yml stays true to the topology the suite runs as local processes."""

from __future__ import annotations

from pathlib import Path

import yaml
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parent.parent


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_it_has_the_production_services_restarted_and_health_checked():
    services = compose()["services"]
    # No beat: the periodic work runs inside every worker (jobs/periodic.py).
    assert set(services) == {"postgres", "redis", "azurite", "seaweedfs", "web", "worker"}
    assert services["seaweedfs"]["profiles"] == ["s3"], "SeaweedFS runs only for OBJECT_STORE=s3"
    for name, service in services.items():
        assert "test" in service["healthcheck"], f"{name} needs a health check"
        assert service["restart"] in ("unless-stopped", "always"), f"{name} needs a restart policy"
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    assert services["worker"]["healthcheck"]["test"][-2:] == ["manage.py", "worker_health"]
    for name in ("web", "worker"):
        depends = services[name]["depends_on"]
        assert depends == {name: {"condition": "service_healthy"} for name in ("postgres", "redis", "azurite")}
        environment = services[name]["environment"]
        assert environment["DATABASE_URL"].startswith("postgres://")
        assert environment["REDIS_URL"].startswith("redis://")
        # Replication data in Blob Storage (Azurite), not in a volume web and worker share.
        assert environment["OBJECT_STORE"] == "${OBJECT_STORE:-azure}"
        assert "BlobEndpoint=http://azurite:10000/" in environment["AZURE_STORAGE_CONNECTION_STRING"]


def test_its_commands_exist():
    services = compose()["services"]
    commands = get_commands()
    for command in ("migrate", "seed_demo", "serve"):
        assert f"manage.py {command}" in services["web"]["command"]
        assert command in commands
    assert services["worker"]["command"].startswith("celery -A hub worker")
    assert "worker_health" in commands


def test_the_image_holds_every_app():
    dockerfile = (ROOT / "Dockerfile").read_text()
    for app in ("hub", "projects", "jobs", "replication", "templates", "static"):
        assert f"COPY {app} {app}" in dockerfile


def test_the_web_service_serves_https_with_a_certificate_by_path():
    web = compose()["services"]["web"]
    assert "--https-port 8443" in web["command"]
    assert "${HTTPS_PORT:-8443}:8443" in web["ports"]
    # The certificate and key by path, from a directory mounted read-only; unset, the hub's own authority.
    assert {"TLS_CERT_FILE", "TLS_KEY_FILE", "HUB_HOSTNAMES"} <= set(web["environment"])
    assert "./tls:/run/tls:ro" in web["volumes"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "EXPOSE 8000 8443" in dockerfile
    assert '"--https-port", "8443"' in dockerfile
