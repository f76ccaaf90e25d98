"""The App registrations blade: register, secrets shown once, delete with the service principal, and
the directory's gate shown on a disabled New registration."""

import re

from django.urls import reverse

from entra import services
from entra.models import Application, ClientSecret
from projects.models import RoleAssignment


def test_register_an_application_and_see_its_ids(client, demo):
    client.force_login(demo["admin"])
    page = client.get(reverse("entra:app-registrations") + "?new=1").content.decode()
    assert 'id="new-registration"' in page
    response = client.post(reverse("entra:app-registrations"), {"display_name": "migrate-automation"})
    application = Application.objects.get(display_name="migrate-automation")
    assert response.url == reverse("entra:application", args=[application.pk])
    overview = client.get(response.url).content.decode()
    for value in (application.app_id, application.pk, demo["admin"].tenant_id):
        assert str(value) in overview
    listing = client.get(reverse("entra:app-registrations")).content.decode()
    assert "migrate-automation" in listing and str(application.app_id) in listing


def test_new_registration_is_disabled_with_the_reason_when_the_directory_says_no(client, demo):
    client.force_login(demo["appdev"])
    page = client.get(reverse("entra:app-registrations") + "?new=1").content.decode()
    assert 'id="new-registration-disabled"' in page
    assert "Ask a Global administrator to set App registrations to Yes" in page
    assert 'id="new-registration"' not in page
    client.post(reverse("entra:app-registrations"), {"display_name": "sneaky"})
    assert not Application.objects.filter(display_name="sneaky").exists()


def test_a_client_secret_is_shown_once_then_only_its_hint(client, demo):
    application = services.create_application(demo["admin"], "with-secret")
    client.force_login(demo["admin"])
    url = reverse("entra:application-secrets", args=[application.pk])
    page = client.post(url, {"description": "ci", "days": "90"}).content.decode()
    value = re.search(r'id="new-secret-value" readonly value="([^"]+)"', page).group(1)
    secret = ClientSecret.objects.get(application=application)
    assert secret.matches(value) and (secret.expires_at - secret.created_at).days == 90
    assert "It expires on" in page and "Copy to clipboard" in page
    again = client.get(url).content.decode()
    assert value not in again and f"{value[:3]}*******" in again
    client.post(reverse("entra:secret-delete", args=[application.pk, secret.key_id]))
    assert not ClientSecret.objects.filter(pk=secret.pk).exists()


def test_the_default_lifetime_is_180_days(client, demo):
    application = services.create_application(demo["admin"], "default-lifetime")
    client.force_login(demo["admin"])
    page = client.get(reverse("entra:application-secrets", args=[application.pk]) + "?new=1").content.decode()
    assert '<option value="180" selected>' in page


def test_deleting_the_application_ends_its_role_assignments(client, demo):
    application = services.create_application(demo["admin"], "doomed")
    RoleAssignment.objects.create(
        principal=application.service_principal, role_name="Owner", subscription=demo["contoso"]
    )
    client.force_login(demo["admin"])
    confirm = client.get(reverse("entra:application", args=[application.pk]) + "?delete=1").content.decode()
    assert "Yes, delete" in confirm
    client.post(reverse("entra:application-delete", args=[application.pk]))
    assert not Application.objects.filter(pk=application.pk).exists()
    assert not RoleAssignment.objects.filter(principal_id=application.service_principal_id).exists()


def test_someone_elses_application_cannot_be_changed_and_says_why(client, demo):
    application = services.create_application(demo["admin"], "not-yours")
    client.force_login(demo["migrator"])
    page = client.get(reverse("entra:application-secrets", args=[application.pk])).content.decode()
    assert "only the application&#x27;s owner or a Global administrator" in page
    client.post(reverse("entra:application-secrets", args=[application.pk]), {"days": "180"})
    client.post(reverse("entra:application-delete", args=[application.pk]))
    assert Application.objects.filter(pk=application.pk).exists()
    assert not ClientSecret.objects.filter(application=application).exists()


def test_another_directory_gets_404(client, demo):
    application = services.create_application(demo["admin"], "contoso-app")
    client.force_login(demo["fabrikam"])
    assert client.get(reverse("entra:application", args=[application.pk])).status_code == 404
    assert client.post(reverse("entra:application-delete", args=[application.pk])).status_code == 404
    assert "contoso-app" not in client.get(reverse("entra:app-registrations")).content.decode()


def test_iam_offers_service_principals_and_shows_the_type(client, demo):
    application = services.create_application(demo["admin"], "iam-app")
    client.force_login(demo["admin"])
    url = reverse("projects:subscription-iam", args=[demo["contoso"].pk])
    form = client.get(url + "?tab=add").content.decode()
    assert '<optgroup label="Service principals">' in form and "iam-app (service principal)" in form
    response = client.post(url, {"role": "Contributor", "principal": application.service_principal_id})
    assert response.status_code == 302
    assignments = client.get(url + "?tab=assignments").content.decode()
    assert "Added Contributor for service principal iam-app." in assignments
    table = assignments.split('id="role-assignments"')[1]
    row = next(r for r in table.split("<tr>") if "iam-app" in r)
    assert "<td>App</td>" in row
    checked = client.get(url + "?tab=check&principal=iam-app").content.decode()
    assert "iam-app (service principal)" in checked and "Contributor" in checked
