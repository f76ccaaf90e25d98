"""Fixtures the projects app's tests share."""

import pytest
from django.core.management import call_command


@pytest.fixture
def admin_client(client):
    """The test client, signed in to the demo tenant as its administrator."""
    call_command("seed_demo", verbosity=0)
    client.login(email="admin@contoso.com", password="migrate-demo")
    return client
