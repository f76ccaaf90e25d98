"""The Server Migration blades: Discover (discover.py), the Server Migration card on a project's
Servers blade (server_migration_card.py), the Replicate wizard (replicate.py with its fields, rows and
form), Replicating machines and a server's blade (monitor.py, monitor_forms.py), Test migrate and Clean
up (migration_testing.py), Migrate and Stop replication (migration.py), Virtual machines
(virtual_machines.py); migration_blades.py and lookups.py hold what those pages share."""
