"""What the hub itself does while an injected fault is in force (the appliance and agent act on
theirs, replication/fault_wire.py): the cache storage account refuses uploads, the project's Key Vault
refuses key operations, the target region's vCPU quota fails Test migrate and Migrate. Nothing is
lost: a refused upload stays queued at the agent, which retries until it is acknowledged, and a failed
job builds nothing.

Each refusal also notifies, once per fault and server, whoever replicates the server and whoever
injected the fault; the health errors are replication/health.py's (FaultHealthRule)."""

from __future__ import annotations

import logging

from django.db import transaction
from django.urls import reverse

from faults import services as faults
from hub.arm.errors import ArmError
from jobs import push as job_push
from jobs.models import Notification
from jobs.scenarios import JobStepError
from projects.models import MigrationResource
from replication import fault_tasks, sizing
from replication.fault_health import FAULT_RULES
from replication.fault_scopes import item_region_scope, network_scope, project_scope
from replication.models import MigrationItem, VirtualMachine

logger = logging.getLogger(__name__)

CACHE_FULL, CACHE_THROTTLED = "cacheStorageFull", "cacheStorageThrottled"
KEY_VAULT_REVOKED = "keyVaultAccessRevoked"
QUOTA_EXCEEDED = "targetQuotaExceeded"
ROUTES_TO_PRODUCTION = "networkRoutesToProduction"
UPLOAD_KINDS = (CACHE_FULL, CACHE_THROTTLED, KEY_VAULT_REVOKED)


# The cache storage account and the Key Vault: every uploaded batch asks, from the faults in force read
# at most once a second (faults.services.in_force_by_kind), so an upload costs no query of its own.


def check_upload(item: MigrationItem, storage_account: str) -> None:
    """Refuse an upload as the faulty service would (an ArmError the process server passes on to the
    agent as "retry later"); nothing when no fault strikes."""
    in_force = faults.in_force_on(project_scope(item.project), UPLOAD_KINDS)
    if not in_force:
        return
    by_kind = {fault.kind: fault for fault in in_force}
    if KEY_VAULT_REVOKED in by_kind and by_kind[KEY_VAULT_REVOKED].strikes():
        _notify_once(by_kind[KEY_VAULT_REVOKED], item)
        raise key_vault_forbidden(_vault_name(item.project), item.project.target_region, "unwrapKey")
    if CACHE_FULL in by_kind and by_kind[CACHE_FULL].strikes():
        _notify_once(by_kind[CACHE_FULL], item)
        raise ArmError(
            409,
            "AccountCapacityExceeded",
            f"The storage account {storage_account} has reached its maximum capacity: the blob could not be "
            "written. Free space in the account or ask for a higher capacity limit.",
        )
    if CACHE_THROTTLED in by_kind and by_kind[CACHE_THROTTLED].strikes():
        _notify_once(by_kind[CACHE_THROTTLED], item)
        raise ArmError(
            503,
            "ServerBusy",
            "The server is currently unable to receive requests. Please retry your request. (Ingress is over the "
            f"account limit of storage account {storage_account}.)",
        )


def check_wrap_key(project, vault_name: str) -> None:
    fault = faults.active(KEY_VAULT_REVOKED, [project_scope(project)])
    if fault is not None:
        raise key_vault_forbidden(vault_name, project.target_region, "wrapKey")


def _vault_name(project) -> str:
    vault = project.migration_resource(MigrationResource.Kind.KEY_VAULT)
    return vault.name if vault else project.name


def key_vault_forbidden(vault_name: str, region: str, operation: str) -> ArmError:
    """Key Vault's 403 when the caller's access policy lost the key permission."""
    return ArmError(
        403,
        "Forbidden",
        f"The user, group or application 'appid=migrate-hub-process-server' does not have keys {operation} "
        f"permission on key vault '{vault_name};location={region}'. For help resolving this issue, please see "
        "https://go.microsoft.com/fwlink/?linkid=2125287",
        details=[{"code": "AccessDenied", "message": f"Access denied to keys {operation}."}],
    )


# The target region's vCPU quota: Test migrate and Migrate build no VM beyond it.


def vm_family(size_name: str) -> str:
    """Compute's quota family of a VM size: Standard_D2s_v3 -> standardDSv3Family, Standard_B2ms ->
    standardBSFamily (the series letters, the feature letters Azure counts, the version)."""
    base, _, version = size_name.removeprefix("Standard_").partition("_")
    head = base.rstrip("abcdefghijklmnopqrstuvwxyz")
    series = "".join(character for character in head if character.isalpha())
    features = "".join(letter for letter in base[len(head) :] if letter in "adls").upper()
    return f"standard{series}{features}{version}Family"


def vm_cores(size_name: str) -> int:
    size = sizing.SIZES_BY_NAME.get(size_name.lower())
    return size.cores if size is not None else 0


def check_target_quota(item: MigrationItem, *, test: bool) -> None:
    """Test migrate's and Migrate's VM creation, as Compute's quota check refuses it (409
    OperationNotAllowed), naming the size's family, the region and the numbers."""
    fault = faults.active(QUOTA_EXCEEDED, [item_region_scope(item)])
    if fault is None:
        return
    family = vm_family(item.target_vm_size)
    region = item.project.target_region
    required = vm_cores(item.target_vm_size) or item.server.cores
    subscription_id = item.target_resource_group.subscription_id
    in_region = VirtualMachine.objects.filter(
        resource_group__subscription_id=subscription_id, location__iexact=region
    ).values_list("size", flat=True)
    usage = sum(vm_cores(size) for size in in_region if vm_family(size) == family)
    limit = int(fault.parameters.get("limit", 0))
    if usage + required <= limit:
        return
    raise JobStepError(
        "OperationNotAllowed",
        f"Operation could not be completed as it results in exceeding approved {family} Cores quota. Additional "
        f"details - Deployment Model: Resource Manager, Location: {region}, Current Limit: {limit}, Current Usage: "
        f"{usage}, Additional Required: {required}, (Minimum) New Limit Required: {usage + required}. Submit a "
        "request for Quota increase at https://aka.ms/ProdportalCRP/#blade/Microsoft_Azure_Capacity/"
        "UsageAndQuota.ReactView by specifying parameters listed in the 'Details' section for deployment to succeed.",
        possible_causes=f"The subscription's {family} vCPU quota in {region} is used up: the "
        f"{'test ' if test else ''}VM {item.target_vm_name}{'-Test' if test else ''} ({item.target_vm_size}) "
        f"needs {required} more.",
        recommended_action="Request a quota increase for the family in the region (Subscriptions > Usage + quotas), "
        "or choose a VM size of another family in the server's Compute and network settings, then retry.",
    )


# The test network: a warning before Test migrate, and the health warning while the test VM exists.


def routes_to_production(network) -> bool:
    return network is not None and faults.active(ROUTES_TO_PRODUCTION, [network_scope(network)]) is not None


def networks_routing_to_production(networks) -> set:
    """The pks of these networks that route to production, in one query."""
    by_scope = {network_scope(network): network.pk for network in networks}
    return {by_scope[fault.scope] for fault in faults.active_for(by_scope, kinds=[ROUTES_TO_PRODUCTION])}


ROUTES_WARNING = (
    "{network} has a route to your production network (peering or a user-defined route): a test VM in it is not "
    "isolated. It would reach production servers and could answer for the source server, whose name and "
    "address it shares. Choose an isolated network for the test, or go ahead knowing this."
)


# Notifications: once per fault and server.


def test_vm_in_routed_network(item: MigrationItem, network) -> None:
    """A test VM was built in a network that routes to production: tell whoever tested and injected."""
    fault = faults.active(ROUTES_TO_PRODUCTION, [network_scope(network)]) if network is not None else None
    if fault is not None:
        title = f"{item.target_vm_name}-Test runs in {network.name}, which routes to production"
        _notify_once(fault, item, title=title, message=ROUTES_WARNING.format(network=network.name))


def _notify_once(fault, item: MigrationItem, *, title: str = "", message: str = "") -> None:
    """The first time a fault strikes a server: a notification to whoever replicates the server and whoever
    injected the fault, and a task, already ended, on the server's latest ended job with the health error's
    id, causes and action (replication/fault_health.py's rule for the fault's kind)."""
    link = reverse("replication:replicating-server", args=[item.pk])
    marker = f"{link}#fault-{fault.pk}"
    users = {user_id for user_id in (item.created_by_id, fault.injected_by_id) if user_id is not None}
    if not users:
        # No one to tell (the injecting user deleted, the server created by none): no notification would
        # mark the first strike, and the task would be noted again at every refused upload.
        return
    already = set(Notification.objects.filter(link=marker, user_id__in=users).values_list("user_id", flat=True))
    if already >= users:
        return
    title = (title or f"{fault.description.label}: replication of {item.target_vm_name} is held")[:120]
    message = (
        message
        or f"{fault.description.description} The server's data stays queued at its agent and is sent once the "
        "fault ends."
    )[:400]
    with transaction.atomic():
        for user_id in users - already:
            notification = Notification.objects.create(
                user_id=user_id, title=title, message=message, level=Notification.Level.FAILED, link=marker
            )
            transaction.on_commit(lambda notification=notification: job_push.notification_changed(notification))
        if not already:
            _note_task(fault, item)


def _note_task(fault, item: MigrationItem) -> None:
    rule = next((rule for rule in FAULT_RULES if rule.condition.kind == fault.kind), None)
    job_id = fault_tasks.latest_jobs([item]).get(str(item.pk))
    if rule is None or job_id is None:
        return
    health_error = rule.error_of(item, None)
    error = fault_tasks.job_error(
        rule.code,
        health_error["summaryMessage"],
        causes=health_error["possibleCauses"],
        action=health_error["recommendedAction"],
        level=rule.level,
    )
    fault_tasks.note([job_id], rule.code, item.server.name, error, ended=True)
