"""Personal API tokens expire: the lifetime chosen at creation (90 days by default, 1 to 730), an
expired token refused with 401 ExpiredAuthenticationToken, revocation as before; the portal form and
`create_api_token --days`."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from hub import clock
from hub.models import ApiToken

pytestmark = pytest.mark.django_db
SUBSCRIPTIONS = "/subscriptions?api-version=2022-12-01"


@pytest.fixture
def user():
    return get_user_model().objects.create_user("tokens@example.com", "x" * 12)


def call_api(secret: str):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client.get(SUBSCRIPTIONS)


def test_a_token_lives_ninety_days_unless_told(user):
    token, _ = ApiToken.issue(user, "ci")
    assert token.expires_at - token.created_at == timedelta(days=90)
    token, _ = ApiToken.issue(user, "short", days=1)
    assert token.expires_at - token.created_at == timedelta(days=1)


@pytest.mark.parametrize("days", [0, -1, 731, 1.5, "90", True])
def test_a_lifetime_outside_one_to_730_days_is_refused(user, days):
    with pytest.raises(ValueError, match="1 to 730 days"):
        ApiToken.issue(user, "bad", days=days)
    assert not ApiToken.objects.exists()


def test_an_expired_token_gets_401_expired_and_a_live_one_works(user):
    _, secret = ApiToken.issue(user, "ci", days=1)
    assert call_api(secret).status_code == 200
    clock.advance(timedelta(days=1, seconds=1))
    response = call_api(secret)
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "ExpiredAuthenticationToken"
    assert "is earlier than current UTC time" in error["message"] and "--days" in error["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_revocation_still_wins_and_says_invalid(user):
    token, secret = ApiToken.issue(user, "ci")
    token.revoke()
    response = call_api(secret)
    assert (response.status_code, response.json()["error"]["code"]) == (401, "InvalidAuthenticationToken")
    assert ApiToken.objects.get(pk=token.pk).status == "Revoked"


def test_the_status_follows_the_clock(user):
    token, _ = ApiToken.issue(user, "ci", days=2)
    assert token.status == "Active"
    clock.advance(timedelta(days=3))
    assert token.status == "Expired"


def test_the_command_takes_days_within_bounds(user):
    out = StringIO()
    call_command("create_api_token", user.email, "--name", "ops", "--days", "7", stdout=out)
    token = ApiToken.objects.get(name="ops")
    assert token.expires_at - token.created_at == timedelta(days=7)
    assert f"valid until {token.expires_at:%Y-%m-%d}" in out.getvalue()
    assert call_api(out.getvalue().strip().splitlines()[-1]).status_code == 200
    with pytest.raises(CommandError, match="--days"):
        call_command("create_api_token", user.email, "--days", "731", stdout=StringIO())


def test_the_portal_creates_a_token_with_the_chosen_lifetime(client, user):
    client.force_login(user)
    page = client.get("/settings/api-tokens/")
    assert b'name="days"' in page.content and b'value="90"' in page.content
    created = client.post("/settings/api-tokens/", {"name": "pipeline", "days": "30"})
    token = ApiToken.objects.get(name="pipeline")
    assert token.expires_at - token.created_at == timedelta(days=30)
    assert f"expires on {token.expires_at:%Y-%m-%d %H:%M}" in created.content.decode()


@pytest.mark.parametrize(("days", "words"), [("0", "at least 1 day"), ("999", "at most 730 days"), ("", "1 to 730")])
def test_the_portal_refuses_a_lifetime_out_of_bounds_and_makes_nothing(client, user, days, words):
    client.force_login(user)
    refused = client.post("/settings/api-tokens/", {"name": "pipeline", "days": days})
    assert words in refused.content.decode()
    assert not ApiToken.objects.exists()
