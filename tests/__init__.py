"""Cross-tier tests: real hub processes (tests/hubs.py: PostgreSQL + Redis with a separate worker, and the
embedded default), real appliance and agent processes (appliances.py, replication_rig.py, disk_images.py),
the official Azure SDK clients (azure_clients.py) and Chromium through Playwright (conftest.py)."""
