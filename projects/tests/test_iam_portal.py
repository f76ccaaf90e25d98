"""Access control (IAM) in the portal: the Remove button says why it is disabled, in the words of the
permission that refuses it (access.DELETE_ROLE_ASSIGNMENT)."""

import pytest
from django.core.management import call_command
from django.urls import reverse

from projects.models import Subscription, User

pytestmark = pytest.mark.django_db


def iam_assignments(client, email: str) -> str:
    call_command("seed_demo", verbosity=0)
    client.force_login(User.objects.get(email=email))
    contoso = Subscription.objects.get(display_name="Contoso Production")
    url = reverse("projects:subscription-iam", args=[contoso.pk]) + "?tab=assignments"
    return client.get(url).content.decode()


def test_a_reader_sees_remove_disabled_with_the_permissions_reason(client):
    page = iam_assignments(client, "viewer@contoso.com")
    assert (
        'disabled title="You need Owner or User Access Administrator on subscription Contoso Production to remove '
        'role assignments. Ask the subscription owner."' in page
    )
    assert 'class="danger" type="submit">Remove' not in page


def test_an_owner_may_remove(client):
    page = iam_assignments(client, "admin@contoso.com")
    assert 'class="danger" type="submit">Remove' in page
    assert "disabled title=" not in page
