"""Discover's appliance steps through ARM (replication.arm_appliance), by DRF's test client: Create
resources by the PUTs and the solution update, the registration key from the vault certificate call
(valid five days), the installer from a signed link that expires, and Finalize registration as an
action whose job the client follows; with the refusals, each in Azure's shape, never a 5xx."""

from __future__ import annotations

import base64
import io
import json
import tarfile
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.test import Client

from hub import clock
from jobs.models import Job, State
from jobs.services import job_run
from projects.models import User
from projects.tests.test_arm_create_resources import API, PROJECTS, SOLUTION, admin, client_for, link, put_resources
from replication.keys import registration_key_verify
from replication.models import Appliance
from replication.services import appliance_register

pytestmark = pytest.mark.django_db
__all__ = ["admin"]  # the fixture, imported for pytest


def certificate(client, vault_id: str, name: str = "armcr-cert"):
    body = {"properties": {"authType": "AAD", "certificate": base64.b64encode(b"public cert").decode()}}
    return client.put(f"{vault_id}/certificates/{name}{API}", body, format="json")


@pytest.fixture
def vault_id(admin):
    ids = put_resources(admin)
    assert link(admin, ids).status_code == 200
    return ids["vaultId"]


def test_automation_creates_resources_gets_key_and_installer_and_finalizes(
    admin, vault_id, django_capture_on_commit_callbacks
):
    issued = certificate(admin, vault_id)
    assert issued.status_code == 200, issued.content
    properties = issued.json()["properties"]
    assert properties["authType"] == "AAD" and properties["serviceResourceId"] == vault_id
    key_text = base64.b64decode(properties["certificate"]).decode()
    key = registration_key_verify(key_text)
    assert key.expires_at - key.issued_at == timedelta(days=5)
    assert properties["friendlyName"].startswith("armcr_") and properties["friendlyName"].endswith(".MigrateHubKey")
    assert json.loads(key_text)["vaultId"] == vault_id
    assert properties["validTo"] == key.expires_at.isoformat()

    config = admin.post(f"{PROJECTS}/armcr/{SOLUTION}/getConfig{API}", {}, format="json")
    assert config.status_code == 200, config.content
    link_url = urlsplit(config.json()["publisherSasUri"])
    download = Client().get(f"{link_url.path}?{link_url.query}")
    assert download.status_code == 200 and download["Content-Type"] == "application/gzip"
    with tarfile.open(fileobj=io.BytesIO(download.content)) as archive:
        assert "MigrateHubAppliance/setup" in archive.getnames()

    appliance, _ = appliance_register(key_text=key_text, name="cs-arm")
    provider = f"{vault_id}/replicationFabrics/migrate-fabric/replicationRecoveryServicesProviders/{appliance.pk}"
    with django_capture_on_commit_callbacks():
        finalize = admin.post(f"{provider}/finalizeRegistration{API}", {}, format="json")
    assert finalize.status_code == 202, finalize.content
    operation = urlsplit(finalize["Azure-AsyncOperation"]).path
    job = Job.objects.get(pk=operation.rsplit("/", 1)[1])
    assert (job.scenario_name, urlsplit(finalize["Location"]).path) == ("FinalizeApplianceRegistration", provider)
    assert admin.get(f"{operation}{API}").json()["status"] == "InProgress"
    job_run(job.pk)
    job.refresh_from_db()
    assert job.state == State.SUCCEEDED
    assert admin.get(f"{operation}{API}").json()["status"] == "Succeeded"
    appliance.refresh_from_db()
    assert appliance.state == Appliance.State.FINALIZED
    again = admin.post(f"{provider}/finalizeRegistration{API}", {}, format="json")
    assert (again.status_code, again.json()["error"]["code"]) == (409, "AlreadyFinalized")


def test_a_changed_unsigned_or_expired_installer_link_is_refused_as_storage_does(admin, vault_id):
    config = admin.post(f"{PROJECTS}/armcr/{SOLUTION}/getConfig{API}", {}, format="json").json()
    link_url = urlsplit(config["publisherSasUri"])
    query = {name: values[0] for name, values in parse_qs(link_url.query).items()}
    anonymous = Client()

    def fetch(**changes):
        return anonymous.get(f"{link_url.path}?{urlencode({**query, **changes})}")

    for refused, detail in (
        (fetch(sig="0" * 64), "Signature did not match"),
        (fetch(se="2099-01-01T00:00:00Z"), "Signature did not match"),
        (fetch(sig=""), "lacks its signature"),
        (fetch(sig="é"), "Signature did not match"),
    ):
        assert refused.status_code == 403 and refused["Content-Type"] == "application/xml"
        assert b"<Code>AuthenticationFailed</Code>" in refused.content and detail.encode() in refused.content
    clock.advance(timedelta(minutes=61))
    expired = fetch()
    assert expired.status_code == 403 and b"Signature not valid in the specified time frame" in expired.content


def test_the_key_and_the_installer_link_need_the_same_rights_as_the_portal(admin, vault_id):
    viewer = client_for("viewer@contoso.com")
    for response in (
        certificate(viewer, vault_id),
        viewer.post(f"{PROJECTS}/armcr/{SOLUTION}/getConfig{API}", {}, format="json"),
    ):
        assert (response.status_code, response.json()["error"]["code"]) == (403, "AuthorizationFailed")
    # Downloading a key registers the appliance's Azure AD app: the App registrations gate applies.
    appdev = certificate(client_for("appdev@contoso.com"), vault_id)
    assert appdev.status_code == 403 and "application" in appdev.json()["error"]["message"].lower()
    fabrikam = certificate(client_for("admin@fabrikam.com"), vault_id)
    assert fabrikam.status_code == 404
    assessment = admin.post(f"{PROJECTS}/armcr/solutions/Servers-Assessment-ServerAssessment/getConfig{API}", {})
    assert assessment.status_code == 404
    not_object = admin.put(f"{vault_id}/certificates/c{API}", "[1]", content_type="application/json")
    assert not_object.status_code == 400
    provider = f"{vault_id}/replicationFabrics/migrate-fabric/replicationRecoveryServicesProviders/nope"
    no_fabric = admin.post(f"{provider}/finalizeRegistration{API}", {}, format="json")
    assert (no_fabric.status_code, no_fabric.json()["error"]["code"]) == (404, "FabricNotFound")
    assert User.objects.filter(email="appdev@contoso.com").exists()
