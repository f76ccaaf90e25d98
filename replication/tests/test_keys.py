"""Registration keys: issued only to those who may register applications, valid five days by the
emulator's clock, refused with a message that says what is wrong."""

import json
from datetime import timedelta

import pytest

from hub import clock
from hub.arm.errors import ArmError
from projects import access, services
from projects.models import User
from replication.keys import registration_key_verify
from replication.tests.conftest import issue

pytestmark = pytest.mark.django_db


def test_create_resources_makes_three_resources_and_locks_the_region(project):
    assert project.target_region == "northeurope"
    assert sorted(r.get_kind_display() for r in project.migration_resources.all()) == [
        "Key vault",
        "Recovery Services vault",
        "Storage account",
    ]
    assert all(r.location == "northeurope" for r in project.migration_resources.all())
    admin = User.objects.get(email="admin@contoso.com")
    with pytest.raises(ArmError) as locked:
        services.create_resources_start(
            user=admin, project=project, target_region="eastus", machines_virtualized="physical"
        )
    assert locked.value.code == "TargetRegionLocked"
    with pytest.raises(ArmError) as again:
        services.create_resources_start(
            user=admin, project=project, target_region="northeurope", machines_virtualized="physical"
        )
    assert again.value.code == "ResourcesAlreadyCreated"


def test_a_contributor_alone_cannot_create_resources(project):
    migrator = User.objects.get(email="migrator@contoso.com")
    with pytest.raises(access.AccessDenied) as denied:
        services.create_resources_start(
            user=migrator, project=project, target_region="northeurope", machines_virtualized="physical"
        )
    assert "Owner, or Contributor and User Access Administrator" in denied.value.portal_message


def test_a_key_verifies_until_it_expires_five_days_later(project):
    key, text = issue(project)
    assert registration_key_verify(text).pk == key.pk
    document = json.loads(text)
    assert document["hub"] == "http://hub.test" and document["targetRegion"] == "northeurope"
    assert key.secret_hash not in text, "the file holds the secret, the hub only its hash"
    clock.advance(timedelta(days=4, hours=23))
    assert registration_key_verify(text).pk == key.pk
    clock.advance(timedelta(hours=2))
    with pytest.raises(ArmError) as expired:
        registration_key_verify(text)
    assert expired.value.code == "RegistrationKeyExpired"
    assert "valid for five days" in expired.value.message


def test_a_changed_key_is_called_tampered(project):
    _, text = issue(project)
    document = json.loads(text)
    document["expiresAt"] = "2099-01-01T00:00:00+00:00"
    with pytest.raises(ArmError) as tampered:
        registration_key_verify(json.dumps(document))
    assert tampered.value.code == "RegistrationKeyTampered"


def test_a_key_of_a_deleted_project_is_unknown(project):
    _, text = issue(project)
    project.delete()
    with pytest.raises(ArmError) as unknown:
        registration_key_verify(text)
    assert unknown.value.code == "RegistrationKeyUnknown"


@pytest.mark.parametrize("text", ["", "not json", "[]", '{"format": "other"}'])
def test_garbage_is_not_a_key(text):
    with pytest.raises(ArmError) as refused:
        registration_key_verify(text)
    assert refused.value.code == "InvalidRegistrationKey"


def test_only_those_who_may_register_applications_get_a_key(project):
    with pytest.raises(access.AccessDenied) as denied:
        issue(project, "appdev@contoso.com")
    assert "Ask a Global administrator to set App registrations to Yes" in denied.value.portal_message


def test_a_key_for_an_https_hub_carries_the_hubs_own_certificate_authority(project, tmp_path, settings):
    from hub import tls
    from replication.keys import registration_key_issue

    made = tls.local_certificate(tmp_path / "tls", tls.hostnames(""))
    settings.TLS_DIR, settings.TLS_CERT_FILE = tmp_path / "tls", ""
    admin = User.objects.get(email="admin@contoso.com")
    vault = services.project_vault(project)

    def issued(hub_url: str) -> dict:
        _, text = registration_key_issue(user=admin, project=project, hub_url=hub_url, vault=vault)
        assert registration_key_verify(text), "the authority is part of what the signature covers"
        return json.loads(text)

    assert issued("https://hub.test:8443/")["hubCertificateAuthority"] == made.ca_path.read_text()
    assert "hubCertificateAuthority" not in issued("http://hub.test/"), "plain http needs no authority"
    settings.TLS_CERT_FILE = "/etc/hub/cert.pem"  # a deployment's own certificate: its issuer is trusted already
    assert "hubCertificateAuthority" not in issued("https://hub.test/")
