from django.apps import AppConfig


class ReplicationConfig(AppConfig):
    """Machines and their data: registration keys, appliances (and, with later issues, discovered
    servers, replication, recovery points and the VMs that migration creates)."""

    name = "replication"
    verbose_name = "Replication: appliances, servers and their data"

    def ready(self):
        from replication import deletion, jobs, migrate_jobs  # noqa: F401  (register the job scenarios)
        from replication.portal import server_migration_card

        server_migration_card.register()
        # Its share of deleting a project or a resource group (projects.deletion).
        deletion.register()
        # Its VMs, NICs and disks in the `resources` lists (projects.arm.resource_manager).
        from projects.arm.resource_manager import register_resource_lister
        from replication.arm_compute import generic_resources

        register_resource_lister("replication", generic_resources)
        # Replication state and health changes, for event subscriptions (the events app watches them).
        from jobs.event_sources import register_state_source
        from replication.event_source import replicating_servers

        register_state_source("replication", replicating_servers)
        # Its appliances, process servers and servers as scopes of injected faults (the Faults tab).
        from faults.scopes import register_scope_provider
        from replication.fault_scopes import replication_scopes

        register_scope_provider("replication", replication_scopes)
        # Recovery points past their policy's history go, even for an item whose replication went quiet.
        from django.conf import settings

        from jobs import periodic
        from replication.recovery_points import points_prune

        periodic.every(settings.RECOVERY_POINT_PRUNE_SECONDS, "recovery-points-prune", points_prune)
        # The apply tasks a dead worker had fetched are queued again (apply_lease.unreceived_marks_lapse).
        from jobs.supervision import on_worker_death
        from replication.apply_lease import unreceived_marks_lapse

        on_worker_death("replication-apply-marks", unreceived_marks_lapse)
        # Snapshots of the hub wait for applies under way and pause new ones (snapshot_hooks.py).
        from replication import snapshot_hooks

        snapshot_hooks.register()
