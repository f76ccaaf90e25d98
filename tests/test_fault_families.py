"""The process-side fault families (issue 15), each injected into a real appliance and a real Mobility
service replicating a disk image: the hub lists the fault in its heartbeat answer, the appliance or the
agent behaves so for real, the health error shows on the server and on the appliance with its error id,
possible causes and recommended action, and a notification goes out. Cleared, it goes away by itself,
replication catches up, and the replica at its latest recovery point is byte for byte the source.

Faults are injected inside the hub (faults.services, as the portal and /emulator/faults do) on the ids
replication.fault_wire documents. The hub's clock is advanced where a rule needs minutes to pass, on a
hub of this module's own. DOCS_SCREENSHOTS=1 saves the server's blade with its health error."""

from __future__ import annotations

import json
import os
import time

import pytest
import requests

from tests import hubs
from tests.conftest import screenshot, sign_in
from tests.disk_images import MIB, change_blocks, sha256_of, write_realistic_image
from tests.hubs import CONTOSO
from tests.replication_rig import (
    FABRIC,
    RG,
    ImageWriter,
    build_rig,
    enable_replication,
    wait_for,
    wait_for_state,
)

pytestmark = pytest.mark.live


# Its own database and Redis DB: these tests move the hub's clock.
fault_hub = hubs.module_hub_fixture("faultfam", redis_db_offset=7)


@pytest.fixture(scope="module")
def replicating(fault_hub, tmp_path_factory):
    """A server replicating a 4 MiB disk image, its initial replication done, shared by the module's tests:
    each leaves it as it found it (the fault cleared, health normal, the replica identical)."""
    tmp_path = tmp_path_factory.mktemp("fault-rig")
    image = tmp_path / "disk0.img"
    write_realistic_image(image, 4 * MIB, seed=5)
    rig = build_rig(fault_hub, tmp_path, {"disk0": image})
    rig.extra["image"] = image
    rig.extra["tmp"] = tmp_path
    try:
        enable_replication(rig)
        wait_for_state(rig, "Replicating")
        rig.wait_until_replica_equals("disk0", sha256_of(image))
        yield rig
    finally:
        rig.stop()


@pytest.fixture
def rig(fault_hub, replicating):
    wait_until_healthy(replicating)
    replicating.extra["log_mark"] = len(replicating.agent_log.read_text())
    yield replicating
    clear_all(fault_hub)  # a test that failed half-way must not hand its faults to the next
    fault_hub.manage("clock", "reset")


# Inside the hub


def hub_json(hub, code: str):
    """Run Python in the hub (manage.py shell) and read the JSON its last line prints."""
    return json.loads(hub.manage("shell", "-c", code).strip().splitlines()[-1])


def inject(hub, kind: str, scope: str, scope_kind: str, probability: float = 1.0, **parameters) -> str:
    return hub_json(
        hub,
        "import json; from faults import services; from projects.models import User\n"
        "user = User.objects.get(email='admin@contoso.com')\n"
        f"fault = services.inject(tenant=user.tenant, injected_by=user, kind={kind!r}, scope={scope!r}, "
        f"scope_kind={scope_kind!r}, parameters={parameters!r}, probability={probability!r})\n"
        "print(json.dumps(str(fault.pk)))",
    )


def clear(hub, fault_id: str) -> None:
    hub_json(
        hub,
        "import json; from faults import services; from faults.models import Fault; "
        "from projects.models import User\n"
        f"cleared = services.clear(Fault.objects.get(pk={fault_id!r}), "
        "cleared_by=User.objects.get(email='admin@contoso.com'))\n"
        "print(json.dumps(cleared))",
    )


def clear_all(hub) -> None:
    hub_json(
        hub,
        "import json; from faults import services; from faults.models import Fault; from hub import clock; "
        "from projects.models import User\n"
        "user = User.objects.get(email='admin@contoso.com')\n"
        "print(json.dumps([services.clear(fault, cleared_by=user) for fault in Fault.objects.in_force(clock.now())]))",
    )


def notifications(hub, code: str) -> list[str]:
    """Titles of the notifications about health error `code`."""
    return hub_json(
        hub,
        "import json; from jobs.models import Notification\n"
        f"titles = Notification.objects.filter(title__contains={code!r}).values_list('title', flat=True)\n"
        "print(json.dumps(list(titles)))",
    )


def noted_tasks(rig, code: str) -> list[tuple[str, bool]]:
    """(state, still open) of the tasks health error `code` added to the server's jobs, as the Site
    Recovery SDK reads the jobs; each carries the error with its causes and action."""
    found = []
    for job in rig.sdk().replication_jobs.list(RG, rig.vault):
        if job.properties.target_object_id != rig.item_id:
            continue
        for task in job.properties.tasks or []:
            if task.name == f"HealthError{code}":
                [error] = task.errors
                details = error.service_error_details
                assert details.code == code and details.possible_causes and details.recommended_action, details
                found.append((task.state, task.end_time is None or task.end_time.year == 1))
    return found


def wait_for_task(rig, code: str, state: str, seconds: float = 60) -> None:
    """A task for `code` on the server's job, open and in `state` (Failed, Warning)."""
    wait_for(lambda: noted_tasks(rig, code), lambda tasks: (state, True) in tasks, seconds)


def wait_task_ended(rig, code: str, seconds: float = 60) -> None:
    wait_for(lambda: noted_tasks(rig, code), lambda tasks: tasks and not any(open_ for _, open_ in tasks), seconds)


def throughput(hub, item_id: str) -> float:
    return hub_json(
        hub,
        "import json; from replication.models import MigrationItem\n"
        f"print(json.dumps(MigrationItem.objects.get(pk={item_id!r}).throughput_bytes_per_second))",
    )


# Scopes, as replication.fault_wire names them


def vault_id(rig) -> str:
    return f"/subscriptions/{CONTOSO}/resourceGroups/{RG}/providers/Microsoft.RecoveryServices/vaults/{rig.vault}"


def appliance_scope(rig) -> str:
    providers = f"{vault_id(rig)}/replicationFabrics/{FABRIC}/replicationRecoveryServicesProviders"
    return f"{providers}/{rig.extra['process_server_id']}"


def process_server_scope(rig) -> str:
    return f"{vault_id(rig)}/replicationFabrics/{FABRIC}/processServers/{rig.extra['process_server_id']}"


def project_scope(rig) -> str:
    return rig.appliance.project_path  # the Migrate project's id


def server_scope(rig) -> str:
    return rig.extra["machine"].id  # the discovered machine: the item's fabricDiscoveryMachineId


# Health, as the Site Recovery SDK reads it


def item_health(rig) -> tuple[str, dict]:
    properties = rig.item().properties
    return properties.health, {error.error_code: error for error in properties.health_errors or []}


def appliance_errors(rig) -> dict:
    provider = rig.sdk().replication_recovery_services_providers.get(
        RG, rig.vault, FABRIC, rig.extra["process_server_id"]
    )
    return {error.error_code: error for error in provider.properties.health_error_details or []}


def wait_for_error(rig, code: str, seconds: float = 60):
    """The server's health error `code`, once it shows; its causes and action are said."""
    _, errors = wait_for(lambda: item_health(rig), lambda found: code in found[1], seconds)
    error = errors[code]
    assert error.possible_causes and error.recommended_action, error
    return error


def wait_until_healthy(rig, seconds: float = 90) -> None:
    wait_for(lambda: item_health(rig), lambda found: found[0] == "Normal" and not found[1], seconds)


def agent_log(rig) -> str:
    """What the Mobility service logged during this test."""
    return rig.agent_log.read_text()[rig.extra["log_mark"] :]


def latest_cycle(rig) -> int:
    return max((point["cycle"] for point in rig.replica()["recoveryPoints"]), default=0)


def recovers_identical(rig) -> None:
    """The fault is over: health back to normal by itself, the replica at its latest point = the source."""
    wait_until_healthy(rig)
    rig.wait_until_replica_equals("disk0", sha256_of(rig.extra["image"]))


def no_point_while(rig, seconds: float = 4) -> None:
    """No recovery point reaches the hub for a while, though the source changed."""
    change_blocks(rig.extra["image"], 16, seed=int(time.time()))
    cycle = latest_cycle(rig)
    time.sleep(seconds)
    assert latest_cycle(rig) == cycle, "replication went on"


def blade_screenshot(rig, request, name: str) -> None:
    """DOCS_SCREENSHOTS=1: the server's blade, with its health error, at 1400x900."""
    if not os.environ.get("DOCS_SCREENSHOTS"):
        return
    browser = request.getfixturevalue("browser")
    page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    sign_in(page, rig.hub)
    page.goto(f"{rig.hub.url}/migrate/replicating-servers/{rig.item_id}/")
    screenshot(page, name, showing=page.locator(f"#replicating-health-{rig.item_id}"))
    page.context.close()


def register_through(rig, machine_id: str) -> int:
    """Registers a machine through the appliance (discovery's first step); the answer's status."""
    passphrase = (rig.prefix.parent / "pass.txt").read_text().strip()  # build_rig's
    machine = {
        "hostName": machine_id,
        "osType": "Linux",
        "osName": "Ubuntu",
        "cores": 1,
        "memoryMB": 1024,
        "disks": [{"diskId": "disk0", "sizeBytes": MIB}],
    }
    body = {"machineId": machine_id, "passphrase": passphrase, "agentVersion": "9.60.0", "machine": machine}
    url = f"http://127.0.0.1:{rig.appliance.port}/agent-api/v1/register"
    return requests.post(url, json=body, timeout=30).status_code


# One test per family


def test_appliance_offline_stops_heartbeats_and_uploads_until_cleared(fault_hub, rig, request):
    fault = inject(fault_hub, "applianceOffline", appliance_scope(rig), "appliance")
    # Cut off: registrations are refused (discovery stops), batches wait on the source.
    assert wait_for(lambda: register_through(rig, "probe-offline"), lambda status: status == 503) == 503
    no_point_while(rig)
    assert "not acknowledged, retrying" in agent_log(rig), "the agent keeps its batches"
    # Noted at once from the appliance's probe: a task on the server's job and a notification.
    wait_for_task(rig, "ApplianceOffline", "Failed")
    assert notifications(fault_hub, "ApplianceOffline")
    # Fifteen minutes later on the hub's clock, the heartbeat-lost health shows.
    fault_hub.manage("clock", "advance", "16m")
    wait_for_error(rig, "78013")
    assert appliance_errors(rig)["78012"].error_level == "Warning"
    blade_screenshot(rig, request, "fault-appliance-offline.png")

    clear(fault_hub, fault)
    wait_for(lambda: appliance_errors(rig), lambda errors: "78012" not in errors, 30)
    assert register_through(rig, "probe-offline") == 200
    wait_task_ended(rig, "ApplianceOffline")
    assert any(title.endswith("resolved") for title in notifications(fault_hub, "ApplianceOffline"))
    recovers_identical(rig)


def test_an_upload_bandwidth_cap_holds_the_measured_throughput_to_it(fault_hub, rig, request):
    writer = ImageWriter(rig.extra["image"], blocks=16, interval=0.25).start()  # ~256 KB/s of random blocks
    try:
        fault = inject(fault_hub, "uploadBandwidthCap", process_server_scope(rig), "processServer", mbps=1.6)
        error = wait_for_error(rig, "ProcessServerUploadCapped")
        assert "1.6 Mbps" in error.summary_message
        assert "ProcessServerUploadCapped" in appliance_errors(rig)
        wait_for_task(rig, "ProcessServerUploadCapped", "Warning")
        time.sleep(8)  # a closed measuring window or two of capped uploads
        measured = [throughput(fault_hub, rig.item_id) for _ in range(3)]
        assert 0 < max(measured) <= 1.6e6 / 8 * 1.3, measured  # 200 KB/s, and a little for the windows' edges
        blade_screenshot(rig, request, "fault-upload-bandwidth-cap.png")
        clear(fault_hub, fault)
    finally:
        writer.stop()
    assert notifications(fault_hub, "ProcessServerUploadCapped")
    recovers_identical(rig)
    wait_task_ended(rig, "ProcessServerUploadCapped")


def test_a_flapping_link_drops_uploads_which_are_retried(fault_hub, rig, request):
    writer = ImageWriter(rig.extra["image"], blocks=8, interval=0.5).start()
    try:
        fault = inject(fault_hub, "linkFlapping", appliance_scope(rig), "appliance", upSeconds=1, downSeconds=2)
        error = wait_for_error(rig, "ProcessServerLinkFlapping")
        assert "uploads failed" in error.summary_message
        assert "ProcessServerLinkFlapping" in appliance_errors(rig)
        assert "not acknowledged, retrying" in agent_log(rig)
        wait_for_task(rig, "ProcessServerLinkFlapping", "Warning")
        assert notifications(fault_hub, "ProcessServerLinkFlapping")
        blade_screenshot(rig, request, "fault-link-flapping.png")
        clear(fault_hub, fault)
    finally:
        writer.stop()
    recovers_identical(rig)
    wait_task_ended(rig, "ProcessServerLinkFlapping")


def test_source_churn_beyond_the_link_grows_the_rpo_to_warning_then_critical(fault_hub, rig, request):
    churn = inject(fault_hub, "sourceChurn", server_scope(rig), "server", mbPerSecond=1)
    # A link that carries an eighth of it: no cycle completes while the churn goes on.
    cap = inject(fault_hub, "uploadBandwidthCap", process_server_scope(rig), "processServer", mbps=0.1)
    error = wait_for_error(rig, "78188")
    assert "1.0 MB/s" in error.summary_message or "1 MB/s" in error.summary_message
    assert "78188" in appliance_errors(rig)
    wait_for_task(rig, "78188", "Warning")
    assert notifications(fault_hub, "78188")
    time.sleep(3)  # the cycle under way now carries churned blocks at the cap

    fault_hub.manage("clock", "advance", "16m")
    # Until the appliance's and the agent's next heartbeats land after the jump, they too look silent for
    # 16 minutes (Critical): on a loaded machine that can outlast the first reading.
    health, errors = wait_for(
        lambda: item_health(rig), lambda found: "153007" in found[1] and found[0] == "Warning", seconds=90
    )
    assert errors["153007"].error_level == "Warning"
    assert "last 15 minutes" in errors["153007"].summary_message
    fault_hub.manage("clock", "advance", "45m")
    health, errors = wait_for(lambda: item_health(rig), lambda found: found[0] == "Critical")
    assert errors["153007"].error_level == "Error" and "last 60 minutes" in errors["153007"].summary_message
    assert "78052" in errors, "the RPO is beyond the policy's threshold too"
    blade_screenshot(rig, request, "fault-source-churn.png")

    clear(fault_hub, churn)
    clear(fault_hub, cap)
    wait_for(lambda: agent_log(rig), lambda log: "Source churn stopped." in log, 30)
    recovers_identical(rig)


@pytest.mark.parametrize(
    ("kind", "code", "words"),
    [
        ("agentVersionMismatch", "EP0864", "different version"),
        ("agentOtherConfigurationServer", "EP0867", "registered to a different configuration server"),
    ],
)
def test_an_agent_the_appliance_refuses_pauses_replication_with_azures_words(
    fault_hub, rig, request, kind, code, words
):
    fault = inject(fault_hub, kind, server_scope(rig), "server")
    error = wait_for_error(rig, code)
    assert error.error_level == "Error" and words in (error.summary_message + error.possible_causes)
    assert code in appliance_errors(rig)
    assert item_health(rig)[0] == "Critical"
    no_point_while(rig)
    assert "Refused by the appliance" in agent_log(rig)
    wait_for_task(rig, code, "Failed")
    mismatch = kind == "agentVersionMismatch"
    blade_screenshot(
        rig, request, "fault-agent-version-mismatch.png" if mismatch else "fault-other-configuration-server.png"
    )

    clear(fault_hub, fault)
    recovers_identical(rig)
    titles = notifications(fault_hub, code)  # the server's owner heard of the error, and of its end
    assert any(title.endswith("resolved") for title in titles) and len(titles) >= 2, titles
    wait_task_ended(rig, code)


def test_disk_read_errors_pause_the_disk_until_it_reads_again(fault_hub, rig, request):
    fault = inject(fault_hub, "diskReadErrors", server_scope(rig), "server", diskIndex=0)
    change_blocks(rig.extra["image"], 16, seed=44)
    error = wait_for_error(rig, "SourceDiskReadFailed")
    assert "disk0" in error.summary_message and "Input/output error" in error.summary_message
    assert "SourceDiskReadFailed" in appliance_errors(rig)
    wait_for_task(rig, "SourceDiskReadFailed", "Failed")
    assert notifications(fault_hub, "SourceDiskReadFailed")
    no_point_while(rig)
    blade_screenshot(rig, request, "fault-disk-read-errors.png")

    clear(fault_hub, fault)
    recovers_identical(rig)
    wait_task_ended(rig, "SourceDiskReadFailed")


def test_a_probability_is_taken_where_a_fault_is_an_event_and_refused_where_it_is_a_state(fault_hub, rig):
    # A state (the agent's version) takes none: the API says so.
    body = {"properties": {"kind": "agentVersionMismatch", "scope": server_scope(rig), "probability": 0.5}}
    refused = fault_hub.api("POST", "/emulator/faults", json=body)
    assert refused.status_code == 400 and "takes no probability" in refused.json()["error"]["message"]
    # An event (churn) takes one: the agent writes in bursts.
    churn = inject(fault_hub, "sourceChurn", server_scope(rig), "server", probability=0.5, mbPerSecond=0.2)
    wait_for(lambda: agent_log(rig), lambda log: "in bursts (probability 0.5)" in log, 30)
    clear(fault_hub, churn)
    wait_for(lambda: agent_log(rig), lambda log: "Source churn stopped." in log, 30)
    recovers_identical(rig)


def scale_out_problems(hub, name: str) -> dict:
    return hub_json(
        hub,
        "import json; from replication.models import Appliance\n"
        f"print(json.dumps(Appliance.objects.get(name={name!r}).problems))",
    )


def test_a_scale_out_process_server_takes_the_faults_on_its_appliance_and_project(fault_hub, rig):
    from tests.appliances import launch_appliance
    from tests.hubs import free_port

    configuration_server = json.loads((rig.appliance.home / "appliance.json").read_text())["name"]
    tmp = rig.extra["tmp"]
    scale_out = launch_appliance(
        rig.appliance.folder,
        tmp / "appliance.key",
        tmp / "scale-out-home",
        free_port(),
        "ps-fault-scale-out",
        "--scale-out",
        "--configuration-server",
        configuration_server,
    )
    try:
        for scope, scope_kind in ((appliance_scope(rig), "appliance"), (project_scope(rig), "project")):
            cap = inject(fault_hub, "uploadBandwidthCap", scope, scope_kind, mbps=3)
            problems = wait_for(
                lambda: scale_out_problems(fault_hub, "ps-fault-scale-out"),
                lambda found: "ProcessServerUploadCapped" in found,
                30,
            )
            assert problems["ProcessServerUploadCapped"] == {"mbps": 3.0}, scope_kind
            clear(fault_hub, cap)
            wait_for(lambda: scale_out_problems(fault_hub, "ps-fault-scale-out"), lambda found: not found, 30)
        # Its own process server's fault stays its own: the scale-out one is not capped by it.
        own = inject(fault_hub, "uploadBandwidthCap", process_server_scope(rig), "processServer", mbps=3)
        wait_for_error(rig, "ProcessServerUploadCapped")
        assert scale_out_problems(fault_hub, "ps-fault-scale-out") == {}
        clear(fault_hub, own)
    finally:
        scale_out.terminate()
        scale_out.wait(timeout=10)
    recovers_identical(rig)
