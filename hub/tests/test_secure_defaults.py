"""Secure defaults: DEBUG off unless asked for, error pages that name no setting, and a deployment over
HTTPS that `check --deploy` finds nothing to warn about."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parent.parent.parent
# What README "Deploying over HTTPS" tells an operator to set.
HTTPS_DEPLOYMENT = {
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "migrate.contoso.example",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
    "SESSION_COOKIE_SECURE": "true",
    "CSRF_COOKIE_SECURE": "true",
}


def manage(env: dict, *args: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=120
    )


def test_it_reports_nothing_for_an_https_deployment(tmp_path):
    result = manage({**HTTPS_DEPLOYMENT, "DATA_DIR": str(tmp_path)}, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_debug_is_off_unless_asked_for(tmp_path):
    show = ["shell", "-c", "from django.conf import settings; print(settings.DEBUG)"]
    assert manage({"DATA_DIR": str(tmp_path)}, *show).stdout.split()[-1] == "False"
    assert manage({"DATA_DIR": str(tmp_path), "DEBUG": "true"}, *show).stdout.split()[-1] == "True"


def test_without_secret_key_each_data_dir_makes_its_own(tmp_path):
    show = ["shell", "-c", "from django.conf import settings; print(settings.SECRET_KEY)"]
    first = manage({"DATA_DIR": str(tmp_path / "a")}, *show).stdout.split()[-1]
    assert len(first) >= 50
    assert manage({"DATA_DIR": str(tmp_path / "a")}, *show).stdout.split()[-1] == first  # kept across starts
    assert manage({"DATA_DIR": str(tmp_path / "b")}, *show).stdout.split()[-1] != first
    assert (tmp_path / "a" / "secret_key").stat().st_mode & 0o077 == 0


SETTING_VALUES = ("DATABASE", "REDIS", "SECRET_KEY", "Traceback", "settings", "sqlite3", "postgres://")


def assert_names_no_setting(text: str) -> None:
    for value in SETTING_VALUES:
        assert value not in text


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("get", "/no/such/page/", 404),
        ("get", "/static/hub/no-such-file.css", 404),
        ("post", "/signin/", 403),  # no CSRF token
    ],
)
def test_portal_error_pages_are_portal_pages(method, path, status):
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    response = getattr(client, method)(path)
    assert response.status_code == status
    text = response.content.decode()
    assert "Microsoft Azure" in text and "Go to the home page" in text
    assert_names_no_setting(text)


@pytest.mark.django_db
def test_a_request_too_large_for_the_portal_is_413():
    client = Client(raise_request_exception=False)
    response = client.post("/signin/", data="x=" + "a" * 3_000_000, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413
    assert_names_no_setting(response.content.decode())


def test_the_server_error_page_names_nothing(rf):
    from hub.error_pages import server_error

    page = server_error(rf.get("/migrate/"))
    assert page.status_code == 500 and "Something went wrong" in page.content.decode()
    api = server_error(rf.get("/subscriptions/x"))
    assert api.status_code == 500 and json.loads(api.content)["error"]["code"] == "InternalServerError"


def test_static_files_are_served_with_debug_off():
    from django.conf import settings
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.test import RequestFactory

    assert not settings.DEBUG
    # hub/asgi.py wraps the app in this handler's ASGI twin: it serves static files whatever DEBUG says.
    response = StaticFilesHandler(lambda request: None).serve(RequestFactory().get("/static/hub/portal.css"))
    assert response.status_code == 200
