"""The fault families, one description each: where a fault may be scoped, what parameters it takes
(each bounded), and how the portal names it. Services validate against these; nothing else lists them.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class ScopeKind:
    APPLIANCE = "appliance"  # .../migrateProjects/{p}/solutions/.../appliances or the appliance's ARM id
    PROCESS_SERVER = "processServer"
    SERVER = "server"  # a source machine (its discovered machine's ARM id)
    PROJECT = "project"  # a Migrate project's ARM id
    TARGET_REGION = "targetRegion"  # /subscriptions/{id}/locations/{region}
    VIRTUAL_NETWORK = "virtualNetwork"  # a target virtual network's ARM id

    LABELS = {
        APPLIANCE: "Replication appliance",
        PROCESS_SERVER: "Process server",
        SERVER: "Server (agent)",
        PROJECT: "Project",
        TARGET_REGION: "Target subscription and region",
        VIRTUAL_NETWORK: "Target virtual network",
    }


@dataclass(frozen=True)
class Parameter:
    name: str
    label: str
    minimum: float
    maximum: float
    default: float

    def clean(self, value) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{self.label} must be a number from {self.minimum:g} to {self.maximum:g}.") from None
        if not self.minimum <= number <= self.maximum:
            raise ValueError(f"{self.label} must be from {self.minimum:g} to {self.maximum:g}; {number:g} is outside.")
        return number


@dataclass(frozen=True)
class FaultKind:
    slug: str
    label: str
    scope_kinds: tuple[str, ...]
    description: str
    parameters: tuple[Parameter, ...] = field(default=())
    # What a probability means for the fault: each occurrence it may strike (an upload, a read, a
    # heartbeat...). "" for a fault that is a state, not an event (a version, a quota, a route): it is
    # either so or not, and a probability is refused.
    probability_means: str = ""

    def clean_parameters(self, given: dict | None) -> dict:
        given = dict(given or {})
        unknown = sorted(set(given) - {parameter.name for parameter in self.parameters})
        if unknown:
            raise ValueError(f"{self.label} takes no parameter {', '.join(unknown)}.")
        return {p.name: p.clean(given.get(p.name, p.default)) for p in self.parameters}


S = ScopeKind
KINDS: dict[str, FaultKind] = {
    kind.slug: kind
    for kind in (
        FaultKind(
            "applianceOffline",
            "Appliance offline (heartbeat lost)",
            (S.APPLIANCE, S.PROJECT),
            "The appliance stops reaching the hub: discovery and replication stop and agents queue their data.",
            probability_means="each heartbeat, upload or registration is cut off with this probability",
        ),
        FaultKind(
            "uploadBandwidthCap",
            "Upload bandwidth cap",
            (S.APPLIANCE, S.PROCESS_SERVER, S.PROJECT),
            "The process server uploads at most this many megabits per second.",
            (Parameter("mbps", "Cap (Mbps)", 0.1, 100_000, 10),),
            probability_means="each upload is capped with this probability",
        ),
        FaultKind(
            "linkFlapping",
            "Link flapping",
            (S.APPLIANCE, S.PROCESS_SERVER, S.PROJECT),
            "The upload link goes down and comes back, over and over.",
            (
                Parameter("upSeconds", "Up for (seconds)", 1, 3600, 10),
                Parameter("downSeconds", "Down for (seconds)", 1, 3600, 10),
            ),
            probability_means="each upload in the link's down phase fails with this probability",
        ),
        FaultKind(
            "sourceChurn",
            "Source churn",
            (S.SERVER,),
            "The source machine writes this many megabytes per second, beyond what the link may carry.",
            (Parameter("mbPerSecond", "Churn (MB/s)", 0.01, 1000, 5),),
            probability_means="each tenth of a second of churn is written with this probability (bursty writes)",
        ),
        FaultKind(
            "cacheStorageFull",
            "Cache storage account full",
            (S.PROJECT,),
            "Uploads to the project's cache storage account are refused.",
        ),
        FaultKind(
            "cacheStorageThrottled",
            "Cache storage account throttled",
            (S.PROJECT,),
            "The cache storage account answers some uploads with 503 Server Busy.",
            probability_means="each upload is answered 503 with this probability",
        ),
        FaultKind(
            "agentVersionMismatch",
            "Agent version mismatch",
            (S.SERVER,),
            "The mobility agent reports a version the appliance does not support.",
        ),
        FaultKind(
            "agentOtherConfigurationServer",
            "Agent registered to a different configuration server",
            (S.SERVER,),
            "The mobility agent is configured to another configuration server.",
        ),
        FaultKind(
            "diskReadErrors",
            "Disk read errors",
            (S.SERVER,),
            "Reads of the source disk fail.",
            (Parameter("diskIndex", "Disk index (LUN)", 0, 63, 0),),
            probability_means="each read of the disk fails with this probability",
        ),
        FaultKind(
            "keyVaultAccessRevoked",
            "Key Vault access revoked",
            (S.PROJECT,),
            "The project's Key Vault refuses the replication keys: uploads cannot be wrapped or unwrapped.",
        ),
        FaultKind(
            "targetQuotaExceeded",
            "Target quota exceeded (regional vCPUs)",
            (S.TARGET_REGION,),
            "Test migrate and Migrate fail: the region's vCPU quota is used up.",
            (Parameter("limit", "vCPU limit of the size family in the region", 0, 100_000, 0),),
        ),
        FaultKind(
            "networkRoutesToProduction",
            "Test network routes to production",
            (S.VIRTUAL_NETWORK,),
            "The target virtual network has a route to production: a test VM in it is not isolated.",
        ),
    )
}
