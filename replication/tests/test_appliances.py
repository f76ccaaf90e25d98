"""Appliance registration, credentials, heartbeats and finalization on the hub's side."""

from datetime import timedelta

import pytest

from hub import clock
from hub.arm.errors import ArmError
from jobs.services import job_run
from projects.models import User
from replication import services
from replication.models import Appliance
from replication.tests.conftest import issue

pytestmark = pytest.mark.django_db


def register(project, name="appliance-1"):
    _, text = issue(project)
    return services.appliance_register(key_text=text, name=name, listen="127.0.0.1:9443", version="1.0.0")


def test_registering_twice_by_name_is_one_appliance_with_a_new_credential(project):
    first, old = register(project)
    second, new = register(project)
    assert first.pk == second.pk and old != new
    assert Appliance.objects.count() == 1
    with pytest.raises(ArmError) as stale:
        services.appliance_authenticate(f"Appliance {old}", first.pk)
    assert stale.value.code == "ApplianceNotRegistered"
    assert services.appliance_authenticate(f"Appliance {new}", first.pk).pk == first.pk
    assert new not in second.credential_hash, "only the credential's hash is stored"


def test_a_credential_only_speaks_for_its_own_appliance(project):
    one, credential = register(project, "one")
    two, _ = register(project, "two")
    with pytest.raises(ArmError):
        services.appliance_authenticate(f"Appliance {credential}", two.pk)


def test_health_follows_the_heartbeats_on_the_emulators_clock(project):
    appliance, _ = register(project)
    assert appliance.health(clock.now()) == "Normal"
    clock.advance(timedelta(minutes=16))
    assert appliance.health(clock.now()) == "Warning"
    services.appliance_heartbeat(appliance, version="1.0.1", components={"processServer": "Running"})
    assert appliance.health(clock.now()) == "Normal" and appliance.version == "1.0.1"
    clock.advance(timedelta(hours=2))
    assert appliance.health(clock.now()) == "Critical"


def test_finalizing_a_silent_appliance_fails_and_gives_it_back(project, django_capture_on_commit_callbacks):
    appliance, _ = register(project)
    admin = User.objects.get(email="admin@contoso.com")
    clock.advance(timedelta(minutes=20))
    with django_capture_on_commit_callbacks():
        job = services.appliance_finalize_start(user=admin, appliance=appliance)
    job_run(job.pk)
    job.refresh_from_db()
    assert job.state == "Failed"
    assert job.errors[0]["serviceErrorDetails"]["code"] == "ApplianceNotConnected"
    appliance.refresh_from_db()
    assert appliance.state == Appliance.State.REGISTERED, "the user can retry once the appliance runs"
    services.appliance_heartbeat(appliance, version="1.0.0", components={})
    with django_capture_on_commit_callbacks():
        job = services.appliance_finalize_start(user=admin, appliance=appliance)
    job_run(job.pk)
    appliance.refresh_from_db()
    assert appliance.state == Appliance.State.FINALIZED
    with pytest.raises(ArmError) as again:
        services.appliance_finalize_start(user=admin, appliance=appliance)
    assert again.value.code == "AlreadyFinalized"


def test_a_reader_cannot_finalize(project):
    appliance, _ = register(project)
    with pytest.raises(ArmError) as denied:
        services.appliance_finalize_start(user=User.objects.get(email="viewer@contoso.com"), appliance=appliance)
    assert denied.value.status == 403


def test_the_host_check_names_what_falls_short():
    from appliance import host as appliance_host

    small = appliance_host.Host("h", "Linux", cores=1, memory_gib=0.5, free_disk_gib=50, python="3.11", ip_addresses=[])
    problems, warnings = appliance_host.shortfalls(small)
    assert problems == ["The host has 0.5 GiB of memory; the appliance needs at least 1.0."]
    assert any("Azure recommends 8" in warning for warning in warnings)
