"""Machines and their data. So far: the registration keys that let a replication appliance register."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from hub import units

# The Azure resources a migration builds live in compute_models.py; named here too, as every caller
# (and Django's model registry) reads the app's models from this module.
from replication.compute_models import DiskType, ManagedDisk, VirtualMachine  # noqa: F401

REGISTRATION_KEY_VALIDITY = timedelta(days=5)
APPLIANCE_WARNING_AFTER = timedelta(minutes=15)
APPLIANCE_CRITICAL_AFTER = timedelta(hours=1)


class RegistrationKey(models.Model):
    """A downloaded appliance registration key. The file carries a secret; only its hash is kept."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    project = models.ForeignKey("projects.MigrateProject", on_delete=models.CASCADE, related_name="registration_keys")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    issued_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    secret_hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["-issued_at"]

    def __str__(self) -> str:
        return f"Registration key {self.pk} for {self.project}"

    def is_expired(self, now) -> bool:
        return now >= self.expires_at


class Appliance(models.Model):
    """A replication appliance (configuration server + process server) registered with a project's vault."""

    class State(models.TextChoices):
        REGISTERED = "Registered", "Registered: finalize registration"
        FINALIZING = "Finalizing", "Finalizing registration"
        FINALIZED = "Finalized", "Connected"

    class Health(models.TextChoices):
        NORMAL = "Normal"
        WARNING = "Warning"
        CRITICAL = "Critical"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    project = models.ForeignKey("projects.MigrateProject", on_delete=models.CASCADE, related_name="appliances")
    registration_key = models.ForeignKey(RegistrationKey, null=True, on_delete=models.SET_NULL, related_name="+")
    name = models.CharField(max_length=80)
    fqdn = models.CharField(max_length=255, blank=True)
    ip_addresses = models.JSONField(default=list, blank=True)
    listen = models.CharField(max_length=120, blank=True)
    version = models.CharField(max_length=40, blank=True)
    host = models.JSONField(default=dict, blank=True)
    components = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=20, choices=State.choices, default=State.REGISTERED)
    credential_hash = models.CharField(max_length=64, unique=True)
    registered_at = models.DateTimeField(default=timezone.now)
    finalized_at = models.DateTimeField(null=True, blank=True)
    last_heartbeat_at = models.DateTimeField(null=True, blank=True)
    # A scale-out process server (`setup --scale-out`): a process server only, of this configuration
    # server's appliance; its agents register with the configuration server (replication.process_servers).
    scale_out_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="scale_out_process_servers"
    )
    # What the process server reports with its heartbeat (replication.health.ApplianceLoad).
    changed_bytes_per_day = models.BigIntegerField(default=0)
    peak_machine_bytes_per_second = models.FloatField(default=0)
    # The process server's bandwidth throttling (APPLIANCE_MAX_UPLOAD_MBPS), 0 for none: the planner's link.
    upload_cap_bytes_per_second = models.FloatField(default=0)
    # What the appliance reports going wrong in its own process (an upload cap, a link that drops), by
    # health error code (replication.fault_wire); replication.health's rules read it.
    problems = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["registered_at"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="unique_appliance_name")]

    def __str__(self) -> str:
        return self.name

    @property
    def configuration_server(self) -> Appliance:
        """The appliance whose configuration server the agents register with: itself, or for a scale-out
        process server the appliance it scales out. Guest credentials and discovered servers are its."""
        return self.scale_out_of if self.scale_out_of_id else self

    @property
    def components_text(self) -> str:
        """One line per component; read through Python, not the template's `.items` (a component could
        be called "items")."""
        return "\n".join(f"{name}: {status}" for name, status in self.components.items())

    def health(self, now) -> str:
        """Azure's rule: no heartbeat for 15 minutes is a warning; we call an hour critical."""
        if self.last_heartbeat_at is None:
            return self.Health.CRITICAL
        silence = now - self.last_heartbeat_at
        if silence > APPLIANCE_CRITICAL_AFTER:
            return self.Health.CRITICAL
        if silence > APPLIANCE_WARNING_AFTER:
            return self.Health.WARNING
        return self.Health.NORMAL


class DiscoveredServerQuerySet(models.QuerySet):
    def discovered(self, now):
        """Reported by an agent and past the discovery delay (Azure takes up to 15 minutes)."""
        return self.filter(discovered_at__isnull=False, discovered_at__lte=now)


class DiscoveredServer(models.Model):
    """A machine whose mobility agent registered through an appliance; one per machine identity."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    project = models.ForeignKey("projects.MigrateProject", on_delete=models.CASCADE, related_name="discovered_servers")
    appliance = models.ForeignKey(Appliance, on_delete=models.CASCADE, related_name="servers")
    machine_id = models.CharField(max_length=128)
    name = models.CharField(max_length=255)
    os_type = models.CharField(max_length=20)
    os_name = models.CharField(max_length=120)
    os_version = models.CharField(max_length=60, blank=True)
    architecture = models.CharField(max_length=20, blank=True)
    cores = models.PositiveIntegerField()
    memory_mb = models.PositiveIntegerField()
    firmware = models.CharField(max_length=10, default="BIOS")
    nics = models.JSONField(default=list)
    disks = models.JSONField(default=list)
    agent_version = models.CharField(max_length=40, blank=True)
    agent_connected = models.BooleanField(default=True)
    agent_status = models.CharField(max_length=300, blank=True)
    agent_last_heartbeat_at = models.DateTimeField(null=True, blank=True)
    # What the appliance reports going wrong with the agent (refused, disk reads failing), by health code.
    agent_problems = models.JSONField(default=dict, blank=True)
    reported_at = models.DateTimeField(default=timezone.now)
    discovered_at = models.DateTimeField(null=True, blank=True)

    objects = DiscoveredServerQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["project", "machine_id"], name="one_server_per_machine")]
        # Replicating machines sorts by lower(name): with this index a page near either end of the
        # name order reads its 50 rows in index order instead of sorting 10,000 (bench/replicating_page.py).
        indexes = [models.Index(Lower("name"), name="discoveredserver_lower_name")]

    def __str__(self) -> str:
        return self.name

    @property
    def total_disk_gb(self) -> float:
        return units.gigabytes(sum(disk.get("sizeBytes", 0) for disk in self.disks))

    @property
    def ip_addresses(self) -> list[str]:
        return [ip for nic in self.nics for ip in nic.get("ipAddresses", [])]


class RunAsAccount(models.Model):
    """Guest credentials given in Replicate > Source settings (Azure calls them a run-as account). The
    password is kept encrypted for push installation and is never shown again."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    appliance = models.ForeignKey(Appliance, on_delete=models.CASCADE, related_name="run_as_accounts")
    friendly_name = models.CharField(max_length=80)
    username = models.CharField(max_length=120)
    encrypted_password = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["friendly_name"]
        constraints = [
            models.UniqueConstraint(fields=["appliance", "friendly_name"], name="unique_run_as_account_name")
        ]

    def __str__(self) -> str:
        return self.friendly_name


class ReplicationPolicy(models.Model):
    """ASR's replication policy (InMageRcm): how often a crash-consistent recovery point is taken (the
    delta cycle), how long points are kept, and the RPO above which health turns to Warning."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    project = models.ForeignKey("projects.MigrateProject", on_delete=models.CASCADE, related_name="policies")
    name = models.CharField(max_length=80)
    cycle_seconds = models.PositiveIntegerField()
    recovery_point_history_minutes = models.PositiveIntegerField(default=72 * 60)
    app_consistent_frequency_minutes = models.PositiveIntegerField(default=60)
    rpo_threshold_minutes = models.PositiveIntegerField(default=60)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="unique_policy_name")]

    def __str__(self) -> str:
        return self.name


class MigrationState(models.TextChoices):
    """ASR's migrationState values that this emulator reaches."""

    ENABLE_MIGRATION_IN_PROGRESS = "EnableMigrationInProgress"
    ENABLE_MIGRATION_FAILED = "EnableMigrationFailed"
    INITIAL_SEEDING_IN_PROGRESS = "InitialSeedingInProgress"
    REPLICATING = "Replicating"
    MIGRATION_IN_PROGRESS = "MigrationInProgress"
    MIGRATION_SUCCEEDED = "MigrationSucceeded"
    MIGRATION_FAILED = "MigrationFailed"
    DISABLE_MIGRATION_IN_PROGRESS = "DisableMigrationInProgress"


class TestMigrateState(models.TextChoices):
    __test__ = False  # not a test class, whatever pytest thinks of its name

    NONE = "None"
    IN_PROGRESS = "TestMigrationInProgress"
    SUCCEEDED = "TestMigrationSucceeded"
    FAILED = "TestMigrationFailed"
    CLEANUP_IN_PROGRESS = "TestMigrationCleanupInProgress"


class LicenseType(models.TextChoices):
    NO_LICENSE = "NoLicenseType", "No"
    WINDOWS_SERVER = "WindowsServer", "Yes (Azure Hybrid Benefit)"


class MigrationItemQuerySet(models.QuerySet):
    def active(self):
        return self.exclude(migration_state=MigrationState.ENABLE_MIGRATION_FAILED)


class MigrationItem(models.Model):
    """A replicating server (ASR's replicationMigrationItem): the target settings chosen in Replicate,
    and where its replication stands. Its disks, batches and recovery points hang off it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    project = models.ForeignKey("projects.MigrateProject", on_delete=models.CASCADE, related_name="migration_items")
    server = models.OneToOneField(DiscoveredServer, on_delete=models.CASCADE, related_name="migration_item")
    appliance = models.ForeignKey(Appliance, on_delete=models.PROTECT, related_name="migration_items")
    policy = models.ForeignKey(ReplicationPolicy, on_delete=models.PROTECT, related_name="items")
    run_as_account = models.ForeignKey(RunAsAccount, null=True, blank=True, on_delete=models.SET_NULL)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    # Target settings (Replicate > Target settings, Compute); locked once replication starts.
    target_resource_group = models.ForeignKey(
        "projects.ResourceGroup", on_delete=models.PROTECT, related_name="+", null=True
    )
    target_vm_name = models.CharField(max_length=64)
    target_vm_size = models.CharField(max_length=40)
    target_vm_size_auto = models.BooleanField(default=True)
    target_network = models.ForeignKey(
        "projects.VirtualNetwork", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    target_subnet_name = models.CharField(max_length=80, blank=True)
    test_network = models.ForeignKey(
        "projects.VirtualNetwork", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    test_subnet_name = models.CharField(max_length=80, blank=True)
    license_type = models.CharField(max_length=20, choices=LicenseType.choices, default=LicenseType.NO_LICENSE)
    target_availability_set_id = models.CharField(max_length=400, blank=True)
    # Where replication stands
    migration_state = models.CharField(
        max_length=40, choices=MigrationState.choices, default=MigrationState.ENABLE_MIGRATION_IN_PROGRESS
    )
    test_migrate_state = models.CharField(max_length=40, choices=TestMigrateState.choices, default="None")
    replication_started_at = models.DateTimeField(null=True, blank=True)
    initial_replication_completed_at = models.DateTimeField(null=True, blank=True)
    current_job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    last_recovery_point_at = models.DateTimeField(null=True, blank=True)
    last_recovery_point_id = models.UUIDField(null=True, blank=True)
    last_upload_at = models.DateTimeField(null=True, blank=True)
    # Upload throughput, measured over windows of a few seconds (replication.data_path).
    throughput_bytes_per_second = models.FloatField(default=0)
    throughput_window_started_at = models.DateTimeField(null=True, blank=True)
    throughput_window_bytes = models.BigIntegerField(default=0)
    # Test migration, migration and stopping replication (replication.migrate)
    last_test_migration_at = models.DateTimeField(null=True, blank=True)
    last_test_migration_status = models.CharField(max_length=20, blank=True)
    last_migration_at = models.DateTimeField(null=True, blank=True)
    last_migration_status = models.CharField(max_length=20, blank=True)
    # Set by Migrate with shutdown: the agent stops the source and sends a final cycle.
    shutdown_requested_at = models.DateTimeField(null=True, blank=True)
    replication_stopped_at = models.DateTimeField(null=True, blank=True)
    # Apply lease: one worker at a time applies this item's batches (see replication.data_path).
    apply_lease_owner = models.CharField(max_length=64, blank=True)
    apply_lease_until = models.DateTimeField(null=True, blank=True)
    apply_pending = models.BooleanField(default=False)
    # The included disks' transferred_bytes summed: Replicating machines' "Data transferred" sort key.
    # Kept by database triggers on the disks (migration 0015_monitor_transferred_total), in the writer's
    # own transaction, so no writer of a disk can forget it; nothing in Python writes it.
    transferred_total = models.BigIntegerField(default=0, editable=False)

    objects = MigrationItemQuerySet.as_manager()

    class Meta:
        ordering = ["target_vm_name"]
        # Migration 0017 adds one more, in SQL outside this state (migrationitem_apply_queued, the rows
        # marked as queued applies): SQLite rebuilds a table to alter a field and would drop it, so a
        # migration that alters this model must create it again there.
        indexes = [
            models.Index(fields=["project", "migration_state"]),
            # The sort by data transferred reads a project's listed items in this order and stops after a page.
            models.Index(
                fields=["project", "transferred_total"],
                condition=models.Q(replication_stopped_at__isnull=True),
                name="migrationitem_transferred",
            ),
        ]

    def __str__(self) -> str:
        return self.target_vm_name

    def save(self, *args, **kwargs):
        # transferred_total belongs to the disks' triggers: a whole-row save of an item read earlier
        # would write back the total it read, losing what disks added since.
        whole_row_update = not (self._state.adding or args or kwargs.get("force_insert"))
        if whole_row_update and kwargs.get("update_fields") is None:
            kwargs["update_fields"] = [
                field.name
                for field in self._meta.concrete_fields
                if not field.primary_key and field.name != "transferred_total"
            ]
        super().save(*args, **kwargs)

    @property
    def arm_name(self) -> str:
        return str(self.server_id)

    @property
    def settings_locked(self) -> bool:
        """The tutorial: settings can be changed until replication starts, not after."""
        return self.replication_started_at is not None


class ProtectedDisk(models.Model):
    """One of a replicating server's disks; an excluded disk is kept (included=False) so the wizard and
    the VM can say it is left out. Sequence and cycle counters drive the replica (replication.data_path)."""

    item = models.ForeignKey(MigrationItem, on_delete=models.CASCADE, related_name="disks")
    disk_id = models.CharField(max_length=128)
    name = models.CharField(max_length=255, blank=True)
    is_os_disk = models.BooleanField(default=False)
    size_bytes = models.BigIntegerField()
    disk_type = models.CharField(max_length=20, choices=DiskType.choices, default=DiskType.STANDARD_SSD)
    included = models.BooleanField(default=True)
    # The batches stored durably (highest contiguous sequence) and applied to the replica.
    stored_sequence = models.BigIntegerField(default=0)
    applied_sequence = models.BigIntegerField(default=0)
    applied_cycle = models.PositiveIntegerField(default=0)
    # What the agent has read of the disk in the current full (initial or resync) cycle, and that cycle.
    scanned_bytes = models.BigIntegerField(default=0)
    scanned_cycle = models.PositiveIntegerField(default=0)
    # Of that cycle, the data to send (the disk's data extents, as the agent found them; 0 until an agent
    # says) and how much of it the agent has read: the initial replication percentage.
    data_total_bytes = models.BigIntegerField(default=0)
    data_scanned_bytes = models.BigIntegerField(default=0)
    transferred_bytes = models.BigIntegerField(default=0)  # over the wire, all cycles
    changed_bytes = models.BigIntegerField(default=0)  # block data carried, all cycles
    resync_required = models.BooleanField(default=False)
    resync_generation = models.PositiveIntegerField(default=0)  # raised to ask the agent for a full cycle
    resync_reason = models.CharField(max_length=300, blank=True)
    replica_digest = models.CharField(max_length=64, blank=True)
    # The replica's chunks (replication.point_manifests.CHUNK_BYTES each) written since the latest
    # recovery point's manifest: the next point reads and stores only these. None: every chunk (no
    # manifest yet, or a full cycle replaced the replica).
    dirty_chunks = models.JSONField(null=True, default=None, blank=True)

    class Meta:
        ordering = ["-is_os_disk", "disk_id"]
        constraints = [models.UniqueConstraint(fields=["item", "disk_id"], name="unique_protected_disk")]
        # Health's "disk resynchronizing" rule (replication.health.DiskResyncing) reads the few disks being
        # sent again in full for a whole list: from this small index, not a scan of every disk.
        indexes = [
            models.Index(
                fields=["item"], condition=models.Q(included=True, resync_required=True), name="protecteddisk_resyncing"
            )
        ]

    def __str__(self) -> str:
        return f"{self.item} {self.disk_id}"

    @property
    def size_gb(self) -> float:
        return units.gigabytes(self.size_bytes)

    @property
    def size_text(self) -> str:
        """ "12.6 MB", "137 GB": the portal's decimal units at the scale that reads best."""
        return units.decimal_size(self.size_bytes)


class ReplicationBatch(models.Model):
    """A batch of blocks the process server uploaded to the cache storage account: stored durably
    before the agent is acknowledged, applied to the replica in sequence order, deleted once a later
    recovery point covers it. `marker` ends a cycle for its disk."""

    disk = models.ForeignKey(ProtectedDisk, on_delete=models.CASCADE, related_name="batches")
    sequence = models.BigIntegerField()
    cycle = models.PositiveIntegerField()
    full = models.BooleanField(default=False)  # initial replication or resync: the whole disk is resent
    block_count = models.PositiveIntegerField(default=0)
    data_bytes = models.BigIntegerField(default=0)
    wire_bytes = models.BigIntegerField(default=0)
    blob_name = models.CharField(max_length=300)
    marker = models.JSONField(null=True, blank=True)
    stored_at = models.DateTimeField(default=timezone.now)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["disk", "sequence"]
        constraints = [models.UniqueConstraint(fields=["disk", "sequence"], name="unique_batch_sequence")]

    def __str__(self) -> str:
        return f"{self.disk} #{self.sequence}"


class RecoveryPoint(models.Model):
    """A crash-consistent point: every included disk's replica holds the agent's cycle `cycle`."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    item = models.ForeignKey(MigrationItem, on_delete=models.CASCADE, related_name="recovery_points")
    cycle = models.PositiveIntegerField()
    recorded_at = models.DateTimeField()
    captured_at = models.DateTimeField()  # when the agent finished reading the disks for it
    point_type = models.CharField(max_length=30, default="CrashConsistent")
    # The last point, taken after the source was shut down for migration: nothing was written after it.
    is_final = models.BooleanField(default=False)
    disks = models.JSONField(default=dict)  # disk_id -> {"digest", "sizeBytes", "sourceSha256"?}

    class Meta:
        ordering = ["-recorded_at"]
        constraints = [models.UniqueConstraint(fields=["item", "cycle"], name="one_point_per_cycle")]

    def __str__(self) -> str:
        return f"{self.item} cycle {self.cycle}"


class KeyVaultKey(models.Model):
    """The project's Key Vault key that wraps the process server's data keys; stored encrypted with
    the hub's master key (hub.secrets)."""

    project = models.OneToOneField("projects.MigrateProject", on_delete=models.CASCADE, related_name="vault_key")
    encrypted_key = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Key Vault key of {self.project}"


class TransferSample(models.Model):
    """Bytes a project's process servers uploaded per minute: the overview's data replicated over time."""

    project = models.ForeignKey("projects.MigrateProject", on_delete=models.CASCADE, related_name="transfer_samples")
    minute = models.DateTimeField()
    bytes = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["minute"]
        constraints = [models.UniqueConstraint(fields=["project", "minute"], name="one_sample_per_minute")]

    def __str__(self) -> str:
        return f"{self.project} {self.minute:%H:%M}"
