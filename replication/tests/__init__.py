"""The replication app's tests, in-process: stubs.py holds the one stub appliance and stub hub,
plans.py the Replicate plans they share, conftest.py the fixtures (a project with its resources, a
finalized appliance)."""
