import pytest
from django.core.management import call_command
from django.test import Client

from entra import services
from hub.models import ApiToken
from projects.models import RoleAssignment, Subscription, User


@pytest.fixture
def demo(db):
    call_command("seed_demo", verbosity=0)
    return {
        "admin": User.objects.get(email="admin@contoso.com"),
        "migrator": User.objects.get(email="migrator@contoso.com"),
        "appdev": User.objects.get(email="appdev@contoso.com"),
        "fabrikam": User.objects.get(email="admin@fabrikam.com"),
        "contoso": Subscription.objects.get(display_name="Contoso Production"),
    }


def application_with_role(admin, name: str, role_name: str, subscription_id) -> tuple:
    """An application whose service principal holds `role_name` on the subscription, and its secret."""
    application = services.create_application(admin, name)
    _, secret = services.add_client_secret(admin, application, days=90)
    subscription = Subscription.objects.get(pk=subscription_id)
    RoleAssignment.objects.create(
        principal=application.service_principal, role_name=role_name, subscription=subscription
    )
    return application, secret


def api_client(user) -> Client:
    """A client calling the API as az does, with the user's personal API token."""
    _, secret = ApiToken.issue(user, "tests")
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}", raise_request_exception=False)


@pytest.fixture
def graph(demo):
    return {name: api_client(demo[name]) for name in ("admin", "migrator", "appdev", "fabrikam")}
