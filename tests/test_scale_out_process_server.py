"""A scale-out process server for real (issue 14, item 5): the appliance program's `setup --scale-out`
registers a second process server of the appliance with the hub; a server replicated through it (the
API's processServerId, as Azure's InMageRcm enable input carries it) sends its batches there, not to the
configuration server's own process server, and the replica ends byte-identical to the source."""

from __future__ import annotations

import json

import pytest
import requests

from tests.appliances import launch_appliance
from tests.disk_images import sha256_of
from tests.hubs import free_port
from tests.replication_rig import CONTOSO, RG, enable_body, one_disk_rig, wait_for, wait_for_state

pytestmark = pytest.mark.live


def test_a_server_replicates_through_a_scale_out_process_server(live_hub, tmp_path):
    rig, image = one_disk_rig(live_hub, tmp_path, 16, seed=14)
    scale_out = None
    try:
        configuration_server = json.loads((rig.appliance.home / "appliance.json").read_text())["name"]
        port = free_port()
        scale_out = launch_appliance(
            rig.appliance.folder,
            tmp_path / "appliance.key",
            tmp_path / "scale-out-home",
            port,
            "ps-scale-out-1",
            "--scale-out",
            "--configuration-server",
            configuration_server,
        )
        assert f"scale-out process server of {configuration_server}" in scale_out.setup_output
        asr = rig.sdk()
        fabric = wait_for(
            lambda: next(iter(asr.replication_fabrics.list(RG, rig.vault))),
            lambda fabric: len(fabric.properties.custom_details.process_servers) == 2,
        )
        (process_server,) = [
            ps for ps in fabric.properties.custom_details.process_servers if ps.name == "ps-scale-out-1"
        ]

        vault_id = (
            f"/subscriptions/{CONTOSO}/resourceGroups/{RG}/providers/Microsoft.RecoveryServices/vaults/{rig.vault}"
        )
        machine = rig.extra["machine"]
        item = asr.replication_migration_items.begin_create(
            RG,
            rig.vault,
            "migrate-fabric",
            "migrate-container",
            machine.name,
            enable_body(vault_id, machine, process_server.id),
        ).result()
        rig.item_name = item.name
        rig.item_id = item.properties.provider_specific_details["internalIdentifier"]
        assert item.properties.provider_specific_details["processServerId"] == process_server.id

        wait_for_state(rig, "Replicating")
        rig.wait_until_replica_equals("disk0", sha256_of(image))

        # The batches went through the scale-out process server, none through the configuration server's.
        scale_out_health = requests.get(f"http://127.0.0.1:{port}/health", timeout=10).json()
        own_health = requests.get(f"http://127.0.0.1:{rig.appliance.port}/health", timeout=10).json()
        assert "batches" in scale_out_health["processServer"], scale_out_health
        assert own_health["processServer"] == "Running", own_health
        assert "configurationServer" not in scale_out_health
    finally:
        if scale_out is not None:
            scale_out.terminate()
            scale_out.wait(timeout=10)
        rig.stop()
