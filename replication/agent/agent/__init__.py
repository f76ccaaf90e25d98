"""The Migrate Hub mobility agent. Runs on the machine to migrate; Python 3's standard library only.

- cli.py: install, configure (register with the appliance by passphrase) and run; client.py: its HTTP
  to the appliance; inventory.py: what the machine reports; fleet.py: simulated machines;
- replicator.py: the replication cycles, and the shutdown for Migrate; disk_cycle.py: one disk's part
  of a cycle (read, hash, checkpoint); uploader.py: batches to the process server, with retries;
  item_state.py: what the agent keeps between runs; blocks.py, disks.py: blocks, digests and disks.
"""

VERSION = "9.60.0"
