"""Machines and their data: appliances, discovered servers, replication, recovery points, and the
VMs that test migration and migration build. It stands on projects, jobs and hub.

Discover and the appliance
- models.py: every table of the app; keys.py: registration key files; services.py: register,
  heartbeat, discover, finalize; appliance_api.py: the API the appliance calls; installer.py: its
  download; keyvault.py: the project's Key Vault key.
Replicate
- replicate/: a plan, Azure's rules over it, and the enable and update workflows; sizing.py and
  vm_requirements.py: VM sizes and Azure's VM requirements; policies.py: replication policies (the
  default one, and saving one by name).
The data path (docs/replication-protocol.md)
- uploads.py: what the appliance is told to replicate, and storing its batches; data_path.py:
  applying them under apply_lease.py (apply_records.py: writing a batch's records, a full cycle's
  running digest); recovery_points.py; replica_files.py: where the data lives;
  process_servers.py: scale-out process servers and which one takes an item's batches.
State, health and screens
- status.py: what a state means and what is allowed next; health.py: each health rule, defined once
  for Python and SQL (health_conditions.py: what rules are made of; fault_health.py: injected faults'
  rules, as rows of data; fault_effects.py, fault_wire.py and fault_scopes.py: the faults the hub acts
  on, those it hands the appliance and agents and notes back, and the scopes replication gives faults;
  fault_tasks.py: a health error as a task in the server's job);
  monitoring.py: what the monitoring screens read; monitoring_listed.py: a page's rows read column-only;
  monitoring_rows.py: a Replicating machines row built in Python; push.py: their live updates;
  selectors.py: the Server Migration counts; templatetags/replication_monitor.py: what a row or a
  blade part renders from the item alone; management/commands/replica.py: where a replica stands.
Test migrate and migrate
- migrate.py: the verbs; migrate_jobs.py: their job scenarios; vm_build.py: building and deleting
  VMs; jobs.py: the Start replication and appliance scenarios; tasks.py: the Celery shells;
  deletion.py: this app's part of deleting a project or a resource group.
Interfaces
- portal/: the blades (views.py, urls.py: the routes outside them); arm.py, arm_migration/,
  arm_compute.py: the ARM API (Site Recovery, compute), arm_responses.py: their response bodies for
  the OpenAPI document;
  arm_appliance.py and installer_links.py: Discover's key, installer link and Finalize registration.
On-premises programs (not imported by the hub; see docs/architecture.md)
- appliance/: the replication appliance; agent/: the mobility agent.
"""
