from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import hubs
from tests.parallel import isolate_this_worker

# Before any fixture reads DATABASE_URL or REDIS_URL (tests/parallel.py).
isolate_this_worker()

SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": "/usr/bin/chromium", "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def live_hub(tmp_path_factory):
    """The hub on PostgreSQL + Redis with a separate Celery worker, as `make run` starts it with
    DATABASE_URL and REDIS_URL set. Shared by the session: tests use unique names."""
    database_url = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/migratehub"
    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/9"
    hub = hubs.production_hub(tmp_path_factory.mktemp("live-hub"), database_url, redis_url)
    yield hub
    hub.stop()


@pytest.fixture(scope="session")
def embedded_hub(tmp_path_factory):
    """The embedded default of `make run`: no servers at all."""
    hub = hubs.embedded_hub(tmp_path_factory.mktemp("embedded-hub"))
    yield hub
    hub.stop()


@pytest.fixture(params=["live_hub", "embedded_hub"])
def any_hub(request):
    return request.getfixturevalue(request.param)


@pytest.fixture
def group(live_hub) -> str:
    """A new Contoso resource group of the test's own, on the session's hub (live_hub.new_resource_group)."""
    return live_hub.new_resource_group("rg-test")


def sign_in(page, hub, email: str = "admin@contoso.com", *, base_url: str | None = None) -> None:
    """Sign in through the portal's form at base_url (the hub's plain-http URL unless given: its https_url, say)."""
    base_url = base_url or hub.url
    page.goto(base_url + "/signin/")
    page.get_by_label("Email, phone, or Skype").fill(email)
    page.get_by_label("Password").fill(hubs.DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(base_url + "/")


def screenshot(page, name: str, *, showing=None, docs_size: bool = False) -> None:
    """DOCS_SCREENSHOTS=1 saves the page into docs/screenshots/`name`: as shown (the viewport the test set,
    1400x900 for most), or first resized to 1400x900 with docs_size; scrolled to the locator `showing` if
    given. Without it the page is left as it is, so the test runs the same either way."""
    if not os.environ.get("DOCS_SCREENSHOTS"):
        return
    if docs_size:
        page.set_viewport_size({"width": 1400, "height": 900})
    if showing is not None:
        showing.scroll_into_view_if_needed()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name))
