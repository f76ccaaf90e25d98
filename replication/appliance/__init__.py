"""The Migrate Hub replication appliance: configuration server + process server.

This package runs on the on-premises machine, not in the hub, and never imports Django. It uses
Python 3's standard library, except the process server's compression and encryption (zstandard,
cryptography): without them the configuration server still runs and the process server reports
itself stopped. The hub serves it, zipped with its scripts, as the appliance installer (Discover >
Install a replication appliance).

- __main__.py: setup and run; server.py: the HTTP server both servers answer on, and the heartbeat;
- agents.py: the configuration server's side of the agent protocol; assignments.py: what the hub
  says to replicate; process_server.py: batches in, compressed and encrypted batches out to the hub;
- hub_client.py: the client of the hub's appliance API; state.py: the appliance's own files;
- host.py: the host checked against the appliance requirements; repository.py: the Mobility
  service installers; jsonbounds.py: JSON from agents, decoded within bounds."""

VERSION = "1.0.0"
