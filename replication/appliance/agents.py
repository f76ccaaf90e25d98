"""The configuration server's side of the agent protocol: agents register with the passphrase, then
heartbeat with the credential they were given, and learn from the answer what to replicate. Agents
registered under an older passphrase (before `genpassphrase -g`) are refused until they register
again, as in Azure; the process server authenticates batches the same way."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time

from appliance import state
from appliance.assignments import ReplicationAssignments
from appliance.faults import FaultsInForce
from appliance.hub_client import HubClient, HubError


class AgentError(Exception):
    def __init__(self, status: int, code: str, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.retry_after = retry_after  # seconds, sent as Retry-After: the agent waits that long


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# Registrations are forwarded to the hub at most this many at a time: a fleet registering at once
# would otherwise crowd out everyone else's requests to the hub; agents wait a little longer instead.
FORWARDING_CONCURRENCY = 1

# The Mobility service versions this appliance's process server works with: the agent it ships (9.60.x).
SUPPORTED_AGENT_VERSION = "9.60"
OFFLINE_REFUSAL = "The appliance cannot reach the hub now: register again once it can."
MAX_AGENT_PROBLEMS = 8


def version_supported(version: str) -> bool:
    return version == SUPPORTED_AGENT_VERSION or version.startswith(SUPPORTED_AGENT_VERSION + ".")


def _bounded_problems(raw) -> dict:
    """An agent's reported problems, kept small: the hub bounds them again."""
    if not isinstance(raw, dict):
        return {}
    kept = {}
    for code, details in list(raw.items())[:MAX_AGENT_PROBLEMS]:
        if isinstance(details, dict):
            kept[str(code)[:40]] = {
                str(k)[:40]: v if not isinstance(v, str) else v[:400] for k, v in list(details.items())[:8]
            }
    return kept


class AgentRegistry:
    def __init__(
        self,
        home: str,
        hub: HubClient,
        appliance_id: str,
        assignments: ReplicationAssignments | None = None,
        faults: FaultsInForce | None = None,
    ):
        self.home, self.hub, self.appliance_id = home, hub, appliance_id
        self.assignments = assignments
        self.faults = faults or FaultsInForce()
        # Agents this configuration server refuses now (machine id -> the health problem), and what
        # each agent reports going wrong (its last heartbeat's problems): both go to the hub.
        self.refusals: dict[str, dict] = {}
        self.problems: dict[str, dict] = {}
        self.lock = threading.Lock()
        self.forwarding = threading.BoundedSemaphore(FORWARDING_CONCURRENCY)
        self.agents = state.load_agents(home)

    def register(self, body: dict) -> dict:
        passphrase = body.get("passphrase")
        machine = body.get("machine")
        if not isinstance(passphrase, str) or not isinstance(machine, dict) or not body.get("machineId"):
            raise AgentError(400, "InvalidRequest", "Send machineId, passphrase and machine (the inventory).")
        if not hmac.compare_digest(_hash(passphrase.strip()), _hash(state.current_passphrase(self.home))):
            raise AgentError(
                401,
                "InvalidPassphrase",
                "The passphrase does not match the appliance's. On the appliance, run genpassphrase -v and register "
                "again with that passphrase.",
            )
        machine_id = str(body["machineId"])[:128]
        if self.faults.offline():
            raise AgentError(503, "HubUnreachable", OFFLINE_REFUSAL)
        try:
            with self.forwarding:
                server = self.hub.post(
                    f"/appliance-api/v1/appliances/{self.appliance_id}/machines",
                    {"machineId": machine_id, "agentVersion": str(body.get("agentVersion", "")), "machine": machine},
                )
        except HubError as error:
            raise AgentError(error.status or 502, error.code, error.message) from None
        secret = secrets.token_urlsafe(24)
        with self.lock:
            self.agents[machine_id] = {
                "secretHash": _hash(secret),
                "generation": state.passphrase_generation(self.home),
                "lastHeartbeat": time.time(),
                "serverId": server["serverId"],
            }
            state.save_agents(self.home, self.agents)
        return {
            "agentId": machine_id,
            "secret": secret,
            "serverId": server["serverId"],
            "configurationServerId": self.appliance_id,
        }

    def authenticate(self, agent_id, secret, *, alive: bool = False) -> str:
        """The agent's machine id, if its credential is good under the current passphrase generation."""
        machine_id, secret = str(agent_id or ""), str(secret or "")
        with self.lock:
            agent = self.agents.get(machine_id)
            if agent is None or not hmac.compare_digest(agent["secretHash"], _hash(secret)):
                raise AgentError(401, "AgentNotRegistered", "This agent is not registered with the appliance.")
            if agent["generation"] != state.passphrase_generation(self.home):
                raise AgentError(
                    401,
                    "PassphraseChanged",
                    "The appliance's passphrase was regenerated: register the agent again with the new passphrase.",
                )
            if alive:
                agent["lastHeartbeat"] = time.time()
        return machine_id

    def heartbeat(self, body: dict) -> dict:
        """The agent's entry (what to replicate) and its faults; an agent this appliance cannot work with
        is answered Refused, with the reason, and its batches are refused (refusal_of)."""
        machine_id = self.authenticate(body.get("agentId"), body.get("secret"), alive=True)
        refusal = self._refusal(body)
        with self.lock:
            if refusal:
                self.refusals[machine_id] = refusal
            else:
                self.refusals.pop(machine_id, None)
            self.problems[machine_id] = _bounded_problems(body.get("problems"))
        entry = self.assignments.entry_for(machine_id) if self.assignments else None
        answer = {"status": "Connected", "replication": entry, "faults": self.faults.for_agent(machine_id)}
        if refusal:
            answer.update(status="Refused", refusal=next(iter(refusal.values()))["message"])
        return answer

    def _refusal(self, body: dict) -> dict:
        """{health code: details} when the agent reports a version or a configuration server this
        appliance does not work with (Azure's EP0864 and EP0867); {} otherwise. An agent that reports
        neither (an older one) is taken as it is."""
        version = body.get("agentVersion")
        if isinstance(version, str) and version and not version_supported(version):
            return {
                "EP0864": {
                    "agentVersion": version[:40],
                    "supportedVersion": SUPPORTED_AGENT_VERSION,
                    "message": f"A different version of the Mobility service ({version[:40]}) is installed on the "
                    f"source machine; this appliance works with {SUPPORTED_AGENT_VERSION}.",
                }
            }
        configuration_server = body.get("configurationServerId")
        if isinstance(configuration_server, str) and configuration_server and configuration_server != self.appliance_id:
            return {
                "EP0867": {
                    "configurationServer": configuration_server[:80],
                    "message": "The Mobility service is already installed on the source machine and registered to "
                    f"a different configuration server ({configuration_server[:80]}).",
                }
            }
        return {}

    def refusal_of(self, machine_id: str) -> dict | None:
        with self.lock:
            return self.refusals.get(machine_id)

    def statuses(self, silent_after_seconds: float) -> list[dict]:
        """What the appliance tells the hub about each agent with its own heartbeat."""
        now, generation = time.time(), state.passphrase_generation(self.home)
        with self.lock:
            return [
                {
                    "machineId": machine_id,
                    "connected": agent["generation"] == generation
                    and now - agent["lastHeartbeat"] < silent_after_seconds,
                    "passphraseCurrent": agent["generation"] == generation,
                    "secondsSinceHeartbeat": round(now - agent["lastHeartbeat"], 1),
                    "problems": {**self.problems.get(machine_id, {}), **self.refusals.get(machine_id, {})},
                }
                for machine_id, agent in self.agents.items()
            ]


SCALE_OUT_REFUSAL = (
    "This is a scale-out process server: register the Mobility service with the configuration server "
    "(the appliance the portal's Discover lists), which tells it where to send its data."
)


class ScaleOutAgents:
    """A scale-out process server's view of agents (setup --scale-out): they register and heartbeat with
    the configuration server, not here, and a batch is accepted by the batch token the hub gave this
    process server for the agent's item, which the agent got from the configuration server."""

    def __init__(self, assignments: ReplicationAssignments):
        self.assignments = assignments

    def authenticate(self, agent_id, secret, *, alive: bool = False) -> str:
        machine_id = str(agent_id or "")
        entry = self.assignments.entry_for(machine_id)
        token = entry.get("batchToken") if entry else None
        if not isinstance(token, str) or not hmac.compare_digest(token.encode(), str(secret or "").encode()):
            raise AgentError(
                401,
                "BatchTokenInvalid",
                "This scale-out process server does not replicate that machine, or the batch token is not its item's: "
                "the agent learns the token from its configuration server's heartbeat.",
            )
        return machine_id

    def register(self, body: dict) -> dict:
        raise AgentError(409, "ScaleOutProcessServer", SCALE_OUT_REFUSAL)

    def heartbeat(self, body: dict) -> dict:
        raise AgentError(409, "ScaleOutProcessServer", SCALE_OUT_REFUSAL)

    def statuses(self, silent_after_seconds: float) -> list[dict]:
        return []  # the configuration server reports its agents

    def refusal_of(self, machine_id: str) -> dict | None:
        return None  # the configuration server refuses agents
