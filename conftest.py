"""Settings for in-process tests only (the live hubs in tests/ are separate processes with the real
settings): a fast password hasher, since the demo seed hashes a password per user per test."""

import pytest


def pytest_configure(config):
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_clock_cache():
    """hub.clock caches its offset, and faults.services the faults in force, for a second; a rolled-back
    test must not leak either into the next."""
    from faults import services as faults_service
    from hub import clock

    clock._cached = None
    faults_service.forget_in_force()
    yield
    clock._cached = None
    faults_service.forget_in_force()


def _started(start, folder):
    """A test server started in `folder`; the test fails, saying what is missing, when it cannot start."""
    try:
        return start(folder)
    except RuntimeError as missing:
        pytest.fail(str(missing), pytrace=False)


@pytest.fixture(scope="session")
def azurite(tmp_path_factory):
    """Azurite's Blob service, one per test worker (tests/azurite.py); fails saying what is missing
    when Node.js or the emulator is not installed (`make azurite`, which make test runs)."""
    from tests import azurite as emulator

    server = _started(emulator.start, tmp_path_factory.mktemp("azurite"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def moto_s3(tmp_path_factory):
    """moto's standalone S3 server, one per test worker (tests/moto_s3.py)."""
    from tests import moto_s3 as moto

    server = _started(moto.start, tmp_path_factory.mktemp("moto"))
    yield server
    server.stop()
