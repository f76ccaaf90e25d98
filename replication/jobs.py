"""This app's job scenarios."""

from __future__ import annotations

from django.db import transaction

from hub import clock
from jobs.models import Job
from jobs.scenarios import JobStepError, Scenario, Step, register
from replication import push
from replication.models import Appliance, MigrationItem, MigrationState


def job_row(row, code: str, message: str, recommended_action: str):
    """The row a job's step acts on; when it was removed meanwhile, a JobStepError that says what to do."""
    if row is None:
        raise JobStepError(code, message, recommended_action=recommended_action)
    return row


def _appliance(job: Job) -> Appliance:
    return job_row(
        Appliance.objects.filter(pk=job.input["appliance_id"]).first(),
        "ApplianceNotFound",
        f"Appliance {job.target_object_name} was removed while its registration was being finalized.",
        "Run the appliance's setup again with a new registration key.",
    )


def _check_connectivity(job: Job) -> None:
    appliance = _appliance(job)
    if appliance.health(clock.now()) != Appliance.Health.NORMAL:
        raise JobStepError(
            "ApplianceNotConnected",
            f"Appliance {appliance.name} has not sent a heartbeat for more than 15 minutes.",
            possible_causes="The appliance is stopped, or it cannot reach the hub over HTTP.",
            recommended_action="Start the appliance (./run in its folder), check it can reach the hub, then select "
            "Finalize registration again.",
        )


def _give_back(job: Job) -> None:
    """A failed finalization leaves the appliance registered, so the user can select it and retry."""
    given_back = Appliance.objects.filter(pk=job.input["appliance_id"], state=Appliance.State.FINALIZING)
    for project_id in given_back.values_list("project_id", flat=True):
        push.appliances_changed(project_id)
    given_back.update(state=Appliance.State.REGISTERED)


def _finalize(job: Job) -> None:
    appliance = _appliance(job)
    Appliance.objects.filter(pk=appliance.pk, state=Appliance.State.FINALIZING).update(
        state=Appliance.State.FINALIZED, finalized_at=clock.now()
    )
    push.appliances_changed(appliance.project_id)


register(
    Scenario(
        name="FinalizeApplianceRegistration",
        friendly_name="Finalize registration",
        steps=(
            Step("CheckConnectivity", "Check the appliance's connectivity", _check_connectivity),
            Step("RegisterConfigurationServer", "Register the configuration server with the vault", lambda job: None),
            Step("ConfigureProcessServer", "Configure the process server", _finalize),
        ),
        running_title="Finalizing registration of {target}...",
        succeeded_title="Registration finalized for appliance {target}",
        failed_title="Finalizing registration failed for appliance {target}",
        succeeded_message="Appliance {target} is connected. Install the Mobility service on the machines to migrate.",
        on_failure=_give_back,
    )
)


# Start replication (ASR scenario EnableMigration)


def _item(job: Job) -> MigrationItem:
    return job_row(
        MigrationItem.objects.filter(pk=job.input["item_id"]).select_related("appliance", "project").first(),
        "MigrationItemNotFound",
        f"Replication of {job.target_object_name} was stopped before it started.",
        "Select Replicate again to replicate the server.",
    )


def _check_replication_prerequisites(job: Job) -> None:
    item = _item(job)
    if item.appliance.health(clock.now()) != Appliance.Health.NORMAL:
        raise JobStepError(
            "ProcessServerNotConnected",
            f"The process server on appliance {item.appliance.name} has not sent a heartbeat for more than 15 "
            "minutes, so it cannot replicate the server.",
            possible_causes="The appliance is stopped, or it cannot reach the hub over HTTP.",
            recommended_action="Start the appliance (./run in its folder), check it reaches the hub, then select "
            "Replicate again.",
        )


def _identify_target(job: Job) -> None:
    item = _item(job)
    if item.target_network_id is None or item.target_resource_group_id is None:
        raise JobStepError(
            "TargetNotFound",
            f"The target resource group or virtual network of {item.target_vm_name} was deleted.",
            recommended_action="Select Replicate again with an existing resource group and virtual network.",
        )


def _start_initial_replication(job: Job) -> None:
    from replication.replicate import replication_activate

    replication_activate(_item(job).pk)
    push_job_item(job)


def push_job_item(job: Job) -> None:
    """After the step's transaction commits, push the row of the server a replication job acts on."""
    item = MigrationItem.objects.filter(pk=job.input["item_id"]).select_related("project__resource_group").first()
    if item is not None:
        transaction.on_commit(lambda: push.replicating_servers_changed(item.project, [item]), robust=True)


def _forget_failed_item(job: Job) -> None:
    """A server whose Start replication failed can be selected in Replicate again."""
    MigrationItem.objects.filter(
        pk=job.input["item_id"], migration_state=MigrationState.ENABLE_MIGRATION_IN_PROGRESS
    ).delete()


register(
    Scenario(
        name="EnableMigration",
        friendly_name="Start replication",
        steps=(
            Step(
                "PrerequisitesCheck", "Prerequisites check for enabling replication", _check_replication_prerequisites
            ),
            Step("IdentifyTarget", "Identifying the replication target", _identify_target),
            Step("EnableReplication", "Enable replication", push_job_item),
            Step("StartInitialReplication", "Starting initial replication", _start_initial_replication),
        ),
        running_title="Starting replication of {target}...",
        succeeded_title="Replication started for {target}",
        failed_title="Starting replication failed for {target}",
        succeeded_message="{target} is replicating: initial replication starts when its Mobility service is next "
        "in touch with the appliance.",
        on_failure=_forget_failed_item,
    )
)
