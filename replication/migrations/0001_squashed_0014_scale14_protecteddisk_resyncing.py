# Squashed by hand from 0001_squashed_0006_protecteddisk_scanned_cycle and 0007 to 0014: replaces names every migration a
# database may have recorded, so databases migrated before the squash see it applied, and a migration that depends on
# 0014_scale14_protecteddisk_resyncing is pointed at this one. The later fields, indexes and constraints are folded into
# each CreateModel, in the order they were added, so a fresh database gets the same columns in the same order.
# 0010_blob14_batch_blob_names (RunPython renaming stored batch rows) is left out: a database built from this squash has
# no rows to rename, and one that had them ran it before.

import django.db.models.deletion
import django.db.models.functions.text
import django.utils.timezone
import uuid
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    replaces = [('replication', '0001_initial'), ('replication', '0002_appliances'), ('replication', '0003_discovered_servers'), ('replication', '0004_replication'), ('replication', '0005_migration_and_vms'), ('replication', '0006_protecteddisk_scanned_cycle'), ('replication', '0007_discoveredserver_lower_name'), ('replication', '0008_appliance_load_and_scale_out'), ('replication', '0009_protecteddisk_data_progress'), ('replication', '0010_blob14_batch_blob_names'), ('replication', '0011_planner15_appliance_upload_cap'), ('replication', '0012_points14_dirty_chunks'), ('replication', '0013_faults15b_reported_problems'), ('replication', '0014_scale14_protecteddisk_resyncing')]

    initial = True

    dependencies = [
        ('jobs', '0001_squashed_0004_reliability'),
        ('projects', '0001_squashed_0006_migration_resource_created_through_arm'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='RegistrationKey',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, primary_key=True, serialize=False)),
                ('issued_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('expires_at', models.DateTimeField()),
                ('secret_hash', models.CharField(max_length=64)),
                ('created_by', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('project', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='registration_keys', to='projects.migrateproject')),
            ],
            options={
                'ordering': ['-issued_at'],
            },
        ),
        migrations.CreateModel(
            name='Appliance',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, primary_key=True, serialize=False)),
                ('name', models.CharField(max_length=80)),
                ('fqdn', models.CharField(blank=True, max_length=255)),
                ('ip_addresses', models.JSONField(blank=True, default=list)),
                ('listen', models.CharField(blank=True, max_length=120)),
                ('version', models.CharField(blank=True, max_length=40)),
                ('host', models.JSONField(blank=True, default=dict)),
                ('components', models.JSONField(blank=True, default=dict)),
                ('state', models.CharField(choices=[('Registered', 'Registered: finalize registration'), ('Finalizing', 'Finalizing registration'), ('Finalized', 'Connected')], default='Registered', max_length=20)),
                ('credential_hash', models.CharField(max_length=64, unique=True)),
                ('registered_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('finalized_at', models.DateTimeField(blank=True, null=True)),
                ('last_heartbeat_at', models.DateTimeField(blank=True, null=True)),
                ('project', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='appliances', to='projects.migrateproject')),
                ('registration_key', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='replication.registrationkey')),
                ('changed_bytes_per_day', models.BigIntegerField(default=0)),
                ('peak_machine_bytes_per_second', models.FloatField(default=0)),
                ('scale_out_of', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='scale_out_process_servers', to='replication.appliance')),
                ('upload_cap_bytes_per_second', models.FloatField(default=0)),
                ('problems', models.JSONField(blank=True, default=dict)),
            ],
            options={
                'ordering': ['registered_at'],
                'constraints': [models.UniqueConstraint(fields=('project', 'name'), name='unique_appliance_name')],
            },
        ),
        migrations.CreateModel(
            name='DiscoveredServer',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, primary_key=True, serialize=False)),
                ('machine_id', models.CharField(max_length=128)),
                ('name', models.CharField(max_length=255)),
                ('os_type', models.CharField(max_length=20)),
                ('os_name', models.CharField(max_length=120)),
                ('os_version', models.CharField(blank=True, max_length=60)),
                ('architecture', models.CharField(blank=True, max_length=20)),
                ('cores', models.PositiveIntegerField()),
                ('memory_mb', models.PositiveIntegerField()),
                ('firmware', models.CharField(default='BIOS', max_length=10)),
                ('nics', models.JSONField(default=list)),
                ('disks', models.JSONField(default=list)),
                ('agent_version', models.CharField(blank=True, max_length=40)),
                ('agent_connected', models.BooleanField(default=True)),
                ('agent_status', models.CharField(blank=True, max_length=300)),
                ('agent_last_heartbeat_at', models.DateTimeField(blank=True, null=True)),
                ('reported_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('discovered_at', models.DateTimeField(blank=True, null=True)),
                ('appliance', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='servers', to='replication.appliance')),
                ('project', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='discovered_servers', to='projects.migrateproject')),
                ('agent_problems', models.JSONField(blank=True, default=dict)),
            ],
            options={
                'ordering': ['name'],
                'constraints': [models.UniqueConstraint(fields=('project', 'machine_id'), name='one_server_per_machine')],
                'indexes': [models.Index(django.db.models.functions.text.Lower('name'), name='discoveredserver_lower_name')],
            },
        ),
        migrations.CreateModel(
            name='KeyVaultKey',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('encrypted_key', models.TextField()),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('project', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='vault_key', to='projects.migrateproject')),
            ],
        ),
        migrations.CreateModel(
            name='ReplicationPolicy',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, primary_key=True, serialize=False)),
                ('name', models.CharField(max_length=80)),
                ('cycle_seconds', models.PositiveIntegerField()),
                ('recovery_point_history_minutes', models.PositiveIntegerField(default=4320)),
                ('app_consistent_frequency_minutes', models.PositiveIntegerField(default=60)),
                ('rpo_threshold_minutes', models.PositiveIntegerField(default=60)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('project', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='policies', to='projects.migrateproject')),
            ],
            options={
                'ordering': ['name'],
                'constraints': [models.UniqueConstraint(fields=('project', 'name'), name='unique_policy_name')],
            },
        ),
        migrations.CreateModel(
            name='RunAsAccount',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, primary_key=True, serialize=False)),
                ('friendly_name', models.CharField(max_length=80)),
                ('username', models.CharField(max_length=120)),
                ('encrypted_password', models.TextField()),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('appliance', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='run_as_accounts', to='replication.appliance')),
            ],
            options={
                'ordering': ['friendly_name'],
                'constraints': [models.UniqueConstraint(fields=('appliance', 'friendly_name'), name='unique_run_as_account_name')],
            },
        ),
        migrations.CreateModel(
            name='MigrationItem',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, primary_key=True, serialize=False)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('target_vm_name', models.CharField(max_length=64)),
                ('target_vm_size', models.CharField(max_length=40)),
                ('target_vm_size_auto', models.BooleanField(default=True)),
                ('target_subnet_name', models.CharField(blank=True, max_length=80)),
                ('test_subnet_name', models.CharField(blank=True, max_length=80)),
                ('license_type', models.CharField(choices=[('NoLicenseType', 'No'), ('WindowsServer', 'Yes (Azure Hybrid Benefit)')], default='NoLicenseType', max_length=20)),
                ('target_availability_set_id', models.CharField(blank=True, max_length=400)),
                ('migration_state', models.CharField(choices=[('EnableMigrationInProgress', 'Enable Migration In Progress'), ('EnableMigrationFailed', 'Enable Migration Failed'), ('InitialSeedingInProgress', 'Initial Seeding In Progress'), ('Replicating', 'Replicating'), ('MigrationInProgress', 'Migration In Progress'), ('MigrationSucceeded', 'Migration Succeeded'), ('MigrationFailed', 'Migration Failed'), ('DisableMigrationInProgress', 'Disable Migration In Progress')], default='EnableMigrationInProgress', max_length=40)),
                ('test_migrate_state', models.CharField(choices=[('None', 'None'), ('TestMigrationInProgress', 'In Progress'), ('TestMigrationSucceeded', 'Succeeded'), ('TestMigrationFailed', 'Failed'), ('TestMigrationCleanupInProgress', 'Cleanup In Progress')], default='None', max_length=40)),
                ('replication_started_at', models.DateTimeField(blank=True, null=True)),
                ('initial_replication_completed_at', models.DateTimeField(blank=True, null=True)),
                ('last_recovery_point_at', models.DateTimeField(blank=True, null=True)),
                ('last_recovery_point_id', models.UUIDField(blank=True, null=True)),
                ('last_upload_at', models.DateTimeField(blank=True, null=True)),
                ('throughput_bytes_per_second', models.FloatField(default=0)),
                ('throughput_window_started_at', models.DateTimeField(blank=True, null=True)),
                ('throughput_window_bytes', models.BigIntegerField(default=0)),
                ('apply_lease_owner', models.CharField(blank=True, max_length=64)),
                ('apply_lease_until', models.DateTimeField(blank=True, null=True)),
                ('apply_pending', models.BooleanField(default=False)),
                ('appliance', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='migration_items', to='replication.appliance')),
                ('created_by', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('current_job', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='jobs.job')),
                ('project', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='migration_items', to='projects.migrateproject')),
                ('server', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='migration_item', to='replication.discoveredserver')),
                ('target_network', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='projects.virtualnetwork')),
                ('target_resource_group', models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='projects.resourcegroup')),
                ('test_network', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='projects.virtualnetwork')),
                ('policy', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='items', to='replication.replicationpolicy')),
                ('run_as_account', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to='replication.runasaccount')),
                ('last_migration_at', models.DateTimeField(blank=True, null=True)),
                ('last_migration_status', models.CharField(blank=True, max_length=20)),
                ('last_test_migration_at', models.DateTimeField(blank=True, null=True)),
                ('last_test_migration_status', models.CharField(blank=True, max_length=20)),
                ('replication_stopped_at', models.DateTimeField(blank=True, null=True)),
                ('shutdown_requested_at', models.DateTimeField(blank=True, null=True)),
            ],
            options={
                'ordering': ['target_vm_name'],
                'indexes': [models.Index(fields=['project', 'migration_state'], name='replication_project_9948ee_idx')],
            },
        ),
        migrations.CreateModel(
            name='ProtectedDisk',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('disk_id', models.CharField(max_length=128)),
                ('name', models.CharField(blank=True, max_length=255)),
                ('is_os_disk', models.BooleanField(default=False)),
                ('size_bytes', models.BigIntegerField()),
                ('disk_type', models.CharField(choices=[('Standard_LRS', 'Standard HDD'), ('StandardSSD_LRS', 'Standard SSD'), ('Premium_LRS', 'Premium SSD')], default='StandardSSD_LRS', max_length=20)),
                ('included', models.BooleanField(default=True)),
                ('stored_sequence', models.BigIntegerField(default=0)),
                ('applied_sequence', models.BigIntegerField(default=0)),
                ('applied_cycle', models.PositiveIntegerField(default=0)),
                ('scanned_bytes', models.BigIntegerField(default=0)),
                ('transferred_bytes', models.BigIntegerField(default=0)),
                ('changed_bytes', models.BigIntegerField(default=0)),
                ('resync_required', models.BooleanField(default=False)),
                ('resync_generation', models.PositiveIntegerField(default=0)),
                ('resync_reason', models.CharField(blank=True, max_length=300)),
                ('replica_digest', models.CharField(blank=True, max_length=64)),
                ('item', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='disks', to='replication.migrationitem')),
                ('scanned_cycle', models.PositiveIntegerField(default=0)),
                ('data_total_bytes', models.BigIntegerField(default=0)),
                ('data_scanned_bytes', models.BigIntegerField(default=0)),
                ('dirty_chunks', models.JSONField(blank=True, default=None, null=True)),
            ],
            options={
                'ordering': ['-is_os_disk', 'disk_id'],
                'constraints': [models.UniqueConstraint(fields=('item', 'disk_id'), name='unique_protected_disk')],
                'indexes': [models.Index(condition=models.Q(('included', True), ('resync_required', True)), fields=['item'], name='protecteddisk_resyncing')],
            },
        ),
        migrations.CreateModel(
            name='RecoveryPoint',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, primary_key=True, serialize=False)),
                ('cycle', models.PositiveIntegerField()),
                ('recorded_at', models.DateTimeField()),
                ('captured_at', models.DateTimeField()),
                ('point_type', models.CharField(default='CrashConsistent', max_length=30)),
                ('disks', models.JSONField(default=dict)),
                ('item', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='recovery_points', to='replication.migrationitem')),
                ('is_final', models.BooleanField(default=False)),
            ],
            options={
                'ordering': ['-recorded_at'],
                'constraints': [models.UniqueConstraint(fields=('item', 'cycle'), name='one_point_per_cycle')],
            },
        ),
        migrations.CreateModel(
            name='ReplicationBatch',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('sequence', models.BigIntegerField()),
                ('cycle', models.PositiveIntegerField()),
                ('full', models.BooleanField(default=False)),
                ('block_count', models.PositiveIntegerField(default=0)),
                ('data_bytes', models.BigIntegerField(default=0)),
                ('wire_bytes', models.BigIntegerField(default=0)),
                ('blob_name', models.CharField(max_length=300)),
                ('marker', models.JSONField(blank=True, null=True)),
                ('stored_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('applied_at', models.DateTimeField(blank=True, null=True)),
                ('disk', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='batches', to='replication.protecteddisk')),
            ],
            options={
                'ordering': ['disk', 'sequence'],
                'constraints': [models.UniqueConstraint(fields=('disk', 'sequence'), name='unique_batch_sequence')],
            },
        ),
        migrations.CreateModel(
            name='TransferSample',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('minute', models.DateTimeField()),
                ('bytes', models.BigIntegerField(default=0)),
                ('project', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='transfer_samples', to='projects.migrateproject')),
            ],
            options={
                'ordering': ['minute'],
                'constraints': [models.UniqueConstraint(fields=('project', 'minute'), name='one_sample_per_minute')],
            },
        ),
        migrations.CreateModel(
            name='VirtualMachine',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, primary_key=True, serialize=False)),
                ('name', models.CharField(max_length=80)),
                ('location', models.CharField(max_length=40)),
                ('size', models.CharField(max_length=40)),
                ('os_type', models.CharField(max_length=20)),
                ('os_name', models.CharField(blank=True, max_length=120)),
                ('license_type', models.CharField(blank=True, max_length=20)),
                ('availability_set_id', models.CharField(blank=True, max_length=400)),
                ('subnet_name', models.CharField(blank=True, max_length=80)),
                ('private_ip', models.GenericIPAddressField(blank=True, null=True)),
                ('tags', models.JSONField(blank=True, default=dict)),
                ('is_test', models.BooleanField(default=False)),
                ('power_state', models.CharField(choices=[('running', 'Running'), ('stopped', 'Stopped')], default='running', max_length=20)),
                ('source_server_name', models.CharField(blank=True, max_length=255)),
                ('recovery_point_time', models.DateTimeField(blank=True, null=True)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('checklist', models.JSONField(blank=True, default=dict)),
                ('created_by_job', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='jobs.job')),
                ('migration_item', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='virtual_machines', to='replication.migrationitem')),
                ('network', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='projects.virtualnetwork')),
                ('resource_group', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='vms', to='projects.resourcegroup')),
            ],
            options={
                'ordering': ['name'],
                'constraints': [models.UniqueConstraint(fields=('resource_group', 'name'), name='unique_vm_name_in_group')],
            },
        ),
        migrations.CreateModel(
            name='ManagedDisk',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, primary_key=True, serialize=False)),
                ('name', models.CharField(max_length=120)),
                ('source_disk_id', models.CharField(max_length=128)),
                ('is_os_disk', models.BooleanField(default=False)),
                ('size_bytes', models.BigIntegerField()),
                ('disk_type', models.CharField(choices=[('Standard_LRS', 'Standard HDD'), ('StandardSSD_LRS', 'Standard SSD'), ('Premium_LRS', 'Premium SSD')], max_length=20)),
                ('sha256', models.CharField(blank=True, max_length=64)),
                ('content_digest', models.CharField(blank=True, max_length=64)),
                ('vm', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='disks', to='replication.virtualmachine')),
            ],
            options={
                'ordering': ['-is_os_disk', 'name'],
            },
        ),
    ]
