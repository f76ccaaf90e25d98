"""This app's job scenarios."""

from __future__ import annotations

from hub import clock
from jobs.models import Job
from jobs.scenarios import JobStepError, Scenario, Step, register
from replication.models import Appliance


def _appliance(job: Job) -> Appliance:
    appliance = Appliance.objects.filter(pk=job.input["appliance_id"]).first()
    if appliance is None:
        raise JobStepError(
            "ApplianceNotFound",
            f"Appliance {job.target_object_name} was removed while its registration was being finalized.",
            recommended_action="Run the appliance's setup again with a new registration key.",
        )
    return appliance


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
    Appliance.objects.filter(pk=job.input["appliance_id"], state=Appliance.State.FINALIZING).update(
        state=Appliance.State.REGISTERED
    )


def _finalize(job: Job) -> None:
    Appliance.objects.filter(pk=_appliance(job).pk, state=Appliance.State.FINALIZING).update(
        state=Appliance.State.FINALIZED, finalized_at=clock.now()
    )


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
        succeeded_title="Registration finalized",
        failed_title="Finalizing registration failed",
        succeeded_message="Appliance {target} is connected. Install the Mobility service on the machines to migrate.",
        on_failure=_give_back,
    )
)
