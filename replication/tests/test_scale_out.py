"""Scale-out process servers on the hub's side (replication.process_servers) and the appliance's
(appliance.agents.ScaleOutAgents), and the agent's choice of where its batches go: registration as a
process server of a finalized appliance, the Replicate plan through one, the heartbeat entries that
route an item's batches to it with the item's token, and the token the scale-out process server
accepts. tests/test_scale_out_process_server.py replicates through one for real."""

from __future__ import annotations

import pytest

# The agent and the appliance are on sys.path from replication/tests/conftest.py, which pytest imports first.
from agent.replicator import Replicator
from appliance.agents import AgentError, ScaleOutAgents

from hub.arm.errors import ArmError
from replication import process_servers
from replication.models import Appliance, MigrationItem, RunAsAccount
from replication.tests.conftest import issue
from replication.tests.test_replicate import (  # noqa: F401 (the fixture)
    enable,
    existing_credentials,
    plan,
    rules,
    server_plan,
    world,
)

pytestmark = pytest.mark.django_db


def scale_out(world_, name="ps-2", listen="0.0.0.0:9443", **details):  # noqa: F811 (not the fixture)
    return process_servers.scale_out_register(
        key_text=issue(world_["project"])[1],
        configuration_server=world_["appliance"].name,
        name=name,
        listen=listen,
        ip_addresses=["10.0.0.9"],
        **details,
    )[0]


def test_a_scale_out_process_server_registers_ready_under_its_appliance(world):  # noqa: F811
    process_server = scale_out(world)
    assert process_server.scale_out_of == world["appliance"]
    assert process_server.state == Appliance.State.FINALIZED
    assert process_server.configuration_server == world["appliance"]
    assert process_servers.process_server_url(process_server) == "http://10.0.0.9:9443"
    assert scale_out(world).pk == process_server.pk, "registering again by name is the same process server"

    with pytest.raises(ArmError) as refused:
        process_servers.scale_out_register(
            key_text=issue(world["project"])[1], configuration_server="nowhere", name="ps-3"
        )
    assert refused.value.status == 404 and refused.value.code == "ConfigurationServerNotFound"
    with pytest.raises(ArmError) as taken:
        scale_out(world, name=world["appliance"].name)
    assert taken.value.code == "ApplianceNameTaken"


def test_replicating_through_it_keeps_the_appliances_servers_and_credentials(world):  # noqa: F811
    process_server = scale_out(world)
    assert rules(world, plan(world, appliance=process_server)) == set()
    enable(world, plan(world, appliance=process_server))
    item = MigrationItem.objects.get(server=world["linux"])
    assert item.appliance == process_server
    assert RunAsAccount.objects.get().appliance == world["appliance"], "credentials stay the appliance's"

    other = Appliance.objects.create(
        project=world["project"], name="elsewhere", state=Appliance.State.FINALIZED, credential_hash="x" * 64
    )
    assert ("servers", "ServerOnAnotherAppliance") in rules(world, plan(world, appliance=other))


def test_the_heartbeats_route_the_items_batches_to_its_process_server(world):  # noqa: F811
    process_server = scale_out(world)
    enable(world, plan(world, appliance=process_server))
    # The other server, through the appliance's own process server.
    enable(world, plan(world, server_plan(world["windows"]), **existing_credentials()))
    item = MigrationItem.objects.get(appliance=process_server)
    MigrationItem.objects.update(migration_state="InitialSeedingInProgress")
    token = process_servers.batch_token(item.pk)

    own = {entry["itemId"]: entry for entry in process_servers.heartbeat_instructions(world["appliance"])}
    assert len(own) == 2
    assert own[str(item.pk)]["processServer"] == {
        "id": str(process_server.pk),
        "name": "ps-2",
        "url": "http://10.0.0.9:9443",
        "batchToken": token,
    }
    assert "processServer" not in next(entry for key, entry in own.items() if key != str(item.pk))
    [entry] = process_servers.heartbeat_instructions(process_server)
    assert entry["itemId"] == str(item.pk) and entry["batchToken"] == token
    assert "processServer" not in entry


def test_the_scale_out_process_server_accepts_a_batch_by_its_items_token_only(tmp_path):
    class Assignments:
        def entry_for(self, machine_id):
            return {"machineId": "m-1", "itemId": "item-1", "batchToken": "good"} if machine_id == "m-1" else None

    agents = ScaleOutAgents(Assignments())
    assert agents.authenticate("m-1", "good") == "m-1"
    for agent_id, secret in (("m-1", "bad"), ("m-2", "good"), ("m-1", None)):
        with pytest.raises(AgentError) as refused:
            agents.authenticate(agent_id, secret)
        assert refused.value.status == 401 and refused.value.code == "BatchTokenInvalid"
    with pytest.raises(AgentError) as register:
        agents.register({"machineId": "m-3"})
    assert register.value.status == 409 and "configuration server" in register.value.message
    assert agents.statuses(300) == []


def test_the_agent_sends_batches_where_its_entry_says(tmp_path):
    credentials = {"appliance": "http://10.0.0.5:9443", "agentId": "m-1", "secret": "agent-secret"}
    replicator = Replicator(str(tmp_path), "m-1", [], lambda: credentials)
    assert replicator.batch_credentials() == credentials
    replicator.entry = {"itemId": "item-1", "processServer": {"url": "http://10.0.0.9:9443", "batchToken": "t"}}
    assert replicator.batch_credentials() == {"appliance": "http://10.0.0.9:9443", "agentId": "m-1", "secret": "t"}
