"""Shared by the faults tests: the demo data's administrator, who injects and clears the faults."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from projects.models import User


@pytest.fixture
def operator():
    call_command("seed_demo", verbosity=0)
    return User.objects.get(email="admin@contoso.com")
