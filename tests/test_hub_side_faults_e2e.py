"""The hub-side faults with the real appliance and agent processes: while the project's cache storage
account is full, throttled, or its Key Vault refuses the replication keys, the hub refuses the
process server's uploads, the server shows the fault's health error (id, possible causes, recommended
action), so does the appliance, and a notification tells of it; the agent keeps its changed blocks and
sends them again, so once the fault is cleared replication catches up and the replica's SHA-256 at its
latest recovery point equals the source's. Faults are injected and cleared through `/emulator/faults`,
as a person scripting a rehearsal would."""

from __future__ import annotations

import pytest

from tests.disk_images import change_blocks, sha256_of
from tests.replication_rig import (
    FABRIC,
    RG,
    one_disk_rig,
    replicate_until_equal,
    wait_for,
)

pytestmark = pytest.mark.live


def health_codes(rig) -> dict:
    errors = rig.item().properties.health_errors or []
    return {error.error_code: error for error in errors}


def appliance_codes(rig) -> dict:
    """The appliance's health errors, as the Site Recovery SDK reads its provider."""
    provider = rig.sdk().replication_recovery_services_providers.get(
        RG, rig.vault, FABRIC, rig.extra["process_server_id"]
    )
    return {error.error_code: error for error in provider.properties.health_error_details or []}


def notifications_for(rig, fault_name: str) -> int:
    script = (
        "from jobs.models import Notification; "
        f"print(Notification.objects.filter(link__endswith='#fault-{fault_name}').count())"
    )
    return int(rig.hub.manage("shell", "-c", script).strip().splitlines()[-1])


def rehearse(rig, image, kind: str, error_id: str, **properties) -> None:
    """Inject `kind` on the rig's project, change the source, see the refusal's effects, clear, catch up."""
    injected = rig.hub.api(
        "POST",
        "/emulator/faults",
        json={"properties": {"kind": kind, "scope": rig.appliance.project_path, **properties}},
    )
    assert injected.status_code == 201, injected.text
    name = injected.json()["name"]
    change_blocks(image, 16, seed=hash(kind) % 1000)
    changed = sha256_of(image)
    error = wait_for(lambda: health_codes(rig), lambda codes: error_id in codes)[error_id]
    assert error.possible_causes and error.recommended_action, error
    # The appliance shows it too: it is its process server's uploads that are refused.
    on_appliance = appliance_codes(rig)[error_id]
    assert on_appliance.possible_causes and on_appliance.recommended_action, on_appliance
    assert "process server" in on_appliance.summary_message
    # The agent's upload reached the hub and was refused: that refusal notified.
    wait_for(lambda: notifications_for(rig, name), lambda count: count >= 1, seconds=60)
    if properties.get("probability", 1) >= 1:
        assert rig.replica(sha256=True)["disks"][0]["sha256"] != changed, "nothing got through"
    cleared = rig.hub.api("DELETE", f"/emulator/faults/{name}")
    assert cleared.status_code == 200 and cleared.json()["properties"]["state"] == "Cleared"
    assert error_id not in health_codes(rig) and error_id not in appliance_codes(rig)
    rig.wait_until_replica_equals("disk0", changed, seconds=120)


def test_cache_storage_and_key_vault_faults_hold_replication_which_catches_up_once_cleared(live_hub, tmp_path):
    rig, image = one_disk_rig(live_hub, tmp_path, 8, seed=31)
    try:
        replicate_until_equal(rig, image)
        rehearse(rig, image, "cacheStorageFull", "78602")
        rehearse(rig, image, "keyVaultAccessRevoked", "78601")
        rehearse(rig, image, "cacheStorageThrottled", "78603")
        state = rig.replica(sha256=True)
        assert len(state["recoveryPoints"]) >= 4
        log = rig.agent_log.read_text()
        assert "not acknowledged, retrying" in log, log[-2000:]
    finally:
        rig.stop()
